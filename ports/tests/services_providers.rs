//! PublishProvider, DeleteProviderVersion and ProviderCatalog against the testkit fakes.
#![cfg(feature = "testkit")]

mod common;

use std::sync::Arc;

use tfr_core::{ArchiveLimits, Platform, ProviderAddress, ProviderVersion};
use tfr_ports::driven::{BlobStore, ProviderRepository, ProviderVersionRecord};
use tfr_ports::service::{
    DeleteProviderVersion, PackageUpload, ProviderCatalog, ProviderUpload, PublishProvider,
    ServiceError,
};
use tfr_ports::testkit::ManualClock;
use tfr_ports::testkit::blob::{InMemoryBlobStore, sha256_hex};
use tfr_ports::testkit::fakes::{StubArchiveInspector, StubSignatureVerifier};
use tfr_ports::testkit::repos::InMemoryProviderRepository;

use common::{links, staged};

const LINUX_ZIP: &[u8] = b"linux zip bytes";
const DARWIN_ZIP: &[u8] = b"darwin zip bytes";

struct World {
    repo: Arc<InMemoryProviderRepository>,
    blobs: Arc<InMemoryBlobStore>,
    clock: Arc<ManualClock>,
    cache: Arc<tfr_ports::service::CatalogCache>,
}

impl World {
    fn new() -> Self {
        Self {
            repo: Arc::new(InMemoryProviderRepository::new()),
            blobs: Arc::new(InMemoryBlobStore::new()),
            clock: Arc::new(ManualClock::default()),
            cache: common::cache(),
        }
    }
    fn publisher(&self) -> PublishProvider {
        PublishProvider::new(
            self.repo.clone(),
            self.blobs.clone(),
            Arc::new(StubArchiveInspector::new()),
            Arc::new(StubSignatureVerifier),
            self.clock.clone(),
            ArchiveLimits::default(),
            self.cache.clone(),
        )
    }
    fn catalog(&self) -> ProviderCatalog {
        ProviderCatalog::new(
            self.repo.clone(),
            links(self.blobs.clone(), self.clock.clone()),
            self.cache.clone(),
        )
    }
    async fn publish(&self, upload: ProviderUpload) -> Result<ProviderVersionRecord, ServiceError> {
        self.publisher().execute(upload).await.map(|p| p.record)
    }
    /// Nothing stored: no blob, no provider row.
    async fn assert_empty(&self) {
        assert!(self.blobs.is_empty(), "blobs: {:?}", self.blobs.keys());
        assert!(
            self.repo.find_provider(&address()).await.unwrap().is_none(),
            "a provider row was stored"
        );
    }
}

fn address() -> ProviderAddress {
    ProviderAddress::parse("acme", "widget").unwrap()
}

fn version() -> ProviderVersion {
    ProviderVersion::parse("1.2.3").unwrap()
}

fn filename(platform: &str) -> String {
    format!("terraform-provider-widget_1.2.3_{platform}.zip")
}

fn shasums(entries: &[(&str, &[u8])]) -> Vec<u8> {
    entries
        .iter()
        .map(|(name, data)| format!("{}  {name}\n", sha256_hex(data)))
        .collect::<String>()
        .into_bytes()
}

/// A valid two-platform upload.
fn upload() -> ProviderUpload {
    let linux = filename("linux_amd64");
    let darwin = filename("darwin_arm64");
    ProviderUpload {
        address: address(),
        version: version(),
        shasums: shasums(&[(&linux, LINUX_ZIP), (&darwin, DARWIN_ZIP)]),
        packages: vec![
            PackageUpload {
                filename: linux,
                file: staged(LINUX_ZIP),
            },
            PackageUpload {
                filename: darwin,
                file: staged(DARWIN_ZIP),
            },
        ],
        signature: StubSignatureVerifier::GOOD_SIGNATURE.to_vec(),
        public_key: "armored key".to_string(),
        protocols: None,
        manifest: None,
        published_by: None,
        organization_id: tfr_ports::driven::DEFAULT_ORGANIZATION_ID,
    }
}

