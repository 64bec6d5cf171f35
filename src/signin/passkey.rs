//! Passkeys (WebAuthn Level 2, through webauthn-rs): registered from the account page, several
//! per person, then used as the second factor after a password, or alone ("Sign in with a
//! passkey": a discoverable credential names its person, WebAuthn §6.2.2).
//!
//! Every ceremony's state waits server-side in the ephemeral store, under a key of its own, and
//! is *taken* (read and deleted in one step) when the browser answers: a challenge is answered
//! once, on whichever instance (webauthn-rs: "you must store this value server side").
//!
//! The relying party is the issuer's host. WebAuthn needs a domain for it (an RP ID is a valid
//! domain string, WebAuthn §5.1.3) and a secure context, so an issuer on an IP address, or on
//! plain `http` anywhere but `localhost`, has no passkeys: the pages then offer none.
//!
//! A passkey is always used with user verification (its PIN or biometric; webauthn-rs's passkey
//! policy requires it), which makes it two factors on its own (RFC 8176 `mfa`). A passkey that
//! can be synced between devices (backup eligible) counts as `swk`, one bound to its device as
//! `hwk`. The signature counter and the backup flags are updated after each use as the crate
//! recommends ([`Passkey::update_credential`]); a counter that goes backwards is refused by
//! the crate as a possible clone.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::json;
use time::OffsetDateTime;
use uuid::Uuid;
use webauthn_rs::prelude::{
    CreationChallengeResponse, DiscoverableAuthentication, Passkey, PasskeyAuthentication,
    PasskeyRegistration, PublicKeyCredential, RegisterPublicKeyCredential,
    RequestChallengeResponse, Url, Webauthn, WebauthnBuilder,
};

use super::enrol::{audit, regenerate_recovery_codes};
use super::methods::{Method, Methods};
use super::recovery::RecoveryCode;
use super::{Outcome, backend_failed, signed_in};
use crate::crypto::sha256_hex;
use crate::domain::{PasskeyName, User};
use crate::ephemeral::EphemeralError;
use crate::oauth::interaction::{INTERACTION_LIFETIME, Interaction};
use crate::state::AppState;
use crate::store::{PASSKEY_CREDENTIAL_ID, StoreError, StoredPasskey};
use crate::telemetry::SignIn;

/// How long a registration started on the account page waits for the browser (the
/// authenticator's own timeout is webauthn-rs's default, five minutes).
const REGISTRATION_LIFETIME: Duration = Duration::from_secs(600);

/// The relying party, when the issuer can be one.
pub struct Passkeys {
    webauthn: Option<Webauthn>,
}

impl std::fmt::Debug for Passkeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Passkeys")
            .field("enabled", &self.webauthn.is_some())
            .finish()
    }
}

impl Passkeys {
    /// The relying party of `issuer`: its host is the RP ID, its origin the one origin
    /// accepted. Off (logged once, at start) when the issuer's host is no domain, or the
    /// scheme is `http` on a host that is not `localhost`.
    pub fn for_issuer(issuer: &str) -> Self {
        let webauthn = relying_party(issuer);
        if webauthn.is_none() {
            tracing::info!(
                issuer,
                "passkeys are off: WebAuthn needs the issuer on a domain name, over https (or http on localhost)"
            );
        }
        Self { webauthn }
    }

    pub fn enabled(&self) -> bool {
        self.webauthn.is_some()
    }
}

fn relying_party(issuer: &str) -> Option<Webauthn> {
    let url = Url::parse(issuer).ok()?;
    let origin = Url::parse(&url.origin().ascii_serialization()).ok()?;
    let host = origin.domain()?.to_owned();
    let local = host == "localhost" || host.ends_with(".localhost");
    if origin.scheme() != "https" && !(origin.scheme() == "http" && local) {
        return None;
    }
    WebauthnBuilder::new(&host, &origin)
        .ok()?
        .rp_name("Gatehouse")
        .build()
        .ok()
}

/// A sign-in ceremony waiting for the browser's answer.
#[derive(Serialize, Deserialize)]
enum Challenge {
    /// After the password (or to step a session up): one of `user_id`'s passkeys.
    SecondFactor {
        user_id: Uuid,
        ceremony: PasskeyAuthentication,
    },
    /// On the login page: any discoverable passkey, which names its person.
    Passwordless(DiscoverableAuthentication),
}

