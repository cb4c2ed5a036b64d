//! The HS256 signing key.
//!
//! Invariant: the key bytes are handed to aws-lc-rs once, in [`SigningKey::from_bytes`], and never
//! kept, printed or returned by this crate afterwards.

use std::fmt;
use std::sync::Arc;

use aws_lc_rs::hmac;

use crate::KeyError;

/// An HS256 (HMAC-SHA256) key, used both to sign and to verify.
///
/// `Debug` prints only the algorithm and the key length (`SigningKey { alg: "HS256", len: 32 }`).
/// Cloning is cheap: the prepared HMAC key is shared.
#[derive(Clone)]
pub struct SigningKey {
    inner: Arc<KeyInner>,
}

struct KeyInner {
    hmac: hmac::Key,
    len: usize,
}

impl SigningKey {
    /// Prepares an HMAC-SHA256 key from raw secret bytes.
    ///
    /// Only emptiness is refused here; judging the strength of a configured secret (length,
    /// entropy, well-known examples) is the configuration layer's job.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, KeyError> {
        if bytes.is_empty() {
            return Err(KeyError::Empty);
        }
        Ok(Self {
            inner: Arc::new(KeyInner {
                hmac: hmac::Key::new(hmac::HMAC_SHA256, bytes),
                len: bytes.len(),
            }),
        })
    }

    pub(crate) fn hmac(&self) -> &hmac::Key {
        &self.inner.hmac
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("alg", &"HS256")
            .field("len", &self.inner.len)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_key_is_refused() {
        assert_eq!(SigningKey::from_bytes(b"").unwrap_err(), KeyError::Empty);
        assert_eq!(KeyError::Empty.to_string(), "signing key is empty");
    }

    #[test]
    fn debug_shows_algorithm_and_length_only() {
        let key = SigningKey::from_bytes(&[0x41; 32]).unwrap();
        assert_eq!(
            format!("{key:?}"),
            r#"SigningKey { alg: "HS256", len: 32 }"#
        );
    }

    #[test]
    fn clones_share_the_prepared_key() {
        let key = SigningKey::from_bytes(b"0123456789abcdef0123456789abcdef").unwrap();
        let copy = key.clone();
        assert!(Arc::ptr_eq(&key.inner, &copy.inner));
        let tag = hmac::sign(key.hmac(), b"message");
        assert!(hmac::verify(copy.hmac(), b"message", tag.as_ref()).is_ok());
    }
}
