//! Archive inspection: reading module archives and provider zips to apply core's rules.

use async_trait::async_trait;
use tfr_core::{ArchiveFormat, ArchiveLimits, ArchiveSummary, ArchiveViolation, ProviderType};

use crate::stream::StagedFile;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleArchiveInfo {
    pub summary: ArchiveSummary,
    /// The root README's text (capped at `tfr_core::archive::MAX_README_BYTES`).
    pub readme: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderZipInfo {
    /// The executable Terraform will run.
    pub binary_name: String,
    /// `h1:` of the zip (Go dirhash HashZip).
    pub h1: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderZipError {
    #[error("not a valid zip archive: {0}")]
    Malformed(String),
    #[error("{0}")]
    Unsafe(ArchiveViolation),
    #[error("no executable file starting with terraform-provider-{0} at the top of the zip")]
    NoBinary(String),
    #[error("{0} is not executable (zip it with mode 0755)")]
    NotExecutable(String),
}

#[async_trait]
pub trait ArchiveInspector: Send + Sync {
    /// Walks a module archive, applying every rule in `tfr_core::archive`.
    async fn inspect_module(
        &self,
        file: &StagedFile,
        format: ArchiveFormat,
        limits: ArchiveLimits,
    ) -> Result<ModuleArchiveInfo, ArchiveViolation>;

    /// Checks a provider package zip: safe paths, within limits, holding the provider
    /// executable with its executable bit set.
    async fn inspect_provider_zip(
        &self,
        file: &StagedFile,
        provider_type: &ProviderType,
        limits: ArchiveLimits,
    ) -> Result<ProviderZipInfo, ProviderZipError>;

    /// The `h1:` of a zip copied from an upstream registry: the safety rules and limits
    /// apply, the provider-binary rules do not (upstream's bytes are served as they are).
    async fn hash_zip(
        &self,
        file: &StagedFile,
        limits: ArchiveLimits,
    ) -> Result<String, ProviderZipError>;
}
