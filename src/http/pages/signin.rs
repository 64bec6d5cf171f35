//! The sign-in forms of an interaction: each parses its form, lets its step in `signin` decide,
//! and renders what the step decided ([`Step::answer`]).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use super::cookies::Cookies;
use super::responses::{
    LoginForm, enrol_page, error_page, login_page, new_recovery_codes_page,
    recovery_code_used_page, redirect_error, second_factor_page, too_many_attempts_page,
    unavailable_page,
};
use super::{Told, open_interaction, proceed};
use crate::crypto::Password;
use crate::domain::Client;
use crate::http::client_address::client_address;
use crate::oauth::authorize::AuthorizationRequest;
use crate::oauth::interaction::{Interaction, end_session, finish_interaction, required_acr};
use crate::oauth::{ErrorCode, FormRequest, OAuthError};
use crate::signin::second_factor;
use crate::signin::{Outcome, SignedIn, passkey, password};
use crate::state::AppState;

/// `POST /interaction/{id}/login`: the password step (`signin::password`), then on.
pub async fn post_login(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    take_step(
        &state,
        &req,
        path.into_inner(),
        &body,
        async |step, interaction| {
            let password = Password::new(step.form.get("password").unwrap_or_default().to_owned());
            let attempt = password::Attempt {
                username: step.form.get("username").unwrap_or_default(),
                password: &password,
                from: step.from,
                required: required_acr(&step.interaction.request, &step.client),
            };
            password::sign_in(&state, &step.id, interaction, attempt).await
        },
    )
    .await
}

/// `POST /interaction/{id}/second-factor`: the second-factor step (`signin::second_factor`).
pub async fn post_second_factor(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    take_step(
        &state,
        &req,
        path.into_inner(),
        &body,
        async |step, interaction| {
            let attempt = second_factor::Attempt {
                code: step.form.get("code").unwrap_or_default(),
                from: step.from,
            };
            second_factor::sign_in(&state, &step.id, interaction, attempt).await
        },
    )
    .await
}

/// `POST /interaction/{id}/passkey`: a passkey's answer, as the second factor or alone
/// (`signin::passkey`).
pub async fn post_passkey(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    take_step(
        &state,
        &req,
        path.into_inner(),
        &body,
        async |step, interaction| {
            let credential = step.form.get("credential").unwrap_or_default();
            let attempt = passkey::Attempt { credential };
            passkey::sign_in(&state, &step.id, interaction, attempt).await
        },
    )
    .await
}

/// Opens the interaction a sign-in form was posted to, lets `decide` take the step on a copy
/// of it, and answers what the step decided.
async fn take_step(
    state: &AppState,
    req: &HttpRequest,
    id: String,
    body: &[u8],
    decide: impl AsyncFnOnce(&Step, &mut Interaction) -> Outcome,
) -> HttpResponse {
    let step = match Step::open(state, req, id, body).await {
        Ok(step) => step,
        Err(response) => return response,
    };
    let mut interaction = step.interaction.clone();
    let outcome = decide(&step, &mut interaction).await;
    step.answer(state, interaction, outcome).await
}

/// The login page or, while the person owes a second factor, the second-factor page; each
/// with a new passkey challenge when a passkey can be offered (none while an authenticator is
/// being set up).
pub(super) async fn sign_in_page(
    state: &AppState,
    client: &Client,
    interaction: &Interaction,
    id: &str,
    username: &str,
    message: Option<&str>,
    status: StatusCode,
) -> HttpResponse {
    match interaction.awaiting_second_factor {
        Some(pending) => {
            let offered = match pending.enrolling {
                false => passkey::offer_second_factor(state, id, pending.user_id).await,
                true => None,
            };
            second_factor_page(client, interaction, id, offered.as_deref(), message, status)
        }
        None => {
            let offered = passkey::offer_passwordless(state, id).await;
            let form = LoginForm {
                username,
                passkey: offered.as_deref(),
            };
            login_page(client, interaction, id, &form, message, status)
        }
    }
}

/// A sign-in form posted to an interaction: what the pages need to answer its outcome.
struct Step {
    id: String,
    form: FormRequest,
    interaction: Interaction,
    client: Client,
    cookies: Cookies,
    from: std::net::IpAddr,
    /// The session cookie the browser came with, retired once a sign-in replaces it.
    replaced_session: Option<String>,
}

impl Step {
    async fn open(
        state: &AppState,
        req: &HttpRequest,
        id: String,
        body: &[u8],
    ) -> Result<Self, HttpResponse> {
        let cookies = Cookies::for_issuer(state.issuer.as_str());
        let (form, interaction, client) = open_interaction(state, req, &id, body, &cookies).await?;
        Ok(Self {
            id,
            form,
            interaction,
            client,
            replaced_session: cookies.session(req).map(str::to_owned),
            cookies,
            from: client_address(req).ip(),
        })
    }

