//! Passkeys: WebAuthn credentials, several per user. The credential itself (public key,
//! signature counter, backup flags) is kept as the JSON webauthn-rs writes; the store never
//! interprets it. A credential id belongs to one user only; deleting a user deletes their
//! passkeys with them.

use async_trait::async_trait;
use time::OffsetDateTime;
use uuid::Uuid;

use super::StoreError;

/// The constraint a registration meets when its credential id is registered already (to this
/// user or any other): a `Conflict` on it.
pub const PASSKEY_CREDENTIAL_ID: &str = "passkeys_credential_id";

/// One passkey as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredPasskey {
    pub id: Uuid,
    pub user_id: Uuid,
    /// The authenticator's id for the credential (WebAuthn `rawId`).
    pub credential_id: Vec<u8>,
    /// What the person called it ("Laptop", "Security key").
    pub name: String,
    /// The verified credential as webauthn-rs serialises it: public, not secret.
    pub credential: serde_json::Value,
    pub created_at: OffsetDateTime,
    pub last_used_at: Option<OffsetDateTime>,
}

#[async_trait]
pub trait PasskeyStore: Send + Sync {
    /// Registers `passkey`; a `Conflict` on [`PASSKEY_CREDENTIAL_ID`] if its credential id is
    /// registered already, `NotFound` if the user does not exist.
    async fn add_passkey(&self, passkey: &StoredPasskey) -> Result<(), StoreError>;

    /// The user's passkeys, oldest first.
    async fn list_passkeys(&self, user_id: Uuid) -> Result<Vec<StoredPasskey>, StoreError>;

    /// The passkey with this credential id, whoever's it is.
    async fn find_passkey(&self, credential_id: &[u8])
    -> Result<Option<StoredPasskey>, StoreError>;

    /// Records a sign-in with passkey `id`: its credential as updated from the assertion (a
    /// counter moved on, backup state changed) and when; false if it was removed meanwhile.
    async fn record_passkey_use(
        &self,
        id: Uuid,
        credential: &serde_json::Value,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;

    /// Renames the user's passkey `id`; false if the user has no such passkey.
    async fn rename_passkey(&self, user_id: Uuid, id: Uuid, name: &str)
    -> Result<bool, StoreError>;

    /// Deletes the user's passkey `id`; false if the user has no such passkey.
    async fn delete_passkey(&self, user_id: Uuid, id: Uuid) -> Result<bool, StoreError>;

    /// Deletes every passkey of the user; returns how many there were.
    async fn delete_passkeys(&self, user_id: Uuid) -> Result<u64, StoreError>;
}

/// A registration's write error: any uniqueness violation is the credential id's (the row id is
/// new), whatever name the database gives it (SQLite gives none).
pub(crate) fn for_registration(error: sqlx::Error) -> StoreError {
    match super::factors::for_user(error) {
        StoreError::Conflict { .. } => StoreError::Conflict {
            constraint: PASSKEY_CREDENTIAL_ID.to_owned(),
        },
        other => other,
    }
}
