//! `POST /api/auth/login`, `POST /api/auth/refresh`, `POST /api/auth/logout`,
//! `POST /api/auth/logout-all`, `POST /api/auth/password`; `GET /api/auth/me` is in `me`.
//!
//! The requests that carry or set the refresh cookie are refused when another site's page
//! sent them (see `super::csrf`).

use axum::Json;
use axum::extract::State;
use axum::http::header::USER_AGENT;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use secrecy::SecretString;
use tessera_api::{LoginBody, LoginUser, PasswordBody, RefreshBody, SessionsEnded, TokenResponse};
use tessera_store::EndReason;
use utoipa_axum::routes;

use super::cookie::{clear_refresh_cookie, refresh_cookie, set_refresh_cookie};
use super::openapi::{
    ApiRoutes, BadRequest, CrossSite, PayloadTooLarge, Timeout, TooManyRequests, Unauthorized,
    Unavailable, Unprocessable, UnsupportedMediaType, WrongPassword,
};
use super::{
    ApiError, ApiJson, AppState, AuthUser, ClientIp, CookieSecurity, CookieSite, OptionalJson,
    json_answer,
};
use crate::auth::{Grant, LoginAttempt, PasswordChange};
use crate::clock::Rfc3339;
use crate::model::NewPassword;

pub(super) fn routes(api: ApiRoutes) -> ApiRoutes {
    api.add(routes!(post_login))
        .add(routes!(post_refresh))
        .add(routes!(post_logout))
        .add(routes!(post_logout_all))
        .add(routes!(post_password))
        .add(routes!(super::me::get_me))
}

/// Where the refresh token travels: in the JSON body, or only in the HttpOnly cookie.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Delivery {
    Body,
    Cookie,
}

