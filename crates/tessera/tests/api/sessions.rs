//! Sessions and refresh tokens through HTTP: rotation, reuse detection, the grace window,
//! logout, the events that end sessions, lifetimes, the cookie flow and the single-session
//! policy. Time moves only when a test moves the clock.

use reqwest::StatusCode;
use serde_json::json;
use tessera_api::{
    ErrorCode, LoginBody, SessionList, SessionsEnded, Timestamp, TokenResponse, UpdateUserBody,
};
use uuid::Uuid;

use crate::helpers::{
    ADMIN_PASSWORD, Answer, Grant, START, TestEnv, TestServer, assert_refresh_refused,
    assert_token_refused,
};

/// Short lifetimes so tests can cross them: access 5 min, idle 10 min, absolute 30 min,
/// grace 10 s.
const SHORT: &[(&str, &str)] = &[
    ("TESSERA_JWT_EXPIRATION_MINUTES", "5"),
    ("TESSERA_REFRESH_IDLE_MINUTES", "10"),
    ("TESSERA_REFRESH_ABSOLUTE_MINUTES", "30"),
    ("TESSERA_REFRESH_REUSE_GRACE_SECONDS", "10"),
];

async fn admin_grant(server: &TestServer) -> Grant {
    server.grant("admin", ADMIN_PASSWORD).await
}

fn assert_ok(answer: &Answer) {
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
}

/// Both tokens of `grant` are refused: its session has ended.
async fn assert_session_ended(server: &TestServer, grant: &Grant) {
    assert_token_refused(&server.me(&grant.access).await);
    assert_refresh_refused(&server.refresh(&grant.refresh).await);
}

/// `DELETE /api/auth/sessions/{session_id}` with `token`.
async fn end_own_session(server: &TestServer, token: &str, session_id: &str) -> Answer {
    server
        .delete(&format!("/api/auth/sessions/{session_id}"), Some(token))
        .await
}

/// The value of the `tessera_refresh` cookie set by `answer`, and the whole header.
fn set_cookie(answer: &Answer) -> (String, String) {
    let header = answer
        .header("set-cookie")
        .unwrap_or_else(|| panic!("no set-cookie in {answer:?}"))
        .to_owned();
    let value = header
        .strip_prefix("tessera_refresh=")
        .and_then(|rest| rest.split(';').next())
        .unwrap()
        .to_owned();
    (value, header)
}

#[tokio::test]
async fn refresh_returns_a_new_pair_and_the_old_refresh_token_stops_working() {
    let env = TestEnv::new();
    let server = env.spawn(SHORT).await;
    let first = admin_grant(&server).await;
    env.clock.advance(60);

    let answer = server.refresh(&first.refresh).await;
    let second = Grant::from(&answer);
    assert_ne!(second.access, first.access);
    assert_ne!(second.refresh, first.refresh);
    assert_eq!(second.session_id, first.session_id, "same session");
    assert_eq!(answer.header("cache-control"), Some("no-store"));
    let tokens: TokenResponse = answer.json();
    assert_eq!(tokens.token_type, "Bearer");
    assert_eq!(tokens.expires_in, 300);
    assert_ok(&server.me(&second.access).await);

    // Past the grace window the rotated token is refused (and, being reuse, ends the
    // session); within it, it was the same successor (see the grace tests).
    env.clock.advance(10);
    assert_refresh_refused(&server.refresh(&first.refresh).await);
}

#[tokio::test]
async fn reuse_after_the_grace_window_revokes_the_whole_session() {
    let env = TestEnv::new();
    let server = env.spawn(SHORT).await;
    let stolen = admin_grant(&server).await;
    // The legitimate client refreshes twice; the thief replays the first token later.
    let second = Grant::from(&server.refresh(&stolen.refresh).await);
    env.clock.advance(30);
    let newest = Grant::from(&server.refresh(&second.refresh).await);
    assert_ok(&server.me(&newest.access).await);

    assert_refresh_refused(&server.refresh(&stolen.refresh).await);
    // Everything issued from the session is refused: the newest refresh and access tokens.
    assert_refresh_refused(&server.refresh(&newest.refresh).await);
    assert_token_refused(&server.me(&newest.access).await);
    assert_token_refused(&server.me(&stolen.access).await);
    // Other sessions of the same user are untouched.
    let other = admin_grant(&server).await;
    assert_ok(&server.me(&other.access).await);

    let raw = reqwest::get(server.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        raw.contains("tessera_refreshes_total{outcome=\"reuse_detected\"} 1"),
        "{raw}"
    );
    assert!(
        raw.contains("tessera_session_ends_total{reason=\"refresh_reuse\"} 1"),
        "{raw}"
    );
}

