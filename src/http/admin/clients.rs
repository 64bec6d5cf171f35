//! `/v1/clients`: register, list, read, replace, patch and delete clients; rotate a secret.

use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::conditional::{etag, expected_version, record};
use super::idempotency::{Created, create_once};
use super::pagination::{ListQuery, page_response};
use super::{Admin, ApiError, body};
use crate::admin::clients::{self, ClientChanges, CreatedClient, NewClient};
use crate::domain::Client;

/// The longest overlap a rotation may keep the previous secrets for: 30 days.
const MAX_OVERLAP_SECS: u64 = 30 * 24 * 60 * 60;

/// `GET /v1/clients`
pub async fn get_clients(admin: Admin, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let query = ListQuery::parse(req.query_string(), "/v1/clients", &[], &[])?;
    let page = clients::list_clients(admin.db(), &query.page).await?;
    page_response(admin.format, &query, page)
}

/// `POST /v1/clients`: 201 with the secret, the only time it is shown; idempotent by key.
pub async fn post_clients(
    admin: Admin,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let (request, bytes) = body::json::<NewClient>(&req, payload, body::JSON).await?;
    let created = create_once(
        &admin.state,
        admin.actor(),
        &req,
        &bytes,
        client_created,
        |remember| {
            let (db, signing, actor, now) =
                (admin.db(), admin.signing(), admin.actor(), admin.now());
            clients::create_client_once(db, request, signing, actor, now, remember)
        },
    )
    .await?;
    created.respond(admin.format)
}

/// The response to a registration: the client and, the only time it is shown, its secret.
fn client_created(created: &CreatedClient) -> Result<Created, ApiError> {
    let mut body = to_value(&created.client)?;
    if let Some(secret) = &created.secret {
        body["client_secret"] = Value::from(secret.expose());
    }
    Ok(Created::new(
        format!("/v1/clients/{}", created.client.id),
        etag(created.client.version),
        body,
    ))
}

/// `GET /v1/clients/{id}`
pub async fn get_client(admin: Admin, id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let client = clients::find_client(admin.db(), &id).await?;
    record(admin.format, &client, client.version)
}

/// `PUT /v1/clients/{id}`: every field replaced, validated as a registration.
pub async fn put_client(
    admin: Admin,
    id: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let expected = expected_version(&req)?;
    let (value, _) = body::json::<Value>(&req, payload, body::JSON).await?;
    let changes: ClientChanges = body::from_value(without_own_id(value, &id)?)?;
    let client = clients::replace_client(
        admin.db(),
        &id,
        changes,
        admin.signing(),
        expected,
        admin.actor(),
        admin.now(),
    )
    .await?;
    record(admin.format, &client, client.version)
}

/// `PATCH /v1/clients/{id}`: a JSON Merge Patch (RFC 7396), validated as a whole.
pub async fn patch_client(
    admin: Admin,
    id: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let expected = expected_version(&req)?;
    let (patch, _) = body::json::<Value>(&req, payload, body::MERGE_PATCH).await?;
    let patch = without_own_id(patch, &id)?;
    let client = clients::patch_client(
        admin.db(),
        &id,
        &patch,
        admin.signing(),
        expected,
        admin.actor(),
        admin.now(),
    )
    .await?;
    record(admin.format, &client, client.version)
}

/// `DELETE /v1/clients/{id}`
pub async fn delete_client(
    admin: Admin,
    id: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let expected = expected_version(&req)?;
    clients::delete_client(admin.db(), &id, expected, admin.actor(), admin.now()).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SecretRotation {
    overlap_secs: Option<u64>,
}

#[derive(Serialize)]
struct RotatedSecretBody<'a> {
    client_id: &'a str,
    client_secret: &'a str,
    #[serde(with = "time::serde::rfc3339")]
    previous_secrets_expire_at: time::OffsetDateTime,
}

/// `POST /v1/clients/{id}/secret`: a new secret; the previous ones live `overlap_secs` more.
pub async fn post_client_secret(
    admin: Admin,
    id: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let rotation: SecretRotation = body::optional_json(&req, payload).await?;
    let overlap = rotation.overlap_secs.unwrap_or(86_400);
    if overlap > MAX_OVERLAP_SECS {
        return Err(ApiError::invalid(
            "overlap_secs",
            format!("must be 0 to {MAX_OVERLAP_SECS}"),
        ));
    }
    let overlap = Duration::from_secs(overlap);
    let rotated =
        clients::rotate_client_secret(admin.db(), &id, overlap, admin.actor(), admin.now()).await?;
    let body = RotatedSecretBody {
        client_id: &id,
        client_secret: rotated.secret.expose(),
        previous_secrets_expire_at: rotated.previous_expire_at,
    };
    admin.format.json(StatusCode::OK, &body)
}

/// A `PUT` or `PATCH` body may repeat the client's own id; any other id is a mistake.
fn without_own_id(mut value: Value, id: &str) -> Result<Value, ApiError> {
    if let Some(object) = value.as_object_mut()
        && let Some(given) = object.remove("client_id")
        && given.as_str() != Some(id)
    {
        return Err(ApiError::invalid(
            "client_id",
            "a client's id cannot change",
        ));
    }
    Ok(value)
}

fn to_value(client: &Client) -> Result<Value, ApiError> {
    serde_json::to_value(client).map_err(|e| ApiError::Internal(e.into()))
}
