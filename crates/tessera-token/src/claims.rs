//! Access-token claims: their shape when issued and their strict check when verified.
//!
//! Claims are checked only after the MAC (see [`crate::jws`]). Every claim is checked by JSON type
//! first and by value second: a claim of the wrong type or a missing required claim is
//! [`VerifyError::InvalidClaims`], never "absent, so skipped" (CVE-2026-25537).
//!
//! Order: `exp`, `nbf`, `iat`, `iss`, `aud`, then `sub`, `sid`, `jti`, `name`, `roles`. The time
//! claims come first so that an expired token is reported as expired even when it lacks later
//! claims.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::fmt;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

use crate::json::{self, JsonError, Name, Skip};
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
    /// Session id: the session the token was issued in.
    pub sid: String,
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
    missing: &'static str,
    wrong_type: &'static str,
}

const EXP: Claim = Claim {
    missing: "exp is missing",
    wrong_type: "exp must be a 64-bit integer",
};
const NBF: Claim = Claim {
    missing: "nbf is missing",
    wrong_type: "nbf must be a 64-bit integer",
};
const IAT: Claim = Claim {
    missing: "iat is missing",
    wrong_type: "iat must be a 64-bit integer",
};
const ISS: Claim = Claim {
    missing: "iss is missing",
    wrong_type: "iss must be a string",
};
const AUD: Claim = Claim {
    missing: "aud is missing",
    wrong_type: "aud must be a string or an array of strings",
};
const SUB: Claim = Claim {
    missing: "sub is missing",
    wrong_type: "sub must be a non-empty string",
};
const SID: Claim = Claim {
    missing: "sid is missing",
    wrong_type: "sid must be a non-empty string",
};
const JTI: Claim = Claim {
    missing: "jti is missing",
    wrong_type: "jti must be a non-empty string",
};
const NAME: Claim = Claim {
    missing: "name is missing",
    wrong_type: "name must be a string",
};
const ROLES: Claim = Claim {
    missing: "roles is missing",
    wrong_type: "roles must be an array of strings",
};

/// Checks the payload of a token whose MAC has already been verified.
///
/// Valid iff `now < exp + leeway`, `nbf <= now + leeway`, `iat <= now + leeway`, `iss` equals the
/// configured issuer, and `aud` is (or is an array containing) the configured audience.
///
/// The payload is read in one streaming pass ([`RawClaims`]) that keeps only the ten claims this
/// crate knows, each classified by JSON type, and consumes every other member strictly (duplicate
/// names refused at every depth). The whole document is parsed before any claim is judged, so a
/// JSON error anywhere wins over a claim error, exactly as when the document was first built as a
/// `serde_json::Map` (the tests keep that implementation as a reference and compare).
pub(crate) fn check_claims(
    payload: &[u8],
    rules: &TokenRules,
    now: i64,
) -> Result<AccessClaims, VerifyError> {
    let parsed = json::parse_strict::<TopLevel<'_>>(payload).map_err(|error| match error {
        JsonError::NotUtf8 => VerifyError::InvalidClaims("claims are not UTF-8"),
        JsonError::Syntax => VerifyError::InvalidClaims("claims are not valid JSON"),
        JsonError::DuplicateMember => VerifyError::InvalidClaims("claims have a duplicate member"),
        JsonError::NotObject => VerifyError::InvalidClaims("claims are not a JSON object"),
    })?;
    let TopLevel::Object(claims) = parsed else {
        return Err(VerifyError::InvalidClaims("claims are not a JSON object"));
    };
    let exp = integer(claims.exp, &EXP)?;
    check_exp(exp, rules, now)?;
    let nbf = integer(claims.nbf, &NBF)?;
    check_nbf(nbf, rules, now)?;
    let iat = integer(claims.iat, &IAT)?;
    check_iat(iat, rules, now)?;

    if string(claims.iss, &ISS)? != rules.issuer {
        return Err(VerifyError::WrongIssuer);
    }
    check_audience(claims.aud, &rules.audience)?;

    let sub = non_empty_string(claims.sub, &SUB)?;
    let sid = non_empty_string(claims.sid, &SID)?;
    let jti = non_empty_string(claims.jti, &JTI)?;
    let name = string(claims.name, &NAME)?;
    let roles = string_array(claims.roles, &ROLES)?;
    Ok(AccessClaims {
        iss: rules.issuer.clone(),
        aud: rules.audience.clone(),
        sub: sub.into_owned(),
        sid: sid.into_owned(),
        iat,
        nbf,
        exp,
        jti: jti.into_owned(),
        name: name.into_owned(),
        roles,
    })
}

