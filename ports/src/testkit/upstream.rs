//! `FakeUpstreamRegistry`: an in-memory `UpstreamRegistry` for use-case tests, with knobs
//! to make it misbehave (down, corrupt packages, bad signatures, broken downloads, a
//! panic), counters proving what was (not) asked of it, and a gate holding downloads so
//! a test can watch how many run at once.
//!
//! Signatures are `b"good"` by default, which `StubSignatureVerifier` accepts. SHA256SUMS
//! is computed from the packages' bytes unless a test sets its own text. File URLs look
//! like `https://{host}/files/{namespace}/{type}/{version}/{filename}`.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;
use sha2::{Digest, Sha256};
use tfr_core::provider_package::{package_filename, shasums_filename};
use tfr_core::{Platform, ProviderAddress, ProviderVersion, RegistryHost};

use crate::driven::{UpstreamError, UpstreamPackage, UpstreamRegistry, UpstreamVersion};
use crate::stream::ByteStream;
use crate::testkit::fakes::StubSignatureVerifier;

/// The methods of [`UpstreamRegistry`], the key of the call counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UpstreamCall {
    Versions,
    Package,
    Document,
    Download,
}

#[derive(Debug, Clone, Default)]
struct FakeVersion {
    /// As listed: may be invalid (`v1.0.0`) on purpose.
    version: String,
    protocols: Vec<String>,
    packages: BTreeMap<Platform, Bytes>,
    /// Overrides the SHA256SUMS computed from `packages`.
    shasums: Option<String>,
    signature: Option<Vec<u8>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Breakage {
    /// Serves other bytes than SHA256SUMS lists.
    WrongBytes,
    /// The stream yields half of the bytes, then an error.
    Midway,
}

/// What a file URL points at.
#[derive(Debug, Clone)]
enum Target {
    Package(Platform),
    Shasums,
    Signature,
}

type ProviderKey = (RegistryHost, String);
type PackageKey = (RegistryHost, String, String, Platform);

#[derive(Debug, Default)]
struct State {
    providers: HashMap<ProviderKey, Vec<FakeVersion>>,
    broken: HashMap<PackageKey, Breakage>,
    panicking: Vec<ProviderKey>,
    /// File URL → provider, version and what.
    files: HashMap<String, (ProviderKey, String, Target)>,
    down: bool,
}

impl State {
    fn version(&self, key: &ProviderKey, version: &str) -> Option<&FakeVersion> {
        self.providers
            .get(key)?
            .iter()
            .find(|v| v.version == version)
    }

    fn version_mut(&mut self, key: &ProviderKey, version: &str) -> &mut FakeVersion {
        let versions = self.providers.entry(key.clone()).or_default();
        if let Some(i) = versions.iter().position(|v| v.version == version) {
            return &mut versions[i];
        }
        versions.push(FakeVersion {
            version: version.to_string(),
            protocols: vec!["5.0".to_string()],
            ..FakeVersion::default()
        });
        versions.last_mut().expect("just pushed")
    }
}

/// In-flight downloads: counted from the call until the returned stream is dropped.
#[derive(Debug, Default)]
struct InFlight {
    now: AtomicUsize,
    max: AtomicUsize,
}

struct InFlightGuard(Arc<InFlight>);

impl InFlightGuard {
    fn enter(counter: &Arc<InFlight>) -> Self {
        let now = counter.now.fetch_add(1, Ordering::SeqCst) + 1;
        counter.max.fetch_max(now, Ordering::SeqCst);
        Self(Arc::clone(counter))
    }
}

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        self.0.now.fetch_sub(1, Ordering::SeqCst);
    }
}

pub struct FakeUpstreamRegistry {
    state: Mutex<State>,
    calls: Mutex<HashMap<UpstreamCall, usize>>,
    in_flight: Arc<InFlight>,
    /// `true` while downloads may proceed.
    gate: tokio::sync::watch::Sender<bool>,
}

impl std::fmt::Debug for FakeUpstreamRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeUpstreamRegistry")
            .field("state", &*self.lock())
            .finish()
    }
}

impl Default for FakeUpstreamRegistry {
    fn default() -> Self {
        Self::new()
    }
}

fn provider_key(host: &RegistryHost, address: &ProviderAddress) -> ProviderKey {
    (
        host.clone(),
        format!(
            "{}/{}",
            address.namespace.key(),
            address.provider_type.as_str()
        ),
    )
}

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

