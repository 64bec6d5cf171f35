//! What is true now, on every instance: revocations and cached clients and users, kept in process and
//! followed from the database's change feed (migration 0009).
//!
//! Every change that takes access away is written to the database before it is answered
//! (the durable home: nothing here lives only in Redis) and applied to this instance at once;
//! every other instance reads it at its next poll, `cache.poll_interval_ms` later at most.
//! Verifiers ask the in-process copy, so the checks cost no round trip. When the feed cannot
//! be followed for `cache.max_staleness_ms` (the database is down), verifiers try to catch up
//! once and otherwise fail closed: a revocation is never missed because it could not be read.

mod cache;
mod clients;
mod notices;
mod origins;
mod revocations;
mod users;

use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use time::OffsetDateTime;
use tokio::sync::watch;

pub use self::cache::ReadThrough;
pub use self::clients::{AssertionKey, CachedClient, ClientCache};
pub use self::notices::ChangeNotices;
pub use self::origins::ClientOrigins;
pub use self::revocations::{Revocations, TokenFacts, scope_subject};
pub use self::users::UserCache;
use crate::keyring::KeyRing;
use crate::store::{ChangeKind, Database, NewChange, StoreError};

/// How far behind the last seen `seq` each poll reads again. In PostgreSQL a sequence value is
/// taken when a row is inserted but becomes visible when its transaction commits, so a row
/// may appear behind one already read; re-applying a change is harmless.
const LOOKBACK: i64 = 128;
/// Rows read per query while catching up.
const BATCH: u32 = 2_000;

/// How the feed is followed.
#[derive(Debug, Clone)]
pub struct FeedPolicy {
    pub poll_interval: Duration,
    pub max_staleness: Duration,
}

/// What one catch-up found, for the caller to act on.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Synced {
    /// Another instance (or the CLI) changed the signing keys; the ring was read again.
    pub keys_changed: bool,
}

#[derive(Debug)]
struct Position {
    /// The highest `seq` applied.
    seq: i64,
    /// When the feed was last read successfully (by the injected clock, so tests can move
    /// past `max_staleness`); `None` before the first read.
    read_at: Option<OffsetDateTime>,
    /// The `seq`s applied within the lookback window, so a re-read applies nothing twice (a
    /// client evicted again and again would never stay cached).
    recent: std::collections::BTreeSet<i64>,
}

#[derive(Debug)]
pub struct Current {
    db: Arc<dyn Database>,
    /// Read again whenever the feed says the keys changed (a rotation or revocation elsewhere).
    keys: Arc<KeyRing>,
    policy: FeedPolicy,
    revocations: RwLock<Revocations>,
    pub clients: ClientCache,
    pub users: UserCache,
    /// The redirect origins of enabled public clients, for CORS.
    pub origins: ClientOrigins,
    position: Mutex<Position>,
    /// Serialises catch-ups, so concurrent requests finding the copy stale query once.
    catching_up: tokio::sync::Mutex<()>,
    applied: watch::Sender<i64>,
}

