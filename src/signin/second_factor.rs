//! The second-factor step: a code from the person's authenticator app (RFC 6238) or one of
//! their recovery codes, after the password or on top of a session that needs more (a step-up,
//! OIDC Core §3.1.2.1 `acr_values`). Failures are throttled per person and address like
//! passwords; a code is accepted once, recorded in the database so no instance accepts it again.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

use super::enrol::{self, EnrolError, audit};
use super::methods::{Method, Methods};
use super::recovery::RecoveryCode;
use super::totp::{self, TotpSecret};
use super::{Outcome, backend_failed, recovery, signed_in};
use crate::domain::User;
use crate::oauth::interaction::{Interaction, save_interaction};
use crate::oauth::throttle::Throttle;
use crate::state::AppState;
use crate::store::StoreError;
use crate::telemetry::SignIn;

/// Who owes a second factor in an interaction, and what they proved so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    pub user_id: Uuid,
    pub methods: Methods,
    /// The authenticator is being set up in this sign-in: the code confirms it.
    #[serde(default)]
    pub enrolling: bool,
}

/// The authorization needs a second factor `owed.user_id` has not set up (a client's
/// `require_mfa`, `acr_values`, or a factor an admin reset): an authenticator is started for them
/// and the interaction waits on its first code, which confirms it (as on the account page).
/// Whoever holds the password alone can do this, as in every provider that enrols at sign-in;
/// a person who already has a factor is never offered a new one here.
pub async fn enrolment_owed(
    state: &AppState,
    interaction_id: &str,
    interaction: &mut Interaction,
    user: &User,
    owed: Pending,
) -> Outcome {
    let enrolment = match enrol::start_totp(state, user).await {
        Ok(enrolment) => enrolment,
        Err(EnrolError::Store(error)) => {
            return backend_failed(state, "starting the authenticator", &error);
        }
        Err(error) => {
            tracing::info!(user_id = %user.id, %error, "sign-in refused: a second factor is required and none can be set up");
            state.metrics.sign_in(SignIn::WrongCredentials);
            return Outcome::NoSecondFactor;
        }
    };
    interaction.awaiting_second_factor = Some(owed);
    if let Err(error) =
        save_interaction(state.ephemeral.as_ref(), interaction_id, interaction).await
    {
        return backend_failed(state, "saving the interaction for the enrolment", &error);
    }
    tracing::info!(user_id = %user.id, "a second factor is required: the person sets one up now");
    Outcome::EnrolSecondFactor(Box::new(enrolment))
}

/// Whether `user_id` has a second factor to be asked for: a confirmed authenticator or a
/// passkey.
pub async fn has_second_factor(state: &AppState, user_id: Uuid) -> Result<bool, StoreError> {
    let totp = state
        .db
        .find_totp_factor(user_id)
        .await?
        .is_some_and(|factor| factor.is_confirmed());
    Ok(totp || !state.db.list_passkeys(user_id).await?.is_empty())
}

/// What the person typed on the second-factor form.
pub struct Attempt<'a> {
    pub code: &'a str,
    pub from: IpAddr,
}

/// How a code was accepted.
enum Accepted {
    Totp,
    /// The first code of an authenticator set up in this sign-in, with its recovery codes.
    Enrolled(Vec<RecoveryCode>),
    /// A recovery code, with how many are left unused.
    Recovery {
        left: u32,
    },
}

