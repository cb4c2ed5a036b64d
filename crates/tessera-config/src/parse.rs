//! Value parsers for the settings table: pure functions from the text given to a typed value, or
//! to the reason it is refused (a phrase starting with "must", "is" or similar, completing
//! "`NAME=value from <source> is invalid: …`").
//!
//! Invariant: a reason never repeats the value; the caller shows it, redacted when secret.

use std::net::{Ipv4Addr, Ipv6Addr};

use secrecy::SecretString;

/// An unsigned integer within `min..=max`, written as ASCII digits only (no sign, no unit).
pub(crate) fn integer(raw: &str, min: u32, max: u32, unit: &str) -> Result<u32, String> {
    let refuse = || format!("must be an integer from {min} to {max} ({unit})");
    if raw.is_empty() || !raw.bytes().all(|b| b.is_ascii_digit()) {
        return Err(refuse());
    }
    match raw.parse::<u32>() {
        Ok(value) if (min..=max).contains(&value) => Ok(value),
        _ => Err(refuse()),
    }
}

/// Texts read as on, compared ignoring the case of letters.
const BOOLEAN_TRUE: [&str; 4] = ["true", "1", "yes", "on"];

/// Texts read as off, compared ignoring the case of letters.
const BOOLEAN_FALSE: [&str; 4] = ["false", "0", "no", "off"];

/// A switch: `true`, `1`, `yes` or `on` for on, `false`, `0`, `no` or `off` for off, letters in
/// any case, nothing around them.
pub(crate) fn boolean(raw: &str) -> Result<bool, String> {
    let is_one_of = |texts: [&str; 4]| texts.iter().any(|text| text.eq_ignore_ascii_case(raw));
    if is_one_of(BOOLEAN_TRUE) {
        Ok(true)
    } else if is_one_of(BOOLEAN_FALSE) {
        Ok(false)
    } else {
        Err("must be true, false, 1, 0, yes, no, on or off (letters in any case)".to_owned())
    }
}

/// Longest issuer or audience accepted, in characters.
pub(crate) const CLAIM_MAX_CHARACTERS: usize = 256;

/// An `iss`/`aud` value: not empty, not blank, at most 256 characters, no control characters.
/// Returns the value and warnings.
pub(crate) fn claim_value(raw: &str) -> Result<(String, Vec<String>), String> {
    if raw.trim().is_empty() {
        return Err("must not be empty or blank".to_owned());
    }
    if raw.chars().count() > CLAIM_MAX_CHARACTERS {
        return Err(format!("must be at most {CLAIM_MAX_CHARACTERS} characters"));
    }
    if raw.chars().any(char::is_control) {
        return Err("must not contain control characters".to_owned());
    }
    let mut warnings = Vec::new();
    if raw.trim() != raw {
        warnings.push(
            "starts or ends with whitespace, which tokens must then carry exactly".to_owned(),
        );
    }
    Ok((raw.to_owned(), warnings))
}

/// `host:port`: an IPv4 address, a bracketed IPv6 address or a host name, then a port 0–65535.
pub(crate) fn listen_address(raw: &str) -> Result<String, String> {
    const RULE: &str = "must be host:port, where host is an IPv4 address, an IPv6 address in \
                        brackets or a host name, and port is 0 to 65535";
    let (host, port) = if let Some(rest) = raw.strip_prefix('[') {
        let (inside, after) = rest
            .split_once(']')
            .ok_or_else(|| format!("{RULE} (missing ']' after the IPv6 address)"))?;
        inside
            .parse::<Ipv6Addr>()
            .map_err(|_| format!("{RULE} (not a valid IPv6 address inside the brackets)"))?;
        let port = after
            .strip_prefix(':')
            .ok_or_else(|| format!("{RULE} (missing :port after the brackets)"))?;
        (None, port)
    } else {
        let (host, port) = raw
            .rsplit_once(':')
            .ok_or_else(|| format!("{RULE} (missing :port)"))?;
        if host.contains(':') {
            return Err(format!(
                "{RULE} (write an IPv6 address in brackets: [::1]:8420)"
            ));
        }
        (Some(host), port)
    };
    if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) || port.parse::<u16>().is_err()
    {
        return Err(format!("{RULE} (bad port)"));
    }
    if let Some(host) = host {
        if host.is_empty() {
            return Err(format!(
                "{RULE} (missing host; 0.0.0.0 means every interface)"
            ));
        }
        if host.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
            host.parse::<Ipv4Addr>()
                .map_err(|_| format!("{RULE} (not a valid IPv4 address)"))?;
        } else if !is_host_name(host) {
            return Err(format!("{RULE} (not a valid host name)"));
        }
    }
    Ok(raw.to_owned())
}

