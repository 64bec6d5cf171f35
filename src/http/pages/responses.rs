//! The responses of the pages: the login and consent forms, redirects back to the client, and
//! error pages, each with the headers every HTML response carries.

use actix_web::HttpResponse;
use actix_web::http::{StatusCode, header};

use super::templates::{
    ConsentPage, ErrorPage, LoginPage, RecoveryCodeUsedPage, RecoveryCodesPage, SecondFactorPage,
    SignInEnrolmentPage, UnavailablePage, describe_scope, html_headers, render,
};
use crate::domain::{Client, User};
use crate::oauth::authorize::AuthorizationRequest;
use crate::oauth::interaction::{Interaction, error_redirect};
use crate::oauth::{ErrorCode, OAuthError, RETRY_AFTER_SECS};
use crate::signin::enrol::TotpEnrolment;
use crate::signin::recovery::RecoveryCode;
use crate::state::AppState;

/// What the login form shows besides the error: the name typed, and a passkey's WebAuthn
/// options when one can be offered.
pub(super) struct LoginForm<'a> {
    pub username: &'a str,
    pub passkey: Option<&'a str>,
}

pub(super) fn login_page(
    client: &Client,
    interaction: &Interaction,
    id: &str,
    form: &LoginForm<'_>,
    error: Option<&str>,
    status: StatusCode,
) -> HttpResponse {
    let action = format!("/interaction/{id}/login");
    render(
        status,
        &LoginPage {
            client_name: &client.name,
            action: &action,
            passkey_action: &passkey_action(id),
            csrf_token: &interaction.csrf_token,
            username: form.username,
            passkey: form.passkey,
            error,
        },
    )
}

fn passkey_action(id: &str) -> String {
    format!("/interaction/{id}/passkey")
}

/// The second-factor form; `passkey` the WebAuthn options when the person has passkeys.
pub(super) fn second_factor_page(
    client: &Client,
    interaction: &Interaction,
    id: &str,
    passkey: Option<&str>,
    error: Option<&str>,
    status: StatusCode,
) -> HttpResponse {
    render(
        status,
        &SecondFactorPage {
            client_name: &client.name,
            action: &second_factor_action(id),
            passkey_action: &passkey_action(id),
            csrf_token: &interaction.csrf_token,
            passkey,
            error,
        },
    )
}

/// Where the code of the second-factor page and of an enrolment during sign-in goes.
fn second_factor_action(id: &str) -> String {
    format!("/interaction/{id}/second-factor")
}

/// Instead of the redirect `to_client`, a page saying how many recovery codes are left, with
/// a link on; any other response stays as it is.
pub(super) fn recovery_code_used_page(
    client: &Client,
    left: u32,
    to_client: HttpResponse,
) -> HttpResponse {
    before_client(to_client, |location| {
        render(
            StatusCode::OK,
            &RecoveryCodeUsedPage {
                client_name: &client.name,
                left,
                location,
            },
        )
    })
}

/// Instead of the redirect `to_client`, the recovery codes of the authenticator just set up
/// during the sign-in, shown once, with a link on.
pub(super) fn new_recovery_codes_page(
    client: &Client,
    codes: &[RecoveryCode],
    to_client: HttpResponse,
) -> HttpResponse {
    before_client(to_client, |location| {
        render(
            StatusCode::OK,
            &RecoveryCodesPage {
                codes: codes.iter().map(RecoveryCode::expose).collect(),
                continue_to: Some((&client.name, location)),
            },
        )
    })
}

/// `page` (given the redirect's location) in place of the redirect `to_client`, keeping its
/// cookies; any other response stays as it is.
fn before_client(to_client: HttpResponse, page: impl FnOnce(&str) -> HttpResponse) -> HttpResponse {
    let location = to_client
        .headers()
        .get(header::LOCATION)
        .and_then(|l| l.to_str().ok())
        .map(str::to_owned);
    let (StatusCode::SEE_OTHER, Some(location)) = (to_client.status(), location) else {
        return to_client;
    };
    let mut page = page(&location);
    for cookie in to_client.cookies() {
        let _ = page.add_cookie(&cookie);
    }
    page
}

/// The authenticator set up during a sign-in: its QR code and secret, and the form for its
/// first code (the second-factor form).
pub(super) fn enrol_page(
    client: &Client,
    interaction: &Interaction,
    id: &str,
    enrolment: &TotpEnrolment,
) -> HttpResponse {
    render(
        StatusCode::OK,
        &SignInEnrolmentPage {
            client_name: &client.name,
            action: &second_factor_action(id),
            csrf_token: &interaction.csrf_token,
            secret: &enrolment.secret,
            qr_svg: &enrolment.qr_svg,
        },
    )
}

