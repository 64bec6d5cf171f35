//! The admin REST API under `/v1` (`openapi.yaml`): thin handlers over the `admin::` use cases
//! the CLI shares, with bearer-token auth, content negotiation, problem details, idempotent
//! creation, `ETag`/`If-Match` and cursor pagination.

mod audit;
mod auth;
pub(super) mod body;
mod clients;
mod conditional;
mod grants;
mod idempotency;
mod keys;
mod negotiate;
mod pagination;
mod problem;
mod users;

use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, HttpResponse, dev::Payload, web};
use futures_util::future::LocalBoxFuture;
use time::OffsetDateTime;

use self::auth::Caller;
use self::negotiate::Format;
pub use self::problem::ApiError;
use crate::state::AppState;
use crate::store::Database;

/// What every admin handler starts from, extracted in order: the caller is authenticated
/// (401/403) before the `Accept` header is looked at (406).
pub struct Admin {
    pub caller: Caller,
    pub format: Format,
    pub state: web::Data<AppState>,
}

impl Admin {
    pub fn db(&self) -> &dyn Database {
        self.state.db.as_ref()
    }

    pub fn actor(&self) -> &str {
        self.caller.actor()
    }

    pub fn now(&self) -> OffsetDateTime {
        self.state.clock.now()
    }

    /// What a client's ID tokens may be signed with (`keys.algorithms`).
    pub fn signing(&self) -> &[crate::crypto::SigningAlgorithm] {
        &self.state.settings.keys.algorithms
    }
}

impl FromRequest for Admin {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let caller = Caller::from_request(req, payload);
        let format = Format::from_request(req, payload);
        let state = req.app_data::<web::Data<AppState>>().cloned();
        Box::pin(async move {
            let caller = caller.await?;
            let format = format.await?;
            let state = state
                .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("no AppState registered")))?;
            Ok(Self {
                caller,
                format,
                state,
            })
        })
    }
}

/// Every `/v1` route. Another method on a known path is a 405 problem naming the allowed ones.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/v1/clients")
            .route(web::get().to(clients::get_clients))
            .route(web::post().to(clients::post_clients))
            .default_service(web::to(|| not_allowed("GET, POST"))),
    )
    .service(
        web::resource("/v1/clients/{id}")
            .route(web::get().to(clients::get_client))
            .route(web::put().to(clients::put_client))
            .route(web::patch().to(clients::patch_client))
            .route(web::delete().to(clients::delete_client))
            .default_service(web::to(|| not_allowed("GET, PUT, PATCH, DELETE"))),
    )
    .service(
        web::resource("/v1/clients/{id}/secret")
            .route(web::post().to(clients::post_client_secret))
            .default_service(web::to(|| not_allowed("POST"))),
    )
    .service(
        web::resource("/v1/users")
            .route(web::get().to(users::get_users))
            .route(web::post().to(users::post_users))
            .default_service(web::to(|| not_allowed("GET, POST"))),
    )
    .service(
        web::resource("/v1/users/{id}")
            .route(web::get().to(users::get_user))
            .route(web::put().to(users::put_user))
            .route(web::patch().to(users::patch_user))
            .route(web::delete().to(users::delete_user))
            .default_service(web::to(|| not_allowed("GET, PUT, PATCH, DELETE"))),
    )
    .service(
        web::resource("/v1/users/{id}/password")
            .route(web::post().to(users::post_user_password))
            .default_service(web::to(|| not_allowed("POST"))),
    )
    .service(
        web::resource("/v1/users/{id}/sign-out")
            .route(web::post().to(users::post_user_sign_out))
            .default_service(web::to(|| not_allowed("POST"))),
    )
    .service(
        web::resource("/v1/users/{id}/roles/{role}")
            .route(web::put().to(users::put_user_role))
            .route(web::delete().to(users::delete_user_role))
            .default_service(web::to(|| not_allowed("PUT, DELETE"))),
    )
    .service(
        web::resource("/v1/users/{id}/factors")
            .route(web::get().to(users::get_user_factors))
            .route(web::delete().to(users::delete_user_factors))
            .default_service(web::to(|| not_allowed("GET, DELETE"))),
    )
    .service(
        web::resource("/v1/keys")
            .route(web::get().to(keys::get_keys))
            .default_service(web::to(|| not_allowed("GET"))),
    )
    .service(
        web::resource("/v1/keys/rotate")
            .route(web::post().to(keys::post_keys_rotate))
            .default_service(web::to(|| not_allowed("POST"))),
    )
    .service(
        web::resource("/v1/keys/{kid}/revoke")
            .route(web::post().to(keys::post_key_revoke))
            .default_service(web::to(|| not_allowed("POST"))),
    )
    .service(
        web::resource("/v1/audit-events")
            .route(web::get().to(audit::get_audit_events))
            .default_service(web::to(|| not_allowed("GET"))),
    )
    .service(
        web::resource("/v1/grants")
            .route(web::get().to(grants::get_grants))
            .default_service(web::to(|| not_allowed("GET"))),
    )
    .service(
        web::resource("/v1/grants/{id}")
            .route(web::delete().to(grants::delete_grant))
            .default_service(web::to(|| not_allowed("DELETE"))),
    );
}

async fn not_allowed(allow: &'static str) -> HttpResponse {
    let mut response = actix_web::ResponseError::error_response(&ApiError::MethodNotAllowed);
    if let Ok(value) = header::HeaderValue::from_str(allow) {
        response.headers_mut().insert(header::ALLOW, value);
    }
    response
}
