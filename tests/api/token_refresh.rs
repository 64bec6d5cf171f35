//! RFC 6749 §6 with rotation (RFC 9700 §4.14.2): a refresh token comes with `offline_access`,
//! every use replaces it, a reuse after the grace window revokes the grant, and the idle and
//! absolute lifetimes hold. Revocation (RFC 7009) and introspection (RFC 7662) of refresh
//! tokens too.

use std::time::Duration;

use serde_json::{Value, json};

use gatehouse::admin::clients::{NewClient, patch_client};
use gatehouse::admin::users::{delete_user, find_user, patch_user};
use gatehouse::clock::Clock as _;

use crate::flow::{
    PASSWORD, SignedIn, get_userinfo, redirect_params, refresh, sign_in_and_exchange, web_client,
};
use crate::helpers::{
    Backend, RegisteredClient, TestApp, assert_oauth_error, spawn_app, spawn_app_with,
};
use crate::pages::authorize_url;

const OFFLINE: [&str; 3] = ["openid", "profile", "offline_access"];

/// A web client and ann, signed in to it with `offline_access`.
async fn signed_in(app: &TestApp) -> (RegisteredClient, SignedIn) {
    let client = app.register_client(web_client()).await;
    app.create_user("ann", PASSWORD).await;
    let signed_in = sign_in_and_exchange(app, &client, &OFFLINE, "ann").await;
    assert!(
        signed_in.refresh_token.is_some(),
        "offline_access was granted"
    );
    (client, signed_in)
}

/// The access and refresh tokens of a successful token response.
async fn pair(response: reqwest::Response) -> (String, String) {
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let refresh_token = body["refresh_token"].as_str().expect("a new refresh token");
    (
        body["access_token"].as_str().unwrap().into(),
        refresh_token.into(),
    )
}

async fn rotate(app: &TestApp, client: &RegisteredClient, token: &str) -> (String, String) {
    pair(refresh(app, client, token, &[]).await).await
}

/// Whether `access_token` is still accepted: introspection and userinfo must agree.
async fn accepted(app: &TestApp, client: &RegisteredClient, access_token: &str) -> bool {
    let active = app.introspect(access_token, client).await["active"] == true;
    let userinfo = get_userinfo(app, access_token).await.status();
    assert_eq!(
        userinfo == 200,
        active,
        "userinfo {userinfo}, active {active}"
    );
    active
}

async fn refresh_tokens_come_only_with_offline_access_and_the_refresh_token_grant(
    backend: Backend,
) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    app.create_user("ann", PASSWORD).await;
    let may_refresh = app.register_client(web_client()).await;
    let mut no_refresh_grant = web_client();
    no_refresh_grant.grant_types = vec!["authorization_code".into()];
    let may_not_refresh = app.register_client(no_refresh_grant).await;

    let online = sign_in_and_exchange(&app, &may_refresh, &["openid", "profile"], "ann").await;
    let without_grant = sign_in_and_exchange(&app, &may_not_refresh, &OFFLINE, "ann").await;

    assert_eq!(online.refresh_token, None, "offline_access was not asked");
    assert_eq!(
        without_grant.refresh_token, None,
        "the client may not refresh"
    );
}

async fn each_refresh_rotates_the_refresh_token(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (client, signed_in) = signed_in(&app).await;
    let first = signed_in.refresh_token.unwrap();

    let (access_token, second) = rotate(&app, &client, &first).await;
    let (_, third) = rotate(&app, &client, &second).await;

    assert_ne!(first, second);
    assert_ne!(second, third);
    assert!(accepted(&app, &client, &access_token).await);
}

async fn a_refresh_token_reused_after_the_grace_window_revokes_the_whole_grant(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (client, signed_in) = signed_in(&app).await;
    let first = signed_in.refresh_token.clone().unwrap();
    let (second_access, second) = rotate(&app, &client, &first).await;
    let (third_access, third) = rotate(&app, &client, &second).await;
    let grace = app.settings.tokens.refresh_token_grace_secs;
    app.clock.advance(Duration::from_secs(grace + 1));

    let reused = refresh(&app, &client, &first, &[]).await;

    assert_oauth_error(reused, 400, "invalid_grant").await;
    let newest = refresh(&app, &client, &third, &[]).await;
    assert_oauth_error(newest, 400, "invalid_grant").await;
    for access_token in [&signed_in.access_token, &second_access, &third_access] {
        assert!(!accepted(&app, &client, access_token).await);
    }
}

