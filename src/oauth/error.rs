//! Protocol errors with the RFC's own codes (RFC 6749 §5.2, RFC 6750 §3.1, RFC 7009 §2.2.1,
//! RFC 8707 §2, OIDC Core §3.1.2.6). The cause is kept for the logs only.

use std::borrow::Cow;
use std::fmt;

use crate::ephemeral::EphemeralError;
use crate::store::StoreError;

/// How long a caller is asked to wait (`Retry-After`, in seconds) when a backend is down: about
/// what a database failover or a Redis restart takes, short enough for a person to retry.
pub const RETRY_AFTER_SECS: u64 = 5;

/// A failure of a backend an answer depended on: the database, the ephemeral store, or the
/// change feed read from the database. Either an outage, after which the same request can
/// succeed, or a defect, which retrying will not cure.
pub trait BackendFailure: Into<anyhow::Error> {
    fn is_unavailable(&self) -> bool;
}

impl BackendFailure for StoreError {
    fn is_unavailable(&self) -> bool {
        StoreError::is_unavailable(self)
    }
}

impl BackendFailure for EphemeralError {
    fn is_unavailable(&self) -> bool {
        EphemeralError::is_unavailable(self)
    }
}

impl BackendFailure for crate::current::Unavailable {
    fn is_unavailable(&self) -> bool {
        self.0.is_unavailable()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    InvalidRequest,
    InvalidClient,
    InvalidGrant,
    UnauthorizedClient,
    UnsupportedGrantType,
    InvalidScope,
    InvalidTarget,
    AccessDenied,
    UnsupportedResponseType,
    ServerError,
    TemporarilyUnavailable,
    InvalidToken,
    InsufficientScope,
    UnsupportedTokenType,
    LoginRequired,
    ConsentRequired,
    InteractionRequired,
    /// OIDC Core §3.1.2.6: the `request` parameter (a Request Object) is not supported.
    RequestNotSupported,
    /// OIDC Core §3.1.2.6: the `request_uri` parameter is not supported.
    RequestUriNotSupported,
    /// OpenID Connect Core Error Code `unmet_authentication_requirements` 1.0: the person cannot
    /// be authenticated as the request or the client requires (no second factor to give).
    UnmetAuthenticationRequirements,
}

impl ErrorCode {
    /// Every code, for tests that must cover them all.
    pub const ALL: [ErrorCode; 20] = [
        Self::InvalidRequest,
        Self::InvalidClient,
        Self::InvalidGrant,
        Self::UnauthorizedClient,
        Self::UnsupportedGrantType,
        Self::InvalidScope,
        Self::InvalidTarget,
        Self::AccessDenied,
        Self::UnsupportedResponseType,
        Self::ServerError,
        Self::TemporarilyUnavailable,
        Self::InvalidToken,
        Self::InsufficientScope,
        Self::UnsupportedTokenType,
        Self::LoginRequired,
        Self::ConsentRequired,
        Self::InteractionRequired,
        Self::RequestNotSupported,
        Self::RequestUriNotSupported,
        Self::UnmetAuthenticationRequirements,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::InvalidScope => "invalid_scope",
            Self::InvalidTarget => "invalid_target",
            Self::AccessDenied => "access_denied",
            Self::UnsupportedResponseType => "unsupported_response_type",
            Self::ServerError => "server_error",
            Self::TemporarilyUnavailable => "temporarily_unavailable",
            Self::InvalidToken => "invalid_token",
            Self::InsufficientScope => "insufficient_scope",
            Self::UnsupportedTokenType => "unsupported_token_type",
            Self::LoginRequired => "login_required",
            Self::ConsentRequired => "consent_required",
            Self::InteractionRequired => "interaction_required",
            Self::RequestNotSupported => "request_not_supported",
            Self::RequestUriNotSupported => "request_uri_not_supported",
            Self::UnmetAuthenticationRequirements => "unmet_authentication_requirements",
        }
    }

    /// The HTTP status the RFCs give each code.
    pub fn status(self) -> u16 {
        match self {
            Self::InvalidClient | Self::InvalidToken => 401,
            Self::InsufficientScope => 403,
            Self::ServerError => 500,
            Self::TemporarilyUnavailable => 503,
            _ => 400,
        }
    }
}

