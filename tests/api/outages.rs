//! Outages (issue 10 point 4): while a backend is down every protocol endpoint and page answers
//! `503 temporarily_unavailable` with `Retry-After`, never `500 server_error`; the sign-in page
//! says "try again in a moment" and keeps the interaction, so the same form succeeds once the
//! backend is back. Discovery and JWKS are served from memory and keep answering.
//!
//! The backends are taken away for real: the SQLite pool closed or its file write-locked by
//! another connection, PostgreSQL and Redis reached through a [`Proxy`] that the test stops
//! (a closed port, every open connection cut) and starts again.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gatehouse::admin::clients::NewClient;
use gatehouse::config::{DatabaseUrl, EphemeralUrl, Settings};
use oauth2::{AuthorizationCode, PkceCodeVerifier};
use serde_json::Value;
use tokio::net::{TcpSocket, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

use crate::admin_helpers::{AdminApi, assert_problem};
use crate::common;
use crate::flow::{
    Browser, PASSWORD, REDIRECT_URI, code_for, redirect_params, relying_party, start, web_client,
};
use crate::helpers::{
    Backend, RegisteredClient, TestApp, assert_no_store, confidential_client, spawn_app_with,
};

/// Short enough that a call to a backend that is gone fails fast, long enough for a healthy one.
const BACKEND_TIMEOUT_MS: u64 = 500;

/// A TCP forwarder in front of a real backend, which the test can stop (the port then refuses
/// connections and every connection through it is cut) and start again on the same port.
pub struct Proxy {
    port: u16,
    target: SocketAddr,
    accepting: Mutex<Option<JoinHandle<()>>>,
    connections: Arc<Mutex<JoinSet<()>>>,
}

impl Proxy {
    pub async fn to(target: SocketAddr) -> Proxy {
        let proxy = Proxy {
            port: 0,
            target,
            accepting: Mutex::new(None),
            connections: Arc::new(Mutex::new(JoinSet::new())),
        };
        let port = proxy.listen(0);
        Proxy { port, ..proxy }
    }

    /// Listens on `port` (any free one when 0) and forwards what it accepts; returns the port.
    fn listen(&self, port: u16) -> u16 {
        let socket = TcpSocket::new_v4().unwrap();
        socket.set_reuseaddr(true).unwrap();
        socket.bind(([127, 0, 0, 1], port).into()).unwrap();
        let listener = socket.listen(128).unwrap();
        let port = listener.local_addr().unwrap().port();
        let (target, connections) = (self.target, Arc::clone(&self.connections));
        let accepting = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                connections.lock().unwrap().spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        });
        *self.accepting.lock().unwrap() = Some(accepting);
        port
    }

    /// The backend goes away: nothing listens on the port any more, and every connection made
    /// through it is closed.
    pub async fn stop(&self) {
        let accepting = self.accepting.lock().unwrap().take();
        if let Some(accepting) = accepting {
            accepting.abort();
            let _ = accepting.await;
        }
        let mut connections = std::mem::take(&mut *self.connections.lock().unwrap());
        connections.abort_all();
        while connections.join_next().await.is_some() {}
    }

    /// The backend is back, on the same port.
    pub fn start(&self) {
        self.listen(self.port);
    }

    /// `url` (a backend's) pointed at this proxy instead.
    pub fn url_for(&self, url: &str) -> String {
        let mut url = url::Url::parse(url).unwrap();
        url.set_host(Some("127.0.0.1")).unwrap();
        url.set_port(Some(self.port)).unwrap();
        url.to_string()
    }
}

fn address_of(url: &str) -> SocketAddr {
    let url = url::Url::parse(url).unwrap();
    let host = url.host_str().unwrap();
    let port = url.port_or_known_default().unwrap();
    std::net::ToSocketAddrs::to_socket_addrs(&(host, port))
        .unwrap()
        .next()
        .unwrap()
}

/// How the test takes a backend away and gives it back.
enum Switch {
    /// The SQLite pool is closed: nothing can be read or written, for good.
    ClosedPool,
    /// PostgreSQL or Redis behind a proxy.
    Proxy(Proxy),
}

/// An instance on `backend` with short backend timeouts, and the switch for its database
/// (SQLite: the pool; PostgreSQL: a proxy). `None` when the backend is not available here.
async fn app_with_database_switch(backend: Backend) -> Option<(TestApp, Switch)> {
    let proxy = match backend {
        Backend::Embedded => None,
        Backend::Shared => Some(Proxy::to(address_of(&common::postgres_url()?)).await),
    };
    let app = spawn_app_with(backend, |s| {
        short_timeouts(s);
        if let (Some(proxy), DatabaseUrl::Postgres(url)) = (&proxy, &s.database.url) {
            s.database.url = DatabaseUrl::Postgres(proxy.url_for(url));
        }
    })
    .await?;
    let switch = proxy.map_or(Switch::ClosedPool, Switch::Proxy);
    Some((app, switch))
}

fn short_timeouts(s: &mut Settings) {
    s.database.timeout_ms = BACKEND_TIMEOUT_MS;
    s.ephemeral.timeout_ms = BACKEND_TIMEOUT_MS;
}

