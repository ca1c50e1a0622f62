//! PublishModule, DeleteModuleVersion and ModuleCatalog against the testkit fakes.
#![cfg(feature = "testkit")]

mod common;

use std::sync::Arc;

use tfr_core::{ArchiveFormat, ArchiveLimits, ArchiveViolation, ModuleAddress, ModuleVersion};
use tfr_ports::driven::{BlobStore, Clock, ModuleRepository};
use tfr_ports::service::{
    DeleteModuleVersion, ModuleCatalog, ModuleUpload, PublishModule, ServiceError,
};
use tfr_ports::testkit::ManualClock;
use tfr_ports::testkit::blob::InMemoryBlobStore;
use tfr_ports::testkit::fakes::StubArchiveInspector;
use tfr_ports::testkit::repos::InMemoryModuleRepository;

use common::{LINK_TTL, links, staged};

const ARCHIVE: &[u8] = b"pretend this is a tar.gz";
const README: &str = "# Network\n\nBuilds a VPC with public and private subnets.\n\nMore text.\n";

struct World {
    repo: Arc<InMemoryModuleRepository>,
    blobs: Arc<InMemoryBlobStore>,
    inspector: Arc<StubArchiveInspector>,
    clock: Arc<ManualClock>,
    cache: Arc<tfr_ports::service::CatalogCache>,
}

impl World {
    fn new() -> Self {
        Self {
            repo: Arc::new(InMemoryModuleRepository::new()),
            blobs: Arc::new(InMemoryBlobStore::new()),
            inspector: Arc::new(StubArchiveInspector::new().with_readme(README)),
            clock: Arc::new(ManualClock::default()),
            cache: common::cache(),
        }
    }
    fn publisher(&self, limits: ArchiveLimits) -> PublishModule {
        PublishModule::new(
            self.repo.clone(),
            self.blobs.clone(),
            self.inspector.clone(),
            self.clock.clone(),
            limits,
            self.cache.clone(),
        )
    }
    /// The catalog's versions, newest first.
    async fn version_names(&self) -> Vec<String> {
        let cached = self.catalog().versions(&address()).await.unwrap();
        cached.versions.iter().map(|v| v.version.clone()).collect()
    }
    fn catalog(&self) -> ModuleCatalog {
        ModuleCatalog::new(
            self.repo.clone(),
            links(self.blobs.clone(), self.clock.clone()),
            self.cache.clone(),
        )
    }
    async fn publish(&self, version: &str, data: &[u8]) -> Result<(), ServiceError> {
        self.publisher(ArchiveLimits::default())
            .execute(upload(version, data))
            .await
            .map(|_| ())
    }
}

fn address() -> ModuleAddress {
    ModuleAddress::parse("acme", "network", "aws").unwrap()
}

fn version(v: &str) -> ModuleVersion {
    ModuleVersion::parse(v).unwrap()
}

fn upload(v: &str, data: &[u8]) -> ModuleUpload {
    ModuleUpload {
        address: address(),
        version: version(v),
        format: ArchiveFormat::TarGz,
        archive: staged(data),
        published_by: None,
        organization_id: tfr_ports::driven::DEFAULT_ORGANIZATION_ID,
    }
}

#[tokio::test]
async fn publish_stores_the_blob_and_a_row_with_canonical_version_and_description() {
    let w = World::new();
    let record = w
        .publisher(ArchiveLimits::default())
        .execute(upload("v1.2", ARCHIVE))
        .await
        .unwrap();

    assert_eq!(record.version, "1.2.0");
    assert_eq!(
        record.description.as_deref(),
        Some("Builds a VPC with public and private subnets.")
    );
    assert_eq!(record.readme.as_deref(), Some(README));
    assert_eq!(record.size, ARCHIVE.len() as u64);
    assert_eq!(record.published_at, w.clock.now());
    assert_eq!(w.blobs.keys(), vec![record.blob_key.clone()]);
    assert_eq!(w.blobs.contents(&record.blob_key).as_deref(), Some(ARCHIVE));
    let (_, stored) = w
        .repo
        .find_version(&address(), &version("1.2.0"))
        .await
        .unwrap()
        .expect("row stored");
    assert_eq!(stored.id, record.id);
    assert_eq!(stored.sha256, record.sha256);
}

