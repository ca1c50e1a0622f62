//! MirrorCatalog (the Provider Network Mirror Protocol with pull-through) against the
//! testkit fakes.
#![cfg(feature = "testkit")]

mod common;
mod mirror_common;

use std::sync::Arc;

use chrono::Duration as Span;
use tfr_core::{ProviderAddress, ProviderVersion, RegistryHost};
use tfr_ports::driven::{MirrorRepository, MirroredListQuery, SyncStatus, SyncTrigger};
use tfr_ports::service::mirror_catalog::parse_archive_name;
use tfr_ports::service::{
    MirrorArchive, MirrorCatalog, MirrorCatalogSettings, MirrorConfigInput, ServiceError,
};
use tfr_ports::testkit::blob::sha256_hex;
use tfr_ports::testkit::upstream::{FakeUpstreamRegistry, UpstreamCall};

use mirror_common::{World, addr, assert_not_found, platform, strings, tf};

const LINUX: &str = "linux_amd64";
const DARWIN: &str = "darwin_arm64";
const WINDOWS: &str = "windows_amd64";

impl World {
    /// A catalog with empty caches (another replica, or this one after a restart).
    fn fresh_catalog(&self) -> Arc<MirrorCatalog> {
        self.catalog_with(MirrorCatalogSettings::default())
    }

    fn catalog_with(&self, settings: MirrorCatalogSettings) -> Arc<MirrorCatalog> {
        Arc::new(MirrorCatalog::new(
            self.repo.clone(),
            self.upstream.clone(),
            self.fetcher(),
            self.links.clone(),
            self.clock.clone(),
            settings,
        ))
    }

    /// Upstream (registry.terraform.io) lists `hashicorp/random` `version` on these platforms.
    fn publish(&self, version: &str, platforms: &[&str]) {
        self.upstream
            .add_version(&tf(), &random(), version, platforms);
    }

    /// Stores one package as a sync would, straight through the fetcher.
    async fn store(&self, version: &str, p: &str) {
        let fetcher = self.fetcher();
        let v = ProviderVersion::parse(version).unwrap();
        let (record, _) = fetcher
            .verify_version(&tf(), &random(), &v, &platform(p))
            .await
            .unwrap();
        fetcher
            .fetch_package(&tf(), &random(), &record, &platform(p))
            .await
            .unwrap();
    }

    /// A signed archive request for `filename` under `hostname`, as `{version}.json`
    /// links it: `(expires, signature)`.
    fn signed(&self, hostname: &RegistryHost, filename: &str) -> (i64, String) {
        let query = self
            .links
            .signed_query(&format!("mirror/{hostname}/{}/{filename}", random()));
        parse_query(&query)
    }

    async fn archive(
        &self,
        catalog: &MirrorCatalog,
        hostname: &RegistryHost,
        version: &str,
        p: &str,
    ) -> Result<String, ServiceError> {
        let name = filename(version, p);
        let (expires, signature) = self.signed(hostname, &name);
        catalog
            .archive(hostname, &random(), &name, expires, &signature)
            .await
    }

    /// Stored packages of `hashicorp/random` `version` (platforms).
    async fn stored(&self, version: &str) -> Option<Vec<String>> {
        let found = self.repo.find_mirrored(&tf(), &random()).await.unwrap()?;
        found
            .versions
            .into_iter()
            .find(|v| v.version == version)
            .map(|v| v.packages.iter().map(|p| p.platform.to_string()).collect())
    }
}

fn tofu() -> RegistryHost {
    RegistryHost::parse("registry.opentofu.org").unwrap()
}

fn random() -> ProviderAddress {
    addr("random")
}

fn version(v: &str) -> ProviderVersion {
    ProviderVersion::parse(v).unwrap()
}

fn filename(version: &str, p: &str) -> String {
    format!("terraform-provider-random_{version}_{p}.zip")
}

fn bytes(version: &str, p: &str) -> bytes::Bytes {
    FakeUpstreamRegistry::default_bytes(&random(), version, &platform(p))
}

fn parse_query(query: &str) -> (i64, String) {
    let mut expires = None;
    let mut signature = None;
    for pair in query.split('&') {
        match pair.split_once('=') {
            Some(("expires", v)) => expires = v.parse().ok(),
            Some(("signature", v)) => signature = Some(v.to_string()),
            _ => {}
        }
    }
    (expires.expect("expires"), signature.expect("signature"))
}

