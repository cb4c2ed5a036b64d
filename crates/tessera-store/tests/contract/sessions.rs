//! The session and refresh-token part of the store contract (backend-independent).

use tessera_store::{
    EndReason, NewSession, RotateOutcome, Rotation, Session, SessionId, Store, StoreError, UserId,
    UserPatch,
};

use super::{T0, create, join_all};

/// Idle lifetime used by these cases.
const IDLE: i64 = 600;
/// Absolute lifetime used by these cases.
const ABSOLUTE: i64 = 3_600;
/// Grace window used by these cases.
const GRACE: i64 = 10;

/// A distinct fake token hash per number (the store only compares them).
fn hash(n: u8) -> [u8; 32] {
    [n; 32]
}

fn new_session(user: UserId, first_token: u8, now: i64) -> NewSession {
    NewSession {
        id: SessionId::new_v4(),
        user_id: user,
        idle_expires_at: now + IDLE,
        absolute_expires_at: now + ABSOLUTE,
        client_ip: "192.0.2.7".to_owned(),
        user_agent: "contract-test/1.0".to_owned(),
        refresh_hash: hash(first_token),
    }
}

/// A refresh of token `from` to the prepared successor `to`, sealed as `[to]`.
pub fn rotation(from: u8, to: u8) -> Rotation {
    Rotation {
        presented: hash(from),
        successor: hash(to),
        sealed_successor: vec![to],
        idle_seconds: IDLE,
        grace_seconds: GRACE,
    }
}

/// How many sessions of `user` are live at `now`.
async fn live_count(store: &dyn Store, user: UserId, now: i64) -> usize {
    store.live_sessions(Some(user), now).await.unwrap().len()
}

/// A session of `user` created at `now` with refresh token `first_token`.
pub async fn open(store: &dyn Store, user: UserId, first_token: u8, now: i64) -> Session {
    store
        .create_session(new_session(user, first_token, now), now)
        .await
        .unwrap()
}

async fn start(store: &dyn Store, username: &str, first_token: u8) -> Session {
    let user = create(store, username, T0).await;
    open(store, user.id, first_token, T0).await
}

fn rotated(outcome: RotateOutcome) -> Session {
    match outcome {
        RotateOutcome::Rotated(session) => session,
        other => panic!("expected a rotation, got {other:?}"),
    }
}

pub async fn contract_session_create_and_read(store: &dyn Store) {
    let alice = create(store, "alice", T0).await;
    let bob = create(store, "bob", T0).await;
    let wanted = new_session(alice.id, 1, T0);
    let session = store.create_session(wanted.clone(), T0).await.unwrap();
    assert_eq!(
        session,
        Session {
            id: wanted.id,
            user_id: alice.id,
            created_at: T0,
            last_used_at: T0,
            idle_expires_at: T0 + IDLE,
            absolute_expires_at: T0 + ABSOLUTE,
            client_ip: "192.0.2.7".to_owned(),
            user_agent: "contract-test/1.0".to_owned(),
            revoked: None,
        }
    );
    assert_eq!(
        store.session_by_id(session.id).await.unwrap(),
        Some(session.clone())
    );
    assert_eq!(
        store.session_by_id(SessionId::new_v4()).await.unwrap(),
        None
    );

    let later = open(store, alice.id, 2, T0 + 5).await;
    let bobs = open(store, bob.id, 3, T0).await;
    let ids = |sessions: Vec<Session>| sessions.into_iter().map(|s| s.id).collect::<Vec<_>>();
    assert_eq!(
        ids(store.live_sessions(Some(alice.id), T0 + 5).await.unwrap()),
        [later.id, session.id],
        "newest first"
    );
    assert_eq!(
        store.live_sessions(None, T0 + 5).await.unwrap().len(),
        3,
        "{bobs:?}"
    );
    // Past the idle deadline nothing is live.
    assert!(
        store
            .live_sessions(None, T0 + 5 + IDLE)
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn contract_session_for_a_missing_user_is_refused(store: &dyn Store) {
    let error = store
        .create_session(new_session(UserId::new_v4(), 1, T0), T0)
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::UserNotFound), "{error:?}");
    // The refresh token was not stored either.
    assert_eq!(
        store
            .rotate_refresh_token(rotation(1, 2), T0)
            .await
            .unwrap(),
        RotateOutcome::Unknown
    );
}

