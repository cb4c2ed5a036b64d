//! The change feed between instances on one database, in process (SQLite; the same code
//! runs on PostgreSQL, where `cluster` runs real processes): a change evicts only what it
//! names, a revoking write is answered only once the other instances applied it, and a writer
//! does not wait for an instance that stopped beating beyond its lease.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{ADMIN_PASSWORD, Answer, Grant, TestEnv, TestServer, assert_token_refused};

const SECRET: (&str, &str) = ("TESSERA_JWT_SECRET", "SharedSecretSharedSecretShared12");

fn assert_ok(answer: &Answer, what: &str) {
    assert_eq!(answer.status, StatusCode::OK, "{what}: {answer:?}");
}

fn assert_refused_because(answer: &Answer, reason: &str, what: &str) {
    assert_token_refused(answer);
    assert_eq!(answer.body["reason"], reason, "{what}: {answer:?}");
}

/// Two instances on one database, and an admin token.
async fn pair(env: &TestEnv) -> (TestServer, TestServer, Grant) {
    let a = env.spawn(&[SECRET]).await;
    let b = env.spawn(&[SECRET]).await;
    let admin = a.grant("admin", ADMIN_PASSWORD).await;
    (a, b, admin)
}

/// A logout on A evicts that one session on B, and a deactivation that one user and their
/// sessions: everything else B had cached is still served without a store call. (Before the
/// feed, any change emptied B's whole cache.)
#[tokio::test]
async fn a_change_evicts_only_what_it_names_on_the_other_instance() {
    let env = TestEnv::new();
    let (a, b, admin) = pair(&env).await;
    a.create_user(&admin.access, "alice", "alice-password-1234")
        .await;
    let bob_id = a
        .create_user(&admin.access, "bob", "bob-password-12345")
        .await;
    let alice_one = a.grant("alice", "alice-password-1234").await;
    let alice_two = a.grant("alice", "alice-password-1234").await;
    let bob = a.grant("bob", "bob-password-12345").await;
    // B takes in the writes above and caches every user and session.
    b.state.auth.catch_up().await.unwrap();
    for grant in [&alice_one, &alice_two, &bob, &admin] {
        assert_ok(&b.me(&grant.access).await, "warming B");
    }

    let logout = a.post_empty("/api/auth/logout", &alice_one.access).await;
    assert_eq!(logout.status, StatusCode::NO_CONTENT, "{logout:?}");
    let before = b.state.auth.store_calls();
    assert_refused_because(
        &b.me(&alice_one.access).await,
        "session_ended",
        "after logout",
    );
    assert_eq!(
        b.state.auth.store_calls(),
        before + 1,
        "B re-read the ended session, and only it"
    );
    let before = b.state.auth.store_calls();
    for grant in [&alice_two, &bob, &admin] {
        assert_ok(&b.me(&grant.access).await, "untouched by the logout");
    }
    assert_eq!(
        b.state.auth.store_calls(),
        before,
        "the other users and sessions stayed cached on B"
    );

    let deactivated = a
        .patch_json(
            &format!("/api/users/{bob_id}"),
            Some(&admin.access),
            &json!({"active": false}),
        )
        .await;
    assert_ok(&deactivated, "deactivating bob");
    assert_refused_because(
        &b.me(&bob.access).await,
        "user_inactive",
        "after deactivation",
    );
    let before = b.state.auth.store_calls();
    for grant in [&alice_two, &admin] {
        assert_ok(&b.me(&grant.access).await, "untouched by the deactivation");
    }
    assert_eq!(b.state.auth.store_calls(), before);
}

/// A writer outside every server (the operator's command line opens the database the same
/// way) is answered only once the running instance applied its change: the instance refuses
/// the user on the request right after, without being told to look, every time.
#[tokio::test]
async fn a_deactivation_from_another_process_is_refused_right_after_it_returns() {
    let env = TestEnv::new();
    let (a, b, admin) = pair(&env).await;
    let resolved = tessera_config::resolve(&tessera_config::RawSources {
        cli: vec![
            ("TESSERA_DATABASE_URL".to_owned(), env.database_url()),
            (SECRET.0.to_owned(), SECRET.1.to_owned()),
        ],
        env: Vec::new(),
        file: None,
        secret_files: Vec::new(),
    })
    .unwrap();
    let operator =
        tessera::app::authenticator(&resolved.settings, std::sync::Arc::new(env.clock.clone()))
            .await
            .unwrap();
    for round in 0..10 {
        let name = format!("user{round}");
        let id = a
            .create_user(&admin.access, &name, "a-password-12345")
            .await;
        let grant = a.grant(&name, "a-password-12345").await;
        for server in [&a, &b] {
            assert_ok(
                &server.me(&grant.access).await,
                &format!("round {round}: before"),
            );
        }
        let changes = tessera::users::UserChanges {
            active: Some(false),
            ..tessera::users::UserChanges::default()
        };
        operator
            .users
            .update(
                id.parse().unwrap(),
                changes,
                tessera::clock::Clock::now(&env.clock),
            )
            .await
            .unwrap();
        for (server, label) in [(&a, "A"), (&b, "B")] {
            assert_refused_because(
                &server.me(&grant.access).await,
                "user_inactive",
                &format!("round {round}: {label} right after the operator's write returned"),
            );
        }
    }
    operator.close().await;
}

/// An instance that stopped beating (crashed on another machine, cut off) is waited for no
/// longer than its lease and a margin: the write is answered, and that instance, by its own
/// lease, is refusing tokens by then.
#[tokio::test]
async fn a_writer_waits_for_a_silent_instance_no_longer_than_the_lease() {
    let env = TestEnv::new();
    let lease = ("TESSERA_INSTANCE_LEASE_SECONDS", "1");
    let a = env.spawn(&[SECRET, lease]).await;
    let admin = a.grant("admin", ADMIN_PASSWORD).await;
    let user = a
        .create_user(&admin.access, "carol", "carol-password-12")
        .await;
    let store = tessera_store::connect(&env.database_url()).await.unwrap();
    // An instance on another machine that applied nothing and will never beat again.
    store
        .heartbeat(tessera_store::Heartbeat {
            id: uuid::Uuid::new_v4(),
            label: "elsewhere 192.0.2.7:8421 pid 1",
            applied: 0,
            lease_ms: 1_000,
        })
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let answer = a
        .patch_json(
            &format!("/api/users/{user}"),
            Some(&admin.access),
            &json!({"active": false}),
        )
        .await;
    assert_ok(&answer, "the deactivation is answered");
    let waited = started.elapsed();
    assert!(
        waited < std::time::Duration::from_secs(10),
        "the writer waited {waited:?} for an instance whose lease is 1 s"
    );
    assert!(
        waited >= std::time::Duration::from_millis(500),
        "the writer did not wait for the silent instance at all ({waited:?})"
    );
    store.close().await.unwrap();
}
