//! Opaque refresh tokens, rotated on every use (RFC 9700 §4.14.2).
//!
//! A [`RefreshToken`] is 256 bits from the operating system's CSPRNG, handed to the client as 43
//! characters of base64url without padding. The server stores only [`RefreshToken::lookup_hash`]
//! (SHA-256 of the text), never the token.
//!
//! Rotation may need to answer a retried request with the successor it already issued without
//! storing that successor in the clear: [`RefreshToken::seal_successor`] encrypts it under a key
//! only a holder of the predecessor can derive, and [`RefreshToken::open_successor`] reverses it.
//!
//! Sealed format, version 1: `0x01 || nonce (12 bytes) || AES-256-GCM(successor text) || tag`.
//! - Key: HKDF-SHA256 over the predecessor's 32 raw bytes, with the fixed salt and info labels
//!   below. A stored lookup hash (SHA-256 of the *text*) does not yield it, so a database dump
//!   opens no sealed successor.
//! - Nonce: 96 fresh random bits per seal.
//! - Associated data: the predecessor's lookup hash, so a blob moved to another row does not open.
//!
//! Invariants: pure functions, no I/O, no clock; token text never appears in `Debug` output or in
//! an error; token bytes are zeroed when a [`RefreshToken`] is dropped.

use std::fmt;

use aws_lc_rs::{aead, digest, hkdf};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use zeroize::{Zeroize, Zeroizing};

use crate::RefreshError;

/// Random bytes in a refresh token.
const TOKEN_BYTES: usize = 32;
/// Characters in a refresh token's text: 32 bytes in base64url without padding.
const TOKEN_CHARS: usize = 43;

/// The first byte of every sealed successor in the current format.
const SEALED_VERSION: u8 = 1;
const NONCE_LEN: usize = aead::NONCE_LEN;
const TAG_LEN: usize = 16;
/// The exact length of a version 1 sealed successor: 72 bytes.
const SEALED_LEN: usize = 1 + NONCE_LEN + TOKEN_CHARS + TAG_LEN;

/// HKDF labels for the successor-sealing key. Changing either is a new format version.
const SEAL_SALT: &[u8] = b"tessera refresh-token successor v1";
const SEAL_INFO: &[u8] = b"tessera refresh-token successor v1 aes-256-gcm key";

/// An opaque refresh token: 32 random bytes, carried as 43 characters of base64url.
///
/// `Debug` prints `RefreshToken(<redacted>)`; there is no `Display`, and equality is not offered
/// (look tokens up by [`lookup_hash`](Self::lookup_hash) instead). The text and bytes are zeroed
/// on drop.
pub struct RefreshToken {
    text: String,
    bytes: [u8; TOKEN_BYTES],
}

impl RefreshToken {
    /// A new token from the operating system's CSPRNG.
    pub fn generate() -> Result<Self, RefreshError> {
        let mut bytes = [0_u8; TOKEN_BYTES];
        if getrandom::fill(&mut bytes).is_err() {
            bytes.zeroize();
            return Err(RefreshError::Randomness);
        }
        let text = URL_SAFE_NO_PAD.encode(bytes);
        Ok(Self { text, bytes })
    }

    /// Accepts exactly what [`generate`](Self::generate) produces: 43 characters of strict
    /// base64url (URL-safe alphabet, no padding, no whitespace, canonical trailing bits), so each
    /// 32-byte value has exactly one text. Anything else is [`RefreshError::Malformed`].
    pub fn parse(text: &str) -> Result<Self, RefreshError> {
        // Bounded before decoding, so hostile input costs nothing.
        if text.len() != TOKEN_CHARS {
            return Err(RefreshError::Malformed);
        }
        let mut bytes = [0_u8; TOKEN_BYTES];
        match URL_SAFE_NO_PAD.decode_slice(text, &mut bytes) {
            Ok(TOKEN_BYTES) => Ok(Self {
                text: text.to_owned(),
                bytes,
            }),
            _ => {
                bytes.zeroize();
                Err(RefreshError::Malformed)
            }
        }
    }

    /// The text to hand to the client.
    pub fn expose(&self) -> &str {
        &self.text
    }