/// Why a verifier could not get an answer.
#[derive(Debug, thiserror::Error)]
#[error("the revocation list could not be read: {0}")]
pub struct Unavailable(#[source] pub StoreError);

impl Current {
    pub fn new(
        db: Arc<dyn Database>,
        keys: Arc<KeyRing>,
        policy: FeedPolicy,
        clients: ClientCache,
        users: UserCache,
    ) -> Self {
        Self {
            db,
            keys,
            policy,
            revocations: RwLock::default(),
            origins: ClientOrigins::new(clients.ttl()),
            clients,
            users,
            position: Mutex::new(Position {
                seq: 0,
                read_at: None,
                recent: std::collections::BTreeSet::new(),
            }),
            catching_up: tokio::sync::Mutex::new(()),
            applied: watch::channel(0).0,
        }
    }

    pub fn policy(&self) -> &FeedPolicy {
        &self.policy
    }

    /// Records `change` in the database, then applies it here at once.
    pub async fn record(&self, change: NewChange, now: OffsetDateTime) -> Result<(), StoreError> {
        let seq = self.db.record_change(&change).await?;
        if self.lock_position().recent.insert(seq) {
            self.apply(&change, now);
        }
        Ok(())
    }

    fn apply(&self, change: &NewChange, now: OffsetDateTime) -> Synced {
        match change.kind {
            ChangeKind::ClientChanged | ChangeKind::Client => {
                self.clients.evict(&change.subject);
                self.origins.client_changed(&change.subject);
            }
            ChangeKind::Scope => {
                if let Some((client, _)) = change.subject.split_once(' ') {
                    self.clients.evict(client);
                }
            }
            ChangeKind::User | ChangeKind::UserChanged => self.users.evict(&change.subject),
            _ => {}
        }
        self.revocations
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .apply(change, now.unix_timestamp());
        Synced {
            keys_changed: change.kind == ChangeKind::Keys,
        }
    }

    /// Reads and applies every change recorded since the last read. Safe to call at any time
    /// from anywhere; concurrent calls read once.
    pub async fn sync(&self, now: OffsetDateTime) -> Result<Synced, StoreError> {
        let _one_at_a_time = self.catching_up.lock().await;
        let first_read = self.lock_position().read_at.is_none();
        let mut after = (self.lock_position().seq - LOOKBACK).max(0);
        let mut synced = Synced::default();
        loop {
            let batch = self.db.changes_after(after, BATCH).await?;
            for change in &batch {
                after = after.max(change.seq);
                if !self.lock_position().recent.insert(change.seq) {
                    continue;
                }
                let found = self.apply(&change.change, now);
                // At start the whole feed is read: old key changes are already in the ring.
                synced.keys_changed |= found.keys_changed && !first_read;
            }
            if batch.len() < BATCH as usize {
                break;
            }
        }
        {
            let mut position = self.lock_position();
            position.seq = position.seq.max(after);
            position.read_at = Some(now);
            let horizon = position.seq - LOOKBACK;
            position.recent.retain(|&seq| seq > horizon);
        }
        self.revocations
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .purge(now.unix_timestamp());
        if synced.keys_changed
            && let Err(error) = self.keys.reload().await
        {
            // The ring is read again at the next unknown kid and every refresh interval.
            tracing::warn!(%error, "could not read the key ring again after a key change");
        }
        // A client that could not be read stays pending: the next catch-up reads it.
        self.origins.refresh(self.db.as_ref()).await?;
        self.applied.send_replace(after);
        Ok(synced)
    }

    fn lock_position(&self) -> std::sync::MutexGuard<'_, Position> {
        self.position.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Catches up first when the copy is older than `max_staleness`; fails closed when the
    /// feed cannot be read.
    async fn fresh(&self, now: OffsetDateTime) -> Result<(), Unavailable> {
        let stale = self
            .lock_position()
            .read_at
            .is_none_or(|read| now - read > self.policy.max_staleness || read > now);
        if stale {
            self.sync(now).await.map_err(Unavailable)?;
        }
        Ok(())
    }

    /// Why `token` is refused at `now`, if it is.
    pub async fn token_refusal(
        &self,
        token: &TokenFacts<'_>,
        now: OffsetDateTime,
    ) -> Result<Option<&'static str>, Unavailable> {
        self.fresh(now).await?;
        Ok(self
            .revocations
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .refusal(token, now.unix_timestamp()))
    }

    /// Whether the browser session of `user_id` signed in at `auth_time` was ended (sign-out
    /// everywhere, a password change, a disabled or deleted user).
    pub async fn session_ended(
        &self,
        user_id: &str,
        auth_time: i64,
        now: OffsetDateTime,
    ) -> Result<bool, Unavailable> {
        self.fresh(now).await?;
        Ok(self
            .revocations
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .ends_session(user_id, auth_time, now.unix_timestamp()))
    }

    /// Waits until every change up to `seq` has been applied here (tests, and callers that
    /// must see their own writes made through another path, such as the CLI).
    pub async fn caught_up_to(&self, seq: i64) {
        let mut applied = self.applied.subscribe();
        let _ = applied.wait_for(|&at| at >= seq).await;
    }

    /// How many revocations are held in memory.
    pub fn revocation_count(&self) -> usize {
        self.revocations
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .len()
    }
}

/// When a cut-off (user, client or scope) may be forgotten: once no token or session issued
/// before it can still be live.
pub fn cut_off_expiry(
    now: OffsetDateTime,
    longest_token: Duration,
    session_lifetime: Duration,
) -> OffsetDateTime {
    let longest = longest_token.max(session_lifetime) + Duration::from_secs(60);
    time::Duration::try_from(longest)
        .ok()
        .and_then(|d| now.checked_add(d))
        .unwrap_or_else(|| now + time::Duration::days(366))
}
