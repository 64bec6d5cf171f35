//! Token revocation (RFC 7009). A revoked access token's `jti` is kept in the ephemeral store
//! until the token's `exp`, so every instance sharing it sees the revocation.

use time::OffsetDateTime;

use super::client_auth::authenticate_client;
use super::grants::refresh_token::revoke_family;
use super::tokens::{revoke_access_token, verify_access_token};
use super::{FormRequest, OAuthError};
use crate::crypto::sha256;
use crate::domain::Client;
use crate::state::AppState;
use crate::store::StoreError;

/// Hints this server understands (RFC 7009 §2.1); an unknown hint is ignored, as the RFC asks
/// the server to search further rather than fail.
const ACCESS_TOKEN_HINT: &str = "access_token";

pub async fn revoke(
    state: &AppState,
    form: &FormRequest,
    from: std::net::IpAddr,
    now: OffsetDateTime,
) -> Result<(), OAuthError> {
    let client = authenticate_client(&state.client_auth(now, from), form)
        .await
        .inspect_err(|error| state.count_client_auth_failure("revoke", error))?;
    let token = form.require("token")?;
    let _hint = form
        .get("token_type_hint")
        .filter(|h| *h == ACCESS_TOKEN_HINT);
    // §2.2: an invalid, expired or unknown token is not an error; there is nothing to revoke.
    let Ok(claims) = verify_access_token(state, token, now).await else {
        return revoke_refresh_token(state, &client, token, now).await;
    };
    if claims.client_id != client.id.as_str() {
        return Err(OAuthError::unauthorized_client(
            "a client may revoke only the tokens issued to it",
        ));
    }
    revoke_access_token(state, &claims, now)
        .await
        .map_err(OAuthError::from_backend)?;
    tracing::info!(client_id = %client.id, "access token revoked");
    Ok(())
}

/// A refresh token ends its family: the refresh tokens rotated from the same authorization
/// code and the access tokens issued from them (RFC 7009 §2.1: "the authorization server SHOULD
/// also invalidate the access tokens based on the same authorization grant"); the consent stays.
async fn revoke_refresh_token(
    state: &AppState,
    client: &Client,
    token: &str,
    now: OffsetDateTime,
) -> Result<(), OAuthError> {
    let record = match state.db.find_refresh_token(&sha256(token.as_bytes())).await {
        Ok(record) => record,
        Err(StoreError::NotFound) => return Ok(()),
        Err(other) => return Err(OAuthError::from_backend(other)),
    };
    let grant = match state.db.find_grant(record.grant_id).await {
        Ok(grant) => grant,
        Err(StoreError::NotFound) => return Ok(()),
        Err(other) => return Err(OAuthError::from_backend(other)),
    };
    if grant.client_id != client.id {
        return Err(OAuthError::unauthorized_client(
            "a client may revoke only the tokens issued to it",
        ));
    }
    // The family is what one authorization code led to (RFC 6749 §1.3: the code is the
    // authorization grant): its refresh tokens and access tokens end. The person's consent
    // (the stored grant) stays, so a client that revokes its refresh token at logout does not
    // make the person consent again; revoking the grant itself is the admin API's and the
    // CLI's (`DELETE /v1/grants/{id}`).
    revoke_family(state, grant.id, record.family_id, now).await?;
    tracing::info!(
        client_id = %client.id,
        grant_id = %grant.id,
        family_id = %record.family_id,
        "refresh token revoked with its family"
    );
    Ok(())
}
