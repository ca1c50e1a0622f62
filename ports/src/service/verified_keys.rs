//! Successful API key verifications, remembered briefly. bcrypt is deliberately slow and
//! `terraform init` sends its key on every request, so a verified key is trusted for a
//! short TTL without bcrypt. Entries are keyed by a SHA-256 of the presented key (never
//! the key itself) and dropped when the key is revoked here; on other replicas a revoked
//! key keeps working for at most the TTL.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::service::api_keys::VerifiedKey;

/// Entries kept before expired ones are swept (and, if still full, all are dropped).
const MAX_ENTRIES: usize = 10_000;

struct Verified {
    key: VerifiedKey,
    /// The key's own expiry, still enforced on a cache hit.
    key_expires_at: Option<DateTime<Utc>>,
    cached_until: DateTime<Utc>,
}

pub struct VerifiedKeys {
    ttl: Duration,
    entries: Mutex<HashMap<[u8; 32], Verified>>,
    gates: Mutex<HashMap<[u8; 32], Arc<tokio::sync::Mutex<()>>>>,
}

/// Held while one caller verifies a key; removes its gate when nobody else waits.
pub struct VerificationGate<'a> {
    owner: &'a VerifiedKeys,
    digest: [u8; 32],
    gate: Arc<tokio::sync::Mutex<()>>,
    _guard: tokio::sync::OwnedMutexGuard<()>,
}

impl Drop for VerificationGate<'_> {
    fn drop(&mut self) {
        let mut gates = self.owner.gates.lock().unwrap_or_else(|e| e.into_inner());
        // The map's reference, ours, and the guard's: nobody else is waiting.
        if Arc::strong_count(&self.gate) <= 3 {
            gates.remove(&self.digest);
        }
    }
}

fn digest(presented: &str) -> [u8; 32] {
    Sha256::digest(presented.as_bytes()).into()
}

impl VerifiedKeys {
    pub fn new(ttl: std::time::Duration) -> Self {
        Self {
            ttl: Duration::from_std(ttl).unwrap_or(Duration::zero()),
            entries: Mutex::new(HashMap::new()),
            gates: Mutex::new(HashMap::new()),
        }
    }

    pub fn get(&self, presented: &str, now: DateTime<Utc>) -> Option<VerifiedKey> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let hit = entries.get(&digest(presented))?;
        let fresh = hit.cached_until > now && hit.key_expires_at.is_none_or(|at| at > now);
        fresh.then(|| hit.key.clone())
    }

    pub fn put(
        &self,
        presented: &str,
        key: VerifiedKey,
        key_expires_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) {
        if self.ttl.is_zero() {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= MAX_ENTRIES {
            entries.retain(|_, v| v.cached_until > now);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(
            digest(presented),
            Verified {
                key,
                key_expires_at,
                cached_until: now + self.ttl,
            },
        );
    }

    /// A gate per presented key: concurrent misses for the same key wait for one bcrypt
    /// check instead of each running their own (a client opening many connections at once,
    /// or an entry expiring under load). Hold it across check-and-put; drop it after.
    pub async fn gate(&self, presented: &str) -> VerificationGate<'_> {
        let digest = digest(presented);
        let gate = {
            let mut gates = self.gates.lock().unwrap_or_else(|e| e.into_inner());
            gates.entry(digest).or_default().clone()
        };
        let guard = gate.clone().lock_owned().await;
        VerificationGate {
            owner: self,
            digest,
            gate,
            _guard: guard,
        }
    }

    /// Drops every remembered verification of a key (revoked or rotated).
    pub fn forget(&self, key_id: Uuid) {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|_, v| v.key.id != key_id);
    }
}