/// The mirror of `hashicorp/*` answering for registry.terraform.io.
fn hashicorp() -> MirrorConfigInput {
    MirrorConfigInput {
        name: "hashicorp".to_string(),
        namespaces: vec!["hashicorp".to_string()],
        enabled: true,
        ..MirrorConfigInput::default()
    }
}

// ------------------------------------------------------------------------- index.json

#[tokio::test]
async fn index_merges_stored_and_upstream_versions_within_the_filters() {
    let w = World::new();
    w.publish("0.9.0", &[LINUX]); // below the constraint
    w.publish("1.0.0", &[LINUX, DARWIN]); // stored, then gone upstream
    w.publish("1.1.0", &[DARWIN]); // no wanted platform
    w.publish("1.2.0", &[LINUX, WINDOWS]);
    w.publish("2.0.0-beta1", &[LINUX]); // a prerelease the constraint does not name
    w.publish("v1.5.0", &[LINUX]); // invalid: skipped
    w.publish("latest", &[LINUX]); // invalid: skipped
    w.create(MirrorConfigInput {
        version_constraint: Some(">= 1.0.0".to_string()),
        platforms: strings(&[LINUX]),
        ..hashicorp()
    })
    .await;
    w.store("1.0.0", LINUX).await;
    w.upstream.remove_version(&tf(), &random(), "1.0.0");

    let index = w.catalog.index(&tf(), &random()).await.unwrap();
    assert_eq!(index, ["1.2.0", "1.0.0"]);
    assert_eq!(w.upstream.calls(UpstreamCall::Versions), 1);

    // Upstream's list is reused within the metadata TTL.
    w.catalog.index(&tf(), &random()).await.unwrap();
    assert_eq!(w.upstream.calls(UpstreamCall::Versions), 1);
}

#[tokio::test]
async fn prereleases_are_listed_only_when_the_constraint_allows_them() {
    let w = World::new();
    for v in ["1.0.0", "1.1.0", "2.0.0-beta1"] {
        w.publish(v, &[LINUX]);
    }
    let cases: [(&str, Option<&str>, &[&str]); 3] = [
        ("any.example.com", None, &["2.0.0-beta1", "1.1.0", "1.0.0"]),
        ("ranged.example.com", Some("~> 1.0"), &["1.1.0", "1.0.0"]),
        (
            "pinned.example.com",
            Some("= 2.0.0-beta1"),
            &["2.0.0-beta1"],
        ),
    ];
    for (host, constraint, _) in &cases {
        w.create(MirrorConfigInput {
            name: host.to_string(),
            hostnames: vec![host.to_string()],
            version_constraint: constraint.map(str::to_string),
            ..hashicorp()
        })
        .await;
    }
    for (host, _, expected) in cases {
        let hostname = RegistryHost::parse(host).unwrap();
        let index = w.catalog.index(&hostname, &random()).await.unwrap();
        assert_eq!(index, expected, "{host}");
    }
}

#[tokio::test]
async fn a_configuration_answers_for_its_hostnames_and_fetches_from_its_upstream() {
    let w = World::new();
    w.publish("1.0.0", &[LINUX]);
    w.create(MirrorConfigInput {
        upstream: Some("registry.terraform.io".to_string()),
        hostnames: vec!["registry.opentofu.org".to_string()],
        ..hashicorp()
    })
    .await;

    assert_eq!(
        w.catalog.index(&tofu(), &random()).await.unwrap(),
        ["1.0.0"]
    );
    let archives = w
        .catalog
        .version(&tofu(), &random(), &version("1.0.0"))
        .await
        .unwrap();
    assert_eq!(archives.len(), 1);
    // The link is signed for the hostname asked for; upstream is registry.terraform.io.
    let url = w
        .archive(&w.catalog, &tofu(), "1.0.0", LINUX)
        .await
        .unwrap();
    assert!(
        url.starts_with("/v1/files/mirror/registry.terraform.io/"),
        "{url}"
    );
    assert_eq!(w.stored("1.0.0").await, Some(strings(&[LINUX])));

    // registry.terraform.io itself is not one of its hostnames.
    assert_not_found(w.catalog.index(&tf(), &random()).await);
}

