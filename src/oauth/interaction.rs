//! The browser side of an authorization: sessions, the pending interaction while a person signs
//! in and consents, and the decision of what comes next (OIDC Core §3.1.2.3, §3.1.2.4).

use std::net::IpAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use url::Url;
use uuid::Uuid;

use super::authorize::AuthorizationRequest;
use super::codes::{CodeGrant, issue_code};
use super::{ErrorCode, OAuthError};
use crate::crypto::{constant_time_eq, random_token, sha256_hex};
use crate::domain::Client;
use crate::ephemeral::{EphemeralError, EphemeralStore};
use crate::signin::methods::{Acr, Methods};
use crate::signin::second_factor::Pending;
use crate::store::Grant;

/// How long a person has to sign in and consent.
pub const INTERACTION_LIFETIME: Duration = Duration::from_secs(600);

/// A signed-in browser: who, since when (OIDC `auth_time`) and how (RFC 8176 `amr`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub user_id: Uuid,
    pub auth_time: i64,
    /// A session written before methods were recorded was signed in with a password.
    #[serde(default = "Methods::password")]
    pub methods: Methods,
}

impl Session {
    /// Whether the session still holds at `now`: it lasts `lifetime` from the sign-in. Checked
    /// here as well as by the store's TTL, which runs on the store's clock (Redis's).
    pub fn is_live(&self, now: OffsetDateTime, lifetime: Duration) -> bool {
        let lifetime = i64::try_from(lifetime.as_secs()).unwrap_or(i64::MAX);
        now.unix_timestamp().saturating_sub(self.auth_time) < lifetime
    }
}

/// An authorization waiting for the person. Bound to the browser that started it by a cookie
/// whose digest is kept here, so a form posted from another browser (login CSRF) is refused.
#[derive(Clone, Serialize, Deserialize)]
pub struct Interaction {
    pub request: AuthorizationRequest,
    pub csrf_token: String,
    browser_binding: String,
    /// Set once the person has signed in during this interaction.
    pub session: Option<Session>,
    /// Set while the person owes a second factor (after the password, or to step a session up).
    #[serde(default)]
    pub awaiting_second_factor: Option<Pending>,
    /// Unix seconds from which the interaction is over; saving it again does not move this.
    expires_at: i64,
}

/// Without the CSRF token: it is a credential of the browser's form.
impl std::fmt::Debug for Interaction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Interaction")
            .field("request", &self.request)
            .field("session", &self.session)
            .field("awaiting_second_factor", &self.awaiting_second_factor)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

impl Interaction {
    /// Whether a posted form comes from the browser that started this interaction.
    pub fn accepts(&self, binding_cookie: Option<&str>, csrf_token: Option<&str>) -> bool {
        let binding_ok = binding_cookie.is_some_and(|cookie| {
            constant_time_eq(
                sha256_hex(cookie.as_bytes()).as_bytes(),
                self.browser_binding.as_bytes(),
            )
        });
        let csrf_ok =
            csrf_token.is_some_and(|t| constant_time_eq(t.as_bytes(), self.csrf_token.as_bytes()));
        binding_ok && csrf_ok
    }

    /// Whether the person may still answer at `now`. Checked here as well as by the store's
    /// TTL, which runs on the store's clock (Redis's).
    pub fn is_live(&self, now: OffsetDateTime) -> bool {
        now.unix_timestamp() < self.expires_at
    }
}

fn interaction_key(id: &str) -> String {
    format!("interaction:{}", sha256_hex(id.as_bytes()))
}

fn session_key(id: &str) -> String {
    handle_key(&session_handle(id))
}

/// A session's name that is not its cookie: the SHA-256 of the cookie's value, as the ephemeral
/// store keys it. The account page lists sessions and ends them by it; it opens nothing.
pub fn session_handle(id: &str) -> String {
    sha256_hex(id.as_bytes())
}

fn handle_key(handle: &str) -> String {
    format!("session:{handle}")
}

fn backend(e: serde_json::Error) -> EphemeralError {
    EphemeralError::Backend(e.into())
}

fn pending_key(from: IpAddr) -> String {
    format!(
        "pending-interactions:{}",
        sha256_hex(from.to_string().as_bytes())
    )
}

