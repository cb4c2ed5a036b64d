//! Key sets through `TokenCodec`: every algorithm issues and verifies; `kid` selects the key and
//! the key pins the algorithm (algorithm confusion, kid/key mismatch, unknown and missing kids);
//! ES256 takes only `R || S`; rotation and verify-only sets.

use aws_lc_rs::{hmac, rand::SystemRandom, signature};
use serde_json::json;

use super::support::*;
use crate::{
    Algorithm, IssueError, KeyError, KeySet, SigningKey, Subject, TokenCodec, VerifyError,
    VerifyingKey,
};

const ASYMMETRIC: [Algorithm; 3] = [Algorithm::EdDsa, Algorithm::Es256, Algorithm::Rs256];

fn subject_roles() -> Vec<String> {
    vec!["admin".to_owned()]
}

fn issue(codec: &TokenCodec) -> String {
    let roles = subject_roles();
    let subject = Subject {
        id: "42",
        session_id: SESSION_ID,
        name: "Ada",
        roles: &roles,
    };
    codec.issue(subject, NOW, 600).unwrap().token
}

/// A token over any header, signed by `key` (the crate's own signing primitive).
fn signed_by(key: &SigningKey, header: &serde_json::Value) -> String {
    let input = format!("{}.{}", b64(header.to_string()), b64(claims().to_string()));
    let signature = key.sign(input.as_bytes()).unwrap();
    format!("{input}.{}", b64(signature))
}

fn codec_for(keys: KeySet) -> TokenCodec {
    TokenCodec::new(keys, rules()).unwrap()
}

#[test]
fn every_algorithm_issues_and_verifies() {
    for alg in ASYMMETRIC {
        let key = SigningKey::generate(alg).unwrap();
        let codec = codec_for(KeySet::from(key.clone()));
        let token = issue(&codec);
        let header = b64(format!(
            r#"{{"alg":"{alg}","typ":"at+jwt","kid":"{}"}}"#,
            key.kid()
        ));
        assert!(token.starts_with(&format!("{header}.")), "{alg}");
        assert_eq!(codec.verify(&token, NOW).unwrap().sub, "42", "{alg}");
        assert_eq!(codec.verify_cached(&token, NOW).unwrap().sub, "42");
        assert_eq!(codec.verify_cached(&token, NOW).unwrap().sub, "42");
        assert!(codec.self_test().is_ok(), "{alg}");
        // The same claims under a re-ordered header take the general path and still verify.
        let reordered = signed_by(
            &key,
            &json!({"kid": key.kid(), "typ": "at+jwt", "alg": alg.as_str()}),
        );
        assert!(codec.verify(&reordered, NOW).is_ok(), "{alg}");
        // Tampering is caught.
        let (input, signature) = token.rsplit_once('.').unwrap();
        let flipped = format!(
            "{}{}",
            if signature.starts_with('A') { "B" } else { "A" },
            &signature[1..]
        );
        assert_eq!(
            codec.verify(&format!("{input}.{flipped}"), NOW),
            Err(VerifyError::BadSignature),
            "{alg}"
        );
    }
}

#[test]
fn a_token_signed_by_one_key_under_anothers_kid_is_refused() {
    for alg in ASYMMETRIC {
        let x = SigningKey::generate(alg).unwrap();
        let y = SigningKey::generate(alg).unwrap();
        let codec = codec_for(KeySet::new(x.clone(), vec![y.verifying_key()]).unwrap());
        let forged = signed_by(
            &x,
            &json!({"alg": alg.as_str(), "typ": "at+jwt", "kid": y.kid()}),
        );
        assert_eq!(
            codec.verify(&forged, NOW),
            Err(VerifyError::BadSignature),
            "{alg}"
        );
        // Y's own token under Y's kid verifies (Y is a verifying key of the set).
        let genuine = signed_by(
            &y,
            &json!({"alg": alg.as_str(), "typ": "at+jwt", "kid": y.kid()}),
        );
        assert!(codec.verify(&genuine, NOW).is_ok(), "{alg}");
    }
    // Across algorithms: an EdDSA signature under an ES256 key's kid fails on the algorithm.
    let ed = SigningKey::generate(Algorithm::EdDsa).unwrap();
    let es = SigningKey::generate(Algorithm::Es256).unwrap();
    let codec = codec_for(KeySet::new(ed.clone(), vec![es.verifying_key()]).unwrap());
    let forged = signed_by(
        &ed,
        &json!({"alg": "EdDSA", "typ": "at+jwt", "kid": es.kid()}),
    );
    assert_eq!(
        codec.verify(&forged, NOW),
        Err(VerifyError::UnsupportedAlgorithm)
    );
}

