//! The sign-in page: labelled fields, one message for every failed sign-in, the headers that keep
//! it out of frames and caches, the session cookie, and the form bound to the browser that
//! opened it (login CSRF).

use std::time::Duration;

use actix_web::cookie::SameSite;
use gatehouse::config::IssuerUrl;

use crate::flow::{Browser, Form, PASSWORD, web_client};
use crate::helpers::{Backend, RegisteredClient, TestApp, spawn_app, spawn_app_with};
use crate::pages::{assert_error_page, assert_error_redirect, authorize_url, set_cookie};

const GENERIC_FAILURE: &str = "Incorrect username or password.";

/// An app with the web client and ann, and a browser showing ann's login page.
async fn at_the_login_page(
    backend: Backend,
) -> Option<(TestApp, RegisteredClient, Browser, String)> {
    let app = spawn_app(backend).await?;
    let client = app.register_client(web_client()).await;
    app.create_user("ann", PASSWORD).await;
    let browser = Browser::new();
    let response = browser.get(&authorize_url(&app, &client.id, &[])).await;
    assert_eq!(response.status(), 200);
    let page = response.text().await.unwrap();
    Some((app, client, browser, page))
}

/// The headers every page carries: no framing, no caching, no referrer.
fn assert_page_headers(response: &reqwest::Response) {
    let headers = response.headers();
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(headers["x-frame-options"], "DENY");
    assert_eq!(headers["referrer-policy"], "no-referrer");
    assert_eq!(headers["cache-control"], "no-store");
}

/// Nobody is signed in in `browser`: a silent authorization says so.
async fn assert_signed_out(app: &TestApp, client: &RegisteredClient, browser: &Browser) {
    let url = authorize_url(app, &client.id, &[("prompt", Some("none"))]);
    let response = browser.get(&url).await;
    assert_error_redirect(app, &response, "login_required");
}

