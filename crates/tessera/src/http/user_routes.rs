//! Administration of users: `/api/users` and `/api/users/{id}` (admin role required).

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use secrecy::SecretString;
use serde::Serialize;
use serde_json::value::RawValue;
use tessera_api::{CreateUserBody, UpdateUserBody, User};
use tessera_store::UserId;
use utoipa_axum::routes;

use super::openapi::{
    ApiRoutes, BadRequest, Conflict, Forbidden, NotFound, PayloadTooLarge, Timeout,
    TooManyRequests, Unauthorized, Unavailable, Unprocessable, UnsupportedMediaType,
};
use super::{AdminUser, ApiError, ApiJson, ApiPath, AppState};
use crate::clock::Rfc3339;
use crate::model::{MAX_USERNAME_CHARS, NewPassword, Roles, Username};
use crate::users::{UserChanges, UserView};

pub(super) fn routes(api: ApiRoutes) -> ApiRoutes {
    api.add(routes!(get_users, post_user))
        .add(routes!(get_user, patch_user, delete_user))
}

/// A user as the API shows it ([`tessera_api::User`], which documents it and reads it back);
/// borrows from the user, so `/api/auth/me` and a page of users copy nothing.
#[derive(Debug, Serialize)]
pub(super) struct UserJson<'a> {
    id: UserId,
    /// Lower case.
    username: &'a str,
    /// Sorted, without duplicates.
    roles: &'a [String],
    /// An inactive user cannot log in, and its tokens are refused.
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

/// A user to create, with every value checked.
pub(super) struct NewUser {
    username: Username,
    password: NewPassword,
    roles: Roles,
    active: bool,
}

/// The checks `POST /api/users` makes before any I/O.
pub(super) fn validate_new_user(body: CreateUserBody) -> Result<NewUser, ApiError> {
    Ok(NewUser {
        username: Username::parse(&body.username).map_err(|e| ApiError::BadRequest(e.0))?,
        password: NewPassword::parse(SecretString::from(body.password))
            .map_err(|e| ApiError::BadRequest(e.0))?,
        roles: Roles::parse(&body.roles).map_err(|e| ApiError::BadRequest(e.0))?,
        active: body.active,
    })
}

/// The checks `PATCH /api/users/{id}` makes before any I/O.
pub(super) fn user_changes(body: UpdateUserBody) -> Result<UserChanges, ApiError> {
    Ok(UserChanges {
        username: body
            .username
            .map(|u| Username::parse(&u))
            .transpose()
            .map_err(|e| ApiError::BadRequest(e.0))?,
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
    })
}

/// One page of users (every user, when they fit in one page), as [`tessera_api::UserList`]
/// documents and reads it; borrows from the page.
#[derive(Serialize)]
struct UserList<'a> {
    /// Ordered by username byte for byte.
    users: Vec<UserJson<'a>>,
}

/// The page size when `limit` is left out.
const DEFAULT_PAGE_LIMIT: u32 = 100;
/// The largest `limit`.
const MAX_PAGE_LIMIT: u32 = 1000;

/// The query parameters of `GET /api/users`, checked.
#[derive(Debug, PartialEq, Eq)]
struct PageQuery {
    /// 1 to [`MAX_PAGE_LIMIT`].
    limit: u32,
    /// The last username of the previous page, as given.
    after: Option<String>,
    /// Normalised as usernames are ([`Username::normalise`]), 1 to 64 characters.
    q: Option<String>,
}

