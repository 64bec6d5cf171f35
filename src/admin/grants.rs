//! A person's grants: what they consented to, per client. Revoking one ends everything issued
//! under it (its refresh tokens in the database; its access tokens, which introspection and
//! userinfo check against the grant).

use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{AdminError, Page, PageRequest, Problems, audit};
use crate::store::{Database, Grant};

/// A grant as admins see it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GrantView {
    pub id: Uuid,
    pub user_id: Uuid,
    pub client_id: String,
    pub scopes: Vec<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub revoked_at: Option<OffsetDateTime>,
}

impl From<Grant> for GrantView {
    fn from(grant: Grant) -> Self {
        Self {
            id: grant.id,
            user_id: grant.user_id,
            client_id: grant.client_id.to_string(),
            scopes: grant.scopes.iter().map(|s| s.as_str().to_owned()).collect(),
            created_at: grant.created_at,
            updated_at: grant.updated_at,
            revoked_at: grant.revoked_at,
        }
    }
}

/// One page of a user's grants, live and revoked, oldest first. A person has a handful, so
/// they are paged in memory, in the same (created_at, id) order as every other list.
pub async fn list_grants(
    db: &dyn Database,
    user_id: &str,
    page: &PageRequest,
) -> Result<Page<GrantView>, AdminError> {
    let mut problems = Problems::default();
    let user_id = problems.check(
        "user_id",
        Uuid::parse_str(user_id).map_err(|_| "must be a user id (a UUID)".to_owned()),
    );
    problems.into_result()?;
    let Some(user_id) = user_id else {
        return Err(AdminError::Internal("user_id vanished".into()));
    };
    let mut grants = db.list_grants(user_id).await?;
    grants.sort_by_key(|g| (g.created_at, g.id));
    let after = page.after.as_ref().map(|c| c.position());
    let fetched: Vec<GrantView> = grants
        .into_iter()
        .map(GrantView::from)
        .filter(|g| {
            after
                .as_ref()
                .is_none_or(|(t, id)| (g.created_at, g.id.to_string()) > (*t, id.clone()))
        })
        .take(page.limit as usize + 1)
        .collect();
    Ok(Page::from_fetched(fetched, page.limit, |g| {
        (g.created_at, g.id.to_string())
    }))
}

/// Revokes the grant and everything issued under it; 404 when there is no such grant.
pub async fn revoke_grant(
    db: &dyn Database,
    id: &str,
    actor: &str,
    now: OffsetDateTime,
) -> Result<(), AdminError> {
    let id = Uuid::parse_str(id).map_err(|_| AdminError::NotFound)?;
    let grant = db.find_grant(id).await?;
    db.revoke_grant(grant.id, now).await?;
    audit(db, actor, "grant.revoked", "grant", &id.to_string(), now).await;
    Ok(())
}
