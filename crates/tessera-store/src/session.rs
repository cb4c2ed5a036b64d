//! Value types of login sessions and their refresh-token chains.
//!
//! The store keeps refresh tokens only as SHA-256 hashes ([`TokenHash`]); a rotated token's
//! successor is kept sealed (encrypted under a key derived from the rotated token) by the
//! caller, and the store treats it as opaque bytes.

use std::fmt;

use crate::UserId;

/// Identifier of a session: a UUID, carried by access tokens as `sid`.
pub type SessionId = uuid::Uuid;

/// The SHA-256 of a refresh token: what the store keeps instead of the token.
pub type TokenHash = [u8; 32];

/// A session as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    pub id: SessionId,
    pub user_id: UserId,
    /// Unix seconds of the login.
    pub created_at: i64,
    /// Unix seconds of the login or the latest refresh.
    pub last_used_at: i64,
    /// The session ends here unless refreshed before; never after `absolute_expires_at`.
    pub idle_expires_at: i64,
    /// The session ends here however often it is refreshed.
    pub absolute_expires_at: i64,
    /// The client address seen at login.
    pub client_ip: String,
    /// The `User-Agent` seen at login (cut by the server to a bounded length).
    pub user_agent: String,
    /// When and why the session was ended; `None` while it has not been.
    pub revoked: Option<Revocation>,
}

/// When and why a session was ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Revocation {
    /// Unix seconds.
    pub at: i64,
    /// A fixed word such as `logout` or `refresh_reuse` (see [`EndReason`]).
    pub reason: String,
}

impl Session {
    /// Live at `now`: not ended, and before both of its deadlines.
    pub fn is_live(&self, now: i64) -> bool {
        self.revoked.is_none() && now < self.idle_expires_at && now < self.absolute_expires_at
    }

    /// The first of the two deadlines.
    pub fn expires_at(&self) -> i64 {
        self.idle_expires_at.min(self.absolute_expires_at)
    }
}

/// Why a session was ended: stored as its word, shown in logs and metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EndReason {
    /// The user logged out of this session.
    Logout,
    /// The user logged out everywhere.
    LogoutAll,
    /// The user ended one of their sessions from another one.
    EndedByUser,
    /// An administrator (API or command line) ended it.
    EndedByAdmin,
    /// A rotated refresh token was presented again after the grace window.
    RefreshReuse,
    /// The user's password changed.
    PasswordChanged,
    /// The user's roles changed.
    RolesChanged,
    /// The user was set inactive.
    Deactivated,
    /// A new login under the single-session policy.
    SingleSession,
}

impl EndReason {
    /// The stored word.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Logout => "logout",
            Self::LogoutAll => "logout_all",
            Self::EndedByUser => "ended_by_user",
            Self::EndedByAdmin => "ended_by_admin",
            Self::RefreshReuse => "refresh_reuse",
            Self::PasswordChanged => "password_changed",
            Self::RolesChanged => "roles_changed",
            Self::Deactivated => "deactivated",
            Self::SingleSession => "single_session",
        }
    }
}

/// A session to create together with its first refresh token.
#[derive(Clone, Debug)]
pub struct NewSession {
    pub id: SessionId,
    pub user_id: UserId,
    pub idle_expires_at: i64,
    pub absolute_expires_at: i64,
    pub client_ip: String,
    pub user_agent: String,
    /// The hash of the session's first refresh token.
    pub refresh_hash: TokenHash,
}

/// One refresh: the presented token and the successor the caller prepared for it.
#[derive(Clone)]
pub struct Rotation {
    /// The hash of the presented token.
    pub presented: TokenHash,
    /// The hash of the prepared successor.
    pub successor: TokenHash,
    /// The prepared successor, sealed under a key only the presented token yields.
    pub sealed_successor: Vec<u8>,
    /// The idle deadline moves to `now + idle_seconds`, capped at the absolute deadline.
    pub idle_seconds: i64,
    /// A token rotated less than this many seconds ago returns its existing successor
    /// instead of counting as reuse; 0 turns that off.
    pub grace_seconds: i64,
}

/// What a refresh did; decided atomically in the store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RotateOutcome {
    /// The presented token was current: it is now rotated and the prepared successor stored.
    Rotated(Session),
    /// The presented token was rotated within the grace window: its existing successor,
    /// sealed under the presented token, is returned instead (the prepared one is dropped).
    Grace {
        session: Session,
        sealed_successor: Vec<u8>,
    },
    /// The presented token was rotated before the grace window: the session is now ended
    /// with [`EndReason::RefreshReuse`].
    ReuseDetected(Session),
    /// The token belongs to a session that has already ended or expired: nothing changed.
    Ended(Session),
    /// No session knows this token.
    Unknown,
}

impl fmt::Debug for Rotation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rotation")
            .field("idle_seconds", &self.idle_seconds)
            .field("grace_seconds", &self.grace_seconds)
            .finish_non_exhaustive()
    }
}
