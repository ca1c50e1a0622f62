//! Blob storage: the `BlobStore` port.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::stream::BoxStream;
use tfr_core::BlobKey;

use crate::stream::{ByteStream, StagedFile};

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("blob {0} not found")]
    NotFound(String),
    /// Blobs are immutable: a put never replaces an existing object.
    #[error("blob {0} already exists")]
    AlreadyExists(String),
    #[error("checksum mismatch for {key}: expected sha256 {expected}, got {actual}")]
    ChecksumMismatch {
        key: String,
        expected: String,
        actual: String,
    },
    #[error("size mismatch for {key}: expected {expected} bytes, got {actual}")]
    SizeMismatch {
        key: String,
        expected: u64,
        actual: u64,
    },
    /// The body stream failed (client disconnect, size cap, ...).
    #[error("reading the body failed: {0}")]
    Body(#[source] std::io::Error),
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    #[error("storage error: {0}")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// What the writer promises about a body; the store checks it in flight and keeps
/// nothing when it does not hold.
#[derive(Debug, Clone, Default)]
pub struct PutExpectation {
    /// Lower-case hex SHA-256.
    pub sha256: Option<String>,
    pub size: Option<u64>,
    pub content_type: Option<String>,
}

impl PutExpectation {
    /// Checks a finished body: size first, then SHA-256 (compared case-insensitively).
    /// Every backend runs this before it makes an object visible.
    pub fn check(&self, key: &BlobKey, sha256: &str, size: u64) -> Result<(), BlobError> {
        if let Some(expected) = self.size
            && expected != size
        {
            return Err(BlobError::SizeMismatch {
                key: key.to_string(),
                expected,
                actual: size,
            });
        }
        if let Some(expected) = &self.sha256
            && !expected.eq_ignore_ascii_case(sha256)
        {
            return Err(BlobError::ChecksumMismatch {
                key: key.to_string(),
                expected: expected.clone(),
                actual: sha256.to_string(),
            });
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobMeta {
    pub size: u64,
    /// Lower-case hex SHA-256 where the backend records it.
    pub sha256: Option<String>,
    pub content_type: Option<String>,
    pub last_modified: Option<DateTime<Utc>>,
}

/// One object in a [`BlobStore::list`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobListing {
    pub key: BlobKey,
    pub size: u64,
}

/// Why a store failed its startup check ([`BlobStore::check_writable`]). The variants let
/// the configuration layer name the setting to fix.
#[derive(Debug, thiserror::Error)]
pub enum StoreCheckError {
    /// The bucket or container does not exist.
    #[error("the bucket or container {0} does not exist")]
    BucketMissing(String),
    /// The store refused the credentials (unknown key, bad signature, expired token).
    #[error("the store rejected the credentials: {0}")]
    CredentialsRejected(String),
    /// The credentials were accepted but may not read or write here.
    #[error("access denied: {0}")]
    AccessDenied(String),
    /// No answer (DNS, connection refused, timeout, TLS).
    #[error("cannot reach the store: {0}")]
    Unreachable(String),
    #[error("{0}")]
    Other(String),
}

pub struct BlobObject {
    pub meta: BlobMeta,
    pub body: ByteStream,
}

#[async_trait]
pub trait BlobStore: Send + Sync {
    /// Streams `body` to `key`, computing SHA-256 in flight and checking `expect`. The
    /// object becomes visible only when complete and checked; on any failure nothing is
    /// left behind. Refuses to overwrite (`AlreadyExists`).
    async fn put(
        &self,
        key: &BlobKey,
        body: ByteStream,
        expect: PutExpectation,
    ) -> Result<BlobMeta, BlobError>;

    /// Stores a file this process staged (its size and SHA-256 known): [`Self::put`]
    /// with those as the expectation. A backend that can take the file without copying
    /// it (the filesystem store, on the same filesystem) overrides this.
    async fn put_staged(
        &self,
        key: &BlobKey,
        file: &StagedFile,
        content_type: Option<String>,
    ) -> Result<BlobMeta, BlobError> {
        let (body, expect) = staged_body(file, content_type).await?;
        self.put(key, body, expect).await
    }

    /// Streams the object, `None` when absent.
    async fn get(&self, key: &BlobKey) -> Result<Option<BlobObject>, BlobError>;

    /// Removes the object; removing an absent object is not an error.
    async fn delete(&self, key: &BlobKey) -> Result<(), BlobError>;

    async fn exists(&self, key: &BlobKey) -> Result<bool, BlobError>;

    async fn metadata(&self, key: &BlobKey) -> Result<Option<BlobMeta>, BlobError>;

    /// A URL the backend itself signs, fetchable without credentials until `ttl` passes;
    /// `Ok(None)` where the backend cannot sign (tfr then hands out its own signed link).
    async fn presigned_url(
        &self,
        key: &BlobKey,
        ttl: Duration,
    ) -> Result<Option<String>, BlobError>;

    /// Every object the store holds under tfr's keys, in no particular order (objects
    /// whose names are not valid [`BlobKey`]s, like probes, are skipped). For maintenance
    /// (`tfr storage migrate`), never for serving requests.
    fn list(&self) -> BoxStream<'_, Result<BlobListing, BlobError>>;

    /// Startup check with a real call: the bucket/container exists and accepts a write
    /// (a probe object is written and removed; it is never a valid [`BlobKey`]).
    async fn check_writable(&self) -> Result<(), StoreCheckError>;

    /// A short name for logs and metrics (`fs`, `s3`, ...).
    fn backend_name(&self) -> &'static str;
}

/// A staged file as a [`BlobStore::put`] body, with its size and SHA-256 as the
/// expectation.
pub async fn staged_body(
    file: &StagedFile,
    content_type: Option<String>,
) -> Result<(ByteStream, PutExpectation), BlobError> {
    let body = file.open().await.map_err(BlobError::Body)?;
    let expect = PutExpectation {
        sha256: Some(file.sha256().to_string()),
        size: Some(file.size()),
        content_type,
    };
    Ok((body, expect))
}
