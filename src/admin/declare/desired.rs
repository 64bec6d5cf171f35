//! What a declaration describes: the admin API's request bodies built from it, the record it
//! stands for (checked as the API checks a request), and the fields in which a stored record
//! differs from it.

use time::OffsetDateTime;

use crate::admin::clients::{self, ClientChanges, NewClient};
use crate::admin::users::{self, NewUser, UserChanges};
use crate::admin::{AdminError, Problems};
use crate::config::{DeclaredClient, DeclaredUser};
use crate::crypto::SigningAlgorithm;
use crate::domain::{Client, Role, Roles, User};

/// The client a declaration describes, checked as a registration is against `signing`.
pub(super) fn desired_client(
    declared: &DeclaredClient,
    signing: &[SigningAlgorithm],
) -> Result<Client, AdminError> {
    let epoch = OffsetDateTime::UNIX_EPOCH;
    let client = clients::validate_new_client(new_client(declared), signing, epoch)?;
    clients::check_secret_allowed(&client, declared.client_secret.is_some())?;
    Ok(client)
}

/// The user a declaration describes, checked as a creation is (the password too).
pub(super) fn desired_user(declared: &DeclaredUser) -> Result<User, AdminError> {
    let mut problems = Problems::default();
    if declared.password.is_some() && declared.password_hash.is_some() {
        problems.add(
            "password_hash",
            "declare a password or a password_hash, not both",
        );
    }
    let roles = declared
        .roles
        .as_deref()
        .map(|names| problems.check_all("roles", names, Role::parse));
    let password = declared.password.as_ref().map(|p| p.to_password());
    let epoch = OffsetDateTime::UNIX_EPOCH;
    let user = users::validate_new_user(new_user(declared), password.as_ref(), epoch);
    match (user, problems.into_result()) {
        (Err(AdminError::Invalid(mut errors)), Err(AdminError::Invalid(more))) => {
            errors.extend(more);
            Err(AdminError::Invalid(errors))
        }
        (Err(error), _) | (Ok(_), Err(error)) => Err(error),
        (Ok(user), Ok(())) => Ok(User {
            disabled: declared.disabled,
            roles: roles.map_or(user.roles, Roles::from),
            ..user
        }),
    }
}

pub(super) fn client_differences(current: &Client, desired: &Client) -> Vec<&'static str> {
    let fields = [
        ("name", current.name == desired.name),
        ("public", current.client_type == desired.client_type),
        (
            "token_endpoint_auth_method",
            current.auth_method == desired.auth_method,
        ),
        ("grant_types", current.grant_types == desired.grant_types),
        ("scopes", current.scopes == desired.scopes),
        (
            "redirect_uris",
            current.redirect_uris == desired.redirect_uris,
        ),
        (
            "post_logout_redirect_uris",
            current.post_logout_redirect_uris == desired.post_logout_redirect_uris,
        ),
        ("audiences", current.audiences == desired.audiences),
        (
            "access_token_ttl_secs",
            current.access_token_ttl_secs == desired.access_token_ttl_secs,
        ),
        (
            "id_token_signed_response_alg",
            current.id_token_signed_response_alg == desired.id_token_signed_response_alg,
        ),
        ("jwks", current.jwks == desired.jwks),
        ("first_party", current.first_party == desired.first_party),
        ("require_mfa", current.require_mfa == desired.require_mfa),
    ];
    differing(&fields)
}

/// The fields in which `current` differs from `desired`; the roles only when `declared` names
/// them.
pub(super) fn user_differences(
    current: &User,
    desired: &User,
    declared: &DeclaredUser,
) -> Vec<&'static str> {
    let roles_differ = declared.roles.is_some() && current.roles != desired.roles;
    let fields = [
        ("roles", !roles_differ),
        ("email", current.email == desired.email),
        (
            "email_verified",
            current.email_verified == desired.email_verified,
        ),
        ("display_name", current.display_name == desired.display_name),
        ("claims", current.claims == desired.claims),
        ("disabled", current.disabled == desired.disabled),
    ];
    differing(&fields)
}

fn differing(fields: &[(&'static str, bool)]) -> Vec<&'static str> {
    fields
        .iter()
        .filter(|(_, same)| !same)
        .map(|(name, _)| *name)
        .collect()
}

pub(super) fn new_client(declared: &DeclaredClient) -> NewClient {
    let changes = client_changes(declared);
    NewClient {
        client_id: Some(declared.client_id.clone()),
        name: changes.name,
        public: changes.public,
        grant_types: changes.grant_types,
        scopes: changes.scopes,
        redirect_uris: changes.redirect_uris,
        post_logout_redirect_uris: changes.post_logout_redirect_uris,
        audiences: changes.audiences,
        token_endpoint_auth_method: changes.token_endpoint_auth_method,
        access_token_ttl_secs: changes.access_token_ttl_secs,
        id_token_signed_response_alg: changes.id_token_signed_response_alg,
        jwks: changes.jwks,
        first_party: changes.first_party,
        require_mfa: changes.require_mfa,
        disabled: false,
    }
}

pub(super) fn client_changes(declared: &DeclaredClient) -> ClientChanges {
    let d = declared.clone();
    ClientChanges {
        name: d.name,
        public: d.public,
        grant_types: d.grant_types,
        scopes: d.scopes,
        redirect_uris: d.redirect_uris,
        post_logout_redirect_uris: d.post_logout_redirect_uris,
        audiences: d.audiences,
        token_endpoint_auth_method: d.token_endpoint_auth_method,
        access_token_ttl_secs: d.access_token_ttl_secs,
        id_token_signed_response_alg: d.id_token_signed_response_alg,
        jwks: d.jwks,
        first_party: d.first_party,
        require_mfa: d.require_mfa,
        disabled: false,
    }
}

pub(super) fn new_user(declared: &DeclaredUser) -> NewUser {
    let changes = user_changes(declared);
    NewUser {
        username: changes.username,
        email: changes.email,
        email_verified: changes.email_verified,
        display_name: changes.display_name,
        claims: changes.claims,
    }
}

pub(super) fn user_changes(declared: &DeclaredUser) -> UserChanges {
    let d = declared.clone();
    UserChanges {
        username: d.username,
        email: d.email,
        email_verified: d.email_verified,
        display_name: d.display_name,
        claims: d.claims,
        disabled: d.disabled,
    }
}
