//! The real `tessera` binary: precedence of the three sources, start-up errors, and the
//! operator commands on the same database.

use reqwest::StatusCode;
use tessera_token::SigningKey;

use crate::helpers::{Binary, TestEnv};

const FILE_SECRET: &str = "FileSecretFileSecretFileSecret12";
const ENV_SECRET: &str = "EnvSecretEnvSecretEnvSecretEnv34";
const CLI_SECRET: &str = "CliSecretCliSecretCliSecretCli56";
const PASSWORD: &str = "binary-admin-password";

fn signed_with(token: &str, secret: &str) -> bool {
    // The binary runs on the real clock, so only the signature layer is checked here.
    let key = SigningKey::from_bytes(secret.as_bytes()).unwrap();
    tessera_token::verify_signature(&key, token).is_ok()
}

/// Serves from a directory holding `config.json` with `file_key: FILE_SECRET`, with
/// `env_key: ENV_SECRET` in the environment and `--cli_key=CLI_SECRET` on the command
/// line (each optional), logs in, and returns which secret signed the token.
async fn winning_secret(
    file_key: Option<&str>,
    env_key: Option<&str>,
    cli_key: Option<&str>,
) -> &'static str {
    let env = TestEnv::new();
    if let Some(key) = file_key {
        std::fs::write(
            env.path().join("config.json"),
            format!(r#"{{ "SomeOtherAppSetting": true, "{key}": "{FILE_SECRET}" }}"#),
        )
        .unwrap();
    }
    let mut binary = Binary::new(env.path())
        .env("TESSERA_LISTEN", "127.0.0.1:0")
        .env("TESSERA_ADMIN_PASSWORD", PASSWORD);
    if let Some(key) = env_key {
        binary = binary.env(key, ENV_SECRET);
    }
    if let Some(key) = cli_key {
        binary = binary.arg(format!("--{key}={CLI_SECRET}"));
    }
    let server = binary.serve();
    let login = server.login("admin", PASSWORD).await;
    assert_eq!(login.status, StatusCode::OK, "{login:?}");
    let token = login.body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(server.me(&token).await.status, StatusCode::OK);
    let winners: Vec<&'static str> = [FILE_SECRET, ENV_SECRET, CLI_SECRET]
        .into_iter()
        .filter(|s| signed_with(&token, s))
        .collect();
    assert_eq!(
        winners.len(),
        1,
        "exactly one secret must have signed the token"
    );
    winners[0]
}

#[tokio::test]
async fn command_line_beats_environment_beats_config_file_for_both_names() {
    const SEED: &str = "AYANOVA_JWT_SECRET";
    const OURS: &str = "TESSERA_JWT_SECRET";
    assert_eq!(winning_secret(Some(SEED), None, None).await, FILE_SECRET);
    assert_eq!(winning_secret(Some(OURS), None, None).await, FILE_SECRET);
    assert_eq!(
        winning_secret(Some(SEED), Some(SEED), None).await,
        ENV_SECRET
    );
    assert_eq!(
        winning_secret(Some(OURS), Some(SEED), None).await,
        ENV_SECRET
    );
    assert_eq!(
        winning_secret(Some(SEED), Some(OURS), Some(SEED)).await,
        CLI_SECRET
    );
    assert_eq!(
        winning_secret(None, Some(SEED), Some(OURS)).await,
        CLI_SECRET
    );
}

#[test]
fn the_seeds_command_line_example_works_as_written() {
    let env = TestEnv::new();
    let (code, stdout, stderr) = Binary::new(env.path())
        .arg("--AYANOVA_JWT_SECRET=02847This_is_my_secret_key456576")
        .arg("config")
        .arg("check")
        .output();
    assert_eq!(code, 0, "{stderr}");
    let line = stdout
        .lines()
        .find(|l| l.starts_with("TESSERA_JWT_SECRET "))
        .unwrap_or_else(|| panic!("no secret line in {stdout}"));
    assert!(line.contains("command line"), "{line}");
    assert!(
        !stdout.contains("02847This_is_my_secret_key456576"),
        "secret printed"
    );
    assert!(
        stdout.contains("published example") || stderr.contains("published example"),
        "no warning about the published example: {stdout}"
    );
}

