//! `/v1/users`: create, list, read, replace, patch and delete people; reset a password or the
//! second factors.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::conditional::{etag, expected_version, record};
use super::idempotency::{Created, create_once};
use super::pagination::{ListQuery, page_response};
use super::{Admin, ApiError, body};
use crate::admin::users::{self, NewUser, UserChanges, UserFilter, factors};
use crate::crypto::Password;
use crate::domain::{Role, User};

/// `GET /v1/users?username=&email=`
pub async fn get_users(admin: Admin, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let query = ListQuery::parse(req.query_string(), "/v1/users", &["username", "email"], &[])?;
    let filter = UserFilter {
        username: query.filter("username").map(str::to_owned),
        email: query.filter("email").map(str::to_owned),
    };
    let page = users::list_users(admin.db(), &filter, &query.page).await?;
    page_response(admin.format, &query, page)
}

/// The creation body: a [`NewUser`] and, apart from it, the initial password.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewUserBody {
    username: String,
    email: Option<String>,
    #[serde(default)]
    email_verified: bool,
    display_name: Option<String>,
    #[serde(default)]
    claims: Map<String, Value>,
    password: Option<String>,
}

impl NewUserBody {
    fn split(self) -> (NewUser, Option<Password>) {
        let user = NewUser {
            username: self.username,
            email: self.email,
            email_verified: self.email_verified,
            display_name: self.display_name,
            claims: self.claims,
        };
        (user, self.password.map(Password::new))
    }
}

/// `POST /v1/users`: 201; a taken username is a 409; idempotent by key.
pub async fn post_users(
    admin: Admin,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let (request, bytes) = body::json::<NewUserBody>(&req, payload, body::JSON).await?;
    let (request, password) = request.split();
    let created = create_once(
        &admin.state,
        admin.actor(),
        &req,
        &bytes,
        user_created,
        |remember| {
            let passwords = &admin.state.passwords;
            let (actor, now) = (admin.actor(), admin.now());
            users::create_user_once(
                admin.db(),
                passwords,
                request,
                password,
                actor,
                now,
                remember,
            )
        },
    )
    .await?;
    created.respond(admin.format)
}

fn user_created(user: &User) -> Result<Created, ApiError> {
    Ok(Created::new(
        format!("/v1/users/{}", user.id),
        etag(user.version),
        serde_json::to_value(user).map_err(|e| ApiError::Internal(e.into()))?,
    ))
}

/// `GET /v1/users/{id}`
pub async fn get_user(admin: Admin, id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let user = users::find_user_by_id(admin.db(), &id).await?;
    record(admin.format, &user, user.version)
}

/// `PUT /v1/users/{id}`: the whole profile replaced, validated as at creation.
pub async fn put_user(
    admin: Admin,
    id: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let expected = expected_version(&req)?;
    let (changes, _) = body::json::<UserChanges>(&req, payload, body::JSON).await?;
    let user = users::replace_user(
        admin.db(),
        &id,
        changes,
        expected,
        admin.actor(),
        admin.now(),
    )
    .await?;
    record(admin.format, &user, user.version)
}

/// `PATCH /v1/users/{id}`: a JSON Merge Patch (RFC 7396), validated as a whole.
pub async fn patch_user(
    admin: Admin,
    id: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let expected = expected_version(&req)?;
    let (patch, _) = body::json::<Value>(&req, payload, body::MERGE_PATCH).await?;
    let user = users::patch_user(
        admin.db(),
        &id,
        &patch,
        expected,
        admin.actor(),
        admin.now(),
    )
    .await?;
    record(admin.format, &user, user.version)
}

/// `DELETE /v1/users/{id}`: the user, their grants and what was issued under them.
pub async fn delete_user(
    admin: Admin,
    id: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let expected = expected_version(&req)?;
    users::delete_user_by_id(admin.db(), &id, expected, admin.actor(), admin.now()).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PasswordBody {
    password: String,
}

/// `POST /v1/users/{id}/password`: an admin reset, under the same rules as the CLI's.
pub async fn post_user_password(
    admin: Admin,
    id: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let (request, _) = body::json::<PasswordBody>(&req, payload, body::JSON).await?;
    let password = Password::new(request.password);
    let passwords = &admin.state.passwords;
    users::set_password_by_id(
        admin.db(),
        passwords,
        &id,
        &password,
        admin.actor(),
        admin.now(),
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `POST /v1/users/{id}/sign-out`: ends every session and grant of the person at once.
pub async fn post_user_sign_out(
    admin: Admin,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    users::sign_out_by_id(admin.db(), &id, admin.actor(), admin.now()).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `GET /v1/users/{id}/factors`: what second factors the person has, never a secret.
pub async fn get_user_factors(
    admin: Admin,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let user = users::find_user_by_id(admin.db(), &id).await?;
    let factors = factors::list_factors(admin.db(), &user).await?;
    admin.format.json(StatusCode::OK, &factors)
}

/// `DELETE /v1/users/{id}/factors`: removes the authenticator and recovery codes and signs the
/// person out everywhere (a lost phone); 204 whether or not there were any.
pub async fn delete_user_factors(
    admin: Admin,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let user = users::find_user_by_id(admin.db(), &id).await?;
    factors::reset_factors(admin.db(), &user, admin.actor(), admin.now()).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `PUT /v1/users/{id}/roles/{role}`: the person holds `role` from now on (idempotent); 200 with
/// the user. An unknown role is no resource (404).
pub async fn put_user_role(
    admin: Admin,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    set_user_role(admin, path, true).await
}

/// `DELETE /v1/users/{id}/roles/{role}`: the person no longer holds `role`; their admin tokens
/// stop working for what it allowed at once, on every instance. 200 with the user.
pub async fn delete_user_role(
    admin: Admin,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    set_user_role(admin, path, false).await
}

async fn set_user_role(
    admin: Admin,
    path: web::Path<(String, String)>,
    held: bool,
) -> Result<HttpResponse, ApiError> {
    let (id, role) = path.into_inner();
    let role = Role::parse(&role).map_err(|_| ApiError::NotFound)?;
    let user = users::find_user_by_id(admin.db(), &id).await?;
    let user = users::set_role(admin.db(), user, role, held, admin.actor(), admin.now()).await?;
    record(admin.format, &user, user.version)
}
