//! The token hot paths are served from memory: in the steady state client_credentials,
//! introspection, UserInfo, JWKS and discovery make no database or ephemeral-store call, and
//! a change made on one instance still holds on every other within a second (through Redis
//! pub/sub at once when Redis is configured, through the feed's poll otherwise).

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Value, json};

use crate::admin_helpers::AdminApi;
use crate::flow::{PASSWORD, get_userinfo, sign_in_and_exchange, web_client};
use crate::helpers::{Backend, TestApp, confidential_client, spawn_app, spawn_app_with};

/// What an instance does on its own while it serves: follows the change feed, purges it,
/// checks its key ring and purges idempotency records. Nothing else may call a backend.
const BACKGROUND: [&str; 5] = [
    "changes_after",
    "purge_changes",
    "list_signing_keys",
    "list_signing_key_revocations",
    "purge_expired_idempotency_records",
];

/// `gatehouse_backend_calls_total` by `{backend, operation}` labels, from a scrape.
async fn backend_calls(app: &TestApp) -> BTreeMap<String, f64> {
    let body = app.get("/metrics").await.text().await.unwrap();
    body.lines()
        .filter_map(|line| line.strip_prefix("gatehouse_backend_calls_total{"))
        .filter_map(|rest| {
            let (labels, value) = rest.rsplit_once("} ")?;
            Some((labels.to_owned(), value.trim().parse().ok()?))
        })
        .collect()
}

fn grown(before: &BTreeMap<String, f64>, after: &BTreeMap<String, f64>) -> Vec<String> {
    after
        .iter()
        .filter(|(labels, count)| before.get(*labels).copied().unwrap_or(0.0) < **count)
        .filter(|(labels, _)| {
            !BACKGROUND
                .iter()
                .any(|op| labels.contains(&format!("operation=\"{op}\"")))
        })
        .map(|(labels, count)| {
            format!(
                "{labels}: {} more",
                count - before.get(labels).copied().unwrap_or(0.0)
            )
        })
        .collect()
}

async fn the_hot_paths_make_no_backend_call_in_the_steady_state(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let web = app.register_client(web_client()).await;
    app.create_user("ann", PASSWORD).await;
    let signed_in = sign_in_and_exchange(&app, &web, &["openid", "profile"], "ann").await;
    let service = app.register_client(confidential_client()).await;
    let resource_server = app.register_client(confidential_client()).await;
    let hot_paths = || async {
        let token = app.token_for(&service).await;
        assert_eq!(
            app.introspect(&token, &resource_server).await["active"],
            true
        );
        assert_eq!(
            app.introspect(&signed_in.access_token, &resource_server)
                .await["active"],
            true
        );
        assert_eq!(
            get_userinfo(&app, &signed_in.access_token).await.status(),
            200
        );
        assert_eq!(app.get("/.well-known/jwks.json").await.status(), 200);
        assert_eq!(
            app.get("/.well-known/openid-configuration").await.status(),
            200
        );
    };
    // The feed has told this instance about every client first (applying a registration drops
    // the client, and any drop keeps a read that raced it out of the cache); then the first
    // calls fill the caches.
    app.read_changes().await;
    hot_paths().await;
    app.read_changes().await;
    let before = backend_calls(&app).await;
    assert!(!before.is_empty(), "the calls are counted");

    for _ in 0..10 {
        hot_paths().await;
    }

    let after = backend_calls(&app).await;
    assert_eq!(grown(&before, &after), Vec::<String>::new());
    let body = app.get("/metrics").await.text().await.unwrap();
    for cache in ["clients", "users", "verified_tokens"] {
        assert!(
            body.contains(&format!(
                "gatehouse_cache_lookups_total{{cache=\"{cache}\",result=\"hit\"}}"
            )),
            "{body}"
        );
    }
}

/// A profile change made through one instance shows in UserInfo on another: the cached
/// copy is dropped by the feed.
async fn userinfo_shows_a_profile_change_on_every_instance(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let other = app.spawn_instance().await;
    let web = app.register_client(web_client()).await;
    let user = app.create_user("ann", PASSWORD).await;
    let signed_in = sign_in_and_exchange(&app, &web, &["openid", "profile"], "ann").await;
    other.read_changes().await;
    let before: Value = get_userinfo(&other, &signed_in.access_token)
        .await
        .json()
        .await
        .unwrap();
    assert_ne!(before["name"], "Ann Example");

    let admin = AdminApi::new(&app).await;
    let path = format!("/v1/users/{}", user.id);
    let (_, etag) = admin.read(&path).await;
    let response = admin
        .patch(&path, &json!({"display_name": "Ann Example"}), &etag)
        .await;
    assert_eq!(response.status(), 200);
    other.read_changes().await;

    let after: Value = get_userinfo(&other, &signed_in.access_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(after["name"], "Ann Example", "{after}");
}

/// With Redis, the instance that made a change says so and the others read the feed at once;
/// the notice, not the poll, is what they heard.
#[tokio::test]
async fn a_change_notice_reaches_the_other_instances_through_redis() {
    let Some(app) = spawn_app_with(Backend::Shared, |s| {
        // The poll as slow as allowed: the notice is what carries the change.
        s.cache.poll_interval_ms = 1_000;
    })
    .await
    else {
        return;
    };
    let other = app.spawn_instance().await;
    let within = Duration::from_secs(1);
    tokio::time::timeout(within, other.state.notices.subscribed())
        .await
        .expect("the other instance subscribed to change notices");
    let heard = other.state.notices.heard();
    let client = app.register_client(confidential_client()).await;
    let resource_server = app.register_client(confidential_client()).await;
    let token = other.token_for(&client).await;

    let admin = AdminApi::new(&app).await;
    let path = format!("/v1/clients/{}", client.id);
    let (_, etag) = admin.read(&path).await;
    let response = admin.patch(&path, &json!({"disabled": true}), &etag).await;
    assert_eq!(response.status(), 200);

    tokio::time::timeout(within, other.state.notices.heard_at_least(heard + 1))
        .await
        .expect("the other instance heard of the change within a second");
    other.read_changes().await;
    let refused = other.introspect(&token, &resource_server).await;
    assert_ne!(refused["active"], true, "{refused}");
    let response = other
        .post_token(&[("grant_type", "client_credentials")], client.basic())
        .await;
    assert_eq!(response.status(), 401);
    let body = other.get("/metrics").await.text().await.unwrap();
    assert!(
        body.lines().any(
            |line| line.starts_with("gatehouse_change_notices_heard_total ")
                && !line.ends_with(" 0")
        ),
        "{body}"
    );
}

crate::on_every_backend!(
    the_hot_paths_make_no_backend_call_in_the_steady_state,
    userinfo_shows_a_profile_change_on_every_instance,
);
