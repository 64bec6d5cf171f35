//! `/account`: a person managing their own second factors and passkeys, signed in through Gatehouse's own
//! session. Without a session it shows the sign-in page of a built-in first-party client (the
//! same steps as any authorization, second factor included) that returns here instead of
//! issuing a code. Every form carries a CSRF token derived from the session cookie, which no
//! other site can read; the pages need no script.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use time::OffsetDateTime;

use super::cookies::Cookies;
use super::responses::{too_many_attempts_page, unavailable_page};
use super::templates::{AccountPage, RecoveryCodesPage, TotpEnrolmentPage, render};
use super::{error_page, forbidden_page, proceed, read_form, redirect, signed_in_user};
use crate::admin::AdminError;
use crate::admin::users::{change_own_password, sign_out_by_id};
use crate::crypto::{Password, constant_time_eq, random_token, sha256_hex};
use crate::domain::{
    AuthMethod, Client, ClientId, ClientType, GrantType, RedirectUri, ScopeSet, User,
};
use crate::http::client_address::client_address;
use crate::oauth::authorize::{AuthorizationRequest, Prompt};
use crate::oauth::throttle::Throttle;
use crate::oauth::{FormRequest, OAuthError};
use crate::signin::enrol::{self, EnrolError};
use crate::signin::passkey::{self, PasskeyError};
use crate::signin::recovery::RecoveryCode;
use crate::signin::sessions;
use crate::state::AppState;

mod passkeys;
mod sign_ins;

pub use self::passkeys::{post_add_passkey, post_remove_passkey, post_rename_passkey};
pub use self::sign_ins::post_end_account_session;
pub use crate::domain::ACCOUNT_CLIENT_ID;

const ACCOUNT_PATH: &str = "/account";

/// The built-in client the account page signs people in through: first-party (no consent),
/// returning to `/account`.
pub(super) fn account_client(issuer: &str) -> Option<Client> {
    let redirect =
        RedirectUri::parse(&format!("{}{ACCOUNT_PATH}", issuer.trim_end_matches('/'))).ok()?;
    Some(Client {
        id: ClientId::parse(ACCOUNT_CLIENT_ID).ok()?,
        name: "your Gatehouse account".into(),
        client_type: ClientType::Public,
        auth_method: AuthMethod::None,
        grant_types: vec![GrantType::AuthorizationCode],
        scopes: ScopeSet::parse_delimited("openid").ok()?,
        redirect_uris: vec![redirect],
        post_logout_redirect_uris: Vec::new(),
        audiences: Vec::new(),
        jwks: None,
        access_token_ttl_secs: None,
        id_token_signed_response_alg: None,
        first_party: true,
        require_mfa: false,
        disabled: false,
        version: 0,
        created_at: OffsetDateTime::UNIX_EPOCH,
        updated_at: OffsetDateTime::UNIX_EPOCH,
    })
}

/// Whether `client` is the account page's built-in one: signed in, it goes back to the page.
pub(super) fn is_account_client(client: &Client) -> bool {
    client.id.as_str() == ACCOUNT_CLIENT_ID
}

pub(super) fn back_to_account() -> HttpResponse {
    redirect(ACCOUNT_PATH)
}

/// The person behind the browser's session, with the session cookie.
struct Signed {
    user: User,
    cookie: String,
}

impl Signed {
    /// The CSRF token of this session's forms: only the browser holding the (HttpOnly) cookie
    /// can know it.
    fn csrf_token(&self) -> String {
        sha256_hex(format!("gatehouse account form\0{}", self.cookie).as_bytes())
    }

    fn accepts(&self, form: &FormRequest) -> bool {
        form.get("csrf_token")
            .is_some_and(|t| constant_time_eq(t.as_bytes(), self.csrf_token().as_bytes()))
    }
}

/// The signed-in person, if any.
async fn signed(state: &AppState, req: &HttpRequest) -> Result<Option<Signed>, HttpResponse> {
    let cookies = Cookies::for_issuer(state.issuer.as_str());
    let cookie = cookies.session(req);
    match signed_in_user(state, cookie).await {
        Ok(signed) => Ok(signed.map(|(user, _)| Signed {
            user,
            cookie: cookie.unwrap_or_default().to_owned(),
        })),
        Err(error) => Err(error_page(&error)),
    }
}

/// The sign-in steps for the built-in account client.
async fn sign_in(state: &AppState, req: &HttpRequest, cookies: &Cookies) -> HttpResponse {
    let Some(client) = account_client(state.issuer.as_str()) else {
        return error_page(&OAuthError::server_error(anyhow::anyhow!(
            "the issuer makes no account URL"
        )));
    };
    let request = AuthorizationRequest {
        client_id: ACCOUNT_CLIENT_ID.into(),
        redirect_uri: client.redirect_uris[0].as_str().to_owned(),
        scope: client.scopes.clone(),
        state: None,
        nonce: None,
        // no code is ever issued for it; PKCE has nothing to protect
        code_challenge: random_token(),
        prompt: Prompt::default(),
        max_age: None,
        acr: None,
    };
    let from = client_address(req).ip();
    proceed(state, &client, request, None, None, cookies, from).await
}