    /// The page or redirect for what a step decided; `interaction` is as the step left it.
    async fn answer(
        self,
        state: &AppState,
        interaction: Interaction,
        outcome: Outcome,
    ) -> HttpResponse {
        let client = &self.client;
        let id = self.id.as_str();
        match outcome {
            Outcome::SignedIn(signed_in) => {
                self.retire_replaced_session(state).await;
                let request = interaction.request.clone();
                go_on_signed_in(
                    state,
                    client,
                    id,
                    request,
                    *signed_in,
                    &self.cookies,
                    self.from,
                )
                .await
            }
            Outcome::SecondFactor => {
                sign_in_page(state, client, &interaction, id, "", None, StatusCode::OK).await
            }
            Outcome::EnrolSecondFactor(enrolment) => {
                enrol_page(client, &interaction, id, &enrolment)
            }
            Outcome::NoSecondFactor => {
                redirect_error(state, &interaction.request, &unmet_requirements())
            }
            // A wrong code: the second-factor page again, the person still waited on. A wrong
            // name or password: one message and one timing for both; not 401, which needs a
            // WWW-Authenticate challenge (RFC 9110 §15.5.2) that no login form has.
            Outcome::WrongCredentials => {
                let (typed, message) = match interaction.awaiting_second_factor {
                    Some(_) => ("", "That code is not valid, or was used already."),
                    None => (
                        self.form.get("username").unwrap_or_default(),
                        "Incorrect username or password.",
                    ),
                };
                let status = StatusCode::BAD_REQUEST;
                sign_in_page(
                    state,
                    client,
                    &interaction,
                    id,
                    typed,
                    Some(message),
                    status,
                )
                .await
            }
            Outcome::PasskeyRefused => {
                let message =
                    Some("That passkey was not accepted. Try again, or sign in another way.");
                let status = StatusCode::BAD_REQUEST;
                sign_in_page(state, client, &interaction, id, "", message, status).await
            }
            Outcome::Throttled { retry_after } => too_many_attempts_page(retry_after),
            Outcome::Unavailable => unavailable_page(),
            Outcome::Failed => failed_page(),
        }
    }
}

impl Step {
    /// A sign-in (a step-up, `prompt=login`) gives the browser a new session id; the one it
    /// came with ends, so whoever else holds that cookie keeps nothing.
    async fn retire_replaced_session(&self, state: &AppState) {
        if let Some(old) = &self.replaced_session
            && let Err(error) = end_session(state.ephemeral.as_ref(), old).await
        {
            tracing::warn!(%error, "could not end the session a sign-in replaced");
        }
    }
}

/// The request needs a second factor the person does not have.
pub(super) fn unmet_requirements() -> OAuthError {
    OAuthError::new(
        ErrorCode::UnmetAuthenticationRequirements,
        Some("the request needs a second factor, and the person has none set up".into()),
    )
}

/// After a sign-in: the authorization goes on with the new session, whose cookie the response
/// sets. The sign-in interaction is over once it went on: back to the client (303), or to
/// consent (200) under an interaction of its own, which takes over the pending count. After an
/// error page (an outage) it stays, so the same form can be sent again. A sign-in with a
/// recovery code shows how many are left, and one that set up an authenticator its recovery
/// codes: on a page before going on to the client, or on the consent page.
async fn go_on_signed_in(
    state: &AppState,
    client: &Client,
    id: &str,
    request: AuthorizationRequest,
    signed_in: SignedIn,
    cookies: &Cookies,
    from: std::net::IpAddr,
) -> HttpResponse {
    let SignedIn {
        user,
        session,
        session_id,
        recovery_codes_left,
        new_recovery_codes,
    } = signed_in;
    let signed_in = Some((user, session));
    let told = Told {
        recovery_codes_left,
        new_recovery_codes: &new_recovery_codes,
    };
    let mut response = proceed(
        state,
        client,
        request,
        signed_in,
        Some(&told),
        cookies,
        from,
    )
    .await;
    let lifetime = std::time::Duration::from_secs(state.settings.sessions.lifetime_secs);
    cookies.attach(&mut response, cookies.session_cookie(&session_id, lifetime));
    let release = match response.status() {
        StatusCode::SEE_OTHER => Some(Some(from)),
        StatusCode::OK => Some(None),
        _ => None,
    };
    if let Some(release) = release
        && let Err(error) = finish_interaction(state.ephemeral.as_ref(), id, release).await
    {
        tracing::warn!(%error, "could not end the sign-in interaction");
    }
    match recovery_codes_left {
        Some(left) => recovery_code_used_page(client, left, response),
        None if !new_recovery_codes.is_empty() => {
            new_recovery_codes_page(client, &new_recovery_codes, response)
        }
        None => response,
    }
}

/// 500 for a defect in a sign-in (already logged with its cause).
pub(super) fn failed_page() -> HttpResponse {
    error_page(&OAuthError::server_error(anyhow::anyhow!(
        "the sign-in failed"
    )))
}
