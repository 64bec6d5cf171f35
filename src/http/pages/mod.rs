//! The authorization endpoint and the pages a person sees: sign in, consent, errors.
//! Handlers stay thin: the decisions are in `oauth::authorize`, `oauth::interaction` and
//! `signin` (the sign-in steps).

mod account;
mod cookies;
mod logout;
mod responses;
mod signin;
mod templates;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};

pub use self::account::{
    get_account, post_add_passkey, post_change_password, post_confirm_totp,
    post_end_account_session, post_recovery_codes, post_remove_passkey, post_remove_totp,
    post_rename_passkey, post_sign_out_everywhere, post_start_totp,
};
use self::cookies::Cookies;
pub use self::logout::{get_end_session, post_confirm_logout, post_end_session};
use self::responses::{
    consent_page, enrol_page, error_page, expired_page, redirect, redirect_error,
    too_many_pending_page, unavailable_page,
};
use self::signin::{failed_page, sign_in_page, unmet_requirements};
pub use self::signin::{post_login, post_passkey, post_second_factor};
use self::templates::{ErrorPage, render};
pub use self::templates::{get_passkey_script, get_stylesheet};
use crate::domain::{Client, User};
use crate::http::client_address::client_address;
use crate::oauth::authorize::{AuthorizationRequest, AuthorizeError, validate};
use crate::oauth::interaction::{
    INTERACTION_LIFETIME, Interaction, Next, Session, error_redirect, finish_interaction,
    issue_code_redirect, load_interaction, load_session, next_step, save_interaction,
    start_interaction,
};
use crate::oauth::{ErrorCode, FormRequest, OAuthError};
use crate::signin::Outcome;
use crate::signin::recovery::RecoveryCode;
use crate::signin::second_factor::{self, Pending};
use crate::state::AppState;
use crate::store::StoreError;

/// `GET /oauth2/authorize` (RFC 6749 §4.1.1).
pub async fn get_authorize(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    match FormRequest::from_query(req.query_string()) {
        Ok(params) => authorize(&state, &req, params).await,
        Err(error) => error_page(&error),
    }
}

/// `POST /oauth2/authorize` (OIDC Core §3.1.2.1: the same parameters, form-encoded).
pub async fn post_authorize(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    match read_form(&req, &body) {
        Ok(params) => authorize(&state, &req, params).await,
        Err(error) => error_page(&error),
    }
}

async fn authorize(state: &AppState, req: &HttpRequest, params: FormRequest) -> HttpResponse {
    let (client, request) = match validate(state.db.as_ref(), &params).await {
        Ok(valid) => valid,
        Err(AuthorizeError::Page(error)) => return error_page(&error),
        Err(AuthorizeError::Redirect {
            redirect_uri,
            state: st,
            error,
        }) => {
            return redirect(&error_redirect(
                &redirect_uri,
                st.as_deref(),
                &error,
                state.issuer.as_str(),
            ));
        }
    };
    let cookies = Cookies::for_issuer(state.issuer.as_str());
    let signed_in = match signed_in_user(state, cookies.session(req)).await {
        Ok(signed_in) => signed_in,
        Err(error) => return redirect_error(state, &request, &error),
    };
    let from = client_address(req).ip();
    proceed(state, &client, request, signed_in, None, &cookies, from).await
}

/// What a sign-in that just happened tells the person on the page that follows it (the client's
/// redirect gets a page of its own for it; the consent page says it itself).
#[derive(Default)]
struct Told<'a> {
    /// Signed in with a recovery code: how many are left.
    recovery_codes_left: Option<u32>,
    /// An authenticator set up during the sign-in: its recovery codes, shown once.
    new_recovery_codes: &'a [RecoveryCode],
}

/// Decides and performs the next step for a request whose client is verified; `fresh` is set
/// right after a sign-in, with what it tells the person.
async fn proceed(
    state: &AppState,
    client: &Client,
    request: AuthorizationRequest,
    signed_in: Option<(User, Session)>,
    fresh: Option<&Told<'_>>,
    cookies: &Cookies,
    from: std::net::IpAddr,
) -> HttpResponse {
    let fresh_login = fresh.is_some();
    let now = state.clock.now();
    let session = signed_in.as_ref().map(|(_, s)| *s);
    let grant = match &session {
        Some(s) => match state.db.find_live_grant(s.user_id, &client.id).await {
            Ok(grant) => grant,
            Err(error) => return redirect_error(state, &request, &OAuthError::from_backend(error)),
        },
        None => None,
    };
    let step = next_step(
        &request,
        client,
        session.as_ref(),
        fresh_login,
        grant.as_ref(),
        now,
    );
    match (step, signed_in) {
        (Err(error), _) => redirect_error(state, &request, &error),
        // The account page's own sign-in: nothing to issue, back to the page.
        (Ok(Next::Issue), Some(_)) if account::is_account_client(client) => {
            account::back_to_account()
        }
        (Ok(Next::Issue), Some((_, session))) => complete(state, client, &request, &session).await,
        (Ok(next), signed_in) => {
            let shown = match (next, signed_in) {
                (Next::Consent, Some((user, session))) => Shown::Consent(user, session),
                (Next::SecondFactor, Some((user, session))) => {
                    match second_factor::has_second_factor(state, user.id).await {
                        Ok(has) => {
                            let owed = Pending {
                                user_id: user.id,
                                methods: session.methods,
                                enrolling: !has,
                            };
                            if has {
                                Shown::SecondFactor(owed)
                            } else {
                                Shown::Enrol(user, owed)
                            }
                        }
                        Err(error) => {
                            return redirect_error(
                                state,
                                &request,
                                &OAuthError::from_backend(error),
                            );
                        }
                    }
                }
                _ => Shown::Login,
            };
            show(state, client, request, shown, fresh, cookies, from, now).await
        }
    }
}

