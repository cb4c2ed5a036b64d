//! Opening a SQLite database file: the file itself, its permissions, the connection pools and
//! the schema.
//!
//! Owns what happens before the first query: a new file is created `0600` by us (SQLite gives
//! its `-wal` and `-shm` files the main file's mode), an existing file is used only when it is
//! an SQLite database that is empty or tessera's own, at a schema this build knows, and the
//! migrations run under the write lock. It must never initialise, migrate or otherwise write
//! to a file it has not recognised. Opened with `create_if_missing: false`, it creates
//! nothing at all: no file, no folder, and no schema in an SQLite file without tables.

use std::collections::BTreeSet;
use std::io::{ErrorKind, Read as _};
use std::path::Path;
use std::time::Duration;

use sqlx::Connection as _;
use sqlx::migrate::Migrator;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};

use super::is_busy;
use crate::StoreError;

/// Schema migrations, embedded at compile time.
pub(super) static MIGRATOR: Migrator = sqlx::migrate!("./migrations/sqlite");

/// How long a write waits for another process's lock before failing with
/// [`StoreError::Busy`]. Writers of this process queue for the one writer connection instead
/// of waiting here, so only other processes (the command line, a second server) and
/// checkpoints can make a write wait, and they hold the lock for milliseconds: two seconds is
/// ample for them, yet short enough that a client waiting for an answer gets a prompt `503`
/// with `Retry-After` when something holds the lock for real.
pub const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(2);

/// How long the readiness probe waits for the write lock.
pub(super) const PROBE_BUSY_TIMEOUT: Duration = Duration::from_millis(200);

/// Reading connections per store; writes go through one connection of their own.
const READ_CONNECTIONS: u32 = 4;

/// How often opening retries when another process holds the new file's lock, or has just
/// created the file and not yet written its first page.
const OPEN_ATTEMPTS: u32 = 50;
/// The pause between those attempts.
const OPEN_RETRY_PAUSE: Duration = Duration::from_millis(20);

/// The first 16 bytes of every SQLite database file.
const SQLITE_HEADER: &[u8; 16] = b"SQLite format 3\0";

/// At most this many foreign table names are named in an error.
const TABLES_NAMED: usize = 5;

/// How a SQLite store is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SqliteOptions {
    /// How long a write waits for another process's lock before failing with
    /// [`StoreError::Busy`].
    pub busy_timeout: Duration,
    /// Whether a missing database is created (the default). When `false`, opening a path
    /// where no file exists, or an SQLite file with no tables yet, fails with
    /// [`StoreError::Missing`] and leaves the file system as it was; an existing tessera
    /// database still has its pending migrations applied.
    pub create_if_missing: bool,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        Self {
            busy_timeout: DEFAULT_BUSY_TIMEOUT,
            create_if_missing: true,
        }
    }
}

/// What opening a database did to it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Opened {
    /// The database did not exist and was created (the SQLite file, or the PostgreSQL
    /// database).
    pub created: bool,
    /// The migrations applied while opening, oldest first: `(version, description)`.
    pub applied: Vec<(i64, String)>,
    /// The schema version the database is at now (the newest migration this build knows).
    pub schema_version: i64,
}

/// The three pools of one store: reads, the one writer, and the readiness probe.
pub(super) struct Pools {
    pub(super) reader: SqlitePool,
    pub(super) writer: SqlitePool,
    pub(super) probe: SqlitePool,
}

/// Prepares the file at `path` and opens the pools on it, with the schema migrated.
pub(super) async fn open(
    path: &Path,
    options: SqliteOptions,
) -> Result<(Pools, Opened), StoreError> {
    let connect_error = |source| StoreError::Connect {
        path: path.to_path_buf(),
        source,
    };
    if options.create_if_missing
        && let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty())
    {
        create_private_dirs(parent).map_err(|error| connect_error(sqlx::Error::Io(error)))?;
    }
    let created = prepare_file(path, options.create_if_missing).await?;
    warn_about_directory(path);
    let plain = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(false)
        .busy_timeout(options.busy_timeout);
    let applied = check_before_opening(path, &plain).await?;
    if !options.create_if_missing && applied.is_none() {
        return Err(missing(path, "an SQLite database with no tables"));
    }
    let connect = plain
        .journal_mode(SqliteJournalMode::Wal)
        // FULL: in WAL mode every commit syncs the WAL before it returns, so a write that
        // was answered survives a power cut or an OS crash.
        .synchronous(SqliteSynchronous::Full)
        .foreign_keys(true);
    // The writer opens first: it is the connection that may have to switch a new file to WAL.
    let writer = connect_pool(
        SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(options.busy_timeout.max(Duration::from_secs(1))),
        connect.clone(),
    )
    .await
    .map_err(connect_error)?;
    let applied = migrate(path, &writer).await?;
    let reader = connect_pool(
        SqlitePoolOptions::new().max_connections(READ_CONNECTIONS),
        connect.clone(),
    )
    .await
    .map_err(connect_error)?;
    let probe = connect_pool(
        SqlitePoolOptions::new().max_connections(1),
        connect.busy_timeout(PROBE_BUSY_TIMEOUT),
    )
    .await
    .map_err(connect_error)?;
    let opened = Opened {
        created,
        applied,
        schema_version: MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0),
    };
    Ok((
        Pools {
            reader,
            writer,
            probe,
        },
        opened,
    ))
}

