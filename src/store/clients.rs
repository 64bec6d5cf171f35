use async_trait::async_trait;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{After, IdempotencyRecord, StoreError};
use crate::domain::{Client, ClientId};

/// A client secret as stored: only its SHA-256 digest. `expires_at` is set when it was rotated
/// out; it is accepted until then.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientSecretRecord {
    pub id: Uuid,
    pub digest: [u8; 32],
    pub created_at: OffsetDateTime,
    pub expires_at: Option<OffsetDateTime>,
}

impl ClientSecretRecord {
    pub fn is_live(&self, now: OffsetDateTime) -> bool {
        self.expires_at.is_none_or(|expires| now < expires)
    }
}

impl std::fmt::Debug for ClientSecretRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientSecretRecord")
            .field("id", &self.id)
            .field("created_at", &self.created_at)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

#[async_trait]
pub trait ClientStore: Send + Sync {
    /// Stores a new client and, for secret-based methods, its first secret, in one transaction.
    /// An existing id is a `Conflict`.
    async fn insert_client(
        &self,
        client: &Client,
        secret: Option<&ClientSecretRecord>,
    ) -> Result<(), StoreError> {
        self.insert_client_idempotently(client, secret, None).await
    }

    /// As [`ClientStore::insert_client`], with `idempotency` (the response to the request that
    /// creates the client) stored in the same transaction. A live record for the same caller
    /// and key is a `Conflict` on
    /// [`IDEMPOTENCY_CONFLICT`](crate::store::IDEMPOTENCY_CONFLICT) and stores nothing: the race's loser
    /// replays the winner's record.
    async fn insert_client_idempotently(
        &self,
        client: &Client,
        secret: Option<&ClientSecretRecord>,
        idempotency: Option<&IdempotencyRecord>,
    ) -> Result<(), StoreError>;

    async fn find_client(&self, id: &ClientId) -> Result<Client, StoreError>;

    /// Every client, oldest first.
    async fn list_clients(&self) -> Result<Vec<Client>, StoreError>;

    /// At most `limit` clients in (created_at, id) order, starting after `after`: pages stay
    /// stable while clients are added.
    async fn list_clients_after(
        &self,
        after: Option<&After>,
        limit: u32,
    ) -> Result<Vec<Client>, StoreError>;

    /// Replaces every field but the id and creation time, and bumps the version, if the stored
    /// version is still `expected_version` (`Stale` otherwise).
    async fn update_client(&self, client: &Client, expected_version: i64)
    -> Result<(), StoreError>;

    /// Deletes the client with everything it owns (secrets, grants, refresh tokens); with an
    /// `expected_version`, only if that is still the stored version (`Stale` otherwise).
    async fn delete_client(
        &self,
        id: &ClientId,
        expected_version: Option<i64>,
    ) -> Result<(), StoreError>;

    /// The client's secrets that are still accepted at `now`.
    async fn live_client_secrets(
        &self,
        id: &ClientId,
        now: OffsetDateTime,
    ) -> Result<Vec<ClientSecretRecord>, StoreError>;

    /// In one transaction: every live secret of the client expires at `old_expires_at` (or
    /// earlier, if it already did), `new` is added, and secrets expired before `now` are purged.
    async fn rotate_client_secret(
        &self,
        id: &ClientId,
        new: &ClientSecretRecord,
        old_expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<(), StoreError>;
}