/// What the person is shown under a new interaction.
enum Shown {
    Login,
    /// A second factor on top of a session that has less than the request needs (a step-up).
    SecondFactor(Pending),
    /// The same, for a person who has no second factor yet: they set one up.
    Enrol(User, Pending),
    Consent(User, Session),
}

/// Starts the interaction for `shown` and renders it, with the browser-binding cookie.
#[allow(clippy::too_many_arguments)]
async fn show(
    state: &AppState,
    client: &Client,
    request: AuthorizationRequest,
    shown: Shown,
    fresh: Option<&Told<'_>>,
    cookies: &Cookies,
    from: std::net::IpAddr,
    now: time::OffsetDateTime,
) -> HttpResponse {
    let fresh_login = fresh.is_some();
    let session = match &shown {
        Shown::Consent(_, session) => Some(*session),
        _ => None,
    };
    // After a fresh sign-in, consent takes over the sign-in interaction's count.
    let limit = state.settings.sessions.max_pending_interactions_per_address;
    let pending = (!fresh_login).then_some((from, limit));
    let started = start_interaction(state.ephemeral.as_ref(), request, session, pending, now).await;
    let (id, binding, mut interaction) = match started {
        Ok(Some(started)) => started,
        Ok(None) => {
            tracing::info!(%from, "authorization refused: too many pending from this address");
            return too_many_pending_page(INTERACTION_LIFETIME);
        }
        Err(error) => return error_page(&OAuthError::from_backend(error)),
    };
    let mut response = match shown {
        Shown::Consent(user, _) => {
            let nothing = Told::default();
            consent_page(client, &user, &interaction, &id, fresh.unwrap_or(&nothing))
        }
        Shown::Login => {
            sign_in_page(state, client, &interaction, &id, "", None, StatusCode::OK).await
        }
        Shown::SecondFactor(owed) => {
            interaction.awaiting_second_factor = Some(owed);
            if let Err(error) = save_interaction(state.ephemeral.as_ref(), &id, &interaction).await
            {
                return error_page(&OAuthError::from_backend(error));
            }
            sign_in_page(state, client, &interaction, &id, "", None, StatusCode::OK).await
        }
        Shown::Enrol(user, owed) => {
            match second_factor::enrolment_owed(state, &id, &mut interaction, &user, owed).await {
                Outcome::EnrolSecondFactor(enrolment) => {
                    enrol_page(client, &interaction, &id, &enrolment)
                }
                Outcome::Unavailable => unavailable_page(),
                Outcome::Failed => failed_page(),
                _ => {
                    let request = &interaction.request;
                    return redirect_error(state, request, &unmet_requirements());
                }
            }
        }
    };
    cookies.attach(&mut response, cookies.binding_cookie(&binding));
    response
}

/// `POST /interaction/{id}/consent`: records the decision and returns to the client.
pub async fn post_consent(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let id = path.into_inner();
    let cookies = Cookies::for_issuer(state.issuer.as_str());
    let (form, interaction, client) =
        match open_interaction(&state, &req, &id, &body, &cookies).await {
            Ok(opened) => opened,
            Err(response) => return response,
        };
    let Some(session) = interaction.session else {
        return error_page(&OAuthError::invalid_request("sign in first"));
    };
    // Taking the interaction makes a second submission of the same form fail.
    let from = client_address(&req).ip();
    match finish_interaction(state.ephemeral.as_ref(), &id, Some(from)).await {
        Ok(Some(_)) => consented(&state, &client, &id, &form, &interaction, &session).await,
        Ok(None) => expired_page(),
        Err(error) => error_page(&OAuthError::from_backend(error)),
    }
}