#[tokio::test]
async fn a_retry_within_the_grace_window_gets_the_same_successor() {
    let env = TestEnv::new();
    let server = env.spawn(SHORT).await;
    let first = admin_grant(&server).await;
    let answer = server.refresh(&first.refresh).await;
    let successor = Grant::from(&answer);

    // The response was lost; the client retries 9 s later with the token it still has.
    env.clock.advance(9);
    let retried = Grant::from(&server.refresh(&first.refresh).await);
    assert_eq!(retried.refresh, successor.refresh);
    assert_eq!(retried.session_id, successor.session_id);
    assert_ok(&server.me(&retried.access).await);
    assert_ok(&server.me(&successor.access).await);
    // And the successor rotates normally.
    let next = Grant::from(&server.refresh(&successor.refresh).await);
    assert_ok(&server.me(&next.access).await);
}

#[tokio::test]
async fn with_zero_grace_a_retry_is_reuse() {
    let env = TestEnv::new();
    let server = env
        .spawn(&[("TESSERA_REFRESH_REUSE_GRACE_SECONDS", "0")])
        .await;
    let first = admin_grant(&server).await;
    let successor = Grant::from(&server.refresh(&first.refresh).await);
    assert_refresh_refused(&server.refresh(&first.refresh).await);
    assert_refresh_refused(&server.refresh(&successor.refresh).await);
}

#[tokio::test]
async fn concurrent_refreshes_of_one_token_share_one_successor() {
    let env = TestEnv::new();
    let server = env.spawn(SHORT).await;
    let first = admin_grant(&server).await;

    let attempts = (0..8).map(|_| server.refresh(&first.refresh));
    let answers = futures_util::future::join_all(attempts).await;
    let grants: Vec<Grant> = answers.iter().map(Grant::from).collect();
    let successor = &grants[0].refresh;
    assert!(
        grants.iter().all(|grant| &grant.refresh == successor),
        "{grants:?}"
    );
    for grant in &grants {
        assert_eq!(grant.session_id, first.session_id);
        assert_ok(&server.me(&grant.access).await);
    }
    // Exactly one session, and its one successor keeps working after the grace window.
    let sessions = server
        .get("/api/auth/sessions", Some(&grants[0].access))
        .await;
    assert_eq!(sessions.json::<SessionList>().sessions.len(), 1);
    env.clock.advance(60);
    assert_ok(&server.refresh(successor).await);
}

#[tokio::test]
async fn logout_refuses_the_tokens_already_issued() {
    let env = TestEnv::new();
    let server = env.spawn(SHORT).await;
    let here = admin_grant(&server).await;
    let elsewhere = admin_grant(&server).await;

    let answer = server.post_empty("/api/auth/logout", &here.access).await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT, "{answer:?}");
    assert!(answer.header("set-cookie").unwrap().contains("Max-Age=0"));
    assert_session_ended(&server, &here).await;
    // Only this session ended.
    assert_ok(&server.me(&elsewhere.access).await);
    assert_ok(&server.refresh(&elsewhere.refresh).await);
}

#[tokio::test]
async fn logout_all_ends_every_session_of_the_user() {
    let env = TestEnv::new();
    let server = env.spawn(SHORT).await;
    let admin = admin_grant(&server).await;
    server
        .create_user(&admin.access, "grace", "grace-password")
        .await;
    let laptop = server.grant("grace", "grace-password").await;
    let phone = server.grant("grace", "grace-password").await;

    let answer = server
        .post_empty("/api/auth/logout-all", &phone.access)
        .await;
    assert_ok(&answer);
    assert_eq!(answer.json::<SessionsEnded>().sessions_ended, 2);
    for grant in [&laptop, &phone] {
        assert_session_ended(&server, grant).await;
    }
    assert_ok(&server.me(&admin.access).await);
}

