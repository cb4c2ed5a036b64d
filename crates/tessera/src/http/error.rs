//! The one place that turns failures into HTTP responses.
//!
//! Every error body is `{"error": CODE, "message": TEXT}` with a fixed, small text: no
//! token, secret, library error name or stack trace ever reaches a client. Internal
//! causes are logged here and answered with a generic 500; a database locked by another
//! writer is logged as a warning and answered `503` with `Retry-After`, never 500.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::auth::{AccessError, LoginError, RefreshError, describe};
use crate::password::PasswordError;
use crate::users::UsersError;

/// `WWW-Authenticate` for a request that carried no usable credentials (RFC 6750 §3).
const CHALLENGE_MISSING: &str = "Bearer realm=\"tessera\"";
/// `WWW-Authenticate` for a token that was presented and refused.
const CHALLENGE_INVALID: &str = "Bearer realm=\"tessera\", error=\"invalid_token\"";

/// Everything a handler can answer besides success.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the request is malformed; the message says what is allowed.
    #[error("{0}")]
    BadRequest(String),
    /// 401: no bearer token.
    #[error("missing bearer token")]
    MissingToken,
    /// 401: the bearer token was refused (reason logged, not sent).
    #[error("invalid token: {0}")]
    InvalidToken(String),
    /// 401: login failed.
    #[error("invalid username or password")]
    InvalidCredentials,
    /// 401: the refresh token was refused (malformed, unknown, reused, ended, expired).
    #[error("invalid refresh token")]
    InvalidRefreshToken,
    /// 403: authenticated but not allowed.
    #[error("admin role required")]
    Forbidden,
    /// 404.
    #[error("not found")]
    NotFound,
    /// 409: the request conflicts with the current state.
    #[error("{0}")]
    Conflict(String),
    /// 413.
    #[error("request body too large")]
    PayloadTooLarge,
    /// 415.
    #[error("expected request with content-type application/json")]
    UnsupportedMediaType,
    /// 422: the JSON does not match the expected fields and types.
    #[error("request body does not have the expected fields and types")]
    Unprocessable,
    /// 429 with `Retry-After`.
    #[error("too many failed logins")]
    TooManyRequests {
        /// Seconds to wait.
        retry_after: u64,
    },
    /// 503 with `Retry-After`: password hashing is at capacity.
    #[error("too many logins at once")]
    Busy,
    /// 503 with `Retry-After`: the database is locked by another writer (cause logged).
    #[error("database busy: {0}")]
    DatabaseBusy(String),
    /// 500: logged, answered generically.
    #[error("internal error: {0}")]
    Internal(String),
}

/// The body of every error answer.
#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct ErrorBody<'a> {
    /// A stable code a client can branch on, such as `invalid_request`, `missing_token`,
    /// `invalid_token`, `invalid_credentials`, `invalid_refresh_token`, `forbidden`,
    /// `not_found`, `conflict`, `payload_too_large`, `unsupported_media_type`,
    /// `invalid_body`, `too_many_requests`, `too_many_connections`, `busy`,
    /// `database_busy` or `internal_error`.
    error: &'a str,
    /// A short text for people; it never echoes the request.
    message: &'a str,
    /// Why a token was refused, when the server says (`invalid_token` only), such as
    /// `token_expired`, `session_ended` or `user_inactive`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    reason: Option<&'a str>,
}

