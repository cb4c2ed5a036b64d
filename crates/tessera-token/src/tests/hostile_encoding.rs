//! `check(case)` tables: base64url strictness, structure, size, JSON shape, claim types/values.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use serde_json::{Value, json};

use super::support::*;
use crate::{MAX_TOKEN_BYTES, VerifyError};

#[test]
fn base64url_is_strict() {
    let (h, p, s) = good_segments();
    let body = claims().to_string();
    // Payloads whose encodings end in a character with unused low bits (2 and 4 of them).
    let two_unused = b64(padded_to_remainder(&body, 2));
    let four_unused = b64(padded_to_remainder(&body, 1));
    let header_with_unused = b64(padded_to_remainder(HEADER, 1));
    // A payload whose standard-alphabet encoding differs from its base64url encoding.
    let standard_alphabet = (0..3)
        .map(|spaces| {
            format!(
                "{}{}",
                " ".repeat(spaces),
                claims_with("x", json!("??>>??>>"))
            )
        })
        .map(|text| STANDARD_NO_PAD.encode(text))
        .find(|encoded| encoded.contains('+') || encoded.contains('/'))
        .unwrap();
    let with_space = format!("{} {}", &p[..10], &p[10..]);
    let malformed_header = VerifyError::Malformed("header is not strict base64url");
    let malformed_payload = VerifyError::Malformed("payload is not strict base64url");
    let malformed_signature = VerifyError::Malformed("signature is not strict base64url");
    // Each hostile text is signed as received, so only the base64 rule can reject it.
    let resigned = |header: &str, payload: &str| forge_segments(KEY, header, payload);
    run(&[
        accept("two unused bits, canonical", resigned(&h, &two_unused)),
        accept("four unused bits, canonical", resigned(&h, &four_unused)),
        reject(
            "non-canonical signature (last char sibling)",
            format!("{h}.{p}.{}", non_canonical(&s)),
            malformed_signature.clone(),
        ),
        reject(
            "non-canonical payload, 2 unused bits",
            resigned(&h, &non_canonical(&two_unused)),
            malformed_payload.clone(),
        ),
        reject(
            "non-canonical payload, 4 unused bits",
            resigned(&h, &non_canonical(&four_unused)),
            malformed_payload.clone(),
        ),
        reject(
            "non-canonical header",
            resigned(&non_canonical(&header_with_unused), &p),
            malformed_header.clone(),
        ),
        reject(
            "padded payload",
            resigned(&h, &format!("{two_unused}=")),
            malformed_payload.clone(),
        ),
        reject(
            "padded payload ==",
            resigned(&h, &format!("{four_unused}==")),
            malformed_payload.clone(),
        ),
        reject(
            "padded signature",
            format!("{h}.{p}.{s}="),
            malformed_signature.clone(),
        ),
        reject(
            "padded header",
            resigned(&format!("{h}="), &p),
            malformed_header.clone(),
        ),
        reject(
            "standard alphabet payload",
            resigned(&h, &standard_alphabet),
            malformed_payload.clone(),
        ),
        reject(
            "plus in signature",
            format!("{h}.{p}.+{}", &s[1..]),
            malformed_signature.clone(),
        ),
        reject(
            "slash in signature",
            format!("{h}.{p}./{}", &s[1..]),
            malformed_signature.clone(),
        ),
        reject(
            "plus in header",
            resigned(&format!("+{}", &h[1..]), &p),
            malformed_header.clone(),
        ),
        reject(
            "space inside payload",
            resigned(&h, &with_space),
            malformed_payload.clone(),
        ),
        reject(
            "tab inside header",
            resigned(&format!("{}\t{}", &h[..4], &h[4..]), &p),
            malformed_header.clone(),
        ),
        reject(
            "leading space",
            format!(" {h}.{p}.{s}"),
            malformed_header.clone(),
        ),
        reject(
            "trailing newline",
            format!("{h}.{p}.{s}\n"),
            malformed_signature.clone(),
        ),
        reject(
            "trailing CRLF",
            format!("{h}.{p}.{s}\r\n"),
            malformed_signature.clone(),
        ),
        reject(
            "percent-encoded",
            resigned(&h, &p.replacen('e', "%65", 1)),
            malformed_payload.clone(),
        ),
        reject(
            "impossible length (4n+1)",
            format!("{h}.{p}.{s}AA"),
            malformed_signature,
        ),
        reject(
            "33-byte signature",
            format!("{h}.{p}.{s}A"),
            VerifyError::BadSignature,
        ),
        reject(
            "non-ASCII in payload",
            resigned(&h, &format!("{p}\u{e9}")),
            malformed_payload,
        ),
        reject(
            "header with trailing garbage after JSON",
            signed(format!("{HEADER}x"), &body),
            VerifyError::Malformed("header is not valid JSON"),
        ),
    ]);
}

