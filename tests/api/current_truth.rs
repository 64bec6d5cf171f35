//! What is true now decides, not what a token once carried: disabling, deleting, signing out,
//! taking a scope away and revoking hold at once on the instance that did it, within a second
//! on every other one, and after the ephemeral store is emptied.

use std::time::Duration;

use serde_json::{Value, json};

use crate::admin_helpers::{ADMIN, AdminApi};
use crate::flow::{PASSWORD, SignedIn, get_userinfo, refresh, sign_in_and_exchange, web_client};
use crate::helpers::{Backend, RegisteredClient, TestApp, confidential_client, spawn_app};

const OFFLINE: [&str; 3] = ["openid", "profile", "offline_access"];

/// A web client and ann, signed in to it with `offline_access`, and a resource server that
/// introspects.
async fn signed_in(app: &TestApp) -> (RegisteredClient, RegisteredClient, SignedIn, String) {
    let client = app.register_client(web_client()).await;
    let user = app.create_user("ann", PASSWORD).await;
    let signed_in = sign_in_and_exchange(app, &client, &OFFLINE, "ann").await;
    let resource_server = app.register_client(confidential_client()).await;
    (client, resource_server, signed_in, user.id.to_string())
}

async fn active(app: &TestApp, token: &str, caller: &RegisteredClient) -> bool {
    app.introspect(token, caller).await["active"] == true
}

/// Waits until `other` has read every change `app` has recorded; a second at most, the
/// guarantee the README makes.
async fn propagated(_app: &TestApp, other: &TestApp) {
    other.read_changes().await;
}

/// A merge patch at the resource's current version.
async fn patch(admin: &AdminApi<'_>, path: &str, body: &Value) -> reqwest::Response {
    let (_, etag) = admin.read(path).await;
    admin.patch(path, body, &etag).await
}

async fn assert_refresh_refused(app: &TestApp, client: &RegisteredClient, token: &str) {
    let response = refresh(app, client, token, &[]).await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_grant", "{body}");
}

async fn a_disabled_user_loses_every_token_on_every_instance(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let other = app.spawn_instance().await;
    let (client, rs, signed_in, user_id) = signed_in(&app).await;
    assert!(active(&other, &signed_in.access_token, &rs).await);
    let admin = AdminApi::new(&app).await;

    let response = patch(
        &admin,
        &format!("/v1/users/{user_id}"),
        &json!({"disabled": true}),
    )
    .await;
    assert_eq!(response.status(), 200);

    assert!(!active(&app, &signed_in.access_token, &rs).await);
    assert_eq!(
        get_userinfo(&app, &signed_in.access_token).await.status(),
        401
    );
    propagated(&app, &other).await;
    assert!(!active(&other, &signed_in.access_token, &rs).await);
    assert_eq!(
        get_userinfo(&other, &signed_in.access_token).await.status(),
        401
    );
    let refresh_token = signed_in.refresh_token.as_deref().unwrap();
    assert_refresh_refused(&other, &client, refresh_token).await;
}

async fn a_deleted_user_loses_every_token_on_every_instance(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let other = app.spawn_instance().await;
    let (client, rs, signed_in, user_id) = signed_in(&app).await;
    let admin = AdminApi::new(&app).await;

    let path = format!("/v1/users/{user_id}");
    let (_, etag) = admin.read(&path).await;
    let response = admin.delete(&path, Some(&etag)).await;
    assert_eq!(response.status(), 204);

    propagated(&app, &other).await;
    for instance in [&app, &other] {
        assert!(!active(instance, &signed_in.access_token, &rs).await);
        assert_eq!(
            get_userinfo(instance, &signed_in.access_token)
                .await
                .status(),
            401
        );
    }
    let refresh_token = signed_in.refresh_token.as_deref().unwrap();
    assert_refresh_refused(&other, &client, refresh_token).await;
}

async fn a_disabled_client_can_do_nothing_and_its_tokens_are_refused(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let other = app.spawn_instance().await;
    let service = app.register_client(confidential_client()).await;
    let rs = app.register_client(confidential_client()).await;
    let token = app.token_for(&service).await;
    assert!(active(&other, &token, &rs).await);

    let admin = AdminApi::new(&app).await;
    let response = patch(
        &admin,
        &format!("/v1/clients/{}", service.id),
        &json!({"disabled": true}),
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.json::<Value>().await.unwrap()["disabled"], true);

    propagated(&app, &other).await;
    for instance in [&app, &other] {
        assert!(!active(instance, &token, &rs).await);
        let again = instance
            .post_token(&[("grant_type", "client_credentials")], service.basic())
            .await;
        assert_eq!(again.status(), 401, "a disabled client cannot authenticate");
    }

    // Enabled again, it gets new tokens; the old ones stay refused.
    app.clock.advance(Duration::from_secs(1));
    let response = patch(
        &admin,
        &format!("/v1/clients/{}", service.id),
        &json!({"disabled": false}),
    )
    .await;
    assert_eq!(response.status(), 200);
    let fresh = app.token_for(&service).await;
    assert!(active(&app, &fresh, &rs).await);
    assert!(!active(&app, &token, &rs).await);
}