async fn a_reused_refresh_token_is_caught_whatever_scope_it_asks_for(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (client, signed_in) = signed_in(&app).await;
    let first = signed_in.refresh_token.unwrap();
    let (_, second) = rotate(&app, &client, &first).await;
    let grace = app.settings.tokens.refresh_token_grace_secs;
    app.clock.advance(Duration::from_secs(grace + 1));

    let wider = refresh(&app, &client, &first, &[("scope", "openid email")]).await;

    assert_oauth_error(wider, 400, "invalid_grant").await;
    let newest = refresh(&app, &client, &second, &[]).await;
    assert_oauth_error(newest, 400, "invalid_grant").await;
}

/// The client lost the answer to a rotation: within the grace window the rotated token gets the
/// same successor again, never a second one, with an access token signed for this request.
async fn a_refresh_token_replayed_within_the_grace_window_returns_the_same_successor(
    backend: Backend,
) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (client, signed_in) = signed_in(&app).await;
    let first = signed_in.refresh_token.unwrap();
    let answered = rotate(&app, &client, &first).await;
    let grace = app.settings.tokens.refresh_token_grace_secs;
    app.clock.advance(Duration::from_secs(grace - 1));

    let replayed = rotate(&app, &client, &first).await;

    assert_eq!(
        replayed.1, answered.1,
        "the same successor, not a second one"
    );
    assert_ne!(replayed.0, answered.0, "an access token of its own");
    for access_token in [&answered.0, &replayed.0] {
        assert!(
            accepted(&app, &client, access_token).await,
            "nothing revoked"
        );
    }
    let (_, next) = rotate(&app, &client, &answered.1).await;
    assert_ne!(next, answered.1);
}

async fn concurrent_refreshes_with_one_token_yield_at_most_one_successor(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (client, signed_in) = signed_in(&app).await;
    let mut token = signed_in.refresh_token.unwrap();

    for round in 0..10 {
        let (a, b) = tokio::join!(
            refresh(&app, &client, &token, &[]),
            refresh(&app, &client, &token, &[])
        );
        let mut successors = Vec::new();
        for response in [a, b] {
            if response.status() == 200 {
                successors.push(pair(response).await);
            } else {
                assert_oauth_error(response, 400, "invalid_grant").await;
            }
        }
        // the loser of the race is a replay within the grace window: the same successor
        let mut refresh_tokens: Vec<String> = successors.into_iter().map(|(_, r)| r).collect();
        refresh_tokens.dedup();
        assert_eq!(refresh_tokens.len(), 1, "round {round}: {refresh_tokens:?}");
        token = refresh_tokens.remove(0);
    }
    rotate(&app, &client, &token).await;
}

async fn a_refresh_token_unused_beyond_the_idle_lifetime_is_refused(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |s| s.tokens.refresh_token_idle_secs = 60).await else {
        return;
    };
    let (client, signed_in) = signed_in(&app).await;
    app.clock.advance(Duration::from_secs(50));
    // each use starts a new idle period
    let (_, kept_in_use) = rotate(&app, &client, &signed_in.refresh_token.unwrap()).await;
    app.clock.advance(Duration::from_secs(50));
    let (_, left_idle) = rotate(&app, &client, &kept_in_use).await;
    app.clock.advance(Duration::from_secs(61));

    let response = refresh(&app, &client, &left_idle, &[]).await;

    assert_oauth_error(response, 400, "invalid_grant").await;
}

async fn rotation_never_extends_a_family_beyond_its_absolute_lifetime(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |s| {
        s.tokens.refresh_token_absolute_secs = 100;
        s.tokens.refresh_token_idle_secs = 100;
    })
    .await
    else {
        return;
    };
    let (client, signed_in) = signed_in(&app).await;
    let started = app.now();
    app.clock.advance(Duration::from_secs(60));
    let (_, rotated) = rotate(&app, &client, &signed_in.refresh_token.unwrap()).await;
    assert_eq!(
        app.introspect(&rotated, &client).await["exp"],
        started + 100
    );
    app.clock.advance(Duration::from_secs(41));

    let response = refresh(&app, &client, &rotated, &[]).await;

    assert_oauth_error(response, 400, "invalid_grant").await;
}

