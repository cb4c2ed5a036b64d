//! The signing-key settings: which algorithm signs access tokens, where an asymmetric private
//! key comes from (a PEM file managed outside tessera, or keys tessera generates and keeps in
//! the database sealed with `TESSERA_KEY_ENCRYPTION_SECRET`), the previous HS256 secrets that
//! still verify, the rotation schedule and how long the published key set may be cached.
//!
//! They are entries of the one settings table ([`super::SETTINGS`]), kept in their own file
//! because they belong together. Rules joining two settings (a key file only with an asymmetric
//! algorithm, an asymmetric algorithm needs a key source) sit with the other such rules, in
//! `resolve`.
//!
//! Invariant: a previous secret goes through [`JwtSecret::parse`] under the JWT secret's policy,
//! exactly like `TESSERA_JWT_SECRET`, so every instance derives the same keys; no value of a
//! secret setting appears in an error or a warning.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use secrecy::SecretString;

use super::{DefaultValue, Draft, Entry, Parse, Parsed, Sensitivity, ValueKind, default_value};
use crate::parse;
use crate::secret::{JwtSecret, KEY_CHARACTERS, SecretPolicy};

/// The JWS algorithm that signs access tokens (`TESSERA_JWT_ALGORITHM`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum JwtAlgorithm {
    /// HMAC with SHA-256, keyed by `TESSERA_JWT_SECRET` (the AyaNova-compatible default).
    #[default]
    Hs256,
    /// Ed25519 signatures.
    EdDsa,
    /// ECDSA on P-256 with SHA-256.
    Es256,
    /// RSA PKCS#1 v1.5 with SHA-256.
    Rs256,
}

/// Every algorithm, in the order the setting lists them.
const ALGORITHMS: [JwtAlgorithm; 4] = [
    JwtAlgorithm::Hs256,
    JwtAlgorithm::EdDsa,
    JwtAlgorithm::Es256,
    JwtAlgorithm::Rs256,
];

/// What `TESSERA_JWT_ALGORITHM` allows, in words.
const ALGORITHM_ALLOWED: &str = "HS256, EdDSA, ES256 or RS256 (exact spelling)";

impl JwtAlgorithm {
    /// The JWS name (`HS256`, `EdDSA`, `ES256`, `RS256`), the setting's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            JwtAlgorithm::Hs256 => "HS256",
            JwtAlgorithm::EdDsa => "EdDSA",
            JwtAlgorithm::Es256 => "ES256",
            JwtAlgorithm::Rs256 => "RS256",
        }
    }

    /// Whether the algorithm signs with a shared secret (HS256) rather than a private key.
    pub fn is_symmetric(self) -> bool {
        self == JwtAlgorithm::Hs256
    }

    /// Parses a JWS name, spelled exactly; the error lists the four names, and names the one
    /// meant when only the letters' case differs.
    pub fn parse(value: &str) -> Result<JwtAlgorithm, String> {
        if let Some(algorithm) = ALGORITHMS.into_iter().find(|a| a.as_str() == value) {
            return Ok(algorithm);
        }
        let hint = ALGORITHMS
            .into_iter()
            .find(|a| a.as_str().eq_ignore_ascii_case(value))
            .map(|a| format!(" (names are case-sensitive: {})", a.as_str()))
            .unwrap_or_default();
        Err(format!("must be {ALGORITHM_ALLOWED}{hint}"))
    }
}

impl FromStr for JwtAlgorithm {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        JwtAlgorithm::parse(value)
    }
}

impl fmt::Display for JwtAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

// Before TESSERA_JWT_SECRET: whether a generated secret deserves its warning depends on it.
pub(super) const JWT_ALGORITHM: Entry<JwtAlgorithm> = Entry {
    name: "TESSERA_JWT_ALGORITHM",
    aliases: &[],
    default: DefaultValue::Value("HS256"),
    default_note: "",
    allowed: ALGORITHM_ALLOWED,
    help: "The algorithm that signs access tokens. `HS256` (the default, AyaNova's) signs with \
           `TESSERA_JWT_SECRET`, which every verifier must then hold. `EdDSA` (Ed25519), \
           `ES256` (ECDSA P-256) and `RS256` (RSA, 2048 bits or more) sign with a private key \
           and publish the public keys as a JSON Web Key Set, so verifiers need no secret. The private key comes from `TESSERA_JWT_PRIVATE_KEY_FILE`, or tessera \
           generates keys, keeps them in the database sealed with \
           `TESSERA_KEY_ENCRYPTION_SECRET` and rotates them (`TESSERA_KEY_ROTATION_DAYS`); \
           `tessera serve` refuses an asymmetric algorithm with neither. With an asymmetric \
           algorithm `TESSERA_JWT_SECRET` signs nothing, so a random one is accepted on \
           PostgreSQL too; `TESSERA_JWT_SECRET` and `TESSERA_JWT_PREVIOUS_SECRETS` still \
           verify HS256 tokens issued before the switch.",
    sensitivity: Sensitivity::Public,
    kind: ValueKind::Text,
    in_config_file: true,
    example: "EdDSA",
    parse: Parse::Text(|raw, _| Ok((JwtAlgorithm::parse(raw)?, Vec::new()))),
    unset: default_value,
};

