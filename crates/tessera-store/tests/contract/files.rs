//! SQLite-specific: the database file under locks, crashes and hostile contents.
//!
//! Each test works on a real file in its own temporary directory; a "second process" is a
//! plain sqlx connection on the same file.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sqlx::Connection as _;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use tessera_store::{Opened, SqliteOptions, SqliteStore, Store, StoreError};

use crate::{T0, create};

/// A short busy timeout, so a test of a held lock waits a fraction of a second.
const SHORT: Duration = Duration::from_millis(150);

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// A plain connection on `path`, as another program would open it.
async fn other_process(path: &Path) -> SqliteConnection {
    let options = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true);
    SqliteConnection::connect_with(&options).await.unwrap()
}

async fn execute(connection: &mut SqliteConnection, sql: &'static str) {
    sqlx::query(sql).execute(&mut *connection).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_and_its_side_files_are_readable_by_the_owner_only() {
    let dir = tempfile::tempdir().unwrap();
    // A directory of its own that the store creates, with the process's usual umask.
    let path = dir.path().join("data").join("tessera.db");
    let store = SqliteStore::open(&path).await.unwrap();
    create(&store, "alice", T0).await;
    for file in [path.clone(), sibling(&path, "-wal"), sibling(&path, "-shm")] {
        assert_eq!(mode(&file), 0o600, "{}", file.display());
    }
    assert_eq!(mode(path.parent().unwrap()), 0o700);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_leaves_every_write_in_the_main_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tessera.db");
    let store = SqliteStore::open(&path).await.unwrap();
    for name in ["alice", "bob", "carol"] {
        create(&store, name, T0).await;
    }
    store.close().await.unwrap();

    // Only the main file, as a file-level copy that skipped the -wal file would take.
    let copy_dir = tempfile::tempdir().unwrap();
    let copy = copy_dir.path().join("tessera.db");
    std::fs::copy(&path, &copy).unwrap();
    let reopened = SqliteStore::open(&copy).await.unwrap();
    let names: Vec<String> = reopened
        .list_users()
        .await
        .unwrap()
        .into_iter()
        .map(|user| user.username)
        .collect();
    assert_eq!(names, ["alice", "bob", "carol"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_copies_a_live_database_to_a_new_private_file_and_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tessera.db");
    let store = SqliteStore::open(&path).await.unwrap();
    let alice = create(&store, "alice", T0).await;
    // Another process is in the middle of a write while the backup runs.
    let mut writer = other_process(&path).await;
    execute(&mut writer, "BEGIN IMMEDIATE").await;
    execute(&mut writer, "UPDATE users SET active = 0").await;

    let backup = dir.path().join("backup.db");
    store.backup(&backup).await.unwrap();
    execute(&mut writer, "COMMIT").await;
    assert_eq!(mode(&backup), 0o600);

    let restored = SqliteStore::open(&backup).await.unwrap();
    let users = restored.list_users().await.unwrap();
    // The snapshot before the uncommitted write, consistent and complete.
    assert_eq!(users, [alice]);

    let before = std::fs::read(&backup).unwrap();
    let error = store.backup(&backup).await.unwrap_err();
    assert!(matches!(error, StoreError::BackupExists(_)), "{error:?}");
    assert_eq!(
        error.to_string(),
        format!(
            "the backup file {} already exists; choose a new path",
            backup.display()
        )
    );
    assert_eq!(
        std::fs::read(&backup).unwrap(),
        before,
        "the file was touched"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lock_held_elsewhere_is_busy_after_the_timeout_and_clears_when_released() {
    for _ in 0..3 {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tessera.db");
        let store = SqliteStore::open_with(
            &path,
            SqliteOptions {
                busy_timeout: SHORT,
                ..SqliteOptions::default()
            },
        )
        .await
        .unwrap();
        let alice = create(&store, "alice", T0).await;
        store.ping().await.unwrap();

        let mut holder = other_process(&path).await;
        execute(&mut holder, "BEGIN EXCLUSIVE").await;
        let started = Instant::now();
        let write = store.create_user(crate::new_user("bob"), T0).await;
        let waited = started.elapsed();
        let error = write.unwrap_err();
        assert!(error.is_busy(), "{error:?}");
        assert_eq!(
            error.to_string(),
            "the database is locked by another writer"
        );
        assert!(waited >= SHORT, "gave up after {waited:?}");
        assert!(waited < Duration::from_secs(3), "waited {waited:?}");

        let error = store.ping().await.unwrap_err();
        assert!(error.is_busy(), "{error:?}");
        // Reads go on: WAL readers do not wait for the writer.
        assert_eq!(
            store.user_by_id(alice.id).await.unwrap(),
            Some(alice.clone())
        );

        execute(&mut holder, "ROLLBACK").await;
        store.ping().await.unwrap();
        create(&store, "bob", T0).await;
        assert_eq!(store.count_users().await.unwrap(), 2);
    }
}

/// Opening `path` fails, and neither the file nor its directory changed.
async fn refused(path: &Path) -> StoreError {
    let before = std::fs::read(path).unwrap();
    let listing = || {
        let mut names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
        names.sort();
        names
    };
    let files = listing();
    let error = match SqliteStore::open(path).await {
        Ok(store) => panic!("{} was opened: {store:?}", path.display()),
        Err(error) => error,
    };
    assert_eq!(std::fs::read(path).unwrap(), before, "the file was changed");
    assert_eq!(listing(), files, "files appeared next to the database");
    error
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_or_foreign_file_is_refused_not_initialised() {
    let dir = tempfile::tempdir().unwrap();

    let empty = dir.path().join("empty.db");
    std::fs::write(&empty, b"").unwrap();
    let message = refused(&empty).await.to_string();
    assert_eq!(
        message,
        format!(
            "refusing to use {}: it is an empty file (0 bytes), not a tessera database; move it \
             away, or set TESSERA_DATABASE_URL to a new file (tessera creates it)",
            empty.display()
        )
    );

    let text = dir.path().join("notes.db");
    std::fs::write(&text, b"{\"users\": []}\n").unwrap();
    let error = refused(&text).await;
    assert!(matches!(error, StoreError::NotTessera { .. }), "{error:?}");
    let message = error.to_string();
    assert!(
        message.contains(&text.display().to_string())
            && message.contains("not an SQLite database")
            && message.contains("move it away"),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sqlite_database_of_another_application_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.db");
    let mut other = other_process(&path).await;
    execute(&mut other, "CREATE TABLE invoices (id INTEGER PRIMARY KEY)").await;
    execute(
        &mut other,
        "CREATE TABLE customers (id INTEGER PRIMARY KEY)",
    )
    .await;
    other.close().await.unwrap();

    let error = refused(&path).await;
    assert!(matches!(error, StoreError::NotTessera { .. }), "{error:?}");
    assert_eq!(
        error.to_string(),
        format!(
            "refusing to use {}: it is an SQLite database of another application (tables: \
             customers, invoices; no tessera schema), not a tessera database; move it away, or \
             set TESSERA_DATABASE_URL to a new file (tessera creates it)",
            path.display()
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_of_a_newer_tessera_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tessera.db");
    let store = SqliteStore::open(&path).await.unwrap();
    create(&store, "alice", T0).await;
    store.close().await.unwrap();
    let mut newer = other_process(&path).await;
    execute(
        &mut newer,
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (9001, 'from the future', 1, x'00', 1)",
    )
    .await;
    newer.close().await.unwrap();

    let error = refused(&path).await;
    assert!(matches!(error, StoreError::NewerSchema { .. }), "{error:?}");
    let message = error.to_string();
    let start = format!(
        "the database at {} was written by a newer tessera: it has schema version(s) 9001 that \
         this build does not know (it knows up to ",
        path.display()
    );
    assert!(message.starts_with(&start), "{message}");
    assert!(
        message.ends_with("); run the newer tessera, or restore a backup taken before the upgrade"),
        "{message}"
    );
}

/// The options of a command that must not create a database.
fn existing_only() -> SqliteOptions {
    SqliteOptions {
        create_if_missing: false,
        ..SqliteOptions::default()
    }
}

/// Every file and folder under `dir`, sorted.
fn tree(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(next) = pending.pop() {
        for entry in std::fs::read_dir(&next).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path.clone());
            }
            found.push(path);
        }
    }
    found.sort();
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opening_an_existing_database_only_creates_nothing_when_there_is_none() {
    let dir = tempfile::tempdir().unwrap();
    for path in [
        dir.path().join("tessera.db"),
        dir.path().join("missing").join("folder").join("tessera.db"),
    ] {
        let error = SqliteStore::open_with(&path, existing_only())
            .await
            .unwrap_err();
        assert!(matches!(error, StoreError::Missing { .. }), "{error:?}");
        assert_eq!(
            error.to_string(),
            format!(
                "there is no tessera database at {}: no such file",
                path.display()
            )
        );
        assert_eq!(
            tree(dir.path()),
            Vec::<PathBuf>::new(),
            "something was created"
        );
    }

    // An SQLite file without tables is not given tessera's schema either.
    let bare = dir.path().join("bare.db");
    let mut other = other_process(&bare).await;
    execute(&mut other, "PRAGMA user_version = 7").await;
    other.close().await.unwrap();
    let before = std::fs::read(&bare).unwrap();
    let error = SqliteStore::open_with(&bare, existing_only())
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "there is no tessera database at {}: an SQLite database with no tables",
            bare.display()
        )
    );
    assert_eq!(
        std::fs::read(&bare).unwrap(),
        before,
        "the file was changed"
    );
    assert_eq!(
        tree(dir.path()),
        std::slice::from_ref(&bare),
        "files appeared next to it"
    );

    // The precise refusals stay as they were.
    let empty = dir.path().join("empty.db");
    std::fs::write(&empty, b"").unwrap();
    let error = SqliteStore::open_with(&empty, existing_only())
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::NotTessera { .. }), "{error:?}");

    // A database created once opens, with what opening did said each time.
    let path = dir.path().join("tessera.db");
    let store = SqliteStore::open(&path).await.unwrap();
    let created = store.opened().clone();
    assert!(created.created, "{created:?}");
    assert_eq!(
        created.applied.iter().map(|(v, _)| *v).collect::<Vec<_>>(),
        [1, 2, 3, 4, 5, 6]
    );
    assert_eq!(created.applied[0].1, "users");
    assert_eq!(created.schema_version, 6);
    create(&store, "alice", T0).await;
    store.close().await.unwrap();
    let store = SqliteStore::open_with(&path, existing_only())
        .await
        .unwrap();
    assert_eq!(
        store.opened(),
        &Opened {
            created: false,
            applied: Vec::new(),
            schema_version: 6,
        }
    );
    assert_eq!(store.count_users().await.unwrap(), 1);
    store.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_existing_refuses_a_missing_database_that_migrate_then_creates() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data").join("tessera.db");
    let url = format!("sqlite://{}", path.display());
    let error = tessera_store::connect_existing(&url).await.unwrap_err();
    assert!(matches!(error, StoreError::Missing { .. }), "{error:?}");
    assert!(!path.parent().unwrap().exists(), "the folder was created");

    let first = tessera_store::migrate(&url).await.unwrap();
    assert!(first.created && first.applied.len() == 6, "{first:?}");
    assert_eq!(mode(&path), 0o600);
    let again = tessera_store::migrate(&url).await.unwrap();
    assert!(!again.created && again.applied.is_empty(), "{again:?}");

    let store = tessera_store::connect_existing(&url).await.unwrap();
    assert_eq!(store.count_users().await.unwrap(), 0);
    store.close().await.unwrap();
}