async fn a_refresh_may_narrow_the_scope_but_not_widen_it(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (client, signed_in) = signed_in(&app).await;
    let token = signed_in.refresh_token.unwrap();

    let wider = refresh(&app, &client, &token, &[("scope", "openid email")]).await;
    assert_oauth_error(wider, 400, "invalid_scope").await;
    let narrower = refresh(&app, &client, &token, &[("scope", "openid")]).await;
    assert_eq!(narrower.status(), 200);
    let body: Value = narrower.json().await.unwrap();

    assert_eq!(body["scope"], "openid");
    let access_token = body["access_token"].as_str().unwrap();
    assert_eq!(
        app.introspect(access_token, &client).await["scope"],
        "openid"
    );
    // RFC 6749 §6: the new refresh token keeps the scope originally granted.
    let next = refresh(&app, &client, body["refresh_token"].as_str().unwrap(), &[]).await;
    let body: Value = next.json().await.unwrap();
    assert_eq!(body["scope"], "offline_access openid profile");
}

async fn a_refresh_token_presented_by_another_client_is_refused(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (owner, signed_in) = signed_in(&app).await;
    let stranger = app.register_client(web_client()).await;
    let token = signed_in.refresh_token.unwrap();

    let response = refresh(&app, &stranger, &token, &[]).await;

    assert_oauth_error(response, 400, "invalid_grant").await;
    rotate(&app, &owner, &token).await;
}

/// RFC 7009 §2.1: revoking a refresh token (as a client does at logout) ends it, its family
/// and their access tokens, but keeps the person's consent: the next authorization is not
/// asked again.
async fn revoking_a_refresh_token_ends_its_tokens_but_keeps_consent(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (client, signed_in) = signed_in(&app).await;
    let (access_token, token) = rotate(&app, &client, &signed_in.refresh_token.unwrap()).await;

    let form = [
        ("token", token.as_str()),
        ("token_type_hint", "refresh_token"),
    ];
    let response = app.post_revoke(&form, client.basic()).await;

    assert_eq!(response.status(), 200);
    assert_oauth_error(
        refresh(&app, &client, &token, &[]).await,
        400,
        "invalid_grant",
    )
    .await;
    assert!(!accepted(&app, &client, &access_token).await);
    assert!(!accepted(&app, &client, &signed_in.access_token).await);
    let url = authorize_url(&app, &client.id, &[("scope", Some(&OFFLINE.join(" ")))]);
    let again = signed_in.browser.get(&url).await;
    let params = redirect_params(&again);
    assert!(params.contains_key("code"), "consent was kept: {params:?}");
}

async fn another_client_cannot_revoke_a_refresh_token(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (owner, signed_in) = signed_in(&app).await;
    let stranger = app.register_client(web_client()).await;
    let token = signed_in.refresh_token.unwrap();

    let response = app
        .post_revoke(&[("token", &token)], stranger.basic())
        .await;

    assert_oauth_error(response, 400, "unauthorized_client").await;
    assert!(accepted(&app, &owner, &signed_in.access_token).await);
    rotate(&app, &owner, &token).await;
}

async fn introspection_describes_a_live_refresh_token_to_its_client(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (client, signed_in) = signed_in(&app).await;
    let token = signed_in.refresh_token.unwrap();
    let sub = app.introspect(&signed_in.access_token, &client).await["sub"].clone();

    let body = app.introspect(&token, &client).await;

    assert_eq!(body["active"], true, "{body}");
    assert_eq!(body["token_type"], "refresh_token");
    assert_eq!(body["client_id"], client.id.as_str());
    assert_eq!(body["sub"], sub);
    assert_eq!(body["scope"], "offline_access openid profile");
    assert_eq!(body["iss"], app.issuer.as_str());
    assert_eq!(body["iat"], app.now());
    let idle = app.settings.tokens.refresh_token_idle_secs as i64;
    assert_eq!(
        body["exp"],
        app.now() + idle,
        "the idle lifetime ends first"
    );
    let stranger = app.register_client(web_client()).await;
    let asked_by_stranger = app.introspect(&token, &stranger).await;
    assert_eq!(asked_by_stranger, json!({"active": false}));
}

