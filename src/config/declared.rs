//! Declared clients and users (`[[clients]]`, `[[users]]`): the fields of the admin API's
//! bodies, applied at start and by `gatehouse apply FILE` (see `admin::declare`). Checked as a
//! whole at load, so a declaration the API would refuse stops the process before anything starts.

use std::fmt;
use std::path::Path;

use figment::Figment;
use figment::providers::{Format, Toml};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::{ConfigError, Settings};
use crate::crypto::{Password, PlainSecret};

/// The shortest fixed client secret: a test secret, but still no guessable one.
pub const MIN_FIXED_SECRET_CHARS: usize = 32;
/// The longest fixed client secret.
pub const MAX_FIXED_SECRET_BYTES: usize = 256;

/// A `[[clients]]` entry: a client with a fixed id, as `POST /v1/clients` takes it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeclaredClient {
    /// Checked like a new client's: never a UUID, the form of people's `sub` (RFC 9068 §5).
    pub client_id: String,
    pub name: String,
    #[serde(default)]
    pub public: bool,
    #[serde(default)]
    pub grant_types: Vec<String>,
    #[serde(default)]
    pub scopes: Vec<String>,
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    #[serde(default)]
    pub audiences: Vec<String>,
    pub token_endpoint_auth_method: Option<String>,
    pub access_token_ttl_secs: Option<u32>,
    pub id_token_signed_response_alg: Option<String>,
    pub jwks: Option<Value>,
    #[serde(default)]
    pub first_party: bool,
    /// Every sign-in to it needs a second factor (`urn:gatehouse:acr:mfa`, OIDC Core §2 `acr`).
    #[serde(default)]
    pub require_mfa: bool,
    /// For tests only: a fixed secret instead of a generated one.
    pub client_secret: Option<FixedSecret>,
}

/// A `[[users]]` entry, matched by username: the fields of `POST /v1/users`, with a password
/// or an argon2 PHC hash of one.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeclaredUser {
    pub username: String,
    pub email: Option<String>,
    #[serde(default)]
    pub email_verified: bool,
    pub display_name: Option<String>,
    #[serde(default)]
    pub claims: Map<String, Value>,
    #[serde(default)]
    pub disabled: bool,
    /// The roles the person holds (`admin`, `auditor`): exactly these when given; when left
    /// out, whatever roles were granted otherwise stay as they are.
    pub roles: Option<Vec<String>>,
    pub password: Option<DeclaredPassword>,
    pub password_hash: Option<PasswordHashString>,
}

/// Everything declared, in declaration order, and the `keys.algorithms` of the configuration
/// it is applied with: a client's `id_token_signed_response_alg` must be one of them.
#[derive(Debug, Clone, Default)]
pub struct Declarations {
    pub clients: Vec<DeclaredClient>,
    pub users: Vec<DeclaredUser>,
    pub signing_algorithms: Vec<crate::crypto::SigningAlgorithm>,
}

impl Declarations {
    pub fn is_empty(&self) -> bool {
        self.clients.is_empty() && self.users.is_empty()
    }
}

impl Settings {
    /// The `[[clients]]` and `[[users]]` of this configuration.
    pub fn declarations(&self) -> Declarations {
        Declarations {
            clients: self.clients.clone(),
            users: self.users.clone(),
            signing_algorithms: self.keys.algorithms.clone(),
        }
    }

    /// The declarations of `file` (`gatehouse apply FILE`): read as a configuration file of its
    /// own, without the environment, so any key of one is allowed (and checked) there, and only
    /// `[[clients]]` and `[[users]]` are kept. They are checked when applied, against the
    /// `keys.algorithms` of the configuration they are applied with (not the file's).
    pub fn load_declarations(file: &Path) -> Result<Declarations, ConfigError> {
        std::fs::read_to_string(file).map_err(|e| {
            ConfigError::new("FILE", format!("cannot read {}: {e}", file.display()))
        })?;
        let settings: Settings = Figment::new()
            .merge(Toml::file_exact(file))
            .extract()
            .map_err(ConfigError::from_figment)?;
        settings.validate_settings()?;
        Ok(settings.declarations())
    }

    /// Every declared object as the admin API would check it, naming the first one refused.
    pub(super) fn validate_declarations(&self) -> Result<(), ConfigError> {
        crate::admin::declare::check(&self.declarations())
            .map_err(|error| ConfigError::new(error.object.clone(), error.problem()))
    }
}

