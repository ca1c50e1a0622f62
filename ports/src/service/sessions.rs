//! Browser sessions: short-lived signed tokens (JWT) carrying only the user id, a token
//! id and a CSRF token. Logout puts the token id on a denylist kept until the token would
//! have expired anyway.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::driven::{
    Clock, RevokedSessionRepository, SecretGenerator, SessionClaims, SessionTokenCodec, TokenError,
};
use crate::service::ServiceError;

/// A session token just issued.
#[derive(Debug, Clone)]
pub struct IssuedSession {
    pub token: String,
    pub claims: SessionClaims,
}

pub struct Sessions {
    codec: Arc<dyn SessionTokenCodec>,
    revoked: Arc<dyn RevokedSessionRepository>,
    secrets: Arc<dyn SecretGenerator>,
    clock: Arc<dyn Clock>,
    lifetime: chrono::Duration,
    /// How often the denylist is re-read from the database: a logout on another replica
    /// takes effect here within this interval (at once on the replica that did it).
    denylist_refresh: Duration,
    denylist: Mutex<Denylist>,
    /// Claims of tokens already verified, keyed by the token's SHA-256 (never the token):
    /// a browser or script sends the same token with every request, and decoding it
    /// costs more than the rest of an authenticated read. Expiry and the denylist are
    /// still checked on every use.
    verified: Mutex<HashMap<[u8; 32], SessionClaims>>,
}

/// Verified tokens remembered before the cache is emptied.
const MAX_VERIFIED: usize = 50_000;

struct Denylist {
    /// Revoked ids as last read from the database, plus local revocations since.
    ids: HashSet<String>,
    /// Revoked here, with their expiry (unix seconds): kept across a reload that may have
    /// started before the revocation was written.
    local: Vec<(String, i64)>,
    loaded_at: Option<Instant>,
    /// A caller is re-reading the list from the database.
    reloading: bool,
}

impl Sessions {
    pub fn new(
        codec: Arc<dyn SessionTokenCodec>,
        revoked: Arc<dyn RevokedSessionRepository>,
        secrets: Arc<dyn SecretGenerator>,
        clock: Arc<dyn Clock>,
        lifetime: Duration,
        denylist_refresh: Duration,
    ) -> Self {
        Self {
            codec,
            revoked,
            secrets,
            clock,
            lifetime: chrono::Duration::from_std(lifetime).unwrap_or(chrono::Duration::hours(1)),
            denylist_refresh,
            denylist: Mutex::new(Denylist {
                ids: HashSet::new(),
                local: Vec::new(),
                loaded_at: None,
                reloading: false,
            }),
            verified: Mutex::new(HashMap::new()),
        }
    }

    pub fn lifetime(&self) -> chrono::Duration {
        self.lifetime
    }

    /// A new session for `user_id`.
    pub fn issue(&self, user_id: Uuid) -> IssuedSession {
        let now = self.clock.now().timestamp();
        let claims = SessionClaims {
            subject: user_id,
            jti: self.secrets.token(),
            csrf: self.secrets.token(),
            issued_at: now,
            expires_at: now + self.lifetime.num_seconds(),
        };
        IssuedSession {
            token: self.codec.issue(&claims),
            claims,
        }
    }

    /// The claims of a valid, unexpired, not logged-out token; `None` otherwise.
    pub async fn verify(&self, token: &str) -> Result<Option<SessionClaims>, ServiceError> {
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let remembered = self
            .verified
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&digest)
            .cloned();
        let claims = match remembered {
            Some(claims) => claims,
            None => match self.codec.verify(token) {
                Ok(claims) => {
                    let mut verified = self.verified.lock().unwrap_or_else(|e| e.into_inner());
                    if verified.len() >= MAX_VERIFIED {
                        let now = self.clock.now().timestamp();
                        verified.retain(|_, c| c.expires_at > now);
                        if verified.len() >= MAX_VERIFIED {
                            verified.clear();
                        }
                    }
                    verified.insert(digest, claims.clone());
                    claims
                }
                Err(TokenError::Expired | TokenError::Invalid) => return Ok(None),
            },
        };
        // The codec checks expiry against the wall clock; check ours too (tests move it).
        if claims.expires_at <= self.clock.now().timestamp() {
            return Ok(None);
        }
        if self.is_revoked(&claims.jti).await? {
            return Ok(None);
        }
        Ok(Some(claims))
    }

    /// A fresh token for the same user; the old one is revoked.
    pub async fn refresh(&self, current: &SessionClaims) -> Result<IssuedSession, ServiceError> {
        let next = self.issue(current.subject);
        self.logout(current).await?;
        Ok(next)
    }

    /// Revokes the token until its expiry.
    pub async fn logout(&self, claims: &SessionClaims) -> Result<(), ServiceError> {
        let expires_at = DateTime::<Utc>::from_timestamp(claims.expires_at, 0)
            .unwrap_or_else(|| self.clock.now() + self.lifetime);
        self.revoked.revoke(&claims.jti, expires_at).await?;
        let mut list = self.lock();
        list.ids.insert(claims.jti.clone());
        list.local.push((claims.jti.clone(), claims.expires_at));
        Ok(())
    }

    /// Drops denylist entries of tokens that have expired anyway.
    pub async fn purge_expired(&self) -> Result<u64, ServiceError> {
        Ok(self.revoked.purge_expired(self.clock.now()).await?)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Denylist> {
        self.denylist.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn is_revoked(&self, jti: &str) -> Result<bool, ServiceError> {
        // One caller re-reads a stale list while the others keep using it: with many
        // connections, a reload per request would stall every request on the database
        // each time the list goes stale.
        let reload = {
            let mut list = self.lock();
            if list.ids.contains(jti) {
                return Ok(true);
            }
            let stale = list
                .loaded_at
                .is_none_or(|at| at.elapsed() >= self.denylist_refresh);
            match (stale, list.loaded_at.is_some(), list.reloading) {
                (false, _, _) | (true, true, true) => false,
                _ => {
                    list.reloading = true;
                    true
                }
            }
        };
        if !reload {
            return Ok(false);
        }
        // A cancelled request must not leave the flag set (the list would never reload).
        let _release = ReloadFlag(self);
        let read = self.revoked.list_unexpired(self.clock.now()).await;
        let now = self.clock.now().timestamp();
        let mut list = self.lock();
        list.reloading = false;
        match read {
            Ok(ids) => {
                let mut ids: HashSet<String> = ids.into_iter().collect();
                list.local.retain(|(_, expires_at)| *expires_at > now);
                ids.extend(list.local.iter().map(|(jti, _)| jti.clone()));
                list.ids = ids;
                list.loaded_at = Some(Instant::now());
                Ok(list.ids.contains(jti))
            }
            // Never loaded: nothing to fall back on.
            Err(e) if list.loaded_at.is_none() => Err(e.into()),
            Err(e) => {
                tracing::warn!(error = %e, "could not re-read the session denylist; using the last one");
                Ok(list.ids.contains(jti))
            }
        }
    }
}

/// Clears [`Denylist::reloading`] when the reload ends, however it ends.
struct ReloadFlag<'a>(&'a Sessions);

impl Drop for ReloadFlag<'_> {
    fn drop(&mut self) {
        self.0.lock().reloading = false;
    }
}
