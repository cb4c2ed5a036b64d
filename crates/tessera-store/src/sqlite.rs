//! The SQLite backend of [`Store`].
//!
//! Owns every SQLite statement and the embedded migrations in `migrations/sqlite/`; the
//! statements for sessions and refresh tokens live in the `sessions` submodule, those for the
//! failed-login counters in `login_failures`, the change feed and heartbeats in `feed`, the
//! signing keys in `keys`, the API clients in `api_clients`, opening the file in `open`, the
//! probe, backup and close in `maintenance`.
//!
//! Invariants: all SQL is static text with `$n` placeholders; values are always bound. Every
//! write of this process goes through the one writer connection, so writers here queue in
//! order (a fair pool of one) instead of sleeping in SQLite's busy handler; reads use the
//! other connections. A lock held elsewhere past the busy timeout is [`StoreError::Busy`].

mod api_clients;
mod feed;
mod keys;
mod login_failures;
mod maintenance;
mod open;
mod sessions;

use std::fmt;
use std::path::{Path, PathBuf};

use sqlx::sqlite::SqlitePool;
use sqlx::{Sqlite, Transaction};

pub use open::{DEFAULT_BUSY_TIMEOUT, Opened, SqliteOptions};

use crate::{
    ApiClient, ChangeBatch, ChangeListener, EndReason, FailureKey, Heartbeat, Instance,
    LoginFailure, LoginFailures, NewKey, NewSession, NewUser, RotateOutcome, Rotation, Session,
    SessionId, Store, StoreError, StoredKey, User, UserId, UserPatch,
};

/// SQLite's extended result code for a primary-key violation (`SQLITE_CONSTRAINT_PRIMARYKEY`).
const SQLITE_CONSTRAINT_PRIMARYKEY: &str = "1555";

/// Columns of `users`, in the order [`UserRow`] reads them (a macro so `concat!` can use it).
macro_rules! user_columns {
    () => {
        "id, username, password_hash, roles, active, created_at, updated_at"
    };
}

const SELECT_BY_ID: &str = concat!("SELECT ", user_columns!(), " FROM users WHERE id = $1");

const SELECT_BY_USERNAME: &str = concat!(
    "SELECT ",
    user_columns!(),
    " FROM users WHERE username = $1"
);

const SELECT_ALL: &str = concat!("SELECT ", user_columns!(), " FROM users ORDER BY username");
/// A page of users from the first, containing `$1` when it is not NULL: `instr` matches
/// the text literally, unlike `LIKE`; `username` has SQLite's default `BINARY` collation, so
/// it is compared and ordered byte for byte.
const SELECT_PAGE_FROM_START: &str = concat!(
    "SELECT ",
    user_columns!(),
    " FROM users WHERE ($1 IS NULL OR instr(username, $1) > 0) ORDER BY username LIMIT $2"
);

/// A page of users after the username `$3`, otherwise as [`SELECT_PAGE_FROM_START`].
const SELECT_PAGE_AFTER: &str = concat!(
    "SELECT ",
    user_columns!(),
    " FROM users WHERE username > $3 AND ($1 IS NULL OR instr(username, $1) > 0) \
     ORDER BY username LIMIT $2"
);

const INSERT_USER: &str = concat!(
    "INSERT INTO users \
     (id, username, password_hash, roles, active, created_at, updated_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $6) \
     RETURNING ",
    user_columns!()
);

/// One statement, so SQLite's single writer lock makes the emptiness check and the insert
/// atomic across connections and processes.
const INSERT_FIRST_USER: &str = concat!(
    "INSERT INTO users \
     (id, username, password_hash, roles, active, created_at, updated_at) \
     SELECT $1, $2, $3, $4, $5, $6, $6 WHERE NOT EXISTS (SELECT 1 FROM users) \
     RETURNING ",
    user_columns!()
);

/// A NULL parameter leaves its column unchanged, so every patch is one statement.
const UPDATE_USER: &str = concat!(
    "UPDATE users SET \
     active = COALESCE($2, active), \
     roles = COALESCE($3, roles), \
     password_hash = COALESCE($4, password_hash), \
     updated_at = $5, \
     username = COALESCE($6, username) \
     WHERE id = $1 \
     RETURNING ",
    user_columns!()
);

