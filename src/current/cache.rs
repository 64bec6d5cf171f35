//! A read-through cache in process, bounded, whose entries are dropped when the change feed
//! says their subject changed (on every instance within the feed's interval, at once when a
//! change notice arrives) and re-read after `ttl` whatever happens, as a backstop.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use crate::telemetry::Metrics;

#[derive(Debug)]
struct Entry<V> {
    value: Arc<V>,
    loaded_at: Instant,
}

#[derive(Debug)]
pub struct ReadThrough<K, V> {
    /// The `cache` label of the hit and miss counters.
    name: &'static str,
    entries: RwLock<HashMap<K, Entry<V>>>,
    /// Bumped by every eviction: a read that started before one must not fill the cache with
    /// what it read, which may predate the change.
    evictions: AtomicU64,
    capacity: usize,
    ttl: Duration,
}

impl<K: Eq + Hash + Clone, V> ReadThrough<K, V> {
    pub fn new(name: &'static str, capacity: usize, ttl: Duration) -> Self {
        Self {
            name,
            entries: RwLock::default(),
            evictions: AtomicU64::new(0),
            capacity: capacity.max(1),
            ttl,
        }
    }

    /// The entry for `key`, or what `load` reads, kept for next time. A failed load (an
    /// unknown key included) keeps nothing, so guessing keys cannot fill memory.
    pub async fn get<F, Fut, E>(&self, metrics: &Metrics, key: &K, load: F) -> Result<Arc<V>, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<V, E>>,
    {
        if let Some(cached) = self.cached(key) {
            metrics.cache_lookup(self.name, true);
            return Ok(cached);
        }
        metrics.cache_lookup(self.name, false);
        let generation = self.evictions.load(Ordering::Acquire);
        let loaded = Arc::new(load().await?);
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        if self.evictions.load(Ordering::Acquire) == generation {
            if entries.len() >= self.capacity
                && !entries.contains_key(key)
                && let Some(victim) = entries.keys().next().cloned()
            {
                entries.remove(&victim);
            }
            entries.insert(
                key.clone(),
                Entry {
                    value: Arc::clone(&loaded),
                    loaded_at: Instant::now(),
                },
            );
        }
        Ok(loaded)
    }

    fn cached(&self, key: &K) -> Option<Arc<V>> {
        let entries = self.entries.read().unwrap_or_else(|p| p.into_inner());
        entries
            .get(key)
            .filter(|entry| entry.loaded_at.elapsed() < self.ttl)
            .map(|entry| Arc::clone(&entry.value))
    }

    /// Drops `key` (it changed, or was deleted).
    pub fn evict(&self, key: &K) {
        self.evictions.fetch_add(1, Ordering::AcqRel);
        self.entries
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
    }

    /// Drops every entry (the feed could not be followed, so anything may have changed).
    pub fn clear(&self) {
        self.evictions.fetch_add(1, Ordering::AcqRel);
        self.entries
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }

    /// How long an entry is trusted without a change from the feed.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    pub fn len(&self) -> usize {
        self.entries.read().unwrap_or_else(|p| p.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreError;

    fn metrics() -> Metrics {
        Metrics::default()
    }

    #[tokio::test]
    async fn a_second_read_is_served_from_memory_until_evicted() {
        let cache = ReadThrough::<u32, String>::new("test", 10, Duration::from_secs(60));
        let metrics = metrics();
        let reads = std::sync::atomic::AtomicU32::new(0);
        let load = || async {
            reads.fetch_add(1, Ordering::SeqCst);
            Ok::<_, StoreError>("one".to_owned())
        };
        assert_eq!(*cache.get(&metrics, &1, load).await.unwrap(), "one");
        assert_eq!(*cache.get(&metrics, &1, load).await.unwrap(), "one");
        assert_eq!(reads.load(Ordering::SeqCst), 1);
        cache.evict(&1);
        cache.get(&metrics, &1, load).await.unwrap();
        assert_eq!(reads.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn failures_are_not_kept_and_the_size_is_bounded() {
        let cache = ReadThrough::<u32, u32>::new("test", 3, Duration::from_secs(60));
        let metrics = metrics();
        let missing = cache
            .get(&metrics, &99, || async {
                Err::<u32, _>(StoreError::NotFound)
            })
            .await;
        assert!(matches!(missing, Err(StoreError::NotFound)));
        assert!(cache.is_empty());
        for key in 0..10 {
            cache
                .get(&metrics, &key, || async move { Ok::<_, StoreError>(key) })
                .await
                .unwrap();
        }
        assert_eq!(cache.len(), 3);
    }

    #[tokio::test]
    async fn a_read_that_raced_an_eviction_is_not_kept() {
        let cache = ReadThrough::<u32, u32>::new("test", 10, Duration::from_secs(60));
        let metrics = metrics();
        // The change lands while the old state is being read: what was read may be stale.
        let value = cache
            .get(&metrics, &1, || async {
                cache.evict(&1);
                Ok::<_, StoreError>(1)
            })
            .await
            .unwrap();
        assert_eq!(*value, 1);
        assert!(cache.is_empty());
    }

    #[tokio::test]
    async fn an_entry_older_than_the_ttl_is_read_again() {
        let cache = ReadThrough::<u32, u32>::new("test", 10, Duration::ZERO);
        let metrics = metrics();
        let reads = std::sync::atomic::AtomicU32::new(0);
        for _ in 0..2 {
            cache
                .get(&metrics, &1, || async {
                    reads.fetch_add(1, Ordering::SeqCst);
                    Ok::<_, StoreError>(1)
                })
                .await
                .unwrap();
        }
        assert_eq!(reads.load(Ordering::SeqCst), 2);
    }
}
