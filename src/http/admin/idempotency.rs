//! `Idempotency-Key` on creating POSTs: the same caller, key and request within 24 hours get
//! the first response again (a created client's secret included); the same key with another
//! request is a 422.
//!
//! The response is remembered in the database, in the transaction that creates the resource,
//! so a retry finds both or neither whatever happens to Redis or the database in between. The
//! ephemeral store only holds an in-flight marker that spares concurrent duplicates the work;
//! when it forgets the marker, the database's unique (caller, key) still lets one request win,
//! and the others replay its response.
//!
//! The stored response may hold a client secret, so it is sealed (AES-256-GCM) under a key
//! derived from the key-encryption key, the caller and the raw `Idempotency-Key`: the database
//! holds only a digest of that key, and a reader of the database or Redis can derive nothing.

use std::sync::Arc;
use std::time::Duration;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;

use super::negotiate::Format;
use super::problem::ApiError;
use crate::admin::{AdminError, Remember};
use crate::crypto::sha256_hex;
use crate::keyring::KeyRing;
use crate::state::AppState;
use crate::store::IdempotencyRecord;

pub const IDEMPOTENCY_KEY: &str = "idempotency-key";
/// How long a response is remembered.
const REMEMBER_FOR: Duration = Duration::from_secs(24 * 60 * 60);
/// How long an in-flight marker outlives a crashed request.
const IN_FLIGHT_FOR: Duration = Duration::from_secs(60);
/// What the sealing sub-key is for: no other record's sub-key is the same.
const PURPOSE: &str = "gatehouse idempotent response";

/// A created resource's response, first made or replayed. Its body may hold a client secret, so
/// its `Debug` leaves the body out.
#[derive(Clone, Serialize, Deserialize)]
pub struct Created {
    pub location: String,
    pub etag: String,
    pub body: Value,
    /// Kept in the record's own column, not in the sealed body.
    #[serde(skip, default = "created")]
    pub status: StatusCode,
    #[serde(skip)]
    pub replayed: bool,
}

fn created() -> StatusCode {
    StatusCode::CREATED
}

impl std::fmt::Debug for Created {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Created")
            .field("location", &self.location)
            .field("etag", &self.etag)
            .field("status", &self.status)
            .field("replayed", &self.replayed)
            .finish_non_exhaustive()
    }
}

impl Created {
    /// A `201 Created` at `location`.
    pub fn new(location: String, etag: String, body: Value) -> Self {
        Self {
            location,
            etag,
            body,
            status: StatusCode::CREATED,
            replayed: false,
        }
    }

    pub fn respond(self, format: Format) -> Result<HttpResponse, ApiError> {
        let body = serde_json::to_vec(&self.body).map_err(|e| ApiError::Internal(e.into()))?;
        let mut response = format.respond(self.status);
        response
            .insert_header((header::LOCATION, self.location))
            .insert_header((header::ETAG, self.etag));
        if self.replayed {
            response.insert_header(("Idempotent-Replayed", "true"));
        }
        Ok(response.body(body))
    }
}

/// Runs `create` at most once per (caller, `Idempotency-Key`, request) and answers with
/// `respond` of what it created; without the header, runs it every time. `create` receives the
/// [`Remember`] that makes the record its use case commits with the row.
pub async fn create_once<T, F, Fut>(
    state: &AppState,
    caller: &str,
    req: &HttpRequest,
    request_body: &[u8],
    respond: fn(&T) -> Result<Created, ApiError>,
    create: F,
) -> Result<Created, ApiError>
where
    T: 'static,
    F: FnOnce(Option<Remember<T>>) -> Fut,
    Fut: Future<Output = Result<T, AdminError>>,
{
    let Some(key) = idempotency_key(req)? else {
        return respond(&create(None).await?);
    };
    let slot = Slot::new(caller, key, req.path(), request_body);
    let now = state.clock.now();
    // A creation committed earlier answers, whatever the ephemeral store has forgotten.
    if let Some(replayed) = slot.replay(state, now).await? {
        return Ok(replayed);
    }
    let locked = lock(state, &slot).await?;
    let remember = slot.remembering(Arc::clone(&state.keys), now, respond);
    let result = match create(Some(remember)).await {
        Ok(created) => respond(&created),
        // The loser of a race the marker did not prevent (it expired, or the ephemeral store
        // lost it) conflicts on the record: the winner's response is its answer too.
        Err(error @ AdminError::Conflict(_)) => match slot.replay(state, now).await {
            Ok(Some(replayed)) => Ok(replayed),
            Err(reused @ ApiError::IdempotencyKeyReused) => Err(reused),
            _ => Err(error.into()),
        },
        Err(error) => Err(error.into()),
    };
    if locked && let Err(error) = state.ephemeral.delete(&slot.in_flight).await {
        tracing::warn!(%error, "could not clear an idempotency marker; it expires by itself");
    }
    result
}

