//! Media types: the vendor type is honoured, another version is a 406, a body that is not
//! JSON is a 415, broken JSON a 400, an oversized one a 413, another method a 405.

use reqwest::Method;
use serde_json::{Value, json};

use crate::admin_helpers::{AdminApi, assert_problem, web_app_body};
use crate::helpers::{Backend, spawn_app};

async fn the_vendor_media_type_is_honoured_and_another_version_is_406(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let api = AdminApi::new(&app).await;
    let vendor = "application/vnd.gatehouse.v1+json";
    let response = api
        .request(Method::GET, "/v1/clients")
        .header("accept", vendor)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], vendor);
    let created = api
        .request(Method::POST, "/v1/clients")
        .header("accept", vendor)
        .json(&web_app_body("Example App"))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    assert_eq!(created.headers()["content-type"], vendor);

    for accept in [
        "*/*",
        "application/json",
        "application/*",
        "application/problem+json",
    ] {
        let response = api
            .request(Method::GET, "/v1/keys")
            .header("accept", accept)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{accept}");
        assert_eq!(response.headers()["content-type"], "application/json");
    }
    for accept in [
        "application/vnd.gatehouse.v2+json",
        "text/html",
        "application/xml",
    ] {
        let response = api
            .request(Method::GET, "/v1/clients")
            .header("accept", accept)
            .send()
            .await
            .unwrap();
        assert_problem(response, 406, "not-acceptable").await;
    }
    let refused = api
        .request(Method::POST, "/v1/clients")
        .header("accept", "application/vnd.gatehouse.v2+json")
        .json(&web_app_body("Never Made"))
        .send()
        .await
        .unwrap();
    assert_problem(refused, 406, "not-acceptable").await;
    let (page, _) = api.read("/v1/clients?limit=200").await;
    assert!(!page.to_string().contains("Never Made"));
}

async fn a_body_that_is_not_json_is_415_or_400(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let api = AdminApi::new(&app).await;
    let send = |content_type: Option<&'static str>, body: &'static str| {
        let mut request = api.request(Method::POST, "/v1/clients").body(body);
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        request.send()
    };
    let json = r#"{"name": "x"}"#;
    for content_type in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        None,
    ] {
        let response = send(content_type, json).await.unwrap();
        assert_problem(response, 415, "unsupported-media-type").await;
    }
    let merge_patch = send(Some("application/merge-patch+json"), json)
        .await
        .unwrap();
    assert_problem(merge_patch, 415, "unsupported-media-type").await;
    for broken in [r#"{"name": "x""#, "{name: 'x'}", "", r#"{"name": "x"} {}"#] {
        let response = send(Some("application/json"), broken).await.unwrap();
        assert_problem(response, 400, "malformed-request").await;
    }
    let ok = send(Some("application/json; charset=utf-8"), json)
        .await
        .unwrap();
    assert_eq!(ok.status(), 201);

    let (created, etag) = api.create_client(&web_app_body("Example App")).await;
    let path = format!("/v1/clients/{}", created["client_id"].as_str().unwrap());
    let plain_json_patch = api
        .request(Method::PATCH, &path)
        .header("if-match", &etag)
        .json(&json!({"name": "Renamed"}))
        .send()
        .await
        .unwrap();
    assert_eq!(plain_json_patch.status(), 200);
    let text_patch = api
        .request(Method::PATCH, &path)
        .header("if-match", "*")
        .header("content-type", "text/plain")
        .body(r#"{"name": "Again"}"#)
        .send()
        .await
        .unwrap();
    assert_problem(text_patch, 415, "unsupported-media-type").await;
}

async fn an_oversized_body_is_413_and_another_method_405(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let api = AdminApi::new(&app).await;
    let mut body = web_app_body("Huge");
    body["padding"] = Value::from("x".repeat(70 * 1024));
    let response = api.post("/v1/clients", &body).await;
    assert_problem(response, 413, "about:blank").await;

    let response = api
        .request(Method::PUT, "/v1/clients")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["allow"], "GET, POST");
    assert_problem(response, 405, "about:blank").await;
}

crate::on_every_backend!(
    the_vendor_media_type_is_honoured_and_another_version_is_406,
    a_body_that_is_not_json_is_415_or_400,
    an_oversized_body_is_413_and_another_method_405,
);
