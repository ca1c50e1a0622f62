//! tfr-archive: the archive inspector.
//!
//! [`SafeArchiveInspector`] walks module archives (`.tar.gz`, `.zip`) and provider zips
//! entry by entry on a blocking thread, handing every entry and every inflated byte to
//! `tfr_core::archive::ArchiveAudit`, which applies the rules. Nothing is extracted to
//! disk. Sizes come from the bytes actually inflated, never from headers, and the whole
//! decompressed stream is capped too, so a bomb stops at the limit.

mod capped;
mod tar_gz;
mod walk;
mod zip_walk;

use async_trait::async_trait;
use tfr_core::{ArchiveFormat, ArchiveLimits, ArchiveViolation, ProviderType};
use tfr_ports::StagedFile;
use tfr_ports::driven::{ArchiveInspector, ModuleArchiveInfo, ProviderZipError, ProviderZipInfo};

/// Inspects staged uploads without extracting them.
///
/// Module archives:
/// - `.tar.gz`: a single gzip member holding a tar stream; trailing bytes after the gzip
///   member, a truncated stream or a short entry are `Malformed`. Regular and contiguous
///   files are files; symlinks, hardlinks, devices, FIFOs and GNU sparse files are
///   refused; pax global headers (as `git archive` writes) are skipped.
/// - `.zip`: deflate or stored entries; names are checked as stored (raw bytes, which must
///   be UTF-8), never through the zip crate's sanitised names; symlinks and special files
///   are recognised from the Unix mode in the external attributes; duplicate names are
///   `Malformed`.
///
/// Provider zips follow the zip rules and must hold a top-level
/// `terraform-provider-<type>[_.]…` file with an executable bit; the `h1:` hash is Go's
/// `dirhash.HashZip` over the entries as stored.
#[derive(Debug, Default, Clone, Copy)]
pub struct SafeArchiveInspector;

impl SafeArchiveInspector {
    pub fn new() -> Self {
        Self
    }
}

#[async_trait]
impl ArchiveInspector for SafeArchiveInspector {
    async fn inspect_module(
        &self,
        file: &StagedFile,
        format: ArchiveFormat,
        limits: ArchiveLimits,
    ) -> Result<ModuleArchiveInfo, ArchiveViolation> {
        let path = file.path().to_path_buf();
        tokio::task::spawn_blocking(move || match format {
            ArchiveFormat::TarGz => tar_gz::inspect_module(&path, limits),
            ArchiveFormat::Zip => zip_walk::inspect_module(&path, limits),
        })
        .await
        .map_err(|e| ArchiveViolation::Malformed(format!("archive inspection stopped: {e}")))?
    }

    async fn inspect_provider_zip(
        &self,
        file: &StagedFile,
        provider_type: &ProviderType,
        limits: ArchiveLimits,
    ) -> Result<ProviderZipInfo, ProviderZipError> {
        let path = file.path().to_path_buf();
        let provider_type = provider_type.clone();
        tokio::task::spawn_blocking(move || {
            zip_walk::inspect_provider(&path, &provider_type, limits)
        })
        .await
        .map_err(|e| ProviderZipError::Malformed(format!("archive inspection stopped: {e}")))?
    }

    async fn hash_zip(
        &self,
        file: &StagedFile,
        limits: ArchiveLimits,
    ) -> Result<String, ProviderZipError> {
        let path = file.path().to_path_buf();
        tokio::task::spawn_blocking(move || zip_walk::hash_zip(&path, limits))
            .await
            .map_err(|e| ProviderZipError::Malformed(format!("zip inspection stopped: {e}")))?
    }
}
