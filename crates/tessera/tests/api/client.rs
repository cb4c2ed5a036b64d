//! The typed client of `tessera-api` against the real server: every call answers its typed
//! response, and every refusal the server's status and `ErrorCode`.

use reqwest::StatusCode;
use tessera_api::{
    Client, ClientError, CreateUserBody, ErrorCode, RefusalReason, UpdateUserBody, UserQuery,
};

use crate::helpers::{ADMIN_PASSWORD, TestEnv};

/// The status and code of a refusal, failing the test for anything else.
fn refusal<T: std::fmt::Debug>(result: Result<T, ClientError>) -> (StatusCode, ErrorCode) {
    let error = result.expect_err("a refusal");
    let status = error.status().expect("an answer");
    (status, error.code().cloned().expect("an error body"))
}

#[tokio::test]
async fn a_user_logs_in_refreshes_lists_sessions_and_logs_out() {
    let env = TestEnv::new();
    let server = env.spawn(&[("TESSERA_JWT_EXPIRATION_MINUTES", "5")]).await;
    let api = server.api();

    let login = api.login("Admin", ADMIN_PASSWORD).await.unwrap();
    assert_eq!(login.token_type, "Bearer");
    assert_eq!(login.expires_in, 300);
    assert_eq!(login.user.username, "admin");
    assert_eq!(login.expires_at.0, login.server_time.0 + 300);
    let me = api.me(&login.access_token).await.unwrap();
    assert_eq!(me.user.id, login.user.id);
    assert_eq!(me.token.session_id, login.session_id);
    assert_eq!(me.token.expires_at, login.expires_at);

    let refreshed = api
        .refresh(login.refresh_token.as_deref().unwrap())
        .await
        .unwrap();
    assert_eq!(refreshed.session_id, login.session_id);
    assert_ne!(refreshed.refresh_token, login.refresh_token);

    let other = api.login("admin", ADMIN_PASSWORD).await.unwrap();
    let sessions = api
        .sessions(&refreshed.access_token)
        .await
        .unwrap()
        .sessions;
    assert_eq!(sessions.len(), 2);
    let current = sessions.iter().find(|s| s.current).unwrap();
    assert_eq!(current.id, login.session_id);
    api.end_session(&refreshed.access_token, other.session_id)
        .await
        .unwrap();
    let (status, code) = refusal(api.me(&other.access_token).await);
    assert_eq!(
        (status, code),
        (StatusCode::UNAUTHORIZED, ErrorCode::InvalidToken)
    );

    api.logout(&refreshed.access_token).await.unwrap();
    let refused = api.me(&refreshed.access_token).await.unwrap_err();
    assert_eq!(
        refused.body().and_then(|body| body.reason.clone()),
        Some(RefusalReason::SessionEnded)
    );
    let (status, code) = refusal(
        api.refresh(refreshed.refresh_token.as_deref().unwrap())
            .await,
    );
    assert_eq!(
        (status, code),
        (StatusCode::UNAUTHORIZED, ErrorCode::InvalidRefreshToken)
    );

    // Wrong credentials.
    let (status, code) = refusal(api.login("admin", "wrong-password").await);
    assert_eq!(
        (status, code),
        (StatusCode::UNAUTHORIZED, ErrorCode::InvalidCredentials)
    );
}

#[tokio::test]
async fn a_throttled_login_carries_its_retry_after() {
    let env = TestEnv::new();
    let server = env
        .spawn(&[
            ("TESSERA_LOGIN_MAX_ACCOUNT_FAILURES", "1"),
            ("TESSERA_LOGIN_FAILURE_WINDOW_SECONDS", "600"),
        ])
        .await;
    let api = server.api();
    assert!(api.login("admin", "wrong-password").await.is_err());
    match api.login("admin", ADMIN_PASSWORD).await {
        Err(ClientError::Api {
            status,
            body,
            retry_after,
        }) => {
            assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
            assert_eq!(body.error, ErrorCode::TooManyRequests);
            assert_eq!(retry_after, Some(600));
        }
        other => panic!("not a throttled login: {other:?}"),
    }
}

