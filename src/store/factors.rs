//! Second factors: a TOTP authenticator (RFC 6238) and recovery codes per user. Replay
//! protection lives here, in the database, not in the ephemeral store: the last TOTP step used
//! and each recovery code's use are written by one conditional statement, so of two instances
//! presented the same code at once exactly one accepts it, and a lost Redis forgets nothing.
//! Deleting a user deletes their factors with them.

use async_trait::async_trait;
use time::OffsetDateTime;
use uuid::Uuid;

use super::StoreError;

/// The constraint a new enrolment meets when the user already has a confirmed authenticator
/// (a `Conflict` on it): replacing that one takes deleting it first.
pub const TOTP_FACTOR_CONFIRMED: &str = "totp_factors_confirmed";

/// A user's TOTP authenticator as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct TotpFactor {
    pub user_id: Uuid,
    /// The shared secret, sealed under the key ring's key-encryption key (the store never sees
    /// it in the clear).
    pub sealed_secret: Vec<u8>,
    pub created_at: OffsetDateTime,
    /// `None` while the enrolment waits for its first code: until then it is no second factor.
    pub confirmed_at: Option<OffsetDateTime>,
    /// The last time step (unix time / 30) a code was accepted for; a code of this step or an
    /// earlier one is refused (RFC 6238 §5.2).
    pub last_used_step: Option<i64>,
}

impl TotpFactor {
    pub fn is_confirmed(&self) -> bool {
        self.confirmed_at.is_some()
    }
}

impl std::fmt::Debug for TotpFactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TotpFactor")
            .field("user_id", &self.user_id)
            .field("created_at", &self.created_at)
            .field("confirmed_at", &self.confirmed_at)
            .field("last_used_step", &self.last_used_step)
            .finish_non_exhaustive()
    }
}

/// TOTP authenticators and recovery codes. A user who does not exist is `NotFound` where a
/// factor would be written for them.
#[async_trait]
pub trait FactorStore: Send + Sync {
    /// Starts an enrolment with `sealed_secret`, unconfirmed, replacing an unconfirmed one (a
    /// restarted enrolment); a `Conflict` on [`TOTP_FACTOR_CONFIRMED`] if the user has a
    /// confirmed authenticator, which stays as it was.
    async fn put_totp_factor(
        &self,
        user_id: Uuid,
        sealed_secret: &[u8],
        now: OffsetDateTime,
    ) -> Result<(), StoreError>;

    async fn find_totp_factor(&self, user_id: Uuid) -> Result<Option<TotpFactor>, StoreError>;

    /// Confirms an unconfirmed enrolment with the first code, of time step `step`; false if
    /// there is none, it is confirmed already, or `step` is not after the last step used.
    async fn confirm_totp_factor(
        &self,
        user_id: Uuid,
        step: i64,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;

    /// Records the use of a code of time step `step` on a confirmed authenticator; false if
    /// there is none or `step` is not after the last step used (a replay, or the loser of a
    /// race on the same code).
    async fn use_totp_step(&self, user_id: Uuid, step: i64) -> Result<bool, StoreError>;

    /// Deletes the user's authenticator, confirmed or not; false if there was none.
    async fn delete_totp_factor(&self, user_id: Uuid) -> Result<bool, StoreError>;

    /// Replaces every recovery code of the user (used or not) by `digests`, in one transaction:
    /// the old codes stop working when the new ones exist.
    async fn replace_recovery_codes(
        &self,
        user_id: Uuid,
        digests: &[[u8; 32]],
        now: OffsetDateTime,
    ) -> Result<(), StoreError>;

    /// Marks the unused code with `digest` used; returns how many unused codes remain, or
    /// `None` if no unused code has that digest (wrong, already used, or lost a race).
    async fn use_recovery_code(
        &self,
        user_id: Uuid,
        digest: &[u8; 32],
        now: OffsetDateTime,
    ) -> Result<Option<u32>, StoreError>;

    /// How many unused recovery codes the user has.
    async fn count_recovery_codes(&self, user_id: Uuid) -> Result<u32, StoreError>;

    /// Deletes every recovery code of the user; returns how many there were.
    async fn delete_recovery_codes(&self, user_id: Uuid) -> Result<u64, StoreError>;
}

/// A write for a user the database does not hold (a foreign-key violation) is `NotFound`.
pub(crate) fn for_user(error: sqlx::Error) -> StoreError {
    if let sqlx::Error::Database(db) = &error
        && db.is_foreign_key_violation()
    {
        return StoreError::NotFound;
    }
    error.into()
}

/// A count from the database as the `u32` the trait answers with.
pub(crate) fn count(n: i64) -> Result<u32, StoreError> {
    u32::try_from(n).map_err(StoreError::corrupt)
}
