//! Token revocation (RFC 7009): the owner revokes, every instance sharing the store agrees, and
//! a token that is not ours is not an error.

use serde_json::{Value, json};

use crate::helpers::{
    Backend, assert_no_store, assert_oauth_error, confidential_client, spawn_app,
};

async fn revoke_makes_a_token_inactive(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let client = app.register_client(confidential_client()).await;
    let token = app.token_for(&client).await;
    assert_eq!(app.introspect(&token, &client).await["active"], true);

    let form = [
        ("token", token.as_str()),
        ("token_type_hint", "access_token"),
    ];
    let response = app.post_revoke(&form, client.basic()).await;

    assert_eq!(response.status(), 200);
    assert_no_store(&response);
    assert_eq!(
        app.introspect(&token, &client).await,
        json!({"active": false})
    );
}

async fn revoke_looks_past_a_wrong_token_type_hint(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let client = app.register_client(confidential_client()).await;
    let token = app.token_for(&client).await;

    // RFC 7009 §2.1: a hint that does not fit must not stop the search.
    let form = [
        ("token", token.as_str()),
        ("token_type_hint", "refresh_token"),
    ];
    let response = app.post_revoke(&form, client.basic()).await;

    assert_eq!(response.status(), 200);
    assert_eq!(
        app.introspect(&token, &client).await,
        json!({"active": false})
    );
}

async fn revoke_answers_ok_for_a_token_it_does_not_know(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let client = app.register_client(confidential_client()).await;

    let garbage = app
        .post_revoke(&[("token", "garbage")], client.basic())
        .await;
    let hinted = app
        .post_revoke(
            &[
                ("token", "opaque-refresh"),
                ("token_type_hint", "refresh_token"),
            ],
            client.basic(),
        )
        .await;

    assert_eq!(garbage.status(), 200);
    assert_eq!(hinted.status(), 200);
}

async fn revoke_refuses_another_clients_token(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let owner = app.register_client(confidential_client()).await;
    let stranger = app.register_client(confidential_client()).await;
    let token = app.token_for(&owner).await;

    let response = app
        .post_revoke(&[("token", &token)], stranger.basic())
        .await;

    assert_oauth_error(response, 400, "unauthorized_client").await;
    assert_eq!(app.introspect(&token, &owner).await["active"], true);
}

async fn revoke_rejects_a_missing_token(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let client = app.register_client(confidential_client()).await;

    let response = app
        .post_revoke(&[("token_type_hint", "access_token")], client.basic())
        .await;

    assert_oauth_error(response, 400, "invalid_request").await;
}

/// RFC 6749 §3.1 (RFC 7009 §2.1 uses its encoding): one value per parameter, even when the
/// first is empty; nothing is revoked.
async fn revoke_rejects_a_repeated_parameter_whose_first_value_is_empty(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let client = app.register_client(confidential_client()).await;
    let response = app
        .post_token(&[("grant_type", "client_credentials")], client.basic())
        .await;
    let body: serde_json::Value = response.json().await.unwrap();
    let token = body["access_token"].as_str().unwrap();

    let form = [("token", ""), ("token", token)];
    let response = app.post_revoke(&form, client.basic()).await;

    assert_oauth_error(response, 400, "invalid_request").await;
    assert_eq!(app.introspect(token, &client).await["active"], true);
}

async fn revoke_rejects_an_unauthenticated_caller(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let client = app.register_client(confidential_client()).await;
    let token = app.token_for(&client).await;

    let response = app.post_revoke(&[("token", &token)], None).await;
    let wrong_secret = app
        .post_revoke(&[("token", &token)], Some((&client.id, "wrong")))
        .await;

    assert_oauth_error(response, 401, "invalid_client").await;
    assert_oauth_error(wrong_secret, 401, "invalid_client").await;
    assert_eq!(app.introspect(&token, &client).await["active"], true);
}

crate::on_every_backend!(
    revoke_rejects_a_repeated_parameter_whose_first_value_is_empty,
    revoke_makes_a_token_inactive,
    revoke_looks_past_a_wrong_token_type_hint,
    revoke_answers_ok_for_a_token_it_does_not_know,
    revoke_refuses_another_clients_token,
    revoke_rejects_a_missing_token,
    revoke_rejects_an_unauthenticated_caller,
);

#[tokio::test]
async fn a_revocation_on_one_instance_is_seen_by_another_on_shared() {
    let Some(a) = spawn_app(Backend::Shared).await else {
        return;
    };
    let issuer = a.issuer.parse().unwrap();
    let b = a.spawn_sibling(|s| s.server.issuer = Some(issuer)).await;
    let client = a.register_client(confidential_client()).await;
    let token = a.token_for(&client).await;
    assert_eq!(b.introspect(&token, &client).await["active"], true);

    let response = a.post_revoke(&[("token", &token)], client.basic()).await;

    assert_eq!(response.status(), 200);
    b.read_changes().await;
    let on_b: Value = b.introspect(&token, &client).await;
    assert_eq!(on_b, json!({"active": false}));
}
