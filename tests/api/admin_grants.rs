//! `/v1/grants`: a person's grants, and revoking one ends the tokens issued under it.

use serde_json::Value;

use crate::admin_helpers::{AdminApi, assert_problem, invalid_fields};
use crate::flow::{PASSWORD, sign_in_and_exchange, web_client};
use crate::helpers::{Backend, spawn_app};

async fn a_persons_grants_are_listed_and_revoking_one_ends_its_tokens(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let api = AdminApi::new(&app).await;
    let client = app.register_client(web_client()).await;
    let ann = app.create_user("ann", PASSWORD).await;
    let signed_in = sign_in_and_exchange(&app, &client, &["openid", "profile"], "ann").await;

    let response = api.get(&format!("/v1/grants?user_id={}", ann.id)).await;
    assert_eq!(response.status(), 200);
    let page: Value = response.json().await.unwrap();
    let grants = page["items"].as_array().unwrap();
    assert_eq!(grants.len(), 1);
    let grant = &grants[0];
    assert_eq!(grant["user_id"], ann.id.to_string());
    assert_eq!(grant["client_id"], client.id.as_str());
    assert!(grant["revoked_at"].is_null());
    assert!(
        grant["scopes"]
            .as_array()
            .unwrap()
            .contains(&"profile".into())
    );

    let path = format!("/v1/grants/{}", grant["id"].as_str().unwrap());
    assert_eq!(api.delete(&path, None).await.status(), 204);

    let introspected = app.introspect(&signed_in.access_token, &client).await;
    assert_eq!(introspected["active"], false);
    let page: Value = api
        .get(&format!("/v1/grants?user_id={}", ann.id))
        .await
        .json()
        .await
        .unwrap();
    assert!(page["items"][0]["revoked_at"].is_string(), "{page}");
}

async fn grants_need_a_user_id_and_an_unknown_grant_is_404(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let api = AdminApi::new(&app).await;
    assert_eq!(
        invalid_fields(api.get("/v1/grants").await).await,
        ["user_id"]
    );
    let bad = api.get("/v1/grants?user_id=nope").await;
    assert_eq!(invalid_fields(bad).await, ["user_id"]);
    let unknown = api
        .delete("/v1/grants/6a0c8d8e-0000-4000-8000-000000000000", None)
        .await;
    assert_problem(unknown, 404, "not-found").await;
    assert_problem(api.delete("/v1/grants/nope", None).await, 404, "not-found").await;
}

crate::on_every_backend!(
    a_persons_grants_are_listed_and_revoking_one_ends_its_tokens,
    grants_need_a_user_id_and_an_unknown_grant_is_404,
);
