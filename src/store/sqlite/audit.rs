use async_trait::async_trait;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{SqliteStore, from_unix, to_unix};
use crate::store::error::bounded;
use crate::store::{After, AuditEvent, AuditFilter, AuditStore, NewAuditEvent, StoreError};

#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    occurred_at: i64,
    actor: String,
    action: String,
    target_type: String,
    target_id: Option<String>,
    request_id: Option<String>,
    details: String,
}

impl TryFrom<Row> for AuditEvent {
    type Error = StoreError;

    fn try_from(row: Row) -> Result<Self, StoreError> {
        Ok(Self {
            id: Uuid::parse_str(&row.id).map_err(StoreError::corrupt)?,
            occurred_at: from_unix(row.occurred_at)?,
            event: NewAuditEvent {
                actor: row.actor,
                action: row.action,
                target_type: row.target_type,
                target_id: row.target_id,
                request_id: row.request_id,
                details: serde_json::from_str(&row.details).map_err(StoreError::corrupt)?,
            },
        })
    }
}

#[async_trait]
impl AuditStore for SqliteStore {
    async fn record_audit_event(
        &self,
        event: &NewAuditEvent,
        now: OffsetDateTime,
    ) -> Result<AuditEvent, StoreError> {
        let id = Uuid::now_v7();
        let query = sqlx::query(
            "INSERT INTO audit_events (id, occurred_at, actor, action, target_type, target_id, \
             request_id, details) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(id.to_string())
        .bind(to_unix(now))
        .bind(&event.actor)
        .bind(&event.action)
        .bind(&event.target_type)
        .bind(&event.target_id)
        .bind(&event.request_id)
        .bind(event.details.to_string());
        bounded(self.timeout, query.execute(&self.pool)).await?;
        Ok(AuditEvent {
            id,
            occurred_at: now,
            event: event.clone(),
        })
    }

    async fn recent_audit_events(&self, limit: u32) -> Result<Vec<AuditEvent>, StoreError> {
        let query = sqlx::query_as::<_, Row>(
            "SELECT * FROM audit_events ORDER BY occurred_at DESC, id DESC LIMIT ?",
        )
        .bind(i64::from(limit));
        let rows = bounded(self.timeout, query.fetch_all(&self.pool)).await?;
        rows.into_iter().map(AuditEvent::try_from).collect()
    }

    async fn list_audit_events(
        &self,
        filter: &AuditFilter,
        before: Option<&After>,
        limit: u32,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        let (before_time, before_id) = match before {
            Some(before) => (Some(to_unix(before.created_at)), Some(before.id.as_str())),
            None => (None, None),
        };
        let query = sqlx::query_as::<_, Row>(
            "SELECT * FROM audit_events \
             WHERE (?1 IS NULL OR actor = ?1) AND (?2 IS NULL OR action = ?2) \
             AND (?3 IS NULL OR target_type = ?3) AND (?4 IS NULL OR target_id = ?4) \
             AND (?5 IS NULL OR occurred_at >= ?5) AND (?6 IS NULL OR occurred_at < ?6) \
             AND (?7 IS NULL OR occurred_at < ?7 OR (occurred_at = ?7 AND id < ?8)) \
             ORDER BY occurred_at DESC, id DESC LIMIT ?9",
        )
        .bind(filter.actor.as_deref())
        .bind(filter.action.as_deref())
        .bind(filter.target_type.as_deref())
        .bind(filter.target_id.as_deref())
        .bind(filter.since.map(to_unix))
        .bind(filter.until.map(to_unix))
        .bind(before_time)
        .bind(before_id)
        .bind(i64::from(limit));
        let rows = bounded(self.timeout, query.fetch_all(&self.pool)).await?;
        rows.into_iter().map(AuditEvent::try_from).collect()
    }

    async fn delete_audit_events_before(
        &self,
        cutoff: OffsetDateTime,
        limit: u32,
    ) -> Result<u64, StoreError> {
        let query = sqlx::query(
            "DELETE FROM audit_events WHERE id IN (SELECT id FROM audit_events \
             WHERE occurred_at < ? ORDER BY occurred_at LIMIT ?)",
        )
        .bind(to_unix(cutoff))
        .bind(i64::from(limit));
        let done = bounded(self.timeout, query.execute(&self.pool)).await?;
        Ok(done.rows_affected())
    }
}
