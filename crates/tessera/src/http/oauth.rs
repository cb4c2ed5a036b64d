//! For resource servers, authenticated as API clients (HTTP Basic with the id and secret of
//! `tessera client add`): token introspection (RFC 7662, `POST /api/oauth/introspect`), token
//! revocation (RFC 7009, `POST /api/oauth/revoke`) and the revocation feed
//! (`GET /api/revocations`).
//!
//! Introspection answers exactly what a request with the token would get: `active: true` only
//! when the token verifies and its user exists and is active and its session is live, checked
//! through the same caches and the same lease as every request; anything else is
//! `{"active": false}` with no reason (RFC 7662 §2.2). Revocation ends the session of the
//! presented access or refresh token and answers `200` whatever the token was (RFC 7009 §2.2),
//! once every instance has applied it.

use axum::body::Bytes;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Serialize;
use tessera_store::{ApiClient, EndReason};
use utoipa_axum::routes;

use super::openapi::{ApiRoutes, PayloadTooLarge, Timeout, TooManyRequests, Unavailable};
use super::{ApiError, AppState};

pub(super) fn routes(api: ApiRoutes) -> ApiRoutes {
    api.add(routes!(post_introspect)).add(routes!(post_revoke))
}

/// The API client a request authenticated as (HTTP Basic, RFC 6749 §2.3.1).
pub(super) struct Client(pub ApiClient);

impl FromRequestParts<AppState> for Client {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let mut values = parts.headers.get_all(header::AUTHORIZATION).iter();
        let (Some(value), None) = (values.next(), values.next()) else {
            return Err(ApiError::InvalidClient);
        };
        let encoded = value
            .to_str()
            .ok()
            .and_then(|value| {
                value
                    .strip_prefix("Basic ")
                    .or_else(|| value.strip_prefix("basic "))
            })
            .ok_or(ApiError::InvalidClient)?;
        let decoded = STANDARD
            .decode(encoded.trim())
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .ok_or(ApiError::InvalidClient)?;
        let (id, secret) = decoded.split_once(':').ok_or(ApiError::InvalidClient)?;
        // RFC 6749 §2.3.1: both are form-urlencoded before being joined.
        let decode = |text: &str| -> String {
            form_urlencoded::parse(format!("x={text}").as_bytes())
                .next()
                .map(|(_, value)| value.into_owned())
                .unwrap_or_default()
        };
        match state
            .auth
            .clients
            .authenticate(&decode(id), &decode(secret))
            .await
        {
            Ok(Some(client)) => Ok(Self(client)),
            Ok(None) => Err(ApiError::InvalidClient),
            Err(error) => Err(ApiError::DatabaseBusy(crate::auth::describe(&error))),
        }
    }
}

/// `token` and `token_type_hint` from an `application/x-www-form-urlencoded` body.
fn token_form(headers: &HeaderMap, body: &[u8]) -> Result<String, ApiError> {
    let form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|value| {
            value
                .trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if !form {
        return Err(ApiError::BadRequest(
            "the body must be application/x-www-form-urlencoded with a `token` parameter"
                .to_owned(),
        ));
    }
    let mut token = None;
    for (name, value) in form_urlencoded::parse(body) {
        if name == "token" {
            if token.is_some() {
                return Err(ApiError::BadRequest(
                    "`token` is given more than once".to_owned(),
                ));
            }
            token = Some(value.into_owned());
        }
    }
    token
        .filter(|token| !token.is_empty())
        .ok_or_else(|| ApiError::BadRequest("the `token` parameter is required".to_owned()))
}

/// An introspection answer (RFC 7662 §2.2).
#[derive(Serialize, Default, utoipa::ToSchema)]
struct Introspection {
    /// Whether a request with this token would be accepted now.
    active: bool,
    /// `Bearer` when active.
    #[serde(skip_serializing_if = "Option::is_none")]
    token_type: Option<&'static str>,
    /// The user's id.
    #[serde(skip_serializing_if = "Option::is_none")]
    sub: Option<String>,
    /// The user's name, current as of this answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    username: Option<String>,
    /// The session.
    #[serde(skip_serializing_if = "Option::is_none")]
    sid: Option<String>,
    /// The user's roles, current as of this answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    roles: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    iss: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    aud: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    exp: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    iat: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    nbf: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    jti: Option<String>,
}

fn no_store(body: impl IntoResponse) -> Response {
    let mut response = body.into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Token introspection (RFC 7662): whether an access token would be accepted now, and whose it
/// is. Refresh tokens and anything else answer `{"active": false}`.
#[utoipa::path(
    post,
    path = "/api/oauth/introspect",
    tag = "discovery",
    operation_id = "introspect",
    security(("client" = [])),
    request_body(content = String, content_type = "application/x-www-form-urlencoded",
        description = "`token=…` (and optionally `token_type_hint=…`, ignored)"),
    responses(
        (status = 200, description = "The token's state", body = Introspection),
        (status = 400, description = "No `token`, or not a form body", body = tessera_api::ErrorBody),
        (status = 401, description = "Client authentication failed (`invalid_client`)", body = tessera_api::ErrorBody),
        (status = 408, response = Timeout),
        (status = 413, response = PayloadTooLarge),
        (status = 429, response = TooManyRequests),
        (status = 503, response = Unavailable),
    )
)]
async fn post_introspect(
    State(state): State<AppState>,
    Client(client): Client,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let token = token_form(&headers, &body)?;
    tracing::debug!(client = %client.name, "introspection");
    let access = match state.auth.check(&token).await {
        Ok(access) => access,
        // A store or lease failure is not an answer about the token.
        Err(error) if error.is_unavailable() => return Err(error.into()),
        Err(_) => return Ok(no_store(axum::Json(Introspection::default()))),
    };
    let claims = &access.claims;
    Ok(no_store(axum::Json(Introspection {
        active: true,
        token_type: Some("Bearer"),
        sub: Some(claims.sub.clone()),
        username: Some(access.user.username.clone()),
        sid: Some(claims.sid.clone()),
        roles: Some(access.user.roles.clone()),
        iss: Some(claims.iss.clone()),
        aud: Some(claims.aud.clone()),
        exp: Some(claims.exp),
        iat: Some(claims.iat),
        nbf: Some(claims.nbf),
        jti: Some(claims.jti.clone()),
    })))
}

/// Token revocation (RFC 7009): ends the session of an access or refresh token. `200` whatever
/// the token was, once every instance has applied it.
#[utoipa::path(
    post,
    path = "/api/oauth/revoke",
    tag = "discovery",
    operation_id = "revoke",
    security(("client" = [])),
    request_body(content = String, content_type = "application/x-www-form-urlencoded",
        description = "`token=…` (and optionally `token_type_hint=…`, ignored)"),
    responses(
        (status = 200, description = "The token's session is ended, or the token named none"),
        (status = 400, description = "No `token`, or not a form body", body = tessera_api::ErrorBody),
        (status = 401, description = "Client authentication failed (`invalid_client`)", body = tessera_api::ErrorBody),
        (status = 408, response = Timeout),
        (status = 413, response = PayloadTooLarge),
        (status = 429, response = TooManyRequests),
        (status = 503, response = Unavailable),
    )
)]
async fn post_revoke(
    State(state): State<AppState>,
    Client(client): Client,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let token = token_form(&headers, &body)?;
    tracing::info!(client = %client.name, "token revocation");
    let now = state.auth.clock.now();
    if let Some(session) = state.auth.session_of(&token, now).await? {
        state
            .auth
            .sessions
            .end(session, EndReason::Logout, now)
            .await?;
    }
    Ok(no_store(StatusCode::OK))
}
