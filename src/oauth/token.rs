//! The token endpoint (RFC 6749 §3.2): authenticate the client, then hand the request to the
//! handler of its grant type.

use serde::Serialize;
use time::OffsetDateTime;

use super::client_auth::authenticate_client;
use super::{FormRequest, OAuthError, grants};
use crate::domain::GrantType;
use crate::state::AppState;

/// RFC 6749 §5.1.
#[derive(Debug, Serialize)]
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

/// Order of checks: a malformed request, then the client, then the grant type.
pub async fn exchange(
    state: &AppState,
    form: &FormRequest,
    now: OffsetDateTime,
) -> Result<TokenResponse, OAuthError> {
    let grant_type = form.require("grant_type")?;
    let client = authenticate_client(&state.client_auth(now), form).await?;
    let grant = GrantType::parse(grant_type).map_err(|_| {
        OAuthError::unsupported_grant_type(format!("grant type `{grant_type}` is not supported"))
    })?;
    if !client.allows_grant(grant) {
        return Err(OAuthError::unauthorized_client(format!(
            "this client may not use the {grant} grant"
        )));
    }
    match grant {
        GrantType::ClientCredentials => {
            grants::client_credentials::exchange(state, &client, form, now).await
        }
        GrantType::AuthorizationCode => {
            grants::authorization_code::exchange(state, &client, form, now).await
        }
        GrantType::RefreshToken => grants::refresh_token::exchange(state, &client, form, now).await,
    }
}
