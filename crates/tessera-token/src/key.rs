//! Keys: [`Algorithm`], [`SigningKey`] (signs and verifies) and [`VerifyingKey`] (verifies only).
//!
//! Supported algorithms: `HS256` (HMAC-SHA256 over a shared secret), `EdDSA` (Ed25519 only),
//! `ES256` (P-256 + SHA-256, signatures in the 64-byte `R || S` form) and `RS256` (RSA PKCS#1 v1.5
//! + SHA-256, modulus 2048..=8192 bits, public exponent 65537). All cryptography is aws-lc-rs.
//!
//! Every key carries a `kid`: for keys tessera generates, 16 random bytes in base64url; for an
//! HS256 secret, `hs-` + base64url of the first 16 bytes of HMAC-SHA256(secret, "tessera key id")
//! (deterministic, so every instance sharing the secret agrees); for a PEM file without a given
//! kid, the RFC 7638 thumbprint of its public JWK. A kid is 1..=128 visible ASCII characters
//! other than `"` and `\`, so it goes into a JSON header without escaping.
//!
//! Invariants: key material is handed to aws-lc-rs when a key is built and never printed or
//! returned afterwards, except through [`SigningKey::to_pkcs8_der`] (for sealing, zeroed on drop).
//! `Debug` shows the algorithm and kid only. Each key precomputes the base64url of the one header
//! this crate issues with it, `{"alg":…,"typ":"at+jwt","kid":…}` in exactly that member order.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeySize, PublicKeyComponents};
use aws_lc_rs::signature::{
    self, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, ParsedPublicKey, RsaKeyPair,
};
use aws_lc_rs::{digest, hmac};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use zeroize::Zeroizing;

use crate::KeyError;

/// The longest `kid` accepted.
pub const MAX_KID_LEN: usize = 128;

/// The smallest RSA modulus accepted, in bits.
pub(crate) const MIN_RSA_BITS: usize = 2048;
/// The largest RSA modulus accepted, in bits (aws-lc-rs's limit for verification).
pub(crate) const MAX_RSA_BITS: usize = 8192;
/// The message for an RSA private key aws-lc-rs refuses as too small.
const RSA_TOO_SMALL: &str = "the RSA key is smaller than 2048 bits";

/// The only RSA public exponent accepted: 65537, big-endian.
pub(crate) const RSA_EXPONENT: [u8; 3] = [1, 0, 1];

/// A JWS signature algorithm tessera supports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// HMAC-SHA256 with a shared secret.
    Hs256,
    /// EdDSA over Ed25519.
    EdDsa,
    /// ECDSA over P-256 with SHA-256.
    Es256,
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    Rs256,
}

impl Algorithm {
    /// Every supported algorithm, in the order error messages list them.
    pub const ALL: [Algorithm; 4] = [Self::Hs256, Self::EdDsa, Self::Es256, Self::Rs256];

