//! Every object path tfr writes is built here, so storage layout has one owner.
//!
//! Keys are relative, `/`-separated, lower-case where the address is case-insensitive,
//! and made only of safe segments: a key can be put in a URL path or a file path as is.

use std::fmt;

use crate::archive::ArchiveFormat;
use crate::names::{ModuleAddress, ProviderAddress};
use crate::platform::Platform;
use crate::registry_host::RegistryHost;
use crate::version::{ModuleVersion, ProviderVersion};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid blob key {0:?}")]
pub struct BlobKeyError(pub String);

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlobKey(String);

fn safe_segment(seg: &str) -> bool {
    !seg.is_empty()
        && seg != "."
        && seg != ".."
        && seg.len() <= 255
        && seg
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'+'))
}

impl BlobKey {
    /// Parses a key that came from outside (a download link). Refuses anything that could
    /// escape the storage root.
    pub fn parse(value: &str) -> Result<Self, BlobKeyError> {
        if value.len() > 1024 || value.split('/').any(|s| !safe_segment(s)) {
            return Err(BlobKeyError(value.to_string()));
        }
        Ok(Self(value.to_string()))
    }

    /// Every publish writes under its own `upload` id, so a losing concurrent publish of
    /// the same version can delete what it wrote without touching the winner's objects.
    pub fn module_archive(
        addr: &ModuleAddress,
        version: &ModuleVersion,
        format: ArchiveFormat,
        upload: u128,
    ) -> Self {
        let ns = addr.namespace.key();
        let name = addr.name.key();
        let system = addr.system.as_str();
        Self(format!(
            "modules/{ns}/{name}/{system}/{version}/{upload:032x}/{name}-{system}-{version}.{}",
            format.extension()
        ))
    }

    fn provider_dir(addr: &ProviderAddress, version: &ProviderVersion, upload: u128) -> String {
        format!(
            "providers/{}/{}/{version}/{upload:032x}",
            addr.namespace.key(),
            addr.provider_type.as_str()
        )
    }

    pub fn provider_package(
        addr: &ProviderAddress,
        version: &ProviderVersion,
        platform: &Platform,
        upload: u128,
    ) -> Self {
        Self(format!(
            "{}/{}",
            Self::provider_dir(addr, version, upload),
            crate::provider_package::package_filename(&addr.provider_type, version, platform)
        ))
    }

    pub fn provider_shasums(
        addr: &ProviderAddress,
        version: &ProviderVersion,
        upload: u128,
    ) -> Self {
        Self(format!(
            "{}/{}",
            Self::provider_dir(addr, version, upload),
            crate::provider_package::shasums_filename(&addr.provider_type, version)
        ))
    }

    pub fn provider_shasums_signature(
        addr: &ProviderAddress,
        version: &ProviderVersion,
        upload: u128,
    ) -> Self {
        Self(format!(
            "{}/{}.sig",
            Self::provider_dir(addr, version, upload),
            crate::provider_package::shasums_filename(&addr.provider_type, version)
        ))
    }

    /// A package copied from an upstream registry, byte for byte under its upstream file
    /// name. Each fetch writes under its own `upload` id, like publishes do.
    pub fn mirrored_package(
        host: &RegistryHost,
        addr: &ProviderAddress,
        version: &ProviderVersion,
        platform: &Platform,
        upload: u128,
    ) -> Self {
        Self(format!(
            "mirror/{}/{}/{}/{version}/{upload:032x}/{}",
            host.key(),
            addr.namespace.key(),
            addr.provider_type.as_str(),
            crate::provider_package::package_filename(&addr.provider_type, version, platform)
        ))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The last path segment: the file name a client sees.
    pub fn file_name(&self) -> &str {
        self.0.rsplit('/').next().unwrap_or(&self.0)
    }
}

impl fmt::Display for BlobKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
