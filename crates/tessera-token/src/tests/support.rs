//! Hand-made hostile tokens for tests: base64 and HMAC straight from `base64` and aws-lc-rs, not
//! through the crate's own signing code, so a bug there cannot hide a bug in verification; plus
//! the fixtures and the `check(case)` helper the tables share.

use aws_lc_rs::hmac;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use crate::{SigningKey, TokenCodec, TokenRules, VerifyError};

/// The key most tests sign with.
pub(crate) const KEY: &[u8] = b"tessera-unit-test-key-0123456789";

/// base64url without padding.
pub(crate) fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Signs the exact text `header_b64.payload_b64`, whatever it contains.
pub(crate) fn forge_segments(key: &[u8], header_b64: &str, payload_b64: &str) -> String {
    let signing_input = format!("{header_b64}.{payload_b64}");
    let tag = hmac::sign(
        &hmac::Key::new(hmac::HMAC_SHA256, key),
        signing_input.as_bytes(),
    );
    format!("{signing_input}.{}", b64(tag.as_ref()))
}

/// Signs raw header and payload bytes, encoded canonically.
pub(crate) fn forge(key: &[u8], header: impl AsRef<[u8]>, payload: impl AsRef<[u8]>) -> String {
    forge_segments(key, &b64(header), &b64(payload))
}

/// The character whose 6-bit value differs from `c`'s only in the lowest bit: same high bits,
/// so a decoder that ignores unused trailing bits reads the same bytes.
pub(crate) fn sibling_base64_char(c: char) -> char {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let index = ALPHABET.iter().position(|&a| char::from(a) == c).unwrap();
    char::from(ALPHABET[index ^ 1])
}

pub(crate) const NOW: i64 = 1_700_000_000;
pub(crate) const LEEWAY: u64 = 30;
pub(crate) const LEEWAY_I64: i64 = 30;
pub(crate) const ISSUER: &str = "https://tessera.test";
pub(crate) const AUDIENCE: &str = "tessera-api";
/// The session id the hand-made claims carry.
pub(crate) const SESSION_ID: &str = "session-1";
pub(crate) const HEADER: &str = r#"{"alg":"HS256","typ":"at+jwt"}"#;

pub(crate) fn rules() -> TokenRules {
    TokenRules {
        issuer: ISSUER.into(),
        audience: AUDIENCE.into(),
        leeway_seconds: LEEWAY,
    }
}

/// The derived kid of [`KEY`].
pub(crate) fn key_kid() -> String {
    SigningKey::from_bytes(KEY).unwrap().kid().to_owned()
}

pub(crate) fn codec() -> TokenCodec {
    TokenCodec::new(SigningKey::from_bytes(KEY).unwrap(), rules()).unwrap()
}

pub(crate) fn claims() -> Value {
    json!({
        "iss": ISSUER, "aud": AUDIENCE, "sub": "42", "sid": SESSION_ID,
        "iat": NOW - 5, "nbf": NOW - 5, "exp": NOW + 900,
        "jti": "AAAAAAAAAAAAAAAAAAAAAA", "name": "Ada", "roles": ["admin"],
    })
}

pub(crate) fn claims_with(member: &str, value: Value) -> String {
    let mut claims = claims();
    claims[member] = value;
    claims.to_string()
}

pub(crate) fn claims_without(member: &str) -> String {
    let mut claims = claims();
    claims.as_object_mut().unwrap().remove(member);
    claims.to_string()
}

pub(crate) fn header_with(member: &str, value: Value) -> String {
    let mut header: Value = serde_json::from_str(HEADER).unwrap();
    header[member] = value;
    header.to_string()
}

pub(crate) fn header_without(member: &str) -> String {
    let mut header: Value = serde_json::from_str(HEADER).unwrap();
    header.as_object_mut().unwrap().remove(member);
    header.to_string()
}

/// A token signed with the test key over exactly these header and payload bytes.
pub(crate) fn signed(header: impl AsRef<[u8]>, payload: impl AsRef<[u8]>) -> String {
    forge(KEY, header, payload)
}

pub(crate) fn good_token() -> String {
    signed(HEADER, claims().to_string())
}

/// The good token's segments, for surgery.
pub(crate) fn good_segments() -> (String, String, String) {
    let token = good_token();
    let mut parts = token.split('.').map(str::to_owned);
    let (h, p, s) = (parts.next(), parts.next(), parts.next());
    (h.unwrap(), p.unwrap(), s.unwrap())
}

/// Replaces the last character of `segment` with its sibling (same high bits).
pub(crate) fn non_canonical(segment: &str) -> String {
    let mut chars: Vec<char> = segment.chars().collect();
    let last = chars.pop().unwrap();
    chars.push(sibling_base64_char(last));
    chars.into_iter().collect()
}

/// JSON bytes whose length leaves `remainder` bytes after the last full 3-byte group, so the
/// base64 text ends in a character with unused bits.
pub(crate) fn padded_to_remainder(json: &str, remainder: usize) -> String {
    let mut text = json.to_owned();
    while text.len() % 3 != remainder {
        text.push(' ');
    }
    text
}

pub(crate) struct Case {
    pub(crate) name: &'static str,
    pub(crate) token: String,
    pub(crate) expect: Result<(), VerifyError>,
}

pub(crate) fn accept(name: &'static str, token: String) -> Case {
    Case {
        name,
        token,
        expect: Ok(()),
    }
}

pub(crate) fn reject(name: &'static str, token: String, error: VerifyError) -> Case {
    Case {
        name,
        token,
        expect: Err(error),
    }
}

pub(crate) fn check(case: &Case) {
    let result = codec().verify(&case.token, NOW).map(|_| ());
    assert_eq!(result, case.expect, "case: {}", case.name);
    if let Err(error) = result {
        // Nothing the client sent is echoed back.
        let message = error.to_string();
        for segment in case.token.split('.').filter(|s| s.len() > 3) {
            assert!(
                !message.contains(segment),
                "case {} echoes the token",
                case.name
            );
        }
    }
}

pub(crate) fn run(cases: &[Case]) {
    for case in cases {
        check(case);
    }
}
