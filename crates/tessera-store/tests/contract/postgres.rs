//! The contract on PostgreSQL, and what only PostgreSQL has: databases created and migrated
//! by racing instances, raw SQL from other clients, URLs with passwords.
//!
//! Each test gets a database of its own (`tessera_test_<random>`) on the server
//! `TESSERA_TEST_POSTGRES_URL` names (default `postgres://postgres@127.0.0.1:5432/postgres`),
//! dropped again when the test ends, also when it fails. A server that cannot be reached
//! fails the test with a message saying so: these tests are never skipped.

use std::str::FromStr as _;
use std::sync::Arc;

use futures_util::future::join_all;
use sqlx::Connection as _;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool};
use tessera_store::{
    Opened, PostgresOptions, PostgresStore, Store, StoreError, UserId, connect, connect_existing,
    migrate,
};

use super::*;

/// The server the tests use unless `TESSERA_TEST_POSTGRES_URL` names another one.
const DEFAULT_SERVER: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// The administrative URL: a database on the test server to create and drop others from.
fn server_url() -> String {
    std::env::var("TESSERA_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_SERVER.to_owned())
}

/// The server's URL with its database replaced by `name`.
fn database_url(name: &str) -> String {
    let server = server_url();
    let (base, query) = match server.split_once('?') {
        Some((base, query)) => (base.to_owned(), format!("?{query}")),
        None => (server.clone(), String::new()),
    };
    let (prefix, _) = base
        .rsplit_once('/')
        .expect("TESSERA_TEST_POSTGRES_URL must be postgres://USER@HOST:PORT/DATABASE");
    format!("{prefix}/{name}{query}")
}

/// A connection to the administrative database; fails the test when the server is down.
async fn admin() -> PgConnection {
    let url = server_url();
    let options = PgConnectOptions::from_str(&url).expect("TESSERA_TEST_POSTGRES_URL is a url");
    match PgConnection::connect_with(&options).await {
        Ok(connection) => connection,
        Err(error) => panic!(
            "PostgreSQL is not reachable at {} ({error}): the PostgreSQL tests need a running \
             server; start it (.ci/run does) or point TESSERA_TEST_POSTGRES_URL at one",
            options.get_host()
        ),
    }
}

/// A fresh database name.
fn fresh_name() -> String {
    format!("tessera_test_{}", UserId::new_v4().simple())
}

/// Drops its database when dropped, on a connection of its own (the test's runtime may be
/// gone or busy): `WITH (FORCE)` ends the store's connections first.
pub struct Dropper(String);

impl Drop for Dropper {
    fn drop(&mut self) {
        let name = self.0.clone();
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                let mut connection = admin().await;
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                )))
                .execute(&mut connection)
                .await
                .unwrap();
            });
        })
        .join();
        if dropped.is_err() && !std::thread::panicking() {
            panic!("could not drop the test database {}", self.0);
        }
    }
}

/// A fresh, migrated database of its own and a store on it.
pub struct Fixture {
    store: PostgresStore,
    url: String,
    _dropper: Dropper,
}

impl Fixture {
    pub async fn new() -> Self {
        let (url, dropper) = empty_database().await;
        let store = PostgresStore::open(&url).await.unwrap();
        Self {
            store,
            url,
            _dropper: dropper,
        }
    }

    pub fn store(&self) -> &dyn Store {
        &self.store
    }

    /// Another store on the same database, as a second instance would open it.
    async fn second_handle(&self) -> PostgresStore {
        PostgresStore::open(&self.url).await.unwrap()
    }

    /// A plain pool on the same database, for SQL the store would never run.
    async fn raw(&self) -> PgPool {
        PgPool::connect(&self.url).await.unwrap()
    }
}

/// A new database with nothing in it, and the guard that drops it. It sorts text by language
/// (ICU's English), as many servers do, so a store that leaves ordering to the database's
/// collation fails the byte-order contract here.
async fn empty_database() -> (String, Dropper) {
    let name = fresh_name();
    let mut connection = admin().await;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "CREATE DATABASE \"{name}\" TEMPLATE template0 \
         LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'"
    )))
    .execute(&mut connection)
    .await
    .unwrap();
    (database_url(&name), Dropper(name))
}

every_contract!(Fixture);

// ---------------------------------------------------------------------------------------------
// PostgreSQL-specific.

