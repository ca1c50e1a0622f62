//! A put that fails, whatever the reason, leaves nothing: no object and no multipart
//! upload (the invisible parts would cost storage forever).

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{MIB, Moto, body_failing_after, create_bucket};
use futures::stream;
use tfr_core::BlobKey;
use tfr_ports::driven::{BlobError, BlobStore, PutExpectation};
use tfr_ports::stream::ByteStream;
use tfr_ports::testkit::blob::payload;
use tfr_ports::testkit::blob::{bytes_stream, sha256_hex};
use tokio::sync::{Notify, oneshot};

fn key(name: &str) -> BlobKey {
    BlobKey::parse(name).expect("key")
}

async fn assert_nothing_left(moto: &Moto, key: &BlobKey, check: &str) {
    assert!(
        !moto.store.exists(key).await.expect("exists"),
        "{check}: object visible"
    );
    assert!(
        matches!(moto.store.get(key).await, Ok(None)),
        "{check}: get finds an object"
    );
    let uploads = moto.uploads_left().await;
    assert!(
        uploads.is_empty(),
        "{check}: multipart uploads left: {uploads:?}"
    );
}

/// `data` in 256 KiB chunks; once `gate_at` bytes were handed out it signals `reached`
/// and waits for `release` before going on.
fn gated_body(
    data: Vec<u8>,
    gate_at: usize,
    reached: oneshot::Sender<()>,
    release: Arc<Notify>,
) -> ByteStream {
    let data = Bytes::from(data);
    Box::pin(stream::unfold(
        (0usize, Some(reached)),
        move |(pos, mut reached)| {
            let data = data.clone();
            let release = release.clone();
            async move {
                if pos >= data.len() {
                    return None;
                }
                if pos >= gate_at
                    && let Some(tx) = reached.take()
                {
                    let _ = tx.send(());
                    release.notified().await;
                }
                let end = (pos + 256 * 1024).min(data.len());
                Some((Ok(data.slice(pos..end)), (end, reached)))
            }
        },
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn failed_multipart_puts_leave_nothing() {
    let moto = Moto::start("tenant").await;
    let data = payload(1, 30 * MIB);

    // The body fails after two parts went up.
    let k = key("fail/body-error.bin");
    let result = moto
        .store
        .put(
            &k,
            body_failing_after(data.clone(), Some(20 * MIB)),
            PutExpectation::default(),
        )
        .await;
    assert!(
        matches!(result, Err(BlobError::Body(_))),
        "body error: {result:?}"
    );
    assert_nothing_left(&moto, &k, "body error").await;

    // The whole body arrives but is not what was promised.
    let k = key("fail/checksum.bin");
    let expect = PutExpectation {
        sha256: Some(sha256_hex(b"something else")),
        ..Default::default()
    };
    let result = moto.store.put(&k, bytes_stream(data.clone()), expect).await;
    assert!(
        matches!(result, Err(BlobError::ChecksumMismatch { .. })),
        "checksum mismatch: {result:?}"
    );
    assert_nothing_left(&moto, &k, "checksum mismatch").await;

    // Longer than promised: refused as soon as the promise is broken, not at the end.
    let k = key("fail/too-long.bin");
    let promised = 20 * MIB as u64;
    let expect = PutExpectation {
        size: Some(promised),
        ..Default::default()
    };
    match moto.store.put(&k, bytes_stream(data.clone()), expect).await {
        Err(BlobError::SizeMismatch {
            expected, actual, ..
        }) => {
            assert_eq!(expected, promised);
            assert!(
                actual > promised && actual < data.len() as u64,
                "stopped early: {actual}"
            );
        }
        other => panic!("too long: wanted SizeMismatch, got {other:?}"),
    }
    assert_nothing_left(&moto, &k, "too long").await;

    // Shorter than promised.
    let k = key("fail/too-short.bin");
    let expect = PutExpectation {
        size: Some(data.len() as u64 + 1),
        ..Default::default()
    };
    let result = moto.store.put(&k, bytes_stream(data.clone()), expect).await;
    assert!(
        matches!(result, Err(BlobError::SizeMismatch { actual, .. }) if actual == data.len() as u64),
        "too short: {result:?}"
    );
    assert_nothing_left(&moto, &k, "too short").await;

    // And the key is still free for a correct put.
    moto.store
        .put(&k, bytes_stream(data.clone()), PutExpectation::default())
        .await
        .expect("a correct put after the failures");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_put_dropped_half_way_aborts_its_upload() {
    let moto = Moto::start("").await;
    let k = key("dropped/object.bin");
    let (reached_tx, reached_rx) = oneshot::channel();
    let never = Arc::new(Notify::new());
    let body = gated_body(payload(2, 40 * MIB), 24 * MIB, reached_tx, never);
    let store = moto.store.clone();
    let put = tokio::spawn({
        let k = k.clone();
        async move { store.put(&k, body, PutExpectation::default()).await }
    });
    reached_rx.await.expect("the body reached the gate");
    assert_eq!(
        moto.uploads_left().await.len(),
        1,
        "the upload is under way"
    );
    // The caller goes away (a client disconnect drops the request future).
    put.abort();
    let _ = put.await;
    let deadline = Instant::now() + Duration::from_secs(15);
    while !moto.uploads_left().await.is_empty() {
        assert!(
            Instant::now() < deadline,
            "the dropped put's upload was never aborted"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(!moto.store.exists(&k).await.expect("exists"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_store_that_dies_mid_upload_fails_the_put() {
    let mut moto = Moto::start("tenant").await;
    let k = key("killed/object.bin");
    let (reached_tx, reached_rx) = oneshot::channel();
    let release = Arc::new(Notify::new());
    let body = gated_body(payload(3, 40 * MIB), 24 * MIB, reached_tx, release.clone());
    let store = moto.store.clone();
    let put = tokio::spawn({
        let k = k.clone();
        async move { store.put(&k, body, PutExpectation::default()).await }
    });
    reached_rx.await.expect("the body reached the gate");
    moto.emulator.stop().await;
    release.notify_one();
    let result = tokio::time::timeout(Duration::from_secs(60), put)
        .await
        .expect("the put gave up in time")
        .expect("the put task");
    assert!(
        matches!(result, Err(BlobError::Unavailable(_))),
        "wanted Unavailable, got {result:?}"
    );
    // moto keeps everything in memory: a restart is an empty store, so this only shows
    // that the adapter reports nothing it did not store.
    moto.emulator.restart().await.expect("restarting moto");
    create_bucket(&moto.client, &moto.bucket).await;
    assert_nothing_left(&moto, &k, "after the restart").await;
}
