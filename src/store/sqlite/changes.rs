use async_trait::async_trait;
use time::OffsetDateTime;

use super::{SqliteStore, from_unix, to_unix};
use crate::store::error::bounded;
use crate::store::{Change, ChangeKind, ChangeStore, NewChange, StoreError};

#[derive(sqlx::FromRow)]
struct Row {
    seq: i64,
    kind: String,
    subject: String,
    at: i64,
    expires_at: i64,
}

impl TryFrom<Row> for Change {
    type Error = StoreError;

    fn try_from(row: Row) -> Result<Self, StoreError> {
        Ok(Self {
            seq: row.seq,
            change: NewChange {
                kind: ChangeKind::parse(&row.kind).ok_or_else(|| StoreError::corrupt(&row.kind))?,
                subject: row.subject,
                at: from_unix(row.at)?,
                expires_at: from_unix(row.expires_at)?,
            },
        })
    }
}

#[async_trait]
impl ChangeStore for SqliteStore {
    async fn record_change(&self, change: &NewChange) -> Result<i64, StoreError> {
        let query = sqlx::query_scalar::<_, i64>(
            "INSERT INTO changes (kind, subject, at, expires_at) VALUES (?, ?, ?, ?) RETURNING seq",
        )
        .bind(change.kind.as_str())
        .bind(&change.subject)
        .bind(to_unix(change.at))
        .bind(to_unix(change.expires_at));
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
            "SELECT seq, kind, subject, at, expires_at FROM changes WHERE seq > ? \
             ORDER BY seq LIMIT ?",
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
        let query = sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM changes WHERE kind = ? AND subject = ? AND expires_at > ?",
        )
        .bind(kind.as_str())
        .bind(subject)
        .bind(to_unix(now));
        Ok(bounded(self.timeout, query.fetch_one(&self.pool)).await? > 0)
    }

    async fn last_change_seq(&self) -> Result<i64, StoreError> {
        let query = sqlx::query_scalar::<_, i64>("SELECT COALESCE(MAX(seq), 0) FROM changes");
        bounded(self.timeout, query.fetch_one(&self.pool)).await
    }

    async fn purge_changes(&self, cutoff: OffsetDateTime, limit: u32) -> Result<u64, StoreError> {
        let query = sqlx::query(
            "DELETE FROM changes WHERE seq IN \
             (SELECT seq FROM changes WHERE expires_at < ? ORDER BY seq LIMIT ?)",
        )
        .bind(to_unix(cutoff))
        .bind(i64::from(limit));
        Ok(bounded(self.timeout, query.execute(&self.pool))
            .await?
            .rows_affected())
    }
}
