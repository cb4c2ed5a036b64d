//! Configuration errors: one line each, naming the setting, where its value came from, the value
//! (secrets hidden) and what is allowed.
//!
//! Invariant: no constructor here takes a secret's value; callers pass the already-redacted
//! display text built by [`crate::SettingSpec::display_value`].

use std::fmt;

use crate::Source;

/// One configuration problem, rendered as a single line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ConfigError {
    setting: Option<String>,
    origin: Option<Source>,
    message: String,
}

impl ConfigError {
    /// `NAME=value from <source> is invalid: <reason>`.
    pub(crate) fn invalid(name: &str, shown_value: &str, origin: Source, reason: &str) -> Self {
        ConfigError {
            message: format!("{name}={shown_value} from {origin} is invalid: {reason}"),
            setting: Some(name.to_owned()),
            origin: Some(origin),
        }
    }

    /// A problem tied to a setting and a source, with a free-form one-line message.
    pub(crate) fn about(name: &str, origin: Option<Source>, message: String) -> Self {
        ConfigError {
            setting: Some(name.to_owned()),
            origin,
            message: one_line(&message),
        }
    }

    /// A problem tied to a source only (for example a malformed config file).
    pub(crate) fn in_source(origin: Source, message: String) -> Self {
        ConfigError {
            setting: None,
            origin: Some(origin),
            message: one_line(&message),
        }
    }

    /// The setting the problem is about, as it was written (an alias stays an alias).
    pub fn setting(&self) -> Option<&str> {
        self.setting.as_deref()
    }

    /// Where the offending value came from.
    pub fn origin(&self) -> Option<&Source> {
        self.origin.as_ref()
    }

    /// The one-line message (same as `Display`).
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// Every configuration problem found, so they can all be fixed at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl ConfigErrors {
    pub(crate) fn one(error: ConfigError) -> Self {
        ConfigErrors(vec![error])
    }

    /// The problems, in the order they were found.
    pub fn iter(&self) -> std::slice::Iter<'_, ConfigError> {
        self.0.iter()
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.as_slice() {
            [] => f.write_str("invalid configuration"),
            [only] => write!(f, "invalid configuration: {only}"),
            many => {
                write!(f, "invalid configuration ({} problems):", many.len())?;
                for error in many {
                    write!(f, "\n  - {error}")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for ConfigErrors {}

impl From<ConfigError> for ConfigErrors {
    fn from(error: ConfigError) -> Self {
        ConfigErrors::one(error)
    }
}

impl<'a> IntoIterator for &'a ConfigErrors {
    type Item = &'a ConfigError;
    type IntoIter = std::slice::Iter<'a, ConfigError>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

/// Longest non-secret value shown in full in messages.
const SHOWN_VALUE_MAX: usize = 120;

/// How a non-secret value is shown in one-line messages: as is when it is plain, quoted and
/// escaped when it is empty or holds spaces, quotes or control characters, and shortened when long.
pub(crate) fn show_plain(value: &str) -> String {
    let count = value.chars().count();
    if count > SHOWN_VALUE_MAX {
        let head: String = value.chars().take(SHOWN_VALUE_MAX).collect();
        return format!("{:?}… ({count} characters)", head);
    }
    let plain = !value.is_empty()
        && value
            .chars()
            .all(|c| !c.is_whitespace() && !c.is_control() && c != '"' && c != '\\');
    if plain {
        value.to_owned()
    } else {
        format!("{value:?}")
    }
}

/// How a secret is shown anywhere: its length only.
pub(crate) fn show_hidden(value: &str) -> String {
    format!("<hidden: {} characters>", value.chars().count())
}

/// Replaces line breaks so a message always stays on one line.
fn one_line(message: &str) -> String {
    if message.contains(['\n', '\r']) {
        message.replace("\r\n", " ").replace(['\n', '\r'], " ")
    } else {
        message.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_names_setting_source_value_and_rule() {
        let error = ConfigError::invalid(
            "TESSERA_JWT_EXPIRATION_MINUTES",
            "3",
            Source::Environment,
            "must be an integer from 5 to 43200 (minutes)",
        );
        assert_eq!(
            error.to_string(),
            "TESSERA_JWT_EXPIRATION_MINUTES=3 from environment is invalid: must be an integer \
             from 5 to 43200 (minutes)"
        );
        assert_eq!(error.setting(), Some("TESSERA_JWT_EXPIRATION_MINUTES"));
        assert_eq!(error.origin(), Some(&Source::Environment));
    }

    #[test]
    fn values_are_shown_on_one_line() {
        assert_eq!(show_plain("info"), "info");
        assert_eq!(show_plain(""), "\"\"");
        assert_eq!(show_plain("a b"), "\"a b\"");
        assert_eq!(show_plain("a\nb"), "\"a\\nb\"");
        assert!(show_plain(&"x".repeat(500)).ends_with("(500 characters)"));
        assert_eq!(show_hidden("ééé"), "<hidden: 3 characters>");
        let error = ConfigError::about("TESSERA_LOG", None, "two\nlines".to_owned());
        assert_eq!(error.to_string(), "two lines");
    }

    #[test]
    fn errors_display_all_problems() {
        let errors = ConfigErrors(vec![
            ConfigError::about("A", None, "first".to_owned()),
            ConfigError::about("B", None, "second".to_owned()),
        ]);
        assert_eq!(
            errors.to_string(),
            "invalid configuration (2 problems):\n  - first\n  - second"
        );
    }
}
