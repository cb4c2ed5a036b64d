//! What keeps other sites' pages away from the refresh cookie.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{ADMIN_PASSWORD, Answer, Grant, TestEnv, TestServer};

const LISTED: &str = "https://app.example.com";

/// A cookie-mode login of the admin with these extra headers.
async fn cookie_login(server: &TestServer, headers: &[(&str, &str)]) -> Answer {
    let mut request = server
        .client
        .post(server.url("/api/auth/login"))
        .json(&json!({ "username": "admin", "password": ADMIN_PASSWORD, "refresh_cookie": true }));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    Answer::from(request.send().await.unwrap()).await
}

/// A cookie refresh with these extra headers.
async fn cookie_refresh(server: &TestServer, cookie: &str, headers: &[(&str, &str)]) -> Answer {
    let mut request = server
        .client
        .post(server.url("/api/auth/refresh"))
        .header("cookie", format!("tessera_refresh={cookie}"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    Answer::from(request.send().await.unwrap()).await
}

/// The value of the refresh cookie `answer` set.
fn cookie_of(answer: &Answer) -> String {
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    answer
        .header("set-cookie")
        .and_then(|header| header.strip_prefix("tessera_refresh="))
        .and_then(|rest| rest.split(';').next())
        .unwrap_or_else(|| panic!("no refresh cookie in {answer:?}"))
        .to_owned()
}

fn assert_cross_site_refused(answer: &Answer, what: &str) {
    assert_eq!(answer.status, StatusCode::FORBIDDEN, "{what}: {answer:?}");
    assert_eq!(answer.body["error"], "cross_site_request", "{what}");
    let message = answer.body["message"].as_str().unwrap();
    assert!(message.contains("refresh cookie"), "{what}: {message}");
    assert!(
        answer.header("set-cookie").is_none(),
        "{what}: a refused request neither sets nor clears the cookie: {answer:?}"
    );
}

/// How many live sessions the admin has, seen through a fresh body-mode login (itself one).
async fn admin_sessions(server: &TestServer) -> usize {
    let grant = server.grant("admin", ADMIN_PASSWORD).await;
    let answer = server.get("/api/auth/sessions", Some(&grant.access)).await;
    answer.body["sessions"].as_array().unwrap().len()
}

#[tokio::test]
async fn a_cookie_login_from_another_sites_page_is_refused() {
    let env = TestEnv::new();
    let server = env.spawn(&[]).await;
    let refused: [&[(&str, &str)]; 5] = [
        &[("sec-fetch-site", "cross-site")],
        &[("sec-fetch-site", "same-site")],
        &[("origin", "https://evil.example")],
        &[("origin", "null"), ("sec-fetch-site", "cross-site")],
        // The server's own address, but another scheme.
        &[("origin", &server.base.replace("http://", "https://"))],
    ];
    for headers in refused {
        assert_cross_site_refused(
            &cookie_login(&server, headers).await,
            &format!("{headers:?}"),
        );
    }
    // No session was started by any of them.
    assert_eq!(admin_sessions(&server).await, 1);

    // The server's own pages, the address bar, and clients that are no browser page.
    let allowed: [&[(&str, &str)]; 4] = [
        &[("origin", &server.base), ("sec-fetch-site", "same-origin")],
        &[("origin", &server.base)],
        &[("sec-fetch-site", "none")],
        &[],
    ];
    for headers in allowed {
        cookie_of(&cookie_login(&server, headers).await);
    }
    // A login that asks for no cookie is not checked: its tokens come back in the body only.
    let body_mode = server
        .client
        .post(server.url("/api/auth/login"))
        .header("sec-fetch-site", "cross-site")
        .header("origin", "https://evil.example")
        .json(&json!({ "username": "admin", "password": ADMIN_PASSWORD }))
        .send()
        .await
        .unwrap();
    Grant::from(&Answer::from(body_mode).await);
}

#[tokio::test]
async fn a_cookie_refresh_from_another_sites_page_is_refused_and_the_cookie_kept() {
    let env = TestEnv::new();
    let server = env.spawn(&[]).await;
    let cookie = cookie_of(&cookie_login(&server, &[]).await);
    let refused: [&[(&str, &str)]; 3] = [
        &[("sec-fetch-site", "cross-site")],
        &[("sec-fetch-site", "same-site"), ("origin", &server.base)],
        &[("origin", "https://evil.example")],
    ];
    for headers in refused {
        let answer = cookie_refresh(&server, &cookie, headers).await;
        assert_cross_site_refused(&answer, &format!("{headers:?}"));
    }
    // The refused requests spent nothing: the same cookie still refreshes from the
    // server's own page.
    let own = [
        ("origin", server.base.as_str()),
        ("sec-fetch-site", "same-origin"),
    ];
    let next = cookie_of(&cookie_refresh(&server, &cookie, &own).await);

    // A refresh token in the body is no cookie a browser adds by itself: not checked.
    let grant = server.grant("admin", ADMIN_PASSWORD).await;
    let body_mode = server
        .client
        .post(server.url("/api/auth/refresh"))
        .header("sec-fetch-site", "cross-site")
        .header("origin", "https://evil.example")
        .json(&json!({ "refresh_token": grant.refresh }))
        .send()
        .await
        .unwrap();
    Grant::from(&Answer::from(body_mode).await);
    cookie_of(&cookie_refresh(&server, &next, &[]).await);
}

#[tokio::test]
async fn listed_origins_may_use_the_cookie_from_their_own_site() {
    let env = TestEnv::new();
    let server = env.spawn(&[("TESSERA_CORS_ORIGINS", LISTED)]).await;
    let from_app = [("origin", LISTED), ("sec-fetch-site", "cross-site")];
    let login = cookie_login(&server, &from_app).await;
    let cookie = cookie_of(&login);
    assert_eq!(login.header("access-control-allow-origin"), Some(LISTED));
    cookie_of(&cookie_refresh(&server, &cookie, &from_app).await);

    for origin in [
        "https://evil.example",
        "https://app.example.com.evil.example",
    ] {
        let answer = cookie_login(&server, &[("origin", origin)]).await;
        assert_cross_site_refused(&answer, origin);
        assert!(answer.header("access-control-allow-origin").is_none());
    }
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_own_origin_is_the_proxys_https_address() {
    let env = TestEnv::new();
    let through_proxy = [
        ("host", "auth.example.com"),
        ("x-forwarded-proto", "https"),
        ("origin", "https://auth.example.com"),
        ("sec-fetch-site", "same-origin"),
    ];
    let trusted = env.spawn(&[("TESSERA_TRUSTED_PROXIES", "127.0.0.1")]).await;
    cookie_of(&cookie_login(&trusted, &through_proxy).await);
    // The same page on plain HTTP is another origin.
    let plain = [
        ("host", "auth.example.com"),
        ("x-forwarded-proto", "https"),
        ("origin", "http://auth.example.com"),
    ];
    assert_cross_site_refused(&cookie_login(&trusted, &plain).await, "http origin");
    drop(trusted);

    // Without the setting, X-Forwarded-Proto is anyone's word and is not believed.
    let untrusted = env.spawn(&[]).await;
    assert_cross_site_refused(
        &cookie_login(&untrusted, &through_proxy).await,
        "untrusted proxy",
    );
}
