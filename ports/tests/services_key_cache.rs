//! The API key verification cache: bcrypt once per TTL, revocation honoured at once on
//! this replica and within the TTL elsewhere, key expiry still enforced, last-used
//! written at most once a minute.
#![cfg(feature = "testkit")]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use tfr_core::{Scope, ScopeSet};
use tfr_ports::driven::{ApiKeyRepository, Clock, SecretHasher};
use tfr_ports::service::ApiKeys;
use tfr_ports::testkit::ManualClock;
use tfr_ports::testkit::repos::InMemoryApiKeyRepository;
use tfr_ports::testkit::security::{PlainHasher, SequentialSecrets};

/// Counts how often the slow hash runs.
#[derive(Default)]
struct CountingHasher {
    verifies: AtomicUsize,
}

#[async_trait]
impl SecretHasher for CountingHasher {
    async fn hash(&self, secret: &str) -> Result<String, String> {
        PlainHasher.hash(secret).await
    }
    async fn verify(&self, secret: &str, hash: &str) -> Result<bool, String> {
        self.verifies.fetch_add(1, Ordering::SeqCst);
        // bcrypt takes a while: concurrent callers overlap.
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        PlainHasher.verify(secret, hash).await
    }
}

struct World {
    repo: Arc<InMemoryApiKeyRepository>,
    hasher: Arc<CountingHasher>,
    clock: Arc<ManualClock>,
    keys: ApiKeys,
}

const TTL: Duration = Duration::from_secs(15);

fn world() -> World {
    let repo = Arc::new(InMemoryApiKeyRepository::new());
    let hasher = Arc::new(CountingHasher::default());
    let clock = Arc::new(ManualClock::default());
    let keys = ApiKeys::new(
        repo.clone(),
        hasher.clone(),
        Arc::new(SequentialSecrets::default()),
        clock.clone(),
    )
    .with_verification_cache(TTL);
    World {
        repo,
        hasher,
        clock,
        keys,
    }
}

async fn new_key(w: &World, expires_in: Option<chrono::Duration>) -> String {
    w.keys
        .create(
            tfr_ports::driven::KeyOwner::System,
            "ci",
            ScopeSet::new([Scope::ModulesRead]),
            expires_in.map(|d| w.clock.now() + d),
        )
        .await
        .unwrap()
        .secret
}

fn verifies(w: &World) -> usize {
    w.hasher.verifies.load(Ordering::SeqCst)
}

#[tokio::test]
async fn a_verified_key_skips_bcrypt_until_the_ttl() {
    let w = world();
    let key = new_key(&w, None).await;
    for _ in 0..5 {
        assert!(w.keys.authenticate(&key).await.unwrap().is_some());
    }
    assert_eq!(verifies(&w), 1, "one bcrypt for five requests");
    w.clock.advance(chrono::Duration::seconds(16));
    assert!(w.keys.authenticate(&key).await.unwrap().is_some());
    assert_eq!(verifies(&w), 2, "verified again after the TTL");
}

#[tokio::test]
async fn concurrent_misses_for_one_key_share_one_bcrypt() {
    let w = world();
    let key = new_key(&w, None).await;
    let results = futures::future::join_all((0..16).map(|_| w.keys.authenticate(&key))).await;
    assert!(results.iter().all(|r| matches!(r, Ok(Some(_)))));
    assert_eq!(
        verifies(&w),
        1,
        "sixteen simultaneous first requests, one bcrypt"
    );
}

#[tokio::test]
async fn wrong_keys_are_never_cached() {
    let w = world();
    let key = new_key(&w, None).await;
    let wrong = format!("{}x", &key[..key.len() - 1]);
    for _ in 0..3 {
        assert!(w.keys.authenticate(&wrong).await.unwrap().is_none());
    }
    assert_eq!(verifies(&w), 3, "a failure is checked every time");
}

#[tokio::test]
async fn revoking_here_takes_effect_at_once() {
    let w = world();
    let key = new_key(&w, None).await;
    let principal = w.keys.authenticate(&key).await.unwrap().unwrap();
    w.keys.revoke(&principal.id.to_string()).await.unwrap();
    assert!(w.keys.authenticate(&key).await.unwrap().is_none());
}

#[tokio::test]
async fn revoking_on_another_replica_takes_effect_within_the_ttl() {
    let w = world();
    let key = new_key(&w, None).await;
    let principal = w.keys.authenticate(&key).await.unwrap().unwrap();
    // Another replica revokes through the shared database.
    w.repo.revoke(principal.id, w.clock.now()).await.unwrap();
    assert!(
        w.keys.authenticate(&key).await.unwrap().is_some(),
        "still trusted here until the TTL"
    );
    w.clock.advance(chrono::Duration::seconds(16));
    assert!(w.keys.authenticate(&key).await.unwrap().is_none());
}

#[tokio::test]
async fn the_keys_own_expiry_is_enforced_on_a_cache_hit() {
    let w = world();
    let key = new_key(&w, Some(chrono::Duration::seconds(5))).await;
    assert!(w.keys.authenticate(&key).await.unwrap().is_some());
    w.clock.advance(chrono::Duration::seconds(6));
    assert!(w.keys.authenticate(&key).await.unwrap().is_none());
}

#[tokio::test]
async fn last_used_is_written_at_most_once_a_minute() {
    let w = world();
    let key = new_key(&w, None).await;
    let id = w.keys.authenticate(&key).await.unwrap().unwrap().id;
    let first = w.clock.now();
    tokio::time::sleep(Duration::from_millis(50)).await;
    w.clock.advance(chrono::Duration::seconds(30));
    w.keys.authenticate(&key).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let stored = w.repo.find_by_id(id).await.unwrap().unwrap();
    assert_eq!(
        stored.last_used_at,
        Some(first),
        "30 s later: not written again"
    );
    w.clock.advance(chrono::Duration::seconds(31));
    let later = w.clock.now();
    w.keys.authenticate(&key).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let stored = w.repo.find_by_id(id).await.unwrap().unwrap();
    assert_eq!(stored.last_used_at, Some(later));
}
