//! `/v1/grants`: a person's grants, and revoking one with everything issued under it.

use actix_web::{HttpRequest, HttpResponse, web};

use super::pagination::{ListQuery, page_response};
use super::{Admin, ApiError};
use crate::admin::grants;

/// `GET /v1/grants?user_id=`
pub async fn get_grants(admin: Admin, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let query = ListQuery::parse(req.query_string(), "/v1/grants", &[], &["user_id"])?;
    let user_id = query.filter("user_id").unwrap_or_default();
    let page = grants::list_grants(admin.db(), user_id, &query.page).await?;
    page_response(admin.format, &query, page)
}

/// `DELETE /v1/grants/{id}`: no `If-Match`, a grant has no representation to be stale against.
pub async fn delete_grant(admin: Admin, id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    grants::revoke_grant(admin.db(), &id, admin.actor(), admin.now()).await?;
    Ok(HttpResponse::NoContent().finish())
}