/// Whether an active user holds role `$2`; only user `$1` unless `$1` is NULL. A `roles`
/// value that is not a JSON array (a corrupt row) holds no role here, so one bad row cannot
/// block every guarded write; reading that row still reports it as corrupt.
const ACTIVE_HOLDER_EXISTS: &str = "SELECT EXISTS (SELECT 1 FROM users AS u, json_each( \
     CASE WHEN NOT json_valid(u.roles) THEN '[]' \
     WHEN json_type(u.roles) = 'array' THEN u.roles ELSE '[]' END) AS role \
     WHERE u.active = 1 AND ($1 IS NULL OR u.id = $1) \
     AND role.type = 'text' AND role.value = $2)";

/// A [`Store`] on one SQLite database file, in WAL mode, shared safely with other processes
/// (such as the CLI) that open the same file.
pub struct SqliteStore {
    pools: open::Pools,
    path: PathBuf,
    opened: Opened,
}

/// A `users` row as SQLite returns it, before validation.
#[derive(sqlx::FromRow)]
struct UserRow {
    id: String,
    username: String,
    password_hash: String,
    roles: String,
    active: i64,
    created_at: i64,
    updated_at: i64,
}

impl SqliteStore {
    /// Opens the database file at `path` with the default options (see [`Self::open_with`]).
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        Self::open_with(path, SqliteOptions::default()).await
    }

    /// Opens the database file at `path`, creating it (mode `0600`) and its missing parent
    /// directories unless `options.create_if_missing` is `false`, and applies pending
    /// migrations. Refuses a file that is not an SQLite database, an SQLite database of
    /// another application, and a database written by a newer tessera.
    pub async fn open_with(path: &Path, options: SqliteOptions) -> Result<Self, StoreError> {
        let path = literal_path(path);
        let (pools, opened) = open::open(&path, options).await?;
        tracing::debug!(path = %path.display(), "opened sqlite store");
        Ok(Self {
            pools,
            path,
            opened,
        })
    }

    /// The database file this store opened.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What opening did to the database: created it, applied migrations.
    pub fn opened(&self) -> &Opened {
        &self.opened
    }

    fn reader(&self) -> &SqlitePool {
        &self.pools.reader
    }

    fn writer(&self) -> &SqlitePool {
        &self.pools.writer
    }

    async fn insert(
        &self,
        sql: &'static str,
        user: NewUser,
        now: i64,
    ) -> Result<Option<User>, StoreError> {
        let row = sqlx::query_as::<_, UserRow>(sql)
            .bind(user.id.hyphenated().to_string())
            .bind(user.username)
            .bind(user.password_hash)
            .bind(roles_json(&user.roles))
            .bind(user.active)
            .bind(now)
            .fetch_optional(self.writer())
            .await
            .map_err(insert_error)?;
        row.map(UserRow::into_user).transpose()
    }
}

/// SQLITE_BUSY (5) or SQLITE_LOCKED (6), including their extended codes.
fn is_busy(error: &sqlx::Error) -> bool {
    let Some(database) = error.as_database_error() else {
        return false;
    };
    database
        .code()
        .and_then(|code| code.parse::<i32>().ok())
        .is_some_and(|code| matches!(code & 0xff, 5 | 6))
}

/// Maps a failed statement: a lock held past the busy timeout, or this process's writers
/// queued past it, is [`StoreError::Busy`]; anything else [`StoreError::Database`].
fn database_error(error: sqlx::Error) -> StoreError {
    if is_busy(&error) || matches!(error, sqlx::Error::PoolTimedOut) {
        StoreError::Busy(error)
    } else {
        StoreError::Database(error)
    }
}

#[async_trait::async_trait]
impl Store for SqliteStore {
    async fn create_user(&self, user: NewUser, now: i64) -> Result<User, StoreError> {
        self.insert(INSERT_USER, user, now)
            .await?
            .ok_or_else(|| StoreError::Corrupt("users: insert returned no row".to_owned()))
    }

    async fn create_first_user(&self, user: NewUser, now: i64) -> Result<Option<User>, StoreError> {
        self.insert(INSERT_FIRST_USER, user, now).await
    }

    async fn user_by_id(&self, id: UserId) -> Result<Option<User>, StoreError> {
        let row = sqlx::query_as::<_, UserRow>(SELECT_BY_ID)
            .bind(id.hyphenated().to_string())
            .fetch_optional(self.reader())
            .await
            .map_err(read_error)?;
        row.map(UserRow::into_user).transpose()
    }

    async fn user_by_username(&self, username: &str) -> Result<Option<User>, StoreError> {
        let row = sqlx::query_as::<_, UserRow>(SELECT_BY_USERNAME)
            .bind(username)
            .fetch_optional(self.reader())
            .await
            .map_err(read_error)?;
        row.map(UserRow::into_user).transpose()
    }