impl PageQuery {
    /// Reads `limit`, `after` and `q` from a query string; other parameters are ignored (as
    /// they always were here). A bad or repeated parameter is a `400` naming it, never
    /// echoing its value.
    fn parse(query: Option<&str>) -> Result<Self, ApiError> {
        let mut limit = None;
        let mut after = None;
        let mut q = None;
        for (name, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
            let (slot, name) = match &*name {
                "limit" => (&mut limit, "limit"),
                "after" => (&mut after, "after"),
                "q" => (&mut q, "q"),
                _ => continue,
            };
            if slot.replace(value.into_owned()).is_some() {
                return Err(ApiError::BadRequest(format!(
                    "query parameter `{name}` may be given only once"
                )));
            }
        }
        let limit = match limit {
            None => DEFAULT_PAGE_LIMIT,
            Some(raw) => raw
                .parse::<u32>()
                .ok()
                .filter(|limit| (1..=MAX_PAGE_LIMIT).contains(limit))
                .ok_or_else(|| {
                    ApiError::BadRequest(format!(
                        "query parameter `limit` must be a whole number from 1 to \
                         {MAX_PAGE_LIMIT} (default {DEFAULT_PAGE_LIMIT})"
                    ))
                })?,
        };
        let q = q
            .map(|raw| {
                let normalised = Username::normalise(&raw);
                let count = normalised.chars().count();
                if (1..=MAX_USERNAME_CHARS).contains(&count) {
                    Ok(normalised)
                } else {
                    Err(ApiError::BadRequest(format!(
                        "query parameter `q` must be 1 to {MAX_USERNAME_CHARS} characters"
                    )))
                }
            })
            .transpose()?;
        Ok(Self { limit, after, q })
    }

    /// The `Link` header announcing the page after the one ending with `last`: the same
    /// limit and search, percent-encoded.
    fn next_link(&self, last: &str) -> Result<HeaderValue, ApiError> {
        let mut query = form_urlencoded::Serializer::new(String::new());
        query.append_pair("limit", &self.limit.to_string());
        query.append_pair("after", last);
        if let Some(q) = &self.q {
            query.append_pair("q", q);
        }
        HeaderValue::from_str(&format!("</api/users?{}>; rel=\"next\"", query.finish()))
            .map_err(|error| ApiError::Internal(format!("writing the Link header: {error}")))
    }
}

fn user_id(raw: &str) -> Result<UserId, ApiError> {
    // An id that is not a UUID names no user.
    raw.parse().map_err(|_| ApiError::NotAnId {
        param: "id",
        names: "user",
    })
}

/// A page of users, ordered by username, optionally only those whose username contains a text.
#[utoipa::path(
    get,
    path = "/api/users",
    tag = "users",
    operation_id = "list_users",
    security(("bearer" = [])),
    params(
        ("limit" = Option<u32>, Query, nullable = false, minimum = 1, maximum = 1000,
         description = "The most users in one page, 1 to 1000; 100 when left out"),
        ("after" = Option<String>, Query, nullable = false,
         description = "Only the users after this username (byte for byte): the last username \
                        of the previous page, as the `Link` header gives it"),
        ("q" = Option<String>, Query, nullable = false, min_length = 1, max_length = 64,
         description = "Only the users whose username contains this text, matched literally \
                        after ASCII letters are put in lower case, as usernames are"),
    ),
    responses(
        (status = 200, description = "A page of users", body = tessera_api::UserList,
         headers(("Link" = String,
                  description = "`</api/users?limit=N&after=USERNAME&q=TEXT>; rel=\"next\"` \
                                 (RFC 8288), the next page; only when more users may follow"))),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 408, response = Timeout),
        (status = 429, response = TooManyRequests),
        (status = 503, response = Unavailable),
    )
)]
async fn get_users(
    State(state): State<AppState>,
    _: AdminUser,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let query = PageQuery::parse(query.as_deref())?;
    let page = state
        .auth
        .users
        .list_page(query.after.as_deref(), query.q.as_deref(), query.limit)
        .await?;
    let next = match page.users.last() {
        Some(last) if page.more => Some(query.next_link(&last.username)?),
        _ => None,
    };
    let mut response = Json(UserList {
        users: page.users.iter().map(UserJson::from).collect(),
    })
    .into_response();
    if let Some(next) = next {
        response.headers_mut().insert(header::LINK, next);
    }
    Ok(response)
}