/// Starts an interaction (with the session when the person is already signed in); returns its
/// id, the browser-binding cookie value and the interaction, or `None` when the address of
/// `pending` already has its maximum of interactions unfinished: each is kept for ten minutes
/// for anyone who asks, so one address must not be able to fill the store. Without `pending`
/// the new interaction takes over the count of the one it follows (consent after sign-in).
pub async fn start_interaction(
    ephemeral: &dyn EphemeralStore,
    request: AuthorizationRequest,
    session: Option<Session>,
    pending: Option<(IpAddr, u32)>,
    now: OffsetDateTime,
) -> Result<Option<(String, String, Interaction)>, EphemeralError> {
    if let Some((address, max_pending)) = pending {
        let count = ephemeral
            .increment(&pending_key(address), INTERACTION_LIFETIME)
            .await?;
        if count > u64::from(max_pending) {
            // refused: nothing is pending for it
            ephemeral.decrement(&pending_key(address)).await?;
            return Ok(None);
        }
    }
    let (id, binding) = (random_token(), random_token());
    let interaction = Interaction {
        request,
        csrf_token: random_token(),
        browser_binding: sha256_hex(binding.as_bytes()),
        session,
        awaiting_second_factor: None,
        expires_at: (now + INTERACTION_LIFETIME).unix_timestamp(),
    };
    save_interaction(ephemeral, &id, &interaction).await?;
    Ok(Some((id, binding, interaction)))
}

pub async fn save_interaction(
    ephemeral: &dyn EphemeralStore,
    id: &str,
    interaction: &Interaction,
) -> Result<(), EphemeralError> {
    let value = serde_json::to_vec(interaction).map_err(backend)?;
    ephemeral
        .put(&interaction_key(id), &value, INTERACTION_LIFETIME)
        .await
}

pub async fn load_interaction(
    ephemeral: &dyn EphemeralStore,
    id: &str,
) -> Result<Option<Interaction>, EphemeralError> {
    match ephemeral.get(&interaction_key(id)).await? {
        Some(value) => serde_json::from_slice(&value).map(Some).map_err(backend),
        None => Ok(None),
    }
}

/// Ends an interaction; `None` if it was already finished (a form posted twice). With
/// `release`, it no longer counts as pending for that address; without, its count passes to
/// the interaction that follows it.
pub async fn finish_interaction(
    ephemeral: &dyn EphemeralStore,
    id: &str,
    release: Option<IpAddr>,
) -> Result<Option<Interaction>, EphemeralError> {
    let Some(value) = ephemeral.take(&interaction_key(id)).await? else {
        return Ok(None);
    };
    if let Some(from) = release {
        ephemeral.decrement(&pending_key(from)).await?;
    }
    serde_json::from_slice(&value).map(Some).map_err(backend)
}

/// Creates a session; returns the cookie value (only its digest is stored).
pub async fn create_session(
    ephemeral: &dyn EphemeralStore,
    session: Session,
    lifetime: Duration,
) -> Result<String, EphemeralError> {
    let id = random_token();
    let value = serde_json::to_vec(&session).map_err(backend)?;
    ephemeral.put(&session_key(&id), &value, lifetime).await?;
    Ok(id)
}

pub async fn load_session(
    ephemeral: &dyn EphemeralStore,
    cookie: &str,
) -> Result<Option<Session>, EphemeralError> {
    load_session_by_handle(ephemeral, &session_handle(cookie)).await
}

pub async fn end_session(
    ephemeral: &dyn EphemeralStore,
    cookie: &str,
) -> Result<(), EphemeralError> {
    end_session_by_handle(ephemeral, &session_handle(cookie))
        .await
        .map(drop)
}

/// The session named by `handle` ([`session_handle`]), if it still exists.
pub async fn load_session_by_handle(
    ephemeral: &dyn EphemeralStore,
    handle: &str,
) -> Result<Option<Session>, EphemeralError> {
    match ephemeral.get(&handle_key(handle)).await? {
        Some(value) => serde_json::from_slice(&value).map(Some).map_err(backend),
        None => Ok(None),
    }
}

/// Ends the session named by `handle`; false if it was over already.
pub async fn end_session_by_handle(
    ephemeral: &dyn EphemeralStore,
    handle: &str,
) -> Result<bool, EphemeralError> {
    ephemeral.delete(&handle_key(handle)).await
}

