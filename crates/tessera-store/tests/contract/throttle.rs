//! The failed-login counters and renames of the store contract (backend-independent): windows
//! slide, clearing and pruning work and bound the rows, failures are shared by every handle on
//! one database, and a rename is refused on a taken name, with one winner however it races.

use futures_util::future::join_all;
use tessera_store::{
    EndReason, FailureCount, FailureKey, LoginFailure, NewSession, SessionId, Store, StoreError,
    User, UserPatch,
};

use super::{T0, create};

/// The window every case uses, in seconds.
const WINDOW: i64 = 900;
/// Repetitions of each racing pair.
const RACES: usize = 50;

/// A failure of `account` from `client` at `at`, pruned for [`WINDOW`], keeping `keep` per key.
fn failure<'a>(account: &'a str, client: &'a str, at: i64, keep: u32) -> LoginFailure<'a> {
    LoginFailure {
        account,
        client,
        at,
        forget_until: at - WINDOW,
        keep_per_account: keep,
        keep_per_client: keep,
    }
}

fn count(failures: u64, oldest: i64) -> FailureCount {
    FailureCount {
        failures,
        oldest: Some(oldest),
    }
}

/// Every stored failure of both keys, whatever its age.
async fn stored(store: &dyn Store, account: &str, client: &str) -> (u64, u64) {
    let all = store
        .login_failures(account, client, i64::MIN)
        .await
        .unwrap();
    (all.account.failures, all.client.failures)
}

pub async fn contract_failures_are_counted_inside_a_sliding_window(store: &dyn Store) {
    let none = store.login_failures("bob", "192.0.2.1", T0).await.unwrap();
    assert_eq!(none.account, FailureCount::default());
    assert_eq!(none.client, FailureCount::default());

    for at in [T0, T0 + 10, T0 + 20] {
        store
            .record_login_failure(failure("bob", "192.0.2.1", at, 100))
            .await
            .unwrap();
    }
    let now = T0 + 30;
    let seen = store
        .login_failures("bob", "192.0.2.1", now - WINDOW)
        .await
        .unwrap();
    assert_eq!(seen.account, count(3, T0));
    assert_eq!(seen.client, count(3, T0));

    // The window slides: a failure exactly one window old no longer counts.
    let now = T0 + WINDOW;
    let seen = store
        .login_failures("bob", "192.0.2.1", now - WINDOW)
        .await
        .unwrap();
    assert_eq!(seen.account, count(2, T0 + 10));
    let now = T0 + 20 + WINDOW;
    let seen = store
        .login_failures("bob", "192.0.2.1", now - WINDOW)
        .await
        .unwrap();
    assert_eq!(seen.account, FailureCount::default());
    assert_eq!(seen.client, FailureCount::default());
}

pub async fn contract_failures_are_counted_per_key(store: &dyn Store) {
    store
        .record_login_failure(failure("bob", "192.0.2.1", T0, 100))
        .await
        .unwrap();
    store
        .record_login_failure(failure("carol", "192.0.2.1", T0 + 1, 100))
        .await
        .unwrap();
    store
        .record_login_failure(failure("bob", "192.0.2.2", T0 + 2, 100))
        .await
        .unwrap();

    let since = T0 - 1;
    let bob_first = store
        .login_failures("bob", "192.0.2.1", since)
        .await
        .unwrap();
    assert_eq!(bob_first.account, count(2, T0));
    assert_eq!(bob_first.client, count(2, T0));
    let carol_second = store
        .login_failures("carol", "192.0.2.2", since)
        .await
        .unwrap();
    assert_eq!(carol_second.account, count(1, T0 + 1));
    assert_eq!(carol_second.client, count(1, T0 + 2));
    // An account and a client with the same text are different keys.
    let crossed = store
        .login_failures("192.0.2.1", "bob", since)
        .await
        .unwrap();
    assert_eq!(crossed.account, FailureCount::default());
    assert_eq!(crossed.client, FailureCount::default());
    // Keys are compared exactly: the server normalises usernames before they get here.
    let upper = store
        .login_failures("Bob", "192.0.2.9", since)
        .await
        .unwrap();
    assert_eq!(upper.account, FailureCount::default());
}

pub async fn contract_clearing_removes_one_key_and_says_how_many_counted(store: &dyn Store) {
    for at in [T0, T0 + 1, T0 + 2] {
        store
            .record_login_failure(failure("bob", "192.0.2.1", at, 100))
            .await
            .unwrap();
    }
    store
        .record_login_failure(failure("carol", "192.0.2.1", T0 + 3, 100))
        .await
        .unwrap();

    // Only the failures after `since` are reported; all of the key's are deleted.
    let cleared = store
        .clear_login_failures(FailureKey::Account("bob"), T0)
        .await
        .unwrap();
    assert_eq!(cleared, 2);
    assert_eq!(stored(store, "bob", "192.0.2.1").await, (0, 4));
    assert_eq!(stored(store, "carol", "192.0.2.9").await, (1, 0));
    let again = store
        .clear_login_failures(FailureKey::Account("bob"), T0 - 1)
        .await
        .unwrap();
    assert_eq!(again, 0);

    let cleared = store
        .clear_login_failures(FailureKey::Client("192.0.2.1"), T0 - 1)
        .await
        .unwrap();
    assert_eq!(cleared, 4);
    assert_eq!(stored(store, "carol", "192.0.2.1").await, (1, 0));
    // Clearing a key nobody used is no error.
    let nothing = store
        .clear_login_failures(FailureKey::Client("198.51.100.7"), T0)
        .await
        .unwrap();
    assert_eq!(nothing, 0);
}

