//! `GET /v1/audit-events`: the audit trail, newest first, filtered, a page at a time, for anyone
//! who may read the admin API (an auditor too), and its retention.

use serde_json::Value;

use crate::admin_helpers::{AdminApi, READ};
use crate::flow::PASSWORD;
use crate::helpers::{Backend, spawn_app};

async fn items(response: reqwest::Response) -> (Vec<Value>, Option<String>) {
    assert_eq!(response.status(), 200);
    let link = response
        .headers()
        .get("link")
        .map(|l| l.to_str().unwrap().to_owned());
    let body: Value = response.json().await.unwrap();
    (body["items"].as_array().unwrap().clone(), link)
}

async fn the_audit_trail_is_read_newest_first_filtered_and_in_pages(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let api = AdminApi::new(&app).await;
    let ann = app.create_user("ann", PASSWORD).await;
    for name in ["one", "two", "three"] {
        let created = api
            .post("/v1/clients", &serde_json::json!({"name": name}))
            .await;
        assert_eq!(created.status(), 201);
    }
    let path = format!("/v1/users/{}/roles/auditor", ann.id);
    let granted = api
        .request(reqwest::Method::PUT, &path)
        .send()
        .await
        .unwrap();
    assert_eq!(granted.status(), 200);

    // Newest first; each event names who, what, which record, and from where.
    let (all, _) = items(api.get("/v1/audit-events").await).await;
    assert_eq!(all[0]["action"], "user.role_granted", "{all:?}");
    assert_eq!(all[0]["target_id"], ann.id.to_string());
    assert_eq!(all[0]["details"]["role"], "auditor");
    assert_eq!(all[0]["details"]["client_address"], "127.0.0.1");

    let (created, _) = items(api.get("/v1/audit-events?action=client.created").await).await;
    // the three, and the registration of the admin client itself (by the test harness)
    assert_eq!(created.len(), 4, "{created:?}");
    let actor = created[0]["actor"].as_str().unwrap().to_owned();
    let by_actor = format!("/v1/audit-events?actor={actor}&action=client.created&limit=2");
    let (page, link) = items(api.get(&by_actor).await).await;
    assert_eq!(page.len(), 2);
    let link = link.expect("a next page");
    let next = link
        .trim_start_matches('<')
        .split('>')
        .next()
        .unwrap()
        .to_owned();
    let next = next.trim_start_matches(&app.issuer).to_owned();
    let (rest, more) = items(api.get(&next).await).await;
    assert_eq!(rest.len(), 1, "{rest:?}");
    assert!(more.is_none());
    assert_ne!(rest[0]["id"], page[0]["id"]);
    assert_ne!(rest[0]["id"], page[1]["id"]);

    // A time that is not RFC 3339, an unknown filter: 422, naming each.
    let bad = api.get("/v1/audit-events?since=yesterday&colour=red").await;
    assert_eq!(bad.status(), 422);
    let problem = bad.text().await.unwrap();
    assert!(problem.contains("colour"), "{problem}");
    let bad = api.get("/v1/audit-events?since=yesterday").await;
    assert_eq!(bad.status(), 422);
    assert!(bad.text().await.unwrap().contains("since"));
    let future = "/v1/audit-events?since=2999-01-01T00:00:00Z";
    assert!(items(api.get(future).await).await.0.is_empty());

    // Read-only callers read it.
    let reader = AdminApi::with_scopes(&app, &[READ]).await;
    assert_eq!(reader.get("/v1/audit-events").await.status(), 200);
}

async fn events_past_their_retention_are_deleted(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let api = AdminApi::new(&app).await;
    assert_eq!(
        api.post("/v1/clients", &serde_json::json!({"name": "old"}))
            .await
            .status(),
        201
    );
    let now = app.state.clock.now();
    let db = app.state.db.as_ref();
    let retain = app.settings.audit.retain_days;
    assert_eq!(retain, 365, "the default");
    let kept = gatehouse::admin::audit::purge_expired(db, retain, now)
        .await
        .unwrap();
    assert_eq!(kept, 0, "nothing is that old");
    let later = now + time::Duration::days(366);
    let purged = gatehouse::admin::audit::purge_expired(db, retain, later)
        .await
        .unwrap();
    assert!(purged >= 1, "the creation is past its retention");
    assert_eq!(
        gatehouse::admin::audit::purge_expired(db, 0, later)
            .await
            .unwrap(),
        0,
        "0 keeps everything"
    );
}

crate::on_every_backend!(
    the_audit_trail_is_read_newest_first_filtered_and_in_pages,
    events_past_their_retention_are_deleted,
);
