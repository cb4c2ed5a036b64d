//! The real binary on PostgreSQL: `serve` creates, migrates and serves a database; the
//! commands work on it and name it with its password hidden; a random secret is refused
//! without the opt-in; a lost database is a `503` whose cause is logged, and the server
//! recovers; bad URLs, unreachable servers, unknown roles and newer schemas are clear errors.
//!
//! Each test gets a database of its own (`tessera_test_<random>`) on the local server
//! (`TESSERA_TEST_POSTGRES_URL`, default `postgres://postgres@127.0.0.1:5432/postgres`),
//! dropped at the end, also when the test fails. An unreachable server fails the test.

use std::str::FromStr as _;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use sqlx::Connection as _;
use sqlx::postgres::PgConnectOptions;

use crate::helpers::{Binary, TestEnv};
use crate::pg::{TestDatabase, admin_execute, server_url};

/// A password put into every URL the binary gets: trust auth ignores it, and it must never be
/// shown.
const URL_PASSWORD: &str = "url-pw-5e8a1c";
const SECRET: &str = "PostgresTestSecret_0123456789abc";
const ADMIN_PASSWORD: &str = "postgres admin password";

/// What these tests do with their database.
trait BinaryDatabase {
    /// The database's URL with [`URL_PASSWORD`] in it, as an operator would write it.
    fn url_with_password(&self) -> String;
    /// How the binary names it: the URL with its password hidden.
    fn shown(&self) -> String;
    /// The binary with the database's URL and the test secret.
    fn binary(&self, env: &TestEnv) -> Binary;
    /// Refuses (or allows again) new connections, and ends the ones open now.
    async fn cut_off(&self, cut: bool);
}

impl BinaryDatabase for TestDatabase {
    fn url_with_password(&self) -> String {
        self.url(None, Some(URL_PASSWORD))
    }

    fn shown(&self) -> String {
        self.url_with_password().replace(URL_PASSWORD, "<hidden>")
    }

    fn binary(&self, env: &TestEnv) -> Binary {
        Binary::new(env.path())
            .env("TESSERA_DATABASE_URL", &self.url_with_password())
            .env("TESSERA_JWT_SECRET", SECRET)
            .env("TESSERA_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("TESSERA_LISTEN", "127.0.0.1:0")
    }

    async fn cut_off(&self, cut: bool) {
        let allow = if cut { "false" } else { "true" };
        admin_execute(format!(
            "ALTER DATABASE \"{}\" WITH ALLOW_CONNECTIONS {allow}",
            self.name
        ))
        .await;
        if cut {
            admin_execute(format!(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE datname = '{}' AND pid <> pg_backend_pid()",
                self.name
            ))
            .await;
        }
    }
}

/// The password never appears in anything the binary wrote.
fn assert_no_password(text: &str) {
    assert!(
        !text.contains(URL_PASSWORD),
        "the URL's password is shown: {text}"
    );
}

#[tokio::test]
async fn serve_creates_migrates_and_serves_a_postgres_database() {
    let env = TestEnv::new();
    let database = TestDatabase::named().await;
    assert!(!database.exists().await);
    let server = database.binary(&env).env("TESSERA_LOG", "info").serve();
    assert!(database.exists().await, "serve creates the database");
    let login = server.login("admin", ADMIN_PASSWORD).await;
    assert_eq!(login.status, StatusCode::OK, "{login:?}");
    let token = login.body["access_token"].as_str().unwrap().to_owned();
    let me = server.me(&token).await;
    assert_eq!(me.status, StatusCode::OK, "{me:?}");
    assert_eq!(me.body["user"]["username"], "admin");
    let log = server.stop();
    assert!(
        log.contains(&format!(
            "{} (TESSERA_DATABASE_URL, environment)",
            database.shown()
        )),
        "the log names the database: {log}"
    );
    assert_no_password(&log);
}

#[tokio::test]
async fn user_commands_work_on_postgres_and_name_the_database() {
    let env = TestEnv::new();
    let database = TestDatabase::named().await;
    let named = format!(
        "database: {} (TESSERA_DATABASE_URL, environment)",
        database.shown()
    );
    let run = |args: &[&str]| {
        let mut binary = database.binary(&env);
        for arg in args {
            binary = binary.arg(*arg);
        }
        binary
    };

    let (code, _, stderr) = run(&["user", "list"]).output();
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("there is no tessera database at"),
        "{stderr}"
    );
    assert!(!database.exists().await, "only serve and migrate create it");

