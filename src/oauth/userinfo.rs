//! The UserInfo endpoint (OIDC Core §5.3) with bearer tokens (RFC 6750): claims about the
//! signed-in user, as far as the token's scopes release them.

use serde_json::{Value, json};
use time::OffsetDateTime;
use uuid::Uuid;

use super::id_token::user_claims;
use super::tokens::{AccessTokenClaims, TokenRejection, ensure_not_revoked, verify_access_token};
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
            return Err(OAuthError::from_backend(error));
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
    let user_id =
        user_behind(&claims).ok_or_else(|| invalid_token("the access token names no user"))?;
    // From the in-process cache: a disabled user's tokens are already refused by the cut-off
    // written before the change (src/current), and the cached copy is dropped by the feed.
    let user = match state
        .current
        .users
        .get(state.db.as_ref(), &state.metrics, user_id)
        .await
    {
        Ok(user) if !user.disabled => user,
        Ok(_) | Err(StoreError::NotFound) => {
            return Err(invalid_token("the user no longer exists"));
        }
        Err(other) => return Err(OAuthError::from_backend(other)),
    };
    let mut body = user_claims(&user, &scopes);
    body.insert("sub".into(), json!(user.id.to_string()));
    Ok(Value::Object(body))
}

/// The user a token speaks for, if any. Only a user's token carries the grant it was issued
/// under (`gid`); a token a client obtained for itself (RFC 6749 §4.4) carries none, whatever
/// its `sub` looks like, so a client's token never reads a user's claims (RFC 9068 §5: the
/// two kinds of subject must not be confusable).
fn user_behind(claims: &AccessTokenClaims) -> Option<Uuid> {
    claims.gid.as_ref()?;
    if claims.sub == claims.client_id {
        return None;
    }
    Uuid::parse_str(&claims.sub).ok()
}

#[cfg(test)]
mod tests {
    use serde_json::Map;

    use super::*;
    use crate::oauth::tokens::OneOrMany;

    fn claims(sub: &str, client_id: &str, gid: Option<&str>) -> AccessTokenClaims {
        AccessTokenClaims {
            iss: "https://issuer.example".into(),
            sub: sub.into(),
            aud: OneOrMany::One(client_id.into()),
            exp: 0,
            iat: 0,
            jti: "jti".into(),
            client_id: client_id.into(),
            scope: Some("openid".into()),
            gid: gid.map(str::to_owned),
            fid: None,
            extra: Map::new(),
        }
    }

    #[test]
    fn only_a_token_issued_under_a_grant_has_a_user_behind_it() {
        let user = Uuid::new_v4().to_string();
        let grant = Uuid::new_v4().to_string();

        assert_eq!(
            user_behind(&claims(&user, "web", Some(&grant))),
            Uuid::parse_str(&user).ok()
        );
        // a client's own token, even when its id reads as a user's
        assert_eq!(user_behind(&claims(&user, &user, None)), None);
        assert_eq!(user_behind(&claims(&user, "web", None)), None);
        assert_eq!(user_behind(&claims(&user, &user, Some(&grant))), None);
        assert_eq!(user_behind(&claims("web", "web", Some(&grant))), None);
    }
}