pub struct OAuthError {
    pub code: ErrorCode,
    description: Option<Cow<'static, str>>,
    /// Set when the client tried HTTP Basic: the 401 then carries `WWW-Authenticate: Basic`
    /// (RFC 6749 §5.2).
    pub basic_auth_attempted: bool,
    /// Set for a caller refused for failing too often: `429` with `Retry-After` this many
    /// seconds (RFC 6585 §4).
    pub throttled_for_secs: Option<u64>,
    source: Option<anyhow::Error>,
}

macro_rules! constructors {
    ($($name:ident => $code:ident),* $(,)?) => {
        $(
            pub fn $name(description: impl Into<Cow<'static, str>>) -> Self {
                Self::new(ErrorCode::$code, Some(description.into()))
            }
        )*
    };
}

impl OAuthError {
    pub fn new(code: ErrorCode, description: Option<Cow<'static, str>>) -> Self {
        Self {
            code,
            description: description.map(restrict_charset),
            basic_auth_attempted: false,
            throttled_for_secs: None,
            source: None,
        }
    }

    constructors!(
        invalid_request => InvalidRequest,
        invalid_client => InvalidClient,
        invalid_grant => InvalidGrant,
        unauthorized_client => UnauthorizedClient,
        unsupported_grant_type => UnsupportedGrantType,
        invalid_scope => InvalidScope,
        invalid_target => InvalidTarget,
        unsupported_token_type => UnsupportedTokenType,
    );

    /// An unexpected failure: the caller sees only `server_error`; the cause goes to the log.
    pub fn server_error(source: impl Into<anyhow::Error>) -> Self {
        Self::new(ErrorCode::ServerError, None).with_source(source)
    }

    /// The caller failed too often: `429 temporarily_unavailable` with `Retry-After`. RFC 6749
    /// registers no code for this; `temporarily_unavailable` (§4.1.2.1) says "try later", and
    /// the status and header say when.
    pub fn too_many_attempts(retry_after: std::time::Duration) -> Self {
        let mut error = Self::new(
            ErrorCode::TemporarilyUnavailable,
            Some("too many failed attempts; try again later".into()),
        );
        error.throttled_for_secs = Some(retry_after.as_secs().max(1));
        error
    }

    /// What a backend failure becomes, decided here and nowhere else: an outage is
    /// `temporarily_unavailable` (RFC 6749 §4.1.2.1; 503 with `Retry-After`, at the token
    /// endpoint too, as other servers do), a defect `server_error` (500). Both keep the cause
    /// for the log.
    pub fn from_backend(failure: impl BackendFailure) -> Self {
        if failure.is_unavailable() {
            Self::temporarily_unavailable(failure)
        } else {
            Self::server_error(failure)
        }
    }

    /// A backend (or the password hasher) needed for a safe answer is down or busy: fail
    /// closed, ask to retry. Backend failures come through [`from_backend`](Self::from_backend).
    pub fn temporarily_unavailable(source: impl Into<anyhow::Error>) -> Self {
        Self::new(
            ErrorCode::TemporarilyUnavailable,
            Some("the service is temporarily unavailable; retry shortly".into()),
        )
        .with_source(source)
    }

    pub fn with_source(mut self, source: impl Into<anyhow::Error>) -> Self {
        self.source = Some(source.into());
        self
    }

    pub fn with_basic_auth_attempted(mut self, attempted: bool) -> Self {
        self.basic_auth_attempted = attempted;
        self
    }

    /// What the client may read. A server error never shows its description.
    pub fn public_description(&self) -> Option<&str> {
        match self.code {
            ErrorCode::ServerError => None,
            _ => self.description.as_deref(),
        }
    }

    pub fn source_error(&self) -> Option<&anyhow::Error> {
        self.source.as_ref()
    }
}

/// RFC 6749 §5.2: `error_description` is limited to %x20-21 / %x23-5B / %x5D-7E (printable
/// ASCII without `"` and `\`). Anything else becomes `?`, so no text, ours or a caller's,
/// ever leaves in a form the RFC forbids (and a `WWW-Authenticate` quoted-string stays valid).
fn restrict_charset(description: Cow<'static, str>) -> Cow<'static, str> {
    if description.chars().all(allowed_in_description) {
        return description;
    }
    description
        .chars()
        .map(|c| if allowed_in_description(c) { c } else { '?' })
        .collect::<String>()
        .into()
}

fn allowed_in_description(c: char) -> bool {
    matches!(c, '\u{20}'..='\u{21}' | '\u{23}'..='\u{5B}' | '\u{5D}'..='\u{7E}')
}

impl fmt::Debug for OAuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code.as_str())?;
        if let Some(description) = &self.description {
            write!(f, ": {description}")?;
        }
        if let Some(source) = &self.source {
            write!(f, "\ncaused by: {source:#}")?;
        }
        Ok(())
    }
}

