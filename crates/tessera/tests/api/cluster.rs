//! Several real `tessera serve` processes on one PostgreSQL database: a token or a session
//! revoked through one instance (or the operator command) is refused by every other instance
//! on the very next request after the revoking answer, and an instance that cannot see the
//! database stops answering protected requests instead of answering from what it last saw.
//!
//! Each test gets a database of its own (`tessera_test_<random>`) on the server
//! `TESSERA_TEST_POSTGRES_URL` names (default `postgres://postgres@127.0.0.1:5432/postgres`),
//! dropped when the test ends, also when it fails; an unreachable server fails the test.
//! Every scenario is repeated, with the repetition and the instance in every message.

use std::future::Future;
use std::io::{BufRead as _, BufReader};
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Answer, Binary, Grant};
use crate::pg::TestDatabase;
use crate::proxy::Proxy;

/// The signing secret every instance of a cluster shares.
const SECRET: &str = "ClusterSecretClusterSecretCluster1";
/// The bootstrap admin's password.
const ADMIN_PASSWORD: &str = "cluster-admin-password";
/// How many times each scenario runs inside its test.
const REPETITIONS: usize = 30;
/// The longest a condition the test waits for (a server starting, an instance giving up on
/// its lease, an instance catching up after the database came back) may take.
const PATIENCE: Duration = Duration::from_secs(20);
/// The setting for how long an instance may serve without confirming it is up to date.
const LEASE: &str = "TESSERA_INSTANCE_LEASE_SECONDS";

// ---------------------------------------------------------------------------------------------
// The PostgreSQL database of one test.

// ---------------------------------------------------------------------------------------------
// Instances.

