//! RFC 6749 §6 with rotation (RFC 9700 §4.14.2): every use replaces the refresh token, and a
//! refresh grants only what is allowed now: the user still exists and is enabled, the client
//! still holds the grant type (checked by the token endpoint), and the scopes are the token's
//! intersected with the client's current ones. A used token presented again revokes its whole
//! grant, except within a confidential client's grace window, where the client that lost the
//! response gets the same successor again (with a new access token) while it is still unused.

mod grace;

use std::time::Duration;

use time::OffsetDateTime;
use uuid::Uuid;

use self::grace::{grace_window, open_successor, seal_successor, successor_unused, within_grace};
use crate::crypto::{random_token, sha256};
use crate::domain::{Client, ScopeSet, User};
use crate::oauth::id_token::{IdTokenRequest, id_token_algorithm, issue_id_token};
use crate::oauth::token::TokenResponse;
use crate::oauth::tokens::{issue_user_access_token, revoke_issued_under};
use crate::oauth::{FormRequest, OAuthError};
use crate::signin::methods::Methods;
use crate::state::AppState;
use crate::store::{ChangeKind, Grant, RefreshTokenRecord, Rotation, StoreError};
use crate::telemetry::Reuse;

/// The one answer for every token that does not stand, so a caller learns nothing more.
fn invalid() -> OAuthError {
    OAuthError::invalid_grant("the refresh token is invalid, expired or revoked")
}

pub async fn exchange(
    state: &AppState,
    client: &Client,
    form: &FormRequest,
    now: OffsetDateTime,
) -> Result<TokenResponse, OAuthError> {
    let presented = form.require("refresh_token")?;
    let record = find_presented(state, presented).await?;
    let grant = find_grant_of(state, &record, client).await?;
    ensure_live(state, &record, &grant, now)?;
    let user = ensure_user_active(state, &grant).await?;
    ensure_family_stands(state, &record, now).await?;
    // RFC 9700 §4.14.2: any presentation of a used token is a reuse, whatever else it asks.
    let kept = match record.used_at {
        Some(used_at) => Some(reused(state, client, &record, presented, used_at, now).await?),
        None => None,
    };
    ensure_offline_access_allowed(client)?;
    // What the grant and the client allow now, and of the admin API's scopes what the person's
    // roles reach now (a role taken away since the sign-in is not renewed).
    let scope = user
        .roles
        .cut(&allowed_scope(client, &record.scopes, form.get("scope"))?);
    // The tokens are signed before the rotation, so that a signing failure leaves the presented
    // refresh token unused. The audience comes from the client as it is now
    // (`default_audience`), not from the grant.
    let (access_token, lifetime) = issue_user_access_token(
        state,
        client,
        &grant.user_id,
        &scope,
        grant.id,
        record.family_id,
        now,
    )?;
    let id_token = refreshed_id_token(state, client, &user, &record, &scope, &access_token, now)?;
    let refresh_token = match kept {
        Some(successor) => successor,
        None => rotate(state, client, &record, presented, now).await?,
    };
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in: lifetime,
        scope: (!scope.is_empty()).then(|| scope.to_delimited()),
        refresh_token: Some(refresh_token),
        id_token,
    })
}

/// Replaces `record` by a new token and returns it; the successor is kept in `record`'s row,
/// sealed, for the grace window.
async fn rotate(
    state: &AppState,
    client: &Client,
    record: &RefreshTokenRecord,
    presented: &str,
    now: OffsetDateTime,
) -> Result<String, OAuthError> {
    let successor = random_token();
    let sealed = seal_successor(state, client, presented, &successor);
    match state
        .db
        .rotate_refresh_token(
            record.id,
            sealed.as_deref(),
            &successor_record(record, &successor, now),
            now,
        )
        .await
        .map_err(OAuthError::from_backend)?
    {
        Rotation::Rotated => Ok(successor),
        // A concurrent request rotated (or revoked) the same token first: this one is its replay.
        Rotation::Lost => {
            let record = find_presented(state, presented).await?;
            match (record.used_at, record.revoked_at) {
                (Some(used_at), None) => {
                    reused(state, client, &record, presented, used_at, now).await
                }
                _ => Err(invalid()),
            }
        }
    }
}

