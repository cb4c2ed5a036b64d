//! The contract every `Store` backend must meet, run against real databases.
//!
//! `contract_*` functions take only `&dyn Store` (or two stores on the same database) so a
//! new backend reuses them by adding a fixture and one `contract_tests!` line. Tests that
//! need raw SQL, a file path or a server are backend-specific and live in the `sqlite` and
//! `postgres` modules.

// Helpers outside `#[test]` functions are not covered by clippy.toml's allow-*-in-tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;

use futures_util::future::join_all;
use std::path::{Path, PathBuf};

use tessera_store::{NewUser, SqliteStore, Store, StoreError, User, UserId, UserPatch, connect};

#[path = "contract/files.rs"]
mod files;
#[path = "contract/sessions.rs"]
mod sessions;
use sessions::*;

#[path = "contract/admins.rs"]
mod admins;
use admins::*;

#[path = "contract/feed.rs"]
mod feed;
use feed::*;

#[path = "contract/throttle.rs"]
mod throttle;
use throttle::*;

#[path = "contract/pages.rs"]
mod pages;
use pages::*;

#[path = "contract/keys.rs"]
mod keys;
use keys::*;

const T0: i64 = 1_700_000_000;

fn hash_for(username: &str) -> String {
    format!("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$secret-hash-of-{username}")
}

fn new_user(username: &str) -> NewUser {
    NewUser {
        id: UserId::new_v4(),
        username: username.to_owned(),
        password_hash: hash_for(username),
        roles: vec!["user".to_owned()],
        active: true,
    }
}

async fn create(store: &dyn Store, username: &str, now: i64) -> User {
    store.create_user(new_user(username), now).await.unwrap()
}

// ---------------------------------------------------------------------------------------------
// The contract (backend-independent).

async fn contract_create_and_get(store: &dyn Store) {
    let mut wanted = new_user("alice");
    wanted.roles = vec!["admin".to_owned(), "user".to_owned()];
    wanted.active = false;
    let id = wanted.id;

    let created = store.create_user(wanted, T0).await.unwrap();
    assert_eq!(
        created,
        User {
            id,
            username: "alice".to_owned(),
            password_hash: hash_for("alice"),
            roles: vec!["admin".to_owned(), "user".to_owned()],
            active: false,
            created_at: T0,
            updated_at: T0,
        }
    );
    assert_eq!(store.user_by_id(id).await.unwrap(), Some(created.clone()));
    assert_eq!(
        store.user_by_username("alice").await.unwrap(),
        Some(created)
    );

    assert_eq!(store.user_by_id(UserId::new_v4()).await.unwrap(), None);
    assert_eq!(store.user_by_username("bob").await.unwrap(), None);
    // Usernames are compared exactly: the server normalises them before they get here.
    assert_eq!(store.user_by_username("Alice").await.unwrap(), None);
    assert_eq!(store.user_by_username("alice ").await.unwrap(), None);
}

async fn contract_empty_roles_round_trip(store: &dyn Store) {
    let mut user = new_user("nobody");
    user.roles = Vec::new();
    let created = store.create_user(user, T0).await.unwrap();
    assert!(created.roles.is_empty());
    let fetched = store.user_by_id(created.id).await.unwrap().unwrap();
    assert!(fetched.roles.is_empty());
}

async fn contract_duplicate_username_is_taken(store: &dyn Store) {
    let first = create(store, "alice", T0).await;
    let mut second = new_user("alice");
    second.password_hash = "$argon2id$other".to_owned();
    second.roles = vec!["admin".to_owned()];

    let error = store.create_user(second, T0 + 5).await.unwrap_err();
    assert!(matches!(error, StoreError::UsernameTaken), "{error:?}");
    assert_eq!(error.to_string(), "username is already taken");
    assert_eq!(
        store.user_by_id(first.id).await.unwrap(),
        Some(first.clone())
    );
    assert_eq!(store.user_by_username("alice").await.unwrap(), Some(first));
    assert_eq!(store.count_users().await.unwrap(), 1);
}

async fn contract_duplicate_id_is_not_a_taken_username(store: &dyn Store) {
    let first = create(store, "alice", T0).await;
    let mut clash = new_user("bob");
    clash.id = first.id;
    let error = store.create_user(clash, T0).await.unwrap_err();
    assert!(matches!(error, StoreError::Database(_)), "{error:?}");
    assert_eq!(store.user_by_username("bob").await.unwrap(), None);
}