/// The classic algorithm-confusion attack: take the server's public key, use its bytes as an HMAC
/// secret, and send `alg: HS256` with the public key's kid. Every encoding of the public key an
/// attacker might try is refused, because the kid's key verifies only its own algorithm.
#[test]
fn algorithm_confusion_with_the_public_key_as_hmac_secret_is_refused() {
    for alg in ASYMMETRIC {
        let key = SigningKey::generate(alg).unwrap();
        let codec = codec_for(KeySet::from(key.clone()));
        let jwk = key.verifying_key().to_jwk().unwrap();
        let mut secrets: Vec<Vec<u8>> = vec![
            jwk.to_string().into_bytes(),
            crate::jwk_set(&[key.verifying_key()])
                .to_string()
                .into_bytes(),
        ];
        for member in ["x", "y", "n"] {
            if let Some(value) = jwk.get(member).and_then(|v| v.as_str()) {
                secrets.push(value.as_bytes().to_vec());
                secrets.push(
                    base64::Engine::decode(
                        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
                        value,
                    )
                    .unwrap(),
                );
            }
        }
        for secret in secrets {
            for header in [
                json!({"alg": "HS256", "typ": "at+jwt", "kid": key.kid()}),
                json!({"alg": "HS256", "typ": "at+jwt"}),
            ] {
                let input = format!("{}.{}", b64(header.to_string()), b64(claims().to_string()));
                let tag = hmac::sign(
                    &hmac::Key::new(hmac::HMAC_SHA256, &secret),
                    input.as_bytes(),
                );
                let token = format!("{input}.{}", b64(tag.as_ref()));
                let expected = if header.get("kid").is_some() {
                    VerifyError::UnsupportedAlgorithm
                } else {
                    VerifyError::UnknownKey
                };
                assert_eq!(codec.verify(&token, NOW), Err(expected), "{alg} {header}");
            }
        }
        // And through the single-key API the known-answer tests use.
        let input = format!(
            "{}.{}",
            b64(json!({"alg": "HS256", "typ": "at+jwt"}).to_string()),
            b64(claims().to_string())
        );
        let tag = hmac::sign(
            &hmac::Key::new(hmac::HMAC_SHA256, jwk.to_string().as_bytes()),
            input.as_bytes(),
        );
        assert_eq!(
            crate::verify_signature(
                &key.verifying_key(),
                &format!("{input}.{}", b64(tag.as_ref()))
            ),
            Err(VerifyError::UnsupportedAlgorithm)
        );
    }
}

#[test]
fn unknown_and_missing_kids() {
    let ed = SigningKey::generate(Algorithm::EdDsa).unwrap();
    let eddsa = codec_for(KeySet::from(ed.clone()));
    let unknown = signed_by(
        &ed,
        &json!({"alg": "EdDSA", "typ": "at+jwt", "kid": "nobody"}),
    );
    assert_eq!(eddsa.verify(&unknown, NOW), Err(VerifyError::UnknownKey));
    assert_eq!(VerifyError::UnknownKey.reason(), "unknown_key");
    // No kid: never against an asymmetric key, even one that made the signature.
    let no_kid = signed_by(&ed, &json!({"alg": "EdDSA", "typ": "at+jwt"}));
    assert_eq!(eddsa.verify(&no_kid, NOW), Err(VerifyError::UnknownKey));

    // No kid against an HS256 signing key: accepted (tokens from before kids existed), in the
    // exact legacy header and in any equivalent one.
    assert!(codec().verify(&good_token(), NOW).is_ok());
    let spaced = signed(
        "{ \"alg\":\"HS256\", \"typ\":\"at+jwt\" }",
        claims().to_string(),
    );
    assert!(codec().verify(&spaced, NOW).is_ok());

    // ... but not against an HS256 key that only verifies (a previous secret): only the signing
    // key takes kid-less tokens.
    let hs = SigningKey::from_bytes(KEY).unwrap();
    let rotated = codec_for(KeySet::new(ed, vec![hs.verifying_key()]).unwrap());
    assert_eq!(
        rotated.verify(&good_token(), NOW),
        Err(VerifyError::UnknownKey)
    );
    let with_kid = signed(
        json!({"alg": "HS256", "typ": "at+jwt", "kid": hs.kid()}).to_string(),
        claims().to_string(),
    );
    assert!(
        rotated.verify(&with_kid, NOW).is_ok(),
        "a previous secret verifies by kid"
    );
}

