// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::json;

use super::*;
use crate::SigningKey;

fn generated() -> Vec<SigningKey> {
    [Algorithm::EdDsa, Algorithm::Es256, Algorithm::Rs256]
        .into_iter()
        .map(|alg| SigningKey::generate(alg).unwrap())
        .collect()
}

#[test]
fn jwk_set_round_trips_and_leaves_secrets_out() {
    let hs = SigningKey::from_bytes(b"0123456789abcdef0123456789abcdef").unwrap();
    let keys = generated();
    let mut verifying: Vec<VerifyingKey> = vec![hs.verifying_key()];
    verifying.extend(keys.iter().map(SigningKey::verifying_key));
    let set = jwk_set(&verifying);
    let members = set["keys"].as_array().unwrap();
    assert_eq!(members.len(), 3, "the HS256 key is never published");
    assert!(!set.to_string().contains(hs.kid()));
    let shapes = [
        ("OKP", vec!["alg", "crv", "kid", "kty", "use", "x"]),
        ("EC", vec!["alg", "crv", "kid", "kty", "use", "x", "y"]),
        ("RSA", vec!["alg", "e", "kid", "kty", "n", "use"]),
    ];
    for (member, (kty, names)) in members.iter().zip(shapes) {
        assert_eq!(member["kty"], kty);
        assert_eq!(member["use"], "sig");
        let mut found: Vec<&str> = member
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        found.sort_unstable();
        assert_eq!(found, names, "public members only");
    }
    let parsed = parse_jwk_set(set.to_string().as_bytes()).unwrap();
    assert_eq!(parsed.len(), 3);
    for (key, back) in keys.iter().zip(&parsed) {
        assert_eq!(back.kid(), key.kid());
        assert_eq!(back.algorithm(), key.algorithm());
        let signature = key.sign(b"payload").unwrap();
        assert!(back.verify_raw(b"payload", &signature));
        assert!(!back.verify_raw(b"payloaD", &signature));
    }
}

/// A valid member of each type, to be broken one way at a time.
fn valid_jwks() -> Vec<Value> {
    generated()
        .iter()
        .map(|key| key.verifying_key().to_jwk().unwrap())
        .collect()
}

fn parse_one(jwk: Value) -> Result<Vec<VerifyingKey>, JwkError> {
    parse_jwk_set(json!({ "keys": [jwk] }).to_string().as_bytes())
}

fn problem(jwk: Value) -> &'static str {
    match parse_one(jwk) {
        Err(JwkError::Key {
            index: 0, problem, ..
        }) => problem,
        other => panic!("expected a key error, got {other:?}"),
    }
}

fn edited(base: &Value, member: &str, value: Option<Value>) -> Value {
    let mut jwk = base.clone();
    match value {
        Some(value) => {
            jwk[member] = value;
        }
        None => {
            jwk.as_object_mut().unwrap().remove(member);
        }
    }
    jwk
}

