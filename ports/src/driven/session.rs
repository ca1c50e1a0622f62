//! Session and login state that must survive a hop to another replica: revoked browser
//! sessions and the single-use codes of `terraform login`.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::driven::RepoError;

/// The denylist of logged-out session tokens, kept until the token would have expired.
#[async_trait]
pub trait RevokedSessionRepository: Send + Sync {
    /// Idempotent.
    async fn revoke(&self, jti: &str, expires_at: DateTime<Utc>) -> Result<(), RepoError>;
    /// Every revoked id whose token has not expired yet.
    async fn list_unexpired(&self, now: DateTime<Utc>) -> Result<Vec<String>, RepoError>;
    /// Deletes entries for tokens that have expired; returns how many.
    async fn purge_expired(&self, now: DateTime<Utc>) -> Result<u64, RepoError>;
}

/// An authorization code issued to `terraform login`, waiting for its token request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginCodeRecord {
    /// SHA-256 (hex) of the code; the code itself is never stored.
    pub code_hash: String,
    pub user_id: Uuid,
    pub client_id: String,
    pub redirect_uri: String,
    /// BASE64URL(SHA256(verifier)), as sent by the client.
    pub code_challenge: String,
    pub expires_at: DateTime<Utc>,
}

#[async_trait]
pub trait LoginCodeRepository: Send + Sync {
    async fn insert(&self, code: &LoginCodeRecord) -> Result<(), RepoError>;
    /// Removes and returns the code in one step, so it can be used once even when two
    /// replicas race. Expired codes are returned too; the caller checks.
    async fn take(&self, code_hash: &str) -> Result<Option<LoginCodeRecord>, RepoError>;
    async fn purge_expired(&self, now: DateTime<Utc>) -> Result<u64, RepoError>;
}
