//! The signature layer: JWS compact serialization with HS256, nothing about claims.
//!
//! Order of checks in [`verify_signature`]: size, structure (exactly three non-empty segments),
//! strict base64url of every segment, header (UTF-8 JSON object, no duplicate members,
//! allow-listed members, `alg` exactly `HS256`), then the MAC over the exact received
//! `header.payload` bytes in constant time. The payload is returned as bytes and never parsed here.
//!
//! The header is parsed before the MAC because it is what the MAC check must refuse on (`alg`,
//! `crit`, key-carrying members); its size is bounded by the token cap and its parser is strict.
//!
//! Invariant: the server, never the token, chooses the algorithm and the key; nothing in a header
//! is fetched or used to pick a key (`kid` is accepted as an opaque string and ignored).

use aws_lc_rs::hmac;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

use crate::json::{self, JsonError};
use crate::{MAX_TOKEN_BYTES, SigningKey, VerifyError};

/// The base64url form of the only header this crate issues: `{"alg":"HS256","typ":"at+jwt"}`.
pub(crate) const ACCESS_TOKEN_HEADER_B64: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6ImF0K2p3dCJ9";

/// A compact JWS whose structure, header and MAC have been checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedJws {
    /// The decoded protected header (members already checked against the allow-list).
    pub header: Map<String, Value>,
    /// The decoded payload bytes, not interpreted.
    pub payload: Vec<u8>,
}

/// Verifies the signature layer of a compact JWS: size, structure, strict base64url, header rules,
/// `alg == "HS256"` and the HMAC-SHA256 over the received bytes, compared in constant time.
///
/// Header rules (an allow-list):
/// - `alg` is required and must be exactly `"HS256"`, otherwise [`VerifyError::UnsupportedAlgorithm`]
///   (a missing `alg` is [`VerifyError::Malformed`]);
/// - `typ` and `kid` are allowed and must be strings (`typ` is checked by `TokenCodec::verify`,
///   `kid` is opaque and ignored);
/// - `crit`, in any form, is [`VerifyError::UnknownCrit`]: no extension is understood;
/// - every other member — `jwk`, `jku`, `x5u`, `x5c`, `x5t`, `x5t#S256`, `cty` (nested tokens),
///   `b64`, and any unregistered name — is [`VerifyError::ForbiddenHeader`].
///
/// The claims are not looked at: a valid result only says the bytes were signed with `key`.
pub fn verify_signature(key: &SigningKey, token: &str) -> Result<VerifiedJws, VerifyError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(VerifyError::TooLarge);
    }
    let segments = split_compact(token)?;
    let header_bytes = decode_segment(segments.header, "header is not strict base64url")?;
    let header = json::parse_object(&header_bytes).map_err(|error| match error {
        JsonError::NotUtf8 => VerifyError::Malformed("header is not UTF-8"),
        JsonError::Syntax => VerifyError::Malformed("header is not valid JSON"),
        JsonError::DuplicateMember => VerifyError::Malformed("header has a duplicate member"),
        JsonError::NotObject => VerifyError::Malformed("header is not a JSON object"),
    })?;
    check_header(&header)?;
    let payload = decode_segment(segments.payload, "payload is not strict base64url")?;
    let signature = decode_segment(segments.signature, "signature is not strict base64url")?;
    // The MAC covers the exact bytes received, up to (not including) the second '.'.
    hmac::verify(key.hmac(), segments.signing_input.as_bytes(), &signature)
        .map_err(|_| VerifyError::BadSignature)?;
    Ok(VerifiedJws { header, payload })
}

/// Signs `payload` under the already encoded `header_b64` and returns the compact JWS.
pub(crate) fn sign_compact(key: &SigningKey, header_b64: &str, payload: &[u8]) -> String {
    let encoded_payload_len = payload.len().div_ceil(3) * 4;
    let mut token = String::with_capacity(header_b64.len() + encoded_payload_len + 45);
    token.push_str(header_b64);
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(payload, &mut token);
    let tag = hmac::sign(key.hmac(), token.as_bytes());
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(tag.as_ref(), &mut token);
    token
}

