//! `openapi.yaml` is served, and it, `gatehouse::http::ROUTES` and the router agree on every
//! (method, path).

use std::collections::BTreeSet;

use gatehouse::admin::clients::NewClient;
use gatehouse::clock::Clock;
use gatehouse::crypto::SigningAlgorithm;
use gatehouse::domain::{ClientId, ScopeSet};
use gatehouse::http::ROUTES;
use serde_norway::Value;

use crate::helpers::{Backend, TestApp, spawn_app, spawn_app_with};

/// The methods probed on every known path.
const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

type Operations = BTreeSet<(String, String)>;

async fn fetch_spec(app: &TestApp) -> Value {
    let response = app.get("/openapi.yaml").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/yaml");
    serde_norway::from_str(&response.text().await.unwrap()).expect("openapi.yaml is YAML")
}

/// Every (METHOD, path) the spec describes.
fn spec_operations(spec: &Value) -> Operations {
    let paths = spec["paths"].as_mapping().expect("`paths` is a mapping");
    let mut operations = Operations::new();
    for (path, item) in paths {
        let path = path.as_str().expect("a path is a string");
        for (key, _) in item.as_mapping().expect("a path item is a mapping") {
            let method = key.as_str().unwrap_or_default().to_uppercase();
            if METHODS.contains(&method.as_str()) {
                operations.insert((method, path.to_owned()));
            }
        }
    }
    operations
}

fn code_operations() -> Operations {
    ROUTES
        .iter()
        .map(|(method, path)| ((*method).to_owned(), (*path).to_owned()))
        .collect()
}

fn describe(operations: Vec<&(String, String)>) -> String {
    operations
        .iter()
        .map(|(method, path)| format!("\n  {method} {path}"))
        .collect()
}

#[tokio::test]
async fn openapi_yaml_is_served_as_openapi_3_1() {
    let app = spawn_app(Backend::Embedded).await.unwrap();

    let spec = fetch_spec(&app).await;

    let version = spec["openapi"].as_str().expect("an `openapi` field");
    assert!(version.starts_with("3.1."), "openapi: {version}");
    assert!(spec["info"]["title"].is_string());
}

#[tokio::test]
async fn openapi_yaml_describes_exactly_the_routes() {
    let app = spawn_app(Backend::Embedded).await.unwrap();

    let described = spec_operations(&fetch_spec(&app).await);

    let routed = code_operations();
    let undocumented: Vec<_> = routed.difference(&described).collect();
    let unrouted: Vec<_> = described.difference(&routed).collect();
    assert!(
        undocumented.is_empty() && unrouted.is_empty(),
        "routes missing from openapi.yaml:{}\noperations in openapi.yaml that http::ROUTES lacks:{}",
        describe(undocumented),
        describe(unrouted),
    );
}

/// `ROUTES` is a list beside the router, so this asks the router itself: every listed (method,
/// path) must reach a handler, and every other method on those paths must not (actix answers an
/// unrouted request 404, or 405). Path parameters name records that exist, so no handler has a
/// reason to answer 404. Test mode is on, so `/testing/tokens` is routed too.
#[tokio::test]
async fn the_router_serves_exactly_the_listed_routes() {
    let app = spawn_app_with(
        Backend::Embedded,
        crate::testing_tokens::in_memory_test_mode,
    )
    .await
    .unwrap();
    let fixtures = Fixtures::create(&app).await;
    let listed = code_operations();
    let paths: BTreeSet<&str> = ROUTES.iter().map(|(_, path)| *path).collect();

    let mut wrong = Vec::new();
    for path in paths {
        for method in METHODS {
            let status = fixtures.probe(&app, method, path).await;
            let routed = status != 404 && status != 405;
            if routed != listed.contains(&(method.to_owned(), path.to_owned())) {
                wrong.push(format!(
                    "\n  {method} {path}: {status} ({} in http::ROUTES)",
                    if routed {
                        "routed, not"
                    } else {
                        "not routed, but"
                    }
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "router and ROUTES disagree:{}",
        wrong.concat()
    );
}

/// Records for the path parameters, and an admin token so `/v1` gets past authentication.
struct Fixtures {
    token: String,
    client_id: String,
    user_id: String,
    grant_id: String,
    /// A staged key: revoking it leaves the probe's own token valid.
    kid: String,
}

impl Fixtures {
    async fn create(app: &TestApp) -> Self {
        let admin = app
            .register_client(NewClient {
                name: "openapi-probe".into(),
                scopes: vec!["gatehouse:admin".into(), "gatehouse:admin:read".into()],
                ..NewClient::default()
            })
            .await;
        let token = app.token_for(&admin).await;
        let client = app
            .register_client(NewClient {
                name: "probed".into(),
                scopes: vec!["openid".into()],
                ..NewClient::default()
            })
            .await;
        let user = app.create_user("probed", "a long probe password").await;
        let grant = app
            .state
            .db
            .upsert_grant(
                user.id,
                &ClientId::parse(&client.id).unwrap(),
                &ScopeSet::parse_delimited("openid").unwrap(),
                app.clock.now(),
            )
            .await
            .unwrap();
        let staged = app
            .state
            .keys
            .rotate(SigningAlgorithm::Es256, false, app.clock.now(), "test")
            .await
            .unwrap();
        Self {
            token,
            client_id: client.id,
            user_id: user.id.to_string(),
            grant_id: grant.id.to_string(),
            kid: staged.kid,
        }
    }

    /// The status of `method` on `path`, its `{id}` replaced by a record that exists.
    async fn probe(&self, app: &TestApp, method: &str, path: &str) -> u16 {
        let id = if path.starts_with("/v1/clients/") {
            &self.client_id
        } else if path.starts_with("/v1/users/") {
            &self.user_id
        } else if path.starts_with("/v1/grants/") {
            &self.grant_id
        } else {
            "probe"
        };
        let path =
            (path.replace("{id}", id).replace("{kid}", &self.kid)).replace("{role}", "auditor");
        let url = format!("{}{path}", app.address);
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = app
            .client
            .request(method.clone(), url)
            .bearer_auth(&self.token)
            .header("accept", "application/json");
        if method != reqwest::Method::GET && method != reqwest::Method::DELETE {
            let content_type = if method == reqwest::Method::PATCH {
                "application/merge-patch+json"
            } else {
                "application/json"
            };
            request = request.header("content-type", content_type).body("{}");
        }
        request
            .send()
            .await
            .expect("request failed")
            .status()
            .as_u16()
    }
}
