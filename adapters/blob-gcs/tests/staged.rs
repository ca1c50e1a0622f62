//! `put_staged`: a staged file (size and SHA-256 known) goes up one chunk at a time, read
//! from disk just before it is sent, with its digest recorded upfront. On the emulator:
//! round trips at and around the chunk size, no overwrite, and a file that shrank on
//! disk fails with a body error and leaves nothing. On the scripted fake: the create
//! precondition and the known total in the final `Content-Range`.

mod common;

use std::path::Path;

use futures::TryStreamExt;
use tfr_core::BlobKey;
use tfr_ports::driven::{BlobError, BlobStore};
use tfr_ports::stream::{StagedFile, stage_stream};
use tfr_ports::testkit::blob::{bytes_stream, payload, read_all, sha256_hex};

use common::{Env, FakeGoogle, Reply, object_json};

const MIB: usize = 1024 * 1024;
const CHUNK: usize = 8 * MIB;

async fn stage(dir: &Path, data: &[u8]) -> StagedFile {
    stage_stream(bytes_stream(data.to_vec()), dir, u64::MAX)
        .await
        .expect("staging a file")
}

fn truncate(file: &StagedFile, len: u64) {
    std::fs::OpenOptions::new()
        .write(true)
        .open(file.path())
        .and_then(|f| f.set_len(len))
        .expect("truncating the staged file");
}

#[tokio::test]
async fn staged_files_round_trip_with_their_sha256_and_content_type() {
    let env = Env::start().await;
    let store = env.store("tenant").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let cases = [
        ("big.zip", 20 * MIB + 12345),
        ("chunk.zip", CHUNK),
        ("small.zip", 300 * 1024),
        ("empty.zip", 0),
    ];
    for (seed, (name, len)) in cases.into_iter().enumerate() {
        let data = payload(seed as u64 + 300, len);
        let sha = sha256_hex(&data);
        let staged = stage(dir.path(), &data).await;
        let key = BlobKey::parse(name).expect("key");

        let meta = store
            .put_staged(&key, &staged, Some("application/zip".into()))
            .await
            .unwrap_or_else(|e| panic!("{name}: put_staged: {e:?}"));
        assert_eq!(meta.size, len as u64, "{name}");
        assert_eq!(meta.sha256.as_deref(), Some(sha.as_str()), "{name}");

        let stored = store
            .metadata(&key)
            .await
            .expect("metadata")
            .expect("present");
        assert_eq!(stored.size, len as u64, "{name}");
        assert_eq!(stored.sha256.as_deref(), Some(sha.as_str()), "{name}");
        assert_eq!(
            stored.content_type.as_deref(),
            Some("application/zip"),
            "{name}"
        );
        let object = store.get(&key).await.expect("get").expect("present");
        assert!(
            read_all(object.body).await.expect("body") == data,
            "{name}: the stored bytes differ"
        );

        let again = store.put_staged(&key, &staged, None).await;
        assert!(
            matches!(again, Err(BlobError::AlreadyExists(_))),
            "{name}: second put_staged: {again:?}"
        );
    }
    assert_eq!(
        env.object_names().await,
        vec![
            "tenant/big.zip".to_string(),
            "tenant/chunk.zip".to_string(),
            "tenant/empty.zip".to_string(),
            "tenant/small.zip".to_string(),
        ]
    );
}

#[tokio::test]
async fn a_staged_file_that_shrank_on_disk_is_a_body_error_and_leaves_nothing() {
    let env = Env::start().await;
    let store = env.store("").await;
    let dir = tempfile::tempdir().expect("tempdir");
    // Large (fails after one chunk went out) and small (fails before any request).
    for (name, len, cut) in [
        ("shrunk/large.zip", 20 * MIB + 12345, 12 * MIB),
        ("shrunk/small.zip", 300 * 1024, 1000),
    ] {
        let staged = stage(dir.path(), &payload(7, len)).await;
        truncate(&staged, cut as u64);
        let key = BlobKey::parse(name).expect("key");
        let result = store.put_staged(&key, &staged, None).await;
        assert!(
            matches!(result, Err(BlobError::Body(_))),
            "{name}: {result:?}"
        );
        assert!(!store.exists(&key).await.expect("exists"), "{name}");
        let listed: Vec<_> = store.list().try_collect().await.expect("list");
        assert!(listed.is_empty(), "{name}: {listed:?}");
        assert_eq!(env.object_names().await, Vec::<String>::new(), "{name}");
    }
}

