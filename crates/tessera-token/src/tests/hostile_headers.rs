//! `check(case)` tables: tampering, keys, algorithms, header allow-list, `typ`, duplicates.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use super::support::*;
use crate::VerifyError;

#[test]
fn baseline_tokens_are_accepted() {
    run(&[
        accept("good token", good_token()),
        accept(
            "typ AT+JWT",
            signed(header_with("typ", json!("AT+JWT")), claims().to_string()),
        ),
        accept(
            "typ application/at+jwt",
            signed(
                header_with("typ", json!("application/at+jwt")),
                claims().to_string(),
            ),
        ),
        accept(
            "the key's own kid",
            signed(header_with("kid", json!(key_kid())), claims().to_string()),
        ),
        accept(
            "members reordered and spaced",
            signed(
                "{ \"typ\" : \"at+jwt\",\r\n \"alg\" : \"HS256\" }",
                claims().to_string(),
            ),
        ),
        accept(
            "aud array containing ours",
            signed(HEADER, claims_with("aud", json!(["other", AUDIENCE]))),
        ),
        accept(
            "unknown extra claim",
            signed(
                HEADER,
                claims_with("extra", json!({"deep": [1, {"x": null}]})),
            ),
        ),
        accept(
            "expired within leeway",
            signed(HEADER, claims_with("exp", json!(NOW - LEEWAY_I64 + 1))),
        ),
        accept(
            "nbf in the future within leeway",
            signed(HEADER, claims_with("nbf", json!(NOW + LEEWAY_I64))),
        ),
    ]);
}

#[test]
fn tampering_and_wrong_keys_are_rejected() {
    let (h, p, s) = good_segments();
    let tampered_payload = b64(claims_with("sub", json!("1")));
    let swapped_session = b64(claims_with("sid", json!("session-2")));
    let mut flipped_signature = s.clone();
    let first = if s.starts_with('A') { "B" } else { "A" };
    flipped_signature.replace_range(..1, first);
    run(&[
        reject(
            "tampered payload",
            format!("{h}.{tampered_payload}.{s}"),
            VerifyError::BadSignature,
        ),
        reject(
            "session id swapped",
            format!("{h}.{swapped_session}.{s}"),
            VerifyError::BadSignature,
        ),
        reject(
            "tampered signature",
            format!("{h}.{p}.{flipped_signature}"),
            VerifyError::BadSignature,
        ),
        reject(
            "signature truncated to 31 bytes",
            format!(
                "{h}.{p}.{}",
                b64(&URL_SAFE_NO_PAD.decode(&s).unwrap()[..31])
            ),
            VerifyError::BadSignature,
        ),
        reject(
            "wrong key",
            forge(
                b"some-other-key-0123456789abcdefg",
                HEADER,
                claims().to_string(),
            ),
            VerifyError::BadSignature,
        ),
        reject(
            "unknown kid",
            signed(header_with("kid", json!("k-1")), claims().to_string()),
            VerifyError::UnknownKey,
        ),
        reject(
            "our kid, another key's MAC",
            forge(
                b"some-other-key-0123456789abcdefg",
                header_with("kid", json!(key_kid())),
                claims().to_string(),
            ),
            VerifyError::BadSignature,
        ),
        reject(
            "key differing by one bit",
            forge(
                b"tessera-unit-test-key-0123456788",
                HEADER,
                claims().to_string(),
            ),
            VerifyError::BadSignature,
        ),
        reject(
            "signature swapped in from another token",
            format!(
                "{h}.{tampered_payload}.{}",
                forge(b"x", HEADER, "{}").rsplit('.').next().unwrap()
            ),
            VerifyError::BadSignature,
        ),
        // The MAC is checked before any claim: a hostile claim under a wrong key is a signature
        // failure, never a claims failure.
        reject(
            "string exp under wrong key",
            forge(
                b"wrong",
                HEADER,
                claims_with("exp", json!("CVE-2026-25537")),
            ),
            VerifyError::BadSignature,
        ),
    ]);
}

