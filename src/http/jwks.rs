use actix_web::{HttpResponse, web};

use crate::state::AppState;

/// RFC 7517 §5: the public part of every next, active and retired key. Resource servers may
/// cache it for `keys.jwks_max_age_secs`; a new key is published longer than that before it signs.
pub async fn get_jwks(state: web::Data<AppState>) -> HttpResponse {
    let max_age = state.settings.keys.jwks_max_age_secs;
    HttpResponse::Ok()
        .content_type("application/json")
        .insert_header(("Cache-Control", format!("public, max-age={max_age}")))
        .body(state.keys.jwks_json().to_string())
}