    async fn list_users(&self) -> Result<Vec<User>, StoreError> {
        let rows = sqlx::query_as::<_, UserRow>(SELECT_ALL)
            .fetch_all(self.reader())
            .await
            .map_err(read_error)?;
        rows.into_iter().map(UserRow::into_user).collect()
    }

    async fn list_users_page(
        &self,
        after: Option<&str>,
        contains: Option<&str>,
        limit: u32,
    ) -> Result<Vec<User>, StoreError> {
        let query = match after {
            Some(after) => sqlx::query_as::<_, UserRow>(SELECT_PAGE_AFTER)
                .bind(contains)
                .bind(i64::from(limit))
                .bind(after),
            None => sqlx::query_as::<_, UserRow>(SELECT_PAGE_FROM_START)
                .bind(contains)
                .bind(i64::from(limit)),
        };
        let rows = query.fetch_all(self.reader()).await.map_err(read_error)?;
        rows.into_iter().map(UserRow::into_user).collect()
    }

    async fn update_user(
        &self,
        id: UserId,
        patch: UserPatch,
        now: i64,
    ) -> Result<Option<User>, StoreError> {
        let mut transaction = write_transaction(self.writer()).await?;
        let guard = match patch.keep_active_holder_of {
            Some(role) => Guard::before(&mut transaction, id, role).await?,
            None => None,
        };
        let row = sqlx::query_as::<_, UserRow>(UPDATE_USER)
            .bind(id.hyphenated().to_string())
            .bind(patch.active)
            .bind(patch.roles.as_deref().map(roles_json))
            .bind(patch.password_hash)
            .bind(now)
            .bind(patch.username)
            .fetch_optional(&mut *transaction)
            .await
            .map_err(insert_error)?;
        let Some(row) = row else {
            return Ok(None);
        };
        let user = row.into_user()?;
        if let Some(guard) = guard {
            guard.after(&mut transaction).await?;
        }
        if let Some(reason) = patch.end_sessions {
            sessions::end_for_user(&mut transaction, id, patch.keep_session, reason, now).await?;
        }
        transaction.commit().await.map_err(database_error)?;
        Ok(Some(user))
    }

    async fn delete_user(
        &self,
        id: UserId,
        keep_active_holder_of: Option<&str>,
    ) -> Result<bool, StoreError> {
        let delete =
            sqlx::query("DELETE FROM users WHERE id = $1").bind(id.hyphenated().to_string());
        let Some(role) = keep_active_holder_of else {
            let result = delete
                .execute(self.writer())
                .await
                .map_err(database_error)?;
            return Ok(result.rows_affected() > 0);
        };
        let mut transaction = write_transaction(self.writer()).await?;
        let guard = Guard::before(&mut transaction, id, role.to_owned()).await?;
        let result = delete
            .execute(&mut *transaction)
            .await
            .map_err(database_error)?;
        if let Some(guard) = guard {
            guard.after(&mut transaction).await?;
        }
        transaction.commit().await.map_err(database_error)?;
        Ok(result.rows_affected() > 0)
    }

    async fn count_users(&self) -> Result<u64, StoreError> {
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
            .fetch_one(self.reader())
            .await
            .map_err(database_error)?;
        u64::try_from(count)
            .map_err(|_| StoreError::Corrupt("users: row count is negative".to_owned()))
    }

    async fn ping(&self) -> Result<(), StoreError> {
        maintenance::probe(&self.pools).await
    }

    async fn backup(&self, destination: &Path) -> Result<(), StoreError> {
        maintenance::backup(self.reader(), destination).await
    }

    async fn close(&self) -> Result<(), StoreError> {
        maintenance::close(&self.pools).await
    }

    async fn create_session(&self, session: NewSession, now: i64) -> Result<Session, StoreError> {
        sessions::create(self.writer(), session, now).await
    }

    async fn session_by_id(&self, id: SessionId) -> Result<Option<Session>, StoreError> {
        sessions::by_id(self.reader(), id).await
    }

    async fn session_of_refresh_token(
        &self,
        token_hash: &[u8; 32],
    ) -> Result<Option<SessionId>, StoreError> {
        sessions::of_refresh_token(self.reader(), token_hash).await
    }

    async fn live_sessions(
        &self,
        user: Option<UserId>,
        now: i64,
    ) -> Result<Vec<Session>, StoreError> {
        sessions::live(self.reader(), user, now).await
    }

