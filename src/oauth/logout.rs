//! RP-Initiated Logout 1.0: the client sends the browser here to end the session, optionally
//! naming where to go afterwards; that place must be registered for the client (§3), which is
//! known from `id_token_hint` or `client_id`. Without a hint naming the signed-in person, the
//! person is asked first (§2: the OP MUST ask), so no other site can sign anyone out.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::lifetime::{TokenKind, check_lifetime};
use super::redirect_uri::find_registered;
use super::tokens::verify_signed_by_us;
use super::{FormRequest, OAuthError};
use crate::crypto::{constant_time_eq, random_token, sha256_hex};
use crate::domain::{Client, ClientId};
use crate::ephemeral::{EphemeralError, EphemeralStore};
use crate::state::AppState;
use crate::store::StoreError;

/// A checked logout request.
#[derive(Debug)]
pub struct Logout {
    /// The user the `id_token_hint` names, when one was given and verified.
    pub hinted_user: Option<String>,
    /// Where to send the browser afterwards, `state` appended.
    pub redirect: Option<String>,
}

#[derive(Deserialize)]
struct HintClaims {
    iss: String,
    sub: String,
    aud: super::tokens::OneOrMany,
    iat: Option<i64>,
    exp: Option<i64>,
}

pub async fn validate_logout(state: &AppState, params: &FormRequest) -> Result<Logout, OAuthError> {
    let hint = match params.get("id_token_hint") {
        // §2: an expired hint is still a fine hint; the signature and issuer must hold.
        Some(token) => {
            let not_ours =
                || OAuthError::invalid_request("id_token_hint is not an ID token issued here");
            if !typed_as_id_token(token) {
                return Err(not_ours());
            }
            let now = state.clock.now();
            let (_, claims): (_, HintClaims) = verify_signed_by_us(&state.keys, token, now)
                .await
                .map_err(|_| not_ours())?;
            if claims.iss != state.issuer.as_str() {
                return Err(OAuthError::invalid_request(
                    "id_token_hint was issued by another issuer",
                ));
            }
            // Expired is fine (above), but never issued in the future or for longer than an
            // ID token lives: a hint forged with a leaked key is no hint.
            check_lifetime(
                TokenKind::Id,
                claims.iat,
                claims.exp,
                now.unix_timestamp(),
                state.settings.tokens.clock_leeway_secs,
            )
            .map_err(|_| not_ours())?;
            Some(claims)
        }
        None => None,
    };
    let hinted_client = hint.as_ref().and_then(|h| match &h.aud {
        super::tokens::OneOrMany::One(aud) => Some(aud.clone()),
        super::tokens::OneOrMany::Many(auds) => auds.first().cloned(),
    });
    let client_id = match (params.get("client_id"), hinted_client) {
        (Some(given), Some(hinted)) if given != hinted => {
            return Err(OAuthError::invalid_request(
                "client_id does not match id_token_hint",
            ));
        }
        (Some(given), _) => Some(given.to_owned()),
        (None, hinted) => hinted,
    };
    let redirect = match params.get("post_logout_redirect_uri") {
        Some(requested) => {
            let client = find_client(state, client_id.as_deref()).await?;
            if find_registered(&client.post_logout_redirect_uris, requested).is_none() {
                return Err(OAuthError::invalid_request(
                    "post_logout_redirect_uri is not registered for this client",
                ));
            }
            let mut url = url::Url::parse(requested).map_err(|_| {
                OAuthError::invalid_request("post_logout_redirect_uri is not a URL")
            })?;
            if let Some(state_value) = params.get("state") {
                url.query_pairs_mut().append_pair("state", state_value);
            }
            Some(url.to_string())
        }
        None => None,
    };
    Ok(Logout {
        hinted_user: hint.map(|h| h.sub),
        redirect,
    })
}

/// Our ID tokens are typed `JWT` (OIDC Core §2 allows no `typ` at all). The same keys sign
/// access tokens, typed `at+jwt` precisely so that one is never taken for the other
/// (RFC 9068 §4, RFC 8725 §3.11): an access token is no `id_token_hint`.
fn typed_as_id_token(token: &str) -> bool {
    jsonwebtoken::decode_header(token)
        .is_ok_and(|header| header.typ.is_none_or(|typ| typ.eq_ignore_ascii_case("JWT")))
}

async fn find_client(state: &AppState, id: Option<&str>) -> Result<Client, OAuthError> {
    let unknown = || OAuthError::invalid_request("post_logout_redirect_uri needs a known client");
    let id = ClientId::parse(id.ok_or_else(unknown)?).map_err(|_| unknown())?;
    match state.db.find_client(&id).await {
        Ok(client) => Ok(client),
        Err(StoreError::NotFound) => Err(unknown()),
        Err(other) => Err(OAuthError::from_backend(other)),
    }
}

/// How long a person has to answer the "sign out?" question.
const CONFIRMATION_LIFETIME: Duration = Duration::from_secs(600);

/// A logout waiting for the person's answer, bound to the session it would end.
#[derive(Debug, Serialize, Deserialize)]
pub struct PendingLogout {
    session_digest: String,
    pub redirect: Option<String>,
}

impl Logout {
    /// Whether the request may end `session_user`'s session without asking: only when the
    /// `id_token_hint` names that very person.
    pub fn needs_confirmation(&self, session_user: Uuid) -> bool {
        self.hinted_user.as_deref() != Some(session_user.to_string().as_str())
    }
}

fn pending_key(token: &str) -> String {
    format!("logout:{}", sha256_hex(token.as_bytes()))
}

/// Keeps the logout until the person answers; returns the token the confirmation form carries.
pub async fn await_confirmation(
    ephemeral: &dyn EphemeralStore,
    session_cookie: &str,
    redirect: Option<String>,
) -> Result<String, EphemeralError> {
    let token = random_token();
    let pending = PendingLogout {
        session_digest: sha256_hex(session_cookie.as_bytes()),
        redirect,
    };
    let value = serde_json::to_vec(&pending).map_err(|e| EphemeralError::Backend(e.into()))?;
    ephemeral
        .put(&pending_key(&token), &value, CONFIRMATION_LIFETIME)
        .await?;
    Ok(token)
}

/// The pending logout `token` stands for, consumed; `None` when unknown, already answered, or
/// posted by a browser that does not hold the session it was asked for.
pub async fn take_confirmation(
    ephemeral: &dyn EphemeralStore,
    token: &str,
    session_cookie: Option<&str>,
) -> Result<Option<PendingLogout>, EphemeralError> {
    let Some(value) = ephemeral.take(&pending_key(token)).await? else {
        return Ok(None);
    };
    let pending: PendingLogout =
        serde_json::from_slice(&value).map_err(|e| EphemeralError::Backend(e.into()))?;
    let same_session = session_cookie.is_some_and(|cookie| {
        constant_time_eq(
            sha256_hex(cookie.as_bytes()).as_bytes(),
            pending.session_digest.as_bytes(),
        )
    });
    Ok(same_session.then_some(pending))
}