async fn take_database_away(app: &TestApp, switch: &Switch) {
    match switch {
        Switch::ClosedPool => app.state.db.close().await,
        Switch::Proxy(proxy) => proxy.stop().await,
    }
}

/// Waits until the instance reaches its backends again (it reconnects by itself); each try is
/// a real round trip, bounded by the backend timeouts.
async fn until_backends_answer(app: &TestApp) {
    tokio::time::timeout(Duration::from_secs(10), async {
        while app.state.db.ping().await.is_err() || app.state.ephemeral.ping().await.is_err() {
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("the backends answer again");
}

/// `503 temporarily_unavailable` as RFC 6749 §5.2 JSON, with `Retry-After` and `no-store`.
async fn assert_unavailable(response: reqwest::Response, what: &str) {
    assert_eq!(response.status(), 503, "{what}");
    assert_no_store(&response);
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=5).contains(&retry_after), "{what}: {retry_after}");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "temporarily_unavailable", "{what}: {body}");
}

/// The page asking to try again in a moment: 503 with `Retry-After`, never "expired".
async fn assert_unavailable_page(response: reqwest::Response, what: &str) {
    assert_eq!(response.status(), 503, "{what}");
    assert!(response.headers().contains_key("retry-after"), "{what}");
    assert_eq!(response.headers()["cache-control"], "no-store", "{what}");
    let page = response.text().await.unwrap();
    assert!(page.contains("try again in a moment"), "{what}: {page}");
    assert!(!page.contains("expired"), "{what}: {page}");
}

/// A code for `client`, obtained through the pages before the outage, with its verifier.
async fn code_of(
    app: &TestApp,
    client: &RegisteredClient,
) -> (AuthorizationCode, PkceCodeVerifier) {
    let rp = relying_party(app, client);
    code_for(app, &Browser::new(), &rp, &["openid"], "ann").await
}

async fn exchange(
    app: &TestApp,
    client: &RegisteredClient,
    code: &AuthorizationCode,
    verifier: &PkceCodeVerifier,
) -> reqwest::Response {
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.secret().as_str()),
        ("redirect_uri", REDIRECT_URI),
        ("code_verifier", verifier.secret().as_str()),
    ];
    app.post_token(&form, client.basic()).await
}

