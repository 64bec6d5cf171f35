//! Guessing limits for sign-ins and client authentication, counted in the ephemeral store (so
//! every instance sharing a Redis counts together) over one window.
//!
//! Three counts bound three attacks without handing an attacker a way to lock a victim out:
//!
//! | count | stops | limit |
//! |---|---|---|
//! | one name from one address | guessing one password | `per_pair` |
//! | one address, any name | spraying one password over many names | `per_address` |
//! | one name, any address | guessing from many addresses | `per_subject`: a soft lock |
//!
//! The soft lock refuses a name under attack only from addresses that already failed for it in
//! the window: a person signing in from an address that has not failed is still checked. The
//! argon2 bulkhead bounds the cost of each guess; this bounds their number.

use std::net::IpAddr;
use std::time::Duration;

use crate::crypto::sha256_hex;
use crate::ephemeral::{EphemeralError, EphemeralStore};

/// How many attempts each count allows within `window`.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub per_pair: u32,
    pub per_address: u32,
    pub per_subject: u32,
    pub window: Duration,
}

/// Why an attempt was refused without being checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// This name from this address failed too often.
    Pair,
    /// This address failed too often, whatever the names.
    Address,
    /// This name is under attack and this address already failed for it.
    Subject,
}

impl Refusal {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pair => "name_and_address",
            Self::Address => "address",
            Self::Subject => "name_under_attack",
        }
    }
}

/// The counts an attempt is judged by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    /// Unfinished attempts of this name from this address, this one included.
    pub pair: u64,
    /// Unfinished attempts from this address, this one included.
    pub address: u64,
    /// Failures of this name from any address, before this attempt.
    pub subject_failures: u64,
}

/// The decision, pure: `None` admits the attempt to be checked.
pub fn judge(counts: Counts, limits: &Limits) -> Option<Refusal> {
    if counts.pair > u64::from(limits.per_pair) {
        return Some(Refusal::Pair);
    }
    if counts.address > u64::from(limits.per_address) {
        return Some(Refusal::Address);
    }
    let under_attack = counts.subject_failures >= u64::from(limits.per_subject);
    let failed_here_before = counts.pair > 1;
    (under_attack && failed_here_before).then_some(Refusal::Subject)
}

/// The counters of one subject (a username, a client id) from one address.
pub struct Throttle<'a> {
    ephemeral: &'a dyn EphemeralStore,
    pair: String,
    address: String,
    subject: String,
    limits: Limits,
}

impl<'a> Throttle<'a> {
    /// `namespace` keeps the counts of sign-ins and client authentication apart.
    pub fn new(
        ephemeral: &'a dyn EphemeralStore,
        namespace: &str,
        subject: &str,
        address: IpAddr,
        limits: Limits,
    ) -> Self {
        let subject = subject.trim().to_lowercase();
        let hashed = |part: &str| sha256_hex(part.as_bytes());
        Self {
            ephemeral,
            pair: format!(
                "{namespace}:pair:{}",
                hashed(&format!("{subject}\0{address}"))
            ),
            address: format!("{namespace}:address:{}", hashed(&address.to_string())),
            subject: format!("{namespace}:subject:{}", hashed(&subject)),
            limits,
        }
    }

    /// Counts this attempt first, then judges it: of many attempts in flight at once, only as
    /// many as the limits allow are checked.
    pub async fn admit(&self) -> Result<Option<Refusal>, EphemeralError> {
        let window = self.limits.window;
        let pair = self.ephemeral.increment(&self.pair, window).await?;
        let address = self.ephemeral.increment(&self.address, window).await?;
        let counts = Counts {
            pair,
            address,
            subject_failures: self.count_of(&self.subject).await?,
        };
        Ok(judge(counts, &self.limits))
    }

    /// The count under `key`; none yet is 0.
    async fn count_of(&self, key: &str) -> Result<u64, EphemeralError> {
        Ok(self
            .ephemeral
            .get(key)
            .await?
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .and_then(|text| text.parse::<u64>().ok())
            .unwrap_or(0))
    }

    /// The attempt was checked and failed: it stays counted, and counts against the name.
    pub async fn failed(&self) -> Result<(), EphemeralError> {
        self.ephemeral
            .increment(&self.subject, self.limits.window)
            .await
            .map(drop)
    }

    /// The attempt was checked and succeeded: this name from this address starts afresh, and
    /// the address gets its attempt back (many people behind one NAT sign in all day).
    pub async fn succeeded(&self) -> Result<(), EphemeralError> {
        self.ephemeral.delete(&self.pair).await?;
        self.ephemeral.decrement(&self.address).await
    }

    /// How long a refused caller should wait, at most.
    pub fn retry_after(&self) -> Duration {
        self.limits.window
    }
}

/// The attempt counters above need a look at the shared store per attempt: right for sign-ins,
/// which hash a password anyway, too slow for client authentication on the token endpoint's
/// hot path. There only failures are counted, and the shared counts are read only for a
/// request from an address, or of a client id from an address, that failed on this instance
/// within the window. A request elsewhere that failed only on another instance is checked once
/// here, fails, and is remembered.
#[derive(Debug)]
pub struct RecentFailures {
    failed: std::sync::Mutex<FailedUntil>,
    capacity: usize,
    /// The latest `until` ever noted, in unix seconds: once past it nothing is remembered, and
    /// the hot path answers without taking the lock.
    latest_until: std::sync::atomic::AtomicI64,
}

