//! The embedded default: SQLite in WAL mode. Times are unix seconds, UUIDs and JSON are text;
//! the conversions live in this module's row types.

mod audit;
mod changes;
mod clients;
mod factors;
mod grants;
mod idempotency;
mod passkeys;
mod signing_keys;
mod users;

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use time::OffsetDateTime;

use super::error::bounded;
use super::{Database, StoreError};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    timeout: Duration,
    bell: super::ChangeBell,
}

impl SqliteStore {
    pub async fn connect(
        url: &str,
        max_connections: u32,
        timeout: Duration,
    ) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(timeout)
            .foreign_keys(true);
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        let file = (!in_memory).then(|| options.get_filename().to_path_buf());
        if let Some(file) = &file {
            create_private_file(file).map_err(|e| StoreError::Backend(e.into()))?;
        }
        // Every connection to `:memory:` is its own empty database: keep exactly one.
        let max_connections = if in_memory { 1 } else { max_connections };
        let pool = SqlitePoolOptions::new()
            .max_connections(max_connections)
            .min_connections(if in_memory { 1 } else { 0 })
            .idle_timeout(if in_memory {
                None
            } else {
                Some(Duration::from_secs(600))
            })
            .max_lifetime(if in_memory {
                None
            } else {
                Some(Duration::from_secs(1800))
            })
            .acquire_timeout(timeout)
            .connect_with(options)
            .await?;
        if let Some(file) = &file {
            restrict_database_files(file).map_err(|e| StoreError::Backend(e.into()))?;
        }
        Ok(Self {
            pool,
            timeout,
            bell: super::ChangeBell::default(),
        })
    }
}

/// The database holds password hashes and personal data: its file is created `0600` before
/// SQLite opens it (SQLite gives its `-wal` and `-shm` files the database file's mode), and the
/// directory `0700` when it is created here, whatever the umask.
fn create_private_file(file: &std::path::Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
    if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty())
        && !dir.exists()
    {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
        set_mode(dir, 0o700)?;
    }
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(file)
    {
        Ok(_) => set_mode(file, 0o600),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// After connecting: the database file and its `-wal` and `-shm` files are `0600`, also when
/// an older version created them readable by others.
fn restrict_database_files(file: &std::path::Path) -> std::io::Result<()> {
    let mut paths = vec![file.to_path_buf()];
    for suffix in ["-wal", "-shm"] {
        let mut name = file.as_os_str().to_owned();
        name.push(suffix);
        paths.push(name.into());
    }
    for path in paths.iter().filter(|p| p.exists()) {
        set_mode(path, 0o600)?;
    }
    Ok(())
}

fn set_mode(path: &std::path::Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

#[async_trait]
impl Database for SqliteStore {
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
        "sqlite"
    }
}

impl SqliteStore {
    /// After a conditional write touched `affected` rows: fine if one, else `NotFound` when the
    /// record is gone and `Stale` when only its version moved on.
    async fn changed_or_why(
        &self,
        table: &'static str,
        id: &str,
        affected: u64,
    ) -> Result<(), StoreError> {
        if affected > 0 {
            return Ok(());
        }
        let sql = format!("SELECT COUNT(*) FROM {table} WHERE id = ?");
        let query = sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql)).bind(id);
        match bounded(self.timeout, query.fetch_one(&self.pool)).await? {
            0 => Err(StoreError::NotFound),
            _ => Err(StoreError::Stale),
        }
    }
}

/// How many migrations are recorded; 0 before the first run.
async fn applied_count(pool: &SqlitePool) -> usize {
    sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM _sqlx_migrations WHERE success")
        .fetch_one(pool)
        .await
        .map_or(0, |n| usize::try_from(n).unwrap_or(0))
}

fn to_unix(t: OffsetDateTime) -> i64 {
    t.unix_timestamp()
}

fn from_unix(seconds: i64) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::from_unix_timestamp(seconds).map_err(StoreError::corrupt)
}
