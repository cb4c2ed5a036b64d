//! The OpenAPI 3.1 document of the API (`GET /api/openapi.json`) and the Swagger UI that
//! shows it (`/api/docs/`, served from assets compiled into the binary).
//!
//! Invariant: a route can only be added through [`ApiRoutes::add`], which takes handlers
//! annotated with `#[utoipa::path]` (collected by `utoipa_axum::routes!`), so the router and
//! the document are built from one registration and no route is served undocumented. The
//! answers many operations share (errors, refusals) are response components defined here.

use std::sync::LazyLock;

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use tower_http::set_header::SetResponseHeaderLayer;
use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, SchemaType, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{OpenApi as Document, Ref, RefOr, Schema};
use utoipa::{Modify, OpenApi, PartialSchema, ToResponse, ToSchema};
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouter};
use utoipa_swagger_ui::{Config, SwaggerUi};

use super::error::ErrorBody;
use super::{ApiError, AppState};
use crate::clock::Rfc3339;

/// Where the document is served.
pub const DOCUMENT_PATH: &str = "/api/openapi.json";
/// Where Swagger UI is served (`/api/docs` redirects to `/api/docs/`).
pub const UI_PATH: &str = "/api/docs";
/// The routes Swagger UI adds: its page and its assets, which are not API operations.
pub const UI_ROUTES: [&str; 3] = ["/api/docs", "/api/docs/", "/api/docs/{*rest}"];
/// The name of the bearer security scheme operations refer to.
const BEARER: &str = "bearer";

/// Documented routes: the only way to add one is [`ApiRoutes::add`].
pub(super) struct ApiRoutes(OpenApiRouter<AppState>);

impl ApiRoutes {
    /// No route yet; the document's info, shared components and security scheme.
    pub(super) fn new() -> Self {
        Self(OpenApiRouter::with_openapi(ApiDoc::openapi())).add(utoipa_axum::routes!(get_openapi))
    }

    /// Serves the handlers and adds their operations to the document.
    pub(super) fn add(self, routes: UtoipaMethodRouter<AppState>) -> Self {
        Self(self.0.routes(routes))
    }

    /// The router and the document.
    pub(super) fn split(self) -> (Router<AppState>, Document) {
        let (router, mut document) = self.0.split_for_parts();
        optional_bodies_are_left_out(&mut document);
        (router, document)
    }
}

/// An optional request body (`Option<T>` in `request_body`) may be left out, which the
/// body's `required: false` says; it is not the JSON `null` utoipa offers as an
/// alternative, which the server refuses like any body of the wrong shape.
fn optional_bodies_are_left_out(document: &mut Document) {
    let is_null = |schema: &RefOr<Schema>| {
        matches!(schema, RefOr::T(Schema::Object(object))
            if object.schema_type == SchemaType::Type(Type::Null))
    };
    for item in document.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ];
        let bodies = operations.into_iter().flatten().filter_map(|operation| {
            match operation.request_body.as_mut() {
                Some(RefOr::T(body)) => Some(body),
                _ => None,
            }
        });
        for body in bodies {
            for content in body.content.values_mut() {
                let RefOr::T(content) = content else { continue };
                let Some(RefOr::T(Schema::OneOf(one_of))) = &mut content.schema else {
                    continue;
                };
                one_of.items.retain(|schema| !is_null(schema));
                if let [only] = one_of.items.as_slice() {
                    content.schema = Some(only.clone());
                }
            }
        }
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "tessera",
        description = "Self-hosted authentication server: logs users in, issues signed JWTs \
                       and verifies them, and their user, on every request."
    ),
    components(
        schemas(ErrorBody),
        responses(
            BadRequest,
            Unauthorized,
            Forbidden,
            CrossSite,
            WrongPassword,
            NotFound,
            Conflict,
            PayloadTooLarge,
            UnsupportedMediaType,
            Unprocessable,
            Timeout,
            TooManyRequests,
            Unavailable
        )
    ),
    modifiers(&BearerScheme),
    tags(
        (name = "auth", description = "Logging in and out, refreshing, the caller's own sessions"),
        (name = "users", description = "Administration of users and their sessions (admin role)"),
        (name = "operations", description = "Probes, metrics and this document"),
        (name = "discovery", description = "For other services: the public keys that verify tokens, and the server's metadata")
    )
)]
struct ApiDoc;

/// `Authorization: Bearer <access token>`.
struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, openapi: &mut Document) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "An access token from POST /api/auth/login or /api/auth/refresh",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "client",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Basic)
                    .description(Some(
                        "An API client's id and secret, as `tessera client add` printed them",
                    ))
                    .build(),
            ),
        );
    }
}

/// Timestamps are RFC 3339 text in UTC.
impl PartialSchema for Rfc3339 {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
            .description(Some("An instant, RFC 3339 in UTC"))
            .examples(["2027-01-15T08:00:00Z"])
            .into()
    }
}

impl ToSchema for Rfc3339 {
    fn name() -> std::borrow::Cow<'static, str> {
        "Timestamp".into()
    }
}

/// An error answer: `ErrorBody` as JSON, with these headers.
fn error_response(description: &str, headers: &[(&str, &str)]) -> RefOr<utoipa::openapi::Response> {
    let mut response = ResponseBuilder::new().description(description).content(
        "application/json",
        ContentBuilder::new()
            .schema(Some(Ref::from_schema_name(ErrorBody::name())))
            .build(),
    );
    for (name, text) in headers {
        response = response.header(*name, HeaderBuilder::new().description(Some(*text)).build());
    }
    response.into()
}

