//! Reading the audit trail (`GET /v1/audit-events`, `gatehouse audit`) and keeping it to its
//! retention (`audit.retain_days`). Events are never changed; they go only when they are older
//! than the retention, a bounded batch at a time.

use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use super::{AdminError, Page, PageRequest, Problems};
use crate::store::{AuditEvent, AuditFilter, Database};

/// What a caller asks the audit trail for, as typed (every part optional; times in RFC 3339).
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    pub since: Option<String>,
    pub until: Option<String>,
}

/// One event as the API and the CLI show it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEventView {
    pub id: Uuid,
    #[serde(with = "time::serde::rfc3339")]
    pub occurred_at: OffsetDateTime,
    /// A user id (a person), a client id (automation, or a client acting as itself), `cli` or
    /// `system`.
    pub actor: String,
    pub action: String,
    pub target_type: String,
    pub target_id: Option<String>,
    pub request_id: Option<String>,
    /// What else the event records: the client address, the client a person came through, the
    /// change's particulars. Never a secret.
    pub details: serde_json::Value,
}

impl From<AuditEvent> for AuditEventView {
    fn from(event: AuditEvent) -> Self {
        Self {
            id: event.id,
            occurred_at: event.occurred_at,
            actor: event.event.actor,
            action: event.event.action,
            target_type: event.event.target_type,
            target_id: event.event.target_id,
            request_id: event.event.request_id,
            details: event.event.details,
        }
    }
}

/// The events `query` selects, newest first, a page at a time.
pub async fn list_audit_events(
    db: &dyn Database,
    query: &AuditQuery,
    page: &PageRequest,
) -> Result<Page<AuditEventView>, AdminError> {
    let mut problems = Problems::default();
    let mut time = |field: &str, value: &Option<String>| {
        value
            .as_deref()
            .and_then(|v| problems.check(field, parse_time(v)))
    };
    let since = time("since", &query.since);
    let until = time("until", &query.until);
    problems.into_result()?;
    let filter = AuditFilter {
        actor: query.actor.clone(),
        action: query.action.clone(),
        target_type: query.target_type.clone(),
        target_id: query.target_id.clone(),
        since,
        until,
    };
    let fetched = db
        .list_audit_events(&filter, page.store_after(), page.limit + 1)
        .await?;
    let fetched = fetched.into_iter().map(AuditEventView::from).collect();
    Ok(Page::from_fetched(
        fetched,
        page.limit,
        |e: &AuditEventView| (e.occurred_at, e.id.to_string()),
    ))
}

fn parse_time(value: &str) -> Result<OffsetDateTime, String> {
    OffsetDateTime::parse(value, &Rfc3339)
        .map_err(|_| "an RFC 3339 time, as 2026-12-04T10:00:00Z".to_owned())
}

/// The most events one purge deletes, so it never holds the table for long.
pub const PURGE_BATCH: u32 = 1000;

/// Deletes a batch of the events older than `retain_days` (none when it is 0: kept for ever);
/// how many went.
pub async fn purge_expired(
    db: &dyn Database,
    retain_days: u32,
    now: OffsetDateTime,
) -> Result<u64, AdminError> {
    if retain_days == 0 {
        return Ok(0);
    }
    let cutoff = now - time::Duration::days(i64::from(retain_days));
    Ok(db.delete_audit_events_before(cutoff, PURGE_BATCH).await?)
}