    /// The JWS `alg` name: `"HS256"`, `"EdDSA"`, `"ES256"` or `"RS256"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hs256 => "HS256",
            Self::EdDsa => "EdDSA",
            Self::Es256 => "ES256",
            Self::Rs256 => "RS256",
        }
    }

    /// True for HS256, whose verifying key is the secret itself (never published).
    pub fn is_symmetric(self) -> bool {
        matches!(self, Self::Hs256)
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Algorithm {
    type Err = KeyError;

    /// Exact JWS names only (`"HS256"`, `"EdDSA"`, `"ES256"`, `"RS256"`; case matters).
    fn from_str(name: &str) -> Result<Self, KeyError> {
        Self::ALL
            .into_iter()
            .find(|alg| alg.as_str() == name)
            .ok_or(KeyError::UnknownAlgorithm)
    }
}

/// Checks a `kid` against the rule in the module documentation.
pub(crate) fn check_kid(kid: &str) -> Result<(), KeyError> {
    let valid = !kid.is_empty()
        && kid.len() <= MAX_KID_LEN
        && kid
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\');
    if valid {
        Ok(())
    } else {
        Err(KeyError::InvalidKid)
    }
}

/// The private half of a signing key.
// The HMAC key is the large variant; each key lives once, inside an `Arc`, so the size is paid
// once per key and boxing would only add an indirection on the HS256 hot path.
#[allow(clippy::large_enum_variant)]
enum Private {
    Hmac(hmac::Key),
    Ed25519(Ed25519KeyPair),
    Es256(EcdsaKeyPair),
    Rs256(RsaKeyPair),
}

/// A key that signs (and verifies): an HS256 secret or an asymmetric private key.
///
/// `Debug` prints only the algorithm and kid. Cloning is cheap (the prepared key is shared).
#[derive(Clone)]
pub struct SigningKey {
    inner: Arc<SigningInner>,
}

struct SigningInner {
    private: Private,
    verifying: VerifyingKey,
}

impl SigningKey {
    /// Prepares an HS256 key from raw secret bytes; its kid is derived from the secret (see the
    /// module documentation).
    ///
    /// Only emptiness is refused here; judging the strength of a configured secret (length,
    /// entropy, well-known examples) is the configuration layer's job.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, KeyError> {
        if bytes.is_empty() {
            return Err(KeyError::Empty);
        }
        let key = hmac::Key::new(hmac::HMAC_SHA256, bytes);
        let tag = hmac::sign(&key, b"tessera key id");
        let kid = format!("hs-{}", URL_SAFE_NO_PAD.encode(&tag.as_ref()[..16]));
        let verifying = VerifyingKey::new(kid, Public::Hmac(key.clone()));
        Ok(Self::wrap(Private::Hmac(key), verifying))
    }

    /// Generates a new asymmetric key with a random kid (RS256: 2048 bits). HS256 secrets are
    /// configured, not generated: [`KeyError::Symmetric`].
    pub fn generate(alg: Algorithm) -> Result<Self, KeyError> {
        let kid = random_kid()?;
        let private = match alg {
            Algorithm::Hs256 => return Err(KeyError::Symmetric),
            Algorithm::EdDsa => {
                Private::Ed25519(Ed25519KeyPair::generate().map_err(|_| KeyError::Generation)?)
            }
            Algorithm::Es256 => Private::Es256(
                EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_FIXED_SIGNING)
                    .map_err(|_| KeyError::Generation)?,
            ),
            Algorithm::Rs256 => Private::Rs256(
                RsaKeyPair::generate(KeySize::Rsa2048).map_err(|_| KeyError::Generation)?,
            ),
        };
        Self::from_private(kid, private)
    }

    /// Reads an asymmetric private key from PKCS#8 DER (what [`to_pkcs8_der`](Self::to_pkcs8_der)
    /// returns) under the given kid. The key must be of algorithm `alg`.
    pub fn from_pkcs8_der(alg: Algorithm, kid: &str, der: &[u8]) -> Result<Self, KeyError> {
        check_kid(kid)?;
        let private = match alg {
            Algorithm::Hs256 => return Err(KeyError::Symmetric),
            Algorithm::EdDsa => Private::Ed25519(
                Ed25519KeyPair::from_pkcs8(der).map_err(|_| KeyError::InvalidKey(alg))?,
            ),
            Algorithm::Es256 => Private::Es256(
                EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, der)
                    .map_err(|_| KeyError::InvalidKey(alg))?,
            ),
            Algorithm::Rs256 => {
                Private::Rs256(RsaKeyPair::from_pkcs8(der).map_err(|_| KeyError::InvalidKey(alg))?)
            }
        };
        Self::from_private(kid.to_owned(), private)
    }

    /// Reads a PEM private key: `PRIVATE KEY` (PKCS#8: Ed25519, P-256 or RSA), `EC PRIVATE KEY`
    /// (SEC1, P-256) or `RSA PRIVATE KEY` (PKCS#1). The algorithm follows from the key. With
    /// `kid` `None`, the kid is the RFC 7638 thumbprint of the public JWK, so every instance
    /// reading the same file agrees. `EC PARAMETERS` blocks are skipped; exactly one private key
    /// block must remain. Public keys, certificates and encrypted keys are refused by name.
    pub fn from_pem(pem: &str, kid: Option<&str>) -> Result<Self, KeyError> {
        let (label, der) = crate::pem::private_key_block(pem)?;
        let private = match label {
            crate::pem::Label::Pkcs8 => {
                if let Ok(pair) = Ed25519KeyPair::from_pkcs8(&der) {
                    Private::Ed25519(pair)
                } else if let Ok(pair) =
                    EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &der)
                {
                    Private::Es256(pair)
                } else {
                    match RsaKeyPair::from_pkcs8(&der) {
                        Ok(pair) => Private::Rs256(pair),
                        Err(error) if error.description_() == "TooSmall" => {
                            return Err(KeyError::Pem(RSA_TOO_SMALL));
                        }
                        Err(_) => {
                            return Err(KeyError::Pem(
                                "the PRIVATE KEY is not an Ed25519, P-256 or RSA key",
                            ));
                        }
                    }
                }
            }
            crate::pem::Label::Sec1 => Private::Es256(
                EcdsaKeyPair::from_private_key_der(
                    &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                    &der,
                )
                .map_err(|_| KeyError::Pem("the EC PRIVATE KEY is not a valid P-256 key"))?,
            ),
            crate::pem::Label::Pkcs1 => {
                Private::Rs256(RsaKeyPair::from_der(&der).map_err(|error| {
                    KeyError::Pem(if error.description_() == "TooSmall" {
                        RSA_TOO_SMALL
                    } else {
                        "the RSA PRIVATE KEY is not a valid RSA key"
                    })
                })?)
            }
        };
        match kid {
            Some(kid) => {
                check_kid(kid)?;
                Self::from_private(kid.to_owned(), private)
            }
            None => {
                // The thumbprint needs the public key, so the kid comes after parsing.
                let public = public_of(&private)?;
                let kid = public.thumbprint();
                let verifying = VerifyingKey::new(kid, public);
                Ok(Self::wrap(private, verifying))
            }
        }
    }

    fn from_private(kid: String, private: Private) -> Result<Self, KeyError> {
        let public = public_of(&private)?;
        Ok(Self::wrap(private, VerifyingKey::new(kid, public)))
    }

    fn wrap(private: Private, verifying: VerifyingKey) -> Self {
        Self {
            inner: Arc::new(SigningInner { private, verifying }),
        }
    }

    /// The key id carried in the `kid` header of every token this key signs.
    pub fn kid(&self) -> &str {
        self.inner.verifying.kid()
    }

    /// The algorithm this key signs with.
    pub fn algorithm(&self) -> Algorithm {
        self.inner.verifying.algorithm()
    }

    /// The key that verifies this key's signatures (for HS256, the secret itself).
    pub fn verifying_key(&self) -> VerifyingKey {
        self.inner.verifying.clone()
    }

    /// The private key as PKCS#8 v1 DER, zeroed on drop, for sealing in a database; `None` for
    /// HS256 (and, should aws-lc-rs ever fail to serialize a key it holds, `None` as well).
    pub fn to_pkcs8_der(&self) -> Option<Zeroizing<Vec<u8>>> {
        self.pkcs8_der().ok()
    }

    pub(crate) fn pkcs8_der(&self) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        let der = match &self.inner.private {
            Private::Hmac(_) => return Err(KeyError::Symmetric),
            Private::Ed25519(pair) => pair.to_pkcs8v1().map(|doc| doc.as_ref().to_vec()),
            Private::Es256(pair) => pair.to_pkcs8v1().map(|doc| doc.as_ref().to_vec()),
            Private::Rs256(pair) => pair.as_der().map(|doc| doc.as_ref().to_vec()),
        };
        der.map(Zeroizing::new).map_err(|_| KeyError::Serialization)
    }

    /// Signs `message`: an HMAC tag, an Ed25519 signature, a 64-byte ES256 `R || S` or an RSA
    /// PKCS#1 v1.5 signature.
    pub(crate) fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        match &self.inner.private {
            Private::Hmac(key) => Ok(hmac::sign(key, message).as_ref().to_vec()),
            Private::Ed25519(pair) => Ok(pair.sign(message).as_ref().to_vec()),
            Private::Es256(pair) => pair
                .sign(&SystemRandom::new(), message)
                .map(|sig| sig.as_ref().to_vec())
                .map_err(|_| KeyError::Signing),
            Private::Rs256(pair) => {
                let mut sig = vec![0_u8; pair.public_modulus_len()];
                pair.sign(
                    &signature::RSA_PKCS1_SHA256,
                    &SystemRandom::new(),
                    message,
                    &mut sig,
                )
                .map_err(|_| KeyError::Signing)?;
                Ok(sig)
            }
        }
    }
}

