//! Discovery for other services: the public key set (`/.well-known/jwks.json`) and the
//! authorization server metadata of RFC 8414 (`/.well-known/oauth-authorization-server`, with
//! the same members at `/.well-known/openid-configuration`).
//!
//! The key set holds the public members of every asymmetric key that verifies (current, next,
//! retired), never a secret: it is empty with HS256. Its `Cache-Control: max-age` is
//! `TESSERA_JWKS_MAX_AGE_SECONDS`, the time a next key is published before it signs, so a
//! verifier that honours it always holds the signing key before its first token.
//!
//! The metadata claims only what tessera does: the issuer its tokens carry, where the key set
//! is. It names no authorization or token endpoint (tessera is not an
//! OAuth authorization server: logins are its own API), and its URLs are built from the
//! request's `Host` (checked to be a plain host and port) and, behind a trusted proxy,
//! `X-Forwarded-Proto`.

use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa_axum::routes;

use super::extract::https_by_trusted_proxy;
use super::openapi::{ApiRoutes, NotFound, Timeout, TooManyRequests, Unavailable};
use super::{ApiError, AppState};

pub(super) fn routes(api: ApiRoutes) -> ApiRoutes {
    api.add(routes!(get_jwks))
        .add(routes!(get_authorization_server_metadata))
        .add(routes!(get_openid_configuration))
}

/// The media type of a JWK Set (RFC 7517 §8.5).
const JWK_SET: &str = "application/jwk-set+json";

/// `scheme://host[:port]` of this server as the client reached it.
struct OwnOrigin(Result<String, ApiError>);

impl FromRequestParts<AppState> for OwnOrigin {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let scheme = if https_by_trusted_proxy(parts, state) {
            "https"
        } else {
            "http"
        };
        let host = parts
            .headers
            .get(header::HOST)
            .and_then(|host| host.to_str().ok())
            .or_else(|| parts.uri.authority().map(|authority| authority.as_str()));
        Ok(Self(match host {
            Some(host) if is_plain_authority(host) => Ok(format!("{scheme}://{host}")),
            _ => Err(ApiError::BadRequest(
                "the Host header must name this server as host or host:port".to_owned(),
            )),
        }))
    }
}

/// A host name, IPv4 address or bracketed IPv6 address, with an optional port: nothing that
/// could turn the URLs built from it into another document (no user information, path,
/// query or fragment).
fn is_plain_authority(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 255
        && host.bytes().all(|byte| {
            byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'-' | b':' | b'[' | b']')
        })
}

/// Whether an `If-None-Match` value (`*` or a list of tags, weak or strong) names `etag`.
fn none_match_names(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == etag)
}

fn cache_control(state: &AppState) -> HeaderValue {
    HeaderValue::from_str(&format!(
        "public, max-age={}",
        state.auth.keys.policy().publish_seconds
    ))
    .unwrap_or(HeaderValue::from_static("no-cache"))
}

/// The public keys that verify tessera's tokens, as a JWK Set (RFC 7517): current, next
/// and retired keys, each with `kid`, `alg` and `use: "sig"`. Empty with HS256.
#[utoipa::path(
    get,
    path = "/.well-known/jwks.json",
    tag = "discovery",
    operation_id = "get_jwks",
    responses(
        (status = 200, description = "The key set; `ETag` and `Cache-Control: max-age` set",
            content_type = "application/jwk-set+json", body = Object),
        (status = 304, description = "The key set named by `If-None-Match` is still current"),
        (status = 408, response = Timeout),
        (status = 429, response = TooManyRequests),
        (status = 503, response = Unavailable),
    )
)]
async fn get_jwks(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let loaded = state.auth.keys.loaded();
    let jwks = &loaded.jwks;
    let etag = HeaderValue::from_str(&jwks.etag).unwrap_or(HeaderValue::from_static("\"\""));
    let cache = [
        (header::ETAG, etag),
        (header::CACHE_CONTROL, cache_control(&state)),
    ];
    if none_match_names(&headers, &jwks.etag) {
        return (StatusCode::NOT_MODIFIED, cache).into_response();
    }
    (
        cache,
        [(header::CONTENT_TYPE, HeaderValue::from_static(JWK_SET))],
        jwks.body.to_string(),
    )
        .into_response()
}

