//! Cryptography in one place: random values, digests, sealing at rest, signing keys and JWS.

mod jws;
mod password;
mod random;
mod seal;
mod secret;
mod signing_key;
mod verifying_key;

use std::fmt;

use serde::{Deserialize, Serialize};

pub use self::jws::sign_jwt;
pub use self::password::{
    DurationObserver, Password, PasswordError, PasswordHasher, PasswordTimings, Verification,
};
pub use self::random::{random_bytes, random_token};
pub use self::seal::{KeyEncryptionKey, SealError};
pub use self::secret::PlainSecret;
pub use self::signing_key::{SigningKey, SigningKeyError};
pub use self::verifying_key::VerifyingKey;

/// A JWS signing algorithm the key ring can hold (RFC 7518 §3.1, RFC 8037 §3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum SigningAlgorithm {
    /// ECDSA P-256 with SHA-256: the default for access tokens (fast to sign and verify).
    #[serde(rename = "ES256")]
    Es256,
    /// RSASSA-PKCS1-v1_5 with SHA-256: the algorithm every OIDC relying party must accept.
    #[serde(rename = "RS256")]
    Rs256,
    /// Ed25519.
    #[serde(rename = "EdDSA")]
    EdDsa,
}

impl SigningAlgorithm {
    pub const ALL: [Self; 3] = [Self::Es256, Self::Rs256, Self::EdDsa];

    /// The JOSE `alg` name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Es256 => "ES256",
            Self::Rs256 => "RS256",
            Self::EdDsa => "EdDSA",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|alg| alg.as_str() == name)
    }
}

impl fmt::Display for SigningAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for SigningAlgorithm {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s).ok_or_else(|| format!("unknown algorithm `{s}` (use ES256, RS256 or EdDSA)"))
    }
}

/// SHA-256 of `data`: how codes, refresh tokens and client secrets are stored and looked up.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data);
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

/// SHA-256 of `data` in lower-case hex: how secrets appear in ephemeral-store keys.
pub fn sha256_hex(data: &[u8]) -> String {
    sha256(data).iter().map(|b| format!("{b:02x}")).collect()
}

/// Compares two byte strings in constant time (for secrets, digests and PKCE verifiers).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    aws_lc_rs::constant_time::verify_slices_are_equal(a, b).is_ok()
}