/// The person's answer on the consent page, the interaction taken.
async fn consented(
    state: &AppState,
    client: &Client,
    id: &str,
    form: &FormRequest,
    interaction: &Interaction,
    session: &Session,
) -> HttpResponse {
    let request = &interaction.request;
    if form.get("decision") != Some("allow") {
        let denied = OAuthError::new(
            ErrorCode::AccessDenied,
            Some("the user denied the request".into()),
        );
        return redirect_error(state, request, &denied);
    }
    let response = complete(state, client, request, session).await;
    if response.status() == StatusCode::SERVICE_UNAVAILABLE {
        // Nothing was issued: the interaction is put back, so the same answer can be sent
        // again once the backend is back.
        if let Err(error) = save_interaction(state.ephemeral.as_ref(), id, interaction).await {
            tracing::warn!(%error, "could not keep an interrupted consent");
        }
    }
    response
}

/// Records (or widens) the grant and sends the code to the client.
async fn complete(
    state: &AppState,
    client: &Client,
    request: &AuthorizationRequest,
    session: &Session,
) -> HttpResponse {
    let now = state.clock.now();
    let grant = match state
        .db
        .upsert_grant(session.user_id, &client.id, &request.scope, now)
        .await
    {
        Ok(grant) => grant,
        Err(error) => return redirect_error(state, request, &OAuthError::from_backend(error)),
    };
    match issue_code_redirect(
        state.ephemeral.as_ref(),
        state.issuer.as_str(),
        request,
        session,
        grant.id,
        now,
    )
    .await
    {
        Ok(location) => redirect(&location),
        Err(error) => redirect_error(state, request, &error),
    }
}

/// Loads the interaction a form belongs to and checks that this browser started it.
async fn open_interaction(
    state: &AppState,
    req: &HttpRequest,
    id: &str,
    body: &[u8],
    cookies: &Cookies,
) -> Result<(FormRequest, Interaction, Client), HttpResponse> {
    let form = read_form(req, body).map_err(|e| error_page(&e))?;
    let interaction = match load_interaction(state.ephemeral.as_ref(), id).await {
        Ok(Some(interaction)) if interaction.is_live(state.clock.now()) => interaction,
        Ok(_) => return Err(expired_page()),
        Err(error) => return Err(error_page(&OAuthError::from_backend(error))),
    };
    if !interaction.accepts(cookies.binding(req), form.get("csrf_token")) {
        let error =
            OAuthError::invalid_request("this form was not sent from the page Gatehouse showed");
        return Err(forbidden_page(&error));
    }
    if interaction.request.client_id == account::ACCOUNT_CLIENT_ID {
        let client = account::account_client(state.issuer.as_str()).ok_or_else(expired_page)?;
        return Ok((form, interaction, client));
    }
    let client_id = crate::domain::ClientId::parse(&interaction.request.client_id)
        .map_err(|_| expired_page())?;
    let client = match state.db.find_client(&client_id).await {
        Ok(client) if !client.disabled => client,
        Ok(_) | Err(StoreError::NotFound) => return Err(expired_page()),
        // Not "expired": the sign-in is kept and can go on once the database is back.
        Err(error) => return Err(error_page(&OAuthError::from_backend(error))),
    };
    Ok((form, interaction, client))
}

/// 403 for a form that did not come from the page Gatehouse showed this browser.
fn forbidden_page(error: &OAuthError) -> HttpResponse {
    render(
        StatusCode::FORBIDDEN,
        &ErrorPage {
            error: error.code.as_str(),
            description: error.public_description(),
        },
    )
}

async fn signed_in_user(
    state: &AppState,
    cookie: Option<&str>,
) -> Result<Option<(User, Session)>, OAuthError> {
    let Some(cookie) = cookie else {
        return Ok(None);
    };
    let Some(session) = load_session(state.ephemeral.as_ref(), cookie)
        .await
        .map_err(OAuthError::from_backend)?
    else {
        return Ok(None);
    };
    let lifetime = std::time::Duration::from_secs(state.settings.sessions.lifetime_secs);
    let now = state.clock.now();
    if !session.is_live(now, lifetime) {
        return Ok(None);
    }
    // Signed out everywhere, password changed, disabled or deleted since: the session is over.
    let user_id = session.user_id.to_string();
    if state
        .current
        .session_ended(&user_id, session.auth_time, now)
        .await
        .map_err(OAuthError::from_backend)?
    {
        return Ok(None);
    }
    match state.db.find_user(session.user_id).await {
        Ok(user) if !user.disabled => Ok(Some((user, session))),
        Ok(_) | Err(StoreError::NotFound) => Ok(None),
        Err(error) => Err(OAuthError::from_backend(error)),
    }
}

fn read_form(req: &HttpRequest, body: &[u8]) -> Result<FormRequest, OAuthError> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    FormRequest::parse(content_type, None, body)
}
