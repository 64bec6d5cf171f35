//! The checks that span several keys, run after every value has parsed on its own.

/// The longest `server.header_timeout_ms` and `server.body_timeout_ms` may be (a minute).
const MAX_REQUEST_TIMEOUT_MS: u64 = 60_000;

use super::{
    ConfigError, MAX_CLIENT_ASSERTION_LIFETIME_SECS, MAX_REFRESH_TOKEN_GRACE_SECS, Settings,
};

impl Settings {
    /// Checks that span several keys, after every value parsed on its own, then the declared
    /// clients and users against them.
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        self.validate_settings()?;
        self.validate_declarations()
    }

    /// The checks that span several keys, declarations aside.
    pub(super) fn validate_settings(&self) -> Result<(), ConfigError> {
        self.validate_testing()?;
        if let Some(management) = self.server.management_bind
            && management.socket_addr() == self.server.bind.socket_addr()
            && management.socket_addr().port() != 0
        {
            return Err(ConfigError::new(
                "server.management_bind",
                "must differ from server.bind: it is a second listener",
            ));
        }
        if self.keys.algorithms.is_empty() {
            return Err(ConfigError::new(
                "keys.algorithms",
                "must name at least one algorithm",
            ));
        }
        if self.keys.publish_ahead_secs <= self.keys.jwks_max_age_secs {
            return Err(ConfigError::new(
                "keys.publish_ahead_secs",
                "must exceed keys.jwks_max_age_secs, or resource servers with a cached JWKS \
                 would see tokens signed by a key they do not know yet",
            ));
        }
        if !self
            .keys
            .algorithms
            .contains(&self.tokens.access_token_algorithm)
        {
            return Err(ConfigError::new(
                "tokens.access_token_algorithm",
                "must be one of keys.algorithms, or no key would sign access tokens",
            ));
        }
        let max_ttl = crate::admin::clients::MAX_ACCESS_TOKEN_TTL_SECS;
        if !(1..=max_ttl).contains(&self.tokens.access_token_ttl_secs) {
            return Err(ConfigError::new(
                "tokens.access_token_ttl_secs",
                format!("must be 1 to {max_ttl}"),
            ));
        }
        if self.keys.retain_retired_secs < u64::from(max_ttl) {
            return Err(ConfigError::new(
                "keys.retain_retired_secs",
                format!("must be at least {max_ttl}, the longest an access token can live"),
            ));
        }
        if self.keys.refresh_interval_secs == 0 {
            return Err(ConfigError::new(
                "keys.refresh_interval_secs",
                "must be at least 1",
            ));
        }
        if !self
            .keys
            .algorithms
            .contains(&self.tokens.id_token_algorithm)
        {
            return Err(ConfigError::new(
                "tokens.id_token_algorithm",
                "must be one of keys.algorithms, or no key would sign ID tokens",
            ));
        }
        if self.tokens.refresh_token_idle_secs == 0
            || self.tokens.refresh_token_idle_secs > self.tokens.refresh_token_absolute_secs
        {
            return Err(ConfigError::new(
                "tokens.refresh_token_idle_secs",
                "must be at least 1 and at most tokens.refresh_token_absolute_secs",
            ));
        }
        for (key, grace) in [
            (
                "tokens.refresh_token_grace_secs",
                self.tokens.refresh_token_grace_secs,
            ),
            (
                "tokens.public_refresh_token_grace_secs",
                self.tokens.public_refresh_token_grace_secs,
            ),
        ] {
            if grace > MAX_REFRESH_TOKEN_GRACE_SECS {
                return Err(ConfigError::new(
                    key,
                    format!(
                        "must be at most {MAX_REFRESH_TOKEN_GRACE_SECS}: a longer window lets a \
                         stolen token be replayed unnoticed"
                    ),
                ));
            }
        }
        if !(1..=MAX_CLIENT_ASSERTION_LIFETIME_SECS)
            .contains(&self.tokens.client_assertion_max_lifetime_secs)
        {
            return Err(ConfigError::new(
                "tokens.client_assertion_max_lifetime_secs",
                format!(
                    "must be 1 to {MAX_CLIENT_ASSERTION_LIFETIME_SECS}: every assertion's jti \
                     is remembered that long"
                ),
            ));
        }
        if self.tokens.clock_leeway_secs > 300 {
            return Err(ConfigError::new(
                "tokens.clock_leeway_secs",
                "must be at most 300: it lets tokens claim to be issued that far in the future",
            ));
        }
        let sessions = &self.sessions;
        let client_auth = &self.client_auth;
        let at_least_one = [
            (
                "sessions.max_failed_logins",
                u64::from(sessions.max_failed_logins),
            ),
            (
                "sessions.max_failed_logins_per_address",
                u64::from(sessions.max_failed_logins_per_address),
            ),
            (
                "sessions.max_failed_logins_per_user",
                u64::from(sessions.max_failed_logins_per_user),
            ),
            (
                "sessions.failed_login_window_secs",
                sessions.failed_login_window_secs,
            ),
            (
                "client_auth.max_failures",
                u64::from(client_auth.max_failures),
            ),
            (
                "client_auth.max_failures_per_address",
                u64::from(client_auth.max_failures_per_address),
            ),
            (
                "client_auth.max_failures_per_client",
                u64::from(client_auth.max_failures_per_client),
            ),
            ("client_auth.window_secs", client_auth.window_secs),
            (
                "client_auth.max_remembered_failures",
                client_auth.max_remembered_failures as u64,
            ),
        ];
        if let Some((key, _)) = at_least_one.iter().find(|(_, value)| *value == 0) {
            return Err(ConfigError::new(*key, "must be at least 1"));
        }
        for (key, ms) in [
            ("server.header_timeout_ms", self.server.header_timeout_ms),
            ("server.body_timeout_ms", self.server.body_timeout_ms),
        ] {
            // 0 would turn actix-web's head timeout off: a connection held forever again.
            if !(1..=MAX_REQUEST_TIMEOUT_MS).contains(&ms) {
                return Err(ConfigError::new(
                    key,
                    format!(
                        "must be 1 to {MAX_REQUEST_TIMEOUT_MS}: a request that never arrives \
                         must not hold a connection for long"
                    ),
                ));
            }
        }
        let cache = &self.cache;
        if !(10..=1_000).contains(&cache.poll_interval_ms) {
            return Err(ConfigError::new(
                "cache.poll_interval_ms",
                "must be 10 to 1000: a change must hold on every instance within a second",
            ));
        }
        if cache.max_staleness_ms < cache.poll_interval_ms * 2 {
            return Err(ConfigError::new(
                "cache.max_staleness_ms",
                "must be at least twice cache.poll_interval_ms",
            ));
        }
        if cache.max_clients == 0 || cache.client_ttl_secs == 0 {
            return Err(ConfigError::new(
                "cache.max_clients",
                "cache.max_clients and cache.client_ttl_secs must be at least 1",
            ));
        }
        if cache.max_users == 0 || cache.user_ttl_secs == 0 {
            return Err(ConfigError::new(
                "cache.max_users",
                "cache.max_users and cache.user_ttl_secs must be at least 1",
            ));
        }
        if cache.max_verified_tokens == 0 {
            return Err(ConfigError::new(
                "cache.max_verified_tokens",
                "must be at least 1",
            ));
        }
        if !(1..=30 * 86_400).contains(&self.sessions.lifetime_secs) {
            return Err(ConfigError::new(
                "sessions.lifetime_secs",
                "must be 1 to 2592000 (30 days)",
            ));
        }
        let p = &self.passwords;
        if argon2::Params::new(p.memory_kib, p.iterations, p.parallelism, None).is_err() {
            return Err(ConfigError::new(
                "passwords",
                "memory_kib, iterations and parallelism are not valid argon2 parameters \
                 (memory_kib >= 8 * parallelism, iterations >= 1, parallelism >= 1)",
            ));
        }
        if self.admin.requests_per_minute == 0 {
            return Err(ConfigError::new(
                "admin.requests_per_minute",
                "must be at least 1",
            ));
        }
        if p.max_concurrent == Some(0) {
            return Err(ConfigError::new(
                "passwords.max_concurrent",
                "must be at least 1",
            ));
        }
        if self.database.max_connections == 0 {
            return Err(ConfigError::new(
                "database.max_connections",
                "must be at least 1",
            ));
        }
        self.validate_pooler()?;
        if let Some(scope) = self
            .discovery
            .public_scopes
            .iter()
            .find(|s| s.as_str().starts_with(crate::admin::clients::ADMIN_SCOPE))
        {
            return Err(ConfigError::new(
                "discovery.public_scopes",
                format!(
                    "must not list {}: admin scopes are never published",
                    scope.as_str()
                ),
            ));
        }
        Ok(())
    }

    /// A transaction pooler is PostgreSQL's, and migrations need the server itself.
    fn validate_pooler(&self) -> Result<(), ConfigError> {
        use super::{DatabaseUrl, Pooler};
        let db = &self.database;
        if let Some(direct) = &db.direct_url
            && !matches!(direct, DatabaseUrl::Postgres(_))
        {
            return Err(ConfigError::new(
                "database.direct_url",
                "must be a postgres:// URL: it is PostgreSQL itself, behind no pooler",
            ));
        }
        if db.pooler == Pooler::Transaction {
            if !matches!(db.url, DatabaseUrl::Postgres(_)) {
                return Err(ConfigError::new(
                    "database.pooler",
                    "applies to PostgreSQL only: database.url is not a postgres:// URL",
                ));
            }
            if db.migrate_on_start && db.direct_url.is_none() {
                return Err(ConfigError::new(
                    "database.direct_url",
                    "is needed with database.pooler = \"transaction\" and migrate_on_start: \
                     migrations hold a session-level lock a transaction pooler cannot keep; \
                     set it to PostgreSQL itself, or set migrate_on_start = false and run \
                     `gatehouse migrate` against PostgreSQL directly",
                ));
            }
        }
        Ok(())
    }
}
