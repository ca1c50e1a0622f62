//! tfr-blob-gcs: the `BlobStore` port on Google Cloud Storage, through gcloud-storage
//! (JSON API, reqwest with rustls).
//!
//! Objects live at `{prefix}/{key}` in one bucket. Blobs are immutable: every create
//! sends `ifGenerationMatch=0` (see `upload.rs`), and a put becomes visible only once its
//! body has been read whole and checked. The SHA-256 is kept as the object's custom
//! metadata `sha256`. Presigned URLs are V4 signed GETs (see `sign.rs`).
//!
//! Emulators: set `endpoint` (e.g. gcp-storage-emulator's `http://127.0.0.1:PORT`);
//! credentials are used as configured, `Anonymous` sends none.

mod auth;
mod check;
mod config;
mod errors;
mod list;
mod objects;
mod resumable;
mod sign;
mod staged;
mod upload;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::stream::BoxStream;
use gcloud_storage::client::{Client, ClientConfig};
use reqwest_middleware::ClientWithMiddleware;
use tfr_core::BlobKey;
use tfr_ports::driven::{
    BlobError, BlobListing, BlobMeta, BlobObject, BlobStore, PutExpectation, StoreCheckError,
};
use tfr_ports::stream::{ByteStream, StagedFile};

use crate::config::{Endpoint, Names, SetupError, check_bucket};
pub use crate::config::{GcsConfig, GcsCredentials};

/// A connection that never opens fails in this time rather than hanging a request.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// A silent server (no response, or a body that stops) fails after this long. Per read,
/// so a long download that keeps moving is fine.
const READ_TIMEOUT: Duration = Duration::from_secs(120);

/// A `BlobStore` on one GCS bucket.
pub struct GcsBlobStore {
    client: Client,
    /// The same HTTP client, for the calls made without gcloud-storage.
    http: ClientWithMiddleware,
    token: Option<Arc<auth::LazyTokenSource>>,
    signer: Option<auth::Signer>,
    bucket: String,
    names: Names,
    endpoint: Endpoint,
}

impl fmt::Debug for GcsBlobStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GcsBlobStore")
            .field("bucket", &self.bucket)
            .field("names", &self.names)
            .field("endpoint", &self.endpoint.base)
            .field("authenticated", &self.token.is_some())
            .field("signer", &self.signer)
            .finish()
    }
}

impl GcsBlobStore {
    /// Validates the configuration and loads the credentials (reading a key file, not
    /// fetching a token: nothing here touches the network, so a store that is down or a
    /// key that is refused shows in [`BlobStore::check_writable`]).
    pub async fn connect(config: GcsConfig) -> Result<Self, BlobError> {
        let setup = |e: SetupError| BlobError::Internal(Box::new(e));
        check_bucket(&config.bucket).map_err(setup)?;
        let names = Names::new(&config.prefix).map_err(setup)?;
        let endpoint = Endpoint::parse(config.endpoint.as_deref()).map_err(setup)?;
        let auth = auth::resolve(&config.credentials).await.map_err(setup)?;
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .read_timeout(READ_TIMEOUT)
            .build()
            .map_err(|e| setup(SetupError(format!("building the HTTP client: {e}"))))?;
        let http = reqwest_middleware::ClientBuilder::new(http).build();
        let client = Client::new(ClientConfig {
            http: Some(http.clone()),
            storage_endpoint: endpoint.base.clone(),
            // Explicit: the default provider panics when asked for a token source.
            token_source_provider: auth.token.as_ref().map(|t| t.provider()),
            // Signing identities are passed per URL.
            default_google_access_id: None,
            default_sign_by: None,
            ..ClientConfig::default()
        });
        let store = Self {
            client,
            http,
            token: auth.token,
            signer: auth.signer,
            bucket: config.bucket,
            names,
            endpoint,
        };
        tracing::debug!(store = ?store, "GCS blob store configured");
        Ok(store)
    }
}

#[async_trait]
impl BlobStore for GcsBlobStore {
    async fn put(
        &self,
        key: &BlobKey,
        body: ByteStream,
        expect: PutExpectation,
    ) -> Result<BlobMeta, BlobError> {
        self.put_object(key, body, expect).await
    }

    async fn put_staged(
        &self,
        key: &BlobKey,
        file: &StagedFile,
        content_type: Option<String>,
    ) -> Result<BlobMeta, BlobError> {
        self.put_file(key, file, content_type).await
    }

    async fn get(&self, key: &BlobKey) -> Result<Option<BlobObject>, BlobError> {
        self.open(key).await
    }

    async fn delete(&self, key: &BlobKey) -> Result<(), BlobError> {
        self.remove(key).await
    }

    async fn exists(&self, key: &BlobKey) -> Result<bool, BlobError> {
        Ok(self.stat(&self.names.object(key)).await?.is_some())
    }

    async fn metadata(&self, key: &BlobKey) -> Result<Option<BlobMeta>, BlobError> {
        let object = self.stat(&self.names.object(key)).await?;
        Ok(object.as_ref().map(objects::blob_meta))
    }

    async fn presigned_url(
        &self,
        key: &BlobKey,
        ttl: Duration,
    ) -> Result<Option<String>, BlobError> {
        self.presign(key, ttl).await
    }

    fn list(&self) -> BoxStream<'_, Result<BlobListing, BlobError>> {
        self.list_stream()
    }

    async fn check_writable(&self) -> Result<(), StoreCheckError> {
        self.check().await
    }

    fn backend_name(&self) -> &'static str {
        "gcs"
    }
}