#[tokio::test]
async fn a_disabled_configuration_answers_not_found() {
    let w = World::new();
    w.publish("1.0.0", &[LINUX]);
    w.create(MirrorConfigInput {
        enabled: false,
        ..hashicorp()
    })
    .await;

    assert_not_found(w.catalog.index(&tf(), &random()).await);
    assert_not_found(w.catalog.version(&tf(), &random(), &version("1.0.0")).await);
    assert_not_found(w.archive(&w.catalog, &tf(), "1.0.0", LINUX).await);
    assert_eq!(w.upstream.total_calls(), 0);
}

#[tokio::test]
async fn an_unknown_provider_answers_not_found() {
    let w = World::new();
    w.publish("1.0.0", &[LINUX]);
    w.create(hashicorp()).await;

    // Outside the configuration's namespaces: upstream is not asked.
    let other = ProviderAddress::parse("acme", "random").unwrap();
    assert_not_found(w.catalog.index(&tf(), &other).await);
    assert_eq!(w.upstream.total_calls(), 0);

    // Allowed, but upstream does not know it.
    let unknown = ProviderAddress::parse("hashicorp", "nosuch").unwrap();
    assert_not_found(w.catalog.index(&tf(), &unknown).await);
    assert_not_found(w.catalog.version(&tf(), &unknown, &version("1.0.0")).await);
    // A version upstream does not have.
    assert_not_found(w.catalog.version(&tf(), &random(), &version("9.9.9")).await);
}

// ------------------------------------------------------------------------- {version}.json

#[tokio::test]
async fn the_version_document_links_stored_and_missing_platforms() {
    let w = World::new();
    w.publish("1.0.0", &[LINUX, DARWIN, WINDOWS]);
    w.create(MirrorConfigInput {
        platforms: strings(&[LINUX, DARWIN]),
        ..hashicorp()
    })
    .await;
    w.store("1.0.0", LINUX).await;

    let archives = w
        .catalog
        .version(&tf(), &random(), &version("1.0.0"))
        .await
        .unwrap();
    let platforms: Vec<String> = archives.iter().map(|a| a.platform.to_string()).collect();
    assert_eq!(platforms, [DARWIN, LINUX], "windows is filtered out");

    // Stored: a storage link with h1 and zh.
    let linux = &archives[1];
    let stored = w
        .repo
        .find_mirrored(&tf(), &random())
        .await
        .unwrap()
        .unwrap()
        .versions
        .remove(0)
        .packages
        .remove(0);
    assert!(linux.url.starts_with("/v1/files/"), "{}", linux.url);
    assert!(
        linux.url.contains(stored.blob_key.as_str()),
        "{}",
        linux.url
    );
    assert_eq!(
        linux.hashes,
        [
            "h1:stub=".to_string(),
            format!("zh:{}", sha256_hex(&bytes("1.0.0", LINUX)))
        ]
    );

    // Missing: a signed link relative to the document, zh from the signed SHA256SUMS.
    let MirrorArchive { url, hashes, .. } = &archives[0];
    let name = filename("1.0.0", DARWIN);
    let (query_name, query) = url.split_once('?').unwrap();
    assert_eq!(query_name, name);
    assert_eq!(parse_query(query), w.signed(&tf(), &name));
    assert_eq!(
        hashes,
        &[format!("zh:{}", sha256_hex(&bytes("1.0.0", DARWIN)))]
    );
    // Listing it fetched nothing.
    assert_eq!(w.upstream.calls(UpstreamCall::Download), 1);
    assert_eq!(w.stored("1.0.0").await, Some(strings(&[LINUX])));
}

#[tokio::test]
async fn the_version_document_of_an_unverified_version_verifies_it_first() {
    let w = World::new();
    w.publish("1.0.0", &[LINUX]);
    w.publish("1.1.0", &[LINUX]);
    w.upstream.bad_signature(&tf(), &random(), "1.1.0");
    w.create(hashicorp()).await;

    let archives = w
        .catalog
        .version(&tf(), &random(), &version("1.0.0"))
        .await
        .unwrap();
    assert_eq!(archives.len(), 1);
    assert_eq!(w.stored("1.0.0").await, Some(vec![]));

    let err = w
        .catalog
        .version(&tf(), &random(), &version("1.1.0"))
        .await
        .unwrap_err();
    assert!(matches!(err, ServiceError::BadGateway(_)), "{err:?}");
    assert_eq!(w.stored("1.1.0").await, None);
}

