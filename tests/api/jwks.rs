use serde_json::Value;

use crate::helpers::{Backend, spawn_app};

async fn jwks_publishes_one_es256_and_one_rs256_public_key(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };

    let response = app.get("/.well-known/jwks.json").await;

    assert_eq!(response.status(), 200);
    let cache = response.headers()["cache-control"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(cache.contains("max-age="), "{cache}");
    let jwks: Value = response.json().await.unwrap();
    let keys = jwks["keys"].as_array().unwrap();
    let mut algs: Vec<&str> = keys.iter().map(|k| k["alg"].as_str().unwrap()).collect();
    algs.sort_unstable();
    assert_eq!(algs, ["ES256", "RS256"]);
    for key in keys {
        assert_eq!(key["use"], "sig");
        assert!(key["kid"].as_str().is_some_and(|kid| kid.len() == 43));
        for private in ["d", "p", "q", "dp", "dq", "qi", "k"] {
            assert!(
                key.get(private).is_none(),
                "private member {private} published"
            );
        }
        match key["kty"].as_str().unwrap() {
            "EC" => assert_eq!(key["crv"], "P-256"),
            "RSA" => {
                let n = key["n"].as_str().unwrap();
                assert!(n.len() * 6 >= 2048, "RSA modulus shorter than 2048 bits");
            }
            other => panic!("unexpected kty {other}"),
        }
    }
}

async fn jwks_is_the_same_after_a_restart(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let first: Value = app
        .get("/.well-known/jwks.json")
        .await
        .json()
        .await
        .unwrap();

    let again = gatehouse::startup::Application::build(app.settings.clone())
        .await
        .unwrap();
    let address = format!("http://127.0.0.1:{}", again.port());
    tokio::spawn(again.run_until_stopped());
    let second: Value = app
        .client
        .get(format!("{address}/.well-known/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    assert_eq!(first, second, "a restart must reuse the stored keys");
}

crate::on_every_backend!(
    jwks_publishes_one_es256_and_one_rs256_public_key,
    jwks_is_the_same_after_a_restart,
);
