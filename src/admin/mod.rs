//! Admin use cases, shared by the CLI and (later) the `/v1` REST API, so the two can never
//! disagree about what a valid record is.

pub mod clients;
pub mod users;

use time::OffsetDateTime;

use crate::store::{Database, NewAuditEvent, StoreError};

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

/// Records what an admin did; a failure to record is logged, not fatal to the change.
pub(crate) async fn audit(
    db: &dyn Database,
    actor: &str,
    action: &str,
    target_type: &str,
    target_id: &str,
    now: OffsetDateTime,
) {
    let event = NewAuditEvent {
        actor: actor.to_owned(),
        action: action.to_owned(),
        target_type: target_type.to_owned(),
        target_id: Some(target_id.to_owned()),
        request_id: None,
        details: serde_json::Value::Object(serde_json::Map::new()),
    };
    if let Err(error) = db.record_audit_event(&event, now).await {
        tracing::warn!(%error, action, "could not record an audit event");
    }
}
