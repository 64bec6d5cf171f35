//! Managing the people who sign in.

use serde::Deserialize;
use serde_json::{Map, Value};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{AdminError, Problems, audit};
use crate::crypto::{Password, PasswordHasher};
use crate::domain::{Email, RESERVED_CLAIMS, User, Username};
use crate::store::{Database, StoreError};

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
    let mut user = validate_new_user(request, password.as_ref(), now)?;
    if let Some(password) = &password {
        user.password_hash = Some(hasher.hash(password).await?);
    }
    db.insert_user(&user).await.map_err(|error| match error {
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

pub async fn list_users(db: &dyn Database) -> Result<Vec<User>, AdminError> {
    Ok(db.list_users().await?)
}

/// Deletes a user with their grants and refresh tokens. Their id is never given out again.
pub async fn delete_user(
    db: &dyn Database,
    id_or_username: &str,
    actor: &str,
    now: OffsetDateTime,
) -> Result<User, AdminError> {
    let user = find_user(db, id_or_username).await?;
    for grant in db.list_grants(user.id).await? {
        db.revoke_grant(grant.id, now).await?;
    }
    db.delete_user(user.id).await?;
    audit(db, actor, "user.deleted", "user", &user.id.to_string(), now).await;
    Ok(user)
}

/// Sets a new password (an admin reset), checked against the password rules.
pub async fn set_password(
    db: &dyn Database,
    hasher: &PasswordHasher,
    id_or_username: &str,
    password: &Password,
    actor: &str,
    now: OffsetDateTime,
) -> Result<(), AdminError> {
    let user = find_user(db, id_or_username).await?;
    let mut problems = Problems::default();
    problems.check(
        "password",
        password.check_policy(Some(user.username.as_str())),
    );
    problems.into_result()?;
    let hash = hasher.hash(password).await?;
    db.set_password_hash(user.id, &hash, now).await?;
    audit(
        db,
        actor,
        "user.password_set",
        "user",
        &user.id.to_string(),
        now,
    )
    .await;
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
        version: 1,
        created_at: now,
        updated_at: now,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(result: Result<User, AdminError>) -> Vec<String> {
        match result {
            Err(AdminError::Invalid(errors)) => errors.into_iter().map(|e| e.field).collect(),
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn every_problem_of_a_request_is_reported_at_once() {
        let request = NewUser {
            username: " bad name".into(),
            email: Some("nope".into()),
            display_name: Some(" ".into()),
            claims: Map::from_iter([("sub".to_owned(), Value::from("x"))]),
            ..NewUser::default()
        };
        let password = Password::new("password".into());
        assert_eq!(
            fields(validate_new_user(
                request,
                Some(&password),
                OffsetDateTime::UNIX_EPOCH
            )),
            [
                "username",
                "email",
                "display_name",
                "claims.sub",
                "password"
            ]
        );
    }

    #[test]
    fn a_valid_request_becomes_a_user_with_a_lower_cased_name() {
        let request = NewUser {
            username: "Ann".into(),
            email: Some("ann@example.com".into()),
            email_verified: true,
            ..NewUser::default()
        };
        let user = validate_new_user(request, None, OffsetDateTime::UNIX_EPOCH).unwrap();
        assert_eq!(user.username.as_str(), "ann");
        assert!(user.email_verified);
        assert!(user.password_hash.is_none());
    }
}
