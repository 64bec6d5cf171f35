//! Checking a client registration as a whole: every field, and the rules that tie fields
//! together (RFC 6749 §2.1 client types, §4.4 client_credentials, RFC 7523 keys).

use time::OffsetDateTime;

use super::{MAX_ACCESS_TOKEN_TTL_SECS, NewClient};
use crate::admin::{AdminError, Problems};
use crate::crypto::SigningAlgorithm;
use crate::domain::{
    ACCOUNT_CLIENT_ID, Audience, AuthMethod, Client, ClientId, ClientType, GrantType, RedirectUri,
    Scope, ScopeSet,
};

/// Which rules the request's `client_id` must follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum IdRule {
    /// A new client: an id that reads as a UUID is refused.
    New,
    /// A replacement keeps the stored id as it is, even one registered before that rule.
    Kept,
}

/// Checks a registration request as a whole and builds the client it describes. `signing` is
/// what this server signs with (`keys.algorithms`): a client can only be registered for ID
/// tokens the key ring can sign.
pub fn validate_new_client(
    request: NewClient,
    signing: &[SigningAlgorithm],
    now: OffsetDateTime,
) -> Result<Client, AdminError> {
    validate_client(request, IdRule::New, signing, now)
}

/// Checks a replacement (`PUT`, `PATCH`) as a whole like a registration; its `client_id` is the
/// stored one and is taken as it is.
pub fn validate_replacement(
    request: NewClient,
    signing: &[SigningAlgorithm],
    now: OffsetDateTime,
) -> Result<Client, AdminError> {
    validate_client(request, IdRule::Kept, signing, now)
}

/// A new client's id: a [`ClientId`] that is not spelled like a user's `sub`. Users' subjects
/// are UUIDs, and a client's own tokens carry its id as `sub`: RFC 9068 §5 asks that the two
/// kinds of subject never be confusable.
fn new_client_id(raw: &str) -> Result<ClientId, String> {
    let id = ClientId::parse(raw)?;
    if id.as_str() == ACCOUNT_CLIENT_ID {
        return Err(format!(
            "{ACCOUNT_CLIENT_ID} is the account page's own client and cannot be registered"
        ));
    }
    if id.reads_as_uuid() {
        return Err(
            "a client id may not be a UUID (in any spelling): users' subjects are UUIDs, and a \
             client's own tokens must never name a user (RFC 9068 §5)"
                .into(),
        );
    }
    Ok(id)
}

fn validate_client(
    request: NewClient,
    id_rule: IdRule,
    signing: &[SigningAlgorithm],
    now: OffsetDateTime,
) -> Result<Client, AdminError> {
    // Whole seconds: what every backend stores, so a created record equals its stored self.
    let now = now.replace_nanosecond(0).unwrap_or(now);
    let mut problems = Problems::default();
    let name = request.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
        problems.add("name", "a name has 1 to 200 printable characters");
    }
    let id = match &request.client_id {
        Some(id) if id_rule == IdRule::New => problems.check("client_id", new_client_id(id)),
        Some(id) => problems.check("client_id", ClientId::parse(id)),
        None => Some(ClientId::generate()),
    };
    let client_type = if request.public {
        ClientType::Public
    } else {
        ClientType::Confidential
    };
    let auth_method = match (&request.token_endpoint_auth_method, client_type) {
        (Some(method), _) => {
            problems.check("token_endpoint_auth_method", AuthMethod::parse(method))
        }
        (None, ClientType::Public) => Some(AuthMethod::None),
        (None, ClientType::Confidential) => Some(AuthMethod::ClientSecretBasic),
    };
    if let Some(method) = auth_method
        && (client_type == ClientType::Public) != (method == AuthMethod::None)
    {
        problems.add(
            "token_endpoint_auth_method",
            "public clients, and only they, use `none` (RFC 6749 §2.1)",
        );
    }
    let mut grant_types = if request.grant_types.is_empty() {
        match client_type {
            ClientType::Confidential => vec![GrantType::ClientCredentials],
            ClientType::Public => vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
        }
    } else {
        problems.check_all("grant_types", &request.grant_types, GrantType::parse)
    };
    grant_types.sort_unstable();
    grant_types.dedup();
    let scopes = ScopeSet::from_scopes(problems.check_all("scopes", &request.scopes, Scope::parse));
    let mut redirect_uris =
        problems.check_all("redirect_uris", &request.redirect_uris, RedirectUri::parse);
    dedup_keep_order(&mut redirect_uris);
    let mut post_logout_redirect_uris = problems.check_all(
        "post_logout_redirect_uris",
        &request.post_logout_redirect_uris,
        RedirectUri::parse,
    );
    dedup_keep_order(&mut post_logout_redirect_uris);
    let mut audiences = problems.check_all("audiences", &request.audiences, Audience::parse);
    dedup_keep_order(&mut audiences);
    check_grants(
        &mut problems,
        client_type,
        &grant_types,
        redirect_uris.is_empty(),
    );
    if let Some(ttl) = request.access_token_ttl_secs
        && !(1..=MAX_ACCESS_TOKEN_TTL_SECS).contains(&ttl)
    {
        problems.add(
            "access_token_ttl_secs",
            format!("must be 1 to {MAX_ACCESS_TOKEN_TTL_SECS}"),
        );
    }
    let id_token_alg = match request.id_token_signed_response_alg.as_deref() {
        Some(alg) => problems.check("id_token_signed_response_alg", signable(alg, signing)),
        None => None,
    };
    let jwks = match (auth_method, request.jwks) {
        (Some(AuthMethod::PrivateKeyJwt), Some(jwks)) => {
            problems.check("jwks", check_public_jwks(&jwks).map(|()| jwks))
        }
        (Some(AuthMethod::PrivateKeyJwt), None) => {
            problems.add("jwks", "private_key_jwt needs the client's public keys");
            None
        }
        (_, Some(_)) => {
            problems.add("jwks", "only private_key_jwt clients register keys");
            None
        }
        (_, None) => None,
    };
    problems.into_result()?;
    let (Some(id), Some(auth_method)) = (id, auth_method) else {
        return Err(AdminError::Invalid(Vec::new()));
    };
    Ok(Client {
        id,
        name,
        client_type,
        auth_method,
        grant_types,
        scopes,
        redirect_uris,
        post_logout_redirect_uris,
        audiences,
        jwks,
        access_token_ttl_secs: request.access_token_ttl_secs,
        id_token_signed_response_alg: id_token_alg,
        first_party: request.first_party,
        require_mfa: request.require_mfa,
        disabled: request.disabled,
        version: 1,
        created_at: now,
        updated_at: now,
    })
}

