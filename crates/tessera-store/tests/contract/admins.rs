//! The active-holder guard of the store contract (backend-independent): a guarded update or
//! delete never takes away the last active holder of the guarded role, checked and written
//! in one step, however writers race.

use tessera_store::{EndReason, NewSession, SessionId, Store, StoreError, User, UserId, UserPatch};

use super::{T0, new_user};

/// The role every case guards.
const ADMIN: &str = "admin";
/// Repetitions of each racing pair.
const RACES: usize = 100;

/// An active user holding `admin` (and `user`), with one live session.
async fn admin(store: &dyn Store, username: &str) -> User {
    let mut wanted = new_user(username);
    wanted.roles = vec![ADMIN.to_owned(), "user".to_owned()];
    let user = store.create_user(wanted, T0).await.unwrap();
    let mut refresh_hash = [0; 32];
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
    store.create_session(session, T0).await.unwrap();
    user
}

/// The ids of the active users holding `admin`.
async fn active_admins(store: &dyn Store) -> Vec<UserId> {
    let users = store.list_users().await.unwrap();
    users
        .into_iter()
        .filter(|user| user.active && user.roles.iter().any(|role| role == ADMIN))
        .map(|user| user.id)
        .collect()
}

async fn live_sessions_of(store: &dyn Store, user: UserId) -> usize {
    store.live_sessions(Some(user), T0 + 1).await.unwrap().len()
}

/// A change one admin makes to another, always guarded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Change {
    /// Roles without `admin`.
    Demote,
    /// `active: false`.
    Deactivate,
    /// Deleted.
    Delete,
    /// `active: false` with a new password hash riding along.
    DeactivateWithPassword,
    /// Roles without `admin` and a new password hash.
    DemoteWithPassword,
    /// Only a new password: keeps the user an active admin.
    Password,
}

impl Change {
    /// Whether the change takes the `admin` role away from an active admin.
    fn removes_admin(self) -> bool {
        self != Self::Password
    }

    fn patch(self) -> UserPatch {
        let guarded = UserPatch {
            keep_active_holder_of: Some(ADMIN.to_owned()),
            ..UserPatch::default()
        };
        let new_hash = Some("$argon2id$changed".to_owned());
        match self {
            Self::Demote => UserPatch {
                roles: Some(vec!["user".to_owned()]),
                end_sessions: Some(EndReason::RolesChanged),
                ..guarded
            },
            Self::Deactivate => UserPatch {
                active: Some(false),
                end_sessions: Some(EndReason::Deactivated),
                ..guarded
            },
            Self::DeactivateWithPassword => UserPatch {
                active: Some(false),
                password_hash: new_hash,
                end_sessions: Some(EndReason::Deactivated),
                ..guarded
            },
            Self::DemoteWithPassword => UserPatch {
                roles: Some(Vec::new()),
                password_hash: new_hash,
                end_sessions: Some(EndReason::PasswordChanged),
                ..guarded
            },
            Self::Password => UserPatch {
                password_hash: new_hash,
                end_sessions: Some(EndReason::PasswordChanged),
                ..guarded
            },
            Self::Delete => guarded,
        }
    }

    /// Applies the change to `target`: `Ok(())` when written.
    async fn apply(self, store: &dyn Store, target: UserId) -> Result<(), StoreError> {
        if self == Self::Delete {
            let deleted = store.delete_user(target, Some(ADMIN)).await?;
            assert!(deleted, "the target exists");
        } else {
            let updated = store.update_user(target, self.patch(), T0 + 1).await?;
            assert!(updated.is_some(), "the target exists");
        }
        Ok(())
    }
}

fn assert_refused(outcome: &Result<(), StoreError>, what: &str) {
    match outcome {
        Err(StoreError::LastActiveHolder { role }) => assert_eq!(role, ADMIN, "{what}"),
        other => panic!("{what}: expected the guard to refuse, got {other:?}"),
    }
}

