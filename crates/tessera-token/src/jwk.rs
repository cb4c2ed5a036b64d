//! Public JWKs and JWK sets (RFC 7517, RFC 7518 §6, RFC 8037): written by [`jwk_set`] /
//! [`VerifyingKey::to_jwk`], read strictly by [`parse_jwk_set`] (for verifiers holding no
//! private key).
//!
//! Strictness of [`parse_jwk_set`]: at most [`MAX_JWKS_BYTES`] bytes and [`MAX_JWKS_KEYS`] keys;
//! duplicate JSON member names refused at every depth; a top-level `keys` array of objects; every
//! key needs a string `kid` (see [`crate::MAX_KID_LEN`]) and a supported `alg`, a `kty` / `crv`
//! matching that `alg`, coordinates of the exact size (Ed25519 `x` 32 bytes, P-256 `x`/`y` 32
//! bytes each, on the curve), RSA `n` of 2048..=8192 bits without a leading zero byte and `e` =
//! 65537; private members (`d`, `p`, `q`, `dp`, `dq`, `qi`, `k`, `oth`) are refused, as are a `use`
//! other than `"sig"`, a `key_ops` without `"verify"`, and a kid already seen. Other members are ignored, as RFC 7517 §4 asks.
//! HS256 `oct` keys are secrets and are never read from or written to a JWK set.
//!
//! Invariant: every error names the key's index and (when it is a valid kid) its kid, and never
//! echoes any other value from the input.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

use crate::json::{self, JsonError};
use crate::key::{self, Public};
use crate::{Algorithm, KeyError, VerifyingKey};

/// The largest JWK set [`parse_jwk_set`] reads, in bytes.
pub const MAX_JWKS_BYTES: usize = 64 * 1024;
/// The most keys [`parse_jwk_set`] accepts in one set.
pub const MAX_JWKS_KEYS: usize = 100;

/// Why a JWK set was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwkError {
    /// The document is larger than [`MAX_JWKS_BYTES`].
    #[error("JWK set of {len} bytes exceeds the maximum of {max} bytes")]
    TooLarge {
        /// The size of the document.
        len: usize,
        /// The largest size accepted.
        max: usize,
    },
    /// The document is not a JSON object with a `keys` array; the message says what is wrong.
    #[error("malformed JWK set: {0}")]
    Malformed(&'static str),
    /// More than [`MAX_JWKS_KEYS`] keys.
    #[error("JWK set holds {count} keys; at most {max} are accepted")]
    TooManyKeys {
        /// The number of keys found.
        count: usize,
        /// The most keys accepted.
        max: usize,
    },
    /// One key was refused.
    #[error("JWK set key {index}{}: {problem}", KidNote(kid.as_deref()))]
    Key {
        /// The key's position in `keys`, from 0.
        index: usize,
        /// The key's kid, when it has a valid one.
        kid: Option<String>,
        /// What is wrong with it.
        problem: &'static str,
    },
}

struct KidNote<'a>(Option<&'a str>);

impl fmt::Display for KidNote<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(kid) => write!(f, " (kid {kid:?})"),
            None => Ok(()),
        }
    }
}

/// `{"keys":[…]}` of the public JWKs of the asymmetric keys among `keys` (HS256 keys are left
/// out: they are secrets).
pub fn jwk_set(keys: &[VerifyingKey]) -> Value {
    let keys: Vec<Value> = keys.iter().filter_map(VerifyingKey::to_jwk).collect();
    serde_json::json!({ "keys": keys })
}

/// Parses a JWK set strictly (see the module documentation) into verifying keys, in order.
pub fn parse_jwk_set(json: &[u8]) -> Result<Vec<VerifyingKey>, JwkError> {
    if json.len() > MAX_JWKS_BYTES {
        return Err(JwkError::TooLarge {
            len: json.len(),
            max: MAX_JWKS_BYTES,
        });
    }
    let set = json::parse_object(json).map_err(|error| {
        JwkError::Malformed(match error {
            JsonError::NotUtf8 => "not UTF-8",
            JsonError::Syntax => "not valid JSON",
            JsonError::DuplicateMember => "a JSON object has a duplicate member",
            JsonError::NotObject => "not a JSON object",
        })
    })?;
    let Some(Value::Array(entries)) = set.get("keys") else {
        return Err(JwkError::Malformed("no keys array"));
    };
    if entries.len() > MAX_JWKS_KEYS {
        return Err(JwkError::TooManyKeys {
            count: entries.len(),
            max: MAX_JWKS_KEYS,
        });
    }
    let mut keys: Vec<VerifyingKey> = Vec::with_capacity(entries.len());
    for (index, entry) in entries.iter().enumerate() {
        let key = parse_key(index, entry)?;
        if keys.iter().any(|seen| seen.kid() == key.kid()) {
            return Err(JwkError::Key {
                index,
                kid: Some(key.kid().to_owned()),
                problem: "duplicate kid",
            });
        }
        keys.push(key);
    }
    Ok(keys)
}

