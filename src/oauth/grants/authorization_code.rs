//! RFC 6749 §4.1.3 with RFC 7636 §4.5: a code, its PKCE verifier and the same redirect URI
//! become an access token, an ID token when `openid` was granted, and a refresh token when the
//! client may refresh and `offline_access` was granted. A replayed code revokes what it issued
//! (RFC 6749 §4.1.2, RFC 9700 §4.2.1).

use time::OffsetDateTime;

use super::refresh_token::{issue_refresh_token, revoke_family};
use crate::domain::{Client, GrantType, User};
use crate::oauth::codes::{CodeGrant, Redemption, claim_code, find_code};
use crate::oauth::id_token::{IdTokenRequest, id_token_algorithm, issue_id_token};
use crate::oauth::token::TokenResponse;
use crate::oauth::tokens::issue_user_access_token;
use crate::oauth::{FormRequest, OAuthError, pkce};
use crate::state::AppState;
use crate::store::{ChangeKind, Grant, StoreError};
use crate::telemetry::Reuse;

pub async fn exchange(
    state: &AppState,
    client: &Client,
    form: &FormRequest,
    now: OffsetDateTime,
) -> Result<TokenResponse, OAuthError> {
    let code = form.require("code")?;
    let redirect_uri = form.require("redirect_uri")?;
    // Checked after the code is consumed: a code presented without its verifier is spent too.
    let verifier = form.get("code_verifier");
    let found = find_code(state.ephemeral.as_ref(), client.id.as_str(), code, now)
        .await
        .map_err(OAuthError::from_backend)?;
    let grant = live_or_refuse(state, client, found, now).await?;
    // What the answer needs from elsewhere is read before the code is spent, so that a backend
    // that is down (503) or a key ring that cannot sign for this client leaves the code usable
    // and the same request can be sent again; what is read is acted on only after the checks.
    let id_token_alg = grant
        .request
        .scope
        .contains("openid")
        .then(|| {
            id_token_algorithm(
                &state.keys,
                &state.settings.keys.algorithms,
                state.settings.tokens.id_token_algorithm,
                client,
            )
        })
        .transpose()?;
    let standing = read_standing(state, &grant, now).await?;
    let claimed = claim_code(state.ephemeral.as_ref(), client.id.as_str(), code, grant)
        .await
        .map_err(OAuthError::from_backend)?;
    let grant = live_or_refuse(state, client, claimed, now).await?;
    let request = &grant.request;
    // Codes are stored per client (see `codes`), so this holds; checked again all the same.
    if request.client_id != client.id.as_str() {
        return Err(OAuthError::invalid_grant(
            "the code was issued to another client",
        ));
    }
    if request.redirect_uri != redirect_uri {
        return Err(OAuthError::invalid_grant(
            "redirect_uri differs from the authorization request",
        ));
    }
    // RFC 7636 §4.6; a code always has a challenge, so a missing verifier cannot match it.
    let Some(verifier) = verifier else {
        return Err(OAuthError::invalid_grant(
            "code_verifier is required: the code was issued with a code_challenge",
        ));
    };
    if !pkce::verifier_matches(verifier, &request.code_challenge) {
        return Err(OAuthError::invalid_grant(
            "code_verifier does not match the code_challenge",
        ));
    }
    let Some(live_grant) = standing.grant else {
        return Err(OAuthError::invalid_grant("the grant was revoked"));
    };
    let Some(user) = standing.user else {
        return Err(OAuthError::invalid_grant("the user can no longer sign in"));
    };
    // Signed out everywhere (or a new password) since the sign-in this code rests on.
    if standing.session_ended {
        return Err(OAuthError::invalid_grant(
            "the sign-in behind this code has ended",
        ));
    }
    // The admin API's scopes only for a person who holds the role now (domain::Role).
    let scope = user.roles.cut(&request.scope);
    let (access_token, lifetime) = issue_user_access_token(
        state,
        client,
        &user.id,
        &scope,
        live_grant.id,
        grant.family_id,
        now,
    )?;
    let id_token = if let Some(algorithm) = id_token_alg {
        Some(issue_id_token(
            &state.keys,
            &IdTokenRequest {
                issuer: state.issuer.as_str(),
                client_id: client.id.as_str(),
                user: &user,
                scopes: &scope,
                nonce: request.nonce.as_deref(),
                auth_time: grant.auth_time,
                methods: Some(grant.methods),
                access_token: &access_token,
                algorithm,
                now,
            },
        )?)
    } else {
        None
    };
    let refresh_token = if client.allows_grant(GrantType::RefreshToken)
        && request.scope.contains("offline_access")
    {
        let auth_time = OffsetDateTime::from_unix_timestamp(grant.auth_time).unwrap_or(now);
        Some(
            issue_refresh_token(
                state,
                live_grant.id,
                grant.family_id,
                &request.scope,
                auth_time,
                grant.methods,
                now,
            )
            .await?,
        )
    } else {
        None
    };
    ensure_family_stands(state, grant.family_id, now).await?;
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in: lifetime,
        scope: (!scope.is_empty()).then(|| scope.to_delimited()),
        refresh_token,
        id_token,
    })
}