    async fn end_session(
        &self,
        id: SessionId,
        reason: EndReason,
        now: i64,
    ) -> Result<bool, StoreError> {
        sessions::end(self.writer(), id, reason, now).await
    }

    async fn end_user_sessions(
        &self,
        user: UserId,
        keep: Option<SessionId>,
        reason: EndReason,
        now: i64,
    ) -> Result<u64, StoreError> {
        let mut connection = self.writer().acquire().await.map_err(database_error)?;
        sessions::end_for_user(&mut connection, user, keep, reason, now).await
    }

    async fn rotate_refresh_token(
        &self,
        rotation: Rotation,
        now: i64,
    ) -> Result<RotateOutcome, StoreError> {
        sessions::rotate(self.writer(), rotation, now).await
    }

    async fn purge_sessions(&self, now: i64, limit: u32) -> Result<u64, StoreError> {
        sessions::purge(self.writer(), now, limit).await
    }

    async fn login_failures(
        &self,
        account: &str,
        client: &str,
        since: i64,
    ) -> Result<LoginFailures, StoreError> {
        login_failures::count(self.reader(), account, client, since).await
    }

    async fn record_login_failure(&self, failure: LoginFailure<'_>) -> Result<(), StoreError> {
        login_failures::record(self.writer(), failure).await
    }

    async fn clear_login_failures(
        &self,
        key: FailureKey<'_>,
        since: i64,
    ) -> Result<u64, StoreError> {
        login_failures::clear(self.writer(), key, since).await
    }

    async fn latest_change(&self) -> Result<i64, StoreError> {
        feed::latest(self.reader()).await
    }

    async fn changes_since(&self, after: i64, limit: u32) -> Result<ChangeBatch, StoreError> {
        feed::since(self.reader(), after, limit).await
    }

    async fn heartbeat(&self, beat: Heartbeat<'_>) -> Result<(), StoreError> {
        feed::heartbeat(self.writer(), beat).await
    }

    async fn instances(&self) -> Result<Vec<Instance>, StoreError> {
        feed::instances(self.reader()).await
    }

    async fn remove_instance(&self, id: uuid::Uuid) -> Result<bool, StoreError> {
        feed::remove_instance(self.writer(), id).await
    }

    async fn prune_changes(
        &self,
        before: i64,
        limit: u32,
        stale_instance_ms: i64,
    ) -> Result<u64, StoreError> {
        feed::prune(self.writer(), before, limit, stale_instance_ms).await
    }

    async fn signing_keys(&self) -> Result<Vec<StoredKey>, StoreError> {
        keys::all(self.reader()).await
    }

    async fn insert_key(&self, key: NewKey, now: i64) -> Result<StoredKey, StoreError> {
        keys::insert(self.writer(), key, now).await
    }

    async fn activate_key(
        &self,
        kid: &str,
        expected_current: Option<&str>,
        now: i64,
        verify_until: i64,
    ) -> Result<(), StoreError> {
        keys::activate(self.writer(), kid, expected_current, now, verify_until).await
    }

    async fn revoke_key(&self, kid: &str, now: i64) -> Result<bool, StoreError> {
        keys::revoke(self.writer(), kid, now).await
    }

    async fn remove_expired_keys(
        &self,
        now: i64,
        keep_revoked_secs: i64,
    ) -> Result<u64, StoreError> {
        keys::remove_expired(self.writer(), now, keep_revoked_secs).await
    }

    async fn create_api_client(&self, client: ApiClient) -> Result<ApiClient, StoreError> {
        api_clients::create(self.writer(), client).await
    }

    async fn api_client(&self, id: &str) -> Result<Option<ApiClient>, StoreError> {
        api_clients::by_id(self.reader(), id).await
    }

    async fn list_api_clients(&self) -> Result<Vec<ApiClient>, StoreError> {
        api_clients::list(self.reader()).await
    }

    async fn delete_api_client(&self, id: &str) -> Result<bool, StoreError> {
        api_clients::delete(self.writer(), id).await
    }

    /// SQLite cannot push: the caller polls [`Store::changes_since`].
    async fn change_listener(&self) -> Result<Option<Box<dyn ChangeListener>>, StoreError> {
        Ok(None)
    }
}

/// A transaction that takes SQLite's write lock at once (`BEGIN IMMEDIATE`), so what it
/// reads cannot change before it writes, whoever else writes to the file.
async fn write_transaction(pool: &SqlitePool) -> Result<Transaction<'static, Sqlite>, StoreError> {
    pool.begin_with("BEGIN IMMEDIATE")
        .await
        .map_err(database_error)
}

