//! The bodies of the session listings: `/api/auth/sessions` and `/api/users/{id}/sessions`.

use uuid::Uuid;

use crate::Timestamp;

/// A session as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = SessionJson))]
pub struct Session {
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Uuid))]
    pub id: Uuid,
    pub created_at: Timestamp,
    pub last_used_at: Timestamp,
    /// The earlier of the idle and the absolute deadline.
    pub expires_at: Timestamp,
    pub idle_expires_at: Timestamp,
    pub absolute_expires_at: Timestamp,
    pub client_ip: String,
    pub user_agent: String,
    /// Whether the request was made with this session's access token.
    pub current: bool,
}

/// Live sessions.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SessionList {
    pub sessions: Vec<Session>,
}
