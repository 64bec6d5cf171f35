use async_trait::async_trait;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{After, IdempotencyRecord, StoreError};
use crate::domain::{Email, User, Username};

/// Which users a list shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserFilter {
    pub username: Option<Username>,
    pub email: Option<Email>,
}

/// People who sign in. Deleting a user deletes their grants and refresh tokens with them.
#[async_trait]
pub trait UserStore: Send + Sync {
    /// Stores a new user; a taken username is a `Conflict`.
    async fn insert_user(&self, user: &User) -> Result<(), StoreError> {
        self.insert_user_idempotently(user, None).await
    }

    /// As [`UserStore::insert_user`], with `idempotency` stored in the same transaction; a live
    /// record for the same caller and key is a `Conflict` on `IDEMPOTENCY_CONFLICT`.
    async fn insert_user_idempotently(
        &self,
        user: &User,
        idempotency: Option<&IdempotencyRecord>,
    ) -> Result<(), StoreError>;

    async fn find_user(&self, id: Uuid) -> Result<User, StoreError>;

    async fn find_user_by_username(&self, username: &Username) -> Result<User, StoreError>;

    /// Every user, oldest first.
    async fn list_users(&self) -> Result<Vec<User>, StoreError>;

    /// At most `limit` users matching `filter` in (created_at, id) order, after `after`.
    async fn list_users_after(
        &self,
        filter: &UserFilter,
        after: Option<&After>,
        limit: u32,
    ) -> Result<Vec<User>, StoreError>;

    /// Replaces the profile fields (not the id, the password hash or the creation time) and
    /// bumps the version, if the stored version is still `expected_version`; a taken username
    /// is a `Conflict`.
    async fn update_user(&self, user: &User, expected_version: i64) -> Result<(), StoreError>;

    /// Deletes the user; with an `expected_version`, only if that is still the stored one.
    async fn delete_user(&self, id: Uuid, expected_version: Option<i64>) -> Result<(), StoreError>;

    /// Replaces the password hash (an admin reset or the user's own change).
    async fn set_password_hash(
        &self,
        id: Uuid,
        hash: &str,
        now: OffsetDateTime,
    ) -> Result<(), StoreError>;

    /// Replaces `old_hash` by `new_hash` (made with current parameters) only if the stored
    /// hash is still `old_hash`, so an upgrade at login never undoes a reset made meanwhile.
    async fn upgrade_password_hash(
        &self,
        id: Uuid,
        old_hash: &str,
        new_hash: &str,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;
}
