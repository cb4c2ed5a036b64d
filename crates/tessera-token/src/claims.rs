//! Access-token claims: their shape when issued and their strict check when verified.
//!
//! Claims are checked only after the MAC (see [`crate::jws`]). Every claim is checked by JSON type
//! first and by value second: a claim of the wrong type or a missing required claim is
//! [`VerifyError::InvalidClaims`], never "absent, so skipped" (CVE-2026-25537).
//!
//! Order: `exp`, `nbf`, `iat`, `iss`, `aud`, then `sub`, `jti`, `name`, `roles`. The time claims
//! come first so that an expired token is reported as expired even when it lacks later claims.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::json::{self, JsonError};
use crate::{TokenRules, VerifyError};

/// The claims of a tessera access token.
///
/// Issued tokens carry a single string `aud`; verified tokens report the configured audience here
/// even when the token carried an array containing it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    /// Issuer: the configured issuer.
    pub iss: String,
    /// Audience: the configured audience.
    pub aud: String,
    /// Subject: the user id.
    pub sub: String,
    /// Issued at, unix seconds.
    pub iat: i64,
    /// Not before, unix seconds.
    pub nbf: i64,
    /// Expiry, unix seconds.
    pub exp: i64,
    /// Token id: 128 random bits, base64url.
    pub jti: String,
    /// The user's display name.
    pub name: String,
    /// The user's roles.
    pub roles: Vec<String>,
}

/// Messages for one required claim.
struct Claim {
    name: &'static str,
    missing: &'static str,
    wrong_type: &'static str,
}

const EXP: Claim = Claim {
    name: "exp",
    missing: "exp is missing",
    wrong_type: "exp must be a 64-bit integer",
};
const NBF: Claim = Claim {
    name: "nbf",
    missing: "nbf is missing",
    wrong_type: "nbf must be a 64-bit integer",
};
const IAT: Claim = Claim {
    name: "iat",
    missing: "iat is missing",
    wrong_type: "iat must be a 64-bit integer",
};
const ISS: Claim = Claim {
    name: "iss",
    missing: "iss is missing",
    wrong_type: "iss must be a string",
};
const AUD: Claim = Claim {
    name: "aud",
    missing: "aud is missing",
    wrong_type: "aud must be a string or an array of strings",
};
const SUB: Claim = Claim {
    name: "sub",
    missing: "sub is missing",
    wrong_type: "sub must be a non-empty string",
};
const JTI: Claim = Claim {
    name: "jti",
    missing: "jti is missing",
    wrong_type: "jti must be a non-empty string",
};
const NAME: Claim = Claim {
    name: "name",
    missing: "name is missing",
    wrong_type: "name must be a string",
};
const ROLES: Claim = Claim {
    name: "roles",
    missing: "roles is missing",
    wrong_type: "roles must be an array of strings",
};

/// Checks the payload of a token whose MAC has already been verified.
///
/// Valid iff `now < exp + leeway`, `nbf <= now + leeway`, `iat <= now + leeway`, `iss` equals the
/// configured issuer, and `aud` is (or is an array containing) the configured audience.
pub(crate) fn check_claims(
    payload: &[u8],
    rules: &TokenRules,
    now: i64,
) -> Result<AccessClaims, VerifyError> {
    let claims = json::parse_object(payload).map_err(|error| match error {
        JsonError::NotUtf8 => VerifyError::InvalidClaims("claims are not UTF-8"),
        JsonError::Syntax => VerifyError::InvalidClaims("claims are not valid JSON"),
        JsonError::DuplicateMember => VerifyError::InvalidClaims("claims have a duplicate member"),
        JsonError::NotObject => VerifyError::InvalidClaims("claims are not a JSON object"),
    })?;
    // i128 keeps `exp + leeway` and `now + leeway` exact for every i64 input.
    let (now_wide, leeway) = (i128::from(now), i128::from(rules.leeway_seconds));

    let exp = integer(&claims, &EXP)?;
    if now_wide >= i128::from(exp) + leeway {
        return Err(VerifyError::Expired {
            seconds_ago: now.saturating_sub(exp),
        });
    }
    let nbf = integer(&claims, &NBF)?;
    if i128::from(nbf) > now_wide + leeway {
        return Err(VerifyError::NotYetValid {
            seconds_until: nbf.saturating_sub(now),
        });
    }
    let iat = integer(&claims, &IAT)?;
    if i128::from(iat) > now_wide + leeway {
        return Err(VerifyError::InvalidClaims("issued in the future"));
    }

    if string(&claims, &ISS)? != rules.issuer {
        return Err(VerifyError::WrongIssuer);
    }
    check_audience(&claims, &rules.audience)?;

    let sub = non_empty_string(&claims, &SUB)?;
    let jti = non_empty_string(&claims, &JTI)?;
    let name = string(&claims, &NAME)?;
    let roles = string_array(&claims, &ROLES)?;
    Ok(AccessClaims {
        iss: rules.issuer.clone(),
        aud: rules.audience.clone(),
        sub: sub.to_owned(),
        iat,
        nbf,
        exp,
        jti: jti.to_owned(),
        name: name.to_owned(),
        roles,
    })
}

