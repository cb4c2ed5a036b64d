//! The one place that turns failures into HTTP responses.
//!
//! Every error body is `{"error": CODE, "message": TEXT}` (a refused token adds
//! `"reason"`): no token, secret, submitted value, library error name or stack trace ever
//! reaches a client. Internal causes are logged here, with their whole chain of causes (so
//! the log tells a refused connection from a violated constraint), and answered with a
//! generic 500; a database locked by another writer, or one that cannot be reached, is logged
//! as a warning with its causes and answered `503` with `Retry-After`, never 500. Errors that layers outside the handlers answer with an empty
//! or plain-text body (a wrong method, a timeout, a rejection of axum's own extractors) are
//! rewritten into the same shape by [`json_for_bare_errors`].

use axum::Json;
use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::auth::{
    AccessError, LoginError, PasswordChangeError, RefreshError, TokenReason, TokenRefusal, describe,
};
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
    /// 401: the bearer token was refused; its holder is told why.
    #[error("invalid token: {}", .0.message)]
    InvalidToken(TokenRefusal),
    /// 401: login failed.
    #[error("invalid username or password")]
    InvalidCredentials,
    /// 401: an API client's credentials (HTTP Basic) are missing, unknown or wrong.
    #[error("client authentication failed")]
    InvalidClient,
    /// 401: the refresh token was refused (malformed, unknown, reused, ended, expired).
    #[error("invalid refresh token ({})", .0.code())]
    InvalidRefreshToken(TokenReason),
    /// 403: authenticated but not allowed.
    #[error("admin role required")]
    Forbidden,
    /// 403: the current password given for a password change is not the user's.
    #[error("the current password is not correct")]
    WrongPassword,
    /// 403: a request that carries or would set the refresh cookie came from another site's
    /// page; the message says which header told.
    #[error("{0}")]
    CrossSiteRequest(&'static str),
    /// 404.
    #[error("not found")]
    NotFound,
    /// 404: a path parameter that is not an id, so it names nothing.
    #[error("`{param}` is not an id")]
    NotAnId {
        /// The parameter's name in the route (`id`, `session_id`).
        param: &'static str,
        /// What it would name (`user`, `session`).
        names: &'static str,
    },
    /// 409: the request conflicts with the current state.
    #[error("{0}")]
    Conflict(String),
    /// 413.
    #[error("request body too large; the limit is {} bytes", super::MAX_BODY_BYTES)]
    PayloadTooLarge,
    /// 415.
    #[error("expected request with content-type application/json")]
    UnsupportedMediaType,
    /// 422: the JSON does not match the expected fields and types; the message names the
    /// field and what was expected, never the value.
    #[error("{0}")]
    Unprocessable(String),
    /// 429 with `Retry-After`.
    #[error("too many failed logins")]
    TooManyRequests {
        /// Seconds to wait.
        retry_after: u64,
    },
    /// 503 with `Retry-After`: password hashing is at capacity.
    #[error("too many logins at once")]
    Busy,
    /// 503 with `Retry-After`: the database is locked by another writer or cannot be reached
    /// (cause and its chain logged).
    #[error("database busy: {0}")]
    DatabaseBusy(String),
    /// 503 with `Retry-After`: this instance could not confirm it applied every recent change
    /// (cause logged); another instance, or this one shortly, can answer.
    #[error("{0}")]
    OutOfDate(String),
    /// 500: logged with its chain of causes, answered generically.
    #[error("internal error: {0}")]
    Internal(String),
}

/// The body of every error answer.
#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct ErrorBody<'a> {
    /// A stable code a client can branch on, such as `invalid_request`, `missing_token`,
    /// `invalid_token`, `invalid_credentials`, `invalid_client`, `invalid_refresh_token`, `forbidden`,
    /// `wrong_password`, `cross_site_request`, `not_found`, `conflict`,
    /// `payload_too_large`, `unsupported_media_type`, `invalid_body`, `too_many_requests`,
    /// `too_many_connections`, `busy`, `database_busy`, `instance_out_of_date` or
    /// `internal_error`.
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
            E::InvalidToken(refusal) => (
                StatusCode::UNAUTHORIZED,
                "invalid_token",
                refusal.message.clone(),
            ),
            E::InvalidCredentials => (
                StatusCode::UNAUTHORIZED,
                "invalid_credentials",
                "invalid username or password".into(),
            ),
            E::InvalidClient => (
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "client authentication failed: send the id and secret `tessera client add` \
                 printed, with HTTP Basic"
                    .into(),
            ),
            E::InvalidRefreshToken(reason) => (
                StatusCode::UNAUTHORIZED,
                "invalid_refresh_token",
                refresh_refusal_message(*reason).into(),
            ),
            E::Forbidden => (
                StatusCode::FORBIDDEN,
                "forbidden",
                "this requires the admin role".into(),
            ),
            E::WrongPassword => (
                StatusCode::FORBIDDEN,
                "wrong_password",
                "the current password is not correct".into(),
            ),
            E::CrossSiteRequest(message) => (
                StatusCode::FORBIDDEN,
                "cross_site_request",
                (*message).into(),
            ),
            E::NotFound => (StatusCode::NOT_FOUND, "not_found", "not found".into()),
            E::NotAnId { param, names } => (
                StatusCode::NOT_FOUND,
                "not_found",
                format!("`{param}` is not a UUID, so it names no {names}"),
            ),
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
            E::Unprocessable(message) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_body",
                message.clone(),
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
            E::OutOfDate(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "instance_out_of_date",
                "this instance cannot confirm it knows of every recent change (it cannot reach \
                 the database); retry in 1 second"
                    .into(),
            ),
            E::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal_error",
                "internal error".into(),
            ),
        }
    }
}

