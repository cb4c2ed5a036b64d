//! `TokenCodec::verify_cached` answers exactly as `verify` does, whatever the order of the
//! tokens and of the instants, and a remembered token lends nothing to its forgeries.

use std::sync::Arc;

use proptest::prelude::*;
use serde_json::json;

use super::support::*;
use crate::recent::CAPACITY;
use crate::{AccessClaims, SigningKey, TokenCodec, VerifyError};

fn both(codec: &TokenCodec, token: &str, now: i64) -> Result<AccessClaims, VerifyError> {
    let cached = codec.verify_cached(token, now).map(Arc::unwrap_or_clone);
    assert_eq!(cached, codec.verify(token, now), "at {now}");
    cached
}

/// A token with the given time claims, and a copy whose payload changed but whose signature
/// (so whose hashed tail) is the original's.
fn token_and_forgery(iat: i64, nbf: i64, exp: i64) -> (String, String) {
    let mut claims = claims();
    claims["iat"] = json!(iat);
    claims["nbf"] = json!(nbf);
    claims["exp"] = json!(exp);
    let token = forge(KEY, HEADER, claims.to_string());
    claims["roles"] = json!(["admin", "owner"]);
    let other = forge(KEY, HEADER, claims.to_string());
    let signature = token.rsplit_once('.').unwrap().1;
    let forgery = format!("{}.{signature}", other.rsplit_once('.').unwrap().0);
    (token, forgery)
}

#[test]
fn a_remembered_token_is_refused_once_expired_and_accepted_again_when_the_clock_goes_back() {
    let codec = codec();
    let (token, _) = token_and_forgery(NOW, NOW, NOW + 60);
    assert!(both(&codec, &token, NOW).is_ok());
    let expired_at = NOW + 60 + LEEWAY_I64;
    assert_eq!(
        both(&codec, &token, expired_at),
        Err(VerifyError::Expired {
            seconds_ago: LEEWAY_I64
        })
    );
    assert!(both(&codec, &token, expired_at - 1).is_ok());
    assert!(matches!(
        both(&codec, &token, NOW - LEEWAY_I64 - 1),
        Err(VerifyError::NotYetValid { .. })
    ));
}

#[test]
fn a_forgery_sharing_a_remembered_tokens_signature_is_refused() {
    let codec = codec();
    let (token, forgery) = token_and_forgery(NOW, NOW, NOW + 60);
    assert!(both(&codec, &token, NOW).is_ok());
    assert_eq!(both(&codec, &forgery, NOW), Err(VerifyError::BadSignature));
    let truncated = &token[..token.len() - 1];
    assert!(both(&codec, truncated, NOW).is_err());
}

#[test]
fn another_key_remembers_nothing_and_clones_share_the_memory() {
    let codec = codec();
    let (token, _) = token_and_forgery(NOW, NOW, NOW + 60);
    assert!(codec.verify_cached(&token, NOW).is_ok());
    let other = TokenCodec::new(
        SigningKey::from_bytes(b"another-key-another-key-another!").unwrap(),
        rules(),
    )
    .unwrap();
    assert_eq!(
        other.verify_cached(&token, NOW),
        Err(VerifyError::BadSignature)
    );
    let clone = codec.clone();
    let first = codec.verify_cached(&token, NOW).unwrap();
    let again = clone.verify_cached(&token, NOW).unwrap();
    assert!(
        Arc::ptr_eq(&first, &again),
        "the clone answered from memory"
    );
}

#[test]
fn memory_is_bounded_and_debug_shows_no_token() {
    let codec = codec();
    let tokens: Vec<String> = (0..=CAPACITY)
        .map(|i| {
            let i = i64::try_from(i).unwrap();
            token_and_forgery(NOW - i, NOW - i, NOW + 600).0
        })
        .collect();
    for token in &tokens {
        assert!(codec.verify_cached(token, NOW).is_ok());
    }
    let debug = format!("{codec:?}");
    assert!(debug.contains("entries: 1,"), "cleared when full: {debug}");
    for token in &tokens {
        let signature = token.rsplit_once('.').unwrap().1;
        assert!(!debug.contains(signature));
    }
}

/// The instants that matter for a token: every boundary of `exp`, `nbf` and `iat` with the
/// leeway, one second either side.
fn boundaries(iat: i64, nbf: i64, exp: i64) -> Vec<i64> {
    [exp - LEEWAY_I64, nbf + LEEWAY_I64, iat + LEEWAY_I64]
        .into_iter()
        .flat_map(|edge| [edge - 1, edge, edge + 1])
        .flat_map(|edge| [edge - LEEWAY_I64, edge, edge + LEEWAY_I64])
        .collect()
}

proptest! {
    #[test]
    fn verify_cached_answers_as_verify_does(
        times in prop::collection::vec((-200_i64..200, -200_i64..200, -200_i64..400), 1..4),
        picks in prop::collection::vec((0_usize..64, 0_usize..64, any::<bool>()), 1..60),
    ) {
        let codec = codec();
        let tokens: Vec<(String, String, Vec<i64>)> = times
            .iter()
            .map(|&(iat, nbf, exp)| {
                let (iat, nbf, exp) = (NOW + iat, NOW + nbf, NOW + exp);
                let (token, forgery) = token_and_forgery(iat, nbf, exp);
                (token, forgery, boundaries(iat, nbf, exp))
            })
            .collect();
        for (which, when, forged) in picks {
            let (token, forgery, instants) = &tokens[which % tokens.len()];
            let now = instants[when % instants.len()];
            let presented = if forged { forgery } else { token };
            let _ = both(&codec, presented, now);
        }
    }
}
