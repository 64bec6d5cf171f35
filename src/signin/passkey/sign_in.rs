//! Signing in with a passkey: the options a page offers (its challenge kept server-side) and the
//! check of the browser's answer, as the second factor or alone.

use serde::{Deserialize, Serialize};
use uuid::Uuid;
use webauthn_rs::prelude::{
    DiscoverableAuthentication, Passkey, PasskeyAuthentication, PublicKeyCredential,
    RequestChallengeResponse,
};

use super::usable_passkeys;
use crate::crypto::sha256_hex;
use crate::oauth::interaction::{INTERACTION_LIFETIME, Interaction};
use crate::signin::methods::{Method, Methods};
use crate::signin::{Outcome, backend_failed, signed_in};
use crate::state::AppState;
use crate::store::StoreError;
use crate::telemetry::SignIn;

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
