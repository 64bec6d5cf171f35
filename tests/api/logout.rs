//! RP-Initiated Logout 1.0: a valid request ends the session and sends the browser to a
//! registered `post_logout_redirect_uri` with its `state`; without an `id_token_hint` naming the
//! signed-in person, the person is asked first (§2); a request that fails a check shows an
//! error page, redirects nowhere and ends nothing.

use std::collections::HashMap;

use gatehouse::crypto::{SigningAlgorithm, SigningKey};
use serde_json::json;

use crate::flow::{
    PASSWORD, SignedIn, redirect_params, relying_party, sign_in_and_exchange, start, web_client,
};
use crate::helpers::{Backend, RegisteredClient, TestApp, spawn_app};
use crate::jose::{es256_key, forge, segment};

const SIGNED_OUT: &str = "https://app.example.com/signed-out";

/// A web client and ann, signed in to it in her browser.
async fn signed_in(app: &TestApp) -> (RegisteredClient, SignedIn) {
    let client = app.register_client(web_client()).await;
    app.create_user("ann", PASSWORD).await;
    let signed_in = sign_in_and_exchange(app, &client, &["openid"], "ann").await;
    (client, signed_in)
}

fn logout_url(app: &TestApp, params: &[(&str, &str)]) -> String {
    url::Url::parse_with_params(&format!("{}/oauth2/logout", app.address), params)
        .unwrap()
        .to_string()
}

/// OIDC Core §3.1.2.1 `prompt=none`, sent with `cookies`: a code while the session lives,
/// `login_required` once it has ended.
async fn authorize_silently(
    app: &TestApp,
    client: &RegisteredClient,
    cookies: &str,
) -> HashMap<String, String> {
    let started = start(
        &relying_party(app, client),
        &["openid"],
        &[("prompt", "none")],
    );
    let response = app
        .client
        .get(&started.url)
        .header("cookie", cookies)
        .send()
        .await
        .unwrap();
    redirect_params(&response)
}

/// The answer of a request that changed nothing: an HTML error page, no redirect, no cookie.
async fn assert_refused_page(response: reqwest::Response) {
    assert_eq!(response.status(), 400);
    assert!(response.headers().get("location").is_none());
    assert!(response.headers().get("set-cookie").is_none());
    let content_type = response.headers()["content-type"].to_str().unwrap();
    assert!(content_type.starts_with("text/html"), "{content_type}");
    let page = response.text().await.unwrap();
    assert!(page.contains("invalid_request"), "{page}");
}

async fn logout_redirects_to_the_registered_uri_with_state_and_ends_the_session(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (client, signed_in) = signed_in(&app).await;
    let cookies = signed_in.cookies(&app);
    assert!(cookies.contains("gatehouse-session="), "{cookies}");
    let before = authorize_silently(&app, &client, &cookies).await;
    assert!(before.contains_key("code"), "signed in: {before:?}");
    let id_token = signed_in.id_token.clone().unwrap();
    let url = logout_url(
        &app,
        &[
            ("id_token_hint", id_token.as_str()),
            ("post_logout_redirect_uri", SIGNED_OUT),
            ("state", "xyz"),
        ],
    );

    let response = signed_in.browser.get(&url).await;

    assert_eq!(response.status(), 303);
    let location = url::Url::parse(response.headers()["location"].to_str().unwrap()).unwrap();
    assert_eq!(location.as_str(), format!("{SIGNED_OUT}?state=xyz"));
    let cleared = response.headers()["set-cookie"].to_str().unwrap();
    assert!(cleared.starts_with("gatehouse-session=;"), "{cleared}");
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    // the browser dropped the cookie, and the server forgot the session behind it
    assert!(!signed_in.cookies(&app).contains("gatehouse-session="));
    for sent in [signed_in.cookies(&app), cookies] {
        let after = authorize_silently(&app, &client, &sent).await;
        assert_eq!(
            after.get("error").map(String::as_str),
            Some("login_required")
        );
    }
}

