//! A failure part-way through a publish (storage down, database down) leaves nothing
//! behind: no row and no orphan blob.
#![cfg(feature = "testkit")]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use tfr_core::{
    ArchiveFormat, ArchiveLimits, BlobKey, ModuleAddress, ModuleVersion, ProviderAddress,
    ProviderVersion,
};
use tfr_ports::ByteStream;
use tfr_ports::driven::{
    BlobError, BlobListing, BlobMeta, BlobObject, BlobStore, ModuleListQuery, ModulePage,
    ModuleRecord, ModuleRepository, ModuleVersionRecord, ModuleWithVersions, NewModuleVersion,
    NewProviderVersion, ProviderListQuery, ProviderPage, ProviderRepository, ProviderVersionRecord,
    ProviderWithVersions, PutExpectation, RepoError, StoreCheckError,
};
use tfr_ports::service::{
    ModuleUpload, PackageUpload, ProviderUpload, PublishModule, PublishProvider, ServiceError,
};
use tfr_ports::testkit::ManualClock;
use tfr_ports::testkit::blob::{InMemoryBlobStore, sha256_hex};
use tfr_ports::testkit::fakes::{StubArchiveInspector, StubSignatureVerifier};
use tfr_ports::testkit::repos::{InMemoryModuleRepository, InMemoryProviderRepository};

use common::staged;

/// Delegates to an in-memory store but fails the put numbered `fail_on` (1-based).
struct FlakyBlobStore {
    inner: InMemoryBlobStore,
    puts: AtomicUsize,
    fail_on: usize,
}

#[async_trait]
impl BlobStore for FlakyBlobStore {
    async fn put(
        &self,
        key: &BlobKey,
        body: ByteStream,
        expect: PutExpectation,
    ) -> Result<BlobMeta, BlobError> {
        if self.puts.fetch_add(1, Ordering::SeqCst) + 1 == self.fail_on {
            return Err(BlobError::Unavailable("storage went away".into()));
        }
        self.inner.put(key, body, expect).await
    }
    async fn get(&self, key: &BlobKey) -> Result<Option<BlobObject>, BlobError> {
        self.inner.get(key).await
    }
    async fn delete(&self, key: &BlobKey) -> Result<(), BlobError> {
        self.inner.delete(key).await
    }
    async fn exists(&self, key: &BlobKey) -> Result<bool, BlobError> {
        self.inner.exists(key).await
    }
    async fn metadata(&self, key: &BlobKey) -> Result<Option<BlobMeta>, BlobError> {
        self.inner.metadata(key).await
    }
    async fn presigned_url(
        &self,
        key: &BlobKey,
        ttl: Duration,
    ) -> Result<Option<String>, BlobError> {
        self.inner.presigned_url(key, ttl).await
    }
    fn list(&self) -> futures::stream::BoxStream<'_, Result<BlobListing, BlobError>> {
        self.inner.list()
    }
    async fn check_writable(&self) -> Result<(), StoreCheckError> {
        self.inner.check_writable().await
    }
    fn backend_name(&self) -> &'static str {
        "flaky"
    }
}

fn unavailable() -> RepoError {
    RepoError::Unavailable("database went away".into())
}

/// Reads work; every insert fails as if the database dropped.
struct InsertFailsModules(InMemoryModuleRepository);

#[async_trait]
impl ModuleRepository for InsertFailsModules {
    async fn insert_version(
        &self,
        _new: NewModuleVersion,
    ) -> Result<ModuleVersionRecord, RepoError> {
        Err(unavailable())
    }
    async fn find_module(
        &self,
        a: &ModuleAddress,
    ) -> Result<Option<ModuleWithVersions>, RepoError> {
        self.0.find_module(a).await
    }
    async fn find_version(
        &self,
        a: &ModuleAddress,
        v: &ModuleVersion,
    ) -> Result<Option<(ModuleRecord, ModuleVersionRecord)>, RepoError> {
        self.0.find_version(a, v).await
    }
    async fn delete_version(&self, id: uuid::Uuid) -> Result<bool, RepoError> {
        self.0.delete_version(id).await
    }
    async fn list(&self, q: &ModuleListQuery) -> Result<ModulePage, RepoError> {
        self.0.list(q).await
    }
    async fn record_downloads(&self, id: uuid::Uuid, count: u64) -> Result<(), RepoError> {
        self.0.record_downloads(id, count).await
    }
}

struct InsertFailsProviders(InMemoryProviderRepository);

#[async_trait]
impl ProviderRepository for InsertFailsProviders {
    async fn insert_version(
        &self,
        _new: NewProviderVersion,
    ) -> Result<ProviderVersionRecord, RepoError> {
        Err(unavailable())
    }
    async fn find_provider(
        &self,
        a: &ProviderAddress,
    ) -> Result<Option<ProviderWithVersions>, RepoError> {
        self.0.find_provider(a).await
    }
    async fn find_version(
        &self,
        a: &ProviderAddress,
        v: &ProviderVersion,
    ) -> Result<Option<ProviderVersionRecord>, RepoError> {
        self.0.find_version(a, v).await
    }
    async fn delete_version(&self, id: uuid::Uuid) -> Result<bool, RepoError> {
        self.0.delete_version(id).await
    }
    async fn list(&self, q: &ProviderListQuery) -> Result<ProviderPage, RepoError> {
        self.0.list(q).await
    }
}

fn flaky(fail_on: usize) -> Arc<FlakyBlobStore> {
    Arc::new(FlakyBlobStore {
        inner: InMemoryBlobStore::new(),
        puts: AtomicUsize::new(0),
        fail_on,
    })
}

