//! The change feed part of the store contract (backend-independent): which writes feed it,
//! reading it page by page, pruning, and the instances' heartbeats.

use std::time::{SystemTime, UNIX_EPOCH};
use tessera_store::Heartbeat;

use tessera_store::{
    ChangeKind, EndReason, FailureKey, LoginFailure, RotateOutcome, Store, UserPatch,
};
use uuid::Uuid;

use super::sessions::{open, rotation};
use super::{T0, create};

/// Everything fed after `cursor`, read in small pages; answers the changes (kind and id, in
/// feed order) and the new cursor.
async fn fed_since(store: &dyn Store, cursor: i64) -> (Vec<(ChangeKind, Uuid)>, i64) {
    let mut cursor = cursor;
    let mut fed = Vec::new();
    loop {
        let batch = store.changes_since(cursor, 3).await.unwrap();
        assert!(!batch.missed, "nothing was pruned: {batch:?}");
        if batch.changes.is_empty() {
            assert_eq!(batch.next, cursor);
            return (fed, cursor);
        }
        for change in &batch.changes {
            assert!(change.seq > cursor, "{batch:?} after {cursor}");
            cursor = change.seq;
            fed.push((change.kind, change.id));
        }
        assert_eq!(batch.next, cursor);
    }
}

/// Checks that exactly `expected` was fed since `cursor` (in any order: one write may feed
/// several entries) and answers the new cursor.
async fn expect_fed(
    store: &dyn Store,
    cursor: i64,
    expected: &[(ChangeKind, Uuid)],
    after: &str,
) -> i64 {
    let (mut fed, next) = fed_since(store, cursor).await;
    let mut expected = expected.to_vec();
    let key = |(kind, id): &(ChangeKind, Uuid)| (kind.as_str(), *id);
    fed.sort_by_key(key);
    expected.sort_by_key(key);
    assert_eq!(fed, expected, "fed after {after}");
    next
}

fn user(id: Uuid) -> (ChangeKind, Uuid) {
    (ChangeKind::User, id)
}

fn session(id: Uuid) -> (ChangeKind, Uuid) {
    (ChangeKind::Session, id)
}

/// Unix seconds now, to compare with the database's clock.
fn system_now() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap()
}

pub async fn contract_feed_starts_empty(store: &dyn Store) {
    assert_eq!(store.latest_change().await.unwrap(), 0);
    let batch = store.changes_since(0, 10).await.unwrap();
    assert!(
        batch.changes.is_empty() && !batch.missed && batch.next == 0,
        "{batch:?}"
    );
    assert!(store.instances().await.unwrap().is_empty());
}

pub async fn contract_feed_has_every_user_write(store: &dyn Store) {
    let cursor = store.latest_change().await.unwrap();
    let alice = create(store, "alice", T0).await;
    let cursor = expect_fed(store, cursor, &[user(alice.id)], "create_user").await;
    assert_eq!(store.latest_change().await.unwrap(), cursor);

    let patch = UserPatch {
        roles: Some(vec!["admin".to_owned()]),
        ..UserPatch::default()
    };
    store.update_user(alice.id, patch, T0 + 1).await.unwrap();
    let cursor = expect_fed(store, cursor, &[user(alice.id)], "update_user").await;

    // Ending the sessions with the change: the user and each live session, not the one that
    // had ended already.
    let first = open(store, alice.id, 1, T0).await;
    let second = open(store, alice.id, 2, T0).await;
    let ended = open(store, alice.id, 3, T0).await;
    store
        .end_session(ended.id, EndReason::Logout, T0 + 1)
        .await
        .unwrap();
    let cursor = expect_fed(store, cursor, &[session(ended.id)], "end_session").await;
    let patch = UserPatch {
        password_hash: Some("$argon2id$new".to_owned()),
        end_sessions: Some(EndReason::PasswordChanged),
        ..UserPatch::default()
    };
    store.update_user(alice.id, patch, T0 + 2).await.unwrap();
    let cursor = expect_fed(
        store,
        cursor,
        &[user(alice.id), session(first.id), session(second.id)],
        "update_user ending the sessions",
    )
    .await;

    // Deleting: the user and each session that had not ended (they are deleted with it).
    let bob = create(store, "bob", T0).await;
    let live = open(store, bob.id, 4, T0).await;
    let expired = open(store, bob.id, 5, T0 - 7_200).await;
    let ended = open(store, bob.id, 6, T0).await;
    store
        .end_session(ended.id, EndReason::Logout, T0)
        .await
        .unwrap();
    let cursor = expect_fed(
        store,
        cursor,
        &[user(bob.id), session(ended.id)],
        "creating bob and his sessions, ending one",
    )
    .await;
    assert!(store.delete_user(bob.id, None).await.unwrap());
    let cursor = expect_fed(
        store,
        cursor,
        &[user(bob.id), session(live.id), session(expired.id)],
        "delete_user",
    )
    .await;

    // Writes that change nothing feed nothing.
    assert!(!store.delete_user(bob.id, None).await.unwrap());
    let missing = store
        .update_user(Uuid::new_v4(), UserPatch::default(), T0)
        .await
        .unwrap();
    assert!(missing.is_none());
    expect_fed(store, cursor, &[], "writes to missing users").await;
}

