//! The JWT signing secret as a type.
//!
//! This module owns the seed's compatibility rule (pad to 32 characters, or keep only the first
//! 32) and the random secret drawn when none is configured. The rule lives in
//! [`JwtSecret::parse`] only: nothing else in tessera pads, cuts or inspects a secret.
//!
//! Invariant: the secret never leaves this type except through [`JwtSecret::key_bytes`]. It has
//! no `Display`, its `Debug` is redacted, errors and warnings never contain it, and the key is
//! kept in a [`SecretString`] that is zeroized on drop.

use std::collections::BTreeSet;
use std::fmt;

use secrecy::{ExposeSecret, SecretString};

/// Number of characters in an effective key under the `pad` policy, and the minimum under `strict`.
pub const KEY_CHARACTERS: usize = 32;

/// The character appended to a short secret under the `pad` policy: U+002D HYPHEN-MINUS.
pub const PAD_CHARACTER: char = '-';

/// Secrets printed in the seed documents. Anyone can read them, so they are flagged loudly.
pub const PUBLISHED_EXAMPLES: &[&str] = &[
    "02847This_is_my_secret_key456576",
    "My32CharacterSecretKey0123456789",
];

/// Estimated strength, in bits, below which a configured secret is called weak.
pub const WEAK_BELOW_BITS: u32 = 128;

/// Number of distinct characters below which a configured secret is called weak.
pub const WEAK_BELOW_DISTINCT: usize = 10;

/// Characters a generated secret is drawn from.
const GENERATED_ALPHABET: &[u8; 62] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// How a configured secret is turned into a key (`TESSERA_JWT_SECRET_POLICY`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SecretPolicy {
    /// The seed's rule: shorter secrets are padded to 32 characters, longer ones cut to 32.
    #[default]
    Pad,
    /// At least 32 characters are required, and the whole secret is the key.
    Strict,
}

impl SecretPolicy {
    /// The setting's spelling of this policy.
    pub fn as_str(self) -> &'static str {
        match self {
            SecretPolicy::Pad => "pad",
            SecretPolicy::Strict => "strict",
        }
    }

    /// Parses `pad` or `strict` (exact spelling).
    pub fn parse(value: &str) -> Result<SecretPolicy, String> {
        match value {
            "pad" => Ok(SecretPolicy::Pad),
            "strict" => Ok(SecretPolicy::Strict),
            _ => Err("must be pad or strict".to_owned()),
        }
    }
}

impl fmt::Display for SecretPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What [`JwtSecret::parse`] did to the configured value to obtain the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretAdjustment {
    /// Used as given (exactly 32 characters, or any length of at least 32 under `strict`).
    Exact,
    /// Padded with [`PAD_CHARACTER`] from `from` characters to 32.
    Padded { from: usize },
    /// Cut from `from` characters to the first 32.
    Truncated { from: usize },
    /// No secret was configured: 32 random characters were drawn at start.
    Generated,
}

/// Why a configured secret cannot be used. Never contains the secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error("must not be empty (an empty secret is never padded into a key)")]
    Empty,
    #[error("must not be blank (only whitespace is never padded into a key)")]
    Blank,
    #[error("must be at least 32 characters (policy strict); got {characters}")]
    TooShort { characters: usize },
    #[error("could not draw random bytes from the operating system: {0}")]
    Random(String),
}

/// The HS256 signing secret, already turned into its effective key.
#[derive(Clone)]
pub struct JwtSecret {
    key: SecretString,
    adjustment: SecretAdjustment,
    findings: Findings,
}

/// What was noticed about the configured value, kept instead of the value itself.
/// The outcome of the weak-secret heuristic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Weakness {
    FewDistinct(usize),
    LowEstimate(u32),
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Findings {
    published_example: bool,
    /// Why the value looks weak, when it does.
    weak: Option<Weakness>,
    surrounding_whitespace: bool,
}

