//! Test mode: `POST /testing/tokens` mints tokens for any subject. It is on with
//! `serve --ephemeral` (in-memory everything), or with an explicit `testing.enabled`, which only
//! the in-memory database allows: a database that outlives the process (a SQLite file,
//! PostgreSQL) never runs beside a token mint.

use serde::Deserialize;

use super::{ConfigError, DatabaseUrl, EncryptionKey, EphemeralUrl, Settings};

/// The in-memory SQLite database of `serve --ephemeral`.
pub const EPHEMERAL_DATABASE_URL: &str = "sqlite::memory:";

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TestingSettings {
    /// Serves `POST /testing/tokens`. Only with the in-memory database; `serve --ephemeral` turns it on.
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

    /// Refuses test mode unless the database is in memory (at load, and again by
    /// `Application::build` for settings made in code): tokens minted for anyone, or fixed
    /// client secrets, must never reach a database that outlives the process.
    pub fn validate_testing(&self) -> Result<(), ConfigError> {
        if self.testing.enabled && !self.database.url.is_in_memory() {
            return Err(ConfigError::new(
                "testing.enabled",
                format!(
                    "requires database.url = \"{EPHEMERAL_DATABASE_URL}\" (or serve --ephemeral): \
                     test mode mints tokens for anyone and never runs on a database file or \
                     PostgreSQL"
                ),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn testing_is_refused_unless_the_database_is_in_memory() {
        let mut settings = Settings::default();
        settings.testing.enabled = true;
        assert_eq!(
            settings.validate_testing().unwrap_err().key,
            "testing.enabled",
            "the default SQLite file"
        );
        settings.database.url = "postgres://db/gatehouse".parse().unwrap();
        let error = settings.validate_testing().unwrap_err();
        assert_eq!(error.key, "testing.enabled");
        settings.database.url = EPHEMERAL_DATABASE_URL.parse().unwrap();
        assert!(settings.validate_testing().is_ok());
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
