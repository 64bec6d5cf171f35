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
    Fresh(Box<CodeGrant>),
    /// Used before: the family it started must be revoked.
    Replayed {
        grant_id: Uuid,
        family_id: Uuid,
    },
    Unknown,
}

fn live_key(code: &str) -> String {
    format!("code:{}", sha256_hex(code.as_bytes()))
}

fn used_key(code: &str) -> String {
    format!("code-used:{}", sha256_hex(code.as_bytes()))
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
        .put(&live_key(&code), &value, CODE_LIFETIME)
        .await?;
    Ok(code)
}

/// Consumes `code`. A code past its lifetime at `now` is `Unknown`, whatever the store says.
pub async fn redeem_code(
    ephemeral: &dyn EphemeralStore,
    code: &str,
    now: OffsetDateTime,
) -> Result<Redemption, EphemeralError> {
    if let Some(value) = ephemeral.take(&live_key(code)).await? {
        let StoredCode { grant, expires_at } =
            serde_json::from_slice(&value).map_err(|e| EphemeralError::Backend(e.into()))?;
        if now.unix_timestamp() >= expires_at {
            return Ok(Redemption::Unknown);
        }
        let marker = serde_json::json!({"grant_id": grant.grant_id, "family_id": grant.family_id});
        ephemeral
            .put(
                &used_key(code),
                marker.to_string().as_bytes(),
                USED_MARKER_LIFETIME,
            )
            .await?;
        return Ok(Redemption::Fresh(Box::new(grant)));
    }
    let Some(marker) = ephemeral.get(&used_key(code)).await? else {
        return Ok(Redemption::Unknown);
    };
    #[derive(Deserialize)]
    struct Marker {
        grant_id: Uuid,
        family_id: Uuid,
    }
    let marker: Marker =
        serde_json::from_slice(&marker).map_err(|e| EphemeralError::Backend(e.into()))?;
    Ok(Redemption::Replayed {
        grant_id: marker.grant_id,
        family_id: marker.family_id,
    })
}
