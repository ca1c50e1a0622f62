//! `InMemoryBlobStore`, a fake for use-case tests, and `blob_store_contract`, the suite
//! every `BlobStore` adapter (and the fake) runs.
//!
//! # Running the contract from an adapter
//!
//! ```ignore
//! #[tokio::test]
//! async fn fs_store_honours_the_blob_contract() {
//!     let dir = tempfile::tempdir().unwrap();
//!     let store = FsBlobStore::new(dir.path().to_path_buf()).unwrap();
//!     tfr_ports::testkit::blob::blob_store_contract(&store, None).await;
//! }
//! ```
//!
//! A backend that signs its own URLs (S3, Azure, GCS) passes a [`UrlFetcher`]: a closure
//! that GETs a URL *without credentials* and returns `(status, body)`, so ports need not
//! depend on an HTTP client:
//!
//! ```ignore
//! let client = reqwest::Client::new();
//! let fetch = move |url: String| -> BoxFuture<'static, (u16, Vec<u8>)> {
//!     let client = client.clone();
//!     Box::pin(async move {
//!         let resp = client.get(url).send().await.unwrap();
//!         let status = resp.status().as_u16();
//!         (status, resp.bytes().await.unwrap().to_vec())
//!     })
//! };
//! blob_store_contract(&store, Some(&fetch)).await;
//! ```
//!
//! Every run writes under `contract/<uuid>/`, so runs can share a bucket or an emulator,
//! and deletes what it wrote when it passes. A failing check panics with its name.

mod contract;
mod memory;
#[cfg(test)]
mod tests;

pub use contract::{
    ContractOptions, UrlFetcher, blob_store_contract, blob_store_contract_with, payload,
};
pub use memory::InMemoryBlobStore;

use std::io;

use bytes::Bytes;
use futures::{StreamExt, stream};
use sha2::{Digest, Sha256};

use crate::stream::ByteStream;

// ---------------------------------------------------------------------------------------
// Helpers shared by the fake, the contract and other tests
// ---------------------------------------------------------------------------------------

/// Lower-case hex SHA-256 of `data`.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// A body stream yielding `data` in chunks of at most 8 KiB (several chunks, so consumers
/// are exercised on chunk boundaries).
pub fn bytes_stream(data: impl Into<Bytes>) -> ByteStream {
    let data: Bytes = data.into();
    let chunks: Vec<io::Result<Bytes>> = (0..data.len())
        .step_by(8 * 1024)
        .map(|start| Ok(data.slice(start..(start + 8 * 1024).min(data.len()))))
        .collect();
    Box::pin(stream::iter(chunks))
}

/// A staged copy of `data` (via [`crate::stream::stage_stream`], as uploads are staged)
/// in a fresh temporary directory, which the caller removes.
pub async fn stage_bytes(data: &[u8]) -> (crate::stream::StagedFile, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("tfr-staged-{}", uuid::Uuid::new_v4()));
    let staged = crate::stream::stage_stream(bytes_stream(data.to_vec()), &dir, u64::MAX)
        .await
        .expect("staging a file");
    (staged, dir)
}

/// Drains a body stream into memory (tests only: production code streams).
pub async fn read_all(mut body: ByteStream) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    while let Some(chunk) = body.next().await {
        out.extend_from_slice(&chunk?);
    }
    Ok(out)
}
