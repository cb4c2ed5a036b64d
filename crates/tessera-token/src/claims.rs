//! Access-token claims: their shape when issued and their strict check when verified.
//!
//! Claims are checked only after the MAC (see [`crate::jws`]). Every claim is checked by JSON type
//! first and by value second: a claim of the wrong type or a missing required claim is
//! [`VerifyError::InvalidClaims`], never "absent, so skipped" (CVE-2026-25537).
//!
//! Order: `exp`, `nbf`, `iat`, `iss`, `aud`, then `sub`, `sid`, `jti`, `name`, `roles`. The time
//! claims come first so that an expired token is reported as expired even when it lacks later
//! claims.

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
const SID: Claim = Claim {
    name: "sid",
    missing: "sid is missing",
    wrong_type: "sid must be a non-empty string",
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
    let sid = non_empty_string(&claims, &SID)?;
    let jti = non_empty_string(&claims, &JTI)?;
    let name = string(&claims, &NAME)?;
    let roles = string_array(&claims, &ROLES)?;
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
mod tests;
