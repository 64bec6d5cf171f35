//! A person setting up their second factors: an authenticator app (RFC 6238), confirmed with
//! its first code, and the ten recovery codes that come with it, shown once and kept as
//! digests. The account page calls these; so does nothing else that a person does not drive.

use serde_json::json;
use uuid::Uuid;

use super::recovery::{self, RecoveryCode};
use super::totp::{self, ProvisioningError, TotpSecret};
use crate::crypto::SealError;
use crate::domain::User;
use crate::state::AppState;
use crate::store::{NewAuditEvent, StoreError, TOTP_FACTOR_CONFIRMED};

/// What the person needs to add the authenticator to their app.
pub struct TotpEnrolment {
    /// The secret in base32, for typing (RFC 4648, no padding).
    pub secret: String,
    /// The `otpauth://` URI the QR code carries.
    pub uri: String,
    /// The QR code, as SVG to inline in the page.
    pub qr_svg: String,
}

/// Without the secret, which is a credential.
impl std::fmt::Debug for TotpEnrolment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TotpEnrolment").finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EnrolError {
    /// The person already has a confirmed authenticator; removing it comes first.
    #[error("an authenticator is set up already")]
    AlreadyEnrolled,
    /// The code did not match the enrolment waiting for it (or none waits).
    #[error("the code does not match")]
    WrongCode,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("sealing the secret failed")]
    Seal(#[from] SealError),
    #[error(transparent)]
    Provisioning(#[from] ProvisioningError),
}

/// Starts (or restarts) setting up an authenticator for `user`: a new secret, sealed under the
/// key-encryption key and stored unconfirmed; it is no second factor until [`confirm_totp`].
pub async fn start_totp(state: &AppState, user: &User) -> Result<TotpEnrolment, EnrolError> {
    let secret = TotpSecret::generate();
    let sealed = secret.seal(&state.keys, user.id)?;
    match state
        .db
        .put_totp_factor(user.id, &sealed, state.clock.now())
        .await
    {
        Ok(()) => {}
        Err(StoreError::Conflict { constraint }) if constraint == TOTP_FACTOR_CONFIRMED => {
            return Err(EnrolError::AlreadyEnrolled);
        }
        Err(error) => return Err(error.into()),
    }
    let issuer = state
        .issuer
        .as_str()
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .replace(':', " ");
    let uri = totp::otpauth_uri(&secret, &issuer, user.username.as_str())?;
    let qr_svg = totp::qr_svg(&uri)?;
    Ok(TotpEnrolment {
        secret: secret.to_base32(),
        uri,
        qr_svg,
    })
}

/// Confirms the enrolment waiting for `user_id` with its first `code`; from then on sign-ins
/// ask for a code. Returns the person's new recovery codes, to be shown once.
pub async fn confirm_totp(
    state: &AppState,
    user_id: Uuid,
    code: &str,
) -> Result<Vec<RecoveryCode>, EnrolError> {
    let now = state.clock.now();
    let Some(factor) = state.db.find_totp_factor(user_id).await? else {
        return Err(EnrolError::WrongCode);
    };
    if factor.is_confirmed() {
        return Err(EnrolError::AlreadyEnrolled);
    }
    let secret = TotpSecret::open(&state.keys, user_id, &factor.sealed_secret)?;
    let Some(step) = totp::verify(&secret, code, now, factor.last_used_step) else {
        return Err(EnrolError::WrongCode);
    };
    if !state.db.confirm_totp_factor(user_id, step, now).await? {
        return Err(EnrolError::WrongCode);
    }
    audit(state, user_id, "totp_factor.confirmed", json!({})).await;
    regenerate_recovery_codes(state, user_id).await
}

/// Ten new recovery codes for `user_id`, replacing every earlier one; shown once, stored as
/// digests.
pub async fn regenerate_recovery_codes(
    state: &AppState,
    user_id: Uuid,
) -> Result<Vec<RecoveryCode>, EnrolError> {
    let codes = recovery::generate();
    let digests: Vec<[u8; 32]> = codes.iter().map(RecoveryCode::digest).collect();
    state
        .db
        .replace_recovery_codes(user_id, &digests, state.clock.now())
        .await?;
    audit(
        state,
        user_id,
        "recovery_codes.generated",
        json!({ "count": codes.len() }),
    )
    .await;
    Ok(codes)
}

/// Removes the person's authenticator, and their recovery codes unless a passkey remains as a
/// second factor; without one, sign-ins ask for the password alone again. Returns whether there
/// was an authenticator.
pub async fn remove_second_factors(state: &AppState, user_id: Uuid) -> Result<bool, EnrolError> {
    let had = state.db.delete_totp_factor(user_id).await?;
    if state.db.list_passkeys(user_id).await?.is_empty() {
        state.db.delete_recovery_codes(user_id).await?;
    }
    audit(state, user_id, "second_factors.removed", json!({})).await;
    Ok(had)
}

/// Records what the person did to their factors (the person is actor and target).
pub(super) async fn audit(
    state: &AppState,
    user_id: Uuid,
    action: &str,
    details: serde_json::Value,
) {
    let user_id = user_id.to_string();
    let event = NewAuditEvent::new(&user_id, action, "user", Some(&user_id), details);
    if let Err(error) = state.db.record_audit_event(&event, state.clock.now()).await {
        tracing::warn!(%error, action, "could not record a second-factor change");
    }
}
