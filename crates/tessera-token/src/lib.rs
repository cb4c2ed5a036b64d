//! The token core of tessera: HS256, EdDSA, ES256 and RS256 access tokens (JWS compact serialization, `typ: at+jwt`,
//! RFC 7515 / RFC 7519 / RFC 9068), issued and strictly verified, and opaque refresh tokens for
//! rotation (RFC 9700 §4.14.2).
//!
//! Every access token names its session in a `sid` claim (a non-empty string, required when
//! verifying), so callers can end a session's access tokens along with its refresh tokens.
//!
//! This crate does **no I/O and never reads the clock**: `now` (unix seconds, `i64`) is always a
//! parameter, so callers decide what time it is and tests move time without sleeping.
//!
//! # Code map
//! - `key`: [`Algorithm`], [`SigningKey`] (HS256 secret or asymmetric private key, from bytes,
//!   generated, PKCS#8 DER or PEM) and [`VerifyingKey`]; each has a `kid` and no key material in
//!   `Debug`. `pem` is the small PEM reader behind [`SigningKey::from_pem`].
//! - `keyset`: [`KeySet`], one optional signing key and the other keys accepted, kids unique.
//! - `jws`: the signature layer, [`verify_signature`]: size, structure, strict base64url, header
//!   allow-list, key chosen by `kid`, `alg` pinned to the key, signature over the received bytes
//!   (constant-time MAC for HS256). The header this crate issues with each key is recognised by
//!   its exact encoding and not parsed again; small payloads and signatures are decoded on the
//!   stack.
//! - [`jwk`]: public JWKs and JWK sets, written ([`jwk_set`]) and strictly parsed
//!   ([`parse_jwk_set`]).
//! - [`seal`]: private keys encrypted at rest (HKDF-SHA256 + AES-256-GCM under a key-encryption
//!   secret).
//! - `claims`: [`AccessClaims`] (including `sid`) and their typed, strict check (after the MAC,
//!   never before), read in one streaming pass that builds no intermediate JSON map.
//! - `codec`: [`TokenCodec`], which issues tokens for a [`Subject`] (user and session) and chains
//!   the two layers plus `typ` to verify; [`TokenCodec::verify_cached`] adds a memory of recently
//!   verified tokens (`recent`), so a token presented again only has its time claims checked.
//! - `refresh`: [`RefreshToken`], 256 random bits as 43 base64url characters: strict parsing, the
//!   SHA-256 [`RefreshToken::lookup_hash`] to store instead of the token, and a successor sealed
//!   under the predecessor (HKDF-SHA256 + AES-256-GCM) for rotation.
//! - `json`: JSON parsing that rejects duplicate member names at every depth, as a `Map` or as
//!   building blocks for a single strict pass.
//! - `error`: [`VerifyError`] (with stable [`VerifyError::reason`] codes), [`KeyError`],
//!   [`RulesError`], [`IssueError`], [`RefreshError`].
//!
//! # Invariants
//! - The server, never the token, chooses the algorithm and the key: a `kid` only picks among the
//!   keys the server holds, and each key verifies exactly one algorithm.
//! - Every failure while verifying is a rejection (fail closed); no path panics on hostile input.
//! - No error message or `Debug` output contains a token (access or refresh), a key, or a
//!   library error.

mod claims;
mod codec;
mod error;
mod json;
pub mod jwk;
mod jws;
mod key;
mod keyset;
mod pem;
mod recent;
pub mod refresh;
pub mod seal;

pub use claims::AccessClaims;
pub use codec::{IssuedToken, MAX_LEEWAY_SECONDS, Subject, TokenCodec, TokenRules};
pub use error::{IssueError, KeyError, RefreshError, RulesError, VerifyError};
pub use jwk::{JwkError, jwk_set, parse_jwk_set};
pub use jws::{VerifiedJws, verify_signature};
pub use key::{Algorithm, MAX_KID_LEN, SigningKey, VerifyingKey};
pub use keyset::KeySet;
pub use refresh::RefreshToken;

/// Tokens longer than this many bytes are rejected before any parsing, so the work done on
/// hostile input is bounded (8 KiB is generous for an access token). Issuing never produces a
/// longer token.
pub const MAX_TOKEN_BYTES: usize = 8192;

#[cfg(test)]
mod tests;
