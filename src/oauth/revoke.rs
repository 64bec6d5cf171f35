//! Token revocation (RFC 7009). A revoked access token's `jti` is kept in the ephemeral store
//! until the token's `exp`, so every instance sharing it sees the revocation.

use time::OffsetDateTime;

use super::client_auth::authenticate_client;
use super::tokens::{revoke_access_token, verify_access_token};
use super::{FormRequest, OAuthError};
use crate::state::AppState;

/// Hints this server understands (RFC 7009 §2.1); an unknown hint is ignored, as the RFC asks
/// the server to search further rather than fail.
const ACCESS_TOKEN_HINT: &str = "access_token";

pub async fn revoke(
    state: &AppState,
    form: &FormRequest,
    now: OffsetDateTime,
) -> Result<(), OAuthError> {
    let client = authenticate_client(&state.client_auth(now), form).await?;
    let token = form.require("token")?;
    let _hint = form
        .get("token_type_hint")
        .filter(|h| *h == ACCESS_TOKEN_HINT);
    // §2.2: an invalid, expired or unknown token is not an error; there is nothing to revoke.
    let Ok(claims) = verify_access_token(&state.keys, state.issuer.as_str(), token, now) else {
        return Ok(());
    };
    if claims.client_id != client.id.as_str() {
        return Err(OAuthError::unauthorized_client(
            "a client may revoke only the tokens issued to it",
        ));
    }
    revoke_access_token(state.ephemeral.as_ref(), &claims, now)
        .await
        .map_err(OAuthError::temporarily_unavailable)?;
    tracing::info!(client_id = %client.id, "access token revoked");
    Ok(())
}
