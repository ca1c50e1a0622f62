//! The read cache behind `terraform init`'s hot paths.
//!
//! A module's or provider's versions are read once per TTL (or after a local publish or
//! delete) and then served from memory, so the versions and download endpoints cost the
//! same with 20 versions or 2,000 and never query the database while the entry is fresh.
//! Other replicas see a change when their entry expires: the TTL (plus one refresh) bounds
//! the staleness. See [`TtlMap`](super::ttl_map) for refresh and miss handling.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tfr_core::{ModuleAddress, ModuleVersion, ProviderAddress, ProviderVersion};

use super::ttl_map::TtlMap;
use crate::driven::{
    ModuleRecord, ModuleVersionRecord, ModuleWithVersions, ProviderRecord, ProviderVersionRecord,
    ProviderWithVersions, RepoError,
};

/// A module with its versions newest first, indexed by canonical version.
#[derive(Debug)]
pub struct CachedModule {
    pub module: ModuleRecord,
    /// Newest first (semver precedence).
    pub versions: Vec<ModuleVersionRecord>,
    index: HashMap<String, usize>,
}

impl CachedModule {
    pub fn new(found: ModuleWithVersions) -> Self {
        let mut versions = found.versions;
        versions.sort_by_cached_key(|v| std::cmp::Reverse(ModuleVersion::parse(&v.version).ok()));
        let index = versions
            .iter()
            .enumerate()
            .map(|(i, v)| (v.version.clone(), i))
            .collect();
        Self {
            module: found.module,
            versions,
            index,
        }
    }

    pub fn version(&self, version: &str) -> Option<&ModuleVersionRecord> {
        self.index.get(version).map(|&i| &self.versions[i])
    }
}

/// A provider with its versions newest first (platforms sorted), indexed by version.
#[derive(Debug)]
pub struct CachedProvider {
    pub provider: ProviderRecord,
    /// Newest first (semver precedence).
    pub versions: Vec<ProviderVersionRecord>,
    index: HashMap<String, usize>,
}

impl CachedProvider {
    pub fn new(found: ProviderWithVersions) -> Self {
        let mut versions = found.versions;
        versions.sort_by_cached_key(|v| std::cmp::Reverse(ProviderVersion::parse(&v.version).ok()));
        for v in &mut versions {
            v.platforms.sort_by(|a, b| a.platform.cmp(&b.platform));
        }
        let index = versions
            .iter()
            .enumerate()
            .map(|(i, v)| (v.version.clone(), i))
            .collect();
        Self {
            provider: found.provider,
            versions,
            index,
        }
    }

    pub fn version(&self, version: &str) -> Option<&ProviderVersionRecord> {
        self.index.get(version).map(|&i| &self.versions[i])
    }
}

/// Shared by the catalogs (which fill it) and the publish and delete use cases (which
/// drop what they change).
pub struct CatalogCache {
    ttl: Duration,
    modules: TtlMap<String, CachedModule>,
    providers: TtlMap<String, CachedProvider>,
}

fn module_key(address: &ModuleAddress) -> String {
    format!(
        "{}/{}/{}",
        address.namespace.key(),
        address.name.key(),
        address.system.as_str()
    )
}

fn provider_key(address: &ProviderAddress) -> String {
    format!(
        "{}/{}",
        address.namespace.key(),
        address.provider_type.as_str()
    )
}

impl CatalogCache {
    /// `ttl` of zero turns caching off.
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            modules: TtlMap::new(),
            providers: TtlMap::new(),
        }
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// The module from the cache, or from `load` (one caller per address at a time).
    pub(crate) async fn module<F, Fut>(
        &self,
        address: &ModuleAddress,
        load: F,
    ) -> Result<Option<Arc<CachedModule>>, RepoError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Option<CachedModule>, RepoError>>,
    {
        if self.ttl.is_zero() {
            return Ok(load().await?.map(Arc::new));
        }
        self.modules
            .get_or_load(module_key(address), self.ttl, load)
            .await
    }

    pub fn invalidate_module(&self, address: &ModuleAddress) {
        self.modules.remove(&module_key(address));
    }

    /// The provider from the cache, or from `load` (one caller per address at a time).
    pub(crate) async fn provider<F, Fut>(
        &self,
        address: &ProviderAddress,
        load: F,
    ) -> Result<Option<Arc<CachedProvider>>, RepoError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Option<CachedProvider>, RepoError>>,
    {
        if self.ttl.is_zero() {
            return Ok(load().await?.map(Arc::new));
        }
        self.providers
            .get_or_load(provider_key(address), self.ttl, load)
            .await
    }

    pub fn invalidate_provider(&self, address: &ProviderAddress) {
        self.providers.remove(&provider_key(address));
    }
}
