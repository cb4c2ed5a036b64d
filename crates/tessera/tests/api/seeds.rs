//! Each statement of the seed documents about the JWT secret, shown through HTTP.

use reqwest::StatusCode;
use serde_json::json;
use tessera_token::TokenCodec;

use crate::helpers::{TestEnv, assert_token_refused, codec};

const SECRET: &str = "02847This_is_my_secret_key456576";
const OTHER_SECRET: &str = "k9Qz7vR2mX4pL8wT1nB6yH3cJ5dF0gSa";

/// A verifier elsewhere, rebuilding the key from the documented rule.
fn codec_for(key: &str) -> TokenCodec {
    codec(key, "tessera", 30)
}

#[tokio::test]
async fn token_survives_a_restart_with_the_same_secret() {
    let env = TestEnv::new();
    let first = env.spawn(&[("AYANOVA_JWT_SECRET", SECRET)]).await;
    let token = first.admin_token().await;
    assert_eq!(first.me(&token).await.status, StatusCode::OK);
    drop(first);

    let second = env.spawn(&[("AYANOVA_JWT_SECRET", SECRET)]).await;
    let me = second.me(&token).await;
    assert_eq!(me.status, StatusCode::OK, "{me:?}");
    assert_eq!(me.body["user"]["username"], "admin");
}

#[tokio::test]
async fn changing_the_secret_and_restarting_invalidates_every_token() {
    let env = TestEnv::new();
    let first = env.spawn(&[("TESSERA_JWT_SECRET", SECRET)]).await;
    let token = first.admin_token().await;
    drop(first);

    let second = env.spawn(&[("TESSERA_JWT_SECRET", OTHER_SECRET)]).await;
    assert_token_refused(&second.me(&token).await);
    // Logging in again works and yields a token the new key accepts.
    let fresh = second.admin_token().await;
    assert_eq!(second.me(&fresh).await.status, StatusCode::OK);
}

#[tokio::test]
async fn with_no_secret_every_restart_draws_a_new_one() {
    let env = TestEnv::new();
    let first = env.spawn(&[]).await;
    let token = first.admin_token().await;
    assert_eq!(first.me(&token).await.status, StatusCode::OK);
    drop(first);

    let second = env.spawn(&[]).await;
    assert_token_refused(&second.me(&token).await);
}

#[tokio::test]
async fn a_40_character_secret_and_its_first_32_characters_are_interchangeable() {
    let long = format!("{SECRET}EXTRA123");
    assert_eq!(long.chars().count(), 40);
    let env = TestEnv::new();

    let server = env.spawn(&[("TESSERA_JWT_SECRET", long.as_str())]).await;
    let from_long = server.admin_token().await;
    drop(server);

    let server = env.spawn(&[("AYANOVA_JWT_SECRET", SECRET)]).await;
    assert_eq!(server.me(&from_long).await.status, StatusCode::OK);
    let from_short = server.admin_token().await;
    drop(server);

    let server = env.spawn(&[("TESSERA_JWT_SECRET", long.as_str())]).await;
    assert_eq!(server.me(&from_short).await.status, StatusCode::OK);
    // And a verifier elsewhere uses exactly the first 32 characters.
    codec_for(SECRET)
        .verify(&from_long, env.clock_now())
        .unwrap();
}

#[tokio::test]
async fn a_short_secret_is_padded_the_same_way_at_every_start() {
    let env = TestEnv::new();
    let server = env.spawn(&[("AYANOVA_JWT_SECRET", "short-secret")]).await;
    let token = server.admin_token().await;
    drop(server);

    let server = env.spawn(&[("AYANOVA_JWT_SECRET", "short-secret")]).await;
    assert_eq!(server.me(&token).await.status, StatusCode::OK);

    // The documented rule: pad on the right with '-' to 32 characters.
    let padded = format!("short-secret{}", "-".repeat(20));
    codec_for(&padded).verify(&token, env.clock_now()).unwrap();
    assert!(
        codec_for("short-secret")
            .verify(&token, env.clock_now())
            .is_err()
    );
}

#[tokio::test]
async fn default_lifetime_is_exactly_five_days() {
    let env = TestEnv::new();
    let server = env.spawn(&[("TESSERA_JWT_SECRET", SECRET)]).await;
    let login = server.login("admin", crate::helpers::ADMIN_PASSWORD).await;
    assert_eq!(login.status, StatusCode::OK);
    assert_eq!(login.body["expires_in"], json!(5 * 24 * 60 * 60));
    let token = login.body["access_token"].as_str().unwrap().to_owned();
    let claims = codec_for(SECRET).verify(&token, env.clock_now()).unwrap();
    assert_eq!(claims.exp - claims.iat, 432_000);
    assert_eq!(login.body["expires_at"], "2027-01-20T08:00:00Z");

    // Valid up to the last second (plus the 30 s leeway), refused after.
    env.clock.advance(432_000 + 29);
    assert_eq!(server.me(&token).await.status, StatusCode::OK);
    env.clock.advance(1);
    assert_token_refused(&server.me(&token).await);
}

#[tokio::test]
async fn deactivating_a_user_refuses_their_unexpired_token_on_the_next_request() {
    let env = TestEnv::new();
    let server = env.spawn(&[("TESSERA_JWT_SECRET", SECRET)]).await;
    let admin = server.admin_token().await;
    let id = server
        .create_user(&admin, "alice", "alice-password-1")
        .await;
    let alice = server.token("alice", "alice-password-1").await;
    assert_eq!(server.me(&alice).await.status, StatusCode::OK);

    let deactivated = server
        .patch_json(
            &format!("/api/users/{id}"),
            Some(&admin),
            &json!({ "active": false }),
        )
        .await;
    assert_eq!(deactivated.status, StatusCode::OK, "{deactivated:?}");
    assert_eq!(deactivated.body["active"], false);

    // Days of lifetime are left, yet the very next request is refused.
    assert_token_refused(&server.me(&alice).await);
    let again = server.login("alice", "alice-password-1").await;
    assert_eq!(again.status, StatusCode::UNAUTHORIZED);

    let reactivated = server
        .patch_json(
            &format!("/api/users/{id}"),
            Some(&admin),
            &json!({ "active": true }),
        )
        .await;
    assert_eq!(reactivated.status, StatusCode::OK);
    let fresh = server.token("alice", "alice-password-1").await;
    assert_eq!(server.me(&fresh).await.status, StatusCode::OK);
}
