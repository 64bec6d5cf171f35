//! `/v1/users/{id}/factors`: what an admin sees of a person's second factors, and the reset done
//! when a phone is lost or stolen (the factors go, the sessions that rest on them end, the next
//! sign-in asks for the password alone).

use std::time::Duration;

use gatehouse::domain::User;
use gatehouse::signin::enrol;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::admin_helpers::{AdminApi, READ, assert_problem};
use crate::flow::{Browser, PASSWORD, redirect_params, relying_party, start, web_client};
use crate::helpers::{Backend, RegisteredClient, TestApp, spawn_app};
use crate::second_factor::code_at;

/// `username` with an authenticator set up and confirmed through the person's own use cases;
/// the secret in base32. The clock then moves a step on, so the confirming code is spent.
async fn enrolled(app: &TestApp, username: &str) -> (User, String) {
    let user = app.create_user(username, PASSWORD).await;
    let enrolment = enrol::start_totp(&app.state, &user).await.unwrap();
    let code = code_at(&enrolment.secret, app.now());
    let recovery = enrol::confirm_totp(&app.state, user.id, &code)
        .await
        .expect("the first code confirms the authenticator");
    assert_eq!(recovery.len(), 10);
    app.clock.advance(Duration::from_secs(30));
    (user, enrolment.secret)
}

/// A first-party client (no consent page), so a finished sign-in is a redirect with a code.
async fn first_party(app: &TestApp) -> RegisteredClient {
    let mut client = web_client();
    client.first_party = true;
    app.register_client(client).await
}

/// Opens an authorization request in `browser` and, if the login page comes, types the
/// password: what answers it (the code page, or the redirect back to the client).
async fn sign_in(
    app: &TestApp,
    browser: &Browser,
    client: &RegisteredClient,
    username: &str,
) -> reqwest::Response {
    let started = start(&relying_party(app, client), &["openid"], &[]);
    let response = browser.get(&started.url).await;
    if response.status() != 200 {
        return response;
    }
    let page = response.text().await.unwrap();
    assert!(
        page.contains(r#"name="password""#),
        "the login page: {page}"
    );
    browser
        .submit(
            app,
            &page,
            &[("username", username), ("password", PASSWORD)],
        )
        .await
}

fn factors_path(user_id: impl std::fmt::Display) -> String {
    format!("/v1/users/{user_id}/factors")
}

async fn factors_of(api: &AdminApi<'_>, path: &str) -> Value {
    let response = api.get(path).await;
    assert_eq!(response.status(), 200, "GET {path}");
    assert_eq!(response.headers()["content-type"], "application/json");
    assert_eq!(response.headers()["cache-control"], "no-store");
    response.json().await.unwrap()
}

fn rfc3339(unix: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix)
        .unwrap()
        .format(&Rfc3339)
        .unwrap()
}