/// Marks the key in flight: `true` if this request holds the marker, `false` if the ephemeral
/// store failed (the database alone then keeps the request idempotent), a 409 if another
/// request holds it.
async fn lock(state: &AppState, slot: &Slot) -> Result<bool, ApiError> {
    match state
        .ephemeral
        .put_if_absent(&slot.in_flight, b"1", IN_FLIGHT_FOR)
        .await
    {
        Ok(true) => Ok(true),
        Ok(false) => Err(ApiError::Conflict(
            "a request with this Idempotency-Key is in progress".into(),
        )),
        Err(error) => {
            tracing::warn!(%error, "the ephemeral store failed; the database alone keeps this request idempotent");
            Ok(false)
        }
    }
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

/// One (caller, key) pair and the request made with it. Holds the raw key, which opens the
/// record: no `Debug`.
#[derive(Clone)]
struct Slot {
    caller: String,
    key: String,
    key_digest: String,
    request_digest: String,
    in_flight: String,
}

impl Slot {
    fn new(caller: &str, key: &str, path: &str, body: &[u8]) -> Self {
        let mut request = Vec::with_capacity(path.len() + 1 + body.len());
        request.extend_from_slice(path.as_bytes());
        request.push(0);
        request.extend_from_slice(body);
        let pair = sha256_hex(format!("{caller}\0{key}").as_bytes());
        Self {
            caller: caller.to_owned(),
            key: key.to_owned(),
            key_digest: sha256_hex(key.as_bytes()),
            request_digest: sha256_hex(&request),
            in_flight: format!("idempotency-lock:{pair}"),
        }
    }

    fn context(&self) -> [&[u8]; 2] {
        [self.caller.as_bytes(), self.key.as_bytes()]
    }

    /// The response committed earlier for this slot: a replay of it, a 422 if it answered
    /// another request, `None` if there is none.
    async fn replay(
        &self,
        state: &AppState,
        now: OffsetDateTime,
    ) -> Result<Option<Created>, ApiError> {
        let found = state
            .db
            .find_idempotency_record(&self.caller, &self.key_digest, now)
            .await
            .map_err(|e| ApiError::from(AdminError::from(e)))?;
        let Some(record) = found else {
            return Ok(None);
        };
        if record.request_digest != self.request_digest {
            return Err(ApiError::IdempotencyKeyReused);
        }
        self.open(&state.keys, &record).map(Some)
    }

    /// How `create` makes the record it commits with the row.
    fn remembering<T: 'static>(
        &self,
        keys: Arc<KeyRing>,
        now: OffsetDateTime,
        respond: fn(&T) -> Result<Created, ApiError>,
    ) -> Remember<T> {
        let slot = self.clone();
        Box::new(move |created: &T| {
            let response = respond(created).map_err(|e| AdminError::Internal(e.to_string()))?;
            slot.seal(&keys, &response, now)
                .map_err(|e| AdminError::Internal(format!("{e:#}")))
        })
    }

    fn seal(
        &self,
        keys: &KeyRing,
        response: &Created,
        now: OffsetDateTime,
    ) -> Result<IdempotencyRecord, anyhow::Error> {
        let plain = serde_json::to_vec(response)?;
        Ok(IdempotencyRecord {
            caller: self.caller.clone(),
            key_digest: self.key_digest.clone(),
            request_digest: self.request_digest.clone(),
            status: response.status.as_u16(),
            sealed_response: keys.seal_for(PURPOSE, &self.context(), &plain)?,
            created_at: now,
            expires_at: now + REMEMBER_FOR,
        })
    }

    fn open(&self, keys: &KeyRing, record: &IdempotencyRecord) -> Result<Created, ApiError> {
        let opened = keys
            .open_for(PURPOSE, &self.context(), &record.sealed_response)
            .map_err(anyhow::Error::from)
            .and_then(|plain| Ok(serde_json::from_slice::<Created>(&plain)?))
            .and_then(|created| Ok((created, StatusCode::from_u16(record.status)?)));
        let (created, status) = opened.map_err(|error| {
            ApiError::Internal(error.context("a remembered idempotent response does not open"))
        })?;
        Ok(Created {
            status,
            replayed: true,
            ..created
        })
    }
}
