//! The HTTP API: routes, the shared state and the middleware stack.
//!
//! Only this module knows status codes and headers. Each route group exposes `routes()`,
//! which adds its handlers, each documented with `#[utoipa::path]`, to [`ApiRoutes`]: the
//! router and the OpenAPI document (see `openapi`) come from that one registration.

mod auth_routes;
mod cookie;
mod cors;
mod csrf;
mod discovery;
mod error;
mod extract;
#[doc(hidden)]
pub mod fuzzing;
mod health;
mod me;
mod oauth;
mod openapi;
mod pages;
mod refusal;
mod rejection;
mod revocations;
mod session_routes;
mod user_routes;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::header::{AUTHORIZATION, COOKIE, SET_COOKIE};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::sensitive_headers::{
    SetSensitiveRequestHeadersLayer, SetSensitiveResponseHeadersLayer,
};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use tessera_config::TrustedProxies;

use crate::auth::Authenticator;
pub use cookie::REFRESH_COOKIE;
pub use cors::{CorsOrigins, PREFLIGHT_MAX_AGE_SECONDS};
pub use csrf::CookieSite;
pub use error::ApiError;
pub use extract::{AdminUser, ApiJson, ApiPath, AuthUser, ClientIp, CookieSecurity, OptionalJson};
use openapi::ApiRoutes;
pub use openapi::{DOCUMENT_PATH, UI_CSP, UI_PATH, UI_ROUTES};
pub use pages::{CLIENT_PATH, PAGE_CSP, PAGE_ROUTES};
pub use refusal::Refusal;

/// The largest request body accepted, in bytes.
pub const MAX_BODY_BYTES: usize = 16 * 1024;
/// How long one request may take before it is answered with 408.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// What every handler can reach. Cloned per request by the router, so every field is
/// shared (`Arc`), never copied.
#[derive(Debug, Clone)]
pub struct AppState {
    /// Login and token checks.
    pub auth: Arc<Authenticator>,
    /// Proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Arc<TrustedProxies>,
    /// Whether the refresh cookie always carries `Secure` (everywhere but loopback HTTP;
    /// there, see [`CookieSecurity`]).
    pub secure_cookies: bool,
    /// Origins whose pages may call the API with credentials (`TESSERA_CORS_ORIGINS`).
    pub cors_origins: CorsOrigins,
}

/// Whether a validated `host:port` listen address accepts loopback connections only.
pub fn is_loopback_listen(listen: &str) -> bool {
    let host = listen.rsplit_once(':').map_or(listen, |(host, _)| host);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The whole API with its middleware; `GET /metrics` is among its routes when `with_metrics`
/// (otherwise it is `404` here and served by [`metrics_router`] on a listener of its own).
pub fn router(state: AppState, with_metrics: bool) -> Router {
    let cors_origins = state.cors_origins.clone();
    with_middleware(routes(with_metrics).with_state(state), cors_origins)
}

/// Only `GET /metrics`, with the same middleware (everything else is `404`), for the metrics
/// listener.
pub fn metrics_router(state: AppState) -> Router {
    let cors_origins = state.cors_origins.clone();
    let (routes, _) = health::metrics_routes(ApiRoutes::new()).split();
    let routes = routes
        .fallback(|| async { ApiError::NotFound })
        .with_state(state);
    with_middleware(routes, cors_origins)
}

/// The OpenAPI 3.1 document of every route [`router`] serves (Swagger UI's pages aside),
/// `/metrics` included wherever it is served.
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    documented_routes(true).split().1
}

/// Every documented route, Swagger UI, and the browser pages with their assets; anything
/// else is the JSON 404.
fn routes(with_metrics: bool) -> Router<AppState> {
    let (api, _) = documented_routes(with_metrics).split();
    api.merge(openapi::swagger_ui())
        .merge(pages::routes())
        .fallback(|| async { ApiError::NotFound })
}

/// Every route of the API, each with its operation in the document.
fn documented_routes(with_metrics: bool) -> ApiRoutes {
    let api = ApiRoutes::new();
    let api = health::routes(api);
    let api = if with_metrics {
        health::metrics_routes(api)
    } else {
        api
    };
    let api = auth_routes::routes(api);
    let api = session_routes::routes(api);
    let api = discovery::routes(api);
    let api = oauth::routes(api);
    let api = revocations::routes(api);
    user_routes::routes(api)
}

