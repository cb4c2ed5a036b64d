//! A resource server built on `tessera-verify`, against the real tessera: it accepts tokens
//! through tessera's JWKS, follows a rotation with one refetch, and refuses a token of a key
//! removed from the set once it has refetched.

use std::sync::Arc;

use reqwest::StatusCode;
use tessera_verify::{ManualClock, TokenRules, Verifier};

use crate::helpers::{ADMIN_PASSWORD, Grant, TestEnv};

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

fn kid(token: &str) -> String {
    use base64::Engine as _;
    let header = token.split('.').next().unwrap();
    let header = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .unwrap();
    let header: serde_json::Value = serde_json::from_slice(&header).unwrap();
    header["kid"].as_str().unwrap().to_owned()
}
