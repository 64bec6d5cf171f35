use std::time::Duration;

/// A storage failure, mapped explicitly by each caller: a missing code is `invalid_grant`, a
/// missing client `invalid_client`, a backend failure `server_error`. There is deliberately no
/// blanket conversion into protocol errors.
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
    #[error("the database failed")]
    Backend(#[source] anyhow::Error),
}

impl StoreError {
    pub(crate) fn corrupt(what: impl std::fmt::Display) -> Self {
        Self::Backend(anyhow::anyhow!("unreadable row: {what}"))
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
            sqlx::Error::PoolTimedOut => Self::Timeout(Duration::ZERO),
            other => Self::Backend(other.into()),
        }
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(error: sqlx::migrate::MigrateError) -> Self {
        Self::Backend(error.into())
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
