//! Authorization codes (RFC 6749 §4.1.2, RFC 9700 §4.2.1): 256 random bits, stored under their
//! digest in the ephemeral store for 60 s, consumed by one atomic `take`. A consumed code leaves
//! a marker, so a replay is recognised and revokes what the code issued.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use super::authorize::AuthorizationRequest;
use crate::crypto::{random_token, sha256_hex};
use crate::ephemeral::{EphemeralError, EphemeralStore};
use crate::signin::methods::Methods;

/// How long a code may wait to be exchanged.
pub const CODE_LIFETIME: Duration = Duration::from_secs(60);
/// How long a consumed code is remembered, to recognise a replay.
const USED_MARKER_LIFETIME: Duration = Duration::from_secs(3600);

/// Everything a code is bound to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CodeGrant {
    pub request: AuthorizationRequest,
    pub user_id: Uuid,
    /// Unix seconds of the sign-in this code rests on (OIDC `auth_time`).
    pub auth_time: i64,
    /// How the person signed in (RFC 8176), for the ID token's `amr` and `acr`; a code stored
    /// before they were kept rests on a password.
    #[serde(default = "Methods::password")]
    pub methods: Methods,
    pub grant_id: Uuid,
    /// Shared by every token this code leads to, so a replay revokes them together.
    pub family_id: Uuid,
}

/// What the store holds. The expiry travels with the grant and is checked against the service's
/// `now`: the store's own TTL runs on its clock (Redis's), not on the one decisions use.
#[derive(Serialize, Deserialize)]
struct StoredCode {
    grant: CodeGrant,
    /// Unix seconds from which the code is refused.
    expires_at: i64,
}

/// What presenting a code found.
#[derive(Debug)]
pub enum Redemption {
    /// Live: unused when found, spent by this request when claimed.
    Fresh(Box<CodeGrant>),
    /// Used before: the family it started must be revoked.
    Replayed {
        grant_id: Uuid,
        family_id: Uuid,
    },
    Unknown,
}

/// A code is stored under its client as well as its digest: presented by another client it is
/// simply not there, so that client can neither consume it nor, once used, set off the
/// replay revocation that would end its rightful client's tokens (RFC 6749 §4.1.3: "ensure
/// that the authorization code was issued to the authenticated confidential client").
fn live_key(client_id: &str, code: &str) -> String {
    format!(
        "code:{}:{}",
        sha256_hex(client_id.as_bytes()),
        sha256_hex(code.as_bytes())
    )
}

fn used_key(client_id: &str, code: &str) -> String {
    format!(
        "code-used:{}:{}",
        sha256_hex(client_id.as_bytes()),
        sha256_hex(code.as_bytes())
    )
}

pub async fn issue_code(
    ephemeral: &dyn EphemeralStore,
    grant: &CodeGrant,
    now: OffsetDateTime,
) -> Result<String, EphemeralError> {
    let code = random_token();
    let stored = StoredCode {
        grant: grant.clone(),
        expires_at: (now + CODE_LIFETIME).unix_timestamp(),
    };
    let value = serde_json::to_vec(&stored).map_err(|e| EphemeralError::Backend(e.into()))?;
    ephemeral
        .put(
            &live_key(&grant.request.client_id, &code),
            &value,
            CODE_LIFETIME,
        )
        .await?;
    Ok(code)
}

/// Looks `code` up for `client_id` without spending it: `Fresh` while it is live and unused.
/// A code past its lifetime at `now`, or issued to another client, is `Unknown`, whatever the
/// store says. The caller then reads what it needs (so that a backend failure leaves the code
/// usable) and spends it with [`claim_code`] before deciding anything on what was presented.
pub async fn find_code(
    ephemeral: &dyn EphemeralStore,
    client_id: &str,
    code: &str,
    now: OffsetDateTime,
) -> Result<Redemption, EphemeralError> {
    if let Some(value) = ephemeral.get(&live_key(client_id, code)).await? {
        let StoredCode { grant, expires_at } =
            serde_json::from_slice(&value).map_err(|e| EphemeralError::Backend(e.into()))?;
        if now.unix_timestamp() >= expires_at {
            return Ok(Redemption::Unknown);
        }
        return Ok(Redemption::Fresh(Box::new(grant)));
    }
    let Some(marker) = ephemeral.get(&used_key(client_id, code)).await? else {
        return Ok(Redemption::Unknown);
    };
    let marker: Marker =
        serde_json::from_slice(&marker).map_err(|e| EphemeralError::Backend(e.into()))?;
    Ok(marker.replayed())
}

/// Spends a code [`find_code`] found live: `Fresh` if this call claimed it, `Replayed` if
/// another redemption did first.
///
/// The claim is the used-marker, set with one atomic `put_if_absent` before the code is
/// deleted: of two redemptions racing (two instances), exactly one claims it and the other
/// sees the claim and is a replay. Taking the code first and marking it after would leave a
/// moment in which the loser finds neither and no replay is detected.
pub async fn claim_code(
    ephemeral: &dyn EphemeralStore,
    client_id: &str,
    code: &str,
    grant: Box<CodeGrant>,
) -> Result<Redemption, EphemeralError> {
    let marker = Marker {
        grant_id: grant.grant_id,
        family_id: grant.family_id,
    };
    let marker_bytes =
        serde_json::to_vec(&marker).map_err(|e| EphemeralError::Backend(e.into()))?;
    if ephemeral
        .put_if_absent(
            &used_key(client_id, code),
            &marker_bytes,
            USED_MARKER_LIFETIME,
        )
        .await?
    {
        ephemeral.delete(&live_key(client_id, code)).await?;
        return Ok(Redemption::Fresh(grant));
    }
    Ok(marker.replayed())
}

/// What a used code leaves behind: enough to revoke what it issued.
#[derive(Serialize, Deserialize)]
struct Marker {
    grant_id: Uuid,
    family_id: Uuid,
}

impl Marker {
    fn replayed(self) -> Redemption {
        Redemption::Replayed {
            grant_id: self.grant_id,
            family_id: self.family_id,
        }
    }
}
