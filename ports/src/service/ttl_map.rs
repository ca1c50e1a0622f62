//! A small TTL map for read caches, with the two behaviours a hot path needs:
//!
//! - **Stale-while-revalidate.** When an entry expires, the first caller refreshes it
//!   while everyone else is still answered with the old value; if the refresh fails, the
//!   old value keeps being served for up to [`MAX_STALE`] (a short database outage).
//! - **Single flight on a miss.** Concurrent callers that all miss the same key wait for
//!   one load instead of each querying the database.
//!
//! `None` values cache "not found" too, so unknown names do not reach the database on
//! every request either.

use std::collections::HashMap;
use std::fmt::Display;
use std::future::Future;
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::driven::RepoError;

/// How long past its TTL a value may still be served while it is refreshed (or while the
/// database is unreachable).
pub const MAX_STALE: Duration = Duration::from_secs(30);

/// While one caller refreshes an expired entry, the others keep getting the old value
/// for this long before another caller tries.
const REFRESH_WINDOW: Duration = Duration::from_secs(5);

/// Entries kept before expired ones are swept (and, if still full, all are dropped).
const MAX_ENTRIES: usize = 50_000;

enum Lookup<V> {
    Fresh(Option<Arc<V>>),
    /// Expired: this caller refreshes it; the old value is there to fall back on.
    Refresh(Option<Arc<V>>),
    Miss,
}

struct Entry<V> {
    fresh_until: Instant,
    stale_until: Instant,
    value: Option<Arc<V>>,
}

type Gate = Arc<tokio::sync::Mutex<()>>;

pub struct TtlMap<K, V> {
    entries: Mutex<HashMap<K, Entry<V>>>,
    /// Bumped by every `remove`: a load that started before an invalidation must not
    /// store what it read (it may predate the publish or delete that invalidated it).
    generation: std::sync::atomic::AtomicU64,
    /// One gate per key being loaded after a miss.
    loading: Mutex<HashMap<K, Gate>>,
}

