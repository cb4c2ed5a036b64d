//! The PostgreSQL backend of [`Store`].
//!
//! Owns every PostgreSQL statement and the embedded migrations in `migrations/postgres/`; the
//! statements for sessions and refresh tokens live in the `sessions` submodule, those for the
//! failed-login counters in `login_failures`, the change feed, its notifications and the
//! heartbeats in `feed`, the signing keys in `keys`, the API clients in `api_clients`,
//! connecting, creating and migrating the database in `open`.
//!
//! Invariants: all SQL is static text with `$n` placeholders; values are always bound (the
//! one exception, `CREATE DATABASE`, quotes the name as an identifier). Transactions run at
//! READ COMMITTED, so every check-then-write locks the rows it decides on with
//! `SELECT … FOR UPDATE` before it reads them for the decision, always in the same order
//! (sessions before their refresh tokens; the active holders of a role by id), so racing
//! instances queue instead of interleaving. The change counters are kept by triggers, so raw
//! SQL moves them too. A lock held elsewhere past the lock timeout, a deadlock the server broke,
//! or a pool with no free connection in time is [`StoreError::Busy`].

mod api_clients;
mod feed;
mod keys;
mod login_failures;
mod open;
mod sessions;

use std::fmt;
use std::path::Path;

use sqlx::postgres::{PgPool, Postgres};
use sqlx::{PgConnection, Transaction};

pub use open::PostgresOptions;

use crate::{
    ApiClient, ChangeBatch, ChangeListener, EndReason, FailureKey, Heartbeat, Instance,
    LoginFailure, LoginFailures, NewKey, NewSession, NewUser, Opened, RotateOutcome, Rotation,
    Session, SessionId, Store, StoreError, StoredKey, User, UserId, UserPatch,
};

/// The unique constraint on `users.username` (PostgreSQL's default name for it).
const USERNAME_CONSTRAINT: &str = "users_username_key";

/// SQLSTATEs that mean "someone else held a lock; retry shortly": `lock_not_available`
/// (the lock timeout ran out), `serialization_failure` and `deadlock_detected`.
const BUSY_STATES: [&str; 3] = ["55P03", "40001", "40P01"];

/// Columns of `users`, in the order [`UserRow`] reads them (a macro so `concat!` can use it).
macro_rules! user_columns {
    () => {
        "id, username, password_hash, roles::text AS roles, active, created_at, updated_at"
    };
}

const SELECT_BY_ID: &str = concat!("SELECT ", user_columns!(), " FROM users WHERE id = $1");

const SELECT_BY_USERNAME: &str = concat!(
    "SELECT ",
    user_columns!(),
    " FROM users WHERE username = $1"
);

const SELECT_ALL: &str = concat!("SELECT ", user_columns!(), " FROM users ORDER BY username");
/// A page of users from the first, containing `$1` when it is not NULL: `strpos` matches
/// the text literally, unlike `LIKE`; `username` is declared `COLLATE "C"`, so it is
/// compared (a parameter takes the column's collation) and ordered byte for byte.
const SELECT_PAGE_FROM_START: &str = concat!(
    "SELECT ",
    user_columns!(),
    " FROM users WHERE ($1::text IS NULL OR strpos(username, $1) > 0) \
     ORDER BY username LIMIT $2"
);

/// A page of users after the username `$3`, otherwise as [`SELECT_PAGE_FROM_START`].
const SELECT_PAGE_AFTER: &str = concat!(
    "SELECT ",
    user_columns!(),
    " FROM users WHERE username > $3 AND ($1::text IS NULL OR strpos(username, $1) > 0) \
     ORDER BY username LIMIT $2"
);

const INSERT_USER: &str = concat!(
    "INSERT INTO users \
     (id, username, password_hash, roles, active, created_at, updated_at) \
     VALUES ($1, $2, $3, $4::jsonb, $5, $6, $6) \
     RETURNING ",
    user_columns!()
);

/// Run after [`LOCK_USERS_FOR_FIRST`], so no other writer can add a user between the
/// emptiness check and the insert.
const INSERT_FIRST_USER: &str = concat!(
    "INSERT INTO users \
     (id, username, password_hash, roles, active, created_at, updated_at) \
     SELECT $1, $2, $3, $4::jsonb, $5, $6, $6 WHERE NOT EXISTS (SELECT 1 FROM users) \
     RETURNING ",
    user_columns!()
);

