//! The shared `BlobStore` contract, run against a temporary directory.

use tfr_blob_fs::FsBlobStore;
use tfr_ports::driven::BlobStore;
use tfr_ports::testkit::blob::blob_store_contract;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fs_store_honours_the_blob_contract() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = FsBlobStore::new(dir.path().join("blobs")).expect("open store");
    store.check_writable().await.expect("writable");

    blob_store_contract(&store, None).await;

    // The run cleaned up after itself: no object, sidecar, temp file or empty directory left.
    let mut left: Vec<String> = std::fs::read_dir(store.root())
        .expect("read root")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, vec!["@tmp".to_string()]);
    let temps = std::fs::read_dir(store.root().join("@tmp"))
        .expect("read tmp")
        .count();
    assert_eq!(temps, 0, "no temp file survives the contract");
}