fn challenge_key(interaction_id: &str) -> String {
    format!(
        "passkey-challenge:{}",
        sha256_hex(interaction_id.as_bytes())
    )
}

fn registration_key(session_cookie: &str) -> String {
    format!(
        "passkey-registration:{}",
        sha256_hex(session_cookie.as_bytes())
    )
}

/// The WebAuthn options (JSON, for the page's script) of a "Sign in with a passkey" on the
/// login page of `interaction_id`; its challenge replaces any earlier one of the interaction.
/// `None` when passkeys are off, or the store failed (logged: the password form still works).
pub async fn offer_passwordless(state: &AppState, interaction_id: &str) -> Option<String> {
    let webauthn = state.passkeys.webauthn.as_ref()?;
    let (options, ceremony) = match webauthn.start_discoverable_authentication() {
        Ok(started) => started,
        Err(error) => {
            tracing::error!(%error, "could not start a passkey sign-in");
            return None;
        }
    };
    offer(
        state,
        interaction_id,
        &Challenge::Passwordless(ceremony),
        options,
    )
    .await
}

/// The WebAuthn options of the second-factor page for `user_id`, if they have passkeys.
pub async fn offer_second_factor(
    state: &AppState,
    interaction_id: &str,
    user_id: Uuid,
) -> Option<String> {
    let webauthn = state.passkeys.webauthn.as_ref()?;
    let passkeys = match usable_passkeys(state, user_id).await {
        Ok(passkeys) if !passkeys.is_empty() => passkeys,
        Ok(_) => return None,
        Err(error) => {
            tracing::warn!(%error, "could not list the person's passkeys; the page offers none");
            return None;
        }
    };
    let keys: Vec<Passkey> = passkeys.into_iter().map(|(_, key)| key).collect();
    let (options, ceremony) = match webauthn.start_passkey_authentication(&keys) {
        Ok(started) => started,
        Err(error) => {
            tracing::error!(%error, "could not start a passkey second factor");
            return None;
        }
    };
    let challenge = Challenge::SecondFactor { user_id, ceremony };
    offer(state, interaction_id, &challenge, options).await
}

async fn offer(
    state: &AppState,
    interaction_id: &str,
    challenge: &Challenge,
    options: RequestChallengeResponse,
) -> Option<String> {
    let (Ok(value), Ok(options)) = (
        serde_json::to_vec(challenge),
        serde_json::to_string(&options),
    ) else {
        tracing::error!("could not serialise a passkey challenge");
        return None;
    };
    let key = challenge_key(interaction_id);
    match state
        .ephemeral
        .put(&key, &value, INTERACTION_LIFETIME)
        .await
    {
        Ok(()) => Some(options),
        Err(error) => {
            tracing::warn!(%error, "could not keep a passkey challenge; the page offers none");
            None
        }
    }
}

/// The user's stored passkeys that still read as webauthn-rs credentials.
async fn usable_passkeys(
    state: &AppState,
    user_id: Uuid,
) -> Result<Vec<(StoredPasskey, Passkey)>, StoreError> {
    let stored = state.db.list_passkeys(user_id).await?;
    Ok(stored
        .into_iter()
        .filter_map(|stored| match serde_json::from_value(stored.credential.clone()) {
            Ok(key) => Some((stored, key)),
            Err(error) => {
                tracing::error!(passkey_id = %stored.id, %error, "a stored passkey does not read");
                None
            }
        })
        .collect())
}

/// What the browser answered to a passkey sign-in.
pub struct Attempt<'a> {
    /// The `PublicKeyCredential` as JSON (base64url fields), as the page's script posts it.
    pub credential: &'a str,
}

