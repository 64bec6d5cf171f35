//! Two instances on one database: a key made on one verifies on the other at the next request
//! (an unknown kid reloads the ring, at most once a second), and a key revoked on one is refused
//! by the other once it reloads (what the change feed will trigger).

use gatehouse::clock::Clock as _;
use gatehouse::crypto::SigningAlgorithm;
use serde_json::json;

use crate::admin_helpers::AdminApi;
use crate::helpers::{Backend, TestApp, confidential_client, spawn_app};
use crate::jose::segment;

/// `app` and a sibling announcing the same issuer, as instances behind one load balancer.
async fn pair(backend: Backend) -> Option<(TestApp, TestApp)> {
    let a = spawn_app(backend).await?;
    let issuer = a.issuer.parse().unwrap();
    let b = a.spawn_sibling(|s| s.server.issuer = Some(issuer)).await;
    Some((a, b))
}

fn kid_of(token: &str) -> String {
    segment(token, 0)["kid"].as_str().unwrap().to_owned()
}

async fn a_key_rotated_now_on_one_instance_verifies_on_another_at_the_next_request(
    backend: Backend,
) {
    let Some((a, b)) = pair(backend).await else {
        return;
    };
    let service = a.register_client(confidential_client()).await;
    let api = AdminApi::new(&a).await;
    let before = kid_of(&api.token);

    // nothing staged: the successor is made and signs at once, on A only so far
    let rotated = api
        .post(
            "/v1/keys/rotate",
            &json!({"alg": "ES256", "immediately": true}),
        )
        .await;
    assert_eq!(rotated.status(), 200);
    let token = a.token_for(&service).await;
    assert_ne!(kid_of(&token), before);

    assert_eq!(b.introspect(&token, &service).await["active"], true);
    let admin_on_a = AdminApi::new(&a).await.token;
    let on_b = b
        .client
        .get(format!("{}/v1/keys", b.address))
        .bearer_auth(&admin_on_a)
        .send()
        .await
        .unwrap();
    assert_eq!(on_b.status(), 200);

    // a key made without the admin API (as the CLI does) is announced through the change feed
    // too: the other instance verifies with it once it has read the feed. (That an unknown kid
    // reloads at most once a second is unit-tested in src/keyring/unknown_kid.rs: here the
    // feed may deliver first, so it cannot be observed without a race.)
    a.state
        .keys
        .rotate(SigningAlgorithm::Es256, true, a.clock.now(), "test")
        .await
        .unwrap();
    let newer = a.token_for(&service).await;
    b.read_changes().await;
    assert_eq!(b.introspect(&newer, &service).await["active"], true);
}

async fn a_key_revoked_on_one_instance_is_refused_by_another_within_a_second(backend: Backend) {
    let Some((a, b)) = pair(backend).await else {
        return;
    };
    let service = a.register_client(confidential_client()).await;
    let token = a.token_for(&service).await;
    let kid = kid_of(&token);
    assert_eq!(b.introspect(&token, &service).await["active"], true);

    let revoked = AdminApi::new(&a)
        .await
        .post(&format!("/v1/keys/{kid}/revoke"), &json!({}))
        .await;
    assert_eq!(revoked.status(), 200);
    assert_eq!(
        a.introspect(&token, &service).await,
        json!({"active": false})
    );

    // B learns it from the change feed, within a second
    b.read_changes().await;

    assert_eq!(
        b.introspect(&token, &service).await,
        json!({"active": false})
    );
    let on_b = b.jwks().await.to_string();
    assert!(!on_b.contains(&kid), "{on_b}");
    let from_b = b.token_for(&service).await;
    assert_ne!(kid_of(&from_b), kid, "B signs with the successor");
    assert_eq!(a.introspect(&from_b, &service).await["active"], true);
    // B's own maintenance does not bring it back either
    b.state
        .keys
        .maintain(b.clock.now(), "system")
        .await
        .unwrap();
    assert_eq!(
        b.introspect(&token, &service).await,
        json!({"active": false})
    );
}

crate::on_every_backend!(
    a_key_rotated_now_on_one_instance_verifies_on_another_at_the_next_request,
    a_key_revoked_on_one_instance_is_refused_by_another_within_a_second,
);
