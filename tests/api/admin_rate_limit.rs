//! `admin.requests_per_minute`: a caller past its budget gets 429 with `Retry-After`, other
//! callers are not affected, and the budget comes back the next minute.

use std::time::Duration;

use crate::admin_helpers::{AdminApi, assert_problem};
use crate::helpers::{Backend, spawn_app_with};

async fn a_caller_over_its_budget_gets_429_until_the_next_minute(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |s| s.admin.requests_per_minute = 3).await else {
        return;
    };
    let greedy = AdminApi::new(&app).await;
    let other = AdminApi::new(&app).await;
    let into_minute = u64::try_from(app.now().rem_euclid(60)).unwrap();
    app.clock.advance(Duration::from_secs(60 - into_minute));

    for _ in 0..3 {
        assert_eq!(greedy.get("/v1/keys").await.status(), 200);
    }
    let refused = greedy.get("/v1/keys").await;
    let retry_after: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();

    assert_problem(refused, 429, "rate-limited").await;
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    assert_eq!(other.get("/v1/keys").await.status(), 200);
    app.clock.advance(Duration::from_secs(60));
    assert_eq!(greedy.get("/v1/keys").await.status(), 200);
}

crate::on_every_backend!(a_caller_over_its_budget_gets_429_until_the_next_minute);
