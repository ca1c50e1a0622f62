//! `blob_store_contract`: the suite every `BlobStore` runs.

use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures::future::BoxFuture;
use futures::{StreamExt, stream};
use tfr_core::BlobKey;

use crate::driven::{BlobError, BlobMeta, BlobObject, BlobStore, PutExpectation};
use crate::stream::{ByteStream, HashingStream};

use super::*;

// ---------------------------------------------------------------------------------------
// The contract
// ---------------------------------------------------------------------------------------

/// GETs a URL without credentials and returns `(HTTP status, body)`.
pub type UrlFetcher = dyn Fn(String) -> BoxFuture<'static, (u16, Vec<u8>)> + Send + Sync;

/// Size of the streamed body in the large-object check: 64 MiB, generated 1 MiB at a time.
pub const LARGE_BODY_BYTES: u64 = 64 * 1024 * 1024;
const LARGE_CHUNK: usize = 1024 * 1024;

/// Runs every check of the `BlobStore` contract against `store`; panics on the first
/// failure, naming it. `fetch` is required when the store returns presigned URLs (the
/// suite panics if a URL comes back and no fetcher was given) and ignored otherwise.
pub async fn blob_store_contract(store: &dyn BlobStore, fetch: Option<&UrlFetcher>) {
    blob_store_contract_with(store, fetch, ContractOptions::default()).await;
}

/// What a test environment can check. Every flag defaults to "check everything".
#[derive(Debug, Clone, Copy)]
pub struct ContractOptions {
    /// `false` only where the *environment* cannot make a create atomic: an emulator that
    /// ignores create preconditions (gcp-storage-emulator ignores `ifGenerationMatch=0`,
    /// which real GCS enforces). Skips only the concurrent-puts check; the adapter's
    /// sending of the precondition must then be tested separately.
    pub atomic_create: bool,
}

impl Default for ContractOptions {
    fn default() -> Self {
        Self {
            atomic_create: true,
        }
    }
}

/// [`blob_store_contract`] with [`ContractOptions`].
pub async fn blob_store_contract_with(
    store: &dyn BlobStore,
    fetch: Option<&UrlFetcher>,
    options: ContractOptions,
) {
    let run = Run::new(store);
    store
        .check_writable()
        .await
        .unwrap_or_else(|e| panic!("check_writable on a healthy store: {e}"));
    run.round_trip().await;
    run.staged_round_trip().await;
    run.empty_body().await;
    run.checksum_mismatch_leaves_nothing().await;
    run.size_mismatch_leaves_nothing().await;
    run.body_error_leaves_nothing().await;
    run.no_overwrite().await;
    if options.atomic_create {
        run.concurrent_puts_one_wins().await;
    } else {
        eprintln!(
            "blob contract: concurrent-puts check skipped for {} (the environment cannot enforce create preconditions)",
            store.backend_name()
        );
    }
    run.delete_and_absent_keys().await;
    run.siblings_survive_delete().await;
    run.large_streaming_body().await;
    run.presigned_url(fetch).await;
    run.listing().await;
    run.cleanup().await;
}

struct Run<'a> {
    store: &'a dyn BlobStore,
    prefix: String,
    used: Mutex<Vec<BlobKey>>,
}