/// Request ids, masked credentials, tracing, headers that keep per-user answers out of
/// caches, browsers from sniffing types and pages from framing, leaking or scripting the
/// answers (see [`with_browser_security_headers`]), `OPTIONS` and CORS, JSON for every
/// error, the panic catcher, a timeout and the body limit.
///
/// The layers wrap the routes once, as one stack, and the result is the fallback of an
/// otherwise empty router. `Router::layer` would wrap every route separately, boxing each
/// layer again, and cost an allocation per layer on every request.
fn with_middleware(routes: Router, cors_origins: CorsOrigins) -> Router {
    let stack = ServiceBuilder::new()
        .layer(SetRequestIdLayer::x_request_id(SequentialRequestIds::new()))
        .layer(SetSensitiveRequestHeadersLayer::new([
            AUTHORIZATION,
            COOKIE,
        ]))
        .layer(SetSensitiveResponseHeadersLayer::new([SET_COOKIE]))
        .layer(TraceLayer::new_for_http().make_span_with(request_span))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .map_response(with_browser_security_headers)
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
        .layer(cors::CorsLayer(cors_origins))
        // Outside the panic catcher and the timeout, so their answers are JSON too.
        .map_response(|response: Response<_>| error::json_for_bare_errors(response.into_response()))
        .layer(CatchPanicLayer::custom(answer_panic))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .service(routes);
    Router::new().fallback_service(stack)
}

/// The Content-Security-Policy of every answer that does not set its own: the API's JSON
/// loads nothing, runs nothing and may not be framed.
pub const API_CSP: &str = "default-src 'none'; frame-ancestors 'none'";

/// Adds to every answer, errors and answers of the outer layers included: no `Referer`
/// to other sites, no framing (`X-Frame-Options: DENY`, and the CSP's `frame-ancestors`),
/// a browsing context of its own (`Cross-Origin-Opener-Policy: same-origin`), and
/// [`API_CSP`] unless the handler set a policy of its own (Swagger UI, the pages).
fn with_browser_security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(API_CSP),
        );
    }
    response
}

/// A JSON answer serialized into one buffer of `capacity` bytes. axum's `Json` starts at 128
/// bytes and copies as it grows, which the hot `/api/auth/me` answer (about 400 bytes) would
/// pay on every request.
fn json_answer<T: serde::Serialize>(value: &T, capacity: usize) -> Response {
    let mut body = Vec::with_capacity(capacity);
    match serde_json::to_writer(&mut body, value) {
        Ok(()) => json_body(body),
        Err(error) => ApiError::Internal(format!("serializing an answer: {error}")).into_response(),
    }
}

/// An answer whose body is JSON already.
fn json_body(body: Vec<u8>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response()
}

/// Request ids `<process prefix>-<sequence>`: unique per process start without a
/// system call per request (a UUID v4 draws from the OS CSPRNG every time). The prefix is
/// random per start, so ids from two runs or instances do not collide in merged logs.
#[derive(Debug, Clone)]
struct SequentialRequestIds {
    prefix: Arc<str>,
    next: Arc<std::sync::atomic::AtomicU64>,
}

impl SequentialRequestIds {
    fn new() -> Self {
        let mut bytes = [0_u8; 6];
        // Without randomness the ids are still unique within this process.
        let _ = getrandom::fill(&mut bytes);
        let prefix: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        Self {
            prefix: Arc::from(prefix),
            next: Arc::new(std::sync::atomic::AtomicU64::new(1)),
        }
    }
}

impl MakeRequestId for SequentialRequestIds {
    fn make_request_id<B>(&mut self, _: &axum::http::Request<B>) -> Option<RequestId> {
        let sequence = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let text = format!("{}-{sequence}", self.prefix);
        HeaderValue::from_maybe_shared(axum::body::Bytes::from(text))
            .ok()
            .map(RequestId::new)
    }
}

/// One span per request: method, path (never the query string, which could carry a
/// misplaced token) and the request id.
fn request_span(request: &axum::http::Request<axum::body::Body>) -> tracing::Span {
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-");
    tracing::info_span!(
        "request",
        method = %request.method(),
        path = %request.uri().path(),
        request_id = %request_id,
    )
}

