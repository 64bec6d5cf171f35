//! Where the work under way came from: the client address and request id of the HTTP request
//! it serves, carried with the request's task (a tokio task-local), so that an audit event
//! records them however deep the use case that writes it. CLI and background work have none.
//! Once the admin API has authenticated the request, the client its token was issued to is
//! carried too, so an event done by a person names the client they came through.

use std::future::Future;
use std::net::IpAddr;
use std::sync::{Arc, OnceLock};

tokio::task_local! {
    static ORIGIN: RequestOrigin;
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestOrigin {
    /// The one client address (see `http::client_address`).
    pub client_address: IpAddr,
    /// The id on the request's log lines and `X-Request-Id`.
    pub request_id: Option<String>,
    /// The client of the request's access token, once authenticated ([`came_through`]).
    pub client_id: Arc<OnceLock<String>>,
}

/// Records that the request being served authenticated with a token of `client_id`.
pub fn came_through(client_id: &str) {
    let _ = ORIGIN.try_with(|origin| origin.client_id.set(client_id.to_owned()));
}

/// Runs `work` as serving the request from `origin`.
pub async fn serving<F: Future>(origin: RequestOrigin, work: F) -> F::Output {
    ORIGIN.scope(origin, work).await
}

/// The origin of the request being served, if any.
pub fn current() -> Option<RequestOrigin> {
    ORIGIN.try_with(Clone::clone).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_origin_is_seen_inside_the_work_only() {
        let origin = RequestOrigin {
            client_address: "203.0.113.9".parse().unwrap(),
            request_id: Some("r1".into()),
            client_id: Arc::default(),
        };
        assert_eq!(current(), None);
        let seen = serving(origin.clone(), async { current() }).await;
        assert_eq!(seen, Some(origin));
        assert_eq!(current(), None);
    }
}
