//! A person's second factors as an admin sees them: what is set up (never the secret, never a
//! code), and the reset an admin does when the phone is lost or stolen. Setting factors up is
//! the person's own business (`signin::enrol`, from the account page).

use serde::Serialize;
use time::OffsetDateTime;

use super::end_sessions_and_grants;
use crate::admin::{AdminError, audit};
use crate::domain::User;
use crate::store::Database;

/// What second factors a person has: `GET /v1/users/{id}/factors`, `users factors USER`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Factors {
    /// The authenticator app (RFC 6238), or `None` if the person has not started setting one up.
    pub totp: Option<TotpStatus>,
    /// Recovery codes not used yet.
    pub recovery_codes_left: u32,
    /// The person's passkeys (WebAuthn), oldest first, without their keys.
    pub passkeys: Vec<PasskeyStatus>,
}

/// A passkey as an admin sees it: its name and dates, never its key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PasskeyStatus {
    pub id: uuid::Uuid,
    pub name: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_used_at: Option<OffsetDateTime>,
}

/// The state of a person's authenticator, without its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TotpStatus {
    /// False while the enrolment waits for its first code: until then sign-ins do not ask for
    /// one.
    pub confirmed: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub confirmed_at: Option<OffsetDateTime>,
}

/// The second factors `user` has.
pub async fn list_factors(db: &dyn Database, user: &User) -> Result<Factors, AdminError> {
    let totp = db
        .find_totp_factor(user.id)
        .await?
        .map(|factor| TotpStatus {
            confirmed: factor.is_confirmed(),
            created_at: factor.created_at,
            confirmed_at: factor.confirmed_at,
        });
    let recovery_codes_left = db.count_recovery_codes(user.id).await?;
    let passkeys = db
        .list_passkeys(user.id)
        .await?
        .into_iter()
        .map(|passkey| PasskeyStatus {
            id: passkey.id,
            name: passkey.name,
            created_at: passkey.created_at,
            last_used_at: passkey.last_used_at,
        })
        .collect();
    Ok(Factors {
        totp,
        recovery_codes_left,
        passkeys,
    })
}

/// Removes `user`'s authenticator (confirmed or not), every passkey and every recovery code, and signs them out
/// everywhere as [`super::sign_out`] does: the sessions and tokens that rest on the old factor
/// must end with it, or whoever holds the lost phone keeps what it opened. The sign-out happens
/// even when nothing was set up (an admin acting on a lost phone wants the person's access to
/// start over either way). Returns whether anything was removed.
pub async fn reset_factors(
    db: &dyn Database,
    user: &User,
    actor: &str,
    now: OffsetDateTime,
) -> Result<bool, AdminError> {
    // Sessions end before the factors go: if a delete fails midway, access ended early rather
    // than stayed standing.
    end_sessions_and_grants(db, user, now).await?;
    let had_totp = db.delete_totp_factor(user.id).await?;
    let passkeys = db.delete_passkeys(user.id).await?;
    let recovery_codes = db.delete_recovery_codes(user.id).await?;
    audit(
        db,
        actor,
        "user.factors_reset",
        "user",
        &user.id.to_string(),
        now,
    )
    .await;
    Ok(had_totp || passkeys > 0 || recovery_codes > 0)
}
