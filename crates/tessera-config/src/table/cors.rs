//! `TESSERA_CORS_ORIGINS`: the web origins whose pages may call the API from a browser, with
//! credentials (cross-origin resource sharing).
//!
//! An entry of the one settings table ([`super::SETTINGS`]), kept in its own file with its
//! parser. Origins are exact (`scheme://host[:port]`, as browsers send them in `Origin`);
//! a wildcard is refused because the API's answers carry credentials.

use super::{DefaultValue, Entry, Parse, Sensitivity, ValueKind, default_value};

pub(super) const CORS_ORIGINS: Entry<Vec<String>> = Entry {
    name: "TESSERA_CORS_ORIGINS",
    aliases: &[],
    default: DefaultValue::Unset,
    default_note: "no other origin may call the API from a browser",
    allowed: "a comma-separated list of origins such as https://app.example.com: http or \
              https, a host and an optional port, nothing after",
    help: "Web origins whose pages may call the API from a browser although they are served \
           from another origin (another host, port or scheme, such as \
           `https://app.example.com` calling `https://auth.example.com`). For a listed origin, \
           tessera answers CORS preflight requests (`OPTIONS`) and adds \
           `Access-Control-Allow-Origin` with that origin and \
           `Access-Control-Allow-Credentials: true` to its answers, so the page may send the \
           `Authorization` header and the refresh cookie and read the answers, errors \
           included. Any other origin gets no CORS header, so browsers keep its pages from \
           reading the answers. Origins are compared exactly: scheme, host and port as \
           browsers send them (letters in lower case; a default port such as `:443` is \
           dropped). `*` and other wildcards are refused: answers that carry credentials may \
           only be shared with origins named one by one. `null` (sent by sandboxed pages and \
           local files) is refused too. Note that the refresh cookie is `SameSite=Strict`, \
           so a page of another site (not only another origin) does not get it sent.",
    sensitivity: Sensitivity::Public,
    kind: ValueKind::Text,
    in_config_file: true,
    example: "https://app.example.com, http://localhost:5173",
    parse: Parse::Text(|raw, _| Ok((parse_origins(raw)?, Vec::new()))),
    unset: default_value,
};

/// Parses a comma-separated list of origins (spaces allowed) into their exact forms as
/// browsers send them in `Origin`, without repeats.
pub(crate) fn parse_origins(raw: &str) -> Result<Vec<String>, String> {
    let mut origins: Vec<String> = Vec::new();
    for part in raw
        .split(',')
        .map(str::trim)
        .filter(|part| !part.is_empty())
    {
        let origin = parse_origin(part)?;
        if !origins.contains(&origin) {
            origins.push(origin);
        }
    }
    Ok(origins)
}

/// One origin: `http` or `https`, `://`, a host (a name, an IPv4 address or an IPv6
/// address in brackets) and an optional port; lower-cased, without a default port.
fn parse_origin(raw: &str) -> Result<String, String> {
    if raw.contains('*') {
        return Err(format!(
            "'{raw}' is a wildcard; answers carry credentials (the Authorization header and \
             the refresh cookie), which browsers only share with origins named exactly, so \
             list each origin, such as https://app.example.com"
        ));
    }
    if raw.eq_ignore_ascii_case("null") {
        return Err(
            "'null' is refused: sandboxed pages and local files all send it, so it names no \
             one application"
                .to_owned(),
        );
    }
    let shape = || {
        format!(
            "'{raw}' is not an origin: expected scheme://host[:port], such as https://app.example.com"
        )
    };
    let (scheme, rest) = raw.split_once("://").ok_or_else(shape)?;
    let scheme = scheme.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "https" => "443",
        "http" => "80",
        _ => {
            return Err(format!(
                "'{raw}' has the scheme '{scheme}'; an origin is http:// or https://"
            ));
        }
    };
    if rest.contains(['/', '?', '#']) {
        return Err(format!(
            "'{raw}' has a path; an origin is scheme://host[:port] with nothing after it, not \
             even a trailing /"
        ));
    }
    if rest.contains('@') {
        return Err(format!(
            "'{raw}' has user information; an origin is scheme://host[:port]"
        ));
    }
    let (host, port) = split_host_port(rest).ok_or_else(shape)?;
    let host = host.to_ascii_lowercase();
    let valid_host = if let Some(inner) = host.strip_prefix('[') {
        inner
            .strip_suffix(']')
            .is_some_and(|address| address.parse::<std::net::Ipv6Addr>().is_ok())
    } else {
        !host.is_empty()
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
    };
    if !valid_host {
        return Err(format!("'{raw}' does not have a valid host"));
    }
    match port {
        None => Ok(format!("{scheme}://{host}")),
        Some(port) => {
            let number = port
                .parse::<u16>()
                .ok()
                .filter(|&n| n > 0 && port.bytes().all(|b| b.is_ascii_digit()))
                .ok_or_else(|| format!("'{raw}' has a port outside 1 to 65535"))?;
            if port == default_port {
                Ok(format!("{scheme}://{host}"))
            } else {
                Ok(format!("{scheme}://{host}:{number}"))
            }
        }
    }
}

