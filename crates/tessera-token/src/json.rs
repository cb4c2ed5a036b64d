//! Strict JSON parsing for token headers and claims.
//!
//! `serde_json` silently keeps the last of two members with the same name, which lets two parsers
//! read different values from one token (RFC 8725 §3.5, RFC 7515 §5.2). [`parse_object`] walks the
//! document with its own visitor and rejects duplicate member names at every depth.
//!
//! For the hot path (the claims of every request) there is also a single streaming pass that
//! builds no `Value` at all: [`parse_strict`] runs any strict `Deserialize` type, and [`Name`],
//! [`Skip`], [`skip_seq`], [`skip_map`] and [`duplicate_member`] let such a type read the members
//! it knows and consume everything else while still refusing duplicate names at every depth.
//!
//! Invariant: nothing here interprets values; callers check types and meanings. Numbers keep
//! `serde_json`'s default representation (integers as `i64`/`u64`, everything else `f64`); if the
//! `arbitrary_precision` feature were ever unified in, numbers would arrive as objects and every
//! time claim would fail its type check — closed, and loudly in the tests.
//!
//! Invariant for every visitor used with [`parse_strict`]: it accepts every JSON value, and the
//! only error it raises itself is [`duplicate_member`]; that is what lets a `serde_json` data
//! error be classified as [`JsonError::DuplicateMember`].

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};
use std::borrow::Cow;
use std::collections::BTreeSet;
use std::fmt;

/// Why bytes are not an acceptable JSON object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JsonError {
    /// The bytes are not UTF-8.
    NotUtf8,
    /// The text is not one JSON value (syntax error, trailing data, nesting deeper than
    /// `serde_json`'s recursion limit).
    Syntax,
    /// Some object, at any depth, has two members with the same name.
    DuplicateMember,
    /// The value is valid JSON but not an object.
    NotObject,
}

/// Parses `bytes` as a UTF-8 JSON object with no duplicate member names at any depth.
pub(crate) fn parse_object(bytes: &[u8]) -> Result<Map<String, Value>, JsonError> {
    match parse_strict::<StrictValue>(bytes)? {
        StrictValue(Value::Object(map)) => Ok(map),
        StrictValue(_) => Err(JsonError::NotObject),
    }
}

/// Parses `bytes` as one UTF-8 JSON text with `T`, a strict type (see the module invariant:
/// accepts every JSON value, raises only [`duplicate_member`]). UTF-8 is checked over the whole
/// input first, so a bad byte anywhere is [`JsonError::NotUtf8`] whatever else is wrong.
/// Whether the value had to be an object is for `T` and its caller to say.
pub(crate) fn parse_strict<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, JsonError> {
    let text = std::str::from_utf8(bytes).map_err(|_| JsonError::NotUtf8)?;
    serde_json::from_str::<T>(text).map_err(|error| {
        // Strict visitors accept every JSON value, so the only data error they can raise is the
        // duplicate-member one; everything else is a syntax or end-of-input error.
        if error.is_data() {
            JsonError::DuplicateMember
        } else {
            JsonError::Syntax
        }
    })
}

/// The error a strict visitor raises for a repeated member name (and for nothing else).
pub(crate) fn duplicate_member<E: de::Error>() -> E {
    E::custom("duplicate member name")
}

/// A member name, borrowed from the input when it has no escapes (the decoded name either way,
/// so `"\u0061lg"` is the name `alg`).
pub(crate) struct Name<'de>(pub(crate) Cow<'de, str>);

impl<'de> Deserialize<'de> for Name<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NameVisitor;
        impl<'de> Visitor<'de> for NameVisitor {
            type Value = Name<'de>;
            fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str("a member name")
            }
            fn visit_borrowed_str<E: de::Error>(self, value: &'de str) -> Result<Name<'de>, E> {
                Ok(Name(Cow::Borrowed(value)))
            }
            fn visit_str<E: de::Error>(self, value: &str) -> Result<Name<'de>, E> {
                Ok(Name(Cow::Owned(value.to_owned())))
            }
            fn visit_string<E: de::Error>(self, value: String) -> Result<Name<'de>, E> {
                Ok(Name(Cow::Owned(value)))
            }
        }
        deserializer.deserialize_any(NameVisitor)
    }
}

/// Any JSON value, consumed without being kept, with duplicate member names still refused at
/// every depth.
pub(crate) struct Skip;

impl<'de> Deserialize<'de> for Skip {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(SkipVisitor)
    }
}

struct SkipVisitor;

impl<'de> Visitor<'de> for SkipVisitor {
    type Value = Skip;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a JSON value without duplicate member names")
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Skip, E> {
        // JSON text cannot spell NaN or infinity (`1e999` is a syntax error in `serde_json`).
        Ok(Skip)
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Skip, A::Error> {
        skip_seq(seq).map(|()| Skip)
    }
    fn visit_map<A: MapAccess<'de>>(self, access: A) -> Result<Skip, A::Error> {
        skip_map(access).map(|()| Skip)
    }
}

/// Consumes the rest of an array strictly (see [`Skip`]).
pub(crate) fn skip_seq<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<(), A::Error> {
    while seq.next_element::<Skip>()?.is_some() {}
    Ok(())
}

