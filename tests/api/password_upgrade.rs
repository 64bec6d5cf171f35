//! A password hash made with older argon2 parameters is replaced, at the next successful login,
//! by one made with the configured parameters.

use gatehouse::clock::Clock as _;
use gatehouse::config::PasswordSettings;
use gatehouse::crypto::{Password, PasswordHasher};

use crate::flow::{Browser, PASSWORD, code_for, relying_party, web_client};
use crate::helpers::{Backend, spawn_app};

async fn a_login_upgrades_a_hash_made_with_older_parameters(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let user = app.create_user("ann", PASSWORD).await;
    let older = PasswordHasher::new(&PasswordSettings {
        iterations: app.settings.passwords.iterations + 1,
        ..app.settings.passwords.clone()
    })
    .unwrap();
    let old_hash = older.hash(&Password::new(PASSWORD.into())).await.unwrap();
    let db = app.state.db.as_ref();
    db.set_password_hash(user.id, &old_hash, app.clock.now())
        .await
        .unwrap();
    let client = app.register_client(web_client()).await;

    code_for(
        &app,
        &Browser::new(),
        &relying_party(&app, &client),
        &["openid"],
        "ann",
    )
    .await;

    let upgraded = db.find_user(user.id).await.unwrap().password_hash.unwrap();
    assert_ne!(upgraded, old_hash);
    let p = &app.settings.passwords;
    let expected = format!(
        "$argon2id$v=19$m={},t={},p={}$",
        p.memory_kib, p.iterations, p.parallelism
    );
    assert!(upgraded.starts_with(&expected), "{upgraded}");
    // and the upgraded hash still admits the person
    code_for(
        &app,
        &Browser::new(),
        &relying_party(&app, &client),
        &["openid"],
        "ann",
    )
    .await;
}

crate::on_every_backend!(a_login_upgrades_a_hash_made_with_older_parameters);
