//! Token introspection (RFC 7662). Only authenticated clients may ask; anything that is not a
//! live access token of this issuer is exactly `{"active": false}`.

use serde_json::{Value, json};
use time::OffsetDateTime;

use super::client_auth::authenticate_client;
use super::tokens::{TokenRejection, ensure_not_revoked, verify_access_token};
use super::{FormRequest, OAuthError};
use crate::domain::AuthMethod;
use crate::state::AppState;

pub async fn introspect(
    state: &AppState,
    form: &FormRequest,
    now: OffsetDateTime,
) -> Result<Value, OAuthError> {
    let client = authenticate_client(&state.client_auth(now), form).await?;
    if client.auth_method == AuthMethod::None {
        return Err(OAuthError::invalid_client(
            "introspection needs a client that authenticates",
        ));
    }
    let token = form.require("token")?;
    let inactive = json!({"active": false});
    let claims = match verify_access_token(&state.keys, state.issuer.as_str(), token, now) {
        Ok(claims) => claims,
        Err(rejection) => {
            tracing::debug!(%rejection, "introspected token is not active");
            return Ok(inactive);
        }
    };
    match ensure_not_revoked(state.ephemeral.as_ref(), &claims).await {
        Ok(()) => {}
        Err(TokenRejection::Unavailable(error)) => {
            return Err(OAuthError::temporarily_unavailable(error));
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
