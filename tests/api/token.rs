//! The token endpoint (RFC 6749 §3.2, §5): the success response and every error code.

use std::time::Duration;

use gatehouse::admin::clients::{NewClient, rotate_client_secret};
use gatehouse::clock::Clock as _;
use serde_json::Value;

use crate::helpers::{
    Backend, assert_no_store, assert_oauth_error, confidential_client, spawn_app,
};

const CLIENT_CREDENTIALS: (&str, &str) = ("grant_type", "client_credentials");

async fn token_answers_a_bearer_token_with_the_default_lifetime_and_no_refresh_token(
    backend: Backend,
) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let client = app.register_client(confidential_client()).await;

    let response = app
        .post_token(
            &[CLIENT_CREDENTIALS, ("scope", "orders:write")],
            client.basic(),
        )
        .await;

    assert_eq!(response.status(), 200);
    assert_no_store(&response);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    assert_eq!(body["scope"], "orders:write");
    assert!(body["access_token"].is_string());
    assert!(body.get("refresh_token").is_none(), "{body}");
}

async fn token_lives_as_long_as_the_clients_own_lifetime(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let client = app
        .register_client(NewClient {
            access_token_ttl_secs: Some(120),
            ..confidential_client()
        })
        .await;

    let response = app.post_token(&[CLIENT_CREDENTIALS], client.basic()).await;

    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["expires_in"], 120);
    let claims = app
        .introspect(body["access_token"].as_str().unwrap(), &client)
        .await;
    assert_eq!(claims["exp"], app.now() + 120);
}

async fn token_rejects_a_missing_grant_type(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let client = app.register_client(confidential_client()).await;

    let response = app
        .post_token(&[("scope", "orders:read")], client.basic())
        .await;

    assert_oauth_error(response, 400, "invalid_request").await;
}

async fn token_rejects_a_repeated_parameter(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let client = app.register_client(confidential_client()).await;

    let form = [
        CLIENT_CREDENTIALS,
        ("scope", "orders:read"),
        ("scope", "orders:write"),
    ];
    let response = app.post_token(&form, client.basic()).await;

    assert_oauth_error(response, 400, "invalid_request").await;
}

/// RFC 6749 §5.2: `error_description` is %x20-21 / %x23-5B / %x5D-7E only.
fn assert_description_in_rfc_charset(body: &Value) -> &str {
    let description = body["error_description"].as_str().unwrap_or_default();
    assert!(
        description
            .chars()
            .all(|c| matches!(c, '\u{20}'..='\u{21}' | '\u{23}'..='\u{5B}' | '\u{5D}'..='\u{7E}')),
        "{description}"
    );
    description
}

/// RFC 6749 §3.1: a parameter sent twice is refused even when its first value is empty.
async fn token_rejects_a_repeated_parameter_whose_first_value_is_empty(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let client = app.register_client(confidential_client()).await;

    let form = [CLIENT_CREDENTIALS, ("scope", ""), ("scope", "orders:write")];
    let response = app.post_token(&form, client.basic()).await;

    assert_oauth_error(response, 400, "invalid_request").await;
}

async fn token_error_descriptions_never_echo_the_request(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let client = app.register_client(confidential_client()).await;

    let grant = app
        .post_token(&[("grant_type", "x\"\\\u{e9}<injected>")], client.basic())
        .await;
    let repeated = app
        .post_token(
            &[
                CLIENT_CREDENTIALS,
                ("\u{e9}vil\"<injected>", "1"),
                ("\u{e9}vil\"<injected>", "2"),
            ],
            client.basic(),
        )
        .await;

    let body = assert_oauth_error(grant, 400, "unsupported_grant_type").await;
    assert!(!assert_description_in_rfc_charset(&body).contains("injected"));
    let body = assert_oauth_error(repeated, 400, "invalid_request").await;
    assert!(!assert_description_in_rfc_charset(&body).contains("injected"));
}

async fn token_rejects_a_json_body(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let client = app.register_client(confidential_client()).await;
    let (id, secret) = client.basic().unwrap();

    let response = app
        .client
        .post(format!("{}/oauth2/token", app.address))
        .basic_auth(id, Some(secret))
        .json(&serde_json::json!({"grant_type": "client_credentials"}))
        .send()
        .await
        .unwrap();

    assert_oauth_error(response, 400, "invalid_request").await;
}

async fn token_rejects_two_authentication_methods_at_once(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let client = app.register_client(confidential_client()).await;
    let (id, secret) = client.basic().unwrap();

    let form = [
        CLIENT_CREDENTIALS,
        ("client_id", id),
        ("client_secret", secret),
    ];
    let response = app.post_token(&form, client.basic()).await;

    assert_oauth_error(response, 400, "invalid_request").await;
}

async fn token_rejects_a_wrong_secret_with_a_basic_challenge(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let client = app.register_client(confidential_client()).await;

    let response = app
        .post_token(&[CLIENT_CREDENTIALS], Some((&client.id, "wrong-secret")))
        .await;

    let challenge = response.headers()["www-authenticate"].to_str().unwrap();
    assert!(challenge.starts_with("Basic"), "{challenge}");
    assert_oauth_error(response, 401, "invalid_client").await;
}

async fn token_rejects_an_unknown_client(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };

    let response = app
        .post_token(&[CLIENT_CREDENTIALS], Some(("no-such-client", "secret")))
        .await;

    assert!(response.headers().contains_key("www-authenticate"));
    assert_oauth_error(response, 401, "invalid_client").await;
}

