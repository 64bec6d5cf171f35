//! The grace window of a rotated refresh token (RFC 9700 §4.14.2). A rotation stores its
//! successor in the rotated token's row, sealed under a key derived from the rotated token
//! itself: only the token's holder can open it, and the database alone holds nothing usable
//! (it keeps digests of live tokens, never the tokens). A client that lost the response presents
//! the rotated token again within the window and gets that same successor, with a newly signed
//! access token, never a second refresh token: the family keeps one live refresh token.
//!
//! It lives in the database, not in the ephemeral store, so a replay finds it on every instance
//! and after Redis restarts empty, and the embedded layout keeps nothing in memory per rotation.

use std::time::Duration;

use time::OffsetDateTime;

use crate::config::EncryptionKey;
use crate::crypto::{KeyEncryptionKey, sha256};
use crate::domain::{Client, ClientType};
use crate::oauth::OAuthError;
use crate::state::AppState;
use crate::store::{RefreshTokenRecord, StoreError};

/// How long a rotated token of `client` may be presented again for its successor. RFC 9700
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

const SEALED_SUCCESSOR: &[u8] = b"refresh-successor";

/// The key only the holder of the rotated token `presented` can derive.
fn sealing_key(presented: &str) -> Option<KeyEncryptionKey> {
    let key = sha256(format!("gatehouse refresh grace\0{presented}").as_bytes());
    KeyEncryptionKey::new(&EncryptionKey::from_bytes(key)).ok()
}

/// `successor` sealed for the row of `presented`; nothing when `client` has no grace window, so
/// that a reuse finds nothing to hand out.
pub(super) fn seal_successor(
    state: &AppState,
    client: &Client,
    presented: &str,
    successor: &str,
) -> Option<Vec<u8>> {
    if grace_window(state, client) == Duration::ZERO {
        return None;
    }
    let sealed = seal_for(presented, successor);
    if sealed.is_none() {
        tracing::warn!("could not seal a refresh token's successor; its grace window is lost");
    }
    sealed
}

fn seal_for(presented: &str, successor: &str) -> Option<Vec<u8>> {
    sealing_key(presented)?
        .seal(SEALED_SUCCESSOR, successor.as_bytes())
        .ok()
}

/// The successor kept in the row of the rotated token `presented`, if the rotation kept one.
pub(super) fn open_successor(record: &RefreshTokenRecord, presented: &str) -> Option<String> {
    open_for(presented, record.sealed_successor.as_deref()?)
}

fn open_for(presented: &str, sealed: &[u8]) -> Option<String> {
    let plain = sealing_key(presented)?
        .open(SEALED_SUCCESSOR, sealed)
        .ok()?;
    String::from_utf8(plain).ok()
}

/// Whether `successor` is still unused and unrevoked.
pub(super) async fn successor_unused(
    state: &AppState,
    successor: &str,
) -> Result<bool, OAuthError> {
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

    #[test]
    fn only_the_rotated_token_opens_its_successor() {
        let sealed = seal_for("rotated-token", "successor-token").unwrap();

        assert_eq!(
            open_for("rotated-token", &sealed).as_deref(),
            Some("successor-token")
        );
        assert_eq!(open_for("another-token", &sealed), None);
        assert!(
            !sealed
                .windows(b"successor-token".len())
                .any(|w| w == b"successor-token"),
            "sealed, not stored in the clear"
        );
    }
}
