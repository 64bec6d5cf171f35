//! The authorization-code flow as a person meets it, timed end to end: authorize → login form
//! (one argon2id verification with the default OWASP parameters) → code → tokens, with the
//! `oauth2` crate as the relying party, over HTTP against an in-process server on the embedded
//! default. Then 32 people sign in at once, to show the argon2 bulkhead keeps memory bounded.
//! `cargo bench --bench flow` (release profile).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../tests/common/mod.rs"]
mod common;
#[allow(dead_code, unused_imports)]
#[path = "../tests/api/flow.rs"]
mod flow;
#[allow(dead_code, unused_macros)]
#[path = "../tests/api/helpers.rs"]
mod helpers;

use std::time::{Duration, Instant};

use gatehouse::config::PasswordSettings;
use oauth2::TokenResponse as _;

const FLOWS: usize = 100;
const WARM_UP: usize = 5;
const AT_ONCE: usize = 32;

#[tokio::main]
async fn main() {
    let app = helpers::spawn_app_with(helpers::Backend::Embedded, |settings| {
        settings.passwords = PasswordSettings::default();
        settings.log.level = "warn".into();
    })
    .await
    .expect("the embedded default always runs");
    let client = app.register_client(flow::web_client()).await;
    app.create_user("ann", flow::PASSWORD).await;
    let rp = flow::relying_party(&app, &client);
    let scopes = ["openid", "profile", "offline_access"];

    let mut times = Vec::with_capacity(FLOWS);
    for round in 0..WARM_UP + FLOWS {
        // A new browser each time: every flow signs in, so every flow pays for argon2.
        let browser = flow::Browser::new();
        let started = Instant::now();
        let (code, verifier) = flow::code_for(&app, &browser, &rp, &scopes, "ann").await;
        let tokens = rp
            .exchange_code(code)
            .set_pkce_verifier(verifier)
            .request_async(&flow::back_channel())
            .await
            .expect("the code exchanges for tokens");
        assert!(tokens.refresh_token().is_some());
        if round >= WARM_UP {
            times.push(started.elapsed());
        }
    }
    times.sort_unstable();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "authorization-code flow (authorize → login → code → tokens), {FLOWS} sequential flows: \
         median {:.1} ms, p90 {:.1} ms, max {:.1} ms",
        ms(times[FLOWS / 2]),
        ms(times[FLOWS * 9 / 10]),
        ms(times[FLOWS - 1])
    );

    let before = peak_rss_kib();
    let started = Instant::now();
    let outcomes = futures_util::future::join_all((0..AT_ONCE).map(|_| async {
        let browser = flow::Browser::new();
        let request = flow::start(&rp, &scopes, &[]);
        browser
            .authorize(&app, &request.url, "ann", "allow")
            .await
            .status()
            .as_u16()
    }))
    .await;
    let signed_in = outcomes.iter().filter(|s| **s == 303).count();
    let refused = outcomes.iter().filter(|s| **s == 503).count();
    println!(
        "{AT_ONCE} sign-ins at once: {signed_in} signed in, {refused} told to retry (503) in \
         {:.0} ms; peak resident memory {:.1} MiB before, {:.1} MiB after",
        ms(started.elapsed()),
        before as f64 / 1024.0,
        peak_rss_kib() as f64 / 1024.0
    );
}

/// This process's peak resident memory (server and client together), in KiB.
fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}
