//! The value types of the failed-login counters (see [`crate::Store::login_failures`]).
//!
//! A failure is counted against two keys: the account (a normalised username, whether or not
//! a user holds it) and the client address. The store keeps each failure's time; the caller
//! owns the rules (the window, the limits) and passes them in with every call.

/// What a failed login is counted against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKey<'a> {
    /// A normalised username, known or not.
    Account(&'a str),
    /// A client address, in its text form.
    Client(&'a str),
}

impl FailureKey<'_> {
    /// The `kind` column's value for this key.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Self::Account(_) => "account",
            Self::Client(_) => "client",
        }
    }

    /// The `key` column's value.
    pub(crate) fn key(&self) -> &str {
        match self {
            Self::Account(key) | Self::Client(key) => key,
        }
    }
}

/// One key's failures inside a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FailureCount {
    /// How many.
    pub failures: u64,
    /// The time (unix seconds) of the oldest of them; `None` when there are none.
    pub oldest: Option<i64>,
}

/// The failures of both keys of one login attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LoginFailures {
    /// The account's.
    pub account: FailureCount,
    /// The client's.
    pub client: FailureCount,
}

/// A failed login to record, with the pruning that comes with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginFailure<'a> {
    /// The normalised username tried.
    pub account: &'a str,
    /// The client address.
    pub client: &'a str,
    /// When it failed (unix seconds).
    pub at: i64,
    /// Failures at or before this instant have left the window: they are deleted, of every
    /// key, so keys nobody tries again do not stay behind.
    pub forget_until: i64,
    /// Only this many most recent failures of the account are kept (at least one): a limit
    /// of this many never needs more, so racing failures cannot pile up on one key.
    pub keep_per_account: u32,
    /// As `keep_per_account`, for the client.
    pub keep_per_client: u32,
}
