//! The bodies of `/api/auth/...`: logging in and out, refreshing, changing one's password
//! and `GET /api/auth/me`.
//!
//! Invariant: no `Debug` here shows a password or a token (access or refresh); they print
//! as `<redacted>`.

use std::fmt;

use uuid::Uuid;

use crate::Timestamp;
use crate::users::User;

/// What a redacted secret prints as.
pub(crate) const REDACTED: &str = "<redacted>";

/// A login.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LoginBody {
    /// Compared case-insensitively.
    pub username: String,
    pub password: String,
    /// Deliver the refresh token as an HttpOnly cookie instead of in the answer's body.
    #[serde(default)]
    pub refresh_cookie: bool,
}

impl fmt::Debug for LoginBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginBody")
            .field("username", &self.username)
            .field("password", &REDACTED)
            .field("refresh_cookie", &self.refresh_cookie)
            .finish()
    }
}

/// A refresh: the refresh token in the body, or, with an empty body, in the
/// `tessera_refresh` cookie.
#[derive(Clone, Default, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RefreshBody {
    /// The refresh token of the last login or refresh (each is good for one refresh).
    /// Left out (`{}`), the `tessera_refresh` cookie is used, as for an empty body.
    #[cfg_attr(feature = "openapi", schema(required = false, nullable = false))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
}

impl fmt::Debug for RefreshBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RefreshBody")
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| REDACTED),
            )
            .finish()
    }
}

/// The answer to a login or a refresh.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenResponse {
    /// A JWT for `Authorization: Bearer`.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds the access token is valid for.
    pub expires_in: i64,
    pub expires_at: Timestamp,
    /// Good for one refresh; keep it secret. Absent in cookie mode (a login with
    /// `"refresh_cookie": true`, or a refresh that presented the `tessera_refresh` cookie):
    /// the token then travels only in that HttpOnly cookie, out of reach of page scripts.
    #[cfg_attr(feature = "openapi", schema(required = false, nullable = false))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// When the session ends unless refreshed before (idle or absolute deadline).
    pub refresh_expires_at: Timestamp,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Uuid))]
    pub session_id: Uuid,
    /// The server's clock (the instant the access token was issued, during this request),
    /// so a client with a skewed clock can still refresh on time.
    pub server_time: Timestamp,
    pub user: LoginUser,
}

impl fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenResponse")
            .field("access_token", &REDACTED)
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .field("expires_at", &self.expires_at)
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| REDACTED),
            )
            .field("refresh_expires_at", &self.refresh_expires_at)
            .field("session_id", &self.session_id)
            .field("server_time", &self.server_time)
            .field("user", &self.user)
            .finish()
    }
}

/// Who logged in.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LoginUser {
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Uuid))]
    pub id: Uuid,
    pub username: String,
    pub roles: Vec<String>,
}

/// How many sessions an operation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SessionsEnded {
    pub sessions_ended: u64,
}

/// A change of the caller's own password.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PasswordBody {
    /// The password the user has now.
    pub current_password: String,
    /// The new password: 8 to 1024 characters, kept exactly as given (as at user creation).
    #[cfg_attr(feature = "openapi", schema(min_length = 8, max_length = 1024))]
    pub new_password: String,
}

impl fmt::Debug for PasswordBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordBody")
            .field("current_password", &REDACTED)
            .field("new_password", &REDACTED)
            .finish()
    }
}

/// The answer of `GET /api/auth/me`. (The server writes it by hand, byte for byte as serde
/// writes this type; a property test there holds the two together.)
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
// The document's description of this schema, unchanged since the server owned the type.
#[cfg_attr(
    feature = "openapi",
    schema(
        description = "The shape of the answer: it documents the answer, and a property test holds\n[`me_json`] to what serde writes for it."
    )
)]
pub struct MeResponse {
    pub user: User,
    pub token: TokenInfo,
    /// The server's clock.
    pub server_time: Timestamp,
}

/// The access token presented.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenInfo {
    pub issued_at: Timestamp,
    pub expires_at: Timestamp,
    /// Seconds left, never negative.
    pub expires_in: i64,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Uuid))]
    pub session_id: Uuid,
}
