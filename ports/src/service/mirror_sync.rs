//! The scheduled (and operator-triggered) mirror sync: for each configuration that is
//! due, under a database lease so that one replica syncs it at a time, fetch every
//! wanted version and platform that is not mirrored yet, and record the run.
//!
//! A run never takes the server down: a panic inside it is caught, logged and recorded
//! as a failed run. Downloads run with bounded concurrency.

use std::collections::{HashMap, HashSet};
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{FutureExt, StreamExt};
use tfr_core::{Platform, ProviderAddress, ProviderVersion};
use uuid::Uuid;

use crate::driven::{
    Clock, MirrorConfigRecord, MirrorRepository, MirroredVersionRecord, PackageFailure,
    SyncRunRecord, SyncStatus, SyncTrigger, UpstreamRegistry,
};
use crate::service::ServiceError;
use crate::service::mirror_fetch::{FetchError, MirrorFetcher};

/// How a sync behaves.
#[derive(Debug, Clone)]
pub struct SyncSettings {
    /// This replica's name in leases and history.
    pub holder: String,
    /// How long a lease lasts without renewal; renewed every third of it while a run
    /// goes on, so a dead replica's lease frees up within this.
    pub lease: Duration,
    /// Package downloads running at once within a run.
    pub concurrency: usize,
    /// A configuration counts as due this much early, so a scheduler tick landing just
    /// before the interval ends does not skip a whole tick.
    pub due_slack: Duration,
}

impl Default for SyncSettings {
    fn default() -> Self {
        Self {
            holder: format!("tfr-{}", Uuid::new_v4().simple()),
            lease: Duration::from_secs(300),
            concurrency: 4,
            due_slack: Duration::from_secs(30),
        }
    }
}

pub struct MirrorSync {
    repo: Arc<dyn MirrorRepository>,
    upstream: Arc<dyn UpstreamRegistry>,
    fetcher: Arc<MirrorFetcher>,
    clock: Arc<dyn Clock>,
    settings: SyncSettings,
    /// Configurations this replica is syncing now. The lease cannot tell: `try_lease`
    /// renews for its own holder, so a second run here would take it again.
    running: Mutex<HashSet<Uuid>>,
}

/// What a run gathers as it goes.
#[derive(Default)]
struct Tally {
    versions: u64,
    packages: u64,
    bytes: u64,
    failures: Vec<PackageFailure>,
    /// Providers whose versions list could be read.
    reached: usize,
}

impl Tally {
    fn absorb(&mut self, other: Tally) {
        self.versions += other.versions;
        self.packages += other.packages;
        self.bytes += other.bytes;
        self.failures.extend(other.failures);
        self.reached += other.reached;
    }

    fn fail(
        &mut self,
        provider: &ProviderAddress,
        version: Option<&str>,
        platform: Option<&Platform>,
        reason: impl Into<String>,
    ) {
        let failure = PackageFailure {
            provider: provider.to_string(),
            version: version.map(str::to_string),
            platform: platform.map(Platform::to_string),
            reason: reason.into(),
        };
        tracing::warn!(provider = %failure.provider, version = ?failure.version,
            platform = ?failure.platform, reason = %failure.reason, "mirror sync: not mirrored");
        self.failures.push(failure);
    }
}

impl MirrorSync {
    pub fn new(
        repo: Arc<dyn MirrorRepository>,
        upstream: Arc<dyn UpstreamRegistry>,
        fetcher: Arc<MirrorFetcher>,
        clock: Arc<dyn Clock>,
        settings: SyncSettings,
    ) -> Self {
        Self {
            repo,
            upstream,
            fetcher,
            clock,
            settings,
            running: Mutex::new(HashSet::new()),
        }
    }

    pub fn holder(&self) -> &str {
        &self.settings.holder
    }

    /// One scheduler tick: runs every due configuration this replica can lease, one
    /// after another. Returns the runs made.
    pub async fn run_due(&self) -> Result<Vec<SyncRunRecord>, ServiceError> {
        let slack = chrono::Duration::from_std(self.settings.due_slack).unwrap_or_default();
        let mut runs = Vec::new();
        for config in self.repo.list_configs().await? {
            if !config.is_due(self.clock.now() + slack) {
                continue;
            }
            if let Some(started) = self.start(config.id, SyncTrigger::Scheduled, true).await? {
                runs.push(self.run(started).await);
            }
        }
        Ok(runs)
    }

    /// Starts a run of one configuration now (the admin API's "sync"). The run goes on
    /// in the background; the returned record is its start. `Conflict` when a run of it
    /// is going on somewhere.
    pub async fn sync_now(
        self: &Arc<Self>,
        config_id: Uuid,
    ) -> Result<SyncRunRecord, ServiceError> {
        let started = self
            .start(config_id, SyncTrigger::Manual, false)
            .await?
            .ok_or_else(|| {
                ServiceError::Conflict(format!(
                    "mirror configuration {config_id} is being synced already; see its history"
                ))
            })?;
        let record = started.run.clone();
        let this = Arc::clone(self);
        tokio::spawn(async move {
            this.run(started).await;
        });
        Ok(record)
    }