#[tokio::test]
async fn an_admin_manages_users_and_their_sessions() {
    let env = TestEnv::new();
    let server = env.spawn(&[]).await;
    let api = server.api();
    let admin = api
        .login("admin", ADMIN_PASSWORD)
        .await
        .unwrap()
        .access_token;

    let mut body = CreateUserBody::new("Kim", "kim-password");
    body.roles = vec!["auditor".into()];
    let kim = api.create_user(&admin, &body).await.unwrap();
    assert_eq!((kim.username.as_str(), kim.active), ("kim", true));
    assert_eq!(kim.roles, ["auditor"]);
    assert_eq!(api.user(&admin, kim.id).await.unwrap(), kim);
    let (status, code) = refusal(api.create_user(&admin, &body).await);
    assert_eq!((status, code), (StatusCode::CONFLICT, ErrorCode::Conflict));

    // Paging follows the Link header.
    for name in ["lee", "mo"] {
        let body = CreateUserBody::new(name, "some-password");
        api.create_user(&admin, &body).await.unwrap();
    }
    let first = api
        .list_users(
            &admin,
            &UserQuery {
                limit: Some(2),
                ..UserQuery::default()
            },
        )
        .await
        .unwrap();
    let names: Vec<_> = first.users.iter().map(|u| u.username.as_str()).collect();
    assert_eq!(names, ["admin", "kim"]);
    let next = first.next.expect("a next page");
    assert_eq!(next.after.as_deref(), Some("kim"));
    let second = api.list_users(&admin, &next).await.unwrap();
    let names: Vec<_> = second.users.iter().map(|u| u.username.as_str()).collect();
    assert_eq!(names, ["lee", "mo"]);
    let found = api
        .list_users(
            &admin,
            &UserQuery {
                q: Some("K".into()),
                ..UserQuery::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(found.users.len(), 1);
    assert_eq!(found.users[0], kim);
    assert_eq!(found.next, None);

    // Kim's sessions, seen and ended by the admin.
    let one = api.login("kim", "kim-password").await.unwrap();
    let two = api.login("kim", "kim-password").await.unwrap();
    let listed = api.user_sessions(&admin, kim.id).await.unwrap().sessions;
    assert_eq!(listed.len(), 2);
    assert!(listed.iter().all(|s| !s.current));
    api.end_user_session(&admin, kim.id, one.session_id)
        .await
        .unwrap();
    assert!(api.me(&one.access_token).await.is_err());
    let ended = api.end_user_sessions(&admin, kim.id).await.unwrap();
    assert_eq!(ended.sessions_ended, 1);
    assert!(api.me(&two.access_token).await.is_err());

    // Kim is no admin.
    let kim_token = api.login("kim", "kim-password").await.unwrap().access_token;
    let (status, code) = refusal(api.user(&kim_token, kim.id).await);
    assert_eq!(
        (status, code),
        (StatusCode::FORBIDDEN, ErrorCode::Forbidden)
    );
    let ended = api.logout_all(&kim_token).await.unwrap();
    assert_eq!(ended.sessions_ended, 1);

    // Changes, a password change by the user, and deletion.
    let change = UpdateUserBody {
        roles: Some(vec![]),
        ..UpdateUserBody::default()
    };
    let changed = api.update_user(&admin, kim.id, &change).await.unwrap();
    assert!(changed.roles.is_empty() && changed.active);
    let kim_token = api.login("kim", "kim-password").await.unwrap().access_token;
    let (status, code) = refusal(
        api.change_password(&kim_token, "not-the-password", "new-kim-password")
            .await,
    );
    assert_eq!(
        (status, code),
        (StatusCode::FORBIDDEN, ErrorCode::WrongPassword)
    );
    let ended = api
        .change_password(&kim_token, "kim-password", "new-kim-password")
        .await
        .unwrap();
    assert_eq!(ended.sessions_ended, 0);
    api.login("kim", "new-kim-password").await.unwrap();
    api.delete_user(&admin, kim.id).await.unwrap();
    let (status, code) = refusal(api.user(&admin, kim.id).await);
    assert_eq!((status, code), (StatusCode::NOT_FOUND, ErrorCode::NotFound));
    let (status, code) = refusal(api.delete_user(&admin, kim.id).await);
    assert_eq!((status, code), (StatusCode::NOT_FOUND, ErrorCode::NotFound));
}

#[tokio::test]
async fn no_server_is_a_transport_error_and_no_error_shows_a_secret() {
    // A port nothing listens on: bind one, then free it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let api = Client::new(format!("http://127.0.0.1:{port}/")).unwrap();
    let error = api.login("admin", "hunter2-password").await.unwrap_err();
    assert!(matches!(error, ClientError::Transport(_)), "{error:?}");
    assert_eq!(error.status(), None);
    assert_eq!(error.code(), None);
    for shown in [format!("{error}"), format!("{error:?}")] {
        assert!(!shown.contains("hunter2"), "{shown}");
    }
}
