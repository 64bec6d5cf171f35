//! Driving the authorization endpoint and its pages by hand: requests with one parameter
//! changed, the code a person's authorization yields, the cookies and error pages that come back.

use std::collections::HashMap;

use crate::flow::{Browser, PASSWORD, REDIRECT_URI, redirect_params};
use crate::helpers::TestApp;

/// RFC 7636 Appendix B: a verifier and its S256 challenge.
pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
/// A `state` with characters that need encoding: it must come back unchanged.
pub const STATE: &str = "af0ifjsldkj &/?=é";

/// An authorization request for `client_id` against [`REDIRECT_URI`], with `changes` applied to
/// its parameters (`None` removes one).
pub fn authorize_url(app: &TestApp, client_id: &str, changes: &[(&str, Option<&str>)]) -> String {
    let mut params: Vec<(&str, &str)> = vec![
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", REDIRECT_URI),
        ("scope", "openid profile"),
        ("state", STATE),
        ("nonce", "n-0S6_WzA2Mj"),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
    ];
    for (name, value) in changes {
        params.retain(|(n, _)| n != name);
        if let Some(value) = value {
            params.push((name, value));
        }
    }
    url::Url::parse_with_params(&format!("{}/oauth2/authorize", app.address), &params)
        .unwrap()
        .to_string()
}

/// Opens `url` and signs `username` in; returns what follows the login (the consent page, or
/// the redirect to the client).
pub async fn sign_in(
    app: &TestApp,
    browser: &Browser,
    url: &str,
    username: &str,
) -> reqwest::Response {
    let page = browser.get(url).await;
    assert_eq!(page.status(), 200, "the login page");
    let page = page.text().await.unwrap();
    assert!(page.contains(r#"name="password""#), "a login page: {page}");
    browser
        .submit(
            app,
            &page,
            &[("username", username), ("password", PASSWORD)],
        )
        .await
}

/// Runs the authorization (signing in and allowing when asked) and returns the code, to be
/// redeemed with [`VERIFIER`] and [`REDIRECT_URI`].
pub async fn authorized_code(
    app: &TestApp,
    browser: &Browser,
    client_id: &str,
    changes: &[(&str, Option<&str>)],
) -> String {
    let url = authorize_url(app, client_id, changes);
    let response = browser.authorize(app, &url, "ann", "allow").await;
    let params = redirect_params(&response);
    params
        .get("code")
        .unwrap_or_else(|| panic!("no code in {params:?}"))
        .clone()
}

/// The token request redeeming `code` with [`VERIFIER`] at [`REDIRECT_URI`].
pub fn code_exchange_form(code: &str) -> Vec<(&'static str, &str)> {
    vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT_URI),
        ("code_verifier", VERIFIER),
    ]
}

/// The claims of a JWT, read without checking its signature.
pub fn jwt_claims(token: &str) -> serde_json::Value {
    use base64::Engine as _;
    let payload = token.split('.').nth(1).expect("a JWT");
    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&json).unwrap()
}

/// The cookie named `name` that `response` sets, if any.
pub fn set_cookie(
    response: &reqwest::Response,
    name: &str,
) -> Option<actix_web::cookie::Cookie<'static>> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .filter_map(|value| actix_web::cookie::Cookie::parse(value.to_owned()).ok())
        .find(|cookie| cookie.name() == name)
}

/// An HTML error page with `status`, never a redirect; returns the page.
pub async fn assert_error_page(response: reqwest::Response, status: u16) -> String {
    assert_eq!(response.status(), status);
    assert!(
        response.headers().get("location").is_none(),
        "an error page never redirects"
    );
    let content_type = response.headers()["content-type"].to_str().unwrap();
    assert!(content_type.starts_with("text/html"), "{content_type}");
    response.text().await.unwrap()
}

/// An error sent back to [`REDIRECT_URI`] with `state` unchanged and `iss` (RFC 6749 §4.1.2.1,
/// RFC 9207); returns the parameters.
pub fn assert_error_redirect(
    app: &TestApp,
    response: &reqwest::Response,
    error: &str,
) -> HashMap<String, String> {
    let params = redirect_params(response);
    let location = response.headers()["location"].to_str().unwrap();
    assert!(
        location.starts_with(&format!("{REDIRECT_URI}?")),
        "{location}"
    );
    assert_eq!(
        params.get("error").map(String::as_str),
        Some(error),
        "{params:?}"
    );
    assert!(params.contains_key("error_description"), "{params:?}");
    assert_eq!(params.get("state").map(String::as_str), Some(STATE));
    assert_eq!(params.get("iss"), Some(&app.issuer));
    assert!(!params.contains_key("code"), "{params:?}");
    params
}
