//! Three instances behind one issuer (as behind a round-robin load balancer), on one PostgreSQL
//! and one Redis: each step of a flow lands on another instance, and what one instance changes
//! the others refuse once they have read the change feed. Run on PostgreSQL + Redis as they
//! are, and on the scale-out layouts: PostgreSQL through a transaction-mode pooler with Redis
//! behind Sentinel, and with a Redis Cluster.

use oauth2::TokenResponse as _;
use serde_json::{Value, json};

use crate::admin_helpers::AdminApi;
use crate::common;
use crate::flow::{
    PASSWORD, back_channel, get_userinfo, redirect_params, refresh, relying_party, start,
    web_client,
};
use crate::helpers::{Backend, RegisteredClient, TestApp, confidential_client, spawn_app_with};
use gatehouse::config::{DatabaseUrl, EphemeralUrl, Pooler, Settings};

/// Three instances on `configure`d shared settings, sharing database, Redis prefix, keys,
/// issuer and clock.
async fn three_instances(configure: impl FnOnce(&mut Settings)) -> Option<[TestApp; 3]> {
    let first = spawn_app_with(Backend::Shared, configure).await?;
    let second = first.spawn_instance().await;
    let third = first.spawn_instance().await;
    Some([first, second, third])
}

/// The test database reached through the pooler, migrated on PostgreSQL itself.
fn through_the_pooler(settings: &mut Settings, pooler: &str) {
    let DatabaseUrl::Postgres(direct) = settings.database.url.clone() else {
        panic!("the shared backend is PostgreSQL");
    };
    settings.database.url = DatabaseUrl::Postgres(common::same_database_via(&direct, pooler));
    settings.database.pooler = Pooler::Transaction;
    settings.database.direct_url = Some(DatabaseUrl::Postgres(direct));
}

async fn active(app: &TestApp, token: &str, caller: &RegisteredClient) -> bool {
    app.introspect(token, caller).await["active"] == true
}

async fn client_credentials(app: &TestApp, client: &RegisteredClient) -> reqwest::Response {
    app.post_token(&[("grant_type", "client_credentials")], client.basic())
        .await
}

/// Every instance issues client_credentials tokens that every other one accepts; the client
/// disabled on the first is refused by all three, and its tokens with it.
async fn client_credentials_everywhere_and_a_disable_everywhere(apps: &[TestApp; 3]) {
    let service = apps[0].register_client(confidential_client()).await;
    let rs = apps[0].register_client(confidential_client()).await;
    let mut tokens = Vec::new();
    for (n, app) in apps.iter().enumerate() {
        let token = app.token_for(&service).await;
        assert!(
            active(&apps[(n + 1) % 3], &token, &rs).await,
            "instance {n}'s token"
        );
        tokens.push(token);
    }

    let admin = AdminApi::new(&apps[0]).await;
    let path = format!("/v1/clients/{}", service.id);
    let (_, etag) = admin.read(&path).await;
    let response = admin.patch(&path, &json!({"disabled": true}), &etag).await;
    assert_eq!(response.status(), 200);

    for (n, app) in apps.iter().enumerate() {
        app.read_changes().await;
        assert_eq!(
            client_credentials(app, &service).await.status(),
            401,
            "instance {n} still lets the disabled client in"
        );
        for token in &tokens {
            assert!(!active(app, token, &rs).await, "instance {n}");
        }
    }
}

/// The authorization-code flow with each request on another instance: authorize on the first,
/// sign in on the second, consent and exchange the code on the third, refresh on the first.
/// Then a refresh token revoked on the second is refused by the third, and the access tokens
/// of its grant by every instance.
async fn a_code_flow_across_three_instances(apps: &[TestApp; 3]) {
    let [one, two, three] = apps;
    let client = one.register_client(web_client()).await;
    let rs = one.register_client(confidential_client()).await;
    two.create_user("ann", PASSWORD).await;

    let browser = crate::flow::Browser::new();
    let rp_on_three = relying_party(three, &client);
    let started = start(
        &relying_party(one, &client),
        &["openid", "profile", "offline_access"],
        &[("nonce", "n-0S6_WzA2Mj")],
    );
    let login = browser.get(&started.url).await;
    assert_eq!(login.status(), 200);
    let login = login.text().await.unwrap();
    assert!(login.contains(r#"name="password""#), "the login page");
    let mut response = browser
        .submit(two, &login, &[("username", "ann"), ("password", PASSWORD)])
        .await;
    if response.status() == 200 {
        let consent = response.text().await.unwrap();
        assert!(consent.contains(r#"name="decision""#), "the consent page");
        response = browser
            .submit(three, &consent, &[("decision", "allow")])
            .await;
    }
    let params = redirect_params(&response);
    assert_eq!(params.get("state"), Some(started.state.secret()));
    assert_eq!(
        params.get("iss"),
        Some(&one.issuer),
        "one issuer for all three"
    );
    let code = oauth2::AuthorizationCode::new(params["code"].clone());

    let tokens = rp_on_three
        .exchange_code(code)
        .set_pkce_verifier(started.verifier)
        .request_async(&back_channel())
        .await
        .expect("the code exchanges on the third instance");
    let first_refresh = tokens.refresh_token().unwrap().secret().clone();
    assert_eq!(
        get_userinfo(two, tokens.access_token().secret())
            .await
            .status(),
        200
    );

    let response = refresh(one, &client, &first_refresh, &[]).await;
    assert_eq!(response.status(), 200, "the refresh on the first instance");
    let refreshed: Value = response.json().await.unwrap();
    let access_token = refreshed["access_token"].as_str().unwrap().to_owned();
    let refresh_token = refreshed["refresh_token"].as_str().unwrap().to_owned();
    for app in apps {
        assert!(active(app, &access_token, &rs).await);
    }

    let response = two
        .post_revoke(&[("token", &refresh_token)], client.basic())
        .await;
    assert_eq!(response.status(), 200);
    let response = refresh(three, &client, &refresh_token, &[]).await;
    assert_eq!(
        response.status(),
        400,
        "a refresh token revoked on another instance"
    );
    for (n, app) in apps.iter().enumerate() {
        app.read_changes().await;
        assert!(
            !active(app, &access_token, &rs).await,
            "instance {n} still accepts an access token of the revoked grant"
        );
    }
}

#[tokio::test]
async fn three_instances_on_postgres_and_redis() {
    let Some(apps) = three_instances(|_| {}).await else {
        return;
    };
    client_credentials_everywhere_and_a_disable_everywhere(&apps).await;
    a_code_flow_across_three_instances(&apps).await;
}

#[tokio::test]
async fn three_instances_through_a_transaction_pooler_and_redis_sentinel() {
    three_instances_through_the_pooler_and(common::redis_sentinel_url()).await;
}

#[tokio::test]
async fn three_instances_through_a_transaction_pooler_and_a_redis_cluster() {
    three_instances_through_the_pooler_and(common::redis_cluster_url()).await;
}

/// The same checks as on plain PostgreSQL and Redis, with PgBouncer in transaction mode in
/// front of PostgreSQL and `redis` (a Sentinel or Cluster URL) as the ephemeral store.
async fn three_instances_through_the_pooler_and(redis: Option<String>) {
    let (Some(pooler), Some(redis)) = (common::postgres_pooler_url(), redis) else {
        return;
    };
    let Some(apps) = three_instances(|s| {
        through_the_pooler(s, &pooler);
        s.ephemeral.url = EphemeralUrl::Redis(redis);
    })
    .await
    else {
        return;
    };
    client_credentials_everywhere_and_a_disable_everywhere(&apps).await;
    a_code_flow_across_three_instances(&apps).await;
}
