//! A token naming a `kid` this instance does not know may be signed by a key another instance
//! (or the CLI) just created: the ring reloads from the database before the token is refused.
//! At most once a second per instance, and one reload at a time: a burst of such tokens (or an
//! attacker making up kids) costs the database one query pair per second, never one per token.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use time::OffsetDateTime;

use super::KeyRing;
use crate::crypto::VerifyingKey;

/// The shortest time between two reloads caused by unknown kids.
const MIN_INTERVAL_MS: i64 = 1_000;

#[derive(Debug, Default)]
pub(super) struct UnknownKidReloads {
    /// When the last such reload started, in unix milliseconds of the injected clock (0: never).
    last_started_ms: AtomicI64,
    /// Counts finished reloads, so requests that waited for one do not start another.
    finished: AtomicU64,
    /// Held while one reload runs; the fast path never touches it.
    running: tokio::sync::Mutex<()>,
}

impl UnknownKidReloads {
    /// Whether a reload started less than a second ago (either way: a clock set back by more
    /// than a second allows one again rather than stopping reloads until it catches up).
    fn throttled(&self, now_ms: i64) -> bool {
        let last = self.last_started_ms.load(Ordering::Acquire);
        last != 0 && now_ms.abs_diff(last) < MIN_INTERVAL_MS.unsigned_abs()
    }
}

impl KeyRing {
    /// The key that verifies tokens naming `kid`: a published key of this ring. An unknown kid
    /// reloads the ring first (throttled, see the module comment); a revoked kid is refused
    /// at once.
    pub async fn verifying_key(&self, kid: &str, now: OffsetDateTime) -> Option<Arc<VerifyingKey>> {
        {
            let snapshot = self.current();
            if let Some(key) = snapshot.find(kid) {
                return Some(Arc::clone(&key.verifying));
            }
            if snapshot.revoked.contains(kid) {
                return None;
            }
        }
        if !self.reload_for_unknown_kid(now).await {
            return None;
        }
        self.current()
            .find(kid)
            .map(|key| Arc::clone(&key.verifying))
    }

    /// Reloads unless one ran within the last second; `true` when the snapshot may have
    /// changed since the caller looked (its own reload, or one it waited for).
    async fn reload_for_unknown_kid(&self, now: OffsetDateTime) -> bool {
        let reloads = &self.unknown_kid_reloads;
        let now_ms = i64::try_from(now.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX);
        let seen = reloads.finished.load(Ordering::Acquire);
        if reloads.throttled(now_ms) {
            return false;
        }
        let _running = reloads.running.lock().await;
        if reloads.finished.load(Ordering::Acquire) != seen {
            // Someone reloaded while this request waited: look again, but do not reload again.
            return true;
        }
        if reloads.throttled(now_ms) {
            return false;
        }
        reloads.last_started_ms.store(now_ms, Ordering::Release);
        let reloaded = self.reload().await;
        reloads.finished.fetch_add(1, Ordering::AcqRel);
        match reloaded {
            Ok(()) => true,
            Err(error) => {
                // Fail closed: the token is refused as signed by an unknown key.
                tracing::warn!(%error, "could not reload the key ring for an unknown kid");
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_kid_reloads_at_most_once_a_second() {
        let reloads = UnknownKidReloads::default();
        assert!(!reloads.throttled(5_000), "never reloaded: allowed");
        reloads.last_started_ms.store(5_000, Ordering::Release);
        assert!(reloads.throttled(5_999), "within the second");
        assert!(!reloads.throttled(6_000), "a second later");
        assert!(
            !reloads.throttled(3_000),
            "a clock set back allows one again"
        );
    }
}
