//! Managing the people who sign in.

pub mod factors;
mod password;
mod roles;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;
use uuid::Uuid;

pub use self::password::{change_own_password, set_password, set_password_by_id};
pub use self::roles::{change_role, set_role};
use super::{
    AdminError, Page, PageRequest, Problems, Remember, apply_merge_patch, audit, cut_off,
    note_changed,
};
use crate::crypto::{Password, PasswordHasher};
use crate::domain::{Email, RESERVED_CLAIMS, User, Username};
use crate::store::{
    ChangeKind, Database, IDEMPOTENCY_CONFLICT, StoreError, UserFilter as StoreFilter,
};

/// What a caller asks for when creating a user; checked by [`validate_new_user`].
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    pub username: String,
    pub email: Option<String>,
    #[serde(default)]
    pub email_verified: bool,
    pub display_name: Option<String>,
    #[serde(default)]
    pub claims: Map<String, Value>,
}

/// Creates a user, with a password when one is given (checked against the password rules).
pub async fn create_user(
    db: &dyn Database,
    hasher: &PasswordHasher,
    request: NewUser,
    password: Option<Password>,
    actor: &str,
    now: OffsetDateTime,
) -> Result<User, AdminError> {
    create_user_once(db, hasher, request, password, actor, now, None).await
}

/// As [`create_user`], storing the idempotency record `remember` makes of the result (if any)
/// in the same transaction as the user. A live record for the same caller and key is a
/// `Conflict` and creates nothing.
pub async fn create_user_once(
    db: &dyn Database,
    hasher: &PasswordHasher,
    request: NewUser,
    password: Option<Password>,
    actor: &str,
    now: OffsetDateTime,
    remember: Option<Remember<User>>,
) -> Result<User, AdminError> {
    let mut user = validate_new_user(request, password.as_ref(), now)?;
    if let Some(password) = &password {
        user.password_hash = Some(hasher.hash(password).await?);
    }
    let idempotency = remember.map(|remember| remember(&user)).transpose()?;
    db.insert_user_idempotently(&user, idempotency.as_ref())
        .await
        .map_err(|error| match error {
            StoreError::Conflict { constraint } if constraint == IDEMPOTENCY_CONFLICT => {
                AdminError::Conflict("a request with this Idempotency-Key was completed".into())
            }
            StoreError::Conflict { .. } => AdminError::Conflict("username is taken".into()),
            other => other.into(),
        })?;
    audit(db, actor, "user.created", "user", &user.id.to_string(), now).await;
    Ok(user)
}

/// A user by id, or by username.
pub async fn find_user(db: &dyn Database, id_or_username: &str) -> Result<User, AdminError> {
    if let Ok(id) = Uuid::parse_str(id_or_username) {
        return Ok(db.find_user(id).await?);
    }
    let username = Username::parse(id_or_username).map_err(|_| AdminError::NotFound)?;
    Ok(db.find_user_by_username(&username).await?)
}

/// Every user, oldest first (the CLI's list).
pub async fn list_all_users(db: &dyn Database) -> Result<Vec<User>, AdminError> {
    Ok(db.list_users().await?)
}

/// A user by id only (the API's paths).
pub async fn find_user_by_id(db: &dyn Database, id: &str) -> Result<User, AdminError> {
    let id = Uuid::parse_str(id).map_err(|_| AdminError::NotFound)?;
    Ok(db.find_user(id).await?)
}

/// Which users a list shows, as asked for: checked before it reaches the store.
#[derive(Debug, Clone, Default)]
pub struct UserFilter {
    pub username: Option<String>,
    pub email: Option<String>,
}

/// One page of users matching `filter`, oldest first.
pub async fn list_users(
    db: &dyn Database,
    filter: &UserFilter,
    page: &PageRequest,
) -> Result<Page<User>, AdminError> {
    let mut problems = Problems::default();
    let username = filter
        .username
        .as_deref()
        .and_then(|u| problems.check("username", Username::parse(u)));
    let email = filter
        .email
        .as_deref()
        .and_then(|e| problems.check("email", Email::parse(e)));
    problems.into_result()?;
    let filter = StoreFilter { username, email };
    let fetched = db
        .list_users_after(&filter, page.store_after(), page.limit + 1)
        .await?;
    Ok(Page::from_fetched(fetched, page.limit, |u| {
        (u.created_at, u.id.to_string())
    }))
}