/// Creates missing parent directories, readable only by the owner.
fn create_private_dirs(parent: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(parent)
}

/// Warns when others than the owner may create or replace files next to the database
/// (its `-wal` and `-shm` files, or the database itself).
fn warn_about_directory(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let directory = match path.parent().filter(|p| !p.as_os_str().is_empty()) {
            Some(parent) => parent,
            None => Path::new("."),
        };
        if let Ok(metadata) = std::fs::metadata(directory) {
            let mode = metadata.permissions().mode() & 0o7777;
            if mode & 0o022 != 0 {
                tracing::warn!(
                    directory = %directory.display(),
                    mode = format_args!("{mode:o}"),
                    "the database directory is writable by group or others, who could replace \
                     the database or its -wal file; make it writable by the owner only \
                     (chmod 700)"
                );
            }
        }
    }
}

/// Creates a missing database file with mode `0600` (when `create`; `true` when it did), or
/// checks that an existing one is an SQLite database (an empty file only when another process
/// is initialising it right now).
async fn prepare_file(path: &Path, create: bool) -> Result<bool, StoreError> {
    if create {
        let mut new_file = std::fs::OpenOptions::new();
        new_file.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut new_file, 0o600);
        match new_file.open(path) {
            Ok(_) => return Ok(true),
            Err(error) if error.kind() == ErrorKind::AlreadyExists => {}
            Err(error) => {
                return Err(StoreError::Connect {
                    path: path.to_path_buf(),
                    source: sqlx::Error::Io(error),
                });
            }
        }
    }
    let mut attempt = 1;
    loop {
        match read_header(path)? {
            Header::Sqlite => {
                warn_about_file_mode(path);
                return Ok(false);
            }
            Header::Empty if attempt < OPEN_ATTEMPTS => {
                // Another process may have created the file an instant ago; it writes the
                // first page when it switches the file to WAL.
                attempt += 1;
                tokio::time::sleep(OPEN_RETRY_PAUSE).await;
            }
            Header::Empty => {
                return Err(not_tessera(path, "an empty file (0 bytes)".to_owned()));
            }
            Header::Other => {
                return Err(not_tessera(
                    path,
                    "not an SQLite database (it does not start with the SQLite header)".to_owned(),
                ));
            }
        }
    }
}

/// What the first bytes of a file say it is.
enum Header {
    Empty,
    Sqlite,
    Other,
}

fn read_header(path: &Path) -> Result<Header, StoreError> {
    let io_error = |error| StoreError::Connect {
        path: path.to_path_buf(),
        source: sqlx::Error::Io(error),
    };
    let mut file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(error) if error.kind() == ErrorKind::NotFound => {
            return Err(missing(path, "no such file"));
        }
        Err(error) => return Err(io_error(error)),
    };
    if !file.metadata().map_err(io_error)?.is_file() {
        return Ok(Header::Other);
    }
    let mut header = Vec::with_capacity(SQLITE_HEADER.len());
    file.by_ref()
        .take(SQLITE_HEADER.len() as u64)
        .read_to_end(&mut header)
        .map_err(io_error)?;
    Ok(if header.is_empty() {
        Header::Empty
    } else if header == SQLITE_HEADER {
        Header::Sqlite
    } else {
        Header::Other
    })
}

/// Warns when an existing database file can be read by others than its owner.
fn warn_about_file_mode(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        if let Ok(metadata) = std::fs::metadata(path) {
            let mode = metadata.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                tracing::warn!(
                    path = %path.display(),
                    mode = format_args!("{mode:o}"),
                    "the database file is accessible to group or others and holds password \
                     hashes; restrict it to the owner (chmod 600 on it and its -wal and -shm files)"
                );
            }
        }
    }
}

