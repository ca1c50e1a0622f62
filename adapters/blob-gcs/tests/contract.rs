//! The shared `BlobStore` contract on gcp-storage-emulator, at the bucket root and under
//! a prefix, signing URLs with a fake service account (fetched with no credentials,
//! re-encoded like Go, and their V4 signatures checked against the public key).
//!
//! The emulator ignores `ifGenerationMatch=0`, so two creates racing past the existence
//! check both "win" there: only the concurrent-puts check is skipped
//! (`atomic_create: false`). `tests/preconditions.rs` shows the adapter sends the
//! precondition and maps GCS's 412 to `AlreadyExists`.

mod common;

use tfr_ports::driven::BlobStore;
use tfr_ports::testkit::blob::{ContractOptions, blob_store_contract_with};

use common::Env;

const EMULATOR: ContractOptions = ContractOptions {
    atomic_create: false,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn gcs_store_honours_the_blob_contract_at_the_bucket_root() {
    let env = Env::start().await;
    let store = env.store("").await;
    store.check_writable().await.expect("writable");
    let fetch = common::fetcher();
    blob_store_contract_with(&store, Some(&fetch), EMULATOR).await;
    assert_eq!(
        env.object_names().await,
        Vec::<String>::new(),
        "the contract cleans up, and no probe or upload is left"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn gcs_store_honours_the_blob_contract_under_a_prefix() {
    let env = Env::start().await;
    let store = env.store("tenant/blobs").await;
    let fetch = common::fetcher();
    blob_store_contract_with(&store, Some(&fetch), EMULATOR).await;
    assert_eq!(env.object_names().await, Vec::<String>::new());

    // Objects really live under the prefix, and nothing outside it is listed.
    let key = tfr_core::BlobKey::parse("modules/x/y.zip").expect("key");
    store
        .put(
            &key,
            tfr_ports::testkit::blob::bytes_stream(b"zip".to_vec()),
            Default::default(),
        )
        .await
        .expect("put");
    let root = env.store("").await;
    root.put(
        &tfr_core::BlobKey::parse("elsewhere/z").expect("key"),
        tfr_ports::testkit::blob::bytes_stream(b"z".to_vec()),
        Default::default(),
    )
    .await
    .expect("put at the root");
    assert_eq!(
        env.object_names().await,
        vec![
            "elsewhere/z".to_string(),
            "tenant/blobs/modules/x/y.zip".to_string()
        ]
    );
    use futures::TryStreamExt;
    let listed: Vec<_> = store.list().try_collect().await.expect("list");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].key, key);
    assert_eq!(listed[0].size, 3);
}

/// Emulator-only credentials: everything works, and presigned URLs are `None` (tfr then
/// serves its own signed links).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_anonymous_gcs_store_honours_the_blob_contract() {
    let env = Env::start().await;
    let store = tfr_blob_gcs::GcsBlobStore::connect(tfr_blob_gcs::GcsConfig {
        credentials: tfr_blob_gcs::GcsCredentials::Anonymous,
        ..env.config("anon")
    })
    .await
    .expect("connect");
    blob_store_contract_with(&store, None, EMULATOR).await;
    assert_eq!(env.object_names().await, Vec::<String>::new());
}
