//! `gatehouse::testing::TestIssuer` as a downstream test uses it, then the time
//! `TestIssuer::start()` takes (median of 20 starts).
//!
//!     cargo run --release --features testing --example test_issuer

use std::time::{Duration, Instant};

use gatehouse::testing::{MintRequest, TestIssuer, service_client, web_client};
use serde_json::{Value, json};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let issuer = TestIssuer::start().await?;
    println!("issuer {} (JWKS at {})", issuer.issuer(), issuer.jwks_url());

    // A service and its token.
    let billing = issuer
        .add_client(service_client("billing", &["invoices:read"]))
        .await?;
    let token = issuer
        .client_credentials_token(&billing, &["invoices:read"])
        .await?;
    println!("client_credentials token: {}…", &token[..24]);

    // A person signing in to a web application, headlessly.
    let web = issuer
        .add_client(web_client("web", &["openid", "profile", "offline_access"]))
        .await?;
    issuer.add_user("ann", "a long passphrase").await?;
    let tokens = issuer
        .authorization_code_flow(
            &web,
            "ann",
            "a long passphrase",
            &["openid", "offline_access"],
        )
        .await?;
    println!(
        "signed in: id_token {}, refresh_token {}",
        tokens.id_token.is_some(),
        tokens.refresh_token.is_some()
    );

    // A token for anyone, with any claims, accepted by introspection.
    let minted = issuer.mint(MintRequest {
        aud: vec!["orders-api".into()],
        scope: "orders:read".into(),
        claims: json!({"tenant": "acme"})
            .as_object()
            .cloned()
            .unwrap_or_default(),
        expires_in: Some(300),
        ..MintRequest::for_subject("alice")
    })?;
    let seen: Value = issuer.introspect(&billing, &minted).await?;
    println!("minted token active: {}", seen["active"]);

    // Time moves when told: the minted token expires.
    issuer.clock().advance(Duration::from_secs(301));
    let seen = issuer.introspect(&billing, &minted).await?;
    println!("after 301 s: active {}", seen["active"]);
    issuer.stop().await;

    let mut times = Vec::new();
    for _ in 0..21 {
        let started = Instant::now();
        let issuer = TestIssuer::start().await?;
        times.push(started.elapsed());
        issuer.stop().await;
    }
    // The first start warms up (page cache, lazy statics); the next 20 are measured.
    times.remove(0);
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let middle = times.len() / 2;
    println!(
        "TestIssuer::start(): median {:.1} ms (min {:.1}, max {:.1}) over {} starts",
        (ms(times[middle - 1]) + ms(times[middle])) / 2.0,
        ms(times[0]),
        ms(times[times.len() - 1]),
        times.len()
    );
    Ok(())
}