/// ES256 signatures are the 64-byte `R || S` of RFC 7518 §3.4; the DER (ASN.1) form that many
/// libraries produce is refused, whatever its content.
#[test]
fn es256_der_signatures_are_refused() {
    let key = SigningKey::generate(Algorithm::Es256).unwrap();
    let der_signer = signature::EcdsaKeyPair::from_pkcs8(
        &signature::ECDSA_P256_SHA256_ASN1_SIGNING,
        &key.to_pkcs8_der().unwrap(),
    )
    .unwrap();
    let codec = codec_for(KeySet::from(key.clone()));
    let token = issue(&codec);
    let (input, _) = token.rsplit_once('.').unwrap();
    let der = der_signer
        .sign(&SystemRandom::new(), input.as_bytes())
        .unwrap();
    assert_ne!(der.as_ref().len(), 64);
    assert_eq!(der.as_ref()[0], 0x30, "a DER SEQUENCE");
    assert_eq!(
        codec.verify(&format!("{input}.{}", b64(der.as_ref())), NOW),
        Err(VerifyError::BadSignature)
    );
    // The same key's R || S over the same input verifies: only the encoding differed.
    let fixed = key.sign(input.as_bytes()).unwrap();
    assert!(
        codec
            .verify(&format!("{input}.{}", b64(fixed)), NOW)
            .is_ok()
    );
}

#[test]
fn rotation_keeps_retired_keys_verifying_and_new_tokens_use_the_new_key() {
    let old = SigningKey::generate(Algorithm::EdDsa).unwrap();
    let old_token = issue(&codec_for(KeySet::from(old.clone())));
    let new = SigningKey::generate(Algorithm::Es256).unwrap();
    let codec = codec_for(KeySet::new(new.clone(), vec![old.verifying_key()]).unwrap());
    assert!(codec.verify(&old_token, NOW).is_ok());
    let new_token = issue(&codec);
    assert!(new_token.starts_with(&b64(format!(
        r#"{{"alg":"ES256","typ":"at+jwt","kid":"{}"}}"#,
        new.kid()
    ))));
    // Once the old key is gone, its tokens name an unknown key.
    let later = codec_for(KeySet::from(new));
    assert_eq!(later.verify(&old_token, NOW), Err(VerifyError::UnknownKey));
    assert!(later.verify(&new_token, NOW).is_ok());
}

#[test]
fn key_sets_refuse_duplicate_kids_and_verify_only_sets_cannot_issue() {
    let a = SigningKey::generate(Algorithm::EdDsa).unwrap();
    let b = SigningKey::generate(Algorithm::EdDsa).unwrap();
    assert_eq!(
        KeySet::new(a.clone(), vec![a.verifying_key()]).unwrap_err(),
        KeyError::DuplicateKid {
            kid: a.kid().to_owned()
        }
    );
    assert_eq!(
        KeySet::verify_only(vec![
            b.verifying_key(),
            a.verifying_key(),
            b.verifying_key()
        ])
        .unwrap_err(),
        KeyError::DuplicateKid {
            kid: b.kid().to_owned()
        }
    );
    let set = KeySet::new(a.clone(), vec![b.verifying_key()]).unwrap();
    let kids: Vec<&str> = set.verifying().map(VerifyingKey::kid).collect();
    assert_eq!(kids, [a.kid(), b.kid()]);
    assert_eq!(set.signing().unwrap().kid(), a.kid());

    let token = issue(&codec_for(set));
    let verifier =
        codec_for(KeySet::verify_only(vec![b.verifying_key(), a.verifying_key()]).unwrap());
    assert!(verifier.verify(&token, NOW).is_ok());
    assert!(verifier.keys().signing().is_none());
    let roles = subject_roles();
    let subject = Subject {
        id: "1",
        session_id: "s",
        name: "n",
        roles: &roles,
    };
    assert_eq!(
        verifier.issue(subject, NOW, 60).unwrap_err(),
        IssueError::NoSigningKey
    );
    // A verify-only set takes no kid-less token, even an HS256 one.
    let hs_only = codec_for(
        KeySet::verify_only(vec![SigningKey::from_bytes(KEY).unwrap().verifying_key()]).unwrap(),
    );
    assert_eq!(
        hs_only.verify(&good_token(), NOW),
        Err(VerifyError::UnknownKey)
    );
}

