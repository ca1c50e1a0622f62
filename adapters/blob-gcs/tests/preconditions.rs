//! What the emulator cannot show, against a scripted fake of the GCS JSON API on
//! loopback: every create carries `ifGenerationMatch=0` and GCS's 412 becomes
//! `AlreadyExists` (the race real GCS settles atomically); large bodies stream in 8 MiB
//! chunks with the last one sent only after the body ended and passed its checks; bytes
//! GCS did not keep are sent again; listings follow page tokens; requests carry the
//! service account's token.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt, stream};
use tfr_blob_gcs::{GcsBlobStore, GcsConfig, GcsCredentials};
use tfr_core::BlobKey;
use tfr_ports::driven::{BlobError, BlobStore, PutExpectation};
use tfr_ports::stream::ByteStream;

use common::{ACCESS_TOKEN, FakeGoogle, Reply, Seen, object_json};
use tfr_ports::testkit::blob::{payload, sha256_hex};

const BUCKET: &str = "bkt";
const MIB: usize = 1024 * 1024;
const CHUNK: usize = 8 * MIB;

async fn store_on(fake: &FakeGoogle, prefix: &str) -> GcsBlobStore {
    GcsBlobStore::connect(GcsConfig {
        bucket: BUCKET.into(),
        prefix: prefix.into(),
        endpoint: Some(fake.url()),
        credentials: GcsCredentials::ServiceAccountJson(common::service_account_json(
            &fake.token_uri(),
        )),
    })
    .await
    .expect("connect")
}

fn bearer() -> Option<String> {
    Some(format!("Bearer {ACCESS_TOKEN}"))
}

// ---------------------------------------------------------------------------------------
// A scripted resumable upload
// ---------------------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// The final chunk meets an object created meanwhile: 412.
    RefuseAtFinal,
    /// The first chunk is only half kept; the upload then completes.
    KeepHalfOfFirst,
}

#[derive(Default)]
struct Upload {
    data: Vec<u8>,
    ranges: Vec<String>,
    /// Whether the body stream had ended when the final chunk arrived.
    body_ended_at_final: Option<bool>,
}

/// `bytes a-b/*` or `bytes a-b/TOTAL` as (a, total).
fn content_range(seen: &Seen) -> (usize, Option<usize>) {
    let range = seen.content_range.as_deref().expect("a Content-Range");
    let rest = range.strip_prefix("bytes ").expect("bytes unit");
    let (span, total) = rest.split_once('/').expect("a total");
    let start = span
        .split_once('-')
        .map(|(a, _)| a.parse().expect("a start"))
        .expect("a span");
    (start, total.parse().ok())
}

struct Scripted {
    fake: FakeGoogle,
    upload: Arc<Mutex<Upload>>,
    body_ended: Arc<AtomicBool>,
    chunks_seen: Arc<AtomicUsize>,
}

async fn scripted(mode: Mode) -> Scripted {
    let upload = Arc::new(Mutex::new(Upload::default()));
    let body_ended = Arc::new(AtomicBool::new(false));
    let chunks_seen = Arc::new(AtomicUsize::new(0));
    let (up, ended, chunks) = (upload.clone(), body_ended.clone(), chunks_seen.clone());
    let fake = FakeGoogle::start(move |seen| {
        let object_path = format!("/storage/v1/b/{BUCKET}/o/");
        match (seen.method.as_str(), seen.path.as_str()) {
            ("GET", p) if p.starts_with(&object_path) => Reply::error(404, "No such object"),
            ("POST", p) if p == format!("/upload/storage/v1/b/{BUCKET}/o") => Reply::empty(200)
                .header(
                    "location",
                    &format!("http://{}/session/s1?upload_id=session-secret", seen.host),
                ),
            ("PUT", "/session/s1") => {
                chunks.fetch_add(1, Ordering::SeqCst);
                let (start, total) = content_range(seen);
                let mut up = up.lock().unwrap();
                up.ranges
                    .push(seen.content_range.clone().unwrap_or_default());
                up.data.truncate(start);
                up.data.extend_from_slice(&seen.body);
                match total {
                    None => {
                        let mut kept = start + seen.body.len();
                        if mode == Mode::KeepHalfOfFirst && up.ranges.len() == 1 {
                            kept = start + seen.body.len() / 2;
                        }
                        up.data.truncate(kept);
                        Reply::empty(308).header("range", &format!("bytes=0-{}", kept - 1))
                    }
                    Some(total) => {
                        up.body_ended_at_final = Some(ended.load(Ordering::SeqCst));
                        match mode {
                            Mode::RefuseAtFinal => Reply::error(
                                412,
                                "At least one of the pre-conditions you specified did not hold.",
                            ),
                            Mode::KeepHalfOfFirst => {
                                Reply::json(200, object_json(BUCKET, "big.bin", total as u64))
                            }
                        }
                    }
                }
            }
            // GCS answers a cancelled session with 499.
            ("DELETE", "/session/s1") => Reply::empty(499),
            ("PATCH", p) if p.starts_with(&object_path) => {
                Reply::json(200, object_json(BUCKET, "big.bin", 0))
            }
            _ => Reply::error(500, "unexpected request"),
        }
    })
    .await;
    Scripted {
        fake,
        upload,
        body_ended,
        chunks_seen,
    }
}

