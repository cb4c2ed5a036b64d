//! Issuing: shape, lifetime, refusals, rules, self-test, `Debug` hygiene, and properties.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use super::support::*;
use crate::{
    IssueError, MAX_TOKEN_BYTES, RulesError, SigningKey, Subject, TokenCodec, TokenRules,
    VerifyError,
};
use proptest::prelude::*;

#[test]
fn issued_tokens_have_the_documented_shape() {
    let roles = vec!["admin".to_owned(), "user".to_owned()];
    let subject = Subject {
        id: "42",
        session_id: "0f8e-session",
        name: "Ada Lovelace",
        roles: &roles,
    };
    let issued = codec().issue(subject, NOW, 900).unwrap();
    let mut parts = issued.token.split('.');
    let header = URL_SAFE_NO_PAD.decode(parts.next().unwrap()).unwrap();
    let kid = SigningKey::from_bytes(KEY).unwrap().kid().to_owned();
    assert_eq!(
        String::from_utf8(header).unwrap(),
        format!(r#"{{"alg":"HS256","typ":"at+jwt","kid":"{kid}"}}"#)
    );
    let payload_bytes = URL_SAFE_NO_PAD.decode(parts.next().unwrap()).unwrap();
    let payload: Value = serde_json::from_slice(&payload_bytes).unwrap();
    assert_eq!(
        payload,
        json!({"iss": ISSUER, "aud": AUDIENCE, "sub": "42", "sid": "0f8e-session", "iat": NOW,
               "nbf": NOW, "exp": NOW + 900, "jti": issued.claims.jti, "name": "Ada Lovelace",
               "roles": ["admin", "user"]})
    );
    // Member order follows the struct: iss, aud, sub, sid, iat, nbf, exp, jti, name, roles.
    assert_eq!(
        String::from_utf8(payload_bytes).unwrap(),
        format!(
            concat!(
                r#"{{"iss":"{}","aud":"{}","sub":"42","sid":"0f8e-session","iat":{},"nbf":{},"#,
                r#""exp":{},"jti":"{}","name":"Ada Lovelace","roles":["admin","user"]}}"#
            ),
            ISSUER,
            AUDIENCE,
            NOW,
            NOW,
            NOW + 900,
            issued.claims.jti
        )
    );
    assert_eq!(issued.claims.sid, "0f8e-session");
    assert_eq!(
        URL_SAFE_NO_PAD.decode(parts.next().unwrap()).unwrap().len(),
        32
    );
    assert_eq!(issued.claims.jti.len(), 22);
    assert_eq!(
        URL_SAFE_NO_PAD.decode(&issued.claims.jti).unwrap().len(),
        16
    );
    let again = codec().issue(subject, NOW, 900).unwrap();
    assert_ne!(again.claims.jti, issued.claims.jti);
    assert_ne!(again.token, issued.token);
}

#[test]
fn issued_tokens_verify_until_exp_plus_leeway() {
    let codec = codec();
    let roles = vec!["user".to_owned()];
    let subject = Subject {
        id: "7",
        session_id: "session-7",
        name: "Bob",
        roles: &roles,
    };
    let issued = codec.issue(subject, NOW, 60).unwrap();
    assert_eq!(codec.verify(&issued.token, NOW).unwrap().sid, "session-7");
    for now in [NOW - LEEWAY_I64, NOW, NOW + 59, NOW + 60 + LEEWAY_I64 - 1] {
        assert_eq!(
            codec.verify(&issued.token, now),
            Ok(issued.claims.clone()),
            "now = {now}"
        );
    }
    assert_eq!(
        codec.verify(&issued.token, NOW + 60 + LEEWAY_I64),
        Err(VerifyError::Expired {
            seconds_ago: LEEWAY_I64
        })
    );
    assert_eq!(
        codec.verify(&issued.token, NOW - LEEWAY_I64 - 1),
        Err(VerifyError::NotYetValid {
            seconds_until: LEEWAY_I64 + 1
        })
    );
    // Another key, or another codec with other rules, refuses it: the other key's kid differs,
    // so the token names no key it has; with the kid removed, the MAC is what fails.
    let other_key =
        TokenCodec::new(SigningKey::from_bytes(b"another-key").unwrap(), rules()).unwrap();
    assert_eq!(
        other_key.verify(&issued.token, NOW),
        Err(VerifyError::UnknownKey)
    );
    let (_, rest) = issued.token.split_once('.').unwrap();
    let without_kid = format!("{}.{rest}", b64(HEADER));
    assert_eq!(
        other_key.verify(&without_kid, NOW),
        Err(VerifyError::BadSignature)
    );
    let mut other_rules = rules();
    other_rules.audience = "another-api".into();
    let other_audience =
        TokenCodec::new(SigningKey::from_bytes(KEY).unwrap(), other_rules).unwrap();
    assert_eq!(
        other_audience.verify(&issued.token, NOW),
        Err(VerifyError::WrongAudience)
    );
}

#[test]
fn issue_refuses_bad_input() {
    let codec = codec();
    let roles: Vec<String> = Vec::new();
    let subject = |id| Subject {
        id,
        session_id: "s",
        name: "n",
        roles: &roles,
    };
    assert_eq!(
        codec.issue(subject(""), NOW, 60).unwrap_err(),
        IssueError::EmptySubject
    );
    let no_session = Subject {
        session_id: "",
        ..subject("1")
    };
    assert_eq!(
        codec.issue(no_session, NOW, 60).unwrap_err(),
        IssueError::EmptySessionId
    );
    assert_eq!(
        IssueError::EmptySessionId.to_string(),
        "token session id must not be empty"
    );
    assert_eq!(
        codec.issue(subject("1"), NOW, 0).unwrap_err(),
        IssueError::InvalidLifetime {
            lifetime_seconds: 0
        }
    );
    assert_eq!(
        codec.issue(subject("1"), NOW, -5).unwrap_err(),
        IssueError::InvalidLifetime {
            lifetime_seconds: -5
        }
    );
    assert_eq!(
        codec.issue(subject("1"), i64::MAX, 1).unwrap_err(),
        IssueError::TimeOverflow
    );
    let many_roles = vec!["r".repeat(100); 80];
    let big = Subject {
        id: "1",
        session_id: "s",
        name: "n",
        roles: &many_roles,
    };
    assert!(matches!(
        codec.issue(big, NOW, 60),
        Err(IssueError::TooLarge {
            max: MAX_TOKEN_BYTES,
            ..
        })
    ));
}

#[test]
fn rules_are_validated() {
    let key = || SigningKey::from_bytes(KEY).unwrap();
    let with = |issuer: &str, audience: &str, leeway_seconds| TokenRules {
        issuer: issuer.into(),
        audience: audience.into(),
        leeway_seconds,
    };
    assert_eq!(
        TokenCodec::new(key(), with("", "a", 0)).unwrap_err(),
        RulesError::EmptyIssuer
    );
    assert_eq!(
        TokenCodec::new(key(), with("i", "", 0)).unwrap_err(),
        RulesError::EmptyAudience
    );
    assert_eq!(
        TokenCodec::new(key(), with("i", "a", 61)).unwrap_err(),
        RulesError::LeewayTooLarge {
            leeway_seconds: 61,
            max: 60
        }
    );
    let codec = TokenCodec::new(key(), with("i", "a", 60)).unwrap();
    assert_eq!(codec.rules(), &with("i", "a", 60));
}

#[test]
fn self_test_passes_with_a_working_backend() {
    assert_eq!(codec().self_test(), Ok(()));
    let one_byte = TokenCodec::new(SigningKey::from_bytes(b"k").unwrap(), rules()).unwrap();
    assert_eq!(one_byte.self_test(), Ok(()));
}

#[test]
fn debug_output_contains_no_key_material() {
    let secret = b"Sup3r-S3cret-Key-Material-0xDEADBEEF";
    let key = SigningKey::from_bytes(secret).unwrap();
    let codec = TokenCodec::new(key.clone(), rules()).unwrap();
    let roles = vec!["admin".to_owned()];
    let issued = codec
        .issue(
            Subject {
                id: "1",
                session_id: "s",
                name: "n",
                roles: &roles,
            },
            NOW,
            60,
        )
        .unwrap();
    let secret_text = std::str::from_utf8(secret).unwrap();
    let forbidden = [
        secret_text.to_owned(),
        "Sup3r".to_owned(),
        format!("{:?}", &secret[..8]),
        secret[..8].iter().map(|b| format!("{b:02x}")).collect(),
        b64(secret),
        issued.token.clone(),
        issued.token.rsplit('.').next().unwrap().to_owned(),
    ];
    let outputs = [
        format!("{key:?}"),
        format!("{key:#?}"),
        format!("{codec:?}"),
        format!("{codec:#?}"),
        format!("{issued:?}"),
    ];
    for output in &outputs {
        for needle in &forbidden {
            assert!(
                !output.contains(needle.as_str()),
                "{output} contains {needle}"
            );
        }
    }
    let expected = format!(r#"SigningKey {{ alg: "HS256", kid: "{}" }}"#, key.kid());
    assert_eq!(outputs[0], expected);
    assert!(outputs[2].contains(&expected), "{}", outputs[2]);
    assert!(outputs[4].contains("<redacted>"));
}

proptest! {
    #[test]
    fn issue_then_verify_round_trips(
        id in "[A-Za-z0-9-]{1,36}",
        session_id in "\\PC{1,40}",
        name in "\\PC{0,40}",
        roles in proptest::collection::vec("\\PC{0,16}", 0..6),
        lifetime in 1_i64..86_400,
        offset in 0_i64..86_400,
    ) {
        let codec = codec();
        let now = NOW + offset;
        let subject = Subject { id: &id, session_id: &session_id, name: &name, roles: &roles };
        let issued = codec.issue(subject, now, lifetime).unwrap();
        let verified = codec.verify(&issued.token, now).unwrap();
        prop_assert_eq!(&verified, &issued.claims);
        prop_assert_eq!(&verified.sub, &id);
        prop_assert_eq!(&verified.sid, &session_id);
        prop_assert_eq!(&verified.name, &name);
        prop_assert_eq!(&verified.roles, &roles);
        prop_assert_eq!(verified.exp, now + lifetime);
    }

    #[test]
    fn any_single_byte_substitution_is_rejected(
        index in any::<proptest::sample::Index>(),
        delta in 1_u8..128,
    ) {
        let codec = codec();
        let roles = vec!["admin".to_owned()];
        let subject = Subject { id: "42", session_id: "s-1", name: "Ada", roles: &roles };
        let issued = codec.issue(subject, NOW, 600).unwrap();
        let mut bytes = issued.token.into_bytes();
        let at = index.index(bytes.len());
        bytes[at] = (bytes[at] + delta) % 128;
        let mutated = String::from_utf8(bytes).unwrap();
        prop_assert!(codec.verify(&mutated, NOW).is_err(), "accepted after changing byte {}", at);
    }

    #[test]
    fn any_single_byte_insertion_or_deletion_is_rejected(
        index in any::<proptest::sample::Index>(),
        inserted in 0_u8..128,
        delete in any::<bool>(),
    ) {
        let codec = codec();
        let roles = vec!["admin".to_owned()];
        let subject = Subject { id: "42", session_id: "s-1", name: "Ada", roles: &roles };
        let issued = codec.issue(subject, NOW, 600).unwrap();
        let mut bytes = issued.token.into_bytes();
        if delete {
            bytes.remove(index.index(bytes.len()));
        } else {
            bytes.insert(index.index(bytes.len() + 1), inserted);
        }
        let mutated = String::from_utf8(bytes).unwrap();
        prop_assert!(codec.verify(&mutated, NOW).is_err());
    }
}