#[test]
fn key_set_and_codec_debug_show_no_material() {
    let keys: Vec<SigningKey> = ASYMMETRIC
        .into_iter()
        .map(|alg| SigningKey::generate(alg).unwrap())
        .collect();
    let hs = SigningKey::from_bytes(b"Sup3r-S3cret-Key-Material-0xDEADBEEF").unwrap();
    let mut verifying: Vec<VerifyingKey> =
        keys[1..].iter().map(SigningKey::verifying_key).collect();
    verifying.push(hs.verifying_key());
    let set = KeySet::new(keys[0].clone(), verifying).unwrap();
    let codec = codec_for(set.clone());
    for output in [format!("{set:?}"), format!("{codec:#?}")] {
        assert!(!output.contains("Sup3r"), "{output}");
        for key in &keys {
            assert!(output.contains(key.kid()), "{output}");
            let jwk = key.verifying_key().to_jwk().unwrap();
            for member in ["x", "n"] {
                if let Some(value) = jwk.get(member).and_then(|v| v.as_str()) {
                    assert!(!output.contains(&value[..12]), "{output}");
                }
            }
        }
    }
}

/// The header allow-list holds on the kid path too: with a valid kid of an EdDSA key and a
/// genuine EdDSA signature, every hostile header is refused with the same error as without kid.
#[test]
fn hostile_headers_are_refused_before_the_kid_is_looked_up() {
    let key = SigningKey::generate(Algorithm::EdDsa).unwrap();
    let codec = codec_for(KeySet::from(key.clone()));
    let kid = key.kid();
    let cases = [
        (
            json!({"alg": "EdDSA", "typ": "at+jwt", "kid": kid, "crit": ["exp"]}),
            VerifyError::UnknownCrit,
        ),
        (
            json!({"alg": "EdDSA", "typ": "at+jwt", "kid": kid, "jwk": {"kty": "OKP"}}),
            VerifyError::ForbiddenHeader("jwk"),
        ),
        (
            json!({"alg": "EdDSA", "typ": "at+jwt", "kid": kid, "jku": "https://evil.test"}),
            VerifyError::ForbiddenHeader("jku"),
        ),
        (
            json!({"alg": "EdDSA", "typ": "at+jwt", "kid": kid, "x5c": ["MIIB"]}),
            VerifyError::ForbiddenHeader("x5c"),
        ),
        (
            json!({"alg": "none", "typ": "at+jwt", "kid": kid}),
            VerifyError::UnsupportedAlgorithm,
        ),
        (
            json!({"alg": "Ed25519", "typ": "at+jwt", "kid": kid}),
            VerifyError::UnsupportedAlgorithm,
        ),
        (
            json!({"alg": "EdDSA", "typ": "JWT", "kid": kid}),
            VerifyError::WrongTokenType,
        ),
        (
            json!({"alg": "EdDSA", "typ": "at+jwt", "kid": 1}),
            VerifyError::Malformed("header kid is not a string"),
        ),
        (
            json!({"typ": "at+jwt", "kid": kid}),
            VerifyError::Malformed("header has no alg member"),
        ),
    ];
    for (header, expected) in cases {
        let token = signed_by(&key, &header);
        assert_eq!(codec.verify(&token, NOW), Err(expected), "{header}");
    }
    let unsigned = format!(
        "{}.{}.",
        b64(json!({"alg": "EdDSA", "typ": "at+jwt", "kid": kid}).to_string()),
        b64(claims().to_string())
    );
    assert_eq!(
        codec.verify(&unsigned, NOW),
        Err(VerifyError::Malformed("signature segment is empty"))
    );
}
