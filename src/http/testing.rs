//! `POST /testing/tokens`: mints an access token for any subject, so the tests of other services
//! get one without a client or a sign-in. Routed only in test mode (`serve --ephemeral`, or
//! `testing.enabled` without PostgreSQL); otherwise the path does not exist.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::admin::{ApiError, body};
use crate::admin::FieldError;
use crate::admin::clients::{MAX_ACCESS_TOKEN_TTL_SECS, admin_api_audience, has_admin_scope};
use crate::domain::ScopeSet;
use crate::oauth::tokens::{
    MintRequest, OneOrMany, is_reserved_access_token_claim, mint_access_token,
};
use crate::state::AppState;

/// The `client_id` claim of a minted token when the request names none.
pub const DEFAULT_CLIENT_ID: &str = "testing";
/// The longest `sub`, `client_id` or audience accepted, in characters.
const MAX_NAME_CHARS: usize = 255;

/// The request body; every field but `sub` is optional.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MintBody {
    sub: String,
    aud: Option<OneOrMany>,
    client_id: Option<String>,
    scope: Option<String>,
    claims: Option<Map<String, Value>>,
    expires_in: Option<u32>,
}

/// `POST /testing/tokens`
pub async fn post_testing_tokens(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let (request, _) = body::json::<MintBody>(&req, payload, body::JSON).await?;
    let aud_given = request.aud.is_some();
    let mut request = request.parse(state.settings.tokens.access_token_ttl_secs)?;
    // As for issued tokens: one that carries an admin scope is for the admin API.
    if !aud_given && has_admin_scope(&request.scope) {
        request.aud = OneOrMany::One(admin_api_audience(state.issuer.as_str()));
    }
    let expires_in = request.lifetime_secs;
    let token =
        mint_access_token(&state, request, state.clock.now()).map_err(ApiError::Internal)?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json!({
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": expires_in,
        })))
}

impl MintBody {
    /// Checks every field, reporting all that fail at once (422).
    fn parse(self, default_lifetime_secs: u32) -> Result<MintRequest, ApiError> {
        let mut errors = Vec::new();
        let mut fail = |field: String, problem: &str| {
            errors.push(FieldError {
                field,
                problem: problem.to_owned(),
            })
        };
        let name_ok = |s: &str| (1..=MAX_NAME_CHARS).contains(&s.chars().count());
        if !name_ok(&self.sub) {
            fail("sub".into(), "must have 1 to 255 characters");
        }
        let client_id = self
            .client_id
            .unwrap_or_else(|| DEFAULT_CLIENT_ID.to_owned());
        if !name_ok(&client_id) {
            fail("client_id".into(), "must have 1 to 255 characters");
        }
        let aud = self
            .aud
            .unwrap_or_else(|| OneOrMany::One(client_id.clone()));
        match &aud {
            OneOrMany::One(one) if !name_ok(one) => {
                fail("aud".into(), "must have 1 to 255 characters");
            }
            OneOrMany::Many(many) if many.is_empty() => {
                fail("aud".into(), "must name at least one audience");
            }
            OneOrMany::Many(many) => {
                for (i, one) in many.iter().enumerate() {
                    if !name_ok(one) {
                        fail(format!("aud[{i}]"), "must have 1 to 255 characters");
                    }
                }
            }
            OneOrMany::One(_) => {}
        }
        let scope = ScopeSet::parse_delimited(self.scope.as_deref().unwrap_or_default())
            .unwrap_or_else(|problem| {
                fail("scope".into(), &problem);
                ScopeSet::default()
            });
        let claims = self.claims.unwrap_or_default();
        for name in claims.keys() {
            if name.is_empty() {
                fail("claims".into(), "a claim name may not be empty");
            } else if is_reserved_access_token_claim(name) {
                fail(
                    format!("claims.{name}"),
                    "is set by Gatehouse and may not be overridden",
                );
            }
        }
        let lifetime_secs = self.expires_in.unwrap_or(default_lifetime_secs);
        if !(1..=MAX_ACCESS_TOKEN_TTL_SECS).contains(&lifetime_secs) {
            fail(
                "expires_in".into(),
                &format!("must be 1 to {MAX_ACCESS_TOKEN_TTL_SECS}"),
            );
        }
        if !errors.is_empty() {
            return Err(ApiError::Invalid(errors));
        }
        Ok(MintRequest {
            sub: self.sub,
            aud,
            client_id,
            scope,
            claims,
            lifetime_secs,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields_of(body: &str) -> Vec<String> {
        let parsed: MintBody = serde_json::from_str(body).unwrap();
        match parsed.parse(900) {
            Err(ApiError::Invalid(errors)) => errors.into_iter().map(|e| e.field).collect(),
            other => panic!("expected a 422, got {other:?}"),
        }
    }

    #[test]
    fn defaults_fill_everything_but_sub() {
        let parsed: MintBody = serde_json::from_str(r#"{"sub": "alice"}"#).unwrap();
        let request = parsed.parse(900).unwrap();
        assert_eq!(request.client_id, DEFAULT_CLIENT_ID);
        assert_eq!(request.aud, OneOrMany::One(DEFAULT_CLIENT_ID.into()));
        assert_eq!(request.lifetime_secs, 900);
        assert!(request.scope.is_empty() && request.claims.is_empty());
    }

    #[test]
    fn every_bad_field_is_named() {
        let long = "x".repeat(256);
        assert_eq!(
            fields_of(&format!(
                r#"{{"sub": "{long}", "aud": ["a", ""], "scope": "a  b", "expires_in": 0,
                    "claims": {{"iss": "x", "gid": "y", "team": 1}}}}"#
            )),
            [
                "sub",
                "aud[1]",
                "scope",
                "claims.gid",
                "claims.iss",
                "expires_in"
            ]
        );
        assert_eq!(fields_of(r#"{"sub": "", "aud": []}"#), ["sub", "aud"]);
        assert_eq!(
            fields_of(r#"{"sub": "a", "expires_in": 86401}"#),
            ["expires_in"]
        );
    }
}