async fn introspection_answers_inactive_for_a_used_revoked_or_idle_refresh_token(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |s| s.tokens.refresh_token_idle_secs = 60).await else {
        return;
    };
    let (client, signed_in) = signed_in(&app).await;
    let used = signed_in.refresh_token.unwrap();
    let (_, idle) = rotate(&app, &client, &used).await;
    // another client, so that revoking its grant leaves the first one alone
    let other_client = app.register_client(web_client()).await;
    let other = sign_in_and_exchange(&app, &other_client, &OFFLINE, "ann").await;
    let revoked = other.refresh_token.unwrap();
    let revoke = app
        .post_revoke(&[("token", &revoked)], other_client.basic())
        .await;
    assert_eq!(revoke.status(), 200);

    let used_answer = app.introspect(&used, &client).await;
    let revoked_answer = app.introspect(&revoked, &other_client).await;
    assert_eq!(app.introspect(&idle, &client).await["active"], true);
    app.clock.advance(Duration::from_secs(61));
    let idle_answer = app.introspect(&idle, &client).await;

    for answer in [used_answer, revoked_answer, idle_answer] {
        assert_eq!(answer, json!({"active": false}));
    }
}

/// A public single-page app that signs people in and may refresh (no secret, RFC 6749 §2.1).
fn public_client() -> NewClient {
    NewClient {
        name: "Single-page App".into(),
        public: true,
        token_endpoint_auth_method: None,
        ..web_client()
    }
}

/// `grant_type=refresh_token` by a public client: its `client_id` in the body, no secret.
async fn refresh_publicly(
    app: &TestApp,
    client: &RegisteredClient,
    refresh_token: &str,
) -> reqwest::Response {
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token),
        ("client_id", client.id.as_str()),
    ];
    app.post_token(&form, None).await
}

/// Applies a JSON Merge Patch to the client, as `PATCH /v1/clients/{id}` does.
async fn patch(app: &TestApp, client: &RegisteredClient, changes: Value) {
    patch_client(
        app.state.db.as_ref(),
        &client.id,
        &changes,
        &app.settings.keys.algorithms,
        None,
        "test",
        app.clock.now(),
    )
    .await
    .expect("the client changes");
    // As from the CLI: the instance learns it from the change feed.
    app.read_changes().await;
}

async fn a_refresh_grants_only_the_scopes_the_client_still_holds(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let client = app.register_client(web_client()).await;
    app.create_user("ann", PASSWORD).await;
    let scopes = ["openid", "offline_access", "orders:read"];
    let signed_in = sign_in_and_exchange(&app, &client, &scopes, "ann").await;
    let token = signed_in.refresh_token.unwrap();
    patch(
        &app,
        &client,
        json!({"scopes": ["openid", "profile", "email", "offline_access"]}),
    )
    .await;

    let asked_for_removed =
        refresh(&app, &client, &token, &[("scope", "openid orders:read")]).await;
    assert_oauth_error(asked_for_removed, 400, "invalid_scope").await;
    let response = refresh(&app, &client, &token, &[]).await;

    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["scope"], "offline_access openid", "{body}");
    let access_token = body["access_token"].as_str().unwrap();
    assert_eq!(
        app.introspect(access_token, &client).await["scope"],
        "offline_access openid"
    );
    let rotated = body["refresh_token"].as_str().unwrap();
    let (_, rotated) = rotate(&app, &client, rotated).await;
    let again: Value = refresh(&app, &client, &rotated, &[])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        again["scope"], "offline_access openid",
        "it never comes back"
    );
}

async fn a_refresh_token_keeps_its_granted_scope_while_the_client_lacks_part_of_it(
    backend: Backend,
) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let client = app.register_client(web_client()).await;
    app.create_user("ann", PASSWORD).await;
    let scopes = ["openid", "offline_access", "orders:read"];
    let signed_in = sign_in_and_exchange(&app, &client, &scopes, "ann").await;
    let all = json!({"scopes": ["openid", "profile", "email", "offline_access", "orders:read"]});
    patch(
        &app,
        &client,
        json!({"scopes": ["openid", "offline_access"]}),
    )
    .await;
    let (_, rotated) = rotate(&app, &client, &signed_in.refresh_token.unwrap()).await;
    // RFC 6749 §6: the rotated refresh token's scope is identical to the one presented; what it
    // issues is cut to the client's scopes at each use, so giving the scope back to the client
    // gives it back to the grant the person consented to.
    patch(&app, &client, all).await;

    let body: Value = refresh(&app, &client, &rotated, &[])
        .await
        .json()
        .await
        .unwrap();

    assert_eq!(body["scope"], "offline_access openid orders:read", "{body}");
}

