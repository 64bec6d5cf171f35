//! Signing a person in, outside HTTP: the pages parse forms and render what a step decided.
//! The steps: the password ([`password`]), then a second factor ([`second_factor`]) when the
//! person has one or the request needs one; each ends in an [`Outcome`] the pages turn into a
//! response. [`methods`] records how the person signed in (RFC 8176), for `amr` and `acr`.

pub mod enrol;
pub mod methods;
pub mod password;
pub mod recovery;
pub mod second_factor;
pub mod totp;

use std::time::Duration;

use uuid::Uuid;

use self::methods::Methods;
use crate::domain::User;
use crate::ephemeral::EphemeralError;
use crate::oauth::BackendFailure;
use crate::oauth::interaction::{Session, create_session};
use crate::state::AppState;
use crate::telemetry::SignIn;

/// A person signed in by a step.
#[derive(Debug)]
pub struct SignedIn {
    pub user: User,
    pub session: Session,
    /// The session cookie's value (only its digest is stored).
    pub session_id: String,
    /// Signed in with a recovery code: how many are left, for the person to be told.
    pub recovery_codes_left: Option<u32>,
    /// Set up a second factor during this sign-in: its recovery codes, to be shown once.
    pub new_recovery_codes: Vec<recovery::RecoveryCode>,
}

/// How a sign-in step ended. Every refusal and every failure has been counted in the metrics
/// and logged with its cause (never with the password or code) by the time the caller sees it.
#[derive(Debug)]
pub enum Outcome {
    /// Signed in: the session exists and the interaction carries it.
    SignedIn(Box<SignedIn>),
    /// The password holds; the person's second factor is asked next (the interaction waits on
    /// them).
    SecondFactor,
    /// The authorization needs a second factor the person has not set up: they set one up now
    /// (an authenticator app), confirming it with its first code on the second-factor form.
    EnrolSecondFactor(Box<enrol::TotpEnrolment>),
    /// The authorization needs a second factor and none can be set up for this person.
    NoSecondFactor,
    /// Wrong name, password or code (one answer for a wrong name or password, in one time).
    WrongCredentials,
    /// Too many failures lately; tried again after `retry_after`.
    Throttled { retry_after: Duration },
    /// A backend (database, ephemeral store) or the password bulkhead could not answer: try
    /// again shortly.
    Unavailable,
    /// A defect: the check itself failed.
    Failed,
}

/// A new session for `user_id`, signed in now with `methods`; its cookie value.
async fn start_session(
    state: &AppState,
    user_id: Uuid,
    methods: Methods,
) -> Result<(Session, String), EphemeralError> {
    let session = Session {
        user_id,
        auth_time: state.clock.now().unix_timestamp(),
        methods,
    };
    let lifetime = Duration::from_secs(state.settings.sessions.lifetime_secs);
    let session_id = create_session(state.ephemeral.as_ref(), session, lifetime).await?;
    Ok((session, session_id))
}

/// A backend could not answer during `doing`: logged with its cause and counted; unavailable
/// (503, retry) when the backend is down or slow, a failure (500) otherwise.
fn backend_failed(
    state: &AppState,
    doing: &'static str,
    error: &(impl BackendFailure + std::fmt::Display),
) -> Outcome {
    state.metrics.sign_in(SignIn::Unavailable);
    if error.is_unavailable() {
        tracing::warn!(%error, doing, "sign-in unavailable: a backend did not answer");
        Outcome::Unavailable
    } else {
        tracing::error!(%error, doing, "sign-in failed: a backend refused");
        Outcome::Failed
    }
}
