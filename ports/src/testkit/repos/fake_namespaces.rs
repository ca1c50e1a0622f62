//! `InMemoryNamespaceRepository`: the namespace rows the module, provider and identity
//! fakes share (clones share state, like repositories on one database).

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tfr_core::Namespace;
use uuid::Uuid;

use super::lock;
use crate::driven::{NamespaceRecord, NamespaceRepository, RepoError};

/// Namespaces in memory. Clones share state: hand one to
/// [`InMemoryModuleRepository::with_namespaces`](super::InMemoryModuleRepository::with_namespaces)
/// and friends so publishes create namespaces here and list filters see their owners.
#[derive(Debug, Clone, Default)]
pub struct InMemoryNamespaceRepository(Arc<Mutex<Vec<NamespaceRecord>>>);

impl InMemoryNamespaceRepository {
    pub fn new() -> Self {
        Self::default()
    }

    /// The namespace of a publish: created in `organization` (not public) when missing,
    /// with `ns`'s display case; an existing one is returned unchanged.
    pub(super) fn ensure(
        &self,
        ns: &Namespace,
        organization: Uuid,
        now: DateTime<Utc>,
    ) -> NamespaceRecord {
        let mut all = lock(&self.0);
        let key = ns.key();
        if let Some(found) = all.iter().find(|n| n.name.to_ascii_lowercase() == key) {
            return found.clone();
        }
        let record = NamespaceRecord {
            id: Uuid::now_v7(),
            name: ns.as_str().to_string(),
            organization_id: organization,
            public: false,
            created_at: now,
        };
        all.push(record.clone());
        record
    }

    /// Read protection, as the adapters apply it: `None` lets everything through; a
    /// list lets through namespaces owned by one of those organizations, or public.
    pub(super) fn visible(&self, key: &str, organizations: Option<&[Uuid]>) -> bool {
        let Some(organizations) = organizations else {
            return true;
        };
        lock(&self.0).iter().any(|n| {
            n.name.to_ascii_lowercase() == key
                && (n.public || organizations.contains(&n.organization_id))
        })
    }

    /// Whether any namespace belongs to `organization`.
    pub(super) fn owned_by(&self, organization: Uuid) -> bool {
        lock(&self.0)
            .iter()
            .any(|n| n.organization_id == organization)
    }
}

#[async_trait]
impl NamespaceRepository for InMemoryNamespaceRepository {
    async fn find_by_name(&self, name: &str) -> Result<Option<NamespaceRecord>, RepoError> {
        let key = name.to_ascii_lowercase();
        Ok(lock(&self.0)
            .iter()
            .find(|n| n.name.to_ascii_lowercase() == key)
            .cloned())
    }

    async fn list(&self, organization_id: Option<Uuid>) -> Result<Vec<NamespaceRecord>, RepoError> {
        let mut out: Vec<_> = lock(&self.0)
            .iter()
            .filter(|n| organization_id.is_none_or(|o| n.organization_id == o))
            .cloned()
            .collect();
        out.sort_by_key(|n| n.name.to_ascii_lowercase());
        Ok(out)
    }

    async fn insert(&self, namespace: &NamespaceRecord) -> Result<(), RepoError> {
        let mut all = lock(&self.0);
        let key = namespace.name.to_ascii_lowercase();
        if all
            .iter()
            .any(|n| n.id == namespace.id || n.name.to_ascii_lowercase() == key)
        {
            return Err(RepoError::Conflict(format!(
                "namespace {} already exists",
                namespace.name
            )));
        }
        all.push(namespace.clone());
        Ok(())
    }

    async fn update(&self, namespace: &NamespaceRecord) -> Result<bool, RepoError> {
        let mut all = lock(&self.0);
        match all.iter_mut().find(|n| n.id == namespace.id) {
            Some(n) => {
                n.organization_id = namespace.organization_id;
                n.public = namespace.public;
                Ok(true)
            }
            None => Ok(false),
        }
    }
}
