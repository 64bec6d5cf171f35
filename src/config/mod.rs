//! Settings: defaults → `gatehouse.toml` (or `--config PATH`) → `GATEHOUSE_*` environment
//! (nested keys joined with `__`). Validated at load: a bad value stops the process with one line
//! naming the key, before anything starts.

mod declared;
mod error;
mod redis_topology;
mod server;
mod sessions;
mod testing;
mod validate;
mod values;

use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use serde::Deserialize;

pub use self::declared::{
    Declarations, DeclaredClient, DeclaredPassword, DeclaredUser, FixedSecret, PasswordHashString,
};
pub use self::error::ConfigError;
pub use self::redis_topology::RedisTopology;
pub use self::server::{ClientAddressHeader, ServerSettings};
pub use self::sessions::{ClientAuthSettings, SessionSettings};
pub use self::testing::{EPHEMERAL_DATABASE_URL, TestingSettings};
pub use self::values::{
    BindAddress, DatabaseUrl, EncryptionKey, EphemeralUrl, IssuerUrl, TrustedProxy,
};

/// The file read when no `--config` is given; its absence is not an error.
pub const DEFAULT_CONFIG_FILE: &str = "gatehouse.toml";
/// The prefix of environment overrides: `GATEHOUSE_DATABASE__URL` sets `database.url`.
pub const ENV_PREFIX: &str = "GATEHOUSE_";

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub ephemeral: EphemeralSettings,
    pub keys: KeySettings,
    pub tokens: TokenSettings,
    pub sessions: SessionSettings,
    /// Failed client authentication (`[client_auth]`).
    pub client_auth: ClientAuthSettings,
    pub passwords: PasswordSettings,
    pub admin: AdminSettings,
    pub audit: AuditSettings,
    pub cache: CacheSettings,
    pub log: LogSettings,
    /// What the discovery documents publish beyond the standard.
    pub discovery: DiscoverySettings,
    /// Test mode (`POST /testing/tokens`); `serve --ephemeral` turns it on.
    pub testing: TestingSettings,
    /// Declared clients (`[[clients]]`), created or updated at start.
    pub clients: Vec<DeclaredClient>,
    /// Declared users (`[[users]]`), matched by username, created or updated at start.
    pub users: Vec<DeclaredUser>,
}

/// The discovery documents (RFC 8414, OIDC Discovery): built once at start from these settings.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DiscoverySettings {
    /// Scopes published in `scopes_supported` besides the standard OIDC ones; no client's
    /// scope is published unless listed here, and never an admin scope.
    pub public_scopes: Vec<crate::domain::Scope>,
}

/// The `/v1` admin API.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdminSettings {
    /// Requests one caller may make per minute before `429`.
    pub requests_per_minute: u32,
}

impl Default for AdminSettings {
    fn default() -> Self {
        Self {
            requests_per_minute: 600,
        }
    }
}

/// The audit trail.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuditSettings {
    /// Days an audit event is kept; older ones are deleted in batches. `0` keeps them for ever.
    pub retain_days: u32,
}

impl Default for AuditSettings {
    fn default() -> Self {
        Self { retain_days: 365 }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseSettings {
    pub url: DatabaseUrl,
    /// Apply pending migrations when the service starts (`gatehouse migrate` does it on demand).
    pub migrate_on_start: bool,
    pub max_connections: u32,
    /// Upper bound for acquiring a connection and for every query.
    pub timeout_ms: u64,
    /// What sits between Gatehouse and PostgreSQL at `url`.
    pub pooler: Pooler,
    /// PostgreSQL itself, not the pooler, for migrations only: they hold a session-level lock
    /// that a transaction pooler cannot keep. Needed with `pooler = "transaction"` when
    /// migrations run (`migrate_on_start`, `gatehouse migrate`).
    pub direct_url: Option<DatabaseUrl>,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            url: DatabaseUrl::Sqlite("sqlite://data/gatehouse.db".to_owned()),
            migrate_on_start: true,
            max_connections: 10,
            timeout_ms: 5_000,
            pooler: Pooler::None,
            direct_url: None,
        }
    }
}