/// The last active admin cannot demote, deactivate or delete itself; the refusal writes
/// nothing (fields, `updated_at`, sessions and the change counter stay as they were).
pub async fn contract_last_active_admin_is_kept(store: &dyn Store) {
    let alice = admin(store, "alice").await;
    let counter = store.latest_change().await.unwrap();
    for change in [
        Change::Demote,
        Change::Deactivate,
        Change::DeactivateWithPassword,
        Change::DemoteWithPassword,
        Change::Delete,
    ] {
        let outcome = change.apply(store, alice.id).await;
        assert_refused(&outcome, &format!("{change:?}"));
        assert_eq!(
            store.user_by_id(alice.id).await.unwrap().as_ref(),
            Some(&alice),
            "{change:?} wrote something"
        );
        assert_eq!(live_sessions_of(store, alice.id).await, 1, "{change:?}");
        assert_eq!(store.latest_change().await.unwrap(), counter);
    }
    let error = Change::Demote.apply(store, alice.id).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        "the change would leave no active user with the admin role"
    );
    // Demoting and deactivating at once is refused too.
    let both = UserPatch {
        active: Some(false),
        roles: Some(Vec::new()),
        ..Change::Demote.patch()
    };
    let outcome = store.update_user(alice.id, both, T0 + 1).await.map(|_| ());
    assert_refused(&outcome, "demote and deactivate");

    // A change that keeps her an active admin passes.
    let keeps = UserPatch {
        active: Some(true),
        roles: Some(vec!["admin".to_owned(), "ops".to_owned()]),
        ..Change::Password.patch()
    };
    let kept = store.update_user(alice.id, keeps, T0 + 2).await.unwrap();
    let kept = kept.unwrap();
    assert!(kept.active);
    assert_eq!(kept.roles, ["admin", "ops"]);
    assert_eq!(kept.password_hash, "$argon2id$changed");
    assert_eq!(live_sessions_of(store, alice.id).await, 0, "sessions ended");

    // A missing user is `None` / `false`, never the guard's refusal.
    let missing = UserId::new_v4();
    let outcome = store.update_user(missing, Change::Demote.patch(), T0).await;
    assert!(matches!(outcome, Ok(None)), "{outcome:?}");
    assert!(!store.delete_user(missing, Some(ADMIN)).await.unwrap());
    assert_eq!(active_admins(store).await, [alice.id]);
}

/// Non-admins and inactive admins change freely under the guard; a second active admin
/// can be removed, and then the first one no longer can.
pub async fn contract_guard_refuses_only_the_last_active_admin(store: &dyn Store) {
    let alice = admin(store, "alice").await;
    let bob = store.create_user(new_user("bob"), T0).await.unwrap();
    let carol = admin(store, "carol").await;
    Change::Deactivate.apply(store, carol.id).await.unwrap();
    assert_eq!(active_admins(store).await, [alice.id]);

    // bob, who never held the role, changes in every way.
    for change in [Change::Deactivate, Change::Demote, Change::Password] {
        change.apply(store, bob.id).await.unwrap();
    }
    Change::Delete.apply(store, bob.id).await.unwrap();
    // carol, an inactive admin, too.
    Change::DemoteWithPassword
        .apply(store, carol.id)
        .await
        .unwrap();
    Change::Delete.apply(store, carol.id).await.unwrap();

    let dave = admin(store, "dave").await;
    Change::Demote.apply(store, alice.id).await.unwrap();
    assert_refused(
        &Change::Delete.apply(store, dave.id).await,
        "dave is the last",
    );
    assert_eq!(active_admins(store).await, [dave.id]);

    // Another role is guarded just the same: the guard names the role it kept.
    let ops = |roles: &[&str], guard: &str| UserPatch {
        roles: Some(roles.iter().map(|role| (*role).to_owned()).collect()),
        keep_active_holder_of: Some(guard.to_owned()),
        ..UserPatch::default()
    };
    store
        .update_user(dave.id, ops(&[ADMIN, "ops"], ADMIN), T0)
        .await
        .unwrap()
        .unwrap();
    let error = store
        .update_user(dave.id, ops(&[ADMIN], "ops"), T0)
        .await
        .unwrap_err();
    assert!(
        matches!(&error, StoreError::LastActiveHolder { role } if role == "ops"),
        "{error:?}"
    );
}

