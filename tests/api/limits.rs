//! Bounded requests: a head or a body that never arrives is answered 408 and its connection
//! closed within the configured time; an oversized body is a 413 wherever it is sent; a huge
//! head is a 431.
//!
//! These talk raw HTTP/1.1 over a `TcpStream`, since an HTTP client would not send half a
//! request. They wait for the server's own timers, which run on real time and cannot be
//! injected like the `Clock`: the timeouts are set to 200 ms and each read gives up after
//! three seconds (under actix-web's 5 s default head timeout, so the setting is what answers).

use std::time::Duration;

use gatehouse::config::Settings;
use serde_json::Value;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::admin_helpers::{ADMIN, AdminApi, admin_token, assert_problem, web_app_body};
use crate::helpers::{Backend, TestApp, assert_oauth_error, spawn_app, spawn_app_with};

fn short_timeouts(settings: &mut Settings) {
    settings.server.header_timeout_ms = 200;
    settings.server.body_timeout_ms = 200;
}

/// Sends `request` and reads until the server closes the connection.
async fn send_raw(app: &TestApp, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(app.address.trim_start_matches("http://"))
        .await
        .unwrap();
    stream.write_all(request).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(3), stream.read_to_end(&mut answer))
        .await
        .expect("the server answered and closed the connection")
        .expect("the connection reads");
    String::from_utf8_lossy(&answer).into_owned()
}

/// A head announcing 100 bytes of body, and 10 of them.
fn short_body(method_path: &str, content_type: &str, authorization: Option<&str>) -> Vec<u8> {
    let authorization = authorization
        .map(|token| format!("Authorization: Bearer {token}\r\n"))
        .unwrap_or_default();
    format!(
        "{method_path} HTTP/1.1\r\nHost: gatehouse\r\nContent-Type: {content_type}\r\n\
         {authorization}Content-Length: 100\r\n\r\ngrant_type"
    )
    .into_bytes()
}

fn status_line(answer: &str) -> &str {
    answer.lines().next().unwrap_or_default()
}

async fn a_body_that_never_arrives_is_408_and_the_connection_closed(backend: Backend) {
    let Some(app) = spawn_app_with(backend, short_timeouts).await else {
        return;
    };
    let token = admin_token(&app, &[ADMIN]).await;
    let form = "application/x-www-form-urlencoded";
    for request in [
        short_body("POST /oauth2/token", form, None),
        short_body("POST /oauth2/authorize", form, None),
        short_body("POST /v1/clients", "application/json", Some(&token)),
    ] {
        let answer = send_raw(&app, &request).await;

        assert!(
            status_line(&answer).starts_with("HTTP/1.1 408"),
            "{}: {answer}",
            String::from_utf8_lossy(&request[..20])
        );
        assert!(answer.to_ascii_lowercase().contains("connection: close"));
    }
}

async fn a_head_that_never_completes_is_408(backend: Backend) {
    let Some(app) = spawn_app_with(backend, short_timeouts).await else {
        return;
    };

    let answer = send_raw(&app, b"POST /oauth2/token HTTP/1.1\r\nHost: gatehouse\r\n").await;

    assert!(status_line(&answer).starts_with("HTTP/1.1 408"), "{answer}");
}

async fn an_oversized_body_is_413_on_every_route_that_takes_one(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let form = [
        ("grant_type", "client_credentials"),
        ("padding", &"x".repeat(17 * 1024)),
    ];
    for path in ["/oauth2/token", "/oauth2/introspect", "/oauth2/revoke"] {
        let response = app.post_form(path, &form, None).await;
        let body = assert_oauth_error(response, 413, "invalid_request").await;
        assert_eq!(body["error_description"], "the request body is too large");
    }
    let response = app.post_form("/oauth2/authorize", &form, None).await;
    assert_eq!(response.status(), 413);

    let api = AdminApi::new(&app).await;
    let mut body = web_app_body("Huge");
    body["padding"] = Value::from("x".repeat(65 * 1024));
    assert_problem(api.post("/v1/clients", &body).await, 413, "about:blank").await;
}

/// Without `Content-Length` (chunked), the size is counted as the body arrives.
async fn an_oversized_chunked_body_is_413(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let chunk = "x".repeat(8 * 1024);
    let mut request = "POST /oauth2/token HTTP/1.1\r\nHost: gatehouse\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n"
        .to_owned();
    for _ in 0..3 {
        request.push_str(&format!("{:x}\r\n{chunk}\r\n", chunk.len()));
    }
    request.push_str("0\r\n\r\n");

    let answer = send_raw(&app, request.as_bytes()).await;

    assert!(status_line(&answer).starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("invalid_request"), "{answer}");
}

/// actix-web's own bound, which no setting changes: a head over 128 KiB is a 431 (the README
/// documents it; this keeps the README true across upgrades). Exactly 128 KiB of a head that
/// does not end is sent, so the server reads all of it and closes cleanly rather than resetting.
async fn a_head_over_128_kib_is_431(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let mut request = b"GET /healthz HTTP/1.1\r\nHost: gatehouse\r\nX-Padding: ".to_vec();
    request.resize(128 * 1024, b'x');

    let answer = send_raw(&app, &request).await;

    assert!(status_line(&answer).starts_with("HTTP/1.1 431"), "{answer}");
}

crate::on_every_backend!(
    a_body_that_never_arrives_is_408_and_the_connection_closed,
    a_head_that_never_completes_is_408,
    an_oversized_body_is_413_on_every_route_that_takes_one,
    an_oversized_chunked_body_is_413,
    a_head_over_128_kib_is_431,
);
