//! How a person proved who they are: the authentication method references of RFC 8176 (`amr`)
//! and the authentication context class they reach (`acr`, OIDC Core §2). A session records the
//! methods of its sign-in; an ID token carries them; a client or an authorization request that
//! asks for more steps the session up instead of starting it again.

use serde::{Deserialize, Serialize};

/// One RFC 8176 §2 method Gatehouse signs people in with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// A password.
    Pwd,
    /// A one-time password (TOTP, RFC 6238, or a recovery code).
    Otp,
    /// Proof of possession of a hardware-secured key (a passkey on a security key).
    Hwk,
    /// Proof of possession of a software-secured key (a synced passkey).
    Swk,
}

impl Method {
    const ALL: [Method; 4] = [Method::Pwd, Method::Otp, Method::Hwk, Method::Swk];

    fn bit(self) -> u8 {
        1 << self as u8
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Method::Pwd => "pwd",
            Method::Otp => "otp",
            Method::Hwk => "hwk",
            Method::Swk => "swk",
        }
    }
}

/// The methods of one sign-in, in RFC 8176 order. Stored as the list of their names, so a
/// session written before a method existed still reads.
#[derive(Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "Vec<Method>", into = "Vec<Method>")]
pub struct Methods(u8);

impl Methods {
    /// A password alone: what every sign-in recorded before methods were kept was.
    pub fn password() -> Self {
        Self::only(Method::Pwd)
    }

    pub fn only(method: Method) -> Self {
        Self(method.bit())
    }

    pub fn with(self, method: Method) -> Self {
        Self(self.0 | method.bit())
    }

    pub fn contains(self, method: Method) -> bool {
        self.0 & method.bit() != 0
    }

    fn iter(self) -> impl Iterator<Item = Method> {
        Method::ALL.into_iter().filter(move |m| self.contains(*m))
    }

    /// More than one factor (RFC 8176 §2 `mfa`): something known (the password) and something
    /// held (a one-time code's secret), or a passkey, which is used only with user verification
    /// (its PIN or biometric on top of the key held) and so is two factors by itself.
    pub fn is_multi_factor(self) -> bool {
        let key = self.contains(Method::Hwk) || self.contains(Method::Swk);
        key || (self.contains(Method::Pwd) && self.contains(Method::Otp))
    }

    /// The `amr` claim: the methods, and `mfa` when they make more than one factor.
    pub fn amr(self) -> Vec<&'static str> {
        let mut amr: Vec<&'static str> = self.iter().map(Method::as_str).collect();
        if self.is_multi_factor() {
            amr.push("mfa");
        }
        amr
    }

    /// The class of authentication these methods reach.
    pub fn acr(self) -> Acr {
        if self.is_multi_factor() {
            Acr::MultiFactor
        } else {
            Acr::Password
        }
    }
}

impl std::fmt::Debug for Methods {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl From<Vec<Method>> for Methods {
    fn from(methods: Vec<Method>) -> Self {
        methods.into_iter().fold(Self::default(), Self::with)
    }
}

impl From<Methods> for Vec<Method> {
    fn from(methods: Methods) -> Self {
        methods.iter().collect()
    }
}

/// The authentication context classes Gatehouse offers (OIDC Core §2 `acr`; listed in discovery
/// as `acr_values_supported`), weakest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Acr {
    /// A password alone.
    #[serde(rename = "urn:gatehouse:acr:password")]
    Password,
    /// A password and a second factor (RFC 8176 `mfa`).
    #[serde(rename = "urn:gatehouse:acr:mfa")]
    MultiFactor,
}

impl Acr {
    pub const SUPPORTED: [Acr; 2] = [Acr::Password, Acr::MultiFactor];

    pub fn as_str(self) -> &'static str {
        match self {
            Acr::Password => "urn:gatehouse:acr:password",
            Acr::MultiFactor => "urn:gatehouse:acr:mfa",
        }
    }

    fn parse(value: &str) -> Option<Self> {
        Self::SUPPORTED
            .into_iter()
            .find(|acr| acr.as_str() == value)
    }

    /// The class an authorization request's `acr_values` asks for (OIDC Core §3.1.2.1: values
    /// "in order of preference"): the first one Gatehouse offers; values it does not know are
    /// passed over, as the parameter is a request, not a demand (§5.5.1.1).
    pub fn requested(acr_values: &str) -> Option<Self> {
        acr_values.split(' ').find_map(Self::parse)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_alone_is_one_factor() {
        let methods = Methods::only(Method::Pwd);

        assert_eq!(methods.amr(), ["pwd"]);
        assert_eq!(methods.acr(), Acr::Password);
    }

    #[test]
    fn a_password_and_a_code_are_multi_factor() {
        let methods = Methods::only(Method::Pwd).with(Method::Otp);

        assert_eq!(methods.amr(), ["pwd", "otp", "mfa"]);
        assert_eq!(methods.acr(), Acr::MultiFactor);
    }

    #[test]
    fn methods_are_stored_as_their_names_and_read_back() {
        let methods = Methods::only(Method::Otp).with(Method::Pwd);

        let stored = serde_json::to_string(&methods).unwrap();

        assert_eq!(stored, r#"["pwd","otp"]"#);
        assert_eq!(serde_json::from_str::<Methods>(&stored).unwrap(), methods);
    }

    #[test]
    fn the_first_known_acr_value_is_the_one_requested() {
        assert_eq!(
            Acr::requested("urn:example:gold urn:gatehouse:acr:mfa urn:gatehouse:acr:password"),
            Some(Acr::MultiFactor)
        );
        assert_eq!(Acr::requested("urn:example:gold"), None);
        assert_eq!(Acr::requested(""), None);
    }
}
