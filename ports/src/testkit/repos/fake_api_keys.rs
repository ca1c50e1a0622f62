//! `InMemoryApiKeyRepository`.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::lock;
use crate::driven::{ApiKeyRecord, ApiKeyRepository, KeyOwner, RepoError};

/// API keys in memory. Clones share state (the identity fake reads which organizations
/// still own keys).
#[derive(Debug, Clone, Default)]
pub struct InMemoryApiKeyRepository(Arc<Mutex<Vec<ApiKeyRecord>>>);

impl InMemoryApiKeyRepository {
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether a live (not revoked) key belongs to `organization`.
    pub(super) fn live_key_of(&self, organization: Uuid) -> bool {
        lock(&self.0)
            .iter()
            .any(|k| k.owner == KeyOwner::Organization(organization) && k.revoked_at.is_none())
    }

    /// Drops the (revoked) keys of a deleted organization.
    pub(super) fn remove_keys_of(&self, organization: Uuid) {
        lock(&self.0).retain(|k| k.owner != KeyOwner::Organization(organization));
    }
}

#[async_trait]
impl ApiKeyRepository for InMemoryApiKeyRepository {
    async fn insert(&self, key: &ApiKeyRecord) -> Result<(), RepoError> {
        let mut keys = lock(&self.0);
        if keys.iter().any(|k| k.id == key.id) {
            return Err(RepoError::Conflict(format!(
                "API key {} already exists",
                key.id
            )));
        }
        keys.push(key.clone());
        Ok(())
    }
    async fn find_by_prefix(&self, prefix: &str) -> Result<Vec<ApiKeyRecord>, RepoError> {
        let mut out: Vec<_> = lock(&self.0)
            .iter()
            .filter(|k| k.prefix == prefix)
            .cloned()
            .collect();
        out.sort_by_key(|k| k.id);
        Ok(out)
    }
    async fn find_by_id(&self, id: Uuid) -> Result<Option<ApiKeyRecord>, RepoError> {
        Ok(lock(&self.0).iter().find(|k| k.id == id).cloned())
    }
    async fn list(&self, owner: Option<KeyOwner>) -> Result<Vec<ApiKeyRecord>, RepoError> {
        let mut out: Vec<_> = lock(&self.0)
            .iter()
            .filter(|k| owner.is_none_or(|o| k.owner == o))
            .cloned()
            .collect();
        out.sort_by_key(|k| std::cmp::Reverse((k.created_at, k.id)));
        Ok(out)
    }
    async fn rotate(
        &self,
        id: Uuid,
        prefix: &str,
        key_hash: &str,
        _at: DateTime<Utc>,
    ) -> Result<bool, RepoError> {
        let mut keys = lock(&self.0);
        match keys
            .iter_mut()
            .find(|k| k.id == id && k.revoked_at.is_none())
        {
            Some(k) => {
                k.prefix = prefix.to_string();
                k.key_hash = key_hash.to_string();
                Ok(true)
            }
            None => Ok(false),
        }
    }
    /// The first revocation time is kept when the key is revoked again.
    async fn revoke(&self, id: Uuid, at: DateTime<Utc>) -> Result<bool, RepoError> {
        let mut keys = lock(&self.0);
        match keys.iter_mut().find(|k| k.id == id) {
            Some(k) => {
                k.revoked_at.get_or_insert(at);
                Ok(true)
            }
            None => Ok(false),
        }
    }
    async fn touch_last_used(&self, id: Uuid, at: DateTime<Utc>) -> Result<(), RepoError> {
        if let Some(k) = lock(&self.0).iter_mut().find(|k| k.id == id) {
            k.last_used_at = Some(at);
        }
        Ok(())
    }
}
