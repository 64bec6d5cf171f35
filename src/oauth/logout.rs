//! RP-Initiated Logout 1.0: the client sends the browser here to end the session, optionally
//! naming where to go afterwards; that place must be registered for the client (§3), which is
//! known from `id_token_hint` or `client_id`.

use serde::Deserialize;

use super::redirect_uri::find_registered;
use super::tokens::verify_signed_by_us;
use super::{FormRequest, OAuthError};
use crate::domain::{Client, ClientId};
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
            let claims: HintClaims =
                verify_signed_by_us(&state.keys, token).map_err(|_| not_ours())?;
            if claims.iss != state.issuer.as_str() {
                return Err(OAuthError::invalid_request(
                    "id_token_hint was issued by another issuer",
                ));
            }
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
        Err(other) => Err(OAuthError::server_error(other)),
    }
}
