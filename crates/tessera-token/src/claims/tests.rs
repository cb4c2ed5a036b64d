//! The claims check on its own: time claims and leeway, types, values, order, JSON shape.

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
        "iss": "https://tessera.test", "aud": "tessera-api", "sub": "42", "sid": "s-1",
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
    assert_eq!(claims.sid, "s-1");
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
        ("missing sid", without("sid"), InvalidClaims(SID.missing)),
        (
            "empty sid",
            with("sid", json!("")),
            InvalidClaims(SID.wrong_type),
        ),
        (
            "number sid",
            with("sid", json!(7)),
            InvalidClaims(SID.wrong_type),
        ),
        (
            "null sid",
            with("sid", Value::Null),
            InvalidClaims(SID.wrong_type),
        ),
        (
            "array sid",
            with("sid", json!(["s-1"])),
            InvalidClaims(SID.wrong_type),
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
fn sid_is_checked_after_sub_and_before_jti() {
    let mut claims = without("sub");
    claims.as_object_mut().unwrap().remove("sid");
    assert_eq!(
        check(&claims, 0),
        Err(VerifyError::InvalidClaims(SUB.missing))
    );
    let mut claims = with("sid", json!(1));
    claims.as_object_mut().unwrap().remove("jti");
    assert_eq!(
        check(&claims, 0),
        Err(VerifyError::InvalidClaims(SID.wrong_type))
    );
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