/// Each change an administrator makes that must end the user's sessions.
#[tokio::test]
async fn password_change_role_change_and_deactivation_end_sessions() {
    let env = TestEnv::new();
    let server = env.spawn(SHORT).await;
    let admin = admin_grant(&server).await;
    let id: Uuid = server
        .create_user(&admin.access, "heidi", "heidi-password")
        .await
        .parse()
        .unwrap();
    let api = server.api();
    let auditor = || UpdateUserBody {
        roles: Some(vec!["auditor".to_owned()]),
        ..UpdateUserBody::default()
    };
    let mut password = "heidi-password";
    for (change, next_password) in [
        (
            UpdateUserBody {
                password: Some("heidi-password-2".to_owned()),
                ..UpdateUserBody::default()
            },
            "heidi-password-2",
        ),
        (auditor(), "heidi-password-2"),
        (
            UpdateUserBody {
                active: Some(false),
                ..UpdateUserBody::default()
            },
            "heidi-password-2",
        ),
    ] {
        let grant = server.grant("heidi", password).await;
        assert_ok(&server.me(&grant.access).await);
        api.update_user(&admin.access, id, &change).await.unwrap();
        // Reactivate so that only the session, not the inactive flag, can refuse the tokens.
        let reactivate = UpdateUserBody {
            active: Some(true),
            ..UpdateUserBody::default()
        };
        let reactivated = api.update_user(&admin.access, id, &reactivate).await;
        assert!(reactivated.unwrap().active);
        assert_session_ended(&server, &grant).await;
        password = next_password;
    }
    // A change that is none of these (the same roles again) ends nothing.
    let grant = server.grant("heidi", password).await;
    let same = api.update_user(&admin.access, id, &auditor()).await;
    assert_eq!(same.unwrap().roles, ["auditor"]);
    assert_ok(&server.me(&grant.access).await);
    // The administrator's own session was never touched.
    assert_ok(&server.me(&admin.access).await);
}

#[tokio::test]
async fn an_idle_session_ends_and_its_tokens_with_it() {
    let env = TestEnv::new();
    let server = env
        .spawn(&[
            ("TESSERA_JWT_EXPIRATION_MINUTES", "30"),
            ("TESSERA_REFRESH_IDLE_MINUTES", "10"),
            ("TESSERA_REFRESH_ABSOLUTE_MINUTES", "60"),
        ])
        .await;
    let grant = admin_grant(&server).await;
    env.clock.advance(599);
    assert_ok(&server.me(&grant.access).await);
    env.clock.advance(1);
    // The access token has 20 minutes left, but its session is idle-expired.
    assert_session_ended(&server, &grant).await;
}

#[tokio::test]
async fn refreshing_keeps_a_session_alive_until_its_absolute_end() {
    let env = TestEnv::new();
    let server = env.spawn(SHORT).await;
    let mut grant = admin_grant(&server).await;
    let login = START;
    // Refresh every 4 minutes: never idle for 10, but the 30-minute limit still holds.
    while env.clock_now() + 240 < login + 1800 {
        env.clock.advance(240);
        let answer = server.refresh(&grant.refresh).await;
        grant = Grant::from(&answer);
        let deadline = (env.clock_now() + 600).min(login + 1800);
        assert_eq!(
            answer.json::<TokenResponse>().refresh_expires_at,
            Timestamp(deadline)
        );
    }
    assert_ok(&server.me(&grant.access).await);
    env.clock.set(login + 1800);
    assert_refresh_refused(&server.refresh(&grant.refresh).await);
    assert_token_refused(&server.me(&grant.access).await);
}