    /// Takes the lease and records the start; `None` when a run of it is going on here
    /// or another holder has the lease (or, for a scheduled run, when another replica
    /// synced it in the meantime).
    async fn start(
        &self,
        config_id: Uuid,
        trigger: SyncTrigger,
        only_if_due: bool,
    ) -> Result<Option<Started>, ServiceError> {
        if !self.running().insert(config_id) {
            return Ok(None);
        }
        let started = self.start_leased(config_id, trigger, only_if_due).await;
        if !matches!(started, Ok(Some(_))) {
            self.running().remove(&config_id);
        }
        started
    }

    fn running(&self) -> std::sync::MutexGuard<'_, HashSet<Uuid>> {
        self.running.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn start_leased(
        &self,
        config_id: Uuid,
        trigger: SyncTrigger,
        only_if_due: bool,
    ) -> Result<Option<Started>, ServiceError> {
        let holder = &self.settings.holder;
        let now = self.clock.now();
        if self.repo.find_config(config_id).await?.is_none() {
            return Err(ServiceError::NotFound(format!(
                "mirror configuration {config_id} not found"
            )));
        }
        if !self
            .repo
            .try_lease(config_id, holder, now, self.lease_until())
            .await?
        {
            return Ok(None);
        }
        // Read again under the lease: another replica may have finished a run between
        // our listing and our lease.
        let config = match self.repo.find_config(config_id).await? {
            Some(config) => config,
            None => {
                self.release(config_id).await;
                return Ok(None);
            }
        };
        let slack = chrono::Duration::from_std(self.settings.due_slack).unwrap_or_default();
        if only_if_due && !config.is_due(now + slack) {
            self.release(config_id).await;
            return Ok(None);
        }
        let abandoned = self
            .repo
            .fail_abandoned_runs(
                config_id,
                now,
                "abandoned: the replica running it stopped before it finished",
            )
            .await?;
        if abandoned > 0 {
            tracing::warn!(config = %config.name, abandoned, "mirror sync: earlier runs were left unfinished");
        }
        let run = SyncRunRecord {
            id: Uuid::now_v7(),
            config_id,
            trigger,
            holder: holder.clone(),
            started_at: now,
            finished_at: None,
            status: SyncStatus::Running,
            versions_fetched: 0,
            packages_fetched: 0,
            bytes_fetched: 0,
            failures: Vec::new(),
            message: None,
        };
        if let Err(e) = self.repo.insert_run(&run).await {
            self.release(config_id).await;
            return Err(e.into());
        }
        tracing::info!(config = %config.name, trigger = trigger.as_str(), "mirror sync started");
        Ok(Some(Started { config, run }))
    }

    fn lease_until(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now() + chrono::Duration::from_std(self.settings.lease).unwrap_or_default()
    }

    async fn release(&self, config_id: Uuid) {
        if let Err(e) = self
            .repo
            .release_lease(config_id, &self.settings.holder)
            .await
        {
            tracing::warn!(%config_id, error = %e, "mirror sync: could not release the lease; it expires by itself");
        }
    }

    /// Runs a started sync to its end, renewing the lease meanwhile, and records the
    /// outcome whatever happens inside (errors and panics included).
    async fn run(&self, started: Started) -> SyncRunRecord {
        let Started { config, mut run } = started;
        let renew_every = self.settings.lease / 3;
        let body = AssertUnwindSafe(self.sync_config(&config)).catch_unwind();
        tokio::pin!(body);
        let outcome = loop {
            tokio::select! {
                outcome = &mut body => break outcome,
                _ = tokio::time::sleep(renew_every) => {
                    match self.repo.try_lease(config.id, &self.settings.holder, self.clock.now(), self.lease_until()).await {
                        Ok(true) => {}
                        Ok(false) => tracing::error!(config = %config.name, "mirror sync: lost the lease to another replica"),
                        Err(e) => tracing::warn!(config = %config.name, error = %e, "mirror sync: could not renew the lease"),
                    }
                }
            }
        };
        match outcome {
            Ok(tally) => {
                run.status = if tally.failures.is_empty() {
                    SyncStatus::Succeeded
                } else if tally.reached > 0 {
                    SyncStatus::Partial
                } else {
                    SyncStatus::Failed
                };
                run.versions_fetched = tally.versions;
                run.packages_fetched = tally.packages;
                run.bytes_fetched = tally.bytes;
                run.failures = tally.failures;
            }
            Err(panic) => {
                let what = crate::panic_message(panic.as_ref());
                tracing::error!(config = %config.name, panic = %what, "mirror sync panicked");
                run.status = SyncStatus::Failed;
                run.message = Some(format!("the sync stopped on an internal error: {what}"));
            }
        }
        run.finished_at = Some(self.clock.now());
        if let Err(e) = self.repo.finish_run(&run).await {
            tracing::error!(config = %config.name, error = %e, "mirror sync: could not record the run's outcome");
        }
        self.release(config.id).await;
        self.running().remove(&config.id);
        tracing::info!(config = %config.name, status = run.status.as_str(), packages = run.packages_fetched,
            bytes = run.bytes_fetched, failures = run.failures.len(), "mirror sync finished");
        run
    }

