//! HSTS (RFC 6797): an https issuer tells browsers to use https only, on every response; a
//! plain-http issuer never does.

use crate::helpers::{Backend, TestApp, spawn_app, spawn_app_with};

const HTTPS_ISSUER: &str = "https://id.example.com";

/// The `Strict-Transport-Security` value of a success, an OAuth error, a 404 and a page.
async fn hsts_values(app: &TestApp) -> Vec<Option<String>> {
    let success = app.get("/.well-known/openid-configuration").await;
    assert_eq!(success.status(), 200);
    let error = app.post_token(&[("grant_type", "nonsense")], None).await;
    assert!(error.status().is_client_error());
    let missing = app.get("/no-such-path").await;
    assert_eq!(missing.status(), 404);
    let jwks = app.get("/.well-known/jwks.json").await;
    [success, error, missing, jwks]
        .iter()
        .map(|response| {
            response
                .headers()
                .get("strict-transport-security")
                .map(|v| v.to_str().unwrap().to_owned())
        })
        .collect()
}

async fn an_https_issuer_sends_hsts_for_a_year_on_every_response(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |s| {
        s.server.issuer = Some(HTTPS_ISSUER.parse().unwrap());
    })
    .await
    else {
        return;
    };

    let values = hsts_values(&app).await;

    assert_eq!(values, vec![Some("max-age=31536000".to_owned()); 4]);
}

async fn the_hsts_max_age_is_configurable_and_zero_turns_it_off(backend: Backend) {
    let Some(short) = spawn_app_with(backend, |s| {
        s.server.issuer = Some(HTTPS_ISSUER.parse().unwrap());
        s.server.hsts_max_age_secs = 600;
    })
    .await
    else {
        return;
    };
    let off = short
        .spawn_sibling(|s| s.server.hsts_max_age_secs = 0)
        .await;

    assert_eq!(
        hsts_values(&short).await,
        vec![Some("max-age=600".to_owned()); 4]
    );
    assert_eq!(hsts_values(&off).await, vec![None; 4]);
}

async fn a_plain_http_issuer_never_sends_hsts(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    assert!(app.issuer.starts_with("http://"));

    assert_eq!(hsts_values(&app).await, vec![None; 4]);
}

crate::on_every_backend!(
    an_https_issuer_sends_hsts_for_a_year_on_every_response,
    the_hsts_max_age_is_configurable_and_zero_turns_it_off,
    a_plain_http_issuer_never_sends_hsts,
);
