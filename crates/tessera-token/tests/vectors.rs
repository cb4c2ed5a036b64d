//! Known-answer and interoperability tests through the public API only: Wycheproof's JWS vectors
//! for every HS256 key, and round trips with the `jsonwebtoken` crate.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;
use tessera_token::{
    AccessClaims, SigningKey, Subject, TokenCodec, TokenRules, VerifyError, verify_signature,
};

const WYCHEPROOF: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/vectors/wycheproof_json_web_signature_test.json"
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