impl AsRef<VerifyingKey> for SigningKey {
    fn as_ref(&self) -> &VerifyingKey {
        &self.inner.verifying
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("alg", &self.algorithm().as_str())
            .field("kid", &self.kid())
            .finish()
    }
}

/// 16 bytes from the operating system's CSPRNG, base64url without padding (22 characters).
fn random_kid() -> Result<String, KeyError> {
    let mut bytes = [0_u8; 16];
    getrandom::fill(&mut bytes).map_err(|_| KeyError::Randomness)?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// The public half of a private key.
fn public_of(private: &Private) -> Result<Public, KeyError> {
    match private {
        Private::Hmac(key) => Ok(Public::Hmac(key.clone())),
        Private::Ed25519(pair) => Public::ed25519(pair.public_key().as_ref()),
        Private::Es256(pair) => Public::es256_point(pair.public_key().as_ref()),
        Private::Rs256(pair) => {
            let public = pair.public_key();
            Public::rs256(
                public.modulus().big_endian_without_leading_zero(),
                public.exponent().big_endian_without_leading_zero(),
            )
        }
    }
}

/// The public (verifying) material of a key, with the numbers its JWK publishes.
// As for `Private`: one per key, inside an `Arc`.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Public {
    Hmac(hmac::Key),
    Ed25519 {
        parsed: ParsedPublicKey,
        x: [u8; 32],
    },
    Es256 {
        parsed: ParsedPublicKey,
        x: [u8; 32],
        y: [u8; 32],
    },
    Rs256 {
        parsed: ParsedPublicKey,
        n: Vec<u8>,
        e: Vec<u8>,
    },
}