pub async fn contract_recording_forgets_failures_that_left_the_window(store: &dyn Store) {
    for index in 0..20 {
        let account = format!("sprayed-{index}");
        let client = format!("192.0.2.{index}");
        store
            .record_login_failure(failure(&account, &client, T0 + index, 100))
            .await
            .unwrap();
    }
    // One window after the tenth, a failure of another key prunes the first ten of every key.
    store
        .record_login_failure(failure("late", "198.51.100.1", T0 + 9 + WINDOW, 100))
        .await
        .unwrap();
    for index in 0..20 {
        let expected = u64::from(index >= 10);
        assert_eq!(
            stored(
                store,
                &format!("sprayed-{index}"),
                &format!("192.0.2.{index}")
            )
            .await,
            (expected, expected),
            "key {index}"
        );
    }
}

pub async fn contract_recording_keeps_at_most_the_limit_per_key(store: &dyn Store) {
    // A flood on one account from one client, and racing failures: never more than `keep`.
    for at in 0..30 {
        store
            .record_login_failure(failure("bob", "192.0.2.1", T0 + at, 5))
            .await
            .unwrap();
    }
    let racing = (0..10)
        .map(|index| store.record_login_failure(failure("bob", "192.0.2.1", T0 + 30 + index, 5)));
    for outcome in join_all(racing).await {
        outcome.unwrap();
    }
    assert_eq!(stored(store, "bob", "192.0.2.1").await, (5, 5));
    // The most recent are the ones kept.
    let kept = store
        .login_failures("bob", "192.0.2.1", i64::MIN)
        .await
        .unwrap();
    assert_eq!(kept.account, count(5, T0 + 35));

    // A limit of zero still keeps the failure just recorded.
    store
        .record_login_failure(failure("zero", "192.0.2.2", T0 + 50, 0))
        .await
        .unwrap();
    assert_eq!(stored(store, "zero", "192.0.2.2").await, (1, 1));
}

/// A failure recorded through one handle (another instance) counts on the other at once, and
/// a clear made through it (the command line) too: a limit is a limit across instances.
pub async fn contract_failures_are_shared_by_every_handle(server: &dyn Store, other: &dyn Store) {
    other
        .record_login_failure(failure("bob", "192.0.2.1", T0, 100))
        .await
        .unwrap();
    server
        .record_login_failure(failure("bob", "192.0.2.2", T0 + 1, 100))
        .await
        .unwrap();
    let seen = server
        .login_failures("bob", "192.0.2.1", T0 - WINDOW)
        .await
        .unwrap();
    assert_eq!(seen.account, count(2, T0));
    assert_eq!(seen.client, count(1, T0));

    let cleared = other
        .clear_login_failures(FailureKey::Account("bob"), T0 - WINDOW)
        .await
        .unwrap();
    assert_eq!(cleared, 2);
    assert_eq!(stored(server, "bob", "192.0.2.1").await, (0, 1));
}

/// Neither recording nor clearing failures moves the change feed (servers would drop users
/// from their caches on every failed login otherwise).
pub async fn contract_failures_do_not_move_the_feed(store: &dyn Store) {
    let before = store.latest_change().await.unwrap();
    store
        .record_login_failure(failure("bob", "192.0.2.1", T0, 100))
        .await
        .unwrap();
    store
        .clear_login_failures(FailureKey::Account("bob"), T0 - WINDOW)
        .await
        .unwrap();
    assert_eq!(store.latest_change().await.unwrap(), before);
}

fn rename(username: &str) -> UserPatch {
    UserPatch {
        username: Some(username.to_owned()),
        ..UserPatch::default()
    }
}

async fn live_session(store: &dyn Store, user: &User) -> SessionId {
    let mut refresh_hash = [7; 32];
    refresh_hash[..16].copy_from_slice(user.id.as_bytes());
    let session = NewSession {
        id: SessionId::new_v4(),
        user_id: user.id,
        idle_expires_at: T0 + 3_600,
        absolute_expires_at: T0 + 7_200,
        client_ip: "192.0.2.1".to_owned(),
        user_agent: "contract-test/1.0".to_owned(),
        refresh_hash,
    };
    store.create_session(session, T0).await.unwrap().id
}