async fn a_client_that_lost_offline_access_cannot_refresh(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (client, signed_in) = signed_in(&app).await;
    patch(&app, &client, json!({"scopes": ["openid", "profile"]})).await;

    let response = refresh(&app, &client, &signed_in.refresh_token.unwrap(), &[]).await;

    assert_oauth_error(response, 400, "invalid_grant").await;
}

async fn a_client_that_lost_the_refresh_token_grant_cannot_refresh(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (client, signed_in) = signed_in(&app).await;
    patch(
        &app,
        &client,
        json!({"grant_types": ["authorization_code"]}),
    )
    .await;

    let response = refresh(&app, &client, &signed_in.refresh_token.unwrap(), &[]).await;

    assert_oauth_error(response, 400, "unauthorized_client").await;
}

async fn a_refreshed_access_token_is_for_the_clients_current_audience(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (client, signed_in) = signed_in(&app).await;
    assert_eq!(
        app.introspect(&signed_in.access_token, &client).await["aud"],
        client.id.as_str()
    );
    patch(
        &app,
        &client,
        json!({"audiences": ["https://api.example.com"]}),
    )
    .await;

    let (access_token, _) = rotate(&app, &client, &signed_in.refresh_token.unwrap()).await;

    assert_eq!(
        app.introspect(&access_token, &client).await["aud"],
        "https://api.example.com"
    );
}

async fn a_disabled_user_cannot_refresh(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (client, signed_in) = signed_in(&app).await;
    let ann = find_user(app.state.db.as_ref(), "ann").await.unwrap();
    patch_user(
        app.state.db.as_ref(),
        &ann.id.to_string(),
        &json!({"disabled": true}),
        None,
        "test",
        app.clock.now(),
    )
    .await
    .unwrap();

    let response = refresh(&app, &client, &signed_in.refresh_token.unwrap(), &[]).await;

    assert_oauth_error(response, 400, "invalid_grant").await;
}

async fn a_deleted_user_cannot_refresh_and_their_grants_are_gone(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (client, signed_in) = signed_in(&app).await;
    let ann = delete_user(app.state.db.as_ref(), "ann", "test", app.clock.now())
        .await
        .unwrap();
    app.read_changes().await;

    let response = refresh(&app, &client, &signed_in.refresh_token.unwrap(), &[]).await;

    assert_oauth_error(response, 400, "invalid_grant").await;
    let grants = app.state.db.list_grants(ann.id).await.unwrap();
    assert!(grants.is_empty(), "deleted with the user: {grants:?}");
    assert!(!accepted(&app, &client, &signed_in.access_token).await);
}

async fn a_public_clients_reused_refresh_token_revokes_its_grant_at_once(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let client = app.register_client(public_client()).await;
    app.create_user("ann", PASSWORD).await;
    let signed_in = sign_in_and_exchange(&app, &client, &OFFLINE, "ann").await;
    let first = signed_in.refresh_token.unwrap();
    let (second_access, second) = pair(refresh_publicly(&app, &client, &first).await).await;

    // no time passes: RFC 9700 §4.14.2, a public client has no grace window by default
    let reused = refresh_publicly(&app, &client, &first).await;

    assert_oauth_error(reused, 400, "invalid_grant").await;
    let newest = refresh_publicly(&app, &client, &second).await;
    assert_oauth_error(newest, 400, "invalid_grant").await;
    let service = app.register_client(web_client()).await;
    for access_token in [&signed_in.access_token, &second_access] {
        assert_eq!(
            app.introspect(access_token, &service).await["active"],
            false
        );
    }
}