/// Checks a username and password and starts a session: an access token and a refresh
/// token.
#[utoipa::path(
    post,
    path = "/api/auth/login",
    tag = "auth",
    operation_id = "login",
    request_body(content = LoginBody, content_type = "application/json"),
    responses(
        (status = 200, description = "Logged in: a new session and its tokens", body = TokenResponse,
         headers(("Set-Cookie" = String,
                  description = "The refresh token as an HttpOnly cookie, when asked for \
                                 (it is then left out of the body)"))),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = CrossSite),
        (status = 408, response = Timeout),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = Unprocessable),
        (status = 429, response = TooManyRequests),
        (status = 503, response = Unavailable),
    )
)]
async fn post_login(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
    CookieSecurity(secure): CookieSecurity,
    site: CookieSite,
    headers: HeaderMap,
    ApiJson(body): ApiJson<LoginBody>,
) -> Result<Response, ApiError> {
    if body.refresh_cookie {
        // Before the password is checked: a refused request counts as no attempt.
        site.check()?;
    }
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
/// empty or has no `refresh_token`, from the cookie; the new one goes back the way the old
/// one came: in the body, or only in the cookie.
#[utoipa::path(
    post,
    path = "/api/auth/refresh",
    tag = "auth",
    operation_id = "refresh",
    request_body(content = Option<RefreshBody>, content_type = "application/json",
                 description = "Leave the body out to refresh with the `tessera_refresh` cookie"),
    params(("tessera_refresh" = Option<String>, Cookie, nullable = false,
            description = "The refresh token, read when the body is empty")),
    responses(
        (status = 200, description = "A new access token and the next refresh token (the \
                                      presented one is spent)", body = TokenResponse,
         headers(("Set-Cookie" = String,
                  description = "The next refresh token, when the presented one came as the \
                                 cookie (it is then left out of the body)"))),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = CrossSite),
        (status = 408, response = Timeout),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = Unprocessable),
        (status = 429, response = TooManyRequests),
        (status = 503, response = Unavailable),
    )
)]
async fn post_refresh(
    State(state): State<AppState>,
    CookieSecurity(secure): CookieSecurity,
    site: CookieSite,
    headers: HeaderMap,
    OptionalJson(body): OptionalJson<RefreshBody>,
) -> Result<Response, ApiError> {
    let in_body = body.as_ref().and_then(|body| body.refresh_token.as_deref());
    let (presented, delivery) = match in_body {
        Some(token) => (token, Delivery::Body),
        None => match refresh_cookie(&headers) {
            Some(token) => {
                // The cookie is left alone: another site's page must not end the session.
                site.check()?;
                (token, Delivery::Cookie)
            }
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

/// The `200` of a login or refresh. With `Delivery::Cookie` the refresh token is only in
/// the `Set-Cookie` header, never in the body; should the cookie header not build (a refresh
/// token is base64url, so it always does), the token goes in the body rather than be lost.
fn token_response(state: &AppState, grant: &Grant, delivery: Delivery, secure: bool) -> Response {
    let claims = &grant.token.claims;
    let now = state.auth.clock.now();
    let session_expires_at = grant.session.expires_at();
    let cookie = match delivery {
        Delivery::Cookie => set_refresh_cookie(
            grant.refresh_token.expose(),
            session_expires_at - now,
            secure,
        ),
        Delivery::Body => None,
    };
    let refresh_token = cookie
        .is_none()
        .then(|| grant.refresh_token.expose().to_owned());
    let body = TokenResponse {
        access_token: grant.token.token.clone(),
        token_type: "Bearer".to_owned(),
        expires_in: claims.exp - claims.iat,
        expires_at: Rfc3339(claims.exp),
        refresh_token,
        refresh_expires_at: Rfc3339(session_expires_at),
        session_id: grant.session.id,
        // The clock reading the token was issued at, so `expires_at - server_time` is exactly
        // the token's lifetime: a client computing its refresh point from the two sees the
        // same remaining time whatever second the answer was written in.
        server_time: Rfc3339(claims.iat),
        user: LoginUser {
            id: grant.user.id,
            username: grant.user.username.clone(),
            roles: grant.user.roles.clone(),
        },
    };
    let mut response = json_answer(&body, 1024);
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    if let Some(cookie) = cookie {
        headers.insert(header::SET_COOKIE, cookie);
    }
    response
}

/// Ends the session of the presented access token; its refresh token and every access
/// token issued for it are refused from now on.
#[utoipa::path(
    post,
    path = "/api/auth/logout",
    tag = "auth",
    operation_id = "logout",
    security(("bearer" = [])),
    responses(
        (status = 204, description = "The session is ended",
         headers(("Set-Cookie" = String, description = "Clears the refresh cookie"))),
        (status = 401, response = Unauthorized),
        (status = 408, response = Timeout),
        (status = 429, response = TooManyRequests),
        (status = 503, response = Unavailable),
    )
)]
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
#[utoipa::path(
    post,
    path = "/api/auth/logout-all",
    tag = "auth",
    operation_id = "logout_all",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Every session of the user is ended", body = SessionsEnded,
         headers(("Set-Cookie" = String, description = "Clears the refresh cookie"))),
        (status = 401, response = Unauthorized),
        (status = 408, response = Timeout),
        (status = 429, response = TooManyRequests),
        (status = 503, response = Unavailable),
    )
)]
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
    let mut response = Json(SessionsEnded {
        sessions_ended: ended,
    })
    .into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, clear_refresh_cookie(secure));
    Ok(response)
}

/// Changes the caller's own password, given the current one. Every other session of the
/// user ends at once (`password_changed`: their access and refresh tokens are refused, on
/// every instance, by the time this answers); the session of the presented token stays
/// alive. A wrong current password counts as a failed login for the login throttle, per
/// account and per client.
#[utoipa::path(
    post,
    path = "/api/auth/password",
    tag = "auth",
    operation_id = "change_password",
    security(("bearer" = [])),
    request_body(content = PasswordBody, content_type = "application/json"),
    responses(
        (status = 200, description = "The password is changed; every other session of the user \
                                      is ended", body = SessionsEnded),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = WrongPassword),
        (status = 408, response = Timeout),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = Unprocessable),
        (status = 429, response = TooManyRequests),
        (status = 503, response = Unavailable),
    )
)]
async fn post_password(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
    AuthUser(access): AuthUser,
    ApiJson(body): ApiJson<PasswordBody>,
) -> Result<Response, ApiError> {
    // The policy is checked before the current password: a refused new password costs no
    // attempt.
    let new = NewPassword::parse(SecretString::from(body.new_password))
        .map_err(|error| ApiError::BadRequest(format!("`new_password`: {}", error.0)))?;
    let ended = state
        .auth
        .change_own_password(
            &access,
            PasswordChange {
                current: SecretString::from(body.current_password),
                new,
                client,
            },
        )
        .await?;
    Ok(Json(SessionsEnded {
        sessions_ended: ended,
    })
    .into_response())
}
