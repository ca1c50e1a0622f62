//! `list` pages through the bucket under the prefix and shows only tfr's keys.

mod common;

use bytes::Bytes;
use common::Moto;
use futures::{StreamExt, TryStreamExt, stream};
use tfr_core::BlobKey;
use tfr_ports::driven::{BlobStore, PutExpectation};
use tfr_ports::testkit::blob::bytes_stream;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn list_pages_through_the_prefix_and_skips_foreign_names() {
    let moto = Moto::start("tenant/blobs").await;

    // More than one ListObjectsV2 page (S3 and moto return at most 1000 keys per page),
    // written behind the adapter's back to keep the test quick.
    let many = 1005;
    stream::iter(0..many)
        .map(|i| {
            let client = moto.client.clone();
            let bucket = moto.bucket.clone();
            async move {
                client
                    .put_object()
                    .bucket(bucket)
                    .key(format!("tenant/blobs/many/{i:04}.bin"))
                    .body(Bytes::from(vec![0u8; i % 7]).into())
                    .send()
                    .await
                    .map(|_| ())
            }
        })
        .buffer_unordered(32)
        .try_collect::<Vec<()>>()
        .await
        .expect("seeding objects");

    let mine = BlobKey::parse("modules/acme/net/aws/1.0.0+x/net.zip").expect("key");
    moto.store
        .put(
            &mine,
            bytes_stream(vec![1u8; 1234]),
            PutExpectation::default(),
        )
        .await
        .expect("put");

    // Names that are not tfr keys, or not under the prefix.
    for foreign in [
        "tenant/blobs/@probe-123",
        "tenant/blobs/dir/",
        "tenant/blobs/has space",
        "tenant/blobsX/sibling",
        "tenant/other",
        "elsewhere/object",
    ] {
        moto.client
            .put_object()
            .bucket(&moto.bucket)
            .key(foreign)
            .body(Bytes::from_static(b"x").into())
            .send()
            .await
            .expect("foreign object");
    }

    let mut listed: Vec<(String, u64)> = moto
        .store
        .list()
        .map(|item| {
            let item = item.expect("list item");
            (item.key.as_str().to_string(), item.size)
        })
        .collect()
        .await;
    listed.sort();
    let mut expected: Vec<(String, u64)> = (0..many)
        .map(|i| (format!("many/{i:04}.bin"), (i % 7) as u64))
        .collect();
    expected.push((mine.as_str().to_string(), 1234));
    expected.sort();
    assert_eq!(listed.len(), expected.len());
    assert_eq!(listed, expected);
}