    /// Providers are synced side by side (so one provider's metadata round trips overlap
    /// another's downloads); downloads across all of them share `concurrency` permits.
    async fn sync_config(&self, config: &MirrorConfigRecord) -> Tally {
        let width = self.settings.concurrency.max(1);
        let downloads = tokio::sync::Semaphore::new(width);
        let tallies: Vec<Tally> = futures::stream::iter(config.filter.sync_targets())
            .map(|address| {
                let downloads = &downloads;
                async move {
                    let mut tally = Tally::default();
                    self.sync_provider(config, &address, downloads, &mut tally)
                        .await;
                    tally
                }
            })
            .buffer_unordered(width)
            .collect()
            .await;
        let mut total = Tally::default();
        for tally in tallies {
            total.absorb(tally);
        }
        total
    }

    async fn sync_provider(
        &self,
        config: &MirrorConfigRecord,
        address: &ProviderAddress,
        downloads: &tokio::sync::Semaphore,
        tally: &mut Tally,
    ) {
        let host = &config.upstream;
        let listed = match self.upstream.provider_versions(host, address).await {
            Ok(listed) => listed,
            Err(e) => return tally.fail(address, None, None, e.to_string()),
        };
        tally.reached += 1;
        let mirrored: HashMap<String, MirroredVersionRecord> =
            match self.repo.find_mirrored(host, address).await {
                Ok(found) => found
                    .map(|p| {
                        p.versions
                            .into_iter()
                            .map(|v| (v.version.clone(), v))
                            .collect()
                    })
                    .unwrap_or_default(),
                Err(e) => return tally.fail(address, None, None, e.to_string()),
            };

        let mut jobs: Vec<(MirroredVersionRecord, Platform)> = Vec::new();
        for entry in listed {
            let Ok(version) = ProviderVersion::parse(&entry.version) else {
                tracing::debug!(provider = %address, version = %entry.version, "mirror sync: skipping an invalid upstream version");
                continue;
            };
            if !config.filter.allows_version(&version) {
                continue;
            }
            let known = mirrored.get(&version.to_string());
            let missing: Vec<Platform> = entry
                .platforms
                .into_iter()
                .filter(|p| config.filter.allows_platform(p))
                .filter(|p| known.is_none_or(|v| !v.packages.iter().any(|pkg| &pkg.platform == p)))
                .collect();
            let Some(probe) = missing.first() else {
                continue;
            };
            let record = match known {
                Some(record) => record.clone(),
                None => match self
                    .fetcher
                    .verify_version(host, address, &version, probe)
                    .await
                {
                    Ok((record, fresh)) => {
                        tally.versions += u64::from(fresh);
                        record
                    }
                    Err(e) => {
                        tally.fail(address, Some(&entry.version), None, e.to_string());
                        continue;
                    }
                },
            };
            jobs.extend(missing.into_iter().map(|p| (record.clone(), p)));
        }

        let results: Vec<_> = futures::stream::iter(jobs)
            .map(|(version, platform)| async move {
                let result = match downloads.acquire().await {
                    Ok(_permit) => {
                        self.fetcher
                            .fetch_package(host, address, &version, &platform)
                            .await
                    }
                    Err(_) => Err(FetchError::Local(ServiceError::internal(
                        "the download gate closed",
                    ))),
                };
                (version, platform, result)
            })
            .buffer_unordered(self.settings.concurrency.max(1))
            .collect()
            .await;
        for (version, platform, result) in results {
            match result {
                Ok(fetched) => {
                    tally.packages += 1;
                    tally.bytes += fetched.bytes_fetched;
                }
                Err(e) => tally.fail(
                    address,
                    Some(&version.version),
                    Some(&platform),
                    e.to_string(),
                ),
            }
        }
        if let Err(e) = self.repo.mark_synced(host, address, self.clock.now()).await {
            tracing::warn!(provider = %address, error = %e, "mirror sync: could not record the provider's sync time");
        }
    }
}

struct Started {
    config: MirrorConfigRecord,
    run: SyncRunRecord,
}
