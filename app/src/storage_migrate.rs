//! `tfr storage migrate --to FILE`: copies every blob from the configured store to the
//! store FILE describes, checksum verified, with a progress bar. Resumable: an object the
//! target already holds (same size and, where both record it, same SHA-256) is skipped,
//! and an interrupted copy leaves nothing behind (the port's put contract). Nothing is
//! ever deleted from the source or overwritten in the target.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures::{StreamExt, TryStreamExt};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tfr_ports::driven::{BlobError, BlobListing, BlobMeta, BlobStore, PutExpectation};

use crate::config::{Settings, StorageSettings};

/// Copies at once (each streams; memory per copy is the backends' part size).
pub const DEFAULT_CONCURRENCY: usize = 4;

#[derive(Debug, Default)]
pub struct MigrationReport {
    pub objects: u64,
    pub copied: u64,
    pub copied_bytes: u64,
    pub skipped: u64,
    /// Copies checked against a SHA-256 the source recorded (the rest by size, with the
    /// SHA-256 of the bytes sent recorded in the target).
    pub verified_sha256: u64,
    pub failed: Vec<String>,
}

#[derive(Default)]
struct Counters {
    copied: AtomicU64,
    copied_bytes: AtomicU64,
    skipped: AtomicU64,
    verified_sha256: AtomicU64,
}

enum Outcome {
    Copied { bytes: u64, by_sha256: bool },
    Skipped,
}

/// Runs the migration described by `settings` (source) and `to_file` (target).
pub async fn run(settings: &Settings, to_file: &Path, concurrency: usize) -> anyhow::Result<()> {
    let target_settings = Settings::load_storage_file(to_file).map_err(anyhow::Error::new)?;
    let source_desc = settings.storage.describe(&settings.data_dir);
    let target_desc = target_settings.describe(&settings.data_dir);
    if source_desc == target_desc && same_endpoint(&settings.storage, &target_settings) {
        bail!("the target ({target_desc}) is the configured store itself");
    }
    let source = crate::storage::open_checked(&settings.storage, &settings.data_dir)
        .await
        .map_err(anyhow::Error::new)?;
    let target = crate::storage::open_checked(&target_settings, &settings.data_dir)
        .await
        .map_err(|e| anyhow::anyhow!("target {to_file:?}: {e}"))?;
    eprintln!("copying blobs from {source_desc} to {target_desc}");
    let report = migrate(source, target, concurrency, true).await?;
    eprintln!(
        "{} objects: {} copied ({} bytes; {} checked against the source's SHA-256, the rest by size), {} already in the target, {} failed",
        report.objects,
        report.copied,
        report.copied_bytes,
        report.verified_sha256,
        report.skipped,
        report.failed.len()
    );
    if !report.failed.is_empty() {
        for failure in &report.failed {
            eprintln!("failed: {failure}");
        }
        bail!(
            "{} objects were not copied; run the command again to retry them (copied objects are skipped)",
            report.failed.len()
        );
    }
    eprintln!(
        "done: nothing was deleted from the source. Switch the configuration to the target (and run this again first if tfr kept writing)."
    );
    Ok(())
}

fn same_endpoint(a: &StorageSettings, b: &StorageSettings) -> bool {
    match (a, b) {
        (StorageSettings::S3(x), StorageSettings::S3(y)) => x.endpoint == y.endpoint,
        (StorageSettings::Azure(x), StorageSettings::Azure(y)) => {
            x.endpoint == y.endpoint && x.account == y.account
        }
        (StorageSettings::Gcs(x), StorageSettings::Gcs(y)) => x.endpoint == y.endpoint,
        _ => true,
    }
}