/// Conflicts with itself and with every row write of `users`, and not with readers: held
/// for the first-user insert only.
const LOCK_USERS_FOR_FIRST: &str = "LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE";

/// A NULL parameter leaves its column unchanged, so every patch is one statement.
const UPDATE_USER: &str = concat!(
    "UPDATE users SET \
     active = COALESCE($2, active), \
     roles = COALESCE($3::jsonb, roles), \
     password_hash = COALESCE($4, password_hash), \
     updated_at = $5, \
     username = COALESCE($6, username) \
     WHERE id = $1 \
     RETURNING ",
    user_columns!()
);

/// Locks every active holder of role `$1`, in id order (so two guarded writes never wait for
/// each other crosswise), and answers their ids. Under READ COMMITTED a row another writer
/// changed meanwhile is checked again once its lock is had: a holder that writer took away
/// is left out.
const LOCK_ACTIVE_HOLDERS: &str =
    "SELECT id FROM users WHERE active AND roles ? $1 ORDER BY id FOR UPDATE";

/// Whether an active user holds role `$1`.
const ACTIVE_HOLDER_EXISTS: &str =
    "SELECT EXISTS (SELECT 1 FROM users WHERE active AND roles ? $1)";

/// A [`Store`] on one PostgreSQL database, shared safely with other instances and processes
/// (such as the CLI) that open the same database.
pub struct PostgresStore {
    pool: PgPool,
    /// The URL with its password hidden.
    shown: String,
    opened: Opened,
}

/// A `users` row as PostgreSQL returns it, before validation.
#[derive(sqlx::FromRow)]
struct UserRow {
    id: UserId,
    username: String,
    password_hash: String,
    roles: String,
    active: bool,
    created_at: i64,
    updated_at: i64,
}

impl PostgresStore {
    /// Opens the database named by `url` with the default options (see [`Self::open_with`]).
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        Self::open_with(url, PostgresOptions::default()).await
    }

    /// Opens the database named by the `postgres://` URL `url` and applies pending migrations.
    ///
    /// When the database does not exist and `options.create_if_missing` is `true` (the
    /// default), it is created with `CREATE DATABASE` through the server's `postgres`
    /// database (so the role needs `CREATEDB`); two instances creating it at once both
    /// succeed. When `false`, a missing database, or one without tables, is
    /// [`StoreError::Missing`] and nothing is created. A database holding tables of another
    /// application is refused ([`StoreError::NotTessera`]), and one migrated by a newer
    /// tessera too ([`StoreError::NewerSchema`]). Migrations run under an advisory lock, so
    /// instances starting at once migrate once.
    pub async fn open_with(url: &str, options: PostgresOptions) -> Result<Self, StoreError> {
        let (pool, opened, shown) = open::open(url, options).await?;
        tracing::debug!(database = %shown, "opened postgres store");
        Ok(Self {
            pool,
            shown,
            opened,
        })
    }

    /// What opening did to the database: created it, applied migrations.
    pub fn opened(&self) -> &Opened {
        &self.opened
    }

    async fn insert(
        &self,
        connection: &mut PgConnection,
        sql: &'static str,
        user: NewUser,
        now: i64,
    ) -> Result<Option<User>, StoreError> {
        let row = sqlx::query_as::<_, UserRow>(sql)
            .bind(user.id)
            .bind(user.username)
            .bind(user.password_hash)
            .bind(roles_json(&user.roles))
            .bind(user.active)
            .bind(now)
            .fetch_optional(connection)
            .await
            .map_err(insert_error)?;
        row.map(UserRow::into_user).transpose()
    }
}

/// A lock timeout, a serialization failure or a deadlock.
fn is_busy(error: &sqlx::Error) -> bool {
    error
        .as_database_error()
        .and_then(|database| database.code())
        .is_some_and(|code| BUSY_STATES.contains(&code.as_ref()))
}

/// SQLSTATEs that mean the server cannot serve this connection now: `admin_shutdown` (among
/// others, `pg_terminate_backend`), `crash_shutdown`, `cannot_connect_now`,
/// `too_many_connections`, and `object_not_in_prerequisite_state`, which a new connection gets
/// from a database that does not accept connections (`ALLOW_CONNECTIONS false`). The whole
/// class `08` (connection exception) counts too.
const UNAVAILABLE_STATES: [&str; 5] = ["57P01", "57P02", "57P03", "53300", "55000"];

