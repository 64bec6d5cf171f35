//! The admin API's latency on the embedded default, over HTTP against an in-process server:
//! `GET /v1/clients/{id}` (a read) and `POST /v1/users` with a password (dominated by one
//! argon2id hash with the default OWASP parameters). `cargo bench --bench admin`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../tests/common/mod.rs"]
mod common;
#[allow(dead_code, unused_macros)]
#[path = "../tests/api/helpers.rs"]
mod helpers;

use std::time::{Duration, Instant};

use gatehouse::admin::clients::NewClient;
use gatehouse::config::PasswordSettings;
use serde_json::{Value, json};

const READS: usize = 500;
const CREATES: usize = 50;

fn median(mut times: Vec<Duration>) -> f64 {
    times.sort_unstable();
    times[times.len() / 2].as_secs_f64() * 1e3
}

#[tokio::main]
async fn main() {
    let app = helpers::spawn_app_with(helpers::Backend::Embedded, |settings| {
        settings.passwords = PasswordSettings::default();
        settings.log.level = "warn".into();
    })
    .await
    .expect("the embedded default always runs");
    let admin = app
        .register_client(NewClient {
            name: "bench admin".into(),
            scopes: vec!["gatehouse:admin".into()],
            ..NewClient::default()
        })
        .await;
    let form = [
        ("grant_type", "client_credentials"),
        ("scope", "gatehouse:admin"),
    ];
    let token: Value = app
        .post_token(&form, admin.basic())
        .await
        .json()
        .await
        .unwrap();
    let token = token["access_token"].as_str().unwrap().to_owned();
    let url = |path: &str| format!("{}{path}", app.address);

    let created: Value = app
        .client
        .post(url("/v1/clients"))
        .bearer_auth(&token)
        .json(&json!({"name": "billing", "scopes": ["orders:read"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let client_path = format!("/v1/clients/{}", created["client_id"].as_str().unwrap());
    let mut reads = Vec::with_capacity(READS);
    for _ in 0..READS {
        let started = Instant::now();
        let response = app
            .client
            .get(url(&client_path))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.bytes().await.unwrap();
        reads.push(started.elapsed());
    }
    let mut creates = Vec::with_capacity(CREATES);
    for i in 0..CREATES {
        let body =
            json!({"username": format!("user{i}"), "password": "a long passphrase for the bench"});
        let started = Instant::now();
        let response = app
            .client
            .post(url("/v1/users"))
            .bearer_auth(&token)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
        response.bytes().await.unwrap();
        creates.push(started.elapsed());
    }
    println!(
        "GET /v1/clients/{{id}}: median {:.2} ms over {READS} sequential requests",
        median(reads)
    );
    println!(
        "POST /v1/users (with a password): median {:.1} ms over {CREATES} sequential requests",
        median(creates)
    );
}
