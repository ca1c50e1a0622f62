//! Bodies larger than one part go up as multipart uploads: they round-trip intact, record
//! their SHA-256 when it is known upfront, and never replace an object.

mod common;

use bytes::Bytes;
use common::{MIB, Moto};
use futures::{StreamExt, stream};
use tfr_blob_s3::PART_SIZE;
use tfr_core::BlobKey;
use tfr_ports::driven::{BlobError, BlobStore, PutExpectation};
use tfr_ports::stream::{ByteStream, stage_stream};
use tfr_ports::testkit::blob::payload;
use tfr_ports::testkit::blob::{bytes_stream, read_all, sha256_hex};

fn key(name: &str) -> BlobKey {
    BlobKey::parse(name).expect("key")
}

async fn assert_holds(moto: &Moto, key: &BlobKey, data: &[u8]) {
    let obj = moto.store.get(key).await.expect("get").expect("present");
    assert_eq!(obj.meta.size, data.len() as u64, "size of {key}");
    let body = read_all(obj.body).await.expect("body");
    assert_eq!(body.len(), data.len(), "body length of {key}");
    assert!(body == data, "body of {key} differs");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn multipart_bodies_round_trip_with_their_sha256() {
    let moto = Moto::start("tenant").await;
    let data = payload(1, 20 * MIB + 12345);
    let sha = sha256_hex(&data);

    // Promised upfront: the SHA-256 is recorded at creation.
    let promised = key("multipart/promised.zip");
    let expect = PutExpectation {
        sha256: Some(sha.to_uppercase()),
        size: Some(data.len() as u64),
        content_type: Some("application/zip".into()),
    };
    let meta = moto
        .store
        .put(&promised, bytes_stream(data.clone()), expect)
        .await
        .expect("put");
    assert_eq!(meta.sha256.as_deref(), Some(sha.as_str()));
    assert_eq!(meta.size, data.len() as u64);
    let head = moto
        .store
        .metadata(&promised)
        .await
        .expect("metadata")
        .expect("present");
    assert_eq!(
        head.sha256.as_deref(),
        Some(sha.as_str()),
        "recorded sha256"
    );
    assert_eq!(head.content_type.as_deref(), Some("application/zip"));
    assert_eq!(head.size, data.len() as u64);
    assert_holds(&moto, &promised, &data).await;

    // Unknown upfront: put still reports it; metadata cannot (the port allows None).
    let unknown = key("multipart/unknown.bin");
    let meta = moto
        .store
        .put(
            &unknown,
            bytes_stream(data.clone()),
            PutExpectation::default(),
        )
        .await
        .expect("put");
    assert_eq!(meta.sha256.as_deref(), Some(sha.as_str()));
    let head = moto
        .store
        .metadata(&unknown)
        .await
        .expect("metadata")
        .expect("present");
    assert_eq!(head.sha256, None);
    assert_holds(&moto, &unknown, &data).await;

    // A staged file knows its SHA-256: recorded even though it goes up in parts.
    let dir = std::env::temp_dir().join(format!("tfr-s3-test-{}", uuid::Uuid::new_v4()));
    let staged = stage_stream(bytes_stream(data.clone()), &dir, u64::MAX)
        .await
        .expect("staging");
    let from_file = key("multipart/staged.zip");
    moto.store
        .put_staged(&from_file, &staged, None)
        .await
        .expect("put_staged");
    drop(staged);
    let _ = std::fs::remove_dir_all(&dir);
    let head = moto
        .store
        .metadata(&from_file)
        .await
        .expect("metadata")
        .expect("present");
    assert_eq!(head.sha256.as_deref(), Some(sha.as_str()), "staged sha256");
    assert_holds(&moto, &from_file, &data).await;

    assert!(moto.uploads_left().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bodies_around_the_part_size_take_the_right_path() {
    let moto = Moto::start("").await;
    // Exactly one part: a single PutObject (which always records the SHA-256).
    let one = payload(2, PART_SIZE);
    let k1 = key("edge/one-part");
    moto.store
        .put(&k1, bytes_stream(one.clone()), PutExpectation::default())
        .await
        .expect("put");
    let head = moto
        .store
        .metadata(&k1)
        .await
        .expect("metadata")
        .expect("present");
    assert_eq!(head.sha256.as_deref(), Some(sha256_hex(&one).as_str()));
    assert_holds(&moto, &k1, &one).await;

    // One byte more: two parts, the last of one byte.
    let more = payload(3, PART_SIZE + 1);
    let k2 = key("edge/one-part-and-a-byte");
    let meta = moto
        .store
        .put(&k2, bytes_stream(more.clone()), PutExpectation::default())
        .await
        .expect("put");
    assert_eq!(meta.sha256.as_deref(), Some(sha256_hex(&more).as_str()));
    let head = moto
        .store
        .metadata(&k2)
        .await
        .expect("metadata")
        .expect("present");
    assert_eq!(head.sha256, None, "multipart without a promised sha256");
    assert_holds(&moto, &k2, &more).await;
}

/// `data` as a body that, once every byte was read and just before it ends, lets another
/// writer create `object` behind the adapter's back: after the adapter's existence check,
/// before its final (conditional) write.
fn body_raced_by_another_writer(data: Vec<u8>, moto: &Moto, object: &str) -> ByteStream {
    let client = moto.client.clone();
    let bucket = moto.bucket.clone();
    let object = object.to_string();
    let racer = async move {
        client
            .put_object()
            .bucket(bucket)
            .key(object)
            .body(Bytes::from_static(b"the other writer").into())
            .send()
            .await
            .expect("the other writer's put");
    };
    let body = bytes_stream(data);
    Box::pin(body.chain(stream::once(racer).filter_map(|()| async { None })))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_writer_that_wins_the_race_is_never_replaced() {
    let moto = Moto::start("tenant").await;
    // Multipart: CompleteMultipartUpload carries If-None-Match, and the loser's upload
    // is aborted. Single part: the same for PutObject.
    for (name, len) in [
        ("race/multipart.zip", 17 * MIB),
        ("race/single.zip", 100 * 1024),
    ] {
        let k = key(name);
        let body = body_raced_by_another_writer(payload(4, len), &moto, &format!("tenant/{name}"));
        let result = moto.store.put(&k, body, PutExpectation::default()).await;
        assert!(
            matches!(result, Err(BlobError::AlreadyExists(_))),
            "{name}: wanted AlreadyExists, got {result:?}"
        );
        assert_holds(&moto, &k, b"the other writer").await;
        assert!(
            moto.uploads_left().await.is_empty(),
            "{name}: the loser's upload was not aborted"
        );
    }
}

/// The body is read only as fast as parts go up: with the store frozen, the adapter
/// stops reading after a few parts instead of buffering the body (a 5 GiB body must never
/// sit in memory).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_slow_store_holds_the_body_back() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::Duration;

    let moto = Moto::start("").await;
    const TOTAL: usize = 100 * MIB;
    const CHUNK: usize = 256 * 1024;
    let base = Bytes::from(payload(6, CHUNK));
    let read = Arc::new(AtomicU64::new(0));
    let (gate_tx, gate_rx) = tokio::sync::oneshot::channel::<()>();
    let release = Arc::new(tokio::sync::Notify::new());
    let body: ByteStream = {
        let read = read.clone();
        let release = release.clone();
        Box::pin(stream::unfold(
            (0usize, Some(gate_tx)),
            move |(pos, mut gate)| {
                let (base, read, release) = (base.clone(), read.clone(), release.clone());
                async move {
                    if pos >= TOTAL {
                        return None;
                    }
                    // Just after the first two parts: the upload has been created.
                    if pos >= 2 * PART_SIZE + CHUNK
                        && let Some(tx) = gate.take()
                    {
                        let _ = tx.send(());
                        release.notified().await;
                    }
                    read.fetch_add(CHUNK as u64, Ordering::SeqCst);
                    Some((Ok(base.clone()), (pos + CHUNK, gate)))
                }
            },
        ))
    };
    let k = key("slow/object.bin");
    let store = moto.store.clone();
    let put = tokio::spawn({
        let k = k.clone();
        async move { store.put(&k, body, PutExpectation::default()).await }
    });
    gate_rx.await.expect("gate");
    moto.emulator.pause().expect("pausing moto");
    release.notify_one();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let held_back = read.load(Ordering::SeqCst);
    moto.emulator.resume().expect("resuming moto");
    // At most: parts done before the pause (two), two in flight, one being filled.
    let bound = (5 * PART_SIZE + CHUNK) as u64;
    assert!(
        held_back <= bound,
        "read {held_back} bytes while the store was frozen (bound {bound})"
    );
    let meta = put.await.expect("put task").expect("put");
    assert_eq!(meta.size, TOTAL as u64);
    let obj = moto.store.get(&k).await.expect("get").expect("present");
    assert_eq!(obj.meta.size, TOTAL as u64);
}