impl<K: Eq + Hash + Clone + Display, V> TtlMap<K, V> {
    pub fn new() -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
            generation: std::sync::atomic::AtomicU64::new(0),
            loading: Mutex::new(HashMap::new()),
        }
    }

    fn lookup(&self, key: &K) -> Lookup<V> {
        let now = Instant::now();
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        match entries.get_mut(key) {
            Some(entry) if entry.fresh_until > now => Lookup::Fresh(entry.value.clone()),
            Some(entry) if entry.stale_until > now => {
                entry.fresh_until = now + REFRESH_WINDOW;
                Lookup::Refresh(entry.value.clone())
            }
            _ => Lookup::Miss,
        }
    }

    fn generation(&self) -> u64 {
        self.generation.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Stores `value` unless an invalidation happened since `started` (the generation
    /// read before loading it).
    fn put(&self, key: K, value: Option<Arc<V>>, ttl: Duration, started: u64) {
        let now = Instant::now();
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if self.generation() != started {
            return;
        }
        if entries.len() >= MAX_ENTRIES {
            entries.retain(|_, entry| entry.stale_until > now);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        let entry = Entry {
            fresh_until: now + ttl,
            stale_until: now + ttl + MAX_STALE,
            value,
        };
        entries.insert(key, entry);
    }

    pub fn remove(&self, key: &K) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        entries.remove(key);
    }

    /// Drops every entry (an identity change whose reach is not worth working out).
    pub fn clear(&self) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        entries.clear();
    }

    fn gate(&self, key: &K) -> Gate {
        let mut loading = self.loading.lock().unwrap_or_else(|e| e.into_inner());
        loading.entry(key.clone()).or_default().clone()
    }

    fn release(&self, key: &K, gate: Gate) {
        let mut loading = self.loading.lock().unwrap_or_else(|e| e.into_inner());
        // The map's reference and ours: nobody else is waiting on this gate.
        if Arc::strong_count(&gate) <= 2 {
            loading.remove(key);
        }
    }

    /// The cached value, or `load`'s (stored for `ttl`).
    pub async fn get_or_load<F, Fut>(
        &self,
        key: K,
        ttl: Duration,
        load: F,
    ) -> Result<Option<Arc<V>>, RepoError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Option<V>, RepoError>>,
    {
        match self.lookup(&key) {
            Lookup::Fresh(value) => Ok(value),
            Lookup::Refresh(stale) => {
                let started = self.generation();
                match load().await {
                    Ok(value) => {
                        let value = value.map(Arc::new);
                        self.put(key, value.clone(), ttl, started);
                        Ok(value)
                    }
                    Err(err) => {
                        tracing::warn!(%key, error = %err, "serving the cached value: refreshing it failed");
                        Ok(stale)
                    }
                }
            }
            Lookup::Miss => {
                let gate = self.gate(&key);
                let loaded = {
                    let _turn = gate.lock().await;
                    // Whoever held the gate before us may have filled the entry.
                    if let Lookup::Fresh(value) = self.lookup(&key) {
                        Ok(value)
                    } else {
                        let started = self.generation();
                        match load().await {
                            Ok(value) => {
                                let value = value.map(Arc::new);
                                self.put(key.clone(), value.clone(), ttl, started);
                                Ok(value)
                            }
                            Err(err) => Err(err),
                        }
                    }
                };
                self.release(&key, gate);
                loaded
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test]
    async fn a_load_that_raced_an_invalidation_is_not_stored() {
        let map: Arc<TtlMap<String, u32>> = Arc::new(TtlMap::new());
        let (started_tx, started_rx) = tokio::sync::oneshot::channel::<()>();
        let (go_tx, go_rx) = tokio::sync::oneshot::channel::<()>();
        let loader = {
            let map = map.clone();
            tokio::spawn(async move {
                map.get_or_load("k".to_string(), Duration::from_secs(60), || async move {
                    let _ = started_tx.send(());
                    let _ = go_rx.await;
                    Ok(Some(1)) // what the database held before the publish
                })
                .await
            })
        };
        started_rx.await.unwrap();
        map.remove(&"k".to_string()); // the publish invalidates meanwhile
        go_tx.send(()).unwrap();
        assert_eq!(loader.await.unwrap().unwrap().as_deref(), Some(&1));
        let next = map
            .get_or_load("k".to_string(), Duration::from_secs(60), || async {
                Ok(Some(2))
            })
            .await
            .unwrap();
        assert_eq!(next.as_deref(), Some(&2), "the stale read was not cached");
    }

    #[tokio::test]
    async fn concurrent_misses_load_once() {
        let map: Arc<TtlMap<String, u32>> = Arc::new(TtlMap::new());
        let loads = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..16 {
            let (map, loads) = (map.clone(), loads.clone());
            tasks.push(tokio::spawn(async move {
                map.get_or_load("k".to_string(), Duration::from_secs(60), || async {
                    loads.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    Ok(Some(7))
                })
                .await
            }));
        }
        for task in tasks {
            assert_eq!(task.await.unwrap().unwrap().as_deref(), Some(&7));
        }
        assert_eq!(
            loads.load(Ordering::SeqCst),
            1,
            "one load for sixteen concurrent misses"
        );
        assert!(map.loading.lock().unwrap().is_empty(), "gates are released");
    }

    #[tokio::test]
    async fn a_failed_load_on_a_miss_is_an_error_and_caches_nothing() {
        let map: TtlMap<String, u32> = TtlMap::new();
        let err = map
            .get_or_load("k".to_string(), Duration::from_secs(60), || async {
                Err(RepoError::Unavailable("down".into()))
            })
            .await;
        assert!(err.is_err());
        let value = map
            .get_or_load("k".to_string(), Duration::from_secs(60), || async {
                Ok(Some(1))
            })
            .await
            .unwrap();
        assert_eq!(value.as_deref(), Some(&1));
    }
}
