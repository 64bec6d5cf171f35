//! Where the key-encryption key comes from: `keys.encryption_key` in the configuration, or, for
//! the embedded default only, a local file created with mode 0600 on first start.

use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::Path;

use super::KeyRingError;
use crate::config::{EncryptionKey, KeySettings};
use crate::crypto::{KeyEncryptionKey, random_bytes};

/// Resolves the KEK. A missing one is created only when there is nothing it could fail to open:
/// replacing the KEK of existing keys would silently make a new key ring, so that is an error.
pub fn resolve(
    settings: &KeySettings,
    embedded: bool,
    keys_exist: bool,
) -> Result<KeyEncryptionKey, KeyRingError> {
    let key = match (&settings.encryption_key, embedded) {
        (Some(key), _) => key.clone(),
        (None, false) => return Err(KeyRingError::KekRequired),
        (None, true) => read_or_create(&settings.encryption_key_file, keys_exist)?,
    };
    KeyEncryptionKey::new(&key).map_err(|_| KeyRingError::KekRequired)
}

fn read_or_create(path: &Path, keys_exist: bool) -> Result<EncryptionKey, KeyRingError> {
    let file_error = |problem: String| KeyRingError::KekFile {
        path: path.display().to_string(),
        problem,
    };
    match std::fs::read_to_string(path) {
        Ok(text) => {
            if let Ok(meta) = std::fs::metadata(path)
                && meta.permissions().mode() & 0o077 != 0
            {
                tracing::warn!(path = %path.display(), "key-encryption key file is readable by others; chmod 600 it");
            }
            text.trim().parse().map_err(file_error)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if keys_exist {
                return Err(file_error(
                    "is missing, but the database holds signing keys sealed under it; restore the \
                     file or set keys.encryption_key"
                        .into(),
                ));
            }
            let key = EncryptionKey::from_bytes(random_bytes::<32>());
            write_new(path, &key).map_err(|e| file_error(e.to_string()))?;
            tracing::info!(path = %path.display(), "created a key-encryption key for the embedded default");
            Ok(key)
        }
        Err(e) => Err(file_error(e.to_string())),
    }
}

fn write_new(path: &Path, key: &EncryptionKey) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    writeln!(file, "{}", key.to_base64())?;
    file.sync_all()
}