fn missing(path: &Path, found: &'static str) -> StoreError {
    StoreError::Missing {
        path: path.to_path_buf(),
        found,
    }
}

fn not_tessera(path: &Path, found: String) -> StoreError {
    StoreError::NotTessera {
        path: path.to_path_buf(),
        found,
    }
}

/// Connects a pool. Switching a brand-new file to WAL needs an exclusive lock, and SQLite
/// answers `SQLITE_BUSY` at once (without its busy handler) when another process is doing the
/// same, so that one case is retried for up to a second.
async fn connect_pool(
    pool: SqlitePoolOptions,
    options: SqliteConnectOptions,
) -> Result<SqlitePool, sqlx::Error> {
    let mut attempt = 1;
    loop {
        match pool.clone().connect_with(options.clone()).await {
            Err(error) if attempt < OPEN_ATTEMPTS && is_busy(&error) => {
                attempt += 1;
                tokio::time::sleep(OPEN_RETRY_PAUSE).await;
            }
            other => return other,
        }
    }
}

/// Checks, on a connection that changes nothing (no journal mode is set), that the file is
/// empty or tessera's at a schema this build knows, before any pool switches it to WAL; see
/// [`check_schema`] for the answer.
async fn check_before_opening(
    path: &Path,
    options: &SqliteConnectOptions,
) -> Result<Option<Vec<i64>>, StoreError> {
    let connect_error = |source| StoreError::Connect {
        path: path.to_path_buf(),
        source,
    };
    let mut connection = SqliteConnection::connect_with(options)
        .await
        .map_err(connect_error)?;
    let checked = check_schema(path, &mut connection).await;
    connection.close().await.map_err(connect_error)?;
    checked
}

/// Refuses an SQLite database of another application, and one with schema versions this
/// build does not know. Otherwise answers the schema versions applied, or `None` when the
/// database has no tables at all.
async fn check_schema(
    path: &Path,
    connection: &mut SqliteConnection,
) -> Result<Option<Vec<i64>>, StoreError> {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_schema WHERE type = 'table' \
         AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name",
    )
    .fetch_all(&mut *connection)
    .await
    .map_err(|error| StoreError::Migrate(error.into()))?;
    if tables.iter().any(|name| name == "_sqlx_migrations") {
        let applied: Vec<i64> = sqlx::query_scalar(
            "SELECT version FROM _sqlx_migrations WHERE success ORDER BY version",
        )
        .fetch_all(&mut *connection)
        .await
        .map_err(|error| StoreError::Migrate(error.into()))?;
        let known: BTreeSet<i64> = MIGRATOR.iter().map(|migration| migration.version).collect();
        let unknown: Vec<i64> = applied
            .iter()
            .copied()
            .filter(|version| !known.contains(version))
            .collect();
        if !unknown.is_empty() {
            return Err(StoreError::NewerSchema {
                path: path.to_path_buf(),
                unknown,
                known: known.last().copied().unwrap_or(0),
            });
        }
        return Ok(Some(applied));
    } else if !tables.is_empty() {
        let mut named: Vec<&str> = tables
            .iter()
            .map(String::as_str)
            .take(TABLES_NAMED)
            .collect();
        if tables.len() > TABLES_NAMED {
            named.push("…");
        }
        return Err(not_tessera(
            path,
            format!(
                "an SQLite database of another application (tables: {}; no tessera schema)",
                named.join(", ")
            ),
        ));
    }
    Ok(None)
}

/// Checks the schema again and applies the pending migrations, all inside one
/// `BEGIN IMMEDIATE` transaction: SQLite's migrator takes no lock, so without it two
/// processes opening a new file at once could both apply them. Answers the migrations it
/// applied.
async fn migrate(path: &Path, pool: &SqlitePool) -> Result<Vec<(i64, String)>, StoreError> {
    let mut transaction = pool
        .begin_with("BEGIN IMMEDIATE")
        .await
        .map_err(|error| StoreError::Migrate(error.into()))?;
    let before = check_schema(path, &mut transaction)
        .await?
        .unwrap_or_default();
    let pending: Vec<(i64, String)> = MIGRATOR
        .iter()
        .filter(|migration| {
            !migration.migration_type.is_down_migration() && !before.contains(&migration.version)
        })
        .map(|migration| (migration.version, migration.description.to_string()))
        .collect();
    MIGRATOR
        .run(&mut *transaction)
        .await
        .map_err(StoreError::Migrate)?;
    transaction
        .commit()
        .await
        .map_err(|error| StoreError::Migrate(error.into()))?;
    Ok(pending)
}