/// The connection was lost or could not be made: the server is down, unreachable, shutting
/// down, or ended this session.
fn is_unavailable(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(database) => database.code().is_some_and(|code| {
            code.starts_with("08") || UNAVAILABLE_STATES.contains(&code.as_ref())
        }),
        _ => false,
    }
}

/// Maps a failed statement: a lock held elsewhere past the lock timeout, or no free connection
/// in time, is [`StoreError::Busy`]; a lost or refused connection [`StoreError::Unavailable`];
/// anything else [`StoreError::Database`]. Each keeps sqlx's error as its source.
fn database_error(error: sqlx::Error) -> StoreError {
    if is_busy(&error) || matches!(error, sqlx::Error::PoolTimedOut) {
        StoreError::Busy(error)
    } else if is_unavailable(&error) {
        StoreError::Unavailable(error)
    } else {
        StoreError::Database(error)
    }
}

/// Starts a READ COMMITTED transaction (the server's default level is not assumed).
async fn write_transaction(pool: &PgPool) -> Result<Transaction<'static, Postgres>, StoreError> {
    pool.begin_with("BEGIN ISOLATION LEVEL READ COMMITTED")
        .await
        .map_err(database_error)
}

#[async_trait::async_trait]
impl Store for PostgresStore {
    async fn create_user(&self, user: NewUser, now: i64) -> Result<User, StoreError> {
        let mut connection = self.pool.acquire().await.map_err(database_error)?;
        self.insert(&mut connection, INSERT_USER, user, now)
            .await?
            .ok_or_else(|| StoreError::Corrupt("users: insert returned no row".to_owned()))
    }

    async fn create_first_user(&self, user: NewUser, now: i64) -> Result<Option<User>, StoreError> {
        let mut transaction = write_transaction(&self.pool).await?;
        sqlx::query(LOCK_USERS_FOR_FIRST)
            .execute(&mut *transaction)
            .await
            .map_err(database_error)?;
        let created = self
            .insert(&mut transaction, INSERT_FIRST_USER, user, now)
            .await?;
        transaction.commit().await.map_err(database_error)?;
        Ok(created)
    }

    async fn user_by_id(&self, id: UserId) -> Result<Option<User>, StoreError> {
        let row = sqlx::query_as::<_, UserRow>(SELECT_BY_ID)
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(read_error)?;
        row.map(UserRow::into_user).transpose()
    }

    async fn user_by_username(&self, username: &str) -> Result<Option<User>, StoreError> {
        if username.contains('\0') {
            // PostgreSQL text cannot hold a NUL character, so no stored username has one.
            return Ok(None);
        }
        let row = sqlx::query_as::<_, UserRow>(SELECT_BY_USERNAME)
            .bind(username)
            .fetch_optional(&self.pool)
            .await
            .map_err(read_error)?;
        row.map(UserRow::into_user).transpose()
    }

    async fn list_users(&self) -> Result<Vec<User>, StoreError> {
        let rows = sqlx::query_as::<_, UserRow>(SELECT_ALL)
            .fetch_all(&self.pool)
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
        // PostgreSQL text cannot hold a NUL character, so no stored username has one: no
        // username contains such text, and the usernames after one are those after the text
        // before its first NUL (which sorts just below it).
        if contains.is_some_and(|text| text.contains('\0')) {
            return Ok(Vec::new());
        }
        let after = after.map(|after| after.split('\0').next().unwrap_or_default());
        let query = match after {
            Some(after) => sqlx::query_as::<_, UserRow>(SELECT_PAGE_AFTER)
                .bind(contains)
                .bind(i64::from(limit))
                .bind(after),
            None => sqlx::query_as::<_, UserRow>(SELECT_PAGE_FROM_START)
                .bind(contains)
                .bind(i64::from(limit)),
        };
        let rows = query.fetch_all(&self.pool).await.map_err(read_error)?;
        rows.into_iter().map(UserRow::into_user).collect()
    }

