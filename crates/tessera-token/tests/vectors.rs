//! Known-answer and interoperability tests through the public API only: Wycheproof's JWS vectors
//! for every HS256 key, and round trips with the `jsonwebtoken` crate.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;
use tessera_token::{
    AccessClaims, Algorithm, JwkError, KeySet, SigningKey, Subject, TokenCodec, TokenRules,
    VerifyError, VerifyingKey, parse_jwk_set, verify_signature,
};

const WYCHEPROOF: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/wycheproof_json_web_signature_test.json"
);

/// Mislabelled in this copy of the file: 367 and 370 carry the same bytes as the valid tcId 357 yet
/// are labelled invalid; 372 and 373 contain a '?' yet are labelled valid (we treat any
/// non-base64url character as invalid).
const MISLABELLED: [u64; 4] = [367, 370, 372, 373];

/// `Some(key)` when the group's key is an HS256 `oct` JWK.
fn hs256_key(group: &Value) -> Option<SigningKey> {
    let jwk = group.get("private").or_else(|| group.get("public"))?;
    if jwk["kty"] != "oct" || jwk["alg"] != "HS256" {
        return None;
    }
    let bytes = URL_SAFE_NO_PAD.decode(jwk["k"].as_str()?).unwrap();
    Some(SigningKey::from_bytes(&bytes).unwrap())
}

#[test]
fn wycheproof_hs256_vectors() {
    let text = std::fs::read_to_string(WYCHEPROOF)
        .unwrap_or_else(|error| panic!("cannot read {WYCHEPROOF}: {error}"));
    let vectors: Value = serde_json::from_str(&text).unwrap();
    let (mut exercised, mut valid, mut skipped) = (0, 0, 0);
    for group in vectors["testGroups"].as_array().unwrap() {
        let Some(key) = hs256_key(group) else {
            continue;
        };
        for test in group["tests"].as_array().unwrap() {
            let id = test["tcId"].as_u64().unwrap();
            if MISLABELLED.contains(&id) {
                skipped += 1;
                continue;
            }
            // A JWS given as a JSON object (JSON serialization) is fed as its text.
            let jws = match &test["jws"] {
                Value::String(compact) => compact.clone(),
                other => other.to_string(),
            };
            let expected_valid = match test["result"].as_str().unwrap() {
                "valid" => true,
                "invalid" => false,
                other => panic!("tcId {id}: unexpected result {other}"),
            };
            let result = verify_signature(&key, &jws);
            assert_eq!(
                result.is_ok(),
                expected_valid,
                "tcId {id} ({}): {result:?}",
                test["comment"]
            );
            exercised += 1;
            valid += usize::from(expected_valid);
        }
    }
    println!("wycheproof: {exercised} HS256 cases exercised ({valid} valid), {skipped} skipped");
    assert!(exercised > 0);
    assert_eq!(
        skipped,
        MISLABELLED.len(),
        "the mislabelled cases are HS256 cases"
    );
    assert_eq!(exercised, 36, "the HS256 groups of the vector file changed");
}

/// One public JWK read through [`parse_jwk_set`]; a missing `kid` (our parser requires one) is
/// filled in, nothing else is changed.
fn jwk_key(jwk: &Value) -> Result<VerifyingKey, JwkError> {
    let mut jwk = jwk.clone();
    if jwk.get("kid").is_none() {
        jwk["kid"] = "wycheproof".into();
    }
    let set = serde_json::json!({ "keys": [jwk] });
    parse_jwk_set(set.to_string().as_bytes()).map(|mut keys| keys.remove(0))
}

/// Valid JWS vectors we refuse on purpose, with why (asserted refused, not skipped).
const REFUSED_BY_DESIGN: &[(u64, &str)] = &[(
    259,
    "an empty payload: an access token always carries claims, so an empty segment is malformed",
)];

#[test]
fn wycheproof_es256_and_rs256_vectors() {
    let text = std::fs::read_to_string(WYCHEPROOF)
        .unwrap_or_else(|error| panic!("cannot read {WYCHEPROOF}: {error}"));
    let vectors: Value = serde_json::from_str(&text).unwrap();
    let mut exercised = std::collections::BTreeMap::<&str, (usize, usize)>::new();
    let mut skipped_groups = std::collections::BTreeMap::<String, usize>::new();
    let mut mismatches = Vec::new();
    let (mut refused_by_design, mut refused_keys) = (0, 0);
    for group in vectors["testGroups"].as_array().unwrap() {
        let Some(public) = group.get("public") else {
            *skipped_groups
                .entry("no public key".to_owned())
                .or_default() += 1;
            continue;
        };
        let Some(alg) = public["alg"].as_str() else {
            // Keys marked for encryption (`use: enc`, `key_ops: [encrypt]`) and without `alg`:
            // even with the `alg` their `kty` implies, our JWK parser refuses them.
            let mut with_alg = public.clone();
            with_alg["alg"] = if public["kty"] == "RSA" {
                "RS256"
            } else {
                "ES256"
            }
            .into();
            let error = jwk_key(&with_alg).unwrap_err();
            assert!(
                error.to_string().contains("use is not")
                    || error.to_string().contains("key_ops does not include"),
                "{error}"
            );
            refused_keys += 1;
            continue;
        };
        let alg = match alg {
            "ES256" => "ES256",
            "RS256" => "RS256",
            other => {
                *skipped_groups.entry(other.to_owned()).or_default() += 1;
                continue;
            }
        };
        let key = jwk_key(public)
            .unwrap_or_else(|error| panic!("group {}: key refused: {error}", group["comment"]));
        assert_eq!(key.algorithm().as_str(), alg);
        for test in group["tests"].as_array().unwrap() {
            let id: u64 = match &test["tcId"] {
                Value::String(id) => id.parse().unwrap(),
                other => other.as_u64().unwrap(),
            };
            if REFUSED_BY_DESIGN.iter().any(|(m, _)| *m == id) {
                assert!(verify_signature(&key, test["jws"].as_str().unwrap()).is_err());
                refused_by_design += 1;
                continue;
            }
            let jws = match &test["jws"] {
                Value::String(compact) => compact.clone(),
                other => other.to_string(),
            };
            let expected_valid = match test["result"].as_str().unwrap() {
                "valid" => true,
                "invalid" => false,
                other => panic!("tcId {id}: unexpected result {other}"),
            };
            let result = verify_signature(&key, &jws);
            if result.is_ok() != expected_valid {
                mismatches.push(format!("tcId {id} ({}): {result:?}", test["comment"]));
            }
            let entry = exercised.entry(alg).or_default();
            entry.0 += 1;
            entry.1 += usize::from(expected_valid);
        }
    }
    println!(
        "wycheproof: exercised (cases, valid) {exercised:?}; {refused_by_design} valid cases \
         refused by design; {refused_keys} encryption keys refused; skipped groups \
         {skipped_groups:?}"
    );
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
    assert_eq!(refused_by_design, REFUSED_BY_DESIGN.len());
    assert_eq!(refused_keys, 4);
    assert_eq!(
        exercised["ES256"],
        (39, 2),
        "the ES256 groups of the vector file changed"
    );
    assert_eq!(
        exercised["RS256"],
        (232, 7),
        "the RS256 groups of the vector file changed"
    );
}

