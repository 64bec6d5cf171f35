//! Signing a person in, outside HTTP: the pages parse forms and render what a step decided.
//! The steps: the password ([`password`]), then a second factor ([`second_factor`], or a
//! passkey, [`passkey`]) when the person has one or the request needs one; or a passkey alone in
//! place of both. Each ends in an [`Outcome`] the pages turn into a response. [`methods`] records how the person signed in (RFC 8176), for `amr` and `acr`.

pub mod enrol;
pub mod methods;
pub mod passkey;
pub mod password;
pub mod recovery;
pub mod second_factor;
pub mod sessions;
pub mod totp;

use std::time::Duration;

use uuid::Uuid;

use self::methods::Methods;
use crate::domain::User;
use crate::ephemeral::EphemeralError;
use crate::oauth::BackendFailure;
use crate::oauth::interaction::{
    Interaction, Session, create_session, save_interaction, session_handle,
};
use crate::state::AppState;
use crate::store::NewAuditEvent;
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
    /// A passkey's answer not accepted (not the person's, not verified, its challenge answered
    /// already or expired): the same page again, to try once more or sign in another way.
    PasskeyRefused,
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

/// Ends a step that signed the person in: a new session for `user` with `methods`, saved into
/// the interaction (no longer waiting on a second factor), and counted. `recovery_codes_left`
/// and `new_recovery_codes` are what the pages tell the person on the way.
async fn signed_in(
    state: &AppState,
    interaction_id: &str,
    interaction: &mut Interaction,
    user: User,
    methods: Methods,
    recovery_codes_left: Option<u32>,
    new_recovery_codes: Vec<recovery::RecoveryCode>,
) -> Outcome {
    let (session, session_id) = match start_session(state, user.id, methods).await {
        Ok(started) => started,
        Err(error) => return backend_failed(state, "creating the session", &error),
    };
    interaction.awaiting_second_factor = None;
    interaction.session = Some(session);
    if let Err(error) =
        save_interaction(state.ephemeral.as_ref(), interaction_id, interaction).await
    {
        return backend_failed(state, "saving the signed-in interaction", &error);
    }
    state.metrics.sign_in(SignIn::Success);
    record_sign_in(
        state,
        &user,
        &session_id,
        &interaction.request.client_id,
        methods,
    )
    .await;
    Outcome::SignedIn(Box::new(SignedIn {
        user,
        session,
        session_id,
        recovery_codes_left,
        new_recovery_codes,
    }))
}

/// The action of the audit event a sign-in records (the account page's recent sign-ins).
pub const SIGN_IN_EVENT: &str = "session.started";

/// Records the sign-in for the person's account page and the audit trail: the session's handle
/// (never its cookie), the client it was for, how (`amr`) and, from the request, the address.
async fn record_sign_in(
    state: &AppState,
    user: &User,
    session_id: &str,
    client_id: &str,
    methods: Methods,
) {
    let user_id = user.id.to_string();
    let details = serde_json::json!({
        "session": session_handle(session_id),
        "client_id": client_id,
        "amr": methods.amr(),
    });
    let event = NewAuditEvent::new(&user_id, SIGN_IN_EVENT, "user", Some(&user_id), details);
    if let Err(error) = state.db.record_audit_event(&event, state.clock.now()).await {
        tracing::warn!(%error, "could not record a sign-in");
    }
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