/// The stored token with the presented value's digest.
async fn find_presented(
    state: &AppState,
    presented: &str,
) -> Result<RefreshTokenRecord, OAuthError> {
    match state
        .db
        .find_refresh_token(&sha256(presented.as_bytes()))
        .await
    {
        Ok(record) => Ok(record),
        Err(StoreError::NotFound) => Err(invalid()),
        Err(other) => Err(OAuthError::from_backend(other)),
    }
}

/// The grant `record` was issued under, if it belongs to the client presenting it
/// (RFC 6749 §6: "the refresh token was issued to the authenticated client").
async fn find_grant_of(
    state: &AppState,
    record: &RefreshTokenRecord,
    client: &Client,
) -> Result<Grant, OAuthError> {
    let grant = match state.db.find_grant(record.grant_id).await {
        Ok(grant) => grant,
        Err(StoreError::NotFound) => return Err(invalid()),
        Err(other) => return Err(OAuthError::from_backend(other)),
    };
    if grant.client_id != client.id {
        return Err(invalid());
    }
    Ok(grant)
}

/// Neither the token nor its grant revoked, and the token within its lifetimes.
fn ensure_live(
    state: &AppState,
    record: &RefreshTokenRecord,
    grant: &Grant,
    now: OffsetDateTime,
) -> Result<(), OAuthError> {
    if record.revoked_at.is_some() || grant.revoked_at.is_some() || now >= record.expires_at {
        return Err(invalid());
    }
    let idle = state.settings.tokens.refresh_token_idle_secs;
    if record.used_at.is_none() && now >= live_until(record, idle) {
        return Err(invalid());
    }
    Ok(())
}

/// The person behind the grant still exists and may sign in: a disabled or deleted user's
/// refresh tokens stop working at once (RFC 6749 §5.2 `invalid_grant`: the grant is no longer
/// valid). Deleting a user deletes their grants too, so a deleted user usually ends earlier, at
/// [`find_grant_of`].
async fn ensure_user_active(state: &AppState, grant: &Grant) -> Result<User, OAuthError> {
    match state.db.find_user(grant.user_id).await {
        Ok(user) if !user.disabled => Ok(user),
        Ok(_) | Err(StoreError::NotFound) => Err(invalid()),
        Err(other) => Err(OAuthError::from_backend(other)),
    }
}

/// OIDC Core §12.2: a refresh whose scope includes `openid` returns a new ID token with the
/// original `iss`, `sub`, `aud` and `auth_time`, and the `amr` and `acr` of that same
/// authentication (both kept on the refresh token), a new `iat`, and
/// no `nonce` (it belonged to the original authentication request); signed with the client's
/// `id_token_signed_response_alg`. Its claims are those the scope of this refresh releases.
fn refreshed_id_token(
    state: &AppState,
    client: &Client,
    user: &User,
    record: &RefreshTokenRecord,
    scope: &ScopeSet,
    access_token: &str,
    now: OffsetDateTime,
) -> Result<Option<String>, OAuthError> {
    if !scope.contains("openid") {
        return Ok(None);
    }
    let algorithm = id_token_algorithm(
        &state.keys,
        &state.settings.keys.algorithms,
        state.settings.tokens.id_token_algorithm,
        client,
    )?;
    issue_id_token(
        &state.keys,
        &IdTokenRequest {
            issuer: state.issuer.as_str(),
            client_id: client.id.as_str(),
            user,
            scopes: scope,
            nonce: None,
            auth_time: record.auth_time.unix_timestamp(),
            // Those of the original authentication, as `auth_time` is; unknown (and so left
            // out) for a family stored before they were kept
            methods: record.auth_methods,
            access_token,
            algorithm,
            now,
        },
    )
    .map(Some)
}