#[test]
fn structure_and_size_are_checked_first() {
    let (h, p, s) = good_segments();
    let wrong_count = VerifyError::Malformed("token must have exactly three segments");
    let jwe_header = b64(r#"{"alg":"dir","enc":"A128GCM"}"#);
    let jws_json =
        format!(r#"{{"payload":"{p}","signatures":[{{"protected":"{h}","signature":"{s}"}}]}}"#);
    let oversized = format!(
        "{h}.{p}.{s}{}",
        "A".repeat(MAX_TOKEN_BYTES + 1 - (h.len() + p.len() + s.len() + 2))
    );
    assert_eq!(oversized.len(), MAX_TOKEN_BYTES + 1);
    run(&[
        reject("empty string", String::new(), wrong_count.clone()),
        reject("one segment", h.clone(), wrong_count.clone()),
        reject("two segments", format!("{h}.{p}"), wrong_count.clone()),
        reject(
            "four segments",
            format!("{h}.{p}.{s}.{s}"),
            wrong_count.clone(),
        ),
        reject("trailing dot", format!("{h}.{p}.{s}."), wrong_count.clone()),
        reject(
            "five segments (JWE)",
            format!("{jwe_header}.{p}.{p}.{p}.{s}"),
            wrong_count.clone(),
        ),
        reject("JWS JSON serialization", jws_json, wrong_count.clone()),
        reject(
            "only dots",
            "..".into(),
            VerifyError::Malformed("header segment is empty"),
        ),
        reject(
            "empty header",
            format!(".{p}.{s}"),
            VerifyError::Malformed("header segment is empty"),
        ),
        reject(
            "empty payload",
            format!("{h}..{s}"),
            VerifyError::Malformed("payload segment is empty"),
        ),
        reject(
            "empty signature",
            format!("{h}.{p}."),
            VerifyError::Malformed("signature segment is empty"),
        ),
        reject("8192 dots", ".".repeat(MAX_TOKEN_BYTES), wrong_count),
        reject("8193 bytes", oversized, VerifyError::TooLarge),
        reject("100k dots", ".".repeat(100_000), VerifyError::TooLarge),
        reject("1 MiB of A", "A".repeat(1 << 20), VerifyError::TooLarge),
    ]);
}

#[test]
fn size_cap_is_exactly_max_token_bytes() {
    let mut filler = String::new();
    let token = loop {
        let token = signed(HEADER, claims_with("filler", json!(filler)));
        assert!(token.len() <= MAX_TOKEN_BYTES, "overshot: {}", token.len());
        if token.len() == MAX_TOKEN_BYTES {
            break token;
        }
        filler.push('a');
    };
    check(&accept("exactly 8192 bytes", token));
    filler.push('a');
    let token = signed(HEADER, claims_with("filler", json!(filler)));
    assert!(token.len() > MAX_TOKEN_BYTES);
    check(&reject(
        "one byte more of claims",
        token,
        VerifyError::TooLarge,
    ));
}

#[test]
fn header_and_payload_must_be_json_objects() {
    let body = claims().to_string();
    let not_object = VerifyError::Malformed("header is not a JSON object");
    let mut not_utf8 = body.replacen("Ada", "Ad#", 1).into_bytes();
    let at = not_utf8.iter().position(|&b| b == b'#').unwrap();
    not_utf8[at] = 0xff;
    run(&[
        reject("header array", signed("[]", &body), not_object.clone()),
        reject(
            "header string",
            signed(r#""HS256""#, &body),
            not_object.clone(),
        ),
        reject("header null", signed("null", &body), not_object.clone()),
        reject("header number", signed("42", &body), not_object),
        reject(
            "header not JSON",
            signed("hello", &body),
            VerifyError::Malformed("header is not valid JSON"),
        ),
        reject(
            "header not UTF-8",
            signed(
                b"{\"alg\":\"HS256\",\"typ\":\"at+jwt\",\"kid\":\"\xff\"}",
                &body,
            ),
            VerifyError::Malformed("header is not UTF-8"),
        ),
        reject(
            "payload not JSON",
            signed(HEADER, "Zm9v"),
            VerifyError::InvalidClaims("claims are not valid JSON"),
        ),
        reject(
            "payload a nested JWT",
            signed(HEADER, good_token()),
            VerifyError::InvalidClaims("claims are not valid JSON"),
        ),
        reject(
            "payload array",
            signed(HEADER, "[]"),
            VerifyError::InvalidClaims("claims are not a JSON object"),
        ),
        reject(
            "payload not UTF-8",
            signed(HEADER, not_utf8),
            VerifyError::InvalidClaims("claims are not UTF-8"),
        ),
    ]);
}

#[test]
fn claims_are_checked_by_type_and_value() {
    use VerifyError::*;
    let with = |member: &str, value: Value| signed(HEADER, claims_with(member, value));
    let without = |member: &str| signed(HEADER, claims_without(member));
    run(&[
        reject(
            "string exp (CVE-2026-25537)",
            with("exp", json!("CVE-2026-25537")),
            InvalidClaims("exp must be a 64-bit integer"),
        ),
        reject(
            "float exp",
            with("exp", json!((NOW + 900) as f64 + 0.5)),
            InvalidClaims("exp must be a 64-bit integer"),
        ),
        reject(
            "integral float exp",
            with("exp", json!((NOW + 900) as f64)),
            InvalidClaims("exp must be a 64-bit integer"),
        ),
        reject(
            "missing exp",
            without("exp"),
            InvalidClaims("exp is missing"),
        ),
        reject(
            "missing nbf",
            without("nbf"),
            InvalidClaims("nbf is missing"),
        ),
        reject(
            "missing iat",
            without("iat"),
            InvalidClaims("iat is missing"),
        ),
        reject(
            "string nbf",
            with("nbf", json!("0")),
            InvalidClaims("nbf must be a 64-bit integer"),
        ),
        reject(
            "string iat",
            with("iat", json!("0")),
            InvalidClaims("iat must be a 64-bit integer"),
        ),
        reject(
            "expired 1s beyond leeway",
            with("exp", json!(NOW - LEEWAY_I64 - 1)),
            Expired {
                seconds_ago: LEEWAY_I64 + 1,
            },
        ),
        reject(
            "expired at leeway edge",
            with("exp", json!(NOW - LEEWAY_I64)),
            Expired {
                seconds_ago: LEEWAY_I64,
            },
        ),
        reject(
            "nbf 1s beyond leeway",
            with("nbf", json!(NOW + LEEWAY_I64 + 1)),
            NotYetValid {
                seconds_until: LEEWAY_I64 + 1,
            },
        ),
        reject(
            "iat in the future",
            with("iat", json!(NOW + LEEWAY_I64 + 1)),
            InvalidClaims("issued in the future"),
        ),
        reject(
            "wrong iss",
            with("iss", json!("https://evil.test")),
            WrongIssuer,
        ),
        reject(
            "missing iss",
            without("iss"),
            InvalidClaims("iss is missing"),
        ),
        reject("wrong aud", with("aud", json!("other-api")), WrongAudience),
        reject(
            "aud array without ours",
            with("aud", json!(["a", "b"])),
            WrongAudience,
        ),
        reject(
            "aud number",
            with("aud", json!(1)),
            InvalidClaims("aud must be a string or an array of strings"),
        ),
        reject(
            "missing aud",
            without("aud"),
            InvalidClaims("aud is missing"),
        ),
        reject(
            "missing sub",
            without("sub"),
            InvalidClaims("sub is missing"),
        ),
        reject(
            "missing sid",
            without("sid"),
            InvalidClaims("sid is missing"),
        ),
        reject(
            "numeric sid",
            with("sid", json!(1)),
            InvalidClaims("sid must be a non-empty string"),
        ),
        reject(
            "empty sid",
            with("sid", json!("")),
            InvalidClaims("sid must be a non-empty string"),
        ),
        reject(
            "null sid",
            with("sid", Value::Null),
            InvalidClaims("sid must be a non-empty string"),
        ),
        reject(
            "missing roles",
            without("roles"),
            InvalidClaims("roles is missing"),
        ),
        reject(
            "roles not strings",
            with("roles", json!([1])),
            InvalidClaims("roles must be an array of strings"),
        ),
    ]);
}
