//! Parsing of database URLs into the backend to open.
//!
//! Invariant: the URL is never echoed in an error (a PostgreSQL URL may carry a password);
//! at most its scheme and a parameter's name are named.

use std::path::PathBuf;
use std::time::Duration;

use crate::StoreError;
use crate::sqlite::SqliteOptions;

/// What [`crate::connect`] says it accepts.
const ALLOWED: &str = "allowed: sqlite://PATH";

/// The longest `busy_timeout_ms` accepted (one minute).
const MAX_BUSY_TIMEOUT_MS: u64 = 60_000;

/// A database URL this build can open.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum DatabaseUrl {
    /// A SQLite database file and how to open it.
    Sqlite(PathBuf, SqliteOptions),
}

/// Parses `sqlite://PATH` or `sqlite:PATH`, optionally followed by `?busy_timeout_ms=N`;
/// explains anything else in the error.
pub(crate) fn parse(url: &str) -> Result<DatabaseUrl, StoreError> {
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
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let (path, query) = match rest.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (rest, None),
    };
    if path.is_empty() {
        return Err(unsupported("the sqlite url has no path"));
    }
    if path == ":memory:" {
        return Err(unsupported("in-memory databases are not supported"));
    }
    let mut options = SqliteOptions::default();
    for pair in query.into_iter().flat_map(|query| query.split('&')) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        if name != "busy_timeout_ms" {
            return Err(unsupported(
                "the only url parameter supported is busy_timeout_ms",
            ));
        }
        let millis = value
            .parse::<u64>()
            .ok()
            .filter(|millis| *millis <= MAX_BUSY_TIMEOUT_MS)
            .ok_or_else(|| {
                unsupported(&format!(
                    "busy_timeout_ms must be a whole number of milliseconds from 0 to {MAX_BUSY_TIMEOUT_MS}"
                ))
            })?;
        options.busy_timeout = Duration::from_millis(millis);
    }
    Ok(DatabaseUrl::Sqlite(PathBuf::from(path), options))
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
        Ok(DatabaseUrl::Sqlite(
            PathBuf::from(path),
            SqliteOptions::default(),
        ))
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
        assert_eq!(
            check("sqlite://x.db?busy_timeout_ms=150"),
            Ok(DatabaseUrl::Sqlite(
                PathBuf::from("x.db"),
                SqliteOptions {
                    busy_timeout: Duration::from_millis(150)
                }
            ))
        );
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
            "sqlite://x.db?busy_timeout_ms=",
            "sqlite://x.db?busy_timeout_ms=-1",
            "sqlite://x.db?busy_timeout_ms=60001",
            "sqlite://x.db?busy_timeout_ms=hunter2",
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
