//! The error types of the token core.
//!
//! Every message is lower-case and says what failed. No message ever contains the token, the key,
//! a header or claim *value*, or the name of an underlying library error: callers may log these
//! messages and count [`VerifyError::reason`] codes without leaking anything.

use std::fmt;

/// Why a key (or key set) was refused, or a key operation failed. Messages never contain key
/// material; a `kid` may appear (it is public).
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum KeyError {
    /// The key has no bytes at all.
    #[error("signing key is empty")]
    Empty,
    /// An algorithm name that is not one of the supported JWS names.
    #[error("unknown algorithm; expected one of HS256, EdDSA, ES256, RS256 (exact spelling)")]
    UnknownAlgorithm,
    /// A `kid` that is empty, too long, or has characters outside visible ASCII (or `"`, `\\`).
    #[error("key id must be 1 to 128 visible ASCII characters other than '\"' and '\\'")]
    InvalidKid,
    /// The operation needs an asymmetric key (generation, PKCS#8, sealing) but got HS256.
    #[error("HS256 keys are secrets: they are configured, not generated, exported or sealed")]
    Symmetric,
    /// aws-lc-rs could not generate a key pair.
    #[error("key generation failed")]
    Generation,
    /// The operating system's random number generator failed.
    #[error("random number generator failed while creating a key")]
    Randomness,
    /// The bytes are not a valid key of this algorithm.
    #[error("not a valid {0} key")]
    InvalidKey(crate::Algorithm),
    /// A PEM file could not be used; the message says why.
    #[error("PEM private key refused: {0}")]
    Pem(&'static str),
    /// An RSA modulus outside 2048..=8192 bits.
    #[error("RSA key of {bits} bits refused: 2048 to 8192 bits are accepted")]
    RsaSize {
        /// The modulus size found.
        bits: usize,
    },
    /// An RSA public exponent other than 65537.
    #[error("RSA public exponent refused: only 65537 is accepted")]
    RsaExponent,
    /// aws-lc-rs could not serialize a private key it holds.
    #[error("private key could not be serialized")]
    Serialization,
    /// aws-lc-rs failed to sign.
    #[error("signing failed")]
    Signing,
    /// Two keys in one set share a `kid`.
    #[error("duplicate key id {kid:?} in the key set")]
    DuplicateKid {
        /// The repeated kid.
        kid: String,
    },
    /// The key-encryption secret is shorter than 32 bytes.
    #[error("key encryption secret must be at least 32 bytes")]
    KekTooShort,
    /// A sealed private key could not be opened: wrong key-encryption secret, wrong kid or
    /// algorithm, truncated or tampered bytes, unknown version. One error, no detail.
    #[error("sealed private key could not be opened")]
    Unsealable,
}

/// Why a set of [`TokenRules`](crate::TokenRules) was refused.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum RulesError {
    /// The issuer every token must carry is empty.
    #[error("token issuer must not be empty")]
    EmptyIssuer,
    /// The audience every token must carry is empty.
    #[error("token audience must not be empty")]
    EmptyAudience,
    /// The leeway is larger than [`MAX_LEEWAY_SECONDS`](crate::MAX_LEEWAY_SECONDS).
    #[error("token leeway of {leeway_seconds} seconds exceeds the maximum of {max} seconds")]
    LeewayTooLarge {
        /// The leeway that was asked for.
        leeway_seconds: u64,
        /// The largest leeway allowed.
        max: u64,
    },
}

/// Why a token could not be issued.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum IssueError {
    /// The subject id is empty, so the token would name nobody.
    #[error("token subject id must not be empty")]
    EmptySubject,
    /// The session id is empty, so the token would be bound to no session.
    #[error("token session id must not be empty")]
    EmptySessionId,
    /// The lifetime is zero or negative.
    #[error("token lifetime must be positive, got {lifetime_seconds} seconds")]
    InvalidLifetime {
        /// The lifetime that was asked for.
        lifetime_seconds: i64,
    },
    /// `now + lifetime` does not fit in an `i64`.
    #[error("token expiry time overflows")]
    TimeOverflow,
    /// The operating system's random number generator failed.
    #[error("random number generator failed while creating a token id")]
    Randomness,
    /// The claims could not be serialized.
    #[error("token claims could not be serialized")]
    Encoding,
    /// The token would be larger than [`MAX_TOKEN_BYTES`](crate::MAX_TOKEN_BYTES), so it could
    /// never be verified.
    #[error("token of {len} bytes would exceed the maximum size of {max} bytes")]
    TooLarge {
        /// The size the token would have had.
        len: usize,
        /// The largest size allowed.
        max: usize,
    },
    /// The codec's key set has no signing key (a verify-only set).
    #[error("no signing key: this key set only verifies")]
    NoSigningKey,
    /// The signing key failed to sign.
    #[error("token could not be signed")]
    Signing,
    /// A throwaway token did not survive sign + verify; the crypto backend is misconfigured.
    #[error("token self-test failed: {0}")]
    SelfTest(&'static str),
}

