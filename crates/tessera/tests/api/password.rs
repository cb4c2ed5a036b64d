//! `POST /api/auth/password`: a user changes their own password with their access token and
//! the current password. The other sessions end at once; the one it was done from stays.

use reqwest::StatusCode;
use serde_json::{Value, json};
use tessera_api::{ErrorCode, PasswordBody, RefusalReason, SessionList};

use crate::helpers::{
    Answer, Grant, TestEnv, TestServer, assert_refresh_refused, assert_token_refused,
};

const OLD: &str = "alice-old-password";
const NEW: &str = "alice-new-password";

/// `POST /api/auth/password` with `token` (none when `None`).
async fn change(server: &TestServer, token: Option<&str>, body: &Value) -> Answer {
    server.post_json("/api/auth/password", token, body).await
}

/// A change from `current` to `new`.
fn body(current: &str, new: &str) -> Value {
    serde_json::to_value(PasswordBody {
        current_password: current.to_owned(),
        new_password: new.to_owned(),
    })
    .unwrap()
}

/// Creates alice (password [`OLD`]) and bob, as the admin.
async fn alice_and_bob(server: &TestServer) {
    let admin = server.admin_token().await;
    server.create_user(&admin, "alice", OLD).await;
    server.create_user(&admin, "bob", "bob-password").await;
}

