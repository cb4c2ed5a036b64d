//! Administration of users: `/api/users` and `/api/users/{id}` (admin role required).

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use tessera_store::UserId;

use super::{AdminUser, ApiError, ApiJson, AppState};
use crate::clock::rfc3339;
use crate::model::{NewPassword, Roles, Username};
use crate::users::{UserChanges, UserView};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/users", get(get_users).post(post_user))
        .route(
            "/api/users/{id}",
            get(get_user).patch(patch_user).delete(delete_user),
        )
}

/// A user as the API shows it.
#[derive(Debug, Serialize)]
pub(super) struct UserJson {
    id: String,
    username: String,
    roles: Vec<String>,
    active: bool,
    created_at: String,
    updated_at: String,
}

impl From<&UserView> for UserJson {
    fn from(user: &UserView) -> Self {
        Self {
            id: user.id.to_string(),
            username: user.username.clone(),
            roles: user.roles.clone(),
            active: user.active,
            created_at: rfc3339(user.created_at),
            updated_at: rfc3339(user.updated_at),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateUserBody {
    username: String,
    password: String,
    #[serde(default)]
    roles: Vec<String>,
    #[serde(default = "active_by_default")]
    active: bool,
}

fn active_by_default() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateUserBody {
    active: Option<bool>,
    roles: Option<Vec<String>>,
    password: Option<String>,
}

#[derive(Serialize)]
struct UserList {
    users: Vec<UserJson>,
}

fn user_id(raw: &str) -> Result<UserId, ApiError> {
    // An id that is not a UUID names no user.
    raw.parse().map_err(|_| ApiError::NotFound)
}

async fn get_users(
    State(state): State<AppState>,
    _: AdminUser,
) -> Result<Json<UserList>, ApiError> {
    let users = state.auth.users.list().await?;
    Ok(Json(UserList {
        users: users.iter().map(UserJson::from).collect(),
    }))
}

async fn post_user(
    State(state): State<AppState>,
    _: AdminUser,
    ApiJson(body): ApiJson<CreateUserBody>,
) -> Result<Response, ApiError> {
    let username = Username::parse(&body.username).map_err(|e| ApiError::BadRequest(e.0))?;
    let password = NewPassword::parse(SecretString::from(body.password))
        .map_err(|e| ApiError::BadRequest(e.0))?;
    let roles = Roles::parse(&body.roles).map_err(|e| ApiError::BadRequest(e.0))?;
    let now = state.auth.clock.now();
    let user = state
        .auth
        .users
        .create(username, &password, roles, body.active, now)
        .await?;
    let mut response = (StatusCode::CREATED, Json(UserJson::from(&user))).into_response();
    if let Ok(location) = HeaderValue::from_str(&format!("/api/users/{}", user.id)) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

async fn get_user(
    State(state): State<AppState>,
    _: AdminUser,
    Path(id): Path<String>,
) -> Result<Json<UserJson>, ApiError> {
    let user = state.auth.users.get(user_id(&id)?).await?;
    Ok(Json(UserJson::from(&user)))
}

async fn patch_user(
    State(state): State<AppState>,
    _: AdminUser,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateUserBody>,
) -> Result<Json<UserJson>, ApiError> {
    let id = user_id(&id)?;
    let changes = UserChanges {
        active: body.active,
        roles: body
            .roles
            .map(|r| Roles::parse(&r))
            .transpose()
            .map_err(|e| ApiError::BadRequest(e.0))?,
        password: body
            .password
            .map(|p| NewPassword::parse(SecretString::from(p)))
            .transpose()
            .map_err(|e| ApiError::BadRequest(e.0))?,
    };
    let now = state.auth.clock.now();
    let user = state.auth.users.update(id, changes, now).await?;
    Ok(Json(UserJson::from(&user)))
}

async fn delete_user(
    State(state): State<AppState>,
    _: AdminUser,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.auth.users.delete(user_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}
