//! PostgreSQL for production. Every statement runs under `statement_timeout` on the server and
//! a client-side timeout, so neither a slow query nor a dead connection holds a request.

mod audit;
mod changes;
mod clients;
mod grants;
mod idempotency;
mod signing_keys;
mod users;

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use super::error::bounded;
use super::{Database, StoreError};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
    timeout: Duration,
    bell: super::ChangeBell,
}

impl PgStore {
    /// Connects lazily: the first query opens the first connection.
    pub async fn connect(
        url: &str,
        max_connections: u32,
        timeout: Duration,
    ) -> Result<Self, StoreError> {
        let statement_timeout = timeout.as_millis().to_string();
        let options = PgConnectOptions::from_str(url)?
            .application_name("gatehouse")
            .options([("statement_timeout", statement_timeout.as_str())]);
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(timeout)
            .connect_lazy_with(options);
        Ok(Self {
            pool,
            timeout,
            bell: super::ChangeBell::default(),
        })
    }
}

#[async_trait]
impl Database for PgStore {
    async fn migrate(&self) -> Result<usize, StoreError> {
        let before = applied_count(&self.pool).await;
        MIGRATOR.run(&self.pool).await?;
        Ok(applied_count(&self.pool).await.saturating_sub(before))
    }

    async fn ping(&self) -> Result<(), StoreError> {
        bounded(self.timeout, sqlx::query("SELECT 1").execute(&self.pool))
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
        match bounded(self.timeout, query.fetch_one(&self.pool)).await? {
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
