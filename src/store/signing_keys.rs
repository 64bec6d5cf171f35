use async_trait::async_trait;
use time::OffsetDateTime;

use super::StoreError;
use crate::crypto::SigningAlgorithm;

/// Where a key is in its life: *next* (published, not signing) → *active* (signing) →
/// *retired* (published until the tokens it signed have expired) → deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyState {
    Next,
    Active,
    Retired,
}

impl KeyState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Next => "next",
            Self::Active => "active",
            Self::Retired => "retired",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Next, Self::Active, Self::Retired]
            .into_iter()
            .find(|state| state.as_str() == s)
    }
}

/// A signing key as stored: the public JWK in the clear, the private key sealed.
#[derive(Clone)]
pub struct SigningKeyRecord {
    pub kid: String,
    pub algorithm: SigningAlgorithm,
    pub state: KeyState,
    pub public_jwk: serde_json::Value,
    pub sealed_private_key: Vec<u8>,
    pub created_at: OffsetDateTime,
    pub activates_at: OffsetDateTime,
    pub retired_at: Option<OffsetDateTime>,
}

impl std::fmt::Debug for SigningKeyRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKeyRecord")
            .field("kid", &self.kid)
            .field("algorithm", &self.algorithm)
            .field("state", &self.state)
            .field("activates_at", &self.activates_at)
            .field("retired_at", &self.retired_at)
            .finish_non_exhaustive()
    }
}

/// The durable record that a key is distrusted: kept after its row and private part are gone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningKeyRevocation {
    pub kid: String,
    pub algorithm: SigningAlgorithm,
    pub revoked_at: OffsetDateTime,
}

/// What [`SigningKeyStore::revoke_signing_key`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyRevocationOutcome {
    /// Recorded now; the key's row is deleted.
    Revoked(SigningKeyRevocation),
    /// Revoked before (possibly by another instance); the first record.
    AlreadyRevoked(SigningKeyRevocation),
    /// The key signs: nothing changed (its successor must be promoted first, so the algorithm
    /// is never left without an active key).
    Active,
}

#[async_trait]
pub trait SigningKeyStore: Send + Sync {
    /// Every stored key that is not revoked, oldest first.
    async fn list_signing_keys(&self) -> Result<Vec<SigningKeyRecord>, StoreError>;

    /// Stores a new key. At most one `active` and one `next` key per algorithm exist: a second
    /// one (another instance won the race) is a `Conflict`, and so is a revoked `kid`.
    async fn insert_signing_key(&self, key: &SigningKeyRecord) -> Result<(), StoreError>;

    /// In one transaction: retires the algorithm's active key and makes the `next` key `kid`
    /// active. `false` (and nothing changed) if `kid` is no longer `next` (another instance
    /// promoted it first) or is revoked.
    async fn promote_signing_key(&self, kid: &str, now: OffsetDateTime)
    -> Result<bool, StoreError>;

    /// Deletes retired keys retired before `cutoff`; returns how many.
    async fn delete_signing_keys_retired_before(
        &self,
        cutoff: OffsetDateTime,
    ) -> Result<u64, StoreError>;

    /// In one transaction: records `kid` revoked and deletes its row, sealed private key
    /// included. `NotFound` if no such key was ever stored (or it was deleted after retirement).
    async fn revoke_signing_key(
        &self,
        kid: &str,
        now: OffsetDateTime,
    ) -> Result<KeyRevocationOutcome, StoreError>;

    /// Every revoked key, oldest revocation first.
    async fn list_signing_key_revocations(&self) -> Result<Vec<SigningKeyRevocation>, StoreError>;
}