/// Why a refresh-token operation failed. No message contains token material: a refresh token,
/// its hash or a sealed successor never reaches an error.
#[derive(Debug, thiserror::Error, Clone, Copy, PartialEq, Eq)]
pub enum RefreshError {
    /// The operating system's random number generator failed.
    #[error("random number generator failed while creating a refresh token")]
    Randomness,
    /// The text is not exactly 43 characters of strict base64url encoding 32 bytes.
    #[error("malformed refresh token")]
    Malformed,
    /// A successor could not be sealed, or a sealed successor could not be opened (wrong
    /// predecessor, truncated, tampered, unknown version): all the same failure.
    #[error("refresh token successor could not be sealed or opened")]
    Sealed,
}

/// Why a token was rejected. Every variant is a rejection: there is no "soft" failure.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum VerifyError {
    /// The token is longer than [`MAX_TOKEN_BYTES`](crate::MAX_TOKEN_BYTES).
    #[error("token exceeds the maximum size of {} bytes", crate::MAX_TOKEN_BYTES)]
    TooLarge,
    /// The token is not a compact JWS with strict base64url segments and a JSON object header.
    #[error("malformed token: {0}")]
    Malformed(&'static str),
    /// The header's `alg` is not a supported algorithm, or not the algorithm of the key its `kid`
    /// selects.
    #[error("token algorithm is not the algorithm of its key")]
    UnsupportedAlgorithm,
    /// The header's `kid` names no key of the set, or the token has no `kid` and the set has no
    /// HS256 signing key to take it (only tokens from before kids existed lack one).
    #[error("token key id names no known key")]
    UnknownKey,
    /// The header has a member outside the allow-list; the payload is the member's name when it
    /// is a registered one, `"unlisted member"` otherwise (names chosen by a client are never
    /// echoed).
    #[error("token header member {0} is not allowed")]
    ForbiddenHeader(&'static str),
    /// The header has a `crit` member; no extension is understood, so the token is invalid.
    #[error("token header lists critical extensions that are not understood")]
    UnknownCrit,
    /// The header's `typ` is missing or is not `at+jwt`.
    #[error("token type is not at+jwt")]
    WrongTokenType,
    /// The MAC does not match the configured key.
    #[error("token signature does not match the configured key")]
    BadSignature,
    /// The claims are not a JSON object of correctly typed members.
    #[error("invalid token claims: {0}")]
    InvalidClaims(&'static str),
    /// The token expired `seconds_ago` seconds ago (counted from `exp`, not from `exp + leeway`).
    #[error("token expired {} ago", HumanDuration(*.seconds_ago))]
    Expired {
        /// Seconds between `exp` and now.
        seconds_ago: i64,
    },
    /// The token becomes valid in `seconds_until` seconds (counted from `nbf`).
    #[error("token is not valid for another {}", HumanDuration(*.seconds_until))]
    NotYetValid {
        /// Seconds between now and `nbf`.
        seconds_until: i64,
    },
    /// The `iss` claim is not the configured issuer.
    #[error("token issuer does not match")]
    WrongIssuer,
    /// The `aud` claim does not contain the configured audience.
    #[error("token audience does not match")]
    WrongAudience,
}

impl VerifyError {
    /// A stable snake_case code for metrics and logs; it never changes for a given variant.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::TooLarge => "too_large",
            Self::Malformed(_) => "malformed",
            Self::UnsupportedAlgorithm => "unsupported_algorithm",
            Self::UnknownKey => "unknown_key",
            Self::ForbiddenHeader(_) => "forbidden_header",
            Self::UnknownCrit => "unknown_crit",
            Self::WrongTokenType => "wrong_token_type",
            Self::BadSignature => "bad_signature",
            Self::InvalidClaims(_) => "invalid_claims",
            Self::Expired { .. } => "expired",
            Self::NotYetValid { .. } => "not_yet_valid",
            Self::WrongIssuer => "wrong_issuer",
            Self::WrongAudience => "wrong_audience",
        }
    }
}