/// Checks a passkey assertion against the challenge of `interaction_id` (taken: it is answered
/// once). Signed in, a new session replaces the browser's (as after a code).
pub async fn sign_in(
    state: &AppState,
    interaction_id: &str,
    interaction: &mut Interaction,
    attempt: Attempt<'_>,
) -> Outcome {
    let Some(webauthn) = state.passkeys.webauthn.as_ref() else {
        tracing::info!("passkey refused: passkeys are off");
        return refused(state);
    };
    let challenge = match state.ephemeral.take(&challenge_key(interaction_id)).await {
        Ok(Some(value)) => serde_json::from_slice::<Challenge>(&value),
        Ok(None) => {
            tracing::info!("passkey refused: no challenge waits (answered already, or expired)");
            return refused(state);
        }
        Err(error) => return backend_failed(state, "taking the passkey challenge", &error),
    };
    let Ok(challenge) = challenge else {
        tracing::error!("passkey failed: the stored challenge does not read");
        state.metrics.sign_in(SignIn::Error);
        return Outcome::Failed;
    };
    let credential: PublicKeyCredential = match serde_json::from_str(attempt.credential) {
        Ok(credential) => credential,
        Err(error) => {
            tracing::info!(%error, "passkey refused: the answer is not a WebAuthn credential");
            return refused(state);
        }
    };
    let stored = match state.db.find_passkey(credential.get_credential_id()).await {
        Ok(Some(stored)) => stored,
        Ok(None) => {
            tracing::info!("passkey refused: no passkey has that credential id");
            return refused(state);
        }
        Err(error) => return backend_failed(state, "looking up the passkey", &error),
    };
    let Ok(mut key) = serde_json::from_value::<Passkey>(stored.credential.clone()) else {
        tracing::error!(passkey_id = %stored.id, "passkey failed: the stored passkey does not read");
        state.metrics.sign_in(SignIn::Error);
        return Outcome::Failed;
    };
    let (verified, proved_before) = match challenge {
        Challenge::SecondFactor { user_id, ceremony } => {
            let waited_on = interaction
                .awaiting_second_factor
                .filter(|pending| pending.user_id == user_id && !pending.enrolling);
            let Some(pending) = waited_on.filter(|_| stored.user_id == user_id) else {
                tracing::info!(user_id = %user_id, "passkey refused: not a passkey of the person the sign-in waits on");
                return refused(state);
            };
            (
                webauthn.finish_passkey_authentication(&credential, &ceremony),
                pending.methods,
            )
        }
        Challenge::Passwordless(ceremony) => {
            let named = webauthn
                .identify_discoverable_authentication(&credential)
                .map(|(user_id, _)| user_id);
            if named.ok() != Some(stored.user_id) {
                tracing::info!(
                    "passkey refused: the user handle does not name the passkey's owner"
                );
                return refused(state);
            }
            let verified =
                webauthn.finish_discoverable_authentication_v2(&credential, ceremony, &key);
            (verified, Methods::default())
        }
    };
    let result = match verified {
        Ok(result) => result,
        Err(error) => {
            tracing::info!(passkey_id = %stored.id, %error, "passkey refused: the assertion does not verify");
            return refused(state);
        }
    };
    key.update_credential(&result);
    let now = state.clock.now();
    match serde_json::to_value(&key) {
        Ok(updated) => {
            if let Err(error) = state.db.record_passkey_use(stored.id, &updated, now).await {
                return backend_failed(state, "recording the passkey's use", &error);
            }
        }
        Err(error) => tracing::error!(%error, "could not serialise an updated passkey"),
    }
    let method = if result.backup_eligible() {
        Method::Swk
    } else {
        Method::Hwk
    };
    let user = match state.db.find_user(stored.user_id).await {
        Ok(user) if !user.disabled => user,
        Ok(_) | Err(StoreError::NotFound) => {
            tracing::info!(user_id = %stored.user_id, "passkey refused: the person is disabled or deleted");
            return refused(state);
        }
        Err(error) => return backend_failed(state, "looking up the person", &error),
    };
    let methods = proved_before.with(method);
    tracing::info!(user_id = %user.id, amr = ?methods, "signed in with a passkey");
    signed_in(
        state,
        interaction_id,
        interaction,
        user,
        methods,
        None,
        Vec::new(),
    )
    .await
}

/// A refused passkey counts as wrong credentials in the sign-in metrics (the cause is logged).
fn refused(state: &AppState) -> Outcome {
    state.metrics.sign_in(SignIn::WrongCredentials);
    Outcome::PasskeyRefused
}

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
    SecondFactors(#[from] super::enrol::EnrolError),
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
    let first_factor = !super::second_factor::has_second_factor(state, user.id).await?;
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
        if !super::second_factor::has_second_factor(state, user_id).await? {
            state.db.delete_recovery_codes(user_id).await?;
        }
    }
    Ok(removed)
}

/// The person's passkeys, for the account page.
pub async fn list(state: &AppState, user_id: Uuid) -> Result<Vec<StoredPasskey>, StoreError> {
    state.db.list_passkeys(user_id).await
}
