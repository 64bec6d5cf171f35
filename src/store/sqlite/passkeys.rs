use async_trait::async_trait;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{SqliteStore, from_unix, to_unix};
use crate::store::error::bounded;
use crate::store::passkeys::for_registration;
use crate::store::{PasskeyStore, StoreError, StoredPasskey};

#[derive(sqlx::FromRow)]
struct PasskeyRow {
    id: String,
    user_id: String,
    credential_id: Vec<u8>,
    name: String,
    credential: String,
    created_at: i64,
    last_used_at: Option<i64>,
}

impl TryFrom<PasskeyRow> for StoredPasskey {
    type Error = StoreError;

    fn try_from(row: PasskeyRow) -> Result<Self, StoreError> {
        Ok(Self {
            id: Uuid::parse_str(&row.id).map_err(StoreError::corrupt)?,
            user_id: Uuid::parse_str(&row.user_id).map_err(StoreError::corrupt)?,
            credential_id: row.credential_id,
            name: row.name,
            credential: serde_json::from_str(&row.credential).map_err(StoreError::corrupt)?,
            created_at: from_unix(row.created_at)?,
            last_used_at: row.last_used_at.map(from_unix).transpose()?,
        })
    }
}

#[async_trait]
impl PasskeyStore for SqliteStore {
    async fn add_passkey(&self, passkey: &StoredPasskey) -> Result<(), StoreError> {
        let query = sqlx::query(
            "INSERT INTO passkeys (id, user_id, credential_id, name, credential, created_at) \
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(passkey.id.to_string())
        .bind(passkey.user_id.to_string())
        .bind(&passkey.credential_id)
        .bind(&passkey.name)
        .bind(passkey.credential.to_string())
        .bind(to_unix(passkey.created_at));
        bounded(self.timeout, async {
            query.execute(&self.pool).await.map_err(for_registration)
        })
        .await?;
        Ok(())
    }

    async fn list_passkeys(&self, user_id: Uuid) -> Result<Vec<StoredPasskey>, StoreError> {
        let query = sqlx::query_as::<_, PasskeyRow>(
            "SELECT * FROM passkeys WHERE user_id = ? ORDER BY created_at, id",
        )
        .bind(user_id.to_string());
        bounded(self.timeout, query.fetch_all(&self.pool))
            .await?
            .into_iter()
            .map(StoredPasskey::try_from)
            .collect()
    }

    async fn find_passkey(
        &self,
        credential_id: &[u8],
    ) -> Result<Option<StoredPasskey>, StoreError> {
        let query =
            sqlx::query_as::<_, PasskeyRow>("SELECT * FROM passkeys WHERE credential_id = ?")
                .bind(credential_id);
        bounded(self.timeout, query.fetch_optional(&self.pool))
            .await?
            .map(StoredPasskey::try_from)
            .transpose()
    }

    async fn record_passkey_use(
        &self,
        id: Uuid,
        credential: &serde_json::Value,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let query =
            sqlx::query("UPDATE passkeys SET credential = ?, last_used_at = ? WHERE id = ?")
                .bind(credential.to_string())
                .bind(to_unix(now))
                .bind(id.to_string());
        let done = bounded(self.timeout, query.execute(&self.pool)).await?;
        Ok(done.rows_affected() > 0)
    }

    async fn rename_passkey(
        &self,
        user_id: Uuid,
        id: Uuid,
        name: &str,
    ) -> Result<bool, StoreError> {
        let query = sqlx::query("UPDATE passkeys SET name = ? WHERE id = ? AND user_id = ?")
            .bind(name)
            .bind(id.to_string())
            .bind(user_id.to_string());
        let done = bounded(self.timeout, query.execute(&self.pool)).await?;
        Ok(done.rows_affected() > 0)
    }

    async fn delete_passkey(&self, user_id: Uuid, id: Uuid) -> Result<bool, StoreError> {
        let query = sqlx::query("DELETE FROM passkeys WHERE id = ? AND user_id = ?")
            .bind(id.to_string())
            .bind(user_id.to_string());
        let done = bounded(self.timeout, query.execute(&self.pool)).await?;
        Ok(done.rows_affected() > 0)
    }

    async fn delete_passkeys(&self, user_id: Uuid) -> Result<u64, StoreError> {
        let query = sqlx::query("DELETE FROM passkeys WHERE user_id = ?").bind(user_id.to_string());
        let done = bounded(self.timeout, query.execute(&self.pool)).await?;
        Ok(done.rows_affected())
    }
}