#[test]
fn every_refusal_names_the_key_and_the_problem() {
    let [ed, ec, rsa]: [Value; 3] = valid_jwks().try_into().unwrap();
    let b64 = |bytes: &[u8]| Value::String(URL_SAFE_NO_PAD.encode(bytes));
    let rsa_n = URL_SAFE_NO_PAD.decode(rsa["n"].as_str().unwrap()).unwrap();
    let mut leading_zero = vec![0];
    leading_zero.extend_from_slice(&rsa_n);
    let cases: Vec<(&str, Value, &str)> = vec![
        ("no kid", edited(&ed, "kid", None), "no kid"),
        (
            "kid not a string",
            edited(&ed, "kid", Some(json!(7))),
            "kid is not a string",
        ),
        (
            "kid with a space",
            edited(&ed, "kid", Some(json!("a b"))),
            "kid is not a valid key id",
        ),
        ("no alg", edited(&ed, "alg", None), "no alg"),
        (
            "unknown alg",
            edited(&rsa, "alg", Some(json!("PS256"))),
            "alg is not one of EdDSA, ES256, RS256",
        ),
        (
            "alg none",
            edited(&ed, "alg", Some(json!("none"))),
            "alg is not one of EdDSA, ES256, RS256",
        ),
        (
            "alg not a string",
            edited(&ed, "alg", Some(json!(["EdDSA"]))),
            "alg is not a string",
        ),
        (
            "HS256 oct key",
            json!({"kty": "oct", "k": "AAAA", "kid": "h", "alg": "HS256"}),
            "has private key members; publish public keys only",
        ),
        (
            "HS256 without k",
            json!({"kty": "oct", "kid": "h", "alg": "HS256"}),
            "HS256 keys are secret and never read from a JWK set",
        ),
        (
            "private d (Ed25519)",
            edited(&ed, "d", Some(b64(&[1; 32]))),
            "has private key members; publish public keys only",
        ),
        (
            "private d (EC)",
            edited(&ec, "d", Some(b64(&[1; 32]))),
            "has private key members; publish public keys only",
        ),
        (
            "private p (RSA)",
            edited(&rsa, "p", Some(b64(&[1; 128]))),
            "has private key members; publish public keys only",
        ),
        (
            "private oth (RSA)",
            edited(&rsa, "oth", Some(json!([]))),
            "has private key members; publish public keys only",
        ),
        (
            "use enc",
            edited(&ed, "use", Some(json!("enc"))),
            "use is not \"sig\"",
        ),
        (
            "kty EC for EdDSA",
            edited(&ed, "kty", Some(json!("EC"))),
            "kty must be \"OKP\" for EdDSA",
        ),
        (
            "crv X25519",
            edited(&ed, "crv", Some(json!("X25519"))),
            "crv must be \"Ed25519\" for EdDSA",
        ),
        (
            "kty OKP for ES256",
            edited(&ec, "kty", Some(json!("OKP"))),
            "kty must be \"EC\" for ES256",
        ),
        (
            "crv P-384 for ES256",
            edited(&ec, "crv", Some(json!("P-384"))),
            "crv must be \"P-256\" for ES256",
        ),
        (
            "kty EC for RS256",
            edited(&rsa, "kty", Some(json!("EC"))),
            "kty must be \"RSA\" for RS256",
        ),
        (
            "EdDSA x of 31 bytes",
            edited(&ed, "x", Some(b64(&[9; 31]))),
            "x is not a 32-byte Ed25519 public key",
        ),
        (
            "EdDSA x of 33 bytes",
            edited(&ed, "x", Some(b64(&[9; 33]))),
            "x is not a 32-byte Ed25519 public key",
        ),
        (
            "EdDSA x padded",
            edited(
                &ed,
                "x",
                Some(json!(format!("{}=", ed["x"].as_str().unwrap()))),
            ),
            "x is not base64url",
        ),
        (
            "ES256 x of 31 bytes",
            edited(&ec, "x", Some(b64(&[9; 31]))),
            "x and y must be 32 bytes each",
        ),
        (
            "ES256 y of 33 bytes",
            edited(&ec, "y", Some(b64(&[9; 33]))),
            "x and y must be 32 bytes each",
        ),
        ("ES256 no y", edited(&ec, "y", None), "y is not base64url"),
        (
            "ES256 point off the curve",
            edited(&ec, "y", Some(b64(&[9; 32]))),
            "x, y is not a point on P-256",
        ),
        (
            "RSA 1024 bits",
            edited(&rsa, "n", Some(b64(&[0xc5; 128]))),
            "RSA modulus must be 2048 to 8192 bits",
        ),
        (
            "RSA 2047 bits",
            edited(
                &rsa,
                "n",
                Some(b64(&[&[0x7f_u8][..], &[0xc5; 255]].concat())),
            ),
            "RSA modulus must be 2048 to 8192 bits",
        ),
        (
            "RSA e = 3",
            edited(&rsa, "e", Some(b64(&[3]))),
            "RSA exponent must be 65537",
        ),
        (
            "RSA e with a leading zero",
            edited(&rsa, "e", Some(b64(&[0, 1, 0, 1]))),
            "RSA exponent must be 65537",
        ),
        (
            "RSA n with a leading zero",
            edited(&rsa, "n", Some(b64(&leading_zero))),
            "n is not a valid RSA modulus (no leading zero byte)",
        ),
        (
            "RSA with crv",
            edited(&rsa, "crv", Some(json!("P-256"))),
            "an RSA key has no crv",
        ),
        ("not an object", json!("key"), "not a JSON object"),
    ];
    for (name, jwk, expected) in cases {
        assert_eq!(problem(jwk), expected, "{name}");
    }
    // The kid is named when it is valid, the index always.
    let error = parse_jwk_set(
        json!({"keys": [ed.clone(), edited(&ec, "use", Some(json!("enc")))]})
            .to_string()
            .as_bytes(),
    )
    .unwrap_err();
    let kid = ec["kid"].as_str().unwrap();
    assert_eq!(
        error.to_string(),
        format!("JWK set key 1 (kid {kid:?}): use is not \"sig\"")
    );
    assert_eq!(
        problem(edited(&ed, "kid", None)),
        "no kid",
        "and the message then has no kid"
    );
}

