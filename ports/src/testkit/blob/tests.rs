//! The fake honours its own contract.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use futures::future::BoxFuture;
use tfr_core::BlobKey;

use super::*;

use crate::driven::{
    BlobError, BlobListing, BlobMeta, BlobObject, BlobStore, Clock, PutExpectation, StoreCheckError,
};
use crate::stream::ByteStream;
use crate::testkit::ManualClock;

#[tokio::test]
async fn in_memory_store_honours_the_blob_contract() {
    let store = InMemoryBlobStore::new();
    blob_store_contract(&store, None).await;
    assert!(store.is_empty(), "the contract cleans up after itself");
}

/// The in-memory store, but "signing" URLs as `mem://<key>`, to exercise the
/// presigned-URL check and the `UrlFetcher` calling shape.
struct Signing(Arc<InMemoryBlobStore>);

#[async_trait]
impl BlobStore for Signing {
    async fn put(
        &self,
        key: &BlobKey,
        body: ByteStream,
        expect: PutExpectation,
    ) -> Result<BlobMeta, BlobError> {
        self.0.put(key, body, expect).await
    }
    async fn get(&self, key: &BlobKey) -> Result<Option<BlobObject>, BlobError> {
        self.0.get(key).await
    }
    async fn delete(&self, key: &BlobKey) -> Result<(), BlobError> {
        self.0.delete(key).await
    }
    async fn exists(&self, key: &BlobKey) -> Result<bool, BlobError> {
        self.0.exists(key).await
    }
    async fn metadata(&self, key: &BlobKey) -> Result<Option<BlobMeta>, BlobError> {
        self.0.metadata(key).await
    }
    async fn presigned_url(&self, key: &BlobKey, _: Duration) -> Result<Option<String>, BlobError> {
        Ok(Some(format!("mem://{key}")))
    }
    fn list(&self) -> futures::stream::BoxStream<'_, Result<BlobListing, BlobError>> {
        self.0.list()
    }
    async fn check_writable(&self) -> Result<(), StoreCheckError> {
        self.0.check_writable().await
    }
    fn backend_name(&self) -> &'static str {
        "signing-memory"
    }
}

#[tokio::test]
async fn presigned_urls_are_fetched_through_the_fetcher() {
    let inner = Arc::new(InMemoryBlobStore::new());
    let fetched = Arc::new(AtomicBool::new(false));
    let (objects, seen) = (inner.clone(), fetched.clone());
    let fetch = move |url: String| -> BoxFuture<'static, (u16, Vec<u8>)> {
        let (objects, seen) = (objects.clone(), seen.clone());
        Box::pin(async move {
            seen.store(true, Ordering::SeqCst);
            let key = url
                .strip_prefix("mem://")
                .and_then(|k| BlobKey::parse(k).ok());
            match key.and_then(|k| objects.contents(&k)) {
                Some(data) => (200, data.to_vec()),
                None => (404, Vec::new()),
            }
        })
    };
    blob_store_contract(&Signing(inner), Some(&fetch)).await;
    assert!(fetched.load(Ordering::SeqCst), "the fetcher was called");
}

#[tokio::test]
async fn in_memory_store_uses_its_clock_and_can_fail() {
    let clock = Arc::new(ManualClock::default());
    let store = InMemoryBlobStore::with_clock(clock.clone());
    let key = BlobKey::parse("a/b.zip").unwrap();
    let meta = store
        .put(&key, bytes_stream(&b"abc"[..]), PutExpectation::default())
        .await
        .unwrap();
    assert_eq!(meta.last_modified, Some(clock.now()));
    assert_eq!(store.contents(&key).as_deref(), Some(&b"abc"[..]));
    assert_eq!(store.keys(), vec![key.clone()]);
    store.set_unavailable(true);
    assert!(matches!(
        store.exists(&key).await,
        Err(BlobError::Unavailable(_))
    ));
    assert!(matches!(
        store.check_writable().await,
        Err(StoreCheckError::Unreachable(_))
    ));
    store.set_unavailable(false);
    assert!(store.exists(&key).await.unwrap());
}