/// `database.pooler`: whether consecutive transactions of one client connection may run on
/// different server connections.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Pooler {
    /// PostgreSQL itself, or a pooler in session mode: a connection keeps its session, so
    /// statements are prepared once per connection and cached.
    #[default]
    None,
    /// A pooler in transaction mode (PgBouncer `pool_mode = transaction`, and the like): every
    /// statement runs inside a transaction, as an unnamed statement, and nothing is set for the
    /// session (no startup `options`, `statement_timeout` by `SET LOCAL`).
    Transaction,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EphemeralSettings {
    pub url: EphemeralUrl,
    /// Prefix of every Redis key, so several deployments can share one Redis.
    pub key_prefix: String,
    /// Upper bound for every Redis command.
    pub timeout_ms: u64,
}

impl Default for EphemeralSettings {
    fn default() -> Self {
        Self {
            url: EphemeralUrl::Memory,
            key_prefix: "gatehouse:".to_owned(),
            timeout_ms: 2_000,
        }
    }
}

/// Signing keys and their lifecycle: *next* (published, not signing) → *active* → *retired*
/// (published until the tokens it signed have expired) → deleted.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KeySettings {
    /// The key-encryption key sealing private keys at rest. Required with PostgreSQL; on the
    /// embedded default it is read from (or created at) `encryption_key_file`.
    pub encryption_key: Option<EncryptionKey>,
    pub encryption_key_file: PathBuf,
    /// The algorithms the ring keeps an active key for.
    pub algorithms: Vec<crate::crypto::SigningAlgorithm>,
    /// Age at which an active key is replaced.
    pub rotation_interval_secs: u64,
    /// How long a new key is published before it signs; longer than any JWKS cache.
    pub publish_ahead_secs: u64,
    /// How long a retired key stays published; longer than any token it signed lives.
    pub retain_retired_secs: u64,
    /// `Cache-Control: max-age` of the JWKS document.
    pub jwks_max_age_secs: u64,
    /// How often each instance reloads the ring and performs due transitions.
    pub refresh_interval_secs: u64,
}

impl Default for KeySettings {
    fn default() -> Self {
        use crate::crypto::SigningAlgorithm;
        Self {
            encryption_key: None,
            encryption_key_file: PathBuf::from("keys/encryption.key"),
            algorithms: vec![SigningAlgorithm::Es256, SigningAlgorithm::Rs256],
            rotation_interval_secs: 30 * 24 * 3600,
            publish_ahead_secs: 24 * 3600,
            retain_retired_secs: 7 * 24 * 3600,
            jwks_max_age_secs: 900,
            refresh_interval_secs: 60,
        }
    }
}

/// The longest `tokens.client_assertion_max_lifetime_secs` accepted: one day of remembered `jti`s.
pub const MAX_CLIENT_ASSERTION_LIFETIME_SECS: u64 = 86_400;

/// The longest grace window for a rotated refresh token (RFC 9700 §4.14.2).
pub const MAX_REFRESH_TOKEN_GRACE_SECS: u64 = 300;

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TokenSettings {
    /// Lifetime of access tokens for clients that set none of their own.
    pub access_token_ttl_secs: u32,
    /// The algorithm access tokens are signed with; one of `keys.algorithms`.
    pub access_token_algorithm: crate::crypto::SigningAlgorithm,
    /// The longest a `private_key_jwt` client assertion may live (and its `jti` is remembered);
    /// 3600 by default, what common client libraries send. At most
    /// [`MAX_CLIENT_ASSERTION_LIFETIME_SECS`].
    pub client_assertion_max_lifetime_secs: u64,
    /// The algorithm ID tokens are signed with (OIDC requires RS256 support).
    pub id_token_algorithm: crate::crypto::SigningAlgorithm,
    /// A refresh token unused this long expires.
    pub refresh_token_idle_secs: u64,
    /// A family of refresh tokens ends this long after its first token, however it is used.
    pub refresh_token_absolute_secs: u64,
    /// How long a confidential client may present a rotated refresh token again to receive the
    /// same successor (and a new access token), while that successor is unused (RFC 9700
    /// §4.14.2).
    pub refresh_token_grace_secs: u64,
    /// The same for public clients; 0 (the default) means none: a public client's reused
    /// refresh token revokes its grant at once.
    pub public_refresh_token_grace_secs: u64,
    /// Clock skew tolerated between instances when verifying a token's `iat` and lifetime.
    pub clock_leeway_secs: u64,
}

