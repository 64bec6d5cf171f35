//! Prometheus metrics, one registry per application (no global recorder), so several instances
//! can run in one process (tests, embedding) without mixing their numbers.
//!
//! Every label value is a `&'static str` from a fixed set (a route of the route table, a method
//! of [`HTTP_METHODS`], an RFC error code, a backend name), never text a caller chose: anonymous
//! requests cannot grow the registry.

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::crypto::{DurationObserver, PasswordTimings};

/// The methods counted by name; any other is counted as [`OTHER_METHOD`].
pub const HTTP_METHODS: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];
/// The method label of every method outside [`HTTP_METHODS`].
pub const OTHER_METHOD: &str = "other";
/// The route label of a request no route matched (404s).
pub const UNMATCHED_ROUTE: &str = "unmatched";

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: &'static str,
    /// The route pattern (`/v1/clients/{id}`), never the raw path.
    route: &'static str,
    status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CacheLabels {
    cache: &'static str,
    result: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TokenLabels {
    grant_type: &'static str,
    client_type: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ErrorLabels {
    error: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EndpointLabels {
    endpoint: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CredentialLabels {
    credential: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallLabels {
    backend: &'static str,
    operation: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BackendLabels {
    backend: &'static str,
    kind: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    version: &'static str,
}

/// How a sign-in (a submitted username and password) ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignIn {
    Success,
    /// Unknown user, wrong password or disabled account: one outcome, as on the page.
    WrongCredentials,
    /// Refused by the failed-sign-in throttle before any password was checked.
    Throttled,
    /// A backend (database, ephemeral store) or the password bulkhead could not answer.
    Unavailable,
    /// A defect (the password check itself failed).
    Error,
}

impl SignIn {
    const ALL: [Self; 5] = [
        Self::Success,
        Self::WrongCredentials,
        Self::Throttled,
        Self::Unavailable,
        Self::Error,
    ];

    fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::WrongCredentials => "wrong_credentials",
            Self::Throttled => "throttled",
            Self::Unavailable => "unavailable",
            Self::Error => "error",
        }
    }
}

/// A single-use credential presented again (RFC 9700 §4.14.2 for refresh tokens, RFC 6749
/// §4.1.2 for codes): what it had issued is revoked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reuse {
    RefreshToken,
    AuthorizationCode,
}

impl Reuse {
    const ALL: [Self; 2] = [Self::RefreshToken, Self::AuthorizationCode];

    fn as_str(self) -> &'static str {
        match self {
            Self::RefreshToken => "refresh_token",
            Self::AuthorizationCode => "authorization_code",
        }
    }
}

/// A failed call to a backend. Answers such as "not found" or "conflict" are not failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendFailure {
    Timeout,
    /// Down, unreachable or failing over: an outage (503).
    Unavailable,
    /// A defect (500).
    Error,
}

impl BackendFailure {
    fn as_str(self) -> &'static str {
        match self {
            Self::Timeout => "timeout",
            Self::Unavailable => "unavailable",
            Self::Error => "error",
        }
    }
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: HistogramFamily<RequestLabels>,
    cache_lookups: Family<CacheLabels, Counter>,
    tokens_issued: Family<TokenLabels, Counter>,
    token_errors: Family<ErrorLabels, Counter>,
    client_auth_failures: Family<EndpointLabels, Counter>,
    sign_ins: Family<OutcomeLabels, Counter>,
    reuse: Family<CredentialLabels, Counter>,
    key_rotations: Counter,
    key_revocations: Counter,
    change_notices: Counter,
    password_queue_wait: Histogram,
    password_hash: Histogram,
    backend_errors: Family<BackendLabels, Counter>,
    backend_calls: Family<CallLabels, Counter>,
}

