//! The read cache behind `terraform init`'s hot paths.
//!
//! A module's or provider's versions are read once per TTL (or after a local publish or
//! delete) and then served from memory, so the versions and download endpoints cost the
//! same with 20 versions or 2,000 and never query the database while the entry is fresh.
//! Other replicas see a change when their entry expires: the TTL (plus one refresh) bounds
//! the staleness. An expired entry is refreshed by one caller while the rest are still
//! served the old value, which also rides out a short database outage (up to 30 s).

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tfr_core::{ModuleAddress, ModuleVersion, ProviderAddress, ProviderVersion};

use crate::driven::{
    ModuleRecord, ModuleVersionRecord, ModuleWithVersions, ProviderRecord, ProviderVersionRecord,
    ProviderWithVersions,
};

/// Entries kept before expired ones are swept (and, if still full, all are dropped).
const MAX_ENTRIES: usize = 50_000;

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

/// How long past its TTL a value may still be served while one caller refreshes it (or
/// while the database is unreachable).
const MAX_STALE: Duration = Duration::from_secs(30);

/// While one caller refreshes an expired entry, the others keep getting the old value
/// for this long before another caller tries.
const REFRESH_WINDOW: Duration = Duration::from_secs(5);

/// What a lookup found.
pub(crate) enum Lookup<V> {
    Fresh(Option<Arc<V>>),
    /// Expired: this caller should refresh it; the old value is there to fall back on.
    Refresh(Option<Arc<V>>),
    Miss,
}

/// A small TTL map with stale-while-revalidate: when an entry expires, one caller
/// refreshes it while everyone else is still answered from memory, so expiry never sends
/// a burst of identical queries to the database. `None` values cache "not found" too.
struct TtlMap<K, V> {
    entries: Mutex<HashMap<K, Entry<V>>>,
}

struct Entry<V> {
    fresh_until: Instant,
    stale_until: Instant,
    value: Option<Arc<V>>,
}

impl<K: Eq + Hash, V> TtlMap<K, V> {
    fn new() -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn get(&self, key: &K) -> Lookup<V> {
        let now = Instant::now();
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        match entries.get_mut(key) {
            Some(entry) if entry.fresh_until > now => Lookup::Fresh(entry.value.clone()),
            Some(entry) if entry.stale_until > now => {
                entry.fresh_until = now + REFRESH_WINDOW;
                Lookup::Refresh(entry.value.clone())
            }
            _ => Lookup::Miss,
        }
    }

    fn put(&self, key: K, value: Option<Arc<V>>, ttl: Duration) {
        let now = Instant::now();
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= MAX_ENTRIES {
            entries.retain(|_, entry| entry.stale_until > now);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        let entry = Entry {
            fresh_until: now + ttl,
            stale_until: now + ttl + MAX_STALE,
            value,
        };
        entries.insert(key, entry);
    }

    fn remove(&self, key: &K) {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key);
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

    pub(crate) fn module(&self, address: &ModuleAddress) -> Lookup<CachedModule> {
        if self.ttl.is_zero() {
            return Lookup::Miss;
        }
        self.modules.get(&module_key(address))
    }

    pub(crate) fn put_module(&self, address: &ModuleAddress, value: Option<Arc<CachedModule>>) {
        if !self.ttl.is_zero() {
            self.modules.put(module_key(address), value, self.ttl);
        }
    }

    pub fn invalidate_module(&self, address: &ModuleAddress) {
        self.modules.remove(&module_key(address));
    }

    pub(crate) fn provider(&self, address: &ProviderAddress) -> Lookup<CachedProvider> {
        if self.ttl.is_zero() {
            return Lookup::Miss;
        }
        self.providers.get(&provider_key(address))
    }

    pub(crate) fn put_provider(
        &self,
        address: &ProviderAddress,
        value: Option<Arc<CachedProvider>>,
    ) {
        if !self.ttl.is_zero() {
            self.providers.put(provider_key(address), value, self.ttl);
        }
    }

    pub fn invalidate_provider(&self, address: &ProviderAddress) {
        self.providers.remove(&provider_key(address));
    }
}
