use gatehouse::config::BindAddress;

use crate::helpers::{Backend, spawn_app, spawn_app_with};

async fn metrics_count_requests_by_route_and_status(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    app.get("/healthz").await;
    app.get("/healthz").await;
    app.get("/no-such-route").await;

    let response = app.get("/metrics").await;

    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    let body = response.text().await.unwrap();
    assert!(
        body.contains(
            r#"gatehouse_http_requests_total{method="GET",route="/healthz",status="200"} 2"#
        ),
        "{body}"
    );
    assert!(
        body.contains(r#"route="unmatched",status="404"} 1"#),
        "{body}"
    );
    assert!(body.contains("# TYPE gatehouse_http_request_duration_seconds histogram"));
    assert!(
        body.contains(
            r#"gatehouse_http_request_duration_seconds_count{method="GET",route="/healthz",status="200"} 2"#
        ),
        "{body}"
    );
}

/// Request series in a scrape of `app`.
async fn request_series(app: &crate::helpers::TestApp) -> (usize, String) {
    let body = app.get("/metrics").await.text().await.unwrap();
    let series = body
        .lines()
        .filter(|line| line.starts_with("gatehouse_http_requests_total{"))
        .count();
    (series, body)
}

async fn send(app: &crate::helpers::TestApp, method: &str, path: &str) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    app.client
        .request(method, format!("{}{path}", app.address))
        .send()
        .await
        .expect("request failed");
}

async fn odd_methods_and_unknown_paths_add_no_series(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let odd_requests = |i: u32| {
        let app = &app;
        async move {
            let path = format!("/no-such-{}", uuid::Uuid::new_v4().simple());
            send(app, &format!("FOO{i}"), "/healthz").await;
            send(app, &format!("FOO{i}"), &path).await;
            send(app, "GET", &path).await;
        }
    };
    odd_requests(1).await;
    // the first scrape is counted by the second
    request_series(&app).await;
    let (before, _) = request_series(&app).await;

    for i in 2..=50 {
        odd_requests(i).await;
    }
    let (after, body) = request_series(&app).await;

    assert_eq!(after, before, "{body}");
    assert!(
        !body.contains("FOO") && !body.contains("/no-such-"),
        "{body}"
    );
    assert!(
        body.contains(
            r#"gatehouse_http_requests_total{method="other",route="/healthz",status="405"} 50"#
        ),
        "{body}"
    );
    assert!(
        body.contains(
            r#"gatehouse_http_requests_total{method="other",route="unmatched",status="404"} 50"#
        ),
        "{body}"
    );
    assert!(
        body.contains(
            r#"gatehouse_http_requests_total{method="GET",route="unmatched",status="404"} 50"#
        ),
        "{body}"
    );
}

async fn with_a_management_listener_metrics_and_readiness_leave_the_public_one(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |settings| {
        settings.server.management_bind =
            Some(BindAddress::from_socket_addr(([127, 0, 0, 1], 0).into()));
    })
    .await
    else {
        return;
    };
    let management = app
        .management_address
        .clone()
        .expect("a management listener");
    let get = |url: String| {
        let client = app.client.clone();
        async move { client.get(url).send().await.expect("request failed") }
    };

    assert_eq!(app.get("/healthz").await.status(), 200);
    assert_eq!(app.get("/metrics").await.status(), 404);
    assert_eq!(app.get("/readyz").await.status(), 404);
    assert_eq!(get(format!("{management}/healthz")).await.status(), 200);
    assert_eq!(get(format!("{management}/readyz")).await.status(), 200);
    assert_eq!(get(format!("{management}/v1/clients")).await.status(), 404);
    let response = get(format!("{management}/metrics")).await;

    assert_eq!(response.status(), 200);
    let body = response.text().await.unwrap();
    assert!(
        body.contains(
            r#"gatehouse_http_requests_total{method="GET",route="/healthz",status="200"} 2"#
        ),
        "{body}"
    );
    assert!(
        body.contains(
            r#"gatehouse_http_requests_total{method="GET",route="unmatched",status="404"} 3"#
        ),
        "{body}"
    );
}

type Exposition = openmetrics_parser::MetricsExposition<
    openmetrics_parser::OpenMetricsType,
    openmetrics_parser::OpenMetricsValue,
>;

/// A family, the labels of one of its samples, and that sample's value.
type Expected<'a> = (&'a str, &'a [(&'a str, &'a str)], f64);

/// The value of the sample of `family` with exactly `labels` (a histogram's count), if any.
fn sample(exposition: &Exposition, family: &str, labels: &[(&str, &str)]) -> Option<f64> {
    use openmetrics_parser::OpenMetricsValue;
    let family = exposition.families.get(family)?;
    family.iter_samples().find_map(|sample| {
        let set = sample.get_labelset().ok()?;
        let matches = set.iter().count() == labels.len()
            && labels
                .iter()
                .all(|(name, value)| set.get_label_value(name) == Some(*value));
        if !matches {
            return None;
        }
        match &sample.value {
            OpenMetricsValue::Counter(counter) => Some(counter.value.as_f64()),
            OpenMetricsValue::Gauge(number) | OpenMetricsValue::Unknown(number) => {
                Some(number.as_f64())
            }
            OpenMetricsValue::Histogram(histogram) => histogram.count.map(|n| n as f64),
            _ => None,
        }
    })
}

