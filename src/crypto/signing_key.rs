//! One signing key: generated here, kept parsed in memory (re-parsing a PKCS#8 key costs more than
//! an ES256 signature), published as a public JWK whose `kid` is its RFC 7638 thumbprint.

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, RSA_PKCS1_SHA256,
    RsaKeyPair,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use super::{SigningAlgorithm, sha256};

#[derive(Debug, thiserror::Error)]
pub enum SigningKeyError {
    #[error("generating a {0} key failed")]
    Generate(SigningAlgorithm),
    #[error("the stored {0} private key does not parse")]
    Parse(SigningAlgorithm),
    #[error("signing with key {0} failed")]
    Sign(String),
}

enum Pair {
    Es256(EcdsaKeyPair),
    Rs256(RsaKeyPair),
    EdDsa(Ed25519KeyPair),
}

/// A parsed private key with its public JWK. `Debug` shows only the `kid` and algorithm.
pub struct SigningKey {
    kid: String,
    algorithm: SigningAlgorithm,
    pair: Pair,
    public_jwk: Value,
}

impl SigningKey {
    /// A new key and its PKCS#8 DER encoding (to be sealed before it is stored).
    pub fn generate(algorithm: SigningAlgorithm) -> Result<(Self, Vec<u8>), SigningKeyError> {
        let rng = SystemRandom::new();
        let fail = |_| SigningKeyError::Generate(algorithm);
        let der = match algorithm {
            SigningAlgorithm::Es256 => {
                EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
                    .map_err(fail)?
                    .as_ref()
                    .to_vec()
            }
            SigningAlgorithm::EdDsa => Ed25519KeyPair::generate_pkcs8(&rng)
                .map_err(fail)?
                .as_ref()
                .to_vec(),
            SigningAlgorithm::Rs256 => RsaKeyPair::generate(KeySize::Rsa2048)
                .map_err(fail)?
                .as_der()
                .map_err(fail)?
                .as_ref()
                .to_vec(),
        };
        let key = Self::from_pkcs8(algorithm, &der)?;
        Ok((key, der))
    }

    pub fn from_pkcs8(algorithm: SigningAlgorithm, der: &[u8]) -> Result<Self, SigningKeyError> {
        let fail = |_| SigningKeyError::Parse(algorithm);
        let pair = match algorithm {
            SigningAlgorithm::Es256 => Pair::Es256(
                EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der).map_err(fail)?,
            ),
            SigningAlgorithm::Rs256 => Pair::Rs256(RsaKeyPair::from_pkcs8(der).map_err(fail)?),
            SigningAlgorithm::EdDsa => Pair::EdDsa(Ed25519KeyPair::from_pkcs8(der).map_err(fail)?),
        };
        let members = public_members(&pair).ok_or(SigningKeyError::Parse(algorithm))?;
        let kid = thumbprint(&members);
        let mut public_jwk = members;
        if let Value::Object(map) = &mut public_jwk {
            map.insert("kid".into(), Value::String(kid.clone()));
            map.insert("alg".into(), Value::String(algorithm.as_str().into()));
            map.insert("use".into(), Value::String("sig".into()));
        }
        Ok(Self {
            kid,
            algorithm,
            pair,
            public_jwk,
        })
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn algorithm(&self) -> SigningAlgorithm {
        self.algorithm
    }

    /// The public JWK (RFC 7517 §4): key members, `kid`, `alg`, `use: sig`; no private member.
    pub fn public_jwk(&self) -> &Value {
        &self.public_jwk
    }

    /// The JWS signature of `message` (RFC 7518 §3: ES256 as the 64-byte `R || S`).
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SigningKeyError> {
        let fail = |_| SigningKeyError::Sign(self.kid.clone());
        match &self.pair {
            Pair::Es256(pair) => Ok(pair
                .sign(&SystemRandom::new(), message)
                .map_err(fail)?
                .as_ref()
                .to_vec()),
            Pair::EdDsa(pair) => Ok(pair.sign(message).as_ref().to_vec()),
            Pair::Rs256(pair) => {
                let mut signature = vec![0; pair.public_modulus_len()];
                pair.sign(
                    &RSA_PKCS1_SHA256,
                    &SystemRandom::new(),
                    message,
                    &mut signature,
                )
                .map_err(fail)?;
                Ok(signature)
            }
        }
    }
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

/// The required public members of the JWK (RFC 7638 §3.2), in lexicographic order.
fn public_members(pair: &Pair) -> Option<Value> {
    let b64 = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
    match pair {
        Pair::Es256(pair) => {
            // uncompressed SEC1 point: 0x04 || X (32) || Y (32)
            let point = pair.public_key().as_ref();
            let (x, y) = point.get(1..)?.split_at_checked(32)?;
            Some(json!({"crv": "P-256", "kty": "EC", "x": b64(x), "y": b64(y)}))
        }
        Pair::EdDsa(pair) => {
            Some(json!({"crv": "Ed25519", "kty": "OKP", "x": b64(pair.public_key().as_ref())}))
        }
        Pair::Rs256(pair) => {
            let public = pair.public_key();
            Some(json!({
                "e": b64(public.exponent().big_endian_without_leading_zero()),
                "kty": "RSA",
                "n": b64(public.modulus().big_endian_without_leading_zero()),
            }))
        }
    }
}

/// RFC 7638 JWK thumbprint: SHA-256 over the required members serialised with no whitespace in
/// lexicographic order (serde_json's map keeps keys sorted).
fn thumbprint(members: &Value) -> String {
    URL_SAFE_NO_PAD.encode(sha256(members.to_string().as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_algorithm_generates_a_key_that_reparses_to_the_same_kid() {
        for alg in SigningAlgorithm::ALL {
            let (key, der) = SigningKey::generate(alg).unwrap();
            let again = SigningKey::from_pkcs8(alg, &der).unwrap();
            assert_eq!(key.kid(), again.kid());
            assert_eq!(key.public_jwk()["alg"], alg.as_str());
            assert!(key.public_jwk().get("d").is_none(), "no private member");
            assert!(!format!("{key:?}").contains(&URL_SAFE_NO_PAD.encode(&der)));
        }
    }

    #[test]
    fn thumbprint_matches_rfc_7638_example() {
        // RFC 7638 §3.1
        let members = json!({
            "e": "AQAB",
            "kty": "RSA",
            "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
        });
        assert_eq!(
            thumbprint(&members),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }
}