impl JwtSecret {
    /// Turns a configured secret into a key.
    ///
    /// Lengths are counted in characters (Unicode scalar values), not bytes. Under
    /// [`SecretPolicy::Pad`], fewer than 32 characters are padded on the right with `-` to exactly
    /// 32, and more than 32 are cut to the first 32. Under [`SecretPolicy::Strict`], fewer than 32
    /// characters are an error and the value is used whole. An empty or blank value is always an
    /// error. The key is the UTF-8 encoding of the resulting characters.
    pub fn parse(value: &str, policy: SecretPolicy) -> Result<JwtSecret, SecretError> {
        if value.is_empty() {
            return Err(SecretError::Empty);
        }
        if value.chars().all(char::is_whitespace) {
            return Err(SecretError::Blank);
        }
        let characters = value.chars().count();
        let (used, adjustment) = match policy {
            SecretPolicy::Strict if characters < KEY_CHARACTERS => {
                return Err(SecretError::TooShort { characters });
            }
            SecretPolicy::Strict => (value, SecretAdjustment::Exact),
            SecretPolicy::Pad if characters < KEY_CHARACTERS => {
                (value, SecretAdjustment::Padded { from: characters })
            }
            SecretPolicy::Pad if characters > KEY_CHARACTERS => {
                let end = value
                    .char_indices()
                    .nth(KEY_CHARACTERS)
                    .map_or(value.len(), |(index, _)| index);
                (
                    &value[..end],
                    SecretAdjustment::Truncated { from: characters },
                )
            }
            SecretPolicy::Pad => (value, SecretAdjustment::Exact),
        };
        let padding = KEY_CHARACTERS.saturating_sub(used.chars().count());
        // Exact capacity, so turning the String into a boxed str does not reallocate and leave an
        // unzeroized copy behind.
        let mut key = String::with_capacity(used.len() + padding * PAD_CHARACTER.len_utf8());
        key.push_str(used);
        key.extend(std::iter::repeat_n(PAD_CHARACTER, padding));
        let findings = Findings {
            published_example: PUBLISHED_EXAMPLES
                .iter()
                .any(|example| *example == value || *example == key),
            weak: weakness(used),
            surrounding_whitespace: value.trim() != value,
        };
        Ok(JwtSecret {
            key: SecretString::from(key),
            adjustment,
            findings,
        })
    }

    /// Draws 32 characters from `A–Z a–z 0–9` using the operating system's CSPRNG.
    ///
    /// Bytes of 248 or more are rejected so each character is equally likely (no modulo bias).
    pub fn generate() -> Result<JwtSecret, SecretError> {
        let mut key = String::with_capacity(KEY_CHARACTERS);
        let mut buffer = zeroize::Zeroizing::new([0u8; 64]);
        let limit = 256 - 256 % GENERATED_ALPHABET.len();
        while key.len() < KEY_CHARACTERS {
            getrandom::fill(buffer.as_mut_slice())
                .map_err(|error| SecretError::Random(error.to_string()))?;
            for byte in buffer.iter().map(|byte| usize::from(*byte)) {
                if key.len() == KEY_CHARACTERS {
                    break;
                }
                if byte < limit {
                    let index = byte % GENERATED_ALPHABET.len();
                    key.extend(GENERATED_ALPHABET.get(index).map(|c| char::from(*c)));
                }
            }
        }
        Ok(JwtSecret {
            key: SecretString::from(key),
            adjustment: SecretAdjustment::Generated,
            findings: Findings::default(),
        })
    }

    /// The key: the UTF-8 bytes of the effective characters. Calling this is the one explicit
    /// place where the secret is exposed; hand the bytes straight to the signer.
    pub fn key_bytes(&self) -> &[u8] {
        self.key.expose_secret().as_bytes()
    }

    /// What was done to the configured value to obtain the key.
    pub fn adjustment(&self) -> SecretAdjustment {
        self.adjustment
    }