/// OIDC Registration §2 `id_token_signed_response_alg`: an algorithm this server knows, and one
/// its key ring signs with, or every ID token of the client would fail to be issued.
fn signable(alg: &str, signing: &[SigningAlgorithm]) -> Result<SigningAlgorithm, String> {
    let alg = SigningAlgorithm::parse(alg).ok_or("must be RS256, ES256 or EdDSA")?;
    if !signing.contains(&alg) {
        let names: Vec<&str> = signing.iter().map(|a| a.as_str()).collect();
        return Err(format!(
            "{alg} is not an algorithm this server signs with; keys.algorithms has {}",
            names.join(", ")
        ));
    }
    Ok(alg)
}

fn check_grants(
    problems: &mut Problems,
    client_type: ClientType,
    grants: &[GrantType],
    no_redirects: bool,
) {
    if client_type == ClientType::Public && grants.contains(&GrantType::ClientCredentials) {
        problems.add(
            "grant_types",
            "client_credentials needs a confidential client (RFC 6749 §4.4)",
        );
    }
    if grants.contains(&GrantType::RefreshToken) && !grants.contains(&GrantType::AuthorizationCode)
    {
        problems.add("grant_types", "refresh_token comes with authorization_code");
    }
    if grants.contains(&GrantType::AuthorizationCode) && no_redirects {
        problems.add(
            "redirect_uris",
            "authorization_code needs at least one redirect URI",
        );
    }
}

/// A JWK Set of public signing keys only: no symmetric keys, no private members.
fn check_public_jwks(jwks: &serde_json::Value) -> Result<(), String> {
    const PRIVATE_MEMBERS: [&str; 7] = ["d", "p", "q", "dp", "dq", "qi", "k"];
    let keys = jwks
        .get("keys")
        .and_then(|k| k.as_array())
        .ok_or("must be a JWK Set: {\"keys\": [...]}")?;
    if keys.is_empty() || keys.len() > 10 {
        return Err("must hold 1 to 10 keys".into());
    }
    for (i, key) in keys.iter().enumerate() {
        if !matches!(
            key.get("kty").and_then(|k| k.as_str()),
            Some("EC" | "RSA" | "OKP")
        ) {
            return Err(format!("key {i}: kty must be EC, RSA or OKP"));
        }
        if let Some(member) = PRIVATE_MEMBERS.iter().find(|m| key.get(**m).is_some()) {
            return Err(format!(
                "key {i}: holds the private member `{member}`; register public keys only"
            ));
        }
        let jwk: jsonwebtoken::jwk::Jwk =
            serde_json::from_value(key.clone()).map_err(|e| format!("key {i}: {e}"))?;
        jsonwebtoken::DecodingKey::from_jwk(&jwk).map_err(|e| format!("key {i}: {e}"))?;
    }
    Ok(())
}