/// How one instance of a cluster is started.
#[derive(Clone, Default)]
pub struct Spec {
    /// Reaches the database through a proxy the test can cut.
    pub proxied: bool,
    /// Extra settings, as environment variables.
    pub env: Vec<(&'static str, String)>,
}

impl Spec {
    fn with(mut self, name: &'static str, value: &str) -> Self {
        self.env.push((name, value.to_owned()));
        self
    }
}

/// The HTTP side of one instance; cheap to clone into a task.
#[derive(Clone)]
pub struct Node {
    /// `A`, `B`, …: how messages name the instance.
    pub name: char,
    base: String,
    client: reqwest::Client,
}

impl Node {
    async fn send(&self, request: reqwest::RequestBuilder) -> Answer {
        match request.send().await {
            Ok(response) => Answer::from(response).await,
            Err(error) => panic!("instance {} did not answer: {error}", self.name),
        }
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Answer {
        let mut request = self.client.get(format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        self.send(request).await
    }

    pub async fn me(&self, token: &str) -> Answer {
        self.get("/api/auth/me", Some(token)).await
    }

    pub async fn post_json(&self, path: &str, token: Option<&str>, body: &Value) -> Answer {
        let mut request = self.client.post(format!("{}{path}", self.base)).json(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        self.send(request).await
    }

    pub async fn post_empty(&self, path: &str, token: &str) -> Answer {
        let request = self
            .client
            .post(format!("{}{path}", self.base))
            .bearer_auth(token);
        self.send(request).await
    }

    pub async fn patch_json(&self, path: &str, token: &str, body: &Value) -> Answer {
        let request = self
            .client
            .patch(format!("{}{path}", self.base))
            .bearer_auth(token)
            .json(body);
        self.send(request).await
    }

    pub async fn login(&self, username: &str, password: &str) -> Answer {
        self.post_json(
            "/api/auth/login",
            None,
            &json!({ "username": username, "password": password }),
        )
        .await
    }

    /// Logs in, failing the test (naming the instance and `context`) otherwise.
    pub async fn grant(&self, username: &str, password: &str, context: &str) -> Grant {
        let answer = self.login(username, password).await;
        assert_eq!(
            answer.status,
            StatusCode::OK,
            "{context}: login of {username} on {} failed: {}",
            self.name,
            show(&answer)
        );
        Grant::from(&answer)
    }

    pub async fn refresh(&self, refresh_token: &str) -> Answer {
        self.post_json(
            "/api/auth/refresh",
            None,
            &json!({ "refresh_token": refresh_token }),
        )
        .await
    }
}

/// A `tessera serve` process; killed when dropped.
struct Instance {
    node: Node,
    child: Child,
    /// Everything the process wrote, for failure messages.
    log: Arc<Mutex<String>>,
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Copies every line of `pipe` into `log`, sending the announced address to `address`.
fn drain(
    pipe: impl std::io::Read + Send + 'static,
    log: Arc<Mutex<String>>,
    address: Option<std::sync::mpsc::Sender<String>>,
) {
    std::thread::spawn(move || {
        let mut lines = BufReader::new(pipe).lines();
        while let Some(Ok(line)) = lines.next() {
            if let (Some(sender), Some(base)) =
                (&address, line.strip_prefix("tessera listening on "))
            {
                let _ = sender.send(base.to_owned());
            }
            let mut log = log.lock().unwrap();
            log.push_str(&line);
            log.push('\n');
        }
    });
}

/// Starts `tessera serve` as `name` on `database_url` and waits (bounded) until it listens.
async fn start_instance(
    name: char,
    cwd: &std::path::Path,
    database_url: &str,
    spec: &Spec,
) -> Instance {
    let mut binary = Binary::new(cwd)
        .env("TESSERA_LISTEN", "127.0.0.1:0")
        .env("TESSERA_DATABASE_URL", database_url)
        .env("TESSERA_JWT_SECRET", SECRET)
        .env("TESSERA_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .arg("serve");
    for (key, value) in &spec.env {
        binary = binary.env(key, value);
    }
    let mut child = binary
        .command()
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let log = Arc::new(Mutex::new(String::new()));
    let (sender, receiver) = std::sync::mpsc::channel();
    drain(child.stdout.take().unwrap(), log.clone(), Some(sender));
    drain(child.stderr.take().unwrap(), log.clone(), None);
    // A blocking wait off the runtime: the proxy this instance may connect through runs on
    // the runtime's threads.
    let announced = tokio::task::spawn_blocking(move || receiver.recv_timeout(PATIENCE))
        .await
        .unwrap();
    let Ok(base) = announced else {
        let _ = child.kill();
        let _ = child.wait();
        panic!(
            "instance {name} did not announce its address within {PATIENCE:?}; it wrote:\n{}",
            log.lock().unwrap()
        );
    };
    Instance {
        node: Node {
            name,
            base,
            client: reqwest::Client::new(),
        },
        child,
        log,
    }
}

/// N instances on one fresh database, sharing the signing secret; the first created the
/// bootstrap admin, whose token is `admin`. Dropping it kills the processes, stops the
/// proxies and drops the database, in that order.
pub struct Cluster {
    instances: Vec<Instance>,
    proxies: Vec<Option<Proxy>>,
    database: TestDatabase,
    dir: tempfile::TempDir,
    /// An access token of the bootstrap admin.
    pub admin: String,
}

impl Cluster {
    /// Two instances, `A` and `B`, with the same extra settings.
    pub async fn pair(settings: &[(&'static str, &str)]) -> Self {
        let mut spec = Spec::default();
        for (name, value) in settings {
            spec = spec.with(name, value);
        }
        Self::start(&[spec.clone(), spec]).await
    }

    /// One instance per spec, started one after the other (named `A`, `B`, …).
    pub async fn start(specs: &[Spec]) -> Self {
        let database = TestDatabase::create().await;
        let dir = tempfile::tempdir().unwrap();
        let mut instances = Vec::new();
        let mut proxies = Vec::new();
        for (index, spec) in specs.iter().enumerate() {
            let name = char::from(b'A' + u8::try_from(index).unwrap());
            let proxy = if spec.proxied {
                Some(Proxy::start(TestDatabase::upstream()).await)
            } else {
                None
            };
            let authority = proxy.as_ref().map(|proxy| proxy.addr().to_string());
            let url = database.url(authority.as_deref(), None);
            instances.push(start_instance(name, dir.path(), &url, spec).await);
            proxies.push(proxy);
        }
        let mut cluster = Self {
            instances,
            proxies,
            database,
            dir,
            admin: String::new(),
        };
        cluster.admin = cluster
            .instance(0)
            .grant("admin", ADMIN_PASSWORD, "set-up")
            .await
            .access;
        cluster
    }

    /// Kills instance `index` with SIGKILL: it leaves no word in the registry.
    pub fn kill(&mut self, index: usize) {
        let child = &mut self.instances[index].child;
        child.kill().unwrap();
        child.wait().unwrap();
    }

    /// The HTTP side of instance `index`.
    pub fn instance(&self, index: usize) -> &Node {
        &self.instances[index].node
    }

    /// Cuts instance `index` off the database (it must have been started `proxied`).
    pub fn cut(&self, index: usize) {
        self.proxy(index).cut();
    }

    /// Lets instance `index` reach the database again.
    pub fn restore(&self, index: usize) {
        self.proxy(index).restore();
    }

    fn proxy(&self, index: usize) -> &Proxy {
        self.proxies[index]
            .as_ref()
            .unwrap_or_else(|| panic!("instance {index} was not started behind a proxy"))
    }

    /// The last lines instance `index` wrote, for failure messages.
    pub fn log_tail(&self, index: usize) -> String {
        let log = self.instances[index].log.lock().unwrap();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// Creates a user through the admin API on instance `A` and returns its id.
    pub async fn create_user(&self, username: &str, password: &str) -> String {
        let answer = self
            .instance(0)
            .post_json(
                "/api/users",
                Some(&self.admin),
                &json!({ "username": username, "password": password }),
            )
            .await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", show(&answer));
        answer.body["id"].as_str().unwrap().to_owned()
    }

    /// `PATCH /api/users/{id}` with `body` as the admin on `node`, which must answer `200`.
    pub async fn patch_user(&self, node: &Node, id: &str, body: &Value, context: &str) {
        let answer = node
            .patch_json(&format!("/api/users/{id}"), &self.admin, body)
            .await;
        assert_eq!(
            answer.status,
            StatusCode::OK,
            "{context}: PATCH {body} on {} failed: {}",
            node.name,
            show(&answer)
        );
    }

    /// Runs the `tessera` operator command `args` on this cluster's database (directly,
    /// not through any proxy) and returns (exit code, stdout, stderr).
    pub async fn operator(&self, args: &[&str]) -> (i32, String, String) {
        let mut binary = Binary::new(self.dir.path())
            .env("TESSERA_DATABASE_URL", &self.database.url(None, None))
            .env("TESSERA_JWT_SECRET", SECRET);
        for arg in args {
            binary = binary.arg(*arg);
        }
        tokio::task::spawn_blocking(move || binary.output())
            .await
            .unwrap()
    }
}

// ---------------------------------------------------------------------------------------------
// Checks.

/// An answer in one line: status, and the body when there is one.
fn show(answer: &Answer) -> String {
    match &answer.body {
        Value::Null => answer.status.to_string(),
        body => format!("{} {body}", answer.status),
    }
}

/// Asserts `answer` is a refused token (`401`) for `reason`.
fn assert_refused(answer: &Answer, reason: &str, context: &str) {
    assert!(
        answer.status == StatusCode::UNAUTHORIZED && answer.body["reason"] == reason,
        "{context}: expected 401 with reason {reason}, got {}",
        show(answer)
    );
}

/// Asserts `answer` is a refused refresh token (`401 invalid_refresh_token`).
fn assert_refresh_refused(answer: &Answer, context: &str) {
    assert!(
        answer.status == StatusCode::UNAUTHORIZED
            && answer.body["error"] == "invalid_refresh_token",
        "{context}: expected the refresh token refused (401 invalid_refresh_token), got {}",
        show(answer)
    );
}

fn assert_status(answer: &Answer, status: StatusCode, context: &str) {
    assert_eq!(
        answer.status,
        status,
        "{context}: expected {status}, got {}",
        show(answer)
    );
}

/// Calls `ask` until `done` holds for its answer, and returns that answer; fails the test
/// (with `context` and the last answer) when `PATIENCE` passes first. Only for waiting on
/// something that is allowed to take a while (a write that is not revoking, an instance
/// coming back); between calls it yields for a few milliseconds.
async fn eventually<F, Fut>(context: &str, mut ask: F, done: impl Fn(&Answer) -> bool) -> Answer
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Answer>,
{
    let deadline = Instant::now() + PATIENCE;
    loop {
        let answer = ask().await;
        if done(&answer) {
            return answer;
        }
        assert!(
            Instant::now() < deadline,
            "{context}: still {} after {PATIENCE:?}",
            show(&answer)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits (bounded) until `node` accepts `token`: a session or a reactivation written
/// elsewhere is not a revoking write, so it may take an instance a moment to see it.
async fn until_accepted(node: &Node, token: &str, context: &str) {
    eventually(
        &format!("{context}: {} never accepted the token", node.name),
        || node.me(token),
        |answer| answer.status == StatusCode::OK,
    )
    .await;
}

/// The writer and the other instance of repetition `rep`: they swap every repetition.
fn roles(cluster: &Cluster, rep: usize) -> (&Node, &Node) {
    (cluster.instance(rep % 2), cluster.instance(1 - rep % 2))
}

// ---------------------------------------------------------------------------------------------
// 1. Tokens cross instances.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_and_refresh_tokens_issued_by_one_instance_work_on_the_other() {
    let cluster = Cluster::pair(&[]).await;
    cluster.create_user("tess", "tess-password-1").await;
    for rep in 0..REPETITIONS {
        let (issuer, other) = roles(&cluster, rep);
        let context = format!("repetition {rep}, issued by {}", issuer.name);
        let grant = issuer.grant("tess", "tess-password-1", &context).await;
        let me = other.me(&grant.access).await;
        assert_status(
            &me,
            StatusCode::OK,
            &format!("{context}: the access token on {}", other.name),
        );
        assert_eq!(me.body["user"]["username"], "tess", "{context}");

        let refreshed = other.refresh(&grant.refresh).await;
        assert_status(
            &refreshed,
            StatusCode::OK,
            &format!("{context}: refreshing on {}", other.name),
        );
        let next = Grant::from(&refreshed);
        assert_eq!(next.session_id, grant.session_id, "{context}: same session");
        assert_status(
            &issuer.me(&next.access).await,
            StatusCode::OK,
            &format!(
                "{context}: the refreshed access token back on {}",
                issuer.name
            ),
        );
        assert_status(
            &issuer.refresh(&next.refresh).await,
            StatusCode::OK,
            &format!("{context}: the successor refreshing on {}", issuer.name),
        );
    }
}

// ---------------------------------------------------------------------------------------------
// 2.–6. A revoking write on one instance is seen by the other on its very next request.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_deactivated_on_one_instance_is_refused_by_the_other_at_once() {
    deactivation_seen_at_once(&[]).await;
}

/// Without notifications (behind a pooler that does not pass them), the instances poll the
/// feed: the writer waits longer, and the guarantee is the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_notifications_a_deactivation_is_still_refused_by_the_other_at_once() {
    deactivation_seen_at_once(&[("TESSERA_DATABASE_NOTIFICATIONS", "false")]).await;
}

async fn deactivation_seen_at_once(settings: &[(&'static str, &str)]) {
    let cluster = Cluster::pair(settings).await;
    let id = cluster.create_user("dora", "dora-password-1").await;
    for rep in 0..REPETITIONS {
        let (writer, other) = roles(&cluster, rep);
        let context = format!("repetition {rep}, deactivated on {}", writer.name);
        let grant = writer.grant("dora", "dora-password-1", &context).await;
        until_accepted(other, &grant.access, &context).await;

        cluster
            .patch_user(writer, &id, &json!({ "active": false }), &context)
            .await;
        assert_refused(
            &other.me(&grant.access).await,
            "user_inactive",
            &format!(
                "{context}: {} right after {}'s answer",
                other.name, writer.name
            ),
        );
        assert_refused(
            &writer.me(&grant.access).await,
            "user_inactive",
            &format!("{context}: {} itself", writer.name),
        );
        cluster
            .patch_user(writer, &id, &json!({ "active": true }), &context)
            .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_logout_on_one_instance_is_refused_by_the_other_at_once() {
    let cluster = Cluster::pair(&[]).await;
    cluster.create_user("lou", "lou-password-1").await;
    // A second session of the same user, which no logout here touches.
    let kept = cluster
        .instance(0)
        .grant("lou", "lou-password-1", "set-up")
        .await;
    for rep in 0..REPETITIONS {
        let (writer, other) = roles(&cluster, rep);
        let context = format!("repetition {rep}, logged out on {}", writer.name);
        let grant = writer.grant("lou", "lou-password-1", &context).await;
        until_accepted(other, &grant.access, &context).await;

        let logout = writer.post_empty("/api/auth/logout", &grant.access).await;
        assert_status(&logout, StatusCode::NO_CONTENT, &context);
        assert_refused(
            &other.me(&grant.access).await,
            "session_ended",
            &format!(
                "{context}: {} right after {}'s answer",
                other.name, writer.name
            ),
        );
        assert_refresh_refused(
            &other.refresh(&grant.refresh).await,
            &format!("{context}: the refresh token on {}", other.name),
        );
        assert_status(
            &other.me(&kept.access).await,
            StatusCode::OK,
            &format!("{context}: the user's other session on {}", other.name),
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_all_on_one_instance_ends_every_session_on_the_other_at_once() {
    let cluster = Cluster::pair(&[]).await;
    cluster.create_user("alma", "alma-password-1").await;
    for rep in 0..REPETITIONS {
        let (writer, other) = roles(&cluster, rep);
        let context = format!("repetition {rep}, logout-all on {}", writer.name);
        let here = writer.grant("alma", "alma-password-1", &context).await;
        let there = other.grant("alma", "alma-password-1", &context).await;
        for grant in [&here, &there] {
            until_accepted(other, &grant.access, &context).await;
        }

        let answer = writer
            .post_empty("/api/auth/logout-all", &here.access)
            .await;
        assert_status(&answer, StatusCode::OK, &context);
        assert_eq!(
            answer.body["sessions_ended"],
            2,
            "{context}: {}",
            show(&answer)
        );
        for (which, grant) in [
            ("the writer's session", &here),
            ("the other's session", &there),
        ] {
            assert_refused(
                &other.me(&grant.access).await,
                "session_ended",
                &format!(
                    "{context}: {which} on {} right after {}'s answer",
                    other.name, writer.name
                ),
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_change_on_one_instance_ends_the_users_sessions_on_the_other_at_once() {
    let cluster = Cluster::pair(&[]).await;
    let passwords = ["pat-password-1", "pat-password-2"];
    let id = cluster.create_user("pat", passwords[0]).await;
    for rep in 0..REPETITIONS {
        let (writer, other) = roles(&cluster, rep);
        let context = format!("repetition {rep}, password changed on {}", writer.name);
        let (old, new) = (passwords[rep % 2], passwords[1 - rep % 2]);
        let here = writer.grant("pat", old, &context).await;
        let there = other.grant("pat", old, &context).await;
        for grant in [&here, &there] {
            until_accepted(other, &grant.access, &context).await;
        }

        cluster
            .patch_user(writer, &id, &json!({ "password": new }), &context)
            .await;
        for (which, grant) in [
            ("a session from the writer", &here),
            ("a session from the other", &there),
        ] {
            assert_refused(
                &other.me(&grant.access).await,
                "session_ended",
                &format!(
                    "{context}: {which} on {} right after {}'s answer",
                    other.name, writer.name
                ),
            );
            assert_refresh_refused(
                &other.refresh(&grant.refresh).await,
                &format!("{context}: {which}'s refresh token on {}", other.name),
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_token_reuse_detected_on_one_instance_ends_the_session_on_the_other_at_once() {
    // Without a grace window, any second use of a rotated refresh token is reuse.
    let cluster = Cluster::pair(&[("TESSERA_REFRESH_REUSE_GRACE_SECONDS", "0")]).await;
    cluster.create_user("ruth", "ruth-password-1").await;
    for rep in 0..REPETITIONS {
        let (writer, other) = roles(&cluster, rep);
        let context = format!("repetition {rep}, reuse detected on {}", writer.name);
        let stolen = writer.grant("ruth", "ruth-password-1", &context).await;
        let rotated = writer.refresh(&stolen.refresh).await;
        assert_status(
            &rotated,
            StatusCode::OK,
            &format!("{context}: first refresh"),
        );
        let current = Grant::from(&rotated);
        until_accepted(other, &current.access, &context).await;

        assert_refresh_refused(
            &writer.refresh(&stolen.refresh).await,
            &format!("{context}: the replayed refresh token"),
        );
        assert_refused(
            &other.me(&current.access).await,
            "session_ended",
            &format!(
                "{context}: the session's newest access token on {} right after {}'s answer",
                other.name, writer.name
            ),
        );
        assert_refresh_refused(
            &other.refresh(&current.refresh).await,
            &format!("{context}: the newest refresh token on {}", other.name),
        );
    }
}

// ---------------------------------------------------------------------------------------------
// 7. One refresh token presented to both instances at the same instant.

/// Presents one refresh token to `A` and `B` at once (two tasks released together), then
/// checks: at most one successor, and the session is then either alive, with the successor
/// as its one usable refresh token, or ended on both instances.
async fn racing_refreshes(grace_seconds: &str) {
    let cluster = Cluster::pair(&[("TESSERA_REFRESH_REUSE_GRACE_SECONDS", grace_seconds)]).await;
    cluster.create_user("rita", "rita-password-1").await;
    let nodes = [cluster.instance(0).clone(), cluster.instance(1).clone()];
    for rep in 0..REPETITIONS {
        let context = format!("repetition {rep} (grace {grace_seconds} s)");
        let grant = nodes[rep % 2]
            .grant("rita", "rita-password-1", &context)
            .await;
        for node in &nodes {
            until_accepted(node, &grant.access, &context).await;
        }

        let barrier = Arc::new(tokio::sync::Barrier::new(2));
        let tasks: Vec<_> = nodes
            .iter()
            .map(|node| {
                let (node, barrier, token) = (node.clone(), barrier.clone(), grant.refresh.clone());
                tokio::spawn(async move {
                    barrier.wait().await;
                    node.refresh(&token).await
                })
            })
            .collect();
        let mut answers = Vec::new();
        for task in tasks {
            answers.push(task.await.unwrap());
        }
        let shown = format!(
            "A answered {}, B answered {}",
            show(&answers[0]),
            show(&answers[1])
        );
        let successors: Vec<Grant> = answers
            .iter()
            .filter(|answer| answer.status == StatusCode::OK)
            .map(Grant::from)
            .collect();
        for answer in &answers {
            assert!(
                answer.status == StatusCode::OK || answer.body["error"] == "invalid_refresh_token",
                "{context}: a refresh may only succeed or be refused: {shown}"
            );
        }
        if let [first, second] = successors.as_slice() {
            assert_eq!(
                first.refresh, second.refresh,
                "{context}: two different successors: {shown}"
            );
        }

        // Alive or ended, both instances must say the same of the session.
        let verdicts = [
            nodes[0].me(&grant.access).await,
            nodes[1].me(&grant.access).await,
        ];
        let alive = verdicts[0].status == StatusCode::OK;
        assert_eq!(
            verdicts[0].status,
            verdicts[1].status,
            "{context}: after {shown}, A says {} and B says {} of the session",
            show(&verdicts[0]),
            show(&verdicts[1])
        );
        match (alive, successors.first()) {
            (true, Some(successor)) => {
                // The successor is the usable refresh token, on either instance.
                let next = nodes[rep % 2].refresh(&successor.refresh).await;
                assert_status(
                    &next,
                    StatusCode::OK,
                    &format!(
                        "{context}: after {shown}, the successor on {}",
                        nodes[rep % 2].name
                    ),
                );
                if grace_seconds == "0" {
                    // And the presented token is not: its reuse ends the session everywhere.
                    assert_refresh_refused(
                        &nodes[1 - rep % 2].refresh(&grant.refresh).await,
                        &format!("{context}: after {shown}, the presented token again"),
                    );
                }
            }
            (true, None) => panic!(
                "{context}: the session is alive but no refresh succeeded, so it has no \
                 usable refresh token: {shown}"
            ),
            (false, successor) => {
                assert_refused(
                    &verdicts[0],
                    "session_ended",
                    &format!("{context}: after {shown}, the session on A"),
                );
                if let Some(successor) = successor {
                    for node in &nodes {
                        assert_refresh_refused(
                            &node.refresh(&successor.refresh).await,
                            &format!(
                                "{context}: after {shown}, the successor of an ended session on {}",
                                node.name
                            ),
                        );
                    }
                }
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_refresh_token_raced_on_both_instances_has_one_successor_with_a_grace_window() {
    racing_refreshes("10").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_refresh_token_raced_on_both_instances_has_one_successor_without_a_grace_window() {
    racing_refreshes("0").await;
}

// ---------------------------------------------------------------------------------------------
// 8. The operator command.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_deactivated_by_the_operator_command_is_refused_by_every_instance_at_once() {
    let cluster = Cluster::pair(&[]).await;
    cluster.create_user("otto", "otto-password-1").await;
    let nodes = [cluster.instance(0), cluster.instance(1)];
    for rep in 0..REPETITIONS {
        let context = format!("repetition {rep}");
        let grant = nodes[rep % 2]
            .grant("otto", "otto-password-1", &context)
            .await;
        for node in nodes {
            until_accepted(node, &grant.access, &context).await;
        }

        let (code, stdout, stderr) = cluster.operator(&["user", "deactivate", "otto"]).await;
        assert_eq!(
            code, 0,
            "{context}: tessera user deactivate: {stdout}{stderr}"
        );
        for node in nodes {
            assert_refused(
                &node.me(&grant.access).await,
                "user_inactive",
                &format!(
                    "{context}: {} right after `tessera user deactivate` exited",
                    node.name
                ),
            );
        }
        let (code, stdout, stderr) = cluster.operator(&["user", "activate", "otto"]).await;
        assert_eq!(
            code, 0,
            "{context}: tessera user activate: {stdout}{stderr}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// 9. An instance cut off from the database.

/// `B`'s lease in the partition test, in seconds.
const SHORT_LEASE: u64 = 1;
/// How many times `B` is cut off and restored.
const PARTITIONS: usize = 3;

/// Asserts `answer` is the refusal of an instance that cannot confirm it is up to date:
/// `503` with a `Retry-After` of whole seconds.
fn assert_stale_refusal(answer: &Answer, context: &str) {
    assert_status(answer, StatusCode::SERVICE_UNAVAILABLE, context);
    let retry = answer.header("retry-after").unwrap_or_default();
    assert!(
        !retry.is_empty() && retry.bytes().all(|b| b.is_ascii_digit()),
        "{context}: a 503 needs Retry-After in seconds, got {retry:?}: {}",
        show(answer)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_cut_off_from_the_database_refuses_rather_than_miss_a_revocation() {
    let cluster = Cluster::start(&[
        Spec::default(),
        Spec {
            proxied: true,
            ..Spec::default()
        }
        .with(LEASE, &SHORT_LEASE.to_string()),
    ])
    .await;
    let (a, b) = (cluster.instance(0), cluster.instance(1));
    let vera = cluster.create_user("vera", "vera-password-1").await;
    cluster.create_user("ben", "ben-password-1").await;
    let ben = a.grant("ben", "ben-password-1", "set-up").await;

    for round in 0..PARTITIONS {
        let context = format!("partition {round}");
        let victim = a.grant("vera", "vera-password-1", &context).await;
        for token in [&victim.access, &ben.access] {
            until_accepted(b, token, &context).await;
        }

        cluster.cut(1);
        let started = Instant::now();
        cluster
            .patch_user(a, &vera, &json!({ "active": false }), &context)
            .await;
        let waited = started.elapsed();
        let bound = Duration::from_secs(SHORT_LEASE + 2);
        assert!(
            waited <= bound,
            "{context}: A took {waited:?} to deactivate vera while B was cut off; a writer \
             must stop waiting for an instance once its lease ({SHORT_LEASE} s) has passed \
             (bound {bound:?})"
        );

        // From A's answer on, B must never accept vera's token: it either refuses it or,
        // once it can no longer confirm it is up to date, refuses everything protected.
        let deadline = Instant::now() + PATIENCE;
        let refusal = loop {
            let answer = b.me(&victim.access).await;
            assert_ne!(
                answer.status,
                StatusCode::OK,
                "{context}: {:?} after A deactivated vera, B (cut off) accepted her token",
                started.elapsed()
            );
            if answer.status == StatusCode::SERVICE_UNAVAILABLE {
                break answer;
            }
            assert!(
                Instant::now() < deadline,
                "{context}: B, cut off for {:?}, still answers {} instead of 503; B wrote:\n{}",
                started.elapsed(),
                show(&answer),
                cluster.log_tail(1)
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        assert_stale_refusal(&refusal, &format!("{context}: B on vera's token"));
        assert_stale_refusal(
            &b.me(&ben.access).await,
            &format!("{context}: B on an untouched user's token, past its lease"),
        );
        assert_status(
            &a.me(&ben.access).await,
            StatusCode::OK,
            &format!("{context}: A, which still reaches the database, while B is cut off"),
        );
        let ready = b.get("/readyz", None).await;
        assert_status(
            &ready,
            StatusCode::SERVICE_UNAVAILABLE,
            &format!("{context}: B's /readyz while cut off"),
        );
        assert!(
            ready.body["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{context}: B's /readyz must say why it is not ready: {}",
            show(&ready)
        );

        cluster.restore(1);
        eventually(
            &format!("{context}: B's /readyz after the database came back"),
            || b.get("/readyz", None),
            |answer| answer.status == StatusCode::OK,
        )
        .await;
        // Back, B answers again; its first answer that is not a 503 (a short lease may still
        // lapse now and then on a busy machine) must already know what it missed.
        let serving = |answer: &Answer| answer.status != StatusCode::SERVICE_UNAVAILABLE;
        let victim_answer = eventually(
            &format!("{context}: B back, on vera's token"),
            || b.me(&victim.access),
            serving,
        )
        .await;
        assert_refused(
            &victim_answer,
            "user_inactive",
            &format!("{context}: B back, on vera's token (deactivated while B was cut off)"),
        );
        let ben_answer = eventually(
            &format!("{context}: B back, on an untouched user's token"),
            || b.me(&ben.access),
            serving,
        )
        .await;
        assert_status(
            &ben_answer,
            StatusCode::OK,
            &format!("{context}: B back, on an untouched user's token"),
        );
        cluster
            .patch_user(a, &vera, &json!({ "active": true }), &context)
            .await;
    }
}

// ---------------------------------------------------------------------------------------------
// An instance killed with SIGKILL leaves its entry in the registry; on its own host it is
// recognised as gone (its process no longer runs), so writers do not wait out its lease.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_killed_on_this_host_does_not_hold_up_writers_for_its_lease() {
    let mut cluster = Cluster::start(&[Spec::default(), Spec::default().with(LEASE, "20")]).await;
    let id = cluster.create_user("kim", "kim-password-12").await;
    let grant = cluster
        .instance(0)
        .grant("kim", "kim-password-12", "set-up")
        .await;
    cluster.kill(1);
    let started = Instant::now();
    cluster
        .patch_user(
            cluster.instance(0),
            &id,
            &json!({ "active": false }),
            "after the kill",
        )
        .await;
    let waited = started.elapsed();
    assert!(
        waited < Duration::from_secs(10),
        "A waited {waited:?} for B, killed on this host, whose lease is 20 s"
    );
    assert_refused(
        &cluster.instance(0).me(&grant.access).await,
        "user_inactive",
        "A after the deactivation",
    );
}