impl ApiError {
    /// Why a presented token was refused, for the errors that refuse one.
    fn reason(&self) -> Option<TokenReason> {
        match self {
            ApiError::InvalidToken(refusal) => Some(refusal.reason),
            ApiError::InvalidRefreshToken(reason) => Some(*reason),
            _ => None,
        }
    }
}

/// What the holder of a refused refresh token is told.
fn refresh_refusal_message(reason: TokenReason) -> &'static str {
    match reason {
        TokenReason::MalformedToken => {
            "the refresh token is not well formed (it is 43 characters of base64url); log in again"
        }
        TokenReason::SessionEnded | TokenReason::SessionExpired => {
            "the refresh token's session has ended or expired; log in again"
        }
        TokenReason::UserInactive => "the refresh token's user is deactivated",
        _ => "the refresh token is not known to this server; log in again",
    }
}

/// `WWW-Authenticate` for a refused token, naming the reason (RFC 6750 §3).
fn invalid_token_challenge(reason: TokenReason) -> HeaderValue {
    let challenge = format!(
        "{CHALLENGE_INVALID}, error_description=\"{}\"",
        reason.code()
    );
    HeaderValue::from_str(&challenge).unwrap_or(HeaderValue::from_static(CHALLENGE_INVALID))
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match &self {
            ApiError::Internal(cause) => tracing::error!(cause = %cause, "request failed"),
            ApiError::DatabaseBusy(cause) => {
                tracing::warn!(
                    cause = %cause,
                    "request refused: the database is busy or cannot be reached"
                );
            }
            ApiError::OutOfDate(cause) => {
                tracing::warn!(cause = %cause, "request refused: this instance is out of date");
            }
            ApiError::InvalidToken(refusal) => {
                let reason = refusal.reason.code();
                tracing::debug!(reason, detail = %refusal.message, "token refused");
            }
            _ => {}
        }
        let (status, code, message) = self.parts();
        let mut response = (
            status,
            Json(ErrorBody {
                error: code,
                message: &message,
                reason: self.reason().map(TokenReason::code),
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
            ApiError::InvalidToken(TokenRefusal { reason, .. })
            | ApiError::InvalidRefreshToken(reason) => {
                headers.insert(header::WWW_AUTHENTICATE, invalid_token_challenge(*reason));
            }
            ApiError::InvalidClient => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Basic realm=\"tessera\""),
                );
            }
            ApiError::TooManyRequests { retry_after } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after));
            }
            ApiError::Busy | ApiError::DatabaseBusy(_) | ApiError::OutOfDate(_) => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            _ => {}
        }
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
}

/// Rewrites an error that a layer outside the handlers answered with an empty or plain-text
/// body (axum's `405`, the timeout's `408`, a rejection of one of axum's own extractors)
/// into the documented JSON shape, keeping its status and headers. Successes and answers
/// already in JSON pass untouched. A `405`'s `Allow` also lists `OPTIONS`, which every route
/// answers (see `super::cors`).
pub(super) fn json_for_bare_errors(mut response: Response) -> Response {
    let status = response.status();
    if !status.is_client_error() && !status.is_server_error() {
        return response;
    }
    if status == StatusCode::METHOD_NOT_ALLOWED {
        add_options_to_allow(response.headers_mut());
    }
    let headers = response.headers();
    if headers
        .get(header::CONTENT_TYPE)
        .is_some_and(|value| value.as_bytes() == b"application/json")
    {
        return response;
    }
    let (code, message) = match status {
        StatusCode::METHOD_NOT_ALLOWED => {
            let allow = headers
                .get(header::ALLOW)
                .and_then(|value| value.to_str().ok())
                .unwrap_or_default()
                .replace(',', ", ");
            (
                "method_not_allowed".to_owned(),
                format!("method not allowed; this route answers {allow}"),
            )
        }
        StatusCode::REQUEST_TIMEOUT => (
            "request_timeout".to_owned(),
            format!(
                "the request took longer than {} seconds",
                super::REQUEST_TIMEOUT.as_secs()
            ),
        ),
        StatusCode::PAYLOAD_TOO_LARGE => (
            "payload_too_large".to_owned(),
            ApiError::PayloadTooLarge.to_string(),
        ),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => (
            "unsupported_media_type".to_owned(),
            ApiError::UnsupportedMediaType.to_string(),
        ),
        StatusCode::BAD_REQUEST => ("invalid_request".to_owned(), "malformed request".to_owned()),
        StatusCode::NOT_FOUND => ("not_found".to_owned(), "not found".to_owned()),
        StatusCode::UNPROCESSABLE_ENTITY => (
            "invalid_body".to_owned(),
            "request body does not have the expected fields and types".to_owned(),
        ),
        StatusCode::INTERNAL_SERVER_ERROR => {
            ("internal_error".to_owned(), "internal error".to_owned())
        }
        other => {
            let words = other
                .canonical_reason()
                .unwrap_or("error")
                .to_ascii_lowercase();
            (words.replace([' ', '-'], "_"), words)
        }
    };
    let body = serde_json::to_vec(&ErrorBody {
        error: &code,
        message: &message,
        reason: None,
    })
    .unwrap_or_default();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.remove(header::CONTENT_LENGTH);
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    *response.body_mut() = Body::from(body);
    response
}

