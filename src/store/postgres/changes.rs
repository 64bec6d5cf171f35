use async_trait::async_trait;
use time::OffsetDateTime;

use super::PgStore;
use crate::store::error::bounded;
use crate::store::{Change, ChangeKind, ChangeStore, NewChange, StoreError};

#[derive(sqlx::FromRow)]
struct Row {
    seq: i64,
    kind: String,
    subject: String,
    at: OffsetDateTime,
    expires_at: OffsetDateTime,
}

impl TryFrom<Row> for Change {
    type Error = StoreError;

    fn try_from(row: Row) -> Result<Self, StoreError> {
        Ok(Self {
            seq: row.seq,
            change: NewChange {
                kind: ChangeKind::parse(&row.kind).ok_or_else(|| StoreError::corrupt(&row.kind))?,
                subject: row.subject,
                at: row.at,
                expires_at: row.expires_at,
            },
        })
    }
}

#[async_trait]
impl ChangeStore for PgStore {
    async fn record_change(&self, change: &NewChange) -> Result<i64, StoreError> {
        let query = sqlx::query_scalar::<_, i64>(
            "INSERT INTO changes (kind, subject, at, expires_at) VALUES ($1, $2, $3, $4) \
             RETURNING seq",
        )
        .bind(change.kind.as_str())
        .bind(&change.subject)
        .bind(change.at)
        .bind(change.expires_at);
        let recorded = bounded(self.timeout, query.fetch_one(&self.pool)).await;
        // Also when the answer timed out: the row may have been written. A needless ring
        // costs one read of the feed.
        self.bell.ring();
        recorded
    }

    fn change_bell(&self) -> crate::store::ChangeBell {
        self.bell.clone()
    }

    async fn changes_after(&self, after: i64, limit: u32) -> Result<Vec<Change>, StoreError> {
        let query = sqlx::query_as::<_, Row>(
            "SELECT seq, kind, subject, at, expires_at FROM changes WHERE seq > $1 \
             ORDER BY seq LIMIT $2",
        )
        .bind(after)
        .bind(i64::from(limit));
        let rows = bounded(self.timeout, query.fetch_all(&self.pool)).await?;
        rows.into_iter().map(Change::try_from).collect()
    }

    async fn change_recorded(
        &self,
        kind: ChangeKind,
        subject: &str,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let query = sqlx::query_scalar::<_, bool>(
            "SELECT EXISTS (SELECT 1 FROM changes WHERE kind = $1 AND subject = $2 \
             AND expires_at > $3)",
        )
        .bind(kind.as_str())
        .bind(subject)
        .bind(now);
        bounded(self.timeout, query.fetch_one(&self.pool)).await
    }

    async fn last_change_seq(&self) -> Result<i64, StoreError> {
        let query = sqlx::query_scalar::<_, i64>("SELECT COALESCE(MAX(seq), 0) FROM changes");
        bounded(self.timeout, query.fetch_one(&self.pool)).await
    }

    async fn purge_changes(&self, cutoff: OffsetDateTime, limit: u32) -> Result<u64, StoreError> {
        let query = sqlx::query(
            "DELETE FROM changes WHERE seq IN \
             (SELECT seq FROM changes WHERE expires_at < $1 ORDER BY seq LIMIT $2)",
        )
        .bind(cutoff)
        .bind(i64::from(limit));
        Ok(bounded(self.timeout, query.execute(&self.pool))
            .await?
            .rows_affected())
    }
}