/// A deterministic, incompressible-looking payload of `len` bytes.
pub fn payload(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.extend_from_slice(&state.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// The large body: [`LARGE_BODY_BYTES`] in 1 MiB chunks made on demand from one pattern,
/// each stamped with its index so misordered or repeated chunks are caught.
struct LargeBody {
    base: Bytes,
}

impl LargeBody {
    fn new() -> Self {
        Self {
            base: Bytes::from(payload(1000, LARGE_CHUNK)),
        }
    }

    fn chunks(&self) -> u64 {
        LARGE_BODY_BYTES.div_ceil(LARGE_CHUNK as u64)
    }

    fn chunk(&self, index: u64) -> Bytes {
        let remaining = LARGE_BODY_BYTES - index * LARGE_CHUNK as u64;
        let mut chunk = self.base[..remaining.min(LARGE_CHUNK as u64) as usize].to_vec();
        let stamp = index.to_le_bytes();
        let n = stamp.len().min(chunk.len());
        chunk[..n].copy_from_slice(&stamp[..n]);
        Bytes::from(chunk)
    }

    fn stream(self: Arc<Self>) -> ByteStream {
        Box::pin(stream::iter(0..self.chunks()).map(move |i| Ok(self.chunk(i))))
    }
}

fn describe(result: &Result<Option<BlobObject>, BlobError>) -> String {
    match result {
        Ok(Some(obj)) => format!("Ok(Some(object {:?}))", obj.meta),
        Ok(None) => "Ok(None)".into(),
        Err(e) => format!("Err({e:?})"),
    }
}

impl<'a> Run<'a> {
    fn new(store: &'a dyn BlobStore) -> Self {
        Self {
            store,
            prefix: format!("contract/{}", uuid::Uuid::new_v4()),
            used: Mutex::new(Vec::new()),
        }
    }

    fn key(&self, name: &str) -> BlobKey {
        let key =
            BlobKey::parse(&format!("{}/{name}", self.prefix)).expect("contract keys are valid");
        self.used
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(key.clone());
        key
    }

    async fn put(
        &self,
        key: &BlobKey,
        data: &[u8],
        expect: PutExpectation,
    ) -> Result<BlobMeta, BlobError> {
        self.store
            .put(key, bytes_stream(data.to_vec()), expect)
            .await
    }

    /// Asserts `key` holds exactly `data` through get, exists and metadata.
    async fn assert_holds(&self, check: &str, key: &BlobKey, data: &[u8]) {
        let sha = sha256_hex(data);
        assert!(
            self.store.exists(key).await.expect("exists"),
            "{check}: exists({key}) is false"
        );
        let meta = self.store.metadata(key).await.expect("metadata");
        let meta = meta.unwrap_or_else(|| panic!("{check}: metadata({key}) is None"));
        assert_eq!(
            meta.size,
            data.len() as u64,
            "{check}: metadata size of {key}"
        );
        if let Some(recorded) = &meta.sha256 {
            assert_eq!(recorded, &sha, "{check}: metadata sha256 of {key}");
        }
        let obj = self.store.get(key).await.expect("get");
        let obj = obj.unwrap_or_else(|| panic!("{check}: get({key}) is None"));
        assert_eq!(
            obj.meta.size,
            data.len() as u64,
            "{check}: get meta size of {key}"
        );
        let body = read_all(obj.body).await.expect("reading the object body");
        assert_eq!(body.len(), data.len(), "{check}: body length of {key}");
        assert_eq!(sha256_hex(&body), sha, "{check}: body sha256 of {key}");
    }

    /// Asserts nothing is visible at `key`.
    async fn assert_absent(&self, check: &str, key: &BlobKey) {
        assert!(
            !self.store.exists(key).await.expect("exists"),
            "{check}: exists({key}) is true"
        );
        let meta = self.store.metadata(key).await.expect("metadata");
        assert!(meta.is_none(), "{check}: metadata({key}) is {meta:?}");
        let got = self.store.get(key).await;
        assert!(
            matches!(got, Ok(None)),
            "{check}: get({key}) is {}",
            describe(&got)
        );
    }

    /// `put_staged`: the staged bytes land under the key (whatever the backend does with
    /// the file), a second put is refused, and the object outlives the staged file.
    async fn staged_round_trip(&self) {
        let check = "staged round trip";
        let data = payload(77, 300 * 1024 + 3);
        let (staged, dir) = stage_bytes(&data).await;
        let key = self.key("staged/object.zip");
        let meta = self
            .store
            .put_staged(&key, &staged, Some("application/zip".into()))
            .await
            .expect("staged round trip: put_staged");
        assert_eq!(meta.size, data.len() as u64, "{check}: meta size");
        assert_eq!(
            meta.sha256.as_deref(),
            Some(sha256_hex(&data).as_str()),
            "{check}: meta sha256"
        );
        let again = self.store.put_staged(&key, &staged, None).await;
        assert!(
            matches!(again, Err(BlobError::AlreadyExists(_))),
            "{check}: a second put_staged must be refused, got {again:?}"
        );
        drop(staged);
        let _ = std::fs::remove_dir_all(&dir);
        self.assert_holds(check, &key, &data).await;
    }

    async fn round_trip(&self) {
        let check = "round trip";
        let key = self.key("round-trip/object.zip");
        let data = payload(1, 300 * 1024 + 7);
        let sha = sha256_hex(&data);
        let expect = PutExpectation {
            sha256: Some(sha.clone()),
            size: Some(data.len() as u64),
            content_type: Some("application/zip".into()),
        };
        let meta = self
            .put(&key, &data, expect)
            .await
            .expect("round trip: put");
        assert_eq!(meta.size, data.len() as u64, "{check}: put meta size");
        assert_eq!(
            meta.sha256.as_deref(),
            Some(sha.as_str()),
            "{check}: put meta sha256"
        );
        self.assert_holds(check, &key, &data).await;
        let meta = self
            .store
            .metadata(&key)
            .await
            .expect("metadata")
            .expect("present");
        assert_eq!(
            meta.content_type.as_deref(),
            Some("application/zip"),
            "{check}: content type"
        );

        let key = self.key("round-trip/no-expectations.bin");
        let data = payload(2, 1000);
        let meta = self
            .put(&key, &data, PutExpectation::default())
            .await
            .expect("put");
        assert_eq!(
            meta.sha256,
            Some(sha256_hex(&data)),
            "{check}: sha256 computed without expectation"
        );
        self.assert_holds(check, &key, &data).await;
    }

    async fn empty_body(&self) {
        let key = self.key("empty/object");
        let expect = PutExpectation {
            sha256: Some(sha256_hex(b"")),
            size: Some(0),
            content_type: None,
        };
        let meta = self.put(&key, b"", expect).await.expect("empty body: put");
        assert_eq!(meta.size, 0, "empty body: put meta size");
        self.assert_holds("empty body", &key, b"").await;
    }

    async fn checksum_mismatch_leaves_nothing(&self) {
        let check = "checksum mismatch";
        let key = self.key("checksum-mismatch/object");
        let data = payload(3, 50 * 1024);
        let wrong = sha256_hex(b"something else");
        let expect = PutExpectation {
            sha256: Some(wrong.clone()),
            size: Some(data.len() as u64),
            content_type: None,
        };
        match self.put(&key, &data, expect).await {
            Err(BlobError::ChecksumMismatch {
                expected, actual, ..
            }) => {
                assert_eq!(expected, wrong, "{check}: expected field");
                assert_eq!(actual, sha256_hex(&data), "{check}: actual field");
            }
            other => panic!("{check}: put returned {other:?}, wanted ChecksumMismatch"),
        }
        self.assert_absent(check, &key).await;
        // Nothing half-written blocks a later, correct put.
        self.put(&key, &data, PutExpectation::default())
            .await
            .expect("put after mismatch");
        self.assert_holds(check, &key, &data).await;
    }

    async fn size_mismatch_leaves_nothing(&self) {
        let check = "size mismatch";
        let data = payload(4, 40 * 1024);
        let len = data.len() as u64;
        for (name, expected) in [("too-short", len + 1), ("too-long", len - 1)] {
            let key = self.key(&format!("size-mismatch/{name}"));
            let expect = PutExpectation {
                size: Some(expected),
                ..Default::default()
            };
            match self.put(&key, &data, expect).await {
                Err(BlobError::SizeMismatch {
                    expected: e,
                    actual,
                    ..
                }) => {
                    assert_eq!(e, expected, "{check} ({name}): expected field");
                    // A store may stop reading a body that is already too long, so the
                    // actual count is only checked when the whole body was read.
                    if expected > len {
                        assert_eq!(actual, len, "{check} ({name}): actual field");
                    }
                }
                other => panic!("{check} ({name}): put returned {other:?}, wanted SizeMismatch"),
            }
            self.assert_absent(check, &key).await;
        }
    }

    async fn body_error_leaves_nothing(&self) {
        let check = "body error";
        let key = self.key("body-error/object");
        let chunks: Vec<io::Result<Bytes>> = vec![
            Ok(Bytes::from(payload(5, 64 * 1024))),
            Ok(Bytes::from(payload(6, 64 * 1024))),
            Err(io::Error::new(
                io::ErrorKind::ConnectionReset,
                "client went away",
            )),
            Ok(Bytes::from_static(b"never read")),
        ];
        let result = self
            .store
            .put(
                &key,
                Box::pin(stream::iter(chunks)),
                PutExpectation::default(),
            )
            .await;
        assert!(
            matches!(result, Err(BlobError::Body(_))),
            "{check}: put returned {result:?}, wanted Body"
        );
        self.assert_absent(check, &key).await;
    }

    async fn no_overwrite(&self) {
        let check = "no overwrite";
        let key = self.key("no-overwrite/object");
        let first = payload(7, 20 * 1024);
        let second = payload(8, 30 * 1024);
        let content_type = Some("text/plain".to_string());
        let expect = PutExpectation {
            content_type: content_type.clone(),
            ..Default::default()
        };
        self.put(&key, &first, expect).await.expect("first put");
        let again = self.put(&key, &second, PutExpectation::default()).await;
        assert!(
            matches!(again, Err(BlobError::AlreadyExists(_))),
            "{check}: second put returned {again:?}, wanted AlreadyExists"
        );
        // Identical content is refused too: blobs are immutable, not idempotent.
        let same = self.put(&key, &first, PutExpectation::default()).await;
        assert!(
            matches!(same, Err(BlobError::AlreadyExists(_))),
            "{check}: identical put returned {same:?}, wanted AlreadyExists"
        );
        self.assert_holds(check, &key, &first).await;
        let meta = self
            .store
            .metadata(&key)
            .await
            .expect("metadata")
            .expect("present");
        assert_eq!(
            meta.content_type, content_type,
            "{check}: content type kept"
        );
    }

    async fn concurrent_puts_one_wins(&self) {
        let check = "concurrent puts";
        let key = self.key("concurrent/object");
        let a = payload(9, 256 * 1024);
        let b = payload(10, 256 * 1024 + 1);
        let (ra, rb) = futures::join!(
            self.put(&key, &a, PutExpectation::default()),
            self.put(&key, &b, PutExpectation::default())
        );
        let winner = match (&ra, &rb) {
            (Ok(_), Err(BlobError::AlreadyExists(_))) => &a,
            (Err(BlobError::AlreadyExists(_)), Ok(_)) => &b,
            _ => panic!("{check}: wanted one Ok and one AlreadyExists, got {ra:?} and {rb:?}"),
        };
        self.assert_holds(check, &key, winner).await;
    }

    async fn delete_and_absent_keys(&self) {
        let check = "delete";
        let never = self.key("absent/never-written");
        self.assert_absent("absent key", &never).await;
        self.store
            .delete(&never)
            .await
            .expect("delete of an absent key is Ok");

        let key = self.key("delete/a/b/object");
        let data = payload(11, 10 * 1024);
        self.put(&key, &data, PutExpectation::default())
            .await
            .expect("put");
        self.store.delete(&key).await.expect("delete");
        self.assert_absent(check, &key).await;
        self.store.delete(&key).await.expect("second delete is Ok");
        // The key is free again.
        let data = payload(12, 12 * 1024);
        self.put(&key, &data, PutExpectation::default())
            .await
            .expect("put after delete");
        self.assert_holds(check, &key, &data).await;
    }

    async fn siblings_survive_delete(&self) {
        let check = "siblings";
        let one = self.key("siblings/dir/one");
        let two = self.key("siblings/dir/two");
        let deep = self.key("siblings/dir/sub/three");
        for (i, key) in [&one, &two, &deep].into_iter().enumerate() {
            let data = payload(20 + i as u64, 1024);
            self.put(key, &data, PutExpectation::default())
                .await
                .expect("put");
        }
        self.store.delete(&one).await.expect("delete");
        self.store.delete(&deep).await.expect("delete");
        self.assert_absent(check, &one).await;
        self.assert_absent(check, &deep).await;
        self.assert_holds(check, &two, &payload(21, 1024)).await;
    }

    async fn large_streaming_body(&self) {
        let check = "large body";
        let key = self.key("large/object.bin");
        let generator = Arc::new(LargeBody::new());
        let (body, sent) = HashingStream::new(generator.clone().stream());
        let expect = PutExpectation {
            size: Some(LARGE_BODY_BYTES),
            ..Default::default()
        };
        let meta = self
            .store
            .put(&key, Box::pin(body), expect)
            .await
            .expect("large body: put");
        let (sha, size) = sent.finish();
        assert_eq!(size, LARGE_BODY_BYTES, "{check}: bytes sent");
        assert_eq!(meta.size, LARGE_BODY_BYTES, "{check}: put meta size");
        assert_eq!(
            meta.sha256.as_deref(),
            Some(sha.as_str()),
            "{check}: put meta sha256"
        );

        let obj = self
            .store
            .get(&key)
            .await
            .expect("get")
            .expect("large body: present");
        assert_eq!(obj.meta.size, LARGE_BODY_BYTES, "{check}: get meta size");
        // Compare what comes back with the generator, chunk by chunk (cheaper than a
        // second digest in debug builds, and it names the first wrong offset).
        let mut body = obj.body;
        let mut offset = 0u64;
        let mut current: Option<(u64, Bytes)> = None;
        while let Some(chunk) = body.next().await {
            let chunk = chunk.expect("reading the large body");
            let mut pos = 0;
            while pos < chunk.len() {
                let index = offset / LARGE_CHUNK as u64;
                assert!(
                    index < generator.chunks(),
                    "{check}: more than {LARGE_BODY_BYTES} bytes received"
                );
                if current.as_ref().is_none_or(|(i, _)| *i != index) {
                    current = Some((index, generator.chunk(index)));
                }
                let expected = current.as_ref().map(|(_, c)| c.clone()).unwrap_or_default();
                let within = (offset % LARGE_CHUNK as u64) as usize;
                let n = (expected.len() - within).min(chunk.len() - pos);
                assert!(
                    chunk[pos..pos + n] == expected[within..within + n],
                    "{check}: received bytes differ near offset {offset}"
                );
                pos += n;
                offset += n as u64;
            }
        }
        assert_eq!(offset, LARGE_BODY_BYTES, "{check}: bytes received");
        self.store.delete(&key).await.expect("delete large body");
    }

    async fn presigned_url(&self, fetch: Option<&UrlFetcher>) {
        let check = "presigned url";
        let key = self.key("presigned/object.txt");
        let data = payload(30, 5000);
        self.put(&key, &data, PutExpectation::default())
            .await
            .expect("put");
        let url = self
            .store
            .presigned_url(&key, Duration::from_secs(300))
            .await;
        let url = match url {
            Ok(Some(url)) => url,
            Ok(None) => return,
            Err(e) => panic!("{check}: presigned_url failed: {e:?}"),
        };
        let fetch = fetch.unwrap_or_else(|| {
            panic!(
                "{check}: {} returned a presigned URL; pass a UrlFetcher to check it",
                self.store.backend_name()
            )
        });
        let (status, body) = fetch(url.clone()).await;
        assert_eq!(status, 200, "{check}: GET {url} without credentials");
        assert_eq!(body.len(), data.len(), "{check}: body length");
        assert_eq!(sha256_hex(&body), sha256_hex(&data), "{check}: body sha256");
    }

    /// `list` shows exactly what this run holds (under its prefix) with the right sizes:
    /// nothing from failed or deleted puts.
    async fn listing(&self) {
        let check = "list";
        let mut expected = Vec::new();
        for key in self.used.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            if !expected.iter().any(|(k, _): &(BlobKey, u64)| k == key) {
                expected.push((key.clone(), 0));
            }
        }
        let mut held = Vec::new();
        for (key, _) in expected {
            if let Some(meta) = self.store.metadata(&key).await.expect("metadata") {
                held.push((key, meta.size));
            }
        }
        held.sort();
        let mut listed: Vec<(BlobKey, u64)> = self
            .store
            .list()
            .map(|item| item.expect("list item"))
            .filter(|item| {
                let mine = item.key.as_str().starts_with(&format!("{}/", self.prefix));
                async move { mine }
            })
            .map(|item| (item.key, item.size))
            .collect()
            .await;
        listed.sort();
        assert!(!held.is_empty(), "{check}: the run holds objects to list");
        assert_eq!(
            listed, held,
            "{check}: listed keys and sizes under {}",
            self.prefix
        );
    }

    /// Deletes every key the run used (a passing run leaves a shared bucket clean).
    async fn cleanup(&self) {
        let keys = std::mem::take(&mut *self.used.lock().unwrap_or_else(|e| e.into_inner()));
        for key in keys {
            self.store.delete(&key).await.expect("cleanup delete");
            assert!(
                !self.store.exists(&key).await.expect("exists"),
                "cleanup: {key} still exists"
            );
        }
    }
}
