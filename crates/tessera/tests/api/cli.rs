//! The command line does not guess: it names the database it opens and creates none but with
//! `serve` and `migrate`, says when a token is accepted only within the leeway, takes a token
//! as pasted or from standard input, and prints completions and a manual page.

use std::path::Path;

use reqwest::StatusCode;
use tessera_token::Subject;

use crate::helpers::{Binary, TestEnv};

const SECRET: &str = "CliTestSecretCliTestSecretCliTes";
const PASSWORD: &str = "cli-admin-password";

/// Every file and folder in `dir`.
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn commands_on_a_missing_database_name_it_say_how_to_create_it_and_create_nothing() {
    let env = TestEnv::new();
    let default_path = env.path().join("tessera.db");
    let commands: [&[&str]; 5] = [
        &["user", "list"],
        &["user", "add", "bob", "--password-stdin"],
        &["session", "list"],
        &["token", "verify", "eyJ.e30.sig"],
        &["db", "backup", "copy.db"],
    ];
    for args in commands {
        let mut binary = Binary::new(env.path()).env("TESSERA_JWT_SECRET", SECRET);
        for arg in args {
            binary = binary.arg(*arg);
        }
        let (code, stdout, stderr) = binary.output_with_stdin("bob-password-1\n");
        assert_eq!(code, 1, "{args:?}: stdout {stdout} stderr {stderr}");
        let named = format!("{} (TESSERA_DATABASE_URL, default)", default_path.display());
        assert!(
            stderr.starts_with(&format!("database: {named}\n")),
            "{args:?}: {stderr}"
        );
        assert!(
            stderr.contains(&format!(
                "error: there is no tessera database at {named}: no such file; nothing was created"
            )),
            "{args:?}: {stderr}"
        );
        assert!(
            stderr.contains("`tessera migrate`") && stderr.contains("`tessera serve`"),
            "{args:?}: {stderr}"
        );
        assert_eq!(stdout, "", "{args:?}");
        assert_eq!(listing(env.path()), Vec::<String>::new(), "{args:?}");
    }

    // A database named in the environment, in a folder that does not exist: neither appears.
    let elsewhere = env.path().join("data").join("users.db");
    let (code, _, stderr) = Binary::new(env.path())
        .env(
            "TESSERA_DATABASE_URL",
            &format!("sqlite://{}", elsewhere.display()),
        )
        .arg("user")
        .arg("list")
        .output();
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "there is no tessera database at {} (TESSERA_DATABASE_URL, environment)",
            elsewhere.display()
        )),
        "{stderr}"
    );
    assert_eq!(listing(env.path()), Vec::<String>::new());
}

#[test]
fn migrate_creates_the_database_says_what_it_did_and_then_commands_use_it() {
    let env = TestEnv::new();
    // A relative path from the command line is named as the absolute file.
    let url = "--TESSERA_DATABASE_URL=sqlite:data/tessera.db";
    let path = env.path().join("data").join("tessera.db");
    let named = format!(
        "database: {} (TESSERA_DATABASE_URL, command line)",
        path.display()
    );

    let (code, stdout, stderr) = Binary::new(env.path()).arg(url).arg("migrate").output();
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stderr.lines().next(), Some(named.as_str()), "{stderr}");
    assert_eq!(
        stdout,
        format!(
            "created the database {}\napplied 6 migration(s): 1 (users), 2 (sessions), 3 (login \
             failures), 4 (changes), 5 (signing keys), 6 (api clients); the schema is at version \
             6\n",
            path.display()
        )
    );
    assert!(path.exists());

    let (code, stdout, stderr) = Binary::new(env.path()).arg("migrate").arg(url).output();
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        stdout,
        "the database is up to date (schema version 6); nothing to migrate\n"
    );

    let (code, stdout, stderr) = Binary::new(env.path())
        .arg(url)
        .arg("user")
        .arg("add")
        .arg("bob")
        .arg("--password-stdin")
        .output_with_stdin("bob-password-1\n");
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stderr.lines().next(), Some(named.as_str()), "{stderr}");
    assert!(stdout.starts_with("created user 'bob'"), "{stdout}");
    let (code, stdout, stderr) = Binary::new(env.path())
        .arg(url)
        .arg("user")
        .arg("list")
        .output();
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stderr, format!("{named}\n"));
    assert!(
        stdout.lines().nth(1).unwrap().starts_with("bob "),
        "{stdout}"
    );
}