/// `data` in 1 MiB pieces; notes how many chunks the server had when piece 17 was read,
/// and flags the end of the stream.
fn watched_body(
    data: Arc<Vec<u8>>,
    ended: Arc<AtomicBool>,
    chunks_seen: Arc<AtomicUsize>,
    seen_at_17: Arc<AtomicUsize>,
) -> ByteStream {
    let pieces = data.len().div_ceil(MIB);
    Box::pin(stream::unfold(0usize, move |i| {
        let (data, ended, chunks_seen, seen_at_17) = (
            data.clone(),
            ended.clone(),
            chunks_seen.clone(),
            seen_at_17.clone(),
        );
        async move {
            if i == pieces {
                ended.store(true, Ordering::SeqCst);
                return None;
            }
            if i == 17 {
                seen_at_17.store(chunks_seen.load(Ordering::SeqCst), Ordering::SeqCst);
            }
            let piece = Bytes::copy_from_slice(&data[i * MIB..((i + 1) * MIB).min(data.len())]);
            Some((Ok::<_, std::io::Error>(piece), i + 1))
        }
    }))
}

// ---------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------

/// The race the emulator cannot stage: the existence check passes, then another writer
/// creates the object; GCS refuses the create with 412.
#[tokio::test]
async fn a_small_create_sends_if_generation_match_0_and_412_is_already_exists() {
    let fake = FakeGoogle::start(|seen| match seen.method.as_str() {
        "GET" => Reply::error(404, "No such object"),
        "POST" => Reply::error(
            412,
            "At least one of the pre-conditions you specified did not hold.",
        ),
        _ => Reply::error(500, "unexpected request"),
    })
    .await;
    let store = store_on(&fake, "tenant/blobs").await;
    let key = BlobKey::parse("modules/a/b-1.0.0+x.zip").expect("key");
    let result = store
        .put(
            &key,
            tfr_ports::testkit::blob::bytes_stream(b"zip".to_vec()),
            PutExpectation::default(),
        )
        .await;
    assert!(
        matches!(&result, Err(BlobError::AlreadyExists(k)) if k == key.as_str()),
        "{result:?}"
    );

    let calls = fake.api_calls();
    assert_eq!(calls.len(), 2, "{calls:#?}");
    let (check, create) = (&calls[0], &calls[1]);
    assert_eq!(check.method, "GET");
    assert_eq!(
        check.path,
        "/storage/v1/b/bkt/o/tenant%2Fblobs%2Fmodules%2Fa%2Fb-1.0.0%2Bx.zip"
    );
    assert_eq!(create.method, "POST");
    assert_eq!(create.path, "/upload/storage/v1/b/bkt/o");
    assert!(create.query_has("uploadType=multipart"), "{}", create.query);
    assert!(create.query_has("ifGenerationMatch=0"), "{}", create.query);
    for call in &calls {
        assert_eq!(
            call.authorization,
            bearer(),
            "{} {}",
            call.method,
            call.path
        );
    }
    let body = String::from_utf8_lossy(&create.body);
    assert!(
        body.contains(r#""name":"tenant/blobs/modules/a/b-1.0.0+x.zip""#),
        "{body}"
    );
    assert!(
        body.contains(&format!(r#""sha256":"{}""#, sha256_hex(b"zip"))),
        "{body}"
    );
}

#[tokio::test]
async fn a_large_create_streams_chunks_holds_back_the_last_and_412_is_already_exists() {
    let s = scripted(Mode::RefuseAtFinal).await;
    let store = store_on(&s.fake, "").await;
    let key = BlobKey::parse("big.bin").expect("key");
    let data = Arc::new(payload(1, 20 * MIB + 5));
    let seen_at_17 = Arc::new(AtomicUsize::new(usize::MAX));
    let body = watched_body(
        data.clone(),
        s.body_ended.clone(),
        s.chunks_seen.clone(),
        seen_at_17.clone(),
    );
    let expect = PutExpectation {
        sha256: Some(sha256_hex(&data)),
        size: Some(data.len() as u64),
        content_type: Some("application/zip".into()),
    };
    let result = store.put(&key, body, expect).await;
    assert!(
        matches!(&result, Err(BlobError::AlreadyExists(k)) if k == "big.bin"),
        "{result:?}"
    );

    let calls = s.fake.api_calls();
    let init = calls
        .iter()
        .find(|c| c.method == "POST")
        .expect("a session start");
    assert!(init.query_has("uploadType=resumable"), "{}", init.query);
    assert!(init.query_has("ifGenerationMatch=0"), "{}", init.query);
    assert_eq!(init.authorization, bearer());
    let resource: serde_json::Value = serde_json::from_slice(&init.body).expect("JSON resource");
    assert_eq!(resource["name"], "big.bin");
    assert_eq!(resource["contentType"], "application/zip");
    assert_eq!(resource["metadata"]["sha256"], sha256_hex(&data));

    let up = s.upload.lock().unwrap();
    assert_eq!(
        up.ranges,
        vec![
            format!("bytes 0-{}/*", CHUNK - 1),
            format!("bytes {CHUNK}-{}/*", 2 * CHUNK - 1),
            format!("bytes {}-{}/{}", 2 * CHUNK, data.len() - 1, data.len()),
        ]
    );
    assert_eq!(
        up.body_ended_at_final,
        Some(true),
        "the final chunk waits for the end of the body"
    );
    assert!(
        seen_at_17.load(Ordering::SeqCst) >= 1,
        "chunks go out while the body is still being read (not buffered whole)"
    );
    assert_eq!(sha256_hex(&up.data), sha256_hex(&data));
    assert!(
        calls
            .iter()
            .any(|c| c.method == "DELETE" && c.path == "/session/s1"),
        "the refused session is cancelled"
    );
}

#[tokio::test]
async fn a_large_body_that_fails_its_check_never_sends_the_final_chunk() {
    let s = scripted(Mode::KeepHalfOfFirst).await;
    let store = store_on(&s.fake, "").await;
    let key = BlobKey::parse("big.bin").expect("key");
    let data = Arc::new(payload(2, 17 * MIB));
    let body = watched_body(
        data.clone(),
        s.body_ended.clone(),
        s.chunks_seen.clone(),
        Arc::new(AtomicUsize::new(0)),
    );
    let expect = PutExpectation {
        sha256: Some(sha256_hex(b"not this body")),
        ..Default::default()
    };
    let result = store.put(&key, body, expect).await;
    assert!(
        matches!(result, Err(BlobError::ChecksumMismatch { .. })),
        "{result:?}"
    );
    let up = s.upload.lock().unwrap();
    assert!(
        up.ranges.iter().all(|r| r.ends_with("/*")),
        "no chunk with the total (which would create the object): {:?}",
        up.ranges
    );
    assert_eq!(up.body_ended_at_final, None);
    assert!(
        s.fake
            .api_calls()
            .iter()
            .any(|c| c.method == "DELETE" && c.path == "/session/s1"),
        "the session is cancelled"
    );
}

#[tokio::test]
async fn bytes_gcs_did_not_keep_are_sent_again_and_the_digest_is_recorded_after() {
    let s = scripted(Mode::KeepHalfOfFirst).await;
    let store = store_on(&s.fake, "").await;
    let key = BlobKey::parse("big.bin").expect("key");
    let data = Arc::new(payload(3, 20 * MIB + 5));
    let body = watched_body(
        data.clone(),
        s.body_ended.clone(),
        s.chunks_seen.clone(),
        Arc::new(AtomicUsize::new(0)),
    );
    let meta = store
        .put(&key, body, PutExpectation::default())
        .await
        .expect("put");
    assert_eq!(meta.size, data.len() as u64);
    assert_eq!(meta.sha256, Some(sha256_hex(&data)));

    let up = s.upload.lock().unwrap();
    assert_eq!(up.ranges[0], format!("bytes 0-{}/*", CHUNK - 1));
    // Half of the first chunk was kept: the next one starts there.
    assert_eq!(
        up.ranges[1],
        format!("bytes {}-{}/*", CHUNK / 2, CHUNK / 2 + CHUNK - 1)
    );
    assert!(
        up.ranges
            .last()
            .expect("ranges")
            .ends_with(&format!("/{}", data.len()))
    );
    assert_eq!(
        sha256_hex(&up.data),
        sha256_hex(&data),
        "GCS got exactly the body"
    );

    // No digest was promised, so none went with the session; it is patched on after,
    // on exactly the generation this put created.
    let calls = s.fake.api_calls();
    let init = calls.iter().find(|c| c.method == "POST").expect("init");
    let resource: serde_json::Value = serde_json::from_slice(&init.body).expect("JSON");
    assert!(resource.get("metadata").is_none(), "{resource}");
    let patch = calls
        .iter()
        .find(|c| c.method == "PATCH")
        .expect("a metadata patch");
    assert!(patch.query_has("ifGenerationMatch=1"), "{}", patch.query);
    let patched: serde_json::Value = serde_json::from_slice(&patch.body).expect("JSON");
    assert_eq!(
        patched,
        serde_json::json!({"metadata": {"sha256": sha256_hex(&data)}})
    );
    assert!(!calls.iter().any(|c| c.method == "DELETE"));
}

#[tokio::test]
async fn list_follows_page_tokens_and_skips_foreign_names() {
    let fake = FakeGoogle::start(|seen| {
        let item = |name: &str, size| object_json(BUCKET, name, size);
        if seen.query_has("pageToken=page-2") {
            Reply::json(
                200,
                serde_json::json!({"items": [item("tenant/blobs/providers/c", 3)]}),
            )
        } else {
            Reply::json(
                200,
                serde_json::json!({
                    "items": [
                        item("tenant/blobs/modules/a/b.zip", 10),
                        item("tenant/blobs/@probe-1234", 16),
                        item("tenant/blobs/folder/", 0),
                    ],
                    "nextPageToken": "page-2",
                }),
            )
        }
    })
    .await;
    let store = store_on(&fake, "tenant/blobs").await;
    let mut listed: Vec<(String, u64)> = store
        .list()
        .map_ok(|l| (l.key.to_string(), l.size))
        .try_collect()
        .await
        .expect("list");
    listed.sort();
    assert_eq!(
        listed,
        vec![
            ("modules/a/b.zip".to_string(), 10),
            ("providers/c".to_string(), 3)
        ]
    );
    let calls = fake.api_calls();
    assert_eq!(calls.len(), 2);
    for call in &calls {
        assert_eq!(call.path, "/storage/v1/b/bkt/o");
        assert!(call.query_has("prefix=tenant%2Fblobs%2F"), "{}", call.query);
        assert_eq!(call.authorization, bearer());
    }
    assert!(calls[1].query_has("pageToken=page-2"));
}

#[tokio::test]
async fn a_failing_listing_ends_with_its_error() {
    let fake = FakeGoogle::start(|_| Reply::error(503, "backend unavailable")).await;
    let store = store_on(&fake, "").await;
    let items: Vec<_> = store.list().collect().await;
    assert_eq!(items.len(), 1);
    assert!(
        matches!(&items[0], Err(BlobError::Unavailable(m)) if m.contains("503")),
        "{:?}",
        items[0]
    );
}

/// GCS may already refuse the precondition when the session starts.
#[tokio::test]
async fn a_large_create_refused_at_session_start_is_already_exists() {
    let fake = FakeGoogle::start(|seen| match seen.method.as_str() {
        "GET" => Reply::error(404, "No such object"),
        "POST" => Reply::error(
            412,
            "At least one of the pre-conditions you specified did not hold.",
        ),
        _ => Reply::error(500, "unexpected request"),
    })
    .await;
    let store = store_on(&fake, "").await;
    let key = BlobKey::parse("big.bin").expect("key");
    let data = payload(4, 9 * MIB);
    let result = store
        .put(
            &key,
            tfr_ports::testkit::blob::bytes_stream(data),
            PutExpectation::default(),
        )
        .await;
    assert!(
        matches!(&result, Err(BlobError::AlreadyExists(k)) if k == "big.bin"),
        "{result:?}"
    );
    let calls = fake.api_calls();
    let methods: Vec<&str> = calls.iter().map(|c| c.method.as_str()).collect();
    assert_eq!(methods, ["GET", "POST"], "no chunk after a refused start");
    assert!(calls[1].query_has("uploadType=resumable"));
    assert!(calls[1].query_has("ifGenerationMatch=0"));
}