/// `host` and the port after its last `:` (an IPv6 host keeps its brackets).
fn split_host_port(rest: &str) -> Option<(&str, Option<&str>)> {
    if rest.starts_with('[') {
        let end = rest.find(']')?;
        let (host, after) = rest.split_at(end + 1);
        match after.strip_prefix(':') {
            Some(port) => Some((host, Some(port))),
            None if after.is_empty() => Some((host, None)),
            None => None,
        }
    } else {
        match rest.rsplit_once(':') {
            Some((host, port)) => Some((host, Some(port))),
            None => Some((rest, None)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_kept_exactly_as_browsers_send_them() {
        let cases = [
            ("https://app.example.com", "https://app.example.com"),
            ("HTTPS://App.Example.COM", "https://app.example.com"),
            ("https://app.example.com:443", "https://app.example.com"),
            ("http://localhost:80", "http://localhost"),
            ("http://localhost:5173", "http://localhost:5173"),
            (
                "https://app.example.com:8443",
                "https://app.example.com:8443",
            ),
            ("http://127.0.0.1:3000", "http://127.0.0.1:3000"),
            ("http://[::1]:3000", "http://[::1]:3000"),
            ("http://[::1]", "http://[::1]"),
        ];
        for (given, kept) in cases {
            assert_eq!(parse_origins(given).unwrap(), [kept], "{given}");
        }
        assert_eq!(
            parse_origins(" https://a.example , https://b.example,,https://a.example ").unwrap(),
            ["https://a.example", "https://b.example"]
        );
        assert!(parse_origins("").unwrap().is_empty());
    }

    #[test]
    fn anything_but_an_exact_origin_is_refused_precisely() {
        let cases = [
            ("*", "wildcard"),
            ("https://*.example.com", "wildcard"),
            ("null", "'null' is refused"),
            ("app.example.com", "expected scheme://host[:port]"),
            ("ftp://app.example.com", "the scheme 'ftp'"),
            ("https://app.example.com/", "has a path"),
            ("https://app.example.com/app", "has a path"),
            ("https://app.example.com?x", "has a path"),
            ("https://user@app.example.com", "user information"),
            ("https://app.example.com:0", "port outside 1 to 65535"),
            ("https://app.example.com:70000", "port outside 1 to 65535"),
            ("https://app.example.com:+80", "port outside 1 to 65535"),
            ("https://", "valid host"),
            ("https://app_example.com", "valid host"),
            ("http://[::1", "expected scheme://host[:port]"),
            ("http://[not-ipv6]:80", "valid host"),
        ];
        for (given, fragment) in cases {
            let error = parse_origins(given).unwrap_err();
            assert!(error.contains(fragment), "{given}: {error}");
        }
        assert!(
            parse_origins("*").unwrap_err().contains("credentials"),
            "the refusal of * says why"
        );
    }

    fn resolve_env(value: &str) -> Result<crate::Resolved, crate::ConfigErrors> {
        crate::resolve(&crate::RawSources {
            cli: Vec::new(),
            env: crate::test_support::pairs(&[("TESSERA_CORS_ORIGINS", value)]),
            file: None,
            secret_files: Vec::new(),
        })
    }

    #[test]
    fn the_setting_resolves_to_exact_origins_and_a_wildcard_stops_the_start() {
        let resolved = resolve_env("https://App.example.com:443, http://localhost:5173").unwrap();
        assert_eq!(
            resolved.settings.cors_origins,
            ["https://app.example.com", "http://localhost:5173"]
        );
        let errors = crate::render_errors(&resolve_env("*").unwrap_err());
        assert!(
            errors.contains("TESSERA_CORS_ORIGINS=* from environment is invalid"),
            "{errors}"
        );
        assert!(errors.contains("credentials"), "{errors}");
    }
}
