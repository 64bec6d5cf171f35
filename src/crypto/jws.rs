//! JWS compact serialisation (RFC 7515 §7.1) with the key ring's parsed keys.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;

use super::{SigningKey, SigningKeyError};

/// Signs `claims` as a JWT with header `{"alg", "kid", "typ"}` (`typ` is e.g. `at+jwt` for
/// RFC 9068 access tokens, `JWT` for ID tokens).
pub fn sign_jwt<C: Serialize>(
    key: &SigningKey,
    typ: &str,
    claims: &C,
) -> Result<String, SigningKeyError> {
    #[derive(Serialize)]
    struct Header<'a> {
        alg: &'a str,
        kid: &'a str,
        typ: &'a str,
    }
    let header = Header {
        alg: key.algorithm().as_str(),
        kid: key.kid(),
        typ,
    };
    let unsignable = |_| SigningKeyError::Sign(key.kid().to_owned());
    let mut message = base64_json(&header).map_err(unsignable)?;
    message.push('.');
    message.push_str(&base64_json(claims).map_err(unsignable)?);
    let signature = key.sign(message.as_bytes())?;
    message.push('.');
    message.push_str(&URL_SAFE_NO_PAD.encode(signature));
    Ok(message)
}

fn base64_json<T: Serialize + ?Sized>(value: &T) -> serde_json::Result<String> {
    serde_json::to_vec(value).map(|json| URL_SAFE_NO_PAD.encode(json))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::SigningAlgorithm;
    use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header, jwk::Jwk};

    #[test]
    fn tokens_verify_against_the_published_jwk_for_every_algorithm() {
        for (alg, jwt_alg) in [
            (SigningAlgorithm::Es256, Algorithm::ES256),
            (SigningAlgorithm::Rs256, Algorithm::RS256),
            (SigningAlgorithm::EdDsa, Algorithm::EdDSA),
        ] {
            let (key, _) = SigningKey::generate(alg).unwrap();
            let token = sign_jwt(
                &key,
                "at+jwt",
                &serde_json::json!({"sub": "s", "exp": 4102444800u64}),
            )
            .unwrap();
            let header = decode_header(&token).unwrap();
            assert_eq!(header.kid.as_deref(), Some(key.kid()));
            assert_eq!(header.typ.as_deref(), Some("at+jwt"));
            let jwk: Jwk = serde_json::from_value(key.public_jwk().clone()).unwrap();
            let decoding = DecodingKey::from_jwk(&jwk).unwrap();
            let claims = decode::<serde_json::Value>(&token, &decoding, &Validation::new(jwt_alg))
                .unwrap()
                .claims;
            assert_eq!(claims["sub"], "s");
        }
    }
}
