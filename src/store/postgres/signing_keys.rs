use async_trait::async_trait;
use sqlx::types::Json;
use time::OffsetDateTime;

use super::PgStore;
use crate::crypto::SigningAlgorithm;
use crate::store::error::bounded;
use crate::store::{
    KeyRevocationOutcome, KeyState, SigningKeyRecord, SigningKeyRevocation, SigningKeyStore,
    StoreError,
};

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
            sqlx::query_as::<_, Row>(
                "SELECT * FROM signing_keys \
                 WHERE kid NOT IN (SELECT kid FROM signing_key_revocations) \
                 ORDER BY created_at, kid",
            )
            .fetch_all(self.db()),
        )
        .await?;
        rows.into_iter().map(SigningKeyRecord::try_from).collect()
    }

    async fn insert_signing_key(&self, key: &SigningKeyRecord) -> Result<(), StoreError> {
        let query = sqlx::query(
            "INSERT INTO signing_keys (kid, algorithm, state, public_jwk, sealed_private_key, \
             created_at, activates_at, retired_at) SELECT $1, $2, $3, $4, $5, $6, $7, $8 \
             WHERE NOT EXISTS (SELECT 1 FROM signing_key_revocations WHERE kid = $1)",
        )
        .bind(&key.kid)
        .bind(key.algorithm.as_str())
        .bind(key.state.as_str())
        .bind(Json(&key.public_jwk))
        .bind(&key.sealed_private_key)
        .bind(key.created_at)
        .bind(key.activates_at)
        .bind(key.retired_at);
        let inserted = bounded(self.timeout, query.execute(self.db()))
            .await?
            .rows_affected();
        if inserted == 0 {
            // A revoked key never comes back, whoever tries to store it again.
            return Err(StoreError::Conflict {
                constraint: "signing_key_revocations_pkey".into(),
            });
        }
        Ok(())
    }

    async fn promote_signing_key(
        &self,
        kid: &str,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        bounded(self.timeout, async {
            let mut tx = self.begin().await?;
            // Lock the candidate first: of two instances promoting it, the second waits here
            // and then finds it no longer `next`.
            let algorithm: Option<String> = sqlx::query_scalar(
                "SELECT algorithm FROM signing_keys WHERE kid = $1 AND state = 'next' \
                 AND kid NOT IN (SELECT kid FROM signing_key_revocations) FOR UPDATE",
            )
            .bind(kid)
            .fetch_optional(&mut tx)
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
            .execute(&mut tx)
            .await?;
            sqlx::query(
                "UPDATE signing_keys SET state = 'active', activates_at = $1 WHERE kid = $2",
            )
            .bind(now)
            .bind(kid)
            .execute(&mut tx)
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
        Ok(bounded(self.timeout, query.execute(self.db()))
            .await?
            .rows_affected())
    }

    async fn revoke_signing_key(
        &self,
        kid: &str,
        now: OffsetDateTime,
    ) -> Result<KeyRevocationOutcome, StoreError> {
        let outcome = bounded(self.timeout, async {
            let mut tx = self.begin().await?;
            // Delete first: the row lock orders this after a concurrent promotion, which would
            // have made the key active (and then it is refused here).
            let deleted: Option<String> = sqlx::query_scalar(
                "DELETE FROM signing_keys WHERE kid = $1 AND state <> 'active' RETURNING algorithm",
            )
            .bind(kid)
            .fetch_optional(&mut tx)
            .await?;
            if let Some(algorithm) = deleted {
                sqlx::query(
                    "INSERT INTO signing_key_revocations (kid, algorithm, revoked_at) \
                     VALUES ($1, $2, $3) ON CONFLICT (kid) DO NOTHING",
                )
                .bind(kid)
                .bind(&algorithm)
                .bind(now)
                .execute(&mut tx)
                .await?;
                tx.commit().await?;
                return Ok::<_, sqlx::Error>(Found::Revoked(algorithm));
            }
            let active: Option<String> =
                sqlx::query_scalar("SELECT state FROM signing_keys WHERE kid = $1")
                    .bind(kid)
                    .fetch_optional(&mut tx)
                    .await?;
            if active.is_some() {
                return Ok(Found::Active);
            }
            let earlier = sqlx::query_as::<_, RevocationRow>(
                "SELECT * FROM signing_key_revocations WHERE kid = $1",
            )
            .bind(kid)
            .fetch_optional(&mut tx)
            .await?;
            Ok(earlier.map_or(Found::Nothing, Found::Earlier))
        })
        .await?;
        match outcome {
            Found::Revoked(algorithm) => Ok(KeyRevocationOutcome::Revoked(SigningKeyRevocation {
                kid: kid.to_owned(),
                algorithm: SigningAlgorithm::parse(&algorithm)
                    .ok_or_else(|| StoreError::corrupt(format!("algorithm {algorithm}")))?,
                revoked_at: now,
            })),
            Found::Active => Ok(KeyRevocationOutcome::Active),
            Found::Earlier(row) => Ok(KeyRevocationOutcome::AlreadyRevoked(row.try_into()?)),
            Found::Nothing => Err(StoreError::NotFound),
        }
    }

    async fn list_signing_key_revocations(&self) -> Result<Vec<SigningKeyRevocation>, StoreError> {
        let rows = bounded(
            self.timeout,
            sqlx::query_as::<_, RevocationRow>(
                "SELECT * FROM signing_key_revocations ORDER BY revoked_at, kid",
            )
            .fetch_all(self.db()),
        )
        .await?;
        rows.into_iter()
            .map(SigningKeyRevocation::try_from)
            .collect()
    }
}

/// What the revocation transaction found.
enum Found {
    Revoked(String),
    Active,
    Earlier(RevocationRow),
    Nothing,
}

#[derive(sqlx::FromRow)]
struct RevocationRow {
    kid: String,
    algorithm: String,
    revoked_at: OffsetDateTime,
}

impl TryFrom<RevocationRow> for SigningKeyRevocation {
    type Error = StoreError;

    fn try_from(row: RevocationRow) -> Result<Self, StoreError> {
        Ok(Self {
            algorithm: SigningAlgorithm::parse(&row.algorithm)
                .ok_or_else(|| StoreError::corrupt(format!("algorithm {}", row.algorithm)))?,
            revoked_at: row.revoked_at,
            kid: row.kid,
        })
    }
}