/// Appends `OPTIONS` to an `Allow` header that lacks it.
fn add_options_to_allow(headers: &mut axum::http::HeaderMap) {
    let Some(allow) = headers.get(header::ALLOW) else {
        return;
    };
    let listed = allow
        .to_str()
        .unwrap_or_default()
        .split(',')
        .any(|method| method.trim().eq_ignore_ascii_case("OPTIONS"));
    if listed {
        return;
    }
    let mut value = allow.as_bytes().to_vec();
    if !value.is_empty() {
        value.push(b',');
    }
    value.extend_from_slice(b"OPTIONS");
    if let Ok(value) = HeaderValue::from_bytes(&value) {
        headers.insert(header::ALLOW, value);
    }
}

impl From<AccessError> for ApiError {
    fn from(error: AccessError) -> Self {
        match error {
            AccessError::Store(e) => Self::from(e),
            AccessError::OutOfDate(e) => Self::OutOfDate(e.to_string()),
            other => match other.refusal() {
                Some(refusal) => Self::InvalidToken(refusal),
                None => Self::Internal(describe(&other)),
            },
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

impl From<PasswordChangeError> for ApiError {
    fn from(error: PasswordChangeError) -> Self {
        match error {
            PasswordChangeError::WrongPassword => Self::WrongPassword,
            PasswordChangeError::Throttled(wait) => Self::TooManyRequests {
                retry_after: wait.0,
            },
            PasswordChangeError::Busy => Self::Busy,
            PasswordChangeError::Unavailable(cause) => Self::DatabaseBusy(cause),
            PasswordChangeError::Users(error) => Self::from(error),
            PasswordChangeError::Internal(cause) => Self::Internal(cause),
        }
    }
}

impl From<RefreshError> for ApiError {
    fn from(error: RefreshError) -> Self {
        match error {
            RefreshError::InvalidToken(reason) => Self::InvalidRefreshToken(reason),
            RefreshError::Unavailable(cause) => Self::DatabaseBusy(cause),
            RefreshError::OutOfDate(e) => Self::OutOfDate(e.to_string()),
            RefreshError::Internal(cause) => Self::Internal(cause),
        }
    }
}

impl From<tessera_store::StoreError> for ApiError {
    fn from(error: tessera_store::StoreError) -> Self {
        if error.is_busy() {
            Self::DatabaseBusy(describe(&error))
        } else {
            Self::Internal(describe(&error))
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
            UsersError::Password(e) => Self::Internal(describe(&e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_query_keeps_its_cause_for_the_log_not_for_the_client() {
        let store = tessera_store::StoreError::Database(sqlx::Error::Protocol(
            "duplicate key value violates unique constraint".to_owned(),
        ));
        let error = ApiError::from(UsersError::Store(store));
        let ApiError::Internal(cause) = &error else {
            panic!("a failed query is internal: {error:?}");
        };
        assert_eq!(
            cause,
            "database query failed: encountered unexpected or invalid data: duplicate key value \
             violates unique constraint"
        );
        let response = error.into_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[test]
    fn a_lost_connection_is_a_503_whose_cause_is_said_once() {
        let lost = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "connection reset");
        let store = tessera_store::StoreError::Unavailable(sqlx::Error::Io(lost));
        let error = ApiError::from(store);
        let ApiError::DatabaseBusy(cause) = &error else {
            panic!("a lost connection is retryable: {error:?}");
        };
        assert_eq!(
            cause,
            "the database cannot be reached: error communicating with database: connection reset"
        );
        let response = error.into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[header::RETRY_AFTER], "1");
    }

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
