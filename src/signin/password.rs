//! The password step: the failed-sign-in throttle, the person, argon2 (with a rehash when the
//! parameters moved), then either the session it starts, attached to the interaction it
//! answers, or the second factor the person owes first.

use std::net::IpAddr;

use super::methods::{Acr, Methods};
use super::second_factor::{Pending, enrolment_owed, has_second_factor};
use super::{Outcome, backend_failed, signed_in};
use crate::crypto::{Password, PasswordError, Verification};
use crate::domain::{User, Username};
use crate::oauth::interaction::{Interaction, save_interaction};
use crate::oauth::throttle::Throttle;
use crate::state::AppState;
use crate::store::StoreError;
use crate::telemetry::SignIn;

/// What the person typed on the sign-in form.
pub struct Attempt<'a> {
    pub username: &'a str,
    pub password: &'a Password,
    /// The client address (behind trusted proxies, the one they name).
    pub from: IpAddr,
    /// What the authorization needs (`oauth::interaction::required_acr`): with more than a
    /// password, a person without a second factor cannot sign in to it.
    pub required: Acr,
}

/// Checks `attempt`; signed in, the session is created and saved into `interaction` (stored
/// under `interaction_id`), so the authorization can go on.
pub async fn sign_in(
    state: &AppState,
    interaction_id: &str,
    interaction: &mut Interaction,
    attempt: Attempt<'_>,
) -> Outcome {
    let metrics = &state.metrics;
    let throttle = Throttle::new(
        state.ephemeral.as_ref(),
        "sign-in",
        attempt.username,
        attempt.from,
        state.settings.sessions.sign_in_limits(),
    );
    match throttle.admit().await {
        Ok(None) => {}
        Ok(Some(refusal)) => {
            tracing::info!(
                reason = refusal.as_str(),
                "sign-in refused: too many failures"
            );
            metrics.sign_in(SignIn::Throttled);
            return Outcome::Throttled {
                retry_after: throttle.retry_after(),
            };
        }
        Err(error) => return backend_failed(state, "counting the attempt", &error),
    }
    let user = match find_user(state, attempt.username).await {
        Ok(user) => user,
        Err(error) => return backend_failed(state, "looking up the person", &error),
    };
    let stored = user.as_ref().and_then(|u| u.password_hash.as_deref());
    let verification = match state.passwords.verify(attempt.password, stored).await {
        Ok(verification) => verification,
        Err(PasswordError::Busy) => {
            tracing::info!("sign-in refused: every argon2 slot stayed busy for the queue timeout");
            metrics.sign_in(SignIn::Unavailable);
            return Outcome::Unavailable;
        }
        Err(error) => {
            tracing::error!(%error, "sign-in failed: the password check itself failed");
            metrics.sign_in(SignIn::Error);
            return Outcome::Failed;
        }
    };
    let (Verification::Valid { needs_rehash }, Some(user)) = (verification, user) else {
        if let Err(error) = throttle.failed().await {
            return backend_failed(state, "counting the failed sign-in", &error);
        }
        tracing::info!("sign-in refused: wrong username or password");
        metrics.sign_in(SignIn::WrongCredentials);
        return Outcome::WrongCredentials;
    };
    if let Err(error) = throttle.succeeded().await {
        tracing::warn!(%error, "could not clear the failed sign-in count");
    }
    if needs_rehash {
        upgrade_hash(state, &user, attempt.password).await;
    }
    match has_second_factor(state, user.id).await {
        Ok(true) => {
            interaction.awaiting_second_factor = Some(Pending {
                user_id: user.id,
                methods: Methods::password(),
                enrolling: false,
            });
            if let Err(error) =
                save_interaction(state.ephemeral.as_ref(), interaction_id, interaction).await
            {
                return backend_failed(
                    state,
                    "saving the interaction for the second factor",
                    &error,
                );
            }
            tracing::info!(user_id = %user.id, "password accepted; the second factor is next");
            return Outcome::SecondFactor;
        }
        Ok(false) if attempt.required >= Acr::MultiFactor => {
            let owed = Pending {
                user_id: user.id,
                methods: Methods::password(),
                enrolling: true,
            };
            return enrolment_owed(state, interaction_id, interaction, &user, owed).await;
        }
        Ok(false) => {}
        Err(error) => return backend_failed(state, "looking up the second factor", &error),
    }
    signed_in(
        state,
        interaction_id,
        interaction,
        user,
        Methods::password(),
        None,
        Vec::new(),
    )
    .await
}

/// The enabled person of that name, if any (a name that cannot be a username is nobody).
async fn find_user(state: &AppState, typed: &str) -> Result<Option<User>, StoreError> {
    let Ok(username) = Username::parse(typed) else {
        return Ok(None);
    };
    match state.db.find_user_by_username(&username).await {
        Ok(user) => Ok(Some(user).filter(|user| !user.disabled)),
        Err(StoreError::NotFound) => Ok(None),
        Err(error) => Err(error),
    }
}

/// Stores a hash with today's parameters; a failure only leaves the old one in place.
async fn upgrade_hash(state: &AppState, user: &User, password: &Password) {
    match state.passwords.hash(password).await {
        Ok(hash) => {
            if let Err(error) = state
                .db
                .upgrade_password_hash(
                    user.id,
                    user.password_hash.as_deref().unwrap_or_default(),
                    hash.as_str(),
                    state.clock.now(),
                )
                .await
            {
                tracing::warn!(%error, "could not upgrade a password hash");
            }
        }
        Err(error) => tracing::warn!(%error, "could not rehash a password"),
    }
}