/// What a user may be changed to: the profile, not the id and not the password.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserChanges {
    pub username: String,
    pub email: Option<String>,
    #[serde(default)]
    pub email_verified: bool,
    pub display_name: Option<String>,
    #[serde(default)]
    pub claims: Map<String, Value>,
    #[serde(default)]
    pub disabled: bool,
}

impl From<&User> for UserChanges {
    fn from(user: &User) -> Self {
        Self {
            username: user.username.to_string(),
            email: user.email.as_ref().map(|e| e.to_string()),
            email_verified: user.email_verified,
            display_name: user.display_name.clone(),
            claims: user.claims.clone(),
            disabled: user.disabled,
        }
    }
}

/// `PUT`: replaces the profile, validated as at creation.
pub async fn replace_user(
    db: &dyn Database,
    id: &str,
    changes: UserChanges,
    expected_version: Option<i64>,
    actor: &str,
    now: OffsetDateTime,
) -> Result<User, AdminError> {
    let current = find_user_by_id(db, id).await?;
    let expected = expected_version.unwrap_or(current.version);
    if expected != current.version {
        return Err(AdminError::PreconditionFailed);
    }
    let request = NewUser {
        username: changes.username,
        email: changes.email,
        email_verified: changes.email_verified,
        display_name: changes.display_name,
        claims: changes.claims,
    };
    let now = now.replace_nanosecond(0).unwrap_or(now);
    let validated = validate_new_user(request, None, now)?;
    if changes.disabled && !current.disabled {
        // Everything the person holds ends now, on every instance: tokens and sessions.
        cut_off(db, ChangeKind::User, &current.id.to_string(), now).await?;
    }
    let replaced = User {
        id: current.id,
        password_hash: current.password_hash.clone(),
        disabled: changes.disabled,
        // changed only one at a time, by `roles`, each an audit event of its own
        roles: current.roles,
        version: current.version + 1,
        created_at: current.created_at,
        updated_at: now,
        ..validated
    };
    db.update_user(&replaced, expected)
        .await
        .map_err(|error| match error {
            StoreError::Conflict { .. } => AdminError::Conflict("username is taken".into()),
            other => other.into(),
        })?;
    // Cached copies (UserInfo) are read again on every instance.
    note_changed(db, ChangeKind::UserChanged, &current.id.to_string(), now).await?;
    audit(
        db,
        actor,
        "user.updated",
        "user",
        &current.id.to_string(),
        now,
    )
    .await;
    Ok(replaced)
}

/// `PATCH` with a JSON Merge Patch (RFC 7396) over the user's [`UserChanges`] form.
pub async fn patch_user(
    db: &dyn Database,
    id: &str,
    patch: &Value,
    expected_version: Option<i64>,
    actor: &str,
    now: OffsetDateTime,
) -> Result<User, AdminError> {
    let current = find_user_by_id(db, id).await?;
    let changes: UserChanges = apply_merge_patch(&UserChanges::from(&current), patch)?;
    replace_user(
        db,
        id,
        changes,
        expected_version.or(Some(current.version)),
        actor,
        now,
    )
    .await
}

/// `DELETE /v1/users/{id}`: as [`delete_user`], by id and at a version.
pub async fn delete_user_by_id(
    db: &dyn Database,
    id: &str,
    expected_version: Option<i64>,
    actor: &str,
    now: OffsetDateTime,
) -> Result<(), AdminError> {
    let user = find_user_by_id(db, id).await?;
    remove(db, &user, expected_version, actor, now).await
}

/// Deletes a user with their grants and refresh tokens. Their id is never given out again.
pub async fn delete_user(
    db: &dyn Database,
    id_or_username: &str,
    actor: &str,
    now: OffsetDateTime,
) -> Result<User, AdminError> {
    let user = find_user(db, id_or_username).await?;
    remove(db, &user, None, actor, now).await?;
    Ok(user)
}

async fn remove(
    db: &dyn Database,
    user: &User,
    expected_version: Option<i64>,
    actor: &str,
    now: OffsetDateTime,
) -> Result<(), AdminError> {
    if expected_version.is_some_and(|v| v != user.version) {
        return Err(AdminError::PreconditionFailed);
    }
    // Revoked first, so the tokens under them end even if the delete fails midway.
    cut_off(db, ChangeKind::User, &user.id.to_string(), now).await?;
    revoke_live_grants(db, user, now).await?;
    db.delete_user(user.id, expected_version).await?;
    note_changed(db, ChangeKind::UserChanged, &user.id.to_string(), now).await?;
    audit(db, actor, "user.deleted", "user", &user.id.to_string(), now).await;
    Ok(())
}

