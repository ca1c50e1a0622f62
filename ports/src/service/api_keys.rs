//! API keys: `tfr_` + random characters, stored as a 10-character prefix (indexed lookup)
//! plus a bcrypt hash. The raw key is shown once, at creation.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use tfr_core::{Scope, ScopeSet};
use uuid::Uuid;

use crate::driven::{ApiKeyRecord, ApiKeyRepository, Clock, SecretGenerator, SecretHasher};
use crate::service::ServiceError;

pub const KEY_PREFIX_LEN: usize = 10;
const KEY_MARKER: &str = "tfr_";
const MAX_KEY_LEN: usize = 128;

/// Who a request acts as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub key_id: Uuid,
    pub name: String,
    pub scopes: ScopeSet,
}

impl Principal {
    pub fn require(&self, scope: Scope) -> Result<(), ServiceError> {
        if self.scopes.allows(scope) {
            Ok(())
        } else {
            Err(ServiceError::Forbidden(format!(
                "this API key lacks the {scope} scope"
            )))
        }
    }
}

pub struct NewApiKey {
    pub record: ApiKeyRecord,
    /// The raw key; never stored, never shown again.
    pub secret: String,
}

pub struct ApiKeys {
    repo: Arc<dyn ApiKeyRepository>,
    hasher: Arc<dyn SecretHasher>,
    secrets: Arc<dyn SecretGenerator>,
    clock: Arc<dyn Clock>,
}

impl ApiKeys {
    pub fn new(
        repo: Arc<dyn ApiKeyRepository>,
        hasher: Arc<dyn SecretHasher>,
        secrets: Arc<dyn SecretGenerator>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            repo,
            hasher,
            secrets,
            clock,
        }
    }

    pub async fn create(
        &self,
        name: &str,
        scopes: ScopeSet,
        expires_at: Option<DateTime<Utc>>,
    ) -> Result<NewApiKey, ServiceError> {
        let name = name.trim();
        if name.is_empty() || name.len() > 100 {
            return Err(ServiceError::invalid(
                "name",
                "key name must be 1-100 characters",
            ));
        }
        if scopes.is_empty() {
            return Err(ServiceError::invalid(
                "scopes",
                "a key needs at least one scope",
            ));
        }
        let now = self.clock.now();
        if expires_at.is_some_and(|at| at <= now) {
            return Err(ServiceError::invalid(
                "expires_at",
                "expiry must be in the future",
            ));
        }
        let secret = self.secrets.api_key();
        let key_hash = self
            .hasher
            .hash(&secret)
            .await
            .map_err(ServiceError::internal)?;
        let record = ApiKeyRecord {
            id: Uuid::now_v7(),
            name: name.to_string(),
            prefix: secret[..KEY_PREFIX_LEN].to_string(),
            key_hash,
            scopes,
            created_at: now,
            expires_at,
            last_used_at: None,
            revoked_at: None,
        };
        self.repo.insert(&record).await?;
        tracing::info!(key_id = %record.id, name = %record.name, prefix = %record.prefix, "API key created");
        Ok(NewApiKey { record, secret })
    }

    pub async fn list(&self) -> Result<Vec<ApiKeyRecord>, ServiceError> {
        Ok(self.repo.list().await?)
    }

    /// Revokes by id or by prefix.
    pub async fn revoke(&self, id_or_prefix: &str) -> Result<ApiKeyRecord, ServiceError> {
        let record = match Uuid::parse_str(id_or_prefix) {
            Ok(id) => self.repo.find_by_id(id).await?,
            Err(_) => {
                let mut found = self.repo.find_by_prefix(id_or_prefix).await?;
                if found.len() > 1 {
                    return Err(ServiceError::Conflict(format!(
                        "{} keys share prefix {id_or_prefix}; revoke by id",
                        found.len()
                    )));
                }
                found.pop()
            }
        }
        .ok_or_else(|| ServiceError::NotFound(format!("no API key {id_or_prefix}")))?;
        self.repo.revoke(record.id, self.clock.now()).await?;
        tracing::info!(key_id = %record.id, name = %record.name, "API key revoked");
        Ok(record)
    }

    /// The principal a presented key belongs to; `Ok(None)` for an unknown, revoked or
    /// expired key. Last-used is recorded off the request path.
    pub async fn authenticate(&self, presented: &str) -> Result<Option<Principal>, ServiceError> {
        if !presented.starts_with(KEY_MARKER)
            || presented.len() > MAX_KEY_LEN
            || presented.len() <= KEY_PREFIX_LEN
        {
            return Ok(None);
        }
        let now = self.clock.now();
        let candidates = self
            .repo
            .find_by_prefix(&presented[..KEY_PREFIX_LEN])
            .await?;
        for candidate in candidates {
            if candidate.revoked_at.is_some() || candidate.expires_at.is_some_and(|at| at <= now) {
                continue;
            }
            if self
                .hasher
                .verify(presented, &candidate.key_hash)
                .await
                .map_err(ServiceError::internal)?
            {
                let repo = self.repo.clone();
                let id = candidate.id;
                tokio::spawn(async move {
                    if let Err(err) = repo.touch_last_used(id, now).await {
                        tracing::warn!(error = %err, "could not record API key use");
                    }
                });
                return Ok(Some(Principal {
                    key_id: candidate.id,
                    name: candidate.name,
                    scopes: candidate.scopes,
                }));
            }
        }
        Ok(None)
    }
}
