//! RFC 6749 §6 with rotation (RFC 9700 §4.14.2): every use replaces the refresh token; a token
//! presented again after the grace window revokes its whole grant. Within the grace window a
//! client that lost the response gets the same new pair again, never a second one.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::config::EncryptionKey;
use crate::crypto::{KeyEncryptionKey, random_token, sha256, sha256_hex};
use crate::domain::{Client, ScopeSet};
use crate::oauth::token::TokenResponse;
use crate::oauth::tokens::{issue_user_access_token, revoke_issued_under};
use crate::oauth::{FormRequest, OAuthError};
use crate::state::AppState;
use crate::store::{ChangeKind, RefreshTokenRecord, Rotation, StoreError};

pub async fn exchange(
    state: &AppState,
    client: &Client,
    form: &FormRequest,
    now: OffsetDateTime,
) -> Result<TokenResponse, OAuthError> {
    let presented = form.require("refresh_token")?;
    let invalid = || OAuthError::invalid_grant("the refresh token is invalid, expired or revoked");
    let record = match state
        .db
        .find_refresh_token(&sha256(presented.as_bytes()))
        .await
    {
        Ok(record) => record,
        Err(StoreError::NotFound) => return Err(invalid()),
        Err(other) => return Err(OAuthError::server_error(other)),
    };
    let grant = state
        .db
        .find_grant(record.grant_id)
        .await
        .map_err(OAuthError::server_error)?;
    if grant.client_id != client.id {
        return Err(invalid());
    }
    if record.revoked_at.is_some() || grant.revoked_at.is_some() || now >= record.expires_at {
        return Err(invalid());
    }
    ensure_still_standing(state, &record, grant.user_id, now).await?;
    let idle = state.settings.tokens.refresh_token_idle_secs;
    if record.used_at.is_none() && now >= live_until(&record, idle) {
        return Err(invalid());
    }
    // RFC 9700 §4.14.2: any presentation of a used token is a reuse, whatever else it asks.
    if let Some(used_at) = record.used_at {
        return reused(state, &record, presented, used_at, now).await;
    }
    // RFC 6749 §6: a narrower scope may be asked for; the new refresh token keeps the original.
    let scope = match form.get("scope") {
        Some(requested) => {
            let requested =
                ScopeSet::parse_delimited(requested).map_err(OAuthError::invalid_scope)?;
            if !requested.is_subset(&record.scopes) {
                return Err(OAuthError::invalid_scope(
                    "the scope exceeds what was granted",
                ));
            }
            requested
        }
        None => record.scopes.clone(),
    };
    let successor = random_token();
    let new_record = RefreshTokenRecord {
        id: Uuid::now_v7(),
        digest: sha256(successor.as_bytes()),
        grant_id: record.grant_id,
        family_id: record.family_id,
        parent_id: Some(record.id),
        scopes: record.scopes.clone(),
        auth_time: record.auth_time,
        created_at: now,
        // the absolute lifetime runs from the first token of the family
        expires_at: record.expires_at,
        used_at: None,
        revoked_at: None,
    };
    match state
        .db
        .rotate_refresh_token(record.id, &new_record, now)
        .await
        .map_err(OAuthError::server_error)?
    {
        Rotation::Rotated => {}
        Rotation::Lost => return reused(state, &record, presented, now, now).await,
    }
    let (access_token, lifetime) = issue_user_access_token(
        state,
        client,
        &grant.user_id,
        &scope,
        grant.id,
        record.family_id,
        now,
    )?;
    let response = TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in: lifetime,
        scope: (!scope.is_empty()).then(|| scope.to_delimited()),
        refresh_token: Some(successor),
        id_token: None,
    };
    remember_for_grace(state, presented, &response).await;
    Ok(response)
}

