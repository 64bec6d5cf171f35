//! The grace window of a rotated refresh token (RFC 9700 §4.14.2): the response to a rotation
//! is kept, sealed under a key derived from the old token, so that a client that lost it can
//! present the old token again and get the same pair, never a second one.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::config::EncryptionKey;
use crate::crypto::{KeyEncryptionKey, sha256, sha256_hex};
use crate::domain::{Client, ClientType};
use crate::oauth::OAuthError;
use crate::oauth::token::TokenResponse;
use crate::state::AppState;
use crate::store::StoreError;

/// How long a rotated token of `client` may be presented again for the same answer. RFC 9700
/// §4.14.2: a public client cannot prove who presents its token, so by default it gets none,
/// and its first reuse revokes the grant; a confidential client authenticated itself, so a
/// short window only covers a lost response.
pub(super) fn grace_window(state: &AppState, client: &Client) -> Duration {
    let tokens = &state.settings.tokens;
    Duration::from_secs(match client.client_type {
        ClientType::Public => tokens.public_refresh_token_grace_secs,
        ClientType::Confidential => tokens.refresh_token_grace_secs,
    })
}

/// Whether `now` falls in a (non-empty) grace window opened at `used_at`.
pub(super) fn within_grace(grace: Duration, used_at: OffsetDateTime, now: OffsetDateTime) -> bool {
    grace > Duration::ZERO && now - used_at <= grace
}

/// Whether the refresh token of a remembered response is still unused and unrevoked.
pub(super) async fn successor_unused(
    state: &AppState,
    response: &TokenResponse,
) -> Result<bool, OAuthError> {
    let Some(successor) = response.refresh_token.as_deref() else {
        return Ok(false);
    };
    match state
        .db
        .find_refresh_token(&sha256(successor.as_bytes()))
        .await
    {
        Ok(record) => Ok(record.used_at.is_none() && record.revoked_at.is_none()),
        Err(StoreError::NotFound) => Ok(false),
        Err(other) => Err(OAuthError::from_backend(other)),
    }
}

#[derive(Serialize, Deserialize)]
struct Remembered {
    access_token: String,
    expires_in: u64,
    scope: Option<String>,
    refresh_token: Option<String>,
    /// The ID token of the response (OIDC Core §12.2); absent in responses kept before it was.
    #[serde(default)]
    id_token: Option<String>,
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

/// Keeps `response` for the client's grace window; nothing at all when it has none.
pub(super) async fn remember_for_grace(
    state: &AppState,
    client: &Client,
    presented: &str,
    response: &TokenResponse,
) {
    let grace = grace_window(state, client);
    if grace == Duration::ZERO {
        return;
    }
    let (storage, Some(key)) = grace_keys(presented) else {
        return;
    };
    let remembered = Remembered {
        access_token: response.access_token.clone(),
        expires_in: response.expires_in,
        scope: response.scope.clone(),
        refresh_token: response.refresh_token.clone(),
        id_token: response.id_token.clone(),
    };
    let Ok(plain) = serde_json::to_vec(&remembered) else {
        return;
    };
    let Ok(sealed) = key.seal(b"refresh-grace", &plain) else {
        return;
    };
    if let Err(error) = state.ephemeral.put(&storage, &sealed, grace).await {
        tracing::warn!(%error, "could not keep the refresh response for the grace window");
    }
}

pub(super) async fn recall_grace(state: &AppState, presented: &str) -> Option<TokenResponse> {
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
        id_token: remembered.id_token,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_grace_window_never_holds_even_in_the_same_second() {
        let used_at = OffsetDateTime::UNIX_EPOCH;
        let thirty = Duration::from_secs(30);

        assert!(!within_grace(Duration::ZERO, used_at, used_at));
        assert!(within_grace(thirty, used_at, used_at));
        assert!(within_grace(thirty, used_at, used_at + thirty));
        assert!(!within_grace(
            thirty,
            used_at,
            used_at + thirty + Duration::from_secs(1)
        ));
    }
}
