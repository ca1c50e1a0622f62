//! Reading modules: the protocol's versions and download, and the listing API.

use std::sync::Arc;

use tfr_core::{ModuleAddress, ModuleVersion};

use crate::driven::{
    ModuleListQuery, ModuleRecord, ModuleRepository, ModuleVersionRecord, ModuleWithVersions,
};
use crate::service::{DownloadLinks, ServiceError};

/// A module and one of its versions, for the listing API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleSummary {
    pub module: ModuleRecord,
    pub version: ModuleVersionRecord,
    /// Every version, newest first.
    pub versions: Vec<String>,
}

pub struct ModuleCatalog {
    modules: Arc<dyn ModuleRepository>,
    links: Arc<DownloadLinks>,
}

fn parsed(v: &ModuleVersionRecord) -> Option<ModuleVersion> {
    ModuleVersion::parse(&v.version).ok()
}

/// Versions newest first (semver precedence).
fn sort_newest_first(versions: &mut [ModuleVersionRecord]) {
    versions.sort_by_cached_key(|v| std::cmp::Reverse(parsed(v)));
}

/// The newest release, or the newest prerelease when there is no release.
fn latest(versions: &[ModuleVersionRecord]) -> Option<&ModuleVersionRecord> {
    versions
        .iter()
        .filter_map(|v| parsed(v).map(|p| (p, v)))
        .max_by(|(a, _), (b, _)| (!a.is_prerelease(), a).cmp(&(!b.is_prerelease(), b)))
        .map(|(_, v)| v)
}

fn summary(
    mut found: ModuleWithVersions,
    pick: impl Fn(&[ModuleVersionRecord]) -> Option<&ModuleVersionRecord>,
) -> Option<ModuleSummary> {
    sort_newest_first(&mut found.versions);
    let version = pick(&found.versions)?.clone();
    Some(ModuleSummary {
        versions: found.versions.iter().map(|v| v.version.clone()).collect(),
        module: found.module,
        version,
    })
}

fn not_found(address: &ModuleAddress) -> ServiceError {
    ServiceError::NotFound(format!("module {address} not found"))
}

impl ModuleCatalog {
    pub fn new(modules: Arc<dyn ModuleRepository>, links: Arc<DownloadLinks>) -> Self {
        Self { modules, links }
    }

    /// Every version, newest first, in canonical form.
    pub async fn versions(&self, address: &ModuleAddress) -> Result<Vec<String>, ServiceError> {
        let mut found = self
            .modules
            .find_module(address)
            .await?
            .ok_or_else(|| not_found(address))?;
        sort_newest_first(&mut found.versions);
        Ok(found.versions.into_iter().map(|v| v.version).collect())
    }

    /// The signed archive link for one version; counts the download off the request path.
    pub async fn download_link(
        &self,
        address: &ModuleAddress,
        version: &ModuleVersion,
    ) -> Result<String, ServiceError> {
        let (_, record) = self
            .modules
            .find_version(address, version)
            .await?
            .ok_or_else(|| {
                ServiceError::NotFound(format!("module {address} version {version} not found"))
            })?;
        let link = self.links.link(&record.blob_key).await?;
        let modules = self.modules.clone();
        tokio::spawn(async move {
            if let Err(err) = modules.record_download(record.id).await {
                tracing::warn!(error = %err, "could not record a module download");
            }
        });
        Ok(link)
    }

    /// The newest release (newest prerelease when there are only prereleases).
    pub async fn latest(&self, address: &ModuleAddress) -> Result<ModuleSummary, ServiceError> {
        let found = self
            .modules
            .find_module(address)
            .await?
            .ok_or_else(|| not_found(address))?;
        summary(found, latest).ok_or_else(|| not_found(address))
    }

    /// One version with its README.
    pub async fn version(
        &self,
        address: &ModuleAddress,
        version: &ModuleVersion,
    ) -> Result<ModuleSummary, ServiceError> {
        let (module, record) = self
            .modules
            .find_version(address, version)
            .await?
            .ok_or_else(|| {
                ServiceError::NotFound(format!("module {address} version {version} not found"))
            })?;
        let mut all = self.versions(address).await?;
        all.dedup();
        Ok(ModuleSummary {
            module,
            version: record,
            versions: all,
        })
    }

    /// A page of modules, each with its latest version; `has_more` tells whether another
    /// page follows.
    pub async fn list(
        &self,
        query: &ModuleListQuery,
    ) -> Result<(Vec<ModuleSummary>, bool), ServiceError> {
        let page = self.modules.list(query).await?;
        let items = page
            .items
            .into_iter()
            .filter_map(|m| summary(m, latest))
            .collect();
        Ok((items, page.has_more))
    }
}