// After TESSERA_JWT_SECRET: a previous secret equal to it is refused.
pub(super) const JWT_PREVIOUS_SECRETS: Entry<Vec<JwtSecret>> = Entry {
    name: "TESSERA_JWT_PREVIOUS_SECRETS",
    aliases: &["AYANOVA_JWT_PREVIOUS_SECRETS"],
    default: DefaultValue::Unset,
    default_note: "no previous secret",
    allowed: "a comma-separated list of secrets, each as TESSERA_JWT_SECRET allows, none \
              giving the key of TESSERA_JWT_SECRET or of another one",
    help: "Secrets that used to be `TESSERA_JWT_SECRET`: HS256 tokens signed with one of them \
           are still accepted, but nothing is signed with them. To change the secret without \
           logging everyone out, set the new `TESSERA_JWT_SECRET`, list the old one here, and \
           remove it once the tokens it signed have expired (`TESSERA_JWT_EXPIRATION_MINUTES`). \
           Each becomes a key by the rule of `TESSERA_JWT_SECRET` and its policy (padded or cut \
           to 32 characters under `pad`), so a secret listed here verifies exactly the tokens \
           it signed as `TESSERA_JWT_SECRET`. They also verify with an asymmetric \
           `TESSERA_JWT_ALGORITHM`, so tokens issued before moving from HS256 stay valid until \
           they expire. On the command line and in the environment the secrets are separated \
           by commas (spaces around them are dropped); in config.json the value is such a \
           text or an array of strings (`[\"old\", \"older\"]`, where a secret may hold a \
           comma); in a file (`TESSERA_JWT_PREVIOUS_SECRETS_FILE`) there is one secret per \
           line, blank lines ignored. A secret giving the same key as `TESSERA_JWT_SECRET` or \
           as another listed one is refused.",
    sensitivity: Sensitivity::Secret,
    kind: ValueKind::List,
    in_config_file: true,
    example: "<old secret>,<older secret>",
    parse: Parse::List(previous_secrets),
    unset: default_value,
};

/// Parses the previous secrets under the JWT secret's policy; refuses one giving the current
/// key or another's. Errors and warnings name a secret by its position only.
fn previous_secrets(items: &[String], draft: &Draft) -> Parsed<Vec<JwtSecret>> {
    let count = items.len();
    let mut secrets: Vec<JwtSecret> = Vec::with_capacity(count);
    let mut warnings = Vec::new();
    for (index, item) in items.iter().enumerate() {
        let position = index + 1;
        let which = if count == 1 {
            "the secret".to_owned()
        } else {
            format!("secret {position} of {count}")
        };
        let secret = JwtSecret::parse(item, draft.jwt_secret_policy.unwrap_or_default())
            .map_err(|error| format!("{which} {error}"))?;
        if draft
            .jwt_secret
            .as_ref()
            .is_some_and(|current| current.key_bytes() == secret.key_bytes())
        {
            return Err(format!(
                "{which} gives the key of TESSERA_JWT_SECRET; a previous secret is one that \
                 no longer signs: remove it from the list"
            ));
        }
        if let Some(earlier) = secrets
            .iter()
            .position(|earlier| earlier.key_bytes() == secret.key_bytes())
        {
            return Err(format!(
                "secrets {} and {position} of {count} give the same key: list each once",
                earlier + 1
            ));
        }
        warnings.extend(
            secret
                .warnings()
                .into_iter()
                .map(|warning| format!("{which} {warning}")),
        );
        secrets.push(secret);
    }
    Ok((secrets, warnings))
}

pub(super) const JWT_PRIVATE_KEY_FILE: Entry<Option<PathBuf>> = Entry {
    name: "TESSERA_JWT_PRIVATE_KEY_FILE",
    aliases: &[],
    default: DefaultValue::Unset,
    default_note: "keys are generated and kept in the database",
    allowed: "the path of a PEM file holding a private key",
    help: "The path of a PEM file holding the private key that signs access tokens, for a key \
           managed outside tessera (by a secret manager or an HSM export): a PKCS#8 \
           `PRIVATE KEY`, a SEC1 `EC PRIVATE KEY` or a PKCS#1 `RSA PRIVATE KEY`, matching \
           `TESSERA_JWT_ALGORITHM`, which must be asymmetric (with `HS256` this setting is \
           refused). Its key id is the key's RFC 7638 thumbprint, so every instance reading \
           the same file agrees. tessera neither rotates nor stores this key: replace the file \
           and restart to change it. A relative path is relative to the working directory; \
           the file is read at start.",
    sensitivity: Sensitivity::Public,
    kind: ValueKind::Text,
    in_config_file: true,
    example: "/run/secrets/tessera-signing-key.pem",
    parse: Parse::Text(|raw, _| {
        if raw.is_empty() {
            return Err("must be the path of a PEM file holding a private key".to_owned());
        }
        Ok((Some(PathBuf::from(raw)), Vec::new()))
    }),
    unset: default_value,
};

