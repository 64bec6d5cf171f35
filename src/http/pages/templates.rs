//! Server-rendered pages: templates compiled into the binary (askama, HTML-escaped), served with
//! headers that keep them out of frames, caches and referrers.

use actix_web::HttpResponse;
use actix_web::http::{StatusCode, header};
use askama::Template;

/// No inline script or style, no framing: the stylesheet and the one
/// script (the passkey ceremony, on the pages that offer one) are served from this origin.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self'; base-uri 'none'; frame-ancestors 'none'";

#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage<'a> {
    pub client_name: &'a str,
    pub action: &'a str,
    pub passkey_action: &'a str,
    pub csrf_token: &'a str,
    pub username: &'a str,
    /// The WebAuthn options (JSON) of "Sign in with a passkey", when passkeys are on.
    pub passkey: Option<&'a str>,
    pub error: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "second_factor.html")]
pub struct SecondFactorPage<'a> {
    pub client_name: &'a str,
    pub action: &'a str,
    pub passkey_action: &'a str,
    pub csrf_token: &'a str,
    /// The WebAuthn options (JSON) of the person's passkeys, when they have any.
    pub passkey: Option<&'a str>,
    pub error: Option<&'a str>,
}

/// After a sign-in with a recovery code: how many are left, then on to the client.
#[derive(Template)]
#[template(path = "recovery_code_used.html")]
pub struct RecoveryCodeUsedPage<'a> {
    pub client_name: &'a str,
    pub left: u32,
    pub location: &'a str,
}

#[derive(Template)]
#[template(path = "account.html")]
pub struct AccountPage<'a> {
    pub username: &'a str,
    pub totp_enrolled: bool,
    pub recovery_codes_left: u32,
    pub passkeys: Vec<PasskeyRow>,
    pub sign_ins: Vec<SignInRow>,
    /// The WebAuthn options (JSON) of "Add a passkey", when passkeys are on.
    pub new_passkey: Option<&'a str>,
    pub csrf_token: &'a str,
    pub notice: Option<&'a str>,
}

/// A recent sign-in as the account page lists it.
pub struct SignInRow {
    pub when: String,
    pub client: String,
    pub how: String,
    pub address: String,
    pub handle: String,
    pub this_browser: bool,
    pub active: bool,
}

/// A passkey as the account page lists it.
pub struct PasskeyRow {
    pub id: String,
    pub name: String,
    pub created: String,
    pub last_used: Option<String>,
}

/// The QR code is SVG made by `signin::totp::qr_svg` (rectangles only), inlined unescaped.
#[derive(Template)]
#[template(path = "totp_enrolment.html")]
pub struct TotpEnrolmentPage<'a> {
    pub secret: &'a str,
    pub qr_svg: &'a str,
    pub csrf_token: &'a str,
    pub error: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "recovery_codes.html")]
pub struct RecoveryCodesPage<'a> {
    pub codes: Vec<&'a str>,
    /// After an enrolment during a sign-in: the client's name and where the sign-in goes on.
    pub continue_to: Option<(&'a str, &'a str)>,
}

/// An authenticator set up during a sign-in that needs one (see `signin::second_factor`).
#[derive(Template)]
#[template(path = "sign_in_enrolment.html")]
pub struct SignInEnrolmentPage<'a> {
    pub client_name: &'a str,
    pub action: &'a str,
    pub csrf_token: &'a str,
    pub secret: &'a str,
    pub qr_svg: &'a str,
}

#[derive(Template)]
#[template(path = "consent.html")]
pub struct ConsentPage<'a> {
    pub client_name: &'a str,
    pub username: &'a str,
    pub scopes: Vec<String>,
    pub action: &'a str,
    pub csrf_token: &'a str,
    /// Signed in just now with a recovery code: how many are left.
    pub recovery_codes_left: Option<u32>,
    /// Set up an authenticator during the sign-in just now: its recovery codes, shown once.
    pub new_recovery_codes: Vec<&'a str>,
}

#[derive(Template)]
#[template(path = "signed_out.html")]
pub struct SignedOutPage {
    pub signed_out: bool,
}

#[derive(Template)]
#[template(path = "logout.html")]
pub struct LogoutPage<'a> {
    pub username: &'a str,
    pub action: &'a str,
    pub confirmation: &'a str,
}

#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage<'a> {
    pub error: &'a str,
    pub description: Option<&'a str>,
}

/// A backend is down: the person is asked to try again in a moment, with nothing lost.
#[derive(Template)]
#[template(path = "unavailable.html")]
pub struct UnavailablePage;

/// Adds the headers every HTML response carries.
pub fn html_headers(
    response: &mut actix_web::HttpResponseBuilder,
) -> &mut actix_web::HttpResponseBuilder {
    response
        .insert_header((header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
}

pub fn render(status: StatusCode, page: &impl Template) -> HttpResponse {
    match page.render() {
        Ok(body) => html_headers(&mut HttpResponse::build(status))
            .content_type("text/html; charset=utf-8")
            .body(body),
        Err(error) => {
            tracing::error!(%error, "rendering a page failed");
            HttpResponse::InternalServerError().finish()
        }
    }
}

/// What each scope means, in words, on the consent page.
pub fn describe_scope(scope: &str) -> String {
    match scope {
        "openid" => "Confirm who you are".to_owned(),
        "profile" => "See your name and username".to_owned(),
        "email" => "See your email address".to_owned(),
        "offline_access" => "Stay connected when you are not using it".to_owned(),
        other => format!("Use the permission “{other}”"),
    }
}

/// The passkey ceremony's script (WebAuthn needs one; everything else works without).
pub async fn get_passkey_script() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=86400"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(include_str!("../../../templates/passkey.js"))
}

pub async fn get_stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=86400"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(include_str!("../../../templates/gatehouse.css"))
}
