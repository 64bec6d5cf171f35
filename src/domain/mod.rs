//! Domain values that parse, so code past the edge never sees an unchecked string.

mod client;
mod origin;
mod role;
mod scope;
mod user;

pub use self::client::{
    ACCOUNT_CLIENT_ID, Audience, AuthMethod, Client, ClientId, ClientType, GrantType, RedirectUri,
};
pub use self::origin::WebOrigin;
pub use self::role::{ADMIN_READ_SCOPE, ADMIN_SCOPE, Role, Roles};
pub use self::scope::{Scope, ScopeSet};
pub use self::user::{Email, PasskeyName, RESERVED_CLAIMS, User, Username};
