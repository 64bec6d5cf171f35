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

impl NewAuditEvent {
    /// An event done now, with the client address and request id of the request being served
    /// (`details.client_address`, `request_id`), when there is one.
    pub fn new(
        actor: &str,
        action: &str,
        target_type: &str,
        target_id: Option<&str>,
        mut details: serde_json::Value,
    ) -> Self {
        let origin = crate::origin::current();
        if let (Some(origin), serde_json::Value::Object(members)) = (&origin, &mut details) {
            members.insert(
                "client_address".to_owned(),
                serde_json::Value::String(origin.client_address.to_string()),
            );
        }
        Self {
            actor: actor.to_owned(),
            action: action.to_owned(),
            target_type: target_type.to_owned(),
            target_id: target_id.map(str::to_owned),
            request_id: origin.and_then(|origin| origin.request_id),
            details,
        }
    }
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

    /// The newest events of `action` on one target (`user`, its id), at most `limit`: a person's
    /// recent sign-ins on their account page. Served by the index on the target.
    async fn recent_audit_events_on(
        &self,
        target_type: &str,
        target_id: &str,
        action: &str,
        limit: u32,
    ) -> Result<Vec<AuditEvent>, StoreError>;
}
