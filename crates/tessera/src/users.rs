//! The user service: every read and write of users goes through here.
//!
//! It owns the in-memory cache that keeps the per-request "does this user still exist
//! and is it active?" check off the database. Invariants:
//! - every write made through this service invalidates the cache entry *before* it
//!   returns, so the very next request sees the change;
//! - writes made elsewhere (the CLI, another instance, raw SQL) reach the cache through the
//!   change feed ([`crate::cluster`]), which evicts exactly the users they changed;
//! - a change, deactivation or deletion is answered only once every other live instance
//!   has applied it ([`Cluster::await_everyone`]), so none of them serves the old user after;
//! - a cache fill that raced with an invalidation is discarded (see [`EpochCache`]);
//! - a password change, a role change and deactivation end all of the user's sessions in
//!   the same store write (a user changing their own password keeps the session they did it
//!   from), and drop them from the session cache before returning;
//! - "at least one active admin remains" is checked by the store inside the write (never
//!   by reading first here), so racing changes cannot together remove every admin.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use secrecy::SecretString;
use serde_json::value::RawValue;
use tessera_store::{EndReason, NewUser, SessionId, Store, StoreError, User, UserId, UserPatch};

use crate::cache::EpochCache;
use crate::cluster::Cluster;
use crate::model::{ADMIN_ROLE, InvalidValue, NewPassword, Roles, Username, random_alphanumeric};
use crate::password::{PasswordError, Passwords};
use crate::sessions::Sessions;

/// Entries kept before the cache is cleared wholesale (bounds memory under churn).
const CACHE_CAPACITY: usize = 100_000;
/// Feed entries deleted per statement.
const PRUNE_BATCH: u32 = 5_000;
/// The bootstrap administrator's username.
pub const BOOTSTRAP_ADMIN: &str = "admin";

/// One page of users, as [`Users::list_page`] reads it.
#[derive(Debug)]
pub struct UserPage {
    /// At most the limit asked for, ordered by username byte for byte.
    pub users: Vec<UserView>,
    /// True when at least one more matching user follows the last of `users`.
    pub more: bool,
}

/// What the server shows and checks of a user: everything but the password hash.
#[derive(Debug, Clone)]
pub struct UserView {
    /// Stable id (the tokens' `sub`).
    pub id: UserId,
    /// Unique, lower-case username.
    pub username: String,
    /// Sorted role names.
    pub roles: Vec<String>,
    /// Inactive users can neither log in nor use a token.
    pub active: bool,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub updated_at: i64,
    /// This user as the HTTP API shows it, rendered on first use and kept with this view:
    /// a changed user is a new view, so the rendering is never stale.
    pub rendered: OnceLock<Box<RawValue>>,
}

impl UserView {
    /// True when the user holds the `admin` role.
    pub fn is_admin(&self) -> bool {
        self.roles.iter().any(|r| r == ADMIN_ROLE)
    }
}

impl From<&User> for UserView {
    fn from(user: &User) -> Self {
        Self {
            id: user.id,
            username: user.username.clone(),
            roles: user.roles.clone(),
            active: user.active,
            created_at: user.created_at,
            updated_at: user.updated_at,
            rendered: OnceLock::new(),
        }
    }
}

/// Why a user operation failed.
#[derive(Debug, thiserror::Error)]
pub enum UsersError {
    /// A value was not allowed; the message says what is.
    #[error(transparent)]
    Invalid(#[from] InvalidValue),
    /// The username belongs to another user.
    #[error("username is already taken")]
    UsernameTaken,
    /// No such user.
    #[error("no such user")]
    NotFound,
    /// The change would leave no active administrator.
    #[error("the change would leave no active user with the admin role")]
    LastAdmin,
    /// The store failed.
    #[error(transparent)]
    Store(StoreError),
    /// Hashing failed.
    #[error(transparent)]
    Password(#[from] PasswordError),
}

impl From<StoreError> for UsersError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::UsernameTaken => Self::UsernameTaken,
            // `Users` guards only the admin role.
            StoreError::LastActiveHolder { .. } => Self::LastAdmin,
            other => Self::Store(other),
        }
    }
}

