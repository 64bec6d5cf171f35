use async_trait::async_trait;
use sqlx::types::Json;
use time::OffsetDateTime;

use super::PgStore;
use crate::crypto::SigningAlgorithm;
use crate::store::error::bounded;
use crate::store::{KeyState, SigningKeyRecord, SigningKeyStore, StoreError};

#[derive(sqlx::FromRow)]
struct Row {
    kid: String,
    algorithm: String,
    state: String,
    public_jwk: Json<serde_json::Value>,
    sealed_private_key: Vec<u8>,
    created_at: OffsetDateTime,
    activates_at: OffsetDateTime,
    retired_at: Option<OffsetDateTime>,
}

impl TryFrom<Row> for SigningKeyRecord {
    type Error = StoreError;

    fn try_from(row: Row) -> Result<Self, StoreError> {
        Ok(Self {
            algorithm: SigningAlgorithm::parse(&row.algorithm)
                .ok_or_else(|| StoreError::corrupt(format!("algorithm {}", row.algorithm)))?,
            state: KeyState::parse(&row.state)
                .ok_or_else(|| StoreError::corrupt(format!("key state {}", row.state)))?,
            public_jwk: row.public_jwk.0,
            sealed_private_key: row.sealed_private_key,
            created_at: row.created_at,
            activates_at: row.activates_at,
            retired_at: row.retired_at,
            kid: row.kid,
        })
    }
}

#[async_trait]
impl SigningKeyStore for PgStore {
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
             created_at, activates_at, retired_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&key.kid)
        .bind(key.algorithm.as_str())
        .bind(key.state.as_str())
        .bind(Json(&key.public_jwk))
        .bind(&key.sealed_private_key)
        .bind(key.created_at)
        .bind(key.activates_at)
        .bind(key.retired_at);
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
            // Lock the candidate first: of two instances promoting it, the second waits here
            // and then finds it no longer `next`.
            let algorithm: Option<String> = sqlx::query_scalar(
                "SELECT algorithm FROM signing_keys WHERE kid = $1 AND state = 'next' FOR UPDATE",
            )
            .bind(kid)
            .fetch_optional(&mut *tx)
            .await?;
            let Some(algorithm) = algorithm else {
                return Ok::<_, sqlx::Error>(false);
            };
            // Retire before promoting: the one-active-per-algorithm index is checked per row.
            sqlx::query(
                "UPDATE signing_keys SET state = 'retired', retired_at = $1 \
                 WHERE algorithm = $2 AND state = 'active'",
            )
            .bind(now)
            .bind(&algorithm)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "UPDATE signing_keys SET state = 'active', activates_at = $1 WHERE kid = $2",
            )
            .bind(now)
            .bind(kid)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(true)
        })
        .await
    }

    async fn delete_signing_keys_retired_before(
        &self,
        cutoff: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        let query =
            sqlx::query("DELETE FROM signing_keys WHERE state = 'retired' AND retired_at < $1")
                .bind(cutoff);
        Ok(bounded(self.timeout, query.execute(&self.pool))
            .await?
            .rows_affected())
    }
}
