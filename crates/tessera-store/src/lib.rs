//! tessera's persistence: the [`Store`] trait, its value types, and its two backends, SQLite
//! and PostgreSQL.
//!
//! This is the only crate that holds SQL. It keeps users, login sessions, the hashes of
//! their refresh tokens, the recent failed logins the login throttle counts, the token
//! signing keys (private halves sealed by the caller) and the introspection API clients.
//! Each database backend is one implementation of [`Store`] in its own module ([`SqliteStore`],
//! [`PostgresStore`]), both held to the same contract tests, with its migrations under
//! `migrations/<backend>/`.
//!
//! Invariants:
//! - The store never reads the clock: every write takes `now` (unix seconds) from the caller.
//! - Password hashes never appear in `Debug` output or in error messages.
//! - A stored row that cannot be decoded is reported as [`StoreError::Corrupt`], never a panic.
//! - Refresh tokens are never stored, only their SHA-256; a refresh rotates atomically, so a
//!   token has at most one successor however many callers race.
//! - A guarded user write (see [`Store::update_user`]) checks and writes in one atomic step, so
//!   racing writers can never together take away the last active holder of the guarded role.
//! - A write that returned `Ok` is on disk (it survives an OS crash or a power cut), and a
//!   store that was closed leaves every write in the main database file (SQLite) or committed
//!   on the server with `synchronous_commit` as the server has it (PostgreSQL; its default,
//!   `on`, is what this needs; the store never turns it off).
//! - A file that is not the backend's own database is never initialised or migrated.
//! - [`connect_existing`] creates nothing: a database that does not exist yet is
//!   [`StoreError::Missing`]; only [`connect`] and [`migrate`] create one.
//! - A lock held by someone else past the busy timeout is [`StoreError::Busy`], which callers
//!   answer with "retry shortly", never as an internal failure.
//! - Every write that takes access away (a user inserted, changed or deleted; a session ended,
//!   or a not-ended one deleted) appends to the change feed in the same transaction, by
//!   triggers, so the CLI and raw SQL feed it too; refreshes, logins and failed logins do not.
//!   Feed positions are handed out in commit order (see [`Store::changes_since`]).
//! - Signing keys: a `kid` is unique, at most one key is `current` and at most one `next`,
//!   enforced by the database (unique and partial unique indexes), so racing instances cannot
//!   create two; every key write feeds a `key` change (see [`KeyState`]); API client writes
//!   do not feed. A sealed private key and an API client's secret hash never appear in
//!   `Debug` output.
//! - Failed logins are kept per key only as long as a caller's window and limit can need
//!   them: every recorded failure prunes, so the table stays bounded under a flood.

mod api_clients;
mod feed;
mod keys;
mod login_failures;
mod postgres;
mod session;
mod sqlite;
mod url;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use api_clients::ApiClient;
pub use feed::{Change, ChangeBatch, ChangeKind, ChangeListener, Heartbeat, Instance};
pub use keys::{KeyState, NewKey, StoredKey};
pub use login_failures::{FailureCount, FailureKey, LoginFailure, LoginFailures};
pub use postgres::{PostgresOptions, PostgresStore};
pub use session::{
    EndReason, NewSession, Revocation, RotateOutcome, Rotation, Session, SessionId, TokenHash,
};
pub use sqlite::{DEFAULT_BUSY_TIMEOUT, Opened, SqliteOptions, SqliteStore};
pub use url::DatabaseUrl;

/// Identifier of a user: a UUID, stored as hyphenated lower-case text.
pub type UserId = uuid::Uuid;

/// Shown in place of a password hash in `Debug` output.
const REDACTED: &str = "<redacted>";

/// A user row as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    /// Already normalised by the server; stored and compared exactly.
    pub username: String,
    pub password_hash: String,
    pub roles: Vec<String>,
    pub active: bool,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub updated_at: i64,
}