fn required<'a>(claims: &'a Map<String, Value>, claim: &Claim) -> Result<&'a Value, VerifyError> {
    claims
        .get(claim.name)
        .ok_or(VerifyError::InvalidClaims(claim.missing))
}

/// A JSON integer that fits in `i64`: strings, floats (`1.0`, `1e3`), booleans and `null` are all
/// type errors.
fn integer(claims: &Map<String, Value>, claim: &Claim) -> Result<i64, VerifyError> {
    match required(claims, claim)? {
        Value::Number(number) => number.as_i64(),
        _ => None,
    }
    .ok_or(VerifyError::InvalidClaims(claim.wrong_type))
}

fn string<'a>(claims: &'a Map<String, Value>, claim: &Claim) -> Result<&'a str, VerifyError> {
    required(claims, claim)?
        .as_str()
        .ok_or(VerifyError::InvalidClaims(claim.wrong_type))
}

fn non_empty_string<'a>(
    claims: &'a Map<String, Value>,
    claim: &Claim,
) -> Result<&'a str, VerifyError> {
    match string(claims, claim)? {
        "" => Err(VerifyError::InvalidClaims(claim.wrong_type)),
        value => Ok(value),
    }
}

fn string_array(claims: &Map<String, Value>, claim: &Claim) -> Result<Vec<String>, VerifyError> {
    let wrong_type = VerifyError::InvalidClaims(claim.wrong_type);
    let Value::Array(items) = required(claims, claim)? else {
        return Err(wrong_type);
    };
    items
        .iter()
        .map(|item| item.as_str().map(str::to_owned).ok_or(wrong_type.clone()))
        .collect()
}

