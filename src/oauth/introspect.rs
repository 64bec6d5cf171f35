//! Token introspection (RFC 7662). Only authenticated clients may ask. A live access token of
//! this issuer is described to any of them; a live refresh token only to the client holding it
//! (§2.2 covers refresh tokens; RFC 7662 §4 lets the server choose whom it tells). Anything
//! else is exactly `{"active": false}`.

use serde_json::{Value, json};
use time::OffsetDateTime;

use super::client_auth::authenticate_client;
use super::grants::refresh_token::live_until;
use super::tokens::{TokenRejection, ensure_not_revoked, verify_access_token};
use super::{FormRequest, OAuthError};
use crate::crypto::sha256;
use crate::domain::{AuthMethod, Client};
use crate::state::AppState;
use crate::store::StoreError;

pub async fn introspect(
    state: &AppState,
    form: &FormRequest,
    from: std::net::IpAddr,
    now: OffsetDateTime,
) -> Result<Value, OAuthError> {
    let client = authenticate_client(&state.client_auth(now, from), form)
        .await
        .inspect_err(|error| state.count_client_auth_failure("introspect", error))?;
    if client.auth_method == AuthMethod::None {
        return Err(OAuthError::invalid_client(
            "introspection needs a client that authenticates",
        ));
    }
    let token = form.require("token")?;
    let inactive = json!({"active": false});
    let claims = match verify_access_token(state, token, now).await {
        Ok(claims) => claims,
        Err(rejection) => {
            tracing::debug!(%rejection, "introspected token is not an active access token");
            return describe_refresh_token(state, &client, token, now).await;
        }
    };
    match ensure_not_revoked(state, &claims).await {
        Ok(()) => {}
        Err(TokenRejection::Unavailable(error)) => {
            return Err(OAuthError::from_backend(error));
        }
        Err(_) => return Ok(inactive),
    }
    // RFC 7662 §2.2
    let mut response = serde_json::to_value(&claims).map_err(OAuthError::server_error)?;
    if let Value::Object(map) = &mut response {
        map.insert("active".into(), Value::Bool(true));
        map.insert("token_type".into(), Value::String("Bearer".into()));
    }
    Ok(response)
}

/// RFC 7662 §2.2 for a refresh token: active while it could still be exchanged (unused, not
/// revoked, within its idle and absolute lifetimes), and only to the client it was issued to.
async fn describe_refresh_token(
    state: &AppState,
    client: &Client,
    token: &str,
    now: OffsetDateTime,
) -> Result<Value, OAuthError> {
    let inactive = json!({"active": false});
    let record = match state.db.find_refresh_token(&sha256(token.as_bytes())).await {
        Ok(record) => record,
        Err(StoreError::NotFound) => return Ok(inactive),
        Err(other) => return Err(OAuthError::from_backend(other)),
    };
    let grant = match state.db.find_grant(record.grant_id).await {
        Ok(grant) => grant,
        Err(StoreError::NotFound) => return Ok(inactive),
        Err(other) => return Err(OAuthError::from_backend(other)),
    };
    let exp = live_until(&record, state.settings.tokens.refresh_token_idle_secs);
    if grant.client_id != client.id
        || grant.revoked_at.is_some()
        || record.revoked_at.is_some()
        || record.used_at.is_some()
        || now >= exp
    {
        return Ok(inactive);
    }
    let mut response = json!({
        "active": true,
        "token_type": "refresh_token",
        "client_id": client.id.as_str(),
        "sub": grant.user_id.to_string(),
        "iss": state.issuer.as_str(),
        "iat": record.created_at.unix_timestamp(),
        "exp": exp.unix_timestamp(),
    });
    if !record.scopes.is_empty() {
        response["scope"] = json!(record.scopes.to_delimited());
    }
    Ok(response)
}
