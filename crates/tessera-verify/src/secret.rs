//! The shared HS256 secret, turned into a key exactly as tessera does.
//!
//! This module owns one rule, copied from tessera's configuration (`JwtSecret::parse` in
//! `crates/tessera-config/src/secret.rs`, policy `pad`, the default): lengths count characters
//! (Unicode scalar values); fewer than 32 are padded on the right with `-` (U+002D) to exactly
//! 32, more than 32 are cut to the first 32, and the key is the UTF-8 encoding of the result. An
//! empty or blank secret is refused, never padded. A tessera configured with
//! `TESSERA_JWT_SECRET_POLICY=strict` uses the whole secret instead: use
//! [`Verifier::shared_key`](crate::Verifier::shared_key) with the secret's bytes for it.
//!
//! Invariant: the secret and the key never appear in an error, a log line or `Debug` output, and
//! the key is wiped once it has been handed to the HMAC.

use zeroize::Zeroizing;

/// Characters in the key tessera derives from a configured secret.
pub(crate) const KEY_CHARACTERS: usize = 32;

/// The character a short secret is padded with.
pub(crate) const PAD_CHARACTER: char = '-';

/// Why a shared secret cannot be used. Never contains the secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// The secret is empty (tessera refuses it too).
    #[error("the shared secret must not be empty")]
    Empty,
    /// The secret is only whitespace (tessera refuses it too).
    #[error("the shared secret must not be blank")]
    Blank,
    /// Two of the secrets give the same key (after padding or cutting), like tessera's refusal
    /// of a previous secret equal to the current one.
    #[error("two of the shared secrets give the same key")]
    Duplicate,
}

/// The key bytes tessera signs with when configured with `secret` under the `pad` policy.
pub(crate) fn padded_key(secret: &str) -> Result<Zeroizing<Vec<u8>>, SecretError> {
    if secret.is_empty() {
        return Err(SecretError::Empty);
    }
    if secret.chars().all(char::is_whitespace) {
        return Err(SecretError::Blank);
    }
    let end = secret
        .char_indices()
        .nth(KEY_CHARACTERS)
        .map_or(secret.len(), |(index, _)| index);
    let used = secret.get(..end).unwrap_or(secret);
    let padding = KEY_CHARACTERS.saturating_sub(used.chars().count());
    let mut key = Zeroizing::new(Vec::with_capacity(used.len() + padding));
    key.extend_from_slice(used.as_bytes());
    key.extend(std::iter::repeat_n(PAD_CHARACTER as u8, padding));
    Ok(key)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn short_secrets_are_padded_with_hyphens_to_32_characters() {
        assert_eq!(
            padded_key("0123456789").unwrap().as_slice(),
            b"0123456789----------------------"
        );
    }

    #[test]
    fn long_secrets_keep_their_first_32_characters() {
        let secret = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJ";
        assert_eq!(
            padded_key(secret).unwrap().as_slice(),
            b"abcdefghijklmnopqrstuvwxyzABCDEF"
        );
        let exact = "abcdefghijklmnopqrstuvwxyzABCDEF";
        assert_eq!(padded_key(exact).unwrap().as_slice(), exact.as_bytes());
    }

    #[test]
    fn lengths_count_characters_not_bytes() {
        // 31 two-byte characters + 1 pad; 33 of them are cut to 32 (64 bytes).
        let short = "é".repeat(31);
        assert_eq!(
            padded_key(&short).unwrap().as_slice(),
            format!("{short}-").as_bytes()
        );
        let long = "é".repeat(33);
        assert_eq!(
            padded_key(&long).unwrap().as_slice(),
            "é".repeat(32).as_bytes()
        );
    }

    #[test]
    fn empty_and_blank_secrets_are_refused() {
        assert_eq!(padded_key("").unwrap_err(), SecretError::Empty);
        assert_eq!(padded_key(" \t\n").unwrap_err(), SecretError::Blank);
    }
}
