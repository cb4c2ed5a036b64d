//! RFC 7515 Appendix A.1 through both layers.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::support::*;
use crate::claims::check_claims;
use crate::{SigningKey, TokenCodec, TokenRules, VerifyError, verify_signature};

/// RFC 7515 Appendix A.1: the HS256 example, byte for byte (its header is `typ: JWT` and contains
/// CRLF line breaks inside the JSON).
const RFC7515_A1_TOKEN: &str = concat!(
    "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9",
    ".",
    "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ",
    ".",
    "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
);
/// The 64-byte key of Appendix A.1, as the JWK `k` member.
const RFC7515_A1_KEY_K: &str =
    "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow";
const RFC7515_A1_EXP: i64 = 1_300_819_380;

fn rfc7515_a1_key() -> SigningKey {
    let bytes = URL_SAFE_NO_PAD.decode(RFC7515_A1_KEY_K).unwrap();
    assert_eq!(bytes.len(), 64);
    SigningKey::from_bytes(&bytes).unwrap()
}

fn joe_rules() -> TokenRules {
    TokenRules {
        issuer: "joe".into(),
        audience: "tessera-api".into(),
        leeway_seconds: 60,
    }
}

#[test]
fn rfc7515_a1_passes_the_signature_layer() {
    let verified = verify_signature(&rfc7515_a1_key(), RFC7515_A1_TOKEN).unwrap();
    assert_eq!(verified.header["typ"], "JWT");
    assert_eq!(verified.header["alg"], "HS256");
    assert_eq!(
        verified.payload,
        b"{\"iss\":\"joe\",\r\n \"exp\":1300819380,\r\n \"http://example.com/is_root\":true}"
    );
    // Any other key refuses it.
    let other = SigningKey::from_bytes(&[0_u8; 64]).unwrap();
    assert_eq!(
        verify_signature(&other, RFC7515_A1_TOKEN),
        Err(VerifyError::BadSignature)
    );
}

#[test]
fn rfc7515_a1_is_rejected_by_the_full_validator() {
    let codec = TokenCodec::new(rfc7515_a1_key(), joe_rules()).unwrap();
    // Its `typ` is `JWT`, so it can never pass as an access token, whatever the clock says.
    for now in [RFC7515_A1_EXP - 1_000, RFC7515_A1_EXP + 1, NOW] {
        assert_eq!(
            codec.verify(RFC7515_A1_TOKEN, now),
            Err(VerifyError::WrongTokenType)
        );
    }
    // The claims check alone (issuer "joe") reports the expiry itself, counted from `exp`.
    let payload = verify_signature(&rfc7515_a1_key(), RFC7515_A1_TOKEN)
        .unwrap()
        .payload;
    let rules = joe_rules();
    assert_eq!(
        check_claims(&payload, &rules, RFC7515_A1_EXP + 60),
        Err(VerifyError::Expired { seconds_ago: 60 })
    );
    assert_eq!(
        check_claims(&payload, &rules, NOW),
        Err(VerifyError::Expired {
            seconds_ago: NOW - RFC7515_A1_EXP
        })
    );
    // Before 2011-03-22 it is still refused: it has no `nbf`, `iat`, `aud`, ...
    assert_eq!(
        check_claims(&payload, &rules, RFC7515_A1_EXP - 1),
        Err(VerifyError::InvalidClaims("nbf is missing"))
    );
    // The same payload re-signed under `typ: at+jwt` goes through the full path and is expired.
    let retyped = forge(
        &URL_SAFE_NO_PAD.decode(RFC7515_A1_KEY_K).unwrap(),
        "{\"typ\":\"at+jwt\",\r\n \"alg\":\"HS256\"}",
        &payload,
    );
    assert_eq!(
        codec.verify(&retyped, NOW),
        Err(VerifyError::Expired {
            seconds_ago: NOW - RFC7515_A1_EXP
        })
    );
}
