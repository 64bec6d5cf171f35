use async_trait::async_trait;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{SqliteStore, from_unix, to_unix};
use crate::store::error::bounded;
use crate::store::factors::{count, for_user};
use crate::store::{FactorStore, StoreError, TOTP_FACTOR_CONFIRMED, TotpFactor};

#[derive(sqlx::FromRow)]
struct TotpRow {
    user_id: String,
    sealed_secret: Vec<u8>,
    created_at: i64,
    confirmed_at: Option<i64>,
    last_used_step: Option<i64>,
}

impl TryFrom<TotpRow> for TotpFactor {
    type Error = StoreError;

    fn try_from(row: TotpRow) -> Result<Self, StoreError> {
        Ok(Self {
            user_id: Uuid::parse_str(&row.user_id).map_err(StoreError::corrupt)?,
            sealed_secret: row.sealed_secret,
            created_at: from_unix(row.created_at)?,
            confirmed_at: row.confirmed_at.map(from_unix).transpose()?,
            last_used_step: row.last_used_step,
        })
    }
}

#[async_trait]
impl FactorStore for SqliteStore {
    async fn put_totp_factor(
        &self,
        user_id: Uuid,
        sealed_secret: &[u8],
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        // One statement: the check for a confirmed factor and the write cannot be split by a
        // confirmation in between.
        let query = sqlx::query(
            "INSERT INTO totp_factors (user_id, sealed_secret, created_at) VALUES (?, ?, ?) \
             ON CONFLICT (user_id) DO UPDATE SET sealed_secret = excluded.sealed_secret, \
             created_at = excluded.created_at, last_used_step = NULL \
             WHERE totp_factors.confirmed_at IS NULL",
        )
        .bind(user_id.to_string())
        .bind(sealed_secret)
        .bind(to_unix(now));
        let written = bounded(self.timeout, async {
            query.execute(&self.pool).await.map_err(for_user)
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
        let query = sqlx::query_as::<_, TotpRow>("SELECT * FROM totp_factors WHERE user_id = ?")
            .bind(user_id.to_string());
        bounded(self.timeout, query.fetch_optional(&self.pool))
            .await?
            .map(TotpFactor::try_from)
            .transpose()
    }

    async fn confirm_totp_factor(
        &self,
        user_id: Uuid,
        step: i64,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let query = sqlx::query(
            "UPDATE totp_factors SET confirmed_at = ?, last_used_step = ? \
             WHERE user_id = ? AND confirmed_at IS NULL \
             AND (last_used_step IS NULL OR last_used_step < ?)",
        )
        .bind(to_unix(now))
        .bind(step)
        .bind(user_id.to_string())
        .bind(step);
        let done = bounded(self.timeout, query.execute(&self.pool)).await?;
        Ok(done.rows_affected() == 1)
    }

    async fn use_totp_step(&self, user_id: Uuid, step: i64) -> Result<bool, StoreError> {
        let query = sqlx::query(
            "UPDATE totp_factors SET last_used_step = ? \
             WHERE user_id = ? AND confirmed_at IS NOT NULL \
             AND (last_used_step IS NULL OR last_used_step < ?)",
        )
        .bind(step)
        .bind(user_id.to_string())
        .bind(step);
        let done = bounded(self.timeout, query.execute(&self.pool)).await?;
        Ok(done.rows_affected() == 1)
    }

    async fn delete_totp_factor(&self, user_id: Uuid) -> Result<bool, StoreError> {
        let query =
            sqlx::query("DELETE FROM totp_factors WHERE user_id = ?").bind(user_id.to_string());
        let done = bounded(self.timeout, query.execute(&self.pool)).await?;
        Ok(done.rows_affected() > 0)
    }

    async fn replace_recovery_codes(
        &self,
        user_id: Uuid,
        digests: &[[u8; 32]],
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let user = user_id.to_string();
        bounded(self.timeout, async {
            // IMMEDIATE: two replacements at once run one after the other, so one set survives.
            let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
            let known = sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM users WHERE id = ?")
                .bind(&user)
                .fetch_one(&mut *tx)
                .await?;
            if known == 0 {
                return Err(StoreError::NotFound);
            }
            sqlx::query("DELETE FROM recovery_codes WHERE user_id = ?")
                .bind(&user)
                .execute(&mut *tx)
                .await?;
            for digest in digests {
                sqlx::query(
                    "INSERT INTO recovery_codes (user_id, digest, created_at) VALUES (?, ?, ?)",
                )
                .bind(&user)
                .bind(&digest[..])
                .bind(to_unix(now))
                .execute(&mut *tx)
                .await?;
            }
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
        let user = user_id.to_string();
        let remaining = bounded(self.timeout, async {
            // IMMEDIATE: the count below is of the state this use left, not a later one.
            let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
            let used = sqlx::query(
                "UPDATE recovery_codes SET used_at = ? \
                 WHERE user_id = ? AND digest = ? AND used_at IS NULL",
            )
            .bind(to_unix(now))
            .bind(&user)
            .bind(&digest[..])
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if used != 1 {
                return Ok(None);
            }
            let remaining = sqlx::query_scalar::<_, i64>(
                "SELECT COUNT(*) FROM recovery_codes WHERE user_id = ? AND used_at IS NULL",
            )
            .bind(&user)
            .fetch_one(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok::<_, sqlx::Error>(Some(remaining))
        })
        .await?;
        remaining.map(count).transpose()
    }

    async fn count_recovery_codes(&self, user_id: Uuid) -> Result<u32, StoreError> {
        let query = sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM recovery_codes WHERE user_id = ? AND used_at IS NULL",
        )
        .bind(user_id.to_string());
        count(bounded(self.timeout, query.fetch_one(&self.pool)).await?)
    }

    async fn delete_recovery_codes(&self, user_id: Uuid) -> Result<u64, StoreError> {
        let query =
            sqlx::query("DELETE FROM recovery_codes WHERE user_id = ?").bind(user_id.to_string());
        let done = bounded(self.timeout, query.execute(&self.pool)).await?;
        Ok(done.rows_affected())
    }
}
