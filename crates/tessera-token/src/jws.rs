//! The signature layer: JWS compact serialization, nothing about claims.
//!
//! Order of checks in [`verify_signature`] and the codec: size, structure (exactly three non-empty
//! segments), strict base64url of every segment, header (UTF-8 JSON object, no duplicate members,
//! no `crit`, `alg` a supported name, allow-listed members), then the key: the header's `kid`
//! selects it (an unknown kid is [`VerifyError::UnknownKey`]; a token without `kid` is checked only
//! against an HS256 signing key), `alg` must be that key's algorithm, and the signature over the
//! exact received `header.payload` bytes must verify with it (HMAC in constant time; aws-lc-rs for
//! EdDSA, ES256 in the 64-byte `R || S` form only, and RS256). The payload is returned as bytes
//! and never parsed here.
//!
//! The header is parsed before the signature because it is what the check must refuse on (`alg`,
//! `crit`, key-carrying members) and what picks the key; its size is bounded by the token cap and
//! its parser is strict.
//!
//! Invariant: the server, never the token, chooses the algorithm and the key material: a `kid`
//! only picks among keys the server already holds, and the algorithm is pinned to the key.
//! Nothing in a header is fetched.

use std::borrow::Cow;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::{DecodeSliceError, Engine as _};
use serde_json::{Map, Value};

use crate::json::{self, JsonError};
use crate::keyset::LEGACY_HS256_HEADER_B64;
use crate::{
    Algorithm, IssueError, KeySet, MAX_TOKEN_BYTES, SigningKey, VerifyError, VerifyingKey,
};

/// A compact JWS whose structure, header and signature have been checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedJws {
    /// The decoded protected header (members already checked against the allow-list).
    pub header: Map<String, Value>,
    /// The decoded payload bytes, not interpreted.
    pub payload: Vec<u8>,
}

/// Verifies the signature layer of a compact JWS against one key: size, structure, strict
/// base64url, header rules, `alg` equal to the key's algorithm, and the signature over the
/// received bytes.
///
/// Header rules (an allow-list):
/// - `alg` is required and must be exactly the key's algorithm name, otherwise
///   [`VerifyError::UnsupportedAlgorithm`] (a missing `alg` is [`VerifyError::Malformed`]);
/// - `typ` and `kid` are allowed and must be strings (`typ` is checked by `TokenCodec::verify`);
///   with a single key there is nothing to choose, so `kid` is **not** compared here (this is the
///   raw signature check the known-answer tests use; [`TokenCodec`](crate::TokenCodec) does match
///   kids against its [`KeySet`]);
/// - `crit`, in any form, is [`VerifyError::UnknownCrit`]: no extension is understood;
/// - every other member — `jwk`, `jku`, `x5u`, `x5c`, `x5t`, `x5t#S256`, `cty` (nested tokens),
///   `b64`, and any unregistered name — is [`VerifyError::ForbiddenHeader`].
///
/// The claims are not looked at: a valid result only says the bytes were signed with `key`.
pub fn verify_signature(
    key: &impl AsRef<VerifyingKey>,
    token: &str,
) -> Result<VerifiedJws, VerifyError> {
    let key = key.as_ref();
    let mut buffer = PayloadBuffer::new();
    let (header, payload) = verify_compact(Keys::Single(key), token, &mut buffer)?;
    let header = match header {
        CheckedHeader::Canonical { with_kid } => canonical_header(key, with_kid),
        CheckedHeader::Parsed(map) => map,
    };
    Ok(VerifiedJws {
        header,
        payload: payload.into_owned(),
    })
}

/// Where the key for a token comes from.
#[derive(Clone, Copy)]
pub(crate) enum Keys<'a> {
    /// A key set: the `kid` chooses.
    Set(&'a KeySet),
    /// One key, whatever the `kid` says (see [`verify_signature`]).
    Single(&'a VerifyingKey),
}

impl<'a> Keys<'a> {
    /// The key whose issued header is exactly `segment`, and whether that header has a `kid`.
    fn by_issued_header(self, segment: &str) -> Option<(&'a VerifyingKey, bool)> {
        match self {
            Self::Set(set) => {
                if let Some(key) = set.verifying().find(|key| key.header_b64() == segment) {
                    Some((key, true))
                } else if segment == LEGACY_HS256_HEADER_B64 {
                    set.legacy().map(|key| (key, false))
                } else {
                    None
                }
            }
            Self::Single(key) => {
                if key.header_b64() == segment {
                    Some((key, true))
                } else if segment == LEGACY_HS256_HEADER_B64 && key.algorithm().is_symmetric() {
                    Some((key, false))
                } else {
                    None
                }
            }
        }
    }

    /// The key a parsed header's `kid` (or its absence) selects.
    fn select(self, kid: Option<&str>) -> Result<&'a VerifyingKey, VerifyError> {
        match (self, kid) {
            (Self::Single(key), _) => Ok(key),
            (Self::Set(set), Some(kid)) => set.get(kid).ok_or(VerifyError::UnknownKey),
            (Self::Set(set), None) => set.legacy().ok_or(VerifyError::UnknownKey),
        }
    }
}