/// The `typ` values that mark an access token (RFC 9068 §2.1, compared case-insensitively with
/// the optional `application/` prefix as RFC 7515 §4.1.9 allows).
pub(crate) fn check_access_token_type(header: &Map<String, Value>) -> Result<(), VerifyError> {
    let Some(Value::String(typ)) = header.get("typ") else {
        return Err(VerifyError::WrongTokenType);
    };
    let media_type = match typ.get(..12) {
        Some(prefix) if prefix.eq_ignore_ascii_case("application/") => &typ[12..],
        _ => typ.as_str(),
    };
    if media_type.eq_ignore_ascii_case("at+jwt") {
        Ok(())
    } else {
        Err(VerifyError::WrongTokenType)
    }
}

/// The three segments of a compact JWS, borrowed from the token.
struct Segments<'a> {
    header: &'a str,
    payload: &'a str,
    signature: &'a str,
    signing_input: &'a str,
}

/// Splits on '.' without allocating: exactly three segments, none empty.
fn split_compact(token: &str) -> Result<Segments<'_>, VerifyError> {
    const WRONG_COUNT: VerifyError =
        VerifyError::Malformed("token must have exactly three segments");
    let (header, rest) = token.split_once('.').ok_or(WRONG_COUNT)?;
    let (payload, signature) = rest.split_once('.').ok_or(WRONG_COUNT)?;
    if signature.contains('.') {
        return Err(WRONG_COUNT);
    }
    if header.is_empty() {
        return Err(VerifyError::Malformed("header segment is empty"));
    }
    if payload.is_empty() {
        return Err(VerifyError::Malformed("payload segment is empty"));
    }
    if signature.is_empty() {
        return Err(VerifyError::Malformed("signature segment is empty"));
    }
    let signing_input = &token[..header.len() + 1 + payload.len()];
    Ok(Segments {
        header,
        payload,
        signature,
        signing_input,
    })
}

/// Strict base64url: URL-safe alphabet only, no padding, no whitespace, canonical trailing bits
/// (the `base64` crate's `URL_SAFE_NO_PAD` engine rejects all of these by default).
fn decode_segment(segment: &str, error: &'static str) -> Result<Vec<u8>, VerifyError> {
    URL_SAFE_NO_PAD
        .decode(segment)
        .map_err(|_| VerifyError::Malformed(error))
}

fn check_header(header: &Map<String, Value>) -> Result<(), VerifyError> {
    if header.contains_key("crit") {
        return Err(VerifyError::UnknownCrit);
    }
    match header.get("alg") {
        None => return Err(VerifyError::Malformed("header has no alg member")),
        Some(Value::String(alg)) if alg == "HS256" => {}
        Some(_) => return Err(VerifyError::UnsupportedAlgorithm),
    }
    for (name, value) in header {
        match name.as_str() {
            "alg" => {}
            "typ" | "kid" if value.is_string() => {}
            "typ" => return Err(VerifyError::Malformed("header typ is not a string")),
            "kid" => return Err(VerifyError::Malformed("header kid is not a string")),
            other => return Err(VerifyError::ForbiddenHeader(forbidden_name(other))),
        }
    }
    Ok(())
}