    /// SHA-256 of the token's text bytes: the value to store and look up instead of the token.
    pub fn lookup_hash(&self) -> [u8; 32] {
        let digest = digest::digest(&digest::SHA256, self.text.as_bytes());
        let mut hash = [0_u8; 32];
        hash.copy_from_slice(digest.as_ref());
        hash
    }

    /// Encrypts `successor` so that only a holder of `self` (its predecessor) can recover it with
    /// [`open_successor`](Self::open_successor). Each call uses a fresh random nonce, so sealing
    /// the same successor twice gives different bytes.
    pub fn seal_successor(&self, successor: &RefreshToken) -> Result<Vec<u8>, RefreshError> {
        self.seal(successor.text.as_bytes())
    }

    /// Recovers the successor sealed by [`seal_successor`](Self::seal_successor) under `self`.
    /// A wrong predecessor, a truncated, extended or tampered blob, or an unknown version are all
    /// [`RefreshError::Sealed`].
    pub fn open_successor(&self, sealed: &[u8]) -> Result<RefreshToken, RefreshError> {
        let [version, rest @ ..] = sealed else {
            return Err(RefreshError::Sealed);
        };
        if *version != SEALED_VERSION || sealed.len() != SEALED_LEN {
            return Err(RefreshError::Sealed);
        }
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        let nonce =
            aead::Nonce::try_assume_unique_for_key(nonce).map_err(|_| RefreshError::Sealed)?;
        let key = self.sealing_key()?;
        let mut in_out = Zeroizing::new(ciphertext.to_vec());
        let plaintext = key
            .open_in_place(nonce, aead::Aad::from(self.lookup_hash()), &mut in_out)
            .map_err(|_| RefreshError::Sealed)?;
        let text = std::str::from_utf8(plaintext).map_err(|_| RefreshError::Sealed)?;
        RefreshToken::parse(text).map_err(|_| RefreshError::Sealed)
    }

    /// Seals any plaintext under the key derived from `self`; the format is documented at the top
    /// of this module.
    fn seal(&self, plaintext: &[u8]) -> Result<Vec<u8>, RefreshError> {
        let mut nonce = [0_u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|_| RefreshError::Randomness)?;
        let key = self.sealing_key()?;
        let mut sealed = Vec::with_capacity(1 + NONCE_LEN + plaintext.len() + TAG_LEN);
        sealed.push(SEALED_VERSION);
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(plaintext);
        let sealing = key.seal_in_place_separate_tag(
            aead::Nonce::assume_unique_for_key(nonce),
            aead::Aad::from(self.lookup_hash()),
            &mut sealed[1 + NONCE_LEN..],
        );
        match sealing {
            Ok(tag) => {
                sealed.extend_from_slice(tag.as_ref());
                Ok(sealed)
            }
            Err(_) => {
                // The buffer may still hold the plaintext.
                sealed.zeroize();
                Err(RefreshError::Sealed)
            }
        }
    }

    fn sealing_key(&self) -> Result<aead::LessSafeKey, RefreshError> {
        let bytes = self.sealing_key_bytes()?;
        let key = aead::UnboundKey::new(&aead::AES_256_GCM, bytes.as_ref())
            .map_err(|_| RefreshError::Sealed)?;
        Ok(aead::LessSafeKey::new(key))
    }

    /// HKDF-SHA256(salt = [`SEAL_SALT`], ikm = the 32 raw token bytes, info = [`SEAL_INFO`]),
    /// 32 bytes: the AES-256-GCM key for this token's successor.
    fn sealing_key_bytes(&self) -> Result<Zeroizing<[u8; 32]>, RefreshError> {
        let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, SEAL_SALT).extract(&self.bytes);
        let info = [SEAL_INFO];
        let mut key = Zeroizing::new([0_u8; 32]);
        prk.expand(&info, hkdf::HKDF_SHA256)
            .and_then(|okm| okm.fill(key.as_mut()))
            .map_err(|_| RefreshError::Sealed)?;
        Ok(key)
    }
}

impl fmt::Debug for RefreshToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RefreshToken(<redacted>)")
    }
}

impl Drop for RefreshToken {
    fn drop(&mut self) {
        self.text.zeroize();
        self.bytes.zeroize();
    }
}

#[cfg(test)]
mod tests;
