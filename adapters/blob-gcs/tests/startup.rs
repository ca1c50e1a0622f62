//! Startup: `connect` refuses unusable settings and credentials with a message naming
//! them (and never the key); `check_writable` sorts failures so the configuration layer
//! can name the setting to fix.

mod common;

use std::io::Write;

use tfr_blob_gcs::{GcsBlobStore, GcsConfig, GcsCredentials};
use tfr_core::BlobKey;
use tfr_ports::driven::{BlobError, BlobStore, PutExpectation, StoreCheckError};
use tfr_ports::testkit::blob::bytes_stream;

use common::{ACCESS_TOKEN, Env, FakeGoogle, Reply, fake_key, object_json, service_account_json};

fn config(credentials: GcsCredentials) -> GcsConfig {
    GcsConfig {
        bucket: "tfr-blobs".into(),
        prefix: String::new(),
        endpoint: Some("http://127.0.0.1:9".into()),
        credentials,
    }
}

async fn connect_error(config: GcsConfig) -> String {
    match GcsBlobStore::connect(config).await {
        Ok(store) => panic!("connect succeeded: {store:?}"),
        Err(e) => e.to_string(),
    }
}

fn key_body() -> &'static str {
    // A line from the middle of the PEM: never in any message.
    fake_key().pem.lines().nth(5).expect("a PEM line")
}

#[tokio::test]
async fn connect_explains_unusable_credentials() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("missing.json");
    let message = connect_error(config(GcsCredentials::ServiceAccountFile(missing.clone()))).await;
    assert!(
        message.contains(&missing.display().to_string()) && message.contains("cannot read"),
        "{message}"
    );

    let not_json = dir.path().join("key.pem");
    std::fs::File::create(&not_json)
        .and_then(|mut f| f.write_all(fake_key().pem.as_bytes()))
        .expect("write");
    let message = connect_error(config(GcsCredentials::ServiceAccountFile(not_json.clone()))).await;
    assert!(
        message.contains(&not_json.display().to_string())
            && message.contains("not a credentials JSON file"),
        "{message}"
    );
    assert!(!message.contains(key_body()), "{message}");

    let user = serde_json::json!({"type": "authorized_user", "client_id": "x", "client_secret": "s", "refresh_token": "r"});
    let message = connect_error(config(GcsCredentials::ServiceAccountJson(user.to_string()))).await;
    assert!(message.contains("service-account key"), "{message}");

    let mut broken: serde_json::Value =
        serde_json::from_str(&service_account_json("http://127.0.0.1:9/token")).expect("JSON");
    broken["private_key"] =
        "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n".into();
    let message = connect_error(config(GcsCredentials::ServiceAccountJson(
        broken.to_string(),
    )))
    .await;
    assert!(message.contains("not a PKCS#8 RSA key"), "{message}");

    let message = connect_error(config(GcsCredentials::ServiceAccountJson("{".into()))).await;
    assert!(message.contains("not a credentials JSON file"), "{message}");
}

#[tokio::test]
async fn connect_refuses_unusable_settings() {
    let sa =
        || GcsCredentials::ServiceAccountJson(service_account_json("http://127.0.0.1:9/token"));
    for (config, expected) in [
        (
            GcsConfig {
                bucket: "Not A Bucket".into(),
                ..config(sa())
            },
            "invalid GCS bucket name",
        ),
        (
            GcsConfig {
                prefix: "a/../b".into(),
                ..config(sa())
            },
            "invalid GCS prefix",
        ),
        (
            GcsConfig {
                endpoint: Some("ftp://example.com".into()),
                ..config(sa())
            },
            "invalid GCS endpoint",
        ),
    ] {
        let message = connect_error(config).await;
        assert!(message.contains(expected), "{message}");
    }
}

#[tokio::test]
async fn nothing_shows_the_key() {
    let json = service_account_json("http://127.0.0.1:9/token");
    let config = config(GcsCredentials::ServiceAccountJson(json));
    let shown = format!("{config:?}");
    assert!(!shown.contains(key_body()), "{shown}");
    let store = GcsBlobStore::connect(config).await.expect("connect");
    let shown = format!("{store:?}");
    assert!(!shown.contains(key_body()), "{shown}");
    assert!(shown.contains(common::SA_EMAIL), "{shown}");
}