async fn logout_accepts_its_parameters_in_a_form_post(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (client, signed_in) = signed_in(&app).await;
    let id_token = signed_in.id_token.clone().unwrap();
    let form = [
        ("id_token_hint", id_token.as_str()),
        ("post_logout_redirect_uri", SIGNED_OUT),
        ("state", "xyz"),
    ];

    let response = signed_in
        .browser
        .http
        .post(logout_url(&app, &[]))
        .form(&form)
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 303);
    assert_eq!(
        response.headers()["location"],
        format!("{SIGNED_OUT}?state=xyz").as_str()
    );
    let after = authorize_silently(&app, &client, &signed_in.cookies(&app)).await;
    assert_eq!(
        after.get("error").map(String::as_str),
        Some("login_required")
    );
}

async fn logout_to_an_unregistered_uri_shows_an_error_and_keeps_the_session(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (client, signed_in) = signed_in(&app).await;
    let id_token = signed_in.id_token.clone().unwrap();
    let url = logout_url(
        &app,
        &[
            ("id_token_hint", id_token.as_str()),
            (
                "post_logout_redirect_uri",
                "https://evil.example.com/signed-out",
            ),
            ("state", "xyz"),
        ],
    );

    let response = signed_in.browser.get(&url).await;

    assert_refused_page(response).await;
    let after = authorize_silently(&app, &client, &signed_in.cookies(&app)).await;
    assert!(after.contains_key("code"), "still signed in: {after:?}");
}

async fn logout_without_a_hint_asks_the_person_before_signing_out(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (client, signed_in) = signed_in(&app).await;
    let cookies = signed_in.cookies(&app);

    let question = signed_in.browser.get(&logout_url(&app, &[])).await;

    assert_eq!(question.status(), 200);
    assert!(question.headers().get("set-cookie").is_none());
    let page = question.text().await.unwrap();
    assert!(page.contains("Sign out of Gatehouse?"), "{page}");
    let still = authorize_silently(&app, &client, &cookies).await;
    assert!(
        still.contains_key("code"),
        "nothing ends before the answer: {still:?}"
    );

    let answer = answer(&app, &signed_in, &page, "logout").await;

    assert_eq!(answer.status(), 200);
    let page = answer.text().await.unwrap();
    assert!(page.contains("You are signed out"), "{page}");
    let after = authorize_silently(&app, &client, &cookies).await;
    assert_eq!(
        after.get("error").map(String::as_str),
        Some("login_required")
    );
}

async fn a_person_who_chooses_to_stay_keeps_the_session(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (client, signed_in) = signed_in(&app).await;
    let url = logout_url(
        &app,
        &[
            ("client_id", client.id.as_str()),
            ("post_logout_redirect_uri", SIGNED_OUT),
        ],
    );
    let page = signed_in.browser.get(&url).await.text().await.unwrap();

    let answer = answer(&app, &signed_in, &page, "stay").await;

    assert_eq!(answer.status(), 303);
    assert_eq!(answer.headers()["location"], SIGNED_OUT);
    let after = authorize_silently(&app, &client, &signed_in.cookies(&app)).await;
    assert!(after.contains_key("code"), "still signed in: {after:?}");
}

async fn a_logout_confirmation_from_another_browser_or_posted_twice_is_refused(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (client, signed_in) = signed_in(&app).await;
    let page = signed_in
        .browser
        .get(&logout_url(&app, &[]))
        .await
        .text()
        .await
        .unwrap();
    let confirmation = hidden_confirmation(&page);
    let form = [
        ("confirmation", confirmation.as_str()),
        ("decision", "logout"),
    ];

    // a page on another site posting the form: the browser sends no Gatehouse session
    let forged = app
        .client
        .post(format!("{}/oauth2/logout/confirm", app.address))
        .form(&form)
        .send()
        .await
        .unwrap();

    assert_eq!(forged.status(), 403);
    let after = authorize_silently(&app, &client, &signed_in.cookies(&app)).await;
    assert!(after.contains_key("code"), "still signed in: {after:?}");
    let again = answer(&app, &signed_in, &page, "logout").await;
    assert_eq!(
        again.status(),
        403,
        "the forged post used the confirmation up"
    );
}