    /// Human-readable warnings about this secret, most serious first. They never contain it.
    pub fn warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        if self.findings.published_example {
            warnings.push(
                "is a published example secret: anyone who read the documentation can forge \
                 tokens; use 32 random characters"
                    .to_owned(),
            );
        }
        match self.findings.weak {
            Some(Weakness::FewDistinct(distinct)) => warnings.push(format!(
                "looks weak (only {distinct} distinct characters, {WEAK_BELOW_DISTINCT} wanted): \
                 use 32 random characters"
            )),
            Some(Weakness::LowEstimate(bits)) => warnings.push(format!(
                "looks weak (at most {bits} bits by a simple estimate, {WEAK_BELOW_BITS} wanted): \
                 use 32 random characters"
            )),
            None => {}
        }
        match self.adjustment {
            SecretAdjustment::Padded { from } => warnings.push(format!(
                "padded from {from} characters to 32 with '{PAD_CHARACTER}' (compatibility rule; \
                 the padding adds no strength)"
            )),
            SecretAdjustment::Truncated { from } => warnings.push(format!(
                "cut from {from} characters to the first 32 (the rest is ignored)"
            )),
            SecretAdjustment::Generated => warnings.push(
                "no TESSERA_JWT_SECRET/AYANOVA_JWT_SECRET set: generated a random secret; tokens \
                 issued now will not survive a restart"
                    .to_owned(),
            ),
            SecretAdjustment::Exact => {}
        }
        if self.findings.surrounding_whitespace {
            warnings.push(
                "starts or ends with whitespace, which is part of the key (check for a stray \
                 newline)"
                    .to_owned(),
            );
        }
        warnings
    }
}

impl fmt::Debug for JwtSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JwtSecret(<redacted>)")
    }
}

