//! The login rules: one generic failure, throttling, and the hot path's cache.

use reqwest::StatusCode;
use tessera_api::{ErrorCode, MeResponse, TokenResponse, UpdateUserBody};

use crate::helpers::{ADMIN_PASSWORD, TestEnv, assert_token_refused};

#[tokio::test]
async fn login_returns_a_bearer_token_that_me_accepts() {
    let env = TestEnv::new();
    let server = env.spawn(&[]).await;
    let login = server.login("admin", ADMIN_PASSWORD).await;
    assert_eq!(login.status, StatusCode::OK, "{login:?}");
    assert_eq!(login.header("cache-control"), Some("no-store"));
    let tokens: TokenResponse = login.json();
    assert_eq!(tokens.token_type, "Bearer");
    assert_eq!(tokens.user.username, "admin");
    assert_eq!(tokens.user.roles, ["admin"]);
    let me = server.me(&tokens.access_token).await;
    assert_eq!(me.status, StatusCode::OK);
    let me_body: MeResponse = me.json();
    assert_eq!(me_body.user.id, tokens.user.id);
    assert_eq!(me_body.token.expires_at, tokens.expires_at);
    // Per-user answers stay out of shared caches, and browsers do not sniff types.
    assert_eq!(me.header("cache-control"), Some("no-store"));
    assert_eq!(me.header("x-content-type-options"), Some("nosniff"));
}