#[tokio::test]
async fn an_inspector_violation_is_invalid_with_its_check_and_stores_nothing() {
    let w = World::new();
    w.inspector
        .set_module(Err(ArchiveViolation::ParentTraversal("../x.tf".into())));
    let err = w.publish("1.0.0", ARCHIVE).await.unwrap_err();
    assert!(
        matches!(
            err,
            ServiceError::Invalid {
                check: "path_traversal",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(w.blobs.is_empty());
    assert!(w.repo.find_module(&address()).await.unwrap().is_none());
}

#[tokio::test]
async fn an_existing_version_is_a_conflict_and_its_blob_is_untouched() {
    let w = World::new();
    w.publish("1.0.0", ARCHIVE).await.unwrap();
    let before = w.blobs.keys();

    let err = w.publish("v1.0", b"another archive").await.unwrap_err();
    assert!(matches!(err, ServiceError::Conflict(_)), "{err:?}");
    assert_eq!(w.blobs.keys(), before);
    assert_eq!(w.blobs.contents(&before[0]).as_deref(), Some(ARCHIVE));
}

#[tokio::test]
async fn an_archive_over_the_limit_is_too_large_and_stores_nothing() {
    let w = World::new();
    let limits = ArchiveLimits {
        max_archive_bytes: 10,
        ..ArchiveLimits::default()
    };
    let err = w
        .publisher(limits)
        .execute(upload("1.0.0", ARCHIVE))
        .await
        .unwrap_err();
    assert!(
        matches!(err, ServiceError::TooLarge { limit: 10 }),
        "{err:?}"
    );
    assert!(w.blobs.is_empty());
    assert!(w.repo.find_module(&address()).await.unwrap().is_none());
}

#[tokio::test]
async fn delete_removes_the_row_and_the_blob() {
    let w = World::new();
    w.publish("1.0.0", ARCHIVE).await.unwrap();
    w.publish("2.0.0", b"second").await.unwrap();
    let (_, doomed) = w
        .repo
        .find_version(&address(), &version("1.0.0"))
        .await
        .unwrap()
        .unwrap();

    DeleteModuleVersion::new(w.repo.clone(), w.blobs.clone(), w.cache.clone())
        .execute(&address(), &version("1.0.0"))
        .await
        .unwrap();

    assert!(!w.blobs.exists(&doomed.blob_key).await.unwrap());
    assert_eq!(w.blobs.len(), 1);
    assert!(
        w.repo
            .find_version(&address(), &version("1.0.0"))
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(w.version_names().await, ["2.0.0"]);

    let again = DeleteModuleVersion::new(w.repo.clone(), w.blobs.clone(), w.cache.clone())
        .execute(&address(), &version("1.0.0"))
        .await
        .unwrap_err();
    assert!(matches!(again, ServiceError::NotFound(_)), "{again:?}");
}

#[tokio::test]
async fn versions_are_newest_first() {
    let w = World::new();
    for v in ["1.2.0", "1.10.0", "1.9.1-beta", "0.1.0", "1.9.1"] {
        w.publish(v, v.as_bytes()).await.unwrap();
    }
    assert_eq!(
        w.version_names().await,
        ["1.10.0", "1.9.1", "1.9.1-beta", "1.2.0", "0.1.0"]
    );
}

#[tokio::test]
async fn latest_skips_prereleases_unless_there_are_only_prereleases() {
    let w = World::new();
    w.publish("1.0.0-rc.1", b"a").await.unwrap();
    w.publish("0.9.0-beta", b"b").await.unwrap();
    let only_pre = w.catalog().latest(&address()).await.unwrap();
    assert_eq!(only_pre.version.version, "1.0.0-rc.1");

    w.publish("0.5.0", b"c").await.unwrap();
    w.publish("2.0.0-alpha", b"d").await.unwrap();
    let latest = w.catalog().latest(&address()).await.unwrap();
    assert_eq!(latest.version.version, "0.5.0");
    assert_eq!(
        latest.versions,
        ["2.0.0-alpha", "1.0.0-rc.1", "0.9.0-beta", "0.5.0"]
    );
}

#[tokio::test]
async fn download_link_is_a_signed_files_link() {
    let w = World::new();
    w.publish("1.0.0", ARCHIVE).await.unwrap();
    let (_, record) = w
        .repo
        .find_version(&address(), &version("1.0.0"))
        .await
        .unwrap()
        .unwrap();

    let link = w
        .catalog()
        .download_link(&address(), &version("1.0.0"))
        .await
        .unwrap();

    let expires = w.clock.now().timestamp() + LINK_TTL.as_secs() as i64;
    assert!(
        link.starts_with(&format!("/v1/files/{}?", record.blob_key.as_str())),
        "{link}"
    );
    assert!(link.contains(&format!("expires={expires}")), "{link}");
    assert!(link.contains("&signature="), "{link}");

    let missing = w
        .catalog()
        .download_link(&address(), &version("9.9.9"))
        .await
        .unwrap_err();
    assert!(matches!(missing, ServiceError::NotFound(_)), "{missing:?}");
}

#[tokio::test]
async fn versions_equal_in_precedence_are_refused() {
    let w = World::new();
    w.publish("1.2.3", b"first").await.unwrap();
    for twin in ["1.2.3.0", "1.2.3+build.7", "v1.2.3"] {
        let err = w.publish(twin, b"twin").await.unwrap_err();
        let ServiceError::Conflict(message) = &err else {
            panic!("{twin}: expected a conflict, got {err:?}");
        };
        assert!(
            message.contains("1.2.3"),
            "{twin}: the message names the published version: {message}"
        );
    }
    assert_eq!(w.version_names().await, ["1.2.3"]);
    assert_eq!(w.blobs.len(), 1, "nothing stored for the refused twins");
}
