//! What one request may cost before anyone answers it: its body must arrive within
//! `server.body_timeout_ms` of its head (or 408, RFC 9110 §15.5.9) and stay within its route's
//! size (or 413, RFC 9110 §15.5.14). Either way the connection is closed after the answer,
//! since what is left of the body cannot be told from a next request. The head has its own
//! bounds, in actix-web (`server.header_timeout_ms`, and a 128 KiB head, see the README).
//!
//! Handlers read bodies their own way (a stream, `web::Bytes`); this wraps the stream they read,
//! so every one of them is bounded without knowing it, and a handler that never reads its body
//! has its connection closed after the answer.

use std::cell::Cell;
use std::future::Future as _;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::StatusCode;
use actix_web::http::header::CONTENT_LENGTH;
use actix_web::middleware::Next;
use actix_web::web::Bytes;
use actix_web::{Error, HttpMessage as _, HttpResponse, web};
use futures_util::Stream;

use crate::state::AppState;

/// The largest body of a protocol endpoint or a page: a form (RFC 6749 §3.2).
pub const MAX_FORM_BODY_BYTES: usize = crate::oauth::MAX_FORM_BYTES;
/// The largest body of `/v1` (and `/testing/tokens`): JSON records.
pub const MAX_JSON_BODY_BYTES: usize = super::admin::body::MAX_BODY_BYTES;

/// The size limit of a request to `path`.
pub fn body_limit(path: &str) -> usize {
    if path.starts_with("/v1/") || path == super::paths::TESTING_TOKENS {
        MAX_JSON_BODY_BYTES
    } else {
        MAX_FORM_BODY_BYTES
    }
}

/// How reading a body ended, as far as the answer is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Not read to its end (the handler answered without it, or stopped at an error).
    Unfinished,
    Finished,
    TooLarge,
    TimedOut,
}

/// Bounds the body of every request in time and size, and answers 408 or 413 when it broke a
/// bound, whatever the handler made of the failed read. The endpoint's own error body is kept
/// for a 413 (an OAuth error, a problem document); a 408 has a plain-text one, as the handler
/// may have answered anything to a read that just failed.
pub async fn bound_request_bodies(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let timeout = req
        .app_data::<web::Data<AppState>>()
        .map(|state| Duration::from_millis(state.settings.server.body_timeout_ms));
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let payload = req.take_payload();
    let bodiless = matches!(payload, Payload::None) || declared == Some(0);
    let Some(timeout) = timeout.filter(|_| !bodiless) else {
        req.set_payload(payload);
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    let limit = body_limit(req.path());
    let outcome = Rc::new(Cell::new(Outcome::Unfinished));
    let bounded = Bounded {
        inner: payload,
        deadline: Box::pin(tokio::time::sleep(timeout)),
        limit,
        read: 0,
        declared_too_large: declared.is_some_and(|n| n > limit as u64),
        outcome: Rc::clone(&outcome),
    };
    req.set_payload(Payload::Stream {
        payload: Box::pin(bounded),
    });
    let res = next.call(req).await?;
    let mut res = match outcome.get() {
        Outcome::Finished => return Ok(res.map_into_boxed_body()),
        Outcome::TimedOut => {
            tracing::info!(
                timeout_ms = timeout.as_millis() as u64,
                "the request body did not arrive in time"
            );
            let answer = HttpResponse::RequestTimeout()
                .content_type("text/plain; charset=utf-8")
                .body("the request body did not arrive in time");
            res.into_response(answer).map_into_boxed_body()
        }
        Outcome::TooLarge => {
            let mut res = res.map_into_boxed_body();
            *res.response_mut().status_mut() = StatusCode::PAYLOAD_TOO_LARGE;
            res
        }
        Outcome::Unfinished => res.map_into_boxed_body(),
    };
    res.response_mut()
        .head_mut()
        .set_connection_type(actix_web::http::ConnectionType::Close);
    Ok(res)
}

/// A request body that fails once it passes `limit` bytes or its deadline.
struct Bounded {
    inner: Payload,
    deadline: Pin<Box<tokio::time::Sleep>>,
    limit: usize,
    read: usize,
    /// `Content-Length` already says too much: fail before reading any of it.
    declared_too_large: bool,
    outcome: Rc<Cell<Outcome>>,
}

impl Bounded {
    fn fail(&mut self, outcome: Outcome) -> Poll<Option<Result<Bytes, PayloadError>>> {
        self.outcome.set(outcome);
        let error = match outcome {
            Outcome::TooLarge => PayloadError::Overflow,
            _ => PayloadError::Io(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "the request body did not arrive in time",
            )),
        };
        Poll::Ready(Some(Err(error)))
    }
}

impl Stream for Bounded {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.outcome.get() != Outcome::Unfinished {
            return Poll::Ready(None);
        }
        if this.declared_too_large {
            return this.fail(Outcome::TooLarge);
        }
        // Checked on every read, not only while waiting: a body trickling in stays bounded.
        if this.deadline.as_mut().poll(cx).is_ready() {
            return this.fail(Outcome::TimedOut);
        }
        match Pin::new(&mut this.inner).poll_next(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                this.read += chunk.len();
                if this.read > this.limit {
                    return this.fail(Outcome::TooLarge);
                }
                Poll::Ready(Some(Ok(chunk)))
            }
            Poll::Ready(None) => {
                this.outcome.set(Outcome::Finished);
                Poll::Ready(None)
            }
            other => other,
        }
    }
}
