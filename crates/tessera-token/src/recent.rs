//! [`RecentTokens`]: the tokens one codec verified lately, so that a token presented again is
//! answered without a second MAC and JSON pass.
//!
//! Why a hit gives exactly the answer a full verify would: everything [`TokenCodec::verify`]
//! checks besides the time depends only on the token's bytes and on the codec's key and rules,
//! which never change for a codec (a new key or new rules make a new codec, with an empty
//! cache). A hit is an exact, whole-token byte comparison, and the time claims are checked
//! again at every hit by the same functions, in the same order, as in a full verify.
//!
//! Invariants:
//! - only tokens that passed a full verify are remembered, so an attacker cannot fill the cache
//!   with forgeries, and a forged token never hits (the comparison covers every byte);
//! - memory is bounded: past [`CAPACITY`] entries the cache is cleared wholesale;
//! - a token that fails its time checks on a hit is forgotten;
//! - `Debug` shows the number of entries, never a token.
//!
//! [`TokenCodec::verify`]: crate::TokenCodec::verify

use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, PoisonError, RwLock};

use crate::AccessClaims;

/// The most tokens remembered (about 1 KiB each with their claims).
pub(crate) const CAPACITY: usize = 4096;

/// How many trailing bytes of a token are hashed to find it: 22 base64url characters are 132
/// bits of the MAC, as unpredictable as any part of the token. Equality is still checked on
/// every byte.
const HASHED_TAIL: usize = 22;

/// A token that verified, whole, and its claims.
type Remembered = (Box<str>, Arc<AccessClaims>);

/// Tokens that verified, keyed by a hash of their last bytes.
pub(crate) struct RecentTokens {
    /// Slots are already keyed hashes; foldhash spreads them in a few nanoseconds.
    map: RwLock<HashMap<u64, Remembered, foldhash::fast::RandomState>>,
    /// SipHash keyed per process: a cryptographic PRF of the token's tail, so nobody can aim
    /// tokens at one slot.
    hasher: RandomState,
}

impl RecentTokens {
    pub(crate) fn new() -> Self {
        Self {
            map: RwLock::new(HashMap::default()),
            hasher: RandomState::default(),
        }
    }

    /// The claims of `token`, if it verified before (its time claims still to be checked).
    pub(crate) fn get(&self, token: &str) -> Option<Arc<AccessClaims>> {
        let slot = self.slot(token);
        let map = self.map.read().unwrap_or_else(PoisonError::into_inner);
        match map.get(&slot) {
            Some((remembered, claims)) if **remembered == *token => Some(Arc::clone(claims)),
            _ => None,
        }
    }

    /// Remembers a token that passed a full verify.
    pub(crate) fn remember(&self, token: &str, claims: Arc<AccessClaims>) {
        let slot = self.slot(token);
        let mut map = self.map.write().unwrap_or_else(PoisonError::into_inner);
        if map.len() >= CAPACITY {
            map.clear();
        }
        map.insert(slot, (Box::from(token), claims));
    }

    /// Forgets `token`.
    pub(crate) fn forget(&self, token: &str) {
        let slot = self.slot(token);
        let mut map = self.map.write().unwrap_or_else(PoisonError::into_inner);
        if map
            .get(&slot)
            .is_some_and(|(remembered, _)| **remembered == *token)
        {
            map.remove(&slot);
        }
    }

    fn len(&self) -> usize {
        self.map
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    fn slot(&self, token: &str) -> u64 {
        let bytes = token.as_bytes();
        let tail = bytes
            .get(bytes.len().saturating_sub(HASHED_TAIL)..)
            .unwrap_or(bytes);
        self.hasher.hash_one(tail)
    }
}

impl fmt::Debug for RecentTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecentTokens")
            .field("entries", &self.len())
            .field("capacity", &CAPACITY)
            .finish()
    }
}
