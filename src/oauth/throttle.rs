//! Failed sign-ins, counted per username and client address in the ephemeral store (so every
//! instance sharing a Redis counts together). Past `sessions.max_failed_logins` within
//! `sessions.failed_login_window_secs`, that name from that address is refused without a
//! password check until the window ends; a successful sign-in clears the count. The argon2
//! bulkhead bounds the cost of guessing; this bounds the number of guesses.

use std::net::IpAddr;
use std::time::Duration;

use crate::crypto::sha256_hex;
use crate::ephemeral::{EphemeralError, EphemeralStore};

/// The failure count of one username from one address.
pub struct LoginThrottle<'a> {
    ephemeral: &'a dyn EphemeralStore,
    key: String,
    max_failures: u32,
    window: Duration,
}

impl<'a> LoginThrottle<'a> {
    pub fn new(
        ephemeral: &'a dyn EphemeralStore,
        username: &str,
        address: Option<IpAddr>,
        max_failures: u32,
        window: Duration,
    ) -> Self {
        let address = address.map_or_else(String::new, |ip| ip.to_string());
        let subject = format!("{}\0{address}", username.trim().to_lowercase());
        Self {
            ephemeral,
            key: format!("login-failures:{}", sha256_hex(subject.as_bytes())),
            max_failures,
            window,
        }
    }

    /// Whether this name from this address has used up its attempts.
    pub async fn is_blocked(&self) -> Result<bool, EphemeralError> {
        let count = self
            .ephemeral
            .get(&self.key)
            .await?
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .and_then(|text| text.parse::<u64>().ok())
            .unwrap_or(0);
        Ok(count >= u64::from(self.max_failures))
    }

    pub async fn record_failure(&self) -> Result<(), EphemeralError> {
        self.ephemeral
            .increment(&self.key, self.window)
            .await
            .map(drop)
    }

    pub async fn clear(&self) -> Result<(), EphemeralError> {
        self.ephemeral.delete(&self.key).await.map(drop)
    }

    /// How long a refused client should wait, at most.
    pub fn retry_after(&self) -> Duration {
        self.window
    }
}
