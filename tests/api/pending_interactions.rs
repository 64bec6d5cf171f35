//! Each anonymous `GET /oauth2/authorize` keeps an interaction for ten minutes; one address may
//! have only `sessions.max_pending_interactions_per_address` of them unfinished at once.

use crate::flow::{Browser, PASSWORD, relying_party, start, web_client};
use crate::helpers::{Backend, spawn_app_with};

async fn one_address_cannot_fill_the_store_with_pending_interactions(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |s| {
        s.sessions.max_pending_interactions_per_address = 3;
    })
    .await
    else {
        return;
    };
    let client = app.register_client(web_client()).await;
    app.create_user("ann", PASSWORD).await;
    let rp = relying_party(&app, &client);
    let mut pages = Vec::new();
    for _ in 0..3 {
        let browser = Browser::new();
        let page = browser.get(&start(&rp, &["openid"], &[]).url).await;
        assert_eq!(page.status(), 200);
        pages.push((browser, page.text().await.unwrap()));
    }

    let refused = Browser::new().get(&start(&rp, &["openid"], &[]).url).await;
    assert_eq!(refused.status(), 429);
    assert_eq!(refused.headers()["retry-after"], "600");

    // finishing one (sign-in, then consent) makes room for one more
    let (browser, page) = &pages[0];
    let consent = browser
        .submit(&app, page, &[("username", "ann"), ("password", PASSWORD)])
        .await;
    assert_eq!(consent.status(), 200);
    let consent = consent.text().await.unwrap();
    let done = browser
        .submit(&app, &consent, &[("decision", "allow")])
        .await;
    assert_eq!(done.status(), 303);
    let again = Browser::new().get(&start(&rp, &["openid"], &[]).url).await;
    assert_eq!(
        again.status(),
        200,
        "a finished interaction no longer counts"
    );
    let full = Browser::new().get(&start(&rp, &["openid"], &[]).url).await;
    assert_eq!(full.status(), 429);
}

crate::on_every_backend!(one_address_cannot_fill_the_store_with_pending_interactions);
