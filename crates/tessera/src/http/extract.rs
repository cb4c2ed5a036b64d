//! Extractors: authentication you cannot forget, JSON and path parameters with clean
//! rejections (see `super::rejection`), and the client's address.
//!
//! Invariant: a handler that takes [`AuthUser`] or [`AdminUser`] only runs after the
//! token was verified and its user loaded and found active for this very request.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use tessera_config::TrustedProxies;

use super::AppState;
use super::error::ApiError;
use super::rejection::{json_rejection, path_rejection};
use crate::auth::{Access, TokenReason, TokenRefusal};

/// A request whose bearer token is valid and whose user exists and is active.
#[derive(Debug, Clone)]
pub struct AuthUser(pub Access);

/// An [`AuthUser`] who currently holds the `admin` role.
#[derive(Debug, Clone)]
pub struct AdminUser(pub Access);

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer_token(parts)?;
        let access = state.auth.check(token).await?;
        Ok(Self(access))
    }
}

impl FromRequestParts<AppState> for AdminUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let AuthUser(access) = AuthUser::from_request_parts(parts, state).await?;
        if access.user.is_admin() {
            Ok(Self(access))
        } else {
            Err(ApiError::Forbidden)
        }
    }
}

/// Reads the token from `Authorization: Bearer …` (scheme case-insensitive), and from
/// nowhere else.
fn bearer_token(parts: &Parts) -> Result<&str, ApiError> {
    let mut values = parts.headers.get_all(AUTHORIZATION).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return Err(ApiError::MissingToken);
    };
    // The same test as `HeaderValue::to_str` (hyper already refused control characters other
    // than tab), a word at a time: this header is read on every request.
    let value = Some(value.as_bytes())
        .filter(|bytes| bytes.is_ascii())
        .and_then(|bytes| std::str::from_utf8(bytes).ok())
        .ok_or_else(|| {
            ApiError::InvalidToken(TokenRefusal {
                reason: TokenReason::MalformedToken,
                message: "the Authorization header is not ASCII".into(),
            })
        })?;
    let (scheme, token) = value.split_once(' ').ok_or(ApiError::MissingToken)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(ApiError::MissingToken);
    }
    let token = token.trim_matches(' ');
    if token.is_empty() {
        return Err(ApiError::MissingToken);
    }
    Ok(token)
}

/// The client's address: the connection's peer, or, when the peer is a trusted proxy, the
/// address it names in `X-Forwarded-For` (unspecified when served without connect info).
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub IpAddr);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |info| info.0.ip());
        Ok(Self(client_address(
            &parts.headers,
            peer,
            &state.trusted_proxies,
        )))
    }
}

/// The client behind `peer`: `X-Forwarded-For` (every line that is visible ASCII, read as
/// one list) is believed only when `peer` is a trusted proxy.
pub(super) fn client_address(
    headers: &HeaderMap,
    peer: IpAddr,
    proxies: &TrustedProxies,
) -> IpAddr {
    let forwarded: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    proxies.client_address(peer, forwarded.into_iter())
}

/// Whether the refresh cookie must carry `Secure`: always, unless the server listens on
/// loopback over plain HTTP — and even then when a trusted proxy says, in
/// `X-Forwarded-Proto`, that the client reached it over HTTPS.
#[derive(Debug, Clone, Copy)]
pub struct CookieSecurity(pub bool);

impl FromRequestParts<AppState> for CookieSecurity {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(Self(
            state.secure_cookies || https_by_trusted_proxy(parts, state),
        ))
    }
}

/// Whether a trusted proxy says, in `X-Forwarded-Proto`, that the client reached it over
/// HTTPS (the server itself only speaks plain HTTP). The word of a peer that is not a
/// trusted proxy is ignored.
pub(super) fn https_by_trusted_proxy(parts: &Parts, state: &AppState) -> bool {
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0.ip());
    let from_trusted_proxy = peer.is_some_and(|peer| state.trusted_proxies.contains(peer));
    // The proxy nearest to us appends last; only its word counts.
    let https = parts
        .headers
        .get_all("x-forwarded-proto")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .next_back()
        .is_some_and(|proto| proto.trim().eq_ignore_ascii_case("https"));
    from_trusted_proxy && https
}

/// `axum::Json` with rejections turned into [`ApiError`]s that echo nothing of the body.
#[derive(Debug, Clone)]
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let (parts, body) = req.into_parts();
        let bytes = axum::body::to_bytes(body, super::MAX_BODY_BYTES)
            .await
            .map_err(|_| ApiError::PayloadTooLarge)?;
        let request = Request::from_parts(parts, axum::body::Body::from(bytes.clone()));
        match axum::Json::<T>::from_request(request, state).await {
            // serde's derived structs also take an array of their fields in order; every body
            // of this API is an object, and only an object is documented.
            Ok(_) if bytes.trim_ascii_start().first() != Some(&b'{') => Err(
                ApiError::Unprocessable("the request body must be a JSON object".into()),
            ),
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(json_rejection(&rejection)),
        }
    }
}

/// A JSON body that may be left out: an empty body is `None`; any other body must be
/// `application/json` of the expected shape, exactly as [`ApiJson`] requires.
#[derive(Debug, Clone)]
pub struct OptionalJson<T>(pub Option<T>);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for OptionalJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let (parts, body) = req.into_parts();
        let bytes = axum::body::to_bytes(body, super::MAX_BODY_BYTES)
            .await
            .map_err(|_| ApiError::PayloadTooLarge)?;
        if bytes.is_empty() {
            return Ok(Self(None));
        }
        let request = Request::from_parts(parts, axum::body::Body::from(bytes));
        let ApiJson(value) = ApiJson::<T>::from_request(request, state).await?;
        Ok(Self(Some(value)))
    }
}

/// `axum::extract::Path` with rejections turned into [`ApiError`]s that name the parameter.
#[derive(Debug, Clone)]
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(Self(value)),
            Err(rejection) => Err(path_rejection(&rejection)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Request as HttpRequest;

    fn parts(values: &[&str]) -> Parts {
        let mut builder = HttpRequest::builder();
        for value in values {
            builder = builder.header(AUTHORIZATION, *value);
        }
        builder.body(()).unwrap().into_parts().0
    }

    #[test]
    fn bearer_scheme_is_case_insensitive_and_required() {
        assert_eq!(bearer_token(&parts(&["Bearer a.b.c"])).unwrap(), "a.b.c");
        assert_eq!(bearer_token(&parts(&["bEaReR a.b.c"])).unwrap(), "a.b.c");
        for bad in [
            &["Basic YTpi"][..],
            &["Bearer"],
            &["Bearer "],
            &[],
            &["a.b.c"],
        ] {
            assert!(bearer_token(&parts(bad)).is_err(), "{bad:?}");
        }
        assert!(bearer_token(&parts(&["Bearer a.b.c", "Bearer d.e.f"])).is_err());
    }

    #[test]
    fn a_header_with_bytes_beyond_ascii_is_an_invalid_token() {
        let mut parts = parts(&[]);
        let value = axum::http::HeaderValue::from_bytes("Bearer a.b.cé".as_bytes()).unwrap();
        parts.headers.insert(AUTHORIZATION, value);
        let error = bearer_token(&parts).unwrap_err();
        assert!(
            matches!(
                &error,
                ApiError::InvalidToken(refusal)
                    if refusal.reason == TokenReason::MalformedToken
                        && refusal.message.contains("not ASCII")
            ),
            "{error:?}"
        );
    }
}
