//! Passwords: an admin's reset and a person's own change. Either way the new password ends every
//! session and refresh token the old one opened.

use time::OffsetDateTime;

use super::{find_user, find_user_by_id, revoke_live_grants};
use crate::admin::{AdminError, Problems, audit, cut_off};
use crate::crypto::{Password, PasswordHasher, Verification};
use crate::domain::User;
use crate::store::{ChangeKind, Database};

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
    reset_password(db, hasher, &user, password, actor, now).await
}

/// `POST /v1/users/{id}/password`: as [`set_password`], by id only.
pub async fn set_password_by_id(
    db: &dyn Database,
    hasher: &PasswordHasher,
    id: &str,
    password: &Password,
    actor: &str,
    now: OffsetDateTime,
) -> Result<(), AdminError> {
    let user = find_user_by_id(db, id).await?;
    reset_password(db, hasher, &user, password, actor, now).await
}

/// A person changing their own password (the account page): the current one must match and
/// the new one meet the rules; then, as after a reset, every session and refresh token the old
/// one opened ends, this browser's included.
pub async fn change_own_password(
    db: &dyn Database,
    hasher: &PasswordHasher,
    user: &User,
    current: &Password,
    new: &Password,
    now: OffsetDateTime,
) -> Result<(), AdminError> {
    let verification = hasher
        .verify(current, user.password_hash.as_deref())
        .await?;
    if !matches!(verification, Verification::Valid { .. }) {
        let mut problems = Problems::default();
        problems.add("current_password", "does not match your current password");
        return problems.into_result();
    }
    // the form's field for the new password is `new_password`
    reset_password(db, hasher, user, new, &user.id.to_string(), now)
        .await
        .map_err(|error| match error {
            AdminError::Invalid(mut problems) => {
                for problem in &mut problems {
                    if problem.field == "password" {
                        "new_password".clone_into(&mut problem.field);
                    }
                }
                AdminError::Invalid(problems)
            }
            other => other,
        })
}

async fn reset_password(
    db: &dyn Database,
    hasher: &PasswordHasher,
    user: &User,
    password: &Password,
    actor: &str,
    now: OffsetDateTime,
) -> Result<(), AdminError> {
    let mut problems = Problems::default();
    problems.check(
        "password",
        password.check_policy(Some(user.username.as_str())),
    );
    problems.into_result()?;
    let hash = hasher.hash(password).await?;
    // A new password ends every session and refresh token the old one opened: whoever knew
    // it (or stole what it gave) must sign in again.
    cut_off(db, ChangeKind::User, &user.id.to_string(), now).await?;
    db.set_password_hash(user.id, &hash, now).await?;
    revoke_live_grants(db, user, now).await?;
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
