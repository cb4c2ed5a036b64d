//! Misspelt settings as the real binary meets them: an error that names the setting on the
//! command line and in config.json, a warning in the environment, and AyaNova's own
//! config.json read without complaint.

use std::time::Duration;

use reqwest::StatusCode;

use crate::helpers::{Binary, TestEnv};

const PASSWORD: &str = "typos-admin-password";
const MEANT: &str = "TESSERA_JWT_EXPIRATION_MINUTES";

/// Runs `serve` and asserts it stops before listening or writing anything, with exit code 2 and
/// a message naming `fragments`; returns the message.
fn refused(binary: &Binary, env: &TestEnv, fragments: &[&str]) -> String {
    let (code, stdout, stderr) = binary
        .clone()
        .env("TESSERA_LISTEN", "127.0.0.1:0")
        .arg("serve")
        .output_within(Duration::from_secs(60));
    assert_eq!(code, 2, "stdout: {stdout} stderr: {stderr}");
    for fragment in fragments {
        assert!(stderr.contains(fragment), "no {fragment:?} in: {stderr}");
    }
    assert!(!stdout.contains("listening"), "{stdout}");
    assert!(
        !env.path().join("tessera.db").exists(),
        "nothing may be written"
    );
    stderr
}

#[test]
fn the_issues_typo_on_the_command_line_stops_the_start_and_names_the_setting() {
    let env = TestEnv::new();
    let binary = Binary::new(env.path()).arg("--TESSERA_JWT_EXPIRY=15");
    refused(
        &binary,
        &env,
        &[
            "unknown setting TESSERA_JWT_EXPIRY in command line",
            &format!("did you mean {MEANT}?"),
        ],
    );
    // Without its prefix it is no setting at all, yet still a setting's typo, not clap's.
    let binary = Binary::new(env.path()).arg("--JWT_EXPIRY=15");
    let stderr = refused(
        &binary,
        &env,
        &[
            "--JWT_EXPIRY in command line is not a setting",
            &format!("did you mean --{MEANT}?"),
        ],
    );
    assert!(!stderr.contains("unexpected argument"), "{stderr}");
}

#[test]
fn the_issues_typo_in_config_json_stops_the_start_with_every_problem_listed() {
    let env = TestEnv::new();
    let config = env.path().join("config.json");
    std::fs::write(
        &config,
        r#"{ "TESSERA_JWT_EXPIRY": 15, "TESSERA_DB_URL": "sqlite://other.db" }"#,
    )
    .unwrap();
    let origin = format!("config file {}", config.display());
    refused(
        &Binary::new(env.path()).env(MEANT, "4"),
        &env,
        &[
            "3 problems",
            &format!("unknown setting TESSERA_JWT_EXPIRY in {origin}; did you mean {MEANT}?"),
            &format!(
                "unknown setting TESSERA_DB_URL in {origin}; did you mean TESSERA_DATABASE_URL?"
            ),
            "TESSERA_JWT_EXPIRATION_MINUTES=4 from environment is invalid",
        ],
    );
    let (code, _, stderr) = Binary::new(env.path()).arg("config").arg("check").output();
    assert_eq!(code, 2, "config check shows the same problems: {stderr}");
    assert!(
        stderr.contains(&format!("did you mean {MEANT}?")),
        "{stderr}"
    );
}

#[tokio::test]
async fn the_issues_typo_in_the_environment_starts_with_a_warning_naming_the_setting() {
    let env = TestEnv::new();
    let server = Binary::new(env.path())
        .env("TESSERA_LISTEN", "127.0.0.1:0")
        .env("TESSERA_ADMIN_PASSWORD", PASSWORD)
        .env("TESSERA_JWT_EXPIRY", "15")
        .serve();
    let login = server.login("admin", PASSWORD).await;
    assert_eq!(login.status, StatusCode::OK, "{login:?}");
    let logs = server.stop();
    assert!(
        logs.contains(&format!(
            "unknown setting TESSERA_JWT_EXPIRY in environment; did you mean {MEANT}?"
        )),
        "{logs}"
    );
}

#[tokio::test]
async fn ayanovas_own_config_json_and_environment_are_read_without_complaint() {
    let env = TestEnv::new();
    std::fs::write(
        env.path().join("config.json"),
        r#"{
          "AYANOVA_USE_URLS": "http://*:7575",
          "AYANOVA_DB_CONNECTION": "Server=localhost;Username=postgres;Password=x;Database=AyaNova;",
          "AYANOVA_DEFAULT_TRANSLATION": "en",
          "AYANOVA_DATA_PATH": "/var/lib/ayanova",
          "AYANOVA_JWT_SECRET": "AyaNovaSharedSecretAyaNovaShared",
          "Logging": { "LogLevel": { "Default": "Warning" } }
        }"#,
    )
    .unwrap();
    let server = Binary::new(env.path())
        .env("TESSERA_LISTEN", "127.0.0.1:0")
        .env("TESSERA_ADMIN_PASSWORD", PASSWORD)
        .env("AYANOVA_LOG_LEVEL", "Info")
        .env("AYANOVA_FOLDER_SOMETHING_NEW", "x")
        .serve();
    let login = server.login("admin", PASSWORD).await;
    assert_eq!(login.status, StatusCode::OK, "{login:?}");
    let logs = server.stop();
    for ignored in [
        "unknown setting",
        "AYANOVA_USE_URLS",
        "AYANOVA_DB_CONNECTION",
        "AYANOVA_DEFAULT_TRANSLATION",
        "AYANOVA_DATA_PATH",
        "AYANOVA_LOG_LEVEL",
        "AYANOVA_FOLDER_SOMETHING_NEW",
    ] {
        assert!(!logs.contains(ignored), "{ignored} is not ignored: {logs}");
    }

    // On tessera's own command line an AyaNova setting is a mistake: tessera would not use it.
    let (code, _, stderr) = Binary::new(env.path())
        .arg("--AYANOVA_USE_URLS=http://*:7575")
        .arg("config")
        .arg("check")
        .output();
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains(
            "AYANOVA_USE_URLS in command line is an AyaNova setting tessera does not use; \
             tessera's own is TESSERA_LISTEN"
        ),
        "{stderr}"
    );
}
