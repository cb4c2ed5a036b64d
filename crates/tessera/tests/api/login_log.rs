//! Every login, successful or not, is logged at `info` with its outcome, the username as
//! typed (escaped and cut short), the user id when known and the client's address, and never
//! the password.

use reqwest::StatusCode;

use crate::helpers::{Binary, TestEnv};

const PASSWORD: &str = "logged-admin-password";
const WRONG: &str = "a wrong password 9f8e7d";

/// The lines of `log` that record a login.
fn login_lines(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|line| line.contains(" login outcome="))
        .collect()
}

#[tokio::test]
async fn logins_are_logged_at_info_with_outcome_user_and_client_never_the_password() {
    let env = TestEnv::new();
    let server = Binary::new(env.path())
        .env("TESSERA_LISTEN", "127.0.0.1:0")
        .env("TESSERA_ADMIN_PASSWORD", PASSWORD)
        .env("TESSERA_LOG", "info")
        .env("TESSERA_LOGIN_MAX_ACCOUNT_FAILURES", "2")
        .serve();
    let success = server.login("Admin", PASSWORD).await;
    assert_eq!(success.status, StatusCode::OK, "{success:?}");
    let admin_id = success.body["user"]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        server.login("admin", WRONG).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        server.login("admin", WRONG).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        server.login("admin", WRONG).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    let forged = "eve\nINFO login outcome=success";
    assert_eq!(
        server.login(forged, WRONG).await.status,
        StatusCode::UNAUTHORIZED
    );
    let long = "x".repeat(5000);
    assert_eq!(
        server.login(&long, WRONG).await.status,
        StatusCode::UNAUTHORIZED
    );
    let log = server.stop();

    let lines = login_lines(&log);
    assert_eq!(lines.len(), 6, "{log}");
    let expect = [
        ("outcome=success", "username=\"Admin\"", true),
        ("outcome=invalid_credentials", "username=\"admin\"", true),
        ("outcome=invalid_credentials", "username=\"admin\"", true),
        ("outcome=throttled", "username=\"admin\"", false),
        (
            "outcome=invalid_credentials",
            "username=\"eve\\nINFO",
            false,
        ),
        ("outcome=invalid_credentials", "username=\"xxxx", false),
    ];
    for (line, (outcome, username, with_id)) in lines.iter().zip(expect) {
        assert!(line.contains(" INFO "), "{line}");
        assert!(line.contains(outcome), "{outcome}: {line}");
        assert!(line.contains(username), "{username}: {line}");
        assert!(line.contains("client=127.0.0.1"), "{line}");
        assert_eq!(
            line.contains(&format!("user_id={admin_id}")),
            with_id,
            "{line}"
        );
    }
    assert!(lines[5].len() < 400, "a long username is cut: {}", lines[5]);
    assert!(!log.contains(PASSWORD), "{log}");
    assert!(!log.contains(WRONG), "{log}");
    assert!(
        !log.lines().any(|line| line.starts_with("INFO login")),
        "a username cannot forge a log line: {log}"
    );
}
