use async_trait::async_trait;
use time::OffsetDateTime;

use super::StoreError;

/// How long a token, grant or family revocation is kept: longer than any access token lives
/// (`admin::clients::MAX_ACCESS_TOKEN_TTL_SECS`, one day) plus clock leeway.
pub const REVOCATION_HORIZON: std::time::Duration = std::time::Duration::from_secs(86_400 + 3_600);

/// What a row of the change feed is about. Revocations (every kind but `ClientChanged`, `Keys` and `UserChanged`) are kept
/// until `expires_at`, when no token they cover can still be live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChangeKind {
    /// One access token, by the SHA-256 of its `jti` (RFC 7009 §2.2).
    Token,
    /// Every token issued under a grant.
    Grant,
    /// Every token descended from one authorization code (RFC 9700 §4.2.1).
    Family,
    /// Every token and browser session of a user issued at or before `at`.
    User,
    /// Every token of a client issued at or before `at`.
    Client,
    /// `"<client id> <scope>"`: the client's tokens carrying the scope, issued at or before `at`.
    Scope,
    /// A client's registration or secrets changed: cached copies must be read again.
    ClientChanged,
    /// The signing keys changed: the key ring must be read again.
    Keys,
    /// A user's profile or status changed: cached copies must be read again.
    UserChanged,
}

impl ChangeKind {
    pub const ALL: [Self; 9] = [
        Self::Token,
        Self::Grant,
        Self::Family,
        Self::User,
        Self::Client,
        Self::Scope,
        Self::ClientChanged,
        Self::Keys,
        Self::UserChanged,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Token => "token",
            Self::Grant => "grant",
            Self::Family => "family",
            Self::User => "user",
            Self::Client => "client",
            Self::Scope => "scope",
            Self::ClientChanged => "client-changed",
            Self::Keys => "keys",
            Self::UserChanged => "user-changed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == s)
    }
}

/// How long a user's cut-off is kept: longer than any browser session lives
/// (`sessions.lifetime_secs` is at most 30 days) and than any token.
pub const SESSION_CUT_OFF_HORIZON: std::time::Duration =
    std::time::Duration::from_secs(31 * 86_400);

impl NewChange {
    /// A cut-off at `now`: what the subject was issued until now is refused from now on.
    pub fn cut_off(kind: ChangeKind, subject: impl Into<String>, now: OffsetDateTime) -> Self {
        let horizon = match kind {
            ChangeKind::User => SESSION_CUT_OFF_HORIZON,
            _ => REVOCATION_HORIZON,
        };
        Self {
            kind,
            subject: subject.into(),
            at: now,
            expires_at: now + horizon,
        }
    }

    /// A note that cached copies of the subject must be read again.
    pub fn changed(kind: ChangeKind, subject: impl Into<String>, now: OffsetDateTime) -> Self {
        Self {
            kind,
            subject: subject.into(),
            at: now,
            // Only instances following the feed now need it; a day covers one that was away.
            expires_at: now + time::Duration::hours(1),
        }
    }

    /// A token, grant or family revocation recorded at `now`, kept for [`REVOCATION_HORIZON`].
    pub fn revocation(kind: ChangeKind, subject: impl Into<String>, now: OffsetDateTime) -> Self {
        Self {
            kind,
            subject: subject.into(),
            at: now,
            expires_at: now + REVOCATION_HORIZON,
        }
    }
}

/// A change to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewChange {
    pub kind: ChangeKind,
    pub subject: String,
    /// When it happened; for cut-offs, tokens issued at or before it are refused.
    pub at: OffsetDateTime,
    /// After this the row may be forgotten.
    pub expires_at: OffsetDateTime,
}

/// A recorded change, with its place in the feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub seq: i64,
    pub change: NewChange,
}

/// Rung after a write to the change feed has committed, so this instance can apply it and tell
/// the others at once instead of at their next poll (src/current/notices.rs). Rings coalesce:
/// whoever waits learns "the feed moved", and reads it.
#[derive(Debug, Clone, Default)]
pub struct ChangeBell(std::sync::Arc<tokio::sync::Notify>);

impl ChangeBell {
    pub fn ring(&self) {
        self.0.notify_one();
    }

    pub async fn rung(&self) {
        self.0.notified().await;
    }
}

/// The change feed (see migration 0009): append-only, read in `seq` order by every instance.
#[async_trait]
pub trait ChangeStore: Send + Sync {
    /// Rung by this store after each committed write to the feed.
    fn change_bell(&self) -> ChangeBell;

    /// Appends `change`; returns its `seq`.
    async fn record_change(&self, change: &NewChange) -> Result<i64, StoreError>;

    /// At most `limit` changes with a `seq` above `after`, in `seq` order.
    async fn changes_after(&self, after: i64, limit: u32) -> Result<Vec<Change>, StoreError>;

    /// Whether a change of `kind` about `subject` that has not expired at `now` exists: the
    /// database's own answer, for decisions that cannot wait for the feed (a code raced).
    async fn change_recorded(
        &self,
        kind: ChangeKind,
        subject: &str,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;

    /// The highest `seq` recorded, 0 for none.
    async fn last_change_seq(&self) -> Result<i64, StoreError>;

    /// Deletes at most `limit` changes that expired before `cutoff`; returns how many.
    async fn purge_changes(&self, cutoff: OffsetDateTime, limit: u32) -> Result<u64, StoreError>;
}