/// Creates a user.
#[utoipa::path(
    post,
    path = "/api/users",
    tag = "users",
    operation_id = "create_user",
    security(("bearer" = [])),
    request_body(content = CreateUserBody, content_type = "application/json"),
    responses(
        (status = 201, description = "The user is created", body = User,
         headers(("Location" = String, description = "The new user's URL"))),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 409, response = Conflict),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = Unprocessable),
        (status = 408, response = Timeout),
        (status = 429, response = TooManyRequests),
        (status = 503, response = Unavailable),
    )
)]
async fn post_user(
    State(state): State<AppState>,
    _: AdminUser,
    ApiJson(body): ApiJson<CreateUserBody>,
) -> Result<Response, ApiError> {
    let new = validate_new_user(body)?;
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

/// One user.
#[utoipa::path(
    get,
    path = "/api/users/{id}",
    tag = "users",
    operation_id = "get_user",
    security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid, description = "The user's id")),
    responses(
        (status = 200, description = "The user", body = User),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 408, response = Timeout),
        (status = 429, response = TooManyRequests),
        (status = 503, response = Unavailable),
    )
)]
async fn get_user(
    State(state): State<AppState>,
    _: AdminUser,
    ApiPath(id): ApiPath<String>,
) -> Result<Response, ApiError> {
    let user = state.auth.users.get(user_id(&id)?).await?;
    Ok(Json(UserJson::from(&user)).into_response())
}

/// Changes a user: active, roles, password.
#[utoipa::path(
    patch,
    path = "/api/users/{id}",
    tag = "users",
    operation_id = "update_user",
    security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid, description = "The user's id")),
    request_body(content = UpdateUserBody, content_type = "application/json"),
    responses(
        (status = 200, description = "The user as changed", body = User),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = Unprocessable),
        (status = 408, response = Timeout),
        (status = 429, response = TooManyRequests),
        (status = 503, response = Unavailable),
    )
)]
async fn patch_user(
    State(state): State<AppState>,
    _: AdminUser,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<UpdateUserBody>,
) -> Result<Response, ApiError> {
    let id = user_id(&id)?;
    let changes = user_changes(body)?;
    let now = state.auth.clock.now();
    let user = state.auth.users.update(id, changes, now).await?;
    Ok(Json(UserJson::from(&user)).into_response())
}

/// Deletes a user and its sessions.
#[utoipa::path(
    delete,
    path = "/api/users/{id}",
    tag = "users",
    operation_id = "delete_user",
    security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid, description = "The user's id")),
    responses(
        (status = 204, description = "The user is deleted"),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 408, response = Timeout),
        (status = 429, response = TooManyRequests),
        (status = 503, response = Unavailable),
    )
)]
async fn delete_user(
    State(state): State<AppState>,
    _: AdminUser,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    state.auth.users.delete(user_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use std::sync::OnceLock;

    use super::*;

    /// The borrowing copy writes exactly what the API's `User` (and `UserList`) reads and
    /// writes: a client sees every field, and the document describes what is sent.
    #[test]
    fn a_user_is_written_as_the_api_type_reads_and_writes_it() {
        let view = UserView {
            id: UserId::from_u128(7),
            username: "ada".into(),
            roles: vec!["a\"b".into(), "admin".into()],
            active: false,
            created_at: 1_800_000_000,
            // Past year 9999: written as the number, read back as the same instant.
            updated_at: 253_402_300_800,
            rendered: OnceLock::new(),
        };
        let ours = serde_json::to_string(&UserJson::from(&view)).unwrap();
        let read: User = serde_json::from_str(&ours).unwrap();
        assert_eq!(
            read,
            User {
                id: view.id,
                username: "ada".into(),
                roles: view.roles.clone(),
                active: false,
                created_at: Rfc3339(1_800_000_000),
                updated_at: Rfc3339(253_402_300_800),
            }
        );
        assert_eq!(serde_json::to_string(&read).unwrap(), ours);
        assert_eq!(rendered_user(&view).unwrap().get(), ours);

        let page = serde_json::to_string(&UserList {
            users: vec![UserJson::from(&view)],
        })
        .unwrap();
        let read: tessera_api::UserList = serde_json::from_str(&page).unwrap();
        assert_eq!(serde_json::to_string(&read).unwrap(), page);
    }
}