/// The active-holder guard of one write, armed when its user was an active holder of
/// `role` before the write (see [`Store::update_user`]). Both checks run inside the write's
/// `BEGIN IMMEDIATE` transaction, which holds SQLite's single write lock throughout.
struct Guard {
    role: String,
}

impl Guard {
    /// Reads, before the write, whether user `id` is an active holder of `role`; `None` when
    /// it is not, since then the write cannot take the last holder away.
    async fn before(
        transaction: &mut Transaction<'static, Sqlite>,
        id: UserId,
        role: String,
    ) -> Result<Option<Self>, StoreError> {
        let holds: bool = sqlx::query_scalar(ACTIVE_HOLDER_EXISTS)
            .bind(id.hyphenated().to_string())
            .bind(&role)
            .fetch_one(&mut **transaction)
            .await
            .map_err(database_error)?;
        Ok(holds.then_some(Self { role }))
    }

    /// Refuses, after the write and before the commit, when no active holder is left. The
    /// caller returns the error, which drops (and so rolls back) the transaction.
    async fn after(self, transaction: &mut Transaction<'static, Sqlite>) -> Result<(), StoreError> {
        let remains: bool = sqlx::query_scalar(ACTIVE_HOLDER_EXISTS)
            .bind(None::<String>)
            .bind(&self.role)
            .fetch_one(&mut **transaction)
            .await
            .map_err(database_error)?;
        if remains {
            Ok(())
        } else {
            Err(StoreError::LastActiveHolder { role: self.role })
        }
    }
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .field("read_connections", &self.pools.reader.size())
            .finish_non_exhaustive()
    }
}

impl UserRow {
    /// Validates the raw columns; anything malformed is [`StoreError::Corrupt`].
    fn into_user(self) -> Result<User, StoreError> {
        let id = UserId::parse_str(&self.id)
            .map_err(|error| StoreError::Corrupt(format!("users.id is not a uuid: {error}")))?;
        let roles: Vec<String> = serde_json::from_str(&self.roles).map_err(|error| {
            StoreError::Corrupt(format!(
                "users.roles of user {id} is not a json array of strings: {error}"
            ))
        })?;
        let active = match self.active {
            0 => false,
            1 => true,
            _ => {
                return Err(StoreError::Corrupt(format!(
                    "users.active of user {id} is neither 0 nor 1"
                )));
            }
        };
        Ok(User {
            id,
            username: self.username,
            password_hash: self.password_hash,
            roles,
            active,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

/// Encodes roles as the JSON array stored in `users.roles`.
fn roles_json(roles: &[String]) -> String {
    serde_json::Value::from(roles.to_vec()).to_string()
}

/// Makes `path` always mean a file: SQLite would read `:memory:` or a `file:` prefix as
/// special names, so such relative paths get a leading `./`.
fn literal_path(path: &Path) -> PathBuf {
    let text = path.to_string_lossy();
    if text == ":memory:" || text.starts_with("file:") {
        Path::new(".").join(path)
    } else {
        path.to_path_buf()
    }
}

/// Maps a failed insert or update of a user: a unique violation on anything but the primary
/// key is the username.
fn insert_error(error: sqlx::Error) -> StoreError {
    if let Some(database_error) = error.as_database_error() {
        let is_primary_key = database_error.code().as_deref() == Some(SQLITE_CONSTRAINT_PRIMARYKEY);
        if database_error.is_unique_violation() && !is_primary_key {
            return StoreError::UsernameTaken;
        }
    }
    read_error(error)
}

/// Maps a failed query that decodes rows: a column of the wrong type is corruption.
fn read_error(error: sqlx::Error) -> StoreError {
    match error {
        sqlx::Error::ColumnDecode { index, source } => {
            StoreError::Corrupt(format!("column users.{index} cannot be decoded: {source}"))
        }
        other => database_error(other),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// `synchronous=FULL` on every connection: in WAL mode each commit syncs the WAL before
    /// it returns, so an answered write survives an OS crash (NORMAL would not).
    #[tokio::test]
    async fn every_connection_syncs_each_commit() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("t.db")).await.unwrap();
        for pool in [store.writer(), store.reader(), &store.pools.probe] {
            let level: i64 = sqlx::query_scalar("PRAGMA synchronous")
                .fetch_one(pool)
                .await
                .unwrap();
            assert_eq!(level, 2, "synchronous is not FULL");
        }
    }
}
