use async_trait::async_trait;
use sqlx::types::Json;
use time::OffsetDateTime;
use uuid::Uuid;

use super::PgStore;
use super::idempotency::insert_record;
use crate::domain::{Email, User, Username};
use crate::store::error::bounded;
use crate::store::{After, IdempotencyRecord, StoreError, UserFilter, UserStore};

#[derive(sqlx::FromRow)]
struct UserRow {
    id: Uuid,
    username: String,
    email: Option<String>,
    email_verified: bool,
    display_name: Option<String>,
    password_hash: Option<String>,
    claims: Json<serde_json::Map<String, serde_json::Value>>,
    disabled: bool,
    roles: Json<crate::domain::Roles>,
    version: i64,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
}

impl TryFrom<UserRow> for User {
    type Error = StoreError;

    fn try_from(row: UserRow) -> Result<Self, StoreError> {
        Ok(Self {
            id: row.id,
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
            claims: row.claims.0,
            disabled: row.disabled,
            roles: row.roles.0,
            version: row.version,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

#[async_trait]
impl UserStore for PgStore {
    async fn insert_user_idempotently(
        &self,
        user: &User,
        idempotency: Option<&IdempotencyRecord>,
    ) -> Result<(), StoreError> {
        bounded(self.timeout, async {
            let mut tx = self.begin().await?;
            // First, so the loser of a race on one key waits for the winner and then stops.
            if let Some(record) = idempotency {
                insert_record(&mut tx, record).await?;
            }
            sqlx::query(
                "INSERT INTO users (id, username, email, email_verified, display_name, \
                 password_hash, claims, disabled, roles, version, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            )
            .bind(user.id)
            .bind(user.username.as_str())
            .bind(user.email.as_ref().map(Email::as_str))
            .bind(user.email_verified)
            .bind(user.display_name.as_deref())
            .bind(user.password_hash.as_deref())
            .bind(Json(&user.claims))
            .bind(user.disabled)
            .bind(Json(&user.roles))
            .bind(user.version)
            .bind(user.created_at)
            .bind(user.updated_at)
            .execute(&mut tx)
            .await?;
            tx.commit().await?;
            Ok::<_, StoreError>(())
        })
        .await
    }

    async fn find_user(&self, id: Uuid) -> Result<User, StoreError> {
        let query = sqlx::query_as::<_, UserRow>("SELECT * FROM users WHERE id = $1").bind(id);
        bounded(self.timeout, query.fetch_one(self.db()))
            .await?
            .try_into()
    }

    async fn find_user_by_username(&self, username: &Username) -> Result<User, StoreError> {
        let query = sqlx::query_as::<_, UserRow>("SELECT * FROM users WHERE username = $1")
            .bind(username.as_str());
        bounded(self.timeout, query.fetch_one(self.db()))
            .await?
            .try_into()
    }

    async fn list_users(&self) -> Result<Vec<User>, StoreError> {
        let query = sqlx::query_as::<_, UserRow>("SELECT * FROM users ORDER BY created_at, id");
        let rows = bounded(self.timeout, query.fetch_all(self.db())).await?;
        rows.into_iter().map(User::try_from).collect()
    }

    async fn list_users_after(
        &self,
        filter: &UserFilter,
        after: Option<&After>,
        limit: u32,
    ) -> Result<Vec<User>, StoreError> {
        let after_id = after
            .map(|a| Uuid::parse_str(&a.id))
            .transpose()
            .map_err(StoreError::corrupt)?;
        let query = sqlx::query_as::<_, UserRow>(
            "SELECT * FROM users \
             WHERE ($1::TEXT IS NULL OR username = $1) AND ($2::TEXT IS NULL OR email = $2) \
             AND ($3::TIMESTAMPTZ IS NULL OR (created_at, id) > ($3, $4)) \
             ORDER BY created_at, id LIMIT $5",
        )
        .bind(filter.username.as_ref().map(Username::as_str))
        .bind(filter.email.as_ref().map(Email::as_str))
        .bind(after.map(|a| a.created_at))
        .bind(after_id)
        .bind(i64::from(limit));
        let rows = bounded(self.timeout, query.fetch_all(self.db())).await?;
        rows.into_iter().map(User::try_from).collect()
    }

    async fn update_user(&self, user: &User, expected_version: i64) -> Result<(), StoreError> {
        let query = sqlx::query(
            "UPDATE users SET username = $1, email = $2, email_verified = $3, display_name = $4, \
             claims = $5, disabled = $6, roles = $7, updated_at = $8, version = version + 1 \
             WHERE id = $9 AND version = $10",
        )
        .bind(user.username.as_str())
        .bind(user.email.as_ref().map(Email::as_str))
        .bind(user.email_verified)
        .bind(user.display_name.as_deref())
        .bind(Json(&user.claims))
        .bind(user.disabled)
        .bind(Json(&user.roles))
        .bind(user.updated_at)
        .bind(user.id)
        .bind(expected_version);
        let affected = bounded(self.timeout, query.execute(self.db()))
            .await?
            .rows_affected();
        self.changed_or_why("users", &user.id.to_string(), affected)
            .await
    }

    async fn delete_user(&self, id: Uuid, expected_version: Option<i64>) -> Result<(), StoreError> {
        let query =
            sqlx::query("DELETE FROM users WHERE id = $1 AND ($2::BIGINT IS NULL OR version = $2)")
                .bind(id)
                .bind(expected_version);
        let affected = bounded(self.timeout, query.execute(self.db()))
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
            "UPDATE users SET password_hash = $1, updated_at = $2, version = version + 1 \
             WHERE id = $3",
        )
        .bind(hash)
        .bind(now)
        .bind(id);
        match bounded(self.timeout, query.execute(self.db()))
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
            "UPDATE users SET password_hash = $1, updated_at = $2 \
             WHERE id = $3 AND password_hash = $4",
        )
        .bind(new_hash)
        .bind(now)
        .bind(id)
        .bind(old_hash);
        let affected = bounded(self.timeout, query.execute(self.db()))
            .await?
            .rows_affected();
        Ok(affected > 0)
    }
}
