//! Renaming users and unlocking throttled accounts: over HTTP, and through the operator
//! commands `user rename` / `user unlock` of the real binary, next to a running server.

use reqwest::StatusCode;
use serde_json::json;
use tessera_api::{ErrorCode, MeResponse, User};

use crate::helpers::{ADMIN_PASSWORD, Binary, Grant, TestEnv, TestServer};

/// Who `token` belongs to, failing the test unless `/api/auth/me` answers.
async fn me(server: &TestServer, token: &str) -> MeResponse {
    let answer = server.me(token).await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    answer.json()
}

/// The real binary on the env's database, as an operator runs it.
fn operator(env: &TestEnv, args: &[&str]) -> Binary {
    let mut binary = Binary::new(env.path())
        .arg(format!("--TESSERA_DATABASE_URL={}", env.database_url()))
        .arg("--TESSERA_JWT_SECRET=OperatorSecretOperatorSecret1234");
    for arg in args {
        binary = binary.arg(*arg);
    }
    binary
}

#[tokio::test]
async fn admins_rename_users_whose_sessions_and_tokens_stay_valid() {
    let env = TestEnv::new();
    let server = env.spawn(&[]).await;
    let admin = server.admin_token().await;
    let id = server.create_user(&admin, "erin", "erin-password").await;
    let erin = server.grant("erin", "erin-password").await;
    assert_eq!(me(&server, &erin.access).await.user.username, "erin");

    let path = format!("/api/users/{id}");
    let renamed = server
        .patch_json(&path, Some(&admin), &json!({ "username": "Erin.Smith" }))
        .await;
    assert_eq!(renamed.status, StatusCode::OK, "{renamed:?}");
    let renamed: User = renamed.json();
    assert_eq!(renamed.id.to_string(), id);
    assert_eq!(renamed.username, "erin.smith");

    // Her token still works, and the very next answer shows the new name.
    let now = me(&server, &erin.access).await;
    assert_eq!(now.user.username, "erin.smith");
    assert_eq!(now.user.id, renamed.id);
    // Her session too: the refresh token still rotates.
    let refreshed = Grant::from(&server.refresh(&erin.refresh).await);
    assert_eq!(refreshed.session_id, erin.session_id);
    // She logs in with the new name only.
    assert_eq!(
        server.login("erin", "erin-password").await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        server.login("ERIN.SMITH", "erin-password").await.status,
        StatusCode::OK
    );

    // A name another user holds (in any case) is a conflict, and nothing changes.
    server.create_user(&admin, "frank", "frank-password").await;
    let taken = server
        .patch_json(
            &path,
            Some(&admin),
            &json!({ "username": "Frank", "active": false }),
        )
        .await;
    assert_eq!(taken.status, StatusCode::CONFLICT, "{taken:?}");
    let taken = taken.error();
    assert_eq!(taken.error, ErrorCode::Conflict);
    assert_eq!(taken.message, "username is already taken");
    let one = server.api().user(&admin, renamed.id).await.unwrap();
    assert_eq!(one.username, "erin.smith");
    assert!(one.active);
    assert_eq!(server.me(&erin.access).await.status, StatusCode::OK);

    // A malformed name is refused with what is allowed, before anything is written.
    for bad in ["has space", "", "ålice"] {
        let answer = server
            .patch_json(&path, Some(&admin), &json!({ "username": bad }))
            .await;
        assert_eq!(
            answer.status,
            StatusCode::BAD_REQUEST,
            "{bad:?}: {answer:?}"
        );
        let error = answer.error();
        assert_eq!(error.error, ErrorCode::InvalidRequest);
        assert!(
            error
                .message
                .starts_with("username must be 1 to 64 characters"),
            "{answer:?}"
        );
    }
    assert_eq!(
        server
            .get(&path, Some(&admin))
            .await
            .json::<User>()
            .username,
        "erin.smith"
    );
}

