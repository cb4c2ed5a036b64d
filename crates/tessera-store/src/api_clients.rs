//! The API clients allowed to call the introspection endpoint: their value type; the
//! statements live in each backend's `keys` module.
//!
//! Invariants: a client's `id` and its `name` are each unique (the database enforces both);
//! the store keeps `secret_hash` exactly as given (the server hashes the secret) and never
//! shows it in `Debug` output.

use std::fmt;

use crate::REDACTED;

/// A client of the introspection API.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiClient {
    /// The public client id; unique.
    pub id: String,
    /// A name for operators; unique.
    pub name: String,
    /// The hash of the client's secret, as the server made it.
    pub secret_hash: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds when it was disabled; `None` while it may call.
    pub disabled_at: Option<i64>,
}

impl fmt::Debug for ApiClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiClient")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("secret_hash", &REDACTED)
            .field("created_at", &self.created_at)
            .field("disabled_at", &self.disabled_at)
            .finish()
    }
}
