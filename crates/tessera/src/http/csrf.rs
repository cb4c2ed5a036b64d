//! The cross-site check of the requests that carry or set the refresh cookie: a login with
//! `"refresh_cookie": true` and a refresh that reads the cookie.
//!
//! `SameSite=Strict` already keeps the cookie off requests from other sites' pages; this
//! check also refuses requests from sibling sites (`same-site`: another subdomain, which
//! `SameSite` counts as the same site) and from browsers that ignore `SameSite`, using what
//! browsers say about the page that sent a request:
//! - `Sec-Fetch-Site: cross-site` or `same-site` is refused, unless `Origin` is one of
//!   `TESSERA_CORS_ORIGINS` (those pages may call the API with credentials by design);
//! - an `Origin` that is neither this server's own origin nor one of `TESSERA_CORS_ORIGINS`
//!   is refused (an opaque `null` origin included), as is more than one `Origin`.
//!
//! Requests with neither header (curl, other servers) pass: no browser page sent them.
//! This server's own origin is `http://` or, when a trusted proxy says so in
//! `X-Forwarded-Proto`, `https://`, followed by the `Host` the request was sent to
//! (default ports aside). Refusals are `403 cross_site_request` and echo no header value.

use axum::extract::FromRequestParts;
use axum::http::header::{HOST, ORIGIN};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue};

use super::extract::https_by_trusted_proxy;
use super::{ApiError, AppState, CorsOrigins};

/// `Sec-Fetch-Site`, which browsers send with every request (Fetch Metadata).
const SEC_FETCH_SITE: &str = "sec-fetch-site";

/// The refusal for a page of another site, as told by `Sec-Fetch-Site`.
const OTHER_SITE: &str = "the refresh cookie is not accepted on a request the browser marked as \
     sent by another site's page (Sec-Fetch-Site: cross-site or same-site); call the API from \
     this server's own pages or from an origin listed in TESSERA_CORS_ORIGINS";
/// The refusal for an `Origin` that is neither this server's nor listed.
const FOREIGN_ORIGIN: &str = "the refresh cookie is not accepted on a request whose Origin is \
     neither this server's own origin nor one listed in TESSERA_CORS_ORIGINS (behind a proxy, \
     check that it passes the Host header and, from an address in TESSERA_TRUSTED_PROXIES, \
     X-Forwarded-Proto)";

/// The verdict of the cross-site check for this request, made from its headers before the
/// body is read; a handler applies it with [`CookieSite::check`] only when the request
/// carries or would set the refresh cookie.
#[derive(Debug, Clone, Copy)]
pub struct CookieSite(Option<&'static str>);

impl CookieSite {
    /// `Err(403 cross_site_request)` when another site's page sent the request.
    pub fn check(self) -> Result<(), ApiError> {
        match self.0 {
            Some(message) => Err(ApiError::CrossSiteRequest(message)),
            None => Ok(()),
        }
    }
}

impl FromRequestParts<AppState> for CookieSite {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let https = https_by_trusted_proxy(parts, state);
        let host = parts
            .headers
            .get(HOST)
            .and_then(|host| host.to_str().ok())
            .or_else(|| parts.uri.authority().map(|authority| authority.as_str()));
        Ok(Self(refusal(
            &parts.headers,
            own_scheme(https),
            host,
            &state.cors_origins,
        )))
    }
}

fn own_scheme(https: bool) -> &'static str {
    if https { "https" } else { "http" }
}

/// Why the request is refused, if it is: see the module documentation.
fn refusal(
    headers: &HeaderMap,
    scheme: &str,
    host: Option<&str>,
    listed: &CorsOrigins,
) -> Option<&'static str> {
    let mut origins = headers.get_all(ORIGIN).iter();
    let origin = match (origins.next(), origins.next()) {
        (None, _) => None,
        (Some(origin), None) => Some(origin),
        (Some(_), Some(_)) => return Some(FOREIGN_ORIGIN),
    };
    if origin.is_some() && listed.listed(headers).is_some() {
        return None;
    }
    let other_site = headers.get_all(SEC_FETCH_SITE).iter().any(|site| {
        site.as_bytes().eq_ignore_ascii_case(b"cross-site")
            || site.as_bytes().eq_ignore_ascii_case(b"same-site")
    });
    if other_site {
        return Some(OTHER_SITE);
    }
    match origin {
        Some(origin) if !is_own_origin(origin, scheme, host) => Some(FOREIGN_ORIGIN),
        _ => None,
    }
}

