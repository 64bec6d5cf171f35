//! Access tokens whose signature this instance has checked already. A resource server
//! introspects the same token for each request it serves with it, for the token's whole
//! lifetime (RFC 7662 §4 expects it to be asked often); checking an ES256 signature costs more
//! than the rest of the introspection together. A token seen before, byte for byte, is found
//! here by its SHA-256 digest instead.
//!
//! Only the signature and the parsing are remembered, never the verdict: on every use the
//! signing key must still be trusted (a revoked key fails every token it signed at once, on
//! every instance that has heard of the revocation), and the caller checks issuer, lifetime,
//! expiry and revocation again as for a token never seen.

use std::sync::Arc;
use std::time::Duration;

use super::tokens::{AccessTokenClaims, TokenRejection};
use crate::crypto::sha256;
use crate::current::ReadThrough;
use crate::telemetry::Metrics;

/// The parts of a verified token that a later use needs.
#[derive(Debug)]
pub struct Verified {
    /// The key that signed it: still trusted at each use, or the token is refused.
    pub kid: String,
    pub claims: AccessTokenClaims,
}

/// Bounded by `cache.max_verified_tokens`; entries are dropped after `ttl` (at most the
/// longest access-token lifetime matters: an expired token is refused whatever is kept).
#[derive(Debug)]
pub struct VerifiedTokens(ReadThrough<[u8; 32], Verified>);

impl VerifiedTokens {
    pub fn new(capacity: usize, ttl: Duration) -> Self {
        Self(ReadThrough::new("verified_tokens", capacity, ttl))
    }

    /// The token as verified before, or as `verify` verifies it now (kept only if it passed).
    pub async fn get<F, Fut>(
        &self,
        metrics: &Metrics,
        token: &str,
        verify: F,
    ) -> Result<Arc<Verified>, TokenRejection>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Verified, TokenRejection>>,
    {
        self.0.get(metrics, &sha256(token.as_bytes()), verify).await
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}
