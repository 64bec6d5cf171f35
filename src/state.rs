use std::sync::Arc;

use crate::clock::Clock;
use crate::config::{IssuerUrl, Settings};
use crate::crypto::PasswordHasher;
use crate::current::Current;
use crate::ephemeral::EphemeralStore;
use crate::keyring::KeyRing;
use crate::store::Database;
use crate::telemetry::Metrics;

/// Everything a request handler may use; built once in `startup`, registered once.
#[derive(Debug, Clone)]
pub struct AppState {
    pub settings: Arc<Settings>,
    pub issuer: IssuerUrl,
    pub endpoints: Endpoints,
    pub db: Arc<dyn Database>,
    pub ephemeral: Arc<dyn EphemeralStore>,
    pub keys: Arc<KeyRing>,
    /// What is true now: revocations and cached clients, followed from the change feed.
    pub current: Arc<Current>,
    /// argon2id behind its bulkhead, for human passwords only.
    pub passwords: PasswordHasher,
    pub clock: Arc<dyn Clock>,
    pub metrics: Arc<Metrics>,
    /// Who failed client authentication on this instance lately (src/oauth/throttle.rs).
    pub client_auth_failures: Arc<crate::oauth::throttle::RecentFailures>,
    /// Tells the other instances when this one wrote to the change feed, and hears them.
    pub notices: Arc<crate::current::ChangeNotices>,
    /// Access tokens whose signature was checked here already (src/oauth/verified.rs).
    pub verified_tokens: Arc<crate::oauth::verified::VerifiedTokens>,
    /// The discovery document, serialized once at start (src/oauth/discovery.rs).
    pub discovery: actix_web::web::Bytes,
    /// The WebAuthn relying party, when the issuer can be one (src/signin/passkey.rs).
    pub passkeys: Arc<crate::signin::passkey::Passkeys>,
}

/// The absolute URLs of the protocol endpoints, derived once from the issuer.
#[derive(Debug, Clone)]
pub struct Endpoints {
    pub authorization: String,
    pub token: String,
    pub userinfo: String,
    pub end_session: String,
    pub introspection: String,
    pub revocation: String,
    pub jwks: String,
}

impl Endpoints {
    pub fn for_issuer(issuer: &IssuerUrl) -> Self {
        let at = |path: &str| format!("{issuer}{path}");
        Self {
            authorization: at(crate::http::paths::AUTHORIZE),
            token: at(crate::http::paths::TOKEN),
            userinfo: at(crate::http::paths::USERINFO),
            end_session: at(crate::http::paths::END_SESSION),
            introspection: at(crate::http::paths::INTROSPECT),
            revocation: at(crate::http::paths::REVOKE),
            jwks: at(crate::http::paths::JWKS),
        }
    }
}