/// A user to insert; `created_at` and `updated_at` come from the `now` passed to the store.
pub struct NewUser {
    pub id: UserId,
    pub username: String,
    pub password_hash: String,
    pub roles: Vec<String>,
    pub active: bool,
}

/// Changes to a user: only the `Some` fields are applied.
#[derive(Default, Clone)]
pub struct UserPatch {
    /// A new username, already normalised by the server; another user holding it exactly
    /// fails the write with [`StoreError::UsernameTaken`]. The id does not change.
    pub username: Option<String>,
    pub active: Option<bool>,
    pub roles: Option<Vec<String>>,
    pub password_hash: Option<String>,
    /// Ends every live session of the user in the same transaction, for this reason.
    pub end_sessions: Option<EndReason>,
    /// With `end_sessions`, this one session of the user is left alive (the caller's own,
    /// when a user changes their own password); ignored without `end_sessions`.
    pub keep_session: Option<SessionId>,
    /// Guards the change: it is refused as a whole when it would take away the last active
    /// user holding this role (see [`Store::update_user`]).
    pub keep_active_holder_of: Option<String>,
}

/// What can go wrong in the store.
///
/// Variants that wrap a cause expose it through `source()` and do not repeat it in their own
/// message; print the whole chain (for example anyhow's `{:#}`) to see both.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another user already has this username.
    #[error("username is already taken")]
    UsernameTaken,
    /// The user a session was to be created for does not exist (any more).
    #[error("no such user")]
    UserNotFound,
    /// The database URL names a backend or form this build does not support.
    #[error("unsupported database url: {0}")]
    UnsupportedUrl(String),
    /// A stored row cannot be read; the message names the table and column, never a secret.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// The database could not be opened or created.
    #[error("failed to open sqlite database at {}", path.display())]
    Connect {
        path: PathBuf,
        #[source]
        source: sqlx::Error,
    },
    /// There is no tessera database at `path` yet (`found` says what is there: no file, an
    /// SQLite file without tables, no such PostgreSQL database, or one without tables), and the
    /// store was asked not to create one; nothing was created. For PostgreSQL, `path` is the
    /// database URL with its password hidden (as in [`StoreError::NotTessera`] and
    /// [`StoreError::NewerSchema`]).
    #[error("there is no tessera database at {}: {found}", path.display())]
    Missing { path: PathBuf, found: &'static str },
    /// The file at the database path is not a tessera database: `found` says what it is.
    #[error(
        "refusing to use {}: it is {found}, not a tessera database; move it away, or set \
         TESSERA_DATABASE_URL to a new file (tessera creates it)",
        path.display()
    )]
    NotTessera { path: PathBuf, found: String },
    /// The database was migrated by a newer tessera: `unknown` are the schema versions this
    /// build does not know; `known` is the newest one it does.
    #[error(
        "the database at {} was written by a newer tessera: it has schema version(s) {} that \
         this build does not know (it knows up to {known}); run the newer tessera, or restore \
         a backup taken before the upgrade",
        path.display(),
        unknown.iter().map(i64::to_string).collect::<Vec<_>>().join(", ")
    )]
    NewerSchema {
        path: PathBuf,
        unknown: Vec<i64>,
        known: i64,
    },
    /// The PostgreSQL server could not be reached, refused the login, or could not create the
    /// database; `database` is the URL with its password hidden.
    #[error("failed to connect to the PostgreSQL database {database}")]
    PostgresConnect {
        database: String,
        #[source]
        source: sqlx::Error,
    },
    /// The schema migrations could not be applied.
    #[error("failed to migrate the database schema")]
    Migrate(#[source] sqlx::migrate::MigrateError),
    /// A guarded write would have left no active user holding `role`; nothing was written.
    #[error("the change would leave no active user with the {role} role")]
    LastActiveHolder { role: String },
    /// Another connection or process held the database's lock for longer than the busy
    /// timeout: retrying shortly may succeed.
    #[error("the database is locked by another writer")]
    Busy(#[source] sqlx::Error),
    /// The backup file already exists; a backup never overwrites anything.
    #[error("the backup file {} already exists; choose a new path", .0.display())]
    BackupExists(PathBuf),
    /// The backup file could not be created or written.
    #[error("failed to write the backup file {}", path.display())]
    Backup {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// This backend writes no backup file: a PostgreSQL database is backed up with the
    /// server's own tools.
    #[error(
        "a PostgreSQL database is not backed up by tessera; use pg_dump (for example \
         pg_dump --format=custom --file=FILE DATABASE_URL) or the server's own backups"
    )]
    BackupUnsupported,
    /// The connection waiting for change notifications was lost (terminated, or the server
    /// went away); notifications may have been missed. The cause, when the driver gave one,
    /// is the source.
    #[error("the connection listening for database changes was lost")]
    ListenerLost(#[source] Option<sqlx::Error>),
    /// The database server could not be reached or dropped the connection (refused, reset,
    /// shut down, terminated by an administrator, not accepting connections): retrying
    /// shortly may succeed, on a new connection.
    #[error("the database cannot be reached")]
    Unavailable(#[source] sqlx::Error),
    /// The write clashes with what is stored (a duplicate, a second current or next key, a
    /// key another writer changed first); nothing was written. The message names what
    /// clashed, never a secret. Re-reading and deciding again may succeed.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The caller asked for something the store never does (a new key in a state it cannot
    /// start in); nothing was written. Retrying the same request fails the same way.
    #[error("invalid store request: {0}")]
    Invalid(String),
    /// A query failed.
    #[error("database query failed")]
    Database(#[source] sqlx::Error),
}

impl StoreError {
    /// True when the operation may succeed when retried shortly: the database was locked by
    /// someone else ([`StoreError::Busy`]) or could not be reached
    /// ([`StoreError::Unavailable`]). Callers answer both `503` with `Retry-After`.
    pub fn is_busy(&self) -> bool {
        matches!(self, Self::Busy(_) | Self::Unavailable(_))
    }
}

/// Persistence of users. One implementation per database backend.
#[async_trait::async_trait]
pub trait Store: Send + Sync + fmt::Debug + 'static {
    /// Inserts a user with `created_at = updated_at = now`.
    /// Fails with [`StoreError::UsernameTaken`] if the username exists.
    async fn create_user(&self, user: NewUser, now: i64) -> Result<User, StoreError>;

    /// Inserts only if the users table is empty, atomically (two instances starting at once
    /// create one admin). `Ok(None)` when users exist.
    async fn create_first_user(&self, user: NewUser, now: i64) -> Result<Option<User>, StoreError>;

    async fn user_by_id(&self, id: UserId) -> Result<Option<User>, StoreError>;

    /// Exact match; usernames are normalised by the server before they get here.
    async fn user_by_username(&self, username: &str) -> Result<Option<User>, StoreError>;

    /// All users, ordered by username.
    async fn list_users(&self) -> Result<Vec<User>, StoreError>;

    /// At most `limit` users, ordered by username byte for byte (as Rust orders strings,
    /// whatever the database's language settings), starting after `after` (exclusive) when
    /// given, and only those whose username contains `contains` when given. `contains` is
    /// matched literally and exactly (no wildcards: `%`, `_` and `\` are ordinary
    /// characters; no case folding: usernames are normalised by the server before they get
    /// here, and so must the text searched for be). Following the last username of each page
    /// as the next `after` yields every matching user exactly once, in order, as long as no
    /// user is created or renamed meanwhile. `limit = 0` yields nothing.
    async fn list_users_page(
        &self,
        after: Option<&str>,
        contains: Option<&str>,
        limit: u32,
    ) -> Result<Vec<User>, StoreError>;

    /// Applies only the `Some` fields, sets `updated_at = now`, and ends the user's live
    /// sessions when `patch.end_sessions` asks, all but `patch.keep_session` when that is
    /// given; `Ok(None)` if no such user. All of it is one
    /// atomic write: it happens completely or not at all. A new username that another user
    /// holds (compared exactly, as [`Store::create_user`] compares) fails the whole write
    /// with [`StoreError::UsernameTaken`]; of racing renames to one name, exactly one wins.
    ///
    /// # The active-holder guard
    ///
    /// With `patch.keep_active_holder_of = Some(role)`, the write is refused with
    /// [`StoreError::LastActiveHolder`] when the user was active and held `role` just before
    /// it and no active user holds `role` just after it. A refused write changes nothing: no
    /// field, no session, no change counter. A user who was not an active holder (a
    /// non-holder, or an inactive holder) is never refused, even when no active holder exists
    /// at all, so granting the role or activating a holder always works as a recovery path.
    ///
    /// Every backend must make the check and the write one step that no other writer of the
    /// same database (another handle, another process) can interleave with: when two guarded
    /// writes race to take the role from the last two active holders, exactly one succeeds
    /// and the other is refused, in whichever order they run. Reading "is there another
    /// holder?" first and writing afterwards is not enough, under any isolation level that
    /// lets both readers see the other holder still active. SQLite gets this from
    /// `BEGIN IMMEDIATE` (the single write lock is taken before the check reads anything).
    /// PostgreSQL under READ COMMITTED does not: it needs either SERIALIZABLE (retrying on a
    /// serialization failure) or locking every active holder's row with
    /// `SELECT … FOR UPDATE` (in a fixed order, by id) before checking and writing. The
    /// unguarded form (`None`) checks nothing.
    async fn update_user(
        &self,
        id: UserId,
        patch: UserPatch,
        now: i64,
    ) -> Result<Option<User>, StoreError>;

    /// `true` if a user was deleted, `false` if there was none with this id. With
    /// `keep_active_holder_of = Some(role)`, refused with [`StoreError::LastActiveHolder`]
    /// (nothing deleted) when the user is the last active holder of `role`, under exactly the
    /// atomicity [`Store::update_user`] describes for its guard.
    async fn delete_user(
        &self,
        id: UserId,
        keep_active_holder_of: Option<&str>,
    ) -> Result<bool, StoreError>;

    async fn count_users(&self) -> Result<u64, StoreError>;

    /// Readiness check: succeeds when a write could start now, that is when the database
    /// answers and its write lock can be had within a short probe (about 200 ms);
    /// [`StoreError::Busy`] when it cannot. On PostgreSQL the probe is a short transaction
    /// that takes the lock every write of `users` takes and rolls back.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Writes a consistent copy of the live database to `destination`, a new file readable
    /// only by its owner; fails with [`StoreError::BackupExists`] when the path exists.
    ///
    /// PostgreSQL has no `VACUUM INTO`: its store always fails with
    /// [`StoreError::BackupUnsupported`], which says to use `pg_dump`, and touches nothing.
    async fn backup(&self, destination: &Path) -> Result<(), StoreError>;

    /// Moves every write into the main database file and closes the connections; call it
    /// once, when the process is done with the store (later calls fail). On PostgreSQL every
    /// answered write is already committed: it only closes the connections.
    async fn close(&self) -> Result<(), StoreError>;

    /// Creates a session with `created_at = last_used_at = now` and its first refresh token.
    /// Fails with [`StoreError::UserNotFound`] when the user does not exist.
    async fn create_session(&self, session: NewSession, now: i64) -> Result<Session, StoreError>;

    async fn session_by_id(&self, id: SessionId) -> Result<Option<Session>, StoreError>;

    /// The session a refresh token (given by its lookup hash) belongs to, whether it is the
    /// session's current token or one already rotated; `None` when no session knows it.
    async fn session_of_refresh_token(
        &self,
        token_hash: &[u8; 32],
    ) -> Result<Option<SessionId>, StoreError>;

    /// Sessions live at `now` (not ended, before both deadlines), newest first; only the
    /// user's when `user` is given.
    async fn live_sessions(
        &self,
        user: Option<UserId>,
        now: i64,
    ) -> Result<Vec<Session>, StoreError>;

    /// Ends one session. `true` when it was not ended before (expired ones included).
    async fn end_session(
        &self,
        id: SessionId,
        reason: EndReason,
        now: i64,
    ) -> Result<bool, StoreError>;

    /// Ends every session of `user` not yet ended, except `keep`; returns how many.
    async fn end_user_sessions(
        &self,
        user: UserId,
        keep: Option<SessionId>,
        reason: EndReason,
        now: i64,
    ) -> Result<u64, StoreError>;

    /// One refresh, decided and applied atomically (see [`RotateOutcome`]): however many
    /// callers present the same token at once, at most one successor is ever stored.
    async fn rotate_refresh_token(
        &self,
        rotation: Rotation,
        now: i64,
    ) -> Result<RotateOutcome, StoreError>;

    /// Deletes at most `limit` sessions that ended or expired before `now`, with their
    /// refresh tokens; returns how many sessions.
    async fn purge_sessions(&self, now: i64, limit: u32) -> Result<u64, StoreError>;

    /// The failed logins of `account` and of `client` recorded after `since` (exclusive),
    /// in one read: what the throttle needs before a login attempt's password is checked.
    async fn login_failures(
        &self,
        account: &str,
        client: &str,
        since: i64,
    ) -> Result<LoginFailures, StoreError>;

    /// Records one failed login against its account and its client, and prunes (see
    /// [`LoginFailure`]), all in one write.
    async fn record_login_failure(&self, failure: LoginFailure<'_>) -> Result<(), StoreError>;

    /// Deletes every recorded failure of `key` (a successful login, an administrator's
    /// unlock); returns how many of them were after `since`, that is still counted.
    async fn clear_login_failures(
        &self,
        key: FailureKey<'_>,
        since: i64,
    ) -> Result<u64, StoreError>;

    /// The feed's current end: the highest `seq` written (or pruned) so far; 0 for a new
    /// database. A new reader starts here (its caches are empty, so nothing before it
    /// matters). Only committed changes count: a change still committing gets a greater
    /// `seq`.
    async fn latest_change(&self) -> Result<i64, StoreError>;

    /// Changes after the cursor `after` (see [`ChangeBatch`]); at most `limit`. The rows and
    /// whether some were pruned (`missed`) are read in one snapshot, so they agree. A stored
    /// `kind` other than `user`, `session` or `key` is [`StoreError::Corrupt`].
    async fn changes_since(&self, after: i64, limit: u32) -> Result<ChangeBatch, StoreError>;

    /// Records that instance `beat.id` is alive and has applied the feed up to `beat.applied`:
    /// inserts its row on first call (with its label, `started_at` = now by the database
    /// clock) and updates `applied`, the lease and the heartbeat time (the database's own
    /// clock, in milliseconds) afterwards. `applied` never moves backwards (the greater one
    /// is kept); the label is the first call's.
    async fn heartbeat(&self, beat: Heartbeat<'_>) -> Result<(), StoreError>;

    /// Every registered instance, ordered by label (byte for byte) then id, with its
    /// heartbeat age measured by the database's clock in the same statement.
    async fn instances(&self) -> Result<Vec<Instance>, StoreError>;

    /// Deletes instance `id` (a clean shutdown); `true` when it was there.
    async fn remove_instance(&self, id: uuid::Uuid) -> Result<bool, StoreError>;

    /// Housekeeping: deletes feed entries written before `before` (unix seconds, the caller's
    /// clock) — at most `limit` per call, lowest first, and only a run from the start of the
    /// feed (an entry written later stops it, so what is left never has a gap below it) —
    /// and records the highest deleted `seq` so readers behind it learn they missed changes;
    /// also deletes instances whose last heartbeat is older than `stale_instance_ms` (by the
    /// database clock). Returns the number of feed entries deleted.
    async fn prune_changes(
        &self,
        before: i64,
        limit: u32,
        stale_instance_ms: i64,
    ) -> Result<u64, StoreError>;

    /// Every signing key, in every state, ordered by `created_at` (then `kid`).
    async fn signing_keys(&self) -> Result<Vec<StoredKey>, StoreError>;

    /// Inserts a key with `created_at = now` (and `activated_at = now` when it starts
    /// current), under a new random id. [`StoreError::Conflict`] when its `kid` exists, when
    /// it is `next` and a next key exists, or when it is `current` and a current key exists
    /// (two instances starting at once: the loser re-reads the keys); of racing inserts
    /// exactly one wins. A state other than next or current is [`StoreError::Invalid`].
    async fn insert_key(&self, key: NewKey, now: i64) -> Result<StoredKey, StoreError>;

    /// Atomically makes the next key `kid` current (`activated_at = now`) and retires the
    /// former current key, if any (`retired_at = now`, and `verify_until` as given).
    /// Refused with [`StoreError::Conflict`], changing nothing, when `kid` does not exist or
    /// is not next, or when the current key's kid is not `expected_current` (`None`: there
    /// must be no current key): another writer rotated first. Of racing activations exactly
    /// one wins.
    async fn activate_key(
        &self,
        kid: &str,
        expected_current: Option<&str>,
        now: i64,
        verify_until: i64,
    ) -> Result<(), StoreError>;

    /// Revokes the key `kid` whatever its state (`revoked_at = now`; a key already revoked
    /// keeps its first `revoked_at` and nothing is written). `Ok(false)` when there is no
    /// such kid. Revoking the current key is allowed: the caller decides what signs next.
    async fn revoke_key(&self, kid: &str, now: i64) -> Result<bool, StoreError>;

    /// Deletes the retired keys whose `verify_until < now` (one that verifies until `now`
    /// is kept) and the revoked keys revoked more than `keep_revoked_secs` before `now`
    /// (`revoked_at < now - keep_revoked_secs`); returns how many keys.
    async fn remove_expired_keys(
        &self,
        now: i64,
        keep_revoked_secs: i64,
    ) -> Result<u64, StoreError>;

    /// Stores an API client as given. [`StoreError::Conflict`] when its id or its name is
    /// taken (names are compared exactly).
    async fn create_api_client(&self, client: ApiClient) -> Result<ApiClient, StoreError>;

    /// The client with this id (exact match).
    async fn api_client(&self, id: &str) -> Result<Option<ApiClient>, StoreError>;

    /// Every API client, ordered by name byte for byte.
    async fn list_api_clients(&self) -> Result<Vec<ApiClient>, StoreError>;

    /// `true` when a client with this id was deleted.
    async fn delete_api_client(&self, id: &str) -> Result<bool, StoreError>;

    /// Wakes on new feed entries, where the backend can push them (PostgreSQL
    /// LISTEN/NOTIFY on its own connection, taken from the store's pool for as long as the
    /// listener lives); `Ok(None)` where it cannot (SQLite), and the caller polls.
    async fn change_listener(&self) -> Result<Option<Box<dyn ChangeListener>>, StoreError>;
}

/// Opens the database named by `url`, creating it if missing, and applies migrations.
///
/// Accepted forms: `sqlite://PATH` and `sqlite:PATH` (relative or absolute path; missing
/// parent directories are created), and `postgres://` or `postgresql://` URLs that name a
/// database (created with `CREATE DATABASE` on the server when it does not exist; see
/// [`PostgresStore::open_with`]). The URL itself never appears in errors, since it may hold a
/// password; a PostgreSQL URL is shown with its password hidden.
pub async fn connect(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    match DatabaseUrl::parse(url)? {
        DatabaseUrl::Sqlite(path) => Ok(Arc::new(SqliteStore::open(&path).await?)),
        DatabaseUrl::Postgres(url) => Ok(Arc::new(PostgresStore::open(&url).await?)),
    }
}

/// Opens the existing database named by `url` and applies pending migrations; creates
/// nothing. A database that does not exist yet (no file, no PostgreSQL database of that name,
/// or one without tables) is [`StoreError::Missing`].
pub async fn connect_existing(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    match DatabaseUrl::parse(url)? {
        DatabaseUrl::Sqlite(path) => {
            let options = SqliteOptions {
                create_if_missing: false,
                ..SqliteOptions::default()
            };
            Ok(Arc::new(SqliteStore::open_with(&path, options).await?))
        }
        DatabaseUrl::Postgres(url) => {
            let options = PostgresOptions {
                create_if_missing: false,
                ..PostgresOptions::default()
            };
            Ok(Arc::new(PostgresStore::open_with(&url, options).await?))
        }
    }
}

/// As [`connect_existing`], and says what opening did (the schema version, the migrations
/// applied), for `tessera db check`.
pub async fn inspect_existing(url: &str) -> Result<(Arc<dyn Store>, Opened), StoreError> {
    match DatabaseUrl::parse(url)? {
        DatabaseUrl::Sqlite(path) => {
            let options = SqliteOptions {
                create_if_missing: false,
                ..SqliteOptions::default()
            };
            let store = SqliteStore::open_with(&path, options).await?;
            let opened = store.opened().clone();
            Ok((Arc::new(store), opened))
        }
        DatabaseUrl::Postgres(url) => {
            let options = PostgresOptions {
                create_if_missing: false,
                ..PostgresOptions::default()
            };
            let store = PostgresStore::open_with(&url, options).await?;
            let opened = store.opened().clone();
            Ok((Arc::new(store), opened))
        }
    }
}

/// Creates the database named by `url` if it is missing (for PostgreSQL with
/// `CREATE DATABASE`, which needs the right to create databases), applies pending migrations
/// and closes it again; answers what it did.
pub async fn migrate(url: &str) -> Result<Opened, StoreError> {
    match DatabaseUrl::parse(url)? {
        DatabaseUrl::Sqlite(path) => {
            let store = SqliteStore::open(&path).await?;
            let opened = store.opened().clone();
            store.close().await?;
            Ok(opened)
        }
        DatabaseUrl::Postgres(url) => {
            let store = PostgresStore::open(&url).await?;
            let opened = store.opened().clone();
            store.close().await?;
            Ok(opened)
        }
    }
}

impl fmt::Debug for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("password_hash", &REDACTED)
            .field("roles", &self.roles)
            .field("active", &self.active)
            .field("created_at", &self.created_at)
            .field("updated_at", &self.updated_at)
            .finish()
    }
}

impl fmt::Debug for NewUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewUser")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("password_hash", &REDACTED)
            .field("roles", &self.roles)
            .field("active", &self.active)
            .finish()
    }
}

