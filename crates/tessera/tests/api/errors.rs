//! Every error answer, whatever layer gives it (router, extractors, body limit), is the
//! documented `{"error", "message"}` JSON; a `422` names the field and what it expected
//! without echoing the value; a refused access or refresh token says why, to its holder.

use reqwest::{Method, StatusCode};
use serde_json::json;
use tessera_api::{ErrorCode, RefusalReason, UserList};

use crate::helpers::{ADMIN_PASSWORD, Answer, TestEnv, TestServer, codec};

/// Sends `method path` with an optional bearer token and no body.
async fn send(server: &TestServer, method: Method, path: &str, token: Option<&str>) -> Answer {
    let mut request = server.client.request(method, server.url(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.bytes().await.unwrap();
    Answer {
        status,
        headers,
        body: serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
    }
}

/// The answer is the documented JSON error shape with this status and code.
fn assert_json_error(answer: &Answer, status: StatusCode, code: ErrorCode) {
    assert_eq!(answer.status, status, "{answer:?}");
    assert_eq!(
        answer.header("content-type"),
        Some("application/json"),
        "{answer:?}"
    );
    assert_eq!(answer.code(), code, "{answer:?}");
}

fn message(answer: &Answer) -> String {
    answer.error().message
}

/// The methods an `Allow` header lists, upper-case and sorted.
fn allowed(answer: &Answer) -> Vec<String> {
    let mut methods: Vec<String> = answer
        .header("allow")
        .unwrap_or_else(|| panic!("no Allow header in {answer:?}"))
        .split(',')
        .map(|method| method.trim().to_ascii_uppercase())
        .collect();
    methods.sort();
    methods
}

#[tokio::test]
async fn a_wrong_method_is_a_json_405_that_lists_the_route_s_methods() {
    let env = TestEnv::new();
    let server = env.spawn(&[]).await;
    let login = send(&server, Method::GET, "/api/auth/login", None).await;
    assert_json_error(
        &login,
        StatusCode::METHOD_NOT_ALLOWED,
        ErrorCode::MethodNotAllowed,
    );
    assert_eq!(allowed(&login), ["OPTIONS", "POST"]);
    assert!(message(&login).contains("POST"), "{login:?}");

    let user = send(&server, Method::PUT, "/api/users/anything", None).await;
    assert_json_error(
        &user,
        StatusCode::METHOD_NOT_ALLOWED,
        ErrorCode::MethodNotAllowed,
    );
    assert_eq!(
        allowed(&user),
        ["DELETE", "GET", "HEAD", "OPTIONS", "PATCH"]
    );

    // HEAD has no body, but the answer still says what it is.
    let head = send(&server, Method::HEAD, "/api/auth/login", None).await;
    assert_eq!(head.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(head.header("content-type"), Some("application/json"));
    assert_eq!(allowed(&head), ["OPTIONS", "POST"]);
}

#[tokio::test]
async fn options_on_any_route_is_a_204_with_allow_and_any_other_path_a_json_404() {
    let env = TestEnv::new();
    let server = env.spawn(&[]).await;
    for (path, methods) in [
        ("/api/auth/login", &["OPTIONS", "POST"][..]),
        ("/api/auth/me", &["GET", "HEAD", "OPTIONS"]),
        (
            "/api/users/some-id",
            &["DELETE", "GET", "HEAD", "OPTIONS", "PATCH"],
        ),
        ("/healthz", &["GET", "HEAD", "OPTIONS"]),
    ] {
        let answer = send(&server, Method::OPTIONS, path, None).await;
        assert_eq!(answer.status, StatusCode::NO_CONTENT, "{path}: {answer:?}");
        assert_eq!(allowed(&answer), methods, "{path}");
        assert!(
            !answer
                .headers
                .keys()
                .any(|name| name.as_str().starts_with("access-control-")),
            "no CORS headers without TESSERA_CORS_ORIGINS: {answer:?}"
        );
    }
    let nowhere = send(&server, Method::OPTIONS, "/api/nowhere", None).await;
    assert_json_error(&nowhere, StatusCode::NOT_FOUND, ErrorCode::NotFound);

    // Other paths no route has (a trailing slash, other letter cases) are JSON 404s, and
    // HEAD gets the GET route's status and headers.
    for path in [
        "/api/auth/me/",
        "/healthz/",
        "/api/users/",
        "/API/AUTH/ME",
        "//",
    ] {
        let answer = send(&server, Method::GET, path, None).await;
        assert_json_error(&answer, StatusCode::NOT_FOUND, ErrorCode::NotFound);
    }
    let head = send(&server, Method::HEAD, "/healthz", None).await;
    assert_eq!(head.status, StatusCode::OK);
    let head = send(&server, Method::HEAD, "/api/auth/me", None).await;
    assert_eq!(head.status, StatusCode::UNAUTHORIZED);
    assert_eq!(head.header("content-type"), Some("application/json"));
}

#[tokio::test]
async fn a_422_names_the_field_and_what_it_expected_and_echoes_no_value() {
    let env = TestEnv::new();
    let server = env.spawn(&[]).await;
    let admin = server.admin_token().await;

    let missing = server
        .post_json("/api/auth/login", None, &json!({ "username": "admin" }))
        .await;
    assert_json_error(
        &missing,
        StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCode::InvalidBody,
    );
    assert!(
        message(&missing).contains("missing field `password`"),
        "{missing:?}"
    );

    let typed = server
        .post_json(
            "/api/auth/login",
            None,
            &json!({ "username": "admin", "password": 73_195_604 }),
        )
        .await;
    assert_json_error(
        &typed,
        StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCode::InvalidBody,
    );
    let text = message(&typed);
    assert!(text.contains("`password`"), "{typed:?}");
    assert!(text.contains("expected a string"), "{typed:?}");
    assert!(!text.contains("73195604"), "the value is echoed: {typed:?}");

    let role = server
        .post_json(
            "/api/users",
            Some(&admin),
            &json!({ "username": "zoe", "password": "long enough password", "roles": ["ok", 7] }),
        )
        .await;
    assert_json_error(
        &role,
        StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCode::InvalidBody,
    );
    assert!(
        message(&role).contains("`roles[1]`: invalid type: integer, expected a string"),
        "{role:?}"
    );

    let active = server
        .patch_json(
            "/api/users/00000000-0000-4000-8000-000000000000",
            Some(&admin),
            &json!({ "active": "s3cret-looking value" }),
        )
        .await;
    assert_json_error(
        &active,
        StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCode::InvalidBody,
    );
    assert!(
        message(&active).contains("`active`: invalid type: string, expected a boolean"),
        "{active:?}"
    );
    assert!(!active.body.to_string().contains("s3cret"), "{active:?}");

    let unknown = server
        .patch_json(
            "/api/users/00000000-0000-4000-8000-000000000000",
            Some(&admin),
            &json!({ "colour": "blue" }),
        )
        .await;
    assert_json_error(
        &unknown,
        StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCode::InvalidBody,
    );
    assert!(
        message(&unknown).contains("unknown field `colour`"),
        "{unknown:?}"
    );
    // A field name that could be anything (here, a pasted password) is not repeated.
    let pasted = server
        .patch_json(
            "/api/users/00000000-0000-4000-8000-000000000000",
            Some(&admin),
            &json!({ "hunter2 is my password!": true }),
        )
        .await;
    assert_json_error(
        &pasted,
        StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCode::InvalidBody,
    );
    assert!(message(&pasted).contains("unknown field"), "{pasted:?}");
    assert!(!pasted.body.to_string().contains("hunter2"), "{pasted:?}");

    let string = server
        .post_json("/api/auth/login", None, &json!(ADMIN_PASSWORD))
        .await;
    assert_json_error(
        &string,
        StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCode::InvalidBody,
    );
    assert_eq!(
        message(&string),
        "invalid type: string, expected a JSON object",
        "{string:?}"
    );

    // serde would take an array of the fields in order; the API takes objects only.
    let array = server
        .post_json("/api/auth/login", None, &json!(["admin", ADMIN_PASSWORD]))
        .await;
    assert_json_error(
        &array,
        StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCode::InvalidBody,
    );
    assert_eq!(message(&array), "the request body must be a JSON object");
    assert!(!array.body.to_string().contains(ADMIN_PASSWORD));

    let syntax = server
        .post_raw(
            "/api/auth/login",
            "application/json",
            b"{\"username\": }".to_vec(),
        )
        .await;
    assert_json_error(&syntax, StatusCode::BAD_REQUEST, ErrorCode::InvalidRequest);
    assert!(message(&syntax).contains("line 1 column 14"), "{syntax:?}");
}

#[tokio::test]
async fn refresh_with_an_empty_object_is_the_400_of_no_token_or_uses_the_cookie() {
    let env = TestEnv::new();
    let server = env.spawn(&[]).await;
    let empty = server.post_raw("/api/auth/refresh", "", Vec::new()).await;
    assert_json_error(&empty, StatusCode::BAD_REQUEST, ErrorCode::InvalidRequest);
    let object = server
        .post_json("/api/auth/refresh", None, &json!({}))
        .await;
    assert_json_error(&object, StatusCode::BAD_REQUEST, ErrorCode::InvalidRequest);
    assert_eq!(object.body, empty.body);

    let login = server
        .login_with("admin", ADMIN_PASSWORD, &json!({ "refresh_cookie": true }))
        .await;
    assert_eq!(login.status, StatusCode::OK, "{login:?}");
    let cookie = login.header("set-cookie").unwrap();
    let cookie = cookie
        .strip_prefix("tessera_refresh=")
        .and_then(|rest| rest.split(';').next())
        .unwrap();
    let response = server
        .client
        .post(server.url("/api/auth/refresh"))
        .header("cookie", format!("tessera_refresh={cookie}"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "an empty object carries no token, so the cookie is used"
    );
}

#[tokio::test]
async fn a_malformed_path_parameter_is_a_json_answer_naming_it() {
    let env = TestEnv::new();
    let server = env.spawn(&[]).await;
    let admin = server.admin_token().await;
    let user = server.get("/api/users/not-a-uuid", Some(&admin)).await;
    assert_json_error(&user, StatusCode::NOT_FOUND, ErrorCode::NotFound);
    assert!(message(&user).contains("`id`"), "{user:?}");

    let session = server
        .delete("/api/auth/sessions/not-a-uuid", Some(&admin))
        .await;
    assert_json_error(&session, StatusCode::NOT_FOUND, ErrorCode::NotFound);
    assert!(message(&session).contains("`session_id`"), "{session:?}");

    let nested = server
        .delete(
            "/api/users/00000000-0000-4000-8000-000000000000/sessions/nope",
            Some(&admin),
        )
        .await;
    assert_json_error(&nested, StatusCode::NOT_FOUND, ErrorCode::NotFound);
    assert!(message(&nested).contains("`session_id`"), "{nested:?}");

    // Percent-encoded bytes that are not UTF-8.
    let bytes = server.get("/api/users/%FF%FE", Some(&admin)).await;
    assert_json_error(&bytes, StatusCode::BAD_REQUEST, ErrorCode::InvalidRequest);
    assert!(message(&bytes).contains("`id`"), "{bytes:?}");
}

#[tokio::test]
async fn too_large_bodies_are_json_413_that_say_the_limit_on_every_body_route() {
    let env = TestEnv::new();
    let server = env.spawn(&[]).await;
    let admin = server.admin_token().await;
    let huge = json!({ "username": "x".repeat(64 * 1024), "password": "p" });
    for (path, token) in [
        ("/api/auth/login", None),
        ("/api/auth/refresh", None),
        ("/api/users", Some(admin.as_str())),
    ] {
        let answer = server.post_json(path, token, &huge).await;
        assert_json_error(
            &answer,
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::PayloadTooLarge,
        );
        assert_eq!(
            message(&answer),
            "request body too large; the limit is 16384 bytes",
            "{path}"
        );
    }
    let patch = server
        .patch_json(
            "/api/users/00000000-0000-4000-8000-000000000000",
            Some(&admin),
            &json!({ "password": "x".repeat(64 * 1024) }),
        )
        .await;
    assert_json_error(
        &patch,
        StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::PayloadTooLarge,
    );
}

/// The answer is a refused access token with this reason, in the body and the challenge.
fn assert_refused_because(answer: &Answer, reason: RefusalReason) {
    assert_json_error(answer, StatusCode::UNAUTHORIZED, ErrorCode::InvalidToken);
    assert_eq!(answer.error().reason.as_ref(), Some(&reason), "{answer:?}");
    assert_eq!(
        answer.header("www-authenticate"),
        Some(
            format!(
                "Bearer realm=\"tessera\", error=\"invalid_token\", error_description=\"{reason}\""
            )
            .as_str()
        ),
        "{answer:?}"
    );
}

#[tokio::test]
async fn a_refused_access_token_says_why_to_its_holder() {
    let env = TestEnv::new();
    let server = env
        .spawn(&[
            ("TESSERA_JWT_EXPIRATION_MINUTES", "5"),
            ("TESSERA_JWT_LEEWAY_SECONDS", "0"),
        ])
        .await;

    // Expired: the message says how long ago and what to do.
    let old = server.admin_token().await;
    env.clock.advance(5 * 60 + 20);
    let expired = server.me(&old).await;
    assert_refused_because(&expired, RefusalReason::TokenExpired);
    assert!(message(&expired).contains("20s ago"), "{expired:?}");
    assert!(message(&expired).contains("refresh"), "{expired:?}");
    let admin_now = server.admin_token().await;

    // Session ended by a logout.
    let ended = server.grant("admin", ADMIN_PASSWORD).await;
    let logout = server.post_empty("/api/auth/logout", &ended.access).await;
    assert_eq!(logout.status, StatusCode::NO_CONTENT);
    assert_refused_because(&server.me(&ended.access).await, RefusalReason::SessionEnded);

    // A deactivated user.
    server
        .create_user(&admin_now, "ines", "ines password 1")
        .await;
    let ines = server.token("ines", "ines password 1").await;
    let list = server.get("/api/users", Some(&admin_now)).await;
    let id = list
        .json::<UserList>()
        .users
        .into_iter()
        .find(|user| user.username == "ines")
        .unwrap()
        .id
        .to_string();
    let off = server
        .patch_json(
            &format!("/api/users/{id}"),
            Some(&admin_now),
            &json!({ "active": false }),
        )
        .await;
    assert_eq!(off.status, StatusCode::OK, "{off:?}");
    assert_refused_because(&server.me(&ines).await, RefusalReason::UserInactive);

    // Signed with another key, or for another audience.
    let forged = codec("another key entirely, 32 chars!", "tessera", 0)
        .issue(
            tessera_token::Subject {
                id: "00000000-0000-4000-8000-000000000000",
                session_id: "00000000-0000-4000-8000-000000000000",
                name: "admin",
                roles: &["admin".to_owned()],
            },
            env.clock_now(),
            60,
        )
        .unwrap();
    // Another secret has another kid: the key is unknown here.
    assert_refused_because(&server.me(&forged.token).await, RefusalReason::UnknownKey);
    // This server's kid with a signature that does not match.
    let own = server.admin_token().await;
    let (signing_input, _) = own.rsplit_once('.').unwrap();
    let (_, forged_signature) = forged.token.rsplit_once('.').unwrap();
    assert_refused_because(
        &server
            .me(&format!("{signing_input}.{forged_signature}"))
            .await,
        RefusalReason::BadSignature,
    );
    assert_refused_because(
        &server.me("not.a.token").await,
        RefusalReason::MalformedToken,
    );
}

#[tokio::test]
async fn a_refused_refresh_token_says_why_and_a_failed_login_does_not() {
    let env = TestEnv::new();
    let server = env
        .spawn(&[("TESSERA_REFRESH_REUSE_GRACE_SECONDS", "0")])
        .await;
    let grant = server.grant("admin", ADMIN_PASSWORD).await;
    let rotated = server.refresh(&grant.refresh).await;
    assert_eq!(rotated.status, StatusCode::OK, "{rotated:?}");
    let reused = server.refresh(&grant.refresh).await;
    assert_json_error(
        &reused,
        StatusCode::UNAUTHORIZED,
        ErrorCode::InvalidRefreshToken,
    );
    assert_eq!(
        reused.error().reason,
        Some(RefusalReason::SessionEnded),
        "{reused:?}"
    );
    assert!(
        reused
            .header("www-authenticate")
            .unwrap()
            .ends_with("error_description=\"session_ended\""),
        "{reused:?}"
    );
    let malformed = server.refresh("short").await;
    assert_eq!(
        malformed.error().reason,
        Some(RefusalReason::MalformedToken),
        "{malformed:?}"
    );

    let unknown = server.login("nobody", "whatever password").await;
    let wrong = server.login("admin", "wrong password").await;
    assert_json_error(
        &unknown,
        StatusCode::UNAUTHORIZED,
        ErrorCode::InvalidCredentials,
    );
    assert_eq!(unknown.body, wrong.body);
    assert!(unknown.body.get("reason").is_none(), "{unknown:?}");
    assert_eq!(
        unknown.header("www-authenticate"),
        wrong.header("www-authenticate")
    );
}
