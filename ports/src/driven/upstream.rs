//! Upstream provider registries (registry.terraform.io, registry.opentofu.org, any
//! registry speaking the Provider Registry Protocol): the `UpstreamRegistry` port.

use async_trait::async_trait;
use tfr_core::{Platform, ProviderAddress, ProviderVersion, RegistryHost};

use crate::stream::ByteStream;

/// One entry of an upstream versions list, as sent. The version string is not parsed
/// here: the caller skips entries it cannot use, as Terraform 1.13+ does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamVersion {
    pub version: String,
    pub protocols: Vec<String>,
    pub platforms: Vec<Platform>,
}

/// An upstream download document for one platform. URLs are absolute (relative ones are
/// resolved against the document's URL by the adapter).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamPackage {
    pub protocols: Vec<String>,
    pub filename: String,
    pub download_url: String,
    pub shasums_url: String,
    pub shasums_signature_url: String,
    /// Lower-case hex SHA-256 of the zip, as upstream claims it.
    pub shasum: String,
    /// ASCII-armored public keys upstream offers for the SHA256SUMS signature.
    pub signing_keys: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// Upstream answered 404: no such provider, version or platform.
    #[error("{0}")]
    NotFound(String),
    /// Connection refused, timed out, or 429/5xx after every retry.
    #[error("upstream {host} is unavailable: {reason}")]
    Unavailable { host: String, reason: String },
    /// Upstream answered something the protocol does not allow.
    #[error("upstream {host} sent an invalid response: {reason}")]
    Protocol { host: String, reason: String },
    /// A document larger than the caller allowed.
    #[error("upstream document {url} exceeds {limit} bytes")]
    TooLarge { url: String, limit: u64 },
}

#[async_trait]
pub trait UpstreamRegistry: Send + Sync {
    /// `GET {providers.v1}{namespace}/{type}/versions` (service discovery first, cached).
    async fn provider_versions(
        &self,
        host: &RegistryHost,
        address: &ProviderAddress,
    ) -> Result<Vec<UpstreamVersion>, UpstreamError>;

    /// `GET {providers.v1}{namespace}/{type}/{version}/download/{os}/{arch}`.
    async fn package(
        &self,
        host: &RegistryHost,
        address: &ProviderAddress,
        version: &ProviderVersion,
        platform: &Platform,
    ) -> Result<UpstreamPackage, UpstreamError>;

    /// A small document (SHA256SUMS, its signature) read whole, at most `max_bytes`.
    async fn fetch_document(&self, url: &str, max_bytes: u64) -> Result<Vec<u8>, UpstreamError>;

    /// A package body, streamed through the long-timeout client. A failure after the
    /// response started surfaces as an error item of the stream.
    async fn download(&self, url: &str) -> Result<ByteStream, UpstreamError>;
}
