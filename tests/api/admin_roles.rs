//! Administrators are people: a person's token carries the admin API's scopes only while the
//! person holds a role (at the sign-in and again at every refresh), the API checks the role on
//! every request (taken away, the token stops at once), and what the person does is recorded as
//! theirs. Automation keeps its client_credentials client, acting as itself.

use reqwest::Method;
use serde_json::{Value, json};

use crate::admin_helpers::{ADMIN, AdminApi, READ};
use crate::flow::{PASSWORD, refresh, sign_in_and_exchange, web_client};
use crate::helpers::{Backend, RegisteredClient, TestApp, spawn_app};
use crate::pages::jwt_claims;

/// A first-party client that may ask for the admin API's scopes (an admin console).
async fn console(app: &TestApp) -> RegisteredClient {
    let mut client = web_client();
    client.first_party = true;
    client.scopes.extend([ADMIN.to_owned(), READ.to_owned()]);
    app.register_client(client).await
}

fn scope_of(token: &str) -> String {
    jwt_claims(token)["scope"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// `PUT` (`held`) or `DELETE` of the person's role, by the automation client.
async fn set_role(api: &AdminApi<'_>, user_id: &str, role: &str, held: bool) -> Value {
    let method = if held { Method::PUT } else { Method::DELETE };
    let response = api
        .request(method, &format!("/v1/users/{user_id}/roles/{role}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

async fn a_persons_admin_scopes_follow_their_role(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let automation = AdminApi::new(&app).await;
    let client = console(&app).await;
    let ann = app.create_user("ann", PASSWORD).await;
    let asked = ["openid", "offline_access", ADMIN];

    // Without a role, the scope is left out of her token, and the API refuses it.
    let plain = sign_in_and_exchange(&app, &client, &asked, "ann").await;
    assert!(!scope_of(&plain.access_token).contains(ADMIN));
    let as_ann = AdminApi {
        app: &app,
        token: plain.access_token.clone(),
    };
    assert_eq!(as_ann.get("/v1/clients").await.status(), 403);

    // Given the role, her next sign-in carries it; what she does is hers in the audit trail.
    let user = set_role(&automation, &ann.id.to_string(), "admin", true).await;
    assert_eq!(user["roles"], json!(["admin"]));
    let admin = sign_in_and_exchange(&app, &client, &asked, "ann").await;
    assert!(scope_of(&admin.access_token).contains(ADMIN));
    let as_ann = AdminApi {
        app: &app,
        token: admin.access_token.clone(),
    };
    let created = as_ann
        .post(
            "/v1/clients",
            &json!({"name": "Made by Ann", "grant_types": ["client_credentials"]}),
        )
        .await;
    assert_eq!(created.status(), 201);
    let events = app.state.db.recent_audit_events(10).await.unwrap();
    let made = events
        .iter()
        .find(|e| e.event.action == "client.created")
        .expect("the creation is audited");
    assert_eq!(made.event.actor, ann.id.to_string());
    assert_eq!(
        made.event.details["client_id"],
        client.id.as_str(),
        "{:?}",
        made.event
    );
    let granted = events
        .iter()
        .find(|e| e.event.action == "user.role_granted")
        .expect("the grant is audited");
    assert_eq!(granted.event.details["role"], "admin");

    // Taken away, her token stops at once, and a refresh no longer carries the scope.
    set_role(&automation, &ann.id.to_string(), "admin", false).await;
    app.read_changes().await;
    assert_eq!(as_ann.get("/v1/clients").await.status(), 403);
    let refreshed = refresh(&app, &client, admin.refresh_token.as_deref().unwrap(), &[]).await;
    assert_eq!(refreshed.status(), 200);
    let body: Value = refreshed.json().await.unwrap();
    let token = body["access_token"].as_str().unwrap();
    assert!(!scope_of(token).contains(ADMIN), "{body}");
    assert!(
        !body["scope"].as_str().unwrap_or_default().contains(ADMIN),
        "{body}"
    );
}

async fn an_auditor_reads_everything_and_changes_nothing(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let automation = AdminApi::new(&app).await;
    let client = console(&app).await;
    let bob = app.create_user("bob", PASSWORD).await;
    set_role(&automation, &bob.id.to_string(), "auditor", true).await;

    let asked = ["openid", ADMIN, READ];
    let signed = sign_in_and_exchange(&app, &client, &asked, "bob").await;
    let scope = scope_of(&signed.access_token);
    assert!(scope.contains(READ), "{scope}");
    assert!(!scope.split(' ').any(|s| s == ADMIN), "{scope}");
    let as_bob = AdminApi {
        app: &app,
        token: signed.access_token,
    };
    assert_eq!(as_bob.get("/v1/users").await.status(), 200);
    assert_eq!(
        as_bob.get(&format!("/v1/users/{}", bob.id)).await.status(),
        200
    );
    let refused = as_bob
        .post("/v1/clients", &json!({"name": "Not allowed"}))
        .await;
    assert_eq!(refused.status(), 403);
    let path = format!("/v1/users/{}/roles/admin", bob.id);
    let escalate = as_bob.request(Method::PUT, &path).send().await.unwrap();
    assert_eq!(
        escalate.status(),
        403,
        "an auditor cannot make themselves admin"
    );
}

async fn roles_are_only_the_known_ones_and_granting_twice_changes_nothing(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let automation = AdminApi::new(&app).await;
    let cy = app.create_user("cy", PASSWORD).await;
    let path = format!("/v1/users/{}/roles/root", cy.id);
    let unknown = automation.request(Method::PUT, &path).send().await.unwrap();
    assert_eq!(unknown.status(), 404);

    let once = set_role(&automation, &cy.id.to_string(), "auditor", true).await;
    let twice = set_role(&automation, &cy.id.to_string(), "auditor", true).await;
    assert_eq!(once, twice, "the same user, not written again");
    let events = app.state.db.recent_audit_events(10).await.unwrap();
    let grants = events
        .iter()
        .filter(|e| e.event.action == "user.role_granted")
        .count();
    assert_eq!(grants, 1);
    // A profile update keeps the roles: they change only through their own endpoint.
    let path = format!("/v1/users/{}", cy.id);
    let read = automation.get(&path).await;
    let etag = read.headers()["etag"].to_str().unwrap().to_owned();
    let patched = automation
        .patch(&path, &json!({"display_name": "Cy"}), &etag)
        .await;
    assert_eq!(patched.status(), 200);
    let patched: Value = patched.json().await.unwrap();
    assert_eq!(patched["roles"], json!(["auditor"]));
}

crate::on_every_backend!(
    a_persons_admin_scopes_follow_their_role,
    an_auditor_reads_everything_and_changes_nothing,
    roles_are_only_the_known_ones_and_granting_twice_changes_nothing,
);
