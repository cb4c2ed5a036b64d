//! For resource servers: API clients authenticate with HTTP Basic to token introspection
//! (RFC 7662) and revocation (RFC 7009). Introspection reflects a deactivation and a logout on
//! its next call; revocation ends the session of an access or a refresh token.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tessera_api::{ErrorCode, RefusalReason};

use crate::helpers::{
    ADMIN_PASSWORD, Answer, Binary, Grant, TestEnv, TestServer, assert_refresh_refused,
};

struct Credentials {
    id: String,
    secret: String,
}

async fn client(server: &TestServer, env: &TestEnv, name: &str) -> Credentials {
    let made = server
        .state
        .auth
        .clients
        .add(name, env.clock_now())
        .await
        .unwrap();
    Credentials {
        id: made.id,
        secret: made.secret,
    }
}

fn basic(id: &str, secret: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")))
}

async fn form(
    server: &TestServer,
    path: &str,
    authorization: Option<&str>,
    content_type: &str,
    body: String,
) -> Answer {
    let mut request = server
        .client
        .post(server.url(path))
        .header("content-type", content_type)
        .body(body);
    if let Some(authorization) = authorization {
        request = request.header("authorization", authorization);
    }
    Answer::from(request.send().await.unwrap()).await
}

async fn introspect(server: &TestServer, credentials: &Credentials, token: &str) -> Value {
    let body = form_urlencoded::Serializer::new(String::new())
        .append_pair("token", token)
        .append_pair("token_type_hint", "access_token")
        .finish();
    let answer = form(
        server,
        "/api/oauth/introspect",
        Some(&basic(&credentials.id, &credentials.secret)),
        "application/x-www-form-urlencoded",
        body,
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    assert_eq!(answer.header("cache-control"), Some("no-store"));
    answer.body
}

async fn revoke(server: &TestServer, credentials: &Credentials, token: &str) -> Answer {
    let body = form_urlencoded::Serializer::new(String::new())
        .append_pair("token", token)
        .finish();
    form(
        server,
        "/api/oauth/revoke",
        Some(&basic(&credentials.id, &credentials.secret)),
        "application/x-www-form-urlencoded",
        body,
    )
    .await
}

#[tokio::test]
async fn introspection_reflects_a_deactivation_and_a_logout_on_its_next_call() {
    let env = TestEnv::new();
    let server = env.spawn(&[]).await;
    let rs = client(&server, &env, "orders-service").await;
    let admin = server.admin_token().await;
    let bob_id = server.create_user(&admin, "bob", "bob-password-1").await;
    let bob = server.grant("bob", "bob-password-1").await;

    let active = introspect(&server, &rs, &bob.access).await;
    assert_eq!(active["active"], true, "{active}");
    assert_eq!(active["sub"], bob_id.to_string());
    assert_eq!(active["username"], "bob");
    assert_eq!(active["sid"], bob.session_id.to_string());
    assert_eq!(active["token_type"], "Bearer");
    assert_eq!(active["iss"], "tessera");

    let answer = server
        .patch_json(
            &format!("/api/users/{bob_id}"),
            Some(&admin),
            &json!({"active": false}),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    assert_eq!(
        introspect(&server, &rs, &bob.access).await,
        json!({"active": false})
    );

    // A logout, by the user elsewhere.
    let admin_grant = server.grant("admin", ADMIN_PASSWORD).await;
    assert_eq!(
        introspect(&server, &rs, &admin_grant.access).await["active"],
        true
    );
    let answer = server
        .post_empty("/api/auth/logout", &admin_grant.access)
        .await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT);
    assert_eq!(
        introspect(&server, &rs, &admin_grant.access).await,
        json!({"active": false})
    );

    // Expired, foreign, refresh tokens and garbage are all just inactive.
    let fresh = server.grant("admin", ADMIN_PASSWORD).await;
    let foreign = crate::helpers::codec("AnotherServersSecretOf32Chars!!!", "tessera", 0)
        .issue(
            tessera_token::Subject {
                id: &bob_id.to_string(),
                session_id: &bob.session_id.to_string(),
                name: "bob",
                roles: &[],
            },
            env.clock_now(),
            600,
        )
        .unwrap()
        .token;
    for token in [
        foreign.as_str(),
        fresh.refresh.as_str(),
        "not-a-token",
        "a.b.c",
    ] {
        assert_eq!(
            introspect(&server, &rs, token).await,
            json!({"active": false}),
            "{token}"
        );
    }
    env.clock.advance(7200 * 60 + 31);
    assert_eq!(
        introspect(&server, &rs, &fresh.access).await,
        json!({"active": false})
    );
}

#[tokio::test]
async fn only_a_known_client_with_its_secret_may_introspect_and_every_refusal_looks_the_same() {
    let env = TestEnv::new();
    let server = env.spawn(&[]).await;
    let rs = client(&server, &env, "billing").await;
    let other = client(&server, &env, "search").await;
    let token = server.admin_token().await;
    let body = format!("token={token}");
    let form_type = "application/x-www-form-urlencoded";
    let mut refusals = Vec::new();
    for authorization in [
        None,
        Some(basic(&rs.id, "wrong-secret")),
        Some(basic(&rs.id, &other.secret)),
        Some(basic("no-such-client", &rs.secret)),
        Some(basic(&rs.id, "")),
        Some("Basic !!!not-base64".to_owned()),
        Some(format!("Bearer {token}")),
        Some(format!("Basic {}", STANDARD.encode(rs.id.as_bytes()))),
    ] {
        let answer = form(
            &server,
            "/api/oauth/introspect",
            authorization.as_deref(),
            form_type,
            body.clone(),
        )
        .await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{answer:?}");
        assert_eq!(answer.code(), ErrorCode::InvalidClient);
        assert_eq!(
            answer.header("www-authenticate"),
            Some("Basic realm=\"tessera\"")
        );
        assert!(!answer.body.to_string().contains(&rs.secret));
        refusals.push(answer.body);
    }
    assert!(refusals.windows(2).all(|pair| pair[0] == pair[1]));

    // A removed client is refused from its next request.
    assert!(introspect(&server, &rs, &token).await["active"] == true);
    assert!(server.state.auth.clients.remove("billing").await.unwrap());
    let answer = form(
        &server,
        "/api/oauth/introspect",
        Some(&basic(&rs.id, &rs.secret)),
        form_type,
        body,
    )
    .await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn malformed_requests_get_a_precise_400() {
    let env = TestEnv::new();
    let server = env.spawn(&[]).await;
    let rs = client(&server, &env, "rs").await;
    let auth = basic(&rs.id, &rs.secret);
    for path in ["/api/oauth/introspect", "/api/oauth/revoke"] {
        for (content_type, body, expected) in [
            (
                "application/json",
                r#"{"token":"x"}"#.to_owned(),
                "x-www-form-urlencoded",
            ),
            (
                "application/x-www-form-urlencoded",
                String::new(),
                "`token`",
            ),
            (
                "application/x-www-form-urlencoded",
                "token=".to_owned(),
                "`token`",
            ),
            (
                "application/x-www-form-urlencoded",
                "token=a&token=b".to_owned(),
                "more than once",
            ),
            (
                "application/x-www-form-urlencoded",
                "%FF%FE=%00&token_type_hint=x".to_owned(),
                "`token`",
            ),
        ] {
            let answer = form(&server, path, Some(&auth), content_type, body).await;
            assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{path}: {answer:?}");
            assert_eq!(answer.code(), ErrorCode::InvalidRequest);
            assert!(
                answer.error().message.contains(expected),
                "{path}: {answer:?}"
            );
        }
        let huge = format!("token={}", "a".repeat(2 * 1024 * 1024));
        let answer = form(
            &server,
            path,
            Some(&auth),
            "application/x-www-form-urlencoded",
            huge,
        )
        .await;
        assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE, "{path}");
    }
}

#[tokio::test]
async fn revocation_ends_the_session_of_an_access_or_a_refresh_token() {
    let env = TestEnv::new();
    let server = env.spawn(&[]).await;
    let rs = client(&server, &env, "rs").await;

    // An access token: its session ends, so its refresh token is refused too.
    let first = server.grant("admin", ADMIN_PASSWORD).await;
    let answer = revoke(&server, &rs, &first.access).await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    let me = server.me(&first.access).await;
    assert_eq!(me.error().reason, Some(RefusalReason::SessionEnded));
    assert_refresh_refused(&server.refresh(&first.refresh).await);

    // A refresh token, current or already rotated: the access tokens of its session die.
    for rotated in [false, true] {
        let grant = server.grant("admin", ADMIN_PASSWORD).await;
        let next = Grant::from(&server.refresh(&grant.refresh).await);
        let presented = if rotated {
            &grant.refresh
        } else {
            &next.refresh
        };
        assert_eq!(revoke(&server, &rs, presented).await.status, StatusCode::OK);
        let me = server.me(&next.access).await;
        assert_eq!(
            me.error().reason,
            Some(RefusalReason::SessionEnded),
            "rotated: {rotated}"
        );
    }

    // Anything else: 200, nothing ends (RFC 7009 §2.2).
    let survivor = server.grant("admin", ADMIN_PASSWORD).await;
    for token in ["garbage", "a.b.c", &"A".repeat(43)] {
        assert_eq!(revoke(&server, &rs, token).await.status, StatusCode::OK);
    }
    assert_eq!(server.me(&survivor.access).await.status, StatusCode::OK);

    // Without client credentials nothing happens.
    let answer = form(
        &server,
        "/api/oauth/revoke",
        None,
        "application/x-www-form-urlencoded",
        format!("token={}", survivor.access),
    )
    .await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(server.me(&survivor.access).await.status, StatusCode::OK);
}

#[tokio::test]
async fn operators_add_list_and_remove_clients_from_the_command_line() {
    let env = TestEnv::new();
    let cli = |args: &[&str]| {
        let mut binary = Binary::new(env.path())
            .arg(format!("--TESSERA_DATABASE_URL={}", env.database_url()))
            .arg("--TESSERA_JWT_SECRET=OperatorSecretOperatorSecret1234")
            .env("TESSERA_ADMIN_PASSWORD", ADMIN_PASSWORD);
        for arg in args {
            binary = binary.arg(*arg);
        }
        binary
    };
    assert_eq!(cli(&["migrate"]).output().0, 0);
    let (code, stdout, stderr) = cli(&["client", "add", "orders"]).output();
    assert_eq!(code, 0, "{stderr}");
    let field = |name: &str| {
        stdout
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .unwrap_or_else(|| panic!("{stdout}"))
            .trim()
            .to_owned()
    };
    let (id, secret) = (field("client_id:"), field("client_secret:"));
    assert_eq!((id.len(), secret.len()), (22, 43));

    let (code, _, stderr) = cli(&["client", "add", "orders"]).output();
    assert_eq!(code, 1);
    assert!(stderr.contains("exists already"), "{stderr}");
    let (code, _, stderr) = cli(&["client", "add", "bad name!"]).output();
    assert_eq!(code, 1);
    assert!(stderr.contains("letters, digits"), "{stderr}");

    let (code, stdout, _) = cli(&["client", "list"]).output();
    assert_eq!(code, 0);
    assert!(
        stdout.contains(&id) && stdout.contains("orders"),
        "{stdout}"
    );
    assert!(!stdout.contains(&secret), "the secret is shown once only");

    let server = cli(&["serve"]).env("TESSERA_LISTEN", "127.0.0.1:0").serve();
    let login = server.login("admin", ADMIN_PASSWORD).await;
    let token = login.body["access_token"].as_str().unwrap().to_owned();
    let introspect = || async {
        reqwest::Client::new()
            .post(format!("{}/api/oauth/introspect", server.base))
            .basic_auth(&id, Some(&secret))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("token={token}"))
            .send()
            .await
            .unwrap()
    };
    let answer = introspect().await;
    assert_eq!(answer.status(), StatusCode::OK);
    assert_eq!(answer.json::<Value>().await.unwrap()["active"], true);

    let (code, stdout, _) = cli(&["client", "remove", "orders"]).output();
    assert_eq!(code, 0, "{stdout}");
    assert_eq!(introspect().await.status(), StatusCode::UNAUTHORIZED);
    let (code, _, stderr) = cli(&["client", "remove", "orders"]).output();
    assert_eq!(code, 1);
    assert!(stderr.contains("no API client"), "{stderr}");
}