impl ApiError {
    fn parts(&self) -> (StatusCode, &'static str, String) {
        use ApiError as E;
        match self {
            E::BadRequest(m) => (StatusCode::BAD_REQUEST, "invalid_request", m.clone()),
            E::MissingToken => (
                StatusCode::UNAUTHORIZED,
                "missing_token",
                "an Authorization: Bearer token is required".into(),
            ),
            E::InvalidToken(_) => (
                StatusCode::UNAUTHORIZED,
                "invalid_token",
                "the access token is invalid or expired".into(),
            ),
            E::InvalidCredentials => (
                StatusCode::UNAUTHORIZED,
                "invalid_credentials",
                "invalid username or password".into(),
            ),
            E::InvalidRefreshToken => (
                StatusCode::UNAUTHORIZED,
                "invalid_refresh_token",
                "the refresh token is invalid, expired or revoked; log in again".into(),
            ),
            E::Forbidden => (
                StatusCode::FORBIDDEN,
                "forbidden",
                "this requires the admin role".into(),
            ),
            E::NotFound => (StatusCode::NOT_FOUND, "not_found", "not found".into()),
            E::Conflict(m) => (StatusCode::CONFLICT, "conflict", m.clone()),
            E::PayloadTooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                self.to_string(),
            ),
            E::UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                self.to_string(),
            ),
            E::Unprocessable => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_body",
                self.to_string(),
            ),
            E::TooManyRequests { retry_after } => (
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_requests",
                format!("too many failed logins; retry in {retry_after} seconds"),
            ),
            E::Busy => (
                StatusCode::SERVICE_UNAVAILABLE,
                "busy",
                "too many logins at once; retry in 1 second".into(),
            ),
            E::DatabaseBusy(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "database_busy",
                "the database is busy; retry in 1 second".into(),
            ),
            E::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal_error",
                "internal error".into(),
            ),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match &self {
            ApiError::Internal(cause) => tracing::error!(cause = %cause, "request failed"),
            ApiError::DatabaseBusy(cause) => {
                tracing::warn!(cause = %cause, "request refused: the database is busy");
            }
            ApiError::InvalidToken(reason) => tracing::debug!(reason = %reason, "token refused"),
            _ => {}
        }
        let (status, code, message) = self.parts();
        let mut response = (
            status,
            Json(ErrorBody {
                error: code,
                message: &message,
                reason: None,
            }),
        )
            .into_response();
        let headers = response.headers_mut();
        match &self {
            ApiError::MissingToken | ApiError::InvalidCredentials => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(CHALLENGE_MISSING),
                );
            }
            ApiError::InvalidToken(_) | ApiError::InvalidRefreshToken => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(CHALLENGE_INVALID),
                );
            }
            ApiError::TooManyRequests { retry_after } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after));
            }
            ApiError::Busy | ApiError::DatabaseBusy(_) => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            _ => {}
        }
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
}

impl From<AccessError> for ApiError {
    fn from(error: AccessError) -> Self {
        match error {
            AccessError::Store(e) => Self::from(e),
            other => Self::InvalidToken(other.reason().to_owned()),
        }
    }
}

impl From<LoginError> for ApiError {
    fn from(error: LoginError) -> Self {
        match error {
            LoginError::InvalidCredentials => Self::InvalidCredentials,
            LoginError::Throttled(wait) => Self::TooManyRequests {
                retry_after: wait.0,
            },
            LoginError::PasswordTooLong => Self::BadRequest(error.to_string()),
            LoginError::Busy => Self::Busy,
            LoginError::Unavailable(cause) => Self::DatabaseBusy(cause),
            LoginError::Internal(cause) => Self::Internal(cause),
        }
    }
}

impl From<RefreshError> for ApiError {
    fn from(error: RefreshError) -> Self {
        match error {
            RefreshError::InvalidToken => Self::InvalidRefreshToken,
            RefreshError::Unavailable(cause) => Self::DatabaseBusy(cause),
            RefreshError::Internal(cause) => Self::Internal(cause),
        }
    }
}

impl From<tessera_store::StoreError> for ApiError {
    fn from(error: tessera_store::StoreError) -> Self {
        if error.is_busy() {
            Self::DatabaseBusy(describe(&error))
        } else {
            Self::Internal(error.to_string())
        }
    }
}

impl From<UsersError> for ApiError {
    fn from(error: UsersError) -> Self {
        match error {
            UsersError::Invalid(e) => Self::BadRequest(e.to_string()),
            UsersError::UsernameTaken | UsersError::LastAdmin => Self::Conflict(error.to_string()),
            UsersError::NotFound => Self::NotFound,
            UsersError::Store(e) => Self::from(e),
            UsersError::Password(PasswordError::Busy) => Self::Busy,
            UsersError::Password(e) => Self::Internal(e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saturated_hashing_is_a_503_with_retry_after_and_a_fixed_body() {
        for error in [
            ApiError::from(LoginError::Busy),
            ApiError::from(UsersError::Password(PasswordError::Busy)),
        ] {
            let response = error.into_response();
            assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
            assert_eq!(response.headers()[header::RETRY_AFTER], "1");
            assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
        }
    }
}