#[tokio::test]
async fn operators_rename_users_and_a_running_server_shows_the_new_name() {
    let env = TestEnv::new();
    let server = env.spawn(&[]).await;
    let admin = server.admin_token().await;
    let id = server.create_user(&admin, "gina", "gina-password").await;
    server.create_user(&admin, "hal", "hal-password").await;
    let gina = server.token("gina", "gina-password").await;
    assert_eq!(me(&server, &gina).await.user.username, "gina");
    let cli = |args: &[&str]| operator(&env, args).output();

    let (code, stdout, stderr) = cli(&["user", "rename", "Gina", "Regina"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_eq!(
        stdout.trim(),
        format!("renamed 'gina' to 'regina' ({id}); its sessions and tokens stay valid")
    );
    // The server takes in changes made elsewhere at its next poll (once a second).
    server.poll_external_changes().await;
    let now = me(&server, &gina).await;
    assert_eq!(now.user.username, "regina");
    assert_eq!(now.user.id.to_string(), id);
    assert_eq!(
        server.login("regina", "gina-password").await.status,
        StatusCode::OK
    );

    // Refusals exit 1 and say precisely why; nothing changes.
    for (args, message) in [
        (
            ["user", "rename", "regina", "HAL"],
            "error: cannot rename 'regina' to 'hal': username is already taken",
        ),
        (
            ["user", "rename", "regina", "not valid"],
            "error: invalid new username 'not valid': username must be 1 to 64 characters \
             from a-z, 0-9, '.', '_', '-', '@'",
        ),
        (
            ["user", "rename", "nobody", "somebody"],
            "error: user 'nobody': no such user",
        ),
    ] {
        let (code, stdout, stderr) = cli(&args);
        assert_eq!(code, 1, "{args:?}: {stdout}");
        assert_eq!(stderr.trim().lines().last(), Some(message), "{args:?}");
    }
    let (code, stdout, _) = cli(&["user", "rename", "regina", "REGINA"]);
    assert_eq!(code, 0);
    assert_eq!(
        stdout.trim(),
        "'regina' already has that username; nothing changed"
    );
    server.poll_external_changes().await;
    assert_eq!(me(&server, &gina).await.user.username, "regina");
}

/// An account locked by failed logins on a running server (a real `tessera serve` process)
/// is unlocked by `tessera user unlock`, run as another process on the same database: the
/// very next login goes through. `--client` clears a client address the same way.
#[tokio::test]
async fn an_operator_unlocks_an_account_and_a_client_that_failed_logins_locked() {
    let env = TestEnv::new();
    let server = operator(&env, &["serve"])
        .env("TESSERA_LISTEN", "127.0.0.1:0")
        .env("TESSERA_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("TESSERA_LOGIN_MAX_ACCOUNT_FAILURES", "2")
        .env("TESSERA_LOGIN_MAX_CLIENT_FAILURES", "3")
        .serve();
    let cli = |args: &[&str]| operator(&env, args).output();

    for _ in 0..2 {
        let answer = server.login("admin", "wrong-password").await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{answer:?}");
    }
    let locked = server.login("admin", ADMIN_PASSWORD).await;
    assert_eq!(locked.status, StatusCode::TOO_MANY_REQUESTS, "{locked:?}");
    assert_eq!(locked.code(), ErrorCode::TooManyRequests);

    let (code, stdout, stderr) = cli(&["user", "unlock", "Admin"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_eq!(stdout.trim(), "cleared 2 recent failed login(s) of 'admin'");
    let login = server.login("admin", ADMIN_PASSWORD).await;
    assert_eq!(login.status, StatusCode::OK, "{login:?}");

    // The client has two failures of its three; a third (any username) locks it out.
    let answer = server.login("ghost", "wrong-password").await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    let locked = server.login("admin", ADMIN_PASSWORD).await;
    assert_eq!(locked.status, StatusCode::TOO_MANY_REQUESTS, "{locked:?}");
    // Unlocking the account does not unlock the client...
    let (code, stdout, _) = cli(&["user", "unlock", "admin"]);
    assert_eq!(code, 0);
    assert_eq!(stdout.trim(), "cleared 0 recent failed login(s) of 'admin'");
    assert_eq!(
        server.login("admin", ADMIN_PASSWORD).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    // ...clearing the client's address does.
    let (code, stdout, stderr) = cli(&["user", "unlock", "--client", "127.0.0.1"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_eq!(
        stdout.trim(),
        "cleared 3 recent failed login(s) from 127.0.0.1"
    );
    let login = server.login("admin", ADMIN_PASSWORD).await;
    assert_eq!(login.status, StatusCode::OK, "{login:?}");

    // A missing user, a bad address or no argument at all are clear failures.
    let (code, _, stderr) = cli(&["user", "unlock", "nobody"]);
    assert_eq!(code, 1);
    assert_eq!(
        stderr.trim().lines().last(),
        Some("error: user 'nobody': no such user")
    );
    let (code, _, stderr) = cli(&["user", "unlock", "--client", "not-an-address"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("invalid value 'not-an-address' for '--client <IP>'"),
        "{stderr}"
    );
    let (code, _, stderr) = cli(&["user", "unlock"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("<USERNAME>"), "{stderr}");
}
