use async_trait::async_trait;
use time::OffsetDateTime;
use uuid::Uuid;

use super::StoreError;

/// What happened, for the audit trail. Never carries a secret.
#[derive(Debug, Clone)]
pub struct NewAuditEvent {
    /// Who: `cli`, `system`, a client id or a user id.
    pub actor: String,
    /// What, as `noun.verb`: `signing_key.created`, `client.deleted`.
    pub action: String,
    pub target_type: String,
    pub target_id: Option<String>,
    pub request_id: Option<String>,
    pub details: serde_json::Value,
}

#[derive(Debug, Clone)]
pub struct AuditEvent {
    pub id: Uuid,
    pub occurred_at: OffsetDateTime,
    pub event: NewAuditEvent,
}

#[async_trait]
pub trait AuditStore: Send + Sync {
    async fn record_audit_event(
        &self,
        event: &NewAuditEvent,
        now: OffsetDateTime,
    ) -> Result<AuditEvent, StoreError>;

    /// The newest events first, at most `limit`.
    async fn recent_audit_events(&self, limit: u32) -> Result<Vec<AuditEvent>, StoreError>;
}
