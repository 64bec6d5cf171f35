//! Human passwords: argon2id (RFC 9106) with the OWASP parameters from config, computed on the
//! blocking pool behind a bulkhead. One argon2 computation needs about 19 MiB for tens of
//! milliseconds; unbounded, 32 concurrent logins took one process to 16 GB. So at most
//! `passwords.max_concurrent` run at once, and a request that cannot get a turn within
//! `passwords.queue_timeout_ms` is told to come back (`503` with `Retry-After`). Each slot owns
//! its argon2 memory, allocated on first use and reused (and wiped) afterwards: left to the
//! allocator, 19 MiB blocks freed by many threads stayed resident (512 MiB after 32 logins with
//! two slots), so the bound held for the computation but not for the process.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use tokio::sync::Semaphore;

use super::{constant_time_eq, random_bytes};
use crate::config::PasswordSettings;

/// Shortest accepted password, in characters (NIST SP 800-63B §3.1.1.2).
pub const MIN_PASSWORD_CHARS: usize = 8;
/// Longest accepted password, in bytes: enough for any passphrase, too little to be a burden.
pub const MAX_PASSWORD_BYTES: usize = 256;

const COMMON_PASSWORDS: &str = include_str!("common_passwords.txt");

/// A password in the clear, between the form (or standard input) and the hash.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    pub fn new(password: String) -> Self {
        Self(password)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The rules a new password must meet: length, and not one of the most common passwords
    /// nor the username itself.
    pub fn check_policy(&self, username: Option<&str>) -> Result<(), String> {
        let password = self.0.as_str();
        if password.chars().count() < MIN_PASSWORD_CHARS {
            return Err(format!(
                "a password has at least {MIN_PASSWORD_CHARS} characters"
            ));
        }
        if password.len() > MAX_PASSWORD_BYTES {
            return Err(format!("a password has at most {MAX_PASSWORD_BYTES} bytes"));
        }
        if password.chars().any(char::is_control) {
            return Err("a password has no control characters".into());
        }
        let lowered = password.to_lowercase();
        if username.is_some_and(|name| name.eq_ignore_ascii_case(password)) {
            return Err("a password differs from the username".into());
        }
        let common = COMMON_PASSWORDS
            .lines()
            .filter(|line| !line.starts_with('#'))
            .any(|line| line == lowered);
        if common {
            return Err("this password is one of the most common passwords; choose another".into());
        }
        Ok(())
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password([redacted])")
    }
}

/// The outcome of checking a password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verification {
    /// It matches; `needs_rehash` when the stored hash was made with other parameters.
    Valid {
        needs_rehash: bool,
    },
    Invalid,
}

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    /// Every argon2 slot stayed taken for the whole queue timeout.
    #[error("too many password checks at once")]
    Busy,
    #[error("password hashing failed: {0}")]
    Internal(String),
}

/// Hashes and verifies passwords with bounded concurrency and bounded memory. Cheap to clone.
#[derive(Clone)]
pub struct PasswordHasher {
    params: Params,
    permits: Arc<Semaphore>,
    queue_timeout: Duration,
    /// One argon2 working memory per slot, taken while a permit is held.
    memory: Arc<Mutex<Vec<Vec<Block>>>>,
    /// Told how long each check waited for a slot and computed (the metrics), if anyone listens.
    timings: Option<PasswordTimings>,
}

/// Receives a duration of a password check.
pub type DurationObserver = Arc<dyn Fn(Duration) + Send + Sync>;

/// Where a `PasswordHasher` reports its timings: the wait for an argon2 slot (a timed-out wait
/// included) and the argon2 computation itself, on its blocking thread. Apart, so that a slow
/// sign-in says whether it queued or hashed.
#[derive(Clone)]
pub struct PasswordTimings {
    pub queue_wait: DurationObserver,
    pub compute: DurationObserver,
}