fn dedup_keep_order<T: PartialEq + Clone>(items: &mut Vec<T>) {
    let mut seen: Vec<T> = Vec::with_capacity(items.len());
    items.retain(|item| {
        let fresh = !seen.contains(item);
        if fresh {
            seen.push(item.clone());
        }
        fresh
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> NewClient {
        NewClient {
            name: "billing".into(),
            ..NewClient::default()
        }
    }

    const SIGNING: [SigningAlgorithm; 2] = [SigningAlgorithm::Es256, SigningAlgorithm::Rs256];

    fn problems(request: NewClient) -> Vec<String> {
        match validate_new_client(request, &SIGNING, OffsetDateTime::UNIX_EPOCH) {
            Err(AdminError::Invalid(errors)) => errors.into_iter().map(|e| e.field).collect(),
            other => panic!("expected invalid input, got {other:?}"),
        }
    }

    #[test]
    fn a_confidential_client_defaults_to_client_credentials_with_basic() {
        let client = validate_new_client(request(), &SIGNING, OffsetDateTime::UNIX_EPOCH).unwrap();
        assert_eq!(client.client_type, ClientType::Confidential);
        assert_eq!(client.auth_method, AuthMethod::ClientSecretBasic);
        assert_eq!(client.grant_types, [GrantType::ClientCredentials]);
    }

    #[test]
    fn every_mistake_is_reported_at_once() {
        let bad = NewClient {
            name: " ".into(),
            client_id: Some("no spaces".into()),
            grant_types: vec!["password".into()],
            scopes: vec!["bad scope".into()],
            audiences: vec!["not a uri".into()],
            access_token_ttl_secs: Some(0),
            ..request()
        };
        assert_eq!(
            problems(bad),
            [
                "name",
                "client_id",
                "grant_types[0]",
                "scopes[0]",
                "audiences[0]",
                "access_token_ttl_secs"
            ]
        );
    }

    #[test]
    fn a_new_client_id_may_not_be_spelled_like_a_user_subject() {
        let user = uuid::Uuid::new_v4();
        for spelling in [
            user.to_string(),
            user.simple().to_string(),
            user.to_string().to_uppercase(),
        ] {
            let uuid_id = NewClient {
                client_id: Some(spelling.clone()),
                ..request()
            };
            assert_eq!(problems(uuid_id), ["client_id"], "{spelling}");
        }
        let reserved = NewClient {
            client_id: Some(ACCOUNT_CLIENT_ID.into()),
            ..request()
        };
        assert_eq!(
            problems(reserved),
            ["client_id"],
            "the account page's client"
        );
        let kept = NewClient {
            client_id: Some(user.to_string()),
            ..request()
        };
        let replaced = validate_replacement(kept, &SIGNING, OffsetDateTime::UNIX_EPOCH).unwrap();
        assert_eq!(replaced.id.as_str(), user.to_string());
    }

    #[test]
    fn an_id_token_algorithm_the_key_ring_does_not_sign_with_is_refused() {
        let eddsa = NewClient {
            id_token_signed_response_alg: Some("EdDSA".into()),
            ..request()
        };
        assert_eq!(problems(eddsa.clone()), ["id_token_signed_response_alg"]);
        let Err(AdminError::Invalid(errors)) =
            validate_new_client(eddsa.clone(), &SIGNING, OffsetDateTime::UNIX_EPOCH)
        else {
            panic!("EdDSA is refused");
        };
        assert!(errors[0].problem.contains("ES256, RS256"), "{errors:?}");
        let with_eddsa = [SigningAlgorithm::EdDsa];
        let client = validate_new_client(eddsa, &with_eddsa, OffsetDateTime::UNIX_EPOCH).unwrap();
        assert_eq!(
            client.id_token_signed_response_alg,
            Some(SigningAlgorithm::EdDsa)
        );
    }

    #[test]
    fn public_clients_cannot_use_client_credentials_or_a_secret() {
        let public = NewClient {
            public: true,
            grant_types: vec!["client_credentials".into()],
            token_endpoint_auth_method: Some("client_secret_post".into()),
            ..request()
        };
        assert_eq!(
            problems(public),
            ["token_endpoint_auth_method", "grant_types"]
        );
    }

    #[test]
    fn private_key_jwt_needs_public_keys_only() {
        let with_private = NewClient {
            token_endpoint_auth_method: Some("private_key_jwt".into()),
            jwks: Some(
                serde_json::json!({"keys": [{"kty": "EC", "crv": "P-256", "x": "a", "y": "b", "d": "secret"}]}),
            ),
            ..request()
        };
        assert_eq!(problems(with_private), ["jwks"]);
        let without = NewClient {
            token_endpoint_auth_method: Some("private_key_jwt".into()),
            ..request()
        };
        assert_eq!(problems(without), ["jwks"]);
    }
}
