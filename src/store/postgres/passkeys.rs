use async_trait::async_trait;
use sqlx::types::Json;
use time::OffsetDateTime;
use uuid::Uuid;

use super::PgStore;
use crate::store::error::bounded;
use crate::store::passkeys::for_registration;
use crate::store::{PasskeyStore, StoreError, StoredPasskey};

#[derive(sqlx::FromRow)]
struct PasskeyRow {
    id: Uuid,
    user_id: Uuid,
    credential_id: Vec<u8>,
    name: String,
    credential: Json<serde_json::Value>,
    created_at: OffsetDateTime,
    last_used_at: Option<OffsetDateTime>,
}

impl From<PasskeyRow> for StoredPasskey {
    fn from(row: PasskeyRow) -> Self {
        Self {
            id: row.id,
            user_id: row.user_id,
            credential_id: row.credential_id,
            name: row.name,
            credential: row.credential.0,
            created_at: row.created_at,
            last_used_at: row.last_used_at,
        }
    }
}

#[async_trait]
impl PasskeyStore for PgStore {
    async fn add_passkey(&self, passkey: &StoredPasskey) -> Result<(), StoreError> {
        let query = sqlx::query(
            "INSERT INTO passkeys (id, user_id, credential_id, name, credential, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(passkey.id)
        .bind(passkey.user_id)
        .bind(&passkey.credential_id)
        .bind(&passkey.name)
        .bind(Json(&passkey.credential))
        .bind(passkey.created_at);
        bounded(self.timeout, async {
            query.execute(self.db()).await.map_err(for_registration)
        })
        .await?;
        Ok(())
    }

    async fn list_passkeys(&self, user_id: Uuid) -> Result<Vec<StoredPasskey>, StoreError> {
        let query = sqlx::query_as::<_, PasskeyRow>(
            "SELECT * FROM passkeys WHERE user_id = $1 ORDER BY created_at, id",
        )
        .bind(user_id);
        let rows = bounded(self.timeout, query.fetch_all(self.db())).await?;
        Ok(rows.into_iter().map(StoredPasskey::from).collect())
    }

    async fn find_passkey(
        &self,
        credential_id: &[u8],
    ) -> Result<Option<StoredPasskey>, StoreError> {
        let query =
            sqlx::query_as::<_, PasskeyRow>("SELECT * FROM passkeys WHERE credential_id = $1")
                .bind(credential_id);
        let row = bounded(self.timeout, query.fetch_optional(self.db())).await?;
        Ok(row.map(StoredPasskey::from))
    }

    async fn record_passkey_use(
        &self,
        id: Uuid,
        credential: &serde_json::Value,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let query =
            sqlx::query("UPDATE passkeys SET credential = $1, last_used_at = $2 WHERE id = $3")
                .bind(Json(credential))
                .bind(now)
                .bind(id);
        let done = bounded(self.timeout, query.execute(self.db())).await?;
        Ok(done.rows_affected() > 0)
    }

    async fn rename_passkey(
        &self,
        user_id: Uuid,
        id: Uuid,
        name: &str,
    ) -> Result<bool, StoreError> {
        let query = sqlx::query("UPDATE passkeys SET name = $1 WHERE id = $2 AND user_id = $3")
            .bind(name)
            .bind(id)
            .bind(user_id);
        let done = bounded(self.timeout, query.execute(self.db())).await?;
        Ok(done.rows_affected() > 0)
    }

    async fn delete_passkey(&self, user_id: Uuid, id: Uuid) -> Result<bool, StoreError> {
        let query = sqlx::query("DELETE FROM passkeys WHERE id = $1 AND user_id = $2")
            .bind(id)
            .bind(user_id);
        let done = bounded(self.timeout, query.execute(self.db())).await?;
        Ok(done.rows_affected() > 0)
    }

    async fn delete_passkeys(&self, user_id: Uuid) -> Result<u64, StoreError> {
        let query = sqlx::query("DELETE FROM passkeys WHERE user_id = $1").bind(user_id);
        let done = bounded(self.timeout, query.execute(self.db())).await?;
        Ok(done.rows_affected())
    }
}