fn latency_histogram() -> Histogram {
    // 0.5 ms to about 4 s
    Histogram::new(exponential_buckets(0.0005, 2.0, 14))
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("gatehouse");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency: HistogramFamily<RequestLabels> =
            Family::new_with_constructor(latency_histogram);
        registry.register(
            "http_requests",
            "HTTP requests by method, route and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency by method, route and status",
            latency.clone(),
        );
        let cache_lookups = Family::<CacheLabels, Counter>::default();
        registry.register(
            "cache_lookups",
            "Lookups in the in-process caches by cache and result (hit or miss)",
            cache_lookups.clone(),
        );
        let change_notices = Counter::default();
        registry.register(
            "change_notices_heard",
            "Change notices from other instances (Redis pub/sub) that made this one read the feed",
            change_notices.clone(),
        );
        let tokens_issued = Family::<TokenLabels, Counter>::default();
        registry.register(
            "tokens_issued",
            "Successful token responses by grant type and client type",
            tokens_issued.clone(),
        );
        let token_errors = Family::<ErrorLabels, Counter>::default();
        registry.register(
            "token_errors",
            "Token endpoint error responses by OAuth error code",
            token_errors.clone(),
        );
        let client_auth_failures = Family::<EndpointLabels, Counter>::default();
        registry.register(
            "client_auth_failures",
            "Failed client authentications (invalid_client) by endpoint",
            client_auth_failures.clone(),
        );
        let sign_ins = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "sign_ins",
            "Submitted sign-in forms by outcome",
            sign_ins.clone(),
        );
        let reuse = Family::<CredentialLabels, Counter>::default();
        registry.register(
            "reuse_detected",
            "Single-use credentials presented again, whose grant was revoked, by credential",
            reuse.clone(),
        );
        let key_rotations = Counter::default();
        registry.register(
            "key_rotations",
            "Signing keys this instance made the active key in place of another",
            key_rotations.clone(),
        );
        let key_revocations = Counter::default();
        registry.register(
            "key_revocations",
            "Signing keys this instance revoked",
            key_revocations.clone(),
        );
        // 1 ms to about 2 s, the default `passwords.queue_timeout_ms`
        let password_queue_wait = Histogram::new(exponential_buckets(0.001, 2.0, 12));
        registry.register(
            "password_queue_wait_seconds",
            "Time a password check waited for an argon2 slot (timed-out waits included)",
            password_queue_wait.clone(),
        );
        // 4 ms to about 8 s: the default parameters take tens of milliseconds a core
        let password_hash = Histogram::new(exponential_buckets(0.004, 2.0, 12));
        registry.register(
            "password_hash_seconds",
            "Time one argon2 computation took once it had its slot (a sign-in, a new password)",
            password_hash.clone(),
        );
        let backend_errors = Family::<BackendLabels, Counter>::default();
        let backend_calls = Family::<CallLabels, Counter>::default();
        registry.register(
            "backend_calls",
            "Calls to the database and the ephemeral store by backend and operation",
            backend_calls.clone(),
        );
        registry.register(
            "backend_errors",
            "Failed calls to the database and the ephemeral store by backend and kind",
            backend_errors.clone(),
        );
        let build_info = Family::<BuildLabels, Gauge>::default();
        build_info
            .get_or_create(&BuildLabels {
                version: env!("CARGO_PKG_VERSION"),
            })
            .set(1);
        registry.register(
            "build_info",
            "Always 1; the version of the running binary",
            build_info,
        );
        let metrics = Self {
            registry,
            requests,
            latency,
            cache_lookups,
            tokens_issued,
            token_errors,
            client_auth_failures,
            sign_ins,
            reuse,
            key_rotations,
            key_revocations,
            change_notices,
            password_queue_wait,
            password_hash,
            backend_errors,
            backend_calls,
        };
        metrics.start_at_zero();
        metrics
    }
}

impl Metrics {
    /// The series of fixed sets known here exist from the start: a rate over them works at
    /// once, and an alert on "absent" means what it says.
    fn start_at_zero(&self) {
        for outcome in SignIn::ALL {
            drop(self.sign_ins.get_or_create(&OutcomeLabels {
                outcome: outcome.as_str(),
            }));
        }
        for reuse in Reuse::ALL {
            drop(self.reuse.get_or_create(&CredentialLabels {
                credential: reuse.as_str(),
            }));
        }
    }

    /// Counts one request; `method` and `route` come from fixed sets ([`HTTP_METHODS`] or
    /// [`OTHER_METHOD`]; the route table or [`UNMATCHED_ROUTE`]).
    pub fn observe_request(
        &self,
        method: &'static str,
        route: &'static str,
        status: u16,
        elapsed: Duration,
    ) {
        let labels = RequestLabels {
            method,
            route,
            status,
        };
        self.requests.get_or_create(&labels).inc();
        self.latency
            .get_or_create(&labels)
            .observe(elapsed.as_secs_f64());
    }

