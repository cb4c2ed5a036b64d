//! The body of every error answer ([`ErrorBody`]) and the codes in it ([`ErrorCode`],
//! [`RefusalReason`]).
//!
//! Invariant: each known code reads and writes as exactly the snake_case text the server
//! has always answered; a code this crate does not know (a newer server's) reads as
//! `Other(text)` instead of failing, and writes back unchanged.

use std::fmt;

/// The machine-readable `error` of an error answer: what a client branches on.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// 400: the request is malformed; the message says what is allowed.
    InvalidRequest,
    /// 401: no bearer token.
    MissingToken,
    /// 401: the bearer token was refused; `reason` says why.
    InvalidToken,
    /// 401: the username or password of a login is wrong.
    InvalidCredentials,
    /// 401: the refresh token was refused (malformed, unknown, reused, ended, expired).
    InvalidRefreshToken,
    /// 401: an API client's HTTP Basic credentials are missing, unknown or wrong.
    InvalidClient,
    /// 403: the token's user lacks the admin role.
    Forbidden,
    /// 403: the current password given for a password change is not correct.
    WrongPassword,
    /// 403: a request carrying or setting the refresh cookie came from another site's page.
    CrossSiteRequest,
    /// 404: nothing by that id or path.
    NotFound,
    /// 405: the route does not answer this method.
    MethodNotAllowed,
    /// 408: the request took longer than the server allows.
    RequestTimeout,
    /// 409: the change conflicts with the current state.
    Conflict,
    /// 413: the body is too large.
    PayloadTooLarge,
    /// 415: the body is not `application/json`.
    UnsupportedMediaType,
    /// 422: JSON without the expected fields and types.
    InvalidBody,
    /// 429: too many failed logins or password checks.
    TooManyRequests,
    /// 429 or 503: too many open connections (from the client, or in all).
    TooManyConnections,
    /// 503: too many logins hashing passwords at once.
    Busy,
    /// 503: the database is locked by another writer or cannot be reached.
    DatabaseBusy,
    /// 503 from `/readyz`: the database does not answer or another process holds its lock.
    DatabaseUnavailable,
    /// 503: the instance cannot confirm it applied every recent change.
    InstanceOutOfDate,
    /// 500.
    InternalError,
    /// A code this version does not know, as the server wrote it.
    #[serde(untagged)]
    Other(String),
}

impl ErrorCode {
    /// Every known code (all but [`ErrorCode::Other`]).
    pub const KNOWN: [ErrorCode; 23] = [
        ErrorCode::InvalidRequest,
        ErrorCode::MissingToken,
        ErrorCode::InvalidToken,
        ErrorCode::InvalidCredentials,
        ErrorCode::InvalidRefreshToken,
        ErrorCode::InvalidClient,
        ErrorCode::Forbidden,
        ErrorCode::WrongPassword,
        ErrorCode::CrossSiteRequest,
        ErrorCode::NotFound,
        ErrorCode::MethodNotAllowed,
        ErrorCode::RequestTimeout,
        ErrorCode::Conflict,
        ErrorCode::PayloadTooLarge,
        ErrorCode::UnsupportedMediaType,
        ErrorCode::InvalidBody,
        ErrorCode::TooManyRequests,
        ErrorCode::TooManyConnections,
        ErrorCode::Busy,
        ErrorCode::DatabaseBusy,
        ErrorCode::DatabaseUnavailable,
        ErrorCode::InstanceOutOfDate,
        ErrorCode::InternalError,
    ];

    /// The code as it travels.
    pub fn as_str(&self) -> &str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::MissingToken => "missing_token",
            Self::InvalidToken => "invalid_token",
            Self::InvalidCredentials => "invalid_credentials",
            Self::InvalidRefreshToken => "invalid_refresh_token",
            Self::InvalidClient => "invalid_client",
            Self::Forbidden => "forbidden",
            Self::WrongPassword => "wrong_password",
            Self::CrossSiteRequest => "cross_site_request",
            Self::NotFound => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::RequestTimeout => "request_timeout",
            Self::Conflict => "conflict",
            Self::PayloadTooLarge => "payload_too_large",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::InvalidBody => "invalid_body",
            Self::TooManyRequests => "too_many_requests",
            Self::TooManyConnections => "too_many_connections",
            Self::Busy => "busy",
            Self::DatabaseBusy => "database_busy",
            Self::DatabaseUnavailable => "database_unavailable",
            Self::InstanceOutOfDate => "instance_out_of_date",
            Self::InternalError => "internal_error",
            Self::Other(code) => code,
        }
    }

    /// The code for a text: a known one when the text is one, else [`ErrorCode::Other`].
    pub fn from_wire(code: &str) -> Self {
        Self::KNOWN
            .into_iter()
            .find(|known| known.as_str() == code)
            .unwrap_or_else(|| Self::Other(code.to_owned()))
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a presented token was refused: the `reason` of an `invalid_token` or
/// `invalid_refresh_token` answer.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefusalReason {
    /// The access token's `exp` has passed.
    TokenExpired,
    /// The access token's `nbf` is still ahead.
    TokenNotYetValid,
    /// The signature does not match the server's key.
    BadSignature,
    /// Not a well-formed token of its kind.
    MalformedToken,
    /// A JWT, but not an access token.
    WrongTokenType,
    /// Signed with an algorithm other than its key's.
    UnsupportedAlgorithm,
    /// Its `kid` names no key the server verifies with (revoked, removed, another server's).
    UnknownKey,
    /// Issued by another issuer.
    WrongIssuer,
    /// Issued for another audience.
    WrongAudience,
    /// The token's session was ended.
    SessionEnded,
    /// The token's session passed its idle or absolute deadline.
    SessionExpired,
    /// The token's session is not known.
    SessionUnknown,
    /// The token's user is deactivated.
    UserInactive,
    /// The token's user no longer exists.
    UserUnknown,
    /// No session knows this refresh token.
    TokenUnknown,
    /// A reason this version does not know, as the server wrote it.
    #[serde(untagged)]
    Other(String),
}