fn not_found(what: impl std::fmt::Display) -> UpstreamError {
    UpstreamError::NotFound(format!("upstream has no {what}"))
}

impl FakeUpstreamRegistry {
    pub fn new() -> Self {
        Self {
            state: Mutex::new(State::default()),
            calls: Mutex::new(HashMap::new()),
            in_flight: Arc::new(InFlight::default()),
            gate: tokio::sync::watch::channel(true).0,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn count(&self, call: UpstreamCall) {
        *self
            .calls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(call)
            .or_default() += 1;
    }

    /// The bytes a package gets unless a test sets its own: unique per package.
    pub fn default_bytes(address: &ProviderAddress, version: &str, platform: &Platform) -> Bytes {
        Bytes::from(format!("zip of {address} {version} {platform}"))
    }

    /// Lists `version` (any string, invalid ones included) with these platforms, each
    /// with [`Self::default_bytes`]. Adding to an existing version adds platforms.
    pub fn add_version(
        &self,
        host: &RegistryHost,
        address: &ProviderAddress,
        version: &str,
        platforms: &[&str],
    ) {
        for p in platforms {
            let platform = Platform::parse(p).expect("a valid platform");
            let bytes = Self::default_bytes(address, version, &platform);
            self.set_package(host, address, version, &platform, bytes);
        }
        if platforms.is_empty() {
            self.lock()
                .version_mut(&provider_key(host, address), version);
        }
    }

    /// Sets (or adds) one package's bytes; SHA256SUMS follows unless overridden.
    pub fn set_package(
        &self,
        host: &RegistryHost,
        address: &ProviderAddress,
        version: &str,
        platform: &Platform,
        bytes: impl Into<Bytes>,
    ) {
        let key = provider_key(host, address);
        let mut s = self.lock();
        s.version_mut(&key, version)
            .packages
            .insert(platform.clone(), bytes.into());
        if let Ok(parsed) = ProviderVersion::parse(version) {
            let base = file_base(host, address, version);
            let filename = package_filename(&address.provider_type, &parsed, platform);
            s.files.insert(
                format!("{base}/{filename}"),
                (
                    key.clone(),
                    version.to_string(),
                    Target::Package(platform.clone()),
                ),
            );
            let sums = shasums_filename(&address.provider_type, &parsed);
            s.files.insert(
                format!("{base}/{sums}"),
                (key.clone(), version.to_string(), Target::Shasums),
            );
            s.files.insert(
                format!("{base}/{sums}.sig"),
                (key, version.to_string(), Target::Signature),
            );
        }
    }

    /// Drops a version from the versions list (and its files).
    pub fn remove_version(&self, host: &RegistryHost, address: &ProviderAddress, version: &str) {
        let key = provider_key(host, address);
        let mut s = self.lock();
        if let Some(versions) = s.providers.get_mut(&key) {
            versions.retain(|v| v.version != version);
        }
        s.files
            .retain(|_, (k, v, _)| !(k == &key && v.as_str() == version));
    }

    /// Replaces a version's SHA256SUMS text.
    pub fn set_shasums(
        &self,
        host: &RegistryHost,
        address: &ProviderAddress,
        version: &str,
        text: &str,
    ) {
        self.lock()
            .version_mut(&provider_key(host, address), version)
            .shasums = Some(text.to_string());
    }

    /// Replaces a version's signature bytes (`b"good"` verifies with the stub verifier).
    pub fn set_signature(
        &self,
        host: &RegistryHost,
        address: &ProviderAddress,
        version: &str,
        signature: &[u8],
    ) {
        self.lock()
            .version_mut(&provider_key(host, address), version)
            .signature = Some(signature.to_vec());
    }

    /// Makes the version's SHA256SUMS signature fail verification.
    pub fn bad_signature(&self, host: &RegistryHost, address: &ProviderAddress, version: &str) {
        self.set_signature(host, address, version, b"forged");
    }

    /// Serves bytes for one package that differ from what SHA256SUMS lists.
    pub fn corrupt_package(
        &self,
        host: &RegistryHost,
        address: &ProviderAddress,
        version: &str,
        platform: &Platform,
    ) {
        self.break_package(host, address, version, platform, Breakage::WrongBytes);
    }

    /// Makes one package's download stream fail after half of its bytes.
    pub fn fail_download_midway(
        &self,
        host: &RegistryHost,
        address: &ProviderAddress,
        version: &str,
        platform: &Platform,
    ) {
        self.break_package(host, address, version, platform, Breakage::Midway);
    }

    fn break_package(
        &self,
        host: &RegistryHost,
        address: &ProviderAddress,
        version: &str,
        platform: &Platform,
        how: Breakage,
    ) {
        let (h, p) = provider_key(host, address);
        self.lock()
            .broken
            .insert((h, p, version.to_string(), platform.clone()), how);
    }

    /// Makes `provider_versions` of this provider panic.
    pub fn panic_on_versions(&self, host: &RegistryHost, address: &ProviderAddress) {
        self.lock().panicking.push(provider_key(host, address));
    }

    /// Undoes every corruption, broken download and panic (not `down`, not signatures).
    pub fn heal(&self) {
        let mut s = self.lock();
        s.broken.clear();
        s.panicking.clear();
    }

    /// Every call fails with `Unavailable` while `down`.
    pub fn set_down(&self, down: bool) {
        self.lock().down = down;
    }

    /// How often `call` was made (failed calls included).
    pub fn calls(&self, call: UpstreamCall) -> usize {
        self.calls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&call)
            .copied()
            .unwrap_or(0)
    }

    /// Every call made, all methods together.
    pub fn total_calls(&self) -> usize {
        self.calls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .sum()
    }

    pub fn reset_calls(&self) {
        self.calls.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    /// Downloads wait (counted in flight) until [`Self::release_downloads`].
    pub fn hold_downloads(&self) {
        self.gate.send_replace(false);
    }

    pub fn release_downloads(&self) {
        self.gate.send_replace(true);
    }

    /// Downloads started whose stream is still alive.
    pub fn in_flight(&self) -> usize {
        self.in_flight.now.load(Ordering::SeqCst)
    }

    /// The most downloads ever in flight at once.
    pub fn max_in_flight(&self) -> usize {
        self.in_flight.max.load(Ordering::SeqCst)
    }

    /// Waits until at least `n` downloads are in flight; panics after 5 seconds.
    pub async fn wait_for_in_flight(&self, n: usize) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while self.in_flight() < n {
            assert!(
                tokio::time::Instant::now() < deadline,
                "waited 5s for {n} downloads in flight; {} are",
                self.in_flight()
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    fn check_up(&self, host: &str) -> Result<(), UpstreamError> {
        if self.lock().down {
            return Err(UpstreamError::Unavailable {
                host: host.to_string(),
                reason: "connection refused (fake upstream is down)".to_string(),
            });
        }
        Ok(())
    }

    fn sums_text(address: &ProviderAddress, v: &FakeVersion) -> String {
        if let Some(text) = &v.shasums {
            return text.clone();
        }
        let Ok(parsed) = ProviderVersion::parse(&v.version) else {
            return String::new();
        };
        v.packages
            .iter()
            .map(|(platform, bytes)| {
                format!(
                    "{}  {}\n",
                    sha256_hex(bytes),
                    package_filename(&address.provider_type, &parsed, platform)
                )
            })
            .collect()
    }
}

fn file_base(host: &RegistryHost, address: &ProviderAddress, version: &str) -> String {
    format!(
        "https://{host}/files/{}/{}/{version}",
        address.namespace.key(),
        address.provider_type.as_str()
    )
}

fn url_host(url: &str) -> &str {
    url.trim_start_matches("https://")
        .split('/')
        .next()
        .unwrap_or(url)
}

#[async_trait]
impl UpstreamRegistry for FakeUpstreamRegistry {
    async fn provider_versions(
        &self,
        host: &RegistryHost,
        address: &ProviderAddress,
    ) -> Result<Vec<UpstreamVersion>, UpstreamError> {
        self.count(UpstreamCall::Versions);
        self.check_up(host.as_str())?;
        let key = provider_key(host, address);
        let (panics, versions) = {
            let s = self.lock();
            (s.panicking.contains(&key), s.providers.get(&key).cloned())
        };
        if panics {
            panic!("fake upstream: versions of {address} exploded");
        }
        let versions = versions.ok_or_else(|| not_found(format!("provider {address}")))?;
        Ok(versions
            .into_iter()
            .map(|v| UpstreamVersion {
                version: v.version,
                protocols: v.protocols,
                platforms: v.packages.into_keys().collect(),
            })
            .collect())
    }

    async fn package(
        &self,
        host: &RegistryHost,
        address: &ProviderAddress,
        version: &ProviderVersion,
        platform: &Platform,
    ) -> Result<UpstreamPackage, UpstreamError> {
        self.count(UpstreamCall::Package);
        self.check_up(host.as_str())?;
        let key = provider_key(host, address);
        let s = self.lock();
        let v = s
            .version(&key, &version.to_string())
            .ok_or_else(|| not_found(format!("version {address} {version}")))?;
        let bytes = v
            .packages
            .get(platform)
            .ok_or_else(|| not_found(format!("package {address} {version} {platform}")))?;
        let base = file_base(host, address, &version.to_string());
        let filename = package_filename(&address.provider_type, version, platform);
        let sums = shasums_filename(&address.provider_type, version);
        Ok(UpstreamPackage {
            protocols: v.protocols.clone(),
            download_url: format!("{base}/{filename}"),
            shasums_url: format!("{base}/{sums}"),
            shasums_signature_url: format!("{base}/{sums}.sig"),
            shasum: sha256_hex(bytes),
            filename,
            signing_keys: vec![StubSignatureVerifier::key().ascii_armor],
        })
    }

    async fn fetch_document(&self, url: &str, max_bytes: u64) -> Result<Vec<u8>, UpstreamError> {
        self.count(UpstreamCall::Document);
        self.check_up(url_host(url))?;
        let s = self.lock();
        let (key, version, target) = s
            .files
            .get(url)
            .cloned()
            .ok_or_else(|| not_found(format!("document {url}")))?;
        let v = s
            .version(&key, &version)
            .ok_or_else(|| not_found(format!("document {url}")))?;
        let address = ProviderAddress::parse(
            key.1.split('/').next().unwrap_or_default(),
            key.1.split('/').nth(1).unwrap_or_default(),
        )
        .map_err(|e| not_found(e.to_string()))?;
        let body = match target {
            Target::Shasums => Self::sums_text(&address, v).into_bytes(),
            Target::Signature => v
                .signature
                .clone()
                .unwrap_or_else(|| StubSignatureVerifier::GOOD_SIGNATURE.to_vec()),
            Target::Package(_) => {
                return Err(UpstreamError::Protocol {
                    host: url_host(url).to_string(),
                    reason: "a package is not a document".to_string(),
                });
            }
        };
        if body.len() as u64 > max_bytes {
            return Err(UpstreamError::TooLarge {
                url: url.to_string(),
                limit: max_bytes,
            });
        }
        Ok(body)
    }

    async fn download(&self, url: &str) -> Result<ByteStream, UpstreamError> {
        self.count(UpstreamCall::Download);
        let guard = InFlightGuard::enter(&self.in_flight);
        let mut gate = self.gate.subscribe();
        let _ = gate.wait_for(|open| *open).await;
        self.check_up(url_host(url))?;
        let (bytes, breakage) = {
            let s = self.lock();
            let (key, version, target) = s
                .files
                .get(url)
                .cloned()
                .ok_or_else(|| not_found(format!("file {url}")))?;
            let Target::Package(platform) = target else {
                return Err(not_found(format!("package {url}")));
            };
            let bytes = s
                .version(&key, &version)
                .and_then(|v| v.packages.get(&platform).cloned())
                .ok_or_else(|| not_found(format!("file {url}")))?;
            let breakage = s.broken.get(&(key.0, key.1, version, platform)).copied();
            (bytes, breakage)
        };
        let chunks: Vec<std::io::Result<Bytes>> = match breakage {
            None => vec![Ok(bytes)],
            Some(Breakage::WrongBytes) => {
                let mut other = bytes.to_vec();
                other.extend_from_slice(b" tampered");
                vec![Ok(Bytes::from(other))]
            }
            Some(Breakage::Midway) => {
                let half = bytes.len() / 2;
                vec![
                    Ok(bytes.slice(..half)),
                    Err(std::io::Error::new(
                        std::io::ErrorKind::ConnectionReset,
                        "fake upstream: connection reset mid-download",
                    )),
                ]
            }
        };
        Ok(Box::pin(futures::stream::iter(chunks).map(move |chunk| {
            let _alive = &guard;
            chunk
        })))
    }
}
