//! An in-process upstream registry: the Provider Registry Protocol over HTTPS for
//! GPG-signed providers, with knobs to make it misbehave and counters to prove what was
//! (not) asked of it.
//!
//! Serves `/.well-known/terraform.json` (`providers.v1` = `/v1/providers/`), the versions
//! list, download documents whose file URLs are relative (`../../files/…`) or
//! path-absolute (the signature), and the files under `/v1/providers/{ns}/{type}/{version}/files/`.
//! Large packages are zips with one stored member generated on the fly, never held in memory.
//!
//! Also compiled into adapter tests with `#[path]` (hence `mod.rs`: a `#[path]`-loaded
//! file finds its children next to it). It uses only its siblings `super::ca` and
//! `super::provider`, so the three can be compiled in together under any module.
//!
//! - [`serve`]: routing, the protocol documents and the knobs' effects.
//! - [`generated_zip`]: large zips produced on the fly.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use poem::listener::{Acceptor, AcceptorExt, RustlsCertificate, RustlsConfig, TcpAcceptor};
use poem::{Request, Server};
use sha2::{Digest, Sha256};

use super::ca::TestCa;
use super::provider::{ProviderDist, Signer, generate_signing_key, zip_name};

mod generated_zip;
mod serve;

use generated_zip::GeneratedZip;

/// Two platforms, as most tests want them.
pub const DEFAULT_PLATFORMS: &[(&str, &str)] = &[("linux", "amd64"), ("darwin", "arm64")];

/// What a request asked for (the counters' key).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RequestKind {
    Discovery,
    Versions,
    DownloadJson,
    /// A zip.
    Package,
    Shasums,
    Signature,
    Other,
}

/// One platform's package of a [`FakeRelease`].
#[derive(Debug, Clone)]
pub struct FakePackage {
    pub os: String,
    pub arch: String,
    pub filename: String,
    /// Lower-case hex SHA-256 of the zip (what SHA256SUMS and the download document say).
    pub sha256: String,
    pub size: u64,
}

/// What [`FakeUpstream::add_provider`] published.
#[derive(Debug, Clone)]
pub struct FakeRelease {
    pub namespace: String,
    pub provider_type: String,
    pub version: String,
    pub packages: Vec<FakePackage>,
    pub shasums: Vec<u8>,
    pub signature: Vec<u8>,
    pub armored_public_key: String,
    pub key_id: String,
}

impl FakeRelease {
    pub fn package(&self, os: &str, arch: &str) -> &FakePackage {
        self.packages
            .iter()
            .find(|p| p.os == os && p.arch == arch)
            .expect("platform in release")
    }
}

enum PackageBody {
    Bytes(Bytes),
    Generated(Arc<GeneratedZip>),
}

struct Package {
    info: FakePackage,
    body: PackageBody,
    corrupt: bool,
    truncate_after: Option<u64>,
}

struct Release {
    public: FakeRelease,
    packages: BTreeMap<(String, String), Package>,
    served_signature: Bytes,
}

struct Failure {
    kind: RequestKind,
    status: u16,
    retry_after: Option<String>,
}

#[derive(Default)]
struct State {
    releases: BTreeMap<(String, String, String), Release>,
    down: bool,
    invalid_json: bool,
    chunked: bool,
    latency: Duration,
    failures: Vec<Failure>,
    counts: HashMap<RequestKind, usize>,
}

type Key = (String, String, String);

fn key(ns: &str, ty: &str, version: &str) -> Key {
    (ns.to_lowercase(), ty.to_lowercase(), version.to_string())
}