/// With no active admin left at all (changed behind the guard's back), guarded writes that
/// do not take an admin away still pass: granting the role or activating an admin recovers.
pub async fn contract_guard_lets_a_database_without_admins_recover(store: &dyn Store) {
    let alice = admin(store, "alice").await;
    let bob = store.create_user(new_user("bob"), T0).await.unwrap();
    let carol = admin(store, "carol").await;
    let unguarded = |patch: UserPatch| UserPatch {
        keep_active_holder_of: None,
        ..patch
    };
    for user in [alice.id, carol.id] {
        let patch = unguarded(Change::Deactivate.patch());
        store.update_user(user, patch, T0).await.unwrap().unwrap();
    }
    assert!(active_admins(store).await.is_empty());

    // A non-admin changes freely, and is granted the role.
    Change::Password.apply(store, bob.id).await.unwrap();
    let grant = UserPatch {
        roles: Some(vec![ADMIN.to_owned()]),
        ..Change::Password.patch()
    };
    store
        .update_user(bob.id, grant, T0 + 2)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(active_admins(store).await, [bob.id]);

    // An inactive admin is activated again.
    let activate = UserPatch {
        active: Some(true),
        keep_active_holder_of: Some(ADMIN.to_owned()),
        ..UserPatch::default()
    };
    store
        .update_user(alice.id, activate, T0 + 3)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(active_admins(store).await.len(), 2);
    assert!(store.delete_user(carol.id, Some(ADMIN)).await.unwrap());
}

/// The pairs raced by [`contract_admins_racing_to_remove_each_other_keep_one`].
const PAIRS: [(Change, Change); 9] = [
    (Change::Demote, Change::Demote),
    (Change::Deactivate, Change::Deactivate),
    (Change::Delete, Change::Delete),
    (Change::Demote, Change::Delete),
    (Change::Deactivate, Change::Delete),
    (Change::Demote, Change::Deactivate),
    (Change::DeactivateWithPassword, Change::DemoteWithPassword),
    (Change::DeactivateWithPassword, Change::Delete),
    (Change::Password, Change::Deactivate),
];

/// Two active admins change each other at the same instant, through two separately opened
/// handles on one database (as two server processes would), many times per pair: at most
/// one removal succeeds, the refused side wrote nothing, and one active admin remains.
pub async fn contract_admins_racing_to_remove_each_other_keep_one(
    first: &dyn Store,
    second: &dyn Store,
) {
    let mut survivor = admin(first, "admin0").await;
    for (pair, (one, other)) in PAIRS.into_iter().enumerate() {
        for round in 0..RACES {
            let newcomer = admin(second, &format!("admin{pair}-{round}")).await;
            // Alternate who goes first and through which handle.
            let (a, b) = if round % 2 == 0 {
                (survivor.clone(), newcomer)
            } else {
                (newcomer, survivor.clone())
            };
            let counter = first.latest_change().await.unwrap();
            let (to_b, to_a) = tokio::join!(one.apply(first, b.id), other.apply(second, a.id));
            let what = format!("{one:?} of {} vs {other:?} of {}", b.username, a.username);

            let admins = active_admins(first).await;
            assert!(!admins.is_empty(), "{what}: no active admin left");
            if !one.removes_admin() || !other.removes_admin() {
                // The harmless change never gets in the way of the other one.
                to_b.unwrap();
                to_a.unwrap();
                assert_eq!(admins.len(), 1, "{what}");
            } else {
                assert_eq!(admins.len(), 1, "{what}: {admins:?}");
                let (kept, refused) = match (&to_b, &to_a) {
                    (Ok(()), Err(_)) => (&a, &to_a),
                    (Err(_), Ok(())) => (&b, &to_b),
                    _ => panic!("{what}: exactly one must win: {to_b:?} / {to_a:?}"),
                };
                assert_refused(refused, &what);
                assert_eq!(admins, [kept.id], "{what}");
                assert_eq!(
                    first.user_by_id(kept.id).await.unwrap().as_ref(),
                    Some(kept),
                    "{what}: the refused write changed its target"
                );
                assert_eq!(live_sessions_of(first, kept.id).await, 1, "{what}");
                assert!(first.latest_change().await.unwrap() > counter);
            }
            survivor = first.user_by_id(admins[0]).await.unwrap().unwrap();
            // Clear away the removed admin, so every round starts from the same two rows.
            for user in [a.id, b.id].into_iter().filter(|id| *id != survivor.id) {
                first.delete_user(user, None).await.unwrap();
            }
        }
    }
}