async fn a_public_client_gets_the_grace_window_it_is_configured_with(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |s| {
        s.tokens.public_refresh_token_grace_secs = 10;
    })
    .await
    else {
        return;
    };
    let client = app.register_client(public_client()).await;
    app.create_user("ann", PASSWORD).await;
    let signed_in = sign_in_and_exchange(&app, &client, &OFFLINE, "ann").await;
    let first = signed_in.refresh_token.unwrap();
    let answered = pair(refresh_publicly(&app, &client, &first).await).await;
    app.clock.advance(Duration::from_secs(9));

    let replayed = pair(refresh_publicly(&app, &client, &first).await).await;

    assert_eq!(
        replayed.1, answered.1,
        "the same successor, not a second one"
    );
    app.clock.advance(Duration::from_secs(2));
    let late = refresh_publicly(&app, &client, &first).await;
    assert_oauth_error(late, 400, "invalid_grant").await;
    let newest = refresh_publicly(&app, &client, &answered.1).await;
    assert_oauth_error(newest, 400, "invalid_grant").await;
}

async fn a_rotated_refresh_token_presented_after_its_successor_was_used_revokes_the_grant(
    backend: Backend,
) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (client, signed_in) = signed_in(&app).await;
    let first = signed_in.refresh_token.unwrap();
    let (second_access, second) = rotate(&app, &client, &first).await;
    let (third_access, third) = rotate(&app, &client, &second).await;

    // well within the grace window, but the pair it would return was already used
    let reused = refresh(&app, &client, &first, &[]).await;

    assert_oauth_error(reused, 400, "invalid_grant").await;
    let newest = refresh(&app, &client, &third, &[]).await;
    assert_oauth_error(newest, 400, "invalid_grant").await;
    for access_token in [&second_access, &third_access] {
        assert!(!accepted(&app, &client, access_token).await);
    }
}

async fn a_confidential_client_without_a_grace_window_is_revoked_at_the_first_reuse(
    backend: Backend,
) {
    let Some(app) = spawn_app_with(backend, |s| s.tokens.refresh_token_grace_secs = 0).await else {
        return;
    };
    let (client, signed_in) = signed_in(&app).await;
    let first = signed_in.refresh_token.unwrap();
    let (second_access, second) = rotate(&app, &client, &first).await;

    let reused = refresh(&app, &client, &first, &[]).await;

    assert_oauth_error(reused, 400, "invalid_grant").await;
    let newest = refresh(&app, &client, &second, &[]).await;
    assert_oauth_error(newest, 400, "invalid_grant").await;
    assert!(!accepted(&app, &client, &second_access).await);
}

/// An ID token verified against the JWKS for `client`: its header algorithm and claims.
async fn verified_id_token(
    app: &TestApp,
    client: &RegisteredClient,
    id_token: &str,
) -> (jsonwebtoken::Algorithm, Value) {
    use jsonwebtoken::jwk::JwkSet;
    use jsonwebtoken::{DecodingKey, Validation, decode, decode_header};
    let header = decode_header(id_token).unwrap();
    let jwks: JwkSet = serde_json::from_value(app.jwks().await).unwrap();
    let jwk = jwks.find(header.kid.as_deref().unwrap()).unwrap();
    let mut validation = Validation::new(header.alg);
    validation.set_audience(&[client.id.as_str()]);
    validation.set_issuer(&[app.issuer.as_str()]);
    let claims = decode::<Value>(id_token, &DecodingKey::from_jwk(jwk).unwrap(), &validation)
        .expect("the ID token verifies against the JWKS")
        .claims;
    (header.alg, claims)
}

