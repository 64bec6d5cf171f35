//! Failed client authentication at the token, introspection and revocation endpoints is counted
//! per client id and address, per address, and per client id: past a limit the caller gets 429
//! with `Retry-After`, while the client authenticating correctly from an address that has not
//! failed is never refused.

use crate::helpers::{Backend, TestApp, assert_oauth_error, confidential_client, spawn_app_with};

const CLIENT_CREDENTIALS: &[(&str, &str)] = &[("grant_type", "client_credentials")];

/// POSTs `form` to `path` with HTTP Basic, as sent through a proxy that appended `address`.
async fn post_via(
    app: &TestApp,
    path: &str,
    address: &str,
    form: &[(&str, &str)],
    basic: (&str, &str),
) -> reqwest::Response {
    app.client
        .post(format!("{}{path}", app.address))
        .header("x-forwarded-for", address)
        .basic_auth(basic.0, Some(basic.1))
        .form(form)
        .send()
        .await
        .unwrap()
}

async fn behind_a_proxy(
    backend: Backend,
    configure: impl FnOnce(&mut gatehouse::config::Settings),
) -> Option<TestApp> {
    spawn_app_with(backend, |s| {
        s.server.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
        configure(s);
    })
    .await
}

async fn wrong_secrets_are_refused_past_the_limit_at_every_endpoint(backend: Backend) {
    let Some(app) = behind_a_proxy(backend, |s| {
        s.client_auth.max_failures = 3;
        s.client_auth.window_secs = 120;
    })
    .await
    else {
        return;
    };
    let client = app.register_client(confidential_client()).await;
    let (id, secret) = client.basic().unwrap();
    let token = app.token_for(&client).await;
    for _ in 0..3 {
        let wrong = post_via(
            &app,
            "/oauth2/token",
            "203.0.113.9",
            CLIENT_CREDENTIALS,
            (id, "wrong"),
        )
        .await;
        assert_oauth_error(wrong, 401, "invalid_client").await;
    }

    let endpoints: [(&str, &[(&str, &str)]); 3] = [
        ("/oauth2/token", CLIENT_CREDENTIALS),
        ("/oauth2/introspect", &[("token", &token)]),
        ("/oauth2/revoke", &[("token", &token)]),
    ];
    for (path, form) in endpoints {
        let refused = post_via(&app, path, "203.0.113.9", form, (id, secret)).await;
        assert_eq!(refused.headers()["retry-after"], "120", "{path}");
        assert_oauth_error(refused, 429, "temporarily_unavailable").await;
        let elsewhere = post_via(&app, path, "198.51.100.4", form, (id, secret)).await;
        assert_eq!(
            elsewhere.status(),
            200,
            "{path} from an address that has not failed"
        );
    }
}

async fn an_address_failing_for_many_client_ids_is_refused(backend: Backend) {
    let Some(app) = behind_a_proxy(backend, |s| s.client_auth.max_failures_per_address = 3).await
    else {
        return;
    };
    let client = app.register_client(confidential_client()).await;
    let (id, secret) = client.basic().unwrap();
    for guessed in ["billing", "orders", "reports"] {
        let wrong = post_via(
            &app,
            "/oauth2/token",
            "203.0.113.9",
            CLIENT_CREDENTIALS,
            (guessed, "x"),
        )
        .await;
        assert_eq!(wrong.status(), 401);
    }

    let refused = post_via(
        &app,
        "/oauth2/token",
        "203.0.113.9",
        CLIENT_CREDENTIALS,
        (id, secret),
    )
    .await;
    assert_oauth_error(refused, 429, "temporarily_unavailable").await;
    let other = post_via(
        &app,
        "/oauth2/token",
        "198.51.100.4",
        CLIENT_CREDENTIALS,
        (id, secret),
    )
    .await;
    assert_eq!(other.status(), 200);
}

async fn a_client_under_attack_still_authenticates_from_its_own_address(backend: Backend) {
    let Some(app) = behind_a_proxy(backend, |s| s.client_auth.max_failures_per_client = 3).await
    else {
        return;
    };
    let client = app.register_client(confidential_client()).await;
    let (id, secret) = client.basic().unwrap();
    for bot in ["203.0.113.1", "203.0.113.2", "203.0.113.3"] {
        let wrong = post_via(
            &app,
            "/oauth2/token",
            bot,
            CLIENT_CREDENTIALS,
            (id, "guess"),
        )
        .await;
        assert_eq!(wrong.status(), 401);
    }

    let from_a_bot = post_via(
        &app,
        "/oauth2/token",
        "203.0.113.2",
        CLIENT_CREDENTIALS,
        (id, secret),
    )
    .await;
    assert_oauth_error(from_a_bot, 429, "temporarily_unavailable").await;
    for _ in 0..5 {
        let own = post_via(
            &app,
            "/oauth2/token",
            "198.51.100.4",
            CLIENT_CREDENTIALS,
            (id, secret),
        )
        .await;
        assert_eq!(
            own.status(),
            200,
            "the client's own address is never refused"
        );
    }
}

async fn the_window_ends_the_refusal(backend: Backend) {
    let Some(app) = behind_a_proxy(backend, |s| {
        s.client_auth.max_failures = 1;
        s.client_auth.window_secs = 60;
    })
    .await
    else {
        return;
    };
    let client = app.register_client(confidential_client()).await;
    let (id, secret) = client.basic().unwrap();
    let wrong = post_via(
        &app,
        "/oauth2/token",
        "203.0.113.9",
        CLIENT_CREDENTIALS,
        (id, "x"),
    )
    .await;
    assert_eq!(wrong.status(), 401);
    let refused = post_via(
        &app,
        "/oauth2/token",
        "203.0.113.9",
        CLIENT_CREDENTIALS,
        (id, secret),
    )
    .await;
    assert_eq!(refused.status(), 429);
    if backend == Backend::Embedded {
        // the memory store runs on the injected clock; Redis expires on its own
        app.clock.advance(std::time::Duration::from_secs(61));
        let later = post_via(
            &app,
            "/oauth2/token",
            "203.0.113.9",
            CLIENT_CREDENTIALS,
            (id, secret),
        )
        .await;
        assert_eq!(later.status(), 200);
    }
}

/// Counts are shared through Redis: an instance that has not seen the failures itself checks
/// one more attempt, which fails, and then refuses like the others.
async fn failures_on_one_instance_count_on_another(backend: Backend) {
    if backend != Backend::Shared {
        return; // the memory store is one instance's own
    }
    let Some(app) = spawn_app_with(backend, |s| s.client_auth.max_failures = 2).await else {
        return;
    };
    let client = app.register_client(confidential_client()).await;
    let (id, secret) = client.basic().unwrap();
    let other = app.spawn_instance().await;
    for _ in 0..2 {
        let wrong = app.post_token(CLIENT_CREDENTIALS, Some((id, "x"))).await;
        assert_eq!(wrong.status(), 401);
    }
    let wrong_there = other.post_token(CLIENT_CREDENTIALS, Some((id, "x"))).await;
    assert_eq!(
        wrong_there.status(),
        401,
        "checked once where it had not failed"
    );

    let refused = other
        .post_token(CLIENT_CREDENTIALS, Some((id, secret)))
        .await;
    assert_oauth_error(refused, 429, "temporarily_unavailable").await;
}

crate::on_every_backend!(
    wrong_secrets_are_refused_past_the_limit_at_every_endpoint,
    an_address_failing_for_many_client_ids_is_refused,
    a_client_under_attack_still_authenticates_from_its_own_address,
    the_window_ends_the_refusal,
    failures_on_one_instance_count_on_another,
);
