//! The session and interaction cookies: `HttpOnly`, `SameSite=Lax`, and `Secure` with the
//! `__Host-` prefix (bound to this origin, path `/`) unless the issuer is plain http.

use std::time::Duration;

use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::{HttpRequest, HttpResponse};

use crate::oauth::interaction::INTERACTION_LIFETIME;

pub struct Cookies {
    secure: bool,
}

impl Cookies {
    pub fn for_issuer(issuer: &str) -> Self {
        Self {
            secure: issuer.starts_with("https://"),
        }
    }

    fn name(&self, base: &'static str) -> String {
        if self.secure {
            format!("__Host-{base}")
        } else {
            base.to_owned()
        }
    }

    pub fn session<'r>(&self, req: &'r HttpRequest) -> Option<&'r str> {
        cookie_value(req, &self.name("gatehouse-session"))
    }

    pub fn binding<'r>(&self, req: &'r HttpRequest) -> Option<&'r str> {
        cookie_value(req, &self.name("gatehouse-interaction"))
    }

    pub fn session_cookie(&self, value: &str, lifetime: Duration) -> Cookie<'static> {
        self.build("gatehouse-session", value, lifetime)
    }

    pub fn binding_cookie(&self, value: &str) -> Cookie<'static> {
        self.build("gatehouse-interaction", value, INTERACTION_LIFETIME)
    }

    /// A cookie that removes the session cookie.
    pub fn expired_session_cookie(&self) -> Cookie<'static> {
        self.build("gatehouse-session", "", Duration::ZERO)
    }

    fn build(&self, base: &'static str, value: &str, lifetime: Duration) -> Cookie<'static> {
        Cookie::build(self.name(base), value.to_owned())
            .path("/")
            .http_only(true)
            .secure(self.secure)
            .same_site(SameSite::Lax)
            .max_age(CookieDuration::seconds(
                i64::try_from(lifetime.as_secs()).unwrap_or(i64::MAX),
            ))
            .finish()
    }

    pub fn attach(&self, response: &mut HttpResponse, cookie: Cookie<'static>) {
        if let Err(error) = response.add_cookie(&cookie) {
            tracing::warn!(%error, "could not set a cookie");
        }
    }
}

/// The raw value of a request cookie. Read from the header directly so a malformed cookie from
/// another application on the same host cannot hide ours.
fn cookie_value<'r>(req: &'r HttpRequest, name: &str) -> Option<&'r str> {
    req.headers()
        .get_all(actix_web::http::header::COOKIE)
        .filter_map(|value| value.to_str().ok())
        .flat_map(|header| header.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v)
}
