//! Signing keys as admins see them: their lifecycle, never their private parts.

use serde::Serialize;
use time::OffsetDateTime;

use super::AdminError;
use crate::crypto::SigningAlgorithm;
use crate::keyring::{KeyRing, KeyRingError, RingKey};
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

/// Stages a successor for `alg` (or for every algorithm the ring holds), which signs after
/// `keys.publish_ahead_secs`; `immediately` (for a compromised key) makes it sign at once.
pub async fn rotate_keys(
    keys: &KeyRing,
    alg: Option<SigningAlgorithm>,
    immediately: bool,
    actor: &str,
    now: OffsetDateTime,
) -> Result<Vec<KeyView>, AdminError> {
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
    let mut rotated = Vec::with_capacity(algorithms.len());
    for algorithm in algorithms {
        let key = keys
            .rotate(algorithm, immediately, now, actor)
            .await
            .map_err(|error| match error {
                KeyRingError::AlreadyStaged { .. } => AdminError::Conflict(error.to_string()),
                KeyRingError::Store(store) => AdminError::from(store),
                other => AdminError::Internal(other.to_string()),
            })?;
        rotated.push(KeyView::from(&key));
    }
    Ok(rotated)
}
