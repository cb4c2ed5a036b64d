//! `POST /api/auth/login`, `POST /api/auth/refresh`, `POST /api/auth/logout`,
//! `POST /api/auth/logout-all`; `GET /api/auth/me` is in `me`.

use axum::extract::State;
use axum::http::header::USER_AGENT;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tessera_store::EndReason;

use super::cookie::{clear_refresh_cookie, refresh_cookie, set_refresh_cookie};
use super::{
    ApiError, ApiJson, AppState, AuthUser, ClientIp, CookieSecurity, OptionalJson, json_answer,
};
use crate::auth::{Grant, LoginAttempt};
use crate::clock::Rfc3339;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/auth/login", post(post_login))
        .route("/api/auth/refresh", post(post_refresh))
        .route("/api/auth/logout", post(post_logout))
        .route("/api/auth/logout-all", post(post_logout_all))
        .route("/api/auth/me", get(super::me::get_me))
}

#[derive(Deserialize)]
pub(super) struct LoginBody {
    username: String,
    password: String,
    /// Also deliver the refresh token as an HttpOnly cookie.
    #[serde(default)]
    refresh_cookie: bool,
}

#[derive(Deserialize)]
pub(super) struct RefreshBody {
    /// Left out (`{}`): the cookie is used, as for an empty body.
    refresh_token: Option<String>,
}

/// The answer to a login or a refresh.
#[derive(Serialize)]
struct TokenResponse {
    access_token: String,
    token_type: &'static str,
    expires_in: i64,
    expires_at: Rfc3339,
    refresh_token: String,
    /// When the session ends unless refreshed before (idle or absolute deadline).
    refresh_expires_at: Rfc3339,
    session_id: String,
    /// The server's clock, so a client with a skewed clock can still refresh on time.
    server_time: Rfc3339,
    user: LoginUser,
}

#[derive(Serialize)]
struct LoginUser {
    id: String,
    username: String,
    roles: Vec<String>,
}

/// Where the refresh token travels: in the JSON body only, or in the cookie too.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Delivery {
    Body,
    Cookie,
}

async fn post_login(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
    CookieSecurity(secure): CookieSecurity,
    headers: HeaderMap,
    ApiJson(body): ApiJson<LoginBody>,
) -> Result<Response, ApiError> {
    let user_agent = headers
        .get(USER_AGENT)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let grant = state
        .auth
        .login(LoginAttempt {
            username: body.username,
            password: SecretString::from(body.password),
            client,
            user_agent,
        })
        .await?;
    let delivery = if body.refresh_cookie {
        Delivery::Cookie
    } else {
        Delivery::Body
    };
    Ok(token_response(&state, &grant, delivery, secure))
}

/// The refresh token comes from the JSON body `{"refresh_token"}` or, when the body is
/// empty or has no `refresh_token`, from the cookie; the new one goes back in the body, and
/// in the cookie when the old one came that way.
async fn post_refresh(
    State(state): State<AppState>,
    CookieSecurity(secure): CookieSecurity,
    headers: HeaderMap,
    OptionalJson(body): OptionalJson<RefreshBody>,
) -> Result<Response, ApiError> {
    let in_body = body.as_ref().and_then(|body| body.refresh_token.as_deref());
    let (presented, delivery) = match in_body {
        Some(token) => (token, Delivery::Body),
        None => match refresh_cookie(&headers) {
            Some(token) => (token, Delivery::Cookie),
            None => {
                return Err(ApiError::BadRequest(
                    "a refresh token is required: send {\"refresh_token\": …} or the tessera_refresh cookie"
                        .into(),
                ));
            }
        },
    };
    match state.auth.refresh(presented).await {
        Ok(grant) => Ok(token_response(&state, &grant, delivery, secure)),
        Err(error) => {
            let mut response = ApiError::from(error).into_response();
            if delivery == Delivery::Cookie {
                response
                    .headers_mut()
                    .insert(header::SET_COOKIE, clear_refresh_cookie(secure));
            }
            Ok(response)
        }
    }
}

fn token_response(state: &AppState, grant: &Grant, delivery: Delivery, secure: bool) -> Response {
    let claims = &grant.token.claims;
    let now = state.auth.clock.now();
    let session_expires_at = grant.session.expires_at();
    let body = TokenResponse {
        access_token: grant.token.token.clone(),
        token_type: "Bearer",
        expires_in: claims.exp - claims.iat,
        expires_at: Rfc3339(claims.exp),
        refresh_token: grant.refresh_token.expose().to_owned(),
        refresh_expires_at: Rfc3339(session_expires_at),
        session_id: grant.session.id.to_string(),
        server_time: Rfc3339(now),
        user: LoginUser {
            id: grant.user.id.to_string(),
            username: grant.user.username.clone(),
            roles: grant.user.roles.clone(),
        },
    };
    let mut response = json_answer(&body, 1024);
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    if delivery == Delivery::Cookie
        && let Some(cookie) = set_refresh_cookie(
            grant.refresh_token.expose(),
            session_expires_at - now,
            secure,
        )
    {
        headers.insert(header::SET_COOKIE, cookie);
    }
    response
}

/// Ends the session of the presented access token; its refresh token and every access
/// token issued for it are refused from now on.
async fn post_logout(
    State(state): State<AppState>,
    CookieSecurity(secure): CookieSecurity,
    AuthUser(access): AuthUser,
) -> Result<Response, ApiError> {
    let now = state.auth.clock.now();
    state
        .auth
        .sessions
        .end(access.session_id, EndReason::Logout, now)
        .await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, clear_refresh_cookie(secure));
    Ok(response)
}

/// Ends every session of the user, this one included.
async fn post_logout_all(
    State(state): State<AppState>,
    CookieSecurity(secure): CookieSecurity,
    AuthUser(access): AuthUser,
) -> Result<Response, ApiError> {
    let now = state.auth.clock.now();
    let ended = state
        .auth
        .sessions
        .end_all_of(access.user.id, None, EndReason::LogoutAll, now)
        .await?;
    let mut response = Json(json!({ "sessions_ended": ended })).into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, clear_refresh_cookie(secure));
    Ok(response)
}