pub async fn contract_feed_has_every_session_end(store: &dyn Store) {
    let alice = create(store, "alice", T0).await;
    let cursor = store.latest_change().await.unwrap();

    let one = open(store, alice.id, 1, T0).await;
    assert!(
        store
            .end_session(one.id, EndReason::Logout, T0)
            .await
            .unwrap()
    );
    let cursor = expect_fed(store, cursor, &[session(one.id)], "end_session").await;
    assert!(
        !store
            .end_session(one.id, EndReason::Logout, T0)
            .await
            .unwrap()
    );
    let cursor = expect_fed(store, cursor, &[], "ending an ended session again").await;

    let kept = open(store, alice.id, 2, T0).await;
    let two = open(store, alice.id, 3, T0).await;
    let three = open(store, alice.id, 4, T0).await;
    let ended = store
        .end_user_sessions(alice.id, Some(kept.id), EndReason::EndedByAdmin, T0)
        .await
        .unwrap();
    assert_eq!(ended, 2);
    let cursor = expect_fed(
        store,
        cursor,
        &[session(two.id), session(three.id)],
        "end_user_sessions",
    )
    .await;

    // A refresh token presented again after the grace window ends its session.
    let outcome = store
        .rotate_refresh_token(rotation(2, 12), T0)
        .await
        .unwrap();
    assert!(matches!(outcome, RotateOutcome::Rotated(_)), "{outcome:?}");
    let cursor = expect_fed(store, cursor, &[], "a refresh").await;
    let outcome = store
        .rotate_refresh_token(rotation(2, 13), T0 + 11)
        .await
        .unwrap();
    assert!(
        matches!(outcome, RotateOutcome::ReuseDetected(_)),
        "{outcome:?}"
    );
    expect_fed(store, cursor, &[session(kept.id)], "reuse detection").await;
}

pub async fn contract_feed_ignores_logins_refreshes_failures_and_purges(store: &dyn Store) {
    let alice = create(store, "alice", T0).await;
    let cursor = store.latest_change().await.unwrap();

    // A login: a new session and its first token.
    let live = open(store, alice.id, 1, T0).await;
    // Refreshes: a rotation, then the same token again inside the grace window.
    for (from, to, now) in [(1, 2, T0 + 1), (2, 3, T0 + 2), (2, 3, T0 + 3)] {
        let outcome = store
            .rotate_refresh_token(rotation(from, to), now)
            .await
            .unwrap();
        assert!(
            matches!(
                outcome,
                RotateOutcome::Rotated(_) | RotateOutcome::Grace { .. }
            ),
            "{outcome:?}"
        );
    }
    // Failed logins, recorded and cleared.
    let failure = LoginFailure {
        account: "alice",
        client: "192.0.2.1",
        at: T0,
        forget_until: T0 - 60,
        keep_per_account: 10,
        keep_per_client: 10,
    };
    store.record_login_failure(failure).await.unwrap();
    store
        .clear_login_failures(FailureKey::Account("alice"), T0 - 60)
        .await
        .unwrap();
    // Heartbeats.
    store
        .heartbeat(beat(Uuid::new_v4(), "host", 0))
        .await
        .unwrap();
    expect_fed(
        store,
        cursor,
        &[],
        "a login, refreshes, failures, a heartbeat",
    )
    .await;

    // Purging a session that ended: it was fed when it ended, and only then.
    let ended = open(store, alice.id, 4, T0).await;
    store
        .end_session(ended.id, EndReason::Logout, T0)
        .await
        .unwrap();
    let cursor = store.latest_change().await.unwrap();
    assert_eq!(store.purge_sessions(T0 + 1, 100).await.unwrap(), 1);
    assert!(store.session_by_id(ended.id).await.unwrap().is_none());
    assert!(store.session_by_id(live.id).await.unwrap().is_some());
    expect_fed(store, cursor, &[], "purging an ended session").await;
}

