//! CORS: browser apps (public clients) call the token, userinfo, introspection and revocation
//! endpoints from their redirect URIs' origins (and configured ones), on every instance within
//! the change feed's interval; discovery and the JWKS are readable from anywhere; nothing else
//! answers a cross-origin request, and no credentials are ever allowed.

use gatehouse::admin::clients::{NewClient, delete_client};
use gatehouse::clock::Clock as _;
use gatehouse::config::Settings;
use gatehouse::domain::WebOrigin;
use reqwest::{Method, Response};

use crate::helpers::{Backend, TestApp, confidential_client, spawn_app_with};

const SPA_ORIGIN: &str = "https://spa.example.com";
const CONFIGURED_ORIGIN: &str = "https://console.example.com";

fn spa_client() -> NewClient {
    NewClient {
        name: "spa".into(),
        public: true,
        scopes: vec!["openid".into()],
        redirect_uris: vec![format!("{SPA_ORIGIN}/callback")],
        ..NewClient::default()
    }
}

fn with_configured_origin(settings: &mut Settings) {
    settings.server.cors_allowed_origins = vec![WebOrigin::parse(CONFIGURED_ORIGIN).unwrap()];
}

async fn preflight(app: &TestApp, path: &str, origin: &str, method: &str) -> Response {
    app.client
        .request(Method::OPTIONS, format!("{}{path}", app.address))
        .header("Origin", origin)
        .header("Access-Control-Request-Method", method)
        .header(
            "Access-Control-Request-Headers",
            "authorization, content-type",
        )
        .send()
        .await
        .expect("request failed")
}

fn header<'a>(response: &'a Response, name: &str) -> Option<&'a str> {
    response.headers().get(name).and_then(|v| v.to_str().ok())
}

fn assert_allowed(response: &Response, origin: &str, methods: &str) {
    assert!(
        response.status().is_success(),
        "preflight from {origin}: {}",
        response.status()
    );
    assert_eq!(
        header(response, "access-control-allow-origin"),
        Some(origin)
    );
    assert_eq!(
        header(response, "access-control-allow-methods"),
        Some(methods)
    );
    let headers = header(response, "access-control-allow-headers").unwrap_or_default();
    for name in ["authorization", "content-type"] {
        assert!(headers.to_ascii_lowercase().contains(name), "{headers}");
    }
    assert_eq!(header(response, "access-control-max-age"), Some("600"));
    assert_eq!(header(response, "access-control-allow-credentials"), None);
}

fn assert_refused(response: &Response, origin: &str) {
    assert!(
        !response.status().is_success(),
        "preflight from {origin} allowed"
    );
    assert_eq!(header(response, "access-control-allow-origin"), None);
}

async fn a_public_clients_redirect_origin_may_call_the_client_endpoints(backend: Backend) {
    let Some(app) = spawn_app_with(backend, with_configured_origin).await else {
        return;
    };
    app.register_client(spa_client()).await;
    app.read_changes().await;

    for path in ["/oauth2/token", "/oauth2/introspect", "/oauth2/revoke"] {
        let response = preflight(&app, path, SPA_ORIGIN, "POST").await;
        assert_allowed(&response, SPA_ORIGIN, "POST");
    }
    let response = preflight(&app, "/oauth2/userinfo", SPA_ORIGIN, "GET").await;
    let methods = header(&response, "access-control-allow-methods").unwrap_or_default();
    assert!(
        methods.contains("GET") && methods.contains("POST"),
        "{methods}"
    );
    assert_eq!(
        header(&response, "access-control-allow-origin"),
        Some(SPA_ORIGIN)
    );
    let response = preflight(&app, "/oauth2/token", CONFIGURED_ORIGIN, "POST").await;
    assert_allowed(&response, CONFIGURED_ORIGIN, "POST");
}

async fn unknown_and_confidential_origins_are_refused(backend: Backend) {
    let Some(app) = spawn_app_with(backend, with_configured_origin).await else {
        return;
    };
    app.register_client(spa_client()).await;
    let confidential = NewClient {
        redirect_uris: vec!["https://backend.example.com/callback".into()],
        ..confidential_client()
    };
    app.register_client(confidential).await;
    let disabled = NewClient {
        redirect_uris: vec!["https://disabled.example.com/callback".into()],
        disabled: true,
        ..spa_client()
    };
    app.register_client(disabled).await;
    app.read_changes().await;
    let allowed = preflight(&app, "/oauth2/token", SPA_ORIGIN, "POST").await;
    assert_allowed(&allowed, SPA_ORIGIN, "POST");

    for origin in [
        "https://evil.example.com",
        "https://backend.example.com",
        "https://disabled.example.com",
        "null",
    ] {
        for path in ["/oauth2/token", "/oauth2/userinfo"] {
            assert_refused(&preflight(&app, path, origin, "POST").await, origin);
        }
    }
    // An actual request from a refused origin is answered, but a browser shows it nothing.
    let response = app
        .client
        .post(format!("{}/oauth2/token", app.address))
        .header("Origin", "https://backend.example.com")
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(header(&response, "access-control-allow-origin"), None);
}

