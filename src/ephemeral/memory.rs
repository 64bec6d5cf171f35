//! The in-process backend: one mutex-guarded map, with time taken from the injected [`Clock`].
//! It mirrors the Redis backend's observable behaviour so the two pass one contract suite.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use time::{Date, OffsetDateTime, Time};

use super::{EphemeralError, EphemeralStore};
use crate::clock::Clock;

/// Writes between two sweeps of expired entries. Sweeping is O(n), so doing it on every write
/// would be quadratic; doing it never would let a long-running process grow without bound.
const SWEEP_EVERY: u32 = 1024;

/// An [`EphemeralStore`] held in this process's memory: the default when no Redis is configured.
/// State is lost on restart and not shared between instances.
pub struct MemoryStore {
    clock: Arc<dyn Clock>,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    entries: HashMap<String, Entry>,
    writes_since_sweep: u32,
}

struct Entry {
    slot: Slot,
    expires_at: OffsetDateTime,
}

/// Counters share the map with plain values, as they share the keyspace in Redis.
enum Slot {
    Bytes(Vec<u8>),
    Counter(u64),
}

impl Entry {
    fn is_live(&self, now: OffsetDateTime) -> bool {
        now < self.expires_at
    }

    /// A counter reads back as its decimal text, which is what Redis `GET` returns for one.
    fn to_bytes(&self) -> Vec<u8> {
        match &self.slot {
            Slot::Bytes(bytes) => bytes.clone(),
            Slot::Counter(count) => count.to_string().into_bytes(),
        }
    }
}

impl Inner {
    /// Removes `key` if it has expired, so every caller below sees only live entries.
    fn live(&mut self, key: &str, now: OffsetDateTime) -> Option<&mut Entry> {
        if self.entries.get(key).is_some_and(|e| !e.is_live(now)) {
            self.entries.remove(key);
        }
        self.entries.get_mut(key)
    }

    fn note_write(&mut self, now: OffsetDateTime) {
        self.writes_since_sweep += 1;
        if self.writes_since_sweep >= SWEEP_EVERY {
            self.writes_since_sweep = 0;
            self.entries.retain(|_, entry| entry.is_live(now));
        }
    }
}

/// `now + ttl`, saturating: an absurdly long TTL means "never" rather than an overflow panic.
fn expiry(now: OffsetDateTime, ttl: Duration) -> OffsetDateTime {
    time::Duration::try_from(ttl)
        .ok()
        .and_then(|ttl| now.checked_add(ttl))
        .unwrap_or_else(|| Date::MAX.with_time(Time::MAX).assume_utc())
}

impl MemoryStore {
    /// An empty store whose expiry decisions all use `clock`.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            clock,
            inner: Mutex::new(Inner::default()),
        }
    }

    /// The map is never left half-updated by a panic (no operation panics between two writes),
    /// so a poisoned lock is safe to keep using.
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Entries held, including expired ones not yet swept.
    #[cfg(test)]
    fn held(&self) -> usize {
        self.lock().entries.len()
    }
}

impl std::fmt::Debug for MemoryStore {
    /// Stored values may be secrets (codes, sessions), so only their number is shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore")
            .field("entries", &self.lock().entries.len())
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl EphemeralStore for MemoryStore {
    async fn put(&self, key: &str, value: &[u8], ttl: Duration) -> Result<(), EphemeralError> {
        let now = self.clock.now();
        let mut inner = self.lock();
        let entry = Entry {
            slot: Slot::Bytes(value.to_vec()),
            expires_at: expiry(now, ttl),
        };
        inner.entries.insert(key.to_owned(), entry);
        inner.note_write(now);
        Ok(())
    }

    async fn put_if_absent(
        &self,
        key: &str,
        value: &[u8],
        ttl: Duration,
    ) -> Result<bool, EphemeralError> {
        let now = self.clock.now();
        let mut inner = self.lock();
        if inner.live(key, now).is_some() {
            return Ok(false);
        }
        let entry = Entry {
            slot: Slot::Bytes(value.to_vec()),
            expires_at: expiry(now, ttl),
        };
        inner.entries.insert(key.to_owned(), entry);
        inner.note_write(now);
        Ok(true)
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, EphemeralError> {
        let now = self.clock.now();
        Ok(self.lock().live(key, now).map(|entry| entry.to_bytes()))
    }

    async fn take(&self, key: &str) -> Result<Option<Vec<u8>>, EphemeralError> {
        let now = self.clock.now();
        let mut inner = self.lock();
        let taken = inner.entries.remove(key).filter(|entry| entry.is_live(now));
        Ok(taken.map(|entry| entry.to_bytes()))
    }

    async fn delete(&self, key: &str) -> Result<bool, EphemeralError> {
        let now = self.clock.now();
        let removed = self.lock().entries.remove(key);
        Ok(removed.is_some_and(|entry| entry.is_live(now)))
    }

    async fn increment(&self, key: &str, ttl: Duration) -> Result<u64, EphemeralError> {
        let now = self.clock.now();
        let mut inner = self.lock();
        // Same rules as the Redis script: INCR keeps an existing expiry, and only a count of 1
        // (a new window) sets one.
        let (previous, expires_at) = match inner.live(key, now) {
            None => (0, None),
            Some(Entry {
                slot: Slot::Counter(count),
                expires_at,
            }) => (*count, Some(*expires_at)),
            Some(Entry {
                slot: Slot::Bytes(bytes),
                expires_at,
            }) => {
                let parsed = std::str::from_utf8(bytes).ok().and_then(|s| s.parse().ok());
                let Some(count) = parsed else {
                    return Err(EphemeralError::Backend(anyhow::anyhow!(
                        "increment of a value that is not a counter"
                    )));
                };
                (count, Some(*expires_at))
            }
        };
        let Some(count) = previous.checked_add(1) else {
            return Err(EphemeralError::Backend(anyhow::anyhow!("counter overflow")));
        };
        let expires_at = match expires_at {
            Some(at) if count != 1 => at,
            _ => expiry(now, ttl),
        };
        let entry = Entry {
            slot: Slot::Counter(count),
            expires_at,
        };
        inner.entries.insert(key.to_owned(), entry);
        inner.note_write(now);
        Ok(count)
    }

    async fn decrement(&self, key: &str) -> Result<(), EphemeralError> {
        let now = self.clock.now();
        let mut inner = self.lock();
        if let Some(Entry {
            slot: Slot::Counter(count),
            ..
        }) = inner.live(key, now)
        {
            *count = count.saturating_sub(1);
        }
        Ok(())
    }

    async fn ping(&self) -> Result<(), EphemeralError> {
        Ok(())
    }

    fn backend(&self) -> &'static str {
        "memory"
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::clock::FixedClock;

    #[tokio::test]
    async fn expired_entries_are_swept_after_enough_writes() {
        let clock = Arc::new(FixedClock::starting_now());
        let store = MemoryStore::new(clock.clone());
        store
            .put("old", b"x", Duration::from_secs(1))
            .await
            .unwrap();
        clock.advance(Duration::from_secs(2));
        for i in 1..SWEEP_EVERY {
            store
                .put(&format!("k{i}"), b"y", Duration::from_secs(60))
                .await
                .unwrap();
        }
        // The 1024th write triggers the sweep, which drops only the expired entry.
        assert_eq!(store.held(), (SWEEP_EVERY - 1) as usize);
    }

    #[test]
    fn an_enormous_ttl_saturates_instead_of_overflowing() {
        let now = OffsetDateTime::UNIX_EPOCH;
        assert_eq!(expiry(now, Duration::MAX).date(), Date::MAX);
    }
}
