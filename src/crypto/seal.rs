//! Sealing at rest: AES-256-GCM under the key-encryption key (KEK), with a random 96-bit nonce
//! per seal and the record's identity as associated data, so a sealed blob moved onto another
//! record does not open.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::hmac;

use super::random_bytes;
use crate::config::EncryptionKey;

/// Format version byte, so the scheme can change without guessing.
const VERSION: u8 = 1;

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error(
        "the sealed key does not open: the key-encryption key is wrong or the data was altered"
    )]
    Open,
    #[error("sealing failed")]
    Seal,
}

/// Domain separation of derived keys from everything else the KEK does.
const DERIVE_LABEL: &[u8] = b"gatehouse derived sealing key v1";

pub struct KeyEncryptionKey {
    aead: LessSafeKey,
    /// The same key material as an HMAC key, to derive purpose-bound sub-keys from.
    derive: hmac::Key,
}

impl KeyEncryptionKey {
    pub fn new(key: &EncryptionKey) -> Result<Self, SealError> {
        let unbound = UnboundKey::new(&AES_256_GCM, key.bytes()).map_err(|_| SealError::Seal)?;
        Ok(Self {
            aead: LessSafeKey::new(unbound),
            derive: hmac::Key::new(hmac::HMAC_SHA256, key.bytes()),
        })
    }

    /// A sub-key for `purpose` and `context` (HMAC-SHA256 over them, each length-prefixed so
    /// no two inputs collide): whoever lacks this KEK cannot compute it, whatever else they know.
    pub fn derive(&self, purpose: &str, context: &[&[u8]]) -> Result<Self, SealError> {
        let mut mac = hmac::Context::with_key(&self.derive);
        mac.update(DERIVE_LABEL);
        for part in std::iter::once(purpose.as_bytes()).chain(context.iter().copied()) {
            let len = u64::try_from(part.len()).map_err(|_| SealError::Seal)?;
            mac.update(&len.to_be_bytes());
            mac.update(part);
        }
        let tag = mac.sign();
        let bytes: [u8; 32] = tag.as_ref().try_into().map_err(|_| SealError::Seal)?;
        Self::new(&EncryptionKey::from_bytes(bytes))
    }

    /// `version || nonce || ciphertext || tag`.
    pub fn seal(&self, associated: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, SealError> {
        let nonce_bytes = random_bytes::<NONCE_LEN>();
        let mut in_out = plaintext.to_vec();
        self.aead
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce_bytes),
                Aad::from(associated),
                &mut in_out,
            )
            .map_err(|_| SealError::Seal)?;
        let mut out = Vec::with_capacity(1 + NONCE_LEN + in_out.len());
        out.push(VERSION);
        out.extend_from_slice(&nonce_bytes);
        out.extend_from_slice(&in_out);
        Ok(out)
    }

    pub fn open(&self, associated: &[u8], sealed: &[u8]) -> Result<Vec<u8>, SealError> {
        let Some((&VERSION, rest)) = sealed.split_first() else {
            return Err(SealError::Open);
        };
        if rest.len() < NONCE_LEN {
            return Err(SealError::Open);
        }
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| SealError::Open)?;
        let mut in_out = ciphertext.to_vec();
        let plain = self
            .aead
            .open_in_place(nonce, Aad::from(associated), &mut in_out)
            .map_err(|_| SealError::Open)?;
        Ok(plain.to_vec())
    }
}

impl std::fmt::Debug for KeyEncryptionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyEncryptionKey([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kek(byte: u8) -> KeyEncryptionKey {
        KeyEncryptionKey::new(&EncryptionKey::from_bytes([byte; 32])).unwrap()
    }

    #[test]
    fn sealed_data_opens_with_the_same_key_and_context_only() {
        let sealed = kek(1).seal(b"kid-1", b"private key").unwrap();
        assert_eq!(kek(1).open(b"kid-1", &sealed).unwrap(), b"private key");
        assert!(matches!(
            kek(2).open(b"kid-1", &sealed),
            Err(SealError::Open)
        ));
        assert!(matches!(
            kek(1).open(b"kid-2", &sealed),
            Err(SealError::Open)
        ));
        assert!(matches!(
            kek(1).open(b"kid-1", &sealed[..10]),
            Err(SealError::Open)
        ));
    }

    #[test]
    fn a_derived_key_depends_on_the_kek_the_purpose_and_every_context_part() {
        let derived =
            |byte, purpose, context: &[&[u8]]| kek(byte).derive(purpose, context).unwrap();
        let sealed = derived(1, "p", &[b"a", b"b"]).seal(b"", b"secret").unwrap();
        assert_eq!(
            derived(1, "p", &[b"a", b"b"]).open(b"", &sealed).unwrap(),
            b"secret"
        );
        for other in [
            derived(2, "p", &[b"a", b"b"]),
            derived(1, "q", &[b"a", b"b"]),
            derived(1, "p", &[b"ab"]),
            derived(1, "p", &[b"a", b"c"]),
        ] {
            assert!(other.open(b"", &sealed).is_err());
        }
        assert!(kek(1).open(b"", &sealed).is_err(), "not the KEK itself");
    }
}