impl Default for TokenSettings {
    fn default() -> Self {
        Self {
            access_token_ttl_secs: 900,
            access_token_algorithm: crate::crypto::SigningAlgorithm::Es256,
            client_assertion_max_lifetime_secs: 3600,
            id_token_algorithm: crate::crypto::SigningAlgorithm::Rs256,
            refresh_token_idle_secs: 14 * 24 * 3600,
            refresh_token_absolute_secs: 90 * 24 * 3600,
            refresh_token_grace_secs: 30,
            public_refresh_token_grace_secs: 0,
            clock_leeway_secs: 30,
        }
    }
}

/// argon2id for human passwords (RFC 9106; OWASP: m=19456 KiB, t=2, p=1), and the bulkhead
/// that bounds how many hashes run at once.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PasswordSettings {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
    /// argon2 computations at once; defaults to the number of cores.
    pub max_concurrent: Option<usize>,
    /// How long a login waits for a free slot before it is answered 503.
    pub queue_timeout_ms: u64,
}

impl Default for PasswordSettings {
    fn default() -> Self {
        Self {
            memory_kib: 19_456,
            iterations: 2,
            parallelism: 1,
            max_concurrent: None,
            queue_timeout_ms: 2_000,
        }
    }
}

/// What each instance keeps in process (revocations, clients) and how it follows the change
/// feed that other instances write.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CacheSettings {
    /// How often the change feed is read: the longest a change made on one instance takes to
    /// hold on another.
    pub poll_interval_ms: u64,
    /// How old the in-process copy may be before a verifier reads the feed itself, and fails
    /// closed (503) if it cannot.
    pub max_staleness_ms: u64,
    /// Clients kept in memory at most.
    pub max_clients: usize,
    /// A cached client is read again after this long, whatever the feed says.
    pub client_ttl_secs: u64,
    /// Users kept in memory at most (for UserInfo).
    pub max_users: usize,
    /// A cached user is read again after this long, whatever the feed says.
    pub user_ttl_secs: u64,
    /// Access tokens whose signature is remembered as checked at most (introspection, UserInfo
    /// and `/v1` see the same token again and again); past this, one is dropped for each new.
    pub max_verified_tokens: usize,
}

impl Default for CacheSettings {
    fn default() -> Self {
        Self {
            poll_interval_ms: 250,
            max_staleness_ms: 5_000,
            max_clients: 10_000,
            client_ttl_secs: 60,
            max_users: 10_000,
            user_ttl_secs: 60,
            max_verified_tokens: 10_000,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogSettings {
    /// A `tracing` filter (`info`, `gatehouse=debug,info`); `RUST_LOG` wins when set.
    pub level: String,
    pub format: LogFormat,
}

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            level: "info".to_owned(),
            format: LogFormat::Auto,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// JSON, or human-readable text when standard error is a terminal.
    Auto,
    Json,
    Text,
}

impl Settings {
    /// Loads defaults, then the config file, then the environment, and validates the result.
    /// `explicit` is `--config PATH`: unlike the default file, it must exist and be readable.
    pub fn load(explicit: Option<&Path>) -> Result<Self, ConfigError> {
        Self::load_from(explicit, Env::prefixed(ENV_PREFIX).split("__"))
    }

    /// As [`Settings::load`], with the environment provider given (tests pass their own).
    pub fn load_from(explicit: Option<&Path>, env: Env) -> Result<Self, ConfigError> {
        let file = match explicit {
            Some(path) => {
                ensure_readable(path)?;
                Some(path.to_path_buf())
            }
            None => {
                let path = PathBuf::from(DEFAULT_CONFIG_FILE);
                path.exists().then_some(path)
            }
        };
        let mut figment = Figment::new();
        if let Some(file) = &file {
            ensure_readable(file)?;
            figment = figment.merge(Toml::file_exact(file));
        }
        let settings: Settings = figment
            .merge(env)
            .extract()
            .map_err(ConfigError::from_figment)?;
        settings.validate()?;
        Ok(settings)
    }

    /// The issuer, from which every endpoint URL derives: `server.issuer`, else
    /// `server.public_url`, else the address actually bound.
    pub fn issuer_for(&self, bound: std::net::SocketAddr) -> IssuerUrl {
        self.server
            .issuer
            .clone()
            .or_else(|| self.server.public_url.clone())
            .unwrap_or_else(|| IssuerUrl::from_bound_address(bound))
    }
}

fn ensure_readable(path: &Path) -> Result<(), ConfigError> {
    std::fs::read_to_string(path)
        .map(drop)
        .map_err(|e| ConfigError::new("--config", format!("cannot read {}: {e}", path.display())))
}

#[cfg(test)]
mod tests;
