//! A person's passkeys from their account page: registering one (the options for the page's
//! script, then the browser's answer), renaming, removing, listing.

use std::time::Duration;

use serde_json::json;
use time::OffsetDateTime;
use uuid::Uuid;
use webauthn_rs::prelude::{
    CreationChallengeResponse, PasskeyRegistration, RegisterPublicKeyCredential,
};

use super::usable_passkeys;
use crate::crypto::sha256_hex;
use crate::domain::{PasskeyName, User};
use crate::ephemeral::EphemeralError;
use crate::signin::enrol::{audit, regenerate_recovery_codes};
use crate::signin::recovery::RecoveryCode;
use crate::state::AppState;
use crate::store::{PASSKEY_CREDENTIAL_ID, StoreError, StoredPasskey};

/// How long a registration started on the account page waits for the browser (the
/// authenticator's own timeout is webauthn-rs's default, five minutes).
const REGISTRATION_LIFETIME: Duration = Duration::from_secs(600);

/// Why a change to a person's passkeys did not happen.
#[derive(Debug, thiserror::Error)]
pub enum PasskeyError {
    #[error("passkeys are off for this issuer")]
    Off,
    /// No registration waits for this session (answered already, or too late).
    #[error("no passkey registration waits")]
    NoCeremony,
    /// The authenticator's answer did not verify.
    #[error("the passkey did not verify: {0}")]
    Refused(String),
    /// This authenticator's credential is registered already (to this person or another).
    #[error("this passkey is registered already")]
    Duplicate,
    #[error("{0}")]
    InvalidName(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Ephemeral(#[from] EphemeralError),
    #[error("a passkey ceremony could not be serialised")]
    Serialisation(#[from] serde_json::Error),
    #[error(transparent)]
    SecondFactors(#[from] crate::signin::enrol::EnrolError),
}

/// Starts registering a new passkey for `user` from the account page of the session
/// `session_cookie`: the options for the page's script (JSON). The person's passkeys are
/// excluded (an authenticator is registered once), and a discoverable credential is
/// preferred, so that it can also sign in without a username.
pub async fn start_registration(
    state: &AppState,
    user: &User,
    session_cookie: &str,
) -> Result<String, PasskeyError> {
    let webauthn = state.passkeys.webauthn.as_ref().ok_or(PasskeyError::Off)?;
    let existing = usable_passkeys(state, user.id).await?;
    let exclude = existing
        .iter()
        .map(|(_, key)| key.cred_id().clone())
        .collect();
    let name = user.username.as_str();
    let display = user.display_name.as_deref().unwrap_or(name);
    let (options, ceremony): (CreationChallengeResponse, PasskeyRegistration) = webauthn
        .start_passkey_registration(user.id, name, display, Some(exclude))
        .map_err(|error| PasskeyError::Refused(error.to_string()))?;
    // A passkey is a discoverable credential where the authenticator can make one (WebAuthn
    // §5.4.6 `residentKey`: "preferred"); the crate asks "discouraged", and a key that is not
    // discoverable still works as a second factor.
    let mut options = serde_json::to_value(&options)?;
    if let Some(selection) = options
        .pointer_mut("/publicKey/authenticatorSelection")
        .and_then(serde_json::Value::as_object_mut)
    {
        selection.insert("residentKey".into(), json!("preferred"));
    }
    let value = serde_json::to_vec(&ceremony)?;
    state
        .ephemeral
        .put(
            &registration_key(session_cookie),
            &value,
            REGISTRATION_LIFETIME,
        )
        .await?;
    Ok(options.to_string())
}

/// A passkey registered: the recovery codes made with it when it is the person's first second
/// factor (shown once), else none.
#[derive(Debug)]
pub struct Registered {
    pub new_recovery_codes: Vec<RecoveryCode>,
}

/// Finishes the registration the session started with the browser's `credential` (JSON), named
/// `name` (or "Passkey" and the date when left empty).
pub async fn finish_registration(
    state: &AppState,
    user: &User,
    session_cookie: &str,
    credential: &str,
    name: &str,
) -> Result<Registered, PasskeyError> {
    let webauthn = state.passkeys.webauthn.as_ref().ok_or(PasskeyError::Off)?;
    let now = state.clock.now();
    let name = passkey_name(name, now)?;
    let ceremony = state
        .ephemeral
        .take(&registration_key(session_cookie))
        .await?
        .ok_or(PasskeyError::NoCeremony)?;
    let ceremony: PasskeyRegistration = serde_json::from_slice(&ceremony)?;
    let credential: RegisterPublicKeyCredential = serde_json::from_str(credential)
        .map_err(|error| PasskeyError::Refused(error.to_string()))?;
    let key = webauthn
        .finish_passkey_registration(&credential, &ceremony)
        .map_err(|error| PasskeyError::Refused(error.to_string()))?;
    let first_factor = !crate::signin::second_factor::has_second_factor(state, user.id).await?;
    let stored = StoredPasskey {
        id: Uuid::now_v7(),
        user_id: user.id,
        credential_id: AsRef::<[u8]>::as_ref(key.cred_id()).to_vec(),
        name: name.as_str().to_owned(),
        credential: serde_json::to_value(&key)?,
        created_at: now,
        last_used_at: None,
    };
    match state.db.add_passkey(&stored).await {
        Ok(()) => {}
        Err(StoreError::Conflict { constraint }) if constraint == PASSKEY_CREDENTIAL_ID => {
            return Err(PasskeyError::Duplicate);
        }
        Err(error) => return Err(error.into()),
    }
    let details = json!({ "passkey_id": stored.id, "name": stored.name });
    audit(state, user.id, "passkey.added", details).await;
    let has_codes = state.db.count_recovery_codes(user.id).await? > 0;
    let new_recovery_codes = if first_factor && !has_codes {
        regenerate_recovery_codes(state, user.id).await?
    } else {
        Vec::new()
    };
    Ok(Registered { new_recovery_codes })
}

fn passkey_name(typed: &str, now: OffsetDateTime) -> Result<PasskeyName, PasskeyError> {
    let typed = typed.trim();
    let name = if typed.is_empty() {
        format!("Passkey added {}", now.date())
    } else {
        typed.to_owned()
    };
    PasskeyName::parse(&name).map_err(PasskeyError::InvalidName)
}

/// Renames one of the person's passkeys; false if they have no such passkey.
pub async fn rename(
    state: &AppState,
    user_id: Uuid,
    id: Uuid,
    name: &str,
) -> Result<bool, PasskeyError> {
    let name = PasskeyName::parse(name).map_err(PasskeyError::InvalidName)?;
    let renamed = state.db.rename_passkey(user_id, id, name.as_str()).await?;
    if renamed {
        let details = json!({ "passkey_id": id, "name": name.as_str() });
        audit(state, user_id, "passkey.renamed", details).await;
    }
    Ok(renamed)
}

/// Removes one of the person's passkeys; false if they have no such passkey. The last second
/// factor gone, the recovery codes go with it (they stood in for a factor that is no more).
pub async fn remove(state: &AppState, user_id: Uuid, id: Uuid) -> Result<bool, PasskeyError> {
    let removed = state.db.delete_passkey(user_id, id).await?;
    if removed {
        audit(
            state,
            user_id,
            "passkey.removed",
            json!({ "passkey_id": id }),
        )
        .await;
        if !crate::signin::second_factor::has_second_factor(state, user_id).await? {
            state.db.delete_recovery_codes(user_id).await?;
        }
    }
    Ok(removed)
}

/// The person's passkeys, for the account page.
pub async fn list(state: &AppState, user_id: Uuid) -> Result<Vec<StoredPasskey>, StoreError> {
    state.db.list_passkeys(user_id).await
}

fn registration_key(session_cookie: &str) -> String {
    format!(
        "passkey-registration:{}",
        sha256_hex(session_cookie.as_bytes())
    )
}
