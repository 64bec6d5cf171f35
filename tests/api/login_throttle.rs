//! Failed sign-ins are counted per username and address, per address, and per username: each
//! past its limit is refused (429 with Retry-After) without a password check, but a person whose
//! name is under attack still signs in from an address that has not failed. The client address
//! comes from a forwarded header only when the peer is a trusted proxy.

use std::time::Duration;

use crate::flow::{Browser, Form, PASSWORD, relying_party, start, web_client};
use crate::helpers::{Backend, TestApp, spawn_app_with};

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

/// Submits `page`'s form as sent through a proxy that appended `address`.
async fn submit_via(
    app: &TestApp,
    browser: &Browser,
    page: &str,
    address: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let form = Form::of(page);
    let mut body = vec![("csrf_token", form.csrf_token.as_str())];
    body.extend_from_slice(fields);
    browser
        .http
        .post(format!("{}{}", app.address, form.action))
        .header("x-forwarded-for", address)
        .form(&body)
        .send()
        .await
        .unwrap()
}

/// A login page in a fresh browser.
async fn login_page(rp: &crate::flow::RelyingParty) -> (Browser, String) {
    let browser = Browser::new();
    let page = browser
        .get(&start(rp, &["openid"], &[]).url)
        .await
        .text()
        .await
        .unwrap();
    (browser, page)
}

async fn parallel_guesses_are_counted_before_they_are_checked(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |s| s.sessions.max_failed_logins = 5).await else {
        return;
    };
    let client = app.register_client(web_client()).await;
    app.create_user("ann", PASSWORD).await;
    let rp = relying_party(&app, &client);
    let (browser, page) = login_page(&rp).await;

    let guesses = (0..30).map(|i| {
        let (app, browser, page) = (&app, &browser, &page);
        async move {
            let guess = format!("wrong guess {i}");
            browser
                .submit(app, page, &[("username", "ann"), ("password", &guess)])
                .await
                .status()
                .as_u16()
        }
    });
    let statuses = futures_util::future::join_all(guesses).await;

    let checked = statuses.iter().filter(|s| **s == 400).count();
    let refused = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!(checked, 5, "{statuses:?}");
    assert_eq!(refused, 25, "{statuses:?}");
}

async fn forwarded_headers_are_ignored_without_a_trusted_proxy(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |s| s.sessions.max_failed_logins = 3).await else {
        return;
    };
    let client = app.register_client(web_client()).await;
    app.create_user("ann", PASSWORD).await;
    let rp = relying_party(&app, &client);
    let (browser, mut page) = login_page(&rp).await;

    for i in 0..3 {
        let spoofed = format!("203.0.113.{i}");
        let wrong = [("username", "ann"), ("password", "wrong guess 123")];
        let response = submit_via(&app, &browser, &page, &spoofed, &wrong).await;
        assert_eq!(response.status(), 400);
        page = response.text().await.unwrap();
    }
    let right = [("username", "ann"), ("password", PASSWORD)];
    let response = submit_via(&app, &browser, &page, "198.51.100.77", &right).await;

    assert_eq!(
        response.status(),
        429,
        "every guess counted against the peer"
    );
}

async fn through_a_trusted_proxy_each_person_has_their_own_address(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |s| {
        s.server.trusted_proxies = vec!["127.0.0.0/8".parse().unwrap()];
        s.sessions.max_failed_logins = 3;
    })
    .await
    else {
        return;
    };
    let client = app.register_client(web_client()).await;
    app.create_user("ann", PASSWORD).await;
    let rp = relying_party(&app, &client);
    let (attacker, mut page) = login_page(&rp).await;
    for _ in 0..3 {
        // what the attacker writes left of the proxy's entry is not believed
        let chain = "198.51.100.77, 203.0.113.66";
        let wrong = [("username", "ann"), ("password", "wrong guess 123")];
        let response = submit_via(&app, &attacker, &page, chain, &wrong).await;
        assert_eq!(response.status(), 400);
        page = response.text().await.unwrap();
    }
    let right = [("username", "ann"), ("password", PASSWORD)];
    let blocked = submit_via(&app, &attacker, &page, "203.0.113.66", &right).await;
    assert_eq!(blocked.status(), 429, "the attacker's address is refused");

    let (person, page) = login_page(&rp).await;
    let signed_in = submit_via(&app, &person, &page, "198.51.100.77", &right).await;
    assert_eq!(
        signed_in.status(),
        200,
        "the person behind the same proxy is not"
    );
}

