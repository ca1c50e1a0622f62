//! Discovery, versions and download documents against the fake upstream registry, and
//! how statuses become `UpstreamError`s (retries counted on the fake's side).

mod common;

use std::time::Duration;

use common::fake_upstream::RequestKind;
use common::{World, address, platform, version};
use tfr_ports::driven::{UpstreamError, UpstreamRegistry};
use tfr_upstream_http::{HttpUpstreamRegistry, UpstreamSettings};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovers_lists_versions_and_resolves_package_urls() {
    let w = World::start().await;
    w.fake
        .add_provider("acme", "fake", "1.1.0", &[("linux", "amd64")]);
    let registry = w.registry();
    let host = w.host();

    let mut versions = registry
        .provider_versions(&host, &address("acme", "fake"))
        .await
        .expect("versions");
    versions.sort_by(|a, b| a.version.cmp(&b.version));
    assert_eq!(versions.len(), 2);
    assert_eq!(versions[0].version, "1.0.0");
    assert_eq!(versions[0].protocols, vec!["5.0"]);
    let mut platforms = versions[0].platforms.clone();
    platforms.sort();
    assert_eq!(
        platforms,
        vec![platform("darwin", "arm64"), platform("linux", "amd64")]
    );
    assert_eq!(versions[1].platforms, vec![platform("linux", "amd64")]);

    let package = registry
        .package(
            &host,
            &address("acme", "fake"),
            &version("1.0.0"),
            &platform("linux", "amd64"),
        )
        .await
        .expect("package");
    let expected = w.release.package("linux", "amd64");
    assert_eq!(package.filename, expected.filename);
    assert_eq!(package.shasum, expected.sha256);
    // download_url and shasums_url are `../../files/…`, the signature URL is path-absolute.
    assert_eq!(package.download_url, w.zip_url("linux", "amd64"));
    let sums = "terraform-provider-fake_1.0.0_SHA256SUMS";
    assert_eq!(package.shasums_url, w.file_url(sums));
    assert_eq!(
        package.shasums_signature_url,
        w.file_url(&format!("{sums}.sig"))
    );
    assert_eq!(
        package.signing_keys,
        vec![w.release.armored_public_key.clone()]
    );
    assert_eq!(package.protocols, vec!["5.0"]);

    // Discovery happened once: the second and third calls used the cache.
    assert_eq!(w.fake.requests(RequestKind::Discovery), 1);
    assert_eq!(w.fake.requests(RequestKind::Versions), 1);
    assert_eq!(w.fake.requests(RequestKind::DownloadJson), 1);
    w.fake.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_provider_version_and_platform_are_not_found() {
    let w = World::start().await;
    let registry = w.registry();
    let host = w.host();

    let err = registry
        .provider_versions(&host, &address("acme", "nope"))
        .await
        .unwrap_err();
    let UpstreamError::NotFound(msg) = &err else {
        panic!("expected NotFound, got {err:?}");
    };
    assert!(
        msg.contains(&w.fake.host()) && msg.contains("acme/nope"),
        "{msg}"
    );

    let err = registry
        .package(
            &host,
            &address("acme", "fake"),
            &version("1.0.0"),
            &platform("windows", "386"),
        )
        .await
        .unwrap_err();
    let UpstreamError::NotFound(msg) = &err else {
        panic!("expected NotFound, got {err:?}");
    };
    for part in [w.fake.host().as_str(), "acme/fake", "1.0.0", "windows_386"] {
        assert!(msg.contains(part), "{msg} lacks {part}");
    }

    let err = registry
        .package(
            &host,
            &address("acme", "fake"),
            &version("9.9.9"),
            &platform("linux", "amd64"),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, UpstreamError::NotFound(_)), "{err:?}");
    // A 404 is an answer: no retries.
    assert_eq!(w.fake.requests(RequestKind::Versions), 1);
    assert_eq!(w.fake.requests(RequestKind::DownloadJson), 2);
    w.fake.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_json_is_a_protocol_error() {
    let w = World::start().await;
    let registry = w.registry();
    w.fake.set_invalid_json(true);
    let err = registry
        .provider_versions(&w.host(), &address("acme", "fake"))
        .await
        .unwrap_err();
    assert!(matches!(err, UpstreamError::Protocol { .. }), "{err:?}");
    let err = registry
        .package(
            &w.host(),
            &address("acme", "fake"),
            &version("1.0.0"),
            &platform("linux", "amd64"),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, UpstreamError::Protocol { .. }), "{err:?}");
    // Not retried either.
    assert_eq!(w.fake.requests(RequestKind::Versions), 1);
    assert_eq!(w.fake.requests(RequestKind::DownloadJson), 1);
    w.fake.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_client_errors_are_protocol_errors_without_retry() {
    let w = World::start().await;
    let registry = w.registry();
    w.fake.fail_next(RequestKind::Versions, 1, 403, None);
    let err = registry
        .provider_versions(&w.host(), &address("acme", "fake"))
        .await
        .unwrap_err();
    let UpstreamError::Protocol { reason, .. } = &err else {
        panic!("expected Protocol, got {err:?}");
    };
    assert!(reason.contains("403"), "{reason}");
    assert_eq!(w.fake.requests(RequestKind::Versions), 1);
    w.fake.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_are_retried_until_success() {
    let w = World::start().await;
    let registry = w.registry();
    w.fake.fail_next(RequestKind::Discovery, 1, 502, None);
    w.fake.fail_next(RequestKind::Versions, 2, 503, None);
    let versions = registry
        .provider_versions(&w.host(), &address("acme", "fake"))
        .await
        .expect("versions after retries");
    assert_eq!(versions.len(), 1);
    assert_eq!(w.fake.requests(RequestKind::Discovery), 2);
    assert_eq!(w.fake.requests(RequestKind::Versions), 3);
    w.fake.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_requests_with_retry_after_is_retried() {
    let w = World::start().await;
    // Retry-After: 1 is within max_backoff here, so it is waited for as asked; the
    // delay computation itself is unit-tested (retry.rs). Attempts are what we count.
    let registry = HttpUpstreamRegistry::new(UpstreamSettings {
        max_backoff: Duration::from_secs(2),
        ..w.settings()
    })
    .expect("registry");
    w.fake
        .fail_next(RequestKind::DownloadJson, 2, 429, Some("1"));
    let package = registry
        .package(
            &w.host(),
            &address("acme", "fake"),
            &version("1.0.0"),
            &platform("darwin", "arm64"),
        )
        .await
        .expect("package after 429s");
    assert_eq!(package.shasum, w.release.package("darwin", "arm64").sha256);
    assert_eq!(w.fake.requests(RequestKind::DownloadJson), 3);
    w.fake.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exhausted_retries_are_unavailable_and_not_cached() {
    let w = World::start().await;
    let registry = w.registry();
    w.fake.set_down(true);
    let err = registry
        .provider_versions(&w.host(), &address("acme", "fake"))
        .await
        .unwrap_err();
    let UpstreamError::Unavailable { host, reason } = &err else {
        panic!("expected Unavailable, got {err:?}");
    };
    assert_eq!(host, &w.fake.host());
    assert!(
        reason.contains("503") && reason.contains("3 attempts"),
        "{reason}"
    );
    assert_eq!(w.fake.requests(RequestKind::Discovery), 3);

    // The failed discovery was not cached: once upstream is back, it works.
    w.fake.set_down(false);
    registry
        .provider_versions(&w.host(), &address("acme", "fake"))
        .await
        .expect("versions once upstream is back");
    assert_eq!(w.fake.requests(RequestKind::Discovery), 4);

    // Discovery is cached now; a down versions endpoint exhausts its own attempts.
    w.fake.fail_next(RequestKind::Versions, 3, 500, None);
    let err = registry
        .provider_versions(&w.host(), &address("acme", "fake"))
        .await
        .unwrap_err();
    assert!(matches!(err, UpstreamError::Unavailable { .. }), "{err:?}");
    assert_eq!(w.fake.requests(RequestKind::Discovery), 4);
    assert_eq!(w.fake.requests(RequestKind::Versions), 4);
    w.fake.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_upstream_times_out_and_is_unavailable() {
    let w = World::start().await;
    let registry = HttpUpstreamRegistry::new(UpstreamSettings {
        api_timeout: Duration::from_millis(300),
        max_attempts: 2,
        ..w.settings()
    })
    .expect("registry");
    w.fake.set_latency(Duration::from_secs(3));
    let err = registry
        .provider_versions(&w.host(), &address("acme", "fake"))
        .await
        .unwrap_err();
    let UpstreamError::Unavailable { reason, .. } = &err else {
        panic!("expected Unavailable, got {err:?}");
    };
    assert!(reason.contains("timed out"), "{reason}");
    assert_eq!(w.fake.requests(RequestKind::Discovery), 2);
    w.fake.shutdown().await;
}
