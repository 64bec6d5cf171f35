//! Signing keys as admins see them: their lifecycle, never their private parts; rotation on
//! demand and revocation of a compromised key.

use serde::Serialize;
use time::OffsetDateTime;

use super::AdminError;
use crate::crypto::SigningAlgorithm;
use crate::keyring::{KeyRing, KeyRingError, Revocation, RingKey};
use crate::store::KeyState;

/// One published key: what `gatehouse keys list` and `GET /v1/keys` show.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KeyView {
    pub kid: String,
    pub alg: SigningAlgorithm,
    pub state: KeyState,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub activates_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub retired_at: Option<OffsetDateTime>,
}

impl From<&RingKey> for KeyView {
    fn from(key: &RingKey) -> Self {
        Self {
            kid: key.kid.clone(),
            alg: key.algorithm,
            state: key.state,
            created_at: key.created_at,
            activates_at: key.activates_at,
            retired_at: key.retired_at,
        }
    }
}

/// Every published key (`next`, `active`, `retired`), oldest first.
pub fn list_keys(keys: &KeyRing) -> Vec<KeyView> {
    keys.keys().iter().map(KeyView::from).collect()
}

/// What to rotate, and how.
#[derive(Debug, Clone, Copy, Default)]
pub struct Rotation {
    /// One algorithm, or every algorithm the ring holds.
    pub alg: Option<SigningAlgorithm>,
    /// The successor signs at once instead of after `keys.publish_ahead_secs`.
    pub immediately: bool,
    /// The incident procedure: with `immediately`, the keys that signed until now are revoked.
    pub revoke_current: bool,
}

/// The keys a rotation made, and those it revoked.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rotated {
    pub items: Vec<KeyView>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub revoked: Vec<RevokedKeyView>,
}

/// A revoked key: what `gatehouse keys revoke` and `POST /v1/keys/{kid}/revoke` answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RevokedKeyView {
    pub kid: String,
    pub alg: SigningAlgorithm,
    #[serde(with = "time::serde::rfc3339")]
    pub revoked_at: OffsetDateTime,
    /// The key that signs in its place, when the revoked key was signing.
    pub successor: Option<KeyView>,
}

impl From<&Revocation> for RevokedKeyView {
    fn from(revocation: &Revocation) -> Self {
        Self {
            kid: revocation.kid.clone(),
            alg: revocation.algorithm,
            revoked_at: revocation.revoked_at,
            successor: revocation.successor.as_ref().map(KeyView::from),
        }
    }
}

/// Stages a successor for `alg` (or for every algorithm the ring holds), which signs after
/// `keys.publish_ahead_secs`; `immediately` (for a compromised key) makes it sign at once, and
/// `revoke_current` then revokes the key it replaced, so nothing that key signed is accepted.
pub async fn rotate_keys(
    keys: &KeyRing,
    rotation: Rotation,
    actor: &str,
    now: OffsetDateTime,
) -> Result<Rotated, AdminError> {
    let Rotation {
        alg,
        immediately,
        revoke_current,
    } = rotation;
    if revoke_current && !immediately {
        return Err(AdminError::Invalid(vec![super::FieldError {
            field: "revoke_current".into(),
            problem:
                "needs immediately: the revoked key must be replaced by one that signs at once"
                    .into(),
        }]));
    }
    if revoke_current {
        // Revoke what signs now in the database, not what this instance last saw.
        keys.reload().await.map_err(admin_error)?;
    }
    let algorithms: Vec<SigningAlgorithm> = match alg {
        Some(alg) => vec![alg],
        None => {
            let mut all: Vec<_> = keys.keys().iter().map(|k| k.algorithm).collect();
            all.sort_unstable();
            all.dedup();
            all
        }
    };
    if !keys
        .keys()
        .iter()
        .any(|k| alg.is_none_or(|a| a == k.algorithm))
    {
        return Err(AdminError::Invalid(vec![super::FieldError {
            field: "alg".into(),
            problem: "the key ring holds no key for this algorithm (see keys.algorithms)".into(),
        }]));
    }
    let mut rotated = Rotated {
        items: Vec::with_capacity(algorithms.len()),
        revoked: Vec::new(),
    };
    for algorithm in algorithms {
        let current = keys.active_key(algorithm);
        let key = keys
            .rotate(algorithm, immediately, now, actor)
            .await
            .map_err(admin_error)?;
        if revoke_current && let Some(current) = current.filter(|c| c.kid() != key.kid) {
            let revocation = keys
                .revoke(current.kid(), now, actor)
                .await
                .map_err(admin_error)?;
            rotated.revoked.push(RevokedKeyView::from(&revocation));
        }
        rotated.items.push(KeyView::from(&key));
    }
    Ok(rotated)
}

/// Revokes the key `kid`: it leaves the JWKS and verification at once, everything it signed
/// is refused, and it never comes back. Revoking the key that signs first promotes a successor.
/// Revoking a revoked key changes nothing and answers the first revocation.
pub async fn revoke_key(
    keys: &KeyRing,
    kid: &str,
    actor: &str,
    now: OffsetDateTime,
) -> Result<RevokedKeyView, AdminError> {
    let revocation = keys.revoke(kid, now, actor).await.map_err(admin_error)?;
    Ok(RevokedKeyView::from(&revocation))
}

fn admin_error(error: KeyRingError) -> AdminError {
    match error {
        KeyRingError::AlreadyStaged { .. } | KeyRingError::StillActive { .. } => {
            AdminError::Conflict(error.to_string())
        }
        KeyRingError::UnknownKey { .. } => AdminError::NotFound,
        KeyRingError::Store(store) => AdminError::from(store),
        other => AdminError::Internal(other.to_string()),
    }
}