async fn a_deleted_admin_client_stops_administering_at_once(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let other = app.spawn_instance().await;
    let doomed = AdminApi::new(&app).await;
    let on_other = AdminApi {
        app: &other,
        token: doomed.token.clone(),
    };
    assert_eq!(on_other.get("/v1/clients").await.status(), 200);
    let claims = crate::pages::jwt_claims(&doomed.token);
    let doomed_id = claims["client_id"].as_str().unwrap().to_owned();

    let admin = AdminApi::new(&app).await;
    let path = format!("/v1/clients/{doomed_id}");
    let (_, etag) = admin.read(&path).await;
    let response = admin.delete(&path, Some(&etag)).await;
    assert_eq!(response.status(), 204);

    assert_eq!(doomed.get("/v1/clients").await.status(), 401);
    propagated(&app, &other).await;
    assert_eq!(on_other.get("/v1/clients").await.status(), 401);
}

async fn a_scope_taken_from_a_client_ends_the_tokens_that_carry_it(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let other = app.spawn_instance().await;
    let operator = AdminApi::new(&app).await;
    let demoted = AdminApi::new(&app).await;
    let demoted_id = crate::pages::jwt_claims(&demoted.token)["client_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let on_other = AdminApi {
        app: &other,
        token: demoted.token.clone(),
    };
    assert_eq!(on_other.get("/v1/keys").await.status(), 200);

    let response = patch(
        &operator,
        &format!("/v1/clients/{demoted_id}"),
        &json!({"scopes": ["orders:read"]}),
    )
    .await;
    assert_eq!(response.status(), 200);

    assert_eq!(demoted.get("/v1/keys").await.status(), 401);
    propagated(&app, &other).await;
    assert_eq!(on_other.get("/v1/keys").await.status(), 401);
}

async fn the_admin_api_refuses_a_token_for_another_audience(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let mut request = confidential_client();
    request.grant_types = vec!["client_credentials".into()];
    request.scopes.push(ADMIN.into());
    let client = app.register_client(request).await;
    let response = app
        .post_token(
            &[
                ("grant_type", "client_credentials"),
                ("resource", "https://api.example.com"),
            ],
            client.basic(),
        )
        .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let token = body["access_token"].as_str().unwrap().to_owned();
    assert!(body["scope"].as_str().unwrap().contains(ADMIN), "{body}");

    let for_api = AdminApi { app: &app, token };
    assert_eq!(for_api.get("/v1/clients").await.status(), 401);

    // Without a resource, a token with an admin scope is for the admin API alone.
    let token = app.token_for(&client).await;
    let claims = crate::pages::jwt_claims(&token);
    assert_eq!(claims["aud"], format!("{}/v1", app.issuer));
    let admin = AdminApi { app: &app, token };
    assert_eq!(admin.get("/v1/clients").await.status(), 200);
}

async fn signing_out_everywhere_ends_sessions_grants_and_tokens(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let other = app.spawn_instance().await;
    let (client, rs, signed_in, user_id) = signed_in(&app).await;
    let admin = AdminApi::new(&app).await;

    let response = admin
        .post(&format!("/v1/users/{user_id}/sign-out"), &json!({}))
        .await;
    assert_eq!(response.status(), 204);

    propagated(&app, &other).await;
    assert!(!active(&other, &signed_in.access_token, &rs).await);
    let refresh_token = signed_in.refresh_token.as_deref().unwrap();
    assert_refresh_refused(&other, &client, refresh_token).await;
    // The browser's session is over: authorizing again asks for the password.
    assert_session_ended(&app, &signed_in, &client).await;

    // Signing in afresh works (a second later: the cut-off covers its own second).
    app.clock.advance(Duration::from_secs(1));
    let again = sign_in_and_exchange(&app, &client, &OFFLINE, "ann").await;
    assert!(active(&other, &again.access_token, &rs).await);
}

