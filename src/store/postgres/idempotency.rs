use async_trait::async_trait;
use time::OffsetDateTime;

use super::PgStore;
use crate::store::error::bounded;
use crate::store::{IDEMPOTENCY_CONFLICT, IdempotencyRecord, IdempotencyStore, StoreError};

#[derive(sqlx::FromRow)]
struct RecordRow {
    caller: String,
    key_digest: String,
    request_digest: String,
    status: i32,
    sealed_response: Vec<u8>,
    created_at: OffsetDateTime,
    expires_at: OffsetDateTime,
}

impl TryFrom<RecordRow> for IdempotencyRecord {
    type Error = StoreError;

    fn try_from(row: RecordRow) -> Result<Self, StoreError> {
        Ok(Self {
            caller: row.caller,
            key_digest: row.key_digest,
            request_digest: row.request_digest,
            status: u16::try_from(row.status).map_err(StoreError::corrupt)?,
            sealed_response: row.sealed_response,
            created_at: row.created_at,
            expires_at: row.expires_at,
        })
    }
}

/// Inserts `record` inside the caller's transaction, first of its writes. An expired record for
/// the same (caller, key) is replaced; a live one is a `Conflict` and inserts nothing.
pub(super) async fn insert_record(
    tx: &mut super::Tx,
    record: &IdempotencyRecord,
) -> Result<(), StoreError> {
    let inserted = sqlx::query(
        "INSERT INTO idempotency_records (caller, key_digest, request_digest, status, \
         sealed_response, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (caller, key_digest) DO UPDATE SET \
         request_digest = excluded.request_digest, status = excluded.status, \
         sealed_response = excluded.sealed_response, created_at = excluded.created_at, \
         expires_at = excluded.expires_at \
         WHERE idempotency_records.expires_at <= excluded.created_at",
    )
    .bind(&record.caller)
    .bind(&record.key_digest)
    .bind(&record.request_digest)
    .bind(i32::from(record.status))
    .bind(&record.sealed_response)
    .bind(record.created_at)
    .bind(record.expires_at)
    .execute(tx)
    .await?;
    if inserted.rows_affected() == 0 {
        return Err(StoreError::Conflict {
            constraint: IDEMPOTENCY_CONFLICT.into(),
        });
    }
    Ok(())
}

#[async_trait]
impl IdempotencyStore for PgStore {
    async fn find_idempotency_record(
        &self,
        caller: &str,
        key_digest: &str,
        now: OffsetDateTime,
    ) -> Result<Option<IdempotencyRecord>, StoreError> {
        let query = sqlx::query_as::<_, RecordRow>(
            "SELECT * FROM idempotency_records \
             WHERE caller = $1 AND key_digest = $2 AND expires_at > $3",
        )
        .bind(caller)
        .bind(key_digest)
        .bind(now);
        bounded(self.timeout, query.fetch_optional(self.db()))
            .await?
            .map(IdempotencyRecord::try_from)
            .transpose()
    }

    async fn purge_expired_idempotency_records(
        &self,
        now: OffsetDateTime,
        limit: u32,
    ) -> Result<u64, StoreError> {
        let query = sqlx::query(
            "DELETE FROM idempotency_records WHERE (caller, key_digest) IN \
             (SELECT caller, key_digest FROM idempotency_records WHERE expires_at <= $1 LIMIT $2)",
        )
        .bind(now)
        .bind(i64::from(limit));
        Ok(bounded(self.timeout, query.execute(self.db()))
            .await?
            .rows_affected())
    }
}