async fn login_page_has_labelled_username_and_password_fields(backend: Backend) {
    let Some((_app, _client, _browser, page)) = at_the_login_page(backend).await else {
        return;
    };

    for field in ["username", "password"] {
        assert!(page.contains(&format!(r#"name="{field}""#)), "{page}");
        assert!(page.contains(&format!(r#"id="{field}""#)), "{page}");
        assert!(
            page.contains(&format!(r#"<label for="{field}">"#)),
            "{page}"
        );
    }
    assert!(page.contains(r#"type="password""#));
}

async fn login_and_error_pages_carry_headers_against_framing_caching_and_referrers(
    backend: Backend,
) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let client = app.register_client(web_client()).await;

    let login = app
        .get(&authorize_url(&app, &client.id, &[])[app.address.len()..])
        .await;
    let error = app.get("/oauth2/authorize?client_id=nobody").await;

    for response in [&login, &error] {
        assert_page_headers(response);
        let content_type = response.headers()["content-type"].to_str().unwrap();
        assert!(content_type.starts_with("text/html"), "{content_type}");
    }
}

async fn login_gives_one_message_for_an_unknown_user_and_a_wrong_password(backend: Backend) {
    let Some((app, client, browser, page)) = at_the_login_page(backend).await else {
        return;
    };

    let unknown = browser
        .submit(
            &app,
            &page,
            &[("username", "nobody"), ("password", PASSWORD)],
        )
        .await;
    let wrong = browser
        .submit(
            &app,
            &page,
            &[("username", "ann"), ("password", "not the password")],
        )
        .await;

    for (response, typed) in [(unknown, "nobody"), (wrong, "ann")] {
        assert_eq!(response.status(), 400);
        assert_page_headers(&response);
        assert!(set_cookie(&response, "gatehouse-session").is_none());
        let page = response.text().await.unwrap();
        assert!(page.contains(GENERIC_FAILURE), "{page}");
        assert!(
            page.contains(&format!(r#"value="{typed}""#)),
            "the username is kept: {page}"
        );
    }
    assert_signed_out(&app, &client, &browser).await;
}

async fn login_keeps_the_typed_username_escaped(backend: Backend) {
    let Some((app, _client, browser, page)) = at_the_login_page(backend).await else {
        return;
    };

    let response = browser
        .submit(
            &app,
            &page,
            &[("username", r#""><script>x</script>"#), ("password", "x")],
        )
        .await;

    assert_eq!(response.status(), 400);
    let page = response.text().await.unwrap();
    assert!(!page.contains("<script>"), "{page}");
    assert!(page.contains(GENERIC_FAILURE));
}

async fn login_sets_an_httponly_lax_session_cookie_without_host_prefix_over_http(backend: Backend) {
    let Some((app, _client, browser, page)) = at_the_login_page(backend).await else {
        return;
    };

    let response = browser
        .submit(&app, &page, &[("username", "ann"), ("password", PASSWORD)])
        .await;

    assert_eq!(response.status(), 200, "the consent page follows");
    assert_page_headers(&response);
    let cookie = set_cookie(&response, "gatehouse-session").expect("a session cookie");
    assert_eq!(cookie.http_only(), Some(true));
    assert_eq!(cookie.same_site(), Some(SameSite::Lax));
    assert_eq!(cookie.path(), Some("/"));
    assert!(set_cookie(&response, "__Host-gatehouse-session").is_none());
}

async fn login_sets_a_host_prefixed_secure_session_cookie_when_the_issuer_is_https(
    backend: Backend,
) {
    let issuer: IssuerUrl = "https://id.example.test".parse().unwrap();
    let Some(app) = spawn_app_with(backend, |s| s.server.issuer = Some(issuer)).await else {
        return;
    };
    let client = app.register_client(web_client()).await;
    app.create_user("ann", PASSWORD).await;
    // A cookie store would not send Secure cookies over plain http: carry them by hand.
    let page = app
        .get(&authorize_url(&app, &client.id, &[])[app.address.len()..])
        .await;
    assert_eq!(page.status(), 200);
    let binding = set_cookie(&page, "__Host-gatehouse-interaction").expect("a binding cookie");
    assert_eq!(binding.secure(), Some(true));
    let form = Form::of(&page.text().await.unwrap());

    let response = app
        .client
        .post(format!("{}{}", app.address, form.action))
        .header("cookie", format!("{}={}", binding.name(), binding.value()))
        .form(&[
            ("csrf_token", form.csrf_token.as_str()),
            ("username", "ann"),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 200, "the consent page follows");
    let cookie = set_cookie(&response, "__Host-gatehouse-session").expect("a __Host- cookie");
    assert_eq!(cookie.secure(), Some(true));
    assert_eq!(cookie.path(), Some("/"));
    assert_eq!(cookie.domain(), None, "__Host- cookies name no domain");
    assert_eq!(cookie.http_only(), Some(true));
    assert_eq!(cookie.same_site(), Some(SameSite::Lax));
    assert!(set_cookie(&response, "gatehouse-session").is_none());
}

async fn login_refuses_a_form_without_its_csrf_token(backend: Backend) {
    let Some((app, client, browser, page)) = at_the_login_page(backend).await else {
        return;
    };
    let form = Form::of(&page);

    let response = browser
        .http
        .post(format!("{}{}", app.address, form.action))
        .form(&[("username", "ann"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();

    assert!(set_cookie(&response, "gatehouse-session").is_none());
    assert_error_page(response, 403).await;
    assert_signed_out(&app, &client, &browser).await;
}

async fn login_refuses_a_wrong_csrf_token(backend: Backend) {
    let Some((app, client, browser, page)) = at_the_login_page(backend).await else {
        return;
    };
    let form = Form::of(&page);

    let response = browser
        .http
        .post(format!("{}{}", app.address, form.action))
        .form(&[
            ("csrf_token", "not-the-token"),
            ("username", "ann"),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();

    assert!(set_cookie(&response, "gatehouse-session").is_none());
    assert_error_page(response, 403).await;
    assert_signed_out(&app, &client, &browser).await;
}

async fn login_refuses_a_form_posted_from_another_browser(backend: Backend) {
    let Some((app, client, browser, page)) = at_the_login_page(backend).await else {
        return;
    };
    let attacker = Browser::new();

    let response = attacker
        .submit(&app, &page, &[("username", "ann"), ("password", PASSWORD)])
        .await;

    assert!(set_cookie(&response, "gatehouse-session").is_none());
    assert_error_page(response, 403).await;
    assert_signed_out(&app, &client, &attacker).await;
    assert_signed_out(&app, &client, &browser).await;
}

async fn login_refuses_a_form_older_than_ten_minutes(backend: Backend) {
    let Some((app, client, browser, page)) = at_the_login_page(backend).await else {
        return;
    };
    app.clock.advance(Duration::from_secs(601));

    let response = browser
        .submit(&app, &page, &[("username", "ann"), ("password", PASSWORD)])
        .await;

    assert!(set_cookie(&response, "gatehouse-session").is_none());
    let page = assert_error_page(response, 400).await;
    assert!(page.contains("expired"), "{page}");
    assert_signed_out(&app, &client, &browser).await;
}

crate::on_every_backend!(
    login_page_has_labelled_username_and_password_fields,
    login_and_error_pages_carry_headers_against_framing_caching_and_referrers,
    login_gives_one_message_for_an_unknown_user_and_a_wrong_password,
    login_keeps_the_typed_username_escaped,
    login_sets_an_httponly_lax_session_cookie_without_host_prefix_over_http,
    login_sets_a_host_prefixed_secure_session_cookie_when_the_issuer_is_https,
    login_refuses_a_form_without_its_csrf_token,
    login_refuses_a_wrong_csrf_token,
    login_refuses_a_form_posted_from_another_browser,
    login_refuses_a_form_older_than_ten_minutes,
);