pub async fn contract_rotation_chain(store: &dyn Store) {
    let session = start(store, "alice", 1).await;

    // The current token rotates; the idle deadline moves, capped at the absolute one.
    let after = rotated(
        store
            .rotate_refresh_token(rotation(1, 2), T0 + 100)
            .await
            .unwrap(),
    );
    assert_eq!(after.last_used_at, T0 + 100);
    assert_eq!(after.idle_expires_at, T0 + 100 + IDLE);
    assert_eq!(after.created_at, T0);
    let latest = rotated(
        store
            .rotate_refresh_token(rotation(2, 3), T0 + 200)
            .await
            .unwrap(),
    );
    assert_eq!(latest.idle_expires_at, T0 + 200 + IDLE);

    // The rotated token within the grace window: its own successor, sealed, nothing new.
    let grace = store
        .rotate_refresh_token(rotation(2, 9), T0 + 200 + GRACE - 1)
        .await
        .unwrap();
    assert_eq!(
        grace,
        RotateOutcome::Grace {
            session: latest.clone(),
            sealed_successor: vec![3],
        }
    );
    assert_eq!(
        store
            .rotate_refresh_token(rotation(9, 10), T0 + 201)
            .await
            .unwrap(),
        RotateOutcome::Unknown,
        "the successor prepared for a grace answer is never stored"
    );

    // An unknown token changes nothing.
    assert_eq!(
        store
            .rotate_refresh_token(rotation(77, 78), T0 + 200)
            .await
            .unwrap(),
        RotateOutcome::Unknown
    );
    assert_eq!(store.session_by_id(session.id).await.unwrap(), Some(latest));

    // Every token of the chain names the session, rotated or current; others name none.
    for token in [1, 2, 3] {
        assert_eq!(
            store.session_of_refresh_token(&hash(token)).await.unwrap(),
            Some(session.id),
            "token {token}"
        );
    }
    for token in [9, 10, 77] {
        assert_eq!(
            store.session_of_refresh_token(&hash(token)).await.unwrap(),
            None,
            "token {token}"
        );
    }
}

