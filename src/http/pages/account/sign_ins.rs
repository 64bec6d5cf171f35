//! The account page's sessions: the recent sign-ins, which still hold, and ending one.

use actix_web::{HttpRequest, HttpResponse, web};
use time::format_description::well_known::Rfc3339;

use super::{account_page, back_to_account, on_form};
use crate::domain::ACCOUNT_CLIENT_ID;
use crate::http::pages::error_page;
use crate::http::pages::templates::SignInRow;
use crate::oauth::OAuthError;
use crate::oauth::interaction::session_handle;
use crate::signin::sessions::{self, RecentSignIn, SessionsError, Standing};
use crate::state::AppState;

pub(super) fn row(sign_in: RecentSignIn) -> SignInRow {
    let client = match sign_in.client_id.as_str() {
        ACCOUNT_CLIENT_ID => "this account page".to_owned(),
        other => other.to_owned(),
    };
    SignInRow {
        when: sign_in.at.format(&Rfc3339).unwrap_or_default(),
        client,
        how: sign_in.amr.join(", "),
        address: sign_in.address.unwrap_or_default(),
        handle: sign_in.handle,
        this_browser: sign_in.standing == Standing::ThisBrowser,
        active: sign_in.standing == Standing::Active,
    }
}

/// A backend failed while reading or ending sessions: logged with its cause, 503 or 500.
pub(super) fn failed(error: SessionsError) -> HttpResponse {
    tracing::warn!(%error, "the account page's sessions failed");
    let error = match error {
        SessionsError::Store(store) => OAuthError::from_backend(store),
        SessionsError::Ephemeral(ephemeral) => OAuthError::from_backend(ephemeral),
        SessionsError::Current(current) => OAuthError::from_backend(current),
    };
    error_page(&error)
}

/// `POST /account/sessions/{handle}/end`: ends one of the person's sessions (another browser's,
/// or this one's, which then shows the sign-in).
pub async fn post_end_account_session(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    on_form(&state, &req, &body, async |signed, _form| {
        let handle = path.as_str();
        match sessions::end(&state, signed.user.id, handle).await {
            Ok(true) if handle == session_handle(&signed.cookie) => back_to_account(),
            Ok(true) => account_page(&state, &signed, Some("That session was ended.")).await,
            Ok(false) => {
                tracing::info!(user_id = %signed.user.id, "session not ended: not one of the person's live sessions");
                let message = "That session had ended already.";
                account_page(&state, &signed, Some(message)).await
            }
            Err(error) => failed(error),
        }
    })
    .await
}
