//! The bodies of the administration of users: `/api/users` and `/api/users/{id}`.
//!
//! Invariant: no `Debug` here shows a password; it prints as `<redacted>`.

use std::fmt;

use uuid::Uuid;

use crate::Timestamp;
use crate::auth::REDACTED;

/// A user as the API shows it.
// The document's description of this schema, unchanged since the server owned the type (the
// server still writes users from a borrowing copy of this shape, held to it by a test).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "openapi",
    schema(
        description = "A user as the API shows it; borrows from the user, so `/api/auth/me` copies nothing."
    )
)]
pub struct User {
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Uuid))]
    pub id: Uuid,
    /// Lower case.
    pub username: String,
    /// Sorted, without duplicates.
    pub roles: Vec<String>,
    /// An inactive user cannot log in, and its tokens are refused.
    pub active: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// One page of users (every user, when they fit in one page).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UserList {
    /// Ordered by username byte for byte.
    pub users: Vec<User>,
}

/// A user to create.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateUserBody {
    /// 1 to 64 characters from a-z, 0-9, `.`, `_`, `-`, `@`; stored in lower case.
    #[cfg_attr(feature = "openapi", schema(pattern = "^[A-Za-z0-9._@-]{1,64}$"))]
    pub username: String,
    /// 8 to 1024 characters, kept exactly as given.
    #[cfg_attr(feature = "openapi", schema(min_length = 8, max_length = 1024))]
    pub password: String,
    /// Each 1 to 64 characters from a-z, 0-9, `.`, `_`, `-`, `:`; at most 32 different.
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default = "active_by_default")]
    #[cfg_attr(feature = "openapi", schema(default = true))]
    pub active: bool,
}

fn active_by_default() -> bool {
    true
}

impl CreateUserBody {
    /// An active user with no role.
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Self {
        Self {
            username: username.into(),
            password: password.into(),
            roles: Vec::new(),
            active: true,
        }
    }
}

impl fmt::Debug for CreateUserBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CreateUserBody")
            .field("username", &self.username)
            .field("password", &REDACTED)
            .field("roles", &self.roles)
            .field("active", &self.active)
            .finish()
    }
}

/// Changes to a user; what is left out stays as it is.
#[derive(Clone, Default, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UpdateUserBody {
    /// A new username, same rules as at creation; the id, sessions and tokens stay valid.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 64))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Deactivating a user ends its sessions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
    /// Replaces the roles; same rules as at creation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<String>>,
    /// A new password, 8 to 1024 characters.
    #[cfg_attr(feature = "openapi", schema(min_length = 8, max_length = 1024))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
}

impl fmt::Debug for UpdateUserBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UpdateUserBody")
            .field("username", &self.username)
            .field("active", &self.active)
            .field("roles", &self.roles)
            .field("password", &self.password.as_ref().map(|_| REDACTED))
            .finish()
    }
}