/// RFC 9700 §4.2.1: a replay of the family's code that raced the code's redemption revoked
/// the family; its sweep can miss a refresh token stored in the same moment, so the database's
/// record of the revocation is asked at every refresh.
async fn ensure_family_stands(
    state: &AppState,
    record: &RefreshTokenRecord,
    now: OffsetDateTime,
) -> Result<(), OAuthError> {
    let revoked = state
        .db
        .change_recorded(ChangeKind::Family, &record.family_id.to_string(), now)
        .await
        .map_err(OAuthError::from_backend)?;
    if revoked {
        return Err(invalid());
    }
    Ok(())
}

/// OIDC Core §11: `offline_access` is what lets a client hold refresh tokens; a client that
/// no longer holds it may not refresh any more.
fn ensure_offline_access_allowed(client: &Client) -> Result<(), OAuthError> {
    if client.scopes.contains("offline_access") {
        Ok(())
    } else {
        Err(OAuthError::invalid_grant(
            "this client may no longer hold offline access",
        ))
    }
}

/// The scope of the new access token: what was granted and the client may still have. RFC 6749
/// §6: a requested scope "MUST NOT include any scope not originally granted"; a scope removed
/// from the client since is refused the same way (`invalid_scope`), and without `scope` only
/// what is still allowed is issued (§3.3 lets the server issue less than was asked).
pub fn allowed_scope(
    client: &Client,
    granted: &ScopeSet,
    requested: Option<&str>,
) -> Result<ScopeSet, OAuthError> {
    let Some(requested) = requested else {
        return Ok(ScopeSet::from_scopes(
            granted
                .iter()
                .filter(|scope| client.scopes.contains(scope.as_str()))
                .cloned(),
        ));
    };
    let requested = ScopeSet::parse_delimited(requested).map_err(OAuthError::invalid_scope)?;
    if !requested.is_subset(granted) {
        return Err(OAuthError::invalid_scope(
            "the scope exceeds what was granted",
        ));
    }
    if !requested.is_subset(&client.scopes) {
        return Err(OAuthError::invalid_scope(
            "the scope includes one this client may no longer have",
        ));
    }
    Ok(requested)
}

/// The token that replaces `record`. It keeps the scope originally granted, not the narrower
/// one issued now: RFC 6749 §6 says the new refresh token's scope "MUST be identical to that of
/// the refresh token included by the client in the request", and nothing is lost by obeying,
/// because [`allowed_scope`] intersects with the client's scopes at every use, so a scope
/// removed from the client is never issued while it stays removed. Revoking the grant ends it
/// for good.
fn successor_record(
    record: &RefreshTokenRecord,
    successor: &str,
    now: OffsetDateTime,
) -> RefreshTokenRecord {
    RefreshTokenRecord {
        id: Uuid::now_v7(),
        digest: sha256(successor.as_bytes()),
        grant_id: record.grant_id,
        family_id: record.family_id,
        parent_id: Some(record.id),
        scopes: record.scopes.clone(),
        auth_time: record.auth_time,
        auth_methods: record.auth_methods,
        created_at: now,
        // the absolute lifetime runs from the first token of the family
        expires_at: record.expires_at,
        used_at: None,
        revoked_at: None,
        sealed_successor: None,
    }
}

/// When an unused refresh token stops working: at the end of its idle period or of its
/// family's absolute lifetime, whichever comes first.
pub fn live_until(record: &RefreshTokenRecord, idle_secs: u64) -> OffsetDateTime {
    time::Duration::try_from(Duration::from_secs(idle_secs))
        .ok()
        .and_then(|idle| record.created_at.checked_add(idle))
        .map_or(record.expires_at, |idle_end| {
            idle_end.min(record.expires_at)
        })
}

