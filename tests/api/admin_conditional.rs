//! Optimistic concurrency: `PUT`, `PATCH` and `DELETE` need `If-Match` with the current ETag.

use reqwest::Method;
use serde_json::json;

use crate::admin_helpers::{AdminApi, assert_problem, etag_of, web_app_body};
use crate::helpers::{Backend, spawn_app};

async fn a_change_without_if_match_is_428(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let api = AdminApi::new(&app).await;
    let (created, _) = api.create_client(&web_app_body("Example App")).await;
    let path = format!("/v1/clients/{}", created["client_id"].as_str().unwrap());
    let put = api
        .request(Method::PUT, &path)
        .json(&web_app_body("Renamed"))
        .send()
        .await
        .unwrap();
    assert_problem(put, 428, "precondition-required").await;
    let patch = api
        .request(Method::PATCH, &path)
        .header("content-type", "application/merge-patch+json")
        .body(r#"{"name": "Renamed"}"#)
        .send()
        .await
        .unwrap();
    assert_problem(patch, 428, "precondition-required").await;
    assert_problem(api.delete(&path, None).await, 428, "precondition-required").await;
    assert_eq!(api.read(&path).await.0["name"], "Example App");
}

async fn a_stale_or_foreign_etag_is_412_and_the_current_one_succeeds(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let api = AdminApi::new(&app).await;
    let (user, first) = api.create_user(&json!({"username": "ann"})).await;
    let path = format!("/v1/users/{}", user["id"].as_str().unwrap());

    let response = api
        .patch(&path, &json!({"display_name": "Ann"}), &first)
        .await;
    assert_eq!(response.status(), 200);
    let second = etag_of(&response);
    assert_ne!(second, first);

    // Someone else's edit based on the first version loses.
    let stale = api
        .patch(&path, &json!({"display_name": "Annie"}), &first)
        .await;
    assert_problem(stale, 412, "precondition-failed").await;
    let body = json!({"username": "ann", "display_name": "Annie"});
    assert_problem(
        api.put(&path, &body, &first).await,
        412,
        "precondition-failed",
    )
    .await;
    assert_problem(
        api.delete(&path, Some(&first)).await,
        412,
        "precondition-failed",
    )
    .await;
    // Strong comparison (RFC 9110 §13.1.1): only the exact ETag issued matches, not a tag
    // that merely parses to the same number.
    assert_eq!(second, "\"2\"");
    for foreign in ["W/\"2\"", "\"two\"", "2", "\"+2\"", "\" 2\"", "\"02\""] {
        let response = api.put(&path, &body, foreign).await;
        assert_problem(response, 412, "precondition-failed").await;
    }
    let (current, etag) = api.read(&path).await;
    assert_eq!(current["display_name"], "Ann");
    assert_eq!(etag, second);

    let response = api.put(&path, &body, &second).await;
    assert_eq!(response.status(), 200);
    let response = api.patch(&path, &json!({"disabled": true}), "*").await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        api.delete(&path, Some(&etag_of(&response))).await.status(),
        204
    );
}

crate::on_every_backend!(
    a_change_without_if_match_is_428,
    a_stale_or_foreign_etag_is_412_and_the_current_one_succeeds,
);
