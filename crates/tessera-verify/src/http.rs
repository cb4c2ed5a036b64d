//! HTTP glue: the bearer token of a request, the answers to a refused one, the tower layer
//! [`VerifyLayer`] and the axum extractor [`Authenticated`].
//!
//! Answers (RFC 6750 §3): a refused token is `401` with `WWW-Authenticate: Bearer
//! error="invalid_token"` and `{"error":"invalid_token","reason":REASON}`; no token is `401`
//! with `WWW-Authenticate: Bearer` and `{"error":"missing_token","reason":"missing_token"}` (as
//! tessera answers it); no key set yet is `503` with `Retry-After: 5` and
//! `{"error":"unavailable","reason":"key_set_unavailable"}`. Every answer has
//! `Cache-Control: no-store`, and none echoes the token or names a library error.
//!
//! Invariant: the token is read from one `Authorization` header only, never from a query string.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::extract::{FromRef, FromRequestParts};
use axum::http::header::{
    AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE,
};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use tessera_token::VerifyError;
use tower::{Layer, Service};

use crate::{Claims, Rejection, Verifier};

/// The token in `Authorization: Bearer TOKEN` (scheme case-insensitive, one header only).
///
/// No header, another scheme or an empty token is [`Rejection::MissingToken`]; two
/// `Authorization` headers, or one that is not ASCII, are a malformed token.
pub fn bearer_token(headers: &HeaderMap) -> Result<&str, Rejection> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let value = match (values.next(), values.next()) {
        (None, _) => return Err(Rejection::MissingToken),
        (Some(value), None) => value,
        (Some(_), Some(_)) => {
            return Err(Rejection::Invalid(VerifyError::Malformed(
                "more than one Authorization header",
            )));
        }
    };
    let value = value.to_str().map_err(|_| {
        Rejection::Invalid(VerifyError::Malformed(
            "the Authorization header is not ASCII",
        ))
    })?;
    let (scheme, token) = value.split_once(' ').ok_or(Rejection::MissingToken)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(Rejection::MissingToken);
    }
    let token = token.trim_matches(' ');
    if token.is_empty() {
        return Err(Rejection::MissingToken);
    }
    Ok(token)
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        let reason = self.reason();
        let (status, error, challenge) = match &self {
            Rejection::MissingToken => (StatusCode::UNAUTHORIZED, "missing_token", Some("Bearer")),
            Rejection::Invalid(cause) => {
                tracing::debug!(reason, detail = %cause, "token refused");
                (
                    StatusCode::UNAUTHORIZED,
                    "invalid_token",
                    Some("Bearer error=\"invalid_token\""),
                )
            }
            Rejection::Revoked => (
                StatusCode::UNAUTHORIZED,
                "invalid_token",
                Some("Bearer error=\"invalid_token\""),
            ),
            Rejection::Unavailable | Rejection::RevocationsUnavailable => {
                (StatusCode::SERVICE_UNAVAILABLE, "unavailable", None)
            }
        };
        let body = serde_json::json!({ "error": error, "reason": reason }).to_string();
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Some(challenge) = challenge {
            headers.insert(WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
        }
        if matches!(
            self,
            Rejection::Unavailable | Rejection::RevocationsUnavailable
        ) {
            headers.insert(RETRY_AFTER, HeaderValue::from_static("5"));
        }
        response
    }
}

/// A tower layer that lets through only requests with a valid bearer token, and puts its
/// [`Claims`] into the request's extensions (read them with [`Authenticated`] or
/// `Extension<Claims>`).
#[derive(Clone, Debug)]
pub struct VerifyLayer {
    verifier: Verifier,
}

impl VerifyLayer {
    /// A layer verifying with `verifier`.
    pub fn new(verifier: Verifier) -> Self {
        Self { verifier }
    }
}

impl<S> Layer<S> for VerifyLayer {
    type Service = VerifyService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        VerifyService {
            inner,
            verifier: self.verifier.clone(),
        }
    }
}

/// The service [`VerifyLayer`] wraps around another.
#[derive(Clone, Debug)]
pub struct VerifyService<S> {
    inner: S,
    verifier: Verifier,
}

impl<S, B> Service<Request<B>> for VerifyService<S>
where
    S: Service<Request<B>, Response = Response> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        // The clone that was made ready is the one that serves this request.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let verifier = self.verifier.clone();
        Box::pin(async move {
            let verified = match bearer_token(request.headers()) {
                Ok(token) => verifier.verify(token).await,
                Err(rejection) => Err(rejection),
            };
            match verified {
                Ok(claims) => {
                    request.extensions_mut().insert(claims);
                    inner.call(request).await
                }
                Err(rejection) => Ok(rejection.into_response()),
            }
        })
    }
}

/// The claims of the request's verified bearer token, as an axum extractor.
///
/// Behind [`VerifyLayer`] it takes the claims the layer verified; without the layer it verifies
/// the token itself with the [`Verifier`] in the router's state (any state `S` with
/// `Verifier: FromRef<S>`), refusing exactly as the layer does.
#[derive(Clone, Debug)]
pub struct Authenticated(pub Claims);

impl<S> FromRequestParts<S> for Authenticated
where
    Verifier: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Rejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Rejection> {
        if let Some(claims) = parts.extensions.get::<Claims>() {
            return Ok(Self(claims.clone()));
        }
        let token = bearer_token(&parts.headers)?;
        let claims = Verifier::from_ref(state).verify(token).await?;
        parts.extensions.insert(claims.clone());
        Ok(Self(claims))
    }
}