/// Parses one public JWK (a member of a set at `index`) into a verifying key.
pub(crate) fn parse_key(index: usize, entry: &Value) -> Result<VerifyingKey, JwkError> {
    let Value::Object(jwk) = entry else {
        return Err(JwkError::Key {
            index,
            kid: None,
            problem: "not a JSON object",
        });
    };
    let kid = match jwk.get("kid") {
        Some(Value::String(kid)) if key::check_kid(kid).is_ok() => kid.as_str(),
        Some(Value::String(_)) => return Err(refused(index, None, "kid is not a valid key id")),
        Some(_) => return Err(refused(index, None, "kid is not a string")),
        None => return Err(refused(index, None, "no kid")),
    };
    let fail = |problem: &'static str| refused(index, Some(kid), problem);
    const PRIVATE: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "k", "oth"];
    if PRIVATE.iter().any(|member| jwk.contains_key(*member)) {
        return Err(fail("has private key members; publish public keys only"));
    }
    match jwk.get("use") {
        None => {}
        Some(Value::String(use_)) if use_ == "sig" => {}
        Some(_) => return Err(fail("use is not \"sig\"")),
    }
    match jwk.get("key_ops") {
        None => {}
        Some(Value::Array(ops)) if ops.iter().any(|op| op == "verify") => {}
        Some(_) => return Err(fail("key_ops does not include \"verify\"")),
    }
    let alg = match jwk.get("alg") {
        Some(Value::String(alg)) => alg
            .parse::<Algorithm>()
            .map_err(|_| fail("alg is not one of EdDSA, ES256, RS256"))?,
        Some(_) => return Err(fail("alg is not a string")),
        None => return Err(fail("no alg")),
    };
    let public = match alg {
        Algorithm::Hs256 => {
            return Err(fail("HS256 keys are secret and never read from a JWK set"));
        }
        Algorithm::EdDsa => {
            expect(jwk, "kty", "OKP").map_err(|_| fail("kty must be \"OKP\" for EdDSA"))?;
            expect(jwk, "crv", "Ed25519").map_err(|_| fail("crv must be \"Ed25519\" for EdDSA"))?;
            let x = coordinate(jwk, "x").map_err(|()| fail("x is not base64url"))?;
            Public::ed25519(&x).map_err(|_| fail("x is not a 32-byte Ed25519 public key"))?
        }
        Algorithm::Es256 => {
            expect(jwk, "kty", "EC").map_err(|_| fail("kty must be \"EC\" for ES256"))?;
            expect(jwk, "crv", "P-256").map_err(|_| fail("crv must be \"P-256\" for ES256"))?;
            let x = coordinate(jwk, "x").map_err(|()| fail("x is not base64url"))?;
            let y = coordinate(jwk, "y").map_err(|()| fail("y is not base64url"))?;
            if x.len() != 32 || y.len() != 32 {
                return Err(fail("x and y must be 32 bytes each"));
            }
            Public::es256(&x, &y).map_err(|_| fail("x, y is not a point on P-256"))?
        }
        Algorithm::Rs256 => {
            expect(jwk, "kty", "RSA").map_err(|_| fail("kty must be \"RSA\" for RS256"))?;
            if jwk.contains_key("crv") {
                return Err(fail("an RSA key has no crv"));
            }
            let n = coordinate(jwk, "n").map_err(|()| fail("n is not base64url"))?;
            let e = coordinate(jwk, "e").map_err(|()| fail("e is not base64url"))?;
            Public::rs256(&n, &e).map_err(|error| {
                fail(match error {
                    KeyError::RsaSize { .. } => "RSA modulus must be 2048 to 8192 bits",
                    KeyError::RsaExponent => "RSA exponent must be 65537",
                    _ => "n is not a valid RSA modulus (no leading zero byte)",
                })
            })?
        }
    };
    key::verifying_from_public(kid, public).map_err(|_| fail("kid is not a valid key id"))
}

fn refused(index: usize, kid: Option<&str>, problem: &'static str) -> JwkError {
    JwkError::Key {
        index,
        kid: kid.map(str::to_owned),
        problem,
    }
}

fn expect(jwk: &Map<String, Value>, member: &str, value: &str) -> Result<(), ()> {
    match jwk.get(member) {
        Some(Value::String(found)) if found == value => Ok(()),
        _ => Err(()),
    }
}

/// A required base64url (strict, no padding) member.
fn coordinate(jwk: &Map<String, Value>, member: &str) -> Result<Vec<u8>, ()> {
    match jwk.get(member) {
        Some(Value::String(text)) => URL_SAFE_NO_PAD.decode(text).map_err(|_| ()),
        _ => Err(()),
    }
}

#[cfg(test)]
mod tests;