impl std::fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordHasher")
            .field("m_cost", &self.params.m_cost())
            .field("t_cost", &self.params.t_cost())
            .field("p_cost", &self.params.p_cost())
            .field("available", &self.permits.available_permits())
            .finish()
    }
}

/// Length of the salt of new hashes (RFC 9106 §3.1 recommends 16 bytes).
const SALT_LEN: usize = 16;
/// Length of the hash of new hashes.
const OUTPUT_LEN: usize = 32;

impl PasswordHasher {
    pub fn new(settings: &PasswordSettings) -> Result<Self, PasswordError> {
        let params = Params::new(
            settings.memory_kib,
            settings.iterations,
            settings.parallelism,
            None,
        )
        .map_err(|e| PasswordError::Internal(e.to_string()))?;
        let slots = settings
            .max_concurrent
            .unwrap_or_else(|| {
                std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
            })
            .max(1);
        Ok(Self {
            params,
            permits: Arc::new(Semaphore::new(slots)),
            queue_timeout: Duration::from_millis(settings.queue_timeout_ms),
            memory: Arc::new(Mutex::new(vec![Vec::new(); slots])),
            timings: None,
        })
    }

    /// Reports every wait for a slot and every computation to `timings`.
    pub fn with_timings(mut self, timings: PasswordTimings) -> Self {
        self.timings = Some(timings);
        self
    }

    /// A new PHC string for `password` with a fresh random salt.
    pub async fn hash(&self, password: &Password) -> Result<String, PasswordError> {
        let this = self.clone();
        let password = password.clone();
        self.run_bounded(move |memory| this.hash_blocking(&password, memory))
            .await?
    }

    /// Checks `password` against `stored`; with no stored hash (an unknown user), or one that
    /// cannot be read, the same work is done with a throwaway salt and the answer is `Invalid`,
    /// in the same time.
    pub async fn verify(
        &self,
        password: &Password,
        stored: Option<&str>,
    ) -> Result<Verification, PasswordError> {
        let this = self.clone();
        let password = password.clone();
        let stored = stored.map(str::to_owned);
        self.run_bounded(move |memory| this.verify_blocking(&password, stored.as_deref(), memory))
            .await
    }