/// Usernames are ordered byte for byte (as Rust orders strings), whatever the database's
/// language settings: upper case before lower case, accented letters after `z`.
async fn contract_list_is_ordered_by_bytes(store: &dyn Store) {
    for name in ["zoe", "émile", "Bob", "alice", "_x", "eve"] {
        create(store, name, T0).await;
    }
    let names: Vec<String> = store
        .list_users()
        .await
        .unwrap()
        .into_iter()
        .map(|user| user.username)
        .collect();
    assert_eq!(names, ["Bob", "_x", "alice", "eve", "zoe", "émile"]);
}

async fn contract_list_is_ordered_by_username(store: &dyn Store) {
    assert!(store.list_users().await.unwrap().is_empty());
    for name in ["carol", "alice", "bob", "alice2", "a"] {
        create(store, name, T0).await;
    }
    let names: Vec<String> = store
        .list_users()
        .await
        .unwrap()
        .into_iter()
        .map(|user| user.username)
        .collect();
    assert_eq!(names, ["a", "alice", "alice2", "bob", "carol"]);
}

async fn contract_update_each_field_alone_and_together(store: &dyn Store) {
    let original = create(store, "alice", T0).await;
    let other = create(store, "bob", T0).await;
    let id = original.id;

    let mut expected = original.clone();
    let steps: [(i64, UserPatch); 5] = [
        (
            T0 + 10,
            UserPatch {
                active: Some(false),
                ..UserPatch::default()
            },
        ),
        (
            T0 + 20,
            UserPatch {
                roles: Some(vec!["admin".to_owned()]),
                ..UserPatch::default()
            },
        ),
        (
            T0 + 30,
            UserPatch {
                password_hash: Some("$argon2id$new-hash".to_owned()),
                ..UserPatch::default()
            },
        ),
        (
            T0 + 40,
            UserPatch {
                active: Some(true),
                roles: Some(Vec::new()),
                password_hash: Some("$argon2id$newer-hash".to_owned()),
                end_sessions: Some(tessera_store::EndReason::PasswordChanged),
                keep_active_holder_of: None,
                keep_session: None,
                username: None,
            },
        ),
        (T0 + 50, UserPatch::default()),
    ];
    for (now, patch) in steps {
        if let Some(active) = patch.active {
            expected.active = active;
        }
        if let Some(roles) = &patch.roles {
            expected.roles = roles.clone();
        }
        if let Some(hash) = &patch.password_hash {
            expected.password_hash = hash.clone();
        }
        expected.updated_at = now;

        let updated = store.update_user(id, patch, now).await.unwrap();
        assert_eq!(updated.as_ref(), Some(&expected), "at {now}");
        assert_eq!(store.user_by_id(id).await.unwrap(), Some(expected.clone()));
    }
    assert_eq!(expected.created_at, T0);
    assert_eq!(expected.username, "alice");
    // The other row is untouched.
    assert_eq!(store.user_by_id(other.id).await.unwrap(), Some(other));
}

async fn contract_update_missing_user_is_none(store: &dyn Store) {
    create(store, "alice", T0).await;
    let patch = UserPatch {
        active: Some(false),
        ..UserPatch::default()
    };
    assert_eq!(
        store
            .update_user(UserId::new_v4(), patch, T0)
            .await
            .unwrap(),
        None
    );
}

async fn contract_delete_then_delete_again(store: &dyn Store) {
    let alice = create(store, "alice", T0).await;
    let bob = create(store, "bob", T0).await;
    assert!(store.delete_user(alice.id, None).await.unwrap());
    assert!(!store.delete_user(alice.id, None).await.unwrap());
    assert_eq!(store.user_by_id(alice.id).await.unwrap(), None);
    assert_eq!(store.user_by_username("alice").await.unwrap(), None);
    assert_eq!(store.user_by_id(bob.id).await.unwrap(), Some(bob));
    // The username is free again.
    create(store, "alice", T0 + 1).await;
}

