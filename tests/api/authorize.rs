//! The authorization endpoint (RFC 6749 §4.1.1). Until the client and its redirect URI are
//! verified, an error is a page and never a redirect (§4.1.2.1, RFC 9700 §4.1.3); after that it
//! goes back to the client with `state` and `iss` (RFC 9207).

use gatehouse::admin::clients::NewClient;

use crate::flow::{Browser, redirect_params, web_client};
use crate::helpers::{Backend, TestApp, spawn_app};
use crate::pages::{assert_error_page, assert_error_redirect, authorize_url};

async fn get(app: &TestApp, url: &str) -> reqwest::Response {
    app.client.get(url).send().await.unwrap()
}

/// A native app (RFC 8252) registered with a loopback redirect on no particular port.
fn native_client() -> NewClient {
    NewClient {
        name: "Desktop App".into(),
        public: true,
        scopes: vec!["openid".into()],
        redirect_uris: vec!["http://127.0.0.1/cb".into()],
        ..NewClient::default()
    }
}

async fn authorize_shows_an_error_page_for_a_redirect_uri_not_registered_byte_for_byte(
    backend: Backend,
) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let client = app.register_client(web_client()).await;

    for variant in [
        "https://evil.example/callback",
        "https://app.example.com/callback/x",
        "https://app.example.com/callback?a=b",
        "https://app.example.com:8443/callback",
        "https://app.example.com@evil.example/callback",
        "https://app.example.com/callback#fragment",
        "https://app.example.com/callback/",
        "https://APP.example.com/callback",
        "http://app.example.com/callback",
    ] {
        let url = authorize_url(&app, &client.id, &[("redirect_uri", Some(variant))]);
        let page = assert_error_page(get(&app, &url).await, 400).await;
        assert!(page.contains("invalid_request"), "{variant}: {page}");
    }
}

async fn authorize_shows_an_error_page_for_an_unknown_client_id(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    app.register_client(web_client()).await;

    for unknown in ["no-such-client", "3f2c4d1e-0000-4000-8000-000000000000"] {
        let url = authorize_url(&app, unknown, &[]);
        assert_error_page(get(&app, &url).await, 400).await;
    }
}

async fn authorize_shows_an_error_page_for_a_missing_client_id_or_redirect_uri(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let client = app.register_client(web_client()).await;

    for missing in ["client_id", "redirect_uri"] {
        let url = authorize_url(&app, &client.id, &[(missing, None)]);
        let page = assert_error_page(get(&app, &url).await, 400).await;
        assert!(page.contains(missing), "{page}");
    }
}

async fn authorize_accepts_any_port_on_a_registered_loopback_redirect(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let client = app.register_client(native_client()).await;
    app.create_user("ann", crate::flow::PASSWORD).await;
    let redirect_uri = "http://127.0.0.1:53211/cb";
    let url = authorize_url(
        &app,
        &client.id,
        &[
            ("redirect_uri", Some(redirect_uri)),
            ("scope", Some("openid")),
        ],
    );

    let response = Browser::new().authorize(&app, &url, "ann", "allow").await;

    let params = redirect_params(&response);
    let location = response.headers()["location"].to_str().unwrap();
    assert!(
        location.starts_with("http://127.0.0.1:53211/cb?"),
        "{location}"
    );
    assert!(params.contains_key("code"), "{params:?}");
}

async fn authorize_refuses_another_path_or_host_on_a_loopback_redirect(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let client = app.register_client(native_client()).await;

    for variant in [
        "http://127.0.0.1:53211/other",
        "http://127.0.0.1:53211/cb/x",
        "http://127.0.0.1:53211/cb?a=b",
        "http://127.0.0.2:53211/cb",
        "http://localhost:53211/cb",
        "https://127.0.0.1:53211/cb",
        "http://app@127.0.0.1:53211/cb",
    ] {
        let url = authorize_url(&app, &client.id, &[("redirect_uri", Some(variant))]);
        assert_error_page(get(&app, &url).await, 400).await;
    }
}

