//! The public half of a signing key, parsed once for verifying signatures: parsing a JWK into a
//! `DecodingKey` costs more than checking one ES256 signature, so the ring does it when it loads
//! a key, never per token.

use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::de::DeserializeOwned;

use super::{SigningAlgorithm, SigningKey, SigningKeyError};

/// A parsed public key with the validation that goes with its algorithm.
pub struct VerifyingKey {
    kid: String,
    algorithm: SigningAlgorithm,
    decoding: DecodingKey,
    validation: Validation,
}

impl VerifyingKey {
    /// The verifying half of `key`, from its published JWK (so what verifies is exactly what
    /// resource servers see in the JWKS).
    pub fn from_signing_key(key: &SigningKey) -> Result<Self, SigningKeyError> {
        let unparsable = || SigningKeyError::Parse(key.algorithm());
        let jwk: Jwk =
            serde_json::from_value(key.public_jwk().clone()).map_err(|_| unparsable())?;
        let decoding = DecodingKey::from_jwk(&jwk).map_err(|_| unparsable())?;
        let mut validation = Validation::new(jwt_algorithm(key.algorithm()));
        // Claims are the caller's to check: each kind of token has its own rules.
        validation.validate_exp = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        Ok(Self {
            kid: key.kid().to_owned(),
            algorithm: key.algorithm(),
            decoding,
            validation,
        })
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn algorithm(&self) -> SigningAlgorithm {
        self.algorithm
    }

    /// The `alg` header value (RFC 7518 §3.1) this key verifies.
    pub fn jwt_algorithm(&self) -> Algorithm {
        jwt_algorithm(self.algorithm)
    }

    /// Checks the signature of `token` (only with this key's algorithm) and returns its claims.
    pub fn decode<C: DeserializeOwned>(
        &self,
        token: &str,
    ) -> Result<C, jsonwebtoken::errors::Error> {
        jsonwebtoken::decode::<C>(token, &self.decoding, &self.validation).map(|data| data.claims)
    }
}

impl std::fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifyingKey")
            .field("kid", &self.kid)
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

fn jwt_algorithm(algorithm: SigningAlgorithm) -> Algorithm {
    match algorithm {
        SigningAlgorithm::Es256 => Algorithm::ES256,
        SigningAlgorithm::Rs256 => Algorithm::RS256,
        SigningAlgorithm::EdDsa => Algorithm::EdDSA,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::sign_jwt;

    #[test]
    fn a_parsed_key_verifies_what_its_signing_key_signed_for_every_algorithm() {
        for alg in SigningAlgorithm::ALL {
            let (key, _) = SigningKey::generate(alg).unwrap();
            let verifying = VerifyingKey::from_signing_key(&key).unwrap();
            let token = sign_jwt(&key, "JWT", &serde_json::json!({"sub": "s"})).unwrap();
            let claims: serde_json::Value = verifying.decode(&token).unwrap();
            assert_eq!(claims["sub"], "s");
            assert_eq!(verifying.kid(), key.kid());

            let (other, _) = SigningKey::generate(alg).unwrap();
            let forged = sign_jwt(&other, "JWT", &serde_json::json!({"sub": "s"})).unwrap();
            assert!(verifying.decode::<serde_json::Value>(&forged).is_err());
        }
    }
}