impl Public {
    /// An Ed25519 public key: exactly 32 bytes.
    pub(crate) fn ed25519(x: &[u8]) -> Result<Self, KeyError> {
        let bytes: [u8; 32] = x
            .try_into()
            .map_err(|_| KeyError::InvalidKey(Algorithm::EdDsa))?;
        let parsed = ParsedPublicKey::new(&signature::ED25519, bytes)
            .map_err(|_| KeyError::InvalidKey(Algorithm::EdDsa))?;
        Ok(Self::Ed25519 { parsed, x: bytes })
    }

    /// A P-256 public key from its uncompressed SEC1 point `04 || x || y`.
    fn es256_point(point: &[u8]) -> Result<Self, KeyError> {
        match point {
            [4, rest @ ..] if rest.len() == 64 => Self::es256(&rest[..32], &rest[32..]),
            _ => Err(KeyError::InvalidKey(Algorithm::Es256)),
        }
    }

    /// A P-256 public key from its coordinates: 32 bytes each, a point on the curve.
    pub(crate) fn es256(x: &[u8], y: &[u8]) -> Result<Self, KeyError> {
        let invalid = || KeyError::InvalidKey(Algorithm::Es256);
        let x: [u8; 32] = x.try_into().map_err(|_| invalid())?;
        let y: [u8; 32] = y.try_into().map_err(|_| invalid())?;
        let mut point = [0_u8; 65];
        point[0] = 4;
        point[1..33].copy_from_slice(&x);
        point[33..].copy_from_slice(&y);
        let parsed = ParsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
            .map_err(|_| invalid())?;
        Ok(Self::Es256 { parsed, x, y })
    }

    /// An RSA public key: `n` without leading zero bytes, 2048..=8192 bits; `e` = 65537.
    pub(crate) fn rs256(n: &[u8], e: &[u8]) -> Result<Self, KeyError> {
        let bits = match n.first() {
            None | Some(0) => return Err(KeyError::InvalidKey(Algorithm::Rs256)),
            Some(&first) => n.len() * 8 - first.leading_zeros() as usize,
        };
        if !(MIN_RSA_BITS..=MAX_RSA_BITS).contains(&bits) {
            return Err(KeyError::RsaSize { bits });
        }
        if e != RSA_EXPONENT {
            return Err(KeyError::RsaExponent);
        }
        let parsed = PublicKeyComponents { n, e }
            .to_parsed_public_key(&signature::RSA_PKCS1_2048_8192_SHA256)
            .map_err(|_| KeyError::InvalidKey(Algorithm::Rs256))?;
        Ok(Self::Rs256 {
            parsed,
            n: n.to_vec(),
            e: e.to_vec(),
        })
    }

    fn algorithm(&self) -> Algorithm {
        match self {
            Self::Hmac(_) => Algorithm::Hs256,
            Self::Ed25519 { .. } => Algorithm::EdDsa,
            Self::Es256 { .. } => Algorithm::Es256,
            Self::Rs256 { .. } => Algorithm::Rs256,
        }
    }

    /// The RFC 7638 members of the public JWK in lexicographic order, as (name, value) pairs;
    /// empty for HS256.
    fn required_members(&self) -> Vec<(&'static str, String)> {
        match self {
            Self::Hmac(_) => Vec::new(),
            Self::Ed25519 { x, .. } => vec![
                ("crv", "Ed25519".to_owned()),
                ("kty", "OKP".to_owned()),
                ("x", URL_SAFE_NO_PAD.encode(x)),
            ],
            Self::Es256 { x, y, .. } => vec![
                ("crv", "P-256".to_owned()),
                ("kty", "EC".to_owned()),
                ("x", URL_SAFE_NO_PAD.encode(x)),
                ("y", URL_SAFE_NO_PAD.encode(y)),
            ],
            Self::Rs256 { n, e, .. } => vec![
                ("e", URL_SAFE_NO_PAD.encode(e)),
                ("kty", "RSA".to_owned()),
                ("n", URL_SAFE_NO_PAD.encode(n)),
            ],
        }
    }