    async fn update_user(
        &self,
        id: UserId,
        patch: UserPatch,
        now: i64,
    ) -> Result<Option<User>, StoreError> {
        let mut transaction = write_transaction(&self.pool).await?;
        let guard = match patch.keep_active_holder_of {
            Some(role) => Guard::before(&mut transaction, id, role).await?,
            None => None,
        };
        let row = sqlx::query_as::<_, UserRow>(UPDATE_USER)
            .bind(id)
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
        let delete = sqlx::query("DELETE FROM users WHERE id = $1").bind(id);
        let Some(role) = keep_active_holder_of else {
            let result = delete.execute(&self.pool).await.map_err(database_error)?;
            return Ok(result.rows_affected() > 0);
        };
        let mut transaction = write_transaction(&self.pool).await?;
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
            .fetch_one(&self.pool)
            .await
            .map_err(database_error)?;
        u64::try_from(count)
            .map_err(|_| StoreError::Corrupt("users: row count is negative".to_owned()))
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let mut transaction = write_transaction(&self.pool).await?;
        // SET cannot take a bound parameter; the value is a constant.
        sqlx::query("SET LOCAL lock_timeout = '200ms'")
            .execute(&mut *transaction)
            .await
            .map_err(database_error)?;
        // The lock every insert, update and delete of `users` takes: it fails on a read-only
        // server or transaction, and waits only behind schema changes and explicit locks.
        sqlx::query("LOCK TABLE users IN ROW EXCLUSIVE MODE")
            .execute(&mut *transaction)
            .await
            .map_err(database_error)?;
        transaction.rollback().await.map_err(database_error)
    }

    async fn backup(&self, _destination: &Path) -> Result<(), StoreError> {
        Err(StoreError::BackupUnsupported)
    }

    async fn close(&self) -> Result<(), StoreError> {
        self.pool.close().await;
        Ok(())
    }

    async fn create_session(&self, session: NewSession, now: i64) -> Result<Session, StoreError> {
        sessions::create(&self.pool, session, now).await
    }

    async fn session_by_id(&self, id: SessionId) -> Result<Option<Session>, StoreError> {
        sessions::by_id(&self.pool, id).await
    }

    async fn session_of_refresh_token(
        &self,
        token_hash: &[u8; 32],
    ) -> Result<Option<SessionId>, StoreError> {
        sessions::of_refresh_token(&self.pool, token_hash).await
    }

    async fn live_sessions(
        &self,
        user: Option<UserId>,
        now: i64,
    ) -> Result<Vec<Session>, StoreError> {
        sessions::live(&self.pool, user, now).await
    }

    async fn end_session(
        &self,
        id: SessionId,
        reason: EndReason,
        now: i64,
    ) -> Result<bool, StoreError> {
        sessions::end(&self.pool, id, reason, now).await
    }

    async fn end_user_sessions(
        &self,
        user: UserId,
        keep: Option<SessionId>,
        reason: EndReason,
        now: i64,
    ) -> Result<u64, StoreError> {
        let mut connection = self.pool.acquire().await.map_err(database_error)?;
        sessions::end_for_user(&mut connection, user, keep, reason, now).await
    }

    async fn rotate_refresh_token(
        &self,
        rotation: Rotation,
        now: i64,
    ) -> Result<RotateOutcome, StoreError> {
        sessions::rotate(&self.pool, rotation, now).await
    }

    async fn purge_sessions(&self, now: i64, limit: u32) -> Result<u64, StoreError> {
        sessions::purge(&self.pool, now, limit).await
    }

    async fn login_failures(
        &self,
        account: &str,
        client: &str,
        since: i64,
    ) -> Result<LoginFailures, StoreError> {
        login_failures::count(&self.pool, account, client, since).await
    }

    async fn record_login_failure(&self, failure: LoginFailure<'_>) -> Result<(), StoreError> {
        login_failures::record(&self.pool, failure).await
    }

    async fn clear_login_failures(
        &self,
        key: FailureKey<'_>,
        since: i64,
    ) -> Result<u64, StoreError> {
        login_failures::clear(&self.pool, key, since).await
    }

    async fn latest_change(&self) -> Result<i64, StoreError> {
        feed::latest(&self.pool).await
    }

    async fn changes_since(&self, after: i64, limit: u32) -> Result<ChangeBatch, StoreError> {
        feed::since(&self.pool, after, limit).await
    }

    async fn heartbeat(&self, beat: Heartbeat<'_>) -> Result<(), StoreError> {
        feed::heartbeat(&self.pool, beat).await
    }

    async fn instances(&self) -> Result<Vec<Instance>, StoreError> {
        feed::instances(&self.pool).await
    }

    async fn remove_instance(&self, id: uuid::Uuid) -> Result<bool, StoreError> {
        feed::remove_instance(&self.pool, id).await
    }

    async fn prune_changes(
        &self,
        before: i64,
        limit: u32,
        stale_instance_ms: i64,
    ) -> Result<u64, StoreError> {
        feed::prune(&self.pool, before, limit, stale_instance_ms).await
    }

