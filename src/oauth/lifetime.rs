//! The lifetime every verifier demands of a token this issuer signed, whatever it claims: issued
//! no later than now, and living no longer than the longest Gatehouse issues for its kind. A
//! token forged with a leaked key and a one-year `exp` is refused even while the key is trusted
//! (RFC 8725 §3.10 asks verifiers to validate all claims; RFC 7519 §4.1.6: `iat` says when the
//! token was issued, so one "issued" in the future is not ours).

use crate::admin::clients::MAX_ACCESS_TOKEN_TTL_SECS;
use crate::oauth::id_token::ID_TOKEN_LIFETIME_SECS;

/// The kinds of token Gatehouse signs, each with the longest lifetime it issues.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// RFC 9068 access tokens: at most a client's cap (`MAX_ACCESS_TOKEN_TTL_SECS`), which also
    /// bounds `tokens.access_token_ttl_secs` and the test-mode mint's `expires_in`.
    Access,
    /// OIDC ID tokens (also as `id_token_hint`).
    Id,
}

impl TokenKind {
    /// The longest lifetime (`exp - iat`) Gatehouse gives this kind of token.
    pub fn max_lifetime_secs(self) -> i64 {
        match self {
            Self::Access => i64::from(MAX_ACCESS_TOKEN_TTL_SECS),
            Self::Id => ID_TOKEN_LIFETIME_SECS,
        }
    }
}

/// Why a token's `iat`/`exp` cannot be one Gatehouse issued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LifetimeError {
    #[error("no iat claim")]
    MissingIssuedAt,
    #[error("no exp claim")]
    MissingExpiry,
    #[error("iat is in the future")]
    IssuedInFuture,
    #[error("exp - iat exceeds the longest lifetime issued for this kind of token")]
    TooLong,
}

/// Checks `iat` and `exp` (unix seconds) against `now`, allowing `leeway_secs` of clock skew
/// between instances on both bounds. Whether the token has expired is the caller's decision
/// (an expired `id_token_hint` is still a fine hint).
pub fn check_lifetime(
    kind: TokenKind,
    iat: Option<i64>,
    exp: Option<i64>,
    now: i64,
    leeway_secs: u64,
) -> Result<(), LifetimeError> {
    let leeway = i64::try_from(leeway_secs).unwrap_or(i64::MAX);
    let iat = iat.ok_or(LifetimeError::MissingIssuedAt)?;
    let exp = exp.ok_or(LifetimeError::MissingExpiry)?;
    if iat > now.saturating_add(leeway) {
        return Err(LifetimeError::IssuedInFuture);
    }
    if exp.saturating_sub(iat) > kind.max_lifetime_secs().saturating_add(leeway) {
        return Err(LifetimeError::TooLong);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_700_000_000;
    const DAY: i64 = 86_400;

    fn check(kind: TokenKind, iat: i64, exp: i64) -> Result<(), LifetimeError> {
        check_lifetime(kind, Some(iat), Some(exp), NOW, 30)
    }

    #[test]
    fn tokens_as_gatehouse_issues_them_pass() {
        assert_eq!(check(TokenKind::Access, NOW, NOW + 900), Ok(()));
        assert_eq!(check(TokenKind::Access, NOW - 10, NOW + DAY - 10), Ok(()));
        assert_eq!(check(TokenKind::Id, NOW, NOW + 300), Ok(()));
        // long expired: the lifetime is fine, expiry is the caller's to judge
        assert_eq!(check(TokenKind::Id, NOW - DAY, NOW - DAY + 300), Ok(()));
    }

    #[test]
    fn an_iat_in_the_future_is_refused_beyond_the_leeway() {
        assert_eq!(check(TokenKind::Access, NOW + 30, NOW + 930), Ok(()));
        assert_eq!(
            check(TokenKind::Access, NOW + 31, NOW + 931),
            Err(LifetimeError::IssuedInFuture)
        );
        assert_eq!(
            check_lifetime(TokenKind::Access, Some(NOW + 1), Some(NOW + 900), NOW, 0),
            Err(LifetimeError::IssuedInFuture)
        );
    }

    #[test]
    fn a_lifetime_longer_than_issued_is_refused_beyond_the_leeway() {
        assert_eq!(check(TokenKind::Access, NOW, NOW + DAY + 30), Ok(()));
        assert_eq!(
            check(TokenKind::Access, NOW, NOW + DAY + 31),
            Err(LifetimeError::TooLong)
        );
        assert_eq!(
            check(TokenKind::Access, NOW, NOW + 365 * DAY),
            Err(LifetimeError::TooLong)
        );
        assert_eq!(
            check(TokenKind::Id, NOW, NOW + 331),
            Err(LifetimeError::TooLong)
        );
    }

    #[test]
    fn missing_claims_and_extreme_values_are_refused_without_overflow() {
        assert_eq!(
            check_lifetime(TokenKind::Access, None, Some(NOW + 60), NOW, 30),
            Err(LifetimeError::MissingIssuedAt)
        );
        assert_eq!(
            check_lifetime(TokenKind::Id, Some(NOW), None, NOW, 30),
            Err(LifetimeError::MissingExpiry)
        );
        assert_eq!(
            check(TokenKind::Access, i64::MIN, i64::MAX),
            Err(LifetimeError::TooLong)
        );
        assert_eq!(
            check(TokenKind::Access, i64::MAX, i64::MAX),
            Err(LifetimeError::IssuedInFuture)
        );
        assert_eq!(
            check_lifetime(TokenKind::Access, Some(NOW), Some(NOW + 60), NOW, u64::MAX),
            Ok(())
        );
    }
}
