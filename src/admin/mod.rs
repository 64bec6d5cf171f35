//! Admin use cases, shared by the CLI and (later) the `/v1` REST API, so the two can never
//! disagree about what a valid record is.

pub mod audit;
pub mod clients;
pub mod declare;
pub mod grants;
pub mod keys;
pub mod users;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use time::OffsetDateTime;

use crate::store::{
    After, ChangeKind, Database, IdempotencyRecord, NewAuditEvent, NewChange, StoreError,
};

/// Makes the idempotency record of a creation from what it created. The use case stores the
/// record in the transaction that creates the row, so a retry finds both or neither.
pub type Remember<T> = Box<dyn Fn(&T) -> Result<IdempotencyRecord, AdminError> + Send + Sync>;

/// The longest page a list returns.
pub const MAX_PAGE_SIZE: u32 = 200;
/// The page size when none is asked for.
pub const DEFAULT_PAGE_SIZE: u32 = 50;

/// Where a list page starts: after the record with this creation time and id. Opaque to
/// callers, so the order can evolve without breaking them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor(After);

impl Cursor {
    pub fn after(created_at: OffsetDateTime, id: impl Into<String>) -> Self {
        Self(After {
            created_at,
            id: id.into(),
        })
    }

    /// The creation time and id the page starts after.
    pub(crate) fn position(&self) -> (OffsetDateTime, String) {
        (self.0.created_at, self.0.id.clone())
    }

    pub fn encode(&self) -> String {
        let raw = format!("{}:{}", self.0.created_at.unix_timestamp(), self.0.id);
        URL_SAFE_NO_PAD.encode(raw)
    }

    pub fn decode(encoded: &str) -> Result<Self, String> {
        let invalid = || "not a cursor returned by this API".to_owned();
        let raw = URL_SAFE_NO_PAD.decode(encoded).map_err(|_| invalid())?;
        let raw = String::from_utf8(raw).map_err(|_| invalid())?;
        let (seconds, id) = raw.split_once(':').ok_or_else(invalid)?;
        let seconds: i64 = seconds.parse().map_err(|_| invalid())?;
        let created_at = OffsetDateTime::from_unix_timestamp(seconds).map_err(|_| invalid())?;
        if id.is_empty() || id.len() > 200 {
            return Err(invalid());
        }
        Ok(Self::after(created_at, id))
    }
}

/// One page of a list: `limit` records after `after`.
#[derive(Debug, Clone)]
pub struct PageRequest {
    pub limit: u32,
    pub after: Option<Cursor>,
}

impl Default for PageRequest {
    fn default() -> Self {
        Self {
            limit: DEFAULT_PAGE_SIZE,
            after: None,
        }
    }
}

impl PageRequest {
    /// Checks `limit` (1 to [`MAX_PAGE_SIZE`]) and decodes `cursor`, naming each bad one.
    pub fn parse(limit: Option<u32>, cursor: Option<&str>) -> Result<Self, AdminError> {
        let mut problems = Problems::default();
        let limit = limit.unwrap_or(DEFAULT_PAGE_SIZE);
        if !(1..=MAX_PAGE_SIZE).contains(&limit) {
            problems.add("limit", format!("must be 1 to {MAX_PAGE_SIZE}"));
        }
        let after = cursor.and_then(|c| problems.check("cursor", Cursor::decode(c)));
        problems.into_result()?;
        Ok(Self { limit, after })
    }

    fn store_after(&self) -> Option<&After> {
        self.after.as_ref().map(|c| &c.0)
    }
}

/// A page of records and where the next one starts (`None` on the last page).
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<Cursor>,
}

impl<T> Page<T> {
    /// Builds a page from up to `limit + 1` records fetched in order: the extra one only says
    /// that another page exists.
    fn from_fetched(
        mut items: Vec<T>,
        limit: u32,
        key: impl Fn(&T) -> (OffsetDateTime, String),
    ) -> Self {
        let more = items.len() > limit as usize;
        items.truncate(limit as usize);
        let next = more
            .then(|| items.last().map(&key))
            .flatten()
            .map(|(created_at, id)| Cursor::after(created_at, id));
        Self { items, next }
    }
}

/// One field that failed validation and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FieldError {
    pub field: String,
    pub problem: String,
}

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("invalid input: {}", describe(.0))]
    Invalid(Vec<FieldError>),
    #[error("not found")]
    NotFound,
    /// The record changed since the caller read it (a stale `If-Match`).
    #[error("the record changed since it was read")]
    PreconditionFailed,
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("the store failed")]
    Store(#[source] StoreError),
    /// A bounded resource (the password-hashing bulkhead) is full; try again shortly.
    #[error("busy; try again shortly")]
    Unavailable,
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<crate::crypto::PasswordError> for AdminError {
    fn from(error: crate::crypto::PasswordError) -> Self {
        match error {
            crate::crypto::PasswordError::Busy => Self::Unavailable,
            crate::crypto::PasswordError::Internal(message) => Self::Internal(message),
        }
    }
}

fn describe(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(|e| format!("{}: {}", e.field, e.problem))
        .collect::<Vec<_>>()
        .join("; ")
}

impl From<StoreError> for AdminError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound => Self::NotFound,
            StoreError::Stale => Self::PreconditionFailed,
            StoreError::Conflict { constraint } => Self::Conflict(constraint),
            other => Self::Store(other),
        }
    }
}