#[tokio::test]
async fn a_version_outside_the_constraint_is_not_found() {
    let w = World::new();
    w.publish("1.0.0", &[LINUX]);
    w.create(MirrorConfigInput {
        version_constraint: Some(">= 2.0".to_string()),
        ..hashicorp()
    })
    .await;
    assert_not_found(w.catalog.version(&tf(), &random(), &version("1.0.0")).await);
    assert_not_found(w.archive(&w.catalog, &tf(), "1.0.0", LINUX).await);
    assert_eq!(w.upstream.calls(UpstreamCall::Download), 0);
}

// ------------------------------------------------------------------------- archives

#[tokio::test]
async fn an_archive_link_must_be_signed_and_fresh() {
    let w = World::new();
    w.publish("1.0.0", &[LINUX]);
    w.create(hashicorp()).await;
    let name = filename("1.0.0", LINUX);
    let (expires, signature) = w.signed(&tf(), &name);

    let forged = w
        .catalog
        .archive(&tf(), &random(), &name, expires, "sig-forged")
        .await;
    assert!(
        matches!(forged, Err(ServiceError::Forbidden(_))),
        "{forged:?}"
    );
    // Signed for another file.
    let other = w
        .catalog
        .archive(
            &tf(),
            &random(),
            &filename("1.0.0", DARWIN),
            expires,
            &signature,
        )
        .await;
    assert!(
        matches!(other, Err(ServiceError::Forbidden(_))),
        "{other:?}"
    );
    // Signed for another hostname.
    let elsewhere = w
        .catalog
        .archive(&tofu(), &random(), &name, expires, &signature)
        .await;
    assert!(
        matches!(elsewhere, Err(ServiceError::Forbidden(_))),
        "{elsewhere:?}"
    );

    w.clock
        .advance(Span::from_std(common::LINK_TTL).unwrap() + Span::seconds(1));
    let expired = w
        .catalog
        .archive(&tf(), &random(), &name, expires, &signature)
        .await;
    assert!(
        matches!(expired, Err(ServiceError::Forbidden(_))),
        "{expired:?}"
    );
    assert_eq!(w.upstream.total_calls(), 0);
    assert!(w.blobs.is_empty());
}

#[tokio::test]
async fn a_signed_link_to_a_malformed_name_is_not_found() {
    let w = World::new();
    w.create(hashicorp()).await;
    for name in [
        "terraform-provider-random_1.0.0_linux.zip",
        "terraform-provider-null_1.0.0_linux_amd64.zip",
        "SHA256SUMS",
    ] {
        let (expires, signature) = w.signed(&tf(), name);
        let result = w
            .catalog
            .archive(&tf(), &random(), name, expires, &signature)
            .await;
        assert_not_found(result);
    }
}

#[tokio::test]
async fn pull_through_fetches_once_under_concurrent_requests() {
    let w = World::new();
    w.publish("1.0.0", &[LINUX, DARWIN]);
    w.create(hashicorp()).await;

    w.upstream.hold_downloads();
    let requests: Vec<_> = (0..8)
        .map(|_| {
            let catalog = w.catalog.clone();
            let name = filename("1.0.0", LINUX);
            let (expires, signature) = w.signed(&tf(), &name);
            tokio::spawn(async move {
                catalog
                    .archive(&tf(), &random(), &name, expires, &signature)
                    .await
            })
        })
        .collect();
    w.upstream.wait_for_in_flight(1).await;
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    assert_eq!(w.upstream.in_flight(), 1);
    w.upstream.release_downloads();

    let mut urls = Vec::new();
    for request in requests {
        urls.push(request.await.unwrap().unwrap());
    }
    assert!(urls.iter().all(|u| u == &urls[0]), "{urls:?}");
    assert_eq!(w.upstream.calls(UpstreamCall::Download), 1);
    assert_eq!(w.upstream.max_in_flight(), 1);
    assert_eq!(w.blobs.len(), 1);
    let key = w.blobs.keys().remove(0);
    assert!(urls[0].contains(key.as_str()), "{}", urls[0]);
    assert_eq!(w.blobs.contents(&key), Some(bytes("1.0.0", LINUX)));
    assert_eq!(w.stored("1.0.0").await, Some(strings(&[LINUX])));

    // Served from storage from now on, upstream untouched.
    w.upstream.reset_calls();
    let again = w.archive(&w.catalog, &tf(), "1.0.0", LINUX).await.unwrap();
    assert_eq!(again, urls[0]);
    let elsewhere = w.fresh_catalog();
    let other = w.archive(&elsewhere, &tf(), "1.0.0", LINUX).await.unwrap();
    assert_eq!(other, urls[0]);
    assert_eq!(w.upstream.total_calls(), 0);
}

