//! The config file: a JSON object whose `TESSERA_*` and `AYANOVA_*` properties are settings.
//!
//! Invariant: parsing is pure ([`ConfigFile::parse`] takes the text); reading the file happens in
//! [`crate::read_sources`] only. Values are kept as JSON gave them; their types are checked
//! against each setting during resolution.

use std::fmt;
use std::path::PathBuf;

use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, Visitor};

use crate::Source;
use crate::error::ConfigError;

/// A parsed config file: its path and its setting-like properties, in file order (duplicates
/// kept, so resolution can report them).
#[derive(Clone, PartialEq, Eq)]
pub struct ConfigFile {
    pub path: PathBuf,
    /// Properties whose names start with `TESSERA_` or `AYANOVA_`; others are dropped.
    pub entries: Vec<(String, FileValue)>,
    /// The file's permission bits (`0o644` …) when the platform has them; set by
    /// [`crate::read_sources`], `None` from [`ConfigFile::parse`] alone.
    pub mode: Option<u32>,
}

/// A property's JSON value.
#[derive(Clone, PartialEq, Eq)]
pub enum FileValue {
    /// A JSON string.
    Text(String),
    /// A JSON integer (accepted for integer settings).
    Integer(i128),
    /// A JSON `true` or `false` (accepted for boolean settings).
    Boolean(bool),
    /// A JSON array whose items are all strings (accepted for list settings).
    TextList(Vec<String>),
    /// Anything else, described in words ("an array", "null", …).
    Other(&'static str),
}

impl ConfigFile {
    /// Parses the text of the config file at `path`.
    ///
    /// A UTF-8 byte-order mark is skipped. Errors: malformed JSON (with line and column), or a
    /// document that is not a JSON object.
    pub fn parse(path: PathBuf, text: &str) -> Result<ConfigFile, ConfigError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        match serde_json::from_str::<Entries>(text) {
            Ok(Entries(entries)) => Ok(ConfigFile {
                path,
                entries,
                mode: None,
            }),
            Err(error) if error.is_data() => {
                let found = describe_document(text);
                let origin = Source::ConfigFile(path);
                Err(ConfigError::in_source(
                    origin.clone(),
                    format!(
                        "{origin} must hold a JSON object such as {{\"TESSERA_LOG\": \"info\"}}, \
                         found {found} at line {} column {}",
                        error.line(),
                        error.column()
                    ),
                ))
            }
            Err(error) => {
                let origin = Source::ConfigFile(path);
                // serde_json's syntax messages end with "at line L column C" and never quote the
                // document, so they cannot leak a secret.
                Err(ConfigError::in_source(
                    origin.clone(),
                    format!("{origin} is not valid JSON: {error}"),
                ))
            }
        }
    }
}

impl FileValue {
    fn from_json(value: serde_json::Value) -> FileValue {
        use serde_json::Value;
        match value {
            Value::String(text) => FileValue::Text(text),
            Value::Number(number) => number
                .as_i64()
                .map(i128::from)
                .or_else(|| number.as_u64().map(i128::from))
                .map_or(
                    FileValue::Other("a number with a fraction or an exponent"),
                    FileValue::Integer,
                ),
            Value::Bool(value) => FileValue::Boolean(value),
            Value::Null => FileValue::Other("null"),
            Value::Array(items) => items
                .into_iter()
                .map(|item| match item {
                    Value::String(text) => Some(text),
                    _ => None,
                })
                .collect::<Option<Vec<String>>>()
                .map_or(
                    FileValue::Other("an array holding values other than strings"),
                    FileValue::TextList,
                ),
            Value::Object(_) => FileValue::Other("an object"),
        }
    }
}

/// Values may be secrets: `Debug` shows names and kinds only.
impl fmt::Debug for FileValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FileValue::Text(text) => write!(f, "Text(<{} characters>)", text.chars().count()),
            FileValue::Integer(_) => f.write_str("Integer(<hidden>)"),
            FileValue::Boolean(_) => f.write_str("Boolean(<hidden>)"),
            FileValue::TextList(items) => write!(f, "TextList(<{} items>)", items.len()),
            FileValue::Other(kind) => write!(f, "Other({kind})"),
        }
    }
}

impl fmt::Debug for ConfigFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConfigFile")
            .field("path", &self.path)
            .field("entries", &self.entries)
            .field("mode", &self.mode.map(|mode| format!("{mode:o}")))
            .finish()
    }
}

