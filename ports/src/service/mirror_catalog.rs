//! The Provider Network Mirror Protocol with pull-through.
//!
//! A request names the provider's origin host (`registry.terraform.io`); the enabled
//! configuration answering for that host and allowing the provider decides the upstream.
//! Versions and platforms are what tfr has mirrored plus what upstream offers within the
//! configuration's filters. A package tfr has is served from its storage; one it lacks
//! is fetched, verified and stored on the first archive request, behind a signed link
//! (Terraform sends no token for archives). When upstream is down, what tfr has keeps
//! being served.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tfr_core::provider_package::{Sha256Sums, package_filename};
use tfr_core::{Platform, ProviderAddress, ProviderVersion, RegistryHost};

use crate::driven::{
    Clock, MirrorConfigRecord, MirrorRepository, MirroredListQuery, MirroredPage, MirroredProvider,
    MirroredVersionRecord, PackageFailure, SyncRunRecord, SyncStatus, SyncTrigger, UpstreamError,
    UpstreamRegistry, UpstreamVersion,
};
use crate::service::mirror_fetch::{FetchError, MirrorFetcher};
use crate::service::{DownloadLinks, ServiceError};

/// The path the mirror is served under.
pub const MIRROR_PATH: &str = "/v1/mirror/";

/// One platform's entry in `{version}.json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MirrorArchive {
    pub platform: Platform,
    /// Relative to the JSON document, or absolute (a storage backend's signed URL).
    pub url: String,
    /// `h1:` (when tfr holds the package) and `zh:` (from the signed SHA256SUMS).
    pub hashes: Vec<String>,
}

/// How long upstream metadata is reused, and how long configurations are.
#[derive(Debug, Clone)]
pub struct MirrorCatalogSettings {
    pub metadata_ttl: Duration,
    pub config_ttl: Duration,
    /// This replica's name in the history rows of failed pull-throughs.
    pub holder: String,
}

impl Default for MirrorCatalogSettings {
    fn default() -> Self {
        Self {
            metadata_ttl: Duration::from_secs(300),
            config_ttl: Duration::from_secs(10),
            holder: "tfr".to_string(),
        }
    }
}

type VersionsKey = (RegistryHost, String);
type PackageKey = (RegistryHost, String, String, Platform);
/// A version (`None`) or one package of it that failed to pull through.
type FailureKey = (RegistryHost, String, String, Option<Platform>);
/// Until when a failure is remembered, and the answer it gave.
type RememberedFailure = (chrono::DateTime<chrono::Utc>, ServiceErrorKind, String);
/// Upstream's versions list (`None`: upstream does not know the provider) and until
/// when it is fresh.
type CachedVersions = (Instant, Option<Arc<Vec<UpstreamVersion>>>);

/// How long an upstream outage is remembered before upstream is asked again.
const OUTAGE_RETRY: Duration = Duration::from_secs(30);

pub struct MirrorCatalog {
    repo: Arc<dyn MirrorRepository>,
    upstream: Arc<dyn UpstreamRegistry>,
    fetcher: Arc<MirrorFetcher>,
    links: Arc<DownloadLinks>,
    clock: Arc<dyn Clock>,
    settings: MirrorCatalogSettings,
    configs: Mutex<Option<(Instant, Arc<Vec<MirrorConfigRecord>>)>>,
    versions: Mutex<HashMap<VersionsKey, CachedVersions>>,
    /// One upstream versions fetch per provider at a time.
    versions_gates: Gates<VersionsKey>,
    /// One pull-through fetch per package at a time on this replica.
    package_gates: Gates<PackageKey>,
    /// Recent pull-through failures, answered without asking upstream again until then.
    failures: Mutex<HashMap<FailureKey, RememberedFailure>>,
}

/// Enough of a [`ServiceError`] to give the same answer again.
#[derive(Debug, Clone, Copy)]
enum ServiceErrorKind {
    NotFound,
    Unavailable,
    BadGateway,
}

fn not_found(hostname: &RegistryHost, address: &ProviderAddress) -> ServiceError {
    ServiceError::NotFound(format!("the mirror has no provider {hostname}/{address}"))
}

