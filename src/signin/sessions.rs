//! A person's own sessions, for their account page: the recent sign-ins (each recorded by
//! [`super::signed_in`] as an audit event with the session's handle, never its cookie) and which
//! of them still hold, and ending one of them. A session holds while it exists in the ephemeral
//! store, is within `sessions.lifetime_secs` of its sign-in, and was not cut off since (sign-out
//! everywhere, a password change, a reset): the same test every page applies to a cookie.

use std::time::Duration;

use serde_json::json;
use time::OffsetDateTime;
use uuid::Uuid;

use super::SIGN_IN_EVENT;
use super::enrol::audit;
use crate::ephemeral::EphemeralError;
use crate::oauth::interaction::{end_session_by_handle, load_session_by_handle, session_handle};
use crate::state::AppState;
use crate::store::{AuditFilter, StoreError};

/// How many sign-ins the account page lists.
pub const RECENT_SIGN_INS: u32 = 10;

/// One recent sign-in of the person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecentSignIn {
    pub at: OffsetDateTime,
    /// The client it was for (`gatehouse-account` for the account page itself).
    pub client_id: String,
    /// How (RFC 8176 `amr`).
    pub amr: Vec<String>,
    /// The client address the sign-in came from.
    pub address: Option<String>,
    /// The session's handle, by which it is ended.
    pub handle: String,
    pub standing: Standing,
}

/// Whether a sign-in's session still holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// The session of the browser asking.
    ThisBrowser,
    /// Another browser's session, still signed in.
    Active,
    /// Signed out, ended, expired or cut off.
    Ended,
}

#[derive(Debug, thiserror::Error)]
pub enum SessionsError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Ephemeral(#[from] EphemeralError),
    #[error(transparent)]
    Current(#[from] crate::current::Unavailable),
}

/// The person's recent sign-ins, newest first, each with whether its session still holds;
/// `cookie` is the session of the browser asking.
pub async fn recent_sign_ins(
    state: &AppState,
    user_id: Uuid,
    cookie: &str,
) -> Result<Vec<RecentSignIn>, SessionsError> {
    let user = user_id.to_string();
    let sign_ins_of = AuditFilter {
        action: Some(SIGN_IN_EVENT.to_owned()),
        target_type: Some("user".to_owned()),
        target_id: Some(user),
        ..AuditFilter::default()
    };
    let events = state
        .db
        .list_audit_events(&sign_ins_of, None, RECENT_SIGN_INS)
        .await?;
    let this_browser = session_handle(cookie);
    let mut sign_ins = Vec::with_capacity(events.len());
    for event in events {
        let details = &event.event.details;
        let Some(handle) = details["session"].as_str().map(str::to_owned) else {
            continue;
        };
        let standing = if handle == this_browser {
            Standing::ThisBrowser
        } else if holds(state, user_id, &handle).await? {
            Standing::Active
        } else {
            Standing::Ended
        };
        let amr = details["amr"].as_array().into_iter().flatten();
        sign_ins.push(RecentSignIn {
            at: event.occurred_at,
            client_id: details["client_id"].as_str().unwrap_or_default().to_owned(),
            amr: amr.filter_map(|m| m.as_str().map(str::to_owned)).collect(),
            address: details["client_address"].as_str().map(str::to_owned),
            handle,
            standing,
        });
    }
    Ok(sign_ins)
}

/// Whether the session named `handle` is `user_id`'s and still holds.
async fn holds(state: &AppState, user_id: Uuid, handle: &str) -> Result<bool, SessionsError> {
    let Some(session) = load_session_by_handle(state.ephemeral.as_ref(), handle).await? else {
        return Ok(false);
    };
    let now = state.clock.now();
    let lifetime = Duration::from_secs(state.settings.sessions.lifetime_secs);
    if session.user_id != user_id || !session.is_live(now, lifetime) {
        return Ok(false);
    }
    let ended = state
        .current
        .session_ended(&user_id.to_string(), session.auth_time, now)
        .await?;
    Ok(!ended)
}

/// Ends the person's session named `handle` (signed out at once on every instance: the
/// session is gone from the ephemeral store); false if it is not theirs or was over already.
pub async fn end(state: &AppState, user_id: Uuid, handle: &str) -> Result<bool, SessionsError> {
    if !holds(state, user_id, handle).await? {
        return Ok(false);
    }
    let ended = end_session_by_handle(state.ephemeral.as_ref(), handle).await?;
    if ended {
        audit(
            state,
            user_id,
            "session.ended",
            json!({ "session": handle }),
        )
        .await;
    }
    Ok(ended)
}