#[tokio::test]
async fn an_sqlite_file_without_tables_is_refused_not_given_a_schema() {
    let env = TestEnv::new();
    let path = env.path().join("tessera.db");
    {
        use sqlx::Connection as _;
        let options = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true);
        let mut other = sqlx::SqliteConnection::connect_with(&options)
            .await
            .unwrap();
        sqlx::query("PRAGMA user_version = 3")
            .execute(&mut other)
            .await
            .unwrap();
        other.close().await.unwrap();
    }
    let before = std::fs::read(&path).unwrap();
    let (code, _, stderr) = Binary::new(env.path()).arg("user").arg("list").output();
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "there is no tessera database at {} (TESSERA_DATABASE_URL, default): an SQLite \
             database with no tables; nothing was created",
            path.display()
        )),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "the file was changed"
    );
    assert_eq!(listing(env.path()), ["tessera.db"]);

    // The precise refusal of an empty file stays.
    std::fs::write(&path, b"").unwrap();
    let (code, _, stderr) = Binary::new(env.path()).arg("user").arg("list").output();
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("it is an empty file (0 bytes)"), "{stderr}");
}

/// The current Unix time, as the binary's clock reads it.
fn system_now() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap()
}

/// A database with the admin and one live session of theirs: (user id, session id).
async fn admin_session(env: &TestEnv) -> (String, String) {
    let server = Binary::new(env.path())
        .env("TESSERA_JWT_SECRET", SECRET)
        .env("TESSERA_ADMIN_PASSWORD", PASSWORD)
        .env("TESSERA_LISTEN", "127.0.0.1:0")
        .arg("serve")
        .serve();
    let login = server.login("admin", PASSWORD).await;
    assert_eq!(login.status, StatusCode::OK, "{login:?}");
    (
        login.body["user"]["id"].as_str().unwrap().to_owned(),
        login.body["session_id"].as_str().unwrap().to_owned(),
    )
}

/// An admin token signed with [`SECRET`] that expires at `exp`.
fn token_expiring_at(user: &str, session: &str, exp: i64) -> String {
    let roles = vec!["admin".to_owned()];
    let subject = Subject {
        id: user,
        session_id: session,
        name: "admin",
        roles: &roles,
    };
    // Issued ten minutes before it expired, or before now if that is earlier.
    let issued_at = exp.min(system_now()) - 600;
    crate::helpers::codec(SECRET, "tessera", 0)
        .issue(subject, issued_at, exp - issued_at)
        .unwrap()
        .token
}

/// `tessera token verify ARG` with a 60-second leeway: (exit code, stdout, stderr).
fn verify(env: &TestEnv, arg: &str, stdin: &str) -> (i32, String, String) {
    Binary::new(env.path())
        .env("TESSERA_JWT_SECRET", SECRET)
        .env("TESSERA_JWT_LEEWAY_SECONDS", "60")
        .arg("token")
        .arg("verify")
        .arg(arg)
        .output_with_stdin(stdin)
}

#[tokio::test]
async fn token_verify_says_when_only_the_leeway_accepts_a_token() {
    let env = TestEnv::new();
    let (user, session) = admin_session(&env).await;
    let now = system_now();

    // Expired 20 s ago: accepted, and said so (the leeway leaves 40 s for the test to run).
    let (code, stdout, stderr) = verify(&env, &token_expiring_at(&user, &session, now - 20), "");
    assert_eq!(code, 0, "{stdout} {stderr}");
    assert!(stdout.starts_with("valid: user 'admin'"), "{stdout}");
    let (_, said) = stdout
        .split_once(", expired ")
        .unwrap_or_else(|| panic!("{stdout}"));
    let seconds: i64 = said.split_once("s ago").unwrap().0.parse().unwrap();
    assert!((20..60).contains(&seconds), "{stdout}");
    assert!(
        stdout
            .trim_end()
            .ends_with("Z), still accepted within the 1m leeway (TESSERA_JWT_LEEWAY_SECONDS)"),
        "{stdout}"
    );
    assert!(!stdout.contains("(in 0s)"), "{stdout}");

    // Expired beyond the leeway: invalid, with how long ago and the leeway.
    let (code, stdout, _) = verify(&env, &token_expiring_at(&user, &session, now - 100), "");
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.starts_with("invalid: token expired 1m "), "{stdout}");
    assert!(
        stdout
            .trim_end()
            .ends_with("ago, beyond the 1m leeway (TESSERA_JWT_LEEWAY_SECONDS)"),
        "{stdout}"
    );

    // Not expired: when it will.
    let (code, stdout, _) = verify(&env, &token_expiring_at(&user, &session, now + 3_700), "");
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("(in 1h 1m "), "{stdout}");
}

