//! Administration of users: `/api/users` and `/api/users/{id}` (admin role required).

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use tessera_store::UserId;

use super::{AdminUser, ApiError, ApiJson, ApiPath, AppState};
use crate::clock::Rfc3339;
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

/// A user as the API shows it; borrows from the user, so `/api/auth/me` copies nothing.
#[derive(Debug, Serialize)]
pub(super) struct UserJson<'a> {
    id: UserId,
    username: &'a str,
    roles: &'a [String],
    active: bool,
    created_at: Rfc3339,
    updated_at: Rfc3339,
}

impl<'a> From<&'a UserView> for UserJson<'a> {
    fn from(user: &'a UserView) -> Self {
        Self {
            id: user.id,
            username: &user.username,
            roles: &user.roles,
            active: user.active,
            created_at: Rfc3339(user.created_at),
            updated_at: Rfc3339(user.updated_at),
        }
    }
}

/// The user as [`UserJson`] renders it, rendered once per cached view (see
/// [`UserView::rendered`]), so the hot `/api/auth/me` only copies bytes.
pub(super) fn rendered_user(user: &UserView) -> Result<&RawValue, ApiError> {
    if let Some(rendered) = user.rendered.get() {
        return Ok(rendered);
    }
    let rendered = serde_json::value::to_raw_value(&UserJson::from(user))
        .map_err(|error| ApiError::Internal(format!("rendering a user: {error}")))?;
    Ok(user.rendered.get_or_init(|| rendered))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CreateUserBody {
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
pub(super) struct UpdateUserBody {
    username: Option<String>,
    active: Option<bool>,
    roles: Option<Vec<String>>,
    password: Option<String>,
}

/// A user to create, with every value checked.
pub(super) struct NewUser {
    username: Username,
    password: NewPassword,
    roles: Roles,
    active: bool,
}

impl CreateUserBody {
    /// The checks `POST /api/users` makes before any I/O.
    pub(super) fn validate(self) -> Result<NewUser, ApiError> {
        Ok(NewUser {
            username: Username::parse(&self.username).map_err(|e| ApiError::BadRequest(e.0))?,
            password: NewPassword::parse(SecretString::from(self.password))
                .map_err(|e| ApiError::BadRequest(e.0))?,
            roles: Roles::parse(&self.roles).map_err(|e| ApiError::BadRequest(e.0))?,
            active: self.active,
        })
    }
}

impl UpdateUserBody {
    /// The checks `PATCH /api/users/{id}` makes before any I/O.
    pub(super) fn into_changes(self) -> Result<UserChanges, ApiError> {
        Ok(UserChanges {
            username: self
                .username
                .map(|u| Username::parse(&u))
                .transpose()
                .map_err(|e| ApiError::BadRequest(e.0))?,
            active: self.active,
            roles: self
                .roles
                .map(|r| Roles::parse(&r))
                .transpose()
                .map_err(|e| ApiError::BadRequest(e.0))?,
            password: self
                .password
                .map(|p| NewPassword::parse(SecretString::from(p)))
                .transpose()
                .map_err(|e| ApiError::BadRequest(e.0))?,
        })
    }
}

#[derive(Serialize)]
struct UserList<'a> {
    users: Vec<UserJson<'a>>,
}

fn user_id(raw: &str) -> Result<UserId, ApiError> {
    // An id that is not a UUID names no user.
    raw.parse().map_err(|_| ApiError::NotAnId {
        param: "id",
        names: "user",
    })
}

async fn get_users(State(state): State<AppState>, _: AdminUser) -> Result<Response, ApiError> {
    let users = state.auth.users.list().await?;
    Ok(Json(UserList {
        users: users.iter().map(UserJson::from).collect(),
    })
    .into_response())
}

async fn post_user(
    State(state): State<AppState>,
    _: AdminUser,
    ApiJson(body): ApiJson<CreateUserBody>,
) -> Result<Response, ApiError> {
    let new = body.validate()?;
    let now = state.auth.clock.now();
    let user = state
        .auth
        .users
        .create(new.username, &new.password, new.roles, new.active, now)
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
    ApiPath(id): ApiPath<String>,
) -> Result<Response, ApiError> {
    let user = state.auth.users.get(user_id(&id)?).await?;
    Ok(Json(UserJson::from(&user)).into_response())
}

async fn patch_user(
    State(state): State<AppState>,
    _: AdminUser,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<UpdateUserBody>,
) -> Result<Response, ApiError> {
    let id = user_id(&id)?;
    let changes = body.into_changes()?;
    let now = state.auth.clock.now();
    let user = state.auth.users.update(id, changes, now).await?;
    Ok(Json(UserJson::from(&user)).into_response())
}

async fn delete_user(
    State(state): State<AppState>,
    _: AdminUser,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    state.auth.users.delete(user_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}