/// Whether the JSON body of `answer` has a `refresh_token` member at all (`null` counts).
fn has_refresh_token_member(answer: &Answer) -> bool {
    answer
        .body
        .as_object()
        .unwrap_or_else(|| panic!("not a JSON object: {answer:?}"))
        .contains_key("refresh_token")
}

/// The admin's login asking for the refresh token in the cookie.
fn cookie_login() -> LoginBody {
    LoginBody {
        username: "admin".to_owned(),
        password: ADMIN_PASSWORD.to_owned(),
        refresh_cookie: true,
    }
}

/// In cookie mode page scripts cannot read the refresh token: the body has no
/// `refresh_token` member, and the HttpOnly cookie carries it.
#[tokio::test]
async fn a_cookie_login_keeps_the_refresh_token_out_of_the_body() {
    let env = TestEnv::new();
    let server = env.spawn(SHORT).await;
    let login = server
        .login_with("admin", ADMIN_PASSWORD, &json!({ "refresh_cookie": true }))
        .await;
    assert_ok(&login);
    assert!(!has_refresh_token_member(&login), "{login:?}");
    let tokens: TokenResponse = login.json();
    assert!(!tokens.access_token.is_empty(), "{login:?}");
    assert_eq!(tokens.refresh_token, None);
    let (cookie, header) = set_cookie(&login);
    assert_eq!(cookie.len(), 43);
    assert_eq!(
        header,
        format!("tessera_refresh={cookie}; Path=/api/auth; Max-Age=600; HttpOnly; SameSite=Strict"),
        "no Secure on loopback HTTP"
    );
    // The cookie holds the live refresh token.
    assert_ok(&server.refresh(&cookie).await);
}

#[tokio::test]
async fn a_cookie_refresh_keeps_the_refresh_token_out_of_the_body() {
    let env = TestEnv::new();
    let server = env.spawn(SHORT).await;
    // The cookie is read whichever way the session started.
    let grant = admin_grant(&server).await;
    let refreshed = server.refresh_with_cookie(&grant.refresh).await;
    assert_ok(&refreshed);
    assert!(!has_refresh_token_member(&refreshed), "{refreshed:?}");
    let (next, header) = set_cookie(&refreshed);
    assert_ne!(next, grant.refresh);
    assert!(header.ends_with("; HttpOnly; SameSite=Strict"), "{header}");
    assert_ok(&server.refresh(&next).await);
}

#[tokio::test]
async fn body_tokens_are_answered_in_the_body_without_a_cookie() {
    let env = TestEnv::new();
    let server = env.spawn(SHORT).await;
    for extra in [json!({}), json!({ "refresh_cookie": false })] {
        let login = server.login_with("admin", ADMIN_PASSWORD, &extra).await;
        assert_ok(&login);
        assert!(login.header("set-cookie").is_none(), "{login:?}");
        let refresh = login.json::<TokenResponse>().refresh_token.unwrap();
        assert_eq!(refresh.len(), 43, "{login:?}");

        let by_body = server.refresh(&refresh).await;
        assert_ok(&by_body);
        assert!(by_body.header("set-cookie").is_none(), "{by_body:?}");
        let next = by_body.json::<TokenResponse>().refresh_token.unwrap();
        assert_ne!(next, refresh);
        assert_ok(&server.refresh(&next).await);
    }
    // A session started with the cookie can go on in the body, and is answered there.
    let login = server
        .login_with("admin", ADMIN_PASSWORD, &json!({ "refresh_cookie": true }))
        .await;
    let (cookie, _) = set_cookie(&login);
    let by_body = server.refresh(&cookie).await;
    assert_ok(&by_body);
    assert!(by_body.header("set-cookie").is_none(), "{by_body:?}");
    let tokens: TokenResponse = by_body.json();
    assert!(tokens.refresh_token.is_some(), "{by_body:?}");
}