impl RefusalReason {
    /// The reason as it travels (also the `error_description` of the `WWW-Authenticate`
    /// challenge).
    pub fn as_str(&self) -> &str {
        match self {
            Self::TokenExpired => "token_expired",
            Self::TokenNotYetValid => "token_not_yet_valid",
            Self::BadSignature => "bad_signature",
            Self::MalformedToken => "malformed_token",
            Self::WrongTokenType => "wrong_token_type",
            Self::UnsupportedAlgorithm => "unsupported_algorithm",
            Self::UnknownKey => "unknown_key",
            Self::WrongIssuer => "wrong_issuer",
            Self::WrongAudience => "wrong_audience",
            Self::SessionEnded => "session_ended",
            Self::SessionExpired => "session_expired",
            Self::SessionUnknown => "session_unknown",
            Self::UserInactive => "user_inactive",
            Self::UserUnknown => "user_unknown",
            Self::TokenUnknown => "token_unknown",
            Self::Other(reason) => reason,
        }
    }
}

impl fmt::Display for RefusalReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The body of every error answer.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    /// A stable code a client can branch on, such as `invalid_request`, `missing_token`,
    /// `invalid_token`, `invalid_credentials`, `invalid_client`, `invalid_refresh_token`, `forbidden`,
    /// `wrong_password`, `cross_site_request`, `not_found`, `conflict`,
    /// `payload_too_large`, `unsupported_media_type`, `invalid_body`, `too_many_requests`,
    /// `too_many_connections`, `busy`, `database_busy`, `instance_out_of_date` or
    /// `internal_error`.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub error: ErrorCode,
    /// A short text for people; it never echoes the request.
    pub message: String,
    /// Why a token was refused, when the server says (`invalid_token` only), such as
    /// `token_expired`, `session_ended` or `user_inactive`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, nullable = false))]
    pub reason: Option<RefusalReason>,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn every_known_code_travels_as_its_text() {
        for code in ErrorCode::KNOWN {
            let json = serde_json::to_string(&code).unwrap();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
            assert_eq!(serde_json::from_str::<ErrorCode>(&json).unwrap(), code);
            assert_eq!(ErrorCode::from_wire(code.as_str()), code);
            assert!(!matches!(code, ErrorCode::Other(_)));
        }
        assert_eq!(ErrorCode::TooManyRequests.as_str(), "too_many_requests");
    }

    #[test]
    fn an_unknown_code_is_kept_as_written() {
        let body: ErrorBody = serde_json::from_str(
            r#"{"error":"teapot","message":"short and stout","reason":"steeped"}"#,
        )
        .unwrap();
        assert_eq!(body.error, ErrorCode::Other("teapot".into()));
        assert_eq!(body.reason, Some(RefusalReason::Other("steeped".into())));
        assert_eq!(
            serde_json::to_string(&body).unwrap(),
            r#"{"error":"teapot","message":"short and stout","reason":"steeped"}"#
        );
    }

    #[test]
    fn the_body_is_the_servers_shape() {
        let body = ErrorBody {
            error: ErrorCode::InvalidToken,
            message: "the access token has expired".into(),
            reason: Some(RefusalReason::TokenExpired),
        };
        let json = serde_json::to_string(&body).unwrap();
        assert_eq!(
            json,
            r#"{"error":"invalid_token","message":"the access token has expired","reason":"token_expired"}"#
        );
        assert_eq!(serde_json::from_str::<ErrorBody>(&json).unwrap(), body);
        let no_reason = ErrorBody {
            reason: None,
            ..body
        };
        assert_eq!(
            serde_json::to_string(&no_reason).unwrap(),
            r#"{"error":"invalid_token","message":"the access token has expired"}"#
        );
    }
}