pub async fn contract_rename_keeps_the_id_and_frees_the_old_name(store: &dyn Store) {
    let alice = create(store, "alice", T0).await;
    let session = live_session(store, &alice).await;
    let counter = store.latest_change().await.unwrap();

    let renamed = store
        .update_user(alice.id, rename("alicia"), T0 + 5)
        .await
        .unwrap()
        .unwrap();
    let expected = User {
        username: "alicia".to_owned(),
        updated_at: T0 + 5,
        ..alice.clone()
    };
    assert_eq!(renamed, expected);
    assert_eq!(
        store.user_by_id(alice.id).await.unwrap(),
        Some(expected.clone())
    );
    assert_eq!(
        store.user_by_username("alicia").await.unwrap(),
        Some(expected)
    );
    assert_eq!(store.user_by_username("alice").await.unwrap(), None);
    assert!(store.latest_change().await.unwrap() > counter);
    // The sessions stay: a rename ends none.
    let live = store.live_sessions(Some(alice.id), T0 + 6).await.unwrap();
    assert_eq!(live.len(), 1);
    assert_eq!(live[0].id, session);
    assert_eq!(live[0].revoked, None);

    // The old name is free for a new user.
    create(store, "alice", T0 + 7).await;
    // Renaming to its own name changes nothing but `updated_at`.
    let same = store
        .update_user(alice.id, rename("alicia"), T0 + 8)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (same.username.as_str(), same.updated_at),
        ("alicia", T0 + 8)
    );
}

pub async fn contract_rename_to_a_taken_name_changes_nothing(store: &dyn Store) {
    let alice = create(store, "alice", T0).await;
    let bob = create(store, "bob", T0).await;
    let counter = store.latest_change().await.unwrap();

    // The other fields of a refused patch are not written either.
    let patch = UserPatch {
        active: Some(false),
        end_sessions: Some(EndReason::Deactivated),
        ..rename("bob")
    };
    let session = live_session(store, &alice).await;
    let error = store
        .update_user(alice.id, patch, T0 + 5)
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::UsernameTaken), "{error:?}");
    assert_eq!(
        store.user_by_id(alice.id).await.unwrap(),
        Some(alice.clone())
    );
    assert_eq!(store.user_by_id(bob.id).await.unwrap(), Some(bob));
    assert_eq!(store.latest_change().await.unwrap(), counter);
    let live = store.live_sessions(Some(alice.id), T0 + 6).await.unwrap();
    assert_eq!(live.iter().map(|s| s.id).collect::<Vec<_>>(), [session]);

    // Names are compared exactly, as `create_user` compares them: the server lower-cases.
    let upper = store
        .update_user(alice.id, rename("Bob"), T0 + 6)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(upper.username, "Bob");
}

/// Two users renamed to one new name at once, through two handles: exactly one wins, the
/// other is refused as taken, every time.
pub async fn contract_racing_renames_to_one_name_have_one_winner(
    first: &dyn Store,
    second: &dyn Store,
) {
    for round in 0..RACES {
        let one = create(first, &format!("one-{round}"), T0).await;
        let two = create(second, &format!("two-{round}"), T0).await;
        let wanted = format!("wanted-{round}");
        let (a, b) = tokio::join!(
            first.update_user(one.id, rename(&wanted), T0 + 1),
            second.update_user(two.id, rename(&wanted), T0 + 1),
        );
        let outcomes = [a, b];
        let winners: Vec<&User> = outcomes
            .iter()
            .filter_map(|outcome| outcome.as_ref().ok().and_then(Option::as_ref))
            .collect();
        let taken = outcomes
            .iter()
            .filter(|outcome| matches!(outcome, Err(StoreError::UsernameTaken)))
            .count();
        assert_eq!(
            (winners.len(), taken),
            (1, 1),
            "round {round}: {outcomes:?}"
        );
        let holder = first.user_by_username(&wanted).await.unwrap().unwrap();
        assert_eq!(holder.id, winners[0].id, "round {round}");
        let loser = if holder.id == one.id { &two } else { &one };
        assert_eq!(
            second.user_by_id(loser.id).await.unwrap().as_ref(),
            Some(loser),
            "round {round}"
        );
    }
}

/// A typed username may hold any character, NUL included (PostgreSQL text cannot): looking it
/// up finds nobody, and its failures are recorded, counted and cleared like any other key's.
pub async fn contract_any_typed_name_is_looked_up_and_counted(store: &dyn Store) {
    create(store, "alice", T0).await;
    for name in ["alice\0", "\0alice", "ali\0ce", "\0"] {
        assert_eq!(
            store.user_by_username(name).await.unwrap(),
            None,
            "{name:?}"
        );
        store
            .record_login_failure(failure(name, "192.0.2.9", T0, 5))
            .await
            .unwrap();
        let counted = store
            .login_failures(name, "192.0.2.9", T0 - 1)
            .await
            .unwrap();
        assert_eq!(counted.account, count(1, T0), "{name:?}");
        let cleared = store
            .clear_login_failures(FailureKey::Account(name), T0 - 1)
            .await
            .unwrap();
        assert_eq!(cleared, 1, "{name:?}");
        store
            .clear_login_failures(FailureKey::Client("192.0.2.9"), T0 - 1)
            .await
            .unwrap();
    }
    assert_eq!(stored(store, "alice", "192.0.2.9").await, (0, 0));
}