const PLATFORMS: [&str; 2] = ["linux_amd64", "darwin_arm64"];

fn provider_upload() -> ProviderUpload {
    let files: Vec<(String, Vec<u8>)> = PLATFORMS
        .iter()
        .map(|p| {
            (
                format!("terraform-provider-widget_1.2.3_{p}.zip"),
                format!("zip for {p}").into_bytes(),
            )
        })
        .collect();
    let shasums: String = files
        .iter()
        .map(|(name, data)| format!("{}  {name}\n", sha256_hex(data)))
        .collect();
    ProviderUpload {
        address: ProviderAddress::parse("acme", "widget").unwrap(),
        version: ProviderVersion::parse("1.2.3").unwrap(),
        packages: files
            .iter()
            .map(|(name, data)| PackageUpload {
                filename: name.clone(),
                file: staged(data),
            })
            .collect(),
        shasums: shasums.into_bytes(),
        signature: b"good".to_vec(),
        public_key: "key".into(),
        protocols: None,
        manifest: None,
        published_by: None,
        organization_id: tfr_ports::driven::DEFAULT_ORGANIZATION_ID,
    }
}

fn provider_publisher(
    repo: Arc<dyn ProviderRepository>,
    blobs: Arc<dyn BlobStore>,
) -> PublishProvider {
    PublishProvider::new(
        repo,
        blobs,
        Arc::new(StubArchiveInspector::new()),
        Arc::new(StubSignatureVerifier),
        Arc::new(ManualClock::default()),
        ArchiveLimits::default(),
        common::cache(),
    )
}

#[tokio::test]
async fn provider_publish_with_storage_failing_mid_way_leaves_no_blob_and_no_row() {
    // Puts: linux zip, darwin zip, SHA256SUMS, signature. Fail each in turn.
    for fail_on in 1..=4 {
        let blobs = flaky(fail_on);
        let repo = Arc::new(InMemoryProviderRepository::new());
        let err = provider_publisher(repo.clone(), blobs.clone())
            .execute(provider_upload())
            .await
            .expect_err("storage failure must fail the publish");
        assert!(
            matches!(err, ServiceError::Unavailable(_)),
            "put {fail_on}: {err:?}"
        );
        assert!(
            blobs.inner.is_empty(),
            "put {fail_on}: orphans {:?}",
            blobs.inner.keys()
        );
        let addr = ProviderAddress::parse("acme", "widget").unwrap();
        assert!(
            repo.find_provider(&addr).await.unwrap().is_none(),
            "put {fail_on}: a row was stored"
        );
    }
}

#[tokio::test]
async fn provider_publish_with_database_failing_removes_every_blob_it_wrote() {
    let blobs = Arc::new(InMemoryBlobStore::new());
    let repo = Arc::new(InsertFailsProviders(InMemoryProviderRepository::new()));
    let err = provider_publisher(repo, blobs.clone())
        .execute(provider_upload())
        .await
        .expect_err("database failure must fail the publish");
    assert!(matches!(err, ServiceError::Unavailable(_)), "{err:?}");
    assert!(blobs.is_empty(), "orphans: {:?}", blobs.keys());
}

#[tokio::test]
async fn module_publish_with_database_failing_removes_its_blob() {
    let blobs = Arc::new(InMemoryBlobStore::new());
    let repo = Arc::new(InsertFailsModules(InMemoryModuleRepository::new()));
    let publisher = PublishModule::new(
        repo.clone(),
        blobs.clone(),
        Arc::new(StubArchiveInspector::new()),
        Arc::new(ManualClock::default()),
        ArchiveLimits::default(),
        common::cache(),
    );
    let address = ModuleAddress::parse("acme", "net", "aws").unwrap();
    let err = publisher
        .execute(ModuleUpload {
            address: address.clone(),
            version: ModuleVersion::parse("1.0.0").unwrap(),
            format: ArchiveFormat::TarGz,
            archive: staged(b"archive bytes"),
            published_by: None,
            organization_id: tfr_ports::driven::DEFAULT_ORGANIZATION_ID,
        })
        .await
        .expect_err("database failure must fail the publish");
    assert!(matches!(err, ServiceError::Unavailable(_)), "{err:?}");
    assert!(blobs.is_empty(), "orphans: {:?}", blobs.keys());
    assert!(repo.find_module(&address).await.unwrap().is_none());
}

#[tokio::test]
async fn module_publish_with_storage_down_stores_no_row() {
    let blobs = flaky(1);
    let repo = Arc::new(InMemoryModuleRepository::new());
    let publisher = PublishModule::new(
        repo.clone(),
        blobs.clone(),
        Arc::new(StubArchiveInspector::new()),
        Arc::new(ManualClock::default()),
        ArchiveLimits::default(),
        common::cache(),
    );
    let address = ModuleAddress::parse("acme", "net", "aws").unwrap();
    let err = publisher
        .execute(ModuleUpload {
            address: address.clone(),
            version: ModuleVersion::parse("1.0.0").unwrap(),
            format: ArchiveFormat::TarGz,
            archive: staged(b"archive bytes"),
            published_by: None,
            organization_id: tfr_ports::driven::DEFAULT_ORGANIZATION_ID,
        })
        .await
        .expect_err("storage failure must fail the publish");
    assert!(matches!(err, ServiceError::Unavailable(_)), "{err:?}");
    assert!(blobs.inner.is_empty());
    assert!(repo.find_module(&address).await.unwrap().is_none());
}