fn assert_invalid(err: &ServiceError, expected: &str) {
    match err {
        ServiceError::Invalid { check, .. } => assert_eq!(*check, expected, "{err:?}"),
        other => panic!("expected Invalid({expected}), got {other:?}"),
    }
}

#[tokio::test]
async fn publish_stores_every_zip_the_shasums_and_the_signature() {
    let w = World::new();
    let up = upload();
    let sums = up.shasums.clone();
    let record = w.publish(up).await.unwrap();

    assert_eq!(record.version, "1.2.3");
    assert_eq!(record.protocols, ["5.0"]);
    assert_eq!(record.platforms.len(), 2);
    assert_eq!(w.blobs.len(), 4);
    for (platform, data) in [("linux_amd64", LINUX_ZIP), ("darwin_arm64", DARWIN_ZIP)] {
        let p = record
            .platforms
            .iter()
            .find(|p| p.filename == filename(platform))
            .expect("platform recorded");
        assert_eq!(p.platform, Platform::parse(platform).unwrap());
        assert_eq!(p.sha256, sha256_hex(data));
        assert_eq!(p.h1, "h1:stub=");
        assert_eq!(w.blobs.contents(&p.blob_key).as_deref(), Some(data));
    }
    assert_eq!(
        w.blobs.contents(&record.shasums_key).as_deref(),
        Some(&sums[..])
    );
    assert_eq!(
        w.blobs.contents(&record.shasums_signature_key).as_deref(),
        Some(StubSignatureVerifier::GOOD_SIGNATURE)
    );
    assert_eq!(
        record.signing_key.fingerprint,
        StubSignatureVerifier::key().fingerprint
    );
    assert!(
        w.repo
            .find_version(&address(), &version())
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn explicit_protocols_are_used() {
    let w = World::new();
    let record = w
        .publish(ProviderUpload {
            protocols: Some("6.0".to_string()),
            ..upload()
        })
        .await
        .unwrap();
    assert_eq!(record.protocols, ["6.0"]);
}

#[tokio::test]
async fn protocols_come_from_the_manifest_when_not_explicit() {
    let w = World::new();
    let manifest = br#"{"version":1,"metadata":{"protocol_versions":["5.0","6.0"]}}"#;
    let record = w
        .publish(ProviderUpload {
            manifest: Some(manifest.to_vec()),
            ..upload()
        })
        .await
        .unwrap();
    assert_eq!(record.protocols, ["5.0", "6.0"]);
}

#[tokio::test]
async fn protocol_4_is_refused_and_nothing_is_stored() {
    let w = World::new();
    let err = w
        .publish(ProviderUpload {
            protocols: Some("4.0".to_string()),
            ..upload()
        })
        .await
        .unwrap_err();
    assert_invalid(&err, "protocols");
    w.assert_empty().await;
}

#[tokio::test]
async fn a_bad_signature_is_refused_and_nothing_is_stored() {
    let w = World::new();
    let err = w
        .publish(ProviderUpload {
            signature: b"bad".to_vec(),
            ..upload()
        })
        .await
        .unwrap_err();
    assert_invalid(&err, "signature");
    w.assert_empty().await;
}

#[tokio::test]
async fn a_zip_whose_sha_is_not_listed_is_refused_and_nothing_is_stored() {
    let w = World::new();
    let mut up = upload();
    up.packages[1].file = staged(b"tampered darwin zip");
    let err = w.publish(up).await.unwrap_err();
    assert_invalid(&err, "checksum");
    w.assert_empty().await;
}

#[tokio::test]
async fn a_zip_missing_from_shasums_is_refused_and_nothing_is_stored() {
    let w = World::new();
    let mut up = upload();
    up.shasums = shasums(&[(&filename("linux_amd64"), LINUX_ZIP)]);
    let err = w.publish(up).await.unwrap_err();
    assert_invalid(&err, "checksum");
    w.assert_empty().await;
}

#[tokio::test]
async fn a_bad_file_name_is_refused_and_nothing_is_stored() {
    let w = World::new();
    let mut up = upload();
    let wrong = "terraform-provider-other_1.2.3_linux_amd64.zip".to_string();
    up.shasums = shasums(&[(&wrong, LINUX_ZIP), (&filename("darwin_arm64"), DARWIN_ZIP)]);
    up.packages[0].filename = wrong;
    let err = w.publish(up).await.unwrap_err();
    assert_invalid(&err, "file_name");
    w.assert_empty().await;
}

#[tokio::test]
async fn republishing_a_version_is_a_conflict_and_keeps_the_first() {
    let w = World::new();
    let first = w.publish(upload()).await.unwrap();
    let keys = w.blobs.keys();
    let err = w.publish(upload()).await.unwrap_err();
    assert!(matches!(err, ServiceError::Conflict(_)), "{err:?}");
    assert_eq!(w.blobs.keys(), keys);
    let kept = w
        .repo
        .find_version(&address(), &version())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(kept.id, first.id);
}

#[tokio::test]
async fn delete_removes_rows_and_every_blob() {
    let w = World::new();
    let record = w.publish(upload()).await.unwrap();
    DeleteProviderVersion::new(w.repo.clone(), w.blobs.clone(), w.cache.clone())
        .execute(&address(), &version())
        .await
        .unwrap();
    for p in &record.platforms {
        assert!(!w.blobs.exists(&p.blob_key).await.unwrap());
    }
    w.assert_empty().await;
}

#[tokio::test]
async fn download_answers_links_for_a_platform_and_not_found_for_a_missing_one() {
    let w = World::new();
    let record = w.publish(upload()).await.unwrap();
    let linux = Platform::parse("linux_amd64").unwrap();
    let download = w
        .catalog()
        .download(&address(), &version(), &linux)
        .await
        .unwrap();
    assert_eq!(download.filename, filename("linux_amd64"));
    assert_eq!(download.shasum, sha256_hex(LINUX_ZIP));
    assert_eq!(download.protocols, ["5.0"]);
    assert!(
        download.shasums_url.starts_with(&format!(
            "/v1/files/{}?expires=",
            record.shasums_key.as_str()
        )),
        "{}",
        download.shasums_url
    );
    assert!(download.download_url.contains("&signature="));

    let windows = Platform::parse("windows_amd64").unwrap();
    let err = w
        .catalog()
        .download(&address(), &version(), &windows)
        .await
        .unwrap_err();
    assert!(matches!(err, ServiceError::NotFound(_)), "{err:?}");
}

#[tokio::test]
async fn versions_list_platforms_sorted() {
    let w = World::new();
    w.publish(upload()).await.unwrap();
    let cached = w.catalog().versions(&address()).await.unwrap();
    assert_eq!(cached.versions.len(), 1);
    let platforms: Vec<Platform> = cached.versions[0]
        .platforms
        .iter()
        .map(|p| p.platform.clone())
        .collect();
    assert_eq!(
        platforms,
        [
            Platform::parse("darwin_arm64").unwrap(),
            Platform::parse("linux_amd64").unwrap()
        ]
    );
}

#[tokio::test]
async fn a_build_metadata_twin_of_a_published_version_is_refused() {
    let w = World::new();
    w.publish(upload()).await.unwrap();
    let twin_version = "1.2.3+rebuild";
    let name = format!("terraform-provider-widget_{twin_version}_linux_amd64.zip");
    let twin = ProviderUpload {
        version: ProviderVersion::parse(twin_version).unwrap(),
        shasums: shasums(&[(&name, LINUX_ZIP)]),
        packages: vec![PackageUpload {
            filename: name.clone(),
            file: staged(LINUX_ZIP),
        }],
        ..upload()
    };
    let err = w.publish(twin).await.unwrap_err();
    let ServiceError::Conflict(message) = &err else {
        panic!("expected a conflict, got {err:?}");
    };
    assert!(message.contains("same precedence"), "{message}");
    assert_eq!(w.blobs.len(), 4, "only the first version's blobs");
}