/// What is true now decides: the person must still be allowed to sign in, and the family must
/// not have been revoked by a replay of its code that raced the code's redemption (the sweep
/// of that revocation can miss a token stored in the same moment; RFC 9700 §4.2.1).
async fn ensure_still_standing(
    state: &AppState,
    record: &RefreshTokenRecord,
    user_id: Uuid,
    now: OffsetDateTime,
) -> Result<(), OAuthError> {
    let invalid = || OAuthError::invalid_grant("the refresh token is invalid, expired or revoked");
    match state.db.find_user(user_id).await {
        Ok(user) if !user.disabled => {}
        Ok(_) | Err(StoreError::NotFound) => return Err(invalid()),
        Err(other) => return Err(OAuthError::temporarily_unavailable(other)),
    }
    let family_revoked = state
        .db
        .change_recorded(ChangeKind::Family, &record.family_id.to_string(), now)
        .await
        .map_err(OAuthError::temporarily_unavailable)?;
    if family_revoked {
        return Err(invalid());
    }
    Ok(())
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

/// A used token again: the same answer within the grace window, else the grant is revoked.
async fn reused(
    state: &AppState,
    record: &RefreshTokenRecord,
    presented: &str,
    used_at: OffsetDateTime,
    now: OffsetDateTime,
) -> Result<TokenResponse, OAuthError> {
    let grace = Duration::from_secs(state.settings.tokens.refresh_token_grace_secs);
    if now - used_at <= grace {
        if let Some(response) = recall_grace(state, presented).await {
            return Ok(response);
        }
        // a concurrent rotation won and has not answered yet: refuse this one, revoke nothing
        return Err(OAuthError::invalid_grant(
            "the refresh token is being rotated",
        ));
    }
    tracing::warn!(grant_id = %record.grant_id, "refresh token reused; revoking its grant");
    if let Err(error) = state.db.revoke_grant(record.grant_id, now).await {
        return Err(OAuthError::server_error(error));
    }
    revoke_issued_under(state, Some(record.grant_id), None, now).await?;
    Err(OAuthError::invalid_grant(
        "the refresh token was already used; the grant is revoked",
    ))
}

/// Stores `token` for a new family and returns it.
pub async fn issue_refresh_token(
    state: &AppState,
    grant_id: Uuid,
    family_id: Uuid,
    scopes: &ScopeSet,
    auth_time: OffsetDateTime,
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
        created_at: now,
        expires_at: now + absolute,
        used_at: None,
        revoked_at: None,
    };
    state
        .db
        .insert_refresh_token(&record)
        .await
        .map_err(OAuthError::server_error)?;
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
        .map_err(OAuthError::server_error)?;
    let _ = grant_id;
    revoke_issued_under(state, None, Some(family_id), now).await
}

#[derive(Serialize, Deserialize)]
struct Remembered {
    access_token: String,
    expires_in: u64,
    scope: Option<String>,
    refresh_token: Option<String>,
}

/// The response is sealed under a key derived from the old refresh token itself, so the
/// ephemeral store holds nothing usable without that token.
fn grace_keys(presented: &str) -> (String, Option<KeyEncryptionKey>) {
    let storage = format!("refresh-grace:{}", sha256_hex(presented.as_bytes()));
    let key = sha256(format!("gatehouse refresh grace\0{presented}").as_bytes());
    (
        storage,
        KeyEncryptionKey::new(&EncryptionKey::from_bytes(key)).ok(),
    )
}

async fn remember_for_grace(state: &AppState, presented: &str, response: &TokenResponse) {
    let grace = Duration::from_secs(state.settings.tokens.refresh_token_grace_secs);
    let (storage, Some(key)) = grace_keys(presented) else {
        return;
    };
    let remembered = Remembered {
        access_token: response.access_token.clone(),
        expires_in: response.expires_in,
        scope: response.scope.clone(),
        refresh_token: response.refresh_token.clone(),
    };
    let Ok(plain) = serde_json::to_vec(&remembered) else {
        return;
    };
    let Ok(sealed) = key.seal(b"refresh-grace", &plain) else {
        return;
    };
    if grace > Duration::ZERO
        && let Err(error) = state.ephemeral.put(&storage, &sealed, grace).await
    {
        tracing::warn!(%error, "could not keep the refresh response for the grace window");
    }
}

async fn recall_grace(state: &AppState, presented: &str) -> Option<TokenResponse> {
    let (storage, key) = grace_keys(presented);
    let sealed = state.ephemeral.get(&storage).await.ok()??;
    let plain = key?.open(b"refresh-grace", &sealed).ok()?;
    let remembered: Remembered = serde_json::from_slice(&plain).ok()?;
    Some(TokenResponse {
        access_token: remembered.access_token,
        token_type: "Bearer",
        expires_in: remembered.expires_in,
        scope: remembered.scope,
        refresh_token: remembered.refresh_token,
        id_token: None,
    })
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
            created_at: at(created_at),
            expires_at: at(expires_at),
            used_at: None,
            revoked_at: None,
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
