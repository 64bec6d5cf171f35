//! Idempotency records of creating requests. A record is written by the insert of the row it
//! protects (`insert_client_idempotently`, `insert_user_idempotently`), in the same
//! transaction, so a retry finds either both or neither: no loss of Redis and no restart of the
//! database can let one `Idempotency-Key` create two rows.

use async_trait::async_trait;
use time::OffsetDateTime;

use super::StoreError;

/// The constraint a second record for one (caller, key) violates. Both backends report it under
/// this name, so callers can tell a lost race from another conflict.
pub const IDEMPOTENCY_CONFLICT: &str = "idempotency_records_pkey";

/// What one creating request answered, remembered for its `Idempotency-Key`.
#[derive(Clone, PartialEq, Eq)]
pub struct IdempotencyRecord {
    /// Who asked: keys are the caller's own.
    pub caller: String,
    /// SHA-256 (hex) of the `Idempotency-Key`; the key itself is never stored.
    pub key_digest: String,
    /// SHA-256 (hex) of the request (path and body); the body itself is never stored.
    pub request_digest: String,
    /// The HTTP status that was answered.
    pub status: u16,
    /// The response, sealed: it may hold a client secret.
    pub sealed_response: Vec<u8>,
    pub created_at: OffsetDateTime,
    /// Until when a retry is answered from this record; it may be purged from then on.
    pub expires_at: OffsetDateTime,
}

impl IdempotencyRecord {
    pub fn is_live(&self, now: OffsetDateTime) -> bool {
        now < self.expires_at
    }
}

impl std::fmt::Debug for IdempotencyRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdempotencyRecord")
            .field("caller", &self.caller)
            .field("status", &self.status)
            .field("created_at", &self.created_at)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// Reading and purging idempotency records; they are written only with the row they protect.
#[async_trait]
pub trait IdempotencyStore: Send + Sync {
    /// The record of (`caller`, `key_digest`) still live at `now`, if any.
    async fn find_idempotency_record(
        &self,
        caller: &str,
        key_digest: &str,
        now: OffsetDateTime,
    ) -> Result<Option<IdempotencyRecord>, StoreError>;

    /// Deletes at most `limit` records expired at `now` (a bounded batch, so a purge never
    /// holds the table for long); returns how many it deleted.
    async fn purge_expired_idempotency_records(
        &self,
        now: OffsetDateTime,
        limit: u32,
    ) -> Result<u64, StoreError>;
}