pub async fn contract_reuse_after_grace_ends_the_session(store: &dyn Store) {
    let session = start(store, "alice", 1).await;
    rotated(
        store
            .rotate_refresh_token(rotation(1, 2), T0)
            .await
            .unwrap(),
    );
    let before = store.latest_change().await.unwrap();

    let outcome = store
        .rotate_refresh_token(rotation(1, 5), T0 + GRACE)
        .await
        .unwrap();
    let RotateOutcome::ReuseDetected(revoked) = outcome else {
        panic!("expected reuse detection, got {outcome:?}");
    };
    assert_eq!(revoked.id, session.id);
    let revocation = revoked.revoked.clone().unwrap();
    assert_eq!(
        (revocation.at, revocation.reason.as_str()),
        (T0 + GRACE, "refresh_reuse")
    );
    assert!(store.latest_change().await.unwrap() > before);

    // Every token of the family is now refused, the newest included.
    for presented in [2, 1] {
        assert_eq!(
            store
                .rotate_refresh_token(rotation(presented, 6), T0 + GRACE + 1)
                .await
                .unwrap(),
            RotateOutcome::Ended(revoked.clone())
        );
    }
    assert!(
        store
            .live_sessions(None, T0 + GRACE)
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn contract_zero_grace_treats_any_reuse_as_theft(store: &dyn Store) {
    start(store, "alice", 1).await;
    rotated(
        store
            .rotate_refresh_token(rotation(1, 2), T0)
            .await
            .unwrap(),
    );
    let mut again = rotation(1, 3);
    again.grace_seconds = 0;
    let outcome = store.rotate_refresh_token(again, T0).await.unwrap();
    assert!(
        matches!(outcome, RotateOutcome::ReuseDetected(_)),
        "{outcome:?}"
    );
}

pub async fn contract_expired_sessions_do_not_rotate(store: &dyn Store) {
    let session = start(store, "alice", 1).await;
    let outcome = store
        .rotate_refresh_token(rotation(1, 2), T0 + IDLE)
        .await
        .unwrap();
    assert_eq!(outcome, RotateOutcome::Ended(session.clone()));

    // Refreshed in time, the session still ends at its absolute deadline.
    let kept = start(store, "bob", 10).await;
    let mut token = 10;
    let mut now = T0;
    while now + IDLE / 2 < T0 + ABSOLUTE {
        now += IDLE / 2;
        let session = rotated(
            store
                .rotate_refresh_token(rotation(token, token + 1), now)
                .await
                .unwrap(),
        );
        assert_eq!(session.idle_expires_at, (now + IDLE).min(T0 + ABSOLUTE));
        token += 1;
    }
    let outcome = store
        .rotate_refresh_token(rotation(token, token + 1), T0 + ABSOLUTE)
        .await
        .unwrap();
    assert!(
        matches!(&outcome, RotateOutcome::Ended(ended) if ended.id == kept.id),
        "{outcome:?}"
    );
}

/// Many callers present the same token at once (through two handles on the same database, as
/// two server processes would): exactly one rotates, every other one gets that same successor.
pub async fn contract_rotation_is_atomic(first: &dyn Store, second: &dyn Store) {
    let session = start(first, "alice", 1).await;
    let attempts = (0..16_u8).map(|index| {
        let store = if index % 2 == 0 { first } else { second };
        store.rotate_refresh_token(rotation(1, 100 + index), T0)
    });
    let outcomes = join_all(attempts).await;
    let mut winners = Vec::new();
    let mut sealed = Vec::new();
    for outcome in outcomes {
        match outcome.unwrap() {
            RotateOutcome::Rotated(session) => winners.push(session),
            RotateOutcome::Grace {
                sealed_successor, ..
            } => sealed.push(sealed_successor),
            other => panic!("unexpected outcome {other:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "{winners:?}");
    assert_eq!(sealed.len(), 15);
    let successor = sealed[0][0];
    assert!(sealed.iter().all(|s| s == &[successor]), "{sealed:?}");
    // Only the winner's successor was stored: it rotates; every loser's is unknown.
    for index in 0..16_u8 {
        let candidate = 100 + index;
        let outcome = second
            .rotate_refresh_token(rotation(candidate, 200 + index), T0 + 1)
            .await
            .unwrap();
        if candidate == successor {
            assert_eq!(rotated(outcome).id, session.id);
        } else {
            assert_eq!(outcome, RotateOutcome::Unknown, "candidate {candidate}");
        }
    }
    assert_eq!(first.live_sessions(None, T0 + 1).await.unwrap().len(), 1);
}

pub async fn contract_ending_sessions(store: &dyn Store) {
    let alice = create(store, "alice", T0).await;
    let bob = create(store, "bob", T0).await;
    let one = open(store, alice.id, 1, T0).await;
    let two = open(store, alice.id, 2, T0).await;
    let three = open(store, alice.id, 3, T0).await;
    let bobs = open(store, bob.id, 4, T0).await;

    let before = store.latest_change().await.unwrap();
    assert!(
        store
            .end_session(one.id, EndReason::Logout, T0 + 1)
            .await
            .unwrap()
    );
    assert!(store.latest_change().await.unwrap() > before);
    assert!(
        !store
            .end_session(one.id, EndReason::Logout, T0 + 2)
            .await
            .unwrap()
    );
    assert!(
        !store
            .end_session(SessionId::new_v4(), EndReason::Logout, T0)
            .await
            .unwrap()
    );
    let ended = store.session_by_id(one.id).await.unwrap().unwrap();
    let revocation = ended.revoked.unwrap();
    assert_eq!(
        (revocation.at, revocation.reason.as_str()),
        (T0 + 1, "logout")
    );
    assert_eq!(
        store
            .rotate_refresh_token(rotation(1, 9), T0 + 2)
            .await
            .unwrap(),
        RotateOutcome::Ended(store.session_by_id(one.id).await.unwrap().unwrap())
    );

    // All of a user's sessions but one; the other user's stay.
    let count = store
        .end_user_sessions(alice.id, Some(three.id), EndReason::SingleSession, T0 + 3)
        .await
        .unwrap();
    assert_eq!(count, 1);
    let live: Vec<SessionId> = store
        .live_sessions(None, T0 + 3)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(live.len(), 2);
    assert!(
        live.contains(&three.id) && live.contains(&bobs.id),
        "{live:?}"
    );
    let two = store.session_by_id(two.id).await.unwrap().unwrap();
    assert_eq!(two.revoked.unwrap().reason, "single_session");

    // A user change that ends sessions does so in the same write.
    let patch = UserPatch {
        password_hash: Some("$argon2id$new".to_owned()),
        end_sessions: Some(EndReason::PasswordChanged),
        ..UserPatch::default()
    };
    store
        .update_user(alice.id, patch, T0 + 4)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(live_count(store, alice.id, T0 + 4).await, 0);
    assert_eq!(live_count(store, bob.id, T0 + 4).await, 1);
    // A change without it ends nothing.
    let patch = UserPatch {
        active: Some(true),
        ..UserPatch::default()
    };
    store
        .update_user(bob.id, patch, T0 + 5)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(live_count(store, bob.id, T0 + 5).await, 1);

    // Deleting a user deletes their sessions and refresh tokens.
    assert!(store.delete_user(bob.id, None).await.unwrap());
    assert_eq!(store.session_by_id(bobs.id).await.unwrap(), None);
    assert_eq!(
        store
            .rotate_refresh_token(rotation(4, 9), T0 + 6)
            .await
            .unwrap(),
        RotateOutcome::Unknown
    );
}

/// A user change that ends the user's sessions can keep one of them (a user changing their
/// own password stays logged in where they did it): that one stays live and keeps rotating,
/// every other one of the user is ended for the patch's reason, in the same write as the
/// change, and other users' sessions are untouched.
pub async fn contract_user_change_can_keep_one_session(store: &dyn Store) {
    let alice = create(store, "alice", T0).await;
    let bob = create(store, "bob", T0).await;
    let kept = open(store, alice.id, 1, T0).await;
    let other = open(store, alice.id, 2, T0).await;
    let third = open(store, alice.id, 3, T0).await;
    let bobs = open(store, bob.id, 4, T0).await;

    let before = store.latest_change().await.unwrap();
    let patch = UserPatch {
        password_hash: Some("$argon2id$changed-by-alice".to_owned()),
        end_sessions: Some(EndReason::PasswordChanged),
        keep_session: Some(kept.id),
        ..UserPatch::default()
    };
    let user = store
        .update_user(alice.id, patch, T0 + 1)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(user.password_hash, "$argon2id$changed-by-alice");
    assert!(store.latest_change().await.unwrap() > before);

    let live: Vec<SessionId> = store
        .live_sessions(Some(alice.id), T0 + 1)
        .await
        .unwrap()
        .into_iter()
        .map(|session| session.id)
        .collect();
    assert_eq!(live, [kept.id]);
    for ended in [&other, &third] {
        let ended = store.session_by_id(ended.id).await.unwrap().unwrap();
        let revoked = ended.revoked.expect("ended");
        assert_eq!(revoked.reason, "password_changed");
    }
    assert_eq!(live_count(store, bob.id, T0 + 1).await, 1);
    assert_eq!(
        store.session_by_id(bobs.id).await.unwrap().unwrap().revoked,
        None
    );
    // The kept session still refreshes; the ended ones do not.
    rotated(
        store
            .rotate_refresh_token(rotation(1, 11), T0 + 2)
            .await
            .unwrap(),
    );
    assert!(!matches!(
        store
            .rotate_refresh_token(rotation(2, 12), T0 + 2)
            .await
            .unwrap(),
        RotateOutcome::Rotated(_)
    ));

    // `keep_session` alone ends nothing.
    let patch = UserPatch {
        keep_session: Some(kept.id),
        ..UserPatch::default()
    };
    store
        .update_user(alice.id, patch, T0 + 3)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(live_count(store, alice.id, T0 + 3).await, 1);
    // Keeping a session of another user keeps none of this user's.
    let patch = UserPatch {
        end_sessions: Some(EndReason::PasswordChanged),
        keep_session: Some(bobs.id),
        ..UserPatch::default()
    };
    store
        .update_user(alice.id, patch, T0 + 4)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(live_count(store, alice.id, T0 + 4).await, 0);
    assert_eq!(live_count(store, bob.id, T0 + 4).await, 1);
}

pub async fn contract_purge_in_batches(store: &dyn Store) {
    let alice = create(store, "alice", T0).await;
    let mut expired = Vec::new();
    for n in 0..5_u8 {
        expired.push(open(store, alice.id, n, T0).await);
    }
    let ended = open(store, alice.id, 50, T0 + IDLE).await;
    store
        .end_session(ended.id, EndReason::Logout, T0 + IDLE)
        .await
        .unwrap();
    let live = open(store, alice.id, 60, T0 + IDLE).await;

    let now = T0 + IDLE;
    let before = store.latest_change().await.unwrap();
    assert_eq!(store.purge_sessions(now, 4).await.unwrap(), 4);
    assert_eq!(store.purge_sessions(now, 4).await.unwrap(), 2);
    assert_eq!(store.purge_sessions(now, 4).await.unwrap(), 0);
    assert!(store.latest_change().await.unwrap() > before);
    for session in expired.iter().chain([&ended]) {
        assert_eq!(store.session_by_id(session.id).await.unwrap(), None);
    }
    assert_eq!(
        store
            .rotate_refresh_token(rotation(0, 99), now)
            .await
            .unwrap(),
        RotateOutcome::Unknown,
        "purged sessions take their refresh tokens with them"
    );
    assert_eq!(store.session_by_id(live.id).await.unwrap(), Some(live));
}

pub async fn contract_feed_ignores_refreshes(store: &dyn Store) {
    let session = start(store, "alice", 1).await;
    let before = store.latest_change().await.unwrap();
    rotated(
        store
            .rotate_refresh_token(rotation(1, 2), T0)
            .await
            .unwrap(),
    );
    store.live_sessions(None, T0).await.unwrap();
    store.session_by_id(session.id).await.unwrap();
    assert_eq!(store.latest_change().await.unwrap(), before);
}