#[test]
fn expiration_minutes_below_five_refuse_to_start() {
    let env = TestEnv::new();
    let (code, stdout, stderr) = Binary::new(env.path())
        .env("TESSERA_JWT_EXPIRATION_MINUTES", "4")
        .arg("serve")
        .output();
    assert_eq!(code, 2, "stdout: {stdout} stderr: {stderr}");
    assert!(
        stderr.contains("TESSERA_JWT_EXPIRATION_MINUTES"),
        "{stderr}"
    );
    assert!(stderr.contains("environment"), "{stderr}");
    assert!(!stdout.contains("listening"));
    assert!(
        !env.path().join("tessera.db").exists(),
        "nothing may be written"
    );
}

#[test]
fn an_empty_secret_is_a_start_up_error_not_a_padded_key() {
    let env = TestEnv::new();
    let (code, _, stderr) = Binary::new(env.path())
        .env("AYANOVA_JWT_SECRET", "")
        .output();
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("AYANOVA_JWT_SECRET"), "{stderr}");
}

#[test]
fn gen_secret_prints_32_random_characters() {
    let env = TestEnv::new();
    let (code, first, _) = Binary::new(env.path()).arg("gen-secret").output();
    let (_, second, _) = Binary::new(env.path()).arg("gen-secret").output();
    assert_eq!(code, 0);
    let first = first.trim();
    assert_eq!(first.chars().count(), 32, "{first}");
    assert!(first.chars().all(|c| c.is_ascii_alphanumeric()));
    assert_ne!(first, second.trim());
}

/// The real binary on the env's database with a fixed secret, as an operator runs it.
fn operator(env: &TestEnv, secret: &str, args: &[&str]) -> Binary {
    let mut binary = Binary::new(env.path())
        .arg(format!("--TESSERA_DATABASE_URL={}", env.database_url()))
        .arg(format!("--TESSERA_JWT_SECRET={secret}"))
        .env("TESSERA_ADMIN_PASSWORD", PASSWORD);
    for arg in args {
        binary = binary.arg(*arg);
    }
    binary
}

#[tokio::test]
async fn operators_manage_users_and_verify_tokens_on_the_same_database() {
    let env = TestEnv::new();
    let cli = |args: &[&str]| operator(&env, "OperatorSecretOperatorSecret1234", args);

    // An operator creates the database, then adds bob.
    let (code, _, stderr) = cli(&["migrate"]).output();
    assert_eq!(code, 0, "{stderr}");
    let (code, stdout, stderr) = cli(&["user", "add", "bob", "--role", "ops", "--password-stdin"])
        .output_with_stdin("bob-password-1\n");
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("created user 'bob'"), "{stdout}");

    let server = cli(&["serve"]).env("TESSERA_LISTEN", "127.0.0.1:0").serve();
    let login = server.login("bob", "bob-password-1").await;
    assert_eq!(login.status, StatusCode::OK, "{login:?}");
    let token = login.body["access_token"].as_str().unwrap().to_owned();

    let (code, stdout, _) = cli(&["token", "verify", &token]).output();
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.starts_with("valid: user 'bob'"), "{stdout}");

    let (code, stdout, _) = cli(&["user", "list"]).output();
    assert_eq!(code, 0);
    let bob = stdout
        .lines()
        .find(|l| l.starts_with("bob "))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(bob.contains("yes") && bob.ends_with("ops"), "{bob}");

    let (code, stdout, stderr) = cli(&["user", "deactivate", "bob"]).output();
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("deactivated 'bob'"));

    let (code, stdout, _) = cli(&["token", "verify", &token]).output();
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("inactive user"), "{stdout}");

    let (code, stdout, _) = cli(&["token", "verify", "not-a-token"]).output();
    assert_eq!(code, 1);
    assert!(stdout.starts_with("invalid:"), "{stdout}");

    let (code, _, stderr) = cli(&["user", "delete", "nobody"]).output();
    assert_eq!(code, 1);
    assert!(stderr.contains("no such user"), "{stderr}");
}

#[tokio::test]
async fn the_first_start_prints_a_generated_admin_password_that_logs_in() {
    let env = TestEnv::new();
    // No settings at all but a free port: the README's first command on a fresh checkout.
    let server = Binary::new(env.path())
        .env("TESSERA_LISTEN", "127.0.0.1:0")
        .serve();
    let line = server
        .announced
        .iter()
        .find(|l| l.contains("generated password: "))
        .unwrap_or_else(|| panic!("no generated password in {:?}", server.announced));
    let password = line.rsplit("generated password: ").next().unwrap().trim();
    assert!(password.len() >= 16, "{password}");
    let login = server.login("admin", password).await;
    assert_eq!(login.status, StatusCode::OK, "{login:?}");
    let token = login.body["access_token"].as_str().unwrap();
    assert_eq!(server.me(token).await.status, StatusCode::OK);
    assert!(
        env.path().join("tessera.db").exists(),
        "the default database is in the working directory"
    );
    drop(server);

    // A second start on the same database creates no admin and prints no password.
    let again = Binary::new(env.path())
        .env("TESSERA_LISTEN", "127.0.0.1:0")
        .serve();
    assert!(
        again.announced.iter().all(|l| !l.contains("password")),
        "{:?}",
        again.announced
    );
}