#[tokio::test]
async fn the_cookie_flow_sets_rotates_and_clears_an_httponly_cookie() {
    let env = TestEnv::new();
    let server = env.spawn(SHORT).await;
    let login = server
        .login_with("admin", ADMIN_PASSWORD, &json!({ "refresh_cookie": true }))
        .await;
    assert_ok(&login);
    assert!(!has_refresh_token_member(&login), "{login:?}");
    let (cookie, _) = set_cookie(&login);

    let refreshed = server.refresh_with_cookie(&cookie).await;
    assert_ok(&refreshed);
    assert!(!has_refresh_token_member(&refreshed), "{refreshed:?}");
    let (next_cookie, _) = set_cookie(&refreshed);
    assert_ne!(next_cookie, cookie);
    let access = refreshed.json::<TokenResponse>().access_token;
    assert_ok(&server.me(&access).await);

    // A refused cookie is cleared: the first one, spent, past the grace window.
    env.clock.advance(11);
    let refused = server.refresh_with_cookie(&cookie).await;
    assert_refresh_refused(&refused);
    assert!(refused.header("set-cookie").unwrap().contains("Max-Age=0"));

    // A second session goes on by cookie until logout clears it.
    let login = server
        .login_with("admin", ADMIN_PASSWORD, &json!({ "refresh_cookie": true }))
        .await;
    let (cookie, _) = set_cookie(&login);
    let refreshed = server.refresh_with_cookie(&cookie).await;
    assert_ok(&refreshed);
    let (cookie, _) = set_cookie(&refreshed);
    let access = refreshed.json::<TokenResponse>().access_token;
    let logout = server.post_empty("/api/auth/logout", &access).await;
    assert_eq!(logout.status, StatusCode::NO_CONTENT, "{logout:?}");
    assert_eq!(
        logout.header("set-cookie"),
        Some("tessera_refresh=; Path=/api/auth; Max-Age=0; HttpOnly; SameSite=Strict")
    );
    assert_refresh_refused(&server.refresh_with_cookie(&cookie).await);
}

#[tokio::test]
async fn the_cookie_is_secure_when_the_server_is_not_on_loopback() {
    let env = TestEnv::new();
    let server = env.spawn(&[("TESSERA_LISTEN", "0.0.0.0:0")]).await;
    let port = server.base.rsplit(':').next().unwrap().to_owned();
    let answer = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/api/auth/login"))
        .json(&cookie_login())
        .send()
        .await
        .unwrap();
    let header = answer.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        header.ends_with("; HttpOnly; SameSite=Strict; Secure"),
        "{header}"
    );
}

/// Behind a TLS-terminating proxy on loopback, the proxy's `X-Forwarded-Proto: https` makes
/// the cookie `Secure`; nobody else can ask for that, and nobody can take it away.
#[tokio::test]
async fn a_trusted_proxy_reporting_https_makes_the_cookie_secure() {
    let env = TestEnv::new();
    let body = cookie_login();
    let cookie_header = |server: &TestServer, proto: Option<&'static str>| {
        let mut request = server
            .client
            .post(server.url("/api/auth/login"))
            .json(&body);
        if let Some(proto) = proto {
            request = request.header("x-forwarded-proto", proto);
        }
        async move {
            let answer = request.send().await.unwrap();
            answer.headers()["set-cookie"].to_str().unwrap().to_owned()
        }
    };
    let proxied = env.spawn(&[("TESSERA_TRUSTED_PROXIES", "127.0.0.1")]).await;
    assert!(
        cookie_header(&proxied, Some("https"))
            .await
            .ends_with("; Secure")
    );
    assert!(
        cookie_header(&proxied, Some("http, https"))
            .await
            .ends_with("; Secure")
    );
    assert!(
        !cookie_header(&proxied, Some("https, http"))
            .await
            .contains("Secure")
    );
    assert!(!cookie_header(&proxied, None).await.contains("Secure"));
    drop(proxied);

    let direct = env.spawn(&[]).await;
    assert!(
        !cookie_header(&direct, Some("https"))
            .await
            .contains("Secure")
    );
}