#[tokio::test]
async fn stored_content_keeps_being_served_while_upstream_is_down() {
    let w = World::new();
    w.publish("1.0.0", &[LINUX, DARWIN]);
    w.publish("1.1.0", &[LINUX]);
    w.create(hashicorp()).await;
    let stored_url = w.archive(&w.catalog, &tf(), "1.0.0", LINUX).await.unwrap();
    // A replica whose cached upstream list is always stale.
    let stale = w.catalog_with(MirrorCatalogSettings {
        metadata_ttl: std::time::Duration::ZERO,
        ..MirrorCatalogSettings::default()
    });
    assert_eq!(
        stale.index(&tf(), &random()).await.unwrap(),
        ["1.1.0", "1.0.0"]
    );
    w.upstream.set_down(true);

    // A replica with nothing cached serves what is stored.
    let catalog = w.fresh_catalog();
    assert_eq!(catalog.index(&tf(), &random()).await.unwrap(), ["1.0.0"]);
    let archives = catalog
        .version(&tf(), &random(), &version("1.0.0"))
        .await
        .unwrap();
    assert_eq!(archives.len(), 1);
    assert_eq!(archives[0].platform, platform(LINUX));
    assert_eq!(archives[0].url, stored_url);
    assert_eq!(
        w.archive(&catalog, &tf(), "1.0.0", LINUX).await.unwrap(),
        stored_url
    );

    // What is not stored cannot be fetched now.
    for (v, p) in [("1.0.0", DARWIN), ("1.1.0", LINUX)] {
        let err = w.archive(&catalog, &tf(), v, p).await.unwrap_err();
        assert!(
            matches!(err, ServiceError::Unavailable(_)),
            "{v} {p}: {err:?}"
        );
    }
    assert_eq!(w.blobs.len(), 1);

    // A replica that had upstream's list keeps offering it, though it is stale.
    let versions_calls = w.upstream.calls(UpstreamCall::Versions);
    assert_eq!(
        stale.index(&tf(), &random()).await.unwrap(),
        ["1.1.0", "1.0.0"]
    );
    assert_eq!(w.upstream.calls(UpstreamCall::Versions), versions_calls + 1);
    let archives = stale
        .version(&tf(), &random(), &version("1.0.0"))
        .await
        .unwrap();
    assert_eq!(archives.len(), 2, "{archives:?}");
}