impl fmt::Display for OAuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code.as_str())?;
        if let Some(description) = self.public_description() {
            write!(f, ": {description}")?;
        }
        Ok(())
    }
}

impl std::error::Error for OAuthError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_its_rfc_string_and_status() {
        let expected = [
            (ErrorCode::InvalidRequest, "invalid_request", 400),
            (ErrorCode::InvalidClient, "invalid_client", 401),
            (ErrorCode::InvalidGrant, "invalid_grant", 400),
            (ErrorCode::UnauthorizedClient, "unauthorized_client", 400),
            (
                ErrorCode::UnsupportedGrantType,
                "unsupported_grant_type",
                400,
            ),
            (ErrorCode::InvalidScope, "invalid_scope", 400),
            (ErrorCode::InvalidTarget, "invalid_target", 400),
            (ErrorCode::AccessDenied, "access_denied", 400),
            (
                ErrorCode::UnsupportedResponseType,
                "unsupported_response_type",
                400,
            ),
            (ErrorCode::ServerError, "server_error", 500),
            (
                ErrorCode::TemporarilyUnavailable,
                "temporarily_unavailable",
                503,
            ),
            (ErrorCode::InvalidToken, "invalid_token", 401),
            (ErrorCode::InsufficientScope, "insufficient_scope", 403),
            (
                ErrorCode::UnsupportedTokenType,
                "unsupported_token_type",
                400,
            ),
            (ErrorCode::LoginRequired, "login_required", 400),
            (ErrorCode::ConsentRequired, "consent_required", 400),
            (ErrorCode::InteractionRequired, "interaction_required", 400),
            (ErrorCode::RequestNotSupported, "request_not_supported", 400),
            (
                ErrorCode::RequestUriNotSupported,
                "request_uri_not_supported",
                400,
            ),
            (
                ErrorCode::UnmetAuthenticationRequirements,
                "unmet_authentication_requirements",
                400,
            ),
        ];
        assert_eq!(expected.len(), ErrorCode::ALL.len());
        for (code, text, status) in expected {
            assert_eq!((code.as_str(), code.status()), (text, status));
        }
    }

    #[test]
    fn every_code_keeps_its_description_in_the_rfc_charset() {
        let hostile = "a \"quoted\" \\ back\u{7}slash\r\n\u{e9}t\u{e9} \u{1F600}\u{7F}";
        for code in ErrorCode::ALL {
            let error = OAuthError::new(code, Some(hostile.to_owned().into()));
            let Some(description) = error.public_description() else {
                assert_eq!(code, ErrorCode::ServerError);
                continue;
            };
            assert!(
                description.chars().all(allowed_in_description),
                "{code:?}: {description}"
            );
            assert_eq!(description, "a ?quoted? ? back?slash???t? ??", "{code:?}");
        }
        let plain = OAuthError::invalid_request("the `scope` parameter is missing!");
        assert_eq!(
            plain.public_description(),
            Some("the `scope` parameter is missing!")
        );
    }

    #[test]
    fn an_outage_is_temporarily_unavailable_and_a_defect_a_server_error() {
        let down = StoreError::Unavailable(anyhow::anyhow!("connection refused"));
        let slow = EphemeralError::Timeout(std::time::Duration::from_secs(2));
        let bug = StoreError::corrupt("bad row");
        let undecodable = EphemeralError::Backend(anyhow::anyhow!("expected value"));
        assert_eq!(
            OAuthError::from_backend(down).code,
            ErrorCode::TemporarilyUnavailable
        );
        assert_eq!(
            OAuthError::from_backend(slow).code,
            ErrorCode::TemporarilyUnavailable
        );
        assert_eq!(OAuthError::from_backend(bug).code, ErrorCode::ServerError);
        assert_eq!(
            OAuthError::from_backend(undecodable).code,
            ErrorCode::ServerError
        );
    }

    #[test]
    fn a_server_error_hides_its_cause() {
        let error = OAuthError::server_error(anyhow::anyhow!("db password wrong"));
        assert_eq!(error.public_description(), None);
        assert_eq!(error.to_string(), "server_error");
    }
}
