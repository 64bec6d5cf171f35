//! `GET|POST /oauth2/logout` (RP-Initiated Logout 1.0 §2, §3): ends the browser's session and
//! sends it where the client registered, or shows that it is signed out.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use super::cookies::Cookies;
use super::templates::{SignedOutPage, render};
use super::{error_page, read_form, redirect, unavailable_page};
use crate::oauth::FormRequest;
use crate::oauth::interaction::end_session;
use crate::oauth::logout::validate_logout;
use crate::state::AppState;

pub async fn get_end_session(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    match FormRequest::from_query(req.query_string()) {
        Ok(params) => end(&state, &req, &params).await,
        Err(error) => error_page(&error),
    }
}

pub async fn post_end_session(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    match read_form(&req, &body) {
        Ok(params) => end(&state, &req, &params).await,
        Err(error) => error_page(&error),
    }
}

/// A request that fails validation changes nothing: the session ends only once every
/// parameter has been checked.
async fn end(state: &AppState, req: &HttpRequest, params: &FormRequest) -> HttpResponse {
    let logout = match validate_logout(state, params).await {
        Ok(logout) => logout,
        Err(error) => return error_page(&error),
    };
    let cookies = Cookies::for_issuer(state.issuer.as_str());
    if let Some(session) = cookies.session(req)
        && end_session(state.ephemeral.as_ref(), session)
            .await
            .is_err()
    {
        return unavailable_page();
    }
    let mut response = match &logout.redirect {
        Some(location) => redirect(location),
        None => render(StatusCode::OK, &SignedOutPage),
    };
    cookies.attach(&mut response, cookies.expired_session_cookie());
    response
}