async fn contract_count(store: &dyn Store) {
    assert_eq!(store.count_users().await.unwrap(), 0);
    let alice = create(store, "alice", T0).await;
    create(store, "bob", T0).await;
    assert_eq!(store.count_users().await.unwrap(), 2);
    store.delete_user(alice.id, None).await.unwrap();
    assert_eq!(store.count_users().await.unwrap(), 1);
}

async fn contract_first_user_only_once(store: &dyn Store) {
    let mut admin = new_user("admin");
    admin.roles = vec!["admin".to_owned()];
    let created = store.create_first_user(admin, T0).await.unwrap().unwrap();
    assert_eq!(created.username, "admin");
    assert_eq!(created.roles, ["admin"]);
    assert_eq!((created.created_at, created.updated_at), (T0, T0));
    assert_eq!(store.user_by_id(created.id).await.unwrap(), Some(created));

    assert_eq!(
        store
            .create_first_user(new_user("other"), T0)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .create_first_user(new_user("admin"), T0)
            .await
            .unwrap(),
        None
    );
    assert_eq!(store.count_users().await.unwrap(), 1);
}

async fn contract_first_user_not_created_when_others_exist(store: &dyn Store) {
    create(store, "alice", T0).await;
    assert_eq!(
        store
            .create_first_user(new_user("admin"), T0)
            .await
            .unwrap(),
        None
    );
    assert_eq!(store.user_by_username("admin").await.unwrap(), None);
}

/// Several callers on two separately opened handles of one database: exactly one wins.
async fn contract_first_user_race(first: &dyn Store, second: &dyn Store) {
    let attempts = (0..8).map(|index| {
        let store = if index % 2 == 0 { first } else { second };
        store.create_first_user(new_user(&format!("admin{index}")), T0)
    });
    let outcomes = join_all(attempts).await;
    let winners: Vec<User> = outcomes
        .into_iter()
        .filter_map(|outcome| outcome.unwrap())
        .collect();
    assert_eq!(winners.len(), 1, "{winners:?}");
    assert_eq!(first.count_users().await.unwrap(), 1);
    assert_eq!(second.list_users().await.unwrap(), winners);
}

async fn contract_feed_moves_on_every_user_write(store: &dyn Store) {
    let mut seen = BTreeSet::new();
    let mut last = store.latest_change().await.unwrap();
    seen.insert(last);
    let mut expect_increase = async |what: &str| {
        let now = store.latest_change().await.unwrap();
        assert!(
            now > last,
            "the feed did not increase after {what}: {last} -> {now}"
        );
        assert!(seen.insert(now));
        last = now;
    };

    let admin = store
        .create_first_user(new_user("admin"), T0)
        .await
        .unwrap()
        .unwrap();
    expect_increase("create_first_user").await;
    let alice = create(store, "alice", T0).await;
    expect_increase("create_user").await;
    for patch in [
        UserPatch {
            active: Some(false),
            ..UserPatch::default()
        },
        UserPatch {
            roles: Some(vec!["admin".to_owned()]),
            ..UserPatch::default()
        },
        UserPatch {
            password_hash: Some("$argon2id$new".to_owned()),
            ..UserPatch::default()
        },
        UserPatch::default(),
    ] {
        store
            .update_user(alice.id, patch, T0 + 1)
            .await
            .unwrap()
            .unwrap();
        expect_increase("update_user").await;
    }
    assert!(store.delete_user(admin.id, None).await.unwrap());
    expect_increase("delete_user").await;
}

async fn contract_feed_ignores_reads_and_failed_writes(store: &dyn Store) {
    let alice = create(store, "alice", T0).await;
    let before = store.latest_change().await.unwrap();

    store.user_by_id(alice.id).await.unwrap();
    store.user_by_username("alice").await.unwrap();
    store.list_users().await.unwrap();
    store.count_users().await.unwrap();
    store.ping().await.unwrap();
    store.create_user(new_user("alice"), T0).await.unwrap_err();
    assert_eq!(
        store.create_first_user(new_user("x"), T0).await.unwrap(),
        None
    );
    let missing = UserId::new_v4();
    assert_eq!(
        store
            .update_user(missing, UserPatch::default(), T0)
            .await
            .unwrap(),
        None
    );
    assert!(!store.delete_user(missing, None).await.unwrap());

    assert_eq!(store.latest_change().await.unwrap(), before);
}

