//! The catalog cache: hot reads stop reaching the repository, local publishes and
//! deletes show at once, other replicas' changes show within the TTL, and downloads are
//! counted in batches.
#![cfg(feature = "testkit")]

mod common;

use std::sync::Arc;
use std::time::Duration;

use tfr_core::{ArchiveFormat, ArchiveLimits, BlobKey, ModuleAddress, ModuleVersion};
use tfr_ports::driven::{ModuleRepository, NewModuleVersion};
use tfr_ports::service::{
    CatalogCache, DeleteModuleVersion, ModuleCatalog, ModuleUpload, PublishModule,
};
use tfr_ports::testkit::ManualClock;
use tfr_ports::testkit::blob::InMemoryBlobStore;
use tfr_ports::testkit::fakes::StubArchiveInspector;
use tfr_ports::testkit::repos::InMemoryModuleRepository;
use uuid::Uuid;

use common::{links, staged};

struct World {
    repo: Arc<InMemoryModuleRepository>,
    blobs: Arc<InMemoryBlobStore>,
    clock: Arc<ManualClock>,
    cache: Arc<CatalogCache>,
    catalog: ModuleCatalog,
}

fn address() -> ModuleAddress {
    ModuleAddress::parse("acme", "net", "aws").unwrap()
}

impl World {
    fn new(ttl: Duration) -> Self {
        let repo = Arc::new(InMemoryModuleRepository::new());
        let blobs = Arc::new(InMemoryBlobStore::new());
        let clock = Arc::new(ManualClock::default());
        let cache = Arc::new(CatalogCache::new(ttl));
        let catalog = ModuleCatalog::new(
            repo.clone(),
            links(blobs.clone(), clock.clone()),
            cache.clone(),
        );
        Self {
            repo,
            blobs,
            clock,
            cache,
            catalog,
        }
    }

    /// Publishes through the use case (which invalidates this replica's cache).
    async fn publish(&self, version: &str) {
        PublishModule::new(
            self.repo.clone(),
            self.blobs.clone(),
            Arc::new(StubArchiveInspector::new()),
            self.clock.clone(),
            ArchiveLimits::default(),
            self.cache.clone(),
        )
        .execute(ModuleUpload {
            address: address(),
            version: ModuleVersion::parse(version).unwrap(),
            format: ArchiveFormat::TarGz,
            archive: staged(version.as_bytes()),
            published_by: None,
            organization_id: tfr_ports::driven::DEFAULT_ORGANIZATION_ID,
        })
        .await
        .unwrap();
    }

    /// Inserts a row directly, as another replica's publish would.
    async fn publish_elsewhere(&self, version: &str) {
        let v = ModuleVersion::parse(version).unwrap();
        self.repo
            .insert_version(NewModuleVersion {
                id: Uuid::now_v7(),
                address: address(),
                version: v.clone(),
                description: None,
                readme: None,
                format: ArchiveFormat::TarGz,
                blob_key: BlobKey::module_archive(&address(), &v, ArchiveFormat::TarGz, 7),
                size: 1,
                sha256: "00".repeat(32),
                published_at: chrono::Utc::now(),
                published_by: None,
                namespace_organization: tfr_ports::driven::DEFAULT_ORGANIZATION_ID,
            })
            .await
            .unwrap();
    }

    async fn names(&self) -> Vec<String> {
        let cached = self.catalog.versions(&address()).await.unwrap();
        cached.versions.iter().map(|v| v.version.clone()).collect()
    }
}

#[tokio::test]
async fn hot_reads_are_served_from_memory_until_the_ttl() {
    // Long enough that a slow CI machine does not expire it between the reads below.
    let w = World::new(Duration::from_secs(2));
    w.publish("1.0.0").await;
    let first = w.catalog.versions(&address()).await.unwrap();
    w.publish_elsewhere("2.0.0").await;
    let second = w.catalog.versions(&address()).await.unwrap();
    assert!(
        Arc::ptr_eq(&first, &second),
        "a fresh entry is the same value, not a new query"
    );
    assert_eq!(
        w.names().await,
        ["1.0.0"],
        "another replica's publish is not seen yet"
    );
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(
        w.names().await,
        ["2.0.0", "1.0.0"],
        "seen once the TTL passed"
    );
}

#[tokio::test]
async fn local_publish_and_delete_show_at_once() {
    let w = World::new(Duration::from_secs(600));
    w.publish("1.0.0").await;
    assert_eq!(w.names().await, ["1.0.0"]);
    w.publish("1.1.0").await;
    assert_eq!(w.names().await, ["1.1.0", "1.0.0"]);
    DeleteModuleVersion::new(w.repo.clone(), w.blobs.clone(), w.cache.clone())
        .execute(&address(), &ModuleVersion::parse("1.1.0").unwrap())
        .await
        .unwrap();
    assert_eq!(w.names().await, ["1.0.0"]);
}