fn hidden_confirmation(page: &str) -> String {
    let start = page.find(r#"name="confirmation" value=""#).unwrap() + 27;
    let end = start + page[start..].find('"').unwrap();
    page[start..end].to_owned()
}

/// Posts the person's answer to the logout question on `page`.
async fn answer(
    app: &TestApp,
    signed_in: &SignedIn,
    page: &str,
    decision: &str,
) -> reqwest::Response {
    let confirmation = hidden_confirmation(page);
    signed_in
        .browser
        .http
        .post(format!("{}/oauth2/logout/confirm", app.address))
        .form(&[
            ("confirmation", confirmation.as_str()),
            ("decision", decision),
        ])
        .send()
        .await
        .unwrap()
}

async fn logout_without_a_session_shows_the_signed_out_page(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };

    let response = app.client.get(logout_url(&app, &[])).send().await.unwrap();

    assert_eq!(response.status(), 200);
    let page = response.text().await.unwrap();
    assert!(page.contains("You are signed out"), "{page}");
}

async fn logout_refuses_an_id_token_hint_not_signed_by_us(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (client, signed_in) = signed_in(&app).await;
    let id_token = signed_in.id_token.clone().unwrap();
    let (header, claims) = (segment(&id_token, 0), segment(&id_token, 1));
    // another RS256 key claiming our kid, and an ES256 one swapping the algorithm too
    let impostor = SigningKey::generate(SigningAlgorithm::Rs256).unwrap().0;
    let forged = forge(&header, &claims, |input| impostor.sign(input).unwrap());
    let mut swapped_header = header.clone();
    swapped_header["alg"] = json!("ES256");
    let swapped = forge(&swapped_header, &claims, |input| {
        es256_key().sign(input).unwrap()
    });
    let mut unsigned_header = header.clone();
    unsigned_header["alg"] = json!("none");
    let unsigned = forge(&unsigned_header, &claims, |_| Vec::new());

    for hint in [forged, swapped, unsigned, "garbage".to_owned()] {
        let url = logout_url(
            &app,
            &[
                ("id_token_hint", hint.as_str()),
                ("post_logout_redirect_uri", SIGNED_OUT),
            ],
        );
        assert_refused_page(signed_in.browser.get(&url).await).await;
    }
    let after = authorize_silently(&app, &client, &signed_in.cookies(&app)).await;
    assert!(after.contains_key("code"), "still signed in: {after:?}");
}

async fn logout_refuses_an_access_token_as_id_token_hint(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (_, signed_in) = signed_in(&app).await;
    let url = logout_url(
        &app,
        &[
            ("id_token_hint", signed_in.access_token.as_str()),
            ("post_logout_redirect_uri", SIGNED_OUT),
        ],
    );

    let response = signed_in.browser.get(&url).await;

    assert_refused_page(response).await;
}

async fn logout_accepts_client_id_in_place_of_a_hint(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (client, signed_in) = signed_in(&app).await;
    let stranger = app.register_client(web_client()).await;
    let id_token = signed_in.id_token.clone().unwrap();
    let mismatched = logout_url(
        &app,
        &[
            ("id_token_hint", id_token.as_str()),
            ("client_id", stranger.id.as_str()),
            ("post_logout_redirect_uri", SIGNED_OUT),
        ],
    );
    assert_refused_page(signed_in.browser.get(&mismatched).await).await;

    let url = logout_url(
        &app,
        &[
            ("client_id", client.id.as_str()),
            ("post_logout_redirect_uri", SIGNED_OUT),
            ("state", "xyz"),
        ],
    );
    let page = signed_in.browser.get(&url).await.text().await.unwrap();
    let response = answer(&app, &signed_in, &page, "logout").await;

    assert_eq!(response.status(), 303);
    assert_eq!(
        response.headers()["location"],
        format!("{SIGNED_OUT}?state=xyz").as_str()
    );
}

crate::on_every_backend!(
    logout_redirects_to_the_registered_uri_with_state_and_ends_the_session,
    logout_accepts_its_parameters_in_a_form_post,
    logout_to_an_unregistered_uri_shows_an_error_and_keeps_the_session,
    logout_without_a_hint_asks_the_person_before_signing_out,
    a_person_who_chooses_to_stay_keeps_the_session,
    a_logout_confirmation_from_another_browser_or_posted_twice_is_refused,
    logout_without_a_session_shows_the_signed_out_page,
    logout_refuses_an_id_token_hint_not_signed_by_us,
    logout_refuses_an_access_token_as_id_token_hint,
    logout_accepts_client_id_in_place_of_a_hint,
);
