//! RFC 6749 §3.3: `scope = scope-token *( SP scope-token )`,
//! `scope-token = 1*( %x21 / %x23-5B / %x5D-7E )`.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

/// One scope token.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Scope(String);

/// The longest scope token accepted; real ones are short.
const MAX_SCOPE_LEN: usize = 128;

impl Scope {
    pub fn parse(s: &str) -> Result<Self, String> {
        if s.is_empty() || s.len() > MAX_SCOPE_LEN {
            return Err(format!("a scope has 1 to {MAX_SCOPE_LEN} characters"));
        }
        let allowed = |b: u8| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b);
        if !s.bytes().all(allowed) {
            return Err(
                "a scope has only printable ASCII characters other than space, `\"` and `\\`"
                    .into(),
            );
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Scope {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Self::parse(&s)
    }
}

impl From<Scope> for String {
    fn from(scope: Scope) -> Self {
        scope.0
    }
}

/// A set of scopes, kept sorted so it prints and compares canonically.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScopeSet(BTreeSet<Scope>);

impl ScopeSet {
    /// Parses the space-delimited form of a `scope` parameter. Empty means no scope.
    pub fn parse_delimited(s: &str) -> Result<Self, String> {
        if s.starts_with(' ') || s.ends_with(' ') || s.contains("  ") {
            return Err("scopes are separated by single spaces".into());
        }
        s.split(' ')
            .filter(|token| !token.is_empty())
            .map(Scope::parse)
            .collect::<Result<BTreeSet<_>, _>>()
            .map(Self)
    }

    pub fn from_scopes(scopes: impl IntoIterator<Item = Scope>) -> Self {
        Self(scopes.into_iter().collect())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn is_subset(&self, other: &ScopeSet) -> bool {
        self.0.is_subset(&other.0)
    }

    pub fn contains(&self, scope: &str) -> bool {
        self.0.iter().any(|s| s.as_str() == scope)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Scope> {
        self.0.iter()
    }

    /// The space-delimited form for a `scope` parameter or claim.
    pub fn to_delimited(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, scope) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            f.write_str(scope.as_str())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_tokens_follow_rfc_6749_section_3_3() {
        assert!(Scope::parse("read:orders").is_ok());
        assert!(Scope::parse("gatehouse:admin").is_ok());
        for bad in ["", "a b", "quote\"d", "back\\slash", "tab\t", "é"] {
            assert!(Scope::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_scope_parameter_is_a_sorted_set() {
        let set = ScopeSet::parse_delimited("write read write").unwrap();
        assert_eq!(set.to_delimited(), "read write");
        assert!(ScopeSet::parse_delimited("read  write").is_err());
        assert!(ScopeSet::parse_delimited(" read").is_err());
        assert!(ScopeSet::parse_delimited("").unwrap().is_empty());
    }

    #[test]
    fn subsets() {
        let allowed = ScopeSet::parse_delimited("a b c").unwrap();
        assert!(
            ScopeSet::parse_delimited("a c")
                .unwrap()
                .is_subset(&allowed)
        );
        assert!(
            !ScopeSet::parse_delimited("a d")
                .unwrap()
                .is_subset(&allowed)
        );
    }
}
