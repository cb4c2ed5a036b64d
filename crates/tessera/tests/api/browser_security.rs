//! What keeps other sites' pages away from the refresh cookie, and the headers every answer
//! carries for browsers: `Referrer-Policy`, `X-Frame-Options`, `Cross-Origin-Opener-Policy`
//! and a Content-Security-Policy (Swagger UI gets one that lets it run).

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{ADMIN_PASSWORD, Answer, Grant, TestEnv, TestServer};

const LISTED: &str = "https://app.example.com";
/// The policy of every answer that is not Swagger UI's.
const API_CSP: &str = "default-src 'none'; frame-ancestors 'none'";

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

fn assert_browser_headers(answer: &reqwest::Response, csp: &str, what: &str) {
    let header = |name: &str| {
        answer
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned)
    };
    assert_eq!(
        header("referrer-policy").as_deref(),
        Some("no-referrer"),
        "{what}"
    );
    assert_eq!(header("x-frame-options").as_deref(), Some("DENY"), "{what}");
    assert_eq!(
        header("cross-origin-opener-policy").as_deref(),
        Some("same-origin"),
        "{what}"
    );
    assert_eq!(
        header("content-security-policy").as_deref(),
        Some(csp),
        "{what}"
    );
    assert_eq!(
        answer
            .headers()
            .get_all("content-security-policy")
            .iter()
            .count(),
        1
    );
}

#[tokio::test]
async fn every_answer_carries_the_browser_security_headers() {
    let env = TestEnv::new();
    let server = env
        .spawn(&[("TESSERA_METRICS_LISTEN", "127.0.0.1:0")])
        .await;
    let token = server.admin_token().await;
    let client = &server.client;
    let requests = [
        (
            "login",
            client
                .post(server.url("/api/auth/login"))
                .json(&json!({ "username": "admin", "password": ADMIN_PASSWORD })),
        ),
        (
            "me",
            client.get(server.url("/api/auth/me")).bearer_auth(&token),
        ),
        ("401", client.get(server.url("/api/auth/me"))),
        ("404", client.get(server.url("/no/such/page"))),
        ("405", client.delete(server.url("/api/auth/login"))),
        ("415", client.post(server.url("/api/auth/login")).body("x")),
        (
            "OPTIONS",
            client.request(Method::OPTIONS, server.url("/api/auth/me")),
        ),
        ("healthz", client.get(server.url("/healthz"))),
        ("document", client.get(server.url("/api/openapi.json"))),
        (
            "metrics listener",
            client.get(format!(
                "{}/metrics",
                server.metrics_base.as_deref().unwrap()
            )),
        ),
    ];
    for (what, request) in requests {
        let answer = request.send().await.unwrap();
        assert_browser_headers(&answer, API_CSP, what);
    }
}

#[tokio::test]
async fn swagger_ui_gets_a_policy_it_runs_under() {
    let env = TestEnv::new();
    let server = env.spawn(&[]).await;
    let page = server
        .client
        .get(server.url("/api/docs/"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let csp = page
        .headers()
        .get("content-security-policy")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert_browser_headers(&page, &csp, "Swagger UI");
    assert_eq!(csp, tessera::http::UI_CSP);
    let html = page.text().await.unwrap();
    // The page's scripts and style sheets are files of this server (`script-src 'self'`
    // would block an inline script) ...
    let scripts: Vec<&str> = html.split("<script").skip(1).collect();
    assert!(!scripts.is_empty(), "{html}");
    for script in &scripts {
        let tag = script.split('>').next().unwrap();
        assert!(
            tag.contains("src=\"./"),
            "an inline or foreign script: {tag}"
        );
    }
    for href in html.split("href=\"").skip(1) {
        let href = href.split('"').next().unwrap();
        assert!(!href.contains("//"), "a foreign asset: {href}");
    }
    assert!(csp.contains("script-src 'self';"), "{csp}");
    assert!(
        csp.contains("connect-src 'self';"),
        "it fetches the document: {csp}"
    );
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(!csp.contains("unsafe-eval"), "{csp}");
    // ... and they are served with the same policy.
    for asset in [
        "swagger-ui-bundle.js",
        "swagger-initializer.js",
        "swagger-ui.css",
    ] {
        let answer = server
            .client
            .get(server.url(&format!("/api/docs/{asset}")))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), StatusCode::OK, "{asset}");
        assert_browser_headers(&answer, &csp, asset);
    }
}