/// A form posted on an account page, from the browser holding the session.
async fn posted(
    state: &AppState,
    req: &HttpRequest,
    body: &[u8],
) -> Result<(Signed, FormRequest), HttpResponse> {
    let form = read_form(req, body).map_err(|e| error_page(&e))?;
    // Signed out meanwhile: the page shows the sign-in.
    let signed = signed(state, req).await?.ok_or_else(back_to_account)?;
    if !signed.accepts(&form) {
        let error =
            OAuthError::invalid_request("this form was not sent from the page Gatehouse showed");
        return Err(forbidden_page(&error));
    }
    Ok((signed, form))
}

/// Answers a form posted on an account page with `then`, when it comes from the browser
/// holding the session (else the sign-in, or 403 for a form from elsewhere).
async fn on_form(
    state: &AppState,
    req: &HttpRequest,
    body: &[u8],
    then: impl AsyncFnOnce(Signed, FormRequest) -> HttpResponse,
) -> HttpResponse {
    match posted(state, req, body).await {
        Ok((signed, form)) => then(signed, form).await,
        Err(response) => response,
    }
}

/// `GET /account`: the person's second factors, or the sign-in.
pub async fn get_account(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    match signed(&state, &req).await {
        Ok(Some(signed)) => account_page(&state, &signed, None).await,
        Ok(None) => sign_in(&state, &req, &Cookies::for_issuer(state.issuer.as_str())).await,
        Err(response) => response,
    }
}

async fn account_page(state: &AppState, signed: &Signed, notice: Option<&str>) -> HttpResponse {
    let user_id = signed.user.id;
    let factor = match state.db.find_totp_factor(user_id).await {
        Ok(factor) => factor,
        Err(error) => return account_failed(error.into()),
    };
    let recovery_codes_left = match state.db.count_recovery_codes(user_id).await {
        Ok(count) => count,
        Err(error) => return account_failed(error.into()),
    };
    let sign_ins = match sessions::recent_sign_ins(state, user_id, &signed.cookie).await {
        Ok(sign_ins) => sign_ins.into_iter().map(sign_ins::row).collect(),
        Err(error) => return sign_ins::failed(error),
    };
    let passkeys = match passkey::list(state, user_id).await {
        Ok(passkeys) => passkeys.into_iter().map(passkeys::row).collect(),
        Err(error) => return account_failed(error.into()),
    };
    let new_passkey = match passkey::start_registration(state, &signed.user, &signed.cookie).await {
        Ok(options) => Some(options),
        Err(PasskeyError::Off) => None,
        Err(error) => {
            tracing::warn!(%error, "could not start a passkey registration; the page offers none");
            None
        }
    };
    render(
        StatusCode::OK,
        &AccountPage {
            username: signed.user.username.as_str(),
            totp_enrolled: factor.is_some_and(|f| f.is_confirmed()),
            recovery_codes_left,
            passkeys,
            sign_ins,
            new_passkey: new_passkey.as_deref(),
            csrf_token: &signed.csrf_token(),
            notice,
        },
    )
}

/// `POST /account/totp`: starts setting up an authenticator app: the QR code and the secret.
pub async fn post_start_totp(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    on_form(
        &state,
        &req,
        &body,
        async |signed, _form| match enrol::start_totp(&state, &signed.user).await {
            Ok(enrolment) => totp_page(&signed, &enrolment.secret, &enrolment.qr_svg, None),
            Err(EnrolError::AlreadyEnrolled) => account_page(
                &state,
                &signed,
                Some("An authenticator app is set up already; remove it first to set up another."),
            )
            .await,
            Err(error) => account_failed(error),
        },
    )
    .await
}

fn totp_page(signed: &Signed, secret: &str, qr_svg: &str, error: Option<&str>) -> HttpResponse {
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    render(
        status,
        &TotpEnrolmentPage {
            secret,
            qr_svg,
            csrf_token: &signed.csrf_token(),
            error,
        },
    )
}

/// `POST /account/totp/confirm`: the first code confirms the authenticator; the recovery codes
/// are shown, once.
pub async fn post_confirm_totp(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    on_form(&state, &req, &body, async |signed, form| {
        let code = form.get("code").unwrap_or_default();
        match enrol::confirm_totp(&state, signed.user.id, code).await {
            Ok(codes) => recovery_codes_page(&codes),
            Err(EnrolError::WrongCode) => {
                tracing::info!(user_id = %signed.user.id, "authenticator not confirmed: wrong code");
                let message = "That code does not match. Scan the code again, or start over from your account page.";
                account_page(&state, &signed, Some(message)).await
            }
            Err(EnrolError::AlreadyEnrolled) => back_to_account(),
            Err(error) => account_failed(error),
        }
    })
    .await
}

fn recovery_codes_page(codes: &[RecoveryCode]) -> HttpResponse {
    let codes: Vec<&str> = codes.iter().map(RecoveryCode::expose).collect();
    render(
        StatusCode::OK,
        &RecoveryCodesPage {
            codes,
            continue_to: None,
        },
    )
}

