//! Documents read whole with a cap, packages streamed, and the fake's tampering knobs
//! seen through the adapter.

mod common;

use std::io::Read;

use common::World;
use common::fake_upstream::RequestKind;
use futures::StreamExt;
use sha2::{Digest, Sha256};
use tfr_ports::driven::{SignatureVerifier, UpstreamError, UpstreamRegistry};
use tfr_ports::stream::ByteStream;
use tfr_security::PgpSignatureVerifier;

const SUMS: &str = "terraform-provider-fake_1.0.0_SHA256SUMS";

/// Drains a stream: the bytes before the first error, and that error.
async fn drain(mut stream: ByteStream) -> (Vec<u8>, Option<std::io::Error>) {
    let mut out = Vec::new();
    while let Some(item) = stream.next().await {
        match item {
            Ok(chunk) => out.extend_from_slice(&chunk),
            Err(e) => return (out, Some(e)),
        }
    }
    (out, None)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documents_are_read_whole_and_verify() {
    let w = World::start().await;
    let registry = w.registry();
    let sums = registry
        .fetch_document(&w.file_url(SUMS), 64 * 1024)
        .await
        .expect("SHA256SUMS");
    assert_eq!(sums, w.release.shasums);
    let sig = registry
        .fetch_document(&w.file_url(&format!("{SUMS}.sig")), 64 * 1024)
        .await
        .expect("signature");
    assert_eq!(sig, w.release.signature);
    let verifier = PgpSignatureVerifier::new();
    verifier
        .verify_detached(&w.release.armored_public_key, &sums, &sig)
        .expect("the fake's signature verifies with the listed key");

    // The bad-signature knob: signed by another key than the one listed.
    w.fake.set_bad_signature("acme", "fake", "1.0.0");
    let bad = registry
        .fetch_document(&w.file_url(&format!("{SUMS}.sig")), 64 * 1024)
        .await
        .expect("signature");
    assert_ne!(bad, sig);
    assert!(
        verifier
            .verify_detached(&w.release.armored_public_key, &sums, &bad)
            .is_err()
    );

    let err = registry
        .fetch_document(
            &w.file_url("terraform-provider-fake_9.9.9_SHA256SUMS"),
            1024,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, UpstreamError::NotFound(_)), "{err:?}");
    let err = registry
        .fetch_document("file:///etc/passwd", 1024)
        .await
        .unwrap_err();
    assert!(matches!(err, UpstreamError::Protocol { .. }), "{err:?}");
    w.fake.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documents_over_the_cap_are_too_large() {
    let w = World::start().await;
    let registry = w.registry();
    let zip = w.zip_url("linux", "amd64");
    let size = w.release.package("linux", "amd64").size;

    // Content-Length says it up front.
    let err = registry.fetch_document(&zip, size - 1).await.unwrap_err();
    let UpstreamError::TooLarge { url, limit } = &err else {
        panic!("expected TooLarge, got {err:?}");
    };
    assert_eq!((url.as_str(), *limit), (zip.as_str(), size - 1));
    assert_eq!(
        registry
            .fetch_document(&zip, size)
            .await
            .expect("at the cap")
            .len() as u64,
        size
    );

    // Without Content-Length, reading stops once the cap is passed (the 64 MiB body is
    // not read to its end).
    w.fake.set_chunked(true);
    let large = w
        .fake
        .add_large_provider("acme", "big", "2.0.0", &[("linux", "amd64")], 64 << 20);
    let url = w
        .fake
        .file_url("acme", "big", "2.0.0", &large.packages[0].filename);
    let err = registry.fetch_document(&url, 1 << 20).await.unwrap_err();
    assert!(
        matches!(err, UpstreamError::TooLarge { limit, .. } if limit == 1 << 20),
        "{err:?}"
    );
    assert_eq!(w.fake.requests(RequestKind::Package), 3);
    w.fake.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn downloads_stream_the_exact_bytes() {
    let w = World::start().await;
    let registry = w.registry();
    let (body, err) = drain(
        registry
            .download(&w.zip_url("darwin", "arm64"))
            .await
            .expect("download"),
    )
    .await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(
        body,
        w.fake
            .package_bytes("acme", "fake", "1.0.0", "darwin", "arm64")
    );
    assert_eq!(
        hex::encode(Sha256::digest(&body)),
        w.release.package("darwin", "arm64").sha256
    );

    // The corruption knob: same length, another digest.
    w.fake
        .corrupt_package("acme", "fake", "1.0.0", "darwin", "arm64");
    let (corrupt, _) = drain(
        registry
            .download(&w.zip_url("darwin", "arm64"))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(corrupt.len(), body.len());
    assert_ne!(corrupt, body);

    let err = match registry.download(&w.file_url("nothing.zip")).await {
        Ok(_) => panic!("expected NotFound"),
        Err(e) => e,
    };
    assert!(matches!(err, UpstreamError::NotFound(_)), "{err:?}");
    w.fake.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_generated_packages_are_valid_zips_with_known_digests() {
    let w = World::start().await;
    let registry = w.registry();
    let size = 24 << 20;
    let release = w
        .fake
        .add_large_provider("acme", "big", "3.0.0", &[("linux", "amd64")], size);
    let package = &release.packages[0];
    let url = w.fake.file_url("acme", "big", "3.0.0", &package.filename);
    let (body, err) = drain(registry.download(&url).await.expect("download")).await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(body.len() as u64, package.size);
    assert_eq!(hex::encode(Sha256::digest(&body)), package.sha256);
    assert_eq!(
        String::from_utf8_lossy(&release.shasums),
        format!("{}  {}\n", package.sha256, package.filename)
    );

    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(body)).expect("a valid zip");
    assert_eq!(archive.len(), 1);
    let mut member = archive.by_index(0).expect("member");
    assert_eq!(
        member.name().expect("name"),
        "terraform-provider-big_v3.0.0"
    );
    assert_eq!(member.unix_mode().map(|m| m & 0o777), Some(0o755));
    let mut content = Vec::new();
    member
        .read_to_end(&mut content)
        .expect("member content (CRC checked)");
    assert_eq!(content.len() as u64, size);
    w.fake.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_cut_short_is_an_error_item_not_a_retry() {
    let w = World::start().await;
    let registry = w.registry();
    let release = w
        .fake
        .add_large_provider("acme", "big", "4.0.0", &[("linux", "amd64")], 4 << 20);
    w.fake
        .truncate_package("acme", "big", "4.0.0", "linux", "amd64", 1_500_000);
    let url = w
        .fake
        .file_url("acme", "big", "4.0.0", &release.packages[0].filename);
    let (body, err) = drain(registry.download(&url).await.expect("the response starts")).await;
    let err = err.expect("the stream fails");
    assert!(err.to_string().contains("download from"), "{err}");
    assert!(
        !body.is_empty() && (body.len() as u64) <= 1_500_000,
        "{}",
        body.len()
    );
    assert_eq!(w.fake.requests(RequestKind::Package), 1);

    // Before the body starts, failures are retried.
    w.fake.fail_next(RequestKind::Package, 2, 503, None);
    let (ok, _) = drain(
        registry
            .download(&w.zip_url("linux", "amd64"))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        hex::encode(Sha256::digest(&ok)),
        w.release.package("linux", "amd64").sha256
    );
    assert_eq!(w.fake.requests(RequestKind::Package), 4);
    w.fake.shutdown().await;
}

/// 500 MiB through the adapter, hashed as it streams: neither side holds it in memory.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "slow: streams and hashes 500 MiB three times"]
async fn a_500_mib_package_streams_in_bounded_memory() {
    let w = World::start().await;
    let registry = w.registry();
    let release =
        w.fake
            .add_large_provider("acme", "huge", "1.0.0", &[("linux", "amd64")], 500 << 20);
    let package = &release.packages[0];
    let url = w.fake.file_url("acme", "huge", "1.0.0", &package.filename);
    let mut stream = registry.download(&url).await.expect("download");
    let (mut sha, mut len) = (Sha256::new(), 0u64);
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.expect("chunk");
        len += chunk.len() as u64;
        sha.update(&chunk);
    }
    assert_eq!(len, package.size);
    assert_eq!(hex::encode(sha.finalize()), package.sha256);
    w.fake.shutdown().await;
}
