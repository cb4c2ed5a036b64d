//! The token signing keys as stored: their value types ([`KeyState`], [`StoredKey`],
//! [`NewKey`]); the statements live in each backend's `keys` module.
//!
//! A key moves `next` (published, never signs) -> `current` (signs) -> `retired` (verifies
//! until `verify_until`, then removed), and from any state to `revoked` (refused at once,
//! removed later). Invariants, enforced by the database itself so that racing instances
//! (and raw SQL) cannot break them: a `kid` is unique; there is at most one `current` key and
//! at most one `next` key; every insert, update and delete of a key appends a
//! [`ChangeKind::Key`](crate::ChangeKind::Key) change to the feed in the same transaction.
//! The sealed private key never appears in `Debug` output (only its length does).

use std::fmt;

use crate::StoreError;

/// Where a signing key is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyState {
    /// Published in the key set so verifiers can fetch it ahead of use; never signs.
    Next,
    /// Signs new tokens; at most one key is current.
    Current,
    /// Signed before; still verifies until its `verify_until`, then it is removed.
    Retired,
    /// Refused at once and no longer published; removed later.
    Revoked,
}

impl KeyState {
    /// The word stored in `signing_keys.state`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Next => "next",
            Self::Current => "current",
            Self::Retired => "retired",
            Self::Revoked => "revoked",
        }
    }

    /// Reads a stored `signing_keys.state`; anything else is [`StoreError::Corrupt`].
    pub(crate) fn parse(stored: &str, kid: &str) -> Result<Self, StoreError> {
        match stored {
            "next" => Ok(Self::Next),
            "current" => Ok(Self::Current),
            "retired" => Ok(Self::Retired),
            "revoked" => Ok(Self::Revoked),
            _ => Err(StoreError::Corrupt(format!(
                "signing_keys.state of key {kid} is not one of 'next', 'current', 'retired', \
                 'revoked'"
            ))),
        }
    }
}

impl fmt::Display for KeyState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A signing key as stored. `Debug` shows the length of `sealed_private`, never its bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredKey {
    /// The row's id, chosen by the store; feed changes of kind `key` carry it.
    pub id: uuid::Uuid,
    /// The key id tokens name in their header; unique.
    pub kid: String,
    /// The JWS algorithm name (`EdDSA`, `ES256`, `RS256`, ...), as the caller stored it.
    pub algorithm: String,
    pub state: KeyState,
    /// The public JWK, as JSON text; what the key set publishes.
    pub public_jwk: String,
    /// The private key, sealed by the caller under the key-encryption secret; `None` for a
    /// key whose private half is kept elsewhere.
    pub sealed_private: Option<Vec<u8>>,
    /// Unix seconds, from the `now` of the insert.
    pub created_at: i64,
    /// When it became current.
    pub activated_at: Option<i64>,
    /// When it was retired.
    pub retired_at: Option<i64>,
    /// A retired key verifies until this time (inclusive) and is removed after it.
    pub verify_until: Option<i64>,
    /// When it was revoked.
    pub revoked_at: Option<i64>,
}

/// A key to insert (see [`Store::insert_key`](crate::Store::insert_key)). `Debug` shows the
/// length of `sealed_private`, never its bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct NewKey {
    pub kid: String,
    /// The JWS algorithm name.
    pub algorithm: String,
    /// The public JWK, as JSON text.
    pub public_jwk: String,
    pub sealed_private: Option<Vec<u8>>,
    /// [`KeyState::Next`] or [`KeyState::Current`]; anything else is refused with
    /// [`StoreError::Invalid`].
    pub state: KeyState,
}

/// What `Debug` shows in place of sealed key bytes.
struct Sealed<'a>(&'a Option<Vec<u8>>);

impl fmt::Debug for Sealed<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(bytes) => write!(f, "Some(<redacted: {} bytes>)", bytes.len()),
            None => f.write_str("None"),
        }
    }
}

