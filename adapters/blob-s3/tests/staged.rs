//! `put_staged` sends a staged file straight from disk: one PutObject up to a part, a
//! multipart upload beyond, with the file's SHA-256 and content type recorded, and never
//! over an existing object.

mod common;

use std::time::{Duration, Instant};

use aws_sdk_s3::types::ChecksumMode;
use bytes::Bytes;
use common::{MIB, Moto};
use tfr_blob_s3::PART_SIZE;
use tfr_core::BlobKey;
use tfr_ports::driven::{BlobError, BlobStore};
use tfr_ports::stream::StagedFile;
use tfr_ports::testkit::blob::{payload, read_all, sha256_hex, stage_bytes};

fn key(name: &str) -> BlobKey {
    BlobKey::parse(name).expect("key")
}

/// `key` holds `data`, with its SHA-256 and `content_type` recorded.
async fn assert_stored(moto: &Moto, key: &BlobKey, data: &[u8], content_type: &str) {
    let head = moto
        .store
        .metadata(key)
        .await
        .expect("metadata")
        .expect("present");
    assert_eq!(head.size, data.len() as u64, "size of {key}");
    assert_eq!(
        head.sha256.as_deref(),
        Some(sha256_hex(data).as_str()),
        "recorded sha256 of {key}"
    );
    assert_eq!(
        head.content_type.as_deref(),
        Some(content_type),
        "content type of {key}"
    );
    let obj = moto.store.get(key).await.expect("get").expect("present");
    let body = read_all(obj.body).await.expect("body");
    assert_eq!(body.len(), data.len(), "body length of {key}");
    assert!(body == data, "body of {key} differs");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn staged_files_round_trip_whatever_their_size() {
    let moto = Moto::start("tenant").await;
    for (name, len) in [
        // Several parts, the last one short.
        ("staged/large.zip", 20 * MIB + 12345),
        // Exactly one part, one byte more (two parts), and a small file.
        ("staged/one-part.zip", PART_SIZE),
        ("staged/one-part-and-a-byte.zip", PART_SIZE + 1),
        ("staged/small.zip", 300 * 1024 + 7),
        ("staged/empty.zip", 0),
    ] {
        let data = payload(len as u64, len);
        let (staged, dir) = stage_bytes(&data).await;
        let k = key(name);
        let meta = moto
            .store
            .put_staged(&k, &staged, Some("application/zip".into()))
            .await
            .unwrap_or_else(|e| panic!("{name}: put_staged: {e:?}"));
        assert_eq!(meta.size, data.len() as u64, "{name}: meta size");
        assert_eq!(
            meta.sha256.as_deref(),
            Some(sha256_hex(&data).as_str()),
            "{name}: meta sha256"
        );
        assert_eq!(meta.content_type.as_deref(), Some("application/zip"));

        let again = moto.store.put_staged(&k, &staged, None).await;
        assert!(
            matches!(again, Err(BlobError::AlreadyExists(_))),
            "{name}: a second put_staged must be refused, got {again:?}"
        );
        drop(staged);
        let _ = std::fs::remove_dir_all(&dir);
        assert_stored(&moto, &k, &data, "application/zip").await;
        if len > PART_SIZE {
            // Multipart: created with CRC-32 part checksums.
            let head = moto
                .client
                .head_object()
                .bucket(&moto.bucket)
                .key(format!("tenant/{name}"))
                .checksum_mode(ChecksumMode::Enabled)
                .send()
                .await
                .expect("HeadObject");
            assert!(head.checksum_crc32().is_some(), "{name}: {head:?}");
        }
    }
    assert!(moto.uploads_left().await.is_empty());
}

/// A staged put whose target exists is refused before anything is sent; one whose target
/// appears while its parts go up is refused by the conditional completion and aborted.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_staged_put_over_an_existing_object_leaves_nothing_behind() {
    let moto = Moto::start("tenant").await;
    for (name, len) in [("race/large.zip", 40 * MIB), ("race/small.zip", 100 * 1024)] {
        let data = payload(9, len);
        let (staged, dir) = stage_bytes(&data).await;
        let k = key(name);
        let object = format!("tenant/{name}");

        other_writer(&moto, &object).await;
        let result = moto.store.put_staged(&k, &staged, None).await;
        assert!(
            matches!(result, Err(BlobError::AlreadyExists(_))),
            "{name}: wanted AlreadyExists, got {result:?}"
        );
        assert!(moto.uploads_left().await.is_empty(), "{name}: upload left");
        assert_other_writers(&moto, &k).await;

        if len > PART_SIZE {
            moto.store.delete(&k).await.expect("delete");
            let racer = tokio::spawn({
                let (client, bucket) = (moto.client.clone(), moto.bucket.clone());
                async move {
                    // Once the adapter's upload exists (it has checked the key), write.
                    for _ in 0..1000 {
                        let out = client
                            .list_multipart_uploads()
                            .bucket(&bucket)
                            .send()
                            .await
                            .expect("ListMultipartUploads");
                        if !out.uploads().is_empty() {
                            break;
                        }
                        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
                    }
                    raw_put(&client, &bucket, &object).await;
                }
            });
            let result = moto.store.put_staged(&k, &staged, None).await;
            racer.await.expect("racer");
            // The racer almost always wins (its tiny put against 40 MiB of parts); if the
            // adapter got there first, the racer's unconditional put replaced its object.
            assert!(
                matches!(result, Err(BlobError::AlreadyExists(_)) | Ok(_)),
                "{name}: wanted AlreadyExists, got {result:?}"
            );
            assert_other_writers(&moto, &k).await;
            assert!(
                moto.uploads_left().await.is_empty(),
                "{name}: the refused upload was not aborted"
            );
        }
        drop(staged);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

async fn raw_put(client: &aws_sdk_s3::Client, bucket: &str, object: &str) {
    client
        .put_object()
        .bucket(bucket)
        .key(object)
        .body(Bytes::from_static(b"the other writer").into())
        .send()
        .await
        .expect("the other writer's put");
}

async fn other_writer(moto: &Moto, object: &str) {
    raw_put(&moto.client, &moto.bucket, object).await;
}

async fn assert_other_writers(moto: &Moto, k: &BlobKey) {
    let obj = moto.store.get(k).await.expect("get").expect("present");
    let body = read_all(obj.body).await.expect("body");
    assert_eq!(body, b"the other writer", "{k}: the other writer's object");
}

/// A staged file that turns out shorter than its recorded size fails the put with
/// nothing left: in one part, and half way through a multipart upload.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_short_staged_file_fails_and_leaves_nothing() {
    let moto = Moto::start("tenant").await;
    for (name, actual, claimed) in [
        ("short/large.zip", 20 * MIB, 30 * MIB),
        ("short/small.zip", 100 * 1024, 200 * 1024),
    ] {
        let data = payload(5, actual);
        let (real, dir) = stage_bytes(&data).await;
        let staged = StagedFile::new(
            real.path().to_path_buf(),
            claimed as u64,
            sha256_hex(&data),
            None,
        );
        let k = key(name);
        let result = moto.store.put_staged(&k, &staged, None).await;
        assert!(
            matches!(result, Err(BlobError::Body(_))),
            "{name}: wanted a Body error, got {result:?}"
        );
        assert!(!moto.store.exists(&k).await.expect("exists"), "{name}");
        assert!(moto.uploads_left().await.is_empty(), "{name}: upload left");
        drop(real);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// The caller goes away (a client disconnect drops the request future) while parts are
/// in flight: the upload is aborted.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_staged_put_dropped_half_way_aborts_its_upload() {
    let moto = Moto::start("").await;
    let (staged, dir) = stage_bytes(&payload(6, 64 * MIB)).await;
    let k = key("dropped/staged.zip");
    let put = tokio::spawn({
        let (store, k) = (moto.store.clone(), k.clone());
        async move { store.put_staged(&k, &staged, None).await }
    });
    let deadline = Instant::now() + Duration::from_secs(15);
    while moto.uploads_left().await.is_empty() {
        assert!(Instant::now() < deadline, "the upload never started");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    // Freeze the store so the parts stay in flight while the put is dropped.
    moto.emulator.pause().expect("pausing moto");
    put.abort();
    let dropped = put.await;
    moto.emulator.resume().expect("resuming moto");
    assert!(
        dropped.is_err_and(|e| e.is_cancelled()),
        "the put was dropped"
    );
    while !moto.uploads_left().await.is_empty() {
        assert!(
            Instant::now() < deadline,
            "the dropped put's upload was never aborted"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(!moto.store.exists(&k).await.expect("exists"));
    let _ = std::fs::remove_dir_all(&dir);
}