async fn the_scrape_is_valid_openmetrics_with_every_documented_series(backend: Backend) {
    use crate::flow::{Browser, PASSWORD, sign_in_and_exchange, web_client};
    use gatehouse::clock::Clock as _;
    use gatehouse::crypto::SigningAlgorithm;
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let service = app
        .register_client(crate::helpers::confidential_client())
        .await;
    app.token_for(&service).await;
    let wrong = Some((service.id.as_str(), "not-the-secret-0123456789abcdef"));
    let refused = app
        .post_token(&[("grant_type", "client_credentials")], wrong)
        .await;
    assert_eq!(refused.status(), 401);
    assert_eq!(
        app.post_introspect(&[("token", "x")], wrong).await.status(),
        401
    );
    app.create_user("ann", PASSWORD).await;
    let web = app.register_client(web_client()).await;
    let signed_in = sign_in_and_exchange(&app, &web, &["openid", "offline_access"], "ann").await;
    let first = signed_in.refresh_token.expect("a refresh token");
    assert_eq!(
        crate::flow::refresh(&app, &web, &first, &[]).await.status(),
        200
    );
    let grace = app.settings.tokens.refresh_token_grace_secs;
    app.clock.advance(std::time::Duration::from_secs(grace + 1));
    let reused = crate::flow::refresh(&app, &web, &first, &[]).await;
    assert_eq!(reused.status(), 400, "a reuse revokes the grant");
    let browser = Browser::new();
    let login = browser
        .get(&crate::pages::authorize_url(&app, &web.id, &[]))
        .await
        .text()
        .await
        .unwrap();
    let wrong_password = browser
        .submit(
            &app,
            &login,
            &[("username", "ann"), ("password", "wrong password")],
        )
        .await;
    assert_eq!(wrong_password.status(), 400);
    app.state
        .keys
        .rotate(SigningAlgorithm::Es256, true, app.clock.now(), "test")
        .await
        .unwrap();
    let staged = app
        .state
        .keys
        .rotate(SigningAlgorithm::Es256, false, app.clock.now(), "test")
        .await
        .unwrap();
    app.state
        .keys
        .revoke(&staged.kid, app.clock.now(), "test")
        .await
        .unwrap();

    let body = app.get("/metrics").await.text().await.unwrap();

    let exposition = openmetrics_parser::openmetrics::parse_openmetrics(&body)
        .unwrap_or_else(|e| panic!("not valid OpenMetrics: {e:?}\n{body}"));
    let (db, ephemeral) = match backend {
        Backend::Embedded => ("sqlite", "memory"),
        Backend::Shared => ("postgres", "redis"),
    };
    let version = env!("CARGO_PKG_VERSION");
    let expected: &[Expected] = &[
        ("gatehouse_build_info", &[("version", version)], 1.0),
        (
            "gatehouse_tokens_issued",
            &[
                ("grant_type", "client_credentials"),
                ("client_type", "confidential"),
            ],
            1.0,
        ),
        (
            "gatehouse_tokens_issued",
            &[
                ("grant_type", "authorization_code"),
                ("client_type", "confidential"),
            ],
            1.0,
        ),
        (
            "gatehouse_tokens_issued",
            &[
                ("grant_type", "refresh_token"),
                ("client_type", "confidential"),
            ],
            1.0,
        ),
        (
            "gatehouse_token_errors",
            &[("error", "invalid_client")],
            1.0,
        ),
        ("gatehouse_token_errors", &[("error", "invalid_grant")], 1.0),
        (
            "gatehouse_client_auth_failures",
            &[("endpoint", "token")],
            1.0,
        ),
        (
            "gatehouse_client_auth_failures",
            &[("endpoint", "introspect")],
            1.0,
        ),
        ("gatehouse_sign_ins", &[("outcome", "success")], 1.0),
        (
            "gatehouse_sign_ins",
            &[("outcome", "wrong_credentials")],
            1.0,
        ),
        ("gatehouse_sign_ins", &[("outcome", "throttled")], 0.0),
        ("gatehouse_sign_ins", &[("outcome", "unavailable")], 0.0),
        (
            "gatehouse_reuse_detected",
            &[("credential", "refresh_token")],
            1.0,
        ),
        (
            "gatehouse_reuse_detected",
            &[("credential", "authorization_code")],
            0.0,
        ),
        ("gatehouse_key_rotations", &[], 1.0),
        ("gatehouse_key_revocations", &[], 1.0),
        // one hash (the user) and two checks (the sign-ins)
        ("gatehouse_password_queue_wait_seconds", &[], 3.0),
        // and each of the three computed once it had its slot
        ("gatehouse_password_hash_seconds", &[], 3.0),
        (
            "gatehouse_backend_errors",
            &[("backend", db), ("kind", "timeout")],
            0.0,
        ),
        (
            "gatehouse_backend_errors",
            &[("backend", db), ("kind", "error")],
            0.0,
        ),
        (
            "gatehouse_backend_errors",
            &[("backend", ephemeral), ("kind", "timeout")],
            0.0,
        ),
        (
            "gatehouse_http_requests",
            &[
                ("method", "POST"),
                ("route", "/oauth2/token"),
                ("status", "401"),
            ],
            1.0,
        ),
        (
            "gatehouse_http_request_duration_seconds",
            &[
                ("method", "POST"),
                ("route", "/oauth2/introspect"),
                ("status", "401"),
            ],
            1.0,
        ),
    ];
    let wrong: Vec<String> = expected
        .iter()
        .filter_map(|(family, labels, value)| {
            let found = sample(&exposition, family, labels);
            (found != Some(*value))
                .then(|| format!("\n  {family}{labels:?}: {found:?}, not {value}"))
        })
        .collect();
    assert!(wrong.is_empty(), "series:{}\n{body}", wrong.concat());
    assert!(
        exposition.families.contains_key("gatehouse_cache_lookups"),
        "{body}"
    );
}

crate::on_every_backend!(
    metrics_count_requests_by_route_and_status,
    odd_methods_and_unknown_paths_add_no_series,
    with_a_management_listener_metrics_and_readiness_leave_the_public_one,
    the_scrape_is_valid_openmetrics_with_every_documented_series,
);