/// Registered names are reported as themselves; anything else as a fixed phrase, so a name chosen
/// by a client never reaches a log line.
fn forbidden_name(name: &str) -> &'static str {
    const REGISTERED: [&str; 13] = [
        "jwk", "jku", "x5u", "x5c", "x5t", "x5t#S256", "cty", "b64", "zip", "enc", "epk", "url",
        "nonce",
    ];
    REGISTERED
        .into_iter()
        .find(|registered| *registered == name)
        .unwrap_or("unlisted member")
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE};

    #[test]
    fn issued_header_constant_is_the_documented_json() {
        assert_eq!(
            URL_SAFE_NO_PAD.decode(ACCESS_TOKEN_HEADER_B64).unwrap(),
            br#"{"alg":"HS256","typ":"at+jwt"}"#
        );
    }

    /// The rule the whole strictness story rests on: the engine we use rejects non-canonical
    /// trailing bits, padding, the standard alphabet and whitespace, while lenient engines would
    /// have accepted the same text.
    #[test]
    fn url_safe_no_pad_engine_is_strict() {
        // "QQ" is the canonical encoding of "A"; "QR".."QZ" differ only in the unused low bits.
        assert_eq!(URL_SAFE_NO_PAD.decode("QQ").unwrap(), b"A");
        for non_canonical in [
            "QR", "QS", "QT", "QU", "QV", "QW", "QX", "QY", "QZ", "Qa", "Qf",
        ] {
            assert!(
                decode_segment(non_canonical, "x").is_err(),
                "{non_canonical}"
            );
        }
        // Three-character case: "QUI" encodes "AB"; "QUJ" has a different unused low bit pair.
        assert_eq!(URL_SAFE_NO_PAD.decode("QUI").unwrap(), b"AB");
        assert!(decode_segment("QUJ", "x").is_err());
        assert!(decode_segment("QUL", "x").is_err());
        for hostile in [
            "QQ==", "QUI=", "Q Q", " QQ", "QQ\n", "QQ\t", "+/8", "a+b", "a/b", "Q", "QQQQQ",
        ] {
            assert!(decode_segment(hostile, "x").is_err(), "{hostile:?}");
        }
        // Sanity: a lenient decoder would have accepted the padded form.
        assert_eq!(URL_SAFE.decode("QQ==").unwrap(), b"A");
        assert_eq!(STANDARD.decode("+/8=").unwrap(), [0xfb, 0xff]);
        assert_eq!(URL_SAFE_NO_PAD.decode("-_8").unwrap(), [0xfb, 0xff]);
    }

    #[test]
    fn split_borrows_three_segments_and_the_signing_input() {
        let segments = split_compact("aa.bbb.c").unwrap();
        assert_eq!(segments.header, "aa");
        assert_eq!(segments.payload, "bbb");
        assert_eq!(segments.signature, "c");
        assert_eq!(segments.signing_input, "aa.bbb");
        for wrong in [
            "",
            "a",
            "a.b",
            "a.b.c.d",
            "a.b.c.d.e",
            "...",
            "a..c",
            ".b.c",
            "a.b.",
        ] {
            assert!(
                matches!(split_compact(wrong), Err(VerifyError::Malformed(_))),
                "{wrong}"
            );
        }
    }

    #[test]
    fn access_token_type_is_compared_case_insensitively() {
        let header = |typ: Value| {
            let mut map = Map::new();
            map.insert("typ".into(), typ);
            map
        };
        for good in [
            "at+jwt",
            "AT+JWT",
            "At+Jwt",
            "application/at+jwt",
            "Application/AT+JWT",
        ] {
            assert_eq!(
                check_access_token_type(&header(good.into())),
                Ok(()),
                "{good}"
            );
        }
        for bad in [
            "JWT",
            "jwt",
            "at+jwt ",
            "application/jwt",
            "applicationat+jwt",
            "",
            "at+jwt\0",
        ] {
            assert_eq!(
                check_access_token_type(&header(bad.into())),
                Err(VerifyError::WrongTokenType),
                "{bad}"
            );
        }
        assert_eq!(
            check_access_token_type(&header(Value::Null)),
            Err(VerifyError::WrongTokenType)
        );
        assert_eq!(
            check_access_token_type(&Map::new()),
            Err(VerifyError::WrongTokenType)
        );
        // A multi-byte character at the prefix boundary must not panic.
        assert_eq!(
            check_access_token_type(&header("applicati\u{e9}\u{e9}at+jwt".into())),
            Err(VerifyError::WrongTokenType)
        );
    }

    #[test]
    fn unregistered_header_names_are_not_echoed() {
        assert_eq!(forbidden_name("jwk"), "jwk");
        assert_eq!(forbidden_name("x5t#S256"), "x5t#S256");
        assert_eq!(forbidden_name("evil\nlog line"), "unlisted member");
    }

    #[test]
    fn signed_then_verified() {
        let key = SigningKey::from_bytes(b"k").unwrap();
        let token = sign_compact(&key, ACCESS_TOKEN_HEADER_B64, b"{}");
        let jws = verify_signature(&key, &token).unwrap();
        assert_eq!(jws.payload, b"{}");
        assert_eq!(jws.header["typ"], "at+jwt");
        assert_eq!(check_access_token_type(&jws.header), Ok(()));
    }
}