async fn feed(server: &TestServer, credentials: Option<&Credentials>, query: &str) -> Answer {
    let mut request = server
        .client
        .get(server.url(&format!("/api/revocations{query}")));
    if let Some(credentials) = credentials {
        request = request.header("authorization", basic(&credentials.id, &credentials.secret));
    }
    Answer::from(request.send().await.unwrap()).await
}

#[tokio::test]
async fn the_revocation_feed_names_deactivations_ended_sessions_and_revoked_keys() {
    let env = TestEnv::new();
    let server = env
        .spawn(&[
            ("TESSERA_JWT_ALGORITHM", "EdDSA"),
            (
                "TESSERA_KEY_ENCRYPTION_SECRET",
                "a-key-encryption-secret-of-forty-characters",
            ),
        ])
        .await;
    let rs = client(&server, &env, "rs").await;

    assert_eq!(
        feed(&server, None, "").await.code(),
        ErrorCode::InvalidClient
    );
    for query in ["?after=abc", "?after=-1", "?after=1&wait=26", "?wait=x"] {
        let answer = feed(&server, Some(&rs), query).await;
        assert_eq!(
            answer.status,
            StatusCode::BAD_REQUEST,
            "{query}: {answer:?}"
        );
    }

    let start = feed(&server, Some(&rs), "").await;
    assert_eq!(start.status, StatusCode::OK, "{start:?}");
    assert_eq!(start.body["events"], json!([]));
    let cursor = start.body["cursor"].as_i64().unwrap();

    let admin = server.admin_token().await;
    let bob_id = server.create_user(&admin, "bob", "bob-password-1").await;
    let bob = server.grant("bob", "bob-password-1").await;
    let alice = server.grant("admin", ADMIN_PASSWORD).await;
    // Creating a user and logging in revoke nothing.
    let quiet = feed(&server, Some(&rs), &format!("?after={cursor}")).await;
    assert_eq!(quiet.body["events"], json!([]), "{quiet:?}");
    let cursor = quiet.body["cursor"].as_i64().unwrap();

    server
        .patch_json(
            &format!("/api/users/{bob_id}"),
            Some(&admin),
            &json!({"active": false}),
        )
        .await;
    server.post_empty("/api/auth/logout", &alice.access).await;
    let revoked_kid = {
        let keys = server.state.auth.keys.stored().await.unwrap();
        let next = keys
            .iter()
            .find(|key| key.state == tessera_store::KeyState::Next)
            .unwrap();
        next.kid.clone()
    };
    server
        .state
        .auth
        .keys
        .revoke(&revoked_kid, env.clock_now())
        .await
        .unwrap();
    server.poll_external_changes().await;

    let answer = feed(&server, Some(&rs), &format!("?after={cursor}")).await;
    assert_eq!(answer.status, StatusCode::OK);
    let events = answer.body["events"].as_array().unwrap();
    let has = |wanted: Value| {
        events.iter().any(|event| {
            wanted
                .as_object()
                .unwrap()
                .iter()
                .all(|(key, value)| &event[key] == value)
        })
    };
    assert!(
        has(json!({"type": "user", "user_id": bob_id.to_string(), "at": env.clock_now()})),
        "{events:?}"
    );
    assert!(
        has(json!({"type": "session", "session_id": bob.session_id.to_string()})),
        "{events:?}"
    );
    assert!(
        has(json!({"type": "session", "session_id": alice.session_id.to_string()})),
        "{events:?}"
    );
    assert!(
        has(json!({"type": "key", "kid": revoked_kid})),
        "{events:?}"
    );
    assert_eq!(answer.body["reset"], false);
    let end = answer.body["cursor"].as_i64().unwrap();
    assert!(end > cursor);

    // Nothing new: an immediate answer without `wait`, the same cursor.
    let idle = feed(&server, Some(&rs), &format!("?after={end}")).await;
    assert_eq!(idle.body["events"], json!([]));
    assert_eq!(idle.body["cursor"], end);

    // A cursor behind pruned changes: reset, with the instant before which tokens die.
    server
        .state
        .auth
        .users
        .prune_feed(i64::MAX / 2, i64::MAX / 2)
        .await
        .unwrap();
    let behind = feed(&server, Some(&rs), "?after=0").await;
    assert_eq!(behind.body["reset"], true, "{behind:?}");
    assert_eq!(behind.body["reset_at"], env.clock_now());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_poll_answers_at_the_next_change() {
    let env = TestEnv::new();
    let server = env.spawn(&[]).await;
    let rs = client(&server, &env, "rs").await;
    let cursor = feed(&server, Some(&rs), "").await.body["cursor"]
        .as_i64()
        .unwrap();
    let admin = server.grant("admin", ADMIN_PASSWORD).await;
    let started = std::time::Instant::now();
    let query = format!("?after={cursor}&wait=20");
    let (answer, _) = tokio::join!(
        feed(&server, Some(&rs), &query),
        server.post_empty("/api/auth/logout", &admin.access)
    );
    assert_eq!(answer.body["events"][0]["type"], "session", "{answer:?}");
    // Answered at the change, long before the 20 s the poll allowed.
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
}