async fn authorize_refuses_a_loopback_redirect_that_differs_in_more_than_the_port(
    backend: Backend,
) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let client = app.register_client(native_client()).await;

    // Each designates the registered URI once normalised, but is not it byte for byte.
    for variant in [
        "http://127.0.0.1:53211/x/../cb",
        "http://127.1:53211/cb",
        "HTTP://127.0.0.1:53211/cb",
        "http://127.0.0.1:53211/c\tb",
    ] {
        let url = authorize_url(&app, &client.id, &[("redirect_uri", Some(variant))]);
        assert_error_page(get(&app, &url).await, 400).await;
    }
}

async fn authorize_requires_a_code_challenge(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let client = app.register_client(web_client()).await;
    let url = authorize_url(
        &app,
        &client.id,
        &[("code_challenge", None), ("code_challenge_method", None)],
    );

    let response = get(&app, &url).await;

    assert_error_redirect(&app, &response, "invalid_request");
}

async fn authorize_refuses_plain_pkce(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let client = app.register_client(web_client()).await;
    let url = authorize_url(
        &app,
        &client.id,
        &[
            ("code_challenge", Some(crate::pages::VERIFIER)),
            ("code_challenge_method", Some("plain")),
        ],
    );

    let response = get(&app, &url).await;

    assert_error_redirect(&app, &response, "invalid_request");
}

async fn authorize_refuses_the_token_response_type(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let client = app.register_client(web_client()).await;
    let url = authorize_url(&app, &client.id, &[("response_type", Some("token"))]);

    let response = get(&app, &url).await;

    assert_error_redirect(&app, &response, "unsupported_response_type");
}

async fn authorize_refuses_a_scope_outside_the_clients_scopes(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let client = app.register_client(web_client()).await;
    let url = authorize_url(&app, &client.id, &[("scope", Some("openid orders:write"))]);

    let response = get(&app, &url).await;

    assert_error_redirect(&app, &response, "invalid_scope");
}

async fn authorize_refuses_a_client_without_the_authorization_code_grant(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let machine = NewClient {
        grant_types: vec!["client_credentials".into()],
        ..web_client()
    };
    let client = app.register_client(machine).await;
    let url = authorize_url(&app, &client.id, &[]);

    let response = get(&app, &url).await;

    assert_error_redirect(&app, &response, "unauthorized_client");
}

/// RFC 6749 §3.1: a parameter sent twice is refused even when its first value is empty.
/// Which value was meant is unknown, so nothing is trusted: an error page, never a redirect.
async fn authorize_refuses_a_repeated_parameter_whose_first_value_is_empty(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let client = app.register_client(web_client()).await;
    let url = authorize_url(&app, &client.id, &[("scope", Some(""))]);

    let response = get(&app, &format!("{url}&scope=openid")).await;

    crate::pages::assert_error_page(response, 400).await;
}

/// OIDC Core §3.1.2.6: once the client and redirect URI are verified, a Request Object by
/// value or by reference is refused with its own error code, sent back to the client.
async fn authorize_refuses_request_objects_with_their_own_codes(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let client = app.register_client(web_client()).await;
    let by_value = authorize_url(
        &app,
        &client.id,
        &[("request", Some("eyJhbGciOiJub25lIn0.e30."))],
    );
    let by_reference = authorize_url(
        &app,
        &client.id,
        &[("request_uri", Some("urn:ietf:params:oauth:request_uri:abc"))],
    );

    let by_value = get(&app, &by_value).await;
    let by_reference = get(&app, &by_reference).await;

    assert_error_redirect(&app, &by_value, "request_not_supported");
    assert_error_redirect(&app, &by_reference, "request_uri_not_supported");
}

crate::on_every_backend!(
    authorize_refuses_request_objects_with_their_own_codes,
    authorize_refuses_a_repeated_parameter_whose_first_value_is_empty,
    authorize_shows_an_error_page_for_a_redirect_uri_not_registered_byte_for_byte,
    authorize_shows_an_error_page_for_an_unknown_client_id,
    authorize_shows_an_error_page_for_a_missing_client_id_or_redirect_uri,
    authorize_accepts_any_port_on_a_registered_loopback_redirect,
    authorize_refuses_another_path_or_host_on_a_loopback_redirect,
    authorize_refuses_a_loopback_redirect_that_differs_in_more_than_the_port,
    authorize_requires_a_code_challenge,
    authorize_refuses_plain_pkce,
    authorize_refuses_the_token_response_type,
    authorize_refuses_a_scope_outside_the_clients_scopes,
    authorize_refuses_a_client_without_the_authorization_code_grant,
);