/// `client_secret`: 32 to 256 bytes without control characters. Never printed.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct FixedSecret(String);

impl FixedSecret {
    pub fn to_plain(&self) -> PlainSecret {
        PlainSecret::from_presented(self.0.clone())
    }
}

impl TryFrom<String> for FixedSecret {
    type Error = String;
    fn try_from(secret: String) -> Result<Self, Self::Error> {
        // Never echo the value: it is a secret.
        if secret.chars().count() < MIN_FIXED_SECRET_CHARS {
            return Err(format!(
                "a fixed client secret has at least {MIN_FIXED_SECRET_CHARS} characters"
            ));
        }
        if secret.len() > MAX_FIXED_SECRET_BYTES || secret.chars().any(char::is_control) {
            return Err(format!(
                "a fixed client secret has at most {MAX_FIXED_SECRET_BYTES} bytes and no \
                 control characters"
            ));
        }
        Ok(Self(secret))
    }
}

impl fmt::Debug for FixedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// `password`: checked against the password rules with the rest of the user. Never printed.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(from = "String")]
pub struct DeclaredPassword(String);

impl DeclaredPassword {
    pub fn to_password(&self) -> Password {
        Password::new(self.0.clone())
    }
}

impl From<String> for DeclaredPassword {
    fn from(password: String) -> Self {
        Self(password)
    }
}

impl fmt::Debug for DeclaredPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// `password_hash`: an argon2 PHC string (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`), stored as
/// it is. Never printed.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct PasswordHashString(String);

impl PasswordHashString {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for PasswordHashString {
    type Error = String;
    fn try_from(phc: String) -> Result<Self, Self::Error> {
        use argon2::password_hash::phc::PasswordHash;
        let invalid = || "is not an argon2 PHC string ($argon2id$v=19$m=…,t=…,p=…$salt$hash)";
        let hash = PasswordHash::new(&phc).map_err(|_| invalid())?;
        argon2::Algorithm::try_from(hash.algorithm.as_str()).map_err(|_| invalid())?;
        argon2::Version::try_from(hash.version.unwrap_or(0x13)).map_err(|_| invalid())?;
        argon2::Params::try_from(&hash).map_err(|_| invalid())?;
        if hash.salt.is_none() || hash.hash.is_none() {
            return Err(invalid().to_owned());
        }
        Ok(Self(phc))
    }
}

impl fmt::Debug for PasswordHashString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HASH: &str = "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0$\
                        KrQ1yNQwYaxqCHdRTbYZ4BUCVDE3fb9DsLKmDc+Fq2s";

    #[test]
    fn a_fixed_secret_has_32_characters_and_never_prints() {
        assert!(FixedSecret::try_from("x".repeat(31)).is_err());
        let secret = FixedSecret::try_from("s".repeat(32)).unwrap();
        assert_eq!(format!("{secret:?}"), "[redacted]");
        assert_eq!(secret.to_plain().expose(), "s".repeat(32));
        assert!(FixedSecret::try_from(format!("{}\n", "s".repeat(40))).is_err());
    }

    #[test]
    fn a_password_hash_must_be_an_argon2_phc_string() {
        assert!(PasswordHashString::try_from(HASH.to_owned()).is_ok());
        for bad in [
            "hunter22",
            "$2b$12$abcdefghijklmnopqrstuuMGS2bU1bM0oQ5kI7JCjVZC0dN7pq6Vq",
            "$scrypt$ln=4,r=8,p=1$c2FsdA$aGFzaA",
            "$argon2id$v=19$m=64,t=1,p=1",
        ] {
            assert!(
                PasswordHashString::try_from(bad.to_owned()).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn declared_secrets_never_appear_in_debug_output() {
        let user = DeclaredUser {
            username: "ann".into(),
            password: Some(DeclaredPassword::from("a long passphrase".to_owned())),
            password_hash: Some(PasswordHashString::try_from(HASH.to_owned()).unwrap()),
            ..DeclaredUser::default()
        };
        let client = DeclaredClient {
            client_secret: Some(FixedSecret::try_from("s3cr3t".repeat(6)).unwrap()),
            ..DeclaredClient::default()
        };
        let printed = format!("{user:?} {client:?}");
        assert!(!printed.contains("passphrase") && !printed.contains("argon2"));
        assert!(!printed.contains("s3cr3t"));
    }
}
