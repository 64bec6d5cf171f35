//! `/v1/keys`: the signing keys' lifecycle, rotation on demand and revocation.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};

use super::pagination::reject_query;
use super::{Admin, ApiError, body};
use crate::admin::keys::{self, KeyView, Rotation};
use crate::crypto::SigningAlgorithm;

#[derive(Serialize)]
struct KeyList {
    items: Vec<KeyView>,
}

/// `GET /v1/keys`: every published key (a handful: not paginated).
pub async fn get_keys(admin: Admin, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    reject_query(req.query_string())?;
    let items = keys::list_keys(&admin.state.keys);
    admin.format.json(StatusCode::OK, &KeyList { items })
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyRotation {
    alg: Option<SigningAlgorithm>,
    #[serde(default)]
    immediately: bool,
    #[serde(default)]
    revoke_current: bool,
}

/// `POST /v1/keys/rotate`: stages successors (or promotes them at once with `immediately`,
/// and revokes the keys they replace with `revoke_current`: the incident procedure).
pub async fn post_keys_rotate(
    admin: Admin,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body: KeyRotation = body::optional_json(&req, payload).await?;
    let rotation = Rotation {
        alg: body.alg,
        immediately: body.immediately,
        revoke_current: body.revoke_current,
    };
    let rotated =
        keys::rotate_keys(&admin.state.keys, rotation, admin.actor(), admin.now()).await?;
    admin.format.json(StatusCode::OK, &rotated)
}

/// `POST /v1/keys/{kid}/revoke`: the key leaves the JWKS and verification at once; revoking
/// the signing key promotes a successor first. Idempotent: a revoked key answers its first
/// revocation again.
pub async fn post_key_revoke(
    admin: Admin,
    kid: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let revoked = keys::revoke_key(&admin.state.keys, &kid, admin.actor(), admin.now()).await?;
    admin.format.json(StatusCode::OK, &revoked)
}