    fn hash_blocking(
        &self,
        password: &Password,
        memory: &mut Vec<Block>,
    ) -> Result<String, PasswordError> {
        let internal = |e: &dyn std::fmt::Display| PasswordError::Internal(e.to_string());
        let salt = random_bytes::<SALT_LEN>();
        let mut out = [0u8; OUTPUT_LEN];
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone());
        compute(&argon2, &self.params, password, &salt, &mut out, memory)
            .map_err(|e| internal(&e))?;
        let hash = PasswordHash {
            algorithm: Algorithm::Argon2id.ident(),
            version: Some(Version::V0x13.into()),
            params: ParamsString::try_from(&self.params).map_err(|e| internal(&e))?,
            salt: Some(Salt::new(&salt).map_err(|e| internal(&e))?),
            hash: Some(Output::new(&out).map_err(|e| internal(&e))?),
        };
        Ok(hash.to_string())
    }

    fn verify_blocking(
        &self,
        password: &Password,
        stored: Option<&str>,
        memory: &mut Vec<Block>,
    ) -> Verification {
        let parsed = stored.and_then(|s| StoredHash::parse(s).ok());
        if stored.is_some() && parsed.is_none() {
            tracing::warn!("a stored password hash is unreadable; treating it as no match");
        }
        let Some(stored) = parsed else {
            // An unknown user costs what a known one does.
            let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone());
            let mut out = [0u8; OUTPUT_LEN];
            let salt = random_bytes::<SALT_LEN>();
            let _ = compute(&argon2, &self.params, password, &salt, &mut out, memory);
            return Verification::Invalid;
        };
        let argon2 = Argon2::new(stored.algorithm, stored.version, stored.params.clone());
        let mut out = vec![0u8; stored.output.len()];
        let computed = compute(
            &argon2,
            &stored.params,
            password,
            &stored.salt,
            &mut out,
            memory,
        );
        if computed.is_err() || !constant_time_eq(&out, &stored.output) {
            return Verification::Invalid;
        }
        let current = stored.algorithm == Algorithm::Argon2id
            && stored.version == Version::V0x13
            && stored.params.m_cost() == self.params.m_cost()
            && stored.params.t_cost() == self.params.t_cost()
            && stored.params.p_cost() == self.params.p_cost();
        Verification::Valid {
            needs_rehash: !current,
        }
    }

    /// Runs `work` on the blocking pool with a slot's memory once a slot is free, or fails
    /// with `Busy`.
    async fn run_bounded<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Vec<Block>) -> T + Send + 'static,
    ) -> Result<T, PasswordError> {
        let waiting = std::time::Instant::now();
        let permit = tokio::time::timeout(
            self.queue_timeout,
            Arc::clone(&self.permits).acquire_owned(),
        )
        .await;
        if let Some(timings) = &self.timings {
            (timings.queue_wait)(waiting.elapsed());
        }
        let permit = permit
            .map_err(|_| PasswordError::Busy)?
            .map_err(|_| PasswordError::Busy)?;
        let memory = Arc::clone(&self.memory);
        let compute_time = self.timings.as_ref().map(|t| Arc::clone(&t.compute));
        let span = tracing::Span::current();
        tokio::task::spawn_blocking(move || {
            let _entered = span.enter();
            let lock = |m: &Mutex<Vec<Vec<Block>>>| {
                let mut slots = m.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                slots.pop()
            };
            // A permit guarantees a slot's memory is free; an empty one is allocated on use.
            let mut slot = lock(&memory).unwrap_or_default();
            let computing = std::time::Instant::now();
            let result = work(&mut slot);
            if let Some(observe) = compute_time {
                observe(computing.elapsed());
            }
            slot.iter_mut().for_each(|block| *block = Block::default());
            memory
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push(slot);
            drop(permit);
            result
        })
        .await
        .map_err(|e| PasswordError::Internal(e.to_string()))
    }
}

/// A stored PHC string, taken apart.
struct StoredHash {
    algorithm: Algorithm,
    version: Version,
    params: Params,
    salt: Vec<u8>,
    output: Vec<u8>,
}

impl StoredHash {
    fn parse(phc: &str) -> Result<Self, String> {
        let hash = PasswordHash::new(phc).map_err(|e| e.to_string())?;
        let algorithm = Algorithm::try_from(hash.algorithm.as_str()).map_err(|e| e.to_string())?;
        let version = Version::try_from(hash.version.unwrap_or(0x13)).map_err(|e| e.to_string())?;
        let params = Params::try_from(&hash).map_err(|e| e.to_string())?;
        let salt = hash.salt.ok_or("no salt")?.to_vec();
        let output = hash.hash.ok_or("no hash")?.as_bytes().to_vec();
        Ok(Self {
            algorithm,
            version,
            params,
            salt,
            output,
        })
    }
}

