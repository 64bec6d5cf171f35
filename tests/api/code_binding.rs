//! An authorization code belongs to the client it was issued to (RFC 6749 §4.1.3), and a code
//! replayed while it is being redeemed still revokes everything it issued (RFC 9700 §4.2.1),
//! whichever instance each redemption reached.

use serde_json::Value;

use crate::flow::{Browser, PASSWORD, refresh, web_client};
use crate::helpers::{Backend, RegisteredClient, TestApp, confidential_client, spawn_app};
use crate::pages::{authorized_code, code_exchange_form};

const OFFLINE_SCOPE: &str = "openid profile offline_access";

async fn redeem(app: &TestApp, client: &RegisteredClient, code: &str) -> reqwest::Response {
    app.post_token(&code_exchange_form(code), client.basic())
        .await
}

async fn active(app: &TestApp, token: &str, caller: &RegisteredClient) -> bool {
    app.introspect(token, caller).await["active"] == true
}

async fn a_code_is_redeemable_only_by_its_own_client(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let victim = app.register_client(web_client()).await;
    let intruder = app.register_client(web_client()).await;
    let rs = app.register_client(confidential_client()).await;
    app.create_user("ann", PASSWORD).await;
    let browser = Browser::new();
    let scope = [("scope", Some(OFFLINE_SCOPE))];
    let code = authorized_code(&app, &browser, &victim.id, &scope).await;

    // Another client presenting the live code neither consumes nor burns it.
    let stolen = redeem(&app, &intruder, &code).await;
    assert_eq!(stolen.status(), 400);
    assert_eq!(
        stolen.json::<Value>().await.unwrap()["error"],
        "invalid_grant"
    );
    let redeemed = redeem(&app, &victim, &code).await;
    assert_eq!(
        redeemed.status(),
        200,
        "the code still works for its client"
    );
    let tokens: Value = redeemed.json().await.unwrap();
    let access_token = tokens["access_token"].as_str().unwrap();

    // Nor can it poison it once used: only its own client's replay revokes.
    let replayed = redeem(&app, &intruder, &code).await;
    assert_eq!(replayed.status(), 400);
    assert!(active(&app, access_token, &rs).await);
    let refresh_token = tokens["refresh_token"].as_str().unwrap();
    assert_eq!(
        refresh(&app, &victim, refresh_token, &[]).await.status(),
        200
    );
}

/// RFC 9700 §4.2.1: the attacker and the client redeem one code at the same time, through two
/// instances; whoever wins, afterwards nothing the code issued is alive.
async fn a_code_redeemed_twice_at_once_leaves_nothing_alive(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    // On the embedded default each instance has its own ephemeral store (codes are not
    // shared), so both redemptions go to one instance there.
    let other = match backend {
        Backend::Shared => Some(app.spawn_instance().await),
        Backend::Embedded => None,
    };
    let second = other.as_ref().unwrap_or(&app);
    let client = app.register_client(web_client()).await;
    let rs = app.register_client(confidential_client()).await;
    app.create_user("ann", PASSWORD).await;
    let browser = Browser::new();
    let scope = [("scope", Some(OFFLINE_SCOPE))];
    let mut issued = Vec::new();
    for _ in 0..50 {
        let code = authorized_code(&app, &browser, &client.id, &scope).await;
        let (first, replay) =
            tokio::join!(redeem(&app, &client, &code), redeem(second, &client, &code));
        for response in [first, replay] {
            if response.status() == 200 {
                issued.push(response.json::<Value>().await.unwrap());
            }
        }
    }
    assert!(issued.len() <= 50, "a code is redeemed at most once");
    for tokens in &issued {
        let access_token = tokens["access_token"].as_str().unwrap();
        for instance in [&app, second] {
            instance.read_changes().await;
            assert!(!active(instance, access_token, &rs).await, "{tokens}");
        }
        if let Some(refresh_token) = tokens["refresh_token"].as_str() {
            let response = refresh(&app, &client, refresh_token, &[]).await;
            assert_eq!(
                response.status(),
                400,
                "no refresh token of a replayed code works"
            );
        }
    }
}

crate::on_every_backend!(
    a_code_is_redeemable_only_by_its_own_client,
    a_code_redeemed_twice_at_once_leaves_nothing_alive,
);