    let (code, stdout, stderr) = run(&["migrate"]).output();
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("created the database"), "{stdout}");

    let (code, stdout, stderr) =
        run(&["user", "add", "alice", "--password-stdin"]).output_with_stdin("alice password 1\n");
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("created user 'alice'"), "{stdout}");
    assert!(stderr.contains(&named), "{stderr}");

    let (code, stdout, stderr) = run(&["user", "deactivate", "alice"]).output();
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("deactivated 'alice'"), "{stdout}");

    let (code, stdout, stderr) = run(&["user", "list"]).output();
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains(&named), "{stderr}");
    let alice = stdout
        .lines()
        .find(|line| line.starts_with("alice "))
        .unwrap();
    assert!(alice.contains(" no "), "alice is inactive: {stdout}");

    let backup = env.path().join("copy.db");
    let (code, _, stderr) = run(&["db", "backup", backup.to_str().unwrap()]).output();
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("pg_dump"), "{stderr}");
    assert!(!backup.exists());
    assert_no_password(&stderr);
}

#[tokio::test]
async fn serve_refuses_a_random_secret_on_postgres_unless_allowed() {
    let env = TestEnv::new();
    let database = TestDatabase::named().await;
    let without_secret = Binary::new(env.path())
        .env("TESSERA_DATABASE_URL", &database.url_with_password())
        .env("TESSERA_LISTEN", "127.0.0.1:0");

    let (code, stdout, stderr) = without_secret.output_within(Duration::from_secs(60));
    assert_eq!(code, 2, "{stdout}{stderr}");
    for fragment in [
        "TESSERA_JWT_SECRET (or AYANOVA_JWT_SECRET) is not set",
        "names a PostgreSQL database",
        "several instances must share one secret",
        "`tessera gen-secret`",
        "TESSERA_ALLOW_RANDOM_SECRET=true",
    ] {
        assert!(stderr.contains(fragment), "{fragment:?} not in {stderr}");
    }
    assert!(!stdout.contains("listening"), "{stdout}");
    assert!(!database.exists().await, "nothing was created");

    let (code, stdout, stderr) = without_secret.clone().arg("config").arg("check").output();
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(
        stdout.contains("TESSERA_JWT_SECRET"),
        "the report is printed: {stdout}"
    );
    assert!(
        stderr.contains("several instances must share one secret"),
        "{stderr}"
    );
    assert_no_password(&format!("{stdout}{stderr}"));

    // The other commands issue no tokens: they are not held to the rule.
    let (code, _, stderr) = without_secret.clone().arg("migrate").output();
    assert_eq!(code, 0, "{stderr}");

    let server = without_secret
        .env("TESSERA_ALLOW_RANDOM_SECRET", "true")
        .env("TESSERA_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .serve();
    let login = server.login("admin", ADMIN_PASSWORD).await;
    assert_eq!(login.status, StatusCode::OK, "{login:?}");
}

#[tokio::test]
async fn a_lost_database_is_a_503_with_its_cause_logged_and_the_server_recovers() {
    let env = TestEnv::new();
    let database = TestDatabase::named().await;
    let server = database.binary(&env).serve();
    let login = server.login("admin", ADMIN_PASSWORD).await;
    assert_eq!(login.status, StatusCode::OK, "{login:?}");
    let token = login.body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        server.get("/api/users", &token).await.status,
        StatusCode::OK
    );

    database.cut_off(true).await;
    let refused = server.get("/api/users", &token).await;
    assert_eq!(
        refused.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{refused:?}"
    );
    assert_eq!(refused.header("retry-after"), Some("1"), "{refused:?}");
    assert_eq!(refused.body["error"], "database_busy", "{refused:?}");
    let ready = reqwest::get(format!("{}/readyz", server.base))
        .await
        .unwrap();
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body = refused.body.to_string();
    assert!(
        !body.contains("accepting connections"),
        "no cause for the client: {body}"
    );

    database.cut_off(false).await;
    // The pool opens new connections by itself: a bounded wait for the next success.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let answer = server.get("/api/users", &token).await;
        if answer.status == StatusCode::OK {
            break;
        }
        assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE, "{answer:?}");
        assert!(
            Instant::now() < deadline,
            "the server did not recover: {answer:?}"
        );
        tokio::task::yield_now().await;
    }

    let log = server.stop();
    let line = log
        .lines()
        .find(|line| line.contains("request refused"))
        .unwrap_or_else(|| panic!("no refusal logged: {log}"));
    assert!(
        line.contains("is not currently accepting connections"),
        "the log names the database's own cause: {line}"
    );
    let not_ready = log
        .lines()
        .find(|line| line.contains("database not ready"))
        .unwrap_or_else(|| panic!("no readiness failure logged: {log}"));
    assert!(
        not_ready.contains("is not currently accepting connections"),
        "{not_ready}"
    );
    assert!(
        !log.contains("request failed"),
        "no 500 was answered: {log}"
    );
}

