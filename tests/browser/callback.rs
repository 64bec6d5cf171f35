//! The relying party's redirect URI: a tiny local server that reports each request it receives.

use std::time::Duration;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use tokio::sync::mpsc;

pub struct Callback {
    /// `http://127.0.0.1:PORT/callback`, to register as the client's redirect URI.
    pub redirect_uri: String,
    hits: mpsc::UnboundedReceiver<String>,
}

impl Callback {
    pub async fn start() -> Self {
        let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).expect("a local port");
        let port = listener.local_addr().unwrap().port();
        let (sender, hits) = mpsc::unbounded_channel();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(web::Data::new(sender.clone()))
                .route("/callback", web::get().to(receive))
        })
        .workers(1)
        .disable_signals()
        .listen(listener)
        .expect("the callback server listens")
        .run();
        tokio::spawn(server);
        Self {
            redirect_uri: format!("http://127.0.0.1:{port}/callback"),
            hits,
        }
    }

    /// The full URL of the next request that reaches the redirect URI.
    pub async fn next_hit(&mut self) -> url::Url {
        let uri = tokio::time::timeout(Duration::from_secs(15), self.hits.recv())
            .await
            .expect("the browser reaches the redirect URI within 15 s")
            .expect("the callback server is running");
        let base = url::Url::parse(&self.redirect_uri).unwrap();
        base.join(&uri).expect("a request URI")
    }
}

async fn receive(
    request: HttpRequest,
    hits: web::Data<mpsc::UnboundedSender<String>>,
) -> HttpResponse {
    let _ = hits.send(request.uri().to_string());
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body("<!doctype html><title>Example App</title><p>Signed in.</p>")
}