/// RFC 1123 host name: dot-separated labels of 1–63 letters, digits and inner hyphens, 253 at most.
fn is_host_name(host: &str) -> bool {
    host.len() <= 253
        && host.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

/// Whether a database URL names a PostgreSQL database (`postgres://` or `postgresql://`, in
/// any case).
pub(crate) fn is_postgres_url(raw: &str) -> bool {
    let lower = raw.get(..13).unwrap_or(raw).to_ascii_lowercase();
    lower.starts_with("postgres://") || lower.starts_with("postgresql://")
}

/// A database URL: a SQLite file or a PostgreSQL database. Returns the URL and warnings.
pub(crate) fn database_url(raw: &str) -> Result<(String, Vec<String>), String> {
    if is_postgres_url(raw) {
        return postgres_url(raw);
    }
    let rest = raw
        .strip_prefix("sqlite://")
        .or_else(|| raw.strip_prefix("sqlite:"))
        .ok_or_else(|| {
            "must start with sqlite:// or sqlite: (for example sqlite://tessera.db), or \
             postgres:// (for example postgres://tessera@db.example/tessera)"
                .to_owned()
        })?;
    if rest.is_empty() {
        return Err(
            "must name a database file after sqlite:// (for example sqlite://tessera.db)"
                .to_owned(),
        );
    }
    if rest.starts_with(":memory:") {
        return Err(
            "must name a database file: an in-memory database would lose every user at each \
             stop (for example sqlite://tessera.db)"
                .to_owned(),
        );
    }
    if rest.contains('?') {
        return Err(
            "must name a database file without ?options (tessera sets the SQLite options \
             itself; for example sqlite://tessera.db)"
                .to_owned(),
        );
    }
    Ok((raw.to_owned(), Vec::new()))
}

/// A `postgres://` or `postgresql://` URL must name a host and a database; the server checks
/// the rest when it connects. The message never repeats the URL (it may hold a password).
fn postgres_url(raw: &str) -> Result<(String, Vec<String>), String> {
    let (_, rest) = raw.split_once("://").unwrap_or((raw, ""));
    // The user information ends at the last `@` (see `redact_url_password`).
    let host_and_path = rest.rsplit_once('@').map_or(rest, |(_, after)| after);
    let (host, path) = host_and_path.split_once('/').unwrap_or((host_and_path, ""));
    let database = path.split(['?', '#']).next().unwrap_or("");
    if host.is_empty() || database.is_empty() {
        return Err(
            "must name a host and a database: postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE \
             (for example postgres://tessera@db.example/tessera)"
                .to_owned(),
        );
    }
    Ok((raw.to_owned(), Vec::new()))
}

/// Shows a URL with the password of its user information replaced by `<hidden>`.
///
/// The user information ends at the **last** `@`, not at the first `/`, `?` or `#`: a password
/// typed without percent-encoding may hold any of them, and hiding too much (when an `@` comes
/// later in the path or query) is better than showing part of a password.
pub(crate) fn redact_url_password(raw: &str) -> String {
    let Some((scheme, rest)) = raw.split_once("://") else {
        return raw.to_owned();
    };
    match rest.rsplit_once('@') {
        Some((user_info, host)) => match user_info.split_once(':') {
            Some((user, _password)) => format!("{scheme}://{user}:<hidden>@{host}"),
            None => raw.to_owned(),
        },
        None => raw.to_owned(),
    }
}

/// Level names a filter directive without `=` may be.
const LEVELS: &[&str] = &["off", "error", "warn", "info", "debug", "trace"];

/// A `tracing` filter directive string, checked by parsing it with `EnvFilter`. Returns the string
/// and warnings for bare words that are read as target names rather than levels.
pub(crate) fn log_filter(raw: &str) -> Result<(String, Vec<String>), String> {
    if raw.trim().is_empty() {
        return Err("must be a tracing filter such as info or info,tessera=debug".to_owned());
    }
    tracing_subscriber::EnvFilter::try_new(raw)
        .map_err(|error| format!("must be a tracing filter such as info ({error})"))?;
    let warnings = raw
        .split(',')
        .map(str::trim)
        .filter(|directive| {
            !directive.is_empty()
                && !directive.contains(['=', '['])
                && !LEVELS
                    .iter()
                    .any(|level| level.eq_ignore_ascii_case(directive))
        })
        .map(|directive| {
            format!(
                "directive {directive:?} is not a level (off, error, warn, info, debug, trace): \
                 it is read as a target name and enables every level for that target"
            )
        })
        .collect();
    Ok((raw.to_owned(), warnings))
}

/// Shortest and longest accepted administrator password, in characters.
pub(crate) const ADMIN_PASSWORD_CHARACTERS: (usize, usize) = (8, 1024);

/// The first administrator's password: 8–1024 characters, not blank.
pub(crate) fn admin_password(raw: &str) -> Result<SecretString, String> {
    let (min, max) = ADMIN_PASSWORD_CHARACTERS;
    let count = raw.chars().count();
    if !(min..=max).contains(&count) {
        return Err(format!("must be {min} to {max} characters"));
    }
    if raw.trim().is_empty() {
        return Err("must not be blank".to_owned());
    }
    Ok(SecretString::from(raw.to_owned()))
}

/// A config file path: not empty.
pub(crate) fn config_path(raw: &str) -> Result<(), String> {
    if raw.is_empty() {
        return Err("must be the path of a JSON file".to_owned());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_are_digits_within_bounds() {
        assert_eq!(integer("5", 5, 43200, "minutes"), Ok(5));
        assert_eq!(integer("43200", 5, 43200, "minutes"), Ok(43200));
        assert_eq!(integer("0007", 5, 43200, "minutes"), Ok(7));
        for bad in [
            "4",
            "43201",
            "5m",
            "",
            " 5",
            "+5",
            "-5",
            "5.0",
            "99999999999999",
        ] {
            assert_eq!(
                integer(bad, 5, 43200, "minutes"),
                Err("must be an integer from 5 to 43200 (minutes)".to_owned()),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn booleans_are_the_listed_words_in_any_case() {
        for on in ["true", "TRUE", "True", "1", "yes", "YES", "on", "On"] {
            assert_eq!(boolean(on), Ok(true), "{on:?}");
        }
        for off in ["false", "FALSE", "0", "no", "No", "off", "OFF"] {
            assert_eq!(boolean(off), Ok(false), "{off:?}");
        }
        for bad in [
            "", " true", "true ", "t", "f", "y", "n", "2", "01", "enabled", "truee",
        ] {
            assert_eq!(
                boolean(bad),
                Err(
                    "must be true, false, 1, 0, yes, no, on or off (letters in any case)"
                        .to_owned()
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn claim_values() {
        assert_eq!(claim_value("tessera").unwrap().0, "tessera");
        assert!(claim_value(&"x".repeat(256)).is_ok());
        assert!(claim_value(&"x".repeat(257)).is_err());
        assert!(claim_value("").is_err());
        assert!(claim_value("  \t").is_err());
        assert!(claim_value("a\nb").is_err());
        assert_eq!(claim_value(" tessera").unwrap().1.len(), 1);
    }

    #[test]
    fn listen_forms() {
        let good = [
            "127.0.0.1:8420",
            "0.0.0.0:0",
            "0.0.0.0:65535",
            "[::1]:8420",
            "[::]:80",
            "[2001:db8::1]:443",
            "localhost:8420",
            "auth.example.com:443",
            "my-host:1",
        ];
        for value in good {
            assert_eq!(listen_address(value).as_deref(), Ok(value), "{value}");
        }
        let bad = [
            "127.0.0.1",
            "127.0.0.1:",
            "127.0.0.1:65536",
            "127.0.0.1:-1",
            "127.0.0.1:80a",
            ":8420",
            "::1:8420",
            "[::1]8420",
            "[::1:8420",
            "[zz::1]:80",
            "256.0.0.1:80",
            "1.2.3:80",
            "-host:80",
            "under_score:80",
            "",
            "host name:80",
        ];
        for value in bad {
            let error = listen_address(value).unwrap_err();
            assert!(error.starts_with("must be host:port"), "{value}: {error}");
        }
    }

    #[test]
    fn database_url_forms() {
        assert!(database_url("sqlite://tessera.db").unwrap().1.is_empty());
        assert!(database_url("sqlite:tessera.db").is_ok());
        assert!(database_url("sqlite:///var/lib/tessera/tessera.db").is_ok());
        for refused in ["sqlite::memory:", "sqlite://tessera.db?mode=rwc"] {
            assert!(
                database_url(refused)
                    .unwrap_err()
                    .starts_with("must name a database file"),
                "{refused}"
            );
        }
        for postgres in [
            "postgres://u:p@h/db",
            "postgresql://h/db",
            "POSTGRES://h/db",
            "postgres://u:p@h:5432/db?sslmode=require",
        ] {
            assert!(database_url(postgres).is_ok(), "{postgres}");
        }
        for incomplete in [
            "postgres://",
            "postgres://h",
            "postgres://u:p@h/",
            "postgres:///db",
        ] {
            assert!(
                database_url(incomplete)
                    .unwrap_err()
                    .starts_with("must name a host and a database"),
                "{incomplete}"
            );
        }
        for other in ["mysql://h/db", "tessera.db", "", "sqlite://", "sqlite:"] {
            let error = database_url(other).unwrap_err();
            assert!(error.contains("sqlite://"), "{other}: {error}");
        }
    }

    #[test]
    fn url_passwords_are_hidden() {
        assert_eq!(
            redact_url_password("postgres://user:pa55@db.example:5432/tessera?x=y"),
            "postgres://user:<hidden>@db.example:5432/tessera?x=y"
        );
        assert_eq!(
            redact_url_password("postgres://user@h/db"),
            "postgres://user@h/db"
        );
        assert_eq!(redact_url_password("sqlite://a@b:c"), "sqlite://a@b:c");
        assert_eq!(
            redact_url_password("sqlite:tessera.db"),
            "sqlite:tessera.db"
        );
    }

    /// Found by the config fuzz targets' secret check: a password typed without
    /// percent-encoding that holds `/`, `?` or `#` was taken for the start of the path, and
    /// the URL was shown with its password.
    #[test]
    fn a_url_password_holding_path_or_query_characters_is_hidden() {
        for (raw, shown) in [
            ("postgres://u:pa/ss@h/db", "postgres://u:<hidden>@h/db"),
            ("postgres://u:pa?ss@h/db", "postgres://u:<hidden>@h/db"),
            (
                "postgres://u:pa#ss@h:5432/db",
                "postgres://u:<hidden>@h:5432/db",
            ),
            ("postgres://u:p@ss@h/db", "postgres://u:<hidden>@h/db"),
        ] {
            assert_eq!(redact_url_password(raw), shown, "{raw}");
        }
    }

    #[test]
    fn log_filters() {
        for good in ["info", "warn,tessera=debug", "tessera_config=trace", "off"] {
            let (value, warnings) = log_filter(good).unwrap();
            assert_eq!(value, good);
            assert!(warnings.is_empty(), "{good}: {warnings:?}");
        }
        assert!(log_filter("").is_err());
        assert!(log_filter("   ").is_err());
        assert!(log_filter("tessera=notalevel").is_err());
        assert!(log_filter("[{").is_err());
        assert_eq!(log_filter("verbose").unwrap().1.len(), 1);
    }

    #[test]
    fn admin_password_bounds() {
        assert!(admin_password("12345678").is_ok());
        assert!(admin_password("1234567").is_err());
        assert!(admin_password(&"é".repeat(1024)).is_ok());
        assert!(admin_password(&"é".repeat(1025)).is_err());
        assert!(admin_password("        ").is_err());
        assert!(admin_password("").is_err());
    }
}
