//! `[sessions]` and `[client_auth]`: how long a browser stays signed in, and how often people
//! and clients may fail before they are refused (see `oauth::throttle`).

use serde::Deserialize;

use crate::oauth::throttle::Limits;

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SessionSettings {
    /// How long a browser stays signed in.
    pub lifetime_secs: u64,
    /// Failed sign-ins of one username from one address before it is refused for the window.
    pub max_failed_logins: u32,
    /// Failed sign-ins from one address, whatever the usernames (password spraying), before the
    /// address is refused for the window. Successes do not count: a whole office behind one
    /// NAT address signs in all day.
    pub max_failed_logins_per_address: u32,
    /// Failed sign-ins of one username from any address before that name is soft-locked: refused
    /// from every address that has failed for it, still checked from any other.
    pub max_failed_logins_per_user: u32,
    /// How long failed sign-ins are counted, and how long a refusal lasts.
    pub failed_login_window_secs: u64,
    /// Authorizations one address may have waiting for sign-in or consent at once (each is
    /// kept ten minutes); past this, `429`.
    pub max_pending_interactions_per_address: u32,
}

impl SessionSettings {
    pub fn sign_in_limits(&self) -> Limits {
        Limits {
            per_pair: self.max_failed_logins,
            per_address: self.max_failed_logins_per_address,
            per_subject: self.max_failed_logins_per_user,
            window: std::time::Duration::from_secs(self.failed_login_window_secs),
        }
    }
}

/// Failed client authentications at the token, introspection and revocation endpoints (the
/// same three counts as sign-ins, over their own window). A client that authenticates
/// correctly from an address that has not failed is never counted, checked or slowed.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClientAuthSettings {
    /// Failures of one client id from one address before it is refused for the window.
    pub max_failures: u32,
    /// Failures from one address, whatever the client ids.
    pub max_failures_per_address: u32,
    /// Failures of one client id from any address before it is refused from every address
    /// that has failed for it.
    pub max_failures_per_client: u32,
    pub window_secs: u64,
    /// Client ids and addresses remembered as having failed on this instance (only those pay
    /// a look at the shared counts); past this, every request looks until the window ends.
    pub max_remembered_failures: usize,
}

impl Default for ClientAuthSettings {
    fn default() -> Self {
        Self {
            max_failures: 20,
            max_failures_per_address: 100,
            max_failures_per_client: 100,
            window_secs: 300,
            max_remembered_failures: 10_000,
        }
    }
}

impl ClientAuthSettings {
    pub fn limits(&self) -> Limits {
        Limits {
            per_pair: self.max_failures,
            per_address: self.max_failures_per_address,
            per_subject: self.max_failures_per_client,
            window: std::time::Duration::from_secs(self.window_secs),
        }
    }
}

impl Default for SessionSettings {
    fn default() -> Self {
        Self {
            lifetime_secs: 8 * 3600,
            max_failed_logins: 10,
            max_failed_logins_per_address: 100,
            max_failed_logins_per_user: 30,
            failed_login_window_secs: 900,
            max_pending_interactions_per_address: 500,
        }
    }
}