async fn token_rejects_a_request_without_client_authentication(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let client = app.register_client(confidential_client()).await;

    let bare = app.post_token(&[CLIENT_CREDENTIALS], None).await;
    let id_only = app
        .post_token(&[CLIENT_CREDENTIALS, ("client_id", &client.id)], None)
        .await;

    assert_oauth_error(bare, 401, "invalid_client").await;
    assert_oauth_error(id_only, 401, "invalid_client").await;
}

async fn token_rejects_a_method_the_client_did_not_register(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let basic_client = app.register_client(confidential_client()).await;
    let post_client = app
        .register_client(NewClient {
            token_endpoint_auth_method: Some("client_secret_post".into()),
            ..confidential_client()
        })
        .await;
    let (id, secret) = basic_client.basic().unwrap();

    let basic_in_body = app
        .post_token(
            &[
                CLIENT_CREDENTIALS,
                ("client_id", id),
                ("client_secret", secret),
            ],
            None,
        )
        .await;
    let post_in_header = app
        .post_token(&[CLIENT_CREDENTIALS], post_client.basic())
        .await;

    assert_oauth_error(basic_in_body, 401, "invalid_client").await;
    assert!(post_in_header.headers().contains_key("www-authenticate"));
    assert_oauth_error(post_in_header, 401, "invalid_client").await;
}

async fn token_rejects_an_unsupported_grant_type(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let client = app.register_client(confidential_client()).await;

    let form = [
        ("grant_type", "password"),
        ("username", "a"),
        ("password", "b"),
    ];
    let response = app.post_token(&form, client.basic()).await;

    assert_oauth_error(response, 400, "unsupported_grant_type").await;
}

async fn token_refuses_client_credentials_to_a_client_registered_without_it(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let client = app
        .register_client(NewClient {
            grant_types: vec!["authorization_code".into()],
            redirect_uris: vec!["https://app.example.com/callback".into()],
            ..confidential_client()
        })
        .await;

    let response = app.post_token(&[CLIENT_CREDENTIALS], client.basic()).await;

    assert_oauth_error(response, 400, "unauthorized_client").await;
}

async fn token_rejects_a_scope_beyond_the_allowed_set(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let client = app.register_client(confidential_client()).await;

    let form = [CLIENT_CREDENTIALS, ("scope", "orders:read orders:delete")];
    let response = app.post_token(&form, client.basic()).await;

    assert_oauth_error(response, 400, "invalid_scope").await;
}

async fn token_rejects_a_resource_outside_the_clients_audiences(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let client = app.register_client(confidential_client()).await;

    let form = [CLIENT_CREDENTIALS, ("resource", "https://evil.example.com")];
    let response = app.post_token(&form, client.basic()).await;

    assert_oauth_error(response, 400, "invalid_target").await;
}

async fn token_makes_the_requested_resources_its_audience(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let client = app.register_client(confidential_client()).await;

    let one = [
        CLIENT_CREDENTIALS,
        ("resource", "https://reports.example.com"),
    ];
    let one = app.post_token(&one, client.basic()).await;
    let two = [
        CLIENT_CREDENTIALS,
        ("resource", "https://reports.example.com"),
        ("resource", "https://api.example.com"),
    ];
    let two = app.post_token(&two, client.basic()).await;

    let token = |body: Value| body["access_token"].as_str().unwrap().to_owned();
    let one = token(one.json().await.unwrap());
    let two = token(two.json().await.unwrap());
    assert_eq!(
        app.introspect(&one, &client).await["aud"],
        "https://reports.example.com"
    );
    assert_eq!(
        app.introspect(&two, &client).await["aud"],
        serde_json::json!(["https://reports.example.com", "https://api.example.com"])
    );
}

async fn token_accepts_both_secrets_during_a_rotation_and_only_the_new_one_after(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let client = app.register_client(confidential_client()).await;
    let overlap = Duration::from_secs(3600);
    let db = app.state.db.as_ref();
    let rotated = rotate_client_secret(db, &client.id, overlap, "test", app.clock.now())
        .await
        .unwrap();
    let old = client.basic();
    let new = Some((client.id.as_str(), rotated.secret.expose()));

    let old_during = app.post_token(&[CLIENT_CREDENTIALS], old).await;
    let new_during = app.post_token(&[CLIENT_CREDENTIALS], new).await;
    app.clock.advance(Duration::from_secs(3601));
    let old_after = app.post_token(&[CLIENT_CREDENTIALS], old).await;
    let new_after = app.post_token(&[CLIENT_CREDENTIALS], new).await;

    assert_eq!(old_during.status(), 200);
    assert_eq!(new_during.status(), 200);
    assert_oauth_error(old_after, 401, "invalid_client").await;
    assert_eq!(new_after.status(), 200);
}

crate::on_every_backend!(
    token_answers_a_bearer_token_with_the_default_lifetime_and_no_refresh_token,
    token_lives_as_long_as_the_clients_own_lifetime,
    token_rejects_a_missing_grant_type,
    token_rejects_a_repeated_parameter,
    token_error_descriptions_never_echo_the_request,
    token_rejects_a_repeated_parameter_whose_first_value_is_empty,
    token_rejects_a_json_body,
    token_rejects_two_authentication_methods_at_once,
    token_rejects_a_wrong_secret_with_a_basic_challenge,
    token_rejects_an_unknown_client,
    token_rejects_a_request_without_client_authentication,
    token_rejects_a_method_the_client_did_not_register,
    token_rejects_an_unsupported_grant_type,
    token_refuses_client_credentials_to_a_client_registered_without_it,
    token_rejects_a_scope_beyond_the_allowed_set,
    token_rejects_a_resource_outside_the_clients_audiences,
    token_makes_the_requested_resources_its_audience,
    token_accepts_both_secrets_during_a_rotation_and_only_the_new_one_after,
);
