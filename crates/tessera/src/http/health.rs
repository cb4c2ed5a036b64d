//! Liveness, readiness and metrics.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::{Ref, RefOr, Response as OpenApiResponse};
use utoipa_axum::routes;

use tessera_api::{ErrorBody, ErrorCode};

use super::openapi::{ApiRoutes, NotFound, Timeout, TooManyRequests, Unavailable};
use super::{ApiError, AppState};

pub(super) fn routes(api: ApiRoutes) -> ApiRoutes {
    api.add(routes!(get_healthz)).add(routes!(get_readyz))
}

/// `GET /metrics`: with the API, or alone on the metrics listener (`TESSERA_METRICS_LISTEN`).
pub(super) fn metrics_routes(api: ApiRoutes) -> ApiRoutes {
    api.add(routes!(get_metrics))
}

/// What a probe answers.
#[derive(Serialize, utoipa::ToSchema)]
struct Status {
    /// `ok` (liveness), `ready`, `database unavailable` or `out of date`.
    status: &'static str,
}

/// What `/readyz` answers when the database is not ready: the error shape, and the probe's
/// `status`.
#[derive(Serialize)]
struct NotReadyBody<'a> {
    status: &'static str,
    error: ErrorCode,
    message: &'a str,
}

/// `GET /readyz`'s 503: the error body (`database_unavailable`, with the probe's `status`
/// besides), or the error body of a refused connection.
struct NotReady;

impl<'r> utoipa::ToResponse<'r> for NotReady {
    fn response() -> (&'r str, RefOr<OpenApiResponse>) {
        let response = ResponseBuilder::new()
            .description(
                "Not ready: the database does not answer or another process holds its lock \
                 (`database_unavailable`, with `\"status\": \"database unavailable\"` \
                 besides, no `Retry-After`); or this instance has not confirmed within its \
                 lease that it applied every change made on the database \
                 (`instance_out_of_date`, with `\"status\": \"out of date\"` besides); or too many open \
                 connections (with `Retry-After`)",
            )
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name(
                        <ErrorBody as utoipa::ToSchema>::name(),
                    )))
                    .build(),
            )
            .header(
                "Retry-After",
                HeaderBuilder::new()
                    .description(Some("Seconds to wait (refused connections only)"))
                    .build(),
            )
            .build();
        ("NotReady", response.into())
    }
}

/// Liveness: answers without I/O.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "operations",
    operation_id = "get_healthz",
    responses(
        (status = 200, description = "The process serves requests", body = Status),
        (status = 408, response = Timeout),
        (status = 429, response = TooManyRequests),
        (status = 503, response = Unavailable),
    )
)]
async fn get_healthz() -> Json<Status> {
    Json(Status { status: "ok" })
}

/// Readiness: this instance has applied every change within its lease, the database answers
/// and a write could take its lock now (a short probe), so a database another process keeps
/// locked makes the instance not ready.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "operations",
    operation_id = "get_readyz",
    responses(
        (status = 200, description = "The database answers and could be written now", body = Status),
        (status = 408, response = Timeout),
        (status = 429, response = TooManyRequests),
        (status = 503, response = inline(NotReady)),
    )
)]
async fn get_readyz(State(state): State<AppState>) -> Response {
    if let Err(out_of_date) = state.auth.cluster.check_fresh() {
        tracing::warn!(cause = %out_of_date, "not ready: out of date");
        let message = format!(
            "this instance has not confirmed for {} ms that it applied every change made on \
             the database (it cannot reach it); it refuses tokens until it can; the cause is \
             in its log",
            out_of_date.stale_ms
        );
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(NotReadyBody {
                status: "out of date",
                error: ErrorCode::InstanceOutOfDate,
                message: &message,
            }),
        )
            .into_response();
    }
    match state.auth.users.ping().await {
        Ok(()) => (StatusCode::OK, Json(Status { status: "ready" })).into_response(),
        Err(error) => {
            let cause = crate::auth::describe(&error);
            tracing::warn!(error = %cause, "database not ready");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(NotReadyBody {
                    status: "database unavailable",
                    error: ErrorCode::DatabaseUnavailable,
                    message: "the database does not answer, or another process holds its write lock",
                }),
            )
                .into_response()
        }
    }
}

/// Counters in the OpenMetrics text format; on `TESSERA_METRICS_LISTEN` instead when that is
/// set.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    operation_id = "get_metrics",
    description = "Served on the API's address, or only on `TESSERA_METRICS_LISTEN` when that \
                   is set (the API's address then answers 404).",
    responses(
        (status = 200, description = "Counters in the OpenMetrics text format", body = String,
         content_type = "application/openmetrics-text"),
        (status = 404, response = NotFound),
        (status = 408, response = Timeout),
        (status = 429, response = TooManyRequests),
        (status = 503, response = Unavailable),
    )
)]
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
