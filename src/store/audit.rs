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
    /// (`details.client_address`, `request_id`), when there is one, and the client a person
    /// came through (`details.client_id`) when a person did it with a token.
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
            if let Some(client_id) = origin.client_id.get()
                && client_id != actor
            {
                // a person's action names the client they came through
                members.insert(
                    "client_id".to_owned(),
                    serde_json::Value::String(client_id.clone()),
                );
            }
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

/// Which audit events a list wants; every part given must match (`None`: any).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    /// At or after.
    pub since: Option<OffsetDateTime>,
    /// Before.
    pub until: Option<OffsetDateTime>,
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

    /// The events `filter` selects, newest first, older than `before` (a page's last event),
    /// at most `limit`.
    async fn list_audit_events(
        &self,
        filter: &AuditFilter,
        before: Option<&super::After>,
        limit: u32,
    ) -> Result<Vec<AuditEvent>, StoreError>;

    /// Deletes up to `limit` of the events older than `cutoff`, oldest first; how many went.
    async fn delete_audit_events_before(
        &self,
        cutoff: OffsetDateTime,
        limit: u32,
    ) -> Result<u64, StoreError>;
}
