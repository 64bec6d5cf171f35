//! `/v1/audit-events`: the audit trail, newest first, filtered and a page at a time.

use actix_web::{HttpRequest, HttpResponse};

use super::pagination::{ListQuery, page_response};
use super::{Admin, ApiError};
use crate::admin::audit::{self, AuditQuery};

const FILTERS: [&str; 6] = [
    "actor",
    "action",
    "target_type",
    "target_id",
    "since",
    "until",
];

/// `GET /v1/audit-events?actor=&action=&target_type=&target_id=&since=&until=`
pub async fn get_audit_events(admin: Admin, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let query = ListQuery::parse(req.query_string(), "/v1/audit-events", &FILTERS, &[])?;
    let given = |name: &str| query.filter(name).map(str::to_owned);
    let wanted = AuditQuery {
        actor: given("actor"),
        action: given("action"),
        target_type: given("target_type"),
        target_id: given("target_id"),
        since: given("since"),
        until: given("until"),
    };
    let page = audit::list_audit_events(admin.db(), &wanted, &query.page).await?;
    page_response(admin.format, &query, page)
}
