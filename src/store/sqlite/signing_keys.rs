use async_trait::async_trait;
use time::OffsetDateTime;

use super::{SqliteStore, from_unix, to_unix};
use crate::crypto::SigningAlgorithm;
use crate::store::error::bounded;
use crate::store::{KeyState, SigningKeyRecord, SigningKeyStore, StoreError};

#[derive(sqlx::FromRow)]
struct Row {
    kid: String,
    algorithm: String,
    state: String,
    public_jwk: String,
    sealed_private_key: Vec<u8>,
    created_at: i64,
    activates_at: i64,
    retired_at: Option<i64>,
}

impl TryFrom<Row> for SigningKeyRecord {
    type Error = StoreError;

    fn try_from(row: Row) -> Result<Self, StoreError> {
        Ok(Self {
            algorithm: SigningAlgorithm::parse(&row.algorithm)
                .ok_or_else(|| StoreError::corrupt(format!("algorithm {}", row.algorithm)))?,
            state: KeyState::parse(&row.state)
                .ok_or_else(|| StoreError::corrupt(format!("key state {}", row.state)))?,
            public_jwk: serde_json::from_str(&row.public_jwk).map_err(StoreError::corrupt)?,
            sealed_private_key: row.sealed_private_key,
            created_at: from_unix(row.created_at)?,
            activates_at: from_unix(row.activates_at)?,
            retired_at: row.retired_at.map(from_unix).transpose()?,
            kid: row.kid,
        })
    }
}

#[async_trait]
impl SigningKeyStore for SqliteStore {
    async fn list_signing_keys(&self) -> Result<Vec<SigningKeyRecord>, StoreError> {
        let rows = bounded(
            self.timeout,
            sqlx::query_as::<_, Row>("SELECT * FROM signing_keys ORDER BY created_at, kid")
                .fetch_all(&self.pool),
        )
        .await?;
        rows.into_iter().map(SigningKeyRecord::try_from).collect()
    }

    async fn insert_signing_key(&self, key: &SigningKeyRecord) -> Result<(), StoreError> {
        let query = sqlx::query(
            "INSERT INTO signing_keys (kid, algorithm, state, public_jwk, sealed_private_key, \
             created_at, activates_at, retired_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&key.kid)
        .bind(key.algorithm.as_str())
        .bind(key.state.as_str())
        .bind(key.public_jwk.to_string())
        .bind(&key.sealed_private_key)
        .bind(to_unix(key.created_at))
        .bind(to_unix(key.activates_at))
        .bind(key.retired_at.map(to_unix));
        bounded(self.timeout, query.execute(&self.pool))
            .await
            .map(drop)
    }

    async fn promote_signing_key(
        &self,
        kid: &str,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        bounded(self.timeout, async {
            let mut tx = self.pool.begin().await?;
            // Retire first: the one-active-per-algorithm index is checked row by row.
            sqlx::query(
                "UPDATE signing_keys SET state = 'retired', retired_at = ? \
                 WHERE state = 'active' AND kid <> ? \
                 AND algorithm = (SELECT algorithm FROM signing_keys WHERE kid = ? AND state = 'next')",
            )
            .bind(to_unix(now))
            .bind(kid)
            .bind(kid)
            .execute(&mut *tx)
            .await?;
            let promoted = sqlx::query(
                "UPDATE signing_keys SET state = 'active', activates_at = ? \
                 WHERE kid = ? AND state = 'next'",
            )
            .bind(to_unix(now))
            .bind(kid)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if promoted == 1 {
                tx.commit().await?;
            }
            Ok::<_, sqlx::Error>(promoted == 1)
        })
        .await
    }

    async fn delete_signing_keys_retired_before(
        &self,
        cutoff: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        let query =
            sqlx::query("DELETE FROM signing_keys WHERE state = 'retired' AND retired_at < ?")
                .bind(to_unix(cutoff));
        Ok(bounded(self.timeout, query.execute(&self.pool))
            .await?
            .rows_affected())
    }
}
