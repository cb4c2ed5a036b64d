//! The change feed's value types: what [`Store::changes_since`] reads, what
//! [`Store::instances`] lists, and the [`ChangeListener`] a backend that can push
//! notifications hands out.
//!
//! Invariants: a feed position (`seq`) is never reused; a reader that has read up to `seq`
//! never later finds a change with a smaller one (both backends hand out `seq` in commit
//! order); a reader whose cursor fell behind pruning is told so (`missed`).
//!
//! [`Store::changes_since`]: crate::Store::changes_since
//! [`Store::instances`]: crate::Store::instances

use crate::StoreError;

/// What a change names: the cache entry every instance must drop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    /// A user row was inserted, updated or deleted: drop the user and its sessions.
    User,
    /// A session was ended (its `revoked_at` set) or a not-ended session row was deleted.
    Session,
    /// A signing key was inserted, changed or deleted: reload the key set.
    Key,
}

impl ChangeKind {
    /// The word stored in `changes.kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Session => "session",
            Self::Key => "key",
        }
    }

    /// Reads a stored `changes.kind`; anything else is [`StoreError::Corrupt`].
    pub(crate) fn parse(stored: &str, seq: i64) -> Result<Self, StoreError> {
        match stored {
            "user" => Ok(Self::User),
            "session" => Ok(Self::Session),
            "key" => Ok(Self::Key),
            _ => Err(StoreError::Corrupt(format!(
                "changes.kind of seq {seq} is not 'user', 'session' or 'key'"
            ))),
        }
    }
}

/// One entry of the change feed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Change {
    /// Position in the feed: increases in commit order (a reader that has read up to `seq`
    /// never later finds a change with a smaller one).
    pub seq: i64,
    pub kind: ChangeKind,
    /// The user's, the session's or the signing key's id.
    pub id: uuid::Uuid,
}

/// What [`Store::changes_since`](crate::Store::changes_since) read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeBatch {
    /// Changes with `seq > after`, in `seq` order, at most `limit` of them.
    pub changes: Vec<Change>,
    /// True when changes after the cursor were pruned before this read (the reader missed
    /// some): it must drop everything it cached.
    pub missed: bool,
    /// The cursor to pass next time: the last returned change's `seq`; when none was
    /// returned, `after` (or, when `missed`, the highest pruned `seq`).
    pub next: i64,
}

impl ChangeBatch {
    /// Assembles a batch from rows read in one snapshot together with `pruned_through`.
    pub(crate) fn new(after: i64, changes: Vec<Change>, pruned_through: i64) -> Self {
        let missed = pruned_through > after;
        let next = match changes.last() {
            Some(last) => last.seq,
            None if missed => pruned_through,
            None => after,
        };
        Self {
            changes,
            missed,
            next,
        }
    }
}

/// What one heartbeat of an instance says (see [`crate::Store::heartbeat`]).
#[derive(Debug, Clone, Copy)]
pub struct Heartbeat<'a> {
    /// Random per start.
    pub id: uuid::Uuid,
    /// Names it for operators (host, address, pid); never a secret. Kept from the first beat.
    pub label: &'a str,
    /// The feed position it has applied to its caches.
    pub applied: i64,
    /// How long after this beat it may still serve without another.
    pub lease_ms: i64,
}

/// A running server instance, as its heartbeats describe it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    /// Random per start.
    pub id: uuid::Uuid,
    /// Free text naming it for operators (host, address, pid); never a secret.
    pub label: String,
    /// The feed position it has applied to its caches.
    pub applied: i64,
    /// Its lease: how long after a heartbeat it may still serve without writing another.
    pub lease_ms: i64,
    /// Unix seconds of its first heartbeat (by the database's clock).
    pub started_at: i64,
    /// Milliseconds since its last heartbeat, by the database's clock (never negative).
    pub age_ms: i64,
}

/// A connection waiting for feed notifications.
#[async_trait::async_trait]
pub trait ChangeListener: Send + std::fmt::Debug {
    /// Returns when at least one change was committed since the last call returned (or since
    /// the listener was made). Notifications carry no data: read the feed with
    /// [`Store::changes_since`](crate::Store::changes_since). An error means the connection
    /// was lost: notifications may have been missed (the caller reads the feed anyway, and
    /// makes a new listener).
    ///
    /// A wake may be for a commit the caller has already read (notifications of several
    /// commits can wake it once each); reading the feed then finds nothing new, which is
    /// harmless. Cancelling the future (dropping it inside a `select!` or a timeout) before
    /// it returns is safe.
    async fn wait(&mut self) -> Result<(), StoreError>;
}
