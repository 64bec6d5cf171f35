//! The account page as a person uses it: signing in through Gatehouse's own session, setting up
//! an authenticator app (QR code and typed secret, confirmed with a first code), the recovery
//! codes shown once, removing it again; every form refused without the page's CSRF token.

use std::time::Duration;

use crate::flow::{Browser, Form, PASSWORD, relying_party, start, web_client};
use crate::helpers::{Backend, TestApp, spawn_app};
use crate::second_factor::code_at;

/// A browser signed in on the account page as `username`; the page's HTML.
async fn signed_in_to_account(app: &TestApp, username: &str) -> (Browser, String) {
    let browser = Browser::new();
    let login = browser.get(&format!("{}/account", app.address)).await;
    assert_eq!(login.status(), 200);
    let login = login.text().await.unwrap();
    assert!(
        login.contains(r#"name="password""#),
        "the sign-in first: {login}"
    );
    let response = browser
        .submit(
            app,
            &login,
            &[("username", username), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/account");
    let page = browser.get(&format!("{}/account", app.address)).await;
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("default-src 'none'"), "{csp}");
    let page = page.text().await.unwrap();
    assert!(page.contains("<h1>Your account</h1>"), "{page}");
    assert!(!page.contains("<script"), "no script");
    (browser, page)
}

/// The secret typed from the enrolment page.
fn secret_of(page: &str) -> String {
    let start = page.find(r#"<code id="totp-secret">"#).expect("the secret") + 23;
    page[start..start + page[start..].find('<').unwrap()].to_owned()
}

async fn a_person_sets_up_an_authenticator_app_and_then_signs_in_with_it(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    app.create_user("ann", PASSWORD).await;
    let (browser, page) = signed_in_to_account(&app, "ann").await;
    assert!(page.contains("Set up an authenticator app"), "{page}");

    let enrolment = browser.submit(&app, &page, &[]).await;
    assert_eq!(enrolment.status(), 200);
    let enrolment = enrolment.text().await.unwrap();
    assert!(
        enrolment.contains("<svg"),
        "a QR code rendered here: {enrolment}"
    );
    let secret = secret_of(&enrolment);
    let wrong = browser
        .submit(&app, &enrolment, &[("code", "000000")])
        .await;
    assert!(wrong.text().await.unwrap().contains("does not match"));
    // the enrolment page again, as the person would go back to it
    let page = browser
        .get(&format!("{}/account", app.address))
        .await
        .text()
        .await
        .unwrap();
    let enrolment = browser.submit(&app, &page, &[]).await.text().await.unwrap();
    let secret_again = secret_of(&enrolment);
    assert_ne!(
        secret_again, secret,
        "a restarted enrolment has a new secret"
    );
    let codes = browser
        .submit(
            &app,
            &enrolment,
            &[("code", &code_at(&secret_again, app.now()))],
        )
        .await;

    assert_eq!(codes.status(), 200);
    let codes = codes.text().await.unwrap();
    assert!(codes.contains("<h1>Your recovery codes</h1>"), "{codes}");
    assert_eq!(codes.matches("<li><code>").count(), 10);
    let page = browser
        .get(&format!("{}/account", app.address))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("You have 10 unused recovery codes"), "{page}");
    app.clock.advance(Duration::from_secs(30));
    let client = app.register_client(web_client()).await;
    let fresh = Browser::new();
    let login = fresh
        .get(&start(&relying_party(&app, &client), &["openid"], &[]).url)
        .await;
    let login = login.text().await.unwrap();
    let asked = fresh
        .submit(&app, &login, &[("username", "ann"), ("password", PASSWORD)])
        .await
        .text()
        .await
        .unwrap();
    assert!(
        asked.contains(r#"name="code""#),
        "a code after the password: {asked}"
    );
}

async fn removing_the_authenticator_ends_the_second_step(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    app.create_user("ann", PASSWORD).await;
    let (browser, page) = signed_in_to_account(&app, "ann").await;
    let enrolment = browser.submit(&app, &page, &[]).await.text().await.unwrap();
    let secret = secret_of(&enrolment);
    browser
        .submit(&app, &enrolment, &[("code", &code_at(&secret, app.now()))])
        .await;
    let page = browser
        .get(&format!("{}/account", app.address))
        .await
        .text()
        .await
        .unwrap();
    let remove = page.split("/account/totp/remove").nth(1).is_some();
    assert!(remove, "{page}");
    let csrf = Form::of(&page).csrf_token;

    let removed = browser
        .http
        .post(format!("{}/account/totp/remove", app.address))
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap();

    assert_eq!(removed.status(), 200);
    assert!(removed.text().await.unwrap().contains("were removed"));
    let client = app.register_client(web_client()).await;
    let fresh = Browser::new();
    let login = fresh
        .get(&start(&relying_party(&app, &client), &["openid"], &[]).url)
        .await;
    let login = login.text().await.unwrap();
    let next = fresh
        .submit(&app, &login, &[("username", "ann"), ("password", PASSWORD)])
        .await
        .text()
        .await
        .unwrap();
    assert!(!next.contains(r#"name="code""#), "the password alone again");
}

async fn account_forms_need_the_pages_token_and_a_session(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let ann = app.create_user("ann", PASSWORD).await;
    let (browser, _) = signed_in_to_account(&app, "ann").await;
    let url = format!("{}/account/totp", app.address);

    for token in [None, Some("forged")] {
        let mut request = browser.http.post(&url);
        request = match token {
            Some(token) => request.form(&[("csrf_token", token)]),
            None => request.form(&[("x", "y")]),
        };
        assert_eq!(request.send().await.unwrap().status(), 403, "{token:?}");
    }
    let stranger = Browser::new();
    let response = stranger
        .http
        .post(&url)
        .form(&[("csrf_token", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303, "no session: to the sign-in");
    assert_eq!(response.headers()["location"], "/account");
    assert_eq!(
        app.state.db.find_totp_factor(ann.id).await.unwrap(),
        None,
        "nothing was started"
    );
}

/// Posts the account page's form for `action` with `fields`, as the browser would.
async fn post_form(
    app: &TestApp,
    browser: &Browser,
    page: &str,
    action: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let mut body = vec![("csrf_token", Form::of(page).csrf_token)];
    body.extend(fields.iter().map(|(k, v)| (*k, (*v).to_owned())));
    assert!(page.contains(&format!(r#"action="{action}""#)), "{page}");
    browser
        .http
        .post(format!("{}{action}", app.address))
        .form(&body)
        .send()
        .await
        .unwrap()
}

/// The sign-in page a browser is shown on /account (it holds no session).
async fn asked_to_sign_in(app: &TestApp, browser: &Browser) {
    let page = browser.get(&format!("{}/account", app.address)).await;
    let page = page.text().await.unwrap();
    assert!(page.contains(r#"name="password""#), "signed out: {page}");
}

async fn a_person_changes_their_password_and_is_signed_out_everywhere(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    app.create_user("ann", PASSWORD).await;
    let (elsewhere, _) = signed_in_to_account(&app, "ann").await;
    let (browser, page) = signed_in_to_account(&app, "ann").await;
    let new_password = "a brand new passphrase 42";

    let wrong = post_form(
        &app,
        &browser,
        &page,
        "/account/password",
        &[
            ("current_password", "not it at all 1"),
            ("new_password", new_password),
        ],
    )
    .await;
    assert_eq!(wrong.status(), 200);
    assert!(
        wrong
            .text()
            .await
            .unwrap()
            .contains("does not match your current password")
    );
    let weak = post_form(
        &app,
        &browser,
        &page,
        "/account/password",
        &[("current_password", PASSWORD), ("new_password", "ann")],
    )
    .await;
    assert!(
        weak.text().await.unwrap().contains("new password"),
        "the rules apply"
    );
    app.clock.advance(Duration::from_secs(1));
    let changed = post_form(
        &app,
        &browser,
        &page,
        "/account/password",
        &[
            ("current_password", PASSWORD),
            ("new_password", new_password),
        ],
    )
    .await;

    assert_eq!(changed.status(), 303);
    app.read_changes().await;
    asked_to_sign_in(&app, &browser).await;
    asked_to_sign_in(&app, &elsewhere).await;
    let fresh = Browser::new();
    let login = fresh
        .get(&format!("{}/account", app.address))
        .await
        .text()
        .await
        .unwrap();
    let old = fresh
        .submit(&app, &login, &[("username", "ann"), ("password", PASSWORD)])
        .await;
    assert_eq!(old.status(), 400, "the old password no longer works");
    let login = old.text().await.unwrap();
    let new = fresh
        .submit(
            &app,
            &login,
            &[("username", "ann"), ("password", new_password)],
        )
        .await;
    assert_eq!(new.status(), 303);
}

async fn signing_out_everywhere_from_the_account_page_ends_every_session(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    app.create_user("ann", PASSWORD).await;
    let (elsewhere, _) = signed_in_to_account(&app, "ann").await;
    let (browser, page) = signed_in_to_account(&app, "ann").await;
    app.clock.advance(Duration::from_secs(1));

    let response = post_form(&app, &browser, &page, "/account/sign-out-everywhere", &[]).await;

    assert_eq!(response.status(), 303);
    app.read_changes().await;
    asked_to_sign_in(&app, &browser).await;
    asked_to_sign_in(&app, &elsewhere).await;
}

/// The action of the sessions form whose button says `button`.
fn session_form(page: &str, button: &str) -> String {
    let before = &page[..page
        .find(button)
        .unwrap_or_else(|| panic!("no {button} in {page}"))];
    let start = before.rfind(r#"action="/account/sessions/"#).unwrap() + r#"action=""#.len();
    let end = start + before[start..].find('"').unwrap();
    before[start..end]
        .replace("&#x2f;", "/")
        .replace("&#47;", "/")
}

async fn the_account_page_lists_recent_sign_ins_and_ends_one_of_them(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    app.create_user("ann", PASSWORD).await;
    let (elsewhere, _) = signed_in_to_account(&app, "ann").await;
    let (browser, page) = signed_in_to_account(&app, "ann").await;

    // Both sign-ins, newest first: this browser's, and the other one, still signed in.
    assert_eq!(
        page.matches("this account page (pwd) from 127.0.0.1")
            .count(),
        2,
        "{page}"
    );
    let this = page
        .find("<strong>This browser.</strong>")
        .expect("this browser's");
    let other = page.find("Still signed in.").expect("the other browser's");
    assert!(this < other, "newest first: {page}");

    let end_other = session_form(&page, "End this session");
    let response = post_form(&app, &browser, &page, &end_other, &[]).await;

    assert_eq!(response.status(), 200);
    let page = response.text().await.unwrap();
    assert!(page.contains("That session was ended."), "{page}");
    assert!(page.contains("Ended."), "{page}");
    assert!(!page.contains("Still signed in."), "{page}");
    asked_to_sign_in(&app, &elsewhere).await;
    // Sent again, or naming no session of hers: nothing changes, and the page says so.
    let stray = format!("/account/sessions/{}/end", "0".repeat(64));
    for action in [end_other.as_str(), stray.as_str()] {
        let again = browser
            .http
            .post(format!("{}{action}", app.address))
            .form(&[("csrf_token", Form::of(&page).csrf_token)])
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 200);
        let again = again.text().await.unwrap();
        assert!(again.contains("That session had ended already."), "{again}");
    }

    let sign_out_here = session_form(&page, "Sign out here");
    let response = post_form(&app, &browser, &page, &sign_out_here, &[]).await;
    assert_eq!(response.status(), 303);
    asked_to_sign_in(&app, &browser).await;
}

crate::on_every_backend!(
    a_person_sets_up_an_authenticator_app_and_then_signs_in_with_it,
    removing_the_authenticator_ends_the_second_step,
    account_forms_need_the_pages_token_and_a_session,
    a_person_changes_their_password_and_is_signed_out_everywhere,
    signing_out_everywhere_from_the_account_page_ends_every_session,
    the_account_page_lists_recent_sign_ins_and_ends_one_of_them,
);
