//! `/v1/keys`: the signing keys' lifecycle, and rotation on demand.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};

use super::pagination::reject_query;
use super::{Admin, ApiError, body};
use crate::admin::keys::{self, KeyView};
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
}

/// `POST /v1/keys/rotate`: stages successors (or promotes them at once with `immediately`).
pub async fn post_keys_rotate(
    admin: Admin,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let rotation: KeyRotation = body::optional_json(&req, payload).await?;
    let ring = &admin.state.keys;
    let items = keys::rotate_keys(
        ring,
        rotation.alg,
        rotation.immediately,
        admin.actor(),
        admin.now(),
    )
    .await?;
    admin.format.json(StatusCode::OK, &KeyList { items })
}
