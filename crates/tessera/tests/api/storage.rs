//! The database under locks, shutdowns, backups and hostile files, as users and operators see
//! it: HTTP answers of the real server, files left by the real binary.

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;
use sqlx::Connection as _;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};

use crate::helpers::{ADMIN_PASSWORD, Answer, Binary, Grant, TestEnv};

const SECRET: &str = "StorageSecretStorageSecret123456";
const PASSWORD: &str = "storage-admin-password";

/// Another process's connection on the database file.
async fn other_process(path: &Path) -> SqliteConnection {
    let options = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true);
    SqliteConnection::connect_with(&options).await.unwrap()
}

async fn execute(connection: &mut SqliteConnection, sql: &'static str) {
    sqlx::query(sql).execute(&mut *connection).await.unwrap();
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn assert_database_busy(answer: &Answer) {
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE, "{answer:?}");
    assert_eq!(answer.header("retry-after"), Some("1"), "{answer:?}");
    assert_eq!(answer.body["error"], "database_busy", "{answer:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_locked_by_another_process_answers_503_and_recovers_when_released() {
    let env = TestEnv::new();
    let path = env.path().join("tessera.db");
    let server = env
        .spawn_with_busy_timeout(Duration::from_millis(150))
        .await;
    let admin = server.grant("admin", ADMIN_PASSWORD).await;
    assert_eq!(server.get("/readyz", None).await.status, StatusCode::OK);

    let mut holder = other_process(&path).await;
    execute(&mut holder, "BEGIN EXCLUSIVE").await;
    let started = Instant::now();
    assert_database_busy(&server.login("admin", ADMIN_PASSWORD).await);
    assert_database_busy(&server.refresh(&admin.refresh).await);
    let create = json!({ "username": "alice", "password": "alice-password-1" });
    assert_database_busy(
        &server
            .post_json("/api/users", Some(&admin.access), &create)
            .await,
    );
    let ready = server.get("/readyz", None).await;
    assert_eq!(ready.status, StatusCode::SERVICE_UNAVAILABLE, "{ready:?}");
    assert_eq!(ready.body["error"], "database_unavailable", "{ready:?}");
    assert!(ready.body["message"].is_string(), "{ready:?}");
    // Each waited about the busy timeout, not the old five seconds.
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
    // Checking a token needs no lock.
    assert_eq!(server.me(&admin.access).await.status, StatusCode::OK);

    execute(&mut holder, "ROLLBACK").await;
    assert_eq!(server.get("/readyz", None).await.status, StatusCode::OK);
    // The refused refresh changed nothing: the same token rotates now.
    Grant::from(&server.refresh(&admin.refresh).await);
    Grant::from(&server.login("admin", ADMIN_PASSWORD).await);
    let created = server
        .post_json("/api/users", Some(&admin.access), &create)
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{created:?}");
}

/// A failed login is counted in the database; when that write cannot be made, the attempt
/// is refused as unavailable instead of answered (and left uncounted), so holding the lock
/// never buys an attacker free guesses.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_login_that_cannot_be_counted_is_a_503_not_a_free_guess() {
    let env = TestEnv::new();
    let path = env.path().join("tessera.db");
    let server = env
        .spawn_with_busy_timeout(Duration::from_millis(150))
        .await;
    let mut holder = other_process(&path).await;
    execute(&mut holder, "BEGIN EXCLUSIVE").await;
    for name in ["admin", "ghost"] {
        assert_database_busy(&server.login(name, "wrong-password").await);
    }
    execute(&mut holder, "ROLLBACK").await;
    let wrong = server.login("admin", "wrong-password").await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED, "{wrong:?}");
    Grant::from(&server.login("admin", ADMIN_PASSWORD).await);
}

/// When the failed-login counters cannot be read, no attempt goes ahead: even the right
/// password is refused with the `503` of a busy database, never a `500`, never let through.
#[tokio::test]
async fn unreadable_failure_counters_refuse_every_login_with_503() {
    let env = TestEnv::new();
    let server = env.spawn(&[]).await;
    let admin = server.grant("admin", ADMIN_PASSWORD).await;
    // Another program damages the schema under the running server.
    let mut other = other_process(&env.path().join("tessera.db")).await;
    execute(&mut other, "DROP TABLE login_failures").await;

    for password in [ADMIN_PASSWORD, "wrong-password"] {
        assert_database_busy(&server.login("admin", password).await);
    }
    assert_database_busy(&server.login("ghost", "wrong-password").await);
    // What does not log in is unaffected.
    assert_eq!(server.me(&admin.access).await.status, StatusCode::OK);
    Grant::from(&server.refresh(&admin.refresh).await);
}

/// The real binary on `dir/name` with a fixed secret and admin password.
fn binary(dir: &Path, database: &Path) -> Binary {
    Binary::new(dir)
        .arg(format!(
            "--TESSERA_DATABASE_URL=sqlite://{}",
            database.display()
        ))
        .arg(format!("--TESSERA_JWT_SECRET={SECRET}"))
        .env("TESSERA_ADMIN_PASSWORD", PASSWORD)
        .env("TESSERA_LISTEN", "127.0.0.1:0")
}

