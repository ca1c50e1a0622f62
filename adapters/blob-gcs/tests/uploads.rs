//! Large and failing puts on the emulator: resumable uploads round-trip, and a put that
//! fails (body error, size or checksum mismatch) after chunks were sent leaves nothing.

mod common;

use std::io;

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt, stream};
use tfr_core::BlobKey;
use tfr_ports::driven::{BlobError, BlobStore, PutExpectation};
use tfr_ports::stream::ByteStream;
use tfr_ports::testkit::blob::read_all;

use common::Env;
use tfr_ports::testkit::blob::{payload, sha256_hex};

const MIB: usize = 1024 * 1024;

fn pieces(data: &[u8]) -> Vec<io::Result<Bytes>> {
    data.chunks(MIB)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect()
}

fn body(data: &[u8]) -> ByteStream {
    Box::pin(stream::iter(pieces(data)))
}

async fn assert_absent(env: &Env, store: &impl BlobStore, key: &BlobKey) {
    assert!(!store.exists(key).await.expect("exists"), "{key} exists");
    assert!(store.get(key).await.expect("get").is_none(), "{key} gets");
    assert!(store.metadata(key).await.expect("metadata").is_none());
    let listed: Vec<_> = store.list().try_collect().await.expect("list");
    assert!(listed.iter().all(|l| &l.key != key), "{key} is listed");
    assert_eq!(env.object_names().await, Vec::<String>::new());
}

#[tokio::test]
async fn a_20_mib_body_round_trips_with_its_sha256() {
    let env = Env::start().await;
    let store = env.store("tenant").await;
    let data = payload(20, 20 * MIB + 123);
    let sha = sha256_hex(&data);

    // Digest promised upfront (recorded as the session starts) and not (patched after).
    let promised = PutExpectation {
        sha256: Some(sha.to_uppercase()),
        size: Some(data.len() as u64),
        content_type: Some("application/zip".into()),
    };
    for (name, expect) in [
        ("promised.zip", promised),
        ("computed.bin", PutExpectation::default()),
    ] {
        let key = BlobKey::parse(name).expect("key");
        let meta = store.put(&key, body(&data), expect).await.expect("put");
        assert_eq!(meta.size, data.len() as u64, "{name}");
        assert_eq!(meta.sha256.as_deref(), Some(sha.as_str()), "{name}");

        let stored = store
            .metadata(&key)
            .await
            .expect("metadata")
            .expect("present");
        assert_eq!(stored.size, data.len() as u64, "{name}");
        assert_eq!(stored.sha256.as_deref(), Some(sha.as_str()), "{name}");
        assert!(stored.last_modified.is_some());

        let object = store.get(&key).await.expect("get").expect("present");
        assert_eq!(object.meta.sha256.as_deref(), Some(sha.as_str()));
        let mut received = 0usize;
        let mut hasher = <sha2::Sha256 as sha2::Digest>::new();
        let mut stream = object.body;
        while let Some(piece) = stream.next().await {
            let piece = piece.expect("body");
            received += piece.len();
            sha2::Digest::update(&mut hasher, &piece);
        }
        assert_eq!(received, data.len(), "{name}");
        assert_eq!(hex::encode(sha2::Digest::finalize(hasher)), sha, "{name}");
    }
    let promised = store
        .metadata(&BlobKey::parse("promised.zip").expect("key"))
        .await
        .expect("metadata")
        .expect("present");
    assert_eq!(promised.content_type.as_deref(), Some("application/zip"));
    assert_eq!(
        env.object_names().await,
        vec![
            "tenant/computed.bin".to_string(),
            "tenant/promised.zip".to_string()
        ]
    );
}

#[tokio::test]
async fn a_body_that_fails_midway_leaves_nothing() {
    let env = Env::start().await;
    let store = env.store("").await;
    let key = BlobKey::parse("broken/upload.zip").expect("key");
    // 12 MiB arrive (one 8 MiB chunk goes out), then the client goes away.
    let data = payload(21, 12 * MIB);
    let mut parts = pieces(&data);
    parts.push(Err(io::Error::new(
        io::ErrorKind::ConnectionReset,
        "client went away",
    )));
    parts.push(Ok(Bytes::from_static(b"never read")));
    let result = store
        .put(
            &key,
            Box::pin(stream::iter(parts)),
            PutExpectation::default(),
        )
        .await;
    assert!(matches!(result, Err(BlobError::Body(_))), "{result:?}");
    assert_absent(&env, &store, &key).await;

    // Nothing half-written blocks the key.
    let data = payload(22, 9 * MIB);
    store
        .put(&key, body(&data), PutExpectation::default())
        .await
        .expect("put after a failed one");
    let object = store.get(&key).await.expect("get").expect("present");
    assert_eq!(read_all(object.body).await.expect("body"), data);
}

#[tokio::test]
async fn large_bodies_failing_their_checks_leave_nothing() {
    let env = Env::start().await;
    let store = env.store("").await;
    let data = payload(23, 17 * MIB + 1);
    let len = data.len() as u64;
    let cases = [
        (
            "short",
            PutExpectation {
                size: Some(len + 1),
                ..Default::default()
            },
        ),
        (
            "long",
            PutExpectation {
                size: Some(9 * MIB as u64),
                ..Default::default()
            },
        ),
        (
            "checksum",
            PutExpectation {
                sha256: Some(sha256_hex(b"another body")),
                ..Default::default()
            },
        ),
    ];
    for (name, expect) in cases {
        let key = BlobKey::parse(&format!("checks/{name}")).expect("key");
        let result = store.put(&key, body(&data), expect).await;
        match (name, &result) {
            (
                "short",
                Err(BlobError::SizeMismatch {
                    expected, actual, ..
                }),
            ) => {
                assert_eq!((*expected, *actual), (len + 1, len));
            }
            // Reading stops once the body is longer than promised.
            (
                "long",
                Err(BlobError::SizeMismatch {
                    expected, actual, ..
                }),
            ) => {
                assert_eq!(*expected, 9 * MIB as u64);
                assert!(*actual > *expected && *actual < len, "{actual}");
            }
            ("checksum", Err(BlobError::ChecksumMismatch { actual, .. })) => {
                assert_eq!(actual, &sha256_hex(&data));
            }
            _ => panic!("{name}: {result:?}"),
        }
        assert_absent(&env, &store, &key).await;
    }
}
