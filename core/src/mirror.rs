//! What a mirror configuration lets through: the domain rules shared by the scheduled
//! sync (which providers to fetch) and pull-through (whether a request may reach
//! upstream).

use crate::constraint::VersionConstraint;
use crate::names::ProviderAddress;
use crate::platform::Platform;
use crate::version::ProviderVersion;

/// Filters of one mirror configuration. Empty lists mean "any".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MirrorFilter {
    /// Lower-case upstream namespaces (`hashicorp`).
    pub namespaces: Vec<String>,
    /// Lower-case provider types (`aws`).
    pub provider_types: Vec<String>,
    pub versions: Option<VersionConstraint>,
    pub platforms: Vec<Platform>,
}

impl MirrorFilter {
    pub fn allows_provider(&self, address: &ProviderAddress) -> bool {
        let ns = address.namespace.key();
        let ty = address.provider_type.as_str();
        (self.namespaces.is_empty() || self.namespaces.contains(&ns))
            && (self.provider_types.is_empty() || self.provider_types.iter().any(|t| t == ty))
    }

    pub fn allows_version(&self, version: &ProviderVersion) -> bool {
        self.versions.as_ref().is_none_or(|c| c.matches(version))
    }

    pub fn allows_platform(&self, platform: &Platform) -> bool {
        self.platforms.is_empty() || self.platforms.contains(platform)
    }

    /// The providers a scheduled sync fetches: every namespace with every type. A
    /// registry protocol cannot list a namespace, so a configuration without both lists
    /// only serves pull-through.
    pub fn sync_targets(&self) -> Vec<ProviderAddress> {
        let mut out = Vec::new();
        for ns in &self.namespaces {
            for ty in &self.provider_types {
                if let Ok(address) = ProviderAddress::parse(ns, ty) {
                    out.push(address);
                }
            }
        }
        out
    }
}
