//! `/v1/users`: the lifecycle, filters, validation, a taken username and the password reset.

use serde_json::{Value, json};

use crate::admin_helpers::{AdminApi, assert_problem, etag_of, invalid_fields};
use crate::flow::{PASSWORD, sign_in_and_exchange, web_client};
use crate::helpers::{Backend, spawn_app};

fn ann() -> Value {
    json!({
        "username": "Ann",
        "email": "ann@example.com",
        "email_verified": true,
        "display_name": "Ann Example",
        "claims": {"team": "billing"},
        "password": "a long and unusual passphrase",
    })
}

async fn a_user_is_created_read_replaced_patched_and_deleted(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let api = AdminApi::new(&app).await;

    let response = api.post("/v1/users", &ann()).await;
    assert_eq!(response.status(), 201);
    assert_eq!(etag_of(&response), "\"1\"");
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let created: Value = response.json().await.unwrap();
    let id = created["id"].as_str().unwrap();
    assert_eq!(location, format!("/v1/users/{id}"));
    assert_eq!(created["username"], "ann");
    assert_eq!(created["claims"], json!({"team": "billing"}));
    assert_eq!(created["disabled"], false);
    let text = created.to_string();
    assert!(
        !text.contains("passphrase") && !text.contains("argon2"),
        "{text}"
    );

    let (read, etag) = api.read(&location).await;
    assert_eq!(read, created);

    let replacement = json!({
        "username": "ann.smith", "email": "ann.smith@example.com", "email_verified": false,
        "display_name": "Ann Smith", "claims": {}, "disabled": false,
    });
    let response = api.put(&location, &replacement, &etag).await;
    assert_eq!(response.status(), 200);
    let etag = etag_of(&response);
    assert_eq!(etag, "\"2\"");
    let replaced: Value = response.json().await.unwrap();
    assert_eq!(replaced["username"], "ann.smith");
    assert_eq!(replaced["claims"], json!({}));

    let response = api
        .patch(&location, &json!({"disabled": true}), &etag)
        .await;
    assert_eq!(response.status(), 200);
    let etag = etag_of(&response);
    let patched: Value = response.json().await.unwrap();
    assert_eq!(patched["disabled"], true);
    assert_eq!(patched["username"], "ann.smith");

    let response = api.delete(&location, Some(&etag)).await;
    assert_eq!(response.status(), 204);
    assert_problem(api.get(&location).await, 404, "not-found").await;
    assert_problem(api.get("/v1/users/not-a-uuid").await, 404, "not-found").await;
}

async fn users_are_listed_by_username_or_email(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let api = AdminApi::new(&app).await;
    api.create_user(&ann()).await;
    api.create_user(&json!({"username": "bob", "email": "bob@example.com"}))
        .await;

    let (all, _) = api.read("/v1/users").await;
    assert_eq!(all["items"].as_array().unwrap().len(), 2);
    assert!(all["next"].is_null());
    let (by_name, _) = api.read("/v1/users?username=bob").await;
    assert_eq!(by_name["items"][0]["username"], "bob");
    assert_eq!(by_name["items"].as_array().unwrap().len(), 1);
    let (by_email, _) = api.read("/v1/users?email=ann%40example.com").await;
    assert_eq!(by_email["items"][0]["username"], "ann");
    assert_eq!(by_email["items"].as_array().unwrap().len(), 1);
    let bad = api.get("/v1/users?email=not-an-email").await;
    assert_eq!(invalid_fields(bad).await, ["email"]);
}

async fn bad_user_input_is_named_and_a_taken_username_conflicts(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let api = AdminApi::new(&app).await;
    let cases = [
        (json!({"username": "ann", "email": "not-an-email"}), "email"),
        (
            json!({"username": "ann", "password": "password"}),
            "password",
        ),
        (json!({"username": " bad name"}), "username"),
        (json!({"username": "ann", "hash": "x"}), "hash"),
        (
            json!({"username": "ann", "claims": {"sub": "x"}}),
            "claims.sub",
        ),
        (
            json!({"username": "ann", "email_verified": "yes"}),
            "email_verified",
        ),
    ];
    for (body, field) in cases {
        let fields = invalid_fields(api.post("/v1/users", &body).await).await;
        assert_eq!(fields, [field], "{body}");
    }
    api.create_user(&ann()).await;
    let taken = api.post("/v1/users", &json!({"username": "ANN"})).await;
    assert_problem(taken, 409, "conflict").await;

    let (list, _) = api.read("/v1/users").await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
}

async fn an_admin_resets_a_password_and_the_person_signs_in_with_it(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let api = AdminApi::new(&app).await;
    let (user, _) = api
        .create_user(&json!({"username": "ann", "password": "a long and unusual passphrase"}))
        .await;
    let path = format!("/v1/users/{}/password", user["id"].as_str().unwrap());

    let weak = api.post(&path, &json!({"password": "password"})).await;
    assert_eq!(invalid_fields(weak).await, ["password"]);
    let response = api.post(&path, &json!({"password": PASSWORD})).await;
    assert_eq!(response.status(), 204);
    let missing = api
        .post(
            "/v1/users/6a0c8d8e-0000-4000-8000-000000000000/password",
            &json!({"password": PASSWORD}),
        )
        .await;
    assert_problem(missing, 404, "not-found").await;

    // The reset ended every session begun up to its second; a later sign-in works.
    app.clock.advance(std::time::Duration::from_secs(1));
    let client = app.register_client(web_client()).await;
    let signed_in = sign_in_and_exchange(&app, &client, &["openid"], "ann").await;
    assert!(!signed_in.access_token.is_empty());
}

crate::on_every_backend!(
    a_user_is_created_read_replaced_patched_and_deleted,
    users_are_listed_by_username_or_email,
    bad_user_input_is_named_and_a_taken_username_conflicts,
    an_admin_resets_a_password_and_the_person_signs_in_with_it,
);
