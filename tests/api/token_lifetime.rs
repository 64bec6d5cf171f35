//! Every verifier bounds `iat` and the lifetime of what our keys signed: a token forged with a
//! leaked (still trusted) key, issued in the future, living a year or carrying no `iat`, is
//! refused by introspection, userinfo, `/v1` and as `id_token_hint`. The same claims re-signed
//! as Gatehouse issued them pass, so the refusals are about the lifetime alone.

use gatehouse::crypto::SigningAlgorithm;
use serde_json::{Value, json};

use crate::admin_helpers::AdminApi;
use crate::flow::{PASSWORD, get_userinfo, sign_in_and_exchange, web_client};
use crate::helpers::{Backend, TestApp, confidential_client, spawn_app};
use crate::jose::{forge, segment};

const YEAR: i64 = 365 * 86_400;

/// `token` with its claims changed by `change`, signed again with the ring's active `alg` key
/// (the key its header names): what someone holding our private key could make.
fn resigned(
    app: &TestApp,
    token: &str,
    alg: SigningAlgorithm,
    change: impl Fn(&mut Value),
) -> String {
    let key = app.state.keys.active_key(alg).unwrap();
    let header = segment(token, 0);
    assert_eq!(header["kid"], key.kid());
    let mut claims = segment(token, 1);
    change(&mut claims);
    forge(&header, &claims, |input| key.sign(input).unwrap())
}

/// A named change to a token's claims.
type Forgery = (&'static str, Box<dyn Fn(&mut Value)>);

/// The forgeries every verifier must refuse, by name, for a token issued at `now`.
fn forgeries(now: i64) -> Vec<Forgery> {
    vec![
        (
            "iat in the future",
            Box::new(move |c: &mut Value| {
                c["iat"] = json!(now + 3600);
                c["exp"] = json!(now + 3900);
            }),
        ),
        (
            "a year-long lifetime",
            Box::new(move |c: &mut Value| {
                c["iat"] = json!(now);
                c["exp"] = json!(now + YEAR);
            }),
        ),
        (
            "no iat",
            Box::new(|c: &mut Value| {
                c.as_object_mut().unwrap().remove("iat");
            }),
        ),
    ]
}

async fn forged_lifetimes_are_refused_by_introspection_userinfo_and_v1(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let web = app.register_client(web_client()).await;
    app.create_user("ann", PASSWORD).await;
    let ann = sign_in_and_exchange(&app, &web, &["openid"], "ann").await;
    let service = app.register_client(confidential_client()).await;
    let admin = AdminApi::new(&app).await;
    let es256 = SigningAlgorithm::Es256;
    let as_issued = |token: &str| resigned(&app, token, es256, |_| {});
    assert_eq!(
        app.introspect(&as_issued(&ann.access_token), &service)
            .await["active"],
        true
    );
    assert_eq!(
        get_userinfo(&app, &as_issued(&ann.access_token))
            .await
            .status(),
        200
    );
    let control = AdminApi {
        app: &app,
        token: as_issued(&admin.token),
    };
    assert_eq!(control.get("/v1/keys").await.status(), 200);

    for (name, forgery) in forgeries(app.now()) {
        let user_token = resigned(&app, &ann.access_token, es256, &forgery);
        let admin_token = resigned(&app, &admin.token, es256, &forgery);

        let introspected = app.introspect(&user_token, &service).await;
        let userinfo = get_userinfo(&app, &user_token).await.status();
        let forged_admin = AdminApi {
            app: &app,
            token: admin_token.clone(),
        };
        let v1 = forged_admin.get("/v1/keys").await.status();
        let introspected_admin = app.introspect(&admin_token, &service).await;

        assert_eq!(introspected, json!({"active": false}), "{name}");
        assert_eq!(introspected_admin, json!({"active": false}), "{name}");
        assert_eq!(userinfo, 401, "{name}");
        assert_eq!(v1, 401, "{name}");
    }
}

async fn forged_lifetimes_are_refused_as_id_token_hint(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let web = app.register_client(web_client()).await;
    app.create_user("ann", PASSWORD).await;
    let ann = sign_in_and_exchange(&app, &web, &["openid"], "ann").await;
    let id_token = ann.id_token.clone().unwrap();
    let rs256 = SigningAlgorithm::Rs256;
    let logout = |hint: &str| {
        url::Url::parse_with_params(
            &format!("{}/oauth2/logout", app.address),
            &[
                ("id_token_hint", hint),
                (
                    "post_logout_redirect_uri",
                    "https://app.example.com/signed-out",
                ),
            ],
        )
        .unwrap()
        .to_string()
    };

    for (name, forgery) in forgeries(app.now()) {
        let hint = resigned(&app, &id_token, rs256, &forgery);
        let response = ann.browser.get(&logout(&hint)).await;
        assert_eq!(response.status(), 400, "{name}");
        assert!(response.headers().get("location").is_none(), "{name}");
    }
    // An ID token lives 300 s: one claiming 301 (beyond the 30 s leeway) is no hint either.
    let stretched = resigned(&app, &id_token, rs256, |c| {
        c["exp"] = json!(c["iat"].as_i64().unwrap() + 331);
    });
    assert_eq!(ann.browser.get(&logout(&stretched)).await.status(), 400);

    let as_issued = resigned(&app, &id_token, rs256, |_| {});
    assert_eq!(ann.browser.get(&logout(&as_issued)).await.status(), 303);
}

crate::on_every_backend!(
    forged_lifetimes_are_refused_by_introspection_userinfo_and_v1,
    forged_lifetimes_are_refused_as_id_token_hint,
);
