//! A resource server built on `tessera-verify`, against the real tessera: it accepts tokens
//! through tessera's JWKS, follows a rotation with one refetch, and refuses a token of a key
//! removed from the set once it has refetched.

use std::sync::Arc;

use reqwest::StatusCode;
use tessera_verify::{ManualClock, TokenRules, Verifier};

use crate::helpers::{ADMIN_PASSWORD, Grant, TestEnv, kid_of as kid};

const KEK: &str = "a-key-encryption-secret-of-forty-characters";

#[tokio::test]
async fn a_tessera_verify_service_accepts_tessera_tokens_and_follows_a_rotation() {
    let env = TestEnv::new();
    let server = env
        .spawn(&[
            ("TESSERA_JWT_ALGORITHM", "EdDSA"),
            ("TESSERA_KEY_ENCRYPTION_SECRET", KEK),
        ])
        .await;
    let clock = Arc::new(ManualClock::new(env.clock_now()));
    let rules = TokenRules {
        issuer: "tessera".into(),
        audience: "tessera".into(),
        leeway_seconds: 30,
    };
    let verifier = Verifier::jwks(&server.url("/.well-known/jwks.json"), rules)
        .unwrap()
        .with_clock(clock.clone());

    let grant = server.grant("admin", ADMIN_PASSWORD).await;
    let claims = verifier.verify(&grant.access).await.unwrap();
    assert_eq!(claims.name, "admin");
    assert!(verifier.verify("not-a-token").await.is_err());

    // A rotation: the new key was published as next, so it is already in the cached set.
    env.clock.advance(300);
    clock.advance(300);
    server
        .state
        .auth
        .keys
        .rotate(env.clock_now(), false)
        .await
        .unwrap();
    server.poll_external_changes().await;
    let next = Grant::from(&server.refresh(&grant.refresh).await);
    assert!(verifier.verify(&next.access).await.is_ok());
    assert!(
        verifier.verify(&grant.access).await.is_ok(),
        "retired keys verify"
    );

    // The old key revoked: once the verifier refetches (its cache lifetime passed), its
    // tokens are refused downstream too.
    let old_kid = kid(&grant.access);
    server
        .state
        .auth
        .keys
        .revoke(&old_kid, env.clock_now())
        .await
        .unwrap();
    server.poll_external_changes().await;
    assert_eq!(
        server.me(&grant.access).await.status,
        StatusCode::UNAUTHORIZED
    );
    clock.advance(301);
    assert!(verifier.verify(&grant.access).await.is_err());
    assert!(verifier.verify(&next.access).await.is_ok());
}

/// The bound a downstream service states: a revocation is refused once the feed's long poll
/// has answered, which the test waits for (at most this long) rather than sleeping.
const BOUND: std::time::Duration = std::time::Duration::from_secs(2);

/// Waits until the verifier refuses `token` as revoked, at most [`BOUND`] after the call; each
/// step waits for the follower's next applied answer, never for a fixed time.
async fn refused_within_bound(verifier: &Verifier, token: &str) -> std::time::Duration {
    let started = std::time::Instant::now();
    loop {
        match verifier.verify(token).await {
            Err(tessera_verify::Rejection::Revoked) => return started.elapsed(),
            Ok(_) => {}
            Err(other) => panic!("refused for another reason: {other:?}"),
        }
        let remaining = BOUND.saturating_sub(started.elapsed());
        tokio::time::timeout(remaining, verifier.revocations_updated())
            .await
            .unwrap_or_else(|_| panic!("still accepted {BOUND:?} after the revocation"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_following_the_revocation_feed_refuses_a_deactivated_user_and_an_ended_session_within_the_bound()
 {
    let env = TestEnv::new();
    let server = env
        .spawn(&[
            ("TESSERA_JWT_ALGORITHM", "ES256"),
            ("TESSERA_KEY_ENCRYPTION_SECRET", KEK),
        ])
        .await;
    let client = server
        .state
        .auth
        .clients
        .add("orders", env.clock_now())
        .await
        .unwrap();
    let clock = Arc::new(ManualClock::new(env.clock_now()));
    let rules = TokenRules {
        issuer: "tessera".into(),
        audience: "tessera".into(),
        leeway_seconds: 30,
    };
    let verifier = Verifier::jwks(&server.url("/.well-known/jwks.json"), rules)
        .unwrap()
        .with_clock(clock.clone())
        .follow_revocations(
            &server.url("/api/revocations"),
            &client.id,
            &client.secret,
            tessera_verify::FeedOptions::default(),
        )
        .unwrap();

    let admin = server.admin_token().await;
    server.create_user(&admin, "bob", "bob-password-1").await;
    let bob = server.grant("bob", "bob-password-1").await;
    let carol_id = server
        .create_user(&admin, "carol", "carol-password-1")
        .await;
    let carol = server.grant("carol", "carol-password-1").await;
    // Before the feed's first answer every token is refused: nothing is trusted blind.
    if verifier.revocation_cursor().is_none() {
        assert_eq!(
            verifier.verify(&bob.access).await.unwrap_err(),
            tessera_verify::Rejection::RevocationsUnavailable
        );
        tokio::time::timeout(BOUND, verifier.revocations_updated())
            .await
            .unwrap();
    }
    assert!(verifier.verify(&bob.access).await.is_ok());
    assert!(verifier.verify(&carol.access).await.is_ok());

    // Carol is deactivated by an admin: refused downstream within the bound.
    let answer = server
        .patch_json(
            &format!("/api/users/{carol_id}"),
            Some(&admin),
            &serde_json::json!({"active": false}),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    let took = refused_within_bound(&verifier, &carol.access).await;
    println!("deactivation refused downstream after {took:?}");
    // Bob logs out: his token is refused downstream within the bound; Bob's next login works.
    assert_eq!(
        server
            .post_empty("/api/auth/logout", &bob.access)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    let took = refused_within_bound(&verifier, &bob.access).await;
    println!("logout refused downstream after {took:?}");
    let again = server.grant("bob", "bob-password-1").await;
    assert!(verifier.verify(&again.access).await.is_ok());

    // Dave is deactivated by raw SQL, which ends no session: only the user event can tell.
    server.create_user(&admin, "dave", "dave-password-1").await;
    let dave = server.grant("dave", "dave-password-1").await;
    assert!(verifier.verify(&dave.access).await.is_ok());
    {
        use sqlx::Connection as _;
        let mut connection = sqlx::SqliteConnection::connect(&env.database_url())
            .await
            .unwrap();
        sqlx::query("UPDATE users SET active = 0 WHERE username = 'dave'")
            .execute(&mut connection)
            .await
            .unwrap();
        connection.close().await.unwrap();
    }
    assert_eq!(
        server.me(&dave.access).await.status,
        StatusCode::UNAUTHORIZED,
        "tessera itself refuses an inactive user"
    );
    let took = refused_within_bound(&verifier, &dave.access).await;
    println!("raw-SQL deactivation refused downstream after {took:?}");
    assert!(verifier.verify(&again.access).await.is_ok(), "only dave");
}
