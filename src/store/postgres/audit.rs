use async_trait::async_trait;
use sqlx::types::Json;
use time::OffsetDateTime;
use uuid::Uuid;

use super::PgStore;
use crate::store::error::bounded;
use crate::store::{After, AuditEvent, AuditFilter, AuditStore, NewAuditEvent, StoreError};

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    occurred_at: OffsetDateTime,
    actor: String,
    action: String,
    target_type: String,
    target_id: Option<String>,
    request_id: Option<String>,
    details: Json<serde_json::Value>,
}

impl From<Row> for AuditEvent {
    fn from(row: Row) -> Self {
        Self {
            id: row.id,
            occurred_at: row.occurred_at,
            event: NewAuditEvent {
                actor: row.actor,
                action: row.action,
                target_type: row.target_type,
                target_id: row.target_id,
                request_id: row.request_id,
                details: row.details.0,
            },
        }
    }
}

#[async_trait]
impl AuditStore for PgStore {
    async fn record_audit_event(
        &self,
        event: &NewAuditEvent,
        now: OffsetDateTime,
    ) -> Result<AuditEvent, StoreError> {
        let id = Uuid::now_v7();
        let query = sqlx::query(
            "INSERT INTO audit_events (id, occurred_at, actor, action, target_type, target_id, \
             request_id, details) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(id)
        .bind(now)
        .bind(&event.actor)
        .bind(&event.action)
        .bind(&event.target_type)
        .bind(&event.target_id)
        .bind(&event.request_id)
        .bind(Json(&event.details));
        bounded(self.timeout, query.execute(self.db())).await?;
        Ok(AuditEvent {
            id,
            occurred_at: now,
            event: event.clone(),
        })
    }

    async fn recent_audit_events(&self, limit: u32) -> Result<Vec<AuditEvent>, StoreError> {
        let query = sqlx::query_as::<_, Row>(
            "SELECT * FROM audit_events ORDER BY occurred_at DESC, id DESC LIMIT $1",
        )
        .bind(i64::from(limit));
        let rows = bounded(self.timeout, query.fetch_all(self.db())).await?;
        Ok(rows.into_iter().map(AuditEvent::from).collect())
    }

    async fn list_audit_events(
        &self,
        filter: &AuditFilter,
        before: Option<&After>,
        limit: u32,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        let before_id = before
            .map(|b| Uuid::parse_str(&b.id))
            .transpose()
            .map_err(StoreError::corrupt)?;
        let before_time = before.map(|b| b.created_at);
        let query = sqlx::query_as::<_, Row>(
            "SELECT * FROM audit_events \
             WHERE ($1::text IS NULL OR actor = $1) AND ($2::text IS NULL OR action = $2) \
             AND ($3::text IS NULL OR target_type = $3) AND ($4::text IS NULL OR target_id = $4) \
             AND ($5::timestamptz IS NULL OR occurred_at >= $5) \
             AND ($6::timestamptz IS NULL OR occurred_at < $6) \
             AND ($7::timestamptz IS NULL OR (occurred_at, id) < ($7, $8)) \
             ORDER BY occurred_at DESC, id DESC LIMIT $9",
        )
        .bind(filter.actor.as_deref())
        .bind(filter.action.as_deref())
        .bind(filter.target_type.as_deref())
        .bind(filter.target_id.as_deref())
        .bind(filter.since)
        .bind(filter.until)
        .bind(before_time)
        .bind(before_id)
        .bind(i64::from(limit));
        let rows = bounded(self.timeout, query.fetch_all(self.db())).await?;
        Ok(rows.into_iter().map(AuditEvent::from).collect())
    }

    async fn delete_audit_events_before(
        &self,
        cutoff: OffsetDateTime,
        limit: u32,
    ) -> Result<u64, StoreError> {
        let query = sqlx::query(
            "DELETE FROM audit_events WHERE id IN (SELECT id FROM audit_events \
             WHERE occurred_at < $1 ORDER BY occurred_at LIMIT $2)",
        )
        .bind(cutoff)
        .bind(i64::from(limit));
        let done = bounded(self.timeout, query.execute(self.db())).await?;
        Ok(done.rows_affected())
    }
}
