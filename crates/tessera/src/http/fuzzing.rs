//! Entry points for the fuzz targets in `fuzz/`: the request bodies the API accepts and the
//! client address behind a proxy, reachable without a store, a clock or a server. Hidden from
//! the documentation; not part of tessera's API.
//!
//! Invariant: these functions run exactly the code the routes run (the same body limit,
//! extractors, body types, handler checks and error mapping) and stop where a route would
//! reach the services; they never touch a store, the clock or the network.

use std::net::IpAddr;
use std::sync::OnceLock;

use axum::Router;
use axum::body::Body;
use axum::extract::DefaultBodyLimit;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, HeaderValue, Request, StatusCode};
use axum::routing::post;
use tessera_api::{CreateUserBody, LoginBody, RefreshBody, UpdateUserBody};
use tessera_config::TrustedProxies;
use tower::ServiceExt as _;

use super::user_routes::{user_changes, validate_new_user};
use super::{ApiError, ApiJson, MAX_BODY_BYTES, OptionalJson, extract};

/// The routes that take a JSON body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyRoute {
    /// `POST /api/auth/login`.
    Login,
    /// `POST /api/auth/refresh`.
    Refresh,
    /// `POST /api/users`.
    CreateUser,
    /// `PATCH /api/users/{id}`.
    UpdateUser,
}

impl BodyRoute {
    /// Every route that takes a JSON body.
    pub const ALL: [BodyRoute; 4] = [
        BodyRoute::Login,
        BodyRoute::Refresh,
        BodyRoute::CreateUser,
        BodyRoute::UpdateUser,
    ];

    fn path(self) -> &'static str {
        match self {
            BodyRoute::Login => "/login",
            BodyRoute::Refresh => "/refresh",
            BodyRoute::CreateUser => "/create-user",
            BodyRoute::UpdateUser => "/update-user",
        }
    }
}

/// What a client is answered when its body is refused before the services are reached:
/// `200` with an empty body means the body passed every check up to there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodyAnswer {
    /// The HTTP status.
    pub status: u16,
    /// The response body.
    pub body: Vec<u8>,
}

/// Sends `body` (with `content_type`, when given and a valid header value) to `route` as far
/// as the route goes before any I/O: the body limit, the content type, the JSON shape and
/// the handler's own checks of the values.
pub async fn parse_body(
    route: BodyRoute,
    content_type: Option<&[u8]>,
    body: Vec<u8>,
) -> BodyAnswer {
    let mut request = Request::post(route.path());
    if let Some(value) = content_type.and_then(|value| HeaderValue::from_bytes(value).ok()) {
        request = request.header(CONTENT_TYPE, value);
    }
    let response = match request.body(Body::from(body)) {
        Ok(request) => match body_router().clone().oneshot(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        },
        Err(_) => return refused(StatusCode::BAD_REQUEST),
    };
    let status = response.status().as_u16();
    match axum::body::to_bytes(response.into_body(), MAX_BODY_BYTES).await {
        Ok(body) => BodyAnswer {
            status,
            body: body.to_vec(),
        },
        Err(_) => refused(StatusCode::INTERNAL_SERVER_ERROR),
    }
}

/// The address [`super::ClientIp`] gives a request from `peer` with these `X-Forwarded-For`
/// lines; a line that is not a valid header value is left out, as hyper would refuse it.
pub fn client_ip(proxies: &TrustedProxies, peer: IpAddr, forwarded_for: &[&[u8]]) -> IpAddr {
    let mut headers = HeaderMap::new();
    for line in forwarded_for {
        if let Ok(value) = HeaderValue::from_bytes(line) {
            headers.append("x-forwarded-for", value);
        }
    }
    extract::client_address(&headers, peer, proxies)
}

fn refused(status: StatusCode) -> BodyAnswer {
    BodyAnswer {
        status: status.as_u16(),
        body: Vec::new(),
    }
}

/// The body-taking routes, each stopping where the real one would reach the services.
fn body_router() -> &'static Router {
    static ROUTER: OnceLock<Router> = OnceLock::new();
    ROUTER.get_or_init(|| {
        Router::new()
            .route(
                BodyRoute::Login.path(),
                post(|ApiJson(_): ApiJson<LoginBody>| async { StatusCode::OK }),
            )
            .route(
                BodyRoute::Refresh.path(),
                post(|OptionalJson(_): OptionalJson<RefreshBody>| async { StatusCode::OK }),
            )
            .route(
                BodyRoute::CreateUser.path(),
                post(|ApiJson(body): ApiJson<CreateUserBody>| async move {
                    validate_new_user(body).map(|_| StatusCode::OK)
                }),
            )
            .route(
                BodyRoute::UpdateUser.path(),
                post(|ApiJson(body): ApiJson<UpdateUserBody>| async move {
                    user_changes(body).map(|_| StatusCode::OK)
                }),
            )
            .fallback(|| async { ApiError::NotFound })
            .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
    })
}
