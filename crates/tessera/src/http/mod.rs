//! The HTTP API: routes, the shared state and the middleware stack.
//!
//! Only this module knows status codes and headers. Each route group exposes `router()`.

mod auth_routes;
mod error;
mod extract;
mod health;
mod user_routes;

use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::header::{AUTHORIZATION, COOKIE, SET_COOKIE};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::sensitive_headers::{
    SetSensitiveRequestHeadersLayer, SetSensitiveResponseHeadersLayer,
};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::auth::Authenticator;
pub use error::ApiError;
pub use extract::{AdminUser, ApiJson, AuthUser, ClientIp};

/// The largest request body accepted, in bytes.
pub const MAX_BODY_BYTES: usize = 16 * 1024;
/// How long one request may take before it is answered with 408.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// What every handler can reach.
#[derive(Debug, Clone)]
pub struct AppState {
    /// Login and token checks.
    pub auth: Authenticator,
}

/// The whole API with its middleware.
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(health::router())
        .merge(auth_routes::router())
        .merge(user_routes::router())
        .fallback(|| async { ApiError::NotFound })
        .with_state(state)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ))
        .layer(CatchPanicLayer::custom(answer_panic))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(TraceLayer::new_for_http().make_span_with(request_span))
        .layer(SetSensitiveResponseHeadersLayer::new([SET_COOKIE]))
        .layer(SetSensitiveRequestHeadersLayer::new([
            AUTHORIZATION,
            COOKIE,
        ]))
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
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