/// RFC 8414 metadata, limited to what tessera does.
#[derive(Serialize, utoipa::ToSchema)]
struct Metadata {
    /// The `iss` of every token (`TESSERA_JWT_ISSUER`).
    issuer: String,
    /// Where the public keys are.
    jwks_uri: String,
    /// No authorization endpoint: empty.
    response_types_supported: [&'static str; 0],
    /// RFC 7662 introspection, for API clients.
    introspection_endpoint: String,
    /// RFC 7009 revocation, for API clients.
    revocation_endpoint: String,
    /// tessera's revocation feed, for API clients (not a registered metadata member).
    revocation_feed_endpoint: String,
    /// How API clients authenticate to both: HTTP Basic.
    introspection_endpoint_auth_methods_supported: [&'static str; 1],
    revocation_endpoint_auth_methods_supported: [&'static str; 1],
    /// The OpenAPI document of tessera's own API.
    service_documentation: String,
}

fn metadata(state: &AppState, origin: OwnOrigin) -> Result<Response, ApiError> {
    let origin = origin.0?;
    let loaded = state.auth.keys.loaded();
    let rules = loaded.codec.rules();
    let body = Metadata {
        issuer: rules.issuer.clone(),
        jwks_uri: format!("{origin}/.well-known/jwks.json"),
        response_types_supported: [],
        introspection_endpoint: format!("{origin}/api/oauth/introspect"),
        revocation_endpoint: format!("{origin}/api/oauth/revoke"),
        revocation_feed_endpoint: format!("{origin}/api/revocations"),
        introspection_endpoint_auth_methods_supported: ["client_secret_basic"],
        revocation_endpoint_auth_methods_supported: ["client_secret_basic"],
        service_documentation: format!("{origin}/api/docs"),
    };
    Ok((
        [
            (header::CACHE_CONTROL, cache_control(state)),
            (
                header::VARY,
                HeaderValue::from_static("Host, X-Forwarded-Proto"),
            ),
        ],
        axum::Json(body),
    )
        .into_response())
}

/// Authorization server metadata (RFC 8414): the issuer and the key set's URL; nothing
/// tessera does not do.
#[utoipa::path(
    get,
    path = "/.well-known/oauth-authorization-server",
    tag = "discovery",
    operation_id = "get_authorization_server_metadata",
    responses(
        (status = 200, description = "The metadata", body = Metadata),
        (status = 400, description = "The Host header is not a plain host or host:port", body = tessera_api::ErrorBody),
        (status = 404, response = NotFound),
        (status = 408, response = Timeout),
        (status = 429, response = TooManyRequests),
        (status = 503, response = Unavailable),
    )
)]
async fn get_authorization_server_metadata(
    State(state): State<AppState>,
    origin: OwnOrigin,
) -> Result<Response, ApiError> {
    metadata(&state, origin)
}

/// The same members as `/.well-known/oauth-authorization-server`, where OpenID Connect
/// libraries look for them (tessera issues no ID tokens and claims none).
#[utoipa::path(
    get,
    path = "/.well-known/openid-configuration",
    tag = "discovery",
    operation_id = "get_openid_configuration",
    responses(
        (status = 200, description = "The metadata", body = Metadata),
        (status = 400, description = "The Host header is not a plain host or host:port", body = tessera_api::ErrorBody),
        (status = 404, response = NotFound),
        (status = 408, response = Timeout),
        (status = 429, response = TooManyRequests),
        (status = 503, response = Unavailable),
    )
)]
async fn get_openid_configuration(
    State(state): State<AppState>,
    origin: OwnOrigin,
) -> Result<Response, ApiError> {
    metadata(&state, origin)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_authorities_make_urls() {
        for good in ["example.com", "127.0.0.1:8080", "[::1]:3000", "a-b.example"] {
            assert!(is_plain_authority(good), "{good}");
        }
        for bad in [
            "",
            "evil.com/path",
            "user@host",
            "host?x",
            "host#f",
            "host name",
            "ex\u{e9}mple.com",
        ] {
            assert!(!is_plain_authority(bad), "{bad:?}");
        }
    }
}