/// A browser at the login page of a first-party client (no consent), and that page.
async fn at_login_page(app: &TestApp, client: &RegisteredClient) -> (Browser, String) {
    let browser = Browser::new();
    let started = start(&relying_party(app, client), &["openid"], &[]);
    let page = browser.get(&started.url).await;
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    assert!(page.contains(r#"name="password""#), "{page}");
    (browser, page)
}

async fn sign_in(app: &TestApp, browser: &Browser, page: &str) -> reqwest::Response {
    browser
        .submit(app, page, &[("username", "ann"), ("password", PASSWORD)])
        .await
}

async fn every_endpoint_answers_503_while_the_database_is_down(backend: Backend) {
    let Some((app, switch)) = app_with_database_switch(backend).await else {
        return;
    };
    app.create_user("ann", PASSWORD).await;
    let machine = app.register_client(confidential_client()).await;
    let web = app.register_client(web_client()).await;
    let first_party = app
        .register_client(NewClient {
            first_party: true,
            ..web_client()
        })
        .await;
    let token = {
        let cached = app.register_client(confidential_client()).await;
        app.token_for(&cached).await
    };
    let (code, verifier) = code_of(&app, &web).await;
    let (browser, login_page) = at_login_page(&app, &first_party).await;
    let admin = AdminApi::new(&app).await;

    take_database_away(&app, &switch).await;

    // Nothing the database holds is needed to describe the server.
    let discovery = app.get("/.well-known/openid-configuration").await;
    assert_eq!(discovery.status(), 200);
    assert_eq!(app.get("/.well-known/jwks.json").await.status(), 200);
    // `machine` and `web` have not authenticated yet: their registrations must be read.
    let client_credentials = app
        .post_token(&[("grant_type", "client_credentials")], machine.basic())
        .await;
    assert_unavailable(client_credentials, "token, client_credentials").await;
    assert_unavailable(exchange(&app, &web, &code, &verifier).await, "token, code").await;
    let introspect = app
        .post_introspect(&[("token", &token)], machine.basic())
        .await;
    assert_unavailable(introspect, "introspect").await;
    let revoke = app.post_revoke(&[("token", &token)], machine.basic()).await;
    assert_unavailable(revoke, "revoke").await;
    let authorize = browser
        .get(&start(&relying_party(&app, &web), &["openid"], &[]).url)
        .await;
    assert_unavailable_page(authorize, "authorize").await;
    let login = sign_in(&app, &browser, &login_page).await;
    assert_unavailable_page(login, "sign-in").await;
    let listed = admin.get("/v1/clients").await;
    assert!(listed.headers().contains_key("retry-after"));
    assert_problem(listed, 503, "about:blank").await;

    // PostgreSQL comes back (a closed SQLite pool does not): the code was not spent.
    if let Switch::Proxy(proxy) = &switch {
        proxy.start();
        until_backends_answer(&app).await;
        assert_eq!(exchange(&app, &web, &code, &verifier).await.status(), 200);
    }
}

async fn a_sign_in_interrupted_by_the_database_succeeds_when_the_same_form_is_sent_again(
    backend: Backend,
) {
    let Some((app, switch)) = app_with_database_switch(backend).await else {
        return;
    };
    app.create_user("ann", PASSWORD).await;
    let client = app
        .register_client(NewClient {
            first_party: true,
            ..web_client()
        })
        .await;
    let (browser, page) = at_login_page(&app, &client).await;

    // SQLite: another connection holds the write lock, as a backup or a long migration would;
    // recording the grant is refused as busy. PostgreSQL: gone.
    let lock = match &switch {
        Switch::ClosedPool => Some(lock_sqlite_writes(&app).await),
        Switch::Proxy(proxy) => {
            proxy.stop().await;
            None
        }
    };
    assert_unavailable_page(sign_in(&app, &browser, &page).await, "sign-in").await;

    match (&switch, lock) {
        (_, Some(lock)) => drop(lock),
        (Switch::Proxy(proxy), None) => proxy.start(),
        _ => unreachable!(),
    }
    until_backends_answer(&app).await;
    let again = sign_in(&app, &browser, &page).await;
    let params = redirect_params(&again);
    assert!(params.contains_key("code"), "{params:?}");
}

/// The code is read, and what it rests on, before it is spent: a database outage in between
/// leaves it usable, for a client whose registration is already cached too.
#[tokio::test]
async fn a_code_that_met_a_database_outage_is_exchanged_once_the_database_is_back() {
    let Some((app, Switch::Proxy(proxy))) = app_with_database_switch(Backend::Shared).await else {
        return;
    };
    app.create_user("ann", PASSWORD).await;
    let web = app.register_client(web_client()).await;
    let (first, first_verifier) = code_of(&app, &web).await;
    assert_eq!(
        exchange(&app, &web, &first, &first_verifier).await.status(),
        200
    );
    let (code, verifier) = code_of(&app, &web).await;

    proxy.stop().await;
    assert_unavailable(exchange(&app, &web, &code, &verifier).await, "token, code").await;

    proxy.start();
    until_backends_answer(&app).await;
    assert_eq!(exchange(&app, &web, &code, &verifier).await.status(), 200);
}

/// A connection that holds SQLite's write lock until it is dropped.
async fn lock_sqlite_writes(app: &TestApp) -> sqlx::SqliteConnection {
    use sqlx::Connection as _;
    let DatabaseUrl::Sqlite(url) = &app.settings.database.url else {
        panic!("not SQLite");
    };
    let mut connection = sqlx::SqliteConnection::connect(url).await.unwrap();
    sqlx::raw_sql("BEGIN IMMEDIATE")
        .execute(&mut connection)
        .await
        .unwrap();
    connection
}

crate::on_every_backend!(
    every_endpoint_answers_503_while_the_database_is_down,
    a_sign_in_interrupted_by_the_database_succeeds_when_the_same_form_is_sent_again,
);

/// Redis down (PostgreSQL up): what needs it (codes, interactions, sessions) answers 503, and
/// the sign-in and the code wait for it instead of being lost.
#[tokio::test]
async fn while_redis_is_down_codes_and_sign_ins_wait_for_it() {
    let (Some(_), Some(redis)) = (common::postgres_url(), common::redis_url()) else {
        return;
    };
    let proxy = Proxy::to(address_of(&redis)).await;
    let app = spawn_app_with(Backend::Shared, |s| {
        short_timeouts(s);
        s.ephemeral.url = EphemeralUrl::Redis(proxy.url_for(&redis));
    })
    .await
    .unwrap();
    app.create_user("ann", PASSWORD).await;
    let web = app.register_client(web_client()).await;
    let first_party = app
        .register_client(NewClient {
            first_party: true,
            ..web_client()
        })
        .await;
    let (code, verifier) = code_of(&app, &web).await;
    let (browser, login_page) = at_login_page(&app, &first_party).await;

    proxy.stop().await;

    assert_eq!(
        app.get("/.well-known/openid-configuration").await.status(),
        200
    );
    assert_eq!(app.get("/.well-known/jwks.json").await.status(), 200);
    assert_unavailable(exchange(&app, &web, &code, &verifier).await, "token, code").await;
    let authorize = browser
        .get(&start(&relying_party(&app, &web), &["openid"], &[]).url)
        .await;
    assert_unavailable_page(authorize, "authorize").await;
    assert_unavailable_page(sign_in(&app, &browser, &login_page).await, "sign-in").await;

    proxy.start();
    until_backends_answer(&app).await;
    assert_eq!(exchange(&app, &web, &code, &verifier).await.status(), 200);
    let params = redirect_params(&sign_in(&app, &browser, &login_page).await);
    assert!(params.contains_key("code"), "{params:?}");
}