/// Several instances start at once on a database that does not exist yet: it is created
/// once, migrated once, and every one of them opens it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_starting_at_once_create_and_migrate_once() {
    for _ in 0..10 {
        let name = fresh_name();
        let dropper = Dropper(name.clone());
        let url = database_url(&name);
        let opened: Vec<PostgresStore> = join_all((0..4).map(|_| PostgresStore::open(&url)))
            .await
            .into_iter()
            .map(Result::unwrap)
            .collect();
        let reports: Vec<&Opened> = opened.iter().map(PostgresStore::opened).collect();
        assert_eq!(
            reports.iter().filter(|report| report.created).count(),
            1,
            "{reports:?}"
        );
        let applied: Vec<i64> = reports
            .iter()
            .flat_map(|report| report.applied.iter().map(|(version, _)| *version))
            .collect();
        assert_eq!(applied, [1, 2, 3, 4, 5, 6], "{reports:?}");
        assert!(reports.iter().all(|report| report.schema_version == 6));
        let raw = PgPool::connect(&url).await.unwrap();
        let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations")
            .fetch_one(&raw)
            .await
            .unwrap();
        assert_eq!(rows, 6);
        create(&opened[0], "alice", T0).await;
        assert_eq!(opened[3].count_users().await.unwrap(), 1);
        raw.close().await;
        drop(opened);
        drop(dropper);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_feed_sees_raw_sql_writes() {
    let fixture = Fixture::new().await;
    let store = fixture.store();
    let alice = create(store, "alice", T0).await;
    let raw = fixture.raw().await;
    let mut last = store.latest_change().await.unwrap();
    for sql in [
        "UPDATE users SET active = false WHERE username = 'alice'",
        "INSERT INTO users (id, username, password_hash, roles, active, created_at, updated_at) \
         VALUES ('6f1c1a52-0d44-4d1e-9b0e-3f1d7f1c2a10', 'raw', 'h', '[]', true, 0, 0)",
        "DELETE FROM users WHERE username = 'raw'",
    ] {
        sqlx::query(sql).execute(&raw).await.unwrap();
        let now = store.latest_change().await.unwrap();
        assert!(now > last, "the feed did not move after {sql}");
        last = now;
    }
    assert!(!store.user_by_id(alice.id).await.unwrap().unwrap().active);
    sqlx::query("DELETE FROM users")
        .execute(&raw)
        .await
        .unwrap();
    // No sessions existed: deleting users feeds user changes only.
    let batch = store.changes_since(last, 100).await.unwrap();
    assert!(!batch.changes.is_empty());
    assert!(
        batch
            .changes
            .iter()
            .all(|change| change.kind == tessera_store::ChangeKind::User),
        "{batch:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_says_to_use_pg_dump_and_writes_nothing() {
    let fixture = Fixture::new().await;
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("backup.db");
    let error = fixture.store().backup(&target).await.unwrap_err();
    assert!(matches!(error, StoreError::BackupUnsupported), "{error:?}");
    assert!(error.to_string().contains("pg_dump"), "{error}");
    assert!(!target.exists());
}

/// The URL of a database that does not exist, with a password (the test server trusts local
/// logins, so it is never checked) that must never be shown.
fn secret_url(name: &str) -> String {
    database_url(name).replacen("://postgres@", "://postgres:pw-secret-123@", 1)
}

fn assert_hidden(shown: &str) {
    assert!(!shown.contains("pw-secret-123"), "{shown}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_existing_refuses_a_missing_database_that_migrate_then_creates() {
    let name = fresh_name();
    let _dropper = Dropper(name.clone());
    let url = secret_url(&name);

    let error = connect_existing(&url).await.unwrap_err();
    let message = error.to_string();
    assert!(matches!(error, StoreError::Missing { .. }), "{error:?}");
    assert!(message.contains("no such PostgreSQL database"), "{message}");
    assert!(message.contains(&name), "{message}");
    assert_hidden(&message);
    assert_hidden(&format!("{error:?}"));
    let mut admin = admin().await;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(&name)
            .fetch_one(&mut admin)
            .await
            .unwrap();
    assert!(!exists, "connect_existing created the database");

    let opened = migrate(&url).await.unwrap();
    assert!(opened.created);
    assert_eq!(opened.applied.len(), 6);
    let again = migrate(&url).await.unwrap();
    assert!(!again.created && again.applied.is_empty(), "{again:?}");

    let store: Arc<dyn Store> = connect_existing(&url).await.unwrap();
    create(&*store, "alice", T0).await;
    assert_hidden(&format!("{store:?}"));
    let by_connect = connect(&url).await.unwrap();
    assert_eq!(by_connect.count_users().await.unwrap(), 1);
    by_connect.close().await.unwrap();
    store.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_database_is_missing_for_connect_existing() {
    let (url, _dropper) = empty_database().await;
    let error = connect_existing(&url).await.unwrap_err();
    assert!(
        error
            .to_string()
            .ends_with("a PostgreSQL database with no tables"),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_of_another_application_is_refused_not_migrated() {
    let (url, _dropper) = empty_database().await;
    let raw = PgPool::connect(&url).await.unwrap();
    sqlx::query("CREATE TABLE invoices (id bigint)")
        .execute(&raw)
        .await
        .unwrap();
    let error = PostgresStore::open(&url).await.unwrap_err();
    assert!(matches!(error, StoreError::NotTessera { .. }), "{error:?}");
    assert!(error.to_string().contains("tables: invoices"), "{error}");
    let tables: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM pg_tables WHERE schemaname = current_schema()")
            .fetch_one(&raw)
            .await
            .unwrap();
    assert_eq!(tables, 1, "the foreign database was changed");
    raw.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_of_a_newer_tessera_says_so() {
    let fixture = Fixture::new().await;
    let raw = fixture.raw().await;
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (99, 'from the future', true, '\\x00', 0)",
    )
    .execute(&raw)
    .await
    .unwrap();
    raw.close().await;
    let error = PostgresStore::open(&fixture.url).await.unwrap_err();
    assert!(matches!(error, StoreError::NewerSchema { .. }), "{error:?}");
    assert!(
        error.to_string().contains("schema version(s) 99"),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_refuses_the_connection_is_a_connect_error_without_the_password() {
    let url = "postgres://postgres:pw-secret-123@127.0.0.1:1/tessera";
    let error = connect(url).await.unwrap_err();
    assert!(
        matches!(error, StoreError::PostgresConnect { .. }),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "failed to connect to the PostgreSQL database postgres://postgres:<hidden>@127.0.0.1:1/tessera"
    );
    assert_hidden(&format!("{error:?}"));
}

/// A lock another client holds past the lock timeout makes writes and the readiness probe
/// [`StoreError::Busy`] ("retry shortly"), never an internal error, and both work again as
/// soon as it is released.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lock_held_elsewhere_is_busy_after_the_timeout_and_clears_when_released() {
    let fixture = Fixture::new().await;
    let options = PostgresOptions {
        lock_timeout: std::time::Duration::from_millis(150),
        ..PostgresOptions::default()
    };
    let store = PostgresStore::open_with(&fixture.url, options)
        .await
        .unwrap();
    let alice = create(&store, "alice", T0).await;

    let mut other = PgConnection::connect(&fixture.url).await.unwrap();
    let mut holding = other.begin().await.unwrap();
    sqlx::query("LOCK TABLE users IN SHARE MODE")
        .execute(&mut *holding)
        .await
        .unwrap();
    let error = store.create_user(new_user("bob"), T0).await.unwrap_err();
    assert!(error.is_busy(), "{error:?}");
    let patch = UserPatch {
        active: Some(false),
        ..UserPatch::default()
    };
    let error = store
        .update_user(alice.id, patch.clone(), T0)
        .await
        .unwrap_err();
    assert!(error.is_busy(), "{error:?}");
    let error = store.ping().await.unwrap_err();
    assert!(error.is_busy(), "{error:?}");
    // Readers are not held up by a lock that only stops writers.
    assert_eq!(store.count_users().await.unwrap(), 1);
    holding.rollback().await.unwrap();

    store.ping().await.unwrap();
    create(&store, "bob", T0).await;
    let updated = store
        .update_user(alice.id, patch, T0)
        .await
        .unwrap()
        .unwrap();
    assert!(!updated.active);
}

// ---------------------------------------------------------------------------------------------
// The change feed on PostgreSQL: commit order, notifications.

/// Racing writers in the commit-order race, and the sessions each of them ends.
const FEED_WRITERS: usize = 8;
const ENDS_PER_WRITER: usize = 50;

/// Writers on two pools (two instances) end sessions in transactions of their own, some
/// with extra round trips between the write and the commit, while a reader follows the feed
/// from its cursor. Since positions are handed out in commit order, the reader sees every
/// change exactly once; were they handed out at write time, a later position committing
/// first would move the reader's cursor past an earlier one still to commit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feed_positions_follow_commit_order_under_racing_writers() {
    let fixture = Fixture::new().await;
    let store = fixture.store();
    let alice = create(store, "alice", T0).await;
    let mut ids = Vec::new();
    for _ in 0..FEED_WRITERS * ENDS_PER_WRITER {
        let id = UserId::new_v4();
        let session = tessera_store::NewSession {
            id,
            user_id: alice.id,
            idle_expires_at: T0 + 600,
            absolute_expires_at: T0 + 3_600,
            client_ip: "192.0.2.1".to_owned(),
            user_agent: "race".to_owned(),
            refresh_hash: *UserId::new_v4().as_bytes().repeat(2).first_chunk().unwrap(),
        };
        store.create_session(session, T0).await.unwrap();
        ids.push(id);
    }
    let start = store.latest_change().await.unwrap();

    let pools = [fixture.raw().await, fixture.raw().await];
    // (A trigger that locked one row in every session end until the commit would queue these
    // writers on its own; there is none, so only the feed's own ordering is tested.)
    let writers: Vec<_> = ids
        .chunks(ENDS_PER_WRITER)
        .enumerate()
        .map(|(writer, chunk)| {
            let pool = pools[writer % pools.len()].clone();
            let chunk = chunk.to_vec();
            tokio::spawn(async move {
                for id in chunk {
                    let mut transaction = pool.begin().await.unwrap();
                    sqlx::query(
                        "UPDATE sessions SET revoked_at = $2, revoke_reason = 'logout' \
                         WHERE id = $1",
                    )
                    .bind(id)
                    .bind(T0)
                    .execute(&mut *transaction)
                    .await
                    .unwrap();
                    // 0 to 15 more round trips before the commit, varying by session.
                    for _ in 0..id.as_bytes()[0] % 16 {
                        sqlx::query("SELECT 1")
                            .execute(&mut *transaction)
                            .await
                            .unwrap();
                    }
                    transaction.commit().await.unwrap();
                }
            })
        })
        .collect();

    let mut cursor = start;
    let mut seen = Vec::new();
    loop {
        let finished = writers.iter().all(tokio::task::JoinHandle::is_finished);
        let batch = store.changes_since(cursor, 1_000).await.unwrap();
        assert!(!batch.missed);
        seen.extend(batch.changes.iter().map(|change| (change.seq, change.id)));
        cursor = batch.next;
        if finished && batch.changes.is_empty() {
            break;
        }
        tokio::task::yield_now().await;
    }
    for writer in writers {
        writer.await.unwrap();
    }

    let all: Vec<(i64, UserId)> =
        sqlx::query_as("SELECT seq, id FROM changes WHERE seq > $1 ORDER BY seq")
            .bind(start)
            .fetch_all(&pools[0])
            .await
            .unwrap();
    assert_eq!(all.len(), ids.len(), "one change per ended session");
    let missed: Vec<&(i64, UserId)> = all.iter().filter(|row| !seen.contains(row)).collect();
    assert!(
        missed.is_empty(),
        "the reader never saw {} of {} changes, e.g. {:?}",
        missed.len(),
        all.len(),
        missed.first()
    );
    assert_eq!(seen, all);
    let fed: BTreeSet<UserId> = seen.iter().map(|(_, id)| *id).collect();
    assert_eq!(fed, ids.iter().copied().collect::<BTreeSet<_>>());
}

/// How long a test waits for a notification before failing.
const WAKE_DEADLINE: std::time::Duration = std::time::Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_listener_wakes_on_commits_from_other_pools() {
    let fixture = Fixture::new().await;
    let mut listener = fixture
        .store()
        .change_listener()
        .await
        .unwrap()
        .expect("PostgreSQL pushes notifications");
    let other = fixture.second_handle().await;
    let alice = create(&other, "alice", T0).await;
    tokio::time::timeout(WAKE_DEADLINE, listener.wait())
        .await
        .expect("no notification after another instance's commit")
        .unwrap();

    // Raw SQL, in a transaction that writes twice: one wake.
    let raw = fixture.raw().await;
    let mut transaction = raw.begin().await.unwrap();
    for active in [false, true] {
        sqlx::query("UPDATE users SET active = $2 WHERE id = $1")
            .bind(alice.id)
            .bind(active)
            .execute(&mut *transaction)
            .await
            .unwrap();
    }
    transaction.commit().await.unwrap();
    tokio::time::timeout(WAKE_DEADLINE, listener.wait())
        .await
        .expect("no notification after a raw SQL commit")
        .unwrap();
    let batch = fixture.store().changes_since(0, 100).await.unwrap();
    assert_eq!(batch.changes.len(), 3, "{batch:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_listener_reports_its_connection_terminated() {
    let fixture = Fixture::new().await;
    let mut listener = fixture
        .store()
        .change_listener()
        .await
        .unwrap()
        .expect("PostgreSQL pushes notifications");
    let raw = fixture.raw().await;
    let terminated: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND query LIKE 'LISTEN%'",
    )
    .fetch_all(&raw)
    .await
    .unwrap();
    assert_eq!(
        terminated,
        [true],
        "the listener's connection was not found"
    );
    let error = tokio::time::timeout(WAKE_DEADLINE, listener.wait())
        .await
        .expect("wait() did not notice the lost connection")
        .unwrap_err();
    assert!(matches!(error, StoreError::ListenerLost(_)), "{error:?}");
    // The store itself goes on, and a new listener works.
    let mut listener = fixture.store().change_listener().await.unwrap().unwrap();
    create(fixture.store(), "alice", T0).await;
    tokio::time::timeout(WAKE_DEADLINE, listener.wait())
        .await
        .expect("no notification on the new listener")
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_change_kind_is_corrupt() {
    let fixture = Fixture::new().await;
    let raw = fixture.raw().await;
    for sql in [
        "ALTER TABLE changes DROP CONSTRAINT changes_kind_check",
        "INSERT INTO changes (kind, id, at) VALUES ('group', gen_random_uuid(), 0)",
    ] {
        sqlx::query(sql).execute(&raw).await.unwrap();
    }
    let error = fixture.store().changes_since(0, 10).await.unwrap_err();
    assert!(
        matches!(&error, StoreError::Corrupt(message) if message.contains("changes.kind")),
        "{error:?}"
    );
}

/// A database the previous release left at schema 0004, with feed entries, migrates to the
/// key tables: the kinds' CHECK is widened in place, the entries and the feed's counter are
/// kept, and key writes are fed after them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_at_schema_4_migrates_and_keeps_its_feed() {
    let (url, _dropper) = empty_database().await;
    let migrations = tempfile::tempdir().unwrap();
    let source = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/postgres");
    for entry in std::fs::read_dir(&source).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().into_string().unwrap();
        if name.as_str() < "0005" {
            std::fs::copy(entry.path(), migrations.path().join(&name)).unwrap();
        }
    }
    let migrator = sqlx::migrate::Migrator::new(migrations.path())
        .await
        .unwrap();
    let raw = PgPool::connect(&url).await.unwrap();
    migrator.run(&raw).await.unwrap();
    let mut users = Vec::new();
    for n in 0..3 {
        let id = UserId::new_v4();
        sqlx::query(
            "INSERT INTO users (id, username, password_hash, roles, active, created_at, \
             updated_at) VALUES ($1, $2, 'h', '[]', true, 0, 0)",
        )
        .bind(id)
        .bind(format!("user{n}"))
        .execute(&raw)
        .await
        .unwrap();
        users.push(id);
    }
    raw.close().await;

    let store = PostgresStore::open(&url).await.unwrap();
    let applied: Vec<i64> = store.opened().applied.iter().map(|(v, _)| *v).collect();
    assert_eq!(applied, [5, 6]);
    let before = store.changes_since(0, 10).await.unwrap();
    let fed: Vec<(tessera_store::ChangeKind, UserId)> =
        before.changes.iter().map(|c| (c.kind, c.id)).collect();
    let expected: Vec<_> = users
        .iter()
        .map(|id| (tessera_store::ChangeKind::User, *id))
        .collect();
    assert_eq!(fed, expected);
    let latest = store.latest_change().await.unwrap();
    let key = store
        .insert_key(
            tessera_store::NewKey {
                kid: "k1".to_owned(),
                algorithm: "EdDSA".to_owned(),
                public_jwk: "{}".to_owned(),
                sealed_private: None,
                state: tessera_store::KeyState::Current,
            },
            T0,
        )
        .await
        .unwrap();
    let after = store.changes_since(latest, 10).await.unwrap();
    assert_eq!(after.changes.len(), 1, "{after:?}");
    assert!(after.changes[0].seq > latest);
    assert_eq!(
        (after.changes[0].kind, after.changes[0].id),
        (tessera_store::ChangeKind::Key, key.id)
    );
}