/// A write through a second, separately opened handle (another process, such as the CLI)
/// is visible in the feed the first handle reads.
async fn contract_feed_sees_other_writers(server: &dyn Store, cli: &dyn Store) {
    let before = server.latest_change().await.unwrap();
    let alice = create(cli, "alice", T0).await;
    let after_create = server.latest_change().await.unwrap();
    assert!(after_create > before);

    let patch = UserPatch {
        active: Some(false),
        ..UserPatch::default()
    };
    cli.update_user(alice.id, patch, T0 + 1).await.unwrap();
    let after_update = server.latest_change().await.unwrap();
    assert!(after_update > after_create);
    assert!(!server.user_by_id(alice.id).await.unwrap().unwrap().active);

    cli.delete_user(alice.id, None).await.unwrap();
    assert!(server.latest_change().await.unwrap() > after_update);
    assert_eq!(
        cli.latest_change().await.unwrap(),
        server.latest_change().await.unwrap()
    );
}

async fn contract_debug_never_shows_the_hash(store: &dyn Store) {
    let user = create(store, "alice", T0).await;
    let shown = format!("{user:?} {user:#?}");
    assert!(!shown.contains(&user.password_hash), "{shown}");
    assert!(!shown.contains("secret-hash"), "{shown}");
    assert!(shown.contains("<redacted>"), "{shown}");
    assert!(
        shown.contains("alice") && shown.contains(&user.id.to_string()),
        "{shown}"
    );
    assert!(!format!("{store:?}").contains("secret-hash"));
}

async fn contract_ping(store: &dyn Store) {
    store.ping().await.unwrap();
}

// ---------------------------------------------------------------------------------------------
// Instantiation per backend.

/// Generates one test per single-store contract, each on a fresh database from `$fixture`.
macro_rules! contract_tests {
    ($fixture:path: $($contract:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $contract() {
                let fixture = <$fixture>::new().await;
                crate::$contract(fixture.store()).await;
            }
        )*
    };
}