/// Stack space for a decoded payload: tessera's access tokens decode to about 300 bytes, so the
/// common case allocates nothing; larger payloads (up to the token cap) go to the heap.
pub(crate) struct PayloadBuffer([u8; 1024]);

impl PayloadBuffer {
    pub(crate) fn new() -> Self {
        Self([0; 1024])
    }
}

/// A protected header that passed [`check_header`] and the key selection.
pub(crate) enum CheckedHeader {
    /// Exactly the header this crate issues with the selected key (or, for an HS256 key, the
    /// header issued before kids existed): known to pass every header rule and the `typ` check,
    /// so it is neither decoded nor parsed.
    Canonical {
        /// Whether it is the header with a `kid`.
        with_kid: bool,
    },
    /// Any other allowed header, parsed.
    Parsed(Map<String, Value>),
}

impl CheckedHeader {
    /// [`check_access_token_type`] for either form.
    pub(crate) fn check_access_token_type(&self) -> Result<(), VerifyError> {
        match self {
            Self::Canonical { .. } => Ok(()),
            Self::Parsed(header) => check_access_token_type(header),
        }
    }
}

/// [`verify_signature`] without building a header map for an issued header: the same checks in
/// the same order with the same errors. The fast path is exact, not a heuristic: strict base64url
/// has one encoding per byte string, so a segment equal to a key's issued header is exactly those
/// bytes (which name that key's kid and algorithm), and any other segment, even one that decodes
/// to an equivalent JSON object, takes the general path.
pub(crate) fn verify_compact<'b>(
    keys: Keys<'_>,
    token: &str,
    buffer: &'b mut PayloadBuffer,
) -> Result<(CheckedHeader, Cow<'b, [u8]>), VerifyError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(VerifyError::TooLarge);
    }
    let segments = split_compact(token)?;
    let (header, key) = if let Some((key, with_kid)) = keys.by_issued_header(segments.header) {
        (CheckedHeader::Canonical { with_kid }, key)
    } else {
        let header_bytes = decode_segment(segments.header, "header is not strict base64url")?;
        let header = json::parse_object(&header_bytes).map_err(|error| match error {
            JsonError::NotUtf8 => VerifyError::Malformed("header is not UTF-8"),
            JsonError::Syntax => VerifyError::Malformed("header is not valid JSON"),
            JsonError::DuplicateMember => VerifyError::Malformed("header has a duplicate member"),
            JsonError::NotObject => VerifyError::Malformed("header is not a JSON object"),
        })?;
        let alg = check_header(&header)?;
        let key = keys.select(header.get("kid").and_then(Value::as_str))?;
        if key.algorithm() != alg {
            return Err(VerifyError::UnsupportedAlgorithm);
        }
        (CheckedHeader::Parsed(header), key)
    };
    let payload = decode_payload(segments.payload, buffer)?;
    check_signature(key, segments.signing_input, segments.signature)?;
    Ok((header, payload))
}

/// [`decode_segment`] for the payload, into `buffer` when it fits. Only a decoding error is
/// `Malformed`; a payload too large for the buffer is decoded again onto the heap, by the same
/// strict engine, so the outcome never depends on the buffer's size.
fn decode_payload<'b>(
    segment: &str,
    buffer: &'b mut PayloadBuffer,
) -> Result<Cow<'b, [u8]>, VerifyError> {
    const ERROR: &str = "payload is not strict base64url";
    match URL_SAFE_NO_PAD.decode_slice(segment, &mut buffer.0) {
        Ok(len) => Ok(Cow::Borrowed(&buffer.0[..len])),
        Err(DecodeSliceError::DecodeError(_)) => Err(VerifyError::Malformed(ERROR)),
        Err(DecodeSliceError::OutputSliceTooSmall) => {
            decode_segment(segment, ERROR).map(Cow::Owned)
        }
    }
}