#[tokio::test]
async fn secrets_passwords_and_tokens_never_reach_the_logs() {
    let env = TestEnv::new();
    let secret = "LogSecretLogSecretLogSecretLog78";
    let server = Binary::new(env.path())
        .env("TESSERA_LISTEN", "127.0.0.1:0")
        .env("TESSERA_LOG", "trace")
        .env("TESSERA_JWT_SECRET", "short")
        .env("AYANOVA_JWT_SECRET", "short")
        .arg(format!("--TESSERA_JWT_SECRET={secret}"))
        .env("TESSERA_ADMIN_PASSWORD", PASSWORD)
        .serve();
    let login = server.login("admin", PASSWORD).await;
    let token = login.body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(server.me(&token).await.status, StatusCode::OK);
    assert_eq!(
        server.login("admin", "wrong-password").await.status,
        StatusCode::UNAUTHORIZED
    );
    // Refresh tokens travel in a body and in a cookie; neither may be logged.
    let refresh = login.body["refresh_token"].as_str().unwrap().to_owned();
    let client = reqwest::Client::new();
    let rotated: serde_json::Value = client
        .post(format!("{}/api/auth/refresh", server.base))
        .json(&serde_json::json!({ "refresh_token": refresh }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let successor = rotated["refresh_token"].as_str().unwrap().to_owned();
    let by_cookie = client
        .post(format!("{}/api/auth/refresh", server.base))
        .header("cookie", format!("tessera_refresh={successor}"))
        .send()
        .await
        .unwrap();
    assert_eq!(by_cookie.status(), StatusCode::OK);
    let cookie = by_cookie.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    let third = cookie
        .strip_prefix("tessera_refresh=")
        .and_then(|rest| rest.split(';').next())
        .unwrap()
        .to_owned();
    let stdout = server.announced.join("\n");
    let logs = server.stop();
    assert!(
        logs.contains("request"),
        "the trace level logged nothing: {logs}"
    );
    for needle in [
        secret,
        PASSWORD,
        token.as_str(),
        token.split('.').nth(2).unwrap(),
        refresh.as_str(),
        successor.as_str(),
        third.as_str(),
    ] {
        assert!(!logs.contains(needle), "found {needle:.12}… in the logs");
        assert!(!stdout.contains(needle), "found {needle:.12}… on stdout");
    }
}

#[tokio::test]
async fn token_verify_names_the_precise_reason() {
    use tessera_token::Subject;
    let env = TestEnv::new();
    let secret = "VerifySecretVerifySecretVerify90";
    let base = Binary::new(env.path())
        .env("TESSERA_JWT_SECRET", secret)
        .env("TESSERA_ADMIN_PASSWORD", PASSWORD);
    let server = base
        .clone()
        .arg("serve")
        .env("TESSERA_LISTEN", "127.0.0.1:0")
        .serve();
    let login = server.login("admin", PASSWORD).await;
    let id = login.body["user"]["id"].as_str().unwrap().to_owned();
    let sid = login.body["session_id"].as_str().unwrap().to_owned();
    drop(server);

    let now = i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap();
    let mint = |audience: &str, key: &str, issued_at: i64, subject: &str, session: &str| {
        let codec = crate::helpers::codec(key, audience, 0);
        let roles = vec!["admin".to_owned()];
        let subject = Subject {
            id: subject,
            session_id: session,
            name: "admin",
            roles: &roles,
        };
        codec.issue(subject, issued_at, 432_000).unwrap().token
    };
    let unknown = uuid::Uuid::new_v4().to_string();
    let cases = [
        (
            mint("tessera", secret, now - 7 * 86_400, &id, &sid),
            1,
            "invalid: token expired 2d",
        ),
        (
            mint("elsewhere", secret, now, &id, &sid),
            1,
            "invalid: token audience does not match",
        ),
        (
            mint(
                "tessera",
                "AnotherKeyAnotherKeyAnotherKey12",
                now,
                &id,
                &sid,
            ),
            1,
            "invalid: token key id names no known key",
        ),
        (
            {
                let valid = mint("tessera", secret, now, &id, &sid);
                let other = mint(
                    "tessera",
                    "AnotherKeyAnotherKeyAnotherKey12",
                    now,
                    &id,
                    &sid,
                );
                let (input, _) = valid.rsplit_once('.').unwrap();
                let (_, signature) = other.rsplit_once('.').unwrap();
                format!("{input}.{signature}")
            },
            1,
            "invalid: token signature",
        ),
        (
            mint("tessera", secret, now, &unknown, &sid),
            1,
            "invalid: token belongs to a user that no longer exists",
        ),
        (
            mint("tessera", secret, now, &id, &unknown),
            1,
            "invalid: token belongs to an unknown session",
        ),
        (
            mint("tessera", secret, now, &id, &sid),
            0,
            "valid: user 'admin'",
        ),
    ];
    for (token, expected_code, expected_start) in cases {
        let (code, stdout, stderr) = base.clone().arg("token").arg("verify").arg(token).output();
        assert_eq!(code, expected_code, "{stdout} {stderr}");
        assert!(stdout.starts_with(expected_start), "{stdout}");
    }
}

#[test]
fn start_up_warns_when_the_secret_is_padded_cut_or_missing() {
    let env = TestEnv::new();
    let cases = [
        (Some("k7Wq"), "padded from 4 characters"),
        (
            Some("0123456789abcdefghijABCDEFGHIJ0123456789"),
            "cut from 40 characters",
        ),
        (None, "will not survive a restart"),
    ];
    for (secret, expected) in cases {
        let mut binary = Binary::new(env.path())
            .env("TESSERA_LISTEN", "127.0.0.1:0")
            .env("TESSERA_ADMIN_PASSWORD", PASSWORD);
        if let Some(secret) = secret {
            binary = binary.env("AYANOVA_JWT_SECRET", secret);
        }
        let logs = binary.serve().stop();
        assert!(logs.contains(expected), "no '{expected}' in: {logs}");
        if let Some(secret) = secret {
            assert!(!logs.contains(secret), "the secret was logged");
        }
    }
}

#[tokio::test]
async fn operators_list_and_end_sessions_from_the_command_line() {
    let env = TestEnv::new();
    let cli = |args: &[&str]| operator(&env, "SessionSecretSessionSecret123456", args);
    let server = cli(&["serve"]).env("TESSERA_LISTEN", "127.0.0.1:0").serve();
    let laptop = server.login("admin", PASSWORD).await;
    let phone = server.login("admin", PASSWORD).await;
    let session = |answer: &crate::helpers::Answer| {
        (
            answer.body["session_id"].as_str().unwrap().to_owned(),
            answer.body["access_token"].as_str().unwrap().to_owned(),
        )
    };
    let (laptop_id, laptop_token) = session(&laptop);
    let (phone_id, phone_token) = session(&phone);

    let (code, stdout, stderr) = cli(&["session", "list", "--user", "admin"]).output();
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains(&laptop_id) && stdout.contains(&phone_id),
        "{stdout}"
    );
    assert!(stdout.contains("127.0.0.1"), "{stdout}");

    let (code, stdout, stderr) = cli(&["session", "revoke", &laptop_id]).output();
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout.trim(), format!("ended session {laptop_id}"));
    let (code, stdout, _) = cli(&["token", "verify", &laptop_token]).output();
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("session that was ended"), "{stdout}");
    let (code, stdout, _) = cli(&["token", "verify", &phone_token]).output();
    assert_eq!(code, 0, "{stdout}");

    let (code, stdout, _) = cli(&["session", "revoke", &laptop_id]).output();
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("no live session"), "{stdout}");
    let (code, _, stderr) = cli(&["session", "revoke", "not-a-session"]).output();
    assert_eq!(code, 1);
    assert!(stderr.contains("is not a session id"), "{stderr}");

    let (code, stdout, stderr) = cli(&["session", "revoke", "--user", "admin"]).output();
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("ended 1 session(s) of 'admin'"), "{stdout}");
    let (code, stdout, _) = cli(&["token", "verify", &phone_token]).output();
    assert_eq!(code, 1, "{stdout}");
    let (code, stdout, _) = cli(&["session", "list"]).output();
    assert_eq!(code, 0);
    assert_eq!(stdout.lines().count(), 1, "only the header: {stdout}");
}

