//! What a person may do to Gatehouse itself: `admin` (everything the `/v1` API and the CLI do)
//! or `auditor` (read everything, change nothing). A role is held by a person, not a client:
//! the admin API's scopes reach a person's token only when the person holds the role at the
//! moment the token is issued (and again at every refresh), and the API checks the role again
//! on every request, so taking it away ends the person's administration at once.

use serde::{Deserialize, Serialize};

use super::ScopeSet;

/// The scope a token needs for every `/v1` endpoint.
pub const ADMIN_SCOPE: &str = "gatehouse:admin";
/// The scope a token needs for the read-only `/v1` endpoints.
pub const ADMIN_READ_SCOPE: &str = "gatehouse:admin:read";

/// One role a person may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Everything: clients, users, keys, grants.
    Admin,
    /// Every read, no change.
    Auditor,
}

impl Role {
    pub const ALL: [Role; 2] = [Role::Admin, Role::Auditor];

    pub fn parse(raw: &str) -> Result<Self, String> {
        match raw.trim() {
            "admin" => Ok(Role::Admin),
            "auditor" => Ok(Role::Auditor),
            other => Err(format!(
                "no role {other:?}: the roles are admin and auditor"
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Auditor => "auditor",
        }
    }

    fn bit(self) -> u8 {
        1 << self as u8
    }
}

/// The roles one person holds, in a fixed order; stored as the list of their names.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "Vec<Role>", into = "Vec<Role>")]
pub struct Roles(u8);

impl Roles {
    pub fn contains(self, role: Role) -> bool {
        self.0 & role.bit() != 0
    }

    pub fn with(self, role: Role) -> Self {
        Self(self.0 | role.bit())
    }

    pub fn without(self, role: Role) -> Self {
        Self(self.0 & !role.bit())
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn iter(self) -> impl Iterator<Item = Role> {
        Role::ALL.into_iter().filter(move |r| self.contains(*r))
    }

    /// Whether these roles may change things through the admin API.
    pub fn may_change(self) -> bool {
        self.contains(Role::Admin)
    }

    /// Whether these roles may read through the admin API.
    pub fn may_read(self) -> bool {
        self.contains(Role::Admin) || self.contains(Role::Auditor)
    }

    /// `scope` without the admin API's scopes these roles do not reach: what a token for a
    /// person holding them may carry.
    pub fn cut(self, scope: &ScopeSet) -> ScopeSet {
        ScopeSet::from_scopes(
            scope
                .iter()
                .filter(|s| match s.as_str() {
                    ADMIN_SCOPE => self.may_change(),
                    ADMIN_READ_SCOPE => self.may_read(),
                    _ => true,
                })
                .cloned(),
        )
    }
}

impl std::fmt::Debug for Roles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl From<Vec<Role>> for Roles {
    fn from(roles: Vec<Role>) -> Self {
        roles.into_iter().fold(Self::default(), Self::with)
    }
}

impl From<Roles> for Vec<Role> {
    fn from(roles: Roles) -> Self {
        roles.iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_scopes_reach_only_the_roles_that_hold_them() {
        let asked =
            ScopeSet::parse_delimited("openid gatehouse:admin gatehouse:admin:read").unwrap();
        let cut = |roles: Roles| roles.cut(&asked).to_delimited();
        assert_eq!(cut(Roles::default()), "openid");
        assert_eq!(
            cut(Roles::default().with(Role::Auditor)),
            "gatehouse:admin:read openid"
        );
        assert_eq!(
            cut(Roles::default().with(Role::Admin)),
            asked.to_delimited()
        );
    }

    #[test]
    fn roles_read_and_write_as_their_names() {
        let roles = Roles::default().with(Role::Auditor).with(Role::Admin);
        assert_eq!(
            serde_json::to_string(&roles).unwrap(),
            r#"["admin","auditor"]"#
        );
        let read: Roles = serde_json::from_str(r#"["auditor"]"#).unwrap();
        assert!(read.contains(Role::Auditor) && !read.contains(Role::Admin));
        assert!(Role::parse("root").is_err());
        assert_eq!(
            roles.without(Role::Admin).iter().collect::<Vec<_>>(),
            [Role::Auditor]
        );
    }
}
