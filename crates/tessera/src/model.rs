//! Validated values that cross the HTTP and CLI boundaries: parse, don't validate.
//!
//! Each type has private fields and a `parse` that returns a typed error saying what is
//! allowed; once constructed, a value is known to be valid everywhere it travels.

use secrecy::{ExposeSecret, SecretString};

use crate::password::{MAX_PASSWORD_CHARS, MIN_NEW_PASSWORD_CHARS};

/// The longest username, in characters.
pub const MAX_USERNAME_CHARS: usize = 64;
/// The most roles one user may hold.
pub const MAX_ROLES: usize = 32;
/// The longest role name, in characters.
pub const MAX_ROLE_CHARS: usize = 64;
/// The role that may manage users.
pub const ADMIN_ROLE: &str = "admin";

/// A rejected value, with a message saying what is allowed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidValue(pub String);

/// A username: 1–64 characters from `a–z 0–9 . _ - @`, stored in lower case.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Username(String);

impl Username {
    /// Lower-cases ASCII letters, then checks the allowed alphabet and length.
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let lowered = Self::normalise(raw);
        let count = lowered.chars().count();
        let allowed = |c: char| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-' | '@')
        };
        if count == 0 || count > MAX_USERNAME_CHARS || !lowered.chars().all(allowed) {
            return Err(InvalidValue(format!(
                "username must be 1 to {MAX_USERNAME_CHARS} characters from a-z, 0-9, '.', '_', '-', '@'"
            )));
        }
        Ok(Self(lowered))
    }

    /// What [`Username::parse`] does to its input before checking it (ASCII letters in lower
    /// case, everything else kept), so text searched for in usernames can be normalised the
    /// same way: `normalise(a)` contains `normalise(b)` whenever `a` contains `b`.
    pub fn normalise(raw: &str) -> String {
        raw.to_ascii_lowercase()
    }

    /// The normalised username.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A set of roles: each 1–64 characters from `a–z 0–9 . _ - :`, at most 32, no duplicates
/// (duplicates are merged), sorted.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Roles(Vec<String>);

impl Roles {
    /// Validates and normalises a list of role names.
    pub fn parse<S: AsRef<str>>(raw: &[S]) -> Result<Self, InvalidValue> {
        let mut roles = Vec::with_capacity(raw.len());
        for role in raw {
            let role = role.as_ref();
            let count = role.chars().count();
            let allowed = |c: char| {
                c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-' | ':')
            };
            if count == 0 || count > MAX_ROLE_CHARS || !role.chars().all(allowed) {
                return Err(InvalidValue(format!(
                    "each role must be 1 to {MAX_ROLE_CHARS} characters from a-z, 0-9, '.', '_', '-', ':'"
                )));
            }
            roles.push(role.to_owned());
        }
        roles.sort();
        roles.dedup();
        if roles.len() > MAX_ROLES {
            return Err(InvalidValue(format!(
                "a user may hold at most {MAX_ROLES} roles"
            )));
        }
        Ok(Self(roles))
    }

    /// True when `role` is among them.
    pub fn contains(&self, role: &str) -> bool {
        self.0.iter().any(|r| r == role)
    }

    /// The roles, sorted.
    pub fn into_vec(self) -> Vec<String> {
        self.0
    }
}

/// A new password: 8–1024 characters, kept exactly as given (no trimming, no
/// normalisation), held as a secret.
#[derive(Debug, Clone)]
pub struct NewPassword(SecretString);

impl NewPassword {
    /// Checks the length of a password that is about to be stored.
    pub fn parse(raw: SecretString) -> Result<Self, InvalidValue> {
        let count = raw.expose_secret().chars().count();
        if !(MIN_NEW_PASSWORD_CHARS..=MAX_PASSWORD_CHARS).contains(&count) {
            return Err(InvalidValue(format!(
                "password must be {MIN_NEW_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters"
            )));
        }
        Ok(Self(raw))
    }

    /// The password, for hashing.
    pub fn secret(&self) -> &SecretString {
        &self.0
    }
}

/// Draws `len` characters from `A–Z a–z 0–9` out of the OS CSPRNG, without modulo bias.
pub fn random_alphanumeric(len: usize) -> Result<String, getrandom::Error> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut out = String::with_capacity(len);
    let mut buf = [0u8; 64];
    while out.len() < len {
        getrandom::fill(&mut buf)?;
        for &byte in &buf {
            // 248 = 4 * 62: bytes at or above it would favour the first characters.
            if byte < 248 && out.len() < len {
                out.push(char::from(ALPHABET[usize::from(byte) % ALPHABET.len()]));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_lowercased_and_checked() {
        assert_eq!(Username::parse("Alice").unwrap().as_str(), "alice");
        assert_eq!(
            Username::parse("ops.bot-1@example").unwrap().as_str(),
            "ops.bot-1@example"
        );
        for bad in ["", "a b", "ålice", "x".repeat(65).as_str(), "a\u{0}", "a/b"] {
            assert!(Username::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert!(Username::parse(&"x".repeat(64)).is_ok());
    }

    #[test]
    fn roles_are_sorted_deduplicated_and_bounded() {
        let roles = Roles::parse(&["ops", "admin", "ops"]).unwrap();
        assert_eq!(roles.into_vec(), vec!["admin", "ops"]);
        assert!(Roles::parse(&["Admin"]).is_err());
        assert!(Roles::parse(&[""]).is_err());
        let many: Vec<String> = (0..33).map(|i| format!("r{i}")).collect();
        assert!(Roles::parse(&many).is_err());
    }

    #[test]
    fn new_passwords_have_bounded_length_and_keep_every_character() {
        assert!(NewPassword::parse(SecretString::from("short")).is_err());
        assert!(NewPassword::parse(SecretString::from("é".repeat(8))).is_ok());
        assert!(NewPassword::parse(SecretString::from("x".repeat(1025))).is_err());
        let kept = NewPassword::parse(SecretString::from("  spaced  ")).unwrap();
        assert_eq!(kept.secret().expose_secret(), "  spaced  ");
    }

    #[test]
    fn random_alphanumeric_has_the_length_and_alphabet() {
        let a = random_alphanumeric(32).unwrap();
        let b = random_alphanumeric(32).unwrap();
        assert_eq!(a.len(), 32);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(a, b);
    }
}
