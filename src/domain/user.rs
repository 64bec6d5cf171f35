//! People who sign in: their stable id (the OIDC `sub`), a unique username, an email and the
//! claims released to clients.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;
use uuid::Uuid;

/// A username, stored lower-cased so `Alice` and `alice` are one person: 1 to 64 characters of
/// `a-z`, `0-9` and `. _ - @ +`, starting with a letter or digit.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Username(String);

impl Username {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let name = raw.trim().to_lowercase();
        let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-@+".contains(c);
        if name.is_empty() || name.len() > 64 {
            return Err("a username has 1 to 64 characters".into());
        }
        if !name.chars().all(allowed) {
            return Err("a username uses only letters, digits and . _ - @ +".into());
        }
        if !name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
            return Err("a username starts with a letter or a digit".into());
        }
        Ok(Self(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Username {
    type Error = String;
    fn try_from(value: String) -> Result<Self, String> {
        Self::parse(&value)
    }
}

impl From<Username> for String {
    fn from(value: Username) -> Self {
        value.0
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An email address in the form RFC 5321 §4.1.2 allows for a mailbox on a domain (no quoted
/// local parts, no address literals), at most 254 characters; the domain is lower-cased.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        let invalid = || "not an email address (name@example.com)".to_owned();
        let (local, domain) = raw.rsplit_once('@').ok_or_else(invalid)?;
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..")
            && local
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c));
        let domain = domain.to_ascii_lowercase();
        let labels: Vec<&str> = domain.split('.').collect();
        let domain_ok = labels.len() >= 2
            && labels.iter().all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            });
        if !local_ok || !domain_ok || raw.len() > 254 {
            return Err(invalid());
        }
        Ok(Self(format!("{local}@{domain}")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Email {
    type Error = String;
    fn try_from(value: String) -> Result<Self, String> {
        Self::parse(&value)
    }
}

impl From<Email> for String {
    fn from(value: Email) -> Self {
        value.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Claims Gatehouse derives itself: a user's own claims may never set or override them.
pub const RESERVED_CLAIMS: &[&str] = &[
    "iss",
    "sub",
    "aud",
    "exp",
    "iat",
    "nbf",
    "jti",
    "auth_time",
    "nonce",
    "azp",
    "at_hash",
    "c_hash",
    "acr",
    "amr",
    "sid",
    "scope",
    "client_id",
    "email",
    "email_verified",
    "name",
    "preferred_username",
    "updated_at",
];

/// A person. `id` is the `sub` of every token about them: random, stable and never reused.
#[derive(Clone, PartialEq, Serialize)]
pub struct User {
    pub id: Uuid,
    pub username: Username,
    pub email: Option<Email>,
    pub email_verified: bool,
    pub display_name: Option<String>,
    /// The argon2id PHC string; `None` for a user who cannot sign in with a password.
    #[serde(skip)]
    pub password_hash: Option<String>,
    /// Further claims released with the `profile` scope.
    pub claims: Map<String, Value>,
    pub disabled: bool,
    /// What the person may do to Gatehouse itself (`admin`, `auditor`).
    pub roles: super::Roles,
    /// Bumped by every change; the admin API's `ETag`.
    #[serde(skip)]
    pub version: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl fmt::Debug for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("email", &self.email)
            .field("disabled", &self.disabled)
            .field("roles", &self.roles)
            .field(
                "password_hash",
                &self.password_hash.as_ref().map(|_| "[redacted]"),
            )
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_lower_cased_and_restricted() {
        assert_eq!(Username::parse(" Alice ").unwrap().as_str(), "alice");
        assert_eq!(
            Username::parse("a.b-c_d@e+f").unwrap().as_str(),
            "a.b-c_d@e+f"
        );
        for bad in ["", ".alice", "al ice", "ålice", "a\u{0}b", &"x".repeat(65)] {
            assert!(Username::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn emails_need_a_local_part_and_a_dotted_domain() {
        assert_eq!(
            Email::parse("Ann@Example.COM").unwrap().as_str(),
            "Ann@example.com"
        );
        for bad in [
            "ann",
            "@example.com",
            "ann@",
            "ann@localhost",
            "a..b@example.com",
            "a b@example.com",
            "ann@-x.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn a_users_debug_output_hides_the_hash() {
        let user = User {
            id: Uuid::nil(),
            username: Username::parse("ann").unwrap(),
            email: None,
            email_verified: false,
            display_name: None,
            password_hash: Some("$argon2id$v=19$secret".into()),
            claims: Map::new(),
            disabled: false,
            roles: crate::domain::Roles::default(),
            version: 1,
            created_at: OffsetDateTime::UNIX_EPOCH,
            updated_at: OffsetDateTime::UNIX_EPOCH,
        };
        assert!(!format!("{user:?}").contains("argon2id"));
    }
}

/// What a person calls one of their passkeys ("Laptop", "Security key"): 1 to 64 characters,
/// trimmed, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeyName(String);

impl PasskeyName {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let name = raw.trim();
        if name.is_empty() || name.chars().count() > 64 {
            return Err("a passkey's name has 1 to 64 characters".into());
        }
        if name.chars().any(char::is_control) {
            return Err("a passkey's name has no control characters".into());
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}