/// What the emulator does not show: the session is created with `ifGenerationMatch=0` and
/// the digest, full chunks go out with an open total, and the final one carries the
/// file's size; a file that shrank never sends a final chunk.
#[tokio::test]
async fn put_staged_sends_the_precondition_and_the_known_total() {
    let fake = FakeGoogle::start(|seen| match (seen.method.as_str(), seen.path.as_str()) {
        ("GET", _) => Reply::error(404, "No such object"),
        ("POST", "/upload/storage/v1/b/bkt/o") => Reply::empty(200).header(
            "location",
            &format!("http://{}/session/s1?upload_id=x", seen.host),
        ),
        ("PUT", "/session/s1") => {
            let range = seen.content_range.as_deref().unwrap_or_default();
            match range.rsplit_once('/') {
                Some((span, "*")) => {
                    let last = span.rsplit_once('-').map(|(_, b)| b).unwrap_or("0");
                    Reply::empty(308).header("range", &format!("bytes=0-{last}"))
                }
                Some((_, total)) => Reply::json(
                    200,
                    object_json("bkt", "staged.zip", total.parse().unwrap_or(0)),
                ),
                None => Reply::error(400, "no Content-Range"),
            }
        }
        ("DELETE", "/session/s1") => Reply::empty(499),
        _ => Reply::error(500, "unexpected request"),
    })
    .await;
    let store = tfr_blob_gcs::GcsBlobStore::connect(tfr_blob_gcs::GcsConfig {
        bucket: "bkt".into(),
        prefix: String::new(),
        endpoint: Some(fake.url()),
        credentials: tfr_blob_gcs::GcsCredentials::ServiceAccountJson(
            common::service_account_json(&fake.token_uri()),
        ),
    })
    .await
    .expect("connect");
    let dir = tempfile::tempdir().expect("tempdir");
    let len = 2 * CHUNK + 12345;
    let data = payload(9, len);
    let staged = stage(dir.path(), &data).await;
    let key = BlobKey::parse("staged.zip").expect("key");
    let meta = store
        .put_staged(&key, &staged, None)
        .await
        .expect("put_staged");
    assert_eq!(meta.sha256.as_deref(), Some(sha256_hex(&data).as_str()));

    let calls = fake.api_calls();
    let start = calls
        .iter()
        .find(|c| c.method == "POST")
        .expect("a session start");
    assert!(start.query_has("ifGenerationMatch=0"), "{}", start.query);
    let resource: serde_json::Value = serde_json::from_slice(&start.body).expect("JSON");
    assert_eq!(resource["metadata"]["sha256"], sha256_hex(&data).as_str());
    let chunks: Vec<_> = calls.iter().filter(|c| c.method == "PUT").collect();
    let ranges: Vec<_> = chunks
        .iter()
        .map(|c| c.content_range.clone().unwrap_or_default())
        .collect();
    assert_eq!(
        ranges,
        vec![
            format!("bytes 0-{}/*", CHUNK - 1),
            format!("bytes {}-{}/*", CHUNK, 2 * CHUNK - 1),
            format!("bytes {}-{}/{len}", 2 * CHUNK, len - 1),
        ]
    );
    let sent: Vec<u8> = chunks.iter().flat_map(|c| c.body.to_vec()).collect();
    assert!(sent == data, "the chunks carry the file's bytes in order");

    // The file shrank: a body error, the session cancelled, no final chunk.
    let before = fake.api_calls().len();
    let staged = stage(dir.path(), &data).await;
    truncate(&staged, (CHUNK + 10) as u64);
    let result = store.put_staged(&key, &staged, None).await;
    assert!(matches!(result, Err(BlobError::Body(_))), "{result:?}");
    let later = &fake.api_calls()[before..];
    assert!(
        later
            .iter()
            .filter_map(|c| c.content_range.as_deref())
            .all(|r| r.ends_with("/*")),
        "no final chunk"
    );
    assert!(later.iter().any(|c| c.method == "DELETE"), "cancelled");
}