/// Collects every field error of one request, so a caller learns all its mistakes at once.
#[derive(Debug, Default)]
pub(crate) struct Problems(Vec<FieldError>);

impl Problems {
    pub(crate) fn add(&mut self, field: impl Into<String>, problem: impl Into<String>) {
        self.0.push(FieldError {
            field: field.into(),
            problem: problem.into(),
        });
    }

    /// The parsed value, or `None` after recording why it failed.
    pub(crate) fn check<T>(
        &mut self,
        field: impl Into<String>,
        parsed: Result<T, String>,
    ) -> Option<T> {
        parsed.map_err(|problem| self.add(field, problem)).ok()
    }

    /// Parses every item of a list field, naming failures `field[i]`.
    pub(crate) fn check_all<T>(
        &mut self,
        field: &str,
        items: &[String],
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Vec<T> {
        items
            .iter()
            .enumerate()
            .filter_map(|(i, item)| self.check(format!("{field}[{i}]"), parse(item)))
            .collect()
    }

    pub(crate) fn into_result(self) -> Result<(), AdminError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(AdminError::Invalid(self.0))
        }
    }
}

/// Records in the change feed that what `subject` held until `now` is refused from now on
/// (sign-out, disable, delete, a scope taken away). Written before the change it stands for:
/// if that change then fails, access was only taken away too early, never left standing.
pub(crate) async fn cut_off(
    db: &dyn Database,
    kind: ChangeKind,
    subject: &str,
    now: OffsetDateTime,
) -> Result<(), AdminError> {
    record(db, NewChange::cut_off(kind, subject, now)).await
}

/// Records in the change feed that cached copies of `subject` must be read again. Written
/// after the change, so that whoever reads again reads the new state.
pub(crate) async fn note_changed(
    db: &dyn Database,
    kind: ChangeKind,
    subject: &str,
    now: OffsetDateTime,
) -> Result<(), AdminError> {
    record(db, NewChange::changed(kind, subject, now)).await
}

async fn record(db: &dyn Database, change: NewChange) -> Result<(), AdminError> {
    db.record_change(&change)
        .await
        .map(drop)
        .map_err(AdminError::from)
}

/// Records what an admin did; a failure to record is logged, not fatal to the change.
pub(crate) async fn audit(
    db: &dyn Database,
    actor: &str,
    action: &str,
    target_type: &str,
    target_id: &str,
    now: OffsetDateTime,
) {
    let details = serde_json::Value::Object(serde_json::Map::new());
    audit_with(db, actor, action, (target_type, target_id), details, now).await;
}

/// [`audit`] with `details` on the event (never a secret).
pub(crate) async fn audit_with(
    db: &dyn Database,
    actor: &str,
    action: &str,
    (target_type, target_id): (&str, &str),
    details: serde_json::Value,
    now: OffsetDateTime,
) {
    let event = NewAuditEvent::new(actor, action, target_type, Some(target_id), details);
    if let Err(error) = db.record_audit_event(&event, now).await {
        tracing::warn!(%error, action, "could not record an audit event");
    }
}

/// RFC 7396: `patch` merged into `current`'s JSON form (a `null` removes a member), read back
/// as `T`, so a patch goes through the same checks as a full replacement.
pub(crate) fn apply_merge_patch<T>(current: &T, patch: &serde_json::Value) -> Result<T, AdminError>
where
    T: serde::Serialize + serde::de::DeserializeOwned,
{
    fn merge(target: &mut serde_json::Value, patch: &serde_json::Value) {
        let serde_json::Value::Object(members) = patch else {
            *target = patch.clone();
            return;
        };
        if !target.is_object() {
            *target = serde_json::Value::Object(serde_json::Map::new());
        }
        if let serde_json::Value::Object(object) = target {
            for (name, value) in members {
                if value.is_null() {
                    object.remove(name);
                } else {
                    merge(
                        object
                            .entry(name.clone())
                            .or_insert(serde_json::Value::Null),
                        value,
                    );
                }
            }
        }
    }
    if !patch.is_object() {
        return Err(AdminError::Invalid(vec![FieldError {
            field: "<body>".into(),
            problem: "a merge patch is a JSON object".into(),
        }]));
    }
    let mut document =
        serde_json::to_value(current).map_err(|e| AdminError::Internal(e.to_string()))?;
    merge(&mut document, patch);
    serde_json::from_value(document).map_err(|e| AdminError::Invalid(vec![field_error_of(&e)]))
}

/// The field a serde error names (`unknown field `x``, `missing field `x``), or `<body>`.
pub fn field_error_of(error: &serde_json::Error) -> FieldError {
    let message = error.to_string();
    let field = message
        .split('`')
        .nth(1)
        .filter(|_| message.starts_with("unknown field") || message.starts_with("missing field"))
        .unwrap_or("<body>")
        .to_owned();
    let problem = message
        .split(" at line ")
        .next()
        .unwrap_or(&message)
        .to_owned();
    FieldError { field, problem }
}