/// Creates `username` through the admin API of a running binary.
async fn create_user(base: &str, admin: &str, username: &str) {
    let response = reqwest::Client::new()
        .post(format!("{base}/api/users"))
        .bearer_auth(admin)
        .json(&json!({ "username": username, "password": "a-long-password" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
}

/// `tessera user list` on `database`: the usernames.
fn usernames(dir: &Path, database: &Path) -> Vec<String> {
    let (code, stdout, stderr) = binary(dir, database).arg("user").arg("list").output();
    assert_eq!(code, 0, "{stderr}");
    stdout
        .lines()
        .skip(1)
        .filter_map(|line| line.split_whitespace().next().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn sigterm_leaves_every_user_in_the_main_database_file() {
    let env = TestEnv::new();
    let database = env.path().join("tessera.db");
    let server = binary(env.path(), &database).arg("serve").serve();
    let login = server.login("admin", PASSWORD).await;
    let admin = Grant::from(&login);
    for name in ["alice", "bob", "carol"] {
        create_user(&server.base, &admin.access, name).await;
    }
    let (code, stderr) = server.terminate_and_wait();
    assert_eq!(code, 0, "{stderr}");

    // Only the main file, as a copy that misses the -wal file would take.
    let elsewhere = tempfile::tempdir().unwrap();
    let copy = elsewhere.path().join("tessera.db");
    std::fs::copy(&database, &copy).unwrap();
    assert_eq!(
        usernames(elsewhere.path(), &copy),
        ["admin", "alice", "bob", "carol"]
    );
}

#[tokio::test]
async fn database_files_are_private_under_umask_022_and_an_open_directory_is_warned_about() {
    let env = TestEnv::new();
    let open = env.path().join("shared");
    std::fs::create_dir(&open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
    let database = open.join("tessera.db");
    let server = binary(env.path(), &database)
        .umask("022")
        .arg("serve")
        .serve();
    Grant::from(&server.login("admin", PASSWORD).await);
    for suffix in ["", "-wal", "-shm"] {
        let file = open.join(format!("tessera.db{suffix}"));
        assert_eq!(mode(&file), 0o600, "{}", file.display());
    }
    let stderr = server.stop();
    assert!(
        stderr.contains("the database directory is writable by group or others"),
        "{stderr}"
    );
}

#[tokio::test]
async fn db_backup_copies_a_running_servers_database_to_a_new_private_file() {
    let env = TestEnv::new();
    let database = env.path().join("tessera.db");
    let server = binary(env.path(), &database).arg("serve").serve();
    let admin = Grant::from(&server.login("admin", PASSWORD).await);
    create_user(&server.base, &admin.access, "alice").await;

    let backup = env.path().join("backups").join("tessera-backup.db");
    std::fs::create_dir(backup.parent().unwrap()).unwrap();
    let backup_arg = backup.display().to_string();
    let (code, stdout, stderr) = binary(env.path(), &database)
        .arg("db")
        .arg("backup")
        .arg(&backup_arg)
        .output();
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("backed up the database to"), "{stdout}");
    assert_eq!(mode(&backup), 0o600);
    // The server keeps serving meanwhile.
    create_user(&server.base, &admin.access, "bob").await;
    assert_eq!(usernames(env.path(), &backup), ["admin", "alice"]);

    let before = std::fs::read(&backup).unwrap();
    let (code, _, stderr) = binary(env.path(), &database)
        .arg("db")
        .arg("backup")
        .arg(&backup_arg)
        .output();
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("already exists; choose a new path"),
        "{stderr}"
    );
    assert_eq!(std::fs::read(&backup).unwrap(), before);
}

#[tokio::test]
async fn hostile_files_at_the_database_path_stop_start_up_with_a_clear_message() {
    let env = TestEnv::new();
    let empty = env.path().join("empty.db");
    std::fs::write(&empty, b"").unwrap();
    let text = env.path().join("text.db");
    std::fs::write(&text, b"user,password\n").unwrap();
    let foreign = env.path().join("foreign.db");
    let mut other = other_process(&foreign).await;
    execute(&mut other, "CREATE TABLE photos (id INTEGER PRIMARY KEY)").await;
    other.close().await.unwrap();
    let newer = env.path().join("newer.db");
    let (code, _, stderr) = binary(env.path(), &newer).arg("migrate").output();
    assert_eq!(code, 0, "{stderr}");
    let mut future = other_process(&newer).await;
    execute(
        &mut future,
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (9001, 'from the future', 1, x'00', 1)",
    )
    .await;
    future.close().await.unwrap();

    for (file, expected) in [
        (
            &empty,
            "it is an empty file (0 bytes), not a tessera database",
        ),
        (&text, "it is not an SQLite database"),
        (
            &foreign,
            "another application (tables: photos; no tessera schema)",
        ),
        (
            &newer,
            "was written by a newer tessera: it has schema version(s) 9001",
        ),
    ] {
        let before = std::fs::read(file).unwrap();
        let (code, stdout, stderr) = binary(env.path(), file).arg("serve").output();
        assert_eq!(code, 1, "{}: {stdout} {stderr}", file.display());
        assert!(stderr.contains(expected), "{}: {stderr}", file.display());
        assert!(
            stderr.contains(&file.display().to_string()),
            "{}: {stderr}",
            file.display()
        );
        assert_eq!(std::fs::read(file).unwrap(), before, "{}", file.display());
    }
}