/// `aud` is a string equal to ours or an array of strings containing ours (RFC 7519 §4.1.3).
/// Any non-string inside an array makes the whole claim a type error, even next to our audience.
fn check_audience(claims: &Map<String, Value>, audience: &str) -> Result<(), VerifyError> {
    let found = match required(claims, &AUD)? {
        Value::String(single) => single == audience,
        Value::Array(items) => {
            let mut found = false;
            for item in items {
                let item = item
                    .as_str()
                    .ok_or(VerifyError::InvalidClaims(AUD.wrong_type))?;
                found |= item == audience;
            }
            found
        }
        _ => return Err(VerifyError::InvalidClaims(AUD.wrong_type)),
    };
    if found {
        Ok(())
    } else {
        Err(VerifyError::WrongAudience)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: i64 = 1_700_000_000;

    fn rules(leeway_seconds: u64) -> TokenRules {
        TokenRules {
            issuer: "https://tessera.test".into(),
            audience: "tessera-api".into(),
            leeway_seconds,
        }
    }

    fn good() -> Value {
        json!({
            "iss": "https://tessera.test", "aud": "tessera-api", "sub": "42",
            "iat": NOW - 10, "nbf": NOW - 10, "exp": NOW + 600,
            "jti": "abc", "name": "Ada", "roles": ["admin"],
        })
    }

    fn with(member: &str, value: Value) -> Value {
        let mut claims = good();
        claims[member] = value;
        claims
    }

    fn without(member: &str) -> Value {
        let mut claims = good();
        claims.as_object_mut().unwrap().remove(member);
        claims
    }

    fn check(claims: &Value, leeway: u64) -> Result<AccessClaims, VerifyError> {
        check_claims(&serde_json::to_vec(claims).unwrap(), &rules(leeway), NOW)
    }

    #[test]
    fn good_claims_come_back_typed() {
        let claims = check(&good(), 0).unwrap();
        assert_eq!(claims.sub, "42");
        assert_eq!(claims.exp, NOW + 600);
        assert_eq!(claims.roles, ["admin"]);
        assert_eq!(claims.aud, "tessera-api");
    }

    #[test]
    fn time_claims_with_and_without_leeway() {
        use VerifyError::*;
        let cases: Vec<(&str, Value, u64, Result<(), VerifyError>)> = vec![
            (
                "exp now, no leeway",
                with("exp", json!(NOW)),
                0,
                Err(Expired { seconds_ago: 0 }),
            ),
            (
                "exp now+1, no leeway",
                with("exp", json!(NOW + 1)),
                0,
                Ok(()),
            ),
            (
                "exp within leeway",
                with("exp", json!(NOW - 59)),
                60,
                Ok(()),
            ),
            (
                "exp at leeway edge",
                with("exp", json!(NOW - 60)),
                60,
                Err(Expired { seconds_ago: 60 }),
            ),
            (
                "exp 1s beyond leeway",
                with("exp", json!(NOW - 61)),
                60,
                Err(Expired { seconds_ago: 61 }),
            ),
            (
                "exp far past",
                with("exp", json!(NOW - 11_525)),
                30,
                Err(Expired {
                    seconds_ago: 11_525,
                }),
            ),
            (
                "exp i64::MIN",
                with("exp", json!(i64::MIN)),
                60,
                Err(Expired {
                    seconds_ago: i64::MAX,
                }),
            ),
            ("exp i64::MAX", with("exp", json!(i64::MAX)), 60, Ok(())),
            ("nbf now", with("nbf", json!(NOW)), 0, Ok(())),
            (
                "nbf now+1, no leeway",
                with("nbf", json!(NOW + 1)),
                0,
                Err(NotYetValid { seconds_until: 1 }),
            ),
            (
                "nbf within leeway",
                with("nbf", json!(NOW + 60)),
                60,
                Ok(()),
            ),
            (
                "nbf 1s beyond leeway",
                with("nbf", json!(NOW + 61)),
                60,
                Err(NotYetValid { seconds_until: 61 }),
            ),
            (
                "nbf i64::MAX",
                with("nbf", json!(i64::MAX)),
                60,
                Err(NotYetValid {
                    seconds_until: i64::MAX - NOW,
                }),
            ),
            (
                "iat within leeway",
                with("iat", json!(NOW + 60)),
                60,
                Ok(()),
            ),
            (
                "iat in the future",
                with("iat", json!(NOW + 61)),
                60,
                Err(InvalidClaims("issued in the future")),
            ),
        ];
        for (name, claims, leeway, expected) in cases {
            assert_eq!(check(&claims, leeway).map(|_| ()), expected, "{name}");
        }
    }

    #[test]
    fn claims_are_checked_by_type() {
        use VerifyError::*;
        let cases: Vec<(&str, Value, VerifyError)> = vec![
            (
                "string exp (CVE-2026-25537)",
                with("exp", json!("CVE-2026-25537")),
                InvalidClaims(EXP.wrong_type),
            ),
            (
                "numeric string exp",
                with("exp", json!("9999999999")),
                InvalidClaims(EXP.wrong_type),
            ),
            (
                "float exp",
                with("exp", json!(1.0e10)),
                InvalidClaims(EXP.wrong_type),
            ),
            (
                "integral float exp",
                with("exp", json!(2_000_000_000.0)),
                InvalidClaims(EXP.wrong_type),
            ),
            (
                "exp beyond i64",
                with("exp", json!(u64::MAX)),
                InvalidClaims(EXP.wrong_type),
            ),
            (
                "null exp",
                with("exp", Value::Null),
                InvalidClaims(EXP.wrong_type),
            ),
            (
                "bool exp",
                with("exp", json!(true)),
                InvalidClaims(EXP.wrong_type),
            ),
            (
                "array exp",
                with("exp", json!([NOW + 600])),
                InvalidClaims(EXP.wrong_type),
            ),
            ("missing exp", without("exp"), InvalidClaims(EXP.missing)),
            (
                "string nbf",
                with("nbf", json!("0")),
                InvalidClaims(NBF.wrong_type),
            ),
            (
                "float nbf",
                with("nbf", json!(0.5)),
                InvalidClaims(NBF.wrong_type),
            ),
            ("missing nbf", without("nbf"), InvalidClaims(NBF.missing)),
            (
                "string iat",
                with("iat", json!("0")),
                InvalidClaims(IAT.wrong_type),
            ),
            ("missing iat", without("iat"), InvalidClaims(IAT.missing)),
            ("missing iss", without("iss"), InvalidClaims(ISS.missing)),
            (
                "number iss",
                with("iss", json!(1)),
                InvalidClaims(ISS.wrong_type),
            ),
            (
                "array iss",
                with("iss", json!(["https://tessera.test"])),
                InvalidClaims(ISS.wrong_type),
            ),
            (
                "wrong iss",
                with("iss", json!("https://evil.test")),
                WrongIssuer,
            ),
            (
                "iss differs in case",
                with("iss", json!("https://TESSERA.test")),
                WrongIssuer,
            ),
            (
                "iss with trailing slash",
                with("iss", json!("https://tessera.test/")),
                WrongIssuer,
            ),
            ("missing aud", without("aud"), InvalidClaims(AUD.missing)),
            ("wrong aud", with("aud", json!("other-api")), WrongAudience),
            (
                "aud array without ours",
                with("aud", json!(["a", "b"])),
                WrongAudience,
            ),
            ("empty aud array", with("aud", json!([])), WrongAudience),
            (
                "aud number",
                with("aud", json!(7)),
                InvalidClaims(AUD.wrong_type),
            ),
            (
                "aud object",
                with("aud", json!({"tessera-api": true})),
                InvalidClaims(AUD.wrong_type),
            ),
            (
                "aud array with a number",
                with("aud", json!(["tessera-api", 7])),
                InvalidClaims(AUD.wrong_type),
            ),
            ("missing sub", without("sub"), InvalidClaims(SUB.missing)),
            (
                "empty sub",
                with("sub", json!("")),
                InvalidClaims(SUB.wrong_type),
            ),
            (
                "number sub",
                with("sub", json!(42)),
                InvalidClaims(SUB.wrong_type),
            ),
            ("missing jti", without("jti"), InvalidClaims(JTI.missing)),
            ("missing name", without("name"), InvalidClaims(NAME.missing)),
            (
                "number name",
                with("name", json!(1)),
                InvalidClaims(NAME.wrong_type),
            ),
            (
                "missing roles",
                without("roles"),
                InvalidClaims(ROLES.missing),
            ),
            (
                "string roles",
                with("roles", json!("admin")),
                InvalidClaims(ROLES.wrong_type),
            ),
            (
                "roles with a number",
                with("roles", json!(["admin", 1])),
                InvalidClaims(ROLES.wrong_type),
            ),
            (
                "null roles",
                with("roles", Value::Null),
                InvalidClaims(ROLES.wrong_type),
            ),
        ];
        for (name, claims, expected) in cases {
            assert_eq!(check(&claims, 60), Err(expected), "{name}");
        }
    }

    #[test]
    fn audience_array_containing_ours_is_accepted() {
        let claims = check(&with("aud", json!(["other", "tessera-api"])), 0).unwrap();
        assert_eq!(claims.aud, "tessera-api");
    }

    #[test]
    fn unknown_claims_are_ignored_but_still_parsed_strictly() {
        assert!(check(&with("extra", json!({"nested": [1, 2]})), 0).is_ok());
        let text = serde_json::to_string(&good()).unwrap();
        let duplicate_extra = text.replacen('{', r#"{"x":1,"x":2,"#, 1);
        let duplicate_nested = text.replacen('{', r#"{"x":{"y":1,"y":1},"#, 1);
        let duplicate_exp = text.replacen('{', &format!(r#"{{"exp":{},"#, NOW + 600), 1);
        for text in [duplicate_extra, duplicate_nested, duplicate_exp] {
            assert_eq!(
                check_claims(text.as_bytes(), &rules(0), NOW),
                Err(VerifyError::InvalidClaims("claims have a duplicate member")),
                "{text}"
            );
        }
    }

    #[test]
    fn payload_must_be_a_utf8_json_object() {
        let cases: [(&[u8], &str); 5] = [
            (b"not json", "claims are not valid JSON"),
            (b"[]", "claims are not a JSON object"),
            (b"\"exp\"", "claims are not a JSON object"),
            (b"{\"name\":\"\xc3\x28\"}", "claims are not UTF-8"),
            (b"\xff\xfe{}", "claims are not UTF-8"),
        ];
        for (payload, message) in cases {
            assert_eq!(
                check_claims(payload, &rules(0), NOW),
                Err(VerifyError::InvalidClaims(message))
            );
        }
    }
}
