//! Opening a PostgreSQL database: connecting, creating the database when asked to, checking
//! that it is tessera's, and migrating it.
//!
//! It must never migrate a database that holds another application's tables, and with
//! `create_if_missing: false` it creates nothing: no database and no schema. Checking and
//! migrating happen on one connection that holds a session-level advisory lock throughout,
//! so instances opening one database at once check and migrate one after the other (sqlx's
//! migrator takes its own advisory lock too, on the same connection).

use std::collections::BTreeSet;
use std::str::FromStr as _;
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sqlx::{AssertSqlSafe, Connection as _};

use crate::url::redact_url_password;
use crate::{Opened, StoreError};

/// Schema migrations, embedded at compile time.
pub(super) static MIGRATOR: Migrator = sqlx::migrate!("./migrations/postgres");

/// The advisory lock held while a database is checked and migrated: tessera's own key, so it
/// never waits behind another application's locks on the same server.
const MIGRATION_LOCK: i64 = 0x7465_7373_6572_6101;

/// SQLSTATE `invalid_catalog_name`: the database named in the URL does not exist.
const NO_SUCH_DATABASE: &str = "3D000";
/// SQLSTATE `duplicate_database`: another process created it first.
const DUPLICATE_DATABASE: &str = "42P04";
/// SQLSTATE `unique_violation`: what a racing `CREATE DATABASE` may answer instead.
const UNIQUE_VIOLATION: &str = "23505";

/// The database `CREATE DATABASE` is sent through.
const MAINTENANCE_DATABASE: &str = "postgres";

/// How long one attempt to connect may take (TCP, TLS and the login) before it fails; sqlx
/// sets no limit of its own on a single connection, and a server that drops packets would
/// otherwise hold a start for the operating system's TCP timeout (minutes).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Connects once, within [`CONNECT_TIMEOUT`].
async fn connect_once(options: &PgConnectOptions) -> Result<PgConnection, sqlx::Error> {
    connect_within(options, CONNECT_TIMEOUT).await
}

/// Connects once, within `limit`; running out of time is an I/O error `TimedOut` that says so.
async fn connect_within(
    options: &PgConnectOptions,
    limit: Duration,
) -> Result<PgConnection, sqlx::Error> {
    match tokio::time::timeout(limit, PgConnection::connect_with(options)).await {
        Ok(connected) => connected,
        Err(_) => Err(sqlx::Error::Io(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!("the server did not answer within {} ms", limit.as_millis()),
        ))),
    }
}

/// At most this many foreign table names are named in an error.
const TABLES_NAMED: usize = 5;

/// How a PostgreSQL store is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PostgresOptions {
    /// How long a write waits for a row or table lock held by another transaction before
    /// failing with [`StoreError::Busy`] (PostgreSQL's `lock_timeout`); also how long a
    /// caller waits for a free connection of the pool.
    pub lock_timeout: Duration,
    /// Connections per store.
    pub max_connections: u32,
    /// Whether a missing database is created (the default). When `false`, a database that
    /// does not exist, or one without tables, is [`StoreError::Missing`] and nothing is
    /// created; an existing tessera database still has its pending migrations applied.
    pub create_if_missing: bool,
}

impl Default for PostgresOptions {
    fn default() -> Self {
        Self {
            lock_timeout: crate::DEFAULT_BUSY_TIMEOUT,
            max_connections: 8,
            create_if_missing: true,
        }
    }
}

/// Connects to the database `url` names (creating it when allowed), checks and migrates it,
/// and opens the pool; answers it with what opening did and the URL as it may be shown.
pub(super) async fn open(
    url: &str,
    options: PostgresOptions,
) -> Result<(PgPool, Opened, String), StoreError> {
    let shown = redact_url_password(url);
    let connect_error = |source| StoreError::PostgresConnect {
        database: shown.clone(),
        source,
    };
    let timeout_ms = options.lock_timeout.as_millis().to_string();
    let connect = PgConnectOptions::from_str(url)
        .map_err(connect_error)?
        .application_name("tessera")
        .options([("lock_timeout", timeout_ms.as_str())]);
    let (mut connection, created) = match connect_once(&connect).await {
        Ok(connection) => (connection, false),
        Err(error) if has_state(&error, NO_SUCH_DATABASE) => {
            if !options.create_if_missing {
                return Err(missing(&shown, "no such PostgreSQL database"));
            }
            let created = create_database(&connect).await.map_err(connect_error)?;
            let connection = connect_once(&connect).await.map_err(connect_error)?;
            (connection, created)
        }
        Err(error) => return Err(connect_error(error)),
    };
    let migrated = check_and_migrate(&mut connection, &shown, options.create_if_missing).await;
    // Closing ends the session, and with it the advisory lock, whatever happened above.
    let closed = connection.close().await;
    let applied = migrated?;
    closed.map_err(connect_error)?;
    let pool = PgPoolOptions::new()
        .max_connections(options.max_connections.max(1))
        .acquire_timeout(options.lock_timeout.max(Duration::from_secs(1)))
        .connect_with(connect)
        .await
        .map_err(connect_error)?;
    let opened = Opened {
        created,
        applied,
        schema_version: MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0),
    };
    Ok((pool, opened, shown))
}

