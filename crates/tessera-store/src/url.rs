//! Parsing of database URLs into the backend to open.
//!
//! Invariant: the URL is never echoed in an error (a PostgreSQL URL may carry a password);
//! at most its scheme is named.

use std::path::PathBuf;

use crate::StoreError;

/// What [`crate::connect`] says it accepts.
const ALLOWED: &str = "allowed: sqlite://PATH";

/// A database URL this build can open.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DatabaseUrl {
    /// A SQLite database file (relative to the working directory unless absolute).
    Sqlite(PathBuf),
}

impl DatabaseUrl {
    /// Parses `sqlite://PATH` or `sqlite:PATH`; explains anything else in the error, which
    /// never repeats the URL.
    pub fn parse(url: &str) -> Result<Self, StoreError> {
        parse(url)
    }
}

/// Parses `sqlite://PATH` or `sqlite:PATH`; explains anything else in the error.
fn parse(url: &str) -> Result<DatabaseUrl, StoreError> {
    let unsupported = |why: &str| StoreError::UnsupportedUrl(format!("{why}; {ALLOWED}"));
    let Some((scheme, rest)) = url.split_once(':') else {
        return Err(unsupported("expected a url with a scheme"));
    };
    if !is_scheme(scheme) {
        return Err(unsupported("expected a url with a scheme"));
    }
    match scheme.to_ascii_lowercase().as_str() {
        "sqlite" => {}
        "postgres" | "postgresql" => {
            return Err(unsupported("PostgreSQL support is not built yet"));
        }
        other => return Err(unsupported(&format!("scheme `{other}` is not supported"))),
    }
    let path = rest.strip_prefix("//").unwrap_or(rest);
    if path.is_empty() {
        return Err(unsupported("the sqlite url has no path"));
    }
    if path == ":memory:" || path.contains('?') {
        return Err(unsupported(
            "in-memory databases and url parameters are not supported",
        ));
    }
    Ok(DatabaseUrl::Sqlite(PathBuf::from(path)))
}

/// RFC 3986 scheme: a letter followed by letters, digits, `+`, `-` or `.`.
fn is_scheme(text: &str) -> bool {
    let mut chars = text.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sqlite(path: &str) -> Result<DatabaseUrl, String> {
        Ok(DatabaseUrl::Sqlite(PathBuf::from(path)))
    }

    fn check(url: &str) -> Result<DatabaseUrl, String> {
        parse(url).map_err(|error| error.to_string())
    }

    #[test]
    fn accepted_forms() {
        assert_eq!(check("sqlite://data/tessera.db"), sqlite("data/tessera.db"));
        assert_eq!(check("sqlite:///var/lib/t.db"), sqlite("/var/lib/t.db"));
        assert_eq!(check("sqlite:tessera.db"), sqlite("tessera.db"));
        assert_eq!(check("sqlite:/abs.db"), sqlite("/abs.db"));
        assert_eq!(check("SQLite://x.db"), sqlite("x.db"));
    }

    #[test]
    fn rejected_forms_say_what_is_allowed_and_hide_the_url() {
        for url in [
            "postgres://admin:hunter2@db/tessera",
            "postgresql://admin:hunter2@db/tessera",
            "mysql://admin:hunter2@db",
            "hunter2",
            "",
            "sqlite://",
            "sqlite:",
            "sqlite::memory:",
            "sqlite://x.db?mode=ro",
            "://hunter2",
        ] {
            let Err(message) = check(url) else {
                unreachable!("{url} was accepted");
            };
            assert!(
                message.starts_with("unsupported database url: "),
                "{message}"
            );
            assert!(message.ends_with(ALLOWED), "{message}");
            assert!(!message.contains("hunter2"), "{message}");
        }
        let postgres = check("postgres://u@h/d").err().unwrap_or_default();
        assert!(
            postgres.contains("PostgreSQL support is not built yet"),
            "{postgres}"
        );
        let mysql = check("mysql://u@h/d").err().unwrap_or_default();
        assert!(mysql.contains("scheme `mysql` is not supported"), "{mysql}");
    }
}