impl MirrorCatalog {
    pub fn new(
        repo: Arc<dyn MirrorRepository>,
        upstream: Arc<dyn UpstreamRegistry>,
        fetcher: Arc<MirrorFetcher>,
        links: Arc<DownloadLinks>,
        clock: Arc<dyn Clock>,
        settings: MirrorCatalogSettings,
    ) -> Self {
        Self {
            repo,
            upstream,
            fetcher,
            links,
            clock,
            settings,
            configs: Mutex::new(None),
            versions: Mutex::new(HashMap::new()),
            versions_gates: Gates::default(),
            package_gates: Gates::default(),
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// Drops cached configurations (after an admin change on this replica).
    pub fn invalidate_configs(&self) {
        *lock(&self.configs) = None;
    }

    async fn configs(&self) -> Result<Arc<Vec<MirrorConfigRecord>>, ServiceError> {
        if let Some((at, configs)) = lock(&self.configs).as_ref()
            && at.elapsed() < self.settings.config_ttl
        {
            return Ok(Arc::clone(configs));
        }
        let configs = Arc::new(self.repo.list_configs().await?);
        *lock(&self.configs) = Some((Instant::now(), Arc::clone(&configs)));
        Ok(configs)
    }

    /// The enabled configuration answering for `hostname` that allows the provider (the
    /// first by name when several do).
    async fn config_for(
        &self,
        hostname: &RegistryHost,
        address: &ProviderAddress,
    ) -> Result<MirrorConfigRecord, ServiceError> {
        self.configs()
            .await?
            .iter()
            .find(|c| {
                c.enabled && c.hostnames.contains(hostname) && c.filter.allows_provider(address)
            })
            .cloned()
            .ok_or_else(|| not_found(hostname, address))
    }

    /// Upstream's versions list, reused for the metadata TTL (an unknown provider too).
    /// When upstream is down the last list keeps serving, and upstream is not asked again
    /// for [`OUTAGE_RETRY`], so requests during an outage do not each wait on retries.
    async fn upstream_versions(
        &self,
        host: &RegistryHost,
        address: &ProviderAddress,
    ) -> Result<Option<Arc<Vec<UpstreamVersion>>>, ServiceError> {
        let key = (host.clone(), address.to_string());
        let fresh = |key: &VersionsKey| {
            lock(&self.versions)
                .get(key)
                .filter(|(until, _)| *until > Instant::now())
                .map(|(_, list)| list.clone())
        };
        if let Some(list) = fresh(&key) {
            return Ok(list);
        }
        let gate = self.versions_gates.gate(&key);
        let held = gate.lock().await;
        if let Some(list) = fresh(&key) {
            drop(held);
            self.versions_gates.release(&key, gate);
            return Ok(list);
        }
        let fetched = self.upstream.provider_versions(host, address).await;
        let (ttl, list) = match fetched {
            Ok(list) => (self.settings.metadata_ttl, Some(Arc::new(list))),
            Err(UpstreamError::NotFound(_)) => (self.settings.metadata_ttl, None),
            Err(e) => {
                tracing::warn!(upstream = %host, provider = %address, error = %e,
                    "mirror: upstream versions unavailable; serving what is mirrored");
                let last = lock(&self.versions)
                    .get(&key)
                    .and_then(|(_, list)| list.clone());
                (OUTAGE_RETRY, last)
            }
        };
        {
            let mut versions = lock(&self.versions);
            if versions.len() > 10_000 {
                versions.clear();
            }
            versions.insert(key.clone(), (Instant::now() + ttl, list.clone()));
        }
        drop(held);
        self.versions_gates.release(&key, gate);
        Ok(list)
    }

    /// `index.json`: every version tfr has or upstream offers within the filters.
    pub async fn index(
        &self,
        hostname: &RegistryHost,
        address: &ProviderAddress,
    ) -> Result<Vec<String>, ServiceError> {
        let config = self.config_for(hostname, address).await?;
        let mirrored = self.repo.find_mirrored(&config.upstream, address).await?;
        let upstream = self.upstream_versions(&config.upstream, address).await?;
        let mut versions: BTreeMap<ProviderVersion, ()> = BTreeMap::new();
        for v in mirrored.iter().flat_map(|p| &p.versions) {
            if let Ok(parsed) = ProviderVersion::parse(&v.version)
                && !v.packages.is_empty()
            {
                versions.insert(parsed, ());
            }
        }
        for entry in upstream.iter().flat_map(|list| list.iter()) {
            if let Ok(parsed) = ProviderVersion::parse(&entry.version)
                && config.filter.allows_version(&parsed)
                && entry
                    .platforms
                    .iter()
                    .any(|p| config.filter.allows_platform(p))
            {
                versions.insert(parsed, ());
            }
        }
        if versions.is_empty() && mirrored.is_none() && upstream.is_none() {
            return Err(not_found(hostname, address));
        }
        Ok(versions.into_keys().rev().map(|v| v.to_string()).collect())
    }

    /// `{version}.json`: one archive per platform. Held packages link to storage; the
    /// others to tfr's signed archive route, which fetches them on first use.
    pub async fn version(
        &self,
        hostname: &RegistryHost,
        address: &ProviderAddress,
        version: &ProviderVersion,
    ) -> Result<Vec<MirrorArchive>, ServiceError> {
        let config = self.config_for(hostname, address).await?;
        let host = &config.upstream;
        let wanted = version.to_string();
        let mirrored = self.find_version(host, address, &wanted).await?;
        let upstream_platforms: Vec<Platform> = match self.upstream_versions(host, address).await? {
            Some(list) if config.filter.allows_version(version) => list
                .iter()
                .find(|v| ProviderVersion::parse(&v.version).is_ok_and(|p| &p == version))
                .map(|v| {
                    v.platforms
                        .iter()
                        .filter(|p| config.filter.allows_platform(p))
                        .cloned()
                        .collect()
                })
                .unwrap_or_default(),
            _ => Vec::new(),
        };
        let mut archives: BTreeMap<Platform, MirrorArchive> = BTreeMap::new();
        if let Some(record) = &mirrored {
            for package in &record.packages {
                let mut hashes = vec![package.h1.clone()];
                hashes.push(tfr_core::hash::zh(&package.sha256));
                archives.insert(
                    package.platform.clone(),
                    MirrorArchive {
                        platform: package.platform.clone(),
                        url: self.links.link(&package.blob_key).await?,
                        hashes,
                    },
                );
            }
        }
        let missing: Vec<Platform> = upstream_platforms
            .into_iter()
            .filter(|p| !archives.contains_key(p))
            .collect();
        if !missing.is_empty() {
            // The `zh:` hashes come from the signed SHA256SUMS, so verify the version now.
            let record = match mirrored {
                Some(record) => record,
                None => {
                    self.verified_version(&config, address, version, &missing[0])
                        .await?
                }
            };
            let sums = Sha256Sums::parse(&record.shasums).ok();
            for platform in missing {
                let filename = package_filename(&address.provider_type, version, &platform);
                let hashes = sums
                    .as_ref()
                    .and_then(|s| s.get(&filename))
                    .map(|sha| vec![tfr_core::hash::zh(sha)])
                    .unwrap_or_default();
                let url = format!(
                    "{filename}?{}",
                    self.links
                        .signed_query(&archive_resource(hostname, address, &filename))
                );
                archives.insert(
                    platform.clone(),
                    MirrorArchive {
                        platform,
                        url,
                        hashes,
                    },
                );
            }
        }
        if archives.is_empty() {
            return Err(ServiceError::NotFound(format!(
                "the mirror has no packages of {hostname}/{address} {version}"
            )));
        }
        Ok(archives.into_values().collect())
    }

    /// The archive route: checks the link, then returns where the package can be
    /// downloaded, fetching it from upstream first when tfr does not hold it yet.
    pub async fn archive(
        &self,
        hostname: &RegistryHost,
        address: &ProviderAddress,
        filename: &str,
        expires: i64,
        signature: &str,
    ) -> Result<String, ServiceError> {
        self.links
            .verify(
                &archive_resource(hostname, address, filename),
                expires,
                signature,
            )
            .map_err(|e| ServiceError::Forbidden(e.to_string()))?;
        let (version, platform) = parse_archive_name(address, filename)
            .ok_or_else(|| ServiceError::NotFound(format!("no such package {filename}")))?;
        let config = self.config_for(hostname, address).await?;
        if !config.filter.allows_version(&version) || !config.filter.allows_platform(&platform) {
            return Err(not_found(hostname, address));
        }
        let host = &config.upstream;
        let key = (
            host.clone(),
            address.to_string(),
            version.to_string(),
            platform.clone(),
        );
        let gate = self.package_gates.gate(&key);
        let held = gate.lock().await;
        let result = self
            .held_or_fetched(&config, address, &version, &platform)
            .await;
        drop(held);
        self.package_gates.release(&key, gate);
        let blob_key = result?;
        self.links.link(&blob_key).await
    }

    async fn held_or_fetched(
        &self,
        config: &MirrorConfigRecord,
        address: &ProviderAddress,
        version: &ProviderVersion,
        platform: &Platform,
    ) -> Result<tfr_core::BlobKey, ServiceError> {
        let host = &config.upstream;
        let record = match self
            .find_version(host, address, &version.to_string())
            .await?
        {
            Some(record) => record,
            None => {
                self.verified_version(config, address, version, platform)
                    .await?
            }
        };
        if let Some(package) = record.packages.iter().find(|p| &p.platform == platform) {
            return Ok(package.blob_key.clone());
        }
        let key = failure_key(host, address, version, Some(platform));
        self.recent_failure(&key)?;
        match self
            .fetcher
            .fetch_package(host, address, &record, platform)
            .await
        {
            Ok(fetched) => Ok(fetched.record.blob_key),
            Err(e) => Err(self.failed(config, key, e).await),
        }
    }

    async fn verified_version(
        &self,
        config: &MirrorConfigRecord,
        address: &ProviderAddress,
        version: &ProviderVersion,
        probe: &Platform,
    ) -> Result<MirroredVersionRecord, ServiceError> {
        let key = failure_key(&config.upstream, address, version, None);
        self.recent_failure(&key)?;
        match self
            .fetcher
            .verify_version(&config.upstream, address, version, probe)
            .await
        {
            Ok((record, _)) => Ok(record),
            Err(e) => Err(self.failed(config, key, e).await),
        }
    }

    /// The remembered answer for a recent failure of `key`, if any.
    fn recent_failure(&self, key: &FailureKey) -> Result<(), ServiceError> {
        let mut failures = lock(&self.failures);
        match failures.get(key) {
            Some((until, kind, message)) if *until > self.clock.now() => Err(match kind {
                ServiceErrorKind::NotFound => ServiceError::NotFound(message.clone()),
                ServiceErrorKind::Unavailable => ServiceError::Unavailable(message.clone()),
                ServiceErrorKind::BadGateway => ServiceError::BadGateway(message.clone()),
            }),
            Some(_) => {
                failures.remove(key);
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// Logs a failed pull-through, remembers it for [`OUTAGE_RETRY`] and, when upstream's
    /// bytes were refused, records it in the configuration's history.
    async fn failed(
        &self,
        config: &MirrorConfigRecord,
        key: FailureKey,
        err: FetchError,
    ) -> ServiceError {
        let (host, provider, version, platform) = &key;
        tracing::warn!(upstream = %host, %provider, %version, platform = ?platform.as_ref().map(Platform::to_string),
            error = %err, "mirror pull-through failed; nothing was stored");
        let refused = matches!(
            err,
            FetchError::Verification(_) | FetchError::Upstream(UpstreamError::Protocol { .. })
        );
        let reason = err.to_string();
        let answer: ServiceError = err.into();
        let kind = match &answer {
            ServiceError::NotFound(_) => Some(ServiceErrorKind::NotFound),
            ServiceError::Unavailable(_) => Some(ServiceErrorKind::Unavailable),
            ServiceError::BadGateway(_) => Some(ServiceErrorKind::BadGateway),
            _ => None,
        };
        if let Some(kind) = kind {
            let mut failures = lock(&self.failures);
            if failures.len() > 10_000 {
                failures.clear();
            }
            failures.insert(
                key.clone(),
                (
                    self.clock.now() + chrono::Duration::from_std(OUTAGE_RETRY).unwrap_or_default(),
                    kind,
                    answer.to_string(),
                ),
            );
        }
        if refused {
            let now = self.clock.now();
            let run = SyncRunRecord {
                id: uuid::Uuid::now_v7(),
                config_id: config.id,
                trigger: SyncTrigger::PullThrough,
                holder: self.settings.holder.clone(),
                started_at: now,
                finished_at: Some(now),
                status: SyncStatus::Failed,
                versions_fetched: 0,
                packages_fetched: 0,
                bytes_fetched: 0,
                failures: vec![PackageFailure {
                    provider: provider.clone(),
                    version: Some(version.clone()),
                    platform: platform.as_ref().map(Platform::to_string),
                    reason,
                }],
                message: None,
            };
            if let Err(e) = self.repo.insert_run(&run).await {
                tracing::warn!(config = %config.name, error = %e, "could not record a failed pull-through");
            }
        }
        answer
    }

    async fn find_version(
        &self,
        host: &RegistryHost,
        address: &ProviderAddress,
        version: &str,
    ) -> Result<Option<MirroredVersionRecord>, ServiceError> {
        Ok(self
            .repo
            .find_mirrored(host, address)
            .await?
            .and_then(|p| p.versions.into_iter().find(|v| v.version == version)))
    }

    /// Mirrored providers for the listing API.
    pub async fn list(&self, query: &MirroredListQuery) -> Result<MirroredPage, ServiceError> {
        let mut page = self.repo.list_mirrored(query).await?;
        for item in &mut page.items {
            sort_versions(item);
        }
        Ok(page)
    }
}

fn sort_versions(item: &mut MirroredProvider) {
    item.versions
        .sort_by_cached_key(|v| std::cmp::Reverse(ProviderVersion::parse(&v.version).ok()));
}

fn failure_key(
    host: &RegistryHost,
    address: &ProviderAddress,
    version: &ProviderVersion,
    platform: Option<&Platform>,
) -> FailureKey {
    (
        host.clone(),
        address.to_string(),
        version.to_string(),
        platform.cloned(),
    )
}

/// What an archive link's signature covers.
fn archive_resource(hostname: &RegistryHost, address: &ProviderAddress, filename: &str) -> String {
    format!("mirror/{hostname}/{address}/{filename}")
}

/// `terraform-provider-{type}_{version}_{os}_{arch}.zip` → version and platform.
pub fn parse_archive_name(
    address: &ProviderAddress,
    filename: &str,
) -> Option<(ProviderVersion, Platform)> {
    let prefix = format!("terraform-provider-{}_", address.provider_type.as_str());
    let rest = filename.strip_prefix(&prefix)?.strip_suffix(".zip")?;
    let (rest, arch) = rest.rsplit_once('_')?;
    let (version, os) = rest.rsplit_once('_')?;
    let version = ProviderVersion::parse(version).ok()?;
    let platform = Platform::new(os, arch).ok()?;
    Some((version, platform))
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Per-key async gates: callers of one key take turns, others run freely.
struct Gates<K>(Mutex<HashMap<K, Arc<tokio::sync::Mutex<()>>>>);

impl<K> Default for Gates<K> {
    fn default() -> Self {
        Self(Mutex::new(HashMap::new()))
    }
}

impl<K: Eq + std::hash::Hash + Clone> Gates<K> {
    fn gate(&self, key: &K) -> Arc<tokio::sync::Mutex<()>> {
        lock(&self.0).entry(key.clone()).or_default().clone()
    }

    fn release(&self, key: &K, gate: Arc<tokio::sync::Mutex<()>>) {
        let mut gates = lock(&self.0);
        // The map's reference and ours: nobody else waits on it.
        if Arc::strong_count(&gate) <= 2 {
            gates.remove(key);
        }
    }
}