/// Copies every object of `source` missing from `target`. `progress` draws a bar on
/// stderr (hidden when stderr is not a terminal).
pub async fn migrate(
    source: Arc<dyn BlobStore>,
    target: Arc<dyn BlobStore>,
    concurrency: usize,
    progress: bool,
) -> anyhow::Result<MigrationReport> {
    let listing: Vec<BlobListing> = source
        .list()
        .try_collect()
        .await
        .context("listing the source store")?;
    let total_bytes: u64 = listing.iter().map(|l| l.size).sum();
    let bar = progress_bar(total_bytes, listing.len() as u64, progress);
    let counters = Arc::new(Counters::default());
    let started = Instant::now();

    let failures: Vec<String> = futures::stream::iter(listing.iter().cloned())
        .map(|item| {
            let (source, target, bar, counters) = (
                source.clone(),
                target.clone(),
                bar.clone(),
                counters.clone(),
            );
            async move {
                let result = copy_one(&*source, &*target, &item).await;
                bar.inc(item.size);
                match result {
                    Ok(Outcome::Copied { bytes, by_sha256 }) => {
                        counters.copied.fetch_add(1, Ordering::Relaxed);
                        counters.copied_bytes.fetch_add(bytes, Ordering::Relaxed);
                        if by_sha256 {
                            counters.verified_sha256.fetch_add(1, Ordering::Relaxed);
                        }
                        None
                    }
                    Ok(Outcome::Skipped) => {
                        counters.skipped.fetch_add(1, Ordering::Relaxed);
                        None
                    }
                    Err(e) => {
                        tracing::warn!(key = %item.key, error = %e, "blob not copied");
                        Some(format!("{}: {e:#}", item.key))
                    }
                }
            }
        })
        .buffer_unordered(concurrency.max(1))
        .filter_map(|failure| async move { failure })
        .collect()
        .await;
    bar.finish_and_clear();
    tracing::info!(
        objects = listing.len(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "storage migration pass finished"
    );
    Ok(MigrationReport {
        objects: listing.len() as u64,
        copied: counters.copied.load(Ordering::Relaxed),
        copied_bytes: counters.copied_bytes.load(Ordering::Relaxed),
        skipped: counters.skipped.load(Ordering::Relaxed),
        verified_sha256: counters.verified_sha256.load(Ordering::Relaxed),
        failed: failures,
    })
}

fn progress_bar(total_bytes: u64, objects: u64, visible: bool) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(
        Some(total_bytes),
        if visible {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        },
    );
    if let Ok(style) = ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ({bytes_per_sec}, eta {eta}) {msg}",
    ) {
        bar.set_style(style);
    }
    bar.set_message(format!("{objects} objects"));
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// Copies one object unless the target holds it already. The put is checked against
/// the source's recorded size and SHA-256, so a corrupted read never lands.
async fn copy_one(
    source: &dyn BlobStore,
    target: &dyn BlobStore,
    item: &BlobListing,
) -> anyhow::Result<Outcome> {
    let key = &item.key;
    let Some(source_meta) = source.metadata(key).await.context("reading the source")? else {
        // Deleted since the listing (a version was removed): nothing to copy.
        return Ok(Outcome::Skipped);
    };
    if let Some(existing) = target.metadata(key).await.context("checking the target")? {
        return same_object(&source_meta, &existing).map(|()| Outcome::Skipped);
    }
    let Some(object) = source.get(key).await.context("reading the source")? else {
        return Ok(Outcome::Skipped);
    };
    let expect = PutExpectation {
        sha256: source_meta.sha256.clone(),
        size: Some(source_meta.size),
        content_type: source_meta.content_type.clone(),
    };
    match target.put(key, object.body, expect).await {
        Ok(meta) => Ok(Outcome::Copied {
            bytes: meta.size,
            by_sha256: source_meta.sha256.is_some(),
        }),
        // Written meanwhile (a concurrent run): fine when it is the same object.
        Err(BlobError::AlreadyExists(_)) => {
            let existing = target
                .metadata(key)
                .await
                .context("checking the target")?
                .context("the target reported the object present, then absent")?;
            same_object(&source_meta, &existing).map(|()| Outcome::Skipped)
        }
        Err(e) => Err(anyhow::Error::new(e).context("writing the target")),
    }
}

/// An object already in the target must be the source's (never overwritten).
fn same_object(source: &BlobMeta, target: &BlobMeta) -> anyhow::Result<()> {
    if source.size != target.size {
        bail!(
            "the target already holds a different object ({} bytes, the source has {}); it is left as is",
            target.size,
            source.size
        );
    }
    if let (Some(a), Some(b)) = (&source.sha256, &target.sha256)
        && !a.eq_ignore_ascii_case(b)
    {
        bail!(
            "the target already holds a different object (sha256 {b}, the source has {a}); it is left as is"
        );
    }
    Ok(())
}