/// The time checks of claims that passed every other check at some earlier `now`: the same
/// checks, in the same order, with the same errors as [`check_claims`] (whose other checks do
/// not depend on the time).
pub(crate) fn check_times(
    claims: &AccessClaims,
    rules: &TokenRules,
    now: i64,
) -> Result<(), VerifyError> {
    check_exp(claims.exp, rules, now)?;
    check_nbf(claims.nbf, rules, now)?;
    check_iat(claims.iat, rules, now)
}

// i128 keeps `exp + leeway` and `now + leeway` exact for every i64 input.

fn check_exp(exp: i64, rules: &TokenRules, now: i64) -> Result<(), VerifyError> {
    if i128::from(now) >= i128::from(exp) + i128::from(rules.leeway_seconds) {
        return Err(VerifyError::Expired {
            seconds_ago: now.saturating_sub(exp),
        });
    }
    Ok(())
}

fn check_nbf(nbf: i64, rules: &TokenRules, now: i64) -> Result<(), VerifyError> {
    if i128::from(nbf) > i128::from(now) + i128::from(rules.leeway_seconds) {
        return Err(VerifyError::NotYetValid {
            seconds_until: nbf.saturating_sub(now),
        });
    }
    Ok(())
}

fn check_iat(iat: i64, rules: &TokenRules, now: i64) -> Result<(), VerifyError> {
    if i128::from(iat) > i128::from(now) + i128::from(rules.leeway_seconds) {
        return Err(VerifyError::InvalidClaims("issued in the future"));
    }
    Ok(())
}

/// A required claim's value, classified by JSON type while parsing; `None` when absent.
type Slot<'de> = Option<ClaimValue<'de>>;

/// The JSON type of one known claim's value, as much as the checks need and no more.
enum ClaimValue<'de> {
    /// A JSON integer that fits in `i64`.
    Integer(i64),
    /// A JSON string, borrowed from the payload when it has no escapes.
    String(Cow<'de, str>),
    /// A JSON array whose every item is a string (possibly empty).
    Strings(Vec<String>),
    /// Anything else: floats (`1.0`, `1e3`), integers beyond `i64`, booleans, `null`, objects,
    /// arrays holding a non-string. Consumed strictly, then only ever a type error.
    Other,
}

/// The ten claims this crate knows, as found in the payload.
#[derive(Default)]
struct RawClaims<'de> {
    exp: Slot<'de>,
    nbf: Slot<'de>,
    iat: Slot<'de>,
    iss: Slot<'de>,
    aud: Slot<'de>,
    sub: Slot<'de>,
    sid: Slot<'de>,
    jti: Slot<'de>,
    name: Slot<'de>,
    roles: Slot<'de>,
}

impl<'de> RawClaims<'de> {
    /// The slot for a known claim name; `None` for every other name.
    fn slot(&mut self, name: &str) -> Option<&mut Slot<'de>> {
        Some(match name {
            "exp" => &mut self.exp,
            "nbf" => &mut self.nbf,
            "iat" => &mut self.iat,
            "iss" => &mut self.iss,
            "aud" => &mut self.aud,
            "sub" => &mut self.sub,
            "sid" => &mut self.sid,
            "jti" => &mut self.jti,
            "name" => &mut self.name,
            "roles" => &mut self.roles,
            _ => return None,
        })
    }
}

/// The payload's top-level JSON value: an object's known claims, or the fact that it was not an
/// object (consumed strictly all the same, so a duplicate inside still counts as one).
#[expect(
    clippy::large_enum_variant,
    reason = "one short-lived value per verify, on the stack; boxing would add an allocation"
)]
enum TopLevel<'de> {
    Object(RawClaims<'de>),
    NotObject,
}

impl<'de> Deserialize<'de> for TopLevel<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(TopLevelVisitor)
    }
}

struct TopLevelVisitor;

impl<'de> Visitor<'de> for TopLevelVisitor {
    type Value = TopLevel<'de>;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a JSON object without duplicate member names")
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(TopLevel::NotObject)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(TopLevel::NotObject)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(TopLevel::NotObject)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(TopLevel::NotObject)
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(TopLevel::NotObject)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(TopLevel::NotObject)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        json::skip_seq(seq).map(|()| TopLevel::NotObject)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
        let mut claims = RawClaims::default();
        // Names of members this crate does not know, only to refuse their repetition; empty (and
        // never allocated) for the tokens this crate issues.
        let mut others = BTreeSet::new();
        while let Some(Name(name)) = access.next_key::<Name<'de>>()? {
            match claims.slot(&name) {
                Some(slot) => {
                    if slot.is_some() {
                        return Err(json::duplicate_member());
                    }
                    *slot = Some(access.next_value::<ClaimValue<'de>>()?);
                }
                None => {
                    if !others.insert(name) {
                        return Err(json::duplicate_member());
                    }
                    access.next_value::<Skip>()?;
                }
            }
        }
        Ok(TopLevel::Object(claims))
    }
}