#[derive(Debug, Default)]
struct FailedUntil {
    keys: std::collections::HashMap<String, time::OffsetDateTime>,
    /// Set when more failed than can be remembered: until then everything is looked at.
    overflow_until: Option<time::OffsetDateTime>,
}

impl RecentFailures {
    pub fn new(capacity: usize) -> Self {
        Self {
            failed: std::sync::Mutex::new(FailedUntil::default()),
            capacity,
            latest_until: std::sync::atomic::AtomicI64::new(i64::MIN),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, FailedUntil> {
        self.failed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether anything failed here within its window (no lock: the common answer is no).
    pub fn anything(&self, now: time::OffsetDateTime) -> bool {
        now.unix_timestamp() <= self.latest_until.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Whether `keys` (or anything, after an overflow) failed here within the window.
    pub fn any(&self, keys: &[&str], now: time::OffsetDateTime) -> bool {
        if !self.anything(now) {
            return false;
        }
        let failed = self.lock();
        failed.overflow_until.is_some_and(|until| now < until)
            || keys
                .iter()
                .any(|key| failed.keys.get(*key).is_some_and(|until| now < *until))
    }

    /// Remembers that `keys` failed, until `until`.
    pub fn note(&self, keys: &[&str], now: time::OffsetDateTime, until: time::OffsetDateTime) {
        let mut failed = self.lock();
        self.latest_until
            .fetch_max(until.unix_timestamp(), std::sync::atomic::Ordering::AcqRel);
        for key in keys {
            if failed.keys.len() >= self.capacity && !failed.keys.contains_key(*key) {
                failed.keys.retain(|_, until| now < *until);
            }
            if failed.keys.len() >= self.capacity && !failed.keys.contains_key(*key) {
                failed.overflow_until = Some(until);
                continue;
            }
            failed.keys.insert((*key).to_owned(), until);
        }
    }
}

impl Throttle<'_> {
    /// The keys [`RecentFailures`] remembers for this attempt: the pair and the address.
    pub fn local_keys(&self) -> [&str; 2] {
        [&self.pair, &self.address]
    }

    /// Judges by failures counted so far, without counting this attempt (client
    /// authentication: see [`RecentFailures`]).
    pub async fn judge_failures(&self) -> Result<Option<Refusal>, EphemeralError> {
        let counts = Counts {
            pair: self.count_of(&self.pair).await? + 1,
            address: self.count_of(&self.address).await? + 1,
            subject_failures: self.count_of(&self.subject).await?,
        };
        Ok(judge(counts, &self.limits))
    }

    /// Counts one failure against all three.
    pub async fn count_failure(&self) -> Result<(), EphemeralError> {
        let window = self.limits.window;
        self.ephemeral.increment(&self.pair, window).await?;
        self.ephemeral.increment(&self.address, window).await?;
        self.ephemeral.increment(&self.subject, window).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        per_pair: 5,
        per_address: 50,
        per_subject: 20,
        window: Duration::from_secs(900),
    };

    fn counts(pair: u64, address: u64, subject_failures: u64) -> Counts {
        Counts {
            pair,
            address,
            subject_failures,
        }
    }

    #[test]
    fn recent_failures_expire_and_overflow_into_looking_at_everything() {
        let now = time::OffsetDateTime::UNIX_EPOCH;
        let later = now + time::Duration::seconds(60);
        let recent = RecentFailures::new(2);
        assert!(!recent.any(&["a"], now));
        recent.note(&["a", "b"], now, later);
        assert!(recent.any(&["x", "a"], now));
        assert!(!recent.any(&["a"], later), "forgotten after the window");
        assert!(!recent.any(&["c"], now));
        recent.note(&["c"], now, later);
        assert!(
            recent.any(&["unrelated"], now),
            "full: everything is looked at"
        );
        recent.note(&["c"], later, later + time::Duration::seconds(60));
        assert!(
            recent.any(&["c"], later),
            "room again once the old ones expired"
        );
        assert!(!recent.any(&["unrelated"], later));
    }

    #[test]
    fn attempts_within_every_limit_are_checked() {
        assert_eq!(judge(counts(5, 50, 19), &LIMITS), None);
    }

    #[test]
    fn one_name_from_one_address_stops_at_its_limit() {
        assert_eq!(judge(counts(6, 6, 6), &LIMITS), Some(Refusal::Pair));
    }

    #[test]
    fn an_address_spraying_names_stops_at_its_limit() {
        assert_eq!(judge(counts(1, 51, 0), &LIMITS), Some(Refusal::Address));
    }

    #[test]
    fn a_name_under_attack_is_still_checked_from_an_address_that_has_not_failed() {
        assert_eq!(judge(counts(1, 1, 500), &LIMITS), None);
    }

    #[test]
    fn a_name_under_attack_is_refused_from_an_address_that_failed_for_it() {
        assert_eq!(judge(counts(2, 2, 20), &LIMITS), Some(Refusal::Subject));
        assert_eq!(judge(counts(2, 2, 19), &LIMITS), None);
    }
}