    async fn signing_keys(&self) -> Result<Vec<StoredKey>, StoreError> {
        keys::all(&self.pool).await
    }

    async fn insert_key(&self, key: NewKey, now: i64) -> Result<StoredKey, StoreError> {
        keys::insert(&self.pool, key, now).await
    }

    async fn activate_key(
        &self,
        kid: &str,
        expected_current: Option<&str>,
        now: i64,
        verify_until: i64,
    ) -> Result<(), StoreError> {
        keys::activate(&self.pool, kid, expected_current, now, verify_until).await
    }

    async fn revoke_key(&self, kid: &str, now: i64) -> Result<bool, StoreError> {
        keys::revoke(&self.pool, kid, now).await
    }

    async fn remove_expired_keys(
        &self,
        now: i64,
        keep_revoked_secs: i64,
    ) -> Result<u64, StoreError> {
        keys::remove_expired(&self.pool, now, keep_revoked_secs).await
    }

    async fn create_api_client(&self, client: ApiClient) -> Result<ApiClient, StoreError> {
        api_clients::create(&self.pool, client).await
    }

    async fn api_client(&self, id: &str) -> Result<Option<ApiClient>, StoreError> {
        api_clients::by_id(&self.pool, id).await
    }

    async fn list_api_clients(&self) -> Result<Vec<ApiClient>, StoreError> {
        api_clients::list(&self.pool).await
    }

    async fn delete_api_client(&self, id: &str) -> Result<bool, StoreError> {
        api_clients::delete(&self.pool, id).await
    }

    /// LISTEN on a connection of this store's pool, held until the listener is dropped
    /// (drop it before [`Store::close`], which waits for every connection).
    async fn change_listener(&self) -> Result<Option<Box<dyn ChangeListener>>, StoreError> {
        feed::listener(&self.pool).await.map(Some)
    }
}

/// The active-holder guard of one write, armed when its user was an active holder of `role`
/// before the write (see [`Store::update_user`]). Arming it locks every active holder's row
/// until the transaction ends, so no other guarded write can take a holder away between this
/// write's check and its commit.
struct Guard {
    role: String,
}

impl Guard {
    /// Locks the active holders of `role` and answers whether user `id` is one of them;
    /// `None` when it is not, since then the write cannot take the last holder away.
    async fn before(
        transaction: &mut Transaction<'static, Postgres>,
        id: UserId,
        role: String,
    ) -> Result<Option<Self>, StoreError> {
        let holders: Vec<UserId> = sqlx::query_scalar(LOCK_ACTIVE_HOLDERS)
            .bind(&role)
            .fetch_all(&mut **transaction)
            .await
            .map_err(database_error)?;
        Ok(holders.contains(&id).then_some(Self { role }))
    }

    /// Refuses, after the write and before the commit, when no active holder is left. The
    /// caller returns the error, which drops (and so rolls back) the transaction.
    async fn after(
        self,
        transaction: &mut Transaction<'static, Postgres>,
    ) -> Result<(), StoreError> {
        let remains: bool = sqlx::query_scalar(ACTIVE_HOLDER_EXISTS)
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

impl fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresStore")
            .field("database", &self.shown)
            .field("connections", &self.pool.size())
            .finish_non_exhaustive()
    }
}

impl UserRow {
    /// Validates the raw columns; anything malformed is [`StoreError::Corrupt`].
    fn into_user(self) -> Result<User, StoreError> {
        let id = self.id;
        let roles: Vec<String> = serde_json::from_str(&self.roles).map_err(|error| {
            StoreError::Corrupt(format!(
                "users.roles of user {id} is not a json array of strings: {error}"
            ))
        })?;
        Ok(User {
            id,
            username: self.username,
            password_hash: self.password_hash,
            roles,
            active: self.active,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

/// Encodes roles as the JSON array stored in `users.roles`.
fn roles_json(roles: &[String]) -> String {
    serde_json::Value::from(roles.to_vec()).to_string()
}

/// Maps a failed insert or update of a user: a unique violation of the username's constraint
/// is [`StoreError::UsernameTaken`] (a clashing id is not).
fn insert_error(error: sqlx::Error) -> StoreError {
    if let Some(database_error) = error.as_database_error()
        && database_error.is_unique_violation()
        && database_error.constraint() == Some(USERNAME_CONSTRAINT)
    {
        return StoreError::UsernameTaken;
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
