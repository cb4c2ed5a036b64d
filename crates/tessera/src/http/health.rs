//! Liveness, readiness and metrics.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

use super::{ApiError, AppState};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(get_healthz))
        .route("/readyz", get(get_readyz))
}

/// `GET /metrics`: with the API, or alone on the metrics listener (`TESSERA_METRICS_LISTEN`).
pub(super) fn metrics_router() -> Router<AppState> {
    Router::new().route("/metrics", get(get_metrics))
}

/// Liveness: answers without I/O.
async fn get_healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// Readiness: the database answers and a write could take its lock now (a short probe), so
/// a database another process keeps locked makes the instance not ready.
async fn get_readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    match state.auth.users.ping().await {
        Ok(()) => (StatusCode::OK, Json(json!({ "status": "ready" }))),
        Err(error) => {
            tracing::warn!(error = %error, "database not ready");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "status": "database unavailable" })),
            )
        }
    }
}

/// Counters in the OpenMetrics text format.
async fn get_metrics(State(state): State<AppState>) -> Result<Response, ApiError> {
    let text = state
        .auth
        .metrics
        .render()
        .map_err(|e| ApiError::Internal(format!("failed to render metrics: {e}")))?;
    let mut response = text.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    Ok(response)
}