/// Checks `attempt` for the person the interaction waits on; signed in, a new session with the
/// second factor added replaces whatever session the browser had: a new cookie, as a session's
/// privileges never grow under an id an attacker may have planted (session fixation).
pub async fn sign_in(
    state: &AppState,
    interaction_id: &str,
    interaction: &mut Interaction,
    attempt: Attempt<'_>,
) -> Outcome {
    let Some(pending) = interaction.awaiting_second_factor else {
        tracing::info!("second factor refused: the interaction waits on no one");
        return Outcome::WrongCredentials;
    };
    let subject = pending.user_id.to_string();
    let throttle = Throttle::new(
        state.ephemeral.as_ref(),
        "second-factor",
        &subject,
        attempt.from,
        state.settings.sessions.sign_in_limits(),
    );
    match throttle.admit().await {
        Ok(None) => {}
        Ok(Some(refusal)) => {
            tracing::info!(
                reason = refusal.as_str(),
                "second factor refused: too many failures"
            );
            state.metrics.sign_in(SignIn::Throttled);
            return Outcome::Throttled {
                retry_after: throttle.retry_after(),
            };
        }
        Err(error) => return backend_failed(state, "counting the attempt", &error),
    }
    let checked = if pending.enrolling {
        confirm_enrolment(state, pending.user_id, attempt.code).await
    } else {
        check_code(state, pending.user_id, attempt.code).await
    };
    let accepted = match checked {
        Ok(Some(accepted)) => accepted,
        Ok(None) => {
            if let Err(error) = throttle.failed().await {
                return backend_failed(state, "counting the failed code", &error);
            }
            tracing::info!(user_id = %pending.user_id, "second factor refused: wrong or used code");
            state.metrics.sign_in(SignIn::WrongCredentials);
            return Outcome::WrongCredentials;
        }
        Err(Failure::Store(error)) => return backend_failed(state, "checking the code", &error),
        Err(Failure::Sealed) => {
            tracing::error!(user_id = %pending.user_id, "second factor failed: the stored secret does not open under the key-encryption key");
            state.metrics.sign_in(SignIn::Error);
            return Outcome::Failed;
        }
        Err(Failure::Other(error)) => {
            tracing::error!(user_id = %pending.user_id, %error, "second factor failed: the enrolment could not be confirmed");
            state.metrics.sign_in(SignIn::Error);
            return Outcome::Failed;
        }
    };
    if let Err(error) = throttle.succeeded().await {
        tracing::warn!(%error, "could not clear the failed second-factor count");
    }
    let mut new_recovery_codes = Vec::new();
    let recovery_codes_left = match accepted {
        Accepted::Totp => None,
        Accepted::Enrolled(codes) => {
            new_recovery_codes = codes;
            None
        }
        Accepted::Recovery { left } => {
            let details = json!({ "recovery_codes_left": left });
            audit(state, pending.user_id, "recovery_code.used", details).await;
            Some(left)
        }
    };
    let user = match state.db.find_user(pending.user_id).await {
        Ok(user) if !user.disabled => user,
        Ok(_) | Err(StoreError::NotFound) => {
            tracing::info!("second factor refused: the person was disabled or deleted meanwhile");
            state.metrics.sign_in(SignIn::WrongCredentials);
            return Outcome::WrongCredentials;
        }
        Err(error) => return backend_failed(state, "looking up the person", &error),
    };
    let methods = pending.methods.with(Method::Otp);
    signed_in(
        state,
        interaction_id,
        interaction,
        user,
        methods,
        recovery_codes_left,
        new_recovery_codes,
    )
    .await
}

enum Failure {
    Store(StoreError),
    /// The sealed secret did not open: a key-encryption key that changed, or a defect.
    Sealed,
    /// Confirming the enrolment failed otherwise (a defect: logged with its cause).
    Other(EnrolError),
}

impl From<StoreError> for Failure {
    fn from(error: StoreError) -> Self {
        Failure::Store(error)
    }
}

/// The first code of the authenticator started in this sign-in: it confirms it.
async fn confirm_enrolment(
    state: &AppState,
    user_id: Uuid,
    typed: &str,
) -> Result<Option<Accepted>, Failure> {
    match enrol::confirm_totp(state, user_id, typed).await {
        Ok(codes) => Ok(Some(Accepted::Enrolled(codes))),
        Err(EnrolError::WrongCode | EnrolError::AlreadyEnrolled) => Ok(None),
        Err(EnrolError::Store(error)) => Err(Failure::Store(error)),
        Err(EnrolError::Seal(_)) => Err(Failure::Sealed),
        Err(other) => Err(Failure::Other(other)),
    }
}

/// A TOTP code of the person's confirmed authenticator, used now, or else one of their unused
/// recovery codes, used now; `None` when neither.
async fn check_code(
    state: &AppState,
    user_id: Uuid,
    typed: &str,
) -> Result<Option<Accepted>, Failure> {
    let now = state.clock.now();
    if let Some(factor) = state.db.find_totp_factor(user_id).await?
        && factor.is_confirmed()
    {
        let secret = TotpSecret::open(&state.keys, user_id, &factor.sealed_secret)
            .map_err(|_| Failure::Sealed)?;
        if let Some(step) = totp::verify(&secret, typed, now, factor.last_used_step) {
            // Two instances given the same code at once: the database lets one through.
            return Ok(state
                .db
                .use_totp_step(user_id, step)
                .await?
                .then_some(Accepted::Totp));
        }
    }
    let left = state
        .db
        .use_recovery_code(user_id, &recovery::digest(typed), now)
        .await?;
    Ok(left.map(|left| Accepted::Recovery { left }))
}