#[tokio::test]
async fn a_bad_package_is_a_bad_gateway_and_nothing_is_stored() {
    let w = World::new();
    w.publish("1.0.0", &[LINUX]);
    w.publish("1.1.0", &[LINUX]);
    w.upstream
        .corrupt_package(&tf(), &random(), "1.0.0", &platform(LINUX));
    w.upstream.bad_signature(&tf(), &random(), "1.1.0");
    w.create(hashicorp()).await;

    let err = w
        .archive(&w.catalog, &tf(), "1.0.0", LINUX)
        .await
        .unwrap_err();
    assert!(matches!(err, ServiceError::BadGateway(_)), "{err:?}");
    assert_eq!(
        w.stored("1.0.0").await,
        Some(vec![]),
        "the version verified"
    );

    let err = w
        .archive(&w.catalog, &tf(), "1.1.0", LINUX)
        .await
        .unwrap_err();
    assert!(matches!(err, ServiceError::BadGateway(_)), "{err:?}");
    assert_eq!(w.stored("1.1.0").await, None);
    assert_eq!(w.upstream.calls(UpstreamCall::Download), 1);

    assert!(w.blobs.is_empty(), "{:?}", w.blobs.keys());
    let staged: Vec<_> = std::fs::read_dir(w.staging.path().join("mirror"))
        .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(staged.is_empty(), "{staged:?}");

    // Each refusal is in the configuration's history.
    let config = w.configs.list().await.unwrap().remove(0);
    let (runs, _) = w.repo.list_runs(config.id, 0, 10).await.unwrap();
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert!(runs.iter().all(|r| r.trigger == SyncTrigger::PullThrough
        && r.status == SyncStatus::Failed
        && r.failures.len() == 1));
    assert!(
        runs.iter()
            .any(|r| r.failures[0].platform.as_deref() == Some(LINUX)
                && r.failures[0].version.as_deref() == Some("1.0.0"))
    );
    assert!(
        runs.iter().any(|r| r.failures[0].platform.is_none()
            && r.failures[0].version.as_deref() == Some("1.1.0"))
    );
    let config = w.configs.get(config.id).await.unwrap();
    assert_eq!(
        config.last_sync_at, None,
        "a pull-through does not move the schedule"
    );

    // Asked again right away: the same answer, without asking upstream or recording twice.
    w.upstream.heal();
    let calls = w.upstream.total_calls();
    let err = w
        .archive(&w.catalog, &tf(), "1.0.0", LINUX)
        .await
        .unwrap_err();
    assert!(matches!(err, ServiceError::BadGateway(_)), "{err:?}");
    assert_eq!(w.upstream.total_calls(), calls);
    assert_eq!(w.repo.list_runs(config.id, 0, 10).await.unwrap().0.len(), 2);

    // Once that is past and upstream is fixed, the same link works.
    w.clock.advance(Span::seconds(31));
    w.archive(&w.catalog, &tf(), "1.0.0", LINUX).await.unwrap();
    assert_eq!(w.stored("1.0.0").await, Some(strings(&[LINUX])));
}

// ------------------------------------------------------------------------- listing

#[tokio::test]
async fn the_listing_orders_versions_newest_first() {
    let w = World::new();
    for v in ["1.2.0", "1.10.0", "1.0.0"] {
        w.publish(v, &[LINUX]);
    }
    w.create(hashicorp()).await;
    for v in ["1.2.0", "1.10.0", "1.0.0"] {
        w.store(v, LINUX).await;
    }
    let page = w
        .catalog
        .list(&MirroredListQuery {
            limit: 10,
            ..MirroredListQuery::default()
        })
        .await
        .unwrap();
    assert!(!page.has_more);
    assert_eq!(page.items.len(), 1);
    let versions: Vec<_> = page.items[0]
        .versions
        .iter()
        .map(|v| v.version.as_str())
        .collect();
    assert_eq!(versions, ["1.10.0", "1.2.0", "1.0.0"]);
}

// ------------------------------------------------------------------------- names

#[test]
fn archive_names_parse_into_version_and_platform() {
    let addr = random();
    let ok = |name: &str, v: &str, p: &str| {
        assert_eq!(
            parse_archive_name(&addr, name),
            Some((version(v), platform(p))),
            "{name}"
        );
    };
    ok(
        "terraform-provider-random_1.0.0_linux_amd64.zip",
        "1.0.0",
        "linux_amd64",
    );
    ok(
        "terraform-provider-random_2.0.0-beta1_darwin_arm64.zip",
        "2.0.0-beta1",
        "darwin_arm64",
    );
    ok(
        "terraform-provider-random_1.0.0+build.5_windows_386.zip",
        "1.0.0+build.5",
        "windows_386",
    );
    for bad in [
        "terraform-provider-null_1.0.0_linux_amd64.zip",
        "terraform-provider-random_1.0.0_linux_amd64",
        "terraform-provider-random_1.0.0_linux_amd64.tar.gz",
        "terraform-provider-random_v1.0.0_linux_amd64.zip",
        "terraform-provider-random_1.0.0_linux.zip",
        "terraform-provider-random_1.0.0_Linux_amd64.zip",
        "terraform-provider-random_linux_amd64.zip",
        "terraform-provider-random__linux_amd64.zip",
        "terraform-provider-random_1.0.0_linux_amd64_extra.zip",
        "terraform-provider-random_1.0.0_SHA256SUMS",
        "",
    ] {
        assert_eq!(parse_archive_name(&addr, bad), None, "{bad}");
    }
}