async fn a_token_response_names_the_allowed_origin_and_varies_by_origin(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |_| {}).await else {
        return;
    };
    let spa = app.register_client(spa_client()).await;
    app.read_changes().await;

    // A public client's code exchange is a CORS "simple request" (a form, no Authorization):
    // no preflight, so this response's headers alone decide what the app may read.
    let response = app
        .client
        .post(format!("{}/oauth2/token", app.address))
        .header("Origin", SPA_ORIGIN)
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_id", spa.id.as_str()),
            ("code", "not-a-code"),
            ("redirect_uri", &format!("{SPA_ORIGIN}/callback")),
            ("code_verifier", &"v".repeat(43)),
        ])
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 400);
    assert_eq!(
        header(&response, "access-control-allow-origin"),
        Some(SPA_ORIGIN)
    );
    let vary = header(&response, "vary").unwrap_or_default();
    assert!(vary.contains("Origin"), "Vary: {vary}");
    let exposed = header(&response, "access-control-expose-headers")
        .unwrap_or_default()
        .to_ascii_lowercase();
    assert!(exposed.contains("www-authenticate"), "{exposed}");
    assert_eq!(header(&response, "access-control-allow-credentials"), None);
}

async fn a_deleted_public_clients_origin_is_refused_on_every_instance(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |_| {}).await else {
        return;
    };
    let other = app.spawn_instance().await;
    let spa = app.register_client(spa_client()).await;
    // A second public client on another origin: its origin stays.
    let second = NewClient {
        redirect_uris: vec!["https://other-spa.example.com/cb".into()],
        ..spa_client()
    };
    app.register_client(second).await;
    for instance in [&app, &other] {
        instance.read_changes().await;
        let response = preflight(instance, "/oauth2/token", SPA_ORIGIN, "POST").await;
        assert_allowed(&response, SPA_ORIGIN, "POST");
    }

    let db = app.state.db.as_ref();
    delete_client(db, &spa.id, None, "test", app.clock.now())
        .await
        .unwrap();

    for instance in [&app, &other] {
        instance.read_changes().await;
        let response = preflight(instance, "/oauth2/token", SPA_ORIGIN, "POST").await;
        assert_refused(&response, SPA_ORIGIN);
        let response = preflight(
            instance,
            "/oauth2/token",
            "https://other-spa.example.com",
            "POST",
        )
        .await;
        assert_allowed(&response, "https://other-spa.example.com", "POST");
    }
}

async fn discovery_and_jwks_are_readable_from_any_origin(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |_| {}).await else {
        return;
    };
    for path in [
        "/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server",
        "/.well-known/jwks.json",
    ] {
        let response = app
            .client
            .get(format!("{}{path}", app.address))
            .header("Origin", "https://anyone.example.net")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(header(&response, "access-control-allow-origin"), Some("*"));
        assert_eq!(header(&response, "access-control-allow-credentials"), None);
        let response = preflight(&app, path, "https://anyone.example.net", "GET").await;
        assert!(response.status().is_success(), "{path}");
        assert_eq!(header(&response, "access-control-allow-origin"), Some("*"));
    }
}

/// The pages, the authorization endpoint and `/v1` take no cross-origin calls, even from an
/// allowed origin; a plain `OPTIONS` (no preflight) is still a 405 with `Allow`.
async fn other_endpoints_answer_no_cross_origin_request(backend: Backend) {
    let Some(app) = spawn_app_with(backend, with_configured_origin).await else {
        return;
    };
    let allowed = preflight(&app, "/oauth2/token", CONFIGURED_ORIGIN, "POST").await;
    assert_allowed(&allowed, CONFIGURED_ORIGIN, "POST");
    for path in ["/oauth2/authorize", "/v1/clients", "/oauth2/logout"] {
        let response = preflight(&app, path, CONFIGURED_ORIGIN, "POST").await;
        assert_eq!(
            header(&response, "access-control-allow-origin"),
            None,
            "{path}"
        );
    }
    let response = app
        .client
        .request(Method::OPTIONS, format!("{}/oauth2/token", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(header(&response, "allow"), Some("POST"));
}

crate::on_every_backend!(
    a_public_clients_redirect_origin_may_call_the_client_endpoints,
    unknown_and_confidential_origins_are_refused,
    a_token_response_names_the_allowed_origin_and_varies_by_origin,
    a_deleted_public_clients_origin_is_refused_on_every_instance,
    discovery_and_jwks_are_readable_from_any_origin,
    other_endpoints_answer_no_cross_origin_request,
);
