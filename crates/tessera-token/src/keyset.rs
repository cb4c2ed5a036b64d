//! [`KeySet`]: the keys a [`TokenCodec`](crate::TokenCodec) signs with and verifies against.
//!
//! Invariants: kids are unique within a set (the signing key's included); the signing key, when
//! there is one, is also the first verifying key. A token is matched to a key by its `kid` only;
//! a token without `kid` is matched only to an HS256 signing key (tokens issued before kids
//! existed), never to a verifying-only key or an asymmetric key.

use std::fmt;
use std::sync::Arc;

use crate::{KeyError, SigningKey, VerifyingKey};

/// The base64url of `{"alg":"HS256","typ":"at+jwt"}`, the header issued before kids existed.
pub(crate) const LEGACY_HS256_HEADER_B64: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6ImF0K2p3dCJ9";

/// A signing key (optional) and the other keys accepted when verifying.
///
/// `Debug` lists kids and algorithms only. Clones share the keys.
#[derive(Clone)]
pub struct KeySet {
    inner: Arc<Inner>,
}

struct Inner {
    signing: Option<SigningKey>,
    /// Every verifying key, the signing key's first.
    keys: Vec<VerifyingKey>,
}

impl KeySet {
    /// `signing` signs; `verifying` are the other keys accepted (next, retired, previous HS256
    /// secrets). Refuses a duplicate kid (including the signing key's), and nothing else.
    pub fn new(signing: SigningKey, verifying: Vec<VerifyingKey>) -> Result<Self, KeyError> {
        let mut keys = Vec::with_capacity(verifying.len() + 1);
        keys.push(signing.verifying_key());
        keys.extend(verifying);
        Self::build(Some(signing), keys)
    }

    /// A verify-only set (for verifiers, which hold no signing key).
    pub fn verify_only(verifying: Vec<VerifyingKey>) -> Result<Self, KeyError> {
        Self::build(None, verifying)
    }

    fn build(signing: Option<SigningKey>, keys: Vec<VerifyingKey>) -> Result<Self, KeyError> {
        for (index, key) in keys.iter().enumerate() {
            if keys[..index].iter().any(|other| other.kid() == key.kid()) {
                return Err(KeyError::DuplicateKid {
                    kid: key.kid().to_owned(),
                });
            }
        }
        Ok(Self {
            inner: Arc::new(Inner { signing, keys }),
        })
    }

    /// The key tokens are signed with, if any.
    pub fn signing(&self) -> Option<&SigningKey> {
        self.inner.signing.as_ref()
    }

    /// Every key accepted when verifying, the signing key's included (first).
    pub fn verifying(&self) -> impl Iterator<Item = &VerifyingKey> {
        self.inner.keys.iter()
    }

    /// The key with this kid.
    pub fn get(&self, kid: &str) -> Option<&VerifyingKey> {
        self.inner.keys.iter().find(|key| key.kid() == kid)
    }

    /// The key a token without `kid` is checked against: the HS256 signing key, if that is what
    /// signs.
    pub(crate) fn legacy(&self) -> Option<&VerifyingKey> {
        self.inner
            .signing
            .as_ref()
            .filter(|key| key.algorithm().is_symmetric())
            .map(|key| key.as_ref())
    }
}

impl From<SigningKey> for KeySet {
    /// A set of one key, which signs and verifies (cannot fail: one kid cannot repeat).
    fn from(signing: SigningKey) -> Self {
        let keys = vec![signing.verifying_key()];
        Self {
            inner: Arc::new(Inner {
                signing: Some(signing),
                keys,
            }),
        }
    }
}

impl fmt::Debug for KeySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeySet")
            .field("signing", &self.inner.signing)
            .field("verifying", &self.inner.keys)
            .finish()
    }
}
