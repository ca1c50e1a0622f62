//! API keys: `tfr_` + random characters, stored as a 10-character prefix (indexed lookup)
//! plus a bcrypt hash. The raw key is shown once, at creation.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use tfr_core::{Scope, ScopeSet};
use uuid::Uuid;

use crate::driven::{ApiKeyRecord, ApiKeyRepository, Clock, SecretGenerator, SecretHasher};
use crate::service::ServiceError;
use crate::service::verified_keys::VerifiedKeys;

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
    verified: VerifiedKeys,
    /// When each key's last use was last written, so a busy key costs one write a minute.
    last_touched: Mutex<HashMap<Uuid, DateTime<Utc>>>,
}

/// Last-used is recorded at this resolution: one write per key per interval at most.
const LAST_USED_RESOLUTION: chrono::Duration = chrono::Duration::seconds(60);

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
            verified: VerifiedKeys::new(std::time::Duration::ZERO),
            last_touched: Mutex::new(HashMap::new()),
        }
    }

    /// Trusts a verified key for `ttl` without bcrypt (see [`VerifiedKeys`]). A key
    /// revoked on another replica keeps working here for at most `ttl`.
    pub fn with_verification_cache(mut self, ttl: std::time::Duration) -> Self {
        self.verified = VerifiedKeys::new(ttl);
        self
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
        self.verified.forget(record.id);
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
        if let Some(principal) = self.verified.get(presented, now) {
            self.touch(principal.key_id, now);
            return Ok(Some(principal));
        }
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
                let principal = Principal {
                    key_id: candidate.id,
                    name: candidate.name,
                    scopes: candidate.scopes,
                };
                self.verified
                    .put(presented, principal.clone(), candidate.expires_at, now);
                self.touch(principal.key_id, now);
                return Ok(Some(principal));
            }
        }
        Ok(None)
    }

    /// Records last-used off the request path, at most once per key per minute.
    fn touch(&self, id: Uuid, now: DateTime<Utc>) {
        {
            let mut touched = self.last_touched.lock().unwrap_or_else(|e| e.into_inner());
            if touched
                .get(&id)
                .is_some_and(|at| now - *at < LAST_USED_RESOLUTION)
            {
                return;
            }
            touched.insert(id, now);
        }
        let repo = self.repo.clone();
        tokio::spawn(async move {
            if let Err(err) = repo.touch_last_used(id, now).await {
                tracing::warn!(error = %err, "could not record API key use");
            }
        });
    }
}