#[cfg(unix)]
#[test]
fn serve_and_config_check_warn_about_an_exposed_config_file_and_running_as_root() {
    use std::os::unix::fs::PermissionsExt as _;
    let env = TestEnv::new();
    let config = env.path().join("config.json");
    std::fs::write(
        &config,
        format!(r#"{{ "AYANOVA_JWT_SECRET": "{FILE_SECRET}" }}"#),
    )
    .unwrap();
    let exposed = "holds AYANOVA_JWT_SECRET and is readable by users other than its owner";
    let as_root = rustix::process::geteuid().is_root();
    let root_warning = "tessera is running as root";
    for mode in [0o644, 0o600] {
        std::fs::set_permissions(&config, std::fs::Permissions::from_mode(mode)).unwrap();
        let (code, check, _) = Binary::new(env.path()).arg("config").arg("check").output();
        assert_eq!(code, 0, "{check}");
        let logs = Binary::new(env.path())
            .env("TESSERA_LISTEN", "127.0.0.1:0")
            .env("TESSERA_ADMIN_PASSWORD", PASSWORD)
            .serve()
            .stop();
        for shown in [&check, &logs] {
            assert_eq!(shown.contains(exposed), mode == 0o644, "{mode:o}: {shown}");
            assert_eq!(shown.contains(root_warning), as_root, "{shown}");
            assert!(
                !shown.contains(FILE_SECRET),
                "the secret was shown: {shown}"
            );
        }
    }
}

/// Writes `content` to `name` in `dir`, readable by its owner only, and returns its path.
fn secret_file(dir: &std::path::Path, name: &str, content: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, content).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    path.display().to_string()
}

