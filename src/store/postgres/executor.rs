//! Where the store's statements run: on the pool as they are, or, behind a transaction-mode
//! pooler (`database.pooler = "transaction"`), each inside a transaction as an unnamed
//! statement.
//!
//! Why: sqlx prepares every statement (`Parse`, `Describe`, `Sync`) before it binds and runs it
//! (`Bind`, `Execute`, `Sync`), and caches named statements (`sqlx_s_1`, …) per connection. A
//! transaction pooler hands the server connection back at every `Sync` outside a transaction,
//! so the bind can land on another server connection: one where `sqlx_s_1` is unknown, already
//! another client's, or, for an unnamed statement, another client's last query. Inside a
//! transaction the pooler keeps one server connection from `BEGIN` to `COMMIT`, and an unnamed
//! statement leaves nothing behind for the next client (PgBouncer 1.21's
//! `max_prepared_statements` tracks named statements instead, but older poolers do not).

use futures_util::{StreamExt as _, TryStreamExt as _};
use sqlx::error::BoxDynError;
use sqlx::postgres::{PgArguments, PgQueryResult, PgRow, PgStatement, PgTypeInfo};
use sqlx::{AssertSqlSafe, Describe, Either, Execute, Executor, PgPool, Postgres, SqlStr};

use futures_util::future::BoxFuture;
use futures_util::stream::BoxStream;

/// The same query as an unnamed statement: prepared, used and replaced within one transaction.
struct Unnamed<E>(E);

impl<'q, E: Execute<'q, Postgres>> Execute<'q, Postgres> for Unnamed<E> {
    fn sql(self) -> SqlStr {
        self.0.sql()
    }

    fn statement(&self) -> Option<&PgStatement> {
        self.0.statement()
    }

    fn take_arguments(&mut self) -> Result<Option<PgArguments>, BoxDynError> {
        self.0.take_arguments()
    }

    fn persistent(&self) -> bool {
        false
    }
}

/// A statement outside any transaction of the caller's: straight on the pool, or behind a
/// transaction pooler in a [`Tx`] of its own.
#[derive(Debug, Clone, Copy)]
pub(super) struct Db<'p> {
    pub(super) pool: &'p PgPool,
    /// `BEGIN` plus the session settings the pooler cannot carry, when behind one.
    pub(super) begin: Option<&'p str>,
}

impl<'p> Executor<'p> for Db<'p> {
    type Database = Postgres;

    fn fetch_many<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxStream<'e, Result<Either<PgQueryResult, PgRow>, sqlx::Error>>
    where
        'p: 'e,
        E: 'q + Execute<'q, Postgres>,
    {
        if self.begin.is_none() {
            return self.pool.fetch_many(query);
        }
        // Read whole before the commit: the store's results are small (lists are paged).
        futures_util::stream::once(async move {
            let mut tx = Tx::begin(self).await?;
            let steps: Vec<_> = (&mut tx).fetch_many(query).try_collect().await?;
            tx.commit().await?;
            Ok::<_, sqlx::Error>(futures_util::stream::iter(steps.into_iter().map(Ok)))
        })
        .try_flatten()
        .boxed()
    }

    fn fetch_optional<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxFuture<'e, Result<Option<PgRow>, sqlx::Error>>
    where
        'p: 'e,
        E: 'q + Execute<'q, Postgres>,
    {
        if self.begin.is_none() {
            return self.pool.fetch_optional(query);
        }
        Box::pin(async move {
            let mut tx = Tx::begin(self).await?;
            let row = (&mut tx).fetch_optional(query).await?;
            tx.commit().await?;
            Ok(row)
        })
    }

    fn prepare_with<'e>(
        self,
        sql: SqlStr,
        parameters: &'e [PgTypeInfo],
    ) -> BoxFuture<'e, Result<PgStatement, sqlx::Error>>
    where
        'p: 'e,
    {
        self.pool.prepare_with(sql, parameters)
    }

    fn describe<'e>(self, sql: SqlStr) -> BoxFuture<'e, Result<Describe<Postgres>, sqlx::Error>>
    where
        'p: 'e,
    {
        self.pool.describe(sql)
    }
}

/// A transaction of the caller's; behind a transaction pooler its statements are unnamed.
pub(super) struct Tx {
    inner: sqlx::Transaction<'static, Postgres>,
    unnamed: bool,
}

impl Tx {
    pub(super) async fn begin(db: Db<'_>) -> Result<Self, sqlx::Error> {
        Ok(Self {
            inner: match db.begin {
                Some(begin) => db.pool.begin_with(AssertSqlSafe(begin.to_owned())).await?,
                None => db.pool.begin().await?,
            },
            unnamed: db.begin.is_some(),
        })
    }

    pub(super) async fn commit(self) -> Result<(), sqlx::Error> {
        self.inner.commit().await
    }
}

impl std::fmt::Debug for Tx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tx")
            .field("unnamed", &self.unnamed)
            .finish_non_exhaustive()
    }
}

impl<'t> Executor<'t> for &'t mut Tx {
    type Database = Postgres;

    fn fetch_many<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxStream<'e, Result<Either<PgQueryResult, PgRow>, sqlx::Error>>
    where
        't: 'e,
        E: 'q + Execute<'q, Postgres>,
    {
        if self.unnamed {
            (&mut *self.inner).fetch_many(Unnamed(query))
        } else {
            (&mut *self.inner).fetch_many(query)
        }
    }

    fn fetch_optional<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxFuture<'e, Result<Option<PgRow>, sqlx::Error>>
    where
        't: 'e,
        E: 'q + Execute<'q, Postgres>,
    {
        if self.unnamed {
            (&mut *self.inner).fetch_optional(Unnamed(query))
        } else {
            (&mut *self.inner).fetch_optional(query)
        }
    }

    fn prepare_with<'e>(
        self,
        sql: SqlStr,
        parameters: &'e [PgTypeInfo],
    ) -> BoxFuture<'e, Result<PgStatement, sqlx::Error>>
    where
        't: 'e,
    {
        (&mut *self.inner).prepare_with(sql, parameters)
    }

    fn describe<'e>(self, sql: SqlStr) -> BoxFuture<'e, Result<Describe<Postgres>, sqlx::Error>>
    where
        't: 'e,
    {
        (&mut *self.inner).describe(sql)
    }
}
