//! A person's tokens live no longer than the grant behind them: revoking the grant or deleting
//! the person ends them at once, on every instance, even when done from the command line (which
//! shares the database but not the ephemeral store's memory).

use gatehouse::admin::users::delete_user;
use gatehouse::clock::Clock as _;

use crate::flow::{PASSWORD, get_userinfo, sign_in_and_exchange, web_client};
use crate::helpers::{Backend, spawn_app};

async fn deleting_a_person_ends_their_access_and_refresh_tokens(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let client = app.register_client(web_client()).await;
    app.create_user("ann", PASSWORD).await;
    let signed_in = sign_in_and_exchange(&app, &client, &["openid", "offline_access"], "ann").await;
    assert_eq!(
        app.introspect(&signed_in.access_token, &client).await["active"],
        true
    );

    delete_user(app.state.db.as_ref(), "ann", "test", app.clock.now())
        .await
        .unwrap();
    // As from the CLI: the instance learns it from the change feed.
    app.read_changes().await;

    let introspected = app.introspect(&signed_in.access_token, &client).await;
    assert_eq!(introspected, serde_json::json!({"active": false}));
    assert_eq!(
        get_userinfo(&app, &signed_in.access_token).await.status(),
        401
    );
    let refresh = signed_in.refresh_token.as_deref().unwrap();
    let form = [("grant_type", "refresh_token"), ("refresh_token", refresh)];
    let response = app.post_token(&form, client.basic()).await;
    crate::helpers::assert_oauth_error(response, 400, "invalid_grant").await;
}

async fn revoking_a_grant_in_the_database_ends_its_access_tokens(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let client = app.register_client(web_client()).await;
    let ann = app.create_user("ann", PASSWORD).await;
    let signed_in = sign_in_and_exchange(&app, &client, &["openid"], "ann").await;
    let db = app.state.db.as_ref();
    let grant = db.list_grants(ann.id).await.unwrap().remove(0);

    assert!(db.revoke_grant(grant.id, app.clock.now()).await.unwrap());
    app.read_changes().await;

    let introspected = app.introspect(&signed_in.access_token, &client).await;
    assert_eq!(introspected, serde_json::json!({"active": false}));
}

crate::on_every_backend!(
    deleting_a_person_ends_their_access_and_refresh_tokens,
    revoking_a_grant_in_the_database_ends_its_access_tokens,
);
