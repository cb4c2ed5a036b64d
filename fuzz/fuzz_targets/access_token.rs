//! The access-token verifier: `TokenCodec::verify` and `TokenCodec::verify_cached` under one
//! fixed key, fixed rules and fixed instants must never panic and must always agree.
//!
//! The first byte chooses how the rest becomes a token, so the fuzzer reaches past the MAC:
//! - `0 mod 3`: the rest is the token text itself (lossily UTF-8);
//! - `1 mod 3`: the rest is claims JSON, signed under the fixed key with the header tessera
//!   issues (`{"alg":"HS256","typ":"at+jwt"}`);
//! - `2 mod 3`: the next byte is the length of a header JSON, followed by that header and the
//!   claims; both are signed under the fixed key.
#![no_main]

use aws_lc_rs::hmac;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use libfuzzer_sys::fuzz_target;
use tessera_token::{SigningKey, TokenCodec, TokenRules};

/// The key every seed token is signed with (`fuzz/seeds.py` uses the same one).
const KEY: &[u8] = b"tessera-fuzz-key-0123456789abcdef";
/// The instant the seed tokens are valid at.
const NOW: i64 = 1_700_000_000;
/// Other instants checked on the remembered path: before, after, and the extremes.
const LATER: [i64; 6] = [
    NOW,
    NOW - 3_600,
    NOW + 86_400,
    NOW + 400_000_000,
    i64::MIN,
    i64::MAX,
];
const ISSUED_HEADER: &[u8] = br#"{"alg":"HS256","typ":"at+jwt"}"#;

fn codec() -> TokenCodec {
    let key = SigningKey::from_bytes(KEY).expect("fixed key");
    let rules = TokenRules {
        issuer: "https://tessera.test".to_owned(),
        audience: "tessera-api".to_owned(),
        leeway_seconds: 30,
    };
    TokenCodec::new(key, rules).expect("fixed rules")
}

fn sign(header: &[u8], claims: &[u8]) -> String {
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(claims)
    );
    let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, KEY), input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()))
}

fn token_from(data: &[u8]) -> Option<String> {
    let (&mode, rest) = data.split_first()?;
    Some(match mode % 3 {
        0 => String::from_utf8_lossy(rest).into_owned(),
        1 => sign(ISSUED_HEADER, rest),
        _ => {
            let (&len, rest) = rest.split_first()?;
            let (header, claims) = rest.split_at(usize::from(len).min(rest.len()));
            sign(header, claims)
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let Some(token) = token_from(data) else {
        return;
    };
    // A fresh codec per input, so a failure reproduces from its input alone.
    let codec = codec();
    let first = codec.verify(&token, NOW);
    if let Err(error) = &first {
        let shown = format!("{error} {error:?} {}", error.reason());
        assert!(
            token.len() < 16 || !shown.contains(&token),
            "an error shows the token"
        );
    }
    // A miss, then (when it verified) hits at the same and at other instants.
    for now in [NOW, NOW].into_iter().chain(LATER) {
        let full = codec.verify(&token, now);
        let cached = codec
            .verify_cached(&token, now)
            .map(|claims| (*claims).clone());
        assert_eq!(full, cached, "verify and verify_cached disagree at {now}");
    }
    if let Ok(claims) = first {
        assert_eq!(claims.iss, "https://tessera.test");
        assert_eq!(claims.aud, "tessera-api");
        assert!(!claims.sub.is_empty() && !claims.sid.is_empty() && !claims.jti.is_empty());
        let (exp, nbf, iat) = (
            i128::from(claims.exp),
            i128::from(claims.nbf),
            i128::from(claims.iat),
        );
        let now = i128::from(NOW);
        assert!(
            exp + 30 > now && nbf - 30 <= now && iat - 30 <= now,
            "accepted outside its times"
        );
    }
});
