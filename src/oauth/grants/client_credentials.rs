//! RFC 6749 §4.4: a confidential client obtains a token for itself. No refresh token
//! (§4.4.3).

use time::OffsetDateTime;
use uuid::Uuid;

use crate::domain::{Audience, Client, ScopeSet};
use crate::oauth::token::TokenResponse;
use crate::oauth::tokens::{AccessTokenClaims, OneOrMany, issue_access_token, token_audience};
use crate::oauth::{FormRequest, OAuthError};
use crate::state::AppState;

pub async fn exchange(
    state: &AppState,
    client: &Client,
    form: &FormRequest,
    now: OffsetDateTime,
) -> Result<TokenResponse, OAuthError> {
    let scope = granted_scope(client, form.get("scope"))?;
    let audience = audience(
        state.issuer.as_str(),
        client,
        &scope,
        &form.get_all("resource"),
    )?;
    let lifetime = client
        .access_token_ttl_secs
        .unwrap_or(state.settings.tokens.access_token_ttl_secs);
    let claims = AccessTokenClaims {
        iss: state.issuer.to_string(),
        sub: client.id.to_string(),
        aud: audience,
        exp: now.unix_timestamp() + i64::from(lifetime),
        iat: now.unix_timestamp(),
        jti: Uuid::new_v4().to_string(),
        client_id: client.id.to_string(),
        scope: (!scope.is_empty()).then(|| scope.to_delimited()),
        gid: None,
        fid: None,
        extra: serde_json::Map::new(),
    };
    let access_token = issue_access_token(
        &state.keys,
        state.settings.tokens.access_token_algorithm,
        &claims,
    )?;
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in: u64::from(lifetime),
        scope: claims.scope,
        refresh_token: None,
        id_token: None,
    })
}

/// RFC 6749 §3.3: what was asked, if the client may have all of it; everything it may have when
/// it asked for nothing.
pub fn granted_scope(client: &Client, requested: Option<&str>) -> Result<ScopeSet, OAuthError> {
    let Some(requested) = requested else {
        return Ok(client.scopes.clone());
    };
    let requested = ScopeSet::parse_delimited(requested).map_err(OAuthError::invalid_scope)?;
    if !requested.is_subset(&client.scopes) {
        return Err(OAuthError::invalid_scope(
            "the requested scope exceeds what this client may have",
        ));
    }
    Ok(requested)
}

/// RFC 8707 §2: each `resource` must be an absolute URI the client may address; without one the
/// token is for the client's default audience (its first), or for the client itself, or for
/// the admin API when it carries an admin scope. The admin API is a resource of every client
/// holding an admin scope.
pub fn audience(
    issuer: &str,
    client: &Client,
    scope: &ScopeSet,
    resources: &[&str],
) -> Result<OneOrMany, OAuthError> {
    if resources.is_empty() {
        return Ok(token_audience(issuer, client, scope));
    }
    let admin_api = crate::admin::clients::admin_api_audience(issuer);
    let admin_allowed = crate::admin::clients::has_admin_scope(&client.scopes);
    let mut audiences = Vec::with_capacity(resources.len());
    for resource in resources {
        let resource = Audience::parse(resource).map_err(OAuthError::invalid_target)?;
        let is_admin_api = admin_allowed && resource.as_str() == admin_api;
        if !is_admin_api && !client.audiences.contains(&resource) {
            return Err(OAuthError::invalid_target(
                "this client may not obtain tokens for that resource",
            ));
        }
        if !audiences.contains(&resource.as_str().to_owned()) {
            audiences.push(resource.as_str().to_owned());
        }
    }
    Ok(OneOrMany::from_vec(audiences))
}
