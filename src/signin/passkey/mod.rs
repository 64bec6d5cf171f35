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

mod registration;
mod sign_in;

use uuid::Uuid;
use webauthn_rs::prelude::{Passkey, Url, Webauthn, WebauthnBuilder};

pub use self::registration::{
    PasskeyError, Registered, finish_registration, list, remove, rename, start_registration,
};
pub use self::sign_in::{Attempt, offer_passwordless, offer_second_factor, sign_in};
use crate::state::AppState;
use crate::store::{StoreError, StoredPasskey};

/// The relying party, when the issuer can be one.
pub struct Passkeys {
    pub(super) webauthn: Option<Webauthn>,
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

/// The user's stored passkeys that still read as webauthn-rs credentials.
pub(super) async fn usable_passkeys(
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