/// The weak-secret heuristic. `used` is the part of the configured value that ends up in the key
/// (padding excluded, since it is public).
///
/// Estimate = characters × log2(pool), where the pool adds 26 if any lower-case ASCII letter
/// appears, 26 for upper-case, 10 for digits, 33 for other printable ASCII (space included) and
/// 100 for anything else. That is the strength of a value drawn at random from that pool, so it
/// is an upper bound: a dictionary phrase can pass and still be guessable. A value is weak when
/// it has fewer than 10 distinct characters or the estimate is under 128 bits.
fn weakness(used: &str) -> Option<Weakness> {
    let mut distinct = BTreeSet::new();
    let (mut lower, mut upper, mut digit, mut symbol, mut other) =
        (false, false, false, false, false);
    for c in used.chars() {
        distinct.insert(c);
        match c {
            'a'..='z' => lower = true,
            'A'..='Z' => upper = true,
            '0'..='9' => digit = true,
            ' '..='~' => symbol = true,
            _ => other = true,
        }
    }
    let pool: u32 = [
        (lower, 26),
        (upper, 26),
        (digit, 10),
        (symbol, 33),
        (other, 100),
    ]
    .iter()
    .filter(|(present, _)| *present)
    .map(|(_, size)| size)
    .sum();
    let characters = used.chars().count() as f64;
    let estimate = characters * f64::from(pool.max(1)).log2();
    // Saturating float-to-int conversion; the estimate is never negative.
    let bits = estimate.floor() as u32;
    if distinct.len() < WEAK_BELOW_DISTINCT {
        Some(Weakness::FewDistinct(distinct.len()))
    } else if bits < WEAK_BELOW_BITS {
        Some(Weakness::LowEstimate(bits))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RANDOMISH_31: &str = "Qx7vLp2RmZ9aKt4WcYh8NbE3sGf6Ud1";

    #[test]
    fn exact_32_characters_is_used_as_is() {
        let secret =
            JwtSecret::parse("Qx7vLp2RmZ9aKt4WcYh8NbE3sGf6Ud1J", SecretPolicy::Pad).unwrap();
        assert_eq!(secret.key_bytes(), b"Qx7vLp2RmZ9aKt4WcYh8NbE3sGf6Ud1J");
        assert_eq!(secret.adjustment(), SecretAdjustment::Exact);
        assert!(secret.warnings().is_empty(), "{:?}", secret.warnings());
    }

    #[test]
    fn short_secret_is_padded_deterministically_with_hyphens() {
        assert_eq!(RANDOMISH_31.chars().count(), 31);
        let first = JwtSecret::parse(RANDOMISH_31, SecretPolicy::Pad).unwrap();
        let second = JwtSecret::parse(RANDOMISH_31, SecretPolicy::Pad).unwrap();
        assert_eq!(first.key_bytes(), second.key_bytes());
        assert_eq!(first.key_bytes(), format!("{RANDOMISH_31}-").as_bytes());
        assert_eq!(first.adjustment(), SecretAdjustment::Padded { from: 31 });
        assert!(
            first
                .warnings()
                .iter()
                .any(|w| w.contains("padded from 31 characters to 32"))
        );
    }

    #[test]
    fn long_secret_keeps_only_the_first_32_characters() {
        let long = "Qx7vLp2RmZ9aKt4WcYh8NbE3sGf6Ud1JextraXYZ";
        assert_eq!(long.chars().count(), 40);
        let cut = JwtSecret::parse(long, SecretPolicy::Pad).unwrap();
        let first_32: String = long.chars().take(32).collect();
        let exact = JwtSecret::parse(&first_32, SecretPolicy::Pad).unwrap();
        assert_eq!(cut.key_bytes(), exact.key_bytes());
        assert_eq!(cut.adjustment(), SecretAdjustment::Truncated { from: 40 });
        assert!(
            cut.warnings()
                .iter()
                .any(|w| w.contains("cut from 40 characters to the first 32"))
        );
    }

    #[test]
    fn lengths_are_counted_in_characters_not_bytes() {
        let accents = "é".repeat(10);
        let secret = JwtSecret::parse(&accents, SecretPolicy::Pad).unwrap();
        assert_eq!(secret.adjustment(), SecretAdjustment::Padded { from: 10 });
        assert_eq!(secret.key_bytes().len(), 20 + 22);
        assert_eq!(
            secret.key_bytes(),
            format!("{accents}{}", "-".repeat(22)).as_bytes()
        );

        // 40 multibyte characters: cut at a character boundary, never inside one.
        let long = "ü".repeat(40);
        let cut = JwtSecret::parse(&long, SecretPolicy::Pad).unwrap();
        assert_eq!(cut.key_bytes(), "ü".repeat(32).as_bytes());
        // Mixed widths: 31 ASCII then a 4-byte character then more.
        let mixed = format!("{RANDOMISH_31}🦀🦀abc");
        let cut = JwtSecret::parse(&mixed, SecretPolicy::Pad).unwrap();
        assert_eq!(cut.key_bytes(), format!("{RANDOMISH_31}🦀").as_bytes());
    }

    #[test]
    fn empty_and_blank_secrets_are_errors_never_padding() {
        for policy in [SecretPolicy::Pad, SecretPolicy::Strict] {
            assert_eq!(
                JwtSecret::parse("", policy).unwrap_err(),
                SecretError::Empty
            );
            for blank in [" ", "   ", "\t\n", "\u{3000}"] {
                assert_eq!(
                    JwtSecret::parse(blank, policy).unwrap_err(),
                    SecretError::Blank
                );
            }
        }
    }

    #[test]
    fn strict_policy_requires_32_characters_and_uses_the_whole_value() {
        let error = JwtSecret::parse(RANDOMISH_31, SecretPolicy::Strict).unwrap_err();
        assert_eq!(error, SecretError::TooShort { characters: 31 });
        assert!(
            error
                .to_string()
                .contains("must be at least 32 characters (policy strict)")
        );
        let long = "Qx7vLp2RmZ9aKt4WcYh8NbE3sGf6Ud1JextraXYZ";
        let secret = JwtSecret::parse(long, SecretPolicy::Strict).unwrap();
        assert_eq!(secret.key_bytes(), long.as_bytes());
        assert_eq!(secret.adjustment(), SecretAdjustment::Exact);
        // Characters, not bytes: 16 two-byte characters are 32 bytes but only 16 characters.
        assert!(JwtSecret::parse(&"é".repeat(16), SecretPolicy::Strict).is_err());
    }

    #[test]
    fn published_examples_are_flagged_even_after_cutting() {
        for example in PUBLISHED_EXAMPLES {
            let secret = JwtSecret::parse(example, SecretPolicy::Pad).unwrap();
            assert!(secret.warnings()[0].contains("is a published example secret"));
            let longer = format!("{example}_and_more");
            let secret = JwtSecret::parse(&longer, SecretPolicy::Pad).unwrap();
            assert!(secret.warnings()[0].contains("is a published example secret"));
        }
    }

    #[test]
    fn weak_heuristic() {
        let weak = [
            "a".repeat(32),
            "passwordpasswordpasswordpassword".to_owned(),
            "abcdefghijklmnopqrst".to_owned(), // 20 lower-case letters: 94 bits
            "Secret123".to_owned(),
        ];
        for value in &weak {
            let secret = JwtSecret::parse(value, SecretPolicy::Pad).unwrap();
            assert!(
                secret.warnings().iter().any(|w| w.contains("looks weak")),
                "{value} should be weak"
            );
        }
        let strong = [
            "Qx7vLp2RmZ9aKt4WcYh8NbE3sGf6Ud1J",
            "9f86d081884c7d659a2feaa0c55ad015", // 32 hex characters: 165 bits
            "k2Rw9ZpL4qXv7TnB3mYs8Jd6Hc",       // 26 alphanumeric characters: 154 bits
        ];
        for value in strong {
            let secret = JwtSecret::parse(value, SecretPolicy::Pad).unwrap();
            assert!(
                !secret.warnings().iter().any(|w| w.contains("looks weak")),
                "{value} should not be weak"
            );
        }
    }

    #[test]
    fn warnings_and_debug_never_contain_the_secret() {
        let value = "mysecretvalue";
        let secret = JwtSecret::parse(value, SecretPolicy::Pad).unwrap();
        assert_eq!(format!("{secret:?}"), "JwtSecret(<redacted>)");
        for warning in secret.warnings() {
            assert!(!warning.contains(value), "{warning}");
        }
    }

    #[test]
    fn surrounding_whitespace_is_kept_but_warned_about() {
        let value = format!("{RANDOMISH_31}\n");
        let secret = JwtSecret::parse(&value, SecretPolicy::Pad).unwrap();
        assert_eq!(secret.key_bytes(), value.as_bytes());
        assert!(secret.warnings().iter().any(|w| w.contains("whitespace")));
    }

    #[test]
    fn generated_secret_is_32_alphanumeric_characters_and_differs_each_time() {
        let first = JwtSecret::generate().unwrap();
        let second = JwtSecret::generate().unwrap();
        for secret in [&first, &second] {
            assert_eq!(secret.key_bytes().len(), 32);
            assert!(secret.key_bytes().iter().all(u8::is_ascii_alphanumeric));
            assert_eq!(secret.adjustment(), SecretAdjustment::Generated);
            assert!(secret.warnings()[0].contains("generated a random secret"));
        }
        assert_ne!(first.key_bytes(), second.key_bytes());
    }

    #[test]
    fn generated_characters_cover_the_alphabet() {
        // 40 draws of 32 characters: every one of the 62 characters shows up with overwhelming
        // probability (a missing one has probability below 62 * (61/62)^1280 ≈ 6e-8).
        let mut seen = BTreeSet::new();
        for _ in 0..40 {
            seen.extend(JwtSecret::generate().unwrap().key_bytes().iter().copied());
        }
        assert_eq!(seen.len(), 62);
    }

    #[test]
    fn policy_parses_exact_names() {
        assert_eq!(SecretPolicy::parse("pad"), Ok(SecretPolicy::Pad));
        assert_eq!(SecretPolicy::parse("strict"), Ok(SecretPolicy::Strict));
        assert!(SecretPolicy::parse("Strict").is_err());
        assert!(SecretPolicy::parse("").is_err());
    }
}