/// Decodes the signature segment and checks it with `key` over the exact bytes received, up to
/// (not including) the second '.'. Signatures up to 512 bytes (RSA 4096) are decoded into a stack
/// buffer; longer ones take the allocating path with the same strict engine, so every error is
/// the same as with one decoder: not strict base64url is `Malformed`, strict base64url that does
/// not verify (including the wrong length) is `BadSignature`.
fn check_signature(
    key: &VerifyingKey,
    signing_input: &str,
    signature: &str,
) -> Result<(), VerifyError> {
    const MALFORMED: VerifyError = VerifyError::Malformed("signature is not strict base64url");
    let mut stack = [0_u8; 512];
    let verified = match URL_SAFE_NO_PAD.decode_slice(signature, &mut stack) {
        Ok(len) => key.verify_raw(signing_input.as_bytes(), &stack[..len]),
        Err(DecodeSliceError::DecodeError(_)) => return Err(MALFORMED),
        Err(DecodeSliceError::OutputSliceTooSmall) => {
            let decoded = URL_SAFE_NO_PAD.decode(signature).map_err(|_| MALFORMED)?;
            key.verify_raw(signing_input.as_bytes(), &decoded)
        }
    };
    if verified {
        Ok(())
    } else {
        Err(VerifyError::BadSignature)
    }
}

/// The map [`verify_signature`] reports for [`CheckedHeader::Canonical`].
fn canonical_header(key: &VerifyingKey, with_kid: bool) -> Map<String, Value> {
    let mut header = Map::new();
    header.insert("alg".to_owned(), key.algorithm().as_str().into());
    header.insert("typ".to_owned(), "at+jwt".into());
    if with_kid {
        header.insert("kid".to_owned(), key.kid().into());
    }
    header
}