#[test]
fn algorithm_is_chosen_by_the_server() {
    let body = claims().to_string();
    let alg = |value: Value| signed(header_with("alg", value), &body);
    let unsigned = |header: &str| format!("{}.{}.", b64(header), b64(&body));
    run(&[
        reject(
            "alg none",
            alg(json!("none")),
            VerifyError::UnsupportedAlgorithm,
        ),
        reject(
            "alg None",
            alg(json!("None")),
            VerifyError::UnsupportedAlgorithm,
        ),
        reject(
            "alg NONE",
            alg(json!("NONE")),
            VerifyError::UnsupportedAlgorithm,
        ),
        reject(
            "alg nOnE",
            alg(json!("nOnE")),
            VerifyError::UnsupportedAlgorithm,
        ),
        reject(
            "alg HS512",
            alg(json!("HS512")),
            VerifyError::UnsupportedAlgorithm,
        ),
        reject(
            "alg HS384",
            alg(json!("HS384")),
            VerifyError::UnsupportedAlgorithm,
        ),
        reject(
            "alg RS256",
            alg(json!("RS256")),
            VerifyError::UnsupportedAlgorithm,
        ),
        reject(
            "alg ES256",
            alg(json!("ES256")),
            VerifyError::UnsupportedAlgorithm,
        ),
        reject(
            "alg PS256",
            alg(json!("PS256")),
            VerifyError::UnsupportedAlgorithm,
        ),
        reject(
            "alg EdDSA",
            alg(json!("EdDSA")),
            VerifyError::UnsupportedAlgorithm,
        ),
        reject(
            "alg hs256",
            alg(json!("hs256")),
            VerifyError::UnsupportedAlgorithm,
        ),
        reject(
            "alg HS256 with space",
            alg(json!("HS256 ")),
            VerifyError::UnsupportedAlgorithm,
        ),
        reject(
            "alg empty",
            alg(json!("")),
            VerifyError::UnsupportedAlgorithm,
        ),
        reject(
            "alg null",
            alg(Value::Null),
            VerifyError::UnsupportedAlgorithm,
        ),
        reject(
            "alg array",
            alg(json!(["HS256"])),
            VerifyError::UnsupportedAlgorithm,
        ),
        reject(
            "alg number",
            alg(json!(256)),
            VerifyError::UnsupportedAlgorithm,
        ),
        reject(
            "missing alg",
            signed(header_without("alg"), &body),
            VerifyError::Malformed("header has no alg member"),
        ),
        reject(
            "alg none, empty signature",
            unsigned(r#"{"alg":"none","typ":"at+jwt"}"#),
            VerifyError::Malformed("signature segment is empty"),
        ),
        reject(
            "alg none, no signature segment",
            unsigned(r#"{"alg":"none","typ":"at+jwt"}"#)
                .trim_end_matches('.')
                .to_owned(),
            VerifyError::Malformed("token must have exactly three segments"),
        ),
        reject(
            "alg HS256, empty signature",
            unsigned(HEADER),
            VerifyError::Malformed("signature segment is empty"),
        ),
    ]);
}

#[test]
fn header_members_are_allow_listed() {
    let body = claims().to_string();
    let with = |member: &str, value: Value| signed(header_with(member, value), &body);
    let jwk = json!({"kty": "oct", "k": b64(KEY)});
    run(&[
        reject("jwk", with("jwk", jwk), VerifyError::ForbiddenHeader("jwk")),
        reject(
            "jku",
            with("jku", json!("https://evil.test/jwks")),
            VerifyError::ForbiddenHeader("jku"),
        ),
        reject(
            "x5u",
            with("x5u", json!("https://evil.test/cert")),
            VerifyError::ForbiddenHeader("x5u"),
        ),
        reject(
            "x5c",
            with("x5c", json!(["MIIB"])),
            VerifyError::ForbiddenHeader("x5c"),
        ),
        reject(
            "x5t",
            with("x5t", json!("abc")),
            VerifyError::ForbiddenHeader("x5t"),
        ),
        reject(
            "x5t#S256",
            with("x5t#S256", json!("abc")),
            VerifyError::ForbiddenHeader("x5t#S256"),
        ),
        reject(
            "cty JWT (nested)",
            with("cty", json!("JWT")),
            VerifyError::ForbiddenHeader("cty"),
        ),
        reject(
            "b64 false",
            with("b64", json!(false)),
            VerifyError::ForbiddenHeader("b64"),
        ),
        reject(
            "b64 true",
            with("b64", json!(true)),
            VerifyError::ForbiddenHeader("b64"),
        ),
        reject(
            "zip",
            with("zip", json!("DEF")),
            VerifyError::ForbiddenHeader("zip"),
        ),
        reject(
            "enc",
            with("enc", json!("A128GCM")),
            VerifyError::ForbiddenHeader("enc"),
        ),
        reject(
            "unknown member",
            with("foo", json!("bar")),
            VerifyError::ForbiddenHeader("unlisted member"),
        ),
        reject(
            "null member",
            with("foo", Value::Null),
            VerifyError::ForbiddenHeader("unlisted member"),
        ),
        reject(
            "crit list",
            with("crit", json!(["exp"])),
            VerifyError::UnknownCrit,
        ),
        reject(
            "crit empty list",
            with("crit", json!([])),
            VerifyError::UnknownCrit,
        ),
        reject(
            "crit string",
            with("crit", json!("b64")),
            VerifyError::UnknownCrit,
        ),
        reject(
            "crit null",
            with("crit", Value::Null),
            VerifyError::UnknownCrit,
        ),
        reject(
            "crit b64 with b64 false",
            signed(
                r#"{"alg":"HS256","typ":"at+jwt","b64":false,"crit":["b64"]}"#,
                &body,
            ),
            VerifyError::UnknownCrit,
        ),
        reject(
            "crit with alg none",
            signed(r#"{"alg":"none","crit":["x"]}"#, &body),
            VerifyError::UnknownCrit,
        ),
        reject(
            "kid number",
            with("kid", json!(1)),
            VerifyError::Malformed("header kid is not a string"),
        ),
        reject(
            "typ number",
            with("typ", json!(1)),
            VerifyError::Malformed("header typ is not a string"),
        ),
        // Header rules come before the MAC: an unsigned hostile header is still a header failure.
        reject(
            "jku under wrong key",
            forge(
                b"wrong",
                header_with("jku", json!("https://evil.test")),
                &body,
            ),
            VerifyError::ForbiddenHeader("jku"),
        ),
    ]);
}

#[test]
fn token_type_must_be_access_token() {
    let body = claims().to_string();
    run(&[
        reject(
            "typ missing",
            signed(header_without("typ"), &body),
            VerifyError::WrongTokenType,
        ),
        reject(
            "typ JWT",
            signed(header_with("typ", json!("JWT")), &body),
            VerifyError::WrongTokenType,
        ),
        reject(
            "typ application/jwt",
            signed(header_with("typ", json!("application/jwt")), &body),
            VerifyError::WrongTokenType,
        ),
        reject(
            "typ refresh token",
            signed(header_with("typ", json!("rt+jwt")), &body),
            VerifyError::WrongTokenType,
        ),
        reject(
            "typ logout token",
            signed(header_with("typ", json!("logout+jwt")), &body),
            VerifyError::WrongTokenType,
        ),
        accept(
            "typ at+jwt",
            signed(header_with("typ", json!("at+jwt")), &body),
        ),
    ]);
}

#[test]
fn duplicate_members_are_rejected() {
    let body = claims().to_string();
    let duplicate_claim = |extra: &str| body.replacen('{', &format!("{{{extra},"), 1);
    run(&[
        reject(
            "duplicate alg",
            signed(r#"{"alg":"HS256","typ":"at+jwt","alg":"HS256"}"#, &body),
            VerifyError::Malformed("header has a duplicate member"),
        ),
        reject(
            "duplicate alg, second none",
            signed(r#"{"alg":"HS256","typ":"at+jwt","alg":"none"}"#, &body),
            VerifyError::Malformed("header has a duplicate member"),
        ),
        reject(
            "duplicate typ",
            signed(r#"{"alg":"HS256","typ":"JWT","typ":"at+jwt"}"#, &body),
            VerifyError::Malformed("header has a duplicate member"),
        ),
        reject(
            "duplicate alg spelled with an escape",
            signed(r#"{"alg":"HS256","typ":"at+jwt","\u0061lg":"none"}"#, &body),
            VerifyError::Malformed("header has a duplicate member"),
        ),
        reject(
            "duplicate exp",
            signed(
                HEADER,
                duplicate_claim(&format!(r#""exp":{}"#, NOW + 99_999)),
            ),
            VerifyError::InvalidClaims("claims have a duplicate member"),
        ),
        reject(
            "duplicate sub",
            signed(HEADER, duplicate_claim(r#""sub":"1""#)),
            VerifyError::InvalidClaims("claims have a duplicate member"),
        ),
        reject(
            "duplicate sid",
            signed(HEADER, duplicate_claim(r#""sid":"other-session""#)),
            VerifyError::InvalidClaims("claims have a duplicate member"),
        ),
        reject(
            "duplicate unknown claim",
            signed(HEADER, duplicate_claim(r#""x":1,"x":1"#)),
            VerifyError::InvalidClaims("claims have a duplicate member"),
        ),
        reject(
            "duplicate nested member",
            signed(HEADER, duplicate_claim(r#""x":{"y":1,"y":2}"#)),
            VerifyError::InvalidClaims("claims have a duplicate member"),
        ),
    ]);
}
