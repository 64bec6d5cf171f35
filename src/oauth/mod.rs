//! The protocol: pure decisions over typed requests. No actix types and no SQL here; every
//! decision takes `now`.

pub mod authorize;
pub mod client_auth;
pub mod codes;
pub mod discovery;
mod error;
pub mod grants;
pub mod id_token;
pub mod interaction;
pub mod introspect;
pub mod lifetime;
pub mod logout;
pub mod pkce;
pub mod redirect_uri;
mod request;
pub mod revoke;
pub mod throttle;
pub mod token;
pub mod tokens;
pub mod userinfo;
pub mod verified;

pub use self::error::{BackendFailure, ErrorCode, OAuthError, RETRY_AFTER_SECS};
pub use self::request::{BasicCredentials, FormRequest, MAX_FORM_BYTES};

use time::OffsetDateTime;

use self::client_auth::ClientAuthContext;
use crate::state::AppState;

impl AppState {
    /// What client authentication needs from the state, at `now`.
    pub fn client_auth(
        &self,
        now: OffsetDateTime,
        from: std::net::IpAddr,
    ) -> ClientAuthContext<'_> {
        ClientAuthContext {
            from,
            recent_failures: &self.client_auth_failures,
            limits: self.settings.client_auth.limits(),
            db: self.db.as_ref(),
            clients: &self.current.clients,
            metrics: &self.metrics,
            ephemeral: self.ephemeral.as_ref(),
            audiences: [self.issuer.as_str(), &self.endpoints.token],
            max_assertion_lifetime: std::time::Duration::from_secs(
                self.settings.tokens.client_assertion_max_lifetime_secs,
            ),
            now,
        }
    }

    /// Counts a failed client authentication (`invalid_client`) at `endpoint`; other errors
    /// (a malformed request, a backend outage) are not authentication failures.
    pub(crate) fn count_client_auth_failure(&self, endpoint: &'static str, error: &OAuthError) {
        if error.code == ErrorCode::InvalidClient {
            self.metrics.client_auth_failed(endpoint);
        }
    }
}
