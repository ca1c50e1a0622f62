//! `check_writable` tells the operator what to fix: a missing bucket, rejected
//! credentials, missing permissions, an unreachable store.

mod common;

use common::{Moto, bucket_name, config, create_bucket, sdk_client};
use tfr_blob_s3::S3BlobStore;
use tfr_emulators::{Emulator, EmulatorKind, MOTO_ACCESS_KEY, MOTO_SECRET_KEY};
use tfr_ports::driven::{BlobError, BlobStore, PutExpectation, StoreCheckError};
use tfr_ports::testkit::blob::bytes_stream;

async fn store(endpoint: &str, bucket: &str, access_key: &str, secret_key: &str) -> S3BlobStore {
    S3BlobStore::connect(config(endpoint, bucket, "tfr", access_key, secret_key))
        .await
        .expect("connect")
}

#[tokio::test]
async fn a_healthy_store_passes_and_the_probe_leaves_nothing() {
    let moto = Moto::start("tenant/blobs").await;
    moto.store.check_writable().await.expect("check_writable");
    moto.store
        .check_writable()
        .await
        .expect("check_writable again");
    let names = moto.object_names().await;
    assert!(names.is_empty(), "probe objects left: {names:?}");
}

#[tokio::test]
async fn a_missing_bucket_is_named() {
    let moto = Moto::start("").await;
    let missing = bucket_name();
    let store = store(
        &moto.emulator.endpoint(),
        &missing,
        MOTO_ACCESS_KEY,
        MOTO_SECRET_KEY,
    )
    .await;
    match store.check_writable().await {
        Err(StoreCheckError::BucketMissing(name)) => assert_eq!(name, missing),
        other => panic!("wanted BucketMissing, got {other:?}"),
    }
}

#[tokio::test]
async fn an_unreachable_store_is_unreachable() {
    let mut moto = Moto::start("").await;
    moto.emulator.stop().await;
    match moto.store.check_writable().await {
        Err(StoreCheckError::Unreachable(msg)) => assert!(!msg.is_empty()),
        other => panic!("wanted Unreachable, got {other:?}"),
    }
    let key = tfr_core::BlobKey::parse("a/b").expect("key");
    let got = moto.store.get(&key).await;
    assert!(
        matches!(got, Err(BlobError::Unavailable(_))),
        "get: {:?}",
        got.map(|o| o.map(|o| o.meta))
    );
    let put = moto
        .store
        .put(&key, bytes_stream(b"x".to_vec()), PutExpectation::default())
        .await;
    assert!(
        matches!(put, Err(BlobError::Unavailable(_))),
        "put: {put:?}"
    );
}

// ---------------------------------------------------------------------------------------
// Credentials: moto checks them after INITIAL_NO_AUTH_ACTION_COUNT unchecked actions,
// which the test spends on creating the bucket and two IAM users.
// ---------------------------------------------------------------------------------------

/// Unchecked actions: CreateBucket, then CreateUser, CreateAccessKey, PutUserPolicy for
/// the allowed user, then CreateUser, CreateAccessKey for the one without a policy.
const SETUP_ACTIONS: usize = 6;

/// An IAM query call. Before auth is enforced moto reads only the service and region from
/// the Authorization header (to route the call), so the signature can be a dummy.
async fn iam(endpoint: &str, params: &[(&str, &str)]) -> String {
    let mut body = String::from("Version=2010-05-08");
    for (k, v) in params {
        body.push_str(&format!("&{k}={}", form_escape(v)));
    }
    let resp = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("http client")
        .post(format!("{endpoint}/"))
        .header(
            "Authorization",
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20250101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=0",
        )
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .expect("IAM call");
    let status = resp.status();
    let text = resp.text().await.expect("IAM answer");
    assert!(status.is_success(), "IAM {params:?}: {status}: {text}");
    text
}

fn form_escape(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn between(xml: &str, tag: &str) -> String {
    let open = format!("<{tag}>");
    let start = xml
        .find(&open)
        .unwrap_or_else(|| panic!("no {tag} in {xml}"))
        + open.len();
    let end = xml[start..]
        .find(&format!("</{tag}>"))
        .expect("closing tag")
        + start;
    xml[start..end].to_string()
}

/// A user and its access key (id, secret).
async fn iam_user(endpoint: &str, name: &str, policy: Option<&str>) -> (String, String) {
    iam(endpoint, &[("Action", "CreateUser"), ("UserName", name)]).await;
    let key = iam(
        endpoint,
        &[("Action", "CreateAccessKey"), ("UserName", name)],
    )
    .await;
    if let Some(policy) = policy {
        iam(
            endpoint,
            &[
                ("Action", "PutUserPolicy"),
                ("UserName", name),
                ("PolicyName", "tfr"),
                ("PolicyDocument", policy),
            ],
        )
        .await;
    }
    (
        between(&key, "AccessKeyId"),
        between(&key, "SecretAccessKey"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_are_checked_and_told_apart_from_permissions() {
    let count = SETUP_ACTIONS.to_string();
    let emulator = Emulator::start_with_env(
        EmulatorKind::Moto,
        &[("INITIAL_NO_AUTH_ACTION_COUNT", count.as_str())],
    )
    .await
    .expect("starting moto with auth");
    let endpoint = emulator.endpoint();
    let bucket = bucket_name();
    create_bucket(
        &sdk_client(&endpoint, MOTO_ACCESS_KEY, MOTO_SECRET_KEY),
        &bucket,
    )
    .await;
    let allowed = iam_user(
        &endpoint,
        "tfr-allowed",
        Some(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#),
    )
    .await;
    let denied = iam_user(&endpoint, "tfr-denied", None).await;

    // From here on moto checks every call. An unknown key first: if the setup had not
    // used up the unchecked actions, this would pass and the test would say so.
    let unknown = store(&endpoint, &bucket, "AKIAUNKNOWNUNKNOWN00", "whatever").await;
    match unknown.check_writable().await {
        Err(StoreCheckError::CredentialsRejected(msg)) => {
            assert!(msg.contains("InvalidAccessKeyId"), "{msg}")
        }
        other => panic!("unknown key: wanted CredentialsRejected, got {other:?}"),
    }

    let wrong_secret = store(&endpoint, &bucket, &allowed.0, "not-the-secret").await;
    match wrong_secret.check_writable().await {
        Err(StoreCheckError::CredentialsRejected(msg)) => {
            assert!(msg.contains("SignatureDoesNotMatch"), "{msg}")
        }
        other => panic!("wrong secret: wanted CredentialsRejected, got {other:?}"),
    }

    let no_policy = store(&endpoint, &bucket, &denied.0, &denied.1).await;
    match no_policy.check_writable().await {
        Err(StoreCheckError::AccessDenied(msg)) => {
            assert!(
                msg.contains("s3:ListBucket"),
                "names the permissions: {msg}"
            )
        }
        other => panic!("user without a policy: wanted AccessDenied, got {other:?}"),
    }

    // The allowed user passes, and its signed calls (checked by moto) work end to end.
    let good = store(&endpoint, &bucket, &allowed.0, &allowed.1).await;
    good.check_writable().await.expect("allowed user");
    let key = tfr_core::BlobKey::parse("signed/1.0.0+x/object.zip").expect("key");
    good.put(
        &key,
        bytes_stream(b"signed body".to_vec()),
        PutExpectation::default(),
    )
    .await
    .expect("signed put");
    let obj = good.get(&key).await.expect("signed get").expect("present");
    let body = tfr_ports::testkit::blob::read_all(obj.body)
        .await
        .expect("body");
    assert_eq!(body, b"signed body");
    good.delete(&key).await.expect("signed delete");
}
