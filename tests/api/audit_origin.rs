//! An audit event names the client address (the same one the throttles and logs use) and the
//! request id of the change it records.

use reqwest::Method;
use serde_json::json;

use crate::admin_helpers::{AdminApi, web_app_body};
use crate::helpers::{Backend, spawn_app_with};

async fn an_admin_change_is_audited_with_its_client_address_and_request_id(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |s| {
        s.server.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    })
    .await
    else {
        return;
    };
    let api = AdminApi::new(&app).await;

    let created = api
        .request(Method::POST, "/v1/clients")
        .header("x-forwarded-for", "10.9.9.9, 203.0.113.44")
        .json(&web_app_body("billing"))
        .send()
        .await
        .unwrap();

    assert_eq!(created.status(), 201);
    let request_id = created.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let events = app.state.db.recent_audit_events(1).await.unwrap();
    let event = &events[0].event;
    assert_eq!(event.action, "client.created");
    assert_eq!(event.details["client_address"], json!("203.0.113.44"));
    assert_eq!(event.request_id.as_deref(), Some(request_id.as_str()));
}

crate::on_every_backend!(an_admin_change_is_audited_with_its_client_address_and_request_id);