/// Signs a person out everywhere: every browser session and every token they hold ends now,
/// on every instance; their grants are revoked, so refresh tokens stop too.
pub async fn sign_out(
    db: &dyn Database,
    id_or_username: &str,
    actor: &str,
    now: OffsetDateTime,
) -> Result<User, AdminError> {
    let user = find_user(db, id_or_username).await?;
    sign_out_user(db, &user, actor, now).await?;
    Ok(user)
}

/// `POST /v1/users/{id}/sign-out`: as [`sign_out`], by id only.
pub async fn sign_out_by_id(
    db: &dyn Database,
    id: &str,
    actor: &str,
    now: OffsetDateTime,
) -> Result<(), AdminError> {
    let user = find_user_by_id(db, id).await?;
    sign_out_user(db, &user, actor, now).await
}

async fn sign_out_user(
    db: &dyn Database,
    user: &User,
    actor: &str,
    now: OffsetDateTime,
) -> Result<(), AdminError> {
    end_sessions_and_grants(db, user, now).await?;
    audit(
        db,
        actor,
        "user.signed_out",
        "user",
        &user.id.to_string(),
        now,
    )
    .await;
    Ok(())
}

/// Every browser session and token `user` holds ends now, on every instance, and their grants
/// are revoked with their refresh tokens: the cut-off is written first, so a failure after it
/// only ends access early.
async fn end_sessions_and_grants(
    db: &dyn Database,
    user: &User,
    now: OffsetDateTime,
) -> Result<(), AdminError> {
    cut_off(db, ChangeKind::User, &user.id.to_string(), now).await?;
    revoke_live_grants(db, user, now).await
}

/// Revokes every live grant of `user` with its refresh tokens.
pub(super) async fn revoke_live_grants(
    db: &dyn Database,
    user: &User,
    now: OffsetDateTime,
) -> Result<(), AdminError> {
    for grant in db.list_grants(user.id).await? {
        if grant.revoked_at.is_none() {
            db.revoke_grant(grant.id, now).await?;
        }
    }
    Ok(())
}

/// Checks a creation request as a whole and builds the user it describes (without a hash).
pub fn validate_new_user(
    request: NewUser,
    password: Option<&Password>,
    now: OffsetDateTime,
) -> Result<User, AdminError> {
    let now = now.replace_nanosecond(0).unwrap_or(now);
    let mut problems = Problems::default();
    let username = problems.check("username", Username::parse(&request.username));
    let email = match request.email.as_deref() {
        Some(email) => problems.check("email", Email::parse(email)),
        None => None,
    };
    if request.email_verified && request.email.is_none() {
        problems.add("email_verified", "only an email address can be verified");
    }
    let display_name = request.display_name.map(|n| n.trim().to_owned());
    if display_name
        .as_ref()
        .is_some_and(|n| n.is_empty() || n.chars().count() > 200 || n.chars().any(char::is_control))
    {
        problems.add(
            "display_name",
            "a display name has 1 to 200 printable characters",
        );
    }
    for name in request.claims.keys() {
        if RESERVED_CLAIMS.contains(&name.as_str()) {
            problems.add(format!("claims.{name}"), "is set by Gatehouse itself");
        } else if name.is_empty()
            || name.len() > 64
            || name.chars().any(|c| c.is_control() || c.is_whitespace())
        {
            problems.add("claims", "a claim name has 1 to 64 characters, no spaces");
        }
    }
    if serde_json::to_vec(&request.claims).map_or(true, |bytes| bytes.len() > 16 * 1024) {
        problems.add("claims", "the claims take at most 16 KiB");
    }
    if let Some(password) = password {
        problems.check(
            "password",
            password.check_policy(Some(request.username.trim())),
        );
    }
    problems.into_result()?;
    let username = username.ok_or_else(|| AdminError::Internal("username vanished".into()))?;
    Ok(User {
        id: Uuid::new_v4(),
        username,
        email,
        email_verified: request.email_verified,
        display_name,
        password_hash: None,
        claims: request.claims,
        disabled: false,
        roles: crate::domain::Roles::default(),
        version: 1,
        created_at: now,
        updated_at: now,
    })
}

#[cfg(test)]
mod tests;
