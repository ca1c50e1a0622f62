//! `InMemoryModuleRepository`.

use std::sync::Mutex;

use async_trait::async_trait;
use tfr_core::{ModuleAddress, ModuleVersion};
use uuid::Uuid;

use super::{InMemoryNamespaceRepository, lock, page, search_term, without_readme};
use crate::driven::{
    ModuleListQuery, ModulePage, ModuleRecord, ModuleRepository, ModuleVersionRecord,
    ModuleWithVersions, NewModuleVersion, RepoError,
};

#[derive(Debug, Default)]
struct ModuleState {
    modules: Vec<(String, String, ModuleRecord)>,
    versions: Vec<ModuleVersionRecord>,
}

impl ModuleState {
    fn module(&self, address: &ModuleAddress) -> Option<&ModuleRecord> {
        let (ns, name) = (address.namespace.key(), address.name.key());
        self.modules
            .iter()
            .find(|(n, k, m)| *n == ns && *k == name && m.system == address.system.as_str())
            .map(|(_, _, m)| m)
    }
    /// The versions of a module as the read paths return them: without README text.
    fn versions_of(&self, module_id: Uuid) -> Vec<ModuleVersionRecord> {
        let mut out: Vec<_> = self
            .versions
            .iter()
            .filter(|v| v.module_id == module_id)
            .map(without_readme)
            .collect();
        out.sort_by_key(|v| v.id);
        out
    }
}

/// Modules in memory, with the adapters' matching rules. Namespaces live in an
/// [`InMemoryNamespaceRepository`] (its own, or one shared with other fakes).
#[derive(Debug, Default)]
pub struct InMemoryModuleRepository {
    state: Mutex<ModuleState>,
    namespaces: InMemoryNamespaceRepository,
}

impl InMemoryModuleRepository {
    pub fn new() -> Self {
        Self::default()
    }

    /// Modules whose namespaces are created in, and filtered by, `namespaces`.
    pub fn with_namespaces(namespaces: &InMemoryNamespaceRepository) -> Self {
        Self {
            state: Mutex::default(),
            namespaces: namespaces.clone(),
        }
    }
}

#[async_trait]
impl ModuleRepository for InMemoryModuleRepository {
    async fn insert_version(
        &self,
        new: NewModuleVersion,
    ) -> Result<ModuleVersionRecord, RepoError> {
        let mut s = lock(&self.state);
        let version = new.version.to_string();
        if let Some(module) = s.module(&new.address)
            && s.versions
                .iter()
                .any(|v| v.module_id == module.id && v.version == version)
        {
            return Err(RepoError::Conflict(format!(
                "module {} version {version} already exists",
                new.address
            )));
        }
        if s.versions.iter().any(|v| v.id == new.id) {
            return Err(RepoError::Conflict(format!(
                "module version id {} already exists",
                new.id
            )));
        }
        let ns_key = new.address.namespace.key();
        let ns_display = self
            .namespaces
            .ensure(
                &new.address.namespace,
                new.namespace_organization,
                new.published_at,
            )
            .name;
        let module_id = match s.module(&new.address) {
            Some(m) => m.id,
            None => {
                let record = ModuleRecord {
                    id: Uuid::now_v7(),
                    namespace: ns_display,
                    name: new.address.name.as_str().to_string(),
                    system: new.address.system.as_str().to_string(),
                    created_at: new.published_at,
                };
                let id = record.id;
                s.modules.push((ns_key, new.address.name.key(), record));
                id
            }
        };
        let record = ModuleVersionRecord {
            id: new.id,
            module_id,
            version,
            description: new.description,
            readme: new.readme,
            format: new.format,
            blob_key: new.blob_key,
            size: new.size,
            sha256: new.sha256,
            downloads: 0,
            published_at: new.published_at,
            published_by: new.published_by,
        };
        s.versions.push(record.clone());
        Ok(record)
    }

    async fn find_module(
        &self,
        address: &ModuleAddress,
    ) -> Result<Option<ModuleWithVersions>, RepoError> {
        let s = lock(&self.state);
        Ok(s.module(address).map(|m| ModuleWithVersions {
            module: m.clone(),
            versions: s.versions_of(m.id),
        }))
    }

    async fn find_version(
        &self,
        address: &ModuleAddress,
        version: &ModuleVersion,
    ) -> Result<Option<(ModuleRecord, ModuleVersionRecord)>, RepoError> {
        let s = lock(&self.state);
        let version = version.to_string();
        Ok(s.module(address).and_then(|m| {
            s.versions
                .iter()
                .find(|v| v.module_id == m.id && v.version == version)
                .map(|v| (m.clone(), v.clone()))
        }))
    }

    async fn delete_version(&self, version_id: Uuid) -> Result<bool, RepoError> {
        let mut s = lock(&self.state);
        let Some(pos) = s.versions.iter().position(|v| v.id == version_id) else {
            return Ok(false);
        };
        let module_id = s.versions.remove(pos).module_id;
        if !s.versions.iter().any(|v| v.module_id == module_id) {
            s.modules.retain(|(_, _, m)| m.id != module_id);
        }
        Ok(true)
    }

    async fn list(&self, query: &ModuleListQuery) -> Result<ModulePage, RepoError> {
        let s = lock(&self.state);
        let term = search_term(&query.search);
        let mut rows: Vec<&(String, String, ModuleRecord)> = s
            .modules
            .iter()
            .filter(|(ns, name, m)| {
                query
                    .namespace
                    .as_ref()
                    .is_none_or(|q| q.to_ascii_lowercase() == *ns)
                    && query
                        .name
                        .as_ref()
                        .is_none_or(|q| q.to_ascii_lowercase() == *name)
                    && query.system.as_ref().is_none_or(|q| *q == m.system)
                    && self.namespaces.visible(ns, query.organizations.as_deref())
                    && term.as_ref().is_none_or(|t| {
                        ns.contains(t.as_str())
                            || name.contains(t.as_str())
                            || s.versions.iter().any(|v| {
                                v.module_id == m.id
                                    && v.description
                                        .as_ref()
                                        .is_some_and(|d| d.to_lowercase().contains(t.as_str()))
                            })
                    })
            })
            .collect();
        rows.sort_by(|a, b| (&a.0, &a.1, &a.2.system).cmp(&(&b.0, &b.1, &b.2.system)));
        let (rows, has_more) = page(rows, query.offset, query.limit);
        let items = rows
            .into_iter()
            .map(|(_, _, m)| ModuleWithVersions {
                module: m.clone(),
                versions: s.versions_of(m.id),
            })
            .collect();
        Ok(ModulePage { items, has_more })
    }

    async fn record_downloads(&self, version_id: Uuid, count: u64) -> Result<(), RepoError> {
        let mut s = lock(&self.state);
        if let Some(v) = s.versions.iter_mut().find(|v| v.id == version_id) {
            v.downloads += count;
        }
        Ok(())
    }
}