/// The top-level object, keeping setting-like properties in order, duplicates included.
struct Entries(Vec<(String, FileValue)>);

impl<'de> Deserialize<'de> for Entries {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(EntriesVisitor)
    }
}

struct EntriesVisitor;

impl<'de> Visitor<'de> for EntriesVisitor {
    type Value = Entries;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entries, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            if key.starts_with("TESSERA_") || key.starts_with("AYANOVA_") {
                let value = map.next_value::<serde_json::Value>()?;
                entries.push((key, FileValue::from_json(value)));
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(Entries(entries))
    }
}

/// What a JSON document that is not an object starts with, in words.
fn describe_document(text: &str) -> &'static str {
    match text.trim_start().chars().next() {
        Some('[') => "an array",
        Some('"') => "a string",
        Some('t' | 'f') => "true or false",
        Some('n') => "null",
        _ => "a number",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<ConfigFile, ConfigError> {
        ConfigFile::parse(PathBuf::from("/etc/tessera/config.json"), text)
    }

    #[test]
    fn keeps_setting_properties_in_order_and_ignores_others() {
        let file = parse(
            "\u{feff}{\"Logging\": {\"a\": [1, 2]}, \"TESSERA_LOG\": \"debug\", \
             \"AYANOVA_JWT_SECRET\": \"x\", \"TESSERA_JWT_LEEWAY_SECONDS\": 10, \
             \"TESSERA_A\": 1.5, \"TESSERA_B\": null, \"TESSERA_C\": [], \"TESSERA_D\": {}, \
             \"TESSERA_E\": true, \"TESSERA_LOG\": \"info\", \"TESSERA_F\": 18446744073709551615, \
             \"TESSERA_G\": false}",
        )
        .unwrap();
        let expected = vec![
            ("TESSERA_LOG", FileValue::Text("debug".into())),
            ("AYANOVA_JWT_SECRET", FileValue::Text("x".into())),
            ("TESSERA_JWT_LEEWAY_SECONDS", FileValue::Integer(10)),
            (
                "TESSERA_A",
                FileValue::Other("a number with a fraction or an exponent"),
            ),
            ("TESSERA_B", FileValue::Other("null")),
            ("TESSERA_C", FileValue::TextList(Vec::new())),
            ("TESSERA_D", FileValue::Other("an object")),
            ("TESSERA_E", FileValue::Boolean(true)),
            ("TESSERA_LOG", FileValue::Text("info".into())),
            ("TESSERA_F", FileValue::Integer(18_446_744_073_709_551_615)),
            ("TESSERA_G", FileValue::Boolean(false)),
        ];
        let expected: Vec<_> = expected
            .into_iter()
            .map(|(key, value)| (key.to_owned(), value))
            .collect();
        assert_eq!(file.entries, expected);
    }

    #[test]
    fn malformed_json_names_path_line_and_column() {
        let error = parse("{\n  \"TESSERA_LOG\": \"info\",\n  oops\n}").unwrap_err();
        let message = error.to_string();
        assert!(
            message.contains("config file /etc/tessera/config.json"),
            "{message}"
        );
        assert!(message.contains("is not valid JSON"), "{message}");
        assert!(message.contains("line 3 column 3"), "{message}");
        assert!(
            parse("")
                .unwrap_err()
                .to_string()
                .contains("line 1 column 0")
        );
        assert!(parse("{} {}").unwrap_err().to_string().contains("line 1"));
    }

    #[test]
    fn a_document_that_is_not_an_object_is_an_error_that_does_not_echo_it() {
        for (text, found) in [
            ("[1, 2]", "an array"),
            ("\"supersecretvalue\"", "a string"),
            ("42", "a number"),
            ("null", "null"),
            (" true", "true or false"),
        ] {
            let message = parse(text).unwrap_err().to_string();
            assert!(message.contains("must hold a JSON object"), "{message}");
            assert!(message.contains(found), "{message}");
            assert!(!message.contains("supersecretvalue"), "{message}");
        }
    }

    #[test]
    fn debug_does_not_show_values() {
        let file = parse("{\"TESSERA_JWT_SECRET\": \"supersecretvalue\"}").unwrap();
        let debug = format!("{file:?}");
        assert!(!debug.contains("supersecretvalue"), "{debug}");
        assert!(debug.contains("TESSERA_JWT_SECRET"), "{debug}");
    }
}