async fn an_address_spraying_many_names_is_refused(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |s| {
        s.server.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
        s.sessions.max_failed_logins_per_address = 4;
    })
    .await
    else {
        return;
    };
    let client = app.register_client(web_client()).await;
    app.create_user("ann", PASSWORD).await;
    let rp = relying_party(&app, &client);
    let (sprayer, mut page) = login_page(&rp).await;
    for name in ["bob", "cat", "dan", "eve"] {
        let guess = [("username", name), ("password", "Summer2026!")];
        let response = submit_via(&app, &sprayer, &page, "203.0.113.5", &guess).await;
        assert_eq!(response.status(), 400);
        page = response.text().await.unwrap();
    }
    let right = [("username", "ann"), ("password", PASSWORD)];
    let refused = submit_via(&app, &sprayer, &page, "203.0.113.5", &right).await;
    assert_eq!(refused.status(), 429, "a fifth name from the same address");

    let (person, page) = login_page(&rp).await;
    let elsewhere = submit_via(&app, &person, &page, "198.51.100.1", &right).await;
    assert_eq!(elsewhere.status(), 200, "other addresses are not affected");
}

async fn people_signing_in_correctly_behind_one_address_are_never_refused(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |s| {
        s.sessions.max_failed_logins_per_address = 3;
    })
    .await
    else {
        return;
    };
    let client = app.register_client(web_client()).await;
    let rp = relying_party(&app, &client);
    for i in 0..8 {
        let name = format!("person{i}");
        app.create_user(&name, PASSWORD).await;
        let (browser, page) = login_page(&rp).await;
        let right = [("username", name.as_str()), ("password", PASSWORD)];
        let response = browser.submit(&app, &page, &right).await;
        assert_eq!(
            response.status(),
            200,
            "sign-in {i} from the shared address"
        );
    }
}

async fn a_name_under_attack_still_signs_in_from_an_address_that_has_not_failed(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |s| {
        s.server.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
        s.sessions.max_failed_logins_per_user = 3;
    })
    .await
    else {
        return;
    };
    let client = app.register_client(web_client()).await;
    app.create_user("ann", PASSWORD).await;
    let rp = relying_party(&app, &client);
    let (botnet, mut page) = login_page(&rp).await;
    for bot in ["203.0.113.1", "203.0.113.2", "203.0.113.3"] {
        let guess = [("username", "ann"), ("password", "wrong guess 123")];
        let response = submit_via(&app, &botnet, &page, bot, &guess).await;
        assert_eq!(response.status(), 400);
        page = response.text().await.unwrap();
    }
    let right = [("username", "ann"), ("password", PASSWORD)];
    let from_a_bot = submit_via(&app, &botnet, &page, "203.0.113.2", &right).await;
    assert_eq!(
        from_a_bot.status(),
        429,
        "an address that failed for ann is refused"
    );

    let (ann, page) = login_page(&rp).await;
    let from_home = submit_via(&app, &ann, &page, "198.51.100.20", &right).await;
    assert_eq!(
        from_home.status(),
        200,
        "ann's own address is still checked"
    );
}

crate::on_every_backend!(
    too_many_failed_sign_ins_block_that_name_until_the_window_ends,
    parallel_guesses_are_counted_before_they_are_checked,
    forwarded_headers_are_ignored_without_a_trusted_proxy,
    through_a_trusted_proxy_each_person_has_their_own_address,
    an_address_spraying_many_names_is_refused,
    people_signing_in_correctly_behind_one_address_are_never_refused,
    a_name_under_attack_still_signs_in_from_an_address_that_has_not_failed,
);
