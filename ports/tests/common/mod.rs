//! Shared wiring for the use-case tests: staged files from bytes and the fakes.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use tfr_ports::StagedFile;
use tfr_ports::service::DownloadLinks;
use tfr_ports::testkit::ManualClock;
use tfr_ports::testkit::blob::{InMemoryBlobStore, sha256_hex};
use tfr_ports::testkit::security::FakeUrlSigner;

/// A staged upload holding `data`, in its own temporary directory (removed on drop).
pub fn staged(data: &[u8]) -> StagedFile {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("upload");
    std::fs::write(&path, data).expect("write staged file");
    StagedFile::new(
        path,
        data.len() as u64,
        sha256_hex(data),
        Some(Box::new(dir)),
    )
}

/// A cache like production's: long enough that only invalidation refreshes it in a test.
pub fn cache() -> Arc<tfr_ports::service::CatalogCache> {
    Arc::new(tfr_ports::service::CatalogCache::new(Duration::from_secs(
        600,
    )))
}

pub const LINK_TTL: Duration = Duration::from_secs(300);

pub fn links(blobs: Arc<InMemoryBlobStore>, clock: Arc<ManualClock>) -> Arc<DownloadLinks> {
    Arc::new(DownloadLinks::new(
        blobs,
        Arc::new(FakeUrlSigner),
        clock,
        LINK_TTL,
        None,
    ))
}
