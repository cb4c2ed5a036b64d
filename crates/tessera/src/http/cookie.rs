//! The refresh-token cookie: `HttpOnly`, `SameSite=Strict`, limited to the auth routes,
//! and `Secure` unless the server listens on loopback over plain HTTP.

use axum::http::header::COOKIE;
use axum::http::{HeaderMap, HeaderValue};

/// The cookie's name.
pub const REFRESH_COOKIE: &str = "tessera_refresh";
/// The only path the browser sends it to.
const COOKIE_PATH: &str = "/api/auth";

/// `Set-Cookie` for a refresh token valid `max_age_seconds` more.
pub(super) fn set_refresh_cookie(
    token: &str,
    max_age_seconds: i64,
    secure: bool,
) -> Option<HeaderValue> {
    let secure = if secure { "; Secure" } else { "" };
    let text = format!(
        "{REFRESH_COOKIE}={token}; Path={COOKIE_PATH}; Max-Age={}; HttpOnly; SameSite=Strict{secure}",
        max_age_seconds.max(0)
    );
    HeaderValue::from_str(&text).ok()
}

/// `Set-Cookie` that makes the browser forget the refresh token.
pub(super) fn clear_refresh_cookie(secure: bool) -> HeaderValue {
    if secure {
        HeaderValue::from_static(
            "tessera_refresh=; Path=/api/auth; Max-Age=0; HttpOnly; SameSite=Strict; Secure",
        )
    } else {
        HeaderValue::from_static(
            "tessera_refresh=; Path=/api/auth; Max-Age=0; HttpOnly; SameSite=Strict",
        )
    }
}

/// The refresh token from the request's cookies, if one is there and not empty.
pub(super) fn refresh_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == REFRESH_COOKIE)
        .map(|(_, value)| value.trim_matches('"'))
        .filter(|value| !value.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cookie_is_found_among_others() {
        let cases: &[(&[&str], Option<&str>)] = &[
            (&["tessera_refresh=abc"], Some("abc")),
            (&["a=1; tessera_refresh=abc; b=2"], Some("abc")),
            (&["a=1", "tessera_refresh=\"abc\""], Some("abc")),
            (&["tessera_refresh="], None),
            (&["tessera_refreshx=abc; xtessera_refresh=abc"], None),
            (&[], None),
        ];
        for (values, expected) in cases {
            let mut headers = HeaderMap::new();
            for value in *values {
                headers.append(COOKIE, HeaderValue::from_str(value).unwrap());
            }
            assert_eq!(refresh_cookie(&headers), *expected, "{values:?}");
        }
    }

    #[test]
    fn attributes_follow_the_listener() {
        let local = set_refresh_cookie("t", 60, false).unwrap();
        assert_eq!(
            local,
            "tessera_refresh=t; Path=/api/auth; Max-Age=60; HttpOnly; SameSite=Strict"
        );
        let public = set_refresh_cookie("t", -5, true).unwrap();
        assert!(
            public
                .to_str()
                .unwrap()
                .ends_with("Max-Age=0; HttpOnly; SameSite=Strict; Secure")
        );
        assert!(
            clear_refresh_cookie(true)
                .to_str()
                .unwrap()
                .contains("Max-Age=0")
        );
    }
}