/// Signs `payload` under the header issued with `key` and returns the compact JWS.
pub(crate) fn sign_compact(key: &SigningKey, payload: &[u8]) -> Result<String, IssueError> {
    let header_b64 = key.as_ref().header_b64();
    let encoded_payload_len = payload.len().div_ceil(3) * 4;
    let mut token = String::with_capacity(header_b64.len() + encoded_payload_len + 2 + 350);
    token.push_str(header_b64);
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(payload, &mut token);
    let signature = key
        .sign(token.as_bytes())
        .map_err(|_| IssueError::Signing)?;
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(signature, &mut token);
    Ok(token)
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

/// The header rules that need no key; returns the (supported) algorithm the header names.
fn check_header(header: &Map<String, Value>) -> Result<Algorithm, VerifyError> {
    if header.contains_key("crit") {
        return Err(VerifyError::UnknownCrit);
    }
    let alg = match header.get("alg") {
        None => return Err(VerifyError::Malformed("header has no alg member")),
        Some(Value::String(alg)) => alg
            .parse::<Algorithm>()
            .map_err(|_| VerifyError::UnsupportedAlgorithm)?,
        Some(_) => return Err(VerifyError::UnsupportedAlgorithm),
    };
    for (name, value) in header {
        match name.as_str() {
            "alg" => {}
            "typ" | "kid" if value.is_string() => {}
            "typ" => return Err(VerifyError::Malformed("header typ is not a string")),
            "kid" => return Err(VerifyError::Malformed("header kid is not a string")),
            other => return Err(VerifyError::ForbiddenHeader(forbidden_name(other))),
        }
    }
    Ok(alg)
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

    const ACCESS_TOKEN_HEADER_B64: &str = LEGACY_HS256_HEADER_B64;

    /// Signs `payload` under any encoded header with `key` (the crate's own signing primitive).
    fn sign_with(key: &SigningKey, header_b64: &str, payload: &[u8]) -> String {
        let input = format!("{header_b64}.{}", URL_SAFE_NO_PAD.encode(payload));
        let signature = key.sign(input.as_bytes()).unwrap();
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
    }

    #[test]
    fn issued_header_constant_is_the_documented_json() {
        assert_eq!(
            URL_SAFE_NO_PAD.decode(ACCESS_TOKEN_HEADER_B64).unwrap(),
            br#"{"alg":"HS256","typ":"at+jwt"}"#
        );
        let key = SigningKey::from_bytes(b"k").unwrap();
        let issued = sign_compact(&key, b"{}").unwrap();
        let header = URL_SAFE_NO_PAD
            .decode(issued.split('.').next().unwrap())
            .unwrap();
        assert_eq!(
            String::from_utf8(header).unwrap(),
            format!(r#"{{"alg":"HS256","typ":"at+jwt","kid":"{}"}}"#, key.kid())
        );
        let mut buffer = PayloadBuffer::new();
        assert!(matches!(
            verify_compact(Keys::Single(key.as_ref()), &issued, &mut buffer),
            Ok((CheckedHeader::Canonical { with_kid: true }, _))
        ));
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

    /// `segment` (whose length is not a multiple of 4) with the lowest bit of its last
    /// character flipped: one of the unused trailing bits, so the text is non-canonical.
    fn with_unused_bit_set(segment: &str) -> String {
        const ALPHABET: &[u8; 64] =
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let (head, last) = segment.split_at(segment.len() - 1);
        let index = ALPHABET
            .iter()
            .position(|&c| c == last.as_bytes()[0])
            .unwrap();
        format!("{head}{}", char::from(ALPHABET[index ^ 1]))
    }

    /// The canonical-header fast path and the stack buffers change no outcome: the same header
    /// map as a parsed equivalent header, payloads on either side of the buffer size, and every
    /// signature-length and strictness case classified as by one heap decoder.
    #[test]
    fn fast_paths_agree_with_the_general_path() {
        let key = SigningKey::from_bytes(b"k").unwrap();
        let canonical = sign_with(&key, ACCESS_TOKEN_HEADER_B64, b"{}");
        let spaced_header = URL_SAFE_NO_PAD.encode(r#"{ "alg":"HS256", "typ":"at+jwt" }"#);
        let spaced = sign_with(&key, &spaced_header, b"{}");
        let fast = verify_signature(&key, &canonical).unwrap();
        let general = verify_signature(&key, &spaced).unwrap();
        assert_eq!(fast, general);
        let mut buffer = PayloadBuffer::new();
        assert!(matches!(
            verify_compact(Keys::Single(key.as_ref()), &canonical, &mut buffer),
            Ok((CheckedHeader::Canonical { with_kid: false }, _))
        ));
        assert!(matches!(
            verify_compact(Keys::Single(key.as_ref()), &spaced, &mut buffer),
            Ok((CheckedHeader::Parsed(_), _))
        ));

        // Payloads of every size around the stack buffer's 1024 bytes.
        for len in [0, 1, 2, 3, 767, 768, 1022, 1023, 1024, 1025, 1026, 4000] {
            let payload = vec![b'x'; len];
            let token = sign_with(&key, ACCESS_TOKEN_HEADER_B64, &payload);
            if len == 0 {
                assert_eq!(
                    verify_signature(&key, &token),
                    Err(VerifyError::Malformed("payload segment is empty"))
                );
                continue;
            }
            assert_eq!(
                verify_signature(&key, &token).unwrap().payload,
                payload,
                "{len}"
            );
            // A non-base64url character or non-canonical trailing bits, small or large payload.
            let (head, rest) = token.split_once('.').unwrap();
            let (body, tag) = rest.split_once('.').unwrap();
            let mut hostile = vec![format!("+{}", &body[1..])];
            if body.len() % 4 != 0 {
                hostile.push(with_unused_bit_set(body));
            }
            for body in hostile {
                let input = format!("{head}.{body}");
                let tag = key.sign(input.as_bytes()).unwrap();
                let token = format!("{input}.{}", URL_SAFE_NO_PAD.encode(tag));
                assert_eq!(
                    verify_signature(&key, &token),
                    Err(VerifyError::Malformed("payload is not strict base64url")),
                    "{len}"
                );
            }
            assert!(verify_signature(&key, &format!("{head}.{body}.{tag}")).is_ok());
        }

        // Signatures: strict base64url of any length other than 32 bytes is a bad signature;
        // anything not strict base64url is malformed, whatever its length.
        let (input, tag) = canonical.rsplit_once('.').unwrap();
        assert_eq!(tag.len(), 43);
        let tag_bytes = URL_SAFE_NO_PAD.decode(tag).unwrap();
        let mut long = tag_bytes.clone();
        long.push(0);
        for (signature, expected) in [
            (
                URL_SAFE_NO_PAD.encode(&tag_bytes[..31]),
                VerifyError::BadSignature,
            ),
            (URL_SAFE_NO_PAD.encode(&long), VerifyError::BadSignature),
            (
                URL_SAFE_NO_PAD.encode([0_u8; 32]),
                VerifyError::BadSignature,
            ),
            (
                URL_SAFE_NO_PAD.encode([0_u8; 64]),
                VerifyError::BadSignature,
            ),
            (
                with_unused_bit_set(tag),
                VerifyError::Malformed("signature is not strict base64url"),
            ),
            (
                format!("{}=", &tag[..42]),
                VerifyError::Malformed("signature is not strict base64url"),
            ),
            (
                format!("{tag}="),
                VerifyError::Malformed("signature is not strict base64url"),
            ),
            (
                format!("{} ", &tag[..42]),
                VerifyError::Malformed("signature is not strict base64url"),
            ),
        ] {
            assert_eq!(
                verify_signature(&key, &format!("{input}.{signature}")),
                Err(expected),
                "{signature}"
            );
        }
    }

    #[test]
    fn signed_then_verified() {
        let key = SigningKey::from_bytes(b"k").unwrap();
        let token = sign_with(&key, ACCESS_TOKEN_HEADER_B64, b"{}");
        let jws = verify_signature(&key, &token).unwrap();
        assert_eq!(jws.payload, b"{}");
        assert_eq!(jws.header["typ"], "at+jwt");
        assert_eq!(check_access_token_type(&jws.header), Ok(()));
    }
}
