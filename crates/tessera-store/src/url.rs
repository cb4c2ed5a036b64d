//! Parsing of database URLs into the backend to open.
//!
//! Invariant: the URL is never echoed in an error (a PostgreSQL URL may carry a password);
//! at most its scheme is named. Where a PostgreSQL URL must be shown (`Debug`, the errors
//! that name the database), it is shown by [`DatabaseUrl::redacted`], with its password
//! hidden.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr as _;

use sqlx::postgres::PgConnectOptions;

use crate::StoreError;

/// What [`crate::connect`] says it accepts.
const ALLOWED: &str = "allowed: sqlite://PATH, postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE";

/// A database URL this build can open.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DatabaseUrl {
    /// A SQLite database file (relative to the working directory unless absolute).
    Sqlite(PathBuf),
    /// A PostgreSQL database: the whole `postgres://` or `postgresql://` URL as given, which
    /// names the database and may carry a password (never shown: see
    /// [`DatabaseUrl::redacted`]).
    Postgres(String),
}

impl DatabaseUrl {
    /// Parses `sqlite://PATH`, `sqlite:PATH`, or a `postgres://` / `postgresql://` URL that
    /// names a database; explains anything else in the error, which never repeats the URL.
    pub fn parse(url: &str) -> Result<Self, StoreError> {
        parse(url)
    }

    /// The URL with the password of its user information replaced by `<hidden>` (a SQLite
    /// URL is shown as its path).
    pub fn redacted(&self) -> String {
        match self {
            Self::Sqlite(path) => path.display().to_string(),
            Self::Postgres(url) => redact_url_password(url),
        }
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sqlite(path) => f.debug_tuple("Sqlite").field(path).finish(),
            Self::Postgres(url) => f
                .debug_tuple("Postgres")
                .field(&redact_url_password(url))
                .finish(),
        }
    }
}

/// Shows a URL with the password of its user information replaced by `<hidden>`.
///
/// The same rule as the settings' redaction: the user information ends at the **last** `@`,
/// not at the first `/`, `?` or `#`: a password typed without percent-encoding may hold any
/// of them, and hiding too much (when an `@` comes later in the path or query) is better than
/// showing part of a password. A `password=` query parameter is hidden too.
pub(crate) fn redact_url_password(raw: &str) -> String {
    let Some((scheme, rest)) = raw.split_once("://") else {
        return raw.to_owned();
    };
    let shown = match rest.rsplit_once('@') {
        Some((user_info, host)) => match user_info.split_once(':') {
            Some((user, _password)) => format!("{scheme}://{user}:<hidden>@{host}"),
            None => raw.to_owned(),
        },
        None => raw.to_owned(),
    };
    match shown.split_once('?') {
        Some((base, query)) if query.to_ascii_lowercase().contains("password") => {
            format!("{base}?<hidden>")
        }
        _ => shown,
    }
}

/// Parses `sqlite://PATH`, `sqlite:PATH` or a PostgreSQL URL; explains anything else.
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
        "postgres" | "postgresql" => return parse_postgres(url).map_err(&unsupported),
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

/// Checks that a PostgreSQL URL can be read and names its database; the reason never quotes
/// the URL or any part of it.
fn parse_postgres(url: &str) -> Result<DatabaseUrl, &'static str> {
    let options = PgConnectOptions::from_str(url)
        .map_err(|_| "the PostgreSQL url cannot be read (check its form and its parameters)")?;
    match options.get_database() {
        Some(name) if !name.is_empty() => Ok(DatabaseUrl::Postgres(url.to_owned())),
        _ => Err("the PostgreSQL url names no database"),
    }
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
        for url in [
            "postgres://admin:hunter2@db/tessera",
            "postgresql://admin:hunter2@db:5433/tessera?sslmode=require",
            "postgres://u@127.0.0.1/d",
        ] {
            assert_eq!(check(url), Ok(DatabaseUrl::Postgres(url.to_owned())));
        }
    }

    #[test]
    fn postgres_urls_never_show_their_password() {
        let url =
            check("postgres://admin:hunter2@db:5432/tessera").unwrap_or_else(|e| panic!("{e}"));
        for shown in [format!("{url:?}"), url.redacted()] {
            assert!(!shown.contains("hunter2"), "{shown}");
            assert!(
                shown.contains("postgres://admin:<hidden>@db:5432/tessera"),
                "{shown}"
            );
        }
        assert_eq!(
            redact_url_password("postgres://u@h/d?password=hunter2"),
            "postgres://u@h/d?<hidden>"
        );
        assert_eq!(redact_url_password("postgres://u@h/d"), "postgres://u@h/d");
    }

    #[test]
    fn rejected_forms_say_what_is_allowed_and_hide_the_url() {
        for url in [
            "postgres://admin:hunter2@db",
            "postgres://admin:hunter2@db/",
            "postgresql://admin:hunter2@db:notaport/tessera",
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
        let postgres = check("postgres://u@h").err().unwrap_or_default();
        assert!(
            postgres.contains("the PostgreSQL url names no database"),
            "{postgres}"
        );
        let mysql = check("mysql://u@h/d").err().unwrap_or_default();
        assert!(mysql.contains("scheme `mysql` is not supported"), "{mysql}");
    }
}