fn answer_panic(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let mut response = ApiError::Internal("handler panicked".into()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use super::*;

    #[test]
    fn request_ids_are_unique_and_share_the_process_prefix() {
        let mut ids = SequentialRequestIds::new();
        let request = axum::http::Request::get("/").body(()).unwrap();
        let mut next = || {
            let id = ids.make_request_id(&request).unwrap();
            id.header_value().to_str().unwrap().to_owned()
        };
        let (first, second) = (next(), next());
        assert_ne!(first, second);
        let prefix = |id: &str| id.split_once('-').unwrap().0.to_owned();
        assert_eq!(prefix(&first), prefix(&second));
        assert_eq!(prefix(&first).len(), 12);
        let other = SequentialRequestIds::new()
            .make_request_id(&request)
            .unwrap();
        assert_ne!(
            other.header_value(),
            first.as_str(),
            "another start, another prefix"
        );
    }

    #[test]
    fn loopback_listeners_are_told_apart() {
        for listen in [
            "127.0.0.1:8420",
            "127.0.0.9:0",
            "[::1]:80",
            "localhost:1",
            "LocalHost:1",
        ] {
            assert!(is_loopback_listen(listen), "{listen}");
        }
        for listen in [
            "0.0.0.0:8420",
            "[::]:80",
            "10.0.0.1:80",
            "auth.example.com:443",
        ] {
            assert!(!is_loopback_listen(listen), "{listen}");
        }
    }
    use axum::body::Body;
    use axum::routing::get;
    use tower::ServiceExt as _;

    /// The (method, path) pairs a router serves, HEAD aside (axum answers it for every GET),
    /// read from its `Debug` output: for each route id, the `Allow` header its method router
    /// would send, and its path; a route that is a whole service serves every method (`*`).
    fn served_routes(router: &Router<AppState>) -> BTreeSet<(String, String)> {
        let debug = format!("{router:?}");
        // The fallback router follows the routes proper.
        let (routes, _) = debug.split_once(", fallback_router: ").unwrap();
        let (endpoints, paths) = routes.split_once("node: Node { paths: {").unwrap();
        let id = |chunk: &str| chunk.split_once(')').unwrap().0.to_owned();
        let paths: BTreeMap<String, String> = paths
            .split("RouteId(")
            .skip(1)
            .map(|chunk| (id(chunk), chunk.split('"').nth(1).unwrap().to_owned()))
            .collect();
        let mut served = BTreeSet::new();
        for chunk in endpoints.split("RouteId(").skip(1) {
            let path = &paths[&id(chunk)];
            let methods = match chunk.split_once("allow_header: Bytes(b\"") {
                Some((_, allow)) => allow.split('"').next().unwrap().to_owned(),
                None => "*".to_owned(),
            };
            for method in methods.split(',').filter(|method| *method != "HEAD") {
                served.insert((method.to_owned(), path.clone()));
            }
        }
        served
    }

    #[test]
    fn every_route_served_is_documented_and_every_operation_is_served() {
        let served = served_routes(&routes(true));
        let document = serde_json::to_value(openapi_document()).unwrap();
        let mut documented: BTreeSet<(String, String)> = BTreeSet::new();
        for (path, item) in document["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                documented.insert((method.to_ascii_uppercase(), path.clone()));
            }
        }
        for path in UI_ROUTES.into_iter().chain(PAGE_ROUTES) {
            documented.insert(("GET".to_owned(), path.to_owned()));
        }
        let undocumented: Vec<_> = served.difference(&documented).collect();
        assert!(
            undocumented.is_empty(),
            "served but not in the OpenAPI document: {undocumented:?}"
        );
        let unserved: Vec<_> = documented.difference(&served).collect();
        assert!(
            unserved.is_empty(),
            "documented but not served: {unserved:?}"
        );
        assert!(served.contains(&("PATCH".to_owned(), "/api/users/{id}".to_owned())));
        assert!(served.len() > 15, "{served:?}");
    }

    #[tokio::test]
    async fn a_panicking_handler_gets_a_generic_500_and_the_server_stays_up() {
        let app = with_middleware(
            Router::new().route(
                "/boom",
                get(|| async {
                    let empty: Vec<u8> = Vec::new();
                    // Index out of bounds: a bug, not a deliberate panic.
                    #[allow(clippy::indexing_slicing)]
                    let byte = empty[usize::from(empty.is_empty())];
                    byte.to_string()
                }),
            ),
            CorsOrigins::default(),
        );
        let request = axum::http::Request::get("/boom")
            .body(Body::empty())
            .unwrap();
        let response = app.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(response.headers().contains_key("x-request-id"));
        let body = axum::body::to_bytes(response.into_body(), 1024)
            .await
            .unwrap();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["error"], "internal_error");
        assert_eq!(body["message"], "internal error");
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_past_the_timeout_gets_a_json_408() {
        let app = with_middleware(
            Router::new().route("/slow", get(std::future::pending::<()>)),
            CorsOrigins::default(),
        );
        let request = axum::http::Request::get("/slow")
            .body(Body::empty())
            .unwrap();
        // The clock is paused: tokio moves it to the timeout as soon as nothing else runs.
        let response = app.oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::REQUEST_TIMEOUT);
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
        assert_eq!(
            response.headers()[header::X_CONTENT_TYPE_OPTIONS],
            "nosniff"
        );
        let body = axum::body::to_bytes(response.into_body(), 1024)
            .await
            .unwrap();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["error"], "request_timeout");
        assert_eq!(body["message"], "the request took longer than 30 seconds");
    }
}
