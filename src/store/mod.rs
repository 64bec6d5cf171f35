//! The durable store: small role traits per aggregate, one implementation per backend
//! (`sqlite/`, `postgres/`), each owning its SQL. `connect` picks the backend from
//! `database.url`.

mod audit;
mod changes;
mod clients;
mod error;
mod factors;
mod grants;
mod idempotency;
mod passkeys;
mod postgres;
mod signing_keys;
mod sqlite;
mod users;

use std::sync::Arc;

use async_trait::async_trait;

pub use self::audit::{AuditEvent, AuditFilter, AuditStore, NewAuditEvent};
pub use self::changes::{
    Change, ChangeBell, ChangeKind, ChangeStore, NewChange, REVOCATION_HORIZON,
};
pub use self::clients::{ClientSecretRecord, ClientStore};
pub use self::error::StoreError;
pub use self::factors::{FactorStore, TOTP_FACTOR_CONFIRMED, TotpFactor};
pub use self::grants::{Grant, GrantStore, RefreshTokenRecord, RefreshTokenStore, Rotation};
pub use self::idempotency::{IDEMPOTENCY_CONFLICT, IdempotencyRecord, IdempotencyStore};
pub use self::passkeys::{PASSKEY_CREDENTIAL_ID, PasskeyStore, StoredPasskey};
pub use self::postgres::PgStore;
pub use self::signing_keys::{
    KeyRevocationOutcome, KeyState, SigningKeyRecord, SigningKeyRevocation, SigningKeyStore,
};
pub use self::sqlite::SqliteStore;
pub use self::users::{UserFilter, UserStore};

/// Where a page of a list starts: after the record with this creation time and id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct After {
    pub created_at: time::OffsetDateTime,
    pub id: String,
}
use crate::config::{DatabaseSettings, DatabaseUrl};

/// Everything the service needs from its database.
#[async_trait]
pub trait Database:
    ClientStore
    + UserStore
    + GrantStore
    + RefreshTokenStore
    + SigningKeyStore
    + AuditStore
    + ChangeStore
    + IdempotencyStore
    + FactorStore
    + PasskeyStore
    + std::fmt::Debug
{
    /// Applies pending migrations (embedded in the binary); returns how many ran.
    async fn migrate(&self) -> Result<usize, StoreError>;
    /// Checks that the database answers (for `/readyz`).
    async fn ping(&self) -> Result<(), StoreError>;
    /// Closes the connection pool, waiting for calls in flight: every later call fails as
    /// unavailable. For shutdown, and for tests that take the database away.
    async fn close(&self);
    /// `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;
    /// Whether this is the embedded default, whose key-encryption key may live in a local file.
    fn is_embedded(&self) -> bool {
        self.backend() == "sqlite"
    }
}

/// Opens the database named by `database.url`; migrates it when `database.migrate_on_start`.
pub async fn connect(settings: &DatabaseSettings) -> Result<Arc<dyn Database>, StoreError> {
    let timeout = std::time::Duration::from_millis(settings.timeout_ms);
    let db: Arc<dyn Database> = match &settings.url {
        DatabaseUrl::Sqlite(url) => {
            Arc::new(SqliteStore::connect(url, settings.max_connections, timeout).await?)
        }
        DatabaseUrl::Postgres(url) => Arc::new(PgStore::connect(url, settings).await?),
    };
    if settings.migrate_on_start {
        let applied = db.migrate().await?;
        if applied > 0 {
            tracing::info!(
                applied,
                backend = db.backend(),
                "applied database migrations"
            );
        }
    }
    Ok(db)
}