/// The code's grant when `found` is a live code; a replay revokes what the code issued
/// (RFC 6749 §4.1.2, RFC 9700 §4.2.1).
async fn live_or_refuse(
    state: &AppState,
    client: &Client,
    found: Redemption,
    now: OffsetDateTime,
) -> Result<Box<CodeGrant>, OAuthError> {
    match found {
        Redemption::Fresh(grant) => Ok(grant),
        Redemption::Replayed {
            grant_id,
            family_id,
        } => {
            state.metrics.reuse_detected(Reuse::AuthorizationCode);
            revoke_family(state, grant_id, family_id, now).await?;
            tracing::warn!(client_id = %client.id, %grant_id, "authorization code replayed; its tokens are revoked");
            Err(OAuthError::invalid_grant(
                "the authorization code was already used",
            ))
        }
        Redemption::Unknown => Err(OAuthError::invalid_grant(
            "the authorization code is invalid or expired",
        )),
    }
}

/// Whether what a code rests on still stands: its grant (unrevoked), its user (enabled) and
/// the sign-in behind it. Only a backend failure is an error here.
struct Standing {
    grant: Option<Grant>,
    user: Option<User>,
    session_ended: bool,
}

async fn read_standing(
    state: &AppState,
    code: &CodeGrant,
    now: OffsetDateTime,
) -> Result<Standing, OAuthError> {
    let grant = match state.db.find_grant(code.grant_id).await {
        Ok(g) if g.revoked_at.is_none() => Some(g),
        Ok(_) | Err(StoreError::NotFound) => None,
        Err(other) => return Err(OAuthError::from_backend(other)),
    };
    let user = match state.db.find_user(code.user_id).await {
        Ok(user) if !user.disabled => Some(user),
        Ok(_) | Err(StoreError::NotFound) => None,
        Err(other) => return Err(OAuthError::from_backend(other)),
    };
    let session_ended = state
        .current
        .session_ended(&code.user_id.to_string(), code.auth_time, now)
        .await
        .map_err(OAuthError::from_backend)?;
    Ok(Standing {
        grant,
        user,
        session_ended,
    })
}

/// RFC 9700 §4.2.1 for a replay that raced this redemption (two instances, the attacker and
/// the client at once): the replay's family revocation may have landed between the code's
/// consumption and the storage of its refresh token, so the database is asked after that
/// storage. The revocation sweeps the family's refresh tokens after recording itself, so
/// either that sweep finds the new token or this check finds the revocation.
async fn ensure_family_stands(
    state: &AppState,
    family_id: uuid::Uuid,
    now: OffsetDateTime,
) -> Result<(), OAuthError> {
    let revoked = state
        .db
        .change_recorded(ChangeKind::Family, &family_id.to_string(), now)
        .await
        .map_err(OAuthError::from_backend)?;
    if revoked {
        state
            .db
            .revoke_refresh_family(family_id, now)
            .await
            .map_err(OAuthError::from_backend)?;
        tracing::warn!(%family_id, "authorization code replayed while it was redeemed; its tokens are revoked");
        return Err(OAuthError::invalid_grant(
            "the authorization code was already used",
        ));
    }
    Ok(())
}
