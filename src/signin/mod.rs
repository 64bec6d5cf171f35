//! Signing a person in, outside HTTP: the pages parse forms and render what a step decided.
//! Today one step, the password ([`password`]); second factors and passkeys join it as steps of
//! their own, each ending in an [`Outcome`] the pages turn into a response.

pub mod password;

use std::time::Duration;

use crate::domain::User;
use crate::oauth::interaction::Session;

/// A person signed in by a step.
#[derive(Debug)]
pub struct SignedIn {
    pub user: User,
    pub session: Session,
    /// The session cookie's value (only its digest is stored).
    pub session_id: String,
}

/// How a sign-in step ended. Every refusal and every failure has been counted in the metrics
/// and logged with its cause (never with the password) by the time the caller sees it.
#[derive(Debug)]
pub enum Outcome {
    /// Signed in: the session exists and the interaction carries it.
    SignedIn(Box<SignedIn>),
    /// Wrong name or wrong password (one answer for both, in one time).
    WrongCredentials,
    /// Too many failures lately; tried again after `retry_after`.
    Throttled { retry_after: Duration },
    /// A backend (database, ephemeral store) or the password bulkhead could not answer: try
    /// again shortly.
    Unavailable,
    /// A defect: the check itself failed.
    Failed,
}
