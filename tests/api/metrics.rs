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

crate::on_every_backend!(
    metrics_count_requests_by_route_and_status,
    odd_methods_and_unknown_paths_add_no_series,
    with_a_management_listener_metrics_and_readiness_leave_the_public_one,
);
