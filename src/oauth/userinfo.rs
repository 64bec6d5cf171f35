//! The UserInfo endpoint (OIDC Core §5.3) with bearer tokens (RFC 6750): claims about the
//! signed-in user, as far as the token's scopes release them.

use serde_json::{Value, json};
use time::OffsetDateTime;
use uuid::Uuid;

use super::id_token::user_claims;
use super::tokens::{TokenRejection, ensure_not_revoked, verify_access_token};
use super::{ErrorCode, OAuthError};
use crate::domain::ScopeSet;
use crate::state::AppState;
use crate::store::StoreError;

fn invalid_token(description: &'static str) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidToken, Some(description.into()))
}

pub async fn userinfo(
    state: &AppState,
    token: Option<&str>,
    now: OffsetDateTime,
) -> Result<Value, OAuthError> {
    let token = token.ok_or_else(|| invalid_token("an access token is required"))?;
    let claims = verify_access_token(state, token, now)
        .await
        .map_err(|_| invalid_token("the access token is invalid or expired"))?;
    match ensure_not_revoked(state, &claims).await {
        Ok(()) => {}
        Err(TokenRejection::Unavailable(error)) => {
            return Err(OAuthError::temporarily_unavailable(error));
        }
        Err(_) => return Err(invalid_token("the access token was revoked")),
    }
    let scopes = ScopeSet::parse_delimited(claims.scope.as_deref().unwrap_or_default())
        .map_err(|_| invalid_token("the access token is malformed"))?;
    if !scopes.contains("openid") {
        return Err(OAuthError::new(
            ErrorCode::InsufficientScope,
            Some("the access token does not carry the openid scope".into()),
        ));
    }
    // A token issued to a client for itself has no user behind it.
    let user_id = Uuid::parse_str(&claims.sub)
        .map_err(|_| invalid_token("the access token names no user"))?;
    let user = match state.db.find_user(user_id).await {
        Ok(user) if !user.disabled => user,
        Ok(_) | Err(StoreError::NotFound) => {
            return Err(invalid_token("the user no longer exists"));
        }
        Err(other) => return Err(OAuthError::server_error(other)),
    };
    let mut body = user_claims(&user, &scopes);
    body.insert("sub".into(), json!(user.id.to_string()));
    Ok(Value::Object(body))
}