#[tokio::test]
async fn unknown_modules_are_cached_too_and_local_publish_clears_them() {
    let w = World::new(Duration::from_secs(600));
    assert!(w.catalog.versions(&address()).await.is_err());
    w.publish_elsewhere("1.0.0").await;
    assert!(
        w.catalog.versions(&address()).await.is_err(),
        "the 404 is cached"
    );
    w.publish("1.1.0").await;
    assert_eq!(w.names().await, ["1.1.0", "1.0.0"]);
}

#[tokio::test]
async fn a_version_missing_from_a_fresh_entry_is_looked_up() {
    let w = World::new(Duration::from_secs(600));
    w.publish("1.0.0").await;
    w.names().await;
    w.publish_elsewhere("2.0.0").await;
    let link = w
        .catalog
        .download_link(&address(), &ModuleVersion::parse("2.0.0").unwrap())
        .await
        .expect("published on another replica, still downloadable here");
    assert!(link.contains("/2.0.0/"), "{link}");
}

#[tokio::test]
async fn downloads_are_counted_in_batches() {
    let w = World::new(Duration::from_secs(600));
    w.publish("1.0.0").await;
    let v = ModuleVersion::parse("1.0.0").unwrap();
    for _ in 0..5 {
        w.catalog.download_link(&address(), &v).await.unwrap();
    }
    let stored = |w: &World| {
        let repo = w.repo.clone();
        let v = v.clone();
        async move {
            repo.find_version(&address(), &v)
                .await
                .unwrap()
                .unwrap()
                .1
                .downloads
        }
    };
    assert_eq!(
        stored(&w).await,
        0,
        "nothing is written on the request path"
    );
    w.catalog.flush_downloads().await;
    assert_eq!(stored(&w).await, 5);
    w.catalog.flush_downloads().await;
    assert_eq!(stored(&w).await, 5, "a flush writes each count once");
}

#[tokio::test]
async fn a_zero_ttl_turns_the_cache_off() {
    let w = World::new(Duration::ZERO);
    w.publish("1.0.0").await;
    w.publish_elsewhere("2.0.0").await;
    assert_eq!(w.names().await, ["2.0.0", "1.0.0"]);
}

/// The in-memory repository, with reads that fail while `down` is set.
struct FlakyReads {
    inner: Arc<InMemoryModuleRepository>,
    down: std::sync::atomic::AtomicBool,
}

#[async_trait::async_trait]
impl ModuleRepository for FlakyReads {
    async fn insert_version(
        &self,
        new: NewModuleVersion,
    ) -> Result<tfr_ports::driven::ModuleVersionRecord, tfr_ports::driven::RepoError> {
        self.inner.insert_version(new).await
    }
    async fn find_module(
        &self,
        address: &ModuleAddress,
    ) -> Result<Option<tfr_ports::driven::ModuleWithVersions>, tfr_ports::driven::RepoError> {
        if self.down.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(tfr_ports::driven::RepoError::Unavailable(
                "database down".into(),
            ));
        }
        self.inner.find_module(address).await
    }
    async fn find_version(
        &self,
        address: &ModuleAddress,
        version: &ModuleVersion,
    ) -> Result<
        Option<(
            tfr_ports::driven::ModuleRecord,
            tfr_ports::driven::ModuleVersionRecord,
        )>,
        tfr_ports::driven::RepoError,
    > {
        self.inner.find_version(address, version).await
    }
    async fn delete_version(&self, id: Uuid) -> Result<bool, tfr_ports::driven::RepoError> {
        self.inner.delete_version(id).await
    }
    async fn list(
        &self,
        query: &tfr_ports::driven::ModuleListQuery,
    ) -> Result<tfr_ports::driven::ModulePage, tfr_ports::driven::RepoError> {
        self.inner.list(query).await
    }
    async fn record_downloads(
        &self,
        id: Uuid,
        count: u64,
    ) -> Result<(), tfr_ports::driven::RepoError> {
        self.inner.record_downloads(id, count).await
    }
}

#[tokio::test]
async fn an_expired_entry_is_still_served_when_the_refresh_fails() {
    let w = World::new(Duration::from_millis(100));
    w.publish("1.0.0").await;
    let flaky = Arc::new(FlakyReads {
        inner: w.repo.clone(),
        down: std::sync::atomic::AtomicBool::new(false),
    });
    let catalog = ModuleCatalog::new(
        flaky.clone(),
        links(w.blobs.clone(), w.clock.clone()),
        w.cache.clone(),
    );
    assert_eq!(
        catalog.versions(&address()).await.unwrap().versions.len(),
        1
    );
    flaky.down.store(true, std::sync::atomic::Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(150)).await;
    let served = catalog
        .versions(&address())
        .await
        .expect("the old value rides out the outage");
    assert_eq!(served.versions[0].version, "1.0.0");
    // An address never cached has nothing to fall back on.
    let other = ModuleAddress::parse("acme", "other", "aws").unwrap();
    assert!(catalog.versions(&other).await.is_err());
}
