//! The `BlobStore` contract on moto, at the bucket's root and under a prefix.

mod common;

use common::{Moto, fetcher};
use tfr_ports::testkit::blob::blob_store_contract;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn s3_store_honours_the_blob_contract_at_the_bucket_root() {
    let moto = Moto::start("").await;
    let fetch = fetcher();
    blob_store_contract(&moto.store, Some(&fetch)).await;
    assert!(
        moto.uploads_left().await.is_empty(),
        "multipart uploads left behind"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn s3_store_honours_the_blob_contract_under_a_prefix() {
    let moto = Moto::start("tenant/blobs").await;
    let fetch = fetcher();
    blob_store_contract(&moto.store, Some(&fetch)).await;
    assert!(
        moto.uploads_left().await.is_empty(),
        "multipart uploads left behind"
    );
    // Everything the run wrote went under the prefix, and it cleaned up after itself.
    let names = moto.object_names().await;
    assert!(names.is_empty(), "objects left in the bucket: {names:?}");
}