/// `POST /account/recovery-codes`: ten new recovery codes, the old ones void.
pub async fn post_recovery_codes(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    on_form(
        &state,
        &req,
        &body,
        async |signed, _form| match enrol::regenerate_recovery_codes(&state, signed.user.id).await {
            Ok(codes) => recovery_codes_page(&codes),
            Err(error) => account_failed(error),
        },
    )
    .await
}

/// `POST /account/totp/remove`: removes the authenticator and the recovery codes.
pub async fn post_remove_totp(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    on_form(
        &state,
        &req,
        &body,
        async |signed, _form| match enrol::remove_second_factors(&state, signed.user.id).await {
            Ok(_) => {
                account_page(
                    &state,
                    &signed,
                    Some("Your authenticator app and recovery codes were removed."),
                )
                .await
            }
            Err(error) => account_failed(error),
        },
    )
    .await
}

/// `POST /account/password`: the person's own password change; every session ends with it
/// (this one too), so the page then asks to sign in with the new one.
pub async fn post_change_password(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    on_form(&state, &req, &body, async |signed, form| {
        let current = Password::new(form.get("current_password").unwrap_or_default().to_owned());
        let new = Password::new(form.get("new_password").unwrap_or_default().to_owned());
        let throttle = password_throttle(&state, &signed, &req);
        if let Some(refused) = admitted(&throttle).await {
            return refused;
        }
        let (db, hasher, now) = (state.db.as_ref(), &state.passwords, state.clock.now());
        match change_own_password(db, hasher, &signed.user, &current, &new, now).await {
            Ok(()) => back_to_account(),
            Err(error) => refused_change(&state, &signed, &throttle, error).await,
        }
    })
    .await
}

/// The failed-sign-in throttle, for the current password typed on the account page: a stolen
/// session must not become a way to guess the password.
fn password_throttle<'a>(
    state: &'a AppState,
    signed: &'a Signed,
    req: &HttpRequest,
) -> Throttle<'a> {
    Throttle::new(
        state.ephemeral.as_ref(),
        "sign-in",
        signed.user.username.as_str(),
        client_address(req).ip(),
        state.settings.sessions.sign_in_limits(),
    )
}

/// `None` when the throttle lets the attempt through, else the response refusing it.
async fn admitted(throttle: &Throttle<'_>) -> Option<HttpResponse> {
    match throttle.admit().await {
        Ok(None) => None,
        Ok(Some(refusal)) => {
            tracing::info!(
                reason = refusal.as_str(),
                "password change refused: too many failures"
            );
            Some(too_many_attempts_page(throttle.retry_after()))
        }
        Err(error) => Some(error_page(&OAuthError::from_backend(error))),
    }
}

async fn refused_change(
    state: &AppState,
    signed: &Signed,
    throttle: &Throttle<'_>,
    error: AdminError,
) -> HttpResponse {
    match error {
        AdminError::Invalid(problems) => {
            if problems.iter().any(|p| p.field == "current_password")
                && let Err(error) = throttle.failed().await
            {
                tracing::warn!(%error, "could not count a failed password change");
            }
            tracing::info!(user_id = %signed.user.id, "password change refused: {}", problems.iter().map(|p| p.field.as_str()).collect::<Vec<_>>().join(", "));
            let message: Vec<String> = problems
                .iter()
                .map(|p| format!("{}: {}", p.field.replace('_', " "), p.problem))
                .collect();
            account_page(state, signed, Some(&message.join("; "))).await
        }
        AdminError::Unavailable => unavailable_page(),
        AdminError::Store(store) => account_failed(store.into()),
        other => {
            tracing::error!(error = %other, "a password change failed");
            error_page(&OAuthError::server_error(anyhow::anyhow!(
                "the password change failed"
            )))
        }
    }
}

/// `POST /account/sign-out-everywhere`: every session, grant and refresh token of the person
/// ends, on every instance (as `users sign-out`).
pub async fn post_sign_out_everywhere(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    on_form(&state, &req, &body, async |signed, _form| {
        let (id, now) = (signed.user.id.to_string(), state.clock.now());
        match sign_out_by_id(state.db.as_ref(), &id, &id, now).await {
            Ok(()) => back_to_account(),
            Err(AdminError::Store(store)) => account_failed(store.into()),
            Err(other) => {
                tracing::error!(error = %other, "signing out everywhere failed");
                error_page(&OAuthError::server_error(anyhow::anyhow!(
                    "signing out failed"
                )))
            }
        }
    })
    .await
}

/// A failure while changing factors: logged with its cause; 503 for an outage, else 500.
fn account_failed(error: EnrolError) -> HttpResponse {
    match error {
        EnrolError::Store(store) => {
            tracing::warn!(error = %store, "an account change failed in the database");
            error_page(&OAuthError::from_backend(store))
        }
        other => {
            tracing::error!(error = %other, "an account change failed");
            error_page(&OAuthError::server_error(anyhow::anyhow!(
                "the account change failed"
            )))
        }
    }
}
