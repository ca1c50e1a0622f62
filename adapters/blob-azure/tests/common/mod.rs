//! Shared by the azurite tests: a running emulator, a container, a store on it and a
//! credential-less URL fetcher.

#![allow(dead_code)] // each test file uses its own part

use azure_storage::{CloudLocation, StorageCredentials};
use azure_storage_blobs::prelude::{ClientBuilder, ContainerClient};
use futures::future::BoxFuture;
use tfr_blob_azure::{AzureBlobStore, AzureConfig, AzureCredentials};
use tfr_emulators::{AZURITE_ACCOUNT, AZURITE_KEY, Emulator};

/// A container client on azurite with the development key (setup and inspection).
pub fn raw_container(emu: &Emulator, container: &str) -> ContainerClient {
    let location = CloudLocation::Custom {
        account: AZURITE_ACCOUNT.to_string(),
        uri: emu.azurite_blob_endpoint(),
    };
    ClientBuilder::with_location(
        location,
        StorageCredentials::access_key(AZURITE_ACCOUNT, AZURITE_KEY),
    )
    .container_client(container)
}

pub async fn create_container(emu: &Emulator, container: &str) -> anyhow::Result<()> {
    raw_container(emu, container).create().await?;
    Ok(())
}

pub fn config(emu: &Emulator, container: &str, prefix: &str) -> AzureConfig {
    AzureConfig {
        account: AZURITE_ACCOUNT.to_string(),
        container: container.to_string(),
        prefix: prefix.to_string(),
        endpoint: Some(emu.azurite_blob_endpoint()),
        credentials: AzureCredentials::AccountKey(AZURITE_KEY.to_string()),
    }
}

pub fn store(emu: &Emulator, container: &str, prefix: &str) -> AzureBlobStore {
    AzureBlobStore::new(config(emu, container, prefix)).expect("store")
}

/// Azurite with a fresh container `name`.
pub async fn azurite_with(container: &str) -> anyhow::Result<Emulator> {
    let emu = Emulator::azurite().await?;
    create_container(&emu, container).await?;
    Ok(emu)
}

/// GETs a URL with no credentials: `(status, body)`.
pub fn fetcher() -> impl Fn(String) -> BoxFuture<'static, (u16, Vec<u8>)> + Send + Sync {
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("reqwest client");
    move |url: String| -> BoxFuture<'static, (u16, Vec<u8>)> {
        let client = client.clone();
        Box::pin(async move {
            let resp = client.get(url).send().await.expect("GET");
            let status = resp.status().as_u16();
            (status, resp.bytes().await.expect("body").to_vec())
        })
    }
}