#[tokio::test]
async fn the_secrets_can_be_given_as_files_under_both_names() {
    // As `echo k7Wq > jwt` writes it: the newline goes, then the seed's pad rule applies.
    const SHORT: &str = "k7Wq";
    let padded = format!("{SHORT}{}", "-".repeat(28));
    for name in ["TESSERA_JWT_SECRET_FILE", "AYANOVA_JWT_SECRET_FILE"] {
        let env = TestEnv::new();
        let jwt = secret_file(env.path(), "jwt", &format!("{SHORT}\n"));
        let admin = secret_file(env.path(), "admin", &format!("{PASSWORD}\r\n"));
        let (code, check, stderr) = Binary::new(env.path())
            .env(name, &jwt)
            .env("TESSERA_ADMIN_PASSWORD_FILE", &admin)
            .arg("config")
            .arg("check")
            .output();
        assert_eq!(code, 0, "{check}{stderr}");
        assert!(
            check.contains(&format!("environment {name}={jwt}")),
            "{check}"
        );
        assert!(
            check.contains(&format!("environment TESSERA_ADMIN_PASSWORD_FILE={admin}")),
            "{check}"
        );
        assert!(
            !check.contains(SHORT) && !check.contains(PASSWORD),
            "{check}"
        );

        let server = Binary::new(env.path())
            .env("TESSERA_LISTEN", "127.0.0.1:0")
            .env(name, &jwt)
            .env("TESSERA_ADMIN_PASSWORD_FILE", &admin)
            .serve();
        let login = server.login("admin", PASSWORD).await;
        assert_eq!(login.status, StatusCode::OK, "{name}: {login:?}");
        let token = login.body["access_token"].as_str().unwrap().to_owned();
        assert_eq!(server.me(&token).await.status, StatusCode::OK);
        assert!(
            signed_with(&token, &padded),
            "{name}: signed with the padded file value"
        );
        let logs = server.stop();
        assert!(logs.contains("padded from 4 characters"), "{logs}");
        assert!(!logs.contains(SHORT), "the secret was logged: {logs}");
    }
}

#[test]
fn a_secret_file_that_cannot_be_read_stops_the_start_naming_it() {
    let env = TestEnv::new();
    let missing = env.path().join("missing").display().to_string();
    let (code, _, stderr) = Binary::new(env.path())
        .arg(format!("--AYANOVA_JWT_SECRET_FILE={missing}"))
        .output();
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "AYANOVA_JWT_SECRET_FILE={missing} from command line: cannot read \
             AYANOVA_JWT_SECRET from the file: there is no such file"
        )),
        "{stderr}"
    );
    assert!(
        !env.path().join("tessera.db").exists(),
        "nothing may be written"
    );
}