/// argon2 into `out`, in the slot's `memory` when the parameters are the configured ones (it
/// is sized on first use), else in a buffer of its own (a hash from before a parameter change,
/// until the login that upgrades it).
fn compute(
    argon2: &Argon2<'_>,
    params: &Params,
    password: &Password,
    salt: &[u8],
    out: &mut [u8],
    memory: &mut Vec<Block>,
) -> Result<(), argon2::Error> {
    let needed = params.block_count();
    if memory.is_empty() || memory.len() == needed {
        memory.resize(needed, Block::default());
        argon2.hash_password_into_with_memory(
            password.expose().as_bytes(),
            salt,
            out,
            &mut memory[..],
        )
    } else {
        let mut own = vec![Block::default(); needed];
        argon2.hash_password_into_with_memory(password.expose().as_bytes(), salt, out, &mut own[..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cheap() -> PasswordSettings {
        PasswordSettings {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
            max_concurrent: Some(1),
            queue_timeout_ms: 10_000,
        }
    }

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let hasher = PasswordHasher::new(&cheap()).unwrap();
        let hash = hasher
            .hash(&Password::new("correct horse".into()))
            .await
            .unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=64,t=1,p=1$"));
        let right = hasher
            .verify(&Password::new("correct horse".into()), Some(&hash))
            .await
            .unwrap();
        assert_eq!(
            right,
            Verification::Valid {
                needs_rehash: false
            }
        );
        let wrong = hasher
            .verify(&Password::new("wrong horse".into()), Some(&hash))
            .await
            .unwrap();
        assert_eq!(wrong, Verification::Invalid);
        let unknown = hasher
            .verify(&Password::new("correct horse".into()), None)
            .await
            .unwrap();
        assert_eq!(unknown, Verification::Invalid);
        let garbage = hasher
            .verify(&Password::new("x".into()), Some("not a hash"))
            .await
            .unwrap();
        assert_eq!(garbage, Verification::Invalid);
    }

    #[tokio::test]
    async fn our_hashes_and_the_argon2_crates_agree() {
        use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
        let hasher = PasswordHasher::new(&cheap()).unwrap();
        let password = Password::new("correct horse".into());
        let ours = hasher.hash(&password).await.unwrap();
        let reference = Argon2::new(Algorithm::Argon2id, Version::V0x13, hasher.params.clone());
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(reference.verify_password(b"correct horse", &parsed).is_ok());
        let theirs = reference
            .hash_password(b"correct horse")
            .unwrap()
            .to_string();
        let outcome = hasher.verify(&password, Some(&theirs)).await.unwrap();
        assert_eq!(
            outcome,
            Verification::Valid {
                needs_rehash: false
            }
        );
        // memory reused by a second computation gives the same answers
        let again = hasher.verify(&password, Some(&ours)).await.unwrap();
        assert_eq!(
            again,
            Verification::Valid {
                needs_rehash: false
            }
        );
    }

    #[tokio::test]
    async fn a_hash_made_with_other_parameters_asks_to_be_upgraded() {
        let old = PasswordHasher::new(&PasswordSettings {
            iterations: 2,
            ..cheap()
        })
        .unwrap();
        let hash = old
            .hash(&Password::new("correct horse".into()))
            .await
            .unwrap();
        let current = PasswordHasher::new(&cheap()).unwrap();
        let outcome = current
            .verify(&Password::new("correct horse".into()), Some(&hash))
            .await
            .unwrap();
        assert_eq!(outcome, Verification::Valid { needs_rehash: true });
    }

    #[tokio::test]
    async fn a_full_bulkhead_answers_busy_after_the_queue_timeout() {
        let hasher = PasswordHasher::new(&PasswordSettings {
            queue_timeout_ms: 0,
            ..cheap()
        })
        .unwrap();
        let _taken = Arc::clone(&hasher.permits).acquire_owned().await.unwrap();
        let outcome = hasher
            .verify(&Password::new("whatever1".into()), None)
            .await;
        assert!(matches!(outcome, Err(PasswordError::Busy)));
    }

    #[test]
    fn the_policy_refuses_short_long_common_and_username_passwords() {
        let check = |p: &str| Password::new(p.into()).check_policy(Some("ann.smith"));
        assert!(check("short").is_err());
        assert!(check(&"x".repeat(257)).is_err());
        assert!(check("Password1").is_err());
        assert!(check("ANN.SMITH").is_err());
        assert!(check("tab\there!").is_err());
        assert!(check("a long and unusual passphrase").is_ok());
        assert_eq!(
            format!("{:?}", Password::new("hunter22".into())),
            "Password([redacted])"
        );
    }
}
