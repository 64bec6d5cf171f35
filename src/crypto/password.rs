//! Human passwords: argon2id (RFC 9106) with the OWASP parameters from config, computed on the
//! blocking pool behind a bulkhead. One argon2 computation holds about 19 MiB for tens of
//! milliseconds; unbounded, 32 concurrent logins took one process to 16 GB. So at most
//! `passwords.max_concurrent` run at once, and a request that cannot get a turn within
//! `passwords.queue_timeout_ms` is told to come back (`503` with `Retry-After`).

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use argon2::{Algorithm, Argon2, Params, PasswordHash, Version};
use tokio::sync::Semaphore;

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

/// Hashes and verifies passwords with bounded concurrency. Cheap to clone.
#[derive(Clone)]
pub struct PasswordHasher {
    params: Params,
    permits: Arc<Semaphore>,
    queue_timeout: Duration,
    /// Checked against when the user is unknown, so that case costs the same time. Made on
    /// first use, to keep start-up fast.
    dummy_hash: Arc<OnceLock<String>>,
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

impl PasswordHasher {
    pub fn new(settings: &PasswordSettings) -> Result<Self, PasswordError> {
        let params = Params::new(
            settings.memory_kib,
            settings.iterations,
            settings.parallelism,
            None,
        )
        .map_err(|e| PasswordError::Internal(e.to_string()))?;
        let slots = settings.max_concurrent.unwrap_or_else(|| {
            std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
        });
        Ok(Self {
            params,
            permits: Arc::new(Semaphore::new(slots.max(1))),
            queue_timeout: Duration::from_millis(settings.queue_timeout_ms),
            dummy_hash: Arc::new(OnceLock::new()),
        })
    }

    fn argon2(&self) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone())
    }

    /// A new PHC string for `password` with a fresh random salt.
    pub async fn hash(&self, password: &Password) -> Result<String, PasswordError> {
        let argon2 = self.argon2();
        let password = password.clone();
        self.run_bounded(move || {
            argon2
                .hash_password(password.expose().as_bytes())
                .map(|hash| hash.to_string())
                .map_err(|e| PasswordError::Internal(e.to_string()))
        })
        .await?
    }

    /// Checks `password` against `stored`; with no stored hash (an unknown user) a dummy hash
    /// is checked instead and the answer is `Invalid`, in the same time.
    pub async fn verify(
        &self,
        password: &Password,
        stored: Option<&str>,
    ) -> Result<Verification, PasswordError> {
        let this = self.clone();
        let password = password.clone();
        let stored = stored.map(str::to_owned);
        self.run_bounded(move || this.verify_blocking(&password, stored.as_deref()))
            .await
    }

    fn verify_blocking(&self, password: &Password, stored: Option<&str>) -> Verification {
        let parsed = stored.and_then(|s| PasswordHash::new(s).ok());
        if stored.is_some() && parsed.is_none() {
            tracing::warn!("a stored password hash is unreadable; treating it as no match");
        }
        let Some(hash) = parsed else {
            let dummy = self.dummy_hash.get_or_init(|| {
                self.argon2()
                    .hash_password(b"gatehouse dummy password")
                    .map(|h| h.to_string())
                    .unwrap_or_default()
            });
            if let Ok(dummy) = PasswordHash::new(dummy) {
                let _ = self
                    .argon2()
                    .verify_password(password.expose().as_bytes(), &dummy);
            }
            return Verification::Invalid;
        };
        // The parameters come from the stored hash; ours only decide whether to upgrade it.
        if self
            .argon2()
            .verify_password(password.expose().as_bytes(), &hash)
            .is_err()
        {
            return Verification::Invalid;
        }
        let current = hash.algorithm.as_str() == "argon2id"
            && hash.version == Some(Version::V0x13.into())
            && Params::try_from(&hash).is_ok_and(|p| {
                p.m_cost() == self.params.m_cost()
                    && p.t_cost() == self.params.t_cost()
                    && p.p_cost() == self.params.p_cost()
            });
        Verification::Valid {
            needs_rehash: !current,
        }
    }

    /// Runs `work` on the blocking pool once a slot is free, or fails with `Busy`.
    async fn run_bounded<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, PasswordError> {
        let permit = tokio::time::timeout(
            self.queue_timeout,
            Arc::clone(&self.permits).acquire_owned(),
        )
        .await
        .map_err(|_| PasswordError::Busy)?
        .map_err(|_| PasswordError::Busy)?;
        let span = tracing::Span::current();
        tokio::task::spawn_blocking(move || {
            let _entered = span.enter();
            let result = work();
            drop(permit);
            result
        })
        .await
        .map_err(|e| PasswordError::Internal(e.to_string()))
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
