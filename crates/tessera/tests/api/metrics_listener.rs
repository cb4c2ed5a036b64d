//! `/metrics` on its own address (`TESSERA_METRICS_LISTEN`): served only there, nothing else
//! served there, both listeners up and down together.

use std::time::Duration;

use reqwest::StatusCode;

use crate::helpers::{Binary, TestEnv, TestServer};

const OPENMETRICS: &str = "application/openmetrics-text";

/// `GET base + path`: status, content type and body.
async fn fetch(base: &str, path: &str) -> (StatusCode, String, String) {
    let response = reqwest::get(format!("{base}{path}")).await.unwrap();
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (status, content_type, response.text().await.unwrap())
}

fn metrics_base(server: &TestServer) -> &str {
    server
        .metrics_base
        .as_deref()
        .expect("the metrics listener's address is reported")
}

#[tokio::test]
async fn metrics_move_to_their_own_address_and_leave_the_api_there() {
    let env = TestEnv::new();
    let server = env
        .spawn(&[("TESSERA_METRICS_LISTEN", "127.0.0.1:0")])
        .await;
    let metrics = metrics_base(&server).to_owned();
    assert_ne!(metrics, server.base);
    server.admin_token().await;
    server.login("admin", "wrong-password").await;

    let (status, content_type, text) = fetch(&metrics, "/metrics").await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(content_type.starts_with(OPENMETRICS), "{content_type}");
    for line in [
        "tessera_logins_total{outcome=\"success\"} 1",
        "tessera_logins_total{outcome=\"invalid_credentials\"} 1",
    ] {
        assert!(text.lines().any(|l| l == line), "missing {line} in\n{text}");
    }
    assert!(text.ends_with("# EOF\n"), "{text}");

    // The API's listener no longer answers /metrics.
    let (status, content_type, text) = fetch(&server.base, "/metrics").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{text}");
    assert!(!content_type.starts_with(OPENMETRICS), "{content_type}");
    assert!(!text.contains("tessera_logins_total"), "{text}");
    assert_eq!(server.get("/healthz", None).await.status, StatusCode::OK);

    // The metrics listener serves nothing of the API.
    for path in ["/healthz", "/readyz", "/api/auth/me", "/api/users", "/"] {
        let (status, _, text) = fetch(&metrics, path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {text}");
    }
    let login = reqwest::Client::new()
        .post(format!("{metrics}/api/auth/login"))
        .json(&serde_json::json!({ "username": "admin", "password": "x" }))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn without_the_setting_metrics_stay_with_the_api() {
    let env = TestEnv::new();
    let server = env.spawn(&[]).await;
    assert_eq!(server.metrics_base, None);
    let (status, content_type, _) = fetch(&server.base, "/metrics").await;
    assert_eq!(status, StatusCode::OK);
    assert!(content_type.starts_with(OPENMETRICS), "{content_type}");
}

#[cfg(unix)]
#[tokio::test]
async fn the_binary_announces_the_metrics_address_and_stops_both_listeners_together() {
    let env = TestEnv::new();
    let server = Binary::new(env.path())
        .env("TESSERA_LISTEN", "127.0.0.1:0")
        .env("TESSERA_METRICS_LISTEN", "127.0.0.1:0")
        .env("TESSERA_ADMIN_PASSWORD", "metrics-admin-password")
        .serve();
    let announced = server
        .announced
        .iter()
        .find_map(|line| line.strip_prefix("tessera metrics on "))
        .unwrap_or_else(|| panic!("no metrics address in {:?}", server.announced));
    let metrics = announced.strip_suffix("/metrics").unwrap().to_owned();
    assert_ne!(metrics, server.base);
    let (status, content_type, _) = fetch(&metrics, "/metrics").await;
    assert_eq!(status, StatusCode::OK);
    assert!(content_type.starts_with(OPENMETRICS), "{content_type}");
    assert_eq!(
        fetch(&server.base, "/metrics").await.0,
        StatusCode::NOT_FOUND
    );

    let (code, stderr) = server.terminate_and_wait();
    assert_eq!(code, 0, "{stderr}");
    let address = metrics.strip_prefix("http://").unwrap();
    assert!(
        tokio::net::TcpStream::connect(address).await.is_err(),
        "the metrics listener outlived the server"
    );
}

#[test]
fn a_busy_metrics_port_is_a_clean_start_up_error_naming_the_setting() {
    let env = TestEnv::new();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let (code, stdout, stderr) = Binary::new(env.path())
        .env("TESSERA_LISTEN", "127.0.0.1:0")
        .env("TESSERA_METRICS_LISTEN", &format!("127.0.0.1:{port}"))
        .output_within(Duration::from_secs(60));
    assert_eq!(code, 1, "stdout: {stdout} stderr: {stderr}");
    assert!(
        stderr.contains(&format!(
            "failed to listen on 127.0.0.1:{port} (TESSERA_METRICS_LISTEN)"
        )),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        !env.path().join("tessera.db").exists(),
        "both ports are bound before the database is opened"
    );
    drop(taken);
}
