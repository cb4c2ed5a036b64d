//! Private keys encrypted at rest, for keys kept in a database.
//!
//! Sealed format, version 1: `0x01 || salt (16 bytes) || nonce (12 bytes) || AES-256-GCM(PKCS#8
//! DER) || tag (16 bytes)`.
//! - Key: HKDF-SHA256(ikm = the key-encryption secret, salt = the 16 random bytes, info =
//!   `"tessera private key v1"`), 32 bytes; a fresh salt per seal gives a fresh key.
//! - Nonce: 96 fresh random bits per seal.
//! - Associated data: `alg || 0x00 || kid`, so a sealed key moved to another row (other kid or
//!   algorithm) does not open.
//!
//! Invariants: every failure to open is the one [`KeyError::Unsealable`], with no detail and no
//! panic; plaintext buffers are zeroed.

use aws_lc_rs::{aead, hkdf};
use zeroize::{Zeroize, Zeroizing};

use crate::{Algorithm, KeyError, SigningKey};

const VERSION: u8 = 1;
const SALT_LEN: usize = 16;
const NONCE_LEN: usize = aead::NONCE_LEN;
const TAG_LEN: usize = 16;
const HEADER_LEN: usize = 1 + SALT_LEN + NONCE_LEN;
const INFO: &[u8] = b"tessera private key v1";
/// The shortest key-encryption secret accepted, in bytes.
pub const MIN_KEK_BYTES: usize = 32;

/// Encrypts `key`'s PKCS#8 DER under `kek` (asymmetric keys only: HS256 is
/// [`KeyError::Symmetric`]; a `kek` under [`MIN_KEK_BYTES`] is [`KeyError::KekTooShort`]).
pub fn seal_private_key(kek: &[u8], key: &SigningKey) -> Result<Vec<u8>, KeyError> {
    if kek.len() < MIN_KEK_BYTES {
        return Err(KeyError::KekTooShort);
    }
    let der = key.pkcs8_der()?;
    let mut salt = [0_u8; SALT_LEN];
    let mut nonce = [0_u8; NONCE_LEN];
    getrandom::fill(&mut salt).map_err(|_| KeyError::Randomness)?;
    getrandom::fill(&mut nonce).map_err(|_| KeyError::Randomness)?;
    let sealing = sealing_key(kek, &salt).ok_or(KeyError::Serialization)?;
    let mut sealed = Vec::with_capacity(HEADER_LEN + der.len() + TAG_LEN);
    sealed.push(VERSION);
    sealed.extend_from_slice(&salt);
    sealed.extend_from_slice(&nonce);
    sealed.extend_from_slice(&der);
    let result = sealing.seal_in_place_separate_tag(
        aead::Nonce::assume_unique_for_key(nonce),
        aead::Aad::from(aad(key.algorithm(), key.kid())),
        &mut sealed[HEADER_LEN..],
    );
    match result {
        Ok(tag) => {
            sealed.extend_from_slice(tag.as_ref());
            Ok(sealed)
        }
        Err(_) => {
            // The buffer may still hold the plaintext.
            sealed.zeroize();
            Err(KeyError::Serialization)
        }
    }
}

/// Decrypts what [`seal_private_key`] produced for the key `kid` of algorithm `alg`. A wrong
/// `kek`, any changed byte, a different `kid` or `alg`, a truncated blob or an unknown version are
/// all [`KeyError::Unsealable`].
pub fn open_private_key(
    kek: &[u8],
    alg: Algorithm,
    kid: &str,
    sealed: &[u8],
) -> Result<SigningKey, KeyError> {
    const NO: KeyError = KeyError::Unsealable;
    if sealed.len() < HEADER_LEN + TAG_LEN || sealed[0] != VERSION || alg.is_symmetric() {
        return Err(NO);
    }
    let salt = &sealed[1..1 + SALT_LEN];
    let nonce = aead::Nonce::try_assume_unique_for_key(&sealed[1 + SALT_LEN..HEADER_LEN])
        .map_err(|_| NO)?;
    let opening = sealing_key(kek, salt).ok_or(NO)?;
    let mut in_out = Zeroizing::new(sealed[HEADER_LEN..].to_vec());
    let der = opening
        .open_in_place(nonce, aead::Aad::from(aad(alg, kid)), &mut in_out)
        .map_err(|_| NO)?;
    SigningKey::from_pkcs8_der(alg, kid, der).map_err(|_| NO)
}

fn aad(alg: Algorithm, kid: &str) -> Vec<u8> {
    let mut aad = Vec::with_capacity(alg.as_str().len() + 1 + kid.len());
    aad.extend_from_slice(alg.as_str().as_bytes());
    aad.push(0);
    aad.extend_from_slice(kid.as_bytes());
    aad
}

fn sealing_key(kek: &[u8], salt: &[u8]) -> Option<aead::LessSafeKey> {
    let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, salt).extract(kek);
    let info = [INFO];
    let mut bytes = Zeroizing::new([0_u8; 32]);
    prk.expand(&info, hkdf::HKDF_SHA256)
        .and_then(|okm| okm.fill(bytes.as_mut()))
        .ok()?;
    let key = aead::UnboundKey::new(&aead::AES_256_GCM, bytes.as_ref()).ok()?;
    Some(aead::LessSafeKey::new(key))
}

#[cfg(test)]
mod tests;