async fn a_password_reset_ends_sessions_and_refresh_tokens(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (client, rs, signed_in, user_id) = signed_in(&app).await;
    let admin = AdminApi::new(&app).await;

    let response = admin
        .post(
            &format!("/v1/users/{user_id}/password"),
            &json!({"password": "an entirely new passphrase"}),
        )
        .await;
    assert_eq!(response.status(), 204);

    assert!(!active(&app, &signed_in.access_token, &rs).await);
    let refresh_token = signed_in.refresh_token.as_deref().unwrap();
    assert_refresh_refused(&app, &client, refresh_token).await;
    assert_session_ended(&app, &signed_in, &client).await;
}

/// Authorizing with the browser's session cookie shows the login page again.
async fn assert_session_ended(app: &TestApp, signed_in: &SignedIn, client: &RegisteredClient) {
    let url = crate::pages::authorize_url(app, &client.id, &[]);
    let page = signed_in.browser.get(&url).await;
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    assert!(
        page.contains(r#"name="password""#),
        "the login page, not a code"
    );
}

/// Deletes every key of the test's own Redis prefix: Redis restarted empty.
async fn empty_ephemeral_store(app: &TestApp) {
    use gatehouse::config::EphemeralUrl;
    let EphemeralUrl::Redis(url) = &app.settings.ephemeral.url else {
        return;
    };
    let client = redis::Client::open(url.as_str()).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    let pattern = format!("{}*", app.settings.ephemeral.key_prefix);
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(&pattern)
        .query_async(&mut connection)
        .await
        .unwrap();
    if !keys.is_empty() {
        let _: () = redis::cmd("DEL")
            .arg(&keys)
            .query_async(&mut connection)
            .await
            .unwrap();
    }
}

async fn revocations_outlive_the_ephemeral_store(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (client, rs, signed_in, _) = signed_in(&app).await;
    let service = app.register_client(confidential_client()).await;
    let service_token = app.token_for(&service).await;
    let response = app
        .post_revoke(&[("token", &service_token)], service.basic())
        .await;
    assert_eq!(response.status(), 200);
    let refresh_token = signed_in.refresh_token.as_deref().unwrap();
    let response = app
        .post_revoke(&[("token", refresh_token)], client.basic())
        .await;
    assert_eq!(response.status(), 200);

    empty_ephemeral_store(&app).await;
    // A new instance starts with nothing in memory: it reads the revocations from the database.
    let restarted = app.spawn_instance().await;
    for instance in [&app, &restarted] {
        assert!(!active(instance, &service_token, &rs).await);
        assert!(!active(instance, &signed_in.access_token, &rs).await);
        assert_refresh_refused(instance, &client, refresh_token).await;
    }
}

/// RFC 9700 §4.14.2's grace window lives in the database: a client whose rotation answer was
/// lost gets the same successor from another instance after the ephemeral store emptied, and
/// once that successor is used, the replay revokes the grant.
async fn a_lost_refresh_answer_is_recovered_on_another_instance_after_the_ephemeral_store_empties(
    backend: Backend,
) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (client, rs, signed_in, _) = signed_in(&app).await;
    let first = signed_in.refresh_token.as_deref().unwrap();
    let response = refresh(&app, &client, first, &[]).await;
    assert_eq!(response.status(), 200);
    let answered: Value = response.json().await.unwrap();

    empty_ephemeral_store(&app).await;
    let restarted = app.spawn_instance().await;
    let response = refresh(&restarted, &client, first, &[]).await;

    assert_eq!(response.status(), 200);
    let replayed: Value = response.json().await.unwrap();
    assert_eq!(replayed["refresh_token"], answered["refresh_token"]);
    let successor = replayed["refresh_token"].as_str().unwrap();
    let next = refresh(&restarted, &client, successor, &[]).await;
    assert_eq!(next.status(), 200);
    assert_refresh_refused(&app, &client, first).await;
    assert!(!active(&app, replayed["access_token"].as_str().unwrap(), &rs).await);
}

crate::on_every_backend!(
    a_disabled_user_loses_every_token_on_every_instance,
    a_deleted_user_loses_every_token_on_every_instance,
    a_disabled_client_can_do_nothing_and_its_tokens_are_refused,
    a_deleted_admin_client_stops_administering_at_once,
    a_scope_taken_from_a_client_ends_the_tokens_that_carry_it,
    the_admin_api_refuses_a_token_for_another_audience,
    signing_out_everywhere_ends_sessions_grants_and_tokens,
    a_password_reset_ends_sessions_and_refresh_tokens,
    revocations_outlive_the_ephemeral_store,
    a_lost_refresh_answer_is_recovered_on_another_instance_after_the_ephemeral_store_empties,
);
