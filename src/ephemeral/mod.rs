//! Short-lived state: authorization codes, login sessions, rate-limit counters, revoked `jti`s,
//! in-flight idempotency markers. In memory by default; in Redis when `ephemeral.url` is
//! `redis://…` (or a Sentinel or Cluster list, see [`crate::config::RedisTopology`]), so that
//! several instances behind a load balancer share it.

mod memory;
mod redis;

use std::time::Duration;

use async_trait::async_trait;

pub use self::memory::MemoryStore;
pub use self::redis::RedisStore;

/// A failure of the ephemeral backend. Callers that need the store fail closed, never open:
/// an outage ([`is_unavailable`](Self::is_unavailable)) is `503 temporarily_unavailable`, a
/// defect (a value that does not decode, a counter overflow) `500 server_error`.
#[derive(Debug, thiserror::Error)]
pub enum EphemeralError {
    #[error("the ephemeral store did not answer within {0:?}")]
    Timeout(Duration),
    /// Redis is down, unreachable, loading, failing over or read-only: the same call can
    /// succeed once it is back.
    #[error("the ephemeral store is unavailable")]
    Unavailable(#[source] anyhow::Error),
    #[error("the ephemeral store failed")]
    Backend(#[source] anyhow::Error),
}

impl EphemeralError {
    /// Whether this is an outage of the store rather than a defect.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Timeout(_) | Self::Unavailable(_))
    }
}

/// Key-value state with a time to live. Keys are namespaced by the caller (`code:…`, `jti:…`);
/// the backend adds its own configured prefix.
#[async_trait]
pub trait EphemeralStore: Send + Sync + std::fmt::Debug {
    /// Stores `value` under `key` for `ttl`, replacing any previous value.
    async fn put(&self, key: &str, value: &[u8], ttl: Duration) -> Result<(), EphemeralError>;

    /// Stores `value` under `key` for `ttl` only if the key holds nothing live; `true` if it was
    /// stored. Two concurrent calls for one key never both return `true` (single-use `jti`s).
    async fn put_if_absent(
        &self,
        key: &str,
        value: &[u8],
        ttl: Duration,
    ) -> Result<bool, EphemeralError>;

    /// The live value under `key`, if any.
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, EphemeralError>;

    /// Gets and deletes `key` in one atomic step (Redis `GETDEL`): of two concurrent `take`s of
    /// one key, at most one sees the value. This is how single-use codes are consumed.
    async fn take(&self, key: &str) -> Result<Option<Vec<u8>>, EphemeralError>;

    /// Deletes `key`; `true` if a live value was there.
    async fn delete(&self, key: &str) -> Result<bool, EphemeralError>;

    /// Atomically adds one to the counter under `key` and returns the new count. The first
    /// increment starts the window: the counter expires `ttl` after it, whatever follows.
    async fn increment(&self, key: &str, ttl: Duration) -> Result<u64, EphemeralError>;

    /// Atomically takes one back from a live counter (an attempt counted before its check that
    /// turned out well). Never goes below zero, never creates a counter, keeps the expiry.
    async fn decrement(&self, key: &str) -> Result<(), EphemeralError>;

    /// Checks that the backend answers (for `/readyz`).
    async fn ping(&self) -> Result<(), EphemeralError>;

    /// The backend's name for health reports: `memory` or `redis`.
    fn backend(&self) -> &'static str;
}

/// Opens the store named by `ephemeral.url`. Redis connects lazily, so the service starts (and
/// reports not ready) while Redis is down, and recovers by itself when it returns.
pub fn connect(
    settings: &crate::config::EphemeralSettings,
    clock: std::sync::Arc<dyn crate::clock::Clock>,
) -> Result<std::sync::Arc<dyn EphemeralStore>, EphemeralError> {
    use crate::config::EphemeralUrl;
    Ok(match &settings.url {
        EphemeralUrl::Memory => std::sync::Arc::new(MemoryStore::new(clock)),
        EphemeralUrl::Redis(url) => std::sync::Arc::new(RedisStore::new(
            url,
            settings.key_prefix.clone(),
            Duration::from_millis(settings.timeout_ms),
        )?),
    })
}