impl<'de> Deserialize<'de> for ClaimValue<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ClaimValueVisitor)
    }
}

struct ClaimValueVisitor;

impl<'de> Visitor<'de> for ClaimValueVisitor {
    type Value = ClaimValue<'de>;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("any JSON value without duplicate member names")
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(ClaimValue::Other)
    }
    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Self::Value, E> {
        Ok(ClaimValue::Integer(value))
    }
    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Self::Value, E> {
        Ok(i64::try_from(value).map_or(ClaimValue::Other, ClaimValue::Integer))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(ClaimValue::Other)
    }
    fn visit_borrowed_str<E: de::Error>(self, value: &'de str) -> Result<Self::Value, E> {
        Ok(ClaimValue::String(Cow::Borrowed(value)))
    }
    fn visit_str<E: de::Error>(self, value: &str) -> Result<Self::Value, E> {
        Ok(ClaimValue::String(Cow::Owned(value.to_owned())))
    }
    fn visit_string<E: de::Error>(self, value: String) -> Result<Self::Value, E> {
        Ok(ClaimValue::String(Cow::Owned(value)))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(ClaimValue::Other)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut strings = Some(Vec::new());
        while let Some(item) = seq.next_element::<ClaimValue<'de>>()? {
            match (item, &mut strings) {
                (ClaimValue::String(text), Some(items)) => items.push(text.into_owned()),
                (ClaimValue::String(_), None) => {}
                // One non-string makes the whole array `Other`; the rest is still consumed
                // strictly (the recursion is bounded by `serde_json`'s depth limit).
                _ => strings = None,
            }
        }
        Ok(strings.map_or(ClaimValue::Other, ClaimValue::Strings))
    }
    fn visit_map<A: MapAccess<'de>>(self, access: A) -> Result<Self::Value, A::Error> {
        json::skip_map(access).map(|()| ClaimValue::Other)
    }
}

/// A JSON integer that fits in `i64`: strings, floats (`1.0`, `1e3`), booleans and `null` are all
/// type errors.
fn integer(slot: Slot<'_>, claim: &Claim) -> Result<i64, VerifyError> {
    match slot {
        None => Err(VerifyError::InvalidClaims(claim.missing)),
        Some(ClaimValue::Integer(value)) => Ok(value),
        Some(_) => Err(VerifyError::InvalidClaims(claim.wrong_type)),
    }
}

fn string<'de>(slot: Slot<'de>, claim: &Claim) -> Result<Cow<'de, str>, VerifyError> {
    match slot {
        None => Err(VerifyError::InvalidClaims(claim.missing)),
        Some(ClaimValue::String(value)) => Ok(value),
        Some(_) => Err(VerifyError::InvalidClaims(claim.wrong_type)),
    }
}

fn non_empty_string<'de>(slot: Slot<'de>, claim: &Claim) -> Result<Cow<'de, str>, VerifyError> {
    let value = string(slot, claim)?;
    if value.is_empty() {
        Err(VerifyError::InvalidClaims(claim.wrong_type))
    } else {
        Ok(value)
    }
}

fn string_array(slot: Slot<'_>, claim: &Claim) -> Result<Vec<String>, VerifyError> {
    match slot {
        None => Err(VerifyError::InvalidClaims(claim.missing)),
        Some(ClaimValue::Strings(items)) => Ok(items),
        Some(_) => Err(VerifyError::InvalidClaims(claim.wrong_type)),
    }
}

/// `aud` is a string equal to ours or an array of strings containing ours (RFC 7519 §4.1.3).
/// Any non-string inside an array makes the whole claim a type error, even next to our audience.
fn check_audience(slot: Slot<'_>, audience: &str) -> Result<(), VerifyError> {
    let found = match slot {
        None => return Err(VerifyError::InvalidClaims(AUD.missing)),
        Some(ClaimValue::String(single)) => single == audience,
        Some(ClaimValue::Strings(items)) => items.iter().any(|item| item == audience),
        Some(_) => return Err(VerifyError::InvalidClaims(AUD.wrong_type)),
    };
    if found {
        Ok(())
    } else {
        Err(VerifyError::WrongAudience)
    }
}

#[cfg(test)]
mod tests;
