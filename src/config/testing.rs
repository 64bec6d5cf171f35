//! Test mode: `POST /testing/tokens` mints tokens for any subject. It is on with
//! `serve --ephemeral` (in-memory everything), or with an explicit `testing.enabled`, which a
//! PostgreSQL `database.url` refuses: a production database never runs beside a token mint.

use serde::Deserialize;

use super::{ConfigError, DatabaseUrl, EncryptionKey, EphemeralUrl, Settings};

/// The in-memory SQLite database of `serve --ephemeral`.
pub const EPHEMERAL_DATABASE_URL: &str = "sqlite::memory:";

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TestingSettings {
    /// Serves `POST /testing/tokens`. Never with PostgreSQL; `serve --ephemeral` turns it on.
    pub enabled: bool,
}

impl Settings {
    /// `serve --ephemeral`: an in-memory SQLite database and ephemeral store, a key-encryption
    /// key that exists only in this process, and test mode. Nothing is read from or written to
    /// `data/` or `keys/`. A configured PostgreSQL URL is refused rather than silently replaced:
    /// it means this is a production configuration.
    pub fn make_ephemeral(&mut self) -> Result<(), ConfigError> {
        if self.database.url.is_postgres() {
            return Err(ConfigError::new(
                "database.url",
                "is a PostgreSQL URL, which --ephemeral refuses: it runs on an in-memory \
                 database and enables test mode; unset database.url",
            ));
        }
        self.database.url = DatabaseUrl::Sqlite(EPHEMERAL_DATABASE_URL.to_owned());
        self.database.migrate_on_start = true;
        self.ephemeral.url = EphemeralUrl::Memory;
        self.keys.encryption_key = Some(EncryptionKey::generate());
        self.testing.enabled = true;
        Ok(())
    }

    /// Refuses test mode beside PostgreSQL (at load, and again by `Application::build` for
    /// settings made in code).
    pub fn validate_testing(&self) -> Result<(), ConfigError> {
        if self.testing.enabled && self.database.url.is_postgres() {
            return Err(ConfigError::new(
                "testing.enabled",
                "must not be set with a PostgreSQL database.url: test mode mints tokens for \
                 anyone and never runs beside a production database",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn testing_is_refused_with_postgres() {
        let mut settings = Settings::default();
        settings.testing.enabled = true;
        assert!(settings.validate_testing().is_ok());
        settings.database.url = "postgres://db/gatehouse".parse().unwrap();
        let error = settings.validate_testing().unwrap_err();
        assert_eq!(error.key, "testing.enabled");
    }

    #[test]
    fn ephemeral_keeps_everything_in_memory() {
        let mut settings = Settings::default();
        settings.make_ephemeral().unwrap();
        assert_eq!(settings.database.url.as_str(), EPHEMERAL_DATABASE_URL);
        assert!(settings.database.url.is_in_memory());
        assert_eq!(settings.ephemeral.url, EphemeralUrl::Memory);
        assert!(settings.keys.encryption_key.is_some());
        assert!(settings.testing.enabled);

        let mut production = Settings::default();
        production.database.url = "postgres://db/gatehouse".parse().unwrap();
        assert_eq!(production.make_ephemeral().unwrap_err().key, "database.url");
    }
}