#[tokio::test]
async fn the_single_session_policy_ends_the_other_sessions_at_login() {
    let env = TestEnv::new();
    let server = env.spawn(&[("TESSERA_SINGLE_SESSION", "true")]).await;
    let first = admin_grant(&server).await;
    let second = admin_grant(&server).await;
    assert_session_ended(&server, &first).await;
    assert_ok(&server.me(&second.access).await);
    assert_ok(&server.refresh(&second.refresh).await);
    drop(server);

    // Off by default: both sessions live side by side.
    let server = env.spawn(&[]).await;
    let first = admin_grant(&server).await;
    let second = admin_grant(&server).await;
    assert_ok(&server.me(&first.access).await);
    assert_ok(&server.me(&second.access).await);
}

#[tokio::test]
async fn token_responses_carry_the_server_time_and_deadlines() {
    let env = TestEnv::new();
    let server = env.spawn(SHORT).await;
    let login = server.login("admin", ADMIN_PASSWORD).await;
    let tokens: TokenResponse = login.json();
    assert_eq!(tokens.server_time, Timestamp(START));
    assert_eq!(tokens.expires_at, Timestamp(START + 300));
    assert_eq!(tokens.refresh_expires_at, Timestamp(START + 600));
    // On the wire, RFC 3339 text.
    assert_eq!(login.body["server_time"], "2027-01-15T08:00:00Z");
    env.clock.advance(100);
    let refresh_token = tokens.refresh_token.unwrap();
    let refreshed: TokenResponse = server.refresh(&refresh_token).await.json();
    assert_eq!(refreshed.server_time, Timestamp(START + 100));
    assert_eq!(refreshed.expires_at, Timestamp(START + 400));
}

#[tokio::test]
async fn users_list_and_end_their_own_sessions_only() {
    let env = TestEnv::new();
    let server = env.spawn(SHORT).await;
    let admin = admin_grant(&server).await;
    server
        .create_user(&admin.access, "ivan", "ivan-password")
        .await;
    let desktop = server.login_with("ivan", "ivan-password", &json!({})).await;
    let desktop = Grant::from(&desktop);
    let phone = server.grant("ivan", "ivan-password").await;

    let api = server.api();
    let sessions = api.sessions(&phone.access).await.unwrap().sessions;
    assert_eq!(sessions.len(), 2);
    let current: Vec<_> = sessions.iter().filter(|s| s.current).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0].id.to_string(), phone.session_id);
    let other = sessions
        .iter()
        .find(|s| s.id.to_string() == desktop.session_id)
        .unwrap();
    assert_eq!(other.user_agent, "tessera-tests/1.0");
    assert_eq!(other.client_ip, "127.0.0.1");

    // Nobody can end another user's session through their own list.
    let foreign = end_own_session(&server, &phone.access, &admin.session_id).await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND);
    assert_eq!(foreign.code(), ErrorCode::NotFound);
    assert_ok(&server.me(&admin.access).await);

    let desktop_id: Uuid = desktop.session_id.parse().unwrap();
    api.end_session(&phone.access, desktop_id).await.unwrap();
    assert_token_refused(&server.me(&desktop.access).await);
    assert_ok(&server.me(&phone.access).await);
    let again = api
        .end_session(&phone.access, desktop_id)
        .await
        .unwrap_err();
    assert_eq!(again.status(), Some(StatusCode::NOT_FOUND));
    assert_eq!(again.code(), Some(&ErrorCode::NotFound));
}

#[tokio::test]
async fn administrators_list_and_end_anyones_sessions() {
    let env = TestEnv::new();
    let server = env.spawn(SHORT).await;
    let admin = admin_grant(&server).await;
    let id = server
        .create_user(&admin.access, "judy", "judy-password")
        .await;
    let one = server.grant("judy", "judy-password").await;
    let two = server.grant("judy", "judy-password").await;

    let path = format!("/api/users/{id}/sessions");
    let listed = server.get(&path, Some(&admin.access)).await;
    assert_eq!(listed.json::<SessionList>().sessions.len(), 2);
    let forbidden = server.get(&path, Some(&one.access)).await;
    assert_eq!(forbidden.status, StatusCode::FORBIDDEN);
    assert_eq!(forbidden.code(), ErrorCode::Forbidden);

    let ended = server
        .delete(&format!("{path}/{}", one.session_id), Some(&admin.access))
        .await;
    assert_eq!(ended.status, StatusCode::NO_CONTENT);
    assert_token_refused(&server.me(&one.access).await);
    assert_ok(&server.me(&two.access).await);

    let all = server.delete(&path, Some(&admin.access)).await;
    assert_ok(&all);
    assert_eq!(all.json::<SessionsEnded>().sessions_ended, 1);
    assert_session_ended(&server, &two).await;

    let missing = server
        .get(
            &format!("/api/users/{}/sessions", uuid::Uuid::new_v4()),
            Some(&admin.access),
        )
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.code(), ErrorCode::NotFound);
}

