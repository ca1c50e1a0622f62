//! Shared wiring for the mirror use-case tests (`services_mirror_catalog`,
//! `services_mirror_configs`, `services_mirror_sync`): the mirror services over the
//! testkit fakes, and the names they all use. Each test file adds the helpers only it
//! needs in its own `impl World` block.
//!
//! Uses `crate::common` (declare `mod common;` beside `mod mirror_common;`).
#![allow(dead_code)]

use std::fmt::Debug;
use std::sync::Arc;

use tfr_core::{ArchiveLimits, Platform, ProviderAddress, RegistryHost};
use tfr_ports::driven::MirrorConfigRecord;
use tfr_ports::service::{
    DownloadLinks, MirrorCatalog, MirrorCatalogSettings, MirrorConfigInput, MirrorConfigs,
    MirrorFetcher, ServiceError,
};
use tfr_ports::testkit::ManualClock;
use tfr_ports::testkit::blob::InMemoryBlobStore;
use tfr_ports::testkit::fakes::{StubArchiveInspector, StubSignatureVerifier};
use tfr_ports::testkit::repos::InMemoryMirrorRepository;
use tfr_ports::testkit::upstream::FakeUpstreamRegistry;

/// The mirror services on one set of fakes: a repository, an upstream registry, blob
/// storage, a clock, and a staging directory (removed on drop).
pub struct World {
    pub repo: Arc<InMemoryMirrorRepository>,
    pub upstream: Arc<FakeUpstreamRegistry>,
    pub blobs: Arc<InMemoryBlobStore>,
    pub clock: Arc<ManualClock>,
    pub links: Arc<DownloadLinks>,
    pub staging: tempfile::TempDir,
    /// This replica's catalog (its caches live as long as the world).
    pub catalog: Arc<MirrorCatalog>,
    /// The admin side, invalidating [`World::catalog`]'s caches on changes.
    pub configs: MirrorConfigs,
}

impl World {
    pub fn new() -> Self {
        let repo = Arc::new(InMemoryMirrorRepository::new());
        let upstream = Arc::new(FakeUpstreamRegistry::new());
        let blobs = Arc::new(InMemoryBlobStore::new());
        let clock = Arc::new(ManualClock::default());
        let links = crate::common::links(blobs.clone(), clock.clone());
        let staging = tempfile::tempdir().expect("tempdir");
        let fetcher = fetcher(&repo, &upstream, &blobs, &clock, &staging);
        let catalog = Arc::new(MirrorCatalog::new(
            repo.clone(),
            upstream.clone(),
            fetcher,
            links.clone(),
            clock.clone(),
            MirrorCatalogSettings::default(),
        ));
        let configs = MirrorConfigs::new(repo.clone(), catalog.clone(), clock.clone());
        Self {
            repo,
            upstream,
            blobs,
            clock,
            links,
            staging,
            catalog,
            configs,
        }
    }

    /// A new fetcher on these fakes, staging under `{staging}/mirror`.
    pub fn fetcher(&self) -> Arc<MirrorFetcher> {
        fetcher(
            &self.repo,
            &self.upstream,
            &self.blobs,
            &self.clock,
            &self.staging,
        )
    }

    /// Creates a configuration through [`World::configs`].
    pub async fn create(&self, input: MirrorConfigInput) -> MirrorConfigRecord {
        self.configs.create(input).await.unwrap()
    }
}

fn fetcher(
    repo: &Arc<InMemoryMirrorRepository>,
    upstream: &Arc<FakeUpstreamRegistry>,
    blobs: &Arc<InMemoryBlobStore>,
    clock: &Arc<ManualClock>,
    staging: &tempfile::TempDir,
) -> Arc<MirrorFetcher> {
    Arc::new(MirrorFetcher::new(
        repo.clone(),
        upstream.clone(),
        blobs.clone(),
        Arc::new(StubArchiveInspector::new()),
        Arc::new(StubSignatureVerifier),
        clock.clone(),
        staging.path().join("mirror"),
        ArchiveLimits::default(),
    ))
}

/// registry.terraform.io.
pub fn tf() -> RegistryHost {
    RegistryHost::terraform_registry()
}

/// `hashicorp/{ty}`.
pub fn addr(ty: &str) -> ProviderAddress {
    ProviderAddress::parse("hashicorp", ty).unwrap()
}

pub fn platform(p: &str) -> Platform {
    Platform::parse(p).unwrap()
}

pub fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

pub fn assert_not_found<T: Debug>(result: Result<T, ServiceError>) {
    match result {
        Err(ServiceError::NotFound(_)) => {}
        other => panic!("expected NotFound, got {other:?}"),
    }
}
