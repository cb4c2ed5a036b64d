//! `OPTIONS` on every route, and cross-origin requests from the origins of
//! `TESSERA_CORS_ORIGINS`.
//!
//! Every route answers `OPTIONS` with `204` and `Allow` (the router's `405` for it, turned
//! around), and a path no route has stays a `404`. A request whose `Origin` is listed gets
//! `Access-Control-Allow-Origin` (that origin) and `Access-Control-Allow-Credentials: true`
//! on whatever it is answered, errors included, with the headers a page may read
//! (`Access-Control-Expose-Headers`); a preflight (`OPTIONS` with
//! `Access-Control-Request-Method`) also gets the route's methods, the request headers the
//! API reads and how long the browser may keep the answer. An origin not listed gets no CORS
//! header. When origins are listed, answers to requests carrying `Origin` vary by it
//! (`Vary: Origin`); every answer is `no-store` anyway.
//!
//! tower-http's `CorsLayer` is not used: it answers every `OPTIONS` itself, for paths no
//! route has and for origins not listed alike, and sends its method and header lists to
//! any origin. Requests that are neither `OPTIONS` nor carry a listed-origins `Origin` pass
//! through this layer untouched, at no cost.

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Method, Request, StatusCode, header};
use axum::response::Response;
use futures_util::future::{BoxFuture, Either};
use tower::{Layer, Service};

/// How long a browser may keep a preflight answer, in seconds (browsers cap it at 2 hours
/// or less).
pub const PREFLIGHT_MAX_AGE_SECONDS: u32 = 600;
/// The request headers a page may send: the only ones the API reads besides the simple ones.
const ALLOWED_HEADERS: &str = "authorization, content-type";
/// The answer headers a page may read besides the simple ones.
const EXPOSED_HEADERS: &str = "www-authenticate, retry-after, location, x-request-id";

/// The origins whose pages may call the API with credentials, as browsers send them.
#[derive(Debug, Clone, Default)]
pub struct CorsOrigins(Arc<[HeaderValue]>);

impl CorsOrigins {
    /// The origins of the `TESSERA_CORS_ORIGINS` setting (already in their exact form).
    pub fn new(origins: &[String]) -> Self {
        let origins: Vec<HeaderValue> = origins
            .iter()
            .filter_map(|origin| HeaderValue::from_str(origin).ok())
            .collect();
        Self(origins.into())
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The request's `Origin` when it is exactly one of the listed origins.
    pub(super) fn listed(&self, headers: &HeaderMap) -> Option<HeaderValue> {
        let mut values = headers.get_all(header::ORIGIN).iter();
        match (values.next(), values.next()) {
            (Some(origin), None) => self.0.iter().find(|listed| *listed == origin).cloned(),
            _ => None,
        }
    }
}

/// Wraps the routes in [`Cors`].
#[derive(Debug, Clone)]
pub(super) struct CorsLayer(pub(super) CorsOrigins);

impl<S> Layer<S> for CorsLayer {
    type Service = Cors<S>;

    fn layer(&self, inner: S) -> Cors<S> {
        Cors {
            inner,
            origins: self.0.clone(),
        }
    }
}

/// See the module documentation.
#[derive(Debug, Clone)]
pub(super) struct Cors<S> {
    inner: S,
    origins: CorsOrigins,
}

impl<S> Service<Request<Body>> for Cors<S>
where
    S: Service<Request<Body>, Response = Response, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Either<S::Future, BoxFuture<'static, Result<Response, Infallible>>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let options = request.method() == Method::OPTIONS;
        let vary = !self.origins.is_empty() && request.headers().contains_key(header::ORIGIN);
        if !options && !vary {
            return Either::Left(self.inner.call(request));
        }
        let origin = self.origins.listed(request.headers());
        let preflight = options
            && request
                .headers()
                .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
        let answer = self.inner.call(request);
        Either::Right(Box::pin(async move {
            let mut response = answer.await?;
            if options {
                answer_options(&mut response);
            }
            // Only a preflight to an existing route gets the lists of what it may send.
            let preflight = preflight && response.status() == StatusCode::NO_CONTENT;
            let headers = response.headers_mut();
            if vary {
                headers.append(header::VARY, HeaderValue::from_static("origin"));
            }
            if let Some(origin) = origin {
                allow_origin(headers, origin, preflight);
            }
            Ok(response)
        }))
    }
}

/// Turns the router's `405` to an `OPTIONS` request (the route exists, without an `OPTIONS`
/// handler) into `204` with the route's `Allow`.
fn answer_options(response: &mut Response) {
    if response.status() != StatusCode::METHOD_NOT_ALLOWED
        || !response.headers().contains_key(header::ALLOW)
    {
        return;
    }
    *response.status_mut() = StatusCode::NO_CONTENT;
    *response.body_mut() = Body::empty();
    let headers = response.headers_mut();
    headers.remove(header::CONTENT_TYPE);
    headers.remove(header::CONTENT_LENGTH);
}

/// The headers that let a page of `origin` read the answer (and, for a preflight to an
/// existing route, send the request it asked about).
fn allow_origin(headers: &mut HeaderMap, origin: HeaderValue, preflight: bool) {
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
        HeaderValue::from_static("true"),
    );
    if preflight {
        if let Some(methods) = headers.get(header::ALLOW).cloned() {
            headers.insert(header::ACCESS_CONTROL_ALLOW_METHODS, methods);
        }
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static(ALLOWED_HEADERS),
        );
        headers.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from(PREFLIGHT_MAX_AGE_SECONDS),
        );
    } else {
        headers.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static(EXPOSED_HEADERS),
        );
    }
}
