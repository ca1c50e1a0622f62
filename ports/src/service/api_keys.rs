//! API keys: `tfr_` + random characters, stored as a 10-character prefix (indexed lookup)
//! plus a bcrypt hash. The raw key is shown once, at creation.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use tfr_core::ScopeSet;
use uuid::Uuid;

use crate::driven::{
    ApiKeyRecord, ApiKeyRepository, Clock, KeyOwner, SecretGenerator, SecretHasher,
};
use crate::service::ServiceError;
use crate::service::verified_keys::VerifiedKeys;

pub const KEY_PREFIX_LEN: usize = 10;
const KEY_MARKER: &str = "tfr_";
const MAX_KEY_LEN: usize = 128;

/// A key that verified: what authentication needs, without the hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedKey {
    pub id: Uuid,
    pub owner: KeyOwner,
    pub name: String,
    pub scopes: ScopeSet,
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

    /// Creates a key for `owner`. Whether the caller may give `scopes` to that owner is
    /// the caller's check (see `IdentityAdmin`); this only validates the request.
    pub async fn create(
        &self,
        owner: KeyOwner,
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
            owner,
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

    /// Newest first; `Some(owner)` restricts to one owner.
    pub async fn list(&self, owner: Option<KeyOwner>) -> Result<Vec<ApiKeyRecord>, ServiceError> {
        Ok(self.repo.list(owner).await?)
    }

    pub async fn find(&self, id: Uuid) -> Result<Option<ApiKeyRecord>, ServiceError> {
        Ok(self.repo.find_by_id(id).await?)
    }

    /// A new secret for the same key record (same id, owner, scopes, expiry). The old
    /// secret stops working at once on this replica, and within the verification cache
    /// TTL on others.
    pub async fn rotate(&self, id: Uuid) -> Result<NewApiKey, ServiceError> {
        let record = self
            .repo
            .find_by_id(id)
            .await?
            .filter(|k| k.revoked_at.is_none())
            .ok_or_else(|| ServiceError::NotFound(format!("no live API key {id}")))?;
        let secret = self.secrets.api_key();
        let key_hash = self
            .hasher
            .hash(&secret)
            .await
            .map_err(ServiceError::internal)?;
        let prefix = secret[..KEY_PREFIX_LEN].to_string();
        if !self
            .repo
            .rotate(id, &prefix, &key_hash, self.clock.now())
            .await?
        {
            return Err(ServiceError::NotFound(format!("no live API key {id}")));
        }
        self.verified.forget(id);
        tracing::info!(key_id = %id, name = %record.name, prefix = %prefix, "API key rotated");
        Ok(NewApiKey {
            record: ApiKeyRecord {
                prefix,
                key_hash,
                ..record
            },
            secret,
        })
    }

    /// Revokes by id or by prefix.
    pub async fn revoke(&self, id_or_prefix: &str) -> Result<ApiKeyRecord, ServiceError> {
        let record = self.resolve(id_or_prefix).await?;
        self.revoke_record(record).await
    }

    /// Finds a key by id or by a prefix that only one key has.
    pub async fn resolve(&self, id_or_prefix: &str) -> Result<ApiKeyRecord, ServiceError> {
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
        Ok(record)
    }

    pub async fn revoke_record(&self, record: ApiKeyRecord) -> Result<ApiKeyRecord, ServiceError> {
        self.repo.revoke(record.id, self.clock.now()).await?;
        self.verified.forget(record.id);
        tracing::info!(key_id = %record.id, name = %record.name, "API key revoked");
        Ok(record)
    }

    /// The key a presented secret belongs to; `Ok(None)` for an unknown, revoked or
    /// expired key. Last-used is recorded off the request path.
    pub async fn authenticate(&self, presented: &str) -> Result<Option<VerifiedKey>, ServiceError> {
        if !presented.starts_with(KEY_MARKER)
            || presented.len() > MAX_KEY_LEN
            || presented.len() <= KEY_PREFIX_LEN
        {
            return Ok(None);
        }
        let now = self.clock.now();
        if let Some(key) = self.verified.get(presented, now) {
            self.touch(key.id, now);
            return Ok(Some(key));
        }
        // One bcrypt per key at a time; those who waited find the answer cached.
        let _gate = self.verified.gate(presented).await;
        if let Some(key) = self.verified.get(presented, now) {
            self.touch(key.id, now);
            return Ok(Some(key));
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
                let key = VerifiedKey {
                    id: candidate.id,
                    owner: candidate.owner,
                    name: candidate.name,
                    scopes: candidate.scopes,
                };
                self.verified
                    .put(presented, key.clone(), candidate.expires_at, now);
                self.touch(key.id, now);
                return Ok(Some(key));
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
