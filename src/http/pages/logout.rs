//! `GET|POST /oauth2/logout` (RP-Initiated Logout 1.0 §2, §3): ends the browser's session and
//! sends it where the client registered, or shows that it is signed out. Unless the
//! `id_token_hint` names the signed-in person, the person is asked first.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use super::cookies::Cookies;
use super::templates::{ErrorPage, LogoutPage, SignedOutPage, render};
use super::{error_page, read_form, redirect, signed_in_user};
use crate::http::paths;
use crate::oauth::interaction::end_session;
use crate::oauth::logout::{PendingLogout, await_confirmation, take_confirmation, validate_logout};
use crate::oauth::{FormRequest, OAuthError};
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
/// parameter has been checked, and only without asking when the hint names its person.
async fn end(state: &AppState, req: &HttpRequest, params: &FormRequest) -> HttpResponse {
    let logout = match validate_logout(state, params).await {
        Ok(logout) => logout,
        Err(error) => return error_page(&error),
    };
    let cookies = Cookies::for_issuer(state.issuer.as_str());
    let Some(cookie) = cookies.session(req) else {
        return finish(&cookies, logout.redirect.as_deref());
    };
    let signed_in = match signed_in_user(state, Some(cookie)).await {
        Ok(signed_in) => signed_in,
        Err(error) => return error_page(&error),
    };
    match signed_in {
        Some((user, session)) if logout.needs_confirmation(session.user_id) => {
            match await_confirmation(state.ephemeral.as_ref(), cookie, logout.redirect).await {
                Ok(confirmation) => render(
                    StatusCode::OK,
                    &LogoutPage {
                        username: user.username.as_str(),
                        action: paths::END_SESSION_CONFIRM,
                        confirmation: &confirmation,
                    },
                ),
                Err(error) => error_page(&OAuthError::from_backend(error)),
            }
        }
        _ => match end_session(state.ephemeral.as_ref(), cookie).await {
            Ok(()) => finish(&cookies, logout.redirect.as_deref()),
            Err(error) => error_page(&OAuthError::from_backend(error)),
        },
    }
}

/// `POST /oauth2/logout/confirm`: the person's answer, from the browser holding the session.
pub async fn post_confirm_logout(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let form = match read_form(&req, &body) {
        Ok(form) => form,
        Err(error) => return error_page(&error),
    };
    let cookies = Cookies::for_issuer(state.issuer.as_str());
    let session = cookies.session(&req);
    let token = form.get("confirmation").unwrap_or_default();
    match take_confirmation(state.ephemeral.as_ref(), token, session).await {
        Ok(Some(pending)) => confirmed(&state, &cookies, session, &form, &pending).await,
        Ok(None) => expired_confirmation_page(),
        Err(error) => error_page(&OAuthError::from_backend(error)),
    }
}

fn expired_confirmation_page() -> HttpResponse {
    let description = "this sign-out request has expired, was already answered, or came from \
                       another browser";
    let page = ErrorPage {
        error: "invalid_request",
        description: Some(description),
    };
    render(StatusCode::FORBIDDEN, &page)
}

/// The person's answer to a sign-out they were asked to confirm.
async fn confirmed(
    state: &AppState,
    cookies: &Cookies,
    session: Option<&str>,
    form: &FormRequest,
    pending: &PendingLogout,
) -> HttpResponse {
    if form.get("decision") != Some("logout") {
        return match &pending.redirect {
            Some(location) => redirect(location),
            None => render(StatusCode::OK, &SignedOutPage { signed_out: false }),
        };
    }
    if let Some(cookie) = session
        && let Err(error) = end_session(state.ephemeral.as_ref(), cookie).await
    {
        return error_page(&OAuthError::from_backend(error));
    }
    finish(cookies, pending.redirect.as_deref())
}

/// Back to the client, or the signed-out page; the session cookie goes either way.
fn finish(cookies: &Cookies, location: Option<&str>) -> HttpResponse {
    let mut response = match location {
        Some(location) => redirect(location),
        None => render(StatusCode::OK, &SignedOutPage { signed_out: true }),
    };
    cookies.attach(&mut response, cookies.expired_session_cookie());
    response
}
