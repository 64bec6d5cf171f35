//! The consent page (OIDC Core §3.1.2.4): what it shows, what Deny does, which decisions are
//! remembered, and that its form works once.

use gatehouse::admin::clients::NewClient;

use crate::flow::{Browser, PASSWORD, redirect_params, web_client};
use crate::helpers::{Backend, RegisteredClient, TestApp, spawn_app};
use crate::pages::{
    assert_error_page, assert_error_redirect, authorize_url, authorized_code, sign_in,
};

/// An app with the web client and ann, and a browser where ann has just signed in for `scope`
/// and sees the consent page.
async fn at_the_consent_page(
    backend: Backend,
    scope: &str,
) -> Option<(TestApp, RegisteredClient, Browser, String)> {
    let app = spawn_app(backend).await?;
    let client = app.register_client(web_client()).await;
    app.create_user("ann", PASSWORD).await;
    let browser = Browser::new();
    let url = authorize_url(&app, &client.id, &[("scope", Some(scope))]);
    let response = sign_in(&app, &browser, &url, "ann").await;
    assert_eq!(response.status(), 200, "the consent page");
    let page = response.text().await.unwrap();
    assert!(page.contains(r#"name="decision""#), "{page}");
    Some((app, client, browser, page))
}

async fn consent_page_lists_the_requested_scopes_in_words(backend: Backend) {
    let Some((_app, _client, _browser, page)) =
        at_the_consent_page(backend, "openid email offline_access orders:read").await
    else {
        return;
    };

    assert!(page.contains("Example App"), "names the client: {page}");
    assert!(
        page.contains("<strong>ann</strong>"),
        "names the person: {page}"
    );
    for words in [
        "Confirm who you are",
        "See your email address",
        "Stay connected when you are not using it",
        "orders:read",
    ] {
        assert!(page.contains(words), "{words}: {page}");
    }
    assert!(!page.contains("See your name"), "profile was not asked for");
}

async fn consent_deny_redirects_with_access_denied(backend: Backend) {
    let Some((app, client, browser, page)) = at_the_consent_page(backend, "openid").await else {
        return;
    };

    let response = browser.submit(&app, &page, &[("decision", "deny")]).await;

    assert_error_redirect(&app, &response, "access_denied");
    let again = browser
        .get(&authorize_url(
            &app,
            &client.id,
            &[("scope", Some("openid"))],
        ))
        .await;
    assert_eq!(
        again.status(),
        200,
        "nothing was remembered: consent is asked again"
    );
    assert!(again.text().await.unwrap().contains(r#"name="decision""#));
}

async fn consent_is_remembered_for_the_same_user_client_and_scopes(backend: Backend) {
    let Some((app, client, browser, page)) = at_the_consent_page(backend, "openid profile").await
    else {
        return;
    };
    let allowed = browser.submit(&app, &page, &[("decision", "allow")]).await;
    assert!(redirect_params(&allowed).contains_key("code"));

    for scope in ["openid profile", "openid"] {
        let url = authorize_url(&app, &client.id, &[("scope", Some(scope))]);
        let response = browser.get(&url).await;
        let params = redirect_params(&response);
        assert!(params.contains_key("code"), "{scope}: {params:?}");
    }
}

async fn consent_is_asked_again_for_a_wider_scope(backend: Backend) {
    let Some((app, client, browser, page)) = at_the_consent_page(backend, "openid").await else {
        return;
    };
    browser.submit(&app, &page, &[("decision", "allow")]).await;
    let wider = authorize_url(&app, &client.id, &[("scope", Some("openid email"))]);

    let response = browser.get(&wider).await;

    assert_eq!(response.status(), 200);
    let page = response.text().await.unwrap();
    assert!(page.contains(r#"name="decision""#), "{page}");
    assert!(page.contains("See your email address"), "{page}");
}

async fn consent_is_asked_again_with_prompt_consent(backend: Backend) {
    let Some((app, client, browser, page)) = at_the_consent_page(backend, "openid").await else {
        return;
    };
    browser.submit(&app, &page, &[("decision", "allow")]).await;
    let url = authorize_url(
        &app,
        &client.id,
        &[("scope", Some("openid")), ("prompt", Some("consent"))],
    );

    let response = browser.get(&url).await;

    assert_eq!(response.status(), 200);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains(r#"name="decision""#)
    );
}

async fn a_first_party_client_never_shows_consent(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let first_party = NewClient {
        first_party: true,
        ..web_client()
    };
    let client = app.register_client(first_party).await;
    app.create_user("ann", PASSWORD).await;
    let browser = Browser::new();

    let response = sign_in(&app, &browser, &authorize_url(&app, &client.id, &[]), "ann").await;

    let params = redirect_params(&response);
    assert!(params.contains_key("code"), "{params:?}");
    let silent = authorize_url(&app, &client.id, &[("prompt", Some("none"))]);
    assert!(redirect_params(&browser.get(&silent).await).contains_key("code"));
    authorized_code(
        &app,
        &browser,
        &client.id,
        &[("scope", Some("openid email"))],
    )
    .await;
}

async fn consent_posted_twice_answers_an_error_page_and_no_second_code(backend: Backend) {
    let Some((app, _client, browser, page)) = at_the_consent_page(backend, "openid").await else {
        return;
    };
    let first = browser.submit(&app, &page, &[("decision", "allow")]).await;
    assert!(redirect_params(&first).contains_key("code"));

    let second = browser.submit(&app, &page, &[("decision", "allow")]).await;

    let page = assert_error_page(second, 400).await;
    assert!(!page.contains("code="), "{page}");
}

crate::on_every_backend!(
    consent_page_lists_the_requested_scopes_in_words,
    consent_deny_redirects_with_access_denied,
    consent_is_remembered_for_the_same_user_client_and_scopes,
    consent_is_asked_again_for_a_wider_scope,
    consent_is_asked_again_with_prompt_consent,
    a_first_party_client_never_shows_consent,
    consent_posted_twice_answers_an_error_page_and_no_second_code,
);
