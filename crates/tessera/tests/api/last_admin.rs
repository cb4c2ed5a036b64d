//! "At least one active admin remains", under races over HTTP and through the operator
//! commands `user grant` / `user revoke` of the real binary.

use reqwest::StatusCode;
use serde_json::json;
use tessera_api::{MeResponse, TokenResponse, User, UserList};

use crate::helpers::{Binary, TestEnv, TestServer};

/// How many times two admins race to remove each other.
const ROUNDS: usize = 30;

/// What one admin does to the other in a round.
#[derive(Clone, Copy, Debug)]
enum Removal {
    /// `PATCH` with the given body.
    Patch(&'static str),
    /// `DELETE`.
    Delete,
}

impl Removal {
    /// The request this removal sends to `target`'s URL, as HTTP/1.1 text.
    fn request(self, token: &str, target: &str) -> String {
        let (method, body) = match self {
            Self::Patch(body) => ("PATCH", body),
            Self::Delete => ("DELETE", ""),
        };
        request(method, &format!("/api/users/{target}"), token, body)
    }

    /// Whether the change hashes a new password before it writes.
    fn hashes(self) -> bool {
        matches!(self, Self::Patch(body) if body.contains("password"))
    }
}

/// An HTTP/1.1 request with a bearer token and a JSON body (empty for none).
fn request(method: &str, path: &str, token: &str, body: &str) -> String {
    format!(
        "{method} {path} HTTP/1.1\r\nhost: tessera\r\nauthorization: Bearer {token}\r\n\
         content-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// A kept-alive HTTP/1.1 connection spoken by hand, so a test decides exactly when a
/// request reaches the server.
///
/// The server runs on the test's single-threaded runtime, and writing never waits (a small
/// request always fits the socket buffer): two requests written one after the other on two
/// connections the server already serves have both arrived before the server reads either.
/// When a change carries a new password, hashing it (on the hashing threads) gives the other
/// request time to pass authentication, so both changes reach the store's guard. Without a
/// password, the first change may be written before the second request is even
/// authenticated; that request then finds its sender already demoted, deactivated or
/// deleted, with sessions ended, and is refused as `401`, which is right too.
struct Connection {
    /// Reads wait on the runtime.
    stream: tokio::net::TcpStream,
    /// Writes go straight to the socket (a second handle on it).
    writer: std::net::TcpStream,
    received: Vec<u8>,
}

impl Connection {
    fn open(server: &TestServer) -> Self {
        let stream =
            std::net::TcpStream::connect(server.base.trim_start_matches("http://")).unwrap();
        stream.set_nonblocking(true).unwrap();
        Self {
            writer: stream.try_clone().unwrap(),
            stream: tokio::net::TcpStream::from_std(stream).unwrap(),
            received: Vec::new(),
        }
    }

    /// Writes the whole request at once, without yielding to the server.
    fn write_now(&mut self, request: &str) {
        std::io::Write::write_all(&mut self.writer, request.as_bytes()).unwrap();
    }

    /// Reads one answer (headers and a `content-length` body) and returns its status.
    async fn answer(&mut self) -> StatusCode {
        loop {
            if let Some(end) = self.received.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&self.received[..end]).to_ascii_lowercase();
                let length: usize = head
                    .lines()
                    .find_map(|line| line.strip_prefix("content-length:"))
                    .map_or(0, |value| value.trim().parse().unwrap());
                if self.received.len() >= end + 4 + length {
                    let code = head.split_whitespace().nth(1).unwrap().parse().unwrap();
                    self.received.drain(..end + 4 + length);
                    return StatusCode::from_u16(code).unwrap();
                }
            }
            self.stream.readable().await.unwrap();
            let mut buffer = [0; 4096];
            match self.stream.try_read(&mut buffer) {
                Ok(0) => panic!("the server closed the connection"),
                Ok(read) => self.received.extend_from_slice(&buffer[..read]),
                Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(error) => panic!("reading an answer: {error}"),
            }
        }
    }
}

/// The pairs of a round, taken in turn; the last one carries new passwords, so both sides
/// hash (slowly) between reading and writing.
const PAIRS: [(Removal, Removal); 5] = [
    (
        Removal::Patch(r#"{ "roles": ["ops"] }"#),
        Removal::Patch(r#"{ "roles": [] }"#),
    ),
    (
        Removal::Patch(r#"{ "active": false }"#),
        Removal::Patch(r#"{ "active": false }"#),
    ),
    (Removal::Delete, Removal::Delete),
    (Removal::Patch(r#"{ "active": false }"#), Removal::Delete),
    (
        Removal::Patch(r#"{ "roles": ["ops"], "password": "a-new-password-1" }"#),
        Removal::Patch(r#"{ "active": false, "password": "a-new-password-2" }"#),
    ),
];

/// An admin the test can act as.
struct Admin {
    id: String,
    username: String,
    password: String,
    token: String,
}

async fn new_admin(server: &TestServer, by: &str, username: &str) -> Admin {
    let password = format!("{username}-password");
    let created = server
        .post_json(
            "/api/users",
            Some(by),
            &json!({ "username": username, "password": password, "roles": ["admin"] }),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{created:?}");
    Admin {
        id: created.json::<User>().id.to_string(),
        username: username.to_owned(),
        token: server.token(username, &password).await,
        password,
    }
}

/// The usernames of the active admins, as an admin sees them.
async fn active_admins(server: &TestServer, token: &str) -> Vec<String> {
    let list = server.get("/api/users", Some(token)).await;
    assert_eq!(list.status, StatusCode::OK, "{list:?}");
    list.json::<UserList>()
        .users
        .into_iter()
        .filter(|user| user.active && user.roles.iter().any(|role| role == "admin"))
        .map(|user| user.username)
        .collect()
}

#[tokio::test]
async fn two_admins_removing_each_other_at_once_leave_one_admin() {
    let env = TestEnv::new();
    let server = env.spawn(&[]).await;
    let mut survivor = Admin {
        id: String::new(),
        username: "admin".to_owned(),
        password: crate::helpers::ADMIN_PASSWORD.to_owned(),
        token: server.admin_token().await,
    };
    survivor.id = server
        .me(&survivor.token)
        .await
        .json::<MeResponse>()
        .user
        .id
        .to_string();

    let mut guard_refusals = 0;
    for round in 0..ROUNDS {
        let newcomer = new_admin(&server, &survivor.token, &format!("admin{round}")).await;
        let (one, other) = PAIRS[round % PAIRS.len()];
        // Each admin's connection is served and its user and session cached, as in steady
        // use; taking in the change feed first keeps the follower from evicting them before the
        // race (nothing writes in between).
        let auth = &server.state.auth;
        auth.catch_up().await.unwrap();
        let mut by_survivor = Connection::open(&server);
        let mut by_newcomer = Connection::open(&server);
        for (connection, token) in [
            (&mut by_survivor, &survivor.token),
            (&mut by_newcomer, &newcomer.token),
        ] {
            connection.write_now(&request("GET", "/api/auth/me", token, ""));
            assert_eq!(connection.answer().await, StatusCode::OK);
        }
        // The survivor acts on the newcomer while the newcomer acts on the survivor.
        by_survivor.write_now(&one.request(&survivor.token, &newcomer.id));
        by_newcomer.write_now(&other.request(&newcomer.token, &survivor.id));
        let (on_newcomer, on_survivor) = tokio::join!(by_survivor.answer(), by_newcomer.answer());
        let what = format!("round {round}: {one:?} / {other:?}");
        let won = |status: StatusCode| matches!(status, StatusCode::OK | StatusCode::NO_CONTENT);
        // The loser is refused by the guard (409), or, when no password is hashed, possibly
        // before that, because the winner's change already ended its session (401).
        let lost = |status: StatusCode| {
            status == StatusCode::CONFLICT
                || (status == StatusCode::UNAUTHORIZED && !one.hashes() && !other.hashes())
        };
        let (kept, removed) = match (on_newcomer, on_survivor) {
            (a, b) if won(a) && lost(b) => (survivor, newcomer),
            (a, b) if lost(a) && won(b) => (newcomer, survivor),
            other => panic!("{what}: expected one success and one refusal, got {other:?}"),
        };
        if on_newcomer == StatusCode::CONFLICT || on_survivor == StatusCode::CONFLICT {
            guard_refusals += 1;
        }
        assert_eq!(
            active_admins(&server, &kept.token).await,
            [kept.username.as_str()],
            "{what}"
        );
        // Clear away the removed admin (when still there), so every round starts from two.
        let status = server
            .delete(&format!("/api/users/{}", removed.id), Some(&kept.token))
            .await
            .status;
        assert!(
            matches!(status, StatusCode::NO_CONTENT | StatusCode::NOT_FOUND),
            "{what}"
        );
        survivor = kept;
    }

    eprintln!("{guard_refusals} of {ROUNDS} rounds were refused by the guard (409)");
    assert!(
        guard_refusals >= ROUNDS / PAIRS.len(),
        "every password round is"
    );
    // The admin who remains can still log in and administer.
    let token = server.token(&survivor.username, &survivor.password).await;
    assert_eq!(
        active_admins(&server, &token).await,
        [survivor.username.as_str()]
    );
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
async fn operators_grant_and_revoke_roles_and_recover_a_database_without_admins() {
    let env = TestEnv::new();
    let cli = |args: &[&str]| operator(&env, args);
    let add = |name: &str| {
        let (code, stdout, stderr) = cli(&["user", "add", name, "--password-stdin"])
            .output_with_stdin(&format!("{name}-password\n"));
        assert_eq!(code, 0, "{stdout}{stderr}");
    };
    // A database whose users hold no admin role at all: nobody can administer it.
    assert_eq!(cli(&["migrate"]).output().0, 0);
    add("alice");
    add("bob");

    let (code, stdout, stderr) = cli(&["user", "grant", "Alice", "admin"]).output();
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_eq!(
        stdout.trim(),
        "granted the role 'admin' to 'alice' (roles: admin)"
    );
    let (code, stdout, stderr) = cli(&["user", "grant", "alice", "admin"]).output();
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        stdout.trim(),
        "'alice' already has the role 'admin'; nothing changed"
    );

    // alice administers over HTTP now.
    let server = cli(&["serve"]).env("TESSERA_LISTEN", "127.0.0.1:0").serve();
    let login = server.login("alice", "alice-password").await;
    assert_eq!(login.status, StatusCode::OK, "{login:?}");
    let token = login.json::<TokenResponse>().access_token;
    let users = reqwest::Client::new()
        .get(format!("{}/api/users", server.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(users.status(), StatusCode::OK);

    // She is the last active admin: revoking her role is refused, and nothing changes.
    let (code, stdout, stderr) = cli(&["user", "revoke", "alice", "admin"]).output();
    assert_eq!(code, 1, "{stdout}");
    assert_eq!(
        stderr.lines().last(),
        Some("error: the change would leave no active user with the admin role"),
        "{stderr}"
    );
    assert_eq!(server.me(&token).await.status, StatusCode::OK);

    // With bob granted the role, alice's can be revoked.
    let (code, _, stderr) = cli(&["user", "grant", "bob", "admin"]).output();
    assert_eq!(code, 0, "{stderr}");
    let (code, stdout, stderr) = cli(&["user", "revoke", "alice", "admin"]).output();
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        stdout.trim(),
        "revoked the role 'admin' from 'alice' (roles: none)"
    );
    let (code, stdout, _) = cli(&["user", "revoke", "alice", "admin"]).output();
    assert_eq!(code, 0);
    assert_eq!(
        stdout.trim(),
        "'alice' does not have the role 'admin'; nothing changed"
    );
    let (code, stdout, _) = cli(&["user", "grant", "alice", "ops"]).output();
    assert_eq!(code, 0);
    assert_eq!(
        stdout.trim(),
        "granted the role 'ops' to 'alice' (roles: ops)"
    );
    let (code, _, stderr) = cli(&["user", "revoke", "bob", "admin"]).output();
    assert_eq!(code, 1);
    assert!(
        stderr.contains("no active user with the admin role"),
        "{stderr}"
    );

    // A missing user or a malformed role is a clear failure.
    let (code, _, stderr) = cli(&["user", "grant", "nobody", "admin"]).output();
    assert_eq!(code, 1);
    assert_eq!(
        stderr.lines().last(),
        Some("error: user 'nobody': no such user"),
        "{stderr}"
    );
    let (code, _, stderr) = cli(&["user", "grant", "alice", "Not A Role"]).output();
    assert_eq!(code, 1);
    assert!(stderr.contains("each role must be"), "{stderr}");
}
