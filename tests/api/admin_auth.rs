//! Who may call the admin API: a live bearer token of this issuer with `gatehouse:admin`, or
//! `gatehouse:admin:read` for reads (RFC 6750 §3 challenges on 401 and 403).

use std::time::Duration;

use gatehouse::admin::clients::NewClient;
use serde_json::json;

use crate::admin_helpers::{ADMIN, AdminApi, READ, assert_problem, web_app_body};
use crate::helpers::{Backend, spawn_app};

const PLAIN_CHALLENGE: &str = r#"Bearer realm="gatehouse""#;
const INVALID_TOKEN: &str = r#"Bearer realm="gatehouse", error="invalid_token""#;
const INSUFFICIENT_SCOPE: &str =
    r#"Bearer realm="gatehouse", error="insufficient_scope", scope="gatehouse:admin""#;

async fn assert_unauthorized(response: reqwest::Response, challenge: &str) {
    assert_eq!(response.headers()["www-authenticate"], challenge);
    assert_problem(response, 401, "invalid-token").await;
}

async fn assert_forbidden(response: reqwest::Response) {
    assert_eq!(response.headers()["www-authenticate"], INSUFFICIENT_SCOPE);
    assert_problem(response, 403, "insufficient-scope").await;
}

async fn a_request_without_a_bearer_token_is_401(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let url = format!("{}/v1/clients", app.address);
    let response = app.client.get(&url).send().await.unwrap();
    assert_unauthorized(response, PLAIN_CHALLENGE).await;
    let basic = app
        .client
        .get(&url)
        .basic_auth("admin", Some("pw"))
        .send()
        .await
        .unwrap();
    assert_unauthorized(basic, PLAIN_CHALLENGE).await;
    let post = app
        .client
        .post(&url)
        .json(&web_app_body("x"))
        .send()
        .await
        .unwrap();
    assert_unauthorized(post, PLAIN_CHALLENGE).await;
}

async fn an_invalid_expired_or_revoked_token_is_401(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let garbage = AdminApi {
        app: &app,
        token: "not-a-jwt".into(),
    };
    assert_unauthorized(garbage.get("/v1/clients").await, INVALID_TOKEN).await;

    let client = app
        .register_client(NewClient {
            name: "automation".into(),
            scopes: vec![ADMIN.into()],
            ..NewClient::default()
        })
        .await;
    let revoked = AdminApi {
        app: &app,
        token: app.token_for(&client).await,
    };
    assert_eq!(revoked.get("/v1/clients").await.status(), 200);
    let form = [("token", revoked.token.as_str())];
    assert_eq!(app.post_revoke(&form, client.basic()).await.status(), 200);
    assert_unauthorized(revoked.get("/v1/clients").await, INVALID_TOKEN).await;

    let expiring = AdminApi::new(&app).await;
    assert_eq!(expiring.get("/v1/clients").await.status(), 200);
    app.clock.advance(Duration::from_secs(901));
    assert_unauthorized(expiring.get("/v1/clients").await, INVALID_TOKEN).await;
}

async fn the_read_scope_reads_but_does_not_write(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let admin = AdminApi::new(&app).await;
    let (created, etag) = admin.create_client(&web_app_body("Example App")).await;
    let path = format!("/v1/clients/{}", created["client_id"].as_str().unwrap());

    let reader = AdminApi::with_scopes(&app, &[READ]).await;
    assert_eq!(reader.get("/v1/clients").await.status(), 200);
    assert_eq!(reader.get(&path).await.status(), 200);
    assert_eq!(reader.get("/v1/keys").await.status(), 200);
    assert_forbidden(reader.post("/v1/clients", &web_app_body("x")).await).await;
    assert_forbidden(reader.put(&path, &web_app_body("x"), &etag).await).await;
    assert_forbidden(reader.patch(&path, &json!({"name": "x"}), &etag).await).await;
    assert_forbidden(reader.delete(&path, Some(&etag)).await).await;
    assert_forbidden(reader.post("/v1/keys/rotate", &json!({})).await).await;
    assert_forbidden(reader.delete("/v1/grants/x", None).await).await;

    let outsider = AdminApi::with_scopes(&app, &["orders:read"]).await;
    assert_forbidden(outsider.get("/v1/clients").await).await;
    assert_eq!(admin.read(&path).await.1, etag, "nothing changed");
}

crate::on_every_backend!(
    a_request_without_a_bearer_token_is_401,
    an_invalid_expired_or_revoked_token_is_401,
    the_read_scope_reads_but_does_not_write,
);