/// Every contract case, as tests of one backend: the single-store cases, then the cases that
/// race two handles (two processes or instances) on one database. `$fixture` must have
/// `new()`, `store()` and `second_handle()`.
macro_rules! every_contract {
    ($fixture:path) => {
        contract_tests!($fixture:
            contract_create_and_get,
            contract_empty_roles_round_trip,
            contract_duplicate_username_is_taken,
            contract_duplicate_id_is_not_a_taken_username,
            contract_list_is_ordered_by_username,
            contract_list_is_ordered_by_bytes,
            contract_pages_yield_every_user_once_in_byte_order,
            contract_page_search_is_literal_and_exact,
            contract_empty_pages,
            contract_any_typed_name_is_looked_up_and_counted,
            contract_update_each_field_alone_and_together,
            contract_update_missing_user_is_none,
            contract_delete_then_delete_again,
            contract_count,
            contract_first_user_only_once,
            contract_first_user_not_created_when_others_exist,
            contract_feed_moves_on_every_user_write,
            contract_feed_ignores_reads_and_failed_writes,
            contract_debug_never_shows_the_hash,
            contract_ping,
            contract_session_create_and_read,
            contract_session_for_a_missing_user_is_refused,
            contract_rotation_chain,
            contract_reuse_after_grace_ends_the_session,
            contract_zero_grace_treats_any_reuse_as_theft,
            contract_expired_sessions_do_not_rotate,
            contract_ending_sessions,
            contract_user_change_can_keep_one_session,
            contract_purge_in_batches,
            contract_feed_ignores_refreshes,
            contract_last_active_admin_is_kept,
            contract_guard_refuses_only_the_last_active_admin,
            contract_guard_lets_a_database_without_admins_recover,
            contract_failures_are_counted_inside_a_sliding_window,
            contract_failures_are_counted_per_key,
            contract_clearing_removes_one_key_and_says_how_many_counted,
            contract_recording_forgets_failures_that_left_the_window,
            contract_recording_keeps_at_most_the_limit_per_key,
            contract_failures_do_not_move_the_feed,
            contract_rename_keeps_the_id_and_frees_the_old_name,
            contract_rename_to_a_taken_name_changes_nothing,
            contract_feed_starts_empty,
            contract_feed_has_every_user_write,
            contract_feed_has_every_session_end,
            contract_feed_ignores_logins_refreshes_failures_and_purges,
            contract_feed_pages_and_reports_what_was_pruned,
            contract_heartbeats_register_instances,
            contract_key_lifecycle,
            contract_key_inserted_current,
            contract_key_revoke_from_each_state,
            contract_key_conflicts,
            contract_key_debug_hides_the_sealed_key,
            contract_api_clients,
            contract_api_client_debug_hides_the_hash,
        );

        /// Two handles activate one next key at once, round after round: one winner.
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn contract_racing_activations_have_one_winner() {
            let fixture = <$fixture>::new().await;
            let second = fixture.second_handle().await;
            crate::contract_racing_activations_have_one_winner(fixture.store(), &second).await;
        }

        /// Two handles insert a current key into an empty table at once: one winner.
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn contract_racing_first_keys_have_one_winner() {
            let fixture = <$fixture>::new().await;
            let second = fixture.second_handle().await;
            crate::contract_racing_first_keys_have_one_winner(fixture.store(), &second).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn contract_failures_are_shared_by_every_handle() {
            let fixture = <$fixture>::new().await;
            let other = fixture.second_handle().await;
            crate::contract_failures_are_shared_by_every_handle(fixture.store(), &other).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn contract_racing_renames_to_one_name_have_one_winner() {
            let fixture = <$fixture>::new().await;
            let second = fixture.second_handle().await;
            crate::contract_racing_renames_to_one_name_have_one_winner(fixture.store(), &second)
                .await;
        }

        /// Two handles refresh one token at once, on a fresh database each round: one
        /// successor, every other caller gets it back.
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn contract_rotation_is_atomic() {
            for _ in 0..RACE_ROUNDS {
                let fixture = <$fixture>::new().await;
                let second = fixture.second_handle().await;
                crate::contract_rotation_is_atomic(fixture.store(), &second).await;
            }
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn contract_admins_racing_to_remove_each_other_keep_one() {
            let fixture = <$fixture>::new().await;
            let second = fixture.second_handle().await;
            crate::contract_admins_racing_to_remove_each_other_keep_one(fixture.store(), &second)
                .await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn contract_first_user_race() {
            for _ in 0..RACE_ROUNDS {
                let fixture = <$fixture>::new().await;
                let second = fixture.second_handle().await;
                crate::contract_first_user_race(fixture.store(), &second).await;
            }
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn contract_feed_sees_other_writers() {
            let fixture = <$fixture>::new().await;
            let cli = fixture.second_handle().await;
            crate::contract_feed_sees_other_writers(fixture.store(), &cli).await;
        }
    };
}

/// Rounds of each race, each on a fresh database.
const RACE_ROUNDS: usize = 20;

mod sqlite {
    use super::*;

    /// A fresh SQLite file in its own temporary directory.
    pub struct Fixture {
        _dir: tempfile::TempDir,
        path: PathBuf,
        store: SqliteStore,
    }

    impl Fixture {
        pub async fn new() -> Self {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("tessera.db");
            let store = SqliteStore::open(&path).await.unwrap();
            Self {
                _dir: dir,
                path,
                store,
            }
        }

        pub fn store(&self) -> &dyn Store {
            &self.store
        }

        /// Another handle on the same file, as a second process would open it.
        async fn second_handle(&self) -> SqliteStore {
            SqliteStore::open(&self.path).await.unwrap()
        }

        /// A plain sqlx pool on the same file, for SQL the store would never run.
        async fn raw(&self) -> sqlx::SqlitePool {
            let options = sqlx::sqlite::SqliteConnectOptions::new().filename(&self.path);
            sqlx::SqlitePool::connect_with(options).await.unwrap()
        }
    }

    every_contract!(Fixture);

    // -----------------------------------------------------------------------------------------
    // SQLite-specific: raw SQL, files, URLs.

    /// SQLite cannot push notifications: callers poll the feed.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn there_is_no_change_listener() {
        let fixture = Fixture::new().await;
        assert!(fixture.store().change_listener().await.unwrap().is_none());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn feed_sees_raw_sql_writes() {
        let fixture = Fixture::new().await;
        let store = fixture.store();
        let alice = create(store, "alice", T0).await;
        let raw = fixture.raw().await;

        let mut last = store.latest_change().await.unwrap();
        for sql in [
            "UPDATE users SET active = 0 WHERE username = 'alice'",
            "INSERT INTO users (id, username, password_hash, roles, active, created_at, updated_at) \
             VALUES ('6f1c1a52-0d44-4d1e-9b0e-3f1d7f1c2a10', 'raw', 'h', '[]', 1, 0, 0)",
            "DELETE FROM users WHERE username = 'raw'",
        ] {
            sqlx::query(sql).execute(&raw).await.unwrap();
            let now = store.latest_change().await.unwrap();
            assert!(now > last, "the feed did not move after {sql}");
            last = now;
        }
        assert!(!store.user_by_id(alice.id).await.unwrap().unwrap().active);
    }

    /// Inserts a row with raw SQL; `id` and `roles` are taken as given.
    async fn insert_raw(raw: &sqlx::SqlitePool, id: &str, username: &str, roles: &str) {
        sqlx::query(
            "INSERT INTO users (id, username, password_hash, roles, active, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, 1, 0, 0)",
        )
        .bind(id)
        .bind(username)
        .bind(hash_for(username))
        .bind(roles)
        .execute(raw)
        .await
        .unwrap();
    }

    fn corrupt_message(result: Result<impl std::fmt::Debug, StoreError>) -> String {
        match result {
            Err(StoreError::Corrupt(message)) => {
                assert!(!message.contains("secret-hash"), "{message}");
                message
            }
            other => panic!("expected a corrupt error, got {other:?}"),
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn corrupt_roles_are_an_error_not_a_panic() {
        for bad_roles in [
            "not json",
            "{\"admin\": true}",
            "[1, 2]",
            "\"admin\"",
            "[\"a\", null]",
        ] {
            let fixture = Fixture::new().await;
            let store = fixture.store();
            let raw = fixture.raw().await;
            let id = UserId::new_v4();
            insert_raw(&raw, &id.to_string(), "broken", bad_roles).await;

            let message = corrupt_message(store.user_by_id(id).await);
            assert!(message.contains("users.roles"), "{message}");
            let error = store.user_by_username("broken").await.unwrap_err();
            assert!(
                error
                    .to_string()
                    .starts_with("stored data is corrupt: users.roles")
            );
            corrupt_message(store.list_users().await);
            let patch = UserPatch {
                active: Some(false),
                ..UserPatch::default()
            };
            corrupt_message(store.update_user(id, patch, T0).await);
            // Repairing the roles through the store makes the row readable again.
            let patch = UserPatch {
                roles: Some(vec!["user".to_owned()]),
                ..UserPatch::default()
            };
            let repaired = store.update_user(id, patch, T0).await.unwrap().unwrap();
            assert_eq!(repaired.roles, ["user"]);
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn corrupt_id_is_an_error_not_a_panic() {
        let fixture = Fixture::new().await;
        let raw = fixture.raw().await;
        insert_raw(&raw, "not-a-uuid", "broken", "[]").await;
        let message = corrupt_message(fixture.store().user_by_username("broken").await);
        assert!(message.contains("users.id"), "{message}");
        corrupt_message(fixture.store().list_users().await);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn reopening_keeps_data_and_migrations_are_idempotent() {
        let fixture = Fixture::new().await;
        let alice = create(fixture.store(), "alice", T0).await;
        let counter = fixture.store().latest_change().await.unwrap();
        fixture.store.close().await.unwrap();

        for _ in 0..2 {
            let reopened = SqliteStore::open(&fixture.path).await.unwrap();
            assert_eq!(
                reopened.user_by_id(alice.id).await.unwrap(),
                Some(alice.clone())
            );
            assert_eq!(reopened.latest_change().await.unwrap(), counter);
            reopened.close().await.unwrap();
        }
        let raw = fixture.raw().await;
        let applied: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations")
            .fetch_one(&raw)
            .await
            .unwrap();
        let files =
            std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/sqlite"))
                .unwrap()
                .count();
        assert_eq!(usize::try_from(applied).unwrap(), files);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn opening_a_new_file_from_two_handles_at_once_works() {
        for _ in 0..5 {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("fresh.db");
            let (first, second) = tokio::join!(SqliteStore::open(&path), SqliteStore::open(&path));
            let (first, second) = (first.unwrap(), second.unwrap());
            create(&first, "alice", T0).await;
            assert_eq!(second.count_users().await.unwrap(), 1);
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn database_uses_wal_and_store_reports_its_path() {
        let fixture = Fixture::new().await;
        assert_eq!(fixture.store.path(), fixture.path);
        let raw = fixture.raw().await;
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(&raw)
            .await
            .unwrap();
        assert_eq!(mode, "wal");
    }

    async fn connect_ok(url: &str) -> std::sync::Arc<dyn Store> {
        match connect(url).await {
            Ok(store) => store,
            Err(error) => panic!("connect({url}) failed: {error:?}"),
        }
    }

    async fn connect_err(url: &str) -> StoreError {
        match connect(url).await {
            Ok(store) => panic!("connect({url}) gave {store:?}"),
            Err(error) => error,
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn connect_accepts_sqlite_url_forms() {
        let dir = tempfile::tempdir().unwrap();
        let absolute = dir.path().to_str().unwrap();
        // The same absolute path as seen from the working directory, to test relative URLs
        // without changing the process-wide working directory.
        let cwd = std::env::current_dir().unwrap();
        let up = "../".repeat(cwd.components().count() - 1);
        let relative = format!("{up}{}", absolute.trim_start_matches('/'));

        let urls = [
            format!("sqlite://{absolute}/slashes.db"),
            format!("sqlite:{absolute}/colon.db"),
            format!("sqlite://{relative}/relative-slashes.db"),
            format!("sqlite:{relative}/relative-colon.db"),
            format!("sqlite://{absolute}/missing/parent/dirs.db"),
        ];
        for url in &urls {
            let store = connect_ok(url).await;
            create(&*store, "alice", T0).await;
            store.ping().await.unwrap();
        }
        for file in [
            "slashes.db",
            "colon.db",
            "relative-slashes.db",
            "relative-colon.db",
        ] {
            assert!(dir.path().join(file).is_file(), "{file} was not created");
        }
        assert!(dir.path().join("missing/parent/dirs.db").is_file());

        // Reconnecting by URL sees the data written before.
        let again = connect_ok(&urls[0]).await;
        assert_eq!(again.count_users().await.unwrap(), 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn connect_explains_unsupported_urls() {
        for url in [
            "postgres://tessera:pw-123@db",
            "postgresql://tessera:pw-123@db/",
        ] {
            let message = connect_err(url).await.to_string();
            assert_eq!(
                message,
                "unsupported database url: the PostgreSQL url names no database; \
                 allowed: sqlite://PATH, postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE"
            );
        }
        for url in [
            "pw-123",
            "",
            "mysql://root:pw-123@db",
            "sqlite://",
            "sqlite::memory:",
        ] {
            let error = connect_err(url).await;
            assert!(matches!(error, StoreError::UnsupportedUrl(_)), "{error:?}");
            let message = error.to_string();
            assert!(
                message.starts_with("unsupported database url: "),
                "{message}"
            );
            assert!(
                message.ends_with(
                    "allowed: sqlite://PATH, postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE"
                ),
                "{message}"
            );
            assert!(!message.contains("pw-123"), "{message}");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn open_failure_names_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("a-file");
        std::fs::write(&blocker, b"not a directory").unwrap();
        let path = blocker.join("tessera.db");
        let error = connect_err(&format!("sqlite://{}", path.display())).await;
        assert!(matches!(error, StoreError::Connect { .. }), "{error:?}");
        assert_eq!(
            error.to_string(),
            format!("failed to open sqlite database at {}", path.display())
        );
        assert!(std::error::Error::source(&error).is_some());

        // A file that is not a database.
        std::fs::write(dir.path().join("garbage.db"), [0x55_u8; 4096]).unwrap();
        let error = SqliteStore::open(&dir.path().join("garbage.db"))
            .await
            .unwrap_err();
        assert!(matches!(error, StoreError::NotTessera { .. }), "{error:?}");
    }
}

// Declared after `contract_tests!`, which it uses.
#[path = "contract/postgres.rs"]
mod postgres;