const RETRY_AFTER: (&str, &str) = ("Retry-After", "Seconds to wait before trying again");
const CHALLENGE: (&str, &str) = (
    "WWW-Authenticate",
    "The bearer challenge (RFC 6750), with error=\"invalid_token\" when a token was refused",
);

/// Response components: a unit type per shared answer, named as in the document.
macro_rules! shared_response {
    ($name:ident, $description:literal $(, $header:expr)*) => {
        #[doc = $description]
        pub(super) struct $name;

        impl<'r> ToResponse<'r> for $name {
            fn response() -> (&'r str, RefOr<utoipa::openapi::Response>) {
                (stringify!($name), error_response($description, &[$($header),*]))
            }
        }
    };
}

shared_response!(
    BadRequest,
    "The request is malformed (`invalid_request`); the message says what is allowed"
);
shared_response!(
    Unauthorized,
    "No bearer token (`missing_token`), or a token, credentials or refresh token that \
     were refused (`invalid_token`, `invalid_credentials`, `invalid_refresh_token`)",
    CHALLENGE
);
shared_response!(
    Forbidden,
    "The token is valid but its user lacks the admin role (`forbidden`)"
);
shared_response!(
    CrossSite,
    "A request carrying or setting the refresh cookie sent by another site's page \
     (`cross_site_request`): `Sec-Fetch-Site` is `cross-site` or `same-site`, or `Origin` is \
     neither this server's own origin nor one of `TESSERA_CORS_ORIGINS`"
);
shared_response!(
    WrongPassword,
    "The current password is not correct (`wrong_password`); counted as a failed login"
);
shared_response!(
    NotFound,
    "Nothing by that id (`not_found`); an id that is not a UUID names nothing"
);
shared_response!(
    Conflict,
    "The change conflicts with the current state (`conflict`): the username is taken, or \
     it would leave no active administrator"
);
shared_response!(
    PayloadTooLarge,
    "The body is over 16 KiB (`payload_too_large`)"
);
shared_response!(
    UnsupportedMediaType,
    "A body that is not `Content-Type: application/json` (`unsupported_media_type`)"
);
shared_response!(
    Unprocessable,
    "JSON without the expected fields and types (`invalid_body`)"
);
shared_response!(
    TooManyRequests,
    "Too many failed logins or password checks from this client or for this account \
     (`too_many_requests`: login and password change only), or too many open connections \
     from the client's address (`too_many_connections`)",
    RETRY_AFTER
);
shared_response!(
    Unavailable,
    "The server is at capacity: too many logins hashing passwords at once (`busy`), \
     the database is locked by another writer (`database_busy`), this instance has not \
     confirmed within its lease that it applied every change made on the database \
     (`instance_out_of_date`; another instance can answer), or too many open connections \
     (`too_many_connections`)",
    RETRY_AFTER
);

/// The request took longer than the server allows (30 s): no body.
pub(super) struct Timeout;

impl<'r> ToResponse<'r> for Timeout {
    fn response() -> (&'r str, RefOr<utoipa::openapi::Response>) {
        (
            "Timeout",
            ResponseBuilder::new()
                .description("The request took longer than the server allows (30 seconds); no body")
                .build()
                .into(),
        )
    }
}

/// The document as served: built once, from the same registration as the router.
static DOCUMENT: LazyLock<Result<Bytes, String>> = LazyLock::new(|| {
    let (_, document) = super::documented_routes(true).split();
    serde_json::to_vec(&document)
        .map(Bytes::from)
        .map_err(|error| format!("serializing the OpenAPI document: {error}"))
});

/// This document.
#[utoipa::path(
    get,
    path = "/api/openapi.json",
    tag = "operations",
    operation_id = "get_openapi",
    responses(
        (status = 200, description = "The OpenAPI 3.1 document of this API", body = Object,
         content_type = "application/json"),
        (status = 408, response = Timeout),
        (status = 429, response = TooManyRequests),
        (status = 503, response = Unavailable),
    )
)]
async fn get_openapi() -> Response {
    match &*DOCUMENT {
        Ok(body) => (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            body.clone(),
        )
            .into_response(),
        Err(cause) => ApiError::Internal(cause.clone()).into_response(),
    }
}

/// The Content-Security-Policy of Swagger UI's page and assets. Its page loads its scripts
/// and style sheets from this server (no inline script); its bundle adds a `<style>`
/// element as it starts (hence `'unsafe-inline'` for styles, and for styles only), may show
/// `data:` images, and fetches the document from this server. Nothing else, and no framing.
/// (Checked in Chromium against the Swagger UI this build embeds: no violation reported.)
pub const UI_CSP: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; \
     form-action 'none'; frame-ancestors 'none'; base-uri 'none'";

/// Swagger UI at [`UI_PATH`], reading the document from [`DOCUMENT_PATH`], with [`UI_CSP`].
pub(super) fn swagger_ui() -> Router<AppState> {
    let ui: Router<AppState> = SwaggerUi::new(UI_PATH)
        .config(Config::from(DOCUMENT_PATH))
        .into();
    ui.layer(SetResponseHeaderLayer::overriding(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(UI_CSP),
    ))
}
