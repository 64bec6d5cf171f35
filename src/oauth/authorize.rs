//! Validating an authorization request (RFC 6749 §4.1.1, RFC 7636 §4.3, OIDC Core §3.1.2.1).
//! Until the client and its redirect URI are verified, an error is shown on a page and never
//! sent anywhere (RFC 6749 §4.1.2.1); after that, it goes back to the client.

use serde::{Deserialize, Serialize};

use super::redirect_uri::find_registered;
use super::{ErrorCode, FormRequest, OAuthError, pkce};
use crate::domain::{Client, ClientId, GrantType, ScopeSet};
use crate::signin::methods::Acr;
use crate::store::{Database, StoreError};

/// A request that passed every check, kept while the user signs in and consents.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuthorizationRequest {
    pub client_id: String,
    /// Exactly as requested: the token request must repeat it byte for byte.
    pub redirect_uri: String,
    pub scope: ScopeSet,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: String,
    pub prompt: Prompt,
    pub max_age: Option<u64>,
    /// The authentication class `acr_values` asks for (OIDC Core §3.1.2.1), if one Gatehouse
    /// offers.
    #[serde(default)]
    pub acr: Option<Acr>,
}

/// OIDC Core §3.1.2.1 `prompt`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Prompt {
    pub none: bool,
    pub login: bool,
    pub consent: bool,
}

/// Where an authorization error goes.
#[derive(Debug)]
pub enum AuthorizeError {
    /// The client or redirect URI is not verified: render an error page, never redirect.
    Page(OAuthError),
    /// Send the error to the verified redirect URI with `state` and `iss`.
    Redirect {
        redirect_uri: String,
        state: Option<String>,
        error: OAuthError,
    },
}

/// Longest `state` or `nonce` accepted; they travel back in URLs and tokens.
const MAX_OPAQUE_LEN: usize = 512;

pub async fn validate(
    db: &dyn Database,
    params: &FormRequest,
) -> Result<(Client, AuthorizationRequest), AuthorizeError> {
    let page = |e| AuthorizeError::Page(e);
    let client_id = params
        .get("client_id")
        .ok_or_else(|| page(OAuthError::invalid_request("client_id is missing")))?;
    let unknown = || page(OAuthError::invalid_request("unknown client_id"));
    let id = ClientId::parse(client_id).map_err(|_| unknown())?;
    let client = match db.find_client(&id).await {
        // A disabled client may sign no one in; it reads as unknown, so nothing is redirected.
        Ok(client) if !client.disabled => client,
        Ok(_) | Err(StoreError::NotFound) => return Err(unknown()),
        Err(other) => return Err(page(OAuthError::from_backend(other))),
    };
    let requested_uri = params
        .get("redirect_uri")
        .ok_or_else(|| page(OAuthError::invalid_request("redirect_uri is missing")))?;
    if find_registered(&client.redirect_uris, requested_uri).is_none() {
        return Err(page(OAuthError::invalid_request(
            "redirect_uri is not registered for this client",
        )));
    }
    let state = params.get("state").map(str::to_owned);
    let redirect = |error| AuthorizeError::Redirect {
        redirect_uri: requested_uri.to_owned(),
        state: state.clone(),
        error,
    };
    let request = check(&client, params, requested_uri, state.clone()).map_err(redirect)?;
    Ok((client, request))
}

/// The checks made once errors can be redirected.
fn check(
    client: &Client,
    params: &FormRequest,
    redirect_uri: &str,
    state: Option<String>,
) -> Result<AuthorizationRequest, OAuthError> {
    // OIDC Core §3.1.2.6: Request Objects are not supported, by value or by reference;
    // discovery says so (`request_parameter_supported: false`, OIDC Discovery §3).
    if params.get("request").is_some() {
        return Err(OAuthError::new(
            ErrorCode::RequestNotSupported,
            Some("the request parameter is not supported".into()),
        ));
    }
    if params.get("request_uri").is_some() {
        return Err(OAuthError::new(
            ErrorCode::RequestUriNotSupported,
            Some("the request_uri parameter is not supported".into()),
        ));
    }
    match params.get("response_type") {
        Some("code") => {}
        Some(_) => {
            return Err(OAuthError::new(
                ErrorCode::UnsupportedResponseType,
                Some("only response_type=code is supported".into()),
            ));
        }
        None => return Err(OAuthError::invalid_request("response_type is missing")),
    }
    if params
        .get("response_mode")
        .is_some_and(|mode| mode != "query")
    {
        return Err(OAuthError::invalid_request(
            "only response_mode=query is supported",
        ));
    }
    if !client.allows_grant(GrantType::AuthorizationCode) {
        return Err(OAuthError::unauthorized_client(
            "this client may not use the authorization code grant",
        ));
    }
    let code_challenge = pkce::check_challenge(
        params.get("code_challenge"),
        params.get("code_challenge_method"),
    )
    .map_err(OAuthError::invalid_request)?;
    let scope = match params.get("scope") {
        Some(requested) => {
            ScopeSet::parse_delimited(requested).map_err(OAuthError::invalid_scope)?
        }
        None => ScopeSet::default(),
    };
    if !scope.is_subset(&client.scopes) {
        return Err(OAuthError::invalid_scope(
            "the requested scope exceeds what this client may have",
        ));
    }
    let nonce = params.get("nonce").map(str::to_owned);
    if state.as_ref().is_some_and(|s| s.len() > MAX_OPAQUE_LEN)
        || nonce.as_ref().is_some_and(|n| n.len() > MAX_OPAQUE_LEN)
    {
        return Err(OAuthError::invalid_request(
            "state and nonce have at most 512 characters",
        ));
    }
    let prompt = parse_prompt(params.get("prompt"))?;
    let max_age = params
        .get("max_age")
        .map(|v| {
            v.parse::<u64>()
                .map_err(|_| OAuthError::invalid_request("max_age must be a number of seconds"))
        })
        .transpose()?;
    let acr = params.get("acr_values").and_then(Acr::requested);
    Ok(AuthorizationRequest {
        client_id: client.id.to_string(),
        redirect_uri: redirect_uri.to_owned(),
        scope,
        state,
        nonce,
        code_challenge,
        prompt,
        max_age,
        acr,
    })
}

fn parse_prompt(value: Option<&str>) -> Result<Prompt, OAuthError> {
    let mut prompt = Prompt::default();
    for word in value
        .unwrap_or_default()
        .split(' ')
        .filter(|w| !w.is_empty())
    {
        match word {
            "none" => prompt.none = true,
            "login" => prompt.login = true,
            "consent" => prompt.consent = true,
            // select_account and create have nothing to choose from here
            _ => {}
        }
    }
    if prompt.none && (prompt.login || prompt.consent) {
        return Err(OAuthError::invalid_request(
            "prompt=none cannot be combined with other values",
        ));
    }
    Ok(prompt)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompt_none_stands_alone() {
        assert_eq!(
            parse_prompt(Some("login consent")).unwrap(),
            Prompt {
                none: false,
                login: true,
                consent: true
            }
        );
        assert!(parse_prompt(Some("none login")).is_err());
        assert_eq!(parse_prompt(None).unwrap(), Prompt::default());
    }
}
