//! `InMemoryRevokedSessionRepository` and `InMemoryLoginCodeRepository`.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::lock;
use crate::driven::{LoginCodeRecord, LoginCodeRepository, RepoError, RevokedSessionRepository};

/// Revoked session ids in memory.
#[derive(Debug, Default)]
pub struct InMemoryRevokedSessionRepository(Mutex<BTreeMap<String, DateTime<Utc>>>);

impl InMemoryRevokedSessionRepository {
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl RevokedSessionRepository for InMemoryRevokedSessionRepository {
    /// Revoking again keeps the first entry.
    async fn revoke(&self, jti: &str, expires_at: DateTime<Utc>) -> Result<(), RepoError> {
        lock(&self.0).entry(jti.to_string()).or_insert(expires_at);
        Ok(())
    }

    async fn list_unexpired(&self, now: DateTime<Utc>) -> Result<Vec<String>, RepoError> {
        Ok(lock(&self.0)
            .iter()
            .filter(|(_, expires)| **expires > now)
            .map(|(jti, _)| jti.clone())
            .collect())
    }

    async fn purge_expired(&self, now: DateTime<Utc>) -> Result<u64, RepoError> {
        let mut all = lock(&self.0);
        let before = all.len();
        all.retain(|_, expires| *expires > now);
        Ok((before - all.len()) as u64)
    }
}

/// `terraform login` codes in memory.
#[derive(Debug, Default)]
pub struct InMemoryLoginCodeRepository(Mutex<BTreeMap<String, LoginCodeRecord>>);

impl InMemoryLoginCodeRepository {
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl LoginCodeRepository for InMemoryLoginCodeRepository {
    async fn insert(&self, code: &LoginCodeRecord) -> Result<(), RepoError> {
        let mut all = lock(&self.0);
        if all.contains_key(&code.code_hash) {
            return Err(RepoError::Conflict("login code already exists".into()));
        }
        all.insert(code.code_hash.clone(), code.clone());
        Ok(())
    }

    async fn take(&self, code_hash: &str) -> Result<Option<LoginCodeRecord>, RepoError> {
        Ok(lock(&self.0).remove(code_hash))
    }

    async fn purge_expired(&self, now: DateTime<Utc>) -> Result<u64, RepoError> {
        let mut all = lock(&self.0);
        let before = all.len();
        all.retain(|_, code| code.expires_at > now);
        Ok((before - all.len()) as u64)
    }
}