async fn an_admin_resets_a_lost_phone_and_the_person_signs_in_with_the_password_alone(
    backend: Backend,
) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let api = AdminApi::new(&app).await;
    let client = first_party(&app).await;
    let enrolled_at = app.now();
    let (user, secret) = enrolled(&app, "ann").await;
    let path = factors_path(user.id);

    let factors = factors_of(&api, &path).await;
    assert_eq!(
        factors,
        json!({
            "totp": {
                "confirmed": true,
                "created_at": rfc3339(enrolled_at),
                "confirmed_at": rfc3339(enrolled_at),
            },
            "recovery_codes_left": 10,
            "passkeys": [],
        })
    );
    // The person signs in with both factors; their browser keeps the session.
    let browser = Browser::new();
    let response = sign_in(&app, &browser, &client, "ann").await;
    assert_eq!(response.status(), 200);
    let page = response.text().await.unwrap();
    assert!(page.contains(r#"name="code""#), "the code page: {page}");
    let response = browser
        .submit(&app, &page, &[("code", &code_at(&secret, app.now()))])
        .await;
    assert!(redirect_params(&response).contains_key("code"));
    let again = sign_in(&app, &browser, &client, "ann").await;
    assert_eq!(again.status(), 303, "the session holds until the reset");

    let response = api.delete(&path, None).await;

    assert_eq!(response.status(), 204);
    assert_eq!(
        factors_of(&api, &path).await,
        json!({"totp": null, "recovery_codes_left": 0, "passkeys": []})
    );
    let events = app.state.db.recent_audit_events(20).await.unwrap();
    let resets: Vec<_> = events
        .iter()
        .filter(|e| e.event.action == "user.factors_reset")
        .collect();
    assert_eq!(resets.len(), 1, "{events:?}");
    let admin_client = crate::pages::jwt_claims(&api.token)["client_id"].clone();
    assert_eq!(resets[0].event.actor, admin_client.as_str().unwrap());
    assert_eq!(
        resets[0].event.target_id.as_deref(),
        Some(user.id.to_string().as_str())
    );
    // The session the old factor opened is over: the browser is asked for the password again,
    let started = start(&relying_party(&app, &client), &["openid"], &[]);
    let response = browser.get(&started.url).await;
    assert_eq!(response.status(), 200);
    let page = response.text().await.unwrap();
    assert!(
        page.contains(r#"name="password""#),
        "the login page: {page}"
    );
    // and (a second later: the cut-off covers its own second) the password alone is enough.
    app.clock.advance(Duration::from_secs(1));
    let response = sign_in(&app, &browser, &client, "ann").await;
    let params = redirect_params(&response);
    assert!(params.contains_key("code"), "no code page: {params:?}");
}

async fn a_person_without_factors_shows_none_and_a_reset_changes_nothing_else(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let api = AdminApi::new(&app).await;
    let user = app.create_user("bob", PASSWORD).await;
    let path = factors_path(user.id);
    let none = json!({"totp": null, "recovery_codes_left": 0, "passkeys": []});

    assert_eq!(factors_of(&api, &path).await, none);
    // An enrolment that waits for its first code is shown, unconfirmed, without its secret.
    let enrolment = enrol::start_totp(&app.state, &user).await.unwrap();
    let waiting = factors_of(&api, &path).await;
    assert_eq!(waiting["totp"]["confirmed"], false, "{waiting}");
    assert_eq!(waiting["totp"]["confirmed_at"], Value::Null, "{waiting}");
    assert!(!waiting.to_string().contains(&enrolment.secret));

    assert_eq!(api.delete(&path, None).await.status(), 204);
    assert_eq!(factors_of(&api, &path).await, none);
    assert_eq!(
        api.delete(&path, None).await.status(),
        204,
        "again: no change"
    );
    assert_eq!(factors_of(&api, &path).await, none);
}

async fn factors_of_an_unknown_user_are_404_and_only_admins_reset_them(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let api = AdminApi::new(&app).await;
    let (user, _) = enrolled(&app, "ann").await;
    let path = factors_path(user.id);

    for unknown in [
        factors_path("6a0c8d8e-0000-4000-8000-000000000000"),
        factors_path("not-a-uuid"),
    ] {
        assert_problem(api.get(&unknown).await, 404, "not-found").await;
        assert_problem(api.delete(&unknown, None).await, 404, "not-found").await;
    }
    let reader = AdminApi::with_scopes(&app, &[READ]).await;
    assert_eq!(factors_of(&reader, &path).await["recovery_codes_left"], 10);
    assert_problem(reader.delete(&path, None).await, 403, "insufficient-scope").await;
    let outsider = AdminApi::with_scopes(&app, &["orders:read"]).await;
    assert_problem(outsider.get(&path).await, 403, "insufficient-scope").await;
    assert_problem(
        outsider.delete(&path, None).await,
        403,
        "insufficient-scope",
    )
    .await;
    let anonymous = app
        .client
        .delete(format!("{}{path}", app.address))
        .send()
        .await
        .unwrap();
    assert_problem(anonymous, 401, "invalid-token").await;
    let post = api.post(&path, &json!({})).await;
    assert_eq!(post.headers()["allow"], "GET, DELETE");
    assert_problem(post, 405, "about:blank").await;

    let factors = factors_of(&api, &path).await;
    assert_eq!(factors["totp"]["confirmed"], true, "nothing was removed");
    assert_eq!(factors["recovery_codes_left"], 10);
}

crate::on_every_backend!(
    an_admin_resets_a_lost_phone_and_the_person_signs_in_with_the_password_alone,
    a_person_without_factors_shows_none_and_a_reset_changes_nothing_else,
    factors_of_an_unknown_user_are_404_and_only_admins_reset_them,
);
