use crate::helpers::{Backend, spawn_app};

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

crate::on_every_backend!(metrics_count_requests_by_route_and_status);
