//! The token endpoint (RFC 6749 §3.2): authenticate the client, then hand the request to the
//! handler of its grant type.

use serde::Serialize;
use time::OffsetDateTime;

use super::client_auth::authenticate_client;
use super::{FormRequest, OAuthError, grants};
use crate::domain::GrantType;
use crate::state::AppState;

/// RFC 6749 §5.1. Its `Debug` shows no token.
#[derive(Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
}

impl std::fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenResponse")
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .field("scope", &self.scope)
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "[redacted]"),
            )
            .field("id_token", &self.id_token.as_ref().map(|_| "[redacted]"))
            .finish_non_exhaustive()
    }
}

/// Order of checks: a malformed request, then the client, then the grant type. Every answer
/// is counted: tokens by grant and client type, errors by code.
pub async fn exchange(
    state: &AppState,
    form: &FormRequest,
    from: std::net::IpAddr,
    now: OffsetDateTime,
) -> Result<TokenResponse, OAuthError> {
    let result = authenticate_and_exchange(state, form, from, now).await;
    if let Err(error) = &result {
        state.metrics.token_error(error.code.as_str());
    }
    result
}

async fn authenticate_and_exchange(
    state: &AppState,
    form: &FormRequest,
    from: std::net::IpAddr,
    now: OffsetDateTime,
) -> Result<TokenResponse, OAuthError> {
    let grant_type = form.require("grant_type")?;
    let client = authenticate_client(&state.client_auth(now, from), form)
        .await
        .inspect_err(|error| state.count_client_auth_failure("token", error))?;
    let grant = GrantType::parse(grant_type).map_err(|_| {
        // Never echo the caller's text (RFC 6749 §5.2 limits what a description may carry).
        OAuthError::unsupported_grant_type("this grant type is not supported")
    })?;
    if !client.allows_grant(grant) {
        return Err(OAuthError::unauthorized_client(format!(
            "this client may not use the {grant} grant"
        )));
    }
    let response = match grant {
        GrantType::ClientCredentials => {
            grants::client_credentials::exchange(state, &client, form, now).await
        }
        GrantType::AuthorizationCode => {
            grants::authorization_code::exchange(state, &client, form, now).await
        }
        GrantType::RefreshToken => grants::refresh_token::exchange(state, &client, form, now).await,
    }?;
    state
        .metrics
        .token_issued(grant.as_str(), client.client_type.as_str());
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_responses_debug_output_shows_no_token() {
        let response = TokenResponse {
            access_token: "access-secret".into(),
            token_type: "Bearer",
            expires_in: 900,
            scope: Some("openid".into()),
            refresh_token: Some("refresh-secret".into()),
            id_token: Some("id-secret".into()),
        };
        let printed = format!("{response:?}");
        assert!(!printed.contains("secret"), "{printed}");
        assert!(printed.contains("openid"));
    }
}
