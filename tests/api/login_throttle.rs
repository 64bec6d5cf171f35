//! Failed sign-ins are counted per username and address: past `sessions.max_failed_logins`
//! that name is refused (429 with Retry-After) without a password check, even with the right
//! password, until the window ends.

use std::time::Duration;

use crate::flow::{Browser, PASSWORD, relying_party, start, web_client};
use crate::helpers::{Backend, spawn_app_with};

async fn too_many_failed_sign_ins_block_that_name_until_the_window_ends(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |s| {
        s.sessions.max_failed_logins = 3;
        s.sessions.failed_login_window_secs = 600;
    })
    .await
    else {
        return;
    };
    let client = app.register_client(web_client()).await;
    app.create_user("ann", PASSWORD).await;
    app.create_user("bob", PASSWORD).await;
    let rp = relying_party(&app, &client);
    let browser = Browser::new();
    let mut page = browser
        .get(&start(&rp, &["openid"], &[]).url)
        .await
        .text()
        .await
        .unwrap();

    for _ in 0..3 {
        let response = browser
            .submit(
                &app,
                &page,
                &[("username", "ann"), ("password", "wrong guess 123")],
            )
            .await;
        assert_eq!(response.status(), 400);
        page = response.text().await.unwrap();
    }
    let blocked = browser
        .submit(&app, &page, &[("username", "ann"), ("password", PASSWORD)])
        .await;

    assert_eq!(blocked.status(), 429);
    assert_eq!(blocked.headers()["retry-after"], "600");
    let other = browser
        .submit(&app, &page, &[("username", "bob"), ("password", PASSWORD)])
        .await;
    assert_eq!(other.status(), 200, "another name is not affected");
    if backend == Backend::Embedded {
        // the memory store runs on the injected clock; Redis expires on its own
        app.clock.advance(Duration::from_secs(601));
        let fresh = Browser::new();
        let page = fresh
            .get(&start(&rp, &["openid"], &[]).url)
            .await
            .text()
            .await
            .unwrap();
        let later = fresh
            .submit(&app, &page, &[("username", "ann"), ("password", PASSWORD)])
            .await;
        assert_eq!(later.status(), 200, "the window has ended");
    }
}

crate::on_every_backend!(too_many_failed_sign_ins_block_that_name_until_the_window_ends);
