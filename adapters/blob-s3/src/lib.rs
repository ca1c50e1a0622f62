//! tfr-blob-s3: the `BlobStore` port on Amazon S3 and S3-compatible stores (MinIO, Ceph,
//! moto, ...), with aws-sdk-s3.
//!
//! Objects live at `{prefix}/{key}` in one bucket, with the content type as the object's
//! `Content-Type` and the SHA-256 (when known at creation) as user metadata `sha256`.
//! Puts never replace an object: they are conditional creates (`If-None-Match: *`),
//! checked in flight and made visible only once complete (`src/upload.rs` tells how;
//! bodies over [`PART_SIZE`] go up in parts, at most [`PARTS_IN_FLIGHT`] at a time).
//! `put_staged` sends a staged file straight from disk, its parts streamed from their
//! ranges of the file, [`STAGED_PARTS_IN_FLIGHT`] at a time (`src/staged.rs`).
//! Downloads stream; `presigned_url` hands out SigV4 presigned GETs so clients fetch
//! straight from the bucket.
//!
//! The principal needs `s3:ListBucket` on the bucket (without it S3 answers 403 instead
//! of 404 for absent objects) and `s3:GetObject`, `s3:PutObject`, `s3:DeleteObject` and
//! `s3:AbortMultipartUpload` on the objects under the prefix. A bucket lifecycle rule
//! that aborts incomplete multipart uploads after a day is recommended: an upload whose
//! abort could not be sent (the store was unreachable) leaves invisible parts behind.

mod check;
mod config;
mod errors;
mod list;
mod parts;
mod read;
mod staged;
mod upload;

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use futures::stream::BoxStream;
use tfr_core::BlobKey;
use tfr_ports::driven::{
    BlobError, BlobListing, BlobMeta, BlobObject, BlobStore, PutExpectation, StoreCheckError,
};
use tfr_ports::stream::{ByteStream, StagedFile};

pub use crate::config::{ConfigError, DEFAULT_REGION, S3Config, S3Credentials};
pub use crate::staged::STAGED_PARTS_IN_FLIGHT;
pub use crate::upload::{PART_SIZE, PARTS_IN_FLIGHT};

/// A `BlobStore` on one S3 bucket (under an optional prefix). Cheap to clone.
#[derive(Clone)]
pub struct S3BlobStore {
    client: aws_sdk_s3::Client,
    bucket: String,
    /// `""` or `a/b`, without surrounding slashes.
    prefix: String,
    /// The region requests are signed for (for messages).
    region: String,
    endpoint: Option<String>,
}

impl fmt::Debug for S3BlobStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3BlobStore")
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
            .field("region", &self.region)
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

impl S3BlobStore {
    /// Builds the client. Makes no call to the store: [`BlobStore::check_writable`] is
    /// the startup check.
    pub async fn connect(config: S3Config) -> Result<Self, BlobError> {
        let location = config
            .location()
            .map_err(|e| BlobError::Internal(Box::new(e)))?;
        let (client, region) = config.client().await;
        tracing::info!(
            bucket = %location.bucket,
            prefix = %location.prefix,
            region = %region,
            endpoint = config.endpoint.as_deref().unwrap_or("aws"),
            credentials = match config.credentials {
                S3Credentials::Chain => "aws chain",
                S3Credentials::Static { .. } => "static",
            },
            "s3 blob store configured"
        );
        Ok(Self {
            client,
            bucket: location.bucket,
            prefix: location.prefix,
            region,
            endpoint: config.endpoint,
        })
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// `""` or `a/b`.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    pub fn region(&self) -> &str {
        &self.region
    }

    /// The S3 object key of a blob key.
    fn object_key(&self, key: &BlobKey) -> String {
        self.object_name(key.as_str())
    }

    /// `{prefix}/{name}`, or `name` at the bucket's root.
    fn object_name(&self, name: &str) -> String {
        if self.prefix.is_empty() {
            name.to_string()
        } else {
            format!("{}/{name}", self.prefix)
        }
    }
}

#[async_trait]
impl BlobStore for S3BlobStore {
    async fn put(
        &self,
        key: &BlobKey,
        body: ByteStream,
        expect: PutExpectation,
    ) -> Result<BlobMeta, BlobError> {
        self.upload(key, body, expect).await
    }

    /// The file's size and SHA-256 are known: its bytes go up straight from disk, never
    /// buffered in memory nor SHA-256-hashed again (`src/staged.rs`).
    async fn put_staged(
        &self,
        key: &BlobKey,
        file: &StagedFile,
        content_type: Option<String>,
    ) -> Result<BlobMeta, BlobError> {
        self.upload_staged(key, file, content_type).await
    }

    async fn get(&self, key: &BlobKey) -> Result<Option<BlobObject>, BlobError> {
        self.fetch(key).await
    }

    async fn delete(&self, key: &BlobKey) -> Result<(), BlobError> {
        // S3 answers 204 for an absent key too.
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(self.object_key(key))
            .customize()
            .config_override(config::quick())
            .send()
            .await
            .map_err(|e| errors::blob_error("DeleteObject", key.as_str(), e))?;
        Ok(())
    }

    async fn exists(&self, key: &BlobKey) -> Result<bool, BlobError> {
        Ok(self.head(key).await?.is_some())
    }

    async fn metadata(&self, key: &BlobKey) -> Result<Option<BlobMeta>, BlobError> {
        self.head(key).await
    }

    async fn presigned_url(
        &self,
        key: &BlobKey,
        ttl: Duration,
    ) -> Result<Option<String>, BlobError> {
        self.presign(key, ttl).await.map(Some)
    }

    fn list(&self) -> BoxStream<'_, Result<BlobListing, BlobError>> {
        self.list_objects()
    }

    async fn check_writable(&self) -> Result<(), StoreCheckError> {
        self.check().await
    }

    fn backend_name(&self) -> &'static str {
        "s3"
    }
}
