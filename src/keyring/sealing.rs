//! Sealing other records at rest under the key ring's key-encryption key, each under a sub-key
//! bound to a purpose and a context, so a blob sealed for one purpose or record opens for no
//! other, and nobody without the KEK can open it whatever else they know.

use super::KeyRing;
use crate::crypto::SealError;

impl KeyRing {
    /// Seals `plaintext` under the sub-key of `purpose` and `context` (e.g. a caller and the key
    /// it chose), with `purpose` as associated data.
    pub fn seal_for(
        &self,
        purpose: &str,
        context: &[&[u8]],
        plaintext: &[u8],
    ) -> Result<Vec<u8>, SealError> {
        self.kek
            .derive(purpose, context)?
            .seal(purpose.as_bytes(), plaintext)
    }

    /// Opens what [`KeyRing::seal_for`] sealed with the same `purpose` and `context`.
    pub fn open_for(
        &self,
        purpose: &str,
        context: &[&[u8]],
        sealed: &[u8],
    ) -> Result<Vec<u8>, SealError> {
        self.kek
            .derive(purpose, context)?
            .open(purpose.as_bytes(), sealed)
    }
}