/// What an authorization needs next from the person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    Login,
    /// Signed in, but with less than the request or the client requires: a second factor on
    /// top of the session (a step-up), not a new sign-in.
    SecondFactor,
    Consent,
    Issue,
}

/// The class of authentication an authorization needs: the client's floor (`require_mfa`)
/// or what the request asks for (`acr_values`), whichever is stronger.
pub fn required_acr(request: &AuthorizationRequest, client: &Client) -> Acr {
    let floor = if client.require_mfa {
        Acr::MultiFactor
    } else {
        Acr::Password
    };
    request.acr.map_or(floor, |asked| asked.max(floor))
}

/// OIDC Core §3.1.2.1: `prompt` and `max_age` decide whether the session may be used;
/// consent is asked unless the client is first-party or a live grant already covers the scopes.
pub fn next_step(
    request: &AuthorizationRequest,
    client: &Client,
    session: Option<&Session>,
    fresh_login: bool,
    grant: Option<&Grant>,
    now: OffsetDateTime,
) -> Result<Next, OAuthError> {
    let too_old = |s: &Session| {
        request
            .max_age
            .is_some_and(|max| now.unix_timestamp() - s.auth_time > max as i64)
    };
    let usable = session.filter(|s| fresh_login || (!request.prompt.login && !too_old(s)));
    let Some(usable) = usable else {
        if request.prompt.none {
            return Err(OAuthError::new(
                ErrorCode::LoginRequired,
                Some("the user is not signed in".into()),
            ));
        }
        return Ok(Next::Login);
    };
    if usable.methods.acr() < required_acr(request, client) {
        if request.prompt.none {
            return Err(OAuthError::new(
                ErrorCode::LoginRequired,
                Some("the request needs a second factor".into()),
            ));
        }
        return Ok(Next::SecondFactor);
    }
    let covered = grant.is_some_and(|g| request.scope.is_subset(&g.scopes));
    if client.first_party || (covered && !request.prompt.consent) {
        return Ok(Next::Issue);
    }
    if request.prompt.none {
        return Err(OAuthError::new(
            ErrorCode::ConsentRequired,
            Some("the user has not consented".into()),
        ));
    }
    Ok(Next::Consent)
}

/// Issues the code and builds the redirect to the client (RFC 6749 §4.1.2, RFC 9207 `iss`).
pub async fn issue_code_redirect(
    ephemeral: &dyn EphemeralStore,
    issuer: &str,
    request: &AuthorizationRequest,
    session: &Session,
    grant_id: Uuid,
    now: OffsetDateTime,
) -> Result<String, OAuthError> {
    let code_grant = CodeGrant {
        request: request.clone(),
        user_id: session.user_id,
        auth_time: session.auth_time,
        methods: session.methods,
        grant_id,
        family_id: Uuid::new_v4(),
    };
    let code = issue_code(ephemeral, &code_grant, now)
        .await
        .map_err(OAuthError::from_backend)?;
    Ok(redirect_with(
        &request.redirect_uri,
        &[
            ("code", Some(code.as_str())),
            ("state", request.state.as_deref()),
            ("iss", Some(issuer)),
        ],
    ))
}

/// The error redirect (RFC 6749 §4.1.2.1 with RFC 9207 `iss`).
pub fn error_redirect(
    redirect_uri: &str,
    state: Option<&str>,
    error: &OAuthError,
    issuer: &str,
) -> String {
    redirect_with(
        redirect_uri,
        &[
            ("error", Some(error.code.as_str())),
            ("error_description", error.public_description()),
            ("state", state),
            ("iss", Some(issuer)),
        ],
    )
}

/// Appends parameters to a registered redirect URI, keeping its own query (RFC 6749 §3.1.2).
fn redirect_with(redirect_uri: &str, params: &[(&str, Option<&str>)]) -> String {
    match Url::parse(redirect_uri) {
        Ok(mut url) => {
            {
                let mut query = url.query_pairs_mut();
                for (name, value) in params {
                    if let Some(value) = value {
                        query.append_pair(name, value);
                    }
                }
            }
            url.to_string()
        }
        Err(_) => redirect_uri.to_owned(),
    }
}
