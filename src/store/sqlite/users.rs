use async_trait::async_trait;
use time::OffsetDateTime;
use uuid::Uuid;

use super::idempotency::insert_record;
use super::{SqliteStore, from_unix, to_unix};
use crate::domain::{Email, User, Username};
use crate::store::error::bounded;
use crate::store::{After, IdempotencyRecord, StoreError, UserFilter, UserStore};

#[derive(sqlx::FromRow)]
struct UserRow {
    id: String,
    username: String,
    email: Option<String>,
    email_verified: bool,
    display_name: Option<String>,
    password_hash: Option<String>,
    claims: String,
    disabled: bool,
    roles: String,
    version: i64,
    created_at: i64,
    updated_at: i64,
}

impl TryFrom<UserRow> for User {
    type Error = StoreError;

    fn try_from(row: UserRow) -> Result<Self, StoreError> {
        Ok(Self {
            id: Uuid::parse_str(&row.id).map_err(StoreError::corrupt)?,
            username: Username::parse(&row.username).map_err(StoreError::corrupt)?,
            email: row
                .email
                .as_deref()
                .map(Email::parse)
                .transpose()
                .map_err(StoreError::corrupt)?,
            email_verified: row.email_verified,
            display_name: row.display_name,
            password_hash: row.password_hash,
            claims: serde_json::from_str(&row.claims).map_err(StoreError::corrupt)?,
            disabled: row.disabled,
            roles: serde_json::from_str(&row.roles).map_err(StoreError::corrupt)?,
            version: row.version,
            created_at: from_unix(row.created_at)?,
            updated_at: from_unix(row.updated_at)?,
        })
    }
}

#[async_trait]
impl UserStore for SqliteStore {
    async fn insert_user_idempotently(
        &self,
        user: &User,
        idempotency: Option<&IdempotencyRecord>,
    ) -> Result<(), StoreError> {
        let claims = serde_json::to_string(&user.claims).map_err(StoreError::corrupt)?;
        let roles = serde_json::to_string(&user.roles).map_err(StoreError::corrupt)?;
        bounded(self.timeout, async {
            let mut tx = self.pool.begin().await?;
            // First, so the loser of a race on one key waits for the winner and then stops.
            if let Some(record) = idempotency {
                insert_record(&mut tx, record).await?;
            }
            sqlx::query(
                "INSERT INTO users (id, username, email, email_verified, display_name, \
                 password_hash, claims, disabled, roles, version, created_at, updated_at) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(user.id.to_string())
            .bind(user.username.as_str())
            .bind(user.email.as_ref().map(Email::as_str))
            .bind(user.email_verified)
            .bind(user.display_name.as_deref())
            .bind(user.password_hash.as_deref())
            .bind(claims)
            .bind(user.disabled)
            .bind(roles)
            .bind(user.version)
            .bind(to_unix(user.created_at))
            .bind(to_unix(user.updated_at))
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok::<_, StoreError>(())
        })
        .await
    }

    async fn find_user(&self, id: Uuid) -> Result<User, StoreError> {
        let query =
            sqlx::query_as::<_, UserRow>("SELECT * FROM users WHERE id = ?").bind(id.to_string());
        bounded(self.timeout, query.fetch_one(&self.pool))
            .await?
            .try_into()
    }

    async fn find_user_by_username(&self, username: &Username) -> Result<User, StoreError> {
        let query = sqlx::query_as::<_, UserRow>("SELECT * FROM users WHERE username = ?")
            .bind(username.as_str());
        bounded(self.timeout, query.fetch_one(&self.pool))
            .await?
            .try_into()
    }

    async fn list_users(&self) -> Result<Vec<User>, StoreError> {
        let query = sqlx::query_as::<_, UserRow>("SELECT * FROM users ORDER BY created_at, id");
        let rows = bounded(self.timeout, query.fetch_all(&self.pool)).await?;
        rows.into_iter().map(User::try_from).collect()
    }

    async fn list_users_after(
        &self,
        filter: &UserFilter,
        after: Option<&After>,
        limit: u32,
    ) -> Result<Vec<User>, StoreError> {
        let (after_time, after_id) = match after {
            Some(after) => (Some(to_unix(after.created_at)), Some(after.id.as_str())),
            None => (None, None),
        };
        let query = sqlx::query_as::<_, UserRow>(
            "SELECT * FROM users \
             WHERE (?1 IS NULL OR username = ?1) AND (?2 IS NULL OR email = ?2) \
             AND (?3 IS NULL OR created_at > ?3 OR (created_at = ?3 AND id > ?4)) \
             ORDER BY created_at, id LIMIT ?5",
        )
        .bind(filter.username.as_ref().map(Username::as_str))
        .bind(filter.email.as_ref().map(Email::as_str))
        .bind(after_time)
        .bind(after_id)
        .bind(i64::from(limit));
        let rows = bounded(self.timeout, query.fetch_all(&self.pool)).await?;
        rows.into_iter().map(User::try_from).collect()
    }

    async fn update_user(&self, user: &User, expected_version: i64) -> Result<(), StoreError> {
        let claims = serde_json::to_string(&user.claims).map_err(StoreError::corrupt)?;
        let roles = serde_json::to_string(&user.roles).map_err(StoreError::corrupt)?;
        let query = sqlx::query(
            "UPDATE users SET username = ?, email = ?, email_verified = ?, display_name = ?, \
             claims = ?, disabled = ?, roles = ?, updated_at = ?, version = version + 1 \
             WHERE id = ? AND version = ?",
        )
        .bind(user.username.as_str())
        .bind(user.email.as_ref().map(Email::as_str))
        .bind(user.email_verified)
        .bind(user.display_name.as_deref())
        .bind(claims)
        .bind(user.disabled)
        .bind(roles)
        .bind(to_unix(user.updated_at))
        .bind(user.id.to_string())
        .bind(expected_version);
        let affected = bounded(self.timeout, query.execute(&self.pool))
            .await?
            .rows_affected();
        self.changed_or_why("users", &user.id.to_string(), affected)
            .await
    }

    async fn delete_user(&self, id: Uuid, expected_version: Option<i64>) -> Result<(), StoreError> {
        let query = sqlx::query("DELETE FROM users WHERE id = ? AND (? IS NULL OR version = ?)")
            .bind(id.to_string())
            .bind(expected_version)
            .bind(expected_version);
        let affected = bounded(self.timeout, query.execute(&self.pool))
            .await?
            .rows_affected();
        self.changed_or_why("users", &id.to_string(), affected)
            .await
    }

    async fn set_password_hash(
        &self,
        id: Uuid,
        hash: &str,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let query = sqlx::query(
            "UPDATE users SET password_hash = ?, updated_at = ?, version = version + 1 WHERE id = ?",
        )
        .bind(hash)
        .bind(to_unix(now))
        .bind(id.to_string());
        match bounded(self.timeout, query.execute(&self.pool))
            .await?
            .rows_affected()
        {
            0 => Err(StoreError::NotFound),
            _ => Ok(()),
        }
    }

    async fn upgrade_password_hash(
        &self,
        id: Uuid,
        old_hash: &str,
        new_hash: &str,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let query = sqlx::query(
            "UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ? AND password_hash = ?",
        )
        .bind(new_hash)
        .bind(to_unix(now))
        .bind(id.to_string())
        .bind(old_hash);
        let affected = bounded(self.timeout, query.execute(&self.pool))
            .await?
            .rows_affected();
        Ok(affected > 0)
    }
}
