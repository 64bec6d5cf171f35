//! `Idempotency-Key` on creating POSTs: the same caller, key and body within 24 hours get the
//! first response again (a created client's secret included); the same key with another body
//! is a 422. Kept in the ephemeral store, so it holds across instances on Redis.
//!
//! The stored response may hold a client secret, so it is sealed (AES-256-GCM) under a key
//! derived from the caller and the idempotency key, which the store never sees in clear: a
//! reader of Redis learns nothing usable without the key the caller chose.

use std::time::Duration;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::negotiate::Format;
use super::problem::ApiError;
use crate::config::EncryptionKey;
use crate::crypto::{KeyEncryptionKey, sha256, sha256_hex};
use crate::ephemeral::EphemeralError;
use crate::state::AppState;

pub const IDEMPOTENCY_KEY: &str = "idempotency-key";
/// How long a response is remembered.
const REMEMBER_FOR: Duration = Duration::from_secs(24 * 60 * 60);
/// How long an in-flight marker outlives a crashed request.
const IN_FLIGHT_FOR: Duration = Duration::from_secs(60);

/// A `201 Created` response, first made or replayed. Its body may hold a client secret, so its
/// `Debug` leaves the body out.
#[derive(Clone, Serialize, Deserialize)]
pub struct Created {
    pub location: String,
    pub etag: String,
    pub body: Value,
    #[serde(skip)]
    pub replayed: bool,
}

impl std::fmt::Debug for Created {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Created")
            .field("location", &self.location)
            .field("etag", &self.etag)
            .field("replayed", &self.replayed)
            .finish_non_exhaustive()
    }
}

impl Created {
    pub fn respond(self, format: Format) -> Result<HttpResponse, ApiError> {
        let body = serde_json::to_vec(&self.body).map_err(|e| ApiError::Internal(e.into()))?;
        let mut response = format.respond(StatusCode::CREATED);
        response
            .insert_header((header::LOCATION, self.location))
            .insert_header((header::ETAG, self.etag));
        if self.replayed {
            response.insert_header(("Idempotent-Replayed", "true"));
        }
        Ok(response.body(body))
    }
}

#[derive(Serialize, Deserialize)]
struct Record {
    body_digest: String,
    status: u16,
    #[serde(flatten)]
    created: Created,
}

/// Runs `create` at most once per (caller, `Idempotency-Key`, body); without the header, runs
/// it every time.
pub async fn create_once<F, Fut>(
    state: &AppState,
    caller: &str,
    req: &HttpRequest,
    request_body: &[u8],
    create: F,
) -> Result<Created, ApiError>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<Created, ApiError>>,
{
    let Some(key) = idempotency_key(req)? else {
        return create().await;
    };
    let slot = Slot::new(caller, key);
    // Of two concurrent requests with one key, only one runs; the other is told to retry.
    let acquired = state
        .ephemeral
        .put_if_absent(&slot.in_flight, b"1", IN_FLIGHT_FOR)
        .await
        .map_err(unavailable)?;
    if !acquired {
        return Err(ApiError::Conflict(
            "a request with this Idempotency-Key is in progress".into(),
        ));
    }
    let result = run_once(state, &slot, &sha256_hex(request_body), create).await;
    if let Err(error) = state.ephemeral.delete(&slot.in_flight).await {
        tracing::warn!(%error, "could not clear an idempotency marker; it expires by itself");
    }
    result
}

async fn run_once<F, Fut>(
    state: &AppState,
    slot: &Slot,
    body_digest: &str,
    create: F,
) -> Result<Created, ApiError>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<Created, ApiError>>,
{
    if let Some(sealed) = state
        .ephemeral
        .get(&slot.storage)
        .await
        .map_err(unavailable)?
    {
        let record = slot.open(&sealed)?;
        if record.body_digest != body_digest {
            return Err(ApiError::IdempotencyKeyReused);
        }
        return Ok(Created {
            replayed: true,
            ..record.created
        });
    }
    let created = create().await?;
    let record = Record {
        body_digest: body_digest.to_owned(),
        status: StatusCode::CREATED.as_u16(),
        created: created.clone(),
    };
    // The resource exists now: failing the request would only invite a duplicate.
    match slot.seal(&record) {
        Ok(sealed) => {
            if let Err(error) = state
                .ephemeral
                .put(&slot.storage, &sealed, REMEMBER_FOR)
                .await
            {
                tracing::warn!(%error, "could not remember an idempotent response");
            }
        }
        Err(error) => tracing::warn!(%error, "could not seal an idempotent response"),
    }
    Ok(created)
}

/// The header's value: 1 to 255 printable ASCII characters.
fn idempotency_key(req: &HttpRequest) -> Result<Option<&str>, ApiError> {
    let Some(value) = req.headers().get(IDEMPOTENCY_KEY) else {
        return Ok(None);
    };
    let invalid =
        || ApiError::invalid("Idempotency-Key", "has 1 to 255 printable ASCII characters");
    let key = value.to_str().map_err(|_| invalid())?;
    if key.is_empty() || key.len() > 255 || !key.bytes().all(|b| (0x20..=0x7e).contains(&b)) {
        return Err(invalid());
    }
    Ok(Some(key))
}

/// Where one (caller, key) pair lives in the ephemeral store, and its sealing key.
struct Slot {
    storage: String,
    in_flight: String,
    seal_key: Option<KeyEncryptionKey>,
}

impl Slot {
    fn new(caller: &str, key: &str) -> Self {
        let digest = sha256_hex(format!("{caller}\0{key}").as_bytes());
        let seal_key = sha256(format!("gatehouse idempotency\0{caller}\0{key}").as_bytes());
        Self {
            storage: format!("idempotency:{digest}"),
            in_flight: format!("idempotency-lock:{digest}"),
            seal_key: KeyEncryptionKey::new(&EncryptionKey::from_bytes(seal_key)).ok(),
        }
    }

    fn seal(&self, record: &Record) -> Result<Vec<u8>, anyhow::Error> {
        let key = self
            .seal_key
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("no sealing key"))?;
        let plain = serde_json::to_vec(record)?;
        Ok(key.seal(self.storage.as_bytes(), &plain)?)
    }

    fn open(&self, sealed: &[u8]) -> Result<Record, ApiError> {
        let opened = self
            .seal_key
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("no sealing key"))
            .and_then(|key| Ok(key.open(self.storage.as_bytes(), sealed)?))
            .and_then(|plain| Ok(serde_json::from_slice(&plain)?));
        opened.map_err(|error: anyhow::Error| {
            ApiError::Internal(error.context("a remembered idempotent response does not open"))
        })
    }
}

fn unavailable(error: EphemeralError) -> ApiError {
    tracing::warn!(%error, "the ephemeral store failed; refusing an idempotent request");
    ApiError::Unavailable("the ephemeral store failed".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_record_opens_only_for_the_same_caller_and_key() {
        let record = Record {
            body_digest: "d".into(),
            status: 201,
            created: Created {
                location: "/v1/clients/x".into(),
                etag: "\"1\"".into(),
                body: serde_json::json!({"client_secret": "s3cret"}),
                replayed: false,
            },
        };
        let sealed = Slot::new("admin", "k1").seal(&record).unwrap();
        assert!(!String::from_utf8_lossy(&sealed).contains("s3cret"));
        let opened = Slot::new("admin", "k1").open(&sealed).unwrap();
        assert_eq!(opened.created.body["client_secret"], "s3cret");
        assert!(Slot::new("other", "k1").open(&sealed).is_err());
        assert!(Slot::new("admin", "k2").open(&sealed).is_err());
    }
}
