use async_trait::async_trait;
use time::OffsetDateTime;
use uuid::Uuid;

use super::StoreError;
use crate::domain::{ClientId, ScopeSet};
use crate::signin::methods::Methods;

/// A user's consent for one client to a set of scopes. Everything issued under it is revoked
/// with it.
#[derive(Debug, Clone, PartialEq)]
pub struct Grant {
    pub id: Uuid,
    pub user_id: Uuid,
    pub client_id: ClientId,
    pub scopes: ScopeSet,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub revoked_at: Option<OffsetDateTime>,
}

/// A refresh token as stored: its SHA-256 digest and its place in the rotation chain.
#[derive(Clone, PartialEq)]
pub struct RefreshTokenRecord {
    pub id: Uuid,
    pub digest: [u8; 32],
    pub grant_id: Uuid,
    /// Every token rotated from one authorization code shares it.
    pub family_id: Uuid,
    pub parent_id: Option<Uuid>,
    pub scopes: ScopeSet,
    pub auth_time: OffsetDateTime,
    /// How the person signed in for the code the family came from (RFC 8176), kept across
    /// rotation like `auth_time` for the `amr` and `acr` of a refreshed ID token (OIDC Core
    /// §12.2). `None` for a token stored before they were kept (migration 0015): unknown, not
    /// assumed to be a password.
    pub auth_methods: Option<Methods>,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    pub used_at: Option<OffsetDateTime>,
    pub revoked_at: Option<OffsetDateTime>,
    /// Once rotated within a grace window: the successor, sealed under a key derived from this
    /// token (RFC 9700 §4.14.2; see `oauth::grants::refresh_token::grace`).
    pub sealed_successor: Option<Vec<u8>>,
}

impl std::fmt::Debug for RefreshTokenRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RefreshTokenRecord")
            .field("id", &self.id)
            .field("grant_id", &self.grant_id)
            .field("family_id", &self.family_id)
            .field("expires_at", &self.expires_at)
            .field("used_at", &self.used_at)
            .field("revoked_at", &self.revoked_at)
            .finish_non_exhaustive()
    }
}

/// What became of a rotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rotation {
    /// The old token is now used and the new one stored.
    Rotated,
    /// The old token was already used (or revoked) by the time this transaction ran.
    Lost,
}

#[async_trait]
pub trait GrantStore: Send + Sync {
    /// The live grant of `user_id` for `client_id`, if any.
    async fn find_live_grant(
        &self,
        user_id: Uuid,
        client_id: &ClientId,
    ) -> Result<Option<Grant>, StoreError>;

    async fn find_grant(&self, id: Uuid) -> Result<Grant, StoreError>;

    /// Records consent: creates the live grant, or widens its scopes to include `scopes`.
    async fn upsert_grant(
        &self,
        user_id: Uuid,
        client_id: &ClientId,
        scopes: &ScopeSet,
        now: OffsetDateTime,
    ) -> Result<Grant, StoreError>;

    /// Live and revoked grants of a user, newest first.
    async fn list_grants(&self, user_id: Uuid) -> Result<Vec<Grant>, StoreError>;

    /// Revokes the grant and every refresh token under it, in one transaction; `false` if it was
    /// not live.
    async fn revoke_grant(&self, id: Uuid, now: OffsetDateTime) -> Result<bool, StoreError>;
}

#[async_trait]
pub trait RefreshTokenStore: Send + Sync {
    async fn insert_refresh_token(&self, token: &RefreshTokenRecord) -> Result<(), StoreError>;

    /// The token with this digest, whatever its state.
    async fn find_refresh_token(&self, digest: &[u8; 32])
    -> Result<RefreshTokenRecord, StoreError>;

    /// In one transaction: marks `old_id` used if it is still unused and live, keeping
    /// `sealed_successor` in its row, and stores `new`. Of two concurrent rotations of one
    /// token, exactly one is `Rotated`.
    async fn rotate_refresh_token(
        &self,
        old_id: Uuid,
        sealed_successor: Option<&[u8]>,
        new: &RefreshTokenRecord,
        now: OffsetDateTime,
    ) -> Result<Rotation, StoreError>;

    /// Revokes every token of a family (a replayed code or a reused refresh token).
    async fn revoke_refresh_family(
        &self,
        family_id: Uuid,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError>;
}
