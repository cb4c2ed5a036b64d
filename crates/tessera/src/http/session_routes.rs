//! A user's own sessions (`/api/auth/sessions`) and an administrator's view of anyone's
//! (`/api/users/{id}/sessions`).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use tessera_api::{Session as SessionJson, SessionList, SessionsEnded};
use tessera_store::{EndReason, Session, SessionId, UserId};
use utoipa_axum::routes;

use super::openapi::{
    ApiRoutes, Forbidden, NotFound, Timeout, TooManyRequests, Unauthorized, Unavailable,
};
use super::{AdminUser, ApiError, ApiPath, AppState, AuthUser};
use crate::clock::Rfc3339;

pub(super) fn routes(api: ApiRoutes) -> ApiRoutes {
    api.add(routes!(get_own_sessions))
        .add(routes!(delete_own_session))
        .add(routes!(get_user_sessions, delete_user_sessions))
        .add(routes!(delete_user_session))
}

/// A session as the API shows it; `current` when `current` names it.
fn session_json(session: &Session, current: Option<SessionId>) -> SessionJson {
    SessionJson {
        id: session.id,
        created_at: Rfc3339(session.created_at),
        last_used_at: Rfc3339(session.last_used_at),
        expires_at: Rfc3339(session.expires_at()),
        idle_expires_at: Rfc3339(session.idle_expires_at),
        absolute_expires_at: Rfc3339(session.absolute_expires_at),
        client_ip: session.client_ip.clone(),
        user_agent: session.user_agent.clone(),
        current: current == Some(session.id),
    }
}

/// An id that is not a UUID names nothing: the path parameter `param` names no `names`.
fn parse_id<T: std::str::FromStr>(
    raw: &str,
    param: &'static str,
    names: &'static str,
) -> Result<T, ApiError> {
    raw.parse().map_err(|_| ApiError::NotAnId { param, names })
}

async fn list(
    state: &AppState,
    user: UserId,
    current: Option<SessionId>,
) -> Result<Json<SessionList>, ApiError> {
    let now = state.auth.clock.now();
    let sessions = state.auth.sessions.live(Some(user), now).await?;
    Ok(Json(SessionList {
        sessions: sessions
            .iter()
            .map(|session| session_json(session, current))
            .collect(),
    }))
}

/// Ends `session` when it is a live session of `user`; 404 otherwise.
async fn end_one(
    state: &AppState,
    user: UserId,
    session: SessionId,
    reason: EndReason,
) -> Result<StatusCode, ApiError> {
    let now = state.auth.clock.now();
    match state.auth.sessions.get(session).await? {
        Some(found) if found.user_id == user && found.is_live(now) => {
            state.auth.sessions.end(session, reason, now).await?;
            Ok(StatusCode::NO_CONTENT)
        }
        _ => Err(ApiError::NotFound),
    }
}

/// The caller's live sessions.
#[utoipa::path(
    get,
    path = "/api/auth/sessions",
    tag = "auth",
    operation_id = "list_own_sessions",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller's live sessions", body = SessionList),
        (status = 401, response = Unauthorized),
        (status = 408, response = Timeout),
        (status = 429, response = TooManyRequests),
        (status = 503, response = Unavailable),
    )
)]
async fn get_own_sessions(
    State(state): State<AppState>,
    AuthUser(access): AuthUser,
) -> Result<Json<SessionList>, ApiError> {
    list(&state, access.user.id, Some(access.session_id)).await
}

/// Ends one of the caller's sessions (ending the current one is a logout).
#[utoipa::path(
    delete,
    path = "/api/auth/sessions/{session_id}",
    tag = "auth",
    operation_id = "end_own_session",
    security(("bearer" = [])),
    params(("session_id" = String, Path, format = Uuid, description = "A session of the caller")),
    responses(
        (status = 204, description = "The session is ended"),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 408, response = Timeout),
        (status = 429, response = TooManyRequests),
        (status = 503, response = Unavailable),
    )
)]
async fn delete_own_session(
    State(state): State<AppState>,
    AuthUser(access): AuthUser,
    ApiPath(session_id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    let session = parse_id(&session_id, "session_id", "session")?;
    let reason = if session == access.session_id {
        EndReason::Logout
    } else {
        EndReason::EndedByUser
    };
    end_one(&state, access.user.id, session, reason).await
}

/// A user's live sessions.
#[utoipa::path(
    get,
    path = "/api/users/{id}/sessions",
    tag = "users",
    operation_id = "list_user_sessions",
    security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid, description = "The user's id")),
    responses(
        (status = 200, description = "The user's live sessions", body = SessionList),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 408, response = Timeout),
        (status = 429, response = TooManyRequests),
        (status = 503, response = Unavailable),
    )
)]
async fn get_user_sessions(
    State(state): State<AppState>,
    AdminUser(access): AdminUser,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<SessionList>, ApiError> {
    let user = state.auth.users.get(parse_id(&id, "id", "user")?).await?;
    list(&state, user.id, Some(access.session_id)).await
}

/// Ends every session of a user.
#[utoipa::path(
    delete,
    path = "/api/users/{id}/sessions",
    tag = "users",
    operation_id = "end_user_sessions",
    security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid, description = "The user's id")),
    responses(
        (status = 200, description = "Every session of the user is ended", body = SessionsEnded),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 408, response = Timeout),
        (status = 429, response = TooManyRequests),
        (status = 503, response = Unavailable),
    )
)]
async fn delete_user_sessions(
    State(state): State<AppState>,
    _: AdminUser,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<SessionsEnded>, ApiError> {
    let user = state.auth.users.get(parse_id(&id, "id", "user")?).await?;
    let now = state.auth.clock.now();
    let ended = state
        .auth
        .sessions
        .end_all_of(user.id, None, EndReason::EndedByAdmin, now)
        .await?;
    Ok(Json(SessionsEnded {
        sessions_ended: ended,
    }))
}

/// Ends one session of a user.
#[utoipa::path(
    delete,
    path = "/api/users/{id}/sessions/{session_id}",
    tag = "users",
    operation_id = "end_user_session",
    security(("bearer" = [])),
    params(
        ("id" = String, Path, format = Uuid, description = "The user's id"),
        ("session_id" = String, Path, format = Uuid, description = "A session of that user"),
    ),
    responses(
        (status = 204, description = "The session is ended"),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 408, response = Timeout),
        (status = 429, response = TooManyRequests),
        (status = 503, response = Unavailable),
    )
)]
async fn delete_user_session(
    State(state): State<AppState>,
    _: AdminUser,
    ApiPath((id, session_id)): ApiPath<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let user: UserId = parse_id(&id, "id", "user")?;
    end_one(
        &state,
        user,
        parse_id(&session_id, "session_id", "session")?,
        EndReason::EndedByAdmin,
    )
    .await
}
