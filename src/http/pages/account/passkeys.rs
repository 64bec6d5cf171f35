//! The account page's passkeys: the browser's answer to "Add a passkey" (the options are on the
//! page, `signin::passkey::start_registration`), renames and removals.

use actix_web::{HttpRequest, HttpResponse, web};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{Signed, account_failed, account_page, on_form, recovery_codes_page};
use crate::http::pages::error_page;
use crate::http::pages::templates::PasskeyRow;
use crate::oauth::OAuthError;
use crate::signin::passkey::{self, PasskeyError};
use crate::state::AppState;
use crate::store::StoredPasskey;

/// A passkey as the account page lists it: its dates as days.
pub(super) fn row(passkey: StoredPasskey) -> PasskeyRow {
    let day = |at: OffsetDateTime| at.date().to_string();
    PasskeyRow {
        id: passkey.id.to_string(),
        name: passkey.name,
        created: day(passkey.created_at),
        last_used: passkey.last_used_at.map(day),
    }
}

/// `POST /account/passkeys`: the browser's answer to "Add a passkey".
pub async fn post_add_passkey(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    on_form(&state, &req, &body, async |signed, form| {
        let credential = form.get("credential").unwrap_or_default();
        let name = form.get("name").unwrap_or_default();
        match passkey::finish_registration(&state, &signed.user, &signed.cookie, credential, name)
            .await
        {
            Ok(registered) if !registered.new_recovery_codes.is_empty() => {
                recovery_codes_page(&registered.new_recovery_codes)
            }
            Ok(_) => account_page(&state, &signed, Some("Your passkey was added.")).await,
            Err(error) => passkey_refused(&state, &signed, error).await,
        }
    })
    .await
}

/// `POST /account/passkeys/{id}/rename`.
pub async fn post_rename_passkey(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    on_form(&state, &req, &body, async |signed, form| {
        let name = form.get("name").unwrap_or_default();
        let renamed = match Uuid::parse_str(&path) {
            Ok(id) => passkey::rename(&state, signed.user.id, id, name).await,
            Err(_) => Ok(false),
        };
        passkey_changed(&state, &signed, renamed, "Your passkey was renamed.").await
    })
    .await
}

/// `POST /account/passkeys/{id}/remove`.
pub async fn post_remove_passkey(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    on_form(&state, &req, &body, async |signed, _form| {
        let removed = match Uuid::parse_str(&path) {
            Ok(id) => passkey::remove(&state, signed.user.id, id).await,
            Err(_) => Ok(false),
        };
        passkey_changed(&state, &signed, removed, "Your passkey was removed.").await
    })
    .await
}

/// The account page after a rename or a removal: `done` said, or that no such passkey is the
/// person's (removed meanwhile, or another's id).
async fn passkey_changed(
    state: &AppState,
    signed: &Signed,
    changed: Result<bool, PasskeyError>,
    done: &str,
) -> HttpResponse {
    match changed {
        Ok(true) => account_page(state, signed, Some(done)).await,
        Ok(false) => {
            tracing::info!(user_id = %signed.user.id, "passkey change refused: not one of the person's passkeys");
            account_page(
                state,
                signed,
                Some("That passkey is not one of yours any more."),
            )
            .await
        }
        Err(error) => passkey_refused(state, signed, error).await,
    }
}

/// A passkey change that did not happen: the person's mistake or the authenticator's answer
/// on the account page, with the reason (logged); a backend failure as any other.
async fn passkey_refused(state: &AppState, signed: &Signed, error: PasskeyError) -> HttpResponse {
    let message = match error {
        PasskeyError::Store(store) => return account_failed(store.into()),
        PasskeyError::SecondFactors(enrol) => return account_failed(enrol),
        PasskeyError::Ephemeral(ephemeral) => {
            tracing::warn!(error = %ephemeral, "a passkey change failed in the ephemeral store");
            return error_page(&OAuthError::from_backend(ephemeral));
        }
        PasskeyError::Serialisation(_) => {
            tracing::error!(%error, "a passkey change failed");
            return error_page(&OAuthError::server_error(anyhow::anyhow!(
                "the passkey change failed"
            )));
        }
        PasskeyError::Off => "Passkeys cannot be used with this Gatehouse's address.",
        PasskeyError::NoCeremony => "That took too long, or the page was sent twice: try again.",
        PasskeyError::Refused(ref why) => {
            tracing::info!(%why, "the authenticator's answer did not verify");
            "The passkey was not accepted: try again."
        }
        PasskeyError::Duplicate => "That passkey is registered already.",
        PasskeyError::InvalidName(ref message) => message.as_str(),
    };
    tracing::info!(user_id = %signed.user.id, reason = message, "passkey change refused");
    account_page(state, signed, Some(message)).await
}
