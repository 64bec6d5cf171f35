//! Proof Key for Code Exchange (RFC 7636), `S256` only: `plain` would hand the verifier to
//! anyone who sees the authorization request (RFC 9700 §2.1.1).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::crypto::{constant_time_eq, sha256};

/// RFC 7636 §4.1: 43 to 128 characters from the unreserved set.
fn is_pkce_string(s: &str) -> bool {
    (43..=128).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// Checks the challenge of an authorization request (RFC 7636 §4.3). A missing method means
/// `plain` (§4.3), which is refused.
pub fn check_challenge(
    challenge: Option<&str>,
    method: Option<&str>,
) -> Result<String, &'static str> {
    let challenge = challenge.ok_or("code_challenge is required (PKCE with S256)")?;
    match method {
        Some("S256") => {}
        Some("plain") | None => {
            return Err("code_challenge_method must be S256; plain is not accepted");
        }
        Some(_) => return Err("unsupported code_challenge_method; use S256"),
    }
    // S256 challenges are base64url(SHA-256): exactly 43 characters.
    if challenge.len() != 43 || !is_pkce_string(challenge) {
        return Err("code_challenge is not a base64url SHA-256 value");
    }
    Ok(challenge.to_owned())
}

/// RFC 7636 §4.6: `BASE64URL(SHA256(verifier)) == challenge`, compared in constant time.
pub fn verifier_matches(verifier: &str, challenge: &str) -> bool {
    is_pkce_string(verifier)
        && constant_time_eq(
            URL_SAFE_NO_PAD
                .encode(sha256(verifier.as_bytes()))
                .as_bytes(),
            challenge.as_bytes(),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 7636 Appendix B
    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    #[test]
    fn the_rfc_example_verifies() {
        assert_eq!(
            check_challenge(Some(CHALLENGE), Some("S256")),
            Ok(CHALLENGE.to_owned())
        );
        assert!(verifier_matches(VERIFIER, CHALLENGE));
        assert!(!verifier_matches(
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXK",
            CHALLENGE
        ));
        assert!(!verifier_matches("short", CHALLENGE));
    }

    #[test]
    fn plain_and_missing_methods_are_refused() {
        assert!(check_challenge(Some(CHALLENGE), Some("plain")).is_err());
        assert!(check_challenge(Some(CHALLENGE), None).is_err());
        assert!(check_challenge(None, Some("S256")).is_err());
        assert!(check_challenge(Some("too-short"), Some("S256")).is_err());
    }
}
