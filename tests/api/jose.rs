//! Building and taking apart compact JWTs by hand, to forge what a real client never would.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use gatehouse::crypto::{SigningAlgorithm, SigningKey};
use serde_json::Value;

/// A fresh ES256 key that is not the server's.
pub fn es256_key() -> SigningKey {
    SigningKey::generate(SigningAlgorithm::Es256).unwrap().0
}

pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn unb64(segment: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(segment).unwrap()
}

/// The JSON of segment `index` (0 = header, 1 = payload) of a compact JWT.
pub fn segment(token: &str, index: usize) -> Value {
    serde_json::from_slice(&unb64(token.split('.').nth(index).unwrap())).unwrap()
}

/// `header.payload.signature`, where `sign` gets the signing input.
pub fn forge(header: &Value, claims: &Value, sign: impl FnOnce(&[u8]) -> Vec<u8>) -> String {
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let signature = sign(input.as_bytes());
    format!("{input}.{}", b64(&signature))
}

/// `token` with its payload replaced and its original signature kept.
pub fn with_payload(token: &str, claims: &Value) -> String {
    let parts: Vec<&str> = token.split('.').collect();
    format!(
        "{}.{}.{}",
        parts[0],
        b64(claims.to_string().as_bytes()),
        parts[2]
    )
}
