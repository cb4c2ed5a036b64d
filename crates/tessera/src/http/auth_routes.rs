//! `POST /api/auth/login` and `GET /api/auth/me`.

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use super::user_routes::UserJson;
use super::{ApiError, ApiJson, AppState, AuthUser, ClientIp};
use crate::auth::LoginAttempt;
use crate::clock::rfc3339;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/auth/login", post(post_login))
        .route("/api/auth/me", get(get_me))
}

#[derive(Deserialize)]
struct LoginBody {
    username: String,
    password: String,
}

#[derive(Serialize)]
struct LoginResponse {
    access_token: String,
    token_type: &'static str,
    expires_in: i64,
    expires_at: String,
    user: LoginUser,
}

#[derive(Serialize)]
struct LoginUser {
    id: String,
    username: String,
    roles: Vec<String>,
}

async fn post_login(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
    ApiJson(body): ApiJson<LoginBody>,
) -> Result<Response, ApiError> {
    let success = state
        .auth
        .login(LoginAttempt {
            username: body.username,
            password: SecretString::from(body.password),
            client,
        })
        .await?;
    let claims = &success.token.claims;
    let body = LoginResponse {
        access_token: success.token.token.clone(),
        token_type: "Bearer",
        expires_in: claims.exp - claims.iat,
        expires_at: rfc3339(claims.exp),
        user: LoginUser {
            id: success.user.id.to_string(),
            username: success.user.username,
            roles: success.user.roles,
        },
    };
    let mut response = Json(body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    Ok(response)
}

#[derive(Serialize)]
struct MeResponse {
    user: UserJson,
    token: TokenInfo,
}

#[derive(Serialize)]
struct TokenInfo {
    issued_at: String,
    expires_at: String,
    expires_in: i64,
}

async fn get_me(State(state): State<AppState>, AuthUser(access): AuthUser) -> Json<MeResponse> {
    let now = state.auth.clock.now();
    Json(MeResponse {
        user: UserJson::from(access.user.as_ref()),
        token: TokenInfo {
            issued_at: rfc3339(access.claims.iat),
            expires_at: rfc3339(access.claims.exp),
            expires_in: (access.claims.exp - now).max(0),
        },
    })
}
