use gatehouse::config::EphemeralUrl;
use serde_json::Value;

use crate::helpers::{Backend, spawn_app, spawn_app_with};

async fn healthz_answers_ok(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };

    let response = app.get("/healthz").await;

    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ok");
}

async fn readyz_names_each_check_when_ready(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };

    let response = app.get("/readyz").await;

    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ready");
    assert_eq!(body["checks"]["database"]["status"], "ok");
    assert_eq!(body["checks"]["ephemeral"]["status"], "ok");
    let (database, ephemeral) = match backend {
        Backend::Embedded => ("sqlite", "memory"),
        Backend::Shared => ("postgres", "redis"),
    };
    assert_eq!(body["checks"]["database"]["backend"], database);
    assert_eq!(body["checks"]["ephemeral"]["backend"], ephemeral);
}

async fn every_response_carries_a_request_id(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };

    let first = app.get("/healthz").await;
    let second = app.get("/no-such-route").await;

    let id = |r: &reqwest::Response| r.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(second.status(), 404);
    assert!(uuid::Uuid::parse_str(&id(&first)).is_ok());
    assert_ne!(id(&first), id(&second));
}

crate::on_every_backend!(
    healthz_answers_ok,
    readyz_names_each_check_when_ready,
    every_response_carries_a_request_id,
);

#[tokio::test]
async fn readyz_is_503_while_redis_is_unreachable_and_healthz_stays_200() {
    // Nothing listens on port 1; the service must still start and say it is not ready.
    let app = spawn_app_with(Backend::Embedded, |s| {
        s.ephemeral.url = EphemeralUrl::Redis("redis://127.0.0.1:1".into());
        s.ephemeral.timeout_ms = 300;
    })
    .await
    .unwrap();

    let ready = app.get("/readyz").await;
    let healthy = app.get("/healthz").await;

    assert_eq!(ready.status(), 503);
    let body: Value = ready.json().await.unwrap();
    assert_eq!(body["status"], "unavailable");
    assert_eq!(body["checks"]["ephemeral"]["status"], "unavailable");
    assert_eq!(body["checks"]["database"]["status"], "ok");
    assert_eq!(healthy.status(), 200);
}