/// OIDC Core §12.2: a refresh of an `openid` grant returns a new ID token for the same person,
/// client and sign-in (its `auth_time`, `amr` and `acr`), without the nonce, signed with the client's registered algorithm; a
/// replay within the grace window returns one for the same sign-in again.
async fn a_refresh_of_an_openid_grant_returns_a_new_id_token_for_the_same_sign_in(
    backend: Backend,
) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let client = app
        .register_client(NewClient {
            id_token_signed_response_alg: Some("ES256".into()),
            ..web_client()
        })
        .await;
    app.create_user("ann", PASSWORD).await;
    let signed_in = sign_in_and_exchange(&app, &client, &OFFLINE, "ann").await;
    let (_, original) =
        verified_id_token(&app, &client, signed_in.id_token.as_deref().unwrap()).await;
    app.clock.advance(Duration::from_secs(600));

    let response = refresh(
        &app,
        &client,
        signed_in.refresh_token.as_deref().unwrap(),
        &[],
    )
    .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let id_token = body["id_token"].as_str().expect("an ID token on refresh");
    let (alg, refreshed) = verified_id_token(&app, &client, id_token).await;
    let replayed = refresh(
        &app,
        &client,
        signed_in.refresh_token.as_deref().unwrap(),
        &[],
    )
    .await;
    let replayed: Value = replayed.json().await.unwrap();
    let (_, replayed_claims) =
        verified_id_token(&app, &client, replayed["id_token"].as_str().unwrap()).await;

    assert_eq!(alg, jsonwebtoken::Algorithm::ES256);
    assert_eq!(original["nonce"], "n-0S6_WzA2Mj");
    assert_eq!(refreshed.get("nonce"), None, "{refreshed}");
    for claim in [
        "iss",
        "sub",
        "aud",
        "azp",
        "auth_time",
        "amr",
        "acr",
        "preferred_username",
    ] {
        assert_eq!(refreshed[claim], original[claim], "{claim}");
    }
    assert_eq!(refreshed["amr"], serde_json::json!(["pwd"]));
    assert_eq!(refreshed["iat"], app.now());
    assert_ne!(refreshed["at_hash"], original["at_hash"]);
    assert_eq!(
        replayed["refresh_token"], body["refresh_token"],
        "the grace replay returns the same successor"
    );
    for claim in ["sub", "aud", "auth_time", "amr", "acr"] {
        assert_eq!(replayed_claims[claim], refreshed[claim], "{claim}");
    }
}

/// No ID token when the refresh's scope lacks `openid`: narrowed away, or never granted.
async fn a_refresh_without_openid_returns_no_id_token(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (client, signed_in) = signed_in(&app).await;
    let plain_oauth =
        sign_in_and_exchange(&app, &client, &["profile", "offline_access"], "ann").await;

    let narrowed = refresh(
        &app,
        &client,
        signed_in.refresh_token.as_deref().unwrap(),
        &[("scope", "profile")],
    )
    .await;
    let never_openid = refresh(
        &app,
        &client,
        plain_oauth.refresh_token.as_deref().unwrap(),
        &[],
    )
    .await;

    for response in [narrowed, never_openid] {
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body.get("id_token"), None, "{body}");
    }
}

crate::on_every_backend!(
    a_refresh_of_an_openid_grant_returns_a_new_id_token_for_the_same_sign_in,
    a_refresh_without_openid_returns_no_id_token,
    refresh_tokens_come_only_with_offline_access_and_the_refresh_token_grant,
    each_refresh_rotates_the_refresh_token,
    a_refresh_token_reused_after_the_grace_window_revokes_the_whole_grant,
    a_reused_refresh_token_is_caught_whatever_scope_it_asks_for,
    a_refresh_token_replayed_within_the_grace_window_returns_the_same_successor,
    concurrent_refreshes_with_one_token_yield_at_most_one_successor,
    a_refresh_token_unused_beyond_the_idle_lifetime_is_refused,
    rotation_never_extends_a_family_beyond_its_absolute_lifetime,
    a_refresh_may_narrow_the_scope_but_not_widen_it,
    a_refresh_token_presented_by_another_client_is_refused,
    revoking_a_refresh_token_ends_its_tokens_but_keeps_consent,
    another_client_cannot_revoke_a_refresh_token,
    introspection_describes_a_live_refresh_token_to_its_client,
    introspection_answers_inactive_for_a_used_revoked_or_idle_refresh_token,
    a_refresh_grants_only_the_scopes_the_client_still_holds,
    a_refresh_token_keeps_its_granted_scope_while_the_client_lacks_part_of_it,
    a_client_that_lost_offline_access_cannot_refresh,
    a_client_that_lost_the_refresh_token_grant_cannot_refresh,
    a_refreshed_access_token_is_for_the_clients_current_audience,
    a_disabled_user_cannot_refresh,
    a_deleted_user_cannot_refresh_and_their_grants_are_gone,
    a_public_clients_reused_refresh_token_revokes_its_grant_at_once,
    a_public_client_gets_the_grace_window_it_is_configured_with,
    a_rotated_refresh_token_presented_after_its_successor_was_used_revokes_the_grant,
    a_confidential_client_without_a_grace_window_is_revoked_at_the_first_reuse,
);