    /// Counts one lookup in the in-process cache `cache`.
    pub fn cache_lookup(&self, cache: &'static str, hit: bool) {
        let result = if hit { "hit" } else { "miss" };
        self.cache_lookups
            .get_or_create(&CacheLabels { cache, result })
            .inc();
    }

    /// Another instance said the change feed moved (or the subscription was made again).
    pub fn change_notice_heard(&self) {
        self.change_notices.inc();
    }

    /// One successful token response: `grant_type` (RFC 6749 §4) and `client_type`
    /// (`confidential` or `public`, RFC 6749 §2.1) as their protocol names.
    pub fn token_issued(&self, grant_type: &'static str, client_type: &'static str) {
        self.tokens_issued
            .get_or_create(&TokenLabels {
                grant_type,
                client_type,
            })
            .inc();
    }

    /// One error response of the token endpoint, by its RFC error code.
    pub fn token_error(&self, error: &'static str) {
        self.token_errors
            .get_or_create(&ErrorLabels { error })
            .inc();
    }

    /// One failed client authentication at `endpoint` (`token`, `introspect`, `revoke`).
    pub fn client_auth_failed(&self, endpoint: &'static str) {
        self.client_auth_failures
            .get_or_create(&EndpointLabels { endpoint })
            .inc();
    }

    pub fn sign_in(&self, outcome: SignIn) {
        self.sign_ins
            .get_or_create(&OutcomeLabels {
                outcome: outcome.as_str(),
            })
            .inc();
    }

    pub fn reuse_detected(&self, credential: Reuse) {
        self.reuse
            .get_or_create(&CredentialLabels {
                credential: credential.as_str(),
            })
            .inc();
    }

    pub fn key_rotated(&self) {
        self.key_rotations.inc();
    }

    pub fn key_revoked(&self) {
        self.key_revocations.inc();
    }

    /// Records how long password checks wait for an argon2 slot and how long they compute;
    /// give it to the `PasswordHasher` (`with_timings`).
    pub fn password_timings(&self) -> PasswordTimings {
        let observer = |histogram: &Histogram| -> DurationObserver {
            let histogram = histogram.clone();
            Arc::new(move |took: Duration| histogram.observe(took.as_secs_f64()))
        };
        PasswordTimings {
            queue_wait: observer(&self.password_queue_wait),
            compute: observer(&self.password_hash),
        }
    }

    /// Makes the error series of `backend` exist at 0 before its first failure.
    pub fn backend_in_use(&self, backend: &'static str) {
        for failure in [BackendFailure::Timeout, BackendFailure::Error] {
            drop(self.backend_errors.get_or_create(&BackendLabels {
                backend,
                kind: failure.as_str(),
            }));
        }
    }

    /// One call to `backend`; `operation` is the store method's name.
    pub fn backend_call(&self, backend: &'static str, operation: &'static str) {
        self.backend_calls
            .get_or_create(&CallLabels { backend, operation })
            .inc();
    }

    /// One failed call to `backend` (`sqlite`, `postgres`, `memory`, `redis`).
    pub fn backend_error(&self, backend: &'static str, failure: BackendFailure) {
        self.backend_errors
            .get_or_create(&BackendLabels {
                backend,
                kind: failure.as_str(),
            })
            .inc();
    }

    /// The OpenMetrics text exposition, which Prometheus scrapes natively.
    pub fn render(&self) -> Result<String, std::fmt::Error> {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_info_and_the_fixed_sets_are_there_before_anything_happens() {
        let text = Metrics::default().render().unwrap_or_default();
        let version = env!("CARGO_PKG_VERSION");
        assert!(
            text.contains(&format!("gatehouse_build_info{{version=\"{version}\"}} 1")),
            "{text}"
        );
        assert!(text.contains(r#"gatehouse_sign_ins_total{outcome="throttled"} 0"#));
        assert!(text.contains(r#"gatehouse_reuse_detected_total{credential="refresh_token"} 0"#));
        assert!(text.contains("gatehouse_key_rotations_total 0"));
    }
}