/// Whether `origin` is `scheme://host`, hosts compared without regard to ASCII case and
/// the scheme's default port left out on either side.
fn is_own_origin(origin: &HeaderValue, scheme: &str, host: Option<&str>) -> bool {
    let (Ok(origin), Some(host)) = (origin.to_str(), host) else {
        return false;
    };
    let Some(origin_host) = origin
        .strip_prefix(scheme)
        .and_then(|rest| rest.strip_prefix("://"))
    else {
        return false;
    };
    let default_port = if scheme == "https" { ":443" } else { ":80" };
    let without_default = |host: &str| -> String {
        host.strip_suffix(default_port)
            .unwrap_or(host)
            .to_ascii_lowercase()
    };
    !host.is_empty() && without_default(origin_host) == without_default(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(
                axum::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        headers
    }

    fn verdict(pairs: &[(&str, &str)], scheme: &str, host: &str) -> Option<&'static str> {
        let listed = CorsOrigins::new(&["https://app.example.com".to_owned()]);
        refusal(&headers(pairs), scheme, Some(host), &listed)
    }

    #[test]
    fn requests_without_browser_headers_pass() {
        assert_eq!(verdict(&[], "http", "127.0.0.1:8420"), None);
        assert_eq!(
            verdict(&[("sec-fetch-site", "none")], "http", "a:1"),
            None,
            "typed into the address bar"
        );
    }

    #[test]
    fn the_own_origin_passes_with_or_without_default_ports() {
        let own = [
            ("http", "127.0.0.1:8420", "http://127.0.0.1:8420"),
            ("https", "auth.example.com", "https://auth.example.com"),
            ("https", "auth.example.com:443", "https://Auth.Example.com"),
            ("https", "auth.example.com", "https://auth.example.com:443"),
            ("http", "[::1]:8420", "http://[::1]:8420"),
        ];
        for (scheme, host, origin) in own {
            let pairs = [("origin", origin), ("sec-fetch-site", "same-origin")];
            assert_eq!(verdict(&pairs, scheme, host), None, "{origin} on {host}");
        }
    }

    #[test]
    fn other_origins_and_sites_are_refused() {
        let refused = [
            ("http", "auth.example.com", "https://auth.example.com"),
            ("https", "auth.example.com", "http://auth.example.com"),
            ("https", "auth.example.com", "https://auth.example.com:8443"),
            ("https", "auth.example.com", "https://evil.example"),
            (
                "https",
                "auth.example.com",
                "https://auth.example.com.evil.example",
            ),
            ("https", "auth.example.com", "null"),
            ("https", "", "https://"),
        ];
        for (scheme, host, origin) in refused {
            assert_eq!(
                verdict(&[("origin", origin)], scheme, host),
                Some(FOREIGN_ORIGIN),
                "{origin} on {host}"
            );
        }
        for site in ["cross-site", "same-site", "Cross-Site"] {
            assert_eq!(
                verdict(&[("sec-fetch-site", site)], "https", "auth.example.com"),
                Some(OTHER_SITE),
                "{site}"
            );
        }
        let two = [
            ("origin", "https://auth.example.com"),
            ("origin", "https://auth.example.com"),
        ];
        assert_eq!(
            verdict(&two, "https", "auth.example.com"),
            Some(FOREIGN_ORIGIN)
        );
    }

    #[test]
    fn listed_origins_pass_from_any_site() {
        for site in ["cross-site", "same-site"] {
            let pairs = [
                ("origin", "https://app.example.com"),
                ("sec-fetch-site", site),
            ];
            assert_eq!(verdict(&pairs, "https", "auth.example.com"), None, "{site}");
        }
        assert_eq!(
            verdict(
                &[("origin", "https://APP.example.com")],
                "https",
                "auth.example.com"
            ),
            Some(FOREIGN_ORIGIN),
            "listed origins are matched exactly, as CORS matches them"
        );
    }
}