#[tokio::test]
async fn a_missing_bucket_is_named() {
    let env = Env::start().await;
    let store = GcsBlobStore::connect(GcsConfig {
        bucket: "tfr-no-such-bucket".into(),
        ..env.config("")
    })
    .await
    .expect("connect");
    match store.check_writable().await {
        Err(StoreCheckError::BucketMissing(bucket)) => assert_eq!(bucket, "tfr-no-such-bucket"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_stopped_emulator_is_unreachable() {
    let mut env = Env::start().await;
    let store = env.store("").await;
    store.check_writable().await.expect("healthy at first");
    env.emulator.stop().await;

    match store.check_writable().await {
        Err(StoreCheckError::Unreachable(message)) => {
            assert!(message.contains(&env.emulator.endpoint()), "{message}");
        }
        other => panic!("{other:?}"),
    }
    let key = BlobKey::parse("a/b").expect("key");
    let put = store
        .put(&key, bytes_stream(b"x".to_vec()), PutExpectation::default())
        .await;
    assert!(matches!(put, Err(BlobError::Unavailable(_))), "{put:?}");
    let get = store.get(&key).await;
    assert!(
        matches!(get, Err(BlobError::Unavailable(_))),
        "{:?}",
        get.err()
    );
    let delete = store.delete(&key).await;
    assert!(
        matches!(delete, Err(BlobError::Unavailable(_))),
        "{delete:?}"
    );
}

async fn check_with(fake: &FakeGoogle) -> Result<(), StoreCheckError> {
    GcsBlobStore::connect(GcsConfig {
        bucket: "bkt".into(),
        prefix: "tenant".into(),
        endpoint: Some(fake.url()),
        credentials: GcsCredentials::ServiceAccountJson(service_account_json(&fake.token_uri())),
    })
    .await
    .expect("connect")
    .check_writable()
    .await
}

#[tokio::test]
async fn a_refused_key_is_credentials_rejected() {
    let fake = FakeGoogle::start(|_| Reply::error(500, "not reached")).await;
    fake.refuse_tokens();
    match check_with(&fake).await {
        Err(StoreCheckError::CredentialsRejected(message)) => {
            assert!(message.contains("invalid_grant"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    assert!(
        fake.api_calls().is_empty(),
        "no storage call without a token"
    );
}

#[tokio::test]
async fn statuses_from_gcs_are_sorted() {
    let fake = FakeGoogle::start(|_| Reply::error(401, "Invalid Credentials")).await;
    assert!(
        matches!(check_with(&fake).await, Err(StoreCheckError::CredentialsRejected(m)) if m.contains("401")),
    );

    let fake =
        FakeGoogle::start(|_| Reply::error(403, "does not have storage.objects.create access"))
            .await;
    match check_with(&fake).await {
        Err(StoreCheckError::AccessDenied(message)) => {
            assert!(message.contains("writing tenant/@probe-"), "{message}");
        }
        other => panic!("{other:?}"),
    }
}

/// roles/storage.objectAdmin cannot read bucket metadata but can write: that passes.
#[tokio::test]
async fn an_object_only_role_passes_the_check() {
    let fake = FakeGoogle::start(|seen| match seen.method.as_str() {
        "GET" => Reply::error(403, "does not have storage.buckets.get access"),
        "POST" => Reply::json(200, object_json("bkt", "tenant/@probe", 16)),
        "DELETE" => Reply::empty(204),
        _ => Reply::error(500, "unexpected request"),
    })
    .await;
    check_with(&fake).await.expect("writable");
    let calls = fake.api_calls();
    let methods: Vec<&str> = calls.iter().map(|c| c.method.as_str()).collect();
    assert_eq!(methods, ["GET", "POST", "DELETE"]);
    assert_eq!(calls[0].path, "/storage/v1/b/bkt");
    assert!(calls[1].query_has("ifGenerationMatch=0"));
    let probe = calls[2]
        .path
        .strip_prefix("/storage/v1/b/bkt/o/")
        .expect("object path");
    assert!(probe.starts_with("tenant%2F%40probe-"), "{probe}");
    for call in &calls {
        assert_eq!(
            call.authorization.as_deref(),
            Some(format!("Bearer {ACCESS_TOKEN}").as_str())
        );
    }
}