#[test]
fn set_level_refusals() {
    let [ed, ec, _]: [Value; 3] = valid_jwks().try_into().unwrap();
    let kid = ed["kid"].as_str().unwrap().to_owned();
    let same_kid = edited(&ec, "kid", Some(json!(kid.clone())));
    assert_eq!(
        parse_jwk_set(
            json!({"keys": [ed.clone(), same_kid]})
                .to_string()
                .as_bytes()
        )
        .unwrap_err(),
        JwkError::Key {
            index: 1,
            kid: Some(kid),
            problem: "duplicate kid"
        }
    );
    let cases: Vec<(Vec<u8>, JwkError)> = vec![
        (b"not json".to_vec(), JwkError::Malformed("not valid JSON")),
        (b"\xff{}".to_vec(), JwkError::Malformed("not UTF-8")),
        (b"[]".to_vec(), JwkError::Malformed("not a JSON object")),
        (b"{}".to_vec(), JwkError::Malformed("no keys array")),
        (
            br#"{"keys":{}}"#.to_vec(),
            JwkError::Malformed("no keys array"),
        ),
        (
            br#"{"keys":[],"keys":[]}"#.to_vec(),
            JwkError::Malformed("a JSON object has a duplicate member"),
        ),
        (
            format!(
                r#"{{"keys":[{{"kid":"a",{}}}]}}"#,
                &ed.to_string()[1..ed.to_string().len() - 1]
            )
            .into_bytes(),
            JwkError::Malformed("a JSON object has a duplicate member"),
        ),
    ];
    for (input, expected) in cases {
        assert_eq!(
            parse_jwk_set(&input).unwrap_err(),
            expected,
            "{}",
            String::from_utf8_lossy(&input)
        );
    }
    let huge = format!(r#"{{"keys":[],"pad":"{}"}}"#, "a".repeat(MAX_JWKS_BYTES));
    assert_eq!(
        parse_jwk_set(huge.as_bytes()).unwrap_err(),
        JwkError::TooLarge {
            len: huge.len(),
            max: MAX_JWKS_BYTES
        }
    );
    let many: Vec<Value> = (0..=MAX_JWKS_KEYS)
        .map(|i| edited(&ed, "kid", Some(json!(format!("k{i}")))))
        .collect();
    assert_eq!(
        parse_jwk_set(json!({ "keys": many }).to_string().as_bytes()).unwrap_err(),
        JwkError::TooManyKeys {
            count: MAX_JWKS_KEYS + 1,
            max: MAX_JWKS_KEYS
        }
    );
    let hundred: Vec<Value> = (0..MAX_JWKS_KEYS)
        .map(|i| edited(&ed, "kid", Some(json!(format!("k{i}")))))
        .collect();
    assert_eq!(
        parse_jwk_set(json!({ "keys": hundred }).to_string().as_bytes())
            .unwrap()
            .len(),
        MAX_JWKS_KEYS
    );
    // Unknown members are ignored (RFC 7517 §4); `use` may be absent.
    let extra = edited(
        &edited(&ed, "use", None),
        "key_ops",
        Some(json!(["verify"])),
    );
    assert_eq!(parse_one(extra).unwrap().len(), 1);
    assert!(parse_jwk_set(br#"{"keys":[]}"#).unwrap().is_empty());
}