/// Whether the server answered with this SQLSTATE.
fn has_state(error: &sqlx::Error, state: &str) -> bool {
    error
        .as_database_error()
        .and_then(|database| database.code())
        .is_some_and(|code| code == state)
}

/// Creates the database `connect` names, through the maintenance database; `false` when
/// another process created it first.
async fn create_database(connect: &PgConnectOptions) -> Result<bool, sqlx::Error> {
    let name = connect.get_database().unwrap_or_default().to_owned();
    let mut maintenance = connect_once(&connect.clone().database(MAINTENANCE_DATABASE)).await?;
    // An identifier cannot be a bound parameter: quoted, with its quotes doubled.
    let sql = format!("CREATE DATABASE \"{}\"", name.replace('"', "\"\""));
    let created = match sqlx::query(AssertSqlSafe(sql))
        .execute(&mut maintenance)
        .await
    {
        Ok(_) => Ok(true),
        Err(error)
            if has_state(&error, DUPLICATE_DATABASE) || has_state(&error, UNIQUE_VIOLATION) =>
        {
            Ok(false)
        }
        Err(error) => Err(error),
    };
    maintenance.close().await?;
    if created.as_ref().is_ok_and(|created| *created) {
        tracing::info!(database = %name, "created the PostgreSQL database");
    }
    created
}

/// Under the migration lock: refuses a database of another application or of a newer
/// tessera, and (unless `create` is false and the database has no tables) applies the
/// pending migrations; answers them.
async fn check_and_migrate(
    connection: &mut PgConnection,
    shown: &str,
    create: bool,
) -> Result<Vec<(i64, String)>, StoreError> {
    let migrate_error = |error: sqlx::Error| StoreError::Migrate(error.into());
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(MIGRATION_LOCK)
        .execute(&mut *connection)
        .await
        .map_err(migrate_error)?;
    let before = match check_schema(connection, shown).await? {
        Some(applied) => applied,
        None if !create => return Err(missing(shown, "a PostgreSQL database with no tables")),
        None => Vec::new(),
    };
    let pending: Vec<(i64, String)> = MIGRATOR
        .iter()
        .filter(|migration| {
            !migration.migration_type.is_down_migration() && !before.contains(&migration.version)
        })
        .map(|migration| (migration.version, migration.description.to_string()))
        .collect();
    MIGRATOR
        .run(&mut *connection)
        .await
        .map_err(StoreError::Migrate)?;
    sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(MIGRATION_LOCK)
        .execute(&mut *connection)
        .await
        .map_err(migrate_error)?;
    Ok(pending)
}

/// Refuses a database holding another application's tables, and one with schema versions
/// this build does not know. Otherwise answers the schema versions applied, or `None` when
/// the database's schema has no tables at all.
async fn check_schema(
    connection: &mut PgConnection,
    shown: &str,
) -> Result<Option<Vec<i64>>, StoreError> {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT tablename::text FROM pg_catalog.pg_tables \
         WHERE schemaname = current_schema() ORDER BY tablename",
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
                path: shown.into(),
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
        return Err(StoreError::NotTessera {
            path: shown.into(),
            found: format!(
                "a PostgreSQL database of another application (tables: {}; no tessera schema)",
                named.join(", ")
            ),
        });
    }
    Ok(None)
}

fn missing(shown: &str, found: &'static str) -> StoreError {
    StoreError::Missing {
        path: shown.into(),
        found,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A server that accepts the TCP connection and never answers must not hold a start for
    /// the operating system's TCP timeout.
    #[tokio::test]
    async fn a_silent_server_times_out() {
        let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = silent.local_addr().unwrap().port();
        let options =
            PgConnectOptions::from_str(&format!("postgres://postgres@127.0.0.1:{port}/x")).unwrap();
        let started = std::time::Instant::now();
        let error = connect_within(&options, Duration::from_millis(300))
            .await
            .unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(
            error.to_string().contains("did not answer within 300 ms"),
            "{error}"
        );
        drop(silent);
    }
}