impl fmt::Debug for StoredKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredKey")
            .field("id", &self.id)
            .field("kid", &self.kid)
            .field("algorithm", &self.algorithm)
            .field("state", &self.state)
            .field("public_jwk", &self.public_jwk)
            .field("sealed_private", &Sealed(&self.sealed_private))
            .field("created_at", &self.created_at)
            .field("activated_at", &self.activated_at)
            .field("retired_at", &self.retired_at)
            .field("verify_until", &self.verify_until)
            .field("revoked_at", &self.revoked_at)
            .finish()
    }
}

impl fmt::Debug for NewKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewKey")
            .field("kid", &self.kid)
            .field("algorithm", &self.algorithm)
            .field("public_jwk", &self.public_jwk)
            .field("sealed_private", &Sealed(&self.sealed_private))
            .field("state", &self.state)
            .finish()
    }
}

/// Refuses a new key in a state it cannot start in.
pub(crate) fn check_new(key: &NewKey) -> Result<(), StoreError> {
    match key.state {
        KeyState::Next | KeyState::Current => Ok(()),
        other => Err(StoreError::Invalid(format!(
            "a new signing key must be next or current, not {other}"
        ))),
    }
}

/// The conflict of an insert that broke one of the key table's unique rules: `field` is the
/// one the database named (`kid`, or `state` for the one-current / one-next rules).
pub(crate) fn insert_conflict(key: &NewKey, on_kid: bool) -> StoreError {
    if on_kid {
        StoreError::Conflict(format!(
            "a signing key with kid {:?} already exists",
            key.kid
        ))
    } else {
        StoreError::Conflict(format!("a {} signing key already exists", key.state))
    }
}

/// Decides an activation from what the transaction read (and locked): the target's state
/// (`None`: no such kid) and the current key's kid.
pub(crate) fn check_activation(
    kid: &str,
    target: Option<KeyState>,
    current: Option<&str>,
    expected_current: Option<&str>,
) -> Result<(), StoreError> {
    match target {
        None => {
            return Err(StoreError::Conflict(format!(
                "there is no signing key with kid {kid:?}"
            )));
        }
        Some(KeyState::Next) => {}
        Some(state) => {
            return Err(StoreError::Conflict(format!(
                "the signing key {kid:?} is {state}, not next"
            )));
        }
    }
    if current != expected_current {
        let shown = |kid: Option<&str>| kid.map_or_else(|| "none".to_owned(), |k| format!("{k:?}"));
        return Err(StoreError::Conflict(format!(
            "the current signing key is {}, not {}: another writer rotated the keys",
            shown(current),
            shown(expected_current)
        )));
    }
    Ok(())
}

/// The revoked keys older than this (unix seconds) are removed: `now - keep_revoked_secs`,
/// saturating so no input overflows.
pub(crate) fn revoked_before(now: i64, keep_revoked_secs: i64) -> i64 {
    now.saturating_sub(keep_revoked_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_the_length_of_the_sealed_key_only() {
        let key = NewKey {
            kid: "k1".to_owned(),
            algorithm: "EdDSA".to_owned(),
            public_jwk: "{}".to_owned(),
            sealed_private: Some(b"SEALED-SECRET".to_vec()),
            state: KeyState::Next,
        };
        let shown = format!("{key:?} {key:#?}");
        assert!(
            !shown.contains("SEALED") && !shown.contains("83, 69"),
            "{shown}"
        );
        assert!(shown.contains("<redacted: 13 bytes>"), "{shown}");
    }

    #[test]
    fn states_round_trip_and_unknown_words_are_corrupt() {
        for state in [
            KeyState::Next,
            KeyState::Current,
            KeyState::Retired,
            KeyState::Revoked,
        ] {
            assert!(matches!(KeyState::parse(state.as_str(), "k"), Ok(s) if s == state));
        }
        assert!(matches!(
            KeyState::parse("Current", "k"),
            Err(StoreError::Corrupt(_))
        ));
    }
}