#[tokio::test]
async fn usernames_are_case_insensitive_at_login() {
    let env = TestEnv::new();
    let server = env.spawn(&[]).await;
    assert_eq!(
        server.login("ADMIN", ADMIN_PASSWORD).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn unknown_user_wrong_password_and_inactive_user_look_the_same() {
    let env = TestEnv::new();
    let server = env.spawn(&[]).await;
    let admin = server.admin_token().await;
    let id = server.create_user(&admin, "carol", "carol-password").await;
    let deactivate = UpdateUserBody {
        active: Some(false),
        ..UpdateUserBody::default()
    };
    let carol = server
        .api()
        .update_user(&admin, id.parse().unwrap(), &deactivate)
        .await
        .unwrap();
    assert!(!carol.active);

    let unknown = server.login("nobody", "whatever-password").await;
    let wrong = server.login("admin", "wrong-password").await;
    let inactive = server.login("carol", "carol-password").await;
    for answer in [&unknown, &wrong, &inactive] {
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
        assert_eq!(answer.body, unknown.body);
        assert_eq!(
            answer.header("content-length"),
            unknown.header("content-length")
        );
    }
    assert_eq!(unknown.code(), ErrorCode::InvalidCredentials);
}

#[tokio::test]
async fn failed_logins_are_throttled_per_account_and_unknown_names_alike() {
    let env = TestEnv::new();
    let server = env
        .spawn(&[
            ("TESSERA_LOGIN_MAX_ACCOUNT_FAILURES", "3"),
            ("TESSERA_LOGIN_FAILURE_WINDOW_SECONDS", "600"),
        ])
        .await;
    for name in ["admin", "ghost"] {
        for _ in 0..3 {
            assert_eq!(
                server.login(name, "bad-password").await.status,
                StatusCode::UNAUTHORIZED
            );
        }
        let refused = server.login(name, "bad-password").await;
        assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS, "{name}");
        assert_eq!(refused.code(), ErrorCode::TooManyRequests, "{name}");
        assert_eq!(refused.header("retry-after"), Some("600"));
    }
    // Even the right password waits for the window: the throttle is checked first.
    assert_eq!(
        server.login("admin", ADMIN_PASSWORD).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    env.clock.advance(600);
    assert_eq!(
        server.login("admin", ADMIN_PASSWORD).await.status,
        StatusCode::OK
    );
}

/// Two servers on one database (two instances behind a load balancer) count the same
/// failures: an attacker gains nothing by spreading guesses over them.
#[tokio::test]
async fn failed_logins_count_across_instances_on_one_database() {
    let env = TestEnv::new();
    let limits = [
        ("TESSERA_LOGIN_MAX_ACCOUNT_FAILURES", "3"),
        ("TESSERA_LOGIN_FAILURE_WINDOW_SECONDS", "600"),
    ];
    let first = env.spawn(&limits).await;
    let second = env.spawn(&limits).await;
    for server in [&first, &second, &first] {
        assert_eq!(
            server.login("admin", "bad-password").await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    env.clock.advance(100);
    for server in [&first, &second] {
        let refused = server.login("admin", ADMIN_PASSWORD).await;
        assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS, "{refused:?}");
        assert_eq!(refused.header("retry-after"), Some("500"));
    }
    // A success on one instance clears the account for both.
    env.clock.advance(500);
    assert_eq!(
        second.login("admin", ADMIN_PASSWORD).await.status,
        StatusCode::OK
    );
    for server in [&first, &second] {
        assert_eq!(
            server.login("admin", "bad-password").await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        first.login("admin", ADMIN_PASSWORD).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn failed_logins_are_throttled_per_client_across_usernames() {
    let env = TestEnv::new();
    let server = env
        .spawn(&[("TESSERA_LOGIN_MAX_CLIENT_FAILURES", "4")])
        .await;
    for i in 0..4 {
        let answer = server.login(&format!("user{i}"), "bad-password").await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    }
    let refused = server.login("someone-else", "bad-password").await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(refused.code(), ErrorCode::TooManyRequests);
    assert_eq!(refused.header("retry-after"), Some("900"));
}

#[tokio::test]
async fn the_per_request_user_check_costs_no_database_call_when_nothing_changed() {
    let env = TestEnv::new();
    let server = env.spawn(&[]).await;
    let token = server.admin_token().await;
    assert_eq!(server.me(&token).await.status, StatusCode::OK);
    let before = server.state.auth.store_calls();
    for _ in 0..50 {
        assert_eq!(server.me(&token).await.status, StatusCode::OK);
    }
    assert_eq!(server.state.auth.store_calls(), before);
}

#[tokio::test]
async fn a_change_made_outside_the_server_is_seen_after_the_next_poll() {
    let env = TestEnv::new();
    let server = env.spawn(&[]).await;
    let admin = server.admin_token().await;
    server.create_user(&admin, "dave", "dave-password").await;
    let dave = server.token("dave", "dave-password").await;
    assert_eq!(server.me(&dave).await.status, StatusCode::OK);

    // Another process (the CLI, another instance) deactivates dave in the same file.
    let other = tessera_store::connect(&env.database_url()).await.unwrap();
    let user = other.user_by_username("dave").await.unwrap().unwrap();
    let patch = tessera_store::UserPatch {
        active: Some(false),
        ..Default::default()
    };
    other.update_user(user.id, patch, 0).await.unwrap();

    // The server polls once a second; the test calls the same poll instead of waiting.
    // (The background poll may have run first, so the return value is not asserted.)
    server.state.auth.catch_up().await.unwrap();
    assert_token_refused(&server.me(&dave).await);
}

#[tokio::test]
async fn a_weak_stored_hash_is_upgraded_at_login() {
    use argon2::password_hash::PasswordHasher as _;
    let env = TestEnv::new();
    let server = env.spawn(&[]).await;
    let weak = argon2::Argon2::new(
        argon2::Algorithm::Argon2id,
        argon2::Version::V0x13,
        argon2::Params::new(4_096, 1, 1, None).unwrap(),
    )
    .hash_password(b"legacy-password")
    .unwrap()
    .to_string();
    let store = tessera_store::connect(&env.database_url()).await.unwrap();
    store
        .create_user(
            tessera_store::NewUser {
                id: uuid::Uuid::new_v4(),
                username: "legacy".into(),
                password_hash: weak.clone(),
                roles: vec![],
                active: true,
            },
            0,
        )
        .await
        .unwrap();
    assert_eq!(
        server.login("legacy", "legacy-password").await.status,
        StatusCode::OK
    );
    let stored = store.user_by_username("legacy").await.unwrap().unwrap();
    assert!(
        stored
            .password_hash
            .starts_with("$argon2id$v=19$m=19456,t=2,p=1$")
    );
    assert_eq!(
        server.login("legacy", "legacy-password").await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn metrics_count_logins_and_token_checks_by_outcome() {
    let env = TestEnv::new();
    let server = env.spawn(&[]).await;
    let token = server.admin_token().await;
    server.login("admin", "wrong-password").await;
    server.me(&token).await;
    server.me(&token).await;
    server.me("not.a.token").await;
    env.clock.advance(10 * 86_400);
    server.me(&token).await;

    let response = server
        .client
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text")
    );
    let text = response.text().await.unwrap();
    for line in [
        "tessera_logins_total{outcome=\"success\"} 1",
        "tessera_logins_total{outcome=\"invalid_credentials\"} 1",
        "tessera_tokens_accepted_total 2",
        "tessera_tokens_rejected_total{reason=\"malformed\"} 1",
        "tessera_tokens_rejected_total{reason=\"expired\"} 1",
    ] {
        assert!(text.lines().any(|l| l == line), "missing {line} in\n{text}");
    }
}

#[tokio::test]
async fn behind_a_trusted_proxy_clients_are_told_apart_by_x_forwarded_for() {
    let env = TestEnv::new();
    let limits = [("TESSERA_LOGIN_MAX_CLIENT_FAILURES", "2")];
    let trusted = env
        .spawn(&[limits[0], ("TESSERA_TRUSTED_PROXIES", "127.0.0.1")])
        .await;
    for name in ["a", "b"] {
        let answer = trusted
            .login_via_proxy(name, "bad-password", "203.0.113.1")
            .await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    }
    let same = trusted
        .login_via_proxy("c", "bad-password", "203.0.113.1")
        .await;
    assert_eq!(same.status, StatusCode::TOO_MANY_REQUESTS);
    let other = trusted
        .login_via_proxy("c", "bad-password", "203.0.113.2")
        .await;
    assert_eq!(
        other.status,
        StatusCode::UNAUTHORIZED,
        "another client behind the proxy"
    );
    drop(trusted);

    // Without the setting the header is ignored: a client cannot dodge the limit with it.
    let untrusted = env.spawn(&limits).await;
    for forwarded in ["198.51.100.1", "198.51.100.2"] {
        let answer = untrusted
            .login_via_proxy("a", "bad-password", forwarded)
            .await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    }
    let spoofed = untrusted
        .login_via_proxy("a", "bad-password", "198.51.100.3")
        .await;
    assert_eq!(spoofed.status, StatusCode::TOO_MANY_REQUESTS);
}