/// A used token again: its successor within the grace window while that successor is unused,
/// else the grant is revoked (RFC 9700 §4.14.2: "the authorization server cannot determine
/// which party submitted the invalid refresh token", so it revokes the active one too).
async fn reused(
    state: &AppState,
    client: &Client,
    record: &RefreshTokenRecord,
    presented: &str,
    used_at: OffsetDateTime,
    now: OffsetDateTime,
) -> Result<String, OAuthError> {
    if within_grace(grace_window(state, client), used_at, now) {
        match open_successor(record, presented) {
            Some(successor) if successor_unused(state, &successor).await? => return Ok(successor),
            // the successor was used: whoever presents its parent now is not the client that
            // lost a response
            Some(_) => {}
            // rotated with no successor kept (by a version before it was kept, or while the
            // client had no grace window): refuse this one, revoke nothing
            None => {
                return Err(OAuthError::invalid_grant(
                    "the refresh token was already rotated",
                ));
            }
        }
    }
    revoke_on_reuse(state, record, now).await
}

/// Revokes the grant of a reused token and everything issued under it; the revocation stands
/// although the request fails.
async fn revoke_on_reuse(
    state: &AppState,
    record: &RefreshTokenRecord,
    now: OffsetDateTime,
) -> Result<String, OAuthError> {
    state.metrics.reuse_detected(Reuse::RefreshToken);
    tracing::warn!(grant_id = %record.grant_id, "refresh token reused; revoking its grant");
    if let Err(error) = state.db.revoke_grant(record.grant_id, now).await {
        return Err(OAuthError::from_backend(error));
    }
    revoke_issued_under(state, Some(record.grant_id), None, now).await?;
    Err(OAuthError::invalid_grant(
        "the refresh token was already used; the grant is revoked",
    ))
}

/// Stores `token` for a new family and returns it, with the time and methods of the sign-in
/// the family rests on.
pub async fn issue_refresh_token(
    state: &AppState,
    grant_id: Uuid,
    family_id: Uuid,
    scopes: &ScopeSet,
    auth_time: OffsetDateTime,
    auth_methods: Methods,
    now: OffsetDateTime,
) -> Result<String, OAuthError> {
    let token = random_token();
    let absolute = Duration::from_secs(state.settings.tokens.refresh_token_absolute_secs);
    let record = RefreshTokenRecord {
        id: Uuid::now_v7(),
        digest: sha256(token.as_bytes()),
        grant_id,
        family_id,
        parent_id: None,
        scopes: scopes.clone(),
        auth_time,
        auth_methods: Some(auth_methods),
        created_at: now,
        expires_at: now + absolute,
        used_at: None,
        revoked_at: None,
        sealed_successor: None,
    };
    state
        .db
        .insert_refresh_token(&record)
        .await
        .map_err(OAuthError::from_backend)?;
    Ok(token)
}

/// Revokes every token a family holds (a replayed code).
pub async fn revoke_family(
    state: &AppState,
    grant_id: Uuid,
    family_id: Uuid,
    now: OffsetDateTime,
) -> Result<(), OAuthError> {
    state
        .db
        .revoke_refresh_family(family_id, now)
        .await
        .map_err(OAuthError::from_backend)?;
    let _ = grant_id;
    revoke_issued_under(state, None, Some(family_id), now).await
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 24 * 3600;

    fn at(unix: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(unix).unwrap()
    }

    fn issued(created_at: i64, expires_at: i64) -> RefreshTokenRecord {
        RefreshTokenRecord {
            id: Uuid::nil(),
            digest: [0; 32],
            grant_id: Uuid::nil(),
            family_id: Uuid::nil(),
            parent_id: None,
            scopes: ScopeSet::default(),
            auth_time: at(created_at),
            auth_methods: None,
            created_at: at(created_at),
            expires_at: at(expires_at),
            used_at: None,
            revoked_at: None,
            sealed_successor: None,
        }
    }

    #[test]
    fn a_token_lives_until_its_idle_period_ends() {
        let record = issued(0, 90 * DAY);

        assert_eq!(live_until(&record, 3600), at(3600));
    }

    #[test]
    fn a_token_never_outlives_its_family() {
        let record = issued(90 * DAY - 1800, 90 * DAY);

        assert_eq!(live_until(&record, 3600), at(90 * DAY));
        assert_eq!(live_until(&record, u64::MAX), at(90 * DAY));
    }
}