    /// RFC 7638 JWK thumbprint: base64url(SHA-256 of the required members, sorted, no
    /// whitespace). Member values are base64url or fixed names, so they need no escaping.
    fn thumbprint(&self) -> String {
        let members: Vec<String> = self
            .required_members()
            .into_iter()
            .map(|(name, value)| format!("\"{name}\":\"{value}\""))
            .collect();
        let canonical = format!("{{{}}}", members.join(","));
        URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, canonical.as_bytes()))
    }
}

/// A key that only verifies: a public key, or for HS256 the secret itself (never published).
///
/// `Debug` prints the algorithm and kid only. Cloning is cheap (an `Arc`).
#[derive(Clone)]
pub struct VerifyingKey {
    inner: Arc<VerifyingInner>,
}

struct VerifyingInner {
    kid: String,
    public: Public,
    /// base64url of `{"alg":…,"typ":"at+jwt","kid":…}`, the header issued with this key.
    header_b64: String,
}

impl VerifyingKey {
    /// `kid` must already have passed [`check_kid`] (or be derived, hence valid).
    pub(crate) fn new(kid: String, public: Public) -> Self {
        let header = format!(
            r#"{{"alg":"{}","typ":"at+jwt","kid":"{kid}"}}"#,
            public.algorithm().as_str()
        );
        Self {
            inner: Arc::new(VerifyingInner {
                header_b64: URL_SAFE_NO_PAD.encode(header),
                kid,
                public,
            }),
        }
    }

    /// The key id tokens name this key by.
    pub fn kid(&self) -> &str {
        &self.inner.kid
    }

    /// The only algorithm this key verifies.
    pub fn algorithm(&self) -> Algorithm {
        self.inner.public.algorithm()
    }

    /// The public JWK (`kty`, `crv`/`n`, `x`/`e`, `y`, `kid`, `alg`, `use: "sig"`); `None` for
    /// HS256, whose key is secret.
    pub fn to_jwk(&self) -> Option<serde_json::Value> {
        let members = self.inner.public.required_members();
        if members.is_empty() {
            return None;
        }
        let mut jwk = serde_json::Map::new();
        for (name, value) in members {
            jwk.insert(name.to_owned(), serde_json::Value::String(value));
        }
        jwk.insert("kid".to_owned(), self.kid().into());
        jwk.insert("alg".to_owned(), self.algorithm().as_str().into());
        jwk.insert("use".to_owned(), "sig".into());
        Some(serde_json::Value::Object(jwk))
    }

    /// RFC 7638 thumbprint of the public JWK; `None` for HS256.
    pub fn thumbprint(&self) -> Option<String> {
        if self.algorithm().is_symmetric() {
            None
        } else {
            Some(self.inner.public.thumbprint())
        }
    }

    /// The base64url header this crate issues with this key.
    pub(crate) fn header_b64(&self) -> &str {
        &self.inner.header_b64
    }

    /// Checks `signature` over `message` with this key alone: HMAC in constant time, aws-lc-rs
    /// for the others (ES256 takes only the 64-byte `R || S` form). For the Wycheproof tests.
    #[doc(hidden)]
    pub fn verify_raw(&self, message: &[u8], signature: &[u8]) -> bool {
        match &self.inner.public {
            Public::Hmac(key) => hmac::verify(key, message, signature).is_ok(),
            Public::Ed25519 { parsed, .. }
            | Public::Es256 { parsed, .. }
            | Public::Rs256 { parsed, .. } => parsed.verify_sig(message, signature).is_ok(),
        }
    }
}

impl AsRef<VerifyingKey> for VerifyingKey {
    fn as_ref(&self) -> &VerifyingKey {
        self
    }
}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyingKey")
            .field("alg", &self.algorithm().as_str())
            .field("kid", &self.kid())
            .finish()
    }
}

/// Builds a verifying key from public parts (used by the JWK parser).
pub(crate) fn verifying_from_public(kid: &str, public: Public) -> Result<VerifyingKey, KeyError> {
    check_kid(kid)?;
    Ok(VerifyingKey::new(kid.to_owned(), public))
}

#[cfg(test)]
mod tests;