pub(super) const KEY_ENCRYPTION_SECRET: Entry<Option<SecretString>> = Entry {
    name: "TESSERA_KEY_ENCRYPTION_SECRET",
    aliases: &[],
    default: DefaultValue::Unset,
    default_note: "",
    allowed: "a secret of at least 32 characters, not blank",
    help: "The secret that encrypts the private keys tessera generates and keeps in the \
           database (AES-256-GCM under a key derived from it), so a copy of the database alone \
           cannot sign tokens. Needed with an asymmetric `TESSERA_JWT_ALGORITHM` unless \
           `TESSERA_JWT_PRIVATE_KEY_FILE` is set. Every instance on one database needs the same \
           value; changing it makes the stored keys unreadable. At least 32 characters, used \
           whole (no padding, no cutting): use 32 random characters or more (for example from \
           `openssl rand -base64 32`). tessera warns when it looks weak, as for \
           `TESSERA_JWT_SECRET`.",
    sensitivity: Sensitivity::Secret,
    kind: ValueKind::Text,
    in_config_file: true,
    example: "<32 or more random characters>",
    parse: Parse::Text(|raw, _| {
        let (secret, warnings) = key_encryption_secret(raw)?;
        Ok((Some(secret), warnings))
    }),
    unset: default_value,
};

/// At least [`KEY_CHARACTERS`] characters, not blank; the weak-secret warnings of the JWT
/// secret (which never contain it).
fn key_encryption_secret(raw: &str) -> Parsed<SecretString> {
    let characters = raw.chars().count();
    if raw.chars().all(char::is_whitespace) {
        return Err("must not be empty or blank".to_owned());
    }
    if characters < KEY_CHARACTERS {
        return Err(format!(
            "must be at least {KEY_CHARACTERS} characters; got {characters}"
        ));
    }
    // Strict: used whole, so the warnings are about the value only (published, weak,
    // surrounding whitespace), never about padding.
    let warnings = JwtSecret::parse(raw, SecretPolicy::Strict)
        .map(|secret| secret.warnings())
        .map_err(|error| format!("must not be empty or blank ({error})"))?;
    Ok((SecretString::from(raw.to_owned()), warnings))
}

pub(super) const KEY_ROTATION_DAYS: Entry<Option<u32>> = Entry {
    name: "TESSERA_KEY_ROTATION_DAYS",
    aliases: &[],
    default: DefaultValue::Unset,
    default_note: "no schedule: keys change only when rotated by hand",
    allowed: "an integer from 1 to 365 (days)",
    help: "How often tessera replaces the signing key it generated (asymmetric algorithms with \
           `TESSERA_KEY_ENCRYPTION_SECRET`), in days. A new key is published in the key set \
           first and signs only once `TESSERA_JWKS_MAX_AGE_SECONDS` has passed, so verifiers \
           caching the key set know it before they meet it; the replaced key keeps verifying \
           until the tokens it signed have expired. Unset, keys change only when rotated by \
           hand. A key from `TESSERA_JWT_PRIVATE_KEY_FILE` is never rotated by tessera.",
    sensitivity: Sensitivity::Public,
    kind: ValueKind::Integer,
    in_config_file: true,
    example: "90",
    parse: Parse::Text(|raw, _| Ok((Some(parse::integer(raw, 1, 365, "days")?), Vec::new()))),
    unset: default_value,
};

pub(super) const JWKS_MAX_AGE: Entry<u32> = Entry {
    name: "TESSERA_JWKS_MAX_AGE_SECONDS",
    aliases: &[],
    default: DefaultValue::Value("300"),
    default_note: "5 minutes",
    allowed: "an integer from 0 to 86400 (seconds)",
    help: "How long verifiers may cache the published key set (the JSON Web Key Set), as its \
           `Cache-Control: max-age`, in seconds. A new key is published at least this long \
           before it signs, so a verifier holding a cached copy never meets a token signed by a \
           key it has not seen. Longer means fewer key set downloads and a slower rotation; \
           `0` forbids caching.",
    sensitivity: Sensitivity::Public,
    kind: ValueKind::Integer,
    in_config_file: true,
    example: "3600",
    parse: Parse::Text(|raw, _| Ok((parse::integer(raw, 0, 86400, "seconds")?, Vec::new()))),
    unset: default_value,
};
