//! Reading modules: the protocol's versions and download, and the listing API. The
//! protocol reads are served from the [`CatalogCache`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tfr_core::{ModuleAddress, ModuleVersion};
use uuid::Uuid;

use crate::driven::{
    ModuleListQuery, ModuleRecord, ModuleRepository, ModuleVersionRecord, ModuleWithVersions,
};
use crate::service::catalog_cache::{CachedModule, CatalogCache};
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
    cache: Arc<CatalogCache>,
    /// Downloads counted since the last flush, written in batches off the request path.
    pending_downloads: Mutex<HashMap<Uuid, u64>>,
}

/// The newest release, or the newest prerelease when there is no release. `versions` is
/// newest first.
fn latest(versions: &[ModuleVersionRecord]) -> Option<&ModuleVersionRecord> {
    versions
        .iter()
        .find(|v| ModuleVersion::parse(&v.version).is_ok_and(|p| !p.is_prerelease()))
        .or_else(|| versions.first())
}

fn not_found(address: &ModuleAddress) -> ServiceError {
    ServiceError::NotFound(format!("module {address} not found"))
}

fn version_not_found(address: &ModuleAddress, version: &ModuleVersion) -> ServiceError {
    ServiceError::NotFound(format!("module {address} version {version} not found"))
}

impl ModuleCatalog {
    pub fn new(
        modules: Arc<dyn ModuleRepository>,
        links: Arc<DownloadLinks>,
        cache: Arc<CatalogCache>,
    ) -> Self {
        Self {
            modules,
            links,
            cache,
            pending_downloads: Mutex::new(HashMap::new()),
        }
    }

    /// The module with its versions: from the cache, or one query.
    async fn cached(
        &self,
        address: &ModuleAddress,
    ) -> Result<Option<Arc<CachedModule>>, ServiceError> {
        let modules = &self.modules;
        let found = self
            .cache
            .module(address, || async move {
                Ok(modules.find_module(address).await?.map(CachedModule::new))
            })
            .await?;
        Ok(found)
    }

    /// The module and every version, newest first. The same `Arc` comes back while the
    /// cache entry lives, so callers may memoise work keyed on it.
    pub async fn versions(
        &self,
        address: &ModuleAddress,
    ) -> Result<Arc<CachedModule>, ServiceError> {
        self.cached(address)
            .await?
            .ok_or_else(|| not_found(address))
    }

    /// The signed archive link for one version; the download is counted in memory.
    pub async fn download_link(
        &self,
        address: &ModuleAddress,
        version: &ModuleVersion,
    ) -> Result<String, ServiceError> {
        let canonical = version.to_string();
        let cached = self.cached(address).await?;
        let (id, key) = match cached.as_ref().and_then(|m| m.version(&canonical)) {
            Some(record) => (record.id, record.blob_key.clone()),
            // Published on another replica since the entry was filled: ask the database.
            None => {
                let (_, record) = self
                    .modules
                    .find_version(address, version)
                    .await?
                    .ok_or_else(|| version_not_found(address, version))?;
                (record.id, record.blob_key)
            }
        };
        let link = self.links.link(&key).await?;
        *self
            .pending_downloads
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(id)
            .or_default() += 1;
        Ok(link)
    }

    /// Writes the download counts gathered since the last call. Best effort: counts that
    /// fail to write are logged and dropped.
    pub async fn flush_downloads(&self) {
        let pending = std::mem::take(
            &mut *self
                .pending_downloads
                .lock()
                .unwrap_or_else(|e| e.into_inner()),
        );
        for (id, count) in pending {
            if let Err(err) = self.modules.record_downloads(id, count).await {
                tracing::warn!(version_id = %id, count, error = %err, "could not record module downloads");
            }
        }
    }

    /// The newest release (newest prerelease when there are only prereleases).
    pub async fn latest(&self, address: &ModuleAddress) -> Result<ModuleSummary, ServiceError> {
        let cached = self.versions(address).await?;
        let version = latest(&cached.versions)
            .ok_or_else(|| not_found(address))?
            .clone();
        Ok(ModuleSummary {
            module: cached.module.clone(),
            version,
            versions: cached.versions.iter().map(|v| v.version.clone()).collect(),
        })
    }

    /// One version with its README (always read from the database).
    pub async fn version(
        &self,
        address: &ModuleAddress,
        version: &ModuleVersion,
    ) -> Result<ModuleSummary, ServiceError> {
        let (module, record) = self
            .modules
            .find_version(address, version)
            .await?
            .ok_or_else(|| version_not_found(address, version))?;
        let cached = self.versions(address).await?;
        Ok(ModuleSummary {
            module,
            version: record,
            versions: cached.versions.iter().map(|v| v.version.clone()).collect(),
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
            .filter_map(|found: ModuleWithVersions| {
                let cached = CachedModule::new(found);
                let version = latest(&cached.versions)?.clone();
                Some(ModuleSummary {
                    versions: cached.versions.iter().map(|v| v.version.clone()).collect(),
                    module: cached.module,
                    version,
                })
            })
            .collect();
        Ok((items, page.has_more))
    }
}
