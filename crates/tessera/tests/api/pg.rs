//! The PostgreSQL server the tests use (`TESSERA_TEST_POSTGRES_URL`, default the local one as
//! `postgres` without a password), and a database of one test's own, dropped with it — also
//! when the test fails. An unreachable server fails the test, with how to fix it.

use std::str::FromStr as _;

use sqlx::Connection as _;
use sqlx::postgres::{PgConnectOptions, PgConnection};

/// The server the tests use unless `TESSERA_TEST_POSTGRES_URL` names another one.
const DEFAULT_SERVER: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// The URL of the server's administrative database.
pub fn server_url() -> String {
    std::env::var("TESSERA_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_SERVER.to_owned())
}

fn server_options() -> PgConnectOptions {
    PgConnectOptions::from_str(&server_url())
        .expect("TESSERA_TEST_POSTGRES_URL must be postgres://USER@HOST:PORT/DATABASE")
}

/// A connection to the administrative database; fails the test when the server is down.
pub async fn admin() -> PgConnection {
    let options = server_options();
    match PgConnection::connect_with(&options).await {
        Ok(connection) => connection,
        Err(error) => panic!(
            "PostgreSQL is not reachable at {}:{} ({error}): these tests need a running \
             server; start it (.ci/run does) or point TESSERA_TEST_POSTGRES_URL at one",
            options.get_host(),
            options.get_port()
        ),
    }
}

/// Runs one statement on the administrative database.
pub async fn admin_execute(sql: String) {
    let mut connection = admin().await;
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .execute(&mut connection)
        .await
        .unwrap();
    connection.close().await.unwrap();
}

/// A database name of one test's own (`tessera_test_<random>`), dropped with every
/// connection to it when this is dropped.
pub struct TestDatabase {
    pub name: String,
}

impl TestDatabase {
    /// A name only: the database is not created (the binary creates it).
    pub async fn named() -> Self {
        // Reaching the server first makes a missing server fail here, with its message.
        admin().await.close().await.unwrap();
        Self {
            name: format!("tessera_test_{}", uuid::Uuid::new_v4().simple()),
        }
    }

    /// A created, empty database.
    pub async fn create() -> Self {
        let database = Self::named().await;
        admin_execute(format!("CREATE DATABASE \"{}\"", database.name)).await;
        database
    }

    /// `host:port` of the server, for a proxy to connect to.
    pub fn upstream() -> String {
        let options = server_options();
        format!("{}:{}", options.get_host(), options.get_port())
    }

    /// This database's URL: the server's user, at `authority` (`host:port`; the server's own
    /// when `None`), with `password` when given (the local server's trust authentication
    /// ignores it), and the server URL's `?options`.
    pub fn url(&self, authority: Option<&str>, password: Option<&str>) -> String {
        let options = server_options();
        let query = server_url()
            .split_once('?')
            .map(|(_, query)| format!("?{query}"))
            .unwrap_or_default();
        let password = password.map(|p| format!(":{p}")).unwrap_or_default();
        let authority = authority.map_or_else(Self::upstream, str::to_owned);
        format!(
            "postgres://{}{password}@{authority}/{}{query}",
            options.get_username(),
            self.name
        )
    }

    /// A connection to this database itself.
    pub async fn connect(&self) -> PgConnection {
        let options = server_options().database(&self.name);
        PgConnection::connect_with(&options).await.unwrap()
    }

    /// Whether the database exists.
    pub async fn exists(&self) -> bool {
        let mut connection = admin().await;
        let found: Option<i32> = sqlx::query_scalar("SELECT 1 FROM pg_database WHERE datname = $1")
            .bind(&self.name)
            .fetch_optional(&mut connection)
            .await
            .unwrap();
        found.is_some()
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let name = self.name.clone();
        // On a thread and runtime of its own: the test's runtime may be gone or panicking.
        let dropped = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(admin_execute(format!(
                    "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                )));
        })
        .join();
        if dropped.is_err() && !std::thread::panicking() {
            panic!("could not drop the test database {}", self.name);
        }
    }
}