/// Seconds printed as `3h 12m 5s` (days appear only when needed, larger units only when non-zero
/// or between non-zero ones).
struct HumanDuration(i64);

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let total = self.0.unsigned_abs();
        let sign = if self.0 < 0 { "-" } else { "" };
        let (days, hours) = (total / 86_400, total % 86_400 / 3_600);
        let (minutes, seconds) = (total % 3_600 / 60, total % 60);
        if days > 0 {
            write!(f, "{sign}{days}d {hours}h {minutes}m {seconds}s")
        } else if hours > 0 {
            write!(f, "{sign}{hours}h {minutes}m {seconds}s")
        } else if minutes > 0 {
            write!(f, "{sign}{minutes}m {seconds}s")
        } else {
            write!(f, "{sign}{seconds}s")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expired_message_counts_hours_minutes_seconds() {
        let error = VerifyError::Expired {
            seconds_ago: 3 * 3600 + 12 * 60 + 5,
        };
        assert_eq!(error.to_string(), "token expired 3h 12m 5s ago");
    }

    #[test]
    fn durations_use_only_the_units_they_need() {
        let cases = [
            (0, "0s"),
            (59, "59s"),
            (60, "1m 0s"),
            (3600, "1h 0m 0s"),
            (86_400 + 1, "1d 0h 0m 1s"),
            (-5, "-5s"),
            (i64::MIN, "-106751991167300d 15h 30m 8s"),
        ];
        for (seconds, text) in cases {
            assert_eq!(HumanDuration(seconds).to_string(), text, "{seconds}");
        }
    }

    #[test]
    fn not_yet_valid_message() {
        let error = VerifyError::NotYetValid { seconds_until: 61 };
        assert_eq!(error.to_string(), "token is not valid for another 1m 1s");
    }

    #[test]
    fn reasons_are_stable_snake_case_codes() {
        let cases = [
            (VerifyError::TooLarge, "too_large"),
            (VerifyError::Malformed("x"), "malformed"),
            (VerifyError::UnsupportedAlgorithm, "unsupported_algorithm"),
            (VerifyError::UnknownKey, "unknown_key"),
            (VerifyError::ForbiddenHeader("jwk"), "forbidden_header"),
            (VerifyError::UnknownCrit, "unknown_crit"),
            (VerifyError::WrongTokenType, "wrong_token_type"),
            (VerifyError::BadSignature, "bad_signature"),
            (VerifyError::InvalidClaims("x"), "invalid_claims"),
            (VerifyError::Expired { seconds_ago: 1 }, "expired"),
            (
                VerifyError::NotYetValid { seconds_until: 1 },
                "not_yet_valid",
            ),
            (VerifyError::WrongIssuer, "wrong_issuer"),
            (VerifyError::WrongAudience, "wrong_audience"),
        ];
        for (error, reason) in cases {
            assert_eq!(error.reason(), reason);
            let message = error.to_string();
            assert!(
                message.starts_with("token")
                    || message.starts_with("malformed")
                    || message.starts_with("invalid"),
                "{message}"
            );
            assert_eq!(
                message,
                message.to_lowercase().replace("hs256", "HS256"),
                "{message}"
            );
        }
    }

    #[test]
    fn messages_are_precise() {
        assert_eq!(
            VerifyError::BadSignature.to_string(),
            "token signature does not match the configured key"
        );
        assert_eq!(
            VerifyError::WrongAudience.to_string(),
            "token audience does not match"
        );
        assert_eq!(
            VerifyError::TooLarge.to_string(),
            "token exceeds the maximum size of 8192 bytes"
        );
        assert_eq!(
            VerifyError::ForbiddenHeader("jku").to_string(),
            "token header member jku is not allowed"
        );
        assert_eq!(
            RulesError::LeewayTooLarge {
                leeway_seconds: 61,
                max: 60
            }
            .to_string(),
            "token leeway of 61 seconds exceeds the maximum of 60 seconds"
        );
    }
}
