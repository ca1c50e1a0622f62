//! `InMemoryBlobStore`: the fake for use-case tests.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;
use tfr_core::BlobKey;

use crate::driven::{
    BlobError, BlobListing, BlobMeta, BlobObject, BlobStore, Clock, PutExpectation,
    StoreCheckError, SystemClock,
};
use crate::stream::{ByteStream, HashingStream};

use super::*;

// ---------------------------------------------------------------------------------------
// InMemoryBlobStore
// ---------------------------------------------------------------------------------------

struct StoredBlob {
    data: Bytes,
    meta: BlobMeta,
}

/// A `BlobStore` held in a `Mutex<HashMap>`. Honours the whole port contract (in-flight
/// checks, no overwrite, nothing left on failure); `presigned_url` is always `Ok(None)`.
/// `set_unavailable(true)` makes every call fail with `BlobError::Unavailable`.
pub struct InMemoryBlobStore {
    objects: Mutex<HashMap<BlobKey, StoredBlob>>,
    clock: Arc<dyn Clock>,
    unavailable: AtomicBool,
}

impl Default for InMemoryBlobStore {
    fn default() -> Self {
        Self::with_clock(Arc::new(SystemClock))
    }
}

impl std::fmt::Debug for InMemoryBlobStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InMemoryBlobStore")
            .field("keys", &self.keys())
            .finish()
    }
}

impl InMemoryBlobStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// `last_modified` comes from `clock` (e.g. a `ManualClock`).
    pub fn with_clock(clock: Arc<dyn Clock>) -> Self {
        Self {
            objects: Mutex::new(HashMap::new()),
            clock,
            unavailable: AtomicBool::new(false),
        }
    }

    /// Makes every following call fail with `Unavailable` (or work again).
    pub fn set_unavailable(&self, unavailable: bool) {
        self.unavailable.store(unavailable, Ordering::SeqCst);
    }

    /// The stored bytes of `key`, for assertions.
    pub fn contents(&self, key: &BlobKey) -> Option<Bytes> {
        self.lock().get(key).map(|b| b.data.clone())
    }

    /// Every stored key, sorted.
    pub fn keys(&self) -> Vec<BlobKey> {
        let mut keys: Vec<BlobKey> = self.lock().keys().cloned().collect();
        keys.sort();
        keys
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<BlobKey, StoredBlob>> {
        self.objects.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn check_available(&self) -> Result<(), BlobError> {
        if self.unavailable.load(Ordering::SeqCst) {
            return Err(BlobError::Unavailable(
                "in-memory store set unavailable".into(),
            ));
        }
        Ok(())
    }
}

#[async_trait]
impl BlobStore for InMemoryBlobStore {
    async fn put(
        &self,
        key: &BlobKey,
        body: ByteStream,
        expect: PutExpectation,
    ) -> Result<BlobMeta, BlobError> {
        self.check_available()?;
        if self.lock().contains_key(key) {
            return Err(BlobError::AlreadyExists(key.to_string()));
        }
        let (mut hashing, handle) = HashingStream::new(body);
        let mut data = Vec::new();
        while let Some(chunk) = hashing.next().await {
            data.extend_from_slice(&chunk.map_err(BlobError::Body)?);
        }
        let (sha256, size) = handle.finish();
        expect.check(key, &sha256, size)?;
        let meta = BlobMeta {
            size,
            sha256: Some(sha256),
            content_type: expect.content_type,
            last_modified: Some(self.clock.now()),
        };
        let mut objects = self.lock();
        if objects.contains_key(key) {
            return Err(BlobError::AlreadyExists(key.to_string()));
        }
        objects.insert(
            key.clone(),
            StoredBlob {
                data: Bytes::from(data),
                meta: meta.clone(),
            },
        );
        Ok(meta)
    }

    async fn get(&self, key: &BlobKey) -> Result<Option<BlobObject>, BlobError> {
        self.check_available()?;
        Ok(self.lock().get(key).map(|b| BlobObject {
            meta: b.meta.clone(),
            body: bytes_stream(b.data.clone()),
        }))
    }

    async fn delete(&self, key: &BlobKey) -> Result<(), BlobError> {
        self.check_available()?;
        self.lock().remove(key);
        Ok(())
    }

    async fn exists(&self, key: &BlobKey) -> Result<bool, BlobError> {
        self.check_available()?;
        Ok(self.lock().contains_key(key))
    }

    async fn metadata(&self, key: &BlobKey) -> Result<Option<BlobMeta>, BlobError> {
        self.check_available()?;
        Ok(self.lock().get(key).map(|b| b.meta.clone()))
    }

    async fn presigned_url(
        &self,
        _key: &BlobKey,
        _ttl: Duration,
    ) -> Result<Option<String>, BlobError> {
        self.check_available()?;
        Ok(None)
    }

    fn list(&self) -> futures::stream::BoxStream<'_, Result<BlobListing, BlobError>> {
        let items: Vec<Result<BlobListing, BlobError>> = match self.check_available() {
            Err(e) => vec![Err(e)],
            Ok(()) => self
                .lock()
                .iter()
                .map(|(key, blob)| {
                    Ok(BlobListing {
                        key: key.clone(),
                        size: blob.meta.size,
                    })
                })
                .collect(),
        };
        futures::stream::iter(items).boxed()
    }

    async fn check_writable(&self) -> Result<(), StoreCheckError> {
        self.check_available()
            .map_err(|e| StoreCheckError::Unreachable(e.to_string()))
    }

    fn backend_name(&self) -> &'static str {
        "memory"
    }
}
