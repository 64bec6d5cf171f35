//! Roles: what a person may do to Gatehouse itself (`crate::domain::Role`). Granted and taken
//! away one at a time (`users grant-role|revoke-role`, `PUT|DELETE /v1/users/{id}/roles/{role}`),
//! never through a profile update, so each change is an audit event of its own. A change is
//! seen by every instance within a second (the user is marked changed in the feed, which drops
//! cached copies), and the admin API checks the caller's roles on every request: a role taken
//! away ends that person's administration at once, whatever tokens they hold.

use time::OffsetDateTime;

use super::find_user;
use crate::admin::{AdminError, audit_with, note_changed};
use crate::domain::{Role, User};
use crate::store::{ChangeKind, Database};

/// Gives `role` to (`held`), or takes it from, the user named `id_or_username` (their id, or
/// username); a role already as asked changes nothing (and records nothing).
pub async fn change_role(
    db: &dyn Database,
    id_or_username: &str,
    role: Role,
    held: bool,
    actor: &str,
    now: OffsetDateTime,
) -> Result<User, AdminError> {
    let user = find_user(db, id_or_username).await?;
    set_role(db, user, role, held, actor, now).await
}

/// `user` holding `role` (`held`) or not, written at the version read.
pub async fn set_role(
    db: &dyn Database,
    user: User,
    role: Role,
    held: bool,
    actor: &str,
    now: OffsetDateTime,
) -> Result<User, AdminError> {
    let roles = if held {
        user.roles.with(role)
    } else {
        user.roles.without(role)
    };
    if roles == user.roles {
        return Ok(user);
    }
    let now = now.replace_nanosecond(0).unwrap_or(now);
    let expected = user.version;
    let changed = User {
        roles,
        version: user.version + 1,
        updated_at: now,
        ..user
    };
    db.update_user(&changed, expected).await?;
    let id = changed.id.to_string();
    note_changed(db, ChangeKind::UserChanged, &id, now).await?;
    let action = if held {
        "user.role_granted"
    } else {
        "user.role_revoked"
    };
    let details = serde_json::json!({ "role": role.as_str() });
    audit_with(db, actor, action, ("user", &id), details, now).await;
    Ok(changed)
}
