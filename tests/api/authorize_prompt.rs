//! `prompt` and `max_age` (OIDC Core §3.1.2.1, §3.1.2.6): when a signed-in browser's session may
//! be used, and what happens when it may not.

use std::time::Duration;

use serde_json::Value;

use crate::flow::{Browser, PASSWORD, redirect_params, web_client};
use crate::helpers::{Backend, RegisteredClient, TestApp, spawn_app};
use crate::pages::{
    assert_error_redirect, authorize_url, authorized_code, code_exchange_form, jwt_claims, sign_in,
};

/// An app with the web client and ann, who is signed in and has allowed it.
async fn signed_in_and_consented(backend: Backend) -> Option<(TestApp, RegisteredClient, Browser)> {
    let app = spawn_app(backend).await?;
    let client = app.register_client(web_client()).await;
    app.create_user("ann", PASSWORD).await;
    let browser = Browser::new();
    authorized_code(&app, &browser, &client.id, &[]).await;
    Some((app, client, browser))
}

async fn id_token_for(app: &TestApp, client: &RegisteredClient, code: &str) -> Value {
    let response = app
        .post_token(&code_exchange_form(code), client.basic())
        .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    jwt_claims(body["id_token"].as_str().expect("an ID token"))
}

async fn prompt_none_without_a_session_redirects_with_login_required(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let client = app.register_client(web_client()).await;
    let url = authorize_url(&app, &client.id, &[("prompt", Some("none"))]);

    let response = Browser::new().get(&url).await;

    assert_error_redirect(&app, &response, "login_required");
}

async fn prompt_none_with_a_session_but_no_consent_redirects_with_consent_required(
    backend: Backend,
) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let client = app.register_client(web_client()).await;
    app.create_user("ann", PASSWORD).await;
    let browser = Browser::new();
    // Signed in, but the consent page is left unanswered.
    let consent = sign_in(&app, &browser, &authorize_url(&app, &client.id, &[]), "ann").await;
    assert_eq!(consent.status(), 200);
    let url = authorize_url(&app, &client.id, &[("prompt", Some("none"))]);

    let response = browser.get(&url).await;

    assert_error_redirect(&app, &response, "consent_required");
}

async fn prompt_none_with_a_session_and_consent_returns_a_code_without_a_page(backend: Backend) {
    let Some((app, client, browser)) = signed_in_and_consented(backend).await else {
        return;
    };
    let url = authorize_url(&app, &client.id, &[("prompt", Some("none"))]);

    let response = browser.get(&url).await;

    let params = redirect_params(&response);
    assert!(params.contains_key("code"), "{params:?}");
    assert_eq!(
        params.get("state").map(String::as_str),
        Some(crate::pages::STATE)
    );
    assert_eq!(params.get("iss"), Some(&app.issuer));
}

async fn prompt_login_shows_the_login_page_to_a_signed_in_person(backend: Backend) {
    let Some((app, client, browser)) = signed_in_and_consented(backend).await else {
        return;
    };
    let url = authorize_url(&app, &client.id, &[("prompt", Some("login"))]);

    let response = browser.get(&url).await;

    assert_eq!(response.status(), 200);
    let page = response.text().await.unwrap();
    assert!(page.contains(r#"name="password""#), "{page}");
}

async fn a_session_within_max_age_is_used_without_a_page(backend: Backend) {
    let Some((app, client, browser)) = signed_in_and_consented(backend).await else {
        return;
    };
    let signed_in_at = app.now();
    app.clock.advance(Duration::from_secs(30));
    let url = authorize_url(&app, &client.id, &[("max_age", Some("60"))]);

    let response = browser.get(&url).await;

    let code = redirect_params(&response)["code"].clone();
    let claims = id_token_for(&app, &client, &code).await;
    assert_eq!(claims["auth_time"], signed_in_at);
}

async fn a_session_older_than_max_age_signs_in_again_with_a_new_auth_time(backend: Backend) {
    let Some((app, client, browser)) = signed_in_and_consented(backend).await else {
        return;
    };
    let first_sign_in = app.now();
    app.clock.advance(Duration::from_secs(61));
    let url = authorize_url(&app, &client.id, &[("max_age", Some("60"))]);

    let page = browser.get(&url).await;
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains(r#"name="password""#));
    let code = authorized_code(&app, &browser, &client.id, &[("max_age", Some("60"))]).await;

    let claims = id_token_for(&app, &client, &code).await;
    assert_eq!(claims["auth_time"], app.now(), "the new sign-in time");
    assert_ne!(claims["auth_time"], first_sign_in);
}

async fn prompt_none_with_a_session_older_than_max_age_redirects_with_login_required(
    backend: Backend,
) {
    let Some((app, client, browser)) = signed_in_and_consented(backend).await else {
        return;
    };
    app.clock.advance(Duration::from_secs(1));
    let url = authorize_url(
        &app,
        &client.id,
        &[("prompt", Some("none")), ("max_age", Some("0"))],
    );

    let response = browser.get(&url).await;

    assert_error_redirect(&app, &response, "login_required");
}

async fn a_session_past_its_lifetime_no_longer_signs_anyone_in(backend: Backend) {
    let Some((app, client, browser)) = signed_in_and_consented(backend).await else {
        return;
    };
    let lifetime = app.settings.sessions.lifetime_secs;
    app.clock.advance(Duration::from_secs(lifetime - 1));
    let url = authorize_url(&app, &client.id, &[("prompt", Some("none"))]);
    assert!(redirect_params(&browser.get(&url).await).contains_key("code"));

    app.clock.advance(Duration::from_secs(1));
    let response = browser.get(&url).await;

    assert_error_redirect(&app, &response, "login_required");
}

crate::on_every_backend!(
    prompt_none_without_a_session_redirects_with_login_required,
    prompt_none_with_a_session_but_no_consent_redirects_with_consent_required,
    prompt_none_with_a_session_and_consent_returns_a_code_without_a_page,
    prompt_login_shows_the_login_page_to_a_signed_in_person,
    a_session_within_max_age_is_used_without_a_page,
    a_session_older_than_max_age_signs_in_again_with_a_new_auth_time,
    prompt_none_with_a_session_older_than_max_age_redirects_with_login_required,
    a_session_past_its_lifetime_no_longer_signs_anyone_in,
);
