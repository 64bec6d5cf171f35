//! Talking to the admin API: a token with the admin scopes, typed requests, problem checks.

use gatehouse::admin::clients::NewClient;
use reqwest::{Method, RequestBuilder, Response};
use serde_json::{Value, json};

use crate::helpers::TestApp;

pub const ADMIN: &str = "gatehouse:admin";
pub const READ: &str = "gatehouse:admin:read";

/// An access token of a fresh client_credentials client holding `scopes`.
pub async fn admin_token(app: &TestApp, scopes: &[&str]) -> String {
    let client = app
        .register_client(NewClient {
            name: "automation".into(),
            grant_types: vec!["client_credentials".into()],
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            ..NewClient::default()
        })
        .await;
    app.token_for(&client).await
}

/// The admin API as one caller sees it.
pub struct AdminApi<'a> {
    pub app: &'a TestApp,
    pub token: String,
}

impl<'a> AdminApi<'a> {
    /// A caller with `gatehouse:admin`.
    pub async fn new(app: &'a TestApp) -> Self {
        Self::with_scopes(app, &[ADMIN]).await
    }

    pub async fn with_scopes(app: &'a TestApp, scopes: &[&str]) -> Self {
        let token = admin_token(app, scopes).await;
        Self { app, token }
    }

    /// A request with the caller's bearer token.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.app
            .client
            .request(method, format!("{}{path}", self.app.address))
            .bearer_auth(&self.token)
    }

    pub async fn get(&self, path: &str) -> Response {
        self.request(Method::GET, path).send().await.unwrap()
    }

    pub async fn post(&self, path: &str, body: &Value) -> Response {
        self.request(Method::POST, path)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn put(&self, path: &str, body: &Value, if_match: &str) -> Response {
        self.request(Method::PUT, path)
            .header("if-match", if_match)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// A JSON Merge Patch (RFC 7396).
    pub async fn patch(&self, path: &str, patch: &Value, if_match: &str) -> Response {
        self.request(Method::PATCH, path)
            .header("if-match", if_match)
            .header("content-type", "application/merge-patch+json")
            .body(patch.to_string())
            .send()
            .await
            .unwrap()
    }

    pub async fn delete(&self, path: &str, if_match: Option<&str>) -> Response {
        let mut request = self.request(Method::DELETE, path);
        if let Some(tag) = if_match {
            request = request.header("if-match", tag);
        }
        request.send().await.unwrap()
    }

    /// Registers a client through the API: its representation (with any secret) and ETag.
    pub async fn create_client(&self, body: &Value) -> (Value, String) {
        let response = self.post("/v1/clients", body).await;
        assert_eq!(response.status(), 201, "{body}");
        let etag = etag_of(&response);
        (response.json().await.unwrap(), etag)
    }

    /// Creates a user through the API: its representation and ETag.
    pub async fn create_user(&self, body: &Value) -> (Value, String) {
        let response = self.post("/v1/users", body).await;
        assert_eq!(response.status(), 201, "{body}");
        let etag = etag_of(&response);
        (response.json().await.unwrap(), etag)
    }

    /// A resource and its ETag (empty for a list, which has none).
    pub async fn read(&self, path: &str) -> (Value, String) {
        let response = self.get(path).await;
        assert_eq!(response.status(), 200, "GET {path}");
        let etag = response
            .headers()
            .get("etag")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        if !path.contains('?') && path.matches('/').count() > 2 {
            assert!(!etag.is_empty(), "GET {path} has an ETag");
        }
        (response.json().await.unwrap(), etag)
    }
}

/// A confidential web application: a valid `POST /v1/clients` body.
pub fn web_app_body(name: &str) -> Value {
    json!({
        "name": name,
        "grant_types": ["authorization_code", "refresh_token"],
        "scopes": ["openid", "profile"],
        "redirect_uris": ["https://app.example.com/callback"],
    })
}

pub fn etag_of(response: &Response) -> String {
    response
        .headers()
        .get("etag")
        .expect("an ETag")
        .to_str()
        .unwrap()
        .to_owned()
}

/// Asserts an RFC 9457 problem: status, `type` (`urn:gatehouse:problem:<slug>` or
/// `about:blank`) and media type. Returns the body.
pub async fn assert_problem(response: Response, status: u16, slug: &str) -> Value {
    assert_eq!(response.status(), status);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let body: Value = response.json().await.unwrap();
    let expected_type = if slug == "about:blank" {
        slug.to_owned()
    } else {
        format!("urn:gatehouse:problem:{slug}")
    };
    assert_eq!(body["type"], expected_type, "{body}");
    assert_eq!(body["status"], status, "{body}");
    assert!(
        body["title"].is_string() && body["detail"].is_string(),
        "{body}"
    );
    body
}

/// The fields a 422 names, in order.
pub async fn invalid_fields(response: Response) -> Vec<String> {
    let body = assert_problem(response, 422, "validation-error").await;
    body["errors"]
        .as_array()
        .expect("an errors list")
        .iter()
        .map(|e| e["field"].as_str().unwrap().to_owned())
        .collect()
}