pub async fn contract_feed_pages_and_reports_what_was_pruned(store: &dyn Store) {
    let start = store.latest_change().await.unwrap();
    let mut ids = Vec::new();
    for name in ["a", "b", "c", "d", "e"] {
        ids.push(create(store, name, T0).await.id);
    }
    let latest = store.latest_change().await.unwrap();

    // Pages of two, then an empty page that keeps the cursor.
    let mut cursor = start;
    let mut seqs = Vec::new();
    for expected in [2, 2, 1, 0] {
        let batch = store.changes_since(cursor, 2).await.unwrap();
        assert_eq!(batch.changes.len(), expected, "{batch:?}");
        assert!(!batch.missed);
        let next = batch.changes.last().map_or(cursor, |change| change.seq);
        assert_eq!(batch.next, next);
        seqs.extend(batch.changes.iter().map(|change| change.seq));
        assert!(
            batch
                .changes
                .iter()
                .all(|change| change.kind == ChangeKind::User)
        );
        cursor = batch.next;
    }
    assert_eq!(cursor, latest);
    assert!(seqs.windows(2).all(|pair| pair[0] < pair[1]), "{seqs:?}");
    let fed: Vec<Uuid> = store
        .changes_since(start, 100)
        .await
        .unwrap()
        .changes
        .iter()
        .map(|change| change.id)
        .collect();
    assert_eq!(fed, ids);

    // Nothing was written before the epoch, and a limit of 0 deletes nothing.
    let hour_ahead = system_now() + 3_600;
    assert_eq!(store.prune_changes(0, 100, 60_000).await.unwrap(), 0);
    assert_eq!(store.prune_changes(hour_ahead, 0, 60_000).await.unwrap(), 0);
    assert!(!store.changes_since(start, 100).await.unwrap().missed);

    // The three oldest go: a reader behind them missed changes, one past them did not.
    assert_eq!(store.prune_changes(hour_ahead, 3, 60_000).await.unwrap(), 3);
    let behind = store.changes_since(start, 100).await.unwrap();
    assert!(behind.missed, "{behind:?}");
    assert_eq!(
        behind.changes.iter().map(|c| c.seq).collect::<Vec<_>>(),
        seqs[3..]
    );
    assert_eq!(behind.next, latest);
    let past = store.changes_since(seqs[2], 100).await.unwrap();
    assert!(!past.missed, "{past:?}");
    assert_eq!(past.changes, behind.changes);

    // Everything goes: the feed's end stays, and a reader behind it jumps to it.
    assert_eq!(
        store.prune_changes(hour_ahead, 100, 60_000).await.unwrap(),
        2
    );
    assert_eq!(store.latest_change().await.unwrap(), latest);
    let behind = store.changes_since(seqs[1], 100).await.unwrap();
    assert!(behind.missed && behind.changes.is_empty(), "{behind:?}");
    assert_eq!(behind.next, latest);
    let current = store.changes_since(latest, 100).await.unwrap();
    assert!(!current.missed && current.changes.is_empty() && current.next == latest);

    // Positions are never reused after pruning.
    let f = create(store, "f", T0).await;
    let batch = store.changes_since(latest, 100).await.unwrap();
    assert_eq!(batch.changes.len(), 1, "{batch:?}");
    assert!(batch.changes[0].seq > latest && batch.changes[0].id == f.id);
    assert!(!batch.missed);
}

pub async fn contract_heartbeats_register_instances(store: &dyn Store) {
    let (first, second) = (Uuid::new_v4(), Uuid::new_v4());
    let before = system_now();
    store
        .heartbeat(beat(first, "host-b:8080 pid 1", 5))
        .await
        .unwrap();
    store
        .heartbeat(beat(second, "host-a:8080 pid 2", 3))
        .await
        .unwrap();

    let instances = store.instances().await.unwrap();
    let ids: Vec<Uuid> = instances.iter().map(|instance| instance.id).collect();
    assert_eq!(ids, [second, first], "ordered by label: {instances:?}");
    assert_eq!(instances[1].label, "host-b:8080 pid 1");
    assert_eq!((instances[0].applied, instances[1].applied), (3, 5));
    for instance in &instances {
        // The database's clock, which is this machine's here.
        assert!(
            (before - 5..=system_now() + 5).contains(&instance.started_at),
            "{instance:?}"
        );
        assert!((0..60_000).contains(&instance.age_ms), "{instance:?}");
    }

    // `applied` never goes back; the label is the first heartbeat's.
    store.heartbeat(beat(first, "renamed", 2)).await.unwrap();
    let again = store.instances().await.unwrap();
    assert_eq!(again[1].id, first);
    assert_eq!(again[1].applied, 5);
    assert_eq!(again[1].label, "host-b:8080 pid 1");
    assert_eq!(again[1].started_at, instances[1].started_at);
    store
        .heartbeat(beat(first, "host-b:8080 pid 1", 9))
        .await
        .unwrap();
    assert_eq!(store.instances().await.unwrap()[1].applied, 9);

    // A clean shutdown removes its row, once.
    assert!(store.remove_instance(first).await.unwrap());
    assert!(!store.remove_instance(first).await.unwrap());
    let left = store.instances().await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].id, second);

    // A heartbeat a minute old is not stale yet; every heartbeat is older than "a second
    // from now" (a negative staleness), without waiting for one to age.
    store.prune_changes(0, 100, 60_000).await.unwrap();
    assert_eq!(store.instances().await.unwrap().len(), 1);
    store.prune_changes(0, 100, -1_000).await.unwrap();
    assert!(store.instances().await.unwrap().is_empty());
}

/// A heartbeat with a 5-second lease.
fn beat(id: Uuid, label: &str, applied: i64) -> Heartbeat<'_> {
    Heartbeat {
        id,
        label,
        applied,
        lease_ms: 5_000,
    }
}