/// Consumes the rest of an object strictly: every name is remembered (borrowed when it can be) so
/// a repeat is refused; values are skipped strictly. `O(n log n)` in the number of members.
pub(crate) fn skip_map<'de, A: MapAccess<'de>>(mut access: A) -> Result<(), A::Error> {
    let mut names = BTreeSet::new();
    while let Some(Name(name)) = access.next_key::<Name<'de>>()? {
        if !names.insert(name) {
            return Err(duplicate_member());
        }
        access.next_value::<Skip>()?;
    }
    Ok(())
}

/// A `serde_json::Value` that refuses duplicate member names while it is built.
struct StrictValue(Value);

impl<'de> Deserialize<'de> for StrictValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrictVisitor).map(StrictValue)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a JSON value without duplicate member names")
    }

    fn visit_bool<E: de::Error>(self, value: bool) -> Result<Value, E> {
        Ok(Value::Bool(value))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Value, E> {
        Ok(Value::Number(value.into()))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Value, E> {
        Ok(Value::Number(value.into()))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<Value, E> {
        // JSON text cannot spell NaN or infinity, so this only guards against a future parser.
        Number::from_f64(value)
            .map(Value::Number)
            .ok_or_else(|| E::custom("non-finite number"))
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<Value, E> {
        Ok(Value::String(value.to_owned()))
    }

    fn visit_string<E: de::Error>(self, value: String) -> Result<Value, E> {
        Ok(Value::String(value))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(StrictValue(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut map = Map::new();
        while let Some(name) = access.next_key::<String>()? {
            if map.contains_key(&name) {
                return Err(de::Error::custom("duplicate member name"));
            }
            let StrictValue(value) = access.next_value()?;
            map.insert(name, value);
        }
        Ok(Value::Object(map))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn accepts_objects_and_keeps_every_value_type() {
        let text = br#" { "s": "x", "i": -3, "u": 18446744073709551615, "f": 1.5,
            "b": true, "n": null, "a": [1, "two", {"k": []}], "o": {"p": {"q": 1}} } "#;
        let map = parse_object(text).unwrap();
        assert_eq!(
            Value::Object(map),
            json!({"s": "x", "i": -3, "u": 18446744073709551615_u64, "f": 1.5, "b": true,
                   "n": null, "a": [1, "two", {"k": []}], "o": {"p": {"q": 1}}})
        );
    }

    #[test]
    fn rejects_duplicate_members_at_any_depth() {
        let cases: [&[u8]; 5] = [
            br#"{"a":1,"a":1}"#,
            br#"{"a":1,"b":2,"a":"x"}"#,
            br#"{"o":{"k":1,"k":2}}"#,
            br#"{"l":[{"k":1},{"k":1,"k":1}]}"#,
            // Escapes spell the same name differently; the decoded names are compared.
            br#"{"alg":"HS256","\u0061lg":"none"}"#,
        ];
        for case in cases {
            assert_eq!(
                parse_object(case),
                Err(JsonError::DuplicateMember),
                "{}",
                String::from_utf8_lossy(case)
            );
        }
    }

    #[test]
    fn same_name_in_different_objects_is_fine() {
        assert!(parse_object(br#"{"a":{"k":1},"b":{"k":1},"k":[{"k":1},{"k":2}]}"#).is_ok());
    }

    #[test]
    fn classifies_other_failures() {
        assert_eq!(parse_object(b"[1]"), Err(JsonError::NotObject));
        assert_eq!(parse_object(b"\"x\""), Err(JsonError::NotObject));
        assert_eq!(parse_object(b"null"), Err(JsonError::NotObject));
        assert_eq!(parse_object(b""), Err(JsonError::Syntax));
        assert_eq!(parse_object(b"{"), Err(JsonError::Syntax));
        assert_eq!(parse_object(b"{} {}"), Err(JsonError::Syntax));
        assert_eq!(parse_object(b"{'a':1}"), Err(JsonError::Syntax));
        assert_eq!(parse_object(b"{\"a\":1,}"), Err(JsonError::Syntax));
        assert_eq!(parse_object(b"\xEF\xBB\xBF{}"), Err(JsonError::Syntax));
        assert_eq!(parse_object(b"{\"a\":\"\xff\"}"), Err(JsonError::NotUtf8));
        assert_eq!(parse_object(b"{\"a\":1e999}"), Err(JsonError::Syntax));
    }

    #[test]
    fn deep_nesting_is_refused_without_overflowing_the_stack() {
        let depth = 10_000;
        let text = format!("{{\"a\":{}{}}}", "[".repeat(depth), "]".repeat(depth));
        assert_eq!(parse_object(text.as_bytes()), Err(JsonError::Syntax));
    }

    #[test]
    fn integers_and_floats_stay_distinct() {
        let map = parse_object(br#"{"i":10,"f":10.0,"e":1e1}"#).unwrap();
        assert_eq!(map["i"].as_i64(), Some(10));
        assert!(map["f"].is_f64());
        assert!(map["e"].is_f64());
    }
}