pub(super) fn consent_page(
    client: &Client,
    user: &User,
    interaction: &Interaction,
    id: &str,
    told: &super::Told<'_>,
) -> HttpResponse {
    let action = format!("/interaction/{id}/consent");
    let scopes = interaction
        .request
        .scope
        .iter()
        .map(|s| describe_scope(s.as_str()))
        .collect();
    render(
        StatusCode::OK,
        &ConsentPage {
            client_name: &client.name,
            username: user.username.as_str(),
            scopes,
            action: &action,
            csrf_token: &interaction.csrf_token,
            recovery_codes_left: told.recovery_codes_left,
            new_recovery_codes: told
                .new_recovery_codes
                .iter()
                .map(RecoveryCode::expose)
                .collect(),
        },
    )
}

pub(super) fn redirect(location: &str) -> HttpResponse {
    html_headers(&mut HttpResponse::SeeOther())
        .insert_header((header::LOCATION, location))
        .finish()
}

/// An error once the client and its redirect URI are verified goes back to the client
/// (RFC 6749 §4.1.2.1), except an outage while the person is at the browser: the page asking
/// to try again in a moment keeps the sign-in, where a redirect would end it at the client.
/// With `prompt=none` no person is there to retry, so the client is told
/// `temporarily_unavailable`.
pub(super) fn redirect_error(
    state: &AppState,
    request: &AuthorizationRequest,
    error: &OAuthError,
) -> HttpResponse {
    match error.code {
        ErrorCode::TemporarilyUnavailable if !request.prompt.none => return error_page(error),
        ErrorCode::TemporarilyUnavailable => {
            tracing::warn!(error.cause_chain = ?error, "authorization failed: a backend is unavailable");
        }
        ErrorCode::ServerError => {
            tracing::error!(error.cause_chain = ?error, "authorization failed");
        }
        _ => {}
    }
    redirect(&error_redirect(
        &request.redirect_uri,
        request.state.as_deref(),
        error,
        state.issuer.as_str(),
    ))
}

/// An error shown to the person: 400, 500 for a defect (its cause logged, never shown), or the
/// "try again in a moment" page for an outage.
pub(super) fn error_page(error: &OAuthError) -> HttpResponse {
    let status = match error.code {
        ErrorCode::TemporarilyUnavailable => {
            tracing::warn!(error.cause_chain = ?error, "a page failed: a backend is unavailable");
            return unavailable_page();
        }
        ErrorCode::ServerError => {
            tracing::error!(error.cause_chain = ?error, "authorization failed");
            StatusCode::INTERNAL_SERVER_ERROR
        }
        _ => StatusCode::BAD_REQUEST,
    };
    render(
        status,
        &ErrorPage {
            error: error.code.as_str(),
            description: error.public_description(),
        },
    )
}

pub(super) fn expired_page() -> HttpResponse {
    render(
        StatusCode::BAD_REQUEST,
        &ErrorPage {
            error: "invalid_request",
            description: Some(
                "this sign-in has expired or was already completed; start again from the application",
            ),
        },
    )
}

/// 503: a backend (or the password hasher) is busy or down. Nothing is consumed on the way
/// here, so reloading the page or sending the same form again works once it is back.
pub(super) fn unavailable_page() -> HttpResponse {
    let mut response = render(StatusCode::SERVICE_UNAVAILABLE, &UnavailablePage);
    insert_retry_after(&mut response);
    response
}

fn insert_retry_after(response: &mut HttpResponse) {
    response.headers_mut().insert(
        header::RETRY_AFTER,
        header::HeaderValue::from(RETRY_AFTER_SECS),
    );
}

/// 429 after too many failed sign-ins of one name from one address.
pub(super) fn too_many_attempts_page(retry_after: std::time::Duration) -> HttpResponse {
    too_many("too many failed sign-ins; try again later", retry_after)
}

/// `429` for an address with too many authorizations waiting for sign-in at once.
pub(super) fn too_many_pending_page(retry_after: std::time::Duration) -> HttpResponse {
    too_many(
        "too many sign-ins are in progress from your network; finish one or try again later",
        retry_after,
    )
}

fn too_many(description: &'static str, retry_after: std::time::Duration) -> HttpResponse {
    let mut response = render(
        StatusCode::TOO_MANY_REQUESTS,
        &ErrorPage {
            error: "temporarily_unavailable",
            description: Some(description),
        },
    );
    if let Ok(value) = header::HeaderValue::from_str(&retry_after.as_secs().to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}