const WYCHEPROOF_ED25519: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/wycheproof_ed25519_test.json"
);

fn hex(text: &str) -> Vec<u8> {
    assert!(text.len().is_multiple_of(2), "odd hex {text}");
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

/// Every case of Wycheproof's Ed25519 file through the EdDSA verifying key's raw check, keys
/// read from each group's JWK by [`parse_jwk_set`] (with `alg: EdDSA` added: the file's JWKs have
/// none) and checked against the group's raw public key.
#[test]
fn wycheproof_ed25519_vectors() {
    let text = std::fs::read_to_string(WYCHEPROOF_ED25519)
        .unwrap_or_else(|error| panic!("cannot read {WYCHEPROOF_ED25519}: {error}"));
    let vectors: Value = serde_json::from_str(&text).unwrap();
    let (mut exercised, mut valid) = (0, 0);
    let mut mismatches = Vec::new();
    for group in vectors["testGroups"].as_array().unwrap() {
        let mut jwk = group["publicKeyJwk"].clone();
        jwk["alg"] = "EdDSA".into();
        let key = jwk_key(&jwk).unwrap();
        assert_eq!(key.algorithm(), Algorithm::EdDsa);
        let raw = hex(group["publicKey"]["pk"].as_str().unwrap());
        assert_eq!(
            URL_SAFE_NO_PAD
                .decode(key.to_jwk().unwrap()["x"].as_str().unwrap())
                .unwrap(),
            raw
        );
        for test in group["tests"].as_array().unwrap() {
            let id = test["tcId"].as_u64().unwrap();
            let expected_valid = match test["result"].as_str().unwrap() {
                "valid" => true,
                "invalid" => false,
                other => panic!("tcId {id}: unexpected result {other}"),
            };
            let msg = hex(test["msg"].as_str().unwrap());
            let sig = hex(test["sig"].as_str().unwrap());
            if key.verify_raw(&msg, &sig) != expected_valid {
                mismatches.push(format!("tcId {id} ({})", test["comment"]));
            }
            exercised += 1;
            valid += usize::from(expected_valid);
        }
    }
    println!("wycheproof: {exercised} Ed25519 cases exercised ({valid} valid)");
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
    assert_eq!(exercised, 151, "the Ed25519 vector file changed");
}

fn rules() -> TokenRules {
    TokenRules {
        issuer: "https://tessera.test".into(),
        audience: "tessera-api".into(),
        leeway_seconds: 0,
    }
}

const SECRET: &[u8] = b"interop-secret-0123456789abcdef!";
const NOW: i64 = 1_700_000_000;

/// `jsonwebtoken` configured as strictly as it allows accepts what we issue.
#[test]
fn jsonwebtoken_accepts_our_tokens() {
    let codec = TokenCodec::new(SigningKey::from_bytes(SECRET).unwrap(), rules()).unwrap();
    let roles = vec!["admin".to_owned()];
    let subject = Subject {
        id: "42",
        session_id: "session-42",
        name: "Ada",
        roles: &roles,
    };
    // jsonwebtoken reads the real clock, so issue around it; our side still never does.
    let now = i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap();
    let issued = codec.issue(subject, now, 600).unwrap();

    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    validation.leeway = 0;
    validation.validate_nbf = true;
    validation.set_issuer(&["https://tessera.test"]);
    validation.set_audience(&["tessera-api"]);
    validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
    let decoded = jsonwebtoken::decode::<AccessClaims>(
        &issued.token,
        &jsonwebtoken::DecodingKey::from_secret(SECRET),
        &validation,
    )
    .unwrap();
    assert_eq!(decoded.claims, issued.claims);
    assert_eq!(decoded.claims.sid, "session-42");
    assert_eq!(decoded.header.typ.as_deref(), Some("at+jwt"));
}

/// `jsonwebtoken`, reading our published JWK, accepts our EdDSA, ES256 and RS256 tokens; and
/// we accept its EdDSA and ES256 tokens signed with our exported key under our kid.
#[test]
fn jsonwebtoken_agrees_on_asymmetric_tokens_and_jwks() {
    let now = i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap();
    let roles = vec!["admin".to_owned()];
    let subject = Subject {
        id: "42",
        session_id: "session-42",
        name: "Ada",
        roles: &roles,
    };
    for (alg, theirs) in [
        (Algorithm::EdDsa, jsonwebtoken::Algorithm::EdDSA),
        (Algorithm::Es256, jsonwebtoken::Algorithm::ES256),
        (Algorithm::Rs256, jsonwebtoken::Algorithm::RS256),
    ] {
        let key = SigningKey::generate(alg).unwrap();
        let codec = TokenCodec::new(KeySet::from(key.clone()), rules()).unwrap();
        let issued = codec.issue(subject, now, 600).unwrap();
        let jwk: jsonwebtoken::jwk::Jwk =
            serde_json::from_value(key.verifying_key().to_jwk().unwrap()).unwrap();
        let mut validation = jsonwebtoken::Validation::new(theirs);
        validation.leeway = 0;
        validation.validate_nbf = true;
        validation.set_issuer(&["https://tessera.test"]);
        validation.set_audience(&["tessera-api"]);
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        let decoded = jsonwebtoken::decode::<AccessClaims>(
            &issued.token,
            &jsonwebtoken::DecodingKey::from_jwk(&jwk).unwrap(),
            &validation,
        )
        .unwrap_or_else(|error| panic!("{alg}: {error}"));
        assert_eq!(decoded.claims, issued.claims);
        assert_eq!(decoded.header.kid.as_deref(), Some(key.kid()));

        let der = key.to_pkcs8_der().unwrap();
        let encoding = match alg {
            Algorithm::EdDsa => jsonwebtoken::EncodingKey::from_ed_der(&der),
            Algorithm::Es256 => jsonwebtoken::EncodingKey::from_ec_der(&der),
            _ => continue,
        };
        let mut header = jsonwebtoken::Header::new(theirs);
        header.typ = Some("at+jwt".to_owned());
        header.kid = Some(key.kid().to_owned());
        let token = jsonwebtoken::encode(&header, &issued.claims, &encoding).unwrap();
        assert_eq!(codec.verify(&token, now).unwrap(), issued.claims, "{alg}");
    }
}

/// We accept what `jsonwebtoken` signs with an access-token header (it puts `typ` before `alg`),
/// and refuse its default `typ: JWT`.
#[test]
fn we_accept_jsonwebtoken_access_tokens_only() {
    let codec = TokenCodec::new(SigningKey::from_bytes(SECRET).unwrap(), rules()).unwrap();
    let claims = AccessClaims {
        iss: "https://tessera.test".into(),
        aud: "tessera-api".into(),
        sub: "42".into(),
        sid: "session-42".into(),
        iat: NOW,
        nbf: NOW,
        exp: NOW + 60,
        jti: "AAAAAAAAAAAAAAAAAAAAAA".into(),
        name: "Ada".into(),
        roles: vec!["user".into()],
    };
    let key = jsonwebtoken::EncodingKey::from_secret(SECRET);
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    let plain_jwt = jsonwebtoken::encode(&header, &claims, &key).unwrap();
    assert_eq!(
        codec.verify(&plain_jwt, NOW),
        Err(VerifyError::WrongTokenType)
    );

    header.typ = Some("at+jwt".into());
    let access_token = jsonwebtoken::encode(&header, &claims, &key).unwrap();
    assert_eq!(codec.verify(&access_token, NOW), Ok(claims.clone()));

    // A token without `sid` (here: signed by jsonwebtoken from plain JSON) is refused.
    let mut without_sid = serde_json::to_value(&claims).unwrap();
    without_sid.as_object_mut().unwrap().remove("sid");
    let no_sid = jsonwebtoken::encode(&header, &without_sid, &key).unwrap();
    assert_eq!(
        codec.verify(&no_sid, NOW),
        Err(VerifyError::InvalidClaims("sid is missing"))
    );

    header.kid = Some("key-1".into());
    header.jku = Some("https://evil.test/jwks.json".into());
    let with_jku = jsonwebtoken::encode(&header, &claims, &key).unwrap();
    assert_eq!(
        codec.verify(&with_jku, NOW),
        Err(VerifyError::ForbiddenHeader("jku"))
    );
}

/// Differential testing against `jsonwebtoken` 11, configured as strictly as it goes: on every
/// input, if we accept then it accepts with the same claim values, and where only it accepts, our
/// rejection is one of the documented rules in [`differential::STRICTER`].
///
/// `jsonwebtoken` reads the real clock, so `now` is the real time when a test starts, tokens are
/// issued with `iat = nbf = now - 10` and `exp = now + 600`, every generated time is at least
/// 10 s from `now`, and the leeway is 0 on both sides. Its `decode` is called bare: no header
/// checks of our own are added on its side, so every header rule we enforce and it does not shows
/// up as a mismatch, and must be in the table.
mod differential {
    use std::cell::RefCell;
    use std::collections::BTreeMap;
    use std::time::{Instant, SystemTime, UNIX_EPOCH};

    use aws_lc_rs::hmac;
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use proptest::prelude::*;
    use proptest::sample::Index;
    use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
    use serde::Deserialize;
    use tessera_token::{AccessClaims, SigningKey, TokenCodec, VerifyError};

    use super::{SECRET, rules};

    const ISSUER: &str = "https://tessera.test";
    const AUDIENCE: &str = "tessera-api";
    /// Cases per strategy: about 1 s each in a debug build.
    const EDITED_CASES: u32 = 5_000;
    const RANDOM_CASES: u32 = 4_000;

    /// Where we are stricter than strictly configured `jsonwebtoken`: the only rejections of ours
    /// allowed on a token it accepts. Matched on the exact [`VerifyError`].
    pub(super) const STRICTER: &[(VerifyError, &str)] = &[
        (
            VerifyError::TooLarge,
            "tokens over 8 KiB are refused before parsing (SECURITY.md 7); it has no size cap",
        ),
        (
            VerifyError::WrongTokenType,
            "typ must be at+jwt (RFC 9068 §2.1, SECURITY.md 6); it never reads typ",
        ),
        (
            VerifyError::UnknownCrit,
            "crit in any form is an extension we do not understand (RFC 7515 §4.1.11); it parses crit and ignores it",
        ),
        (
            VerifyError::ForbiddenHeader("jwk"),
            "a key carried in the token is never used (RFC 8725 §3.10, SECURITY.md 1); it just parses it",
        ),
        (
            VerifyError::ForbiddenHeader("jku"),
            "key URLs are never fetched (RFC 8725 §3.10); it keeps jku for the caller",
        ),
        (
            VerifyError::ForbiddenHeader("x5u"),
            "certificate URLs are never fetched (RFC 8725 §3.10); it keeps x5u for the caller",
        ),
        (
            VerifyError::ForbiddenHeader("x5c"),
            "no certificate in the token is trusted (RFC 8725 §3.10); it keeps x5c for the caller",
        ),
        (
            VerifyError::ForbiddenHeader("x5t"),
            "header members are allow-listed (SECURITY.md 3); it keeps x5t",
        ),
        (
            VerifyError::ForbiddenHeader("x5t#S256"),
            "header members are allow-listed (SECURITY.md 3); it keeps x5t#S256",
        ),
        (
            VerifyError::ForbiddenHeader("cty"),
            "no nested tokens (SECURITY.md 2); it keeps cty",
        ),
        (
            VerifyError::ForbiddenHeader("b64"),
            "no unencoded payloads (RFC 7797); it keeps b64 as an extra and ignores it",
        ),
        (
            VerifyError::ForbiddenHeader("enc"),
            "no JWE (SECURITY.md 2); it parses enc and ignores it",
        ),
        (
            VerifyError::ForbiddenHeader("zip"),
            "no compression or JWE (SECURITY.md 2); it parses zip and ignores it",
        ),
        (
            VerifyError::ForbiddenHeader("url"),
            "header members are allow-listed (SECURITY.md 3); it keeps ACME's url",
        ),
        (
            VerifyError::ForbiddenHeader("nonce"),
            "header members are allow-listed (SECURITY.md 3); it keeps ACME's nonce",
        ),
        (
            VerifyError::ForbiddenHeader("unlisted member"),
            "header members are allow-listed (SECURITY.md 3); it keeps unknown members as extras",
        ),
        (
            VerifyError::Malformed("header has a duplicate member"),
            "duplicate names let two parsers disagree (RFC 8725 §3.5, SECURITY.md 3); it keeps the last unknown one",
        ),
        (
            VerifyError::Malformed("header typ is not a string"),
            "typ: null is not an absent typ; it reads null as absent",
        ),
        (
            VerifyError::Malformed("header kid is not a string"),
            "kid: null is not an absent kid; it reads null as absent",
        ),
        (
            VerifyError::UnknownKey,
            "a kid must name one of the verifier's keys (key rotation); it leaves kid to the caller",
        ),
        (
            VerifyError::InvalidClaims("claims have a duplicate member"),
            "duplicate names at any depth (RFC 8725 §3.5, SECURITY.md 3); it keeps the last unknown one",
        ),
        (
            VerifyError::InvalidClaims("iat is missing"),
            "iat is required and checked; it ignores iat",
        ),
        (
            VerifyError::InvalidClaims("iat must be a 64-bit integer"),
            "iat is a JSON integer, null included as a type error (SECURITY.md 5); it ignores iat",
        ),
        (
            VerifyError::InvalidClaims("issued in the future"),
            "iat after now + leeway is refused; it ignores iat",
        ),
        (
            VerifyError::InvalidClaims("sub must be a non-empty string"),
            "an empty sub names no user (SECURITY.md 5); it only asks sub to be present",
        ),
        (
            VerifyError::InvalidClaims("sid is missing"),
            "every access token names its session, so logout can end it (SECURITY.md, sessions)",
        ),
        (
            VerifyError::InvalidClaims("sid must be a non-empty string"),
            "a session id is a non-empty string; null is not absent",
        ),
        (
            VerifyError::InvalidClaims("jti is missing"),
            "every token we issue has a jti; one without is not ours",
        ),
        (
            VerifyError::InvalidClaims("jti must be a non-empty string"),
            "jti is a non-empty string; null is not absent",
        ),
        (
            VerifyError::InvalidClaims("name is missing"),
            "name is part of tessera's claims set",
        ),
        (
            VerifyError::InvalidClaims("name must be a string"),
            "name is a string; null is not absent",
        ),
        (
            VerifyError::InvalidClaims("roles is missing"),
            "roles are part of tessera's claims set: a token without them is not ours",
        ),
        (
            VerifyError::InvalidClaims("roles must be an array of strings"),
            "roles are an array of strings; null is not absent",
        ),
    ];

    type ClaimsPredicate = fn(&AccessClaims) -> bool;

    /// The other direction, found by this test: tokens we accept and `jsonwebtoken` refuses. Each
    /// entry is a predicate on the claims we accepted; anything else we accept and it refuses is
    /// a failure. Only a token signed with our own key gets this far, and we never issue one.
    pub(super) const THEIRS_STRICTER: &[(&str, ClaimsPredicate, &str)] = &[(
        "nbf before 1970",
        |claims| claims.nbf < 0,
        "it reads nbf as u64 and calls a negative one malformed; RFC 7519 NumericDate allows it",
    )];

    /// What a careful `jsonwebtoken` user decodes into: the same types as [`AccessClaims`] for the
    /// claims it validates, `aud` as a string or an array, and tessera's own claims optional (it
    /// cannot require them; the mismatch table says where we do).
    #[derive(Debug, Deserialize)]
    struct JwtClaims {
        iss: String,
        aud: JwtAudience,
        sub: String,
        sid: Option<String>,
        iat: Option<i64>,
        nbf: i64,
        exp: i64,
        jti: Option<String>,
        name: Option<String>,
        roles: Option<Vec<String>>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(untagged)]
    enum JwtAudience {
        One(String),
        Many(Vec<String>),
    }

    /// Both verifiers, and the instant ours checks at.
    struct Verifiers {
        codec: TokenCodec,
        now: i64,
        key: jsonwebtoken::DecodingKey,
        validation: jsonwebtoken::Validation,
    }

    impl Verifiers {
        fn new() -> Self {
            let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
            validation.algorithms = vec![jsonwebtoken::Algorithm::HS256];
            validation.leeway = 0;
            validation.validate_exp = true;
            validation.validate_nbf = true;
            validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
            validation.set_issuer(&[ISSUER]);
            validation.set_audience(&[AUDIENCE]);
            assert_eq!(rules().leeway_seconds, validation.leeway);
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_secs();
            Self {
                codec: TokenCodec::new(SigningKey::from_bytes(SECRET).unwrap(), rules()).unwrap(),
                now: i64::try_from(now).unwrap(),
                key: jsonwebtoken::DecodingKey::from_secret(SECRET),
                validation,
            }
        }

        fn ours(&self, token: &str) -> Result<AccessClaims, VerifyError> {
            self.codec.verify(token, self.now)
        }

        fn theirs(&self, token: &str) -> Option<JwtClaims> {
            jsonwebtoken::decode::<JwtClaims>(token, &self.key, &self.validation)
                .ok()
                .map(|data| data.claims)
        }
    }

    /// How the cases fell, by outcome and by stricter rule.
    #[derive(Default)]
    struct Tally {
        both_accept: u32,
        both_reject: u32,
        stricter: BTreeMap<String, u32>,
        theirs_stricter: BTreeMap<String, u32>,
    }

    impl Tally {
        fn print(&self, strategy: &str, cases: u32, elapsed: std::time::Duration) {
            println!(
                "differential/{strategy}: {cases} cases in {elapsed:.2?}: both accept {}, both reject {}, only jsonwebtoken accepts {}",
                self.both_accept,
                self.both_reject,
                self.stricter.values().sum::<u32>()
            );
            for (error, count) in &self.stricter {
                println!("  ours stricter: {count:>5}  {error}");
            }
            for (rule, count) in &self.theirs_stricter {
                println!("  theirs stricter: {count:>5}  {rule}");
            }
        }
    }

    /// The property, for one input: returns an error string on a violation.
    fn compare(verifiers: &Verifiers, token: &str, tally: &RefCell<Tally>) -> Result<(), String> {
        let ours = verifiers.ours(token);
        let theirs = verifiers.theirs(token);
        let mut tally = tally.borrow_mut();
        match (ours, theirs) {
            (Ok(ours), Some(theirs)) => {
                tally.both_accept += 1;
                same_claims(&ours, &theirs).map_err(|what| format!("{what} differs: {token}"))
            }
            (Ok(ours), None) => match THEIRS_STRICTER
                .iter()
                .find(|(_, applies, _)| applies(&ours))
            {
                Some((name, _, _)) => {
                    *tally.theirs_stricter.entry((*name).to_owned()).or_default() += 1;
                    Ok(())
                }
                None => Err(format!("we accept, jsonwebtoken rejects: {token}")),
            },
            (Err(_), None) => {
                tally.both_reject += 1;
                Ok(())
            }
            (Err(error), Some(_)) => {
                if STRICTER.iter().any(|(rule, _)| *rule == error) {
                    *tally.stricter.entry(format!("{error:?}")).or_default() += 1;
                    Ok(())
                } else {
                    Err(format!(
                        "jsonwebtoken accepts, we reject with an undocumented {error:?}: {token}"
                    ))
                }
            }
        }
    }

    fn same_claims(ours: &AccessClaims, theirs: &JwtClaims) -> Result<(), &'static str> {
        let aud_ok = match &theirs.aud {
            JwtAudience::One(aud) => *aud == ours.aud,
            JwtAudience::Many(auds) => auds.contains(&ours.aud),
        };
        let checks = [
            (ours.iss == theirs.iss, "iss"),
            (ours.aud == AUDIENCE && aud_ok, "aud"),
            (ours.sub == theirs.sub, "sub"),
            (Some(&ours.sid) == theirs.sid.as_ref(), "sid"),
            (Some(ours.iat) == theirs.iat, "iat"),
            (ours.nbf == theirs.nbf, "nbf"),
            (ours.exp == theirs.exp, "exp"),
            (Some(&ours.jti) == theirs.jti.as_ref(), "jti"),
            (Some(&ours.name) == theirs.name.as_ref(), "name"),
            (Some(&ours.roles) == theirs.roles.as_ref(), "roles"),
        ];
        match checks.into_iter().find(|(equal, _)| !equal) {
            Some((_, claim)) => Err(claim),
            None => Ok(()),
        }
    }

    /// A claim value relative to `now`, or literal JSON text.
    #[derive(Debug, Clone, Copy)]
    enum V {
        Lit(&'static str),
        Now(i64),
        NowFloat(i64),
        NowString(i64),
    }

    impl V {
        fn text(self, now: i64) -> String {
            match self {
                V::Lit(text) => text.to_owned(),
                V::Now(offset) => (now + offset).to_string(),
                V::NowFloat(offset) => format!("{}.0", now + offset),
                V::NowString(offset) => format!("\"{}\"", now + offset),
            }
        }
    }

    /// Claim edits worth making, as (raw JSON name, value).
    const CLAIM_EDITS: &[(&str, V)] = &[
        ("\"exp\"", V::Now(600)),
        ("\"exp\"", V::Now(-600)),
        ("\"exp\"", V::NowFloat(600)),
        ("\"exp\"", V::NowString(600)),
        ("\"exp\"", V::Lit("1e30")),
        ("\"exp\"", V::Lit("9223372036854775807")),
        ("\"exp\"", V::Lit("18446744073709551615")),
        ("\"exp\"", V::Lit("-1")),
        ("\"exp\"", V::Lit("null")),
        ("\"nbf\"", V::Now(-10)),
        ("\"nbf\"", V::Now(600)),
        ("\"nbf\"", V::NowFloat(-10)),
        ("\"nbf\"", V::NowString(-10)),
        ("\"nbf\"", V::Lit("0")),
        ("\"nbf\"", V::Lit("-1")),
        ("\"nbf\"", V::Lit("-0")),
        ("\"nbf\"", V::Lit("null")),
        ("\"iat\"", V::Now(-10)),
        ("\"iat\"", V::Now(600)),
        ("\"iat\"", V::NowFloat(-10)),
        ("\"iat\"", V::NowString(-10)),
        ("\"iat\"", V::Lit("-1")),
        ("\"iat\"", V::Lit("null")),
        ("\"iss\"", V::Lit("\"https://tessera.test\"")),
        ("\"iss\"", V::Lit("\"https://evil.test\"")),
        ("\"iss\"", V::Lit("[\"https://tessera.test\"]")),
        ("\"iss\"", V::Lit("1")),
        ("\"iss\"", V::Lit("null")),
        ("\"aud\"", V::Lit("\"tessera-api\"")),
        ("\"aud\"", V::Lit("\"tessera\\u002dapi\"")),
        ("\"aud\"", V::Lit("\"other-api\"")),
        ("\"aud\"", V::Lit("[\"tessera-api\"]")),
        ("\"aud\"", V::Lit("[\"other-api\",\"tessera-api\"]")),
        ("\"aud\"", V::Lit("[\"other-api\"]")),
        ("\"aud\"", V::Lit("[\"tessera-api\",1]")),
        ("\"aud\"", V::Lit("[]")),
        ("\"aud\"", V::Lit("5")),
        ("\"aud\"", V::Lit("null")),
        (
            "\"sub\"",
            V::Lit("\"7c9e6679-7425-40de-944b-e07fc1f90ae7\""),
        ),
        ("\"sub\"", V::Lit("\"\"")),
        ("\"sub\"", V::Lit("5")),
        ("\"sub\"", V::Lit("null")),
        ("\"sid\"", V::Lit("\"s-2\"")),
        ("\"sid\"", V::Lit("\"\"")),
        ("\"sid\"", V::Lit("5")),
        ("\"sid\"", V::Lit("null")),
        ("\"jti\"", V::Lit("\"\"")),
        ("\"jti\"", V::Lit("null")),
        ("\"jti\"", V::Lit("[]")),
        ("\"name\"", V::Lit("\"\"")),
        ("\"name\"", V::Lit("\"Ad\\u0061\"")),
        ("\"name\"", V::Lit("5")),
        ("\"name\"", V::Lit("null")),
        ("\"roles\"", V::Lit("[]")),
        ("\"roles\"", V::Lit("[1]")),
        ("\"roles\"", V::Lit("\"admin\"")),
        ("\"roles\"", V::Lit("null")),
        ("\"extra\"", V::Lit("{\"a\":1,\"a\":2}")),
        ("\"extra\"", V::Lit("[{\"b\":[]}]")),
        ("\"\\u0065xp\"", V::Now(600)),
        ("\"e\\u0078p\"", V::Now(99_999)),
    ];

    /// Header edits worth making, as (raw JSON name, raw JSON value).
    const HEADER_EDITS: &[(&str, &str)] = &[
        ("\"alg\"", "\"HS256\""),
        ("\"alg\"", "\"none\""),
        ("\"alg\"", "\"None\""),
        ("\"alg\"", "\"NONE\""),
        ("\"alg\"", "\"HS384\""),
        ("\"alg\"", "\"HS512\""),
        ("\"alg\"", "\"hs256\""),
        ("\"alg\"", "\"RS256\""),
        ("\"alg\"", "null"),
        ("\"alg\"", "[\"HS256\"]"),
        ("\"typ\"", "\"at+jwt\""),
        ("\"typ\"", "\"AT+JWT\""),
        ("\"typ\"", "\"application/at+jwt\""),
        ("\"typ\"", "\"JWT\""),
        ("\"typ\"", "\"jwt\""),
        ("\"typ\"", "\"\""),
        ("\"typ\"", "null"),
        ("\"typ\"", "1"),
        ("\"kid\"", "\"key-1\""),
        ("\"kid\"", "null"),
        ("\"kid\"", "1"),
        ("\"crit\"", "[\"exp\"]"),
        ("\"crit\"", "[]"),
        ("\"crit\"", "\"b64\""),
        ("\"crit\"", "null"),
        ("\"jwk\"", "{\"kty\":\"oct\",\"k\":\"AAAA\"}"),
        ("\"jwk\"", "\"x\""),
        ("\"jku\"", "\"https://evil.test/jwks.json\""),
        ("\"x5u\"", "\"https://evil.test/cert.pem\""),
        ("\"x5c\"", "[\"MIIB\"]"),
        ("\"x5t\"", "\"abc\""),
        ("\"x5t#S256\"", "\"abc\""),
        ("\"cty\"", "\"JWT\""),
        ("\"b64\"", "false"),
        ("\"enc\"", "\"A128GCM\""),
        ("\"zip\"", "\"DEF\""),
        ("\"url\"", "\"https://acme.test\""),
        ("\"nonce\"", "\"n\""),
        ("\"foo\"", "\"bar\""),
        ("\"foo\"", "null"),
        ("\"\\u0061lg\"", "\"none\""),
        ("\"\\u0074yp\"", "\"at+jwt\""),
    ];

    #[derive(Debug, Clone)]
    enum JsonEdit {
        /// Set the member (replace its value, or append it).
        Set(usize),
        /// Append the member even if the name is already there.
        Append(usize),
        Remove(Index),
        /// Append a copy of an existing member.
        Duplicate(Index),
        Swap(Index, Index),
    }

    #[derive(Debug, Clone)]
    enum SegmentEdit {
        /// A whitespace character before or after a segment (0 header, 1 payload, 2 signature).
        Whitespace(usize, bool, char),
        /// '=' padding after a segment.
        Padding(usize, usize),
        /// The lowest unused bit of a segment's last character set (when it has unused bits).
        NonCanonical(usize),
    }

    #[derive(Debug, Clone)]
    enum CharEdit {
        Flip(Index, u8),
        Insert(Index, char),
        Delete(Index),
    }

    /// A token built from the valid claims and header by these edits.
    #[derive(Debug, Clone)]
    struct Plan {
        header: Vec<JsonEdit>,
        claims: Vec<JsonEdit>,
        spaced_json: bool,
        /// An unknown claim large enough to push the token over 8 KiB.
        oversized: bool,
        /// Applied before signing: the token is re-signed over the edited segments.
        segments: Vec<SegmentEdit>,
        /// Applied after signing: the MAC no longer matches unless the edit is in the tag.
        chars: Vec<CharEdit>,
    }

    fn json_edit(pool: usize) -> impl Strategy<Value = JsonEdit> {
        prop_oneof![
            4 => (0..pool).prop_map(JsonEdit::Set),
            1 => (0..pool).prop_map(JsonEdit::Append),
            1 => any::<Index>().prop_map(JsonEdit::Remove),
            1 => any::<Index>().prop_map(JsonEdit::Duplicate),
            1 => (any::<Index>(), any::<Index>()).prop_map(|(a, b)| JsonEdit::Swap(a, b)),
        ]
    }

    fn plan() -> impl Strategy<Value = Plan> {
        let segment_edit = prop_oneof![
            (
                0..3_usize,
                any::<bool>(),
                prop::sample::select(vec![' ', '\n', '\t', '\r'])
            )
                .prop_map(|(s, lead, c)| SegmentEdit::Whitespace(s, lead, c)),
            (0..3_usize, 1..3_usize).prop_map(|(s, n)| SegmentEdit::Padding(s, n)),
            (0..3_usize).prop_map(SegmentEdit::NonCanonical),
        ];
        let char_edit = prop_oneof![
            (any::<Index>(), 1_u8..128).prop_map(|(at, delta)| CharEdit::Flip(at, delta)),
            (any::<Index>(), prop::char::range(' ', '~'))
                .prop_map(|(at, c)| CharEdit::Insert(at, c)),
            any::<Index>().prop_map(CharEdit::Delete),
        ];
        (
            prop::collection::vec(json_edit(HEADER_EDITS.len()), 0..3),
            prop::collection::vec(json_edit(CLAIM_EDITS.len()), 0..3),
            any::<bool>(),
            prop::bool::weighted(0.02),
            prop::collection::vec(segment_edit, 1..3),
            // Segment edits in one case in five and character edits in about one in seven, so
            // most tokens reach the JSON checks.
            prop::bool::weighted(0.2),
            prop::bool::weighted(0.15),
            prop::collection::vec(char_edit, 1..3),
        )
            .prop_map(
                |(
                    header,
                    claims,
                    spaced_json,
                    oversized,
                    segments,
                    keep_segments,
                    keep_chars,
                    chars,
                )| Plan {
                    header,
                    claims,
                    spaced_json,
                    oversized,
                    segments: if keep_segments { segments } else { Vec::new() },
                    chars: if keep_chars { chars } else { Vec::new() },
                },
            )
    }

    fn apply_json(
        members: &mut Vec<(String, String)>,
        edits: &[JsonEdit],
        pool: &dyn Fn(usize) -> (String, String),
    ) {
        for edit in edits {
            let len = members.len();
            match edit {
                JsonEdit::Set(i) => {
                    let (name, value) = pool(*i);
                    match members.iter_mut().find(|(n, _)| *n == name) {
                        Some(member) => member.1 = value,
                        None => members.push((name, value)),
                    }
                }
                JsonEdit::Append(i) => members.push(pool(*i)),
                JsonEdit::Remove(at) if len > 0 => {
                    members.remove(at.index(len));
                }
                JsonEdit::Duplicate(at) if len > 0 => {
                    let member = members[at.index(len)].clone();
                    members.push(member);
                }
                JsonEdit::Swap(a, b) if len > 0 => members.swap(a.index(len), b.index(len)),
                _ => {}
            }
        }
    }

    fn object(members: &[(String, String)], spaced: bool) -> String {
        let (separator, colon, open, close) = if spaced {
            (",\n  ", " : ", "{ ", " }")
        } else {
            (",", ":", "{", "}")
        };
        let body = members
            .iter()
            .map(|(name, value)| format!("{name}{colon}{value}"))
            .collect::<Vec<_>>()
            .join(separator);
        format!("{open}{body}{close}")
    }

    fn with_unused_bit_set(segment: &str) -> String {
        const ALPHABET: &[u8; 64] =
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        if segment.len().is_multiple_of(4) {
            return segment.to_owned();
        }
        let (head, last) = segment.split_at(segment.len() - 1);
        match ALPHABET.iter().position(|&c| c == last.as_bytes()[0]) {
            Some(index) => format!("{head}{}", char::from(ALPHABET[index ^ 1])),
            None => segment.to_owned(),
        }
    }

    fn edit_segment(segments: &mut [String; 3], edit: &SegmentEdit) {
        match edit {
            SegmentEdit::Whitespace(s, true, c) => segments[*s].insert(0, *c),
            SegmentEdit::Whitespace(s, false, c) => segments[*s].push(*c),
            SegmentEdit::Padding(s, n) => segments[*s].push_str(&"=".repeat(*n)),
            SegmentEdit::NonCanonical(s) => segments[*s] = with_unused_bit_set(&segments[*s]),
        }
    }

    fn build(plan: &Plan, now: i64) -> String {
        let mut header = vec![
            ("\"alg\"".to_owned(), "\"HS256\"".to_owned()),
            ("\"typ\"".to_owned(), "\"at+jwt\"".to_owned()),
        ];
        apply_json(&mut header, &plan.header, &|i| {
            let (name, value) = HEADER_EDITS[i];
            (name.to_owned(), value.to_owned())
        });
        let mut claims: Vec<(String, String)> = [
            ("iss", format!("\"{ISSUER}\"")),
            ("aud", format!("\"{AUDIENCE}\"")),
            ("sub", "\"3f8e2a6c-9b1d-4e7f-8a2b-5c6d7e8f9a0b\"".to_owned()),
            ("sid", "\"c1d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f\"".to_owned()),
            ("iat", (now - 10).to_string()),
            ("nbf", (now - 10).to_string()),
            ("exp", (now + 600).to_string()),
            ("jti", "\"AAAAAAAAAAAAAAAAAAAAAA\"".to_owned()),
            ("name", "\"Ada\"".to_owned()),
            ("roles", "[\"admin\",\"user\",\"ops\"]".to_owned()),
        ]
        .into_iter()
        .map(|(name, value)| (format!("\"{name}\""), value))
        .collect();
        apply_json(&mut claims, &plan.claims, &|i| {
            let (name, value) = CLAIM_EDITS[i];
            (name.to_owned(), value.text(now))
        });
        if plan.oversized {
            claims.push((
                "\"padding\"".to_owned(),
                format!("\"{}\"", "p".repeat(6200)),
            ));
        }
        let mut segments = [
            URL_SAFE_NO_PAD.encode(object(&header, plan.spaced_json)),
            URL_SAFE_NO_PAD.encode(object(&claims, plan.spaced_json)),
            String::new(),
        ];
        let (before_signing, on_signature): (Vec<_>, Vec<_>) =
            plan.segments.iter().partition(|edit| {
                !matches!(
                    edit,
                    SegmentEdit::Whitespace(2, ..)
                        | SegmentEdit::Padding(2, _)
                        | SegmentEdit::NonCanonical(2)
                )
            });
        for edit in before_signing {
            edit_segment(&mut segments, edit);
        }
        let signing_input = format!("{}.{}", segments[0], segments[1]);
        let tag = hmac::sign(
            &hmac::Key::new(hmac::HMAC_SHA256, SECRET),
            signing_input.as_bytes(),
        );
        segments[2] = URL_SAFE_NO_PAD.encode(tag.as_ref());
        for edit in on_signature {
            edit_segment(&mut segments, edit);
        }
        let mut token: Vec<char> = segments.join(".").chars().collect();
        for edit in &plan.chars {
            let len = token.len();
            match edit {
                CharEdit::Flip(at, delta) if len > 0 => {
                    let at = at.index(len);
                    let code = (u32::from(token[at]) + u32::from(*delta)) % 128;
                    token[at] = char::from_u32(code).unwrap_or('A');
                }
                CharEdit::Insert(at, c) => token.insert(at.index(len + 1), *c),
                CharEdit::Delete(at) if len > 0 => {
                    token.remove(at.index(len));
                }
                _ => {}
            }
        }
        token.into_iter().collect()
    }

    fn runner(seed: u8, cases: u32) -> TestRunner {
        let config = Config {
            cases,
            failure_persistence: None,
            ..Config::default()
        };
        // A fixed seed: the same cases on every run, so the tally printed is comparable.
        TestRunner::new_with_rng(
            config,
            TestRng::from_seed(RngAlgorithm::ChaCha, &[seed; 32]),
        )
    }

    /// Valid tokens edited: header and claims JSON changed and re-signed with the right key,
    /// segments padded, spaced or made non-canonical, characters flipped, inserted or deleted.
    #[test]
    fn edited_tokens_agree_with_jsonwebtoken() {
        let verifiers = Verifiers::new();
        // The unedited token is accepted by both, with the same claims.
        let unedited = build(
            &Plan {
                header: Vec::new(),
                claims: Vec::new(),
                spaced_json: false,
                oversized: false,
                segments: Vec::new(),
                chars: Vec::new(),
            },
            verifiers.now,
        );
        let tally = RefCell::new(Tally::default());
        compare(&verifiers, &unedited, &tally).unwrap();
        assert_eq!(tally.borrow().both_accept, 1);

        let started = Instant::now();
        let tally = RefCell::new(Tally::default());
        runner(7, EDITED_CASES)
            .run(&plan(), |plan| {
                let token = build(&plan, verifiers.now);
                compare(&verifiers, &token, &tally).map_err(TestCaseError::fail)
            })
            .unwrap();
        let tally = tally.into_inner();
        tally.print("edited", EDITED_CASES, started.elapsed());
        // The strategy must keep producing all three kinds of outcome.
        assert!(
            tally.both_accept > EDITED_CASES / 20,
            "too few valid tokens"
        );
        assert!(
            tally.both_reject > EDITED_CASES / 20,
            "too few invalid tokens"
        );
        assert!(
            tally.stricter.len() >= 10,
            "too few stricter rules exercised"
        );
    }

    /// Random text: printable noise, base64url-alphabet noise with dots, and arbitrary Unicode.
    #[test]
    fn random_strings_agree_with_jsonwebtoken() {
        let verifiers = Verifiers::new();
        let started = Instant::now();
        let tally = RefCell::new(Tally::default());
        let strategy = prop_oneof![
            "[ -~]{0,120}",
            "[A-Za-z0-9_=+/-]{0,40}\\.[A-Za-z0-9_=+/.-]{0,120}\\.[A-Za-z0-9_=+/-]{0,50}",
            any::<String>(),
            prop::collection::vec(any::<u8>(), 0..120)
                .prop_map(|bytes| String::from_utf8_lossy(&bytes).into_owned()),
        ];
        runner(11, RANDOM_CASES)
            .run(&strategy, |token| {
                compare(&verifiers, &token, &tally).map_err(TestCaseError::fail)
            })
            .unwrap();
        let tally = tally.into_inner();
        tally.print("random", RANDOM_CASES, started.elapsed());
        assert_eq!(tally.both_reject, RANDOM_CASES);
    }

    /// A token signed with the right key over exactly this header and these claims (`None`
    /// removes a claim, a name not yet there is appended, `extra` members are appended as is).
    fn witness(now: i64, header: &str, edits: &[(&str, Option<&str>)], extra: &str) -> String {
        let mut claims = vec![
            ("iss", format!("\"{ISSUER}\"")),
            ("aud", format!("\"{AUDIENCE}\"")),
            ("sub", "\"42\"".to_owned()),
            ("sid", "\"s-1\"".to_owned()),
            ("iat", (now - 10).to_string()),
            ("nbf", (now - 10).to_string()),
            ("exp", (now + 600).to_string()),
            ("jti", "\"AAAAAAAAAAAAAAAAAAAAAA\"".to_owned()),
            ("name", "\"Ada\"".to_owned()),
            ("roles", "[\"admin\"]".to_owned()),
        ];
        for (name, value) in edits {
            claims.retain(|(n, _)| n != name);
            if let Some(value) = value {
                claims.push((name, (*value).to_owned()));
            }
        }
        let body = claims
            .iter()
            .map(|(name, value)| format!("\"{name}\":{value}"))
            .collect::<Vec<_>>()
            .join(",");
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(format!("{{{body}{extra}}}"))
        );
        let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, SECRET), input.as_bytes());
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()))
    }

    /// One hand-made token per rule of [`STRICTER`]: `jsonwebtoken` accepts it and we refuse it
    /// with exactly that error; and one per rule of [`THEIRS_STRICTER`], the other way round.
    #[test]
    fn every_rule_in_the_tables_has_a_witness() {
        let v = Verifiers::new();
        let now = v.now;
        let ok = r#"{"alg":"HS256","typ":"at+jwt"}"#;
        let with = |member: &str| format!(r#"{{"alg":"HS256","typ":"at+jwt",{member}}}"#);
        let padding = format!(r#","padding":"{}""#, "p".repeat(6200));
        let future = (now + 600).to_string();
        let cases: Vec<(String, VerifyError)> = vec![
            (witness(now, ok, &[], &padding), VerifyError::TooLarge),
            (
                witness(now, r#"{"alg":"HS256","typ":"JWT"}"#, &[], ""),
                VerifyError::WrongTokenType,
            ),
            (
                witness(now, &with(r#""crit":["exp"]"#), &[], ""),
                VerifyError::UnknownCrit,
            ),
            (
                witness(now, &with(r#""jwk":{"kty":"oct","k":"AAAA"}"#), &[], ""),
                VerifyError::ForbiddenHeader("jwk"),
            ),
            (
                witness(
                    now,
                    &with(r#""jku":"https://evil.test/jwks.json""#),
                    &[],
                    "",
                ),
                VerifyError::ForbiddenHeader("jku"),
            ),
            (
                witness(now, &with(r#""x5u":"https://evil.test/c.pem""#), &[], ""),
                VerifyError::ForbiddenHeader("x5u"),
            ),
            (
                witness(now, &with(r#""x5c":["MIIB"]"#), &[], ""),
                VerifyError::ForbiddenHeader("x5c"),
            ),
            (
                witness(now, &with(r#""x5t":"abc""#), &[], ""),
                VerifyError::ForbiddenHeader("x5t"),
            ),
            (
                witness(now, &with(r#""x5t#S256":"abc""#), &[], ""),
                VerifyError::ForbiddenHeader("x5t#S256"),
            ),
            (
                witness(now, &with(r#""cty":"JWT""#), &[], ""),
                VerifyError::ForbiddenHeader("cty"),
            ),
            (
                witness(now, &with(r#""b64":false"#), &[], ""),
                VerifyError::ForbiddenHeader("b64"),
            ),
            (
                witness(now, &with(r#""enc":"A128GCM""#), &[], ""),
                VerifyError::ForbiddenHeader("enc"),
            ),
            (
                witness(now, &with(r#""zip":"DEF""#), &[], ""),
                VerifyError::ForbiddenHeader("zip"),
            ),
            (
                witness(now, &with(r#""url":"https://acme.test""#), &[], ""),
                VerifyError::ForbiddenHeader("url"),
            ),
            (
                witness(now, &with(r#""nonce":"n""#), &[], ""),
                VerifyError::ForbiddenHeader("nonce"),
            ),
            (
                witness(now, &with(r#""foo":"bar""#), &[], ""),
                VerifyError::ForbiddenHeader("unlisted member"),
            ),
            (
                witness(now, &with(r#""foo":1,"foo":2"#), &[], ""),
                VerifyError::Malformed("header has a duplicate member"),
            ),
            (
                witness(now, r#"{"alg":"HS256","typ":null}"#, &[], ""),
                VerifyError::Malformed("header typ is not a string"),
            ),
            (
                witness(now, &with(r#""kid":null"#), &[], ""),
                VerifyError::Malformed("header kid is not a string"),
            ),
            (
                witness(now, &with(r#""kid":"key-1""#), &[], ""),
                VerifyError::UnknownKey,
            ),
            (
                witness(now, ok, &[], r#","x":1,"x":2"#),
                VerifyError::InvalidClaims("claims have a duplicate member"),
            ),
            (
                witness(now, ok, &[("iat", None)], ""),
                VerifyError::InvalidClaims("iat is missing"),
            ),
            (
                witness(now, ok, &[("iat", Some("null"))], ""),
                VerifyError::InvalidClaims("iat must be a 64-bit integer"),
            ),
            (
                witness(now, ok, &[("iat", Some(&future))], ""),
                VerifyError::InvalidClaims("issued in the future"),
            ),
            (
                witness(now, ok, &[("sub", Some("\"\""))], ""),
                VerifyError::InvalidClaims("sub must be a non-empty string"),
            ),
            (
                witness(now, ok, &[("sid", None)], ""),
                VerifyError::InvalidClaims("sid is missing"),
            ),
            (
                witness(now, ok, &[("sid", Some("\"\""))], ""),
                VerifyError::InvalidClaims("sid must be a non-empty string"),
            ),
            (
                witness(now, ok, &[("jti", None)], ""),
                VerifyError::InvalidClaims("jti is missing"),
            ),
            (
                witness(now, ok, &[("jti", Some("null"))], ""),
                VerifyError::InvalidClaims("jti must be a non-empty string"),
            ),
            (
                witness(now, ok, &[("name", None)], ""),
                VerifyError::InvalidClaims("name is missing"),
            ),
            (
                witness(now, ok, &[("name", Some("null"))], ""),
                VerifyError::InvalidClaims("name must be a string"),
            ),
            (
                witness(now, ok, &[("roles", None)], ""),
                VerifyError::InvalidClaims("roles is missing"),
            ),
            (
                witness(now, ok, &[("roles", Some("null"))], ""),
                VerifyError::InvalidClaims("roles must be an array of strings"),
            ),
        ];
        for (token, expected) in &cases {
            assert_eq!(v.ours(token).as_ref().err(), Some(expected));
            assert!(
                v.theirs(token).is_some(),
                "jsonwebtoken rejects the {expected:?} witness"
            );
        }
        for (rule, _) in STRICTER {
            assert!(
                cases.iter().any(|(_, expected)| expected == rule),
                "{rule:?} has no witness"
            );
        }
        assert_eq!(cases.len(), STRICTER.len());

        let negative_nbf = witness(now, ok, &[("nbf", Some("-1"))], "");
        let ours = v.ours(&negative_nbf).unwrap();
        assert!(v.theirs(&negative_nbf).is_none());
        assert!((THEIRS_STRICTER[0].1)(&ours));
        assert_eq!(THEIRS_STRICTER.len(), 1);
    }

    /// Every rule in the table names a real rejection of ours, once each.
    #[test]
    fn stricter_rules_are_distinct_and_justified() {
        for (index, (rule, why)) in STRICTER.iter().enumerate() {
            assert!(!why.is_empty() && why.len() <= 120, "{rule:?}: {why}");
            assert!(
                !STRICTER[..index].iter().any(|(earlier, _)| earlier == rule),
                "{rule:?} listed twice"
            );
        }
    }
}
