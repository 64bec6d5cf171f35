use std::time::Duration;

/// A storage failure, mapped explicitly by each caller: a missing code is `invalid_grant`, a
/// missing client `invalid_client`. A backend failure is either an outage
/// ([`is_unavailable`](Self::is_unavailable): `503 temporarily_unavailable`, retry later) or a
/// defect (`500 server_error`); there is deliberately no blanket conversion into protocol
/// errors.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// The record's version is no longer the one the caller read (optimistic concurrency).
    #[error("the record changed since it was read")]
    Stale,
    #[error("conflicts with an existing record ({constraint})")]
    Conflict { constraint: String },
    #[error("the database did not answer within {0:?}")]
    Timeout(Duration),
    /// The database is down, unreachable, shutting down, or too busy to take the call: the same
    /// call can succeed once it is back.
    #[error("the database is unavailable")]
    Unavailable(#[source] anyhow::Error),
    /// Anything else: a defect (ours, the schema's, or the data's) that retrying will not cure.
    #[error("the database failed")]
    Backend(#[source] anyhow::Error),
}

impl StoreError {
    pub(crate) fn corrupt(what: impl std::fmt::Display) -> Self {
        Self::Backend(anyhow::anyhow!("unreadable row: {what}"))
    }

    /// Whether this is an outage of the database rather than a defect: the one classification
    /// every caller turning a store error into a response relies on.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Timeout(_) | Self::Unavailable(_))
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        match error {
            sqlx::Error::RowNotFound => Self::NotFound,
            sqlx::Error::Database(db) if db.is_unique_violation() => Self::Conflict {
                constraint: db
                    .constraint()
                    .map(str::to_owned)
                    .unwrap_or_else(|| db.message().to_owned()),
            },
            other if is_outage(&other) => Self::Unavailable(other.into()),
            other => Self::Backend(other.into()),
        }
    }
}

/// The failures that say "the database is not there right now", not "this call is wrong".
fn is_outage(error: &sqlx::Error) -> bool {
    match error {
        // A connection that could not be made, was refused, reset or closed; every pooled
        // connection busy or failing for `database.timeout_ms`; a pool closed at shutdown.
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => {
            if let Some(pg) = db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
                is_postgres_outage(pg.code())
            } else if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
                // SQLite's code is its extended result code, in decimal.
                db.code()
                    .and_then(|code| code.parse::<i32>().ok())
                    .is_some_and(is_sqlite_outage)
            } else {
                false
            }
        }
        _ => false,
    }
}

/// PostgreSQL SQLSTATEs (Appendix A of its manual) that describe the server, not the statement.
fn is_postgres_outage(code: &str) -> bool {
    // Class 08: connection exception. Class 53: insufficient resources (too many connections,
    // out of memory, disk full). 57P01 admin_shutdown, 57P02 crash_shutdown, 57P03
    // cannot_connect_now (starting up, shutting down), 57P05 idle_session_timeout; 57014
    // query_canceled, which `statement_timeout` raises; 25006 read_only_sql_transaction, a
    // primary demoted during a failover.
    code.starts_with("08")
        || code.starts_with("53")
        || matches!(
            code,
            "57P01" | "57P02" | "57P03" | "57P05" | "57014" | "25006"
        )
}

/// SQLite primary result codes (the extended code's low byte) that come from the file or
/// its locks, not the statement: BUSY (5), LOCKED (6), NOMEM (7), IOERR (10), FULL (13),
/// CANTOPEN (14), PROTOCOL (15).
fn is_sqlite_outage(extended_code: i32) -> bool {
    matches!(extended_code & 0xff, 5 | 6 | 7 | 10 | 13 | 14 | 15)
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(error: sqlx::migrate::MigrateError) -> Self {
        match error {
            sqlx::migrate::MigrateError::Execute(inner) => inner.into(),
            other => Self::Backend(other.into()),
        }
    }
}

/// Runs one database call under `timeout`, so a hung connection cannot hold a request forever.
pub(crate) async fn bounded<T, E>(
    timeout: Duration,
    call: impl Future<Output = Result<T, E>>,
) -> Result<T, StoreError>
where
    StoreError: From<E>,
{
    match tokio::time::timeout(timeout, call).await {
        Ok(result) => result.map_err(StoreError::from),
        Err(_) => Err(StoreError::Timeout(timeout)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_failures_are_outages_and_statement_errors_are_defects() {
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert!(StoreError::from(sqlx::Error::Io(refused)).is_unavailable());
        assert!(StoreError::from(sqlx::Error::PoolTimedOut).is_unavailable());
        assert!(StoreError::from(sqlx::Error::PoolClosed).is_unavailable());
        assert!(StoreError::Timeout(Duration::from_secs(1)).is_unavailable());

        let decode = sqlx::Error::Decode("not a uuid".into());
        assert!(!StoreError::from(decode).is_unavailable());
        assert!(!StoreError::from(sqlx::Error::ColumnNotFound("x".into())).is_unavailable());
        assert!(!StoreError::corrupt("bad row").is_unavailable());
        assert!(!StoreError::NotFound.is_unavailable());
    }

    #[test]
    fn postgres_server_states_are_outages_and_statement_states_are_not() {
        for code in [
            "08006", "08001", "53300", "57P01", "57P03", "57014", "25006",
        ] {
            assert!(is_postgres_outage(code), "{code}");
        }
        for code in ["23505", "23503", "42P01", "42703", "22P02", "40001"] {
            assert!(!is_postgres_outage(code), "{code}");
        }
    }

    #[test]
    fn sqlite_lock_and_file_errors_are_outages_and_constraints_are_not() {
        // SQLITE_BUSY, SQLITE_BUSY_SNAPSHOT (517), SQLITE_LOCKED, SQLITE_IOERR_WRITE (778)
        for code in [5, 517, 6, 10, 778, 13, 14] {
            assert!(is_sqlite_outage(code), "{code}");
        }
        // SQLITE_ERROR (no such table), SQLITE_CONSTRAINT_UNIQUE (2067), SQLITE_MISMATCH
        for code in [1, 2067, 19, 20] {
            assert!(!is_sqlite_outage(code), "{code}");
        }
    }
}
