//! `POST /testing/tokens`: test mode mints tokens that introspection takes like any other; out
//! of test mode the route does not exist, and test mode runs on the in-memory database only.

use gatehouse::startup::Application;
use serde_json::{Value, json};

use crate::helpers::{
    Backend, TestApp, confidential_client, spawn_app, spawn_app_with, test_settings,
};

/// Test mode runs on the in-memory database only.
async fn test_mode() -> TestApp {
    spawn_app_with(Backend::Embedded, in_memory_test_mode)
        .await
        .unwrap()
}

pub fn in_memory_test_mode(settings: &mut gatehouse::config::Settings) {
    use gatehouse::config::{DatabaseUrl, EPHEMERAL_DATABASE_URL};
    settings.database.url = DatabaseUrl::Sqlite(EPHEMERAL_DATABASE_URL.to_owned());
    settings.testing.enabled = true;
}

async fn mint(app: &TestApp, body: Value) -> reqwest::Response {
    app.client
        .post(format!("{}/testing/tokens", app.address))
        .json(&body)
        .send()
        .await
        .expect("request failed")
}

/// The field errors of a 422 problem.
async fn invalid_fields(response: reqwest::Response) -> Vec<String> {
    assert_eq!(response.status(), 422);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["type"], "urn:gatehouse:problem:validation-error");
    problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_minted_token_introspects_active_with_its_subject_audience_scope_and_claims() {
    let app = test_mode().await;
    let caller = app.register_client(confidential_client()).await;

    let response = mint(
        &app,
        json!({
            "sub": "user-42",
            "aud": "https://api.example.com",
            "scope": "orders:read orders:write",
            "claims": {"tenant": "acme", "roles": ["admin"]},
            "expires_in": 300,
        }),
    )
    .await;

    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 300);
    let described = app
        .introspect(body["access_token"].as_str().unwrap(), &caller)
        .await;
    assert_eq!(described["active"], true, "{described}");
    assert_eq!(described["token_type"], "Bearer");
    assert_eq!(described["iss"], app.issuer.as_str());
    assert_eq!(described["sub"], "user-42");
    assert_eq!(described["aud"], "https://api.example.com");
    assert_eq!(described["scope"], "orders:read orders:write");
    assert_eq!(described["client_id"], "testing");
    assert_eq!(described["tenant"], "acme");
    assert_eq!(described["roles"], json!(["admin"]));
    assert_eq!(described["exp"], app.now() + 300);
}

#[tokio::test]
async fn only_sub_is_required_and_the_rest_defaults() {
    let app = test_mode().await;
    let caller = app.register_client(confidential_client()).await;

    let response = mint(&app, json!({"sub": "svc", "aud": ["a", "b"]})).await;

    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let ttl = app.settings.tokens.access_token_ttl_secs;
    assert_eq!(body["expires_in"], ttl);
    let described = app
        .introspect(body["access_token"].as_str().unwrap(), &caller)
        .await;
    assert_eq!(described["active"], true);
    assert_eq!(described["aud"], json!(["a", "b"]));
    assert!(described.get("scope").is_none(), "{described}");
    assert_eq!(described["exp"], app.now() + i64::from(ttl));
}

#[tokio::test]
async fn a_minted_token_expires_like_any_other() {
    let app = test_mode().await;
    let caller = app.register_client(confidential_client()).await;
    let body: Value = mint(&app, json!({"sub": "a", "expires_in": 60}))
        .await
        .json()
        .await
        .unwrap();

    app.clock.advance(std::time::Duration::from_secs(61));

    let described = app
        .introspect(body["access_token"].as_str().unwrap(), &caller)
        .await;
    assert_eq!(described, json!({"active": false}));
}

#[tokio::test]
async fn claims_may_not_override_reserved_claims() {
    let app = test_mode().await;

    for name in [
        "sub",
        "iss",
        "exp",
        "scope",
        "client_id",
        "email",
        "gid",
        "active",
    ] {
        let response = mint(&app, json!({"sub": "a", "claims": {name: "x"}})).await;

        assert_eq!(
            invalid_fields(response).await,
            [format!("claims.{name}")],
            "{name}"
        );
    }
}

#[tokio::test]
async fn out_of_range_and_unknown_fields_are_refused() {
    let app = test_mode().await;
    let long = "x".repeat(256);

    let cases = [
        (json!({"sub": ""}), "sub"),
        (json!({"sub": long}), "sub"),
        (json!({"sub": "a", "expires_in": 0}), "expires_in"),
        (json!({"sub": "a", "expires_in": 86_401}), "expires_in"),
        (json!({"sub": "a", "scope": "bad\"scope"}), "scope"),
        (json!({"sub": "a", "aud": []}), "aud"),
        (json!({"sub": "a", "colour": "blue"}), "colour"),
        (json!({"aud": "a"}), "sub"),
        (json!({"sub": "a", "claims": ["x"]}), "claims"),
    ];
    for (body, field) in cases {
        let response = mint(&app, body.clone()).await;

        assert_eq!(invalid_fields(response).await, [field], "{body}");
    }
}

#[tokio::test]
async fn a_body_that_is_not_json_is_refused_as_a_problem() {
    let app = test_mode().await;

    let response = app
        .client
        .post(format!("{}/testing/tokens", app.address))
        .header("content-type", "text/plain")
        .body("sub=a")
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 415);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
}

async fn the_route_does_not_exist_out_of_test_mode(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };

    let response = mint(&app, json!({"sub": "a"})).await;
    let other_method = app.get("/testing/tokens").await;

    assert_eq!(response.status(), 404);
    assert_eq!(other_method.status(), 404);
}

crate::on_every_backend!(the_route_does_not_exist_out_of_test_mode);

/// `testing.enabled` is refused at load with a PostgreSQL URL (tests/cli); settings made in
/// code are refused by `Application::build` as well. So test mode has no PostgreSQL run.
#[tokio::test]
async fn test_mode_never_starts_beside_postgres() {
    let dir = tempfile::tempdir().unwrap();
    let Some(mut settings) = test_settings(Backend::Shared, &dir).await else {
        return;
    };
    settings.testing.enabled = true;

    let started = Application::build(settings).await;

    let error = started.err().expect("test mode is refused with PostgreSQL");
    assert!(error.to_string().contains("testing.enabled"), "{error}");
}

/// Nor on a SQLite file: minted tokens and fixed secrets never reach a database that outlives
/// the process.
#[tokio::test]
async fn test_mode_never_starts_on_a_database_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = test_settings(Backend::Embedded, &dir).await.unwrap();
    settings.testing.enabled = true;

    let started = Application::build(settings).await;

    let error = started.err().expect("test mode is refused on a file");
    assert!(error.to_string().contains("testing.enabled"), "{error}");
    assert!(!dir.path().join("gatehouse.db").exists());
}