/// A change to a user; `None` leaves a field alone.
#[derive(Debug, Default, Clone)]
pub struct UserChanges {
    /// New username: the id, the sessions and the tokens stay the same.
    pub username: Option<Username>,
    /// New active flag.
    pub active: Option<bool>,
    /// New roles.
    pub roles: Option<Roles>,
    /// New password.
    pub password: Option<NewPassword>,
}

/// The outcome of start-up bootstrap.
#[derive(Debug)]
pub enum Bootstrap {
    /// Users already existed; nothing was created.
    NotNeeded,
    /// `admin` was created with the configured password.
    Created(UserView),
    /// `admin` was created with this generated password (to be shown once).
    CreatedWithGeneratedPassword(UserView, SecretString),
}

/// Users, their cache and the password hasher.
#[derive(Debug, Clone)]
pub struct Users {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    store: Arc<dyn Store>,
    passwords: Passwords,
    sessions: Sessions,
    cluster: Cluster,
    cache: EpochCache<UserId, UserView>,
    store_calls: AtomicU64,
}

impl Users {
    /// The service over `store`, hashing with `passwords`, ending `sessions` when a change
    /// calls for it, and waiting for the other instances of `cluster` after a change.
    pub fn new(
        store: Arc<dyn Store>,
        passwords: Passwords,
        sessions: Sessions,
        cluster: Cluster,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                passwords,
                sessions,
                cluster,
                cache: EpochCache::new(CACHE_CAPACITY),
                store_calls: AtomicU64::new(0),
            }),
        }
    }

    /// The password hasher.
    pub fn passwords(&self) -> &Passwords {
        &self.inner.passwords
    }

    /// How many store calls requests have caused (the per-request user check should cause
    /// none while its cache is warm).
    pub fn store_calls(&self) -> u64 {
        self.inner.store_calls.load(Ordering::Relaxed)
    }

    pub(crate) fn store(&self) -> &dyn Store {
        self.inner.store_calls.fetch_add(1, Ordering::Relaxed);
        self.inner.store.as_ref()
    }

    /// The user behind a token's `sub`, from the cache when possible (an absence included).
    /// Hot path.
    pub async fn cached(&self, id: UserId) -> Result<Option<Arc<UserView>>, StoreError> {
        if let Some(known) = self.inner.cache.get(&id) {
            return Ok(known);
        }
        let seen = self.inner.cache.epoch();
        let view = self
            .store()
            .user_by_id(id)
            .await?
            .map(|user| Arc::new(UserView::from(&user)));
        // A missing user is remembered too, so a deleted user's tokens cost no store call.
        self.inner.cache.fill(id, view.clone(), seen);
        Ok(view)
    }

    /// Drops one user (a change another process made, read from the feed).
    pub fn evict(&self, id: UserId) {
        self.inner.cache.invalidate(&id);
    }

    /// Drops every cached user (changes were missed).
    pub fn evict_all(&self) {
        self.inner.cache.clear();
    }

    /// Deletes feed entries written before `before` and instances silent for
    /// `stale_instance_ms` (see [`Store::prune_changes`]); returns how many entries.
    pub async fn prune_feed(&self, before: i64, stale_instance_ms: i64) -> Result<u64, StoreError> {
        let mut pruned = 0;
        loop {
            let batch = self
                .inner
                .store
                .prune_changes(before, PRUNE_BATCH, stale_instance_ms)
                .await?;
            pruned += batch;
            if batch < u64::from(PRUNE_BATCH) {
                return Ok(pruned);
            }
            tokio::task::yield_now().await;
        }
    }

    /// Readiness: the store answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.store().ping().await
    }

    /// Closes the store (see [`Store::close`]); nothing may use it afterwards.
    pub async fn close_store(&self) -> Result<(), StoreError> {
        self.inner.store.close().await
    }

    /// Backs the database up to a new file (see [`Store::backup`]).
    pub async fn backup(&self, destination: &std::path::Path) -> Result<(), StoreError> {
        self.inner.store.backup(destination).await
    }

    /// The full record for a login attempt (never cached: it carries the hash).
    pub async fn for_login(&self, username: &str) -> Result<Option<User>, StoreError> {
        self.store().user_by_username(username).await
    }

    /// One user by id.
    pub async fn get(&self, id: UserId) -> Result<UserView, UsersError> {
        let user = self.store().user_by_id(id).await?;
        user.as_ref()
            .map(UserView::from)
            .ok_or(UsersError::NotFound)
    }

    /// One user by username.
    pub async fn get_by_username(&self, username: &Username) -> Result<UserView, UsersError> {
        let user = self.store().user_by_username(username.as_str()).await?;
        user.as_ref()
            .map(UserView::from)
            .ok_or(UsersError::NotFound)
    }

    /// At most `limit` users, ordered by username byte for byte, after the username `after`
    /// when given (a cursor: the last username of the previous page), and only those whose
    /// username contains `contains` when given (matched literally and exactly: pass it
    /// normalised, see [`Username::normalise`]). [`UserPage::more`] is false only when no
    /// matching user follows the page, so a client stops at the first page that says so.
    pub async fn list_page(
        &self,
        after: Option<&str>,
        contains: Option<&str>,
        limit: u32,
    ) -> Result<UserPage, UsersError> {
        // One more than asked tells whether another page follows, without a second query.
        let mut users = self
            .store()
            .list_users_page(after, contains, limit.saturating_add(1))
            .await?;
        let more = users.len() > limit as usize;
        users.truncate(limit as usize);
        Ok(UserPage {
            users: users.iter().map(UserView::from).collect(),
            more,
        })
    }

    /// Creates a user.
    pub async fn create(
        &self,
        username: Username,
        password: &NewPassword,
        roles: Roles,
        active: bool,
        now: i64,
    ) -> Result<UserView, UsersError> {
        let password_hash = self.inner.passwords.hash(password.secret()).await?;
        let user = self
            .store()
            .create_user(
                NewUser {
                    id: UserId::new_v4(),
                    username: username.as_str().to_owned(),
                    password_hash,
                    roles: roles.into_vec(),
                    active,
                },
                now,
            )
            .await?;
        // Ids are fresh, so no absence can be cached for this one; dropping it anyway keeps
        // "every write invalidates" true without an exception.
        self.invalidate(user.id);
        Ok(UserView::from(&user))
    }

    /// Applies `changes`; refuses to leave the system without an active admin, and a new
    /// username another user holds. A new password, changed roles or deactivation end all of
    /// the user's sessions; a new username ends none.
    ///
    /// The admin check is the store's, made atomically with the write (two admins demoting
    /// each other at once cannot both succeed); the password is hashed before it.
    pub async fn update(
        &self,
        id: UserId,
        changes: UserChanges,
        now: i64,
    ) -> Result<UserView, UsersError> {
        // Read only to fail fast on a missing user and to tell whether the roles change; the
        // guard and the deactivation do not depend on it.
        let current = self.get(id).await?;
        let password_hash = match &changes.password {
            Some(password) => Some(self.inner.passwords.hash(password.secret()).await?),
            None => None,
        };
        let roles = changes.roles.map(Roles::into_vec);
        // A deactivation ends the sessions whatever `current` says: it may be stale (a
        // concurrent reactivation), or an earlier deactivation may have left sessions behind.
        let end_sessions = if changes.active == Some(false) {
            Some(EndReason::Deactivated)
        } else if password_hash.is_some() {
            Some(EndReason::PasswordChanged)
        } else if roles.as_ref().is_some_and(|roles| *roles != current.roles) {
            Some(EndReason::RolesChanged)
        } else {
            None
        };
        let patch = UserPatch {
            username: changes.username.map(|name| name.as_str().to_owned()),
            active: changes.active,
            roles,
            password_hash,
            end_sessions,
            keep_session: None,
            keep_active_holder_of: Some(ADMIN_ROLE.to_owned()),
        };
        let updated = self.store().update_user(id, patch, now).await;
        self.invalidate(id);
        if let Some(reason) = end_sessions {
            self.inner.sessions.forget_user(id);
            if matches!(updated, Ok(Some(_))) {
                self.inner.sessions.count_ended_with_user(reason);
            }
        }
        let user = updated?.ok_or(UsersError::NotFound)?;
        self.inner.cluster.await_everyone().await;
        Ok(UserView::from(&user))
    }

    /// A user's own password change, made with the access token of session `keep`: sets the
    /// new password and, in the same store write, ends every other session of the user
    /// (`password_changed`), keeping `keep` alive. Returns how many sessions ended: the
    /// user's live sessions other than `keep` as read just before the write (a session
    /// started meanwhile is ended too, uncounted). Answered once every other live instance
    /// has applied the change, so none of them accepts an ended session's tokens after.
    ///
    /// The current password is the caller's to check first (see
    /// [`crate::auth::Authenticator::change_own_password`]).
    pub async fn change_own_password(
        &self,
        id: UserId,
        keep: SessionId,
        password: &NewPassword,
        now: i64,
    ) -> Result<u64, UsersError> {
        let password_hash = self.inner.passwords.hash(password.secret()).await?;
        let others = self
            .inner
            .sessions
            .live(Some(id), now)
            .await?
            .iter()
            .filter(|session| session.id != keep)
            .count();
        let reason = EndReason::PasswordChanged;
        let patch = UserPatch {
            password_hash: Some(password_hash),
            end_sessions: Some(reason),
            keep_session: Some(keep),
            ..UserPatch::default()
        };
        let updated = self.store().update_user(id, patch, now).await;
        self.invalidate(id);
        self.inner.sessions.forget_user(id);
        if matches!(updated, Ok(Some(_))) {
            self.inner.sessions.count_ended_with_user(reason);
        }
        updated?.ok_or(UsersError::NotFound)?;
        self.inner.cluster.await_everyone().await;
        Ok(u64::try_from(others).unwrap_or(u64::MAX))
    }

    /// The stored user with its password hash, read from the store (never the cache): what a
    /// password check needs.
    pub async fn with_hash(&self, id: UserId) -> Result<Option<User>, StoreError> {
        self.store().user_by_id(id).await
    }

    /// Deletes a user; refuses to delete the last active admin (atomically, in the store).
    pub async fn delete(&self, id: UserId) -> Result<(), UsersError> {
        let deleted = self.store().delete_user(id, Some(ADMIN_ROLE)).await;
        self.invalidate(id);
        self.inner.sessions.forget_user(id);
        if deleted? {
            self.inner.cluster.await_everyone().await;
            Ok(())
        } else {
            Err(UsersError::NotFound)
        }
    }

    /// Replaces a hash whose parameters fell below policy, after a successful login.
    pub async fn rehash(
        &self,
        id: UserId,
        password: &SecretString,
        now: i64,
    ) -> Result<(), UsersError> {
        let password_hash = self.inner.passwords.hash(password).await?;
        let patch = UserPatch {
            password_hash: Some(password_hash),
            ..UserPatch::default()
        };
        let updated = self.store().update_user(id, patch, now).await;
        self.invalidate(id);
        updated?;
        Ok(())
    }

    /// Creates `admin` when the user table is empty, with `password` or a generated one.
    pub async fn bootstrap(
        &self,
        password: Option<&SecretString>,
        now: i64,
    ) -> Result<Bootstrap, UsersError> {
        if self.store().count_users().await? > 0 {
            return Ok(Bootstrap::NotNeeded);
        }
        let (secret, generated) = match password {
            Some(p) => (p.clone(), false),
            None => {
                let generated = random_alphanumeric(20)
                    .map_err(|e| PasswordError::Hash(format!("no randomness: {e}")))?;
                (SecretString::from(generated), true)
            }
        };
        let password_hash = self.inner.passwords.hash(&secret).await?;
        let created = self
            .store()
            .create_first_user(
                NewUser {
                    id: UserId::new_v4(),
                    username: BOOTSTRAP_ADMIN.to_owned(),
                    password_hash,
                    roles: vec![ADMIN_ROLE.to_owned()],
                    active: true,
                },
                now,
            )
            .await?;
        Ok(match created {
            None => Bootstrap::NotNeeded,
            Some(user) if generated => {
                Bootstrap::CreatedWithGeneratedPassword(UserView::from(&user), secret)
            }
            Some(user) => Bootstrap::Created(UserView::from(&user)),
        })
    }

    fn invalidate(&self, id: UserId) {
        self.inner.cache.invalidate(&id);
    }
}
