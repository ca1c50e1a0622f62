//! The `BlobStore` contract against azurite, with and without a prefix.

mod common;

use tfr_core::BlobKey;
use tfr_ports::driven::{BlobStore, PutExpectation};
use tfr_ports::testkit::blob::{blob_store_contract, bytes_stream};

use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azure_store_honours_the_blob_contract_without_prefix() -> anyhow::Result<()> {
    let emu = azurite_with("tfr-contract").await?;
    let store = store(&emu, "tfr-contract", "");
    let fetch = fetcher();
    blob_store_contract(&store, Some(&fetch)).await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azure_store_honours_the_blob_contract_under_a_prefix() -> anyhow::Result<()> {
    let emu = azurite_with("tfr-contract").await?;
    let store = store(&emu, "tfr-contract", "tenant/blobs");
    let fetch = fetcher();
    blob_store_contract(&store, Some(&fetch)).await;

    // The prefix is where the blobs really go, and list shows only what is under it.
    let key = BlobKey::parse("prefix-check/object.bin")?;
    store
        .put(
            &key,
            bytes_stream(b"hello".to_vec()),
            PutExpectation::default(),
        )
        .await?;
    let raw = raw_container(&emu, "tfr-contract");
    assert!(
        raw.blob_client("tenant/blobs/prefix-check/object.bin")
            .exists()
            .await?
    );
    assert!(!raw.blob_client("prefix-check/object.bin").exists().await?);
    let outside = store_outside(&emu);
    outside
        .put(
            &BlobKey::parse("elsewhere/x")?,
            bytes_stream(b"x".to_vec()),
            PutExpectation::default(),
        )
        .await?;
    use futures::TryStreamExt;
    let listed: Vec<_> = store.list().try_collect().await?;
    assert_eq!(
        listed.iter().map(|l| l.key.as_str()).collect::<Vec<_>>(),
        vec!["prefix-check/object.bin"],
        "list under the prefix"
    );
    Ok(())
}

fn store_outside(emu: &tfr_emulators::Emulator) -> tfr_blob_azure::AzureBlobStore {
    store(emu, "tfr-contract", "tenant/other")
}
