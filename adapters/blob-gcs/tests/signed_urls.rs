//! Presigned URLs: V4-signed GETs from the service-account key, on the configured
//! endpoint. The emulator serves them without checking signatures, so every URL here is
//! also verified against the fake account's public key (`common::verify_v4`, written from
//! Google's description of V4 signing) after its query has been re-encoded as Go's
//! `url.Values.Encode` would.

mod common;

use std::time::Duration;

use tfr_blob_gcs::{GcsBlobStore, GcsConfig, GcsCredentials};
use tfr_core::BlobKey;
use tfr_ports::driven::{BlobStore, PutExpectation};
use tfr_ports::testkit::blob::bytes_stream;

use common::{Env, SA_EMAIL, fake_key, verify_v4};
use tfr_ports::testkit::blob::payload;
use tfr_ports::testkit::go_getter::requery;

#[tokio::test]
async fn a_signed_url_names_the_endpoint_verifies_after_go_reencoding_and_fetches() {
    let env = Env::start().await;
    let store = env.store("tenant/blobs").await;
    // `+` is valid in keys (semver build metadata) and needs care in URLs.
    let key = BlobKey::parse("providers/x/terraform-provider-x_1.0.0+build_linux_amd64.zip")
        .expect("key");
    let data = payload(5, 70_000);
    store
        .put(&key, bytes_stream(data.clone()), PutExpectation::default())
        .await
        .expect("put");

    let url = store
        .presigned_url(&key, Duration::from_secs(300))
        .await
        .expect("presign")
        .expect("a service account signs");
    let expected_start = format!(
        "{}/{}/tenant/blobs/providers/x/terraform-provider-x_1.0.0%2Bbuild_linux_amd64.zip?",
        env.emulator.endpoint(),
        env.bucket
    );
    assert!(url.starts_with(&expected_start), "{url}");

    let parts = verify_v4(&url, &fake_key().public).expect("the URL as made verifies");
    assert!(
        parts.credential.starts_with(&format!("{SA_EMAIL}/"))
            && parts.credential.ends_with("/auto/storage/goog4_request"),
        "{}",
        parts.credential
    );
    assert_eq!(parts.expires, 300);
    let today = chrono::Utc::now().format("%Y%m%d").to_string();
    assert!(parts.date.starts_with(&today), "{}", parts.date);

    let reencoded = requery(&url);
    verify_v4(&reencoded, &fake_key().public).expect("the re-encoded URL verifies");

    let (status, body) = common::fetch_signed(url).await;
    assert_eq!(status, 200);
    assert_eq!(body, data);
}

#[tokio::test]
async fn the_checker_refuses_a_tampered_url() {
    let env = Env::start().await;
    let store = env.store("").await;
    let key = BlobKey::parse("a/b.zip").expect("key");
    let url = store
        .presigned_url(&key, Duration::from_secs(60))
        .await
        .expect("presign")
        .expect("url");
    verify_v4(&url, &fake_key().public).expect("verifies");
    for tampered in [
        url.replace("/a/b.zip", "/a/c.zip"),
        url.replace("X-Goog-Expires=60", "X-Goog-Expires=61"),
        url.replace("127.0.0.1", "localhost"),
    ] {
        assert_ne!(tampered, url);
        assert!(
            verify_v4(&tampered, &fake_key().public).is_err(),
            "{tampered}"
        );
    }
}

#[tokio::test]
async fn ttls_are_whole_seconds_within_seven_days() {
    let env = Env::start().await;
    let store = env.store("").await;
    let key = BlobKey::parse("a/b.zip").expect("key");
    for (ttl, expires) in [
        (Duration::from_secs(30 * 24 * 3600), 604_800),
        (Duration::from_millis(1500), 1),
        (Duration::ZERO, 1),
    ] {
        let url = store
            .presigned_url(&key, ttl)
            .await
            .expect("presign")
            .expect("url");
        let parts = verify_v4(&url, &fake_key().public).expect("verifies");
        assert_eq!(parts.expires, expires, "ttl {ttl:?}");
    }
}

#[tokio::test]
async fn without_an_endpoint_urls_name_storage_googleapis_com() {
    // Signing is local: no network is touched.
    let store = GcsBlobStore::connect(GcsConfig {
        bucket: "tfr-prod".into(),
        prefix: "blobs".into(),
        endpoint: None,
        credentials: GcsCredentials::ServiceAccountJson(common::service_account_json(
            "http://127.0.0.1:9/token",
        )),
    })
    .await
    .expect("connect");
    let key = BlobKey::parse("modules/a/b.zip").expect("key");
    let url = store
        .presigned_url(&key, Duration::from_secs(600))
        .await
        .expect("presign")
        .expect("url");
    assert!(
        url.starts_with("https://storage.googleapis.com/tfr-prod/blobs/modules/a/b.zip?"),
        "{url}"
    );
    verify_v4(&requery(&url), &fake_key().public).expect("verifies");
}

#[tokio::test]
async fn anonymous_stores_do_not_sign() {
    let env = Env::start().await;
    let store = GcsBlobStore::connect(GcsConfig {
        credentials: GcsCredentials::Anonymous,
        ..env.config("")
    })
    .await
    .expect("connect");
    let key = BlobKey::parse("a/b.zip").expect("key");
    assert_eq!(
        store
            .presigned_url(&key, Duration::from_secs(60))
            .await
            .expect("presign"),
        None
    );
}
