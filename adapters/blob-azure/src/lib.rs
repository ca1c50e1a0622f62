//! tfr-blob-azure: the `BlobStore` port on Azure Blob Storage (azure_storage_blobs 0.21,
//! rustls only).
//!
//! Each key is the block blob `{prefix}/{key}` in one container. A put streams the body
//! (hashed and size-checked in flight) and makes the blob visible only after the writer's
//! expectations hold, with a create-only request (`If-None-Match: *`), so blobs are never
//! replaced (module `upload`). The blob's metadata records the body's SHA-256. Downloads
//! stream; `presigned_url` is a read-only service SAS for that one blob (module `sas`).
//!
//! Debug output and logs never show the account key, a connection string, a token or a
//! SAS, nor the per-request `Authorization` header the SDK would otherwise log at `debug`
//! (module `client`).

mod check;
mod client;
mod config;
mod download;
mod errors;
mod identity;
mod list;
mod meta;
mod sas;
mod staged;
mod upload;

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use azure_storage_blobs::prelude::{BlobClient, ContainerClient};
use futures::stream::BoxStream;
use tfr_core::BlobKey;
use tfr_ports::driven::{
    BlobError, BlobListing, BlobMeta, BlobObject, BlobStore, PutExpectation, StoreCheckError,
};
use tfr_ports::stream::{ByteStream, StagedFile};

pub use crate::config::{AzureConfig, AzureCredentials, ConfigError};
pub use crate::staged::STAGED_BLOCKS_IN_FLIGHT;
pub use crate::upload::BLOCK_SIZE;

use crate::config::{Auth, Resolved};
use crate::errors::{blob_error, is_blob_absent};
use crate::sas::Signer;

/// A `BlobStore` on one Azure Blob Storage container.
pub struct AzureBlobStore {
    config: Resolved,
    container: ContainerClient,
    signer: Signer,
}

impl fmt::Debug for AzureBlobStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.config.fmt(f)
    }
}

impl AzureBlobStore {
    /// Checks the configuration and builds the clients. Makes no network call (run
    /// [`BlobStore::check_writable`] for that) and needs no runtime, so it is not async.
    pub fn new(config: AzureConfig) -> Result<Self, BlobError> {
        let resolved = config
            .resolve()
            .map_err(|e| BlobError::Internal(Box::new(e)))?;
        let clients = client::build(&resolved)
            .map_err(|e| BlobError::Internal(format!("azure blob storage client: {e}").into()))?;
        let signer = match &resolved.auth {
            Auth::Key(key) => Signer::with_account_key(
                resolved.account.clone(),
                resolved.container.clone(),
                resolved.is_https(),
                key.clone(),
            ),
            Auth::ManagedIdentity => Signer::with_delegation(
                resolved.account.clone(),
                resolved.container.clone(),
                resolved.is_https(),
                clients.service.clone(),
            ),
        };
        if let Some(identity) = clients.identity {
            tracing::info!(account = %resolved.account, container = %resolved.container, identity, "azure blob storage with a managed identity");
        }
        Ok(Self {
            config: resolved,
            container: clients.container,
            signer,
        })
    }

    /// The blob name a key is stored under (`{prefix}/{key}`).
    pub fn blob_name(&self, key: &BlobKey) -> String {
        self.config.blob_name(key.as_str())
    }

    fn blob(&self, key: &BlobKey) -> BlobClient {
        self.container.blob_client(self.blob_name(key))
    }
}

#[async_trait]
impl BlobStore for AzureBlobStore {
    async fn put(
        &self,
        key: &BlobKey,
        body: ByteStream,
        expect: PutExpectation,
    ) -> Result<BlobMeta, BlobError> {
        upload::put(&self.blob(key), key, body, expect).await
    }

    /// Reads each block straight from the file instead of streaming it through `put`.
    async fn put_staged(
        &self,
        key: &BlobKey,
        file: &StagedFile,
        content_type: Option<String>,
    ) -> Result<BlobMeta, BlobError> {
        staged::put_staged(&self.blob(key), key, file, content_type).await
    }

    async fn get(&self, key: &BlobKey) -> Result<Option<BlobObject>, BlobError> {
        download::get(&self.blob(key), key).await
    }

    async fn delete(&self, key: &BlobKey) -> Result<(), BlobError> {
        match self.blob(key).delete().await {
            Ok(_) => Ok(()),
            Err(e) if is_blob_absent(&e) => Ok(()),
            Err(e) => Err(blob_error(&format!("deleting {key}"), e)),
        }
    }

    async fn exists(&self, key: &BlobKey) -> Result<bool, BlobError> {
        Ok(self.metadata(key).await?.is_some())
    }

    async fn metadata(&self, key: &BlobKey) -> Result<Option<BlobMeta>, BlobError> {
        match self.blob(key).get_properties().await {
            Ok(props) => Ok(Some(meta::blob_meta(
                &props.blob,
                props.blob.properties.content_length,
            ))),
            Err(e) if is_blob_absent(&e) => Ok(None),
            Err(e) => Err(blob_error(&format!("reading properties of {key}"), e)),
        }
    }

    async fn presigned_url(
        &self,
        key: &BlobKey,
        ttl: Duration,
    ) -> Result<Option<String>, BlobError> {
        self.signer.presign(&self.blob(key), ttl).await
    }

    fn list(&self) -> BoxStream<'_, Result<BlobListing, BlobError>> {
        list::list(&self.container, self.config.list_prefix())
    }

    async fn check_writable(&self) -> Result<(), StoreCheckError> {
        let probe = self
            .config
            .blob_name(&format!("@probe-{}", uuid::Uuid::new_v4()));
        check::check_writable(&self.container, probe).await
    }

    fn backend_name(&self) -> &'static str {
        "azure"
    }
}
