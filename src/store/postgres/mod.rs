//! PostgreSQL for production. Every statement runs under `statement_timeout` on the server and
//! a client-side timeout, so neither a slow query nor a dead connection holds a request.

mod audit;
mod changes;
mod clients;
mod executor;
mod factors;
mod grants;
mod idempotency;
mod passkeys;
mod signing_keys;
mod users;

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use self::executor::{Db, Tx};
use super::error::bounded;
use super::{Database, StoreError};
use crate::config::{DatabaseSettings, DatabaseUrl, Pooler};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
    timeout: Duration,
    bell: super::ChangeBell,
    /// Behind a transaction pooler: the `BEGIN` every statement runs after.
    begin: Option<String>,
    /// Behind a transaction pooler: PostgreSQL itself, for migrations. A `DatabaseUrl`, whose
    /// `Debug` hides the password (this struct's `Debug` prints it).
    direct_url: Option<DatabaseUrl>,
}

impl PgStore {
    /// Connects lazily: the first query opens the first connection.
    pub async fn connect(url: &str, settings: &DatabaseSettings) -> Result<Self, StoreError> {
        let timeout = Duration::from_millis(settings.timeout_ms);
        let statement_timeout = timeout.as_millis().to_string();
        let options = PgConnectOptions::from_str(url)?.application_name("gatehouse");
        let (options, begin) = match settings.pooler {
            // A session of our own: the server's timeout is set once, for the session.
            Pooler::None => (
                options.options([("statement_timeout", statement_timeout.as_str())]),
                None,
            ),
            // Nothing that lives in the session: the startup `options` (which PgBouncer
            // refuses) and `extra_float_digits` (which it refuses unless told to ignore it)
            // stay unsent, the timeout is set per transaction, and no statement is cached.
            Pooler::Transaction => (
                options.extra_float_digits(None).statement_cache_capacity(0),
                Some(format!(
                    "BEGIN; SET LOCAL statement_timeout = {statement_timeout}"
                )),
            ),
        };
        let pool = PgPoolOptions::new()
            .max_connections(settings.max_connections)
            .acquire_timeout(timeout)
            .connect_lazy_with(options);
        let direct_url = match (&settings.direct_url, settings.pooler) {
            (Some(direct @ DatabaseUrl::Postgres(_)), Pooler::Transaction) => Some(direct.clone()),
            _ => None,
        };
        Ok(Self {
            pool,
            timeout,
            begin,
            direct_url,
            bell: super::ChangeBell::default(),
        })
    }

    /// Where a statement outside a transaction of ours runs.
    fn db(&self) -> Db<'_> {
        Db {
            pool: &self.pool,
            begin: self.begin.as_deref(),
        }
    }

    async fn begin(&self) -> Result<Tx, sqlx::Error> {
        Tx::begin(self.db()).await
    }

    /// Runs the migrations on `pool`; returns how many ran.
    async fn migrate_on(pool: &PgPool) -> Result<usize, StoreError> {
        let before = applied_count(pool).await;
        MIGRATOR.run(pool).await?;
        Ok(applied_count(pool).await.saturating_sub(before))
    }
}

#[async_trait]
impl Database for PgStore {
    /// Migrations lock the schema with a session-level advisory lock and prepare their
    /// statements: behind a transaction pooler they run on PostgreSQL itself
    /// (`database.direct_url`), over one connection closed when they are done.
    async fn migrate(&self) -> Result<usize, StoreError> {
        if self.begin.is_none() {
            return Self::migrate_on(&self.pool).await;
        }
        let Some(direct) = &self.direct_url else {
            return Err(StoreError::Backend(anyhow::anyhow!(
                "migrations cannot run through a transaction pooler (database.pooler = \
                 \"transaction\"): set database.direct_url to PostgreSQL itself"
            )));
        };
        let options =
            PgConnectOptions::from_str(direct.as_str())?.application_name("gatehouse-migrate");
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(self.timeout)
            .connect_lazy_with(options);
        let migrated = Self::migrate_on(&pool).await;
        pool.close().await;
        migrated
    }

    async fn ping(&self) -> Result<(), StoreError> {
        bounded(self.timeout, sqlx::query("SELECT 1").execute(self.db()))
            .await
            .map(drop)
    }

    async fn close(&self) {
        self.pool.close().await;
    }

    fn backend(&self) -> &'static str {
        "postgres"
    }
}

impl PgStore {
    /// After a conditional write touched `affected` rows: fine if one, else `NotFound` when the
    /// record is gone and `Stale` when only its version moved on. `id` is compared as text, so
    /// one query serves text and UUID keys.
    async fn changed_or_why(
        &self,
        table: &'static str,
        id: &str,
        affected: u64,
    ) -> Result<(), StoreError> {
        if affected > 0 {
            return Ok(());
        }
        let sql = format!("SELECT COUNT(*) FROM {table} WHERE id::TEXT = $1");
        let query = sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql)).bind(id);
        match bounded(self.timeout, query.fetch_one(self.db())).await? {
            0 => Err(StoreError::NotFound),
            _ => Err(StoreError::Stale),
        }
    }
}

/// How many migrations are recorded; 0 before the first run.
async fn applied_count(pool: &PgPool) -> usize {
    sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM _sqlx_migrations WHERE success")
        .fetch_one(pool)
        .await
        .map_or(0, |n| usize::try_from(n).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn debug_output_never_shows_a_database_password() {
        let settings = DatabaseSettings {
            url: DatabaseUrl::Postgres("postgres://app:hunter2@pooler:6432/gatehouse".into()),
            pooler: Pooler::Transaction,
            direct_url: Some(DatabaseUrl::Postgres(
                "postgres://app:hunter3@db:5432/gatehouse".into(),
            )),
            ..DatabaseSettings::default()
        };
        // Lazy: no connection is opened, so no server is needed.
        let store = PgStore::connect(settings.url.as_str(), &settings)
            .await
            .unwrap();
        let shown = format!("{store:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(!shown.contains("hunter3"), "{shown}");
    }
}