impl fmt::Debug for UserPatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserPatch")
            .field("username", &self.username)
            .field("active", &self.active)
            .field("roles", &self.roles)
            .field(
                "password_hash",
                &self.password_hash.as_ref().map(|_| REDACTED),
            )
            .field("end_sessions", &self.end_sessions)
            .field("keep_active_holder_of", &self.keep_active_holder_of)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patch_debug_redacts_hash_but_shows_presence() {
        let patch = UserPatch {
            password_hash: Some("$argon2id$secret".to_owned()),
            ..UserPatch::default()
        };
        let shown = format!("{patch:?}");
        assert!(!shown.contains("secret"), "{shown}");
        assert!(shown.contains("Some(\"<redacted>\")"), "{shown}");
        assert!(format!("{:?}", UserPatch::default()).contains("password_hash: None"));
    }

    #[test]
    fn new_user_debug_redacts_hash() {
        let user = NewUser {
            id: UserId::nil(),
            username: "alice".to_owned(),
            password_hash: "$argon2id$secret".to_owned(),
            roles: vec!["admin".to_owned()],
            active: true,
        };
        let shown = format!("{user:?}");
        assert!(!shown.contains("secret"), "{shown}");
        assert!(
            shown.contains("alice") && shown.contains("<redacted>"),
            "{shown}"
        );
    }
}