/// A running fake registry on `127.0.0.1:<random port>` with the [`TestCa`]'s certificate.
pub struct FakeUpstream {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl FakeUpstream {
    pub async fn start(ca: &TestCa) -> FakeUpstream {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the fake upstream");
        let addr = listener.local_addr().expect("local addr");
        let tls = RustlsConfig::new().fallback(
            RustlsCertificate::new()
                .cert(ca.cert_pem.clone())
                .key(ca.key_pem.clone()),
        );
        let acceptor = TcpAcceptor::from_tokio(listener)
            .expect("acceptor")
            .rustls(futures::stream::iter([tls]));
        assert_eq!(acceptor.local_addr().len(), 1);
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        let app = poem::endpoint::make(move |req: Request| {
            let state = shared.clone();
            async move { serve::handle(&state, req).await }
        });
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(
            Server::new_with_acceptor(acceptor).run_with_graceful_shutdown(
                app,
                async move {
                    let _ = stopped.await;
                },
                Some(Duration::from_secs(1)),
            ),
        );
        FakeUpstream {
            addr,
            state,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// `127.0.0.1:PORT`, the registry host as a provider source address carries it.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    pub fn base_url(&self) -> String {
        format!("https://{}", self.addr)
    }

    /// The absolute URL of a release file (`name` as in SHA256SUMS, or the SHA256SUMS
    /// and `.sig` names).
    pub fn file_url(&self, ns: &str, ty: &str, version: &str, name: &str) -> String {
        format!(
            "{}/v1/providers/{ns}/{ty}/{version}/files/{name}",
            self.base_url()
        )
    }

    /// Publishes a release signed by a fresh Ed25519 key (fast; terraform ≥1.1 reads it).
    pub fn add_provider(
        &self,
        ns: &str,
        ty: &str,
        version: &str,
        platforms: &[(&str, &str)],
    ) -> FakeRelease {
        self.add_provider_signed(ns, ty, version, platforms, &generate_signing_key())
    }

    /// Publishes a release signed by `key` (a [`super::provider::GpgKey`] for old terraform).
    pub fn add_provider_signed(
        &self,
        ns: &str,
        ty: &str,
        version: &str,
        platforms: &[(&str, &str)],
        key: &dyn Signer,
    ) -> FakeRelease {
        let dist = ProviderDist::build(key, ty, version, platforms);
        let bodies = dist
            .zips
            .iter()
            .map(|(_, zip)| PackageBody::Bytes(Bytes::from(zip.clone())))
            .collect();
        self.insert(ns, &dist, bodies)
    }

    /// Publishes a release whose zips hold one stored member of `member_size` generated
    /// bytes (< 4 GiB), streamed when served. Hashing it up front reads it twice.
    pub fn add_large_provider(
        &self,
        ns: &str,
        ty: &str,
        version: &str,
        platforms: &[(&str, &str)],
        member_size: u64,
    ) -> FakeRelease {
        let zip = Arc::new(GeneratedZip::new(
            &format!("terraform-provider-{ty}_v{version}"),
            member_size,
        ));
        let key = generate_signing_key();
        let names: Vec<String> = platforms
            .iter()
            .map(|(os, arch)| zip_name(ty, version, os, arch))
            .collect();
        let sums: String = names
            .iter()
            .map(|name| format!("{}  {name}\n", zip.sha256))
            .collect();
        let dist = ProviderDist {
            ty: ty.to_string(),
            version: version.to_string(),
            platforms: platforms
                .iter()
                .map(|(o, a)| (o.to_string(), a.to_string()))
                .collect(),
            zips: names.into_iter().map(|n| (n, Vec::new())).collect(),
            signature: Signer::sign_detached(&key, sums.as_bytes()),
            shasums: sums.into_bytes(),
            armored_public_key: Signer::armored_public(&key),
            key_id: Signer::key_id(&key),
        };
        let bodies = platforms
            .iter()
            .map(|_| PackageBody::Generated(zip.clone()))
            .collect();
        self.insert(ns, &dist, bodies)
    }

    fn insert(&self, ns: &str, dist: &ProviderDist, bodies: Vec<PackageBody>) -> FakeRelease {
        let mut packages = BTreeMap::new();
        let mut infos = Vec::new();
        for (((os, arch), (name, _)), body) in dist.platforms.iter().zip(&dist.zips).zip(bodies) {
            let (sha256, size) = match &body {
                PackageBody::Bytes(b) => (hex::encode(Sha256::digest(b)), b.len() as u64),
                PackageBody::Generated(z) => (z.sha256.clone(), z.len),
            };
            let info = FakePackage {
                os: os.clone(),
                arch: arch.clone(),
                filename: name.clone(),
                sha256,
                size,
            };
            infos.push(info.clone());
            let package = Package {
                info,
                body,
                corrupt: false,
                truncate_after: None,
            };
            packages.insert((os.clone(), arch.clone()), package);
        }
        let public = FakeRelease {
            namespace: ns.to_lowercase(),
            provider_type: dist.ty.to_lowercase(),
            version: dist.version.clone(),
            packages: infos,
            shasums: dist.shasums.clone(),
            signature: dist.signature.clone(),
            armored_public_key: dist.armored_public_key.clone(),
            key_id: dist.key_id.clone(),
        };
        let release = Release {
            served_signature: Bytes::from(dist.signature.clone()),
            public: public.clone(),
            packages,
        };
        self.lock()
            .releases
            .insert(key(ns, &dist.ty, &dist.version), release);
        public
    }

    /// The bytes served for a (non-generated) package, as published.
    pub fn package_bytes(
        &self,
        ns: &str,
        ty: &str,
        version: &str,
        os: &str,
        arch: &str,
    ) -> Vec<u8> {
        self.with_package(ns, ty, version, os, arch, |p| match &p.body {
            PackageBody::Bytes(b) => b.to_vec(),
            PackageBody::Generated(_) => panic!("generated packages are not held in memory"),
        })
    }

    /// Serve a signature over SHA256SUMS made by another key than the one listed.
    pub fn set_bad_signature(&self, ns: &str, ty: &str, version: &str) {
        let other = generate_signing_key();
        let mut state = self.lock();
        let release = state
            .releases
            .get_mut(&key(ns, ty, version))
            .expect("release");
        release.served_signature =
            Bytes::from(Signer::sign_detached(&other, &release.public.shasums));
    }

    /// Serve bytes that do not match SHA256SUMS (one byte flipped, same length).
    pub fn corrupt_package(&self, ns: &str, ty: &str, version: &str, os: &str, arch: &str) {
        self.with_package(ns, ty, version, os, arch, |p| p.corrupt = true);
    }

    /// Close the connection after `bytes` bytes of the package body (headers sent).
    pub fn truncate_package(
        &self,
        ns: &str,
        ty: &str,
        version: &str,
        os: &str,
        arch: &str,
        bytes: u64,
    ) {
        self.with_package(ns, ty, version, os, arch, |p| {
            p.truncate_after = Some(bytes)
        });
    }

    /// Serves a release as published again: its own signature, every package whole and
    /// correct (undoes the bad-signature, corrupt and truncate knobs).
    pub fn heal(&self, ns: &str, ty: &str, version: &str) {
        let mut state = self.lock();
        let release = state
            .releases
            .get_mut(&key(ns, ty, version))
            .expect("release");
        release.served_signature = Bytes::from(release.public.signature.clone());
        for package in release.packages.values_mut() {
            package.corrupt = false;
            package.truncate_after = None;
        }
    }

    /// 503 for every request while `down`.
    pub fn set_down(&self, down: bool) {
        self.lock().down = down;
    }

    /// The next `times` requests of `kind` get `status` (with `Retry-After` if given).
    pub fn fail_next(
        &self,
        kind: RequestKind,
        times: usize,
        status: u16,
        retry_after: Option<&str>,
    ) {
        let mut state = self.lock();
        for _ in 0..times {
            state.failures.push(Failure {
                kind,
                status,
                retry_after: retry_after.map(str::to_string),
            });
        }
    }

    /// Versions and download documents become `200` with a body that is not JSON.
    pub fn set_invalid_json(&self, invalid: bool) {
        self.lock().invalid_json = invalid;
    }

    /// Serve packages without `Content-Length` (chunked).
    pub fn set_chunked(&self, chunked: bool) {
        self.lock().chunked = chunked;
    }

    /// Wait this long before answering any request.
    pub fn set_latency(&self, latency: Duration) {
        self.lock().latency = latency;
    }

    /// Requests received of `kind`, failed ones included.
    pub fn requests(&self, kind: RequestKind) -> usize {
        self.lock().counts.get(&kind).copied().unwrap_or(0)
    }

    pub fn total_requests(&self) -> usize {
        self.lock().counts.values().sum()
    }

    pub fn reset_counters(&self) {
        self.lock().counts.clear();
    }

    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn with_package<T>(
        &self,
        ns: &str,
        ty: &str,
        version: &str,
        os: &str,
        arch: &str,
        f: impl FnOnce(&mut Package) -> T,
    ) -> T {
        let mut state = self.lock();
        let release = state
            .releases
            .get_mut(&key(ns, ty, version))
            .expect("release");
        f(release
            .packages
            .get_mut(&(os.to_string(), arch.to_string()))
            .expect("platform"))
    }
}

impl Drop for FakeUpstream {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}
