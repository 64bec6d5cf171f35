//! The authorization endpoint and the pages a person sees: sign in, consent, errors.
//! Handlers stay thin: the decisions are in `oauth::authorize`, `oauth::interaction` and
//! `signin` (the sign-in steps).

mod cookies;
mod logout;
mod responses;
mod templates;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};

use self::cookies::Cookies;
pub use self::logout::{get_end_session, post_confirm_logout, post_end_session};
use self::responses::{
    consent_page, error_page, expired_page, login_page, redirect, redirect_error,
    too_many_attempts_page, too_many_pending_page, unavailable_page,
};
pub use self::templates::get_stylesheet;
use self::templates::{ErrorPage, render};
use crate::crypto::Password;
use crate::domain::{Client, User};
use crate::http::client_address::client_address;
use crate::oauth::authorize::{AuthorizationRequest, AuthorizeError, validate};
use crate::oauth::interaction::{
    INTERACTION_LIFETIME, Interaction, Next, Session, error_redirect, finish_interaction,
    issue_code_redirect, load_interaction, load_session, next_step, save_interaction,
    start_interaction,
};
use crate::oauth::{ErrorCode, FormRequest, OAuthError};
use crate::signin::{Outcome, SignedIn, password};
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
    proceed(state, &client, request, signed_in, false, &cookies, from).await
}

/// Decides and performs the next step for a request whose client is verified.
async fn proceed(
    state: &AppState,
    client: &Client,
    request: AuthorizationRequest,
    signed_in: Option<(User, Session)>,
    fresh_login: bool,
    cookies: &Cookies,
    from: std::net::IpAddr,
) -> HttpResponse {
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
        (Ok(Next::Issue), Some((_, session))) => complete(state, client, &request, &session).await,
        (Ok(next), signed_in) => {
            let consent = match (next, signed_in) {
                (Next::Consent, Some((user, session))) => Some((user, session)),
                _ => None,
            };
            let session = consent.as_ref().map(|(_, session)| *session);
            // After a fresh sign-in, consent takes over the sign-in interaction's count.
            let limit = state.settings.sessions.max_pending_interactions_per_address;
            let pending = (!fresh_login).then_some((from, limit));
            match start_interaction(state.ephemeral.as_ref(), request, session, pending, now).await
            {
                Ok(Some((id, binding, interaction))) => {
                    let mut response = match &consent {
                        Some((user, _)) => consent_page(client, user, &interaction, &id),
                        None => login_page(client, &interaction, &id, "", None, StatusCode::OK),
                    };
                    cookies.attach(&mut response, cookies.binding_cookie(&binding));
                    response
                }
                Ok(None) => {
                    tracing::info!(%from, "authorization refused: too many pending from this address");
                    too_many_pending_page(INTERACTION_LIFETIME)
                }
                Err(error) => error_page(&OAuthError::from_backend(error)),
            }
        }
    }
}

/// `POST /interaction/{id}/login`: the password step (`signin::password`), then on.
pub async fn post_login(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let id = path.into_inner();
    let cookies = Cookies::for_issuer(state.issuer.as_str());
    let (form, mut interaction, client) =
        match open_interaction(&state, &req, &id, &body, &cookies).await {
            Ok(opened) => opened,
            Err(response) => return response,
        };
    let typed = form.get("username").unwrap_or_default();
    let password = Password::new(form.get("password").unwrap_or_default().to_owned());
    let from = client_address(&req).ip();
    let attempt = password::Attempt {
        username: typed,
        password: &password,
        from,
    };
    match password::sign_in(&state, &id, &mut interaction, attempt).await {
        Outcome::SignedIn(signed_in) => {
            let request = interaction.request.clone();
            go_on_signed_in(&state, &client, &id, request, *signed_in, &cookies, from).await
        }
        // One message and one timing for a wrong name or a wrong password; not 401, which needs
        // a WWW-Authenticate challenge (RFC 9110 §15.5.2) that no login form has.
        Outcome::WrongCredentials => {
            let message = Some("Incorrect username or password.");
            login_page(
                &client,
                &interaction,
                &id,
                typed,
                message,
                StatusCode::BAD_REQUEST,
            )
        }
        Outcome::Throttled { retry_after } => too_many_attempts_page(retry_after),
        Outcome::Unavailable => unavailable_page(),
        Outcome::Failed => failed_page(),
    }
}

/// After a sign-in: the authorization goes on with the new session, whose cookie the response
/// sets. The sign-in interaction is over once it went on: back to the client (303), or to
/// consent (200) under an interaction of its own, which takes over the pending count. After an
/// error page (an outage) it stays, so the same form can be sent again.
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
    } = signed_in;
    let signed_in = Some((user, session));
    let mut response = proceed(state, client, request, signed_in, true, cookies, from).await;
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
    response
}

/// 500 for a defect in a sign-in (already logged with its cause).
fn failed_page() -> HttpResponse {
    error_page(&OAuthError::server_error(anyhow::anyhow!(
        "the sign-in failed"
    )))
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
        Ok(Some(_)) => {}
        Ok(None) => return expired_page(),
        Err(error) => return error_page(&OAuthError::from_backend(error)),
    }
    let request = &interaction.request;
    if form.get("decision") != Some("allow") {
        let denied = OAuthError::new(
            ErrorCode::AccessDenied,
            Some("the user denied the request".into()),
        );
        return redirect_error(&state, request, &denied);
    }
    let response = complete(&state, &client, request, &session).await;
    if response.status() == StatusCode::SERVICE_UNAVAILABLE {
        // Nothing was issued: the interaction is put back, so the same answer can be sent
        // again once the backend is back.
        if let Err(error) = save_interaction(state.ephemeral.as_ref(), &id, &interaction).await {
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
        return Err(render(
            StatusCode::FORBIDDEN,
            &ErrorPage {
                error: error.code.as_str(),
                description: error.public_description(),
            },
        ));
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
