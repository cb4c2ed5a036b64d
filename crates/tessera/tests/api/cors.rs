//! Cross-origin requests: `TESSERA_CORS_ORIGINS` lists exact origins whose web apps may call
//! the API with credentials; every other origin gets no CORS header at all.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{ADMIN_PASSWORD, TestEnv, TestServer};

const APP: &str = "https://app.example.com";
const OTHER_APP: &str = "http://localhost:5173";

async fn preflight(
    server: &TestServer,
    path: &str,
    origin: &str,
    method: &str,
) -> reqwest::Response {
    server
        .client
        .request(Method::OPTIONS, server.url(path))
        .header("origin", origin)
        .header("access-control-request-method", method)
        .header(
            "access-control-request-headers",
            "content-type,authorization",
        )
        .send()
        .await
        .unwrap()
}

fn header<'a>(response: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    response.headers().get(name).and_then(|v| v.to_str().ok())
}

fn cors_headers(response: &reqwest::Response) -> Vec<String> {
    response
        .headers()
        .keys()
        .map(|name| name.as_str().to_owned())
        .filter(|name| name.starts_with("access-control-"))
        .collect()
}

fn varies_on_origin(response: &reqwest::Response) -> bool {
    response
        .headers()
        .get_all("vary")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|v| v.trim().eq_ignore_ascii_case("origin"))
}

fn listed(value: Option<&str>) -> Vec<String> {
    let mut items: Vec<String> = value
        .unwrap_or_default()
        .split(',')
        .map(|item| item.trim().to_ascii_lowercase())
        .filter(|item| !item.is_empty())
        .collect();
    items.sort();
    items
}

#[tokio::test]
async fn a_listed_origin_gets_a_preflight_answer_with_credentials() {
    let env = TestEnv::new();
    let server = env
        .spawn(&[("TESSERA_CORS_ORIGINS", &format!("{APP}, {OTHER_APP}"))])
        .await;
    for origin in [APP, OTHER_APP] {
        let answer = preflight(&server, "/api/auth/login", origin, "POST").await;
        assert_eq!(answer.status(), StatusCode::NO_CONTENT, "{answer:?}");
        assert_eq!(header(&answer, "access-control-allow-origin"), Some(origin));
        assert_eq!(
            header(&answer, "access-control-allow-credentials"),
            Some("true")
        );
        assert_eq!(
            listed(header(&answer, "access-control-allow-methods")),
            ["options", "post"]
        );
        assert_eq!(
            listed(header(&answer, "access-control-allow-headers")),
            ["authorization", "content-type"]
        );
        let max_age: u64 = header(&answer, "access-control-max-age")
            .unwrap()
            .parse()
            .unwrap();
        assert!((60..=7200).contains(&max_age), "{max_age}");
        assert!(varies_on_origin(&answer), "{answer:?}");
    }
    let users = preflight(&server, "/api/users/some-id", APP, "PATCH").await;
    assert_eq!(users.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        listed(header(&users, "access-control-allow-methods")),
        ["delete", "get", "head", "options", "patch"]
    );
}

#[tokio::test]
async fn a_listed_origin_can_read_answers_and_errors() {
    let env = TestEnv::new();
    let server = env.spawn(&[("TESSERA_CORS_ORIGINS", APP)]).await;
    let login = server
        .client
        .post(server.url("/api/auth/login"))
        .header("origin", APP)
        .json(&json!({ "username": "admin", "password": ADMIN_PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), StatusCode::OK);
    assert_eq!(header(&login, "access-control-allow-origin"), Some(APP));
    assert_eq!(
        header(&login, "access-control-allow-credentials"),
        Some("true")
    );
    assert!(varies_on_origin(&login));

    let refused = server
        .client
        .get(server.url("/api/auth/me"))
        .header("origin", APP)
        .bearer_auth("not.a.token")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(header(&refused, "access-control-allow-origin"), Some(APP));
    // The page's script may read why it was refused.
    assert!(
        listed(header(&refused, "access-control-expose-headers"))
            .contains(&"www-authenticate".to_owned()),
        "{refused:?}"
    );
}

#[tokio::test]
async fn an_unlisted_origin_gets_no_cors_header() {
    let env = TestEnv::new();
    let server = env.spawn(&[("TESSERA_CORS_ORIGINS", APP)]).await;
    for origin in [
        "https://evil.example.com",
        "https://app.example.com.evil.example",
        "http://app.example.com",
        "https://app.example.com:8443",
        "null",
    ] {
        let answer = preflight(&server, "/api/auth/login", origin, "POST").await;
        assert_eq!(answer.status(), StatusCode::NO_CONTENT, "{origin}");
        assert!(cors_headers(&answer).is_empty(), "{origin}: {answer:?}");
        assert!(varies_on_origin(&answer), "{origin}");
        let login = server
            .client
            .post(server.url("/api/auth/login"))
            .header("origin", origin)
            .json(&json!({ "username": "admin", "password": ADMIN_PASSWORD }))
            .send()
            .await
            .unwrap();
        assert_eq!(login.status(), StatusCode::OK);
        assert!(cors_headers(&login).is_empty(), "{origin}: {login:?}");
    }
}

#[tokio::test]
async fn without_the_setting_no_origin_gets_cors_headers() {
    let env = TestEnv::new();
    let server = env.spawn(&[]).await;
    let answer = preflight(&server, "/api/auth/login", APP, "POST").await;
    assert_eq!(answer.status(), StatusCode::NO_CONTENT);
    assert!(cors_headers(&answer).is_empty(), "{answer:?}");
}