#[tokio::test]
async fn bad_refresh_requests_get_clean_4xx() {
    let env = TestEnv::new();
    let server = env.spawn(SHORT).await;
    let grant = admin_grant(&server).await;
    let wrong_length = format!("{}A", grant.refresh);
    let flipped = {
        let mut bytes = grant.refresh.clone().into_bytes();
        bytes[0] = if bytes[0] == b'A' { b'B' } else { b'A' };
        String::from_utf8(bytes).unwrap()
    };
    for token in [
        "",
        "x",
        wrong_length.as_str(),
        flipped.as_str(),
        grant.access.as_str(),
        "ä".repeat(43).as_str(),
    ] {
        let answer = server.refresh(token).await;
        assert_refresh_refused(&answer);
        if token.len() > 8 {
            assert!(
                !answer.body.to_string().contains(token),
                "echoed: {answer:?}"
            );
        }
    }
    // No token at all, a wrong shape, a wrong content type, a huge body.
    let none = server
        .post_raw("/api/auth/refresh", "application/json", Vec::new())
        .await;
    assert_eq!(none.status, StatusCode::BAD_REQUEST, "{none:?}");
    assert_eq!(none.code(), ErrorCode::InvalidRequest);
    // A misspelt member leaves the body without a token: the same 400, naming the member.
    let misspelt = server
        .post_json("/api/auth/refresh", None, &json!({ "refresh": 1 }))
        .await;
    assert_eq!(misspelt.status, StatusCode::BAD_REQUEST);
    assert_eq!(misspelt.body, none.body);
    assert!(none.error().message.contains("refresh_token"));
    let shape = server
        .post_json("/api/auth/refresh", None, &json!({ "refresh_token": 1 }))
        .await;
    assert_eq!(shape.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(shape.code(), ErrorCode::InvalidBody);
    let text = server
        .post_raw("/api/auth/refresh", "text/plain", b"token".to_vec())
        .await;
    assert_eq!(text.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(text.code(), ErrorCode::UnsupportedMediaType);
    let huge = server
        .post_raw("/api/auth/refresh", "application/json", vec![b' '; 1 << 20])
        .await;
    assert_eq!(huge.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(huge.code(), ErrorCode::PayloadTooLarge);
    // None of that touched the session.
    assert_ok(&server.refresh(&grant.refresh).await);
}

#[tokio::test]
async fn the_hot_path_makes_no_store_call_with_sessions() {
    let env = TestEnv::new();
    let server = env.spawn(SHORT).await;
    let grant = admin_grant(&server).await;
    assert_ok(&server.me(&grant.access).await);
    let before = server.state.auth.store_calls();
    for _ in 0..50 {
        assert_ok(&server.me(&grant.access).await);
    }
    assert_eq!(server.state.auth.store_calls(), before);

    // A refresh moves the idle deadline: one read refills the cache, then none again.
    let next = Grant::from(&server.refresh(&grant.refresh).await);
    let after_refresh = server.state.auth.store_calls();
    for _ in 0..20 {
        assert_ok(&server.me(&next.access).await);
    }
    assert_eq!(server.state.auth.store_calls(), after_refresh + 1);
}

#[tokio::test]
async fn sessions_ended_by_another_process_are_seen_after_the_next_poll() {
    let env = TestEnv::new();
    let server = env.spawn(SHORT).await;
    let grant = admin_grant(&server).await;
    assert_ok(&server.me(&grant.access).await);

    let other = tessera_store::connect(&env.database_url()).await.unwrap();
    let id = grant.session_id.parse().unwrap();
    let ended = other
        .end_session(id, tessera_store::EndReason::EndedByAdmin, START)
        .await
        .unwrap();
    assert!(ended);
    server.state.auth.catch_up().await.unwrap();
    assert_token_refused(&server.me(&grant.access).await);
}

#[tokio::test]
async fn ended_and_expired_sessions_are_purged_and_live_ones_kept() {
    let env = TestEnv::new();
    let server = env.spawn(SHORT).await;
    let ended = admin_grant(&server).await;
    server.post_empty("/api/auth/logout", &ended.access).await;
    let expired = admin_grant(&server).await;
    env.clock.advance(600);
    let live = admin_grant(&server).await;

    let purged = server
        .state
        .auth
        .sessions
        .purge(env.clock_now())
        .await
        .unwrap();
    assert_eq!(purged, 2);
    let store = tessera_store::connect(&env.database_url()).await.unwrap();
    for gone in [&ended, &expired] {
        let id = gone.session_id.parse().unwrap();
        assert_eq!(store.session_by_id(id).await.unwrap(), None);
    }
    assert_ok(&server.me(&live.access).await);
    assert_ok(&server.refresh(&live.refresh).await);
}

/// Two instances on one database share sessions: rotation, grace and reuse detection are
/// decided in the store, not in either process.
#[tokio::test]
async fn two_instances_on_one_database_share_rotation_and_reuse_detection() {
    let env = TestEnv::new();
    let secret = ("TESSERA_JWT_SECRET", "SharedSecretSharedSecretShared12");
    let settings = [SHORT, &[secret]].concat();
    let first = env.spawn(&settings).await;
    let second = env.spawn(&settings).await;

    let login = admin_grant(&first).await;
    assert_ok(&second.me(&login.access).await);
    // A refresh on one instance and a racing retry on the other get the same successor.
    let rotated = Grant::from(&second.refresh(&login.refresh).await);
    let retried = Grant::from(&first.refresh(&login.refresh).await);
    assert_eq!(retried.refresh, rotated.refresh);

    // After the grace window, the replay on the first instance ends the session for both.
    env.clock.advance(10);
    assert_refresh_refused(&first.refresh(&login.refresh).await);
    assert_refresh_refused(&second.refresh(&rotated.refresh).await);
    assert_token_refused(&first.me(&rotated.access).await);
    // The other instance sees it at its next poll (called here instead of waiting).
    second.state.auth.catch_up().await.unwrap();
    assert_token_refused(&second.me(&rotated.access).await);
}

/// Dead tokens cost no more than live ones: a token whose user was deleted, or whose session
/// was purged, is refused from the negative cache without a store call.
#[tokio::test]
async fn tokens_of_deleted_users_and_purged_sessions_are_refused_without_a_store_call() {
    let env = TestEnv::new();
    let server = env.spawn(SHORT).await;
    let admin = admin_grant(&server).await;
    let bob_id = server
        .create_user(&admin.access, "bob", "bob-password-1234")
        .await;
    let bob = server.grant("bob", "bob-password-1234").await;
    let purged = admin_grant(&server).await;
    server.post_empty("/api/auth/logout", &purged.access).await;
    assert_eq!(
        server
            .delete(&format!("/api/users/{bob_id}"), Some(&admin.access))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    server
        .state
        .auth
        .sessions
        .purge(env.clock_now())
        .await
        .unwrap();
    // Take in the change counters the delete and the purge moved, as the poller would, so
    // its next tick has nothing left to drop.
    server.poll_external_changes().await;

    for dead in [&bob.access, &purged.access] {
        assert_token_refused(&server.me(dead).await);
    }
    let before = server.state.auth.store_calls();
    for _ in 0..25 {
        for dead in [&bob.access, &purged.access] {
            assert_token_refused(&server.me(dead).await);
        }
    }
    assert_eq!(server.state.auth.store_calls(), before);
    assert_ok(&server.me(&admin.access).await);
}