#[tokio::test]
async fn token_verify_takes_a_pasted_bearer_value_and_reads_standard_input() {
    let env = TestEnv::new();
    let (user, session) = admin_session(&env).await;
    let token = token_expiring_at(&user, &session, system_now() + 3_600);

    for (arg, stdin) in [
        (format!("Bearer {token}"), String::new()),
        (format!("  bearer {token}\n"), String::new()),
        ("-".to_owned(), format!("{token}\n")),
        ("-".to_owned(), format!("Bearer {token}\r\nsecond line\n")),
    ] {
        let (code, stdout, stderr) = verify(&env, &arg, &stdin);
        assert_eq!(code, 0, "{arg:.10} {stdin:.10}: {stdout} {stderr}");
        assert!(stdout.starts_with("valid: user 'admin'"), "{stdout}");
    }

    let (code, stdout, stderr) = verify(&env, "-", &"a".repeat(8 * 1024 + 1));
    assert_eq!(code, 2, "{stdout} {stderr}");
    assert_eq!(
        stderr,
        "error: the first line of standard input is longer than 8192 bytes (8 KiB); an access \
         token is at most 8192 bytes\n"
    );
    let (code, _, stderr) = verify(&env, "-", "");
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("standard input holds no token"), "{stderr}");
}

#[test]
fn completions_cover_the_commands_and_the_settings_and_refuse_an_unknown_shell() {
    let env = TestEnv::new();
    let (code, script, stderr) = Binary::new(env.path())
        .arg("completions")
        .arg("bash")
        .output();
    assert_eq!(code, 0, "{stderr}");
    assert!(script.contains("complete -F _tessera"), "{script}");
    for word in [
        "migrate",
        "verify",
        "backup",
        "completions",
        "--TESSERA_DATABASE_URL",
    ] {
        assert!(script.contains(word), "no {word} in {script}");
    }
    // Settings flags around the command are taken out before clap sees the rest.
    for shell in ["zsh", "fish", "elvish", "powershell"] {
        let (code, script, stderr) = Binary::new(env.path())
            .arg("--TESSERA_LOG=debug")
            .arg("completions")
            .arg(shell)
            .arg("--TESSERA_JWT_LEEWAY_SECONDS")
            .arg("5")
            .output();
        assert_eq!(code, 0, "{shell}: {stderr}");
        assert!(script.contains("migrate"), "{shell}: {script}");
    }
    let (code, stdout, stderr) = Binary::new(env.path())
        .arg("completions")
        .arg("tcsh")
        .output();
    assert_eq!(code, 2, "{stdout}");
    assert!(
        stderr.contains("[possible values: bash, elvish, fish, powershell, zsh]"),
        "{stderr}"
    );
    assert_eq!(listing(env.path()), Vec::<String>::new());
}

#[test]
fn man_prints_one_roff_page_naming_every_command() {
    let env = TestEnv::new();
    let (code, page, stderr) = Binary::new(env.path()).arg("man").output();
    assert_eq!(code, 0, "{stderr}");
    // After the preamble that defines the apostrophe, the title comes first.
    let first_macro = page
        .lines()
        .find(|line| !line.starts_with(".ie") && !line.starts_with(".el"))
        .unwrap();
    assert!(first_macro.starts_with(".TH tessera 1 "), "{page}");
    for command in [
        "tessera serve",
        "tessera migrate",
        "tessera token verify",
        "tessera user add",
        "tessera session revoke",
        "tessera db backup",
        "tessera completions",
        "tessera man",
    ] {
        assert!(page.contains(&format!(".SS \"{command}\"")), "no {command}");
    }
    assert!(page.contains("TESSERA_DATABASE_URL"), "{page}");
    assert_eq!(listing(env.path()), Vec::<String>::new());
}

/// `tessera db check` names the schema version, the change feed's end and every running
/// instance with how far it has applied the feed; an instance that stopped cleanly leaves
/// the registry.
#[test]
fn db_check_lists_the_running_instances_and_how_far_they_applied_the_feed() {
    let env = TestEnv::new();
    let binary = || {
        Binary::new(env.path())
            .env("TESSERA_JWT_SECRET", SECRET)
            .env("TESSERA_ADMIN_PASSWORD", PASSWORD)
            .env("TESSERA_LISTEN", "127.0.0.1:0")
    };
    let server = binary().arg("serve").serve();
    let (code, stdout, stderr) = binary().arg("db").arg("check").output();
    assert_eq!(code, 0, "stdout {stdout} stderr {stderr}");
    assert!(
        stdout.starts_with("connected; schema version 6 (up to date)\nchange feed: at "),
        "{stdout}"
    );
    assert!(
        stdout.contains("instances: 1 registered, 1 within their lease (5 s)\n"),
        "{stdout}"
    );
    let port = server.base.rsplit(':').next().unwrap().to_owned();
    let line = stdout
        .lines()
        .find(|line| line.contains(&format!("127.0.0.1:{port} pid ")))
        .unwrap_or_else(|| panic!("no line for the server on port {port}: {stdout}"));
    assert!(
        line.contains("(up to date)") && line.ends_with("serving"),
        "{line}"
    );
    let (code, _) = server.terminate_and_wait();
    assert_eq!(code, 0);
    let (code, stdout, _) = binary().arg("db").arg("check").output();
    assert_eq!(code, 0);
    assert!(
        stdout.contains("instances: 0 registered"),
        "a clean stop leaves the registry: {stdout}"
    );
}
