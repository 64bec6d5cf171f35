use async_trait::async_trait;
use time::OffsetDateTime;
use uuid::Uuid;

use super::PgStore;
use crate::store::error::bounded;
use crate::store::factors::{count, for_user};
use crate::store::{FactorStore, StoreError, TOTP_FACTOR_CONFIRMED, TotpFactor};

#[derive(sqlx::FromRow)]
struct TotpRow {
    user_id: Uuid,
    sealed_secret: Vec<u8>,
    created_at: OffsetDateTime,
    confirmed_at: Option<OffsetDateTime>,
    last_used_step: Option<i64>,
}

impl From<TotpRow> for TotpFactor {
    fn from(row: TotpRow) -> Self {
        Self {
            user_id: row.user_id,
            sealed_secret: row.sealed_secret,
            created_at: row.created_at,
            confirmed_at: row.confirmed_at,
            last_used_step: row.last_used_step,
        }
    }
}

#[async_trait]
impl FactorStore for PgStore {
    async fn put_totp_factor(
        &self,
        user_id: Uuid,
        sealed_secret: &[u8],
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        // One statement: the conflicting row is locked and its `confirmed_at` read afresh, so a
        // confirmation committed meanwhile is seen and kept.
        let query = sqlx::query(
            "INSERT INTO totp_factors (user_id, sealed_secret, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (user_id) DO UPDATE SET sealed_secret = EXCLUDED.sealed_secret, \
             created_at = EXCLUDED.created_at, last_used_step = NULL \
             WHERE totp_factors.confirmed_at IS NULL",
        )
        .bind(user_id)
        .bind(sealed_secret)
        .bind(now);
        let written = bounded(self.timeout, async {
            query.execute(self.db()).await.map_err(for_user)
        })
        .await?
        .rows_affected();
        match written {
            0 => Err(StoreError::Conflict {
                constraint: TOTP_FACTOR_CONFIRMED.to_owned(),
            }),
            _ => Ok(()),
        }
    }

    async fn find_totp_factor(&self, user_id: Uuid) -> Result<Option<TotpFactor>, StoreError> {
        let query = sqlx::query_as::<_, TotpRow>("SELECT * FROM totp_factors WHERE user_id = $1")
            .bind(user_id);
        let row = bounded(self.timeout, query.fetch_optional(self.db())).await?;
        Ok(row.map(TotpFactor::from))
    }

    async fn confirm_totp_factor(
        &self,
        user_id: Uuid,
        step: i64,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        // A concurrent update waits for the row lock, then re-checks the condition against the
        // committed row (READ COMMITTED): the second of two confirmations matches nothing.
        let query = sqlx::query(
            "UPDATE totp_factors SET confirmed_at = $1, last_used_step = $2 \
             WHERE user_id = $3 AND confirmed_at IS NULL \
             AND (last_used_step IS NULL OR last_used_step < $2)",
        )
        .bind(now)
        .bind(step)
        .bind(user_id);
        let done = bounded(self.timeout, query.execute(self.db())).await?;
        Ok(done.rows_affected() == 1)
    }

    async fn use_totp_step(&self, user_id: Uuid, step: i64) -> Result<bool, StoreError> {
        let query = sqlx::query(
            "UPDATE totp_factors SET last_used_step = $1 \
             WHERE user_id = $2 AND confirmed_at IS NOT NULL \
             AND (last_used_step IS NULL OR last_used_step < $1)",
        )
        .bind(step)
        .bind(user_id);
        let done = bounded(self.timeout, query.execute(self.db())).await?;
        Ok(done.rows_affected() == 1)
    }

    async fn delete_totp_factor(&self, user_id: Uuid) -> Result<bool, StoreError> {
        let query = sqlx::query("DELETE FROM totp_factors WHERE user_id = $1").bind(user_id);
        let done = bounded(self.timeout, query.execute(self.db())).await?;
        Ok(done.rows_affected() > 0)
    }

    async fn replace_recovery_codes(
        &self,
        user_id: Uuid,
        digests: &[[u8; 32]],
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        bounded(self.timeout, async {
            let mut tx = self.begin().await?;
            // Two replacements at once queue on the user's row, so one set survives whole
            // rather than both sets mixed. NO KEY: the user's other writes (grants) go on.
            let known = sqlx::query("SELECT 1 FROM users WHERE id = $1 FOR NO KEY UPDATE")
                .bind(user_id)
                .fetch_optional(&mut tx)
                .await?;
            if known.is_none() {
                return Err(StoreError::NotFound);
            }
            sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
                .bind(user_id)
                .execute(&mut tx)
                .await?;
            let digests: Vec<Vec<u8>> = digests.iter().map(|d| d.to_vec()).collect();
            sqlx::query(
                "INSERT INTO recovery_codes (user_id, digest, created_at) \
                 SELECT $1::UUID, digest, $3::TIMESTAMPTZ FROM UNNEST($2::BYTEA[]) AS digest",
            )
            .bind(user_id)
            .bind(digests)
            .bind(now)
            .execute(&mut tx)
            .await?;
            tx.commit().await?;
            Ok::<_, StoreError>(())
        })
        .await
    }

    async fn use_recovery_code(
        &self,
        user_id: Uuid,
        digest: &[u8; 32],
        now: OffsetDateTime,
    ) -> Result<Option<u32>, StoreError> {
        let remaining = bounded(self.timeout, async {
            let mut tx = self.begin().await?;
            // The loser of a race waits for the row lock and then finds the code used.
            let used = sqlx::query(
                "UPDATE recovery_codes SET used_at = $1 \
                 WHERE user_id = $2 AND digest = $3 AND used_at IS NULL",
            )
            .bind(now)
            .bind(user_id)
            .bind(&digest[..])
            .execute(&mut tx)
            .await?
            .rows_affected();
            if used != 1 {
                return Ok(None);
            }
            let remaining = sqlx::query_scalar::<_, i64>(
                "SELECT COUNT(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL",
            )
            .bind(user_id)
            .fetch_one(&mut tx)
            .await?;
            tx.commit().await?;
            Ok::<_, sqlx::Error>(Some(remaining))
        })
        .await?;
        remaining.map(count).transpose()
    }

    async fn count_recovery_codes(&self, user_id: Uuid) -> Result<u32, StoreError> {
        let query = sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL",
        )
        .bind(user_id);
        count(bounded(self.timeout, query.fetch_one(self.db())).await?)
    }

    async fn delete_recovery_codes(&self, user_id: Uuid) -> Result<u64, StoreError> {
        let query = sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1").bind(user_id);
        let done = bounded(self.timeout, query.execute(self.db())).await?;
        Ok(done.rows_affected())
    }
}
