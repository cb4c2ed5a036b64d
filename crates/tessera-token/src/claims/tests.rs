//! The claims check on its own: time claims and leeway, types, values, order, JSON shape.

use super::*;
use proptest::prelude::*;
use serde_json::{Value, json};

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

/// The claims check as it was before the single-pass reader: the payload built as a
/// `serde_json::Map` by [`json::parse_object`], then the same checks in the same order. Kept as
/// the oracle the streaming reader must agree with, on every input, error for error.
mod reference {
    use super::*;
    use serde_json::{Map, Value};

    fn required<'a>(
        claims: &'a Map<String, Value>,
        name: &str,
        claim: &Claim,
    ) -> Result<&'a Value, VerifyError> {
        claims
            .get(name)
            .ok_or(VerifyError::InvalidClaims(claim.missing))
    }

    fn integer(claims: &Map<String, Value>, name: &str, claim: &Claim) -> Result<i64, VerifyError> {
        match required(claims, name, claim)? {
            Value::Number(number) => number.as_i64(),
            _ => None,
        }
        .ok_or(VerifyError::InvalidClaims(claim.wrong_type))
    }

    fn string<'a>(
        claims: &'a Map<String, Value>,
        name: &str,
        claim: &Claim,
    ) -> Result<&'a str, VerifyError> {
        required(claims, name, claim)?
            .as_str()
            .ok_or(VerifyError::InvalidClaims(claim.wrong_type))
    }

    fn non_empty_string<'a>(
        claims: &'a Map<String, Value>,
        name: &str,
        claim: &Claim,
    ) -> Result<&'a str, VerifyError> {
        match string(claims, name, claim)? {
            "" => Err(VerifyError::InvalidClaims(claim.wrong_type)),
            value => Ok(value),
        }
    }

    fn string_array(
        claims: &Map<String, Value>,
        name: &str,
        claim: &Claim,
    ) -> Result<Vec<String>, VerifyError> {
        let wrong_type = VerifyError::InvalidClaims(claim.wrong_type);
        let Value::Array(items) = required(claims, name, claim)? else {
            return Err(wrong_type);
        };
        items
            .iter()
            .map(|item| item.as_str().map(str::to_owned).ok_or(wrong_type.clone()))
            .collect()
    }

    fn check_audience(claims: &Map<String, Value>, audience: &str) -> Result<(), VerifyError> {
        let found = match required(claims, "aud", &AUD)? {
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

    pub(super) fn check_claims(
        payload: &[u8],
        rules: &TokenRules,
        now: i64,
    ) -> Result<AccessClaims, VerifyError> {
        let claims = json::parse_object(payload).map_err(|error| match error {
            JsonError::NotUtf8 => VerifyError::InvalidClaims("claims are not UTF-8"),
            JsonError::Syntax => VerifyError::InvalidClaims("claims are not valid JSON"),
            JsonError::DuplicateMember => {
                VerifyError::InvalidClaims("claims have a duplicate member")
            }
            JsonError::NotObject => VerifyError::InvalidClaims("claims are not a JSON object"),
        })?;
        let (now_wide, leeway) = (i128::from(now), i128::from(rules.leeway_seconds));
        let exp = integer(&claims, "exp", &EXP)?;
        if now_wide >= i128::from(exp) + leeway {
            return Err(VerifyError::Expired {
                seconds_ago: now.saturating_sub(exp),
            });
        }
        let nbf = integer(&claims, "nbf", &NBF)?;
        if i128::from(nbf) > now_wide + leeway {
            return Err(VerifyError::NotYetValid {
                seconds_until: nbf.saturating_sub(now),
            });
        }
        let iat = integer(&claims, "iat", &IAT)?;
        if i128::from(iat) > now_wide + leeway {
            return Err(VerifyError::InvalidClaims("issued in the future"));
        }
        if string(&claims, "iss", &ISS)? != rules.issuer {
            return Err(VerifyError::WrongIssuer);
        }
        check_audience(&claims, &rules.audience)?;
        let sub = non_empty_string(&claims, "sub", &SUB)?;
        let sid = non_empty_string(&claims, "sid", &SID)?;
        let jti = non_empty_string(&claims, "jti", &JTI)?;
        let name = string(&claims, "name", &NAME)?;
        let roles = string_array(&claims, "roles", &ROLES)?;
        Ok(AccessClaims {
            iss: rules.issuer.clone(),
            aud: rules.audience.clone(),
            sub: sub.to_owned(),
            sid: sid.to_owned(),
            iat,
            nbf,
            exp,
            jti: jti.to_owned(),
            name: name.to_owned(),
            roles,
        })
    }
}

/// Raw JSON texts for member values: every JSON type, the edges of `i64`, floats that look like
/// integers, escapes that decode to our audience, nested duplicates, syntax errors.
const VALUE_POOL: &[&str] = &[
    "1700000600",
    "1699999990",
    "1699999400",
    "0",
    "-1",
    "-0",
    "9223372036854775807",
    "-9223372036854775808",
    "9223372036854775808",
    "18446744073709551615",
    "1700000600.0",
    "1.7000006e9",
    "0.5",
    "-0.0",
    "1e999",
    "\"1700000600\"",
    "\"\"",
    "\"x\"",
    "\"tessera-api\"",
    "\"tessera\\u002dapi\"",
    "\"https://tessera.test\"",
    "\"\\ud800\"",
    "\"caf\u{e9}\"",
    "[]",
    "[\"tessera-api\"]",
    "[\"other\",\"tessera-api\"]",
    "[\"tessera-api\",1]",
    "[\"a\",\"b\"]",
    "[[]]",
    "[\"tessera-api\",{\"k\":1,\"k\":2}]",
    "[{\"k\":1},{\"k\":1}]",
    "{}",
    "{\"a\":1,\"a\":1}",
    "{\"a\":{\"b\":[{\"c\":1,\"\\u0063\":2}]}}",
    "null",
    "true",
    "false",
    "[1,]",
    "{\"a\" 1}",
];

/// Raw JSON texts for member names: the ten known claims, escaped spellings of some of them,
/// and unknown names.
const NAME_POOL: &[&str] = &[
    "\"exp\"",
    "\"nbf\"",
    "\"iat\"",
    "\"iss\"",
    "\"aud\"",
    "\"sub\"",
    "\"sid\"",
    "\"jti\"",
    "\"name\"",
    "\"roles\"",
    "\"\\u0065xp\"",
    "\"a\\u0075d\"",
    "\"extra\"",
    "\"Exp\"",
    "\"\"",
];

#[derive(Debug, Clone)]
enum Edit {
    Replace(proptest::sample::Index, usize),
    Remove(proptest::sample::Index),
    Insert(proptest::sample::Index, usize, usize),
    Duplicate(proptest::sample::Index),
    Swap(proptest::sample::Index, proptest::sample::Index),
}

fn edit() -> impl Strategy<Value = Edit> {
    use proptest::sample::Index;
    prop_oneof![
        (any::<Index>(), 0..VALUE_POOL.len()).prop_map(|(at, value)| Edit::Replace(at, value)),
        any::<Index>().prop_map(Edit::Remove),
        (any::<Index>(), 0..NAME_POOL.len(), 0..VALUE_POOL.len())
            .prop_map(|(at, name, value)| Edit::Insert(at, name, value)),
        any::<Index>().prop_map(Edit::Duplicate),
        (any::<Index>(), any::<Index>()).prop_map(|(a, b)| Edit::Swap(a, b)),
    ]
}

/// A payload text: the good claims as (name, value) texts, edited, joined, and sometimes wrapped.
fn edited_payload(edits: &[Edit], wrap: u8) -> String {
    let mut members: Vec<(String, String)> = good()
        .as_object()
        .unwrap()
        .iter()
        .map(|(name, value)| (format!("\"{name}\""), value.to_string()))
        .collect();
    for edit in edits {
        let len = members.len();
        match edit {
            Edit::Replace(at, value) if len > 0 => {
                members[at.index(len)].1 = VALUE_POOL[*value].to_owned();
            }
            Edit::Remove(at) if len > 0 => {
                members.remove(at.index(len));
            }
            Edit::Insert(at, name, value) => members.insert(
                at.index(len + 1),
                (NAME_POOL[*name].to_owned(), VALUE_POOL[*value].to_owned()),
            ),
            Edit::Duplicate(at) if len > 0 => {
                let member = members[at.index(len)].clone();
                members.push(member);
            }
            Edit::Swap(a, b) if len > 0 => members.swap(a.index(len), b.index(len)),
            _ => {}
        }
    }
    let body = members
        .iter()
        .map(|(name, value)| format!("{name}:{value}"))
        .collect::<Vec<_>>()
        .join(",");
    match wrap {
        0 => format!("[{{{body}}}]"),
        1 => format!("{{{body}}} x"),
        2 => format!(" \n{{ {body} }}\t"),
        3 => format!("{{{body}"),
        _ => format!("{{{body}}}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    /// The single-pass reader and the `Map`-based reference agree on every payload: the same
    /// claims or the same error, with and without leeway.
    #[test]
    fn streaming_reader_agrees_with_the_map_reference(
        edits in proptest::collection::vec(edit(), 0..6),
        wrap in 0_u8..12,
        leeway in prop_oneof![Just(0_u64), Just(60_u64)],
    ) {
        let payload = edited_payload(&edits, wrap);
        prop_assert_eq!(
            check_claims(payload.as_bytes(), &rules(leeway), NOW),
            reference::check_claims(payload.as_bytes(), &rules(leeway), NOW),
            "{}", payload
        );
    }

    /// The same on arbitrary bytes (mostly not JSON at all).
    #[test]
    fn streaming_reader_agrees_on_arbitrary_bytes(
        payload in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        prop_assert_eq!(
            check_claims(&payload, &rules(0), NOW),
            reference::check_claims(&payload, &rules(0), NOW)
        );
    }
}

#[test]
fn streaming_reader_agrees_on_hand_picked_payloads() {
    let good_text = serde_json::to_string(&good()).unwrap();
    let mut cases: Vec<Vec<u8>> = vec![
        good_text.clone().into_bytes(),
        b"{}".to_vec(),
        b"[]".to_vec(),
        b"[{\"a\":1,\"a\":2}]".to_vec(),
        b"[1,{\"a\":1,\"a\":2}".to_vec(),
        b"\"x\"".to_vec(),
        b"1".to_vec(),
        b"null".to_vec(),
        b"{\"exp\":1,\"exp\":1}".to_vec(),
        b"{\"exp\":1,\"\\u0065xp\":1}".to_vec(),
        b"{\"x\":1,\"x\":1,".to_vec(),
        b"{\"x\":1,\"y\":2,\"x\" ".to_vec(),
        b"{\"a\":[1,2,{\"b\":{\"c\":1,\"c\":2}}]}".to_vec(),
        b"{\"a\":\"\xff\"".to_vec(),
        good_text
            .replacen('{', "{\"aud\":[\"tessera-api\",{\"k\":1,\"k\":2}],", 1)
            .into_bytes(),
        good_text
            .replacen('{', "{\"z\":[[[[[[[[]]]]]]]],", 1)
            .into_bytes(),
        good_text
            .replace("\"tessera-api\"", "\"tessera\\u002dapi\"")
            .into_bytes(),
        good_text.replace("\"Ada\"", "\"A\\\"da\\n\"").into_bytes(),
    ];
    let depth = 200;
    cases.push(format!("{{\"a\":{}{}}}", "[".repeat(depth), "]".repeat(depth)).into_bytes());
    cases.push(format!("{{\"roles\":{}{}}}", "[".repeat(depth), "]".repeat(depth)).into_bytes());
    for payload in &cases {
        for leeway in [0, 60] {
            assert_eq!(
                check_claims(payload, &rules(leeway), NOW),
                reference::check_claims(payload, &rules(leeway), NOW),
                "{}",
                String::from_utf8_lossy(payload)
            );
        }
    }
}
