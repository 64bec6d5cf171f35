//! Clients and their secret digests, cached in process: client authentication and the `/v1`
//! caller check cost no database round trip in the steady state. Entries are dropped when the
//! change feed says the client changed (on every instance within the feed's interval), and
//! re-read after `ttl` whatever happens, as a backstop.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use crate::domain::{Client, ClientId};
use crate::store::{ClientSecretRecord, Database, StoreError};
use crate::telemetry::Metrics;

/// A client as cached: the registration and the secrets that were live when it was read
/// (callers still check each secret's expiry against their `now`).
#[derive(Debug)]
pub struct CachedClient {
    pub client: Client,
    pub secrets: Vec<ClientSecretRecord>,
    loaded_at: Instant,
}

#[derive(Debug)]
pub struct ClientCache {
    entries: RwLock<HashMap<ClientId, Arc<CachedClient>>>,
    /// Bumped by every eviction: a read that started before one must not fill the cache with
    /// what it read, which may predate the change.
    evictions: AtomicU64,
    capacity: usize,
    ttl: Duration,
}

impl ClientCache {
    pub fn new(capacity: usize, ttl: Duration) -> Self {
        Self {
            entries: RwLock::default(),
            evictions: AtomicU64::new(0),
            capacity,
            ttl,
        }
    }

    /// The client `id` with its live secrets at `now`, from the cache or the database. Unknown
    /// ids are not cached, so guessing ids cannot fill memory.
    pub async fn get(
        &self,
        db: &dyn Database,
        metrics: &Metrics,
        id: &ClientId,
        now: time::OffsetDateTime,
    ) -> Result<Arc<CachedClient>, StoreError> {
        if let Some(cached) = self.cached(id) {
            metrics.cache_lookup("clients", true);
            return Ok(cached);
        }
        metrics.cache_lookup("clients", false);
        let generation = self.evictions.load(Ordering::Acquire);
        let client = db.find_client(id).await?;
        let secrets = db.live_client_secrets(id, now).await?;
        let loaded = Arc::new(CachedClient {
            client,
            secrets,
            loaded_at: Instant::now(),
        });
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        if self.evictions.load(Ordering::Acquire) == generation {
            if entries.len() >= self.capacity
                && let Some(victim) = entries.keys().next().cloned()
            {
                entries.remove(&victim);
            }
            entries.insert(id.clone(), Arc::clone(&loaded));
        }
        Ok(loaded)
    }

    fn cached(&self, id: &ClientId) -> Option<Arc<CachedClient>> {
        let entries = self.entries.read().unwrap_or_else(|p| p.into_inner());
        entries
            .get(id)
            .filter(|cached| cached.loaded_at.elapsed() < self.ttl)
            .cloned()
    }

    /// Drops the client `id` (it changed, or was deleted).
    pub fn evict(&self, id: &str) {
        self.evictions.fetch_add(1, Ordering::AcqRel);
        if let Ok(id) = ClientId::parse(id) {
            let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
            entries.remove(&id);
        }
    }

    /// Drops every client (the feed could not be followed, so anything may have changed).
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