/// The refresh cookie a cookie-mode login of alice set.
async fn cookie_login(server: &TestServer) -> String {
    let answer = server
        .login_with("alice", OLD, &json!({ "refresh_cookie": true }))
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    let header = answer.header("set-cookie").unwrap();
    header
        .strip_prefix("tessera_refresh=")
        .and_then(|rest| rest.split(';').next())
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn changing_the_own_password_ends_the_other_sessions_and_keeps_this_one() {
    let env = TestEnv::new();
    let server = env.spawn(&[]).await;
    alice_and_bob(&server).await;
    let here = server.grant("alice", OLD).await;
    let laptop = server.grant("alice", OLD).await;
    let browser = cookie_login(&server).await;
    let bob = server.grant("bob", "bob-password").await;
    env.clock.advance(5);

    let answer = change(&server, Some(&here.access), &body(OLD, NEW)).await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    assert_eq!(answer.body, json!({ "sessions_ended": 2 }));
    assert_eq!(answer.header("cache-control"), Some("no-store"));

    // Every other session of alice is over: its access token and its refresh token.
    let refused = server.me(&laptop.access).await;
    assert_token_refused(&refused);
    assert_eq!(refused.error().reason, Some(RefusalReason::SessionEnded));
    assert_refresh_refused(&server.refresh(&laptop.refresh).await);
    assert_refresh_refused(&server.refresh_with_cookie(&browser).await);

    // This one goes on: its access token works and it still refreshes.
    assert_eq!(server.me(&here.access).await.status, StatusCode::OK);
    let sessions = server.get("/api/auth/sessions", Some(&here.access)).await;
    let sessions = sessions.json::<SessionList>().sessions;
    assert_eq!(sessions.len(), 1, "{sessions:?}");
    assert_eq!(sessions[0].id.to_string(), here.session_id);
    let refreshed = Grant::from(&server.refresh(&here.refresh).await);
    assert_eq!(refreshed.session_id, here.session_id);
    assert_eq!(server.me(&refreshed.access).await.status, StatusCode::OK);

    // Another user's sessions are untouched.
    assert_eq!(server.me(&bob.access).await.status, StatusCode::OK);

    // The new password logs in, the old one no longer does.
    assert_eq!(
        server.login("alice", OLD).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(server.login("alice", NEW).await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_wrong_current_password_is_refused_and_throttled_like_a_failed_login() {
    let env = TestEnv::new();
    let server = env
        .spawn(&[
            ("TESSERA_LOGIN_MAX_ACCOUNT_FAILURES", "3"),
            ("TESSERA_LOGIN_FAILURE_WINDOW_SECONDS", "600"),
        ])
        .await;
    alice_and_bob(&server).await;
    let alice = server.grant("alice", OLD).await;
    let other = server.grant("alice", OLD).await;
    for _ in 0..3 {
        let refused = change(&server, Some(&alice.access), &body("a-guess-at-it", NEW)).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{refused:?}");
        let error = refused.error();
        assert_eq!(error.error, ErrorCode::WrongPassword);
        assert_eq!(error.message, "the current password is not correct");
    }
    // A stolen access token guesses no faster than the login form: the fourth try, even
    // with the right password, waits for the window, and so does a login.
    let throttled = change(&server, Some(&alice.access), &body(OLD, NEW)).await;
    assert_eq!(
        throttled.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{throttled:?}"
    );
    assert_eq!(throttled.code(), ErrorCode::TooManyRequests);
    assert_eq!(throttled.header("retry-after"), Some("600"));
    assert_eq!(
        server.login("alice", OLD).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    // Nothing changed: the other session lives, and the old password still holds.
    assert_eq!(server.me(&other.access).await.status, StatusCode::OK);
    env.clock.advance(600);
    assert_eq!(
        server.login("alice", NEW).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(server.login("alice", OLD).await.status, StatusCode::OK);
}

#[tokio::test]
async fn wrong_current_passwords_count_against_the_client_too() {
    let env = TestEnv::new();
    let server = env
        .spawn(&[
            ("TESSERA_LOGIN_MAX_CLIENT_FAILURES", "2"),
            ("TESSERA_LOGIN_FAILURE_WINDOW_SECONDS", "600"),
        ])
        .await;
    alice_and_bob(&server).await;
    let alice = server.grant("alice", OLD).await;
    for _ in 0..2 {
        let refused = change(&server, Some(&alice.access), &body("a-guess-at-it", NEW)).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{refused:?}");
    }
    // The client has used up its failures, whichever account it tries next.
    let login = server.login("bob", "bob-password").await;
    assert_eq!(login.status, StatusCode::TOO_MANY_REQUESTS, "{login:?}");
}

#[tokio::test]
async fn a_new_password_outside_the_policy_is_400_and_changes_nothing() {
    let env = TestEnv::new();
    let server = env
        .spawn(&[("TESSERA_LOGIN_MAX_ACCOUNT_FAILURES", "1")])
        .await;
    alice_and_bob(&server).await;
    let alice = server.grant("alice", OLD).await;
    let other = server.grant("alice", OLD).await;
    for new in ["short", &"x".repeat(1025)] {
        // Even with a wrong current password: the policy is checked first, and such a
        // request is no attempt at the password (the limit here is one failure).
        for current in [OLD, "a-guess-at-it"] {
            let refused = change(&server, Some(&alice.access), &body(current, new)).await;
            // As at user creation: a value outside the policy is a bad request.
            assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{refused:?}");
            let error = refused.error();
            assert_eq!(error.error, ErrorCode::InvalidRequest);
            assert_eq!(
                error.message,
                "`new_password`: password must be 8 to 1024 characters"
            );
        }
    }
    let missing = change(
        &server,
        Some(&alice.access),
        &json!({ "current_password": OLD }),
    )
    .await;
    assert_eq!(
        missing.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{missing:?}"
    );
    let error = missing.error();
    assert_eq!(error.error, ErrorCode::InvalidBody);
    assert!(error.message.contains("new_password"), "{missing:?}");
    assert_eq!(server.me(&other.access).await.status, StatusCode::OK);
    assert_eq!(server.login("alice", OLD).await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_password_change_needs_a_valid_access_token() {
    let env = TestEnv::new();
    let server = env.spawn(&[]).await;
    alice_and_bob(&server).await;
    let missing = change(&server, None, &body(OLD, NEW)).await;
    assert_eq!(missing.status, StatusCode::UNAUTHORIZED, "{missing:?}");
    assert_eq!(missing.code(), ErrorCode::MissingToken);
    assert_eq!(
        missing.header("www-authenticate"),
        Some("Bearer realm=\"tessera\"")
    );
    let forged = change(&server, Some("not.a.token"), &body(OLD, NEW)).await;
    assert_token_refused(&forged);
    // A logged-out session's token cannot change the password either.
    let alice = server.grant("alice", OLD).await;
    let logout = server.post_empty("/api/auth/logout", &alice.access).await;
    assert_eq!(logout.status, StatusCode::NO_CONTENT);
    assert_token_refused(&change(&server, Some(&alice.access), &body(OLD, NEW)).await);
    assert_eq!(server.login("alice", OLD).await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_refresh_racing_the_change_never_keeps_the_other_session_alive() {
    let env = TestEnv::new();
    let server = env.spawn(&[]).await;
    alice_and_bob(&server).await;
    let mut password = OLD;
    for round in 0..10 {
        let here = server.grant("alice", password).await;
        let laptop = server.grant("alice", password).await;
        let next = if password == OLD { NEW } else { OLD };
        // The laptop refreshes at the very moment this session changes the password.
        let request = body(password, next);
        let (changed, refreshed) = tokio::join!(
            change(&server, Some(&here.access), &request),
            server.refresh(&laptop.refresh),
        );
        assert_eq!(changed.status, StatusCode::OK, "round {round}: {changed:?}");
        password = next;
        // Whichever ran first, the laptop's session is over once the change is answered:
        // its old tokens, and the tokens of a refresh that got in before the change.
        assert_token_refused(&server.me(&laptop.access).await);
        if refreshed.status == StatusCode::OK {
            let successor = Grant::from(&refreshed);
            assert_token_refused(&server.me(&successor.access).await);
            assert_refresh_refused(&server.refresh(&successor.refresh).await);
        } else {
            assert_refresh_refused(&refreshed);
        }
        // This session goes on.
        assert_eq!(
            server.me(&here.access).await.status,
            StatusCode::OK,
            "round {round}"
        );
    }
}
