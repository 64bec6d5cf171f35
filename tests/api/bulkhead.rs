//! The argon2 bulkhead: at most `passwords.max_concurrent` hashes at once; a login that cannot
//! get a slot within `passwords.queue_timeout_ms` is told to retry, and the rest of the service
//! keeps answering meanwhile.

use crate::flow::{Browser, PASSWORD, relying_party, start, web_client};
use crate::helpers::{Backend, spawn_app_with};

const AT_ONCE: usize = 6;

async fn logins_beyond_the_bulkhead_answer_503_with_retry_after(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |s| {
        // one slot, no queue, and a hash slow enough that the others arrive while it runs
        s.passwords.memory_kib = 65_536;
        s.passwords.iterations = 2;
        s.passwords.max_concurrent = Some(1);
        s.passwords.queue_timeout_ms = 0;
    })
    .await
    else {
        return;
    };
    let client = app.register_client(web_client()).await;
    app.create_user("ann", PASSWORD).await;
    let rp = relying_party(&app, &client);
    let mut pending = Vec::new();
    for _ in 0..AT_ONCE {
        let browser = Browser::new();
        let page = browser
            .get(&start(&rp, &["openid"], &[]).url)
            .await
            .text()
            .await
            .unwrap();
        pending.push((browser, page));
    }

    let logins = futures_util::future::join_all(pending.iter().map(|(browser, page)| {
        browser.submit(&app, page, &[("username", "ann"), ("password", PASSWORD)])
    }));
    let (responses, health) = tokio::join!(logins, app.get("/healthz"));

    assert_eq!(health.status(), 200, "the service stays responsive");
    let busy: Vec<_> = responses.iter().filter(|r| r.status() == 503).collect();
    // signed in: on to the consent page
    let signed_in = responses.iter().filter(|r| r.status() == 200).count();
    assert!(signed_in >= 1, "the login holding the slot succeeds");
    assert!(!busy.is_empty(), "logins beyond the bulkhead are refused");
    assert_eq!(busy.len() + signed_in, AT_ONCE);
    for response in busy {
        assert_eq!(response.headers()["retry-after"], "5");
    }
}

crate::on_every_backend!(logins_beyond_the_bulkhead_answer_503_with_retry_after);