#[test]
fn a_malformed_postgres_url_is_a_settings_error_naming_the_setting_and_source() {
    let env = TestEnv::new();
    for url in ["postgres://", "postgres://host"] {
        let (code, stdout, stderr) = Binary::new(env.path())
            .env("TESSERA_DATABASE_URL", url)
            .arg("user")
            .arg("list")
            .output();
        assert_eq!(code, 2, "{url}: {stdout}{stderr}");
        assert!(
            stderr.contains("TESSERA_DATABASE_URL=") && stderr.contains("from environment"),
            "{url}: {stderr}"
        );
    }
}

#[test]
fn an_unreachable_server_is_named_with_its_cause_promptly() {
    let env = TestEnv::new();
    let url = format!("postgres://postgres:{URL_PASSWORD}@127.0.0.1:1/x");
    for command in [&["user", "list"][..], &["serve"][..]] {
        let mut binary = Binary::new(env.path())
            .env("TESSERA_DATABASE_URL", &url)
            .env("TESSERA_JWT_SECRET", SECRET)
            .env("TESSERA_LISTEN", "127.0.0.1:0");
        for arg in command {
            binary = binary.arg(*arg);
        }
        let started = Instant::now();
        let (code, _, stderr) = binary.output_within(Duration::from_secs(60));
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "{command:?} took too long"
        );
        assert_eq!(code, 1, "{command:?}: {stderr}");
        assert!(
            stderr.contains("failed to connect to the PostgreSQL database postgres://postgres:<hidden>@127.0.0.1:1/x"),
            "{command:?}: {stderr}"
        );
        assert!(
            stderr.contains("Connection refused"),
            "{command:?}: {stderr}"
        );
        assert_eq!(
            stderr.matches("Connection refused").count(),
            1,
            "the cause is said once: {stderr}"
        );
        assert_no_password(&stderr);
    }
}

#[tokio::test]
async fn an_unknown_role_is_refused_by_name_with_the_password_hidden() {
    let env = TestEnv::new();
    let options = PgConnectOptions::from_str(&server_url()).unwrap();
    let url = format!(
        "postgres://no_such_role:{URL_PASSWORD}@{}:{}/x",
        options.get_host(),
        options.get_port()
    );
    let (code, _, stderr) = Binary::new(env.path())
        .env("TESSERA_DATABASE_URL", &url)
        .arg("user")
        .arg("list")
        .output_within(Duration::from_secs(60));
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("role \"no_such_role\" does not exist"),
        "{stderr}"
    );
    assert!(stderr.contains("no_such_role:<hidden>@"), "{stderr}");
    assert_no_password(&stderr);
}

#[tokio::test]
async fn a_database_of_a_newer_tessera_is_refused_and_left_unchanged() {
    let env = TestEnv::new();
    let database = TestDatabase::named().await;
    let (code, _, stderr) = database.binary(&env).arg("migrate").output();
    assert_eq!(code, 0, "{stderr}");
    let mut connection = database.connect().await;
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (999, 'from the future', true, '\\x00'::bytea, 0)",
    )
    .execute(&mut connection)
    .await
    .unwrap();
    connection.close().await.unwrap();

    for command in [&["serve"][..], &["user", "list"][..], &["migrate"][..]] {
        let mut binary = database.binary(&env);
        for arg in command {
            binary = binary.arg(*arg);
        }
        let (code, stdout, stderr) = binary.output_within(Duration::from_secs(60));
        assert_ne!(code, 0, "{command:?}: {stdout}{stderr}");
        assert!(
            stderr.contains("was written by a newer tessera") && stderr.contains("999"),
            "{command:?}: {stderr}"
        );
        assert_no_password(&stderr);
    }
    let mut connection = database.connect().await;
    let users: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(&mut connection)
        .await
        .unwrap();
    assert_eq!(users, 0, "serve created no admin");
    let versions: i64 = sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations")
        .fetch_one(&mut connection)
        .await
        .unwrap();
    // Six of this build's, and the one from the future.
    assert_eq!(versions, 7, "no migration was applied or removed");
    connection.close().await.unwrap();
}
