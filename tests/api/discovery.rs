//! Authorization server metadata (RFC 8414) and OpenID Provider metadata (OIDC Discovery §3).

use serde_json::Value;

use gatehouse::admin::clients::NewClient;
use gatehouse::domain::Scope;

use crate::helpers::{Backend, TestApp, spawn_app, spawn_app_with};

const ENDPOINTS: [&str; 7] = [
    "authorization_endpoint",
    "token_endpoint",
    "userinfo_endpoint",
    "end_session_endpoint",
    "introspection_endpoint",
    "revocation_endpoint",
    "jwks_uri",
];

async fn both_metadata_documents_name_the_same_issuer_and_endpoints(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };

    let oauth = app.get("/.well-known/oauth-authorization-server").await;
    let openid = app.get("/.well-known/openid-configuration").await;

    assert_eq!(oauth.status(), 200);
    assert_eq!(openid.status(), 200);
    let oauth: Value = oauth.json().await.unwrap();
    let openid: Value = openid.json().await.unwrap();
    assert_eq!(oauth["issuer"], app.issuer.as_str());
    assert_eq!(openid["issuer"], app.issuer.as_str());
    for endpoint in ENDPOINTS {
        let url = oauth[endpoint].as_str().expect(endpoint);
        assert!(url.starts_with(&app.issuer), "{endpoint}: {url}");
        assert_eq!(openid[endpoint], oauth[endpoint], "{endpoint}");
    }
    let token = oauth["token_endpoint"].as_str().unwrap();
    assert_eq!(token, format!("{}/oauth2/token", app.issuer));
}

async fn metadata_lists_only_what_is_implemented(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };

    let metadata: Value = app
        .get("/.well-known/oauth-authorization-server")
        .await
        .json()
        .await
        .unwrap();

    assert_eq!(
        metadata["grant_types_supported"],
        serde_json::json!(["authorization_code", "client_credentials", "refresh_token"])
    );
    assert_eq!(
        metadata["response_types_supported"],
        serde_json::json!(["code"])
    );
    // OIDC Discovery §3: omitted, both would mean true.
    for document in [
        "/.well-known/oauth-authorization-server",
        "/.well-known/openid-configuration",
    ] {
        let metadata: Value = app.get(document).await.json().await.unwrap();
        assert_eq!(metadata["request_parameter_supported"], false, "{document}");
        assert_eq!(
            metadata["request_uri_parameter_supported"], false,
            "{document}"
        );
    }
    assert_eq!(
        metadata["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    assert_eq!(
        metadata["authorization_response_iss_parameter_supported"],
        true
    );
    assert_eq!(
        metadata["subject_types_supported"],
        serde_json::json!(["public"])
    );
    let id_token_algs = strings(&metadata["id_token_signing_alg_values_supported"]);
    assert!(id_token_algs.contains(&"RS256"), "{id_token_algs:?}");
    let claims = strings(&metadata["claims_supported"]);
    for claim in [
        "sub",
        "email",
        "email_verified",
        "name",
        "preferred_username",
    ] {
        assert!(claims.contains(&claim), "{claim} missing from {claims:?}");
    }
    let methods = strings(&metadata["token_endpoint_auth_methods_supported"]);
    for method in [
        "client_secret_basic",
        "client_secret_post",
        "private_key_jwt",
    ] {
        assert!(
            methods.contains(&method),
            "{method} missing from {methods:?}"
        );
    }
    let algs = strings(&metadata["token_endpoint_auth_signing_alg_values_supported"]);
    assert!(!algs.is_empty());
    for alg in algs {
        assert!(alg != "none" && !alg.starts_with("HS"), "{alg} is offered");
    }
}

async fn metadata_jwks_uri_serves_the_signing_keys(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let metadata: Value = app
        .get("/.well-known/openid-configuration")
        .await
        .json()
        .await
        .unwrap();

    let jwks_uri = metadata["jwks_uri"].as_str().unwrap();
    let response = app.client.get(jwks_uri).send().await.unwrap();

    assert_eq!(response.status(), 200);
    let jwks: Value = response.json().await.unwrap();
    assert_eq!(jwks, app.jwks().await);
    assert!(!jwks["keys"].as_array().unwrap().is_empty());
}

/// RFC 8414 §2 lets a server leave supported scopes unadvertised: clients' scopes are theirs,
/// and an admin scope tells an attacker what to aim for.
async fn scopes_supported_lists_standard_and_public_scopes_only(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |s| {
        s.discovery.public_scopes = vec![Scope::parse("orders:read").unwrap()];
    })
    .await
    else {
        return;
    };
    app.register_client(NewClient {
        name: "admin".into(),
        scopes: vec!["gatehouse:admin".into(), "gatehouse:admin:read".into()],
        ..NewClient::default()
    })
    .await;
    app.register_client(NewClient {
        name: "private".into(),
        scopes: vec!["orders:read".into(), "ledger:private".into()],
        ..NewClient::default()
    })
    .await;

    for path in [
        "/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server",
    ] {
        let response = app.get(path).await;
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.headers()["content-type"],
            "application/json",
            "{path}"
        );
        let metadata: Value = response.json().await.unwrap();
        let scopes = strings(&metadata["scopes_supported"]);
        assert_eq!(
            scopes,
            [
                "email",
                "offline_access",
                "openid",
                "orders:read",
                "profile"
            ],
            "{path}"
        );
    }
}

/// Discovery is built at start and read from memory: a broken database does not reach it.
async fn discovery_answers_while_the_database_is_broken(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let before: Value = app
        .get("/.well-known/openid-configuration")
        .await
        .json()
        .await
        .unwrap();

    drop_the_clients_table(&app).await;

    for path in [
        "/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server",
    ] {
        let response = app.get(path).await;
        assert_eq!(response.status(), 200, "{path}");
        let after: Value = response.json().await.unwrap();
        assert_eq!(after, before, "{path}");
    }
}

/// Drops `clients` on the test's own database, the table discovery used to read per request.
async fn drop_the_clients_table(app: &TestApp) {
    use gatehouse::config::DatabaseUrl;
    match &app.settings.database.url {
        DatabaseUrl::Sqlite(url) => {
            use sqlx::Connection as _;
            // One connection: the pragma holds per connection.
            let mut connection = sqlx::SqliteConnection::connect(url).await.unwrap();
            sqlx::query("PRAGMA foreign_keys = OFF")
                .execute(&mut connection)
                .await
                .unwrap();
            sqlx::query("DROP TABLE clients")
                .execute(&mut connection)
                .await
                .unwrap();
        }
        DatabaseUrl::Postgres(url) => {
            let pool = sqlx::PgPool::connect(url).await.unwrap();
            sqlx::query("DROP TABLE clients CASCADE")
                .execute(&pool)
                .await
                .unwrap();
        }
    }
}

fn strings(value: &Value) -> Vec<&str> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect()
}

crate::on_every_backend!(
    both_metadata_documents_name_the_same_issuer_and_endpoints,
    metadata_lists_only_what_is_implemented,
    metadata_jwks_uri_serves_the_signing_keys,
    scopes_supported_lists_standard_and_public_scopes_only,
    discovery_answers_while_the_database_is_broken,
);
