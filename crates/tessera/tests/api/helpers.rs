//! Typed helpers: spawn the real app (in-process, or the real binary) and talk HTTP.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tessera::Application;
use tessera::clock::ManualClock;
use tessera::http::AppState;
use tessera_api::{ErrorBody, ErrorCode, RefusalReason, TokenResponse, User};
use tessera_config::RawSources;

/// The bootstrap admin's password in every in-process test server.
pub const ADMIN_PASSWORD: &str = "correct horse battery staple";
/// The instant every test clock starts at (2027-01-15T08:00:00Z).
pub const START: i64 = 1_800_000_000;

/// A temporary directory holding one SQLite database (and a config.json when asked),
/// shared by the servers a test starts and restarts.
pub struct TestEnv {
    pub dir: tempfile::TempDir,
    pub clock: ManualClock,
}

impl TestEnv {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
            clock: ManualClock::new(START),
        }
    }

    pub fn database_url(&self) -> String {
        format!("sqlite://{}", self.dir.path().join("tessera.db").display())
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Starts an in-process server whose settings come from these command-line style
    /// pairs, on top of a fresh loopback port, this env's database and the admin password.
    pub async fn spawn(&self, settings: &[(&str, &str)]) -> TestServer {
        self.spawn_on(settings, None).await
    }

    /// As [`TestEnv::spawn`], with a store on this env's database that gives up waiting for
    /// another process's lock after `busy_timeout`.
    pub async fn spawn_with_busy_timeout(&self, busy_timeout: Duration) -> TestServer {
        let store = tessera_store::SqliteStore::open_with(
            &self.dir.path().join("tessera.db"),
            tessera_store::SqliteOptions {
                busy_timeout,
                ..tessera_store::SqliteOptions::default()
            },
        )
        .await
        .unwrap();
        self.spawn_on(&[], Some(Arc::new(store))).await
    }

    /// As [`TestEnv::spawn`] for a start that may fail: the error with its causes, on one
    /// line, as the binary would print it.
    pub async fn try_spawn(&self, settings: &[(&str, &str)]) -> Result<TestServer, String> {
        self.try_spawn_on(settings, None).await
    }

    async fn spawn_on(
        &self,
        settings: &[(&str, &str)],
        store: Option<Arc<dyn tessera_store::Store>>,
    ) -> TestServer {
        self.try_spawn_on(settings, store)
            .await
            .unwrap_or_else(|error| panic!("the server did not start: {error}"))
    }

    async fn try_spawn_on(
        &self,
        settings: &[(&str, &str)],
        store: Option<Arc<dyn tessera_store::Store>>,
    ) -> Result<TestServer, String> {
        // The test's own pairs replace these defaults.
        let mut cli: Vec<(String, String)> = [
            ("TESSERA_LISTEN", "127.0.0.1:0".to_owned()),
            ("TESSERA_DATABASE_URL", self.database_url()),
            ("TESSERA_ADMIN_PASSWORD", ADMIN_PASSWORD.to_owned()),
        ]
        .into_iter()
        .filter(|(name, _)| !settings.iter().any(|(given, _)| given == name))
        .map(|(name, value)| (name.to_owned(), value))
        .collect();
        cli.extend(
            settings
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        let sources = RawSources {
            cli,
            env: Vec::new(),
            file: None,
            secret_files: Vec::new(),
        };
        let resolved = tessera_config::resolve(&sources)
            .unwrap_or_else(|e| panic!("{}", tessera_config::render_errors(&e)));
        let clock = Arc::new(self.clock.clone());
        let app = match store {
            Some(store) => Application::build_on(&resolved.settings, clock, store).await,
            None => Application::build(&resolved.settings, clock).await,
        }
        .map_err(|error| format!("{error:#}"))?;
        let addr = app.local_addr();
        let metrics_base = app.metrics_addr().map(|addr| format!("http://{addr}"));
        let state = app.state().clone();
        let task = tokio::spawn(app.run_until(std::future::pending()));
        Ok(TestServer {
            base: format!("http://{addr}"),
            metrics_base,
            client: reqwest::Client::new(),
            state,
            task,
        })
    }
}

/// A running in-process server; stopped when dropped.
pub struct TestServer {
    pub base: String,
    /// The metrics listener's base URL, when `TESSERA_METRICS_LISTEN` is set.
    pub metrics_base: Option<String>,
    pub client: reqwest::Client,
    pub state: AppState,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
        // As a clean stop would: leave the registry, so the next server's writers do not
        // wait out this one's lease.
        let cluster = self.state.auth.cluster.clone();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move { cluster.leave().await });
        }
    }
}

/// An HTTP answer: status, headers and the body parsed as JSON (Null when not JSON).
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Answer {
    pub async fn from(response: reqwest::Response) -> Self {
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.unwrap();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Self {
            status,
            headers,
            body,
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body as the API type `T`, failing the test when it is not one.
    pub fn json<T: DeserializeOwned>(&self) -> T {
        serde_json::from_value(self.body.clone()).unwrap_or_else(|error| {
            panic!("not a {}: {error}: {self:?}", std::any::type_name::<T>())
        })
    }

    /// The error body, failing the test when the answer is not an error in its shape.
    pub fn error(&self) -> ErrorBody {
        assert!(
            self.status.is_client_error() || self.status.is_server_error(),
            "not an error: {self:?}"
        );
        self.json()
    }

    /// The error body's code, failing the test when the answer is not an error.
    pub fn code(&self) -> ErrorCode {
        self.error().error
    }
}

impl TestServer {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The typed API client, on this server.
    pub fn api(&self) -> tessera_api::Client {
        tessera_api::Client::with_http(self.client.clone(), &self.base)
    }

    pub async fn login(&self, username: &str, password: &str) -> Answer {
        self.post_json(
            "/api/auth/login",
            None,
            &json!({ "username": username, "password": password }),
        )
        .await
    }

    /// Logs in through a proxy that says the client is `forwarded_for`.
    pub async fn login_via_proxy(
        &self,
        username: &str,
        password: &str,
        forwarded_for: &str,
    ) -> Answer {
        let request = self
            .client
            .post(self.url("/api/auth/login"))
            .header("x-forwarded-for", forwarded_for)
            .json(&json!({ "username": username, "password": password }));
        Answer::from(request.send().await.unwrap()).await
    }

    /// Logs in and returns the access token, failing the test otherwise.
    pub async fn token(&self, username: &str, password: &str) -> String {
        let answer = self.login(username, password).await;
        assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
        answer.json::<TokenResponse>().access_token
    }

    pub async fn admin_token(&self) -> String {
        self.token("admin", ADMIN_PASSWORD).await
    }

    pub async fn me(&self, token: &str) -> Answer {
        self.get("/api/auth/me", Some(token)).await
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Answer {
        let mut request = self.client.get(self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        Answer::from(request.send().await.unwrap()).await
    }

    pub async fn delete(&self, path: &str, token: Option<&str>) -> Answer {
        let mut request = self.client.delete(self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        Answer::from(request.send().await.unwrap()).await
    }

    pub async fn post_json(&self, path: &str, token: Option<&str>, body: &Value) -> Answer {
        let mut request = self.client.post(self.url(path)).json(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        Answer::from(request.send().await.unwrap()).await
    }

    pub async fn patch_json(&self, path: &str, token: Option<&str>, body: &Value) -> Answer {
        let mut request = self.client.patch(self.url(path)).json(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        Answer::from(request.send().await.unwrap()).await
    }

    /// Logs in with extra fields in the body (such as `"refresh_cookie": true`) and a
    /// `User-Agent`.
    pub async fn login_with(&self, username: &str, password: &str, extra: &Value) -> Answer {
        let mut body = json!({ "username": username, "password": password });
        if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
            body.extend(extra.clone());
        }
        let request = self
            .client
            .post(self.url("/api/auth/login"))
            .header("user-agent", "tessera-tests/1.0")
            .json(&body);
        Answer::from(request.send().await.unwrap()).await
    }

    /// Logs in and returns the access and refresh tokens, failing the test otherwise.
    pub async fn grant(&self, username: &str, password: &str) -> Grant {
        let answer = self.login(username, password).await;
        Grant::from(&answer)
    }

    /// `POST /api/auth/refresh` with the token in the JSON body.
    pub async fn refresh(&self, refresh_token: &str) -> Answer {
        self.post_json(
            "/api/auth/refresh",
            None,
            &json!({ "refresh_token": refresh_token }),
        )
        .await
    }

    /// `POST /api/auth/refresh` with an empty body and the refresh cookie.
    pub async fn refresh_with_cookie(&self, cookie: &str) -> Answer {
        let request = self
            .client
            .post(self.url("/api/auth/refresh"))
            .header("cookie", format!("theme=dark; tessera_refresh={cookie}"));
        Answer::from(request.send().await.unwrap()).await
    }

    /// `POST` without a body, with a bearer token.
    pub async fn post_empty(&self, path: &str, token: &str) -> Answer {
        let request = self.client.post(self.url(path)).bearer_auth(token);
        Answer::from(request.send().await.unwrap()).await
    }

    /// Sends raw bytes with the given content type.
    pub async fn post_raw(&self, path: &str, content_type: &str, body: Vec<u8>) -> Answer {
        let request = self
            .client
            .post(self.url(path))
            .header("content-type", content_type)
            .body(body);
        Answer::from(request.send().await.unwrap()).await
    }

    /// Runs the server's round of the change feed (changes made outside it), now.
    pub async fn poll_external_changes(&self) {
        self.state.auth.catch_up().await.unwrap();
    }

    /// Creates a user through the admin API and returns its id.
    pub async fn create_user(&self, admin: &str, username: &str, password: &str) -> String {
        let answer = self
            .post_json(
                "/api/users",
                Some(admin),
                &json!({ "username": username, "password": password }),
            )
            .await;
        assert_eq!(answer.status, StatusCode::CREATED, "{answer:?}");
        answer.json::<User>().id.to_string()
    }
}

/// The tokens of a successful login or refresh.
#[derive(Debug, Clone)]
pub struct Grant {
    pub access: String,
    pub refresh: String,
    pub session_id: String,
}

impl Grant {
    /// Reads a `200` token response, failing the test otherwise.
    pub fn from(answer: &Answer) -> Self {
        assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
        let tokens: TokenResponse = answer.json();
        Self {
            access: tokens.access_token,
            refresh: tokens.refresh_token.expect("a refresh token in the body"),
            session_id: tokens.session_id.to_string(),
        }
    }
}

/// Asserts the answer is the fixed 401 for a refused refresh token.
pub fn assert_refresh_refused(answer: &Answer) {
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{answer:?}");
    assert_eq!(answer.code(), ErrorCode::InvalidRefreshToken, "{answer:?}");
    assert!(answer.header("www-authenticate").is_some());
}

/// Asserts the answer is the 401 for a refused token, its reason in the body and the
/// challenge.
pub fn assert_token_refused(answer: &Answer) {
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{answer:?}");
    let error = answer.error();
    assert_eq!(error.error, ErrorCode::InvalidToken);
    let reason = error.reason.expect("a reason");
    assert!(
        !matches!(reason, RefusalReason::Other(_)),
        "an unknown reason in {answer:?}"
    );
    assert_eq!(
        answer.header("www-authenticate"),
        Some(
            format!(
                "Bearer realm=\"tessera\", error=\"invalid_token\", error_description=\"{reason}\""
            )
            .as_str()
        )
    );
}

/// The real `tessera` binary, run in a working directory of the test's choosing.
#[derive(Clone)]
pub struct Binary {
    pub cwd: PathBuf,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    /// Run under this umask (through `sh -c 'umask …; exec …'`).
    pub umask: Option<&'static str>,
}

impl Binary {
    pub fn new(cwd: &Path) -> Self {
        Self {
            cwd: cwd.to_owned(),
            args: Vec::new(),
            env: Vec::new(),
            umask: None,
        }
    }

    pub fn umask(mut self, umask: &'static str) -> Self {
        self.umask = Some(umask);
        self
    }

    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.args.push(arg.into());
        self
    }

    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }

    /// The command this binary runs, with a clean environment and the test's settings.
    pub fn command(&self) -> Command {
        let mut command = match self.umask {
            None => Command::new(env!("CARGO_BIN_EXE_tessera")),
            Some(umask) => {
                let mut shell = Command::new("sh");
                shell
                    .arg("-c")
                    .arg(format!("umask {umask}; exec \"$0\" \"$@\""))
                    .arg(env!("CARGO_BIN_EXE_tessera"));
                shell
            }
        };
        command.current_dir(&self.cwd).args(&self.args);
        // Start from a clean slate: no setting leaks in from the developer's shell.
        for (key, _) in std::env::vars() {
            if key.starts_with("TESSERA_") || key.starts_with("AYANOVA_") {
                command.env_remove(key);
            }
        }
        command.env("TESSERA_LOG", "warn");
        for (key, value) in &self.env {
            command.env(key, value);
        }
        command
    }

    /// Runs to completion: (exit code, stdout, stderr).
    pub fn output(&self) -> (i32, String, String) {
        let output = self.command().stdin(Stdio::null()).output().unwrap();
        (
            output.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }

    /// As [`Binary::output`] for a run that must end by itself (a server refusing to start):
    /// kills the process and fails the test when it is still running after `limit`.
    pub fn output_within(&self, limit: Duration) -> (i32, String, String) {
        let child = self
            .command()
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let id = child.id();
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = sender.send(child.wait_with_output());
        });
        let Ok(output) = receiver.recv_timeout(limit) else {
            let _ = Command::new("kill")
                .arg("-KILL")
                .arg(id.to_string())
                .status();
            panic!(
                "still running after {limit:?}: {:?} did not stop",
                self.args
            );
        };
        let output = output.unwrap();
        (
            output.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }

    /// Runs with `input` on standard input.
    pub fn output_with_stdin(&self, input: &str) -> (i32, String, String) {
        use std::io::Write as _;
        let mut child = self
            .command()
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        let output = child.wait_with_output().unwrap();
        (
            output.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }

    /// Starts `serve` and waits for the line announcing the bound address.
    pub fn serve(&self) -> RunningBinary {
        let mut child = self
            .command()
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let mut seen = Vec::new();
        let base = loop {
            let Some(line) = lines.next() else {
                let _ = child.kill();
                let output = child.wait_with_output().unwrap();
                panic!(
                    "server exited before listening; stdout: {seen:?}; stderr: {}",
                    String::from_utf8_lossy(&output.stderr)
                );
            };
            let line = line.unwrap();
            if let Some(rest) = line.strip_prefix("tessera listening on ") {
                break rest.to_owned();
            }
            seen.push(line);
        };
        RunningBinary {
            child,
            base,
            announced: seen,
        }
    }
}

/// A `tessera serve` process; killed when dropped.
pub struct RunningBinary {
    child: Child,
    pub base: String,
    /// What the server printed before it announced its address.
    pub announced: Vec<String>,
}

impl Drop for RunningBinary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl RunningBinary {
    /// Stops the server and returns everything it wrote to stderr.
    pub fn stop(mut self) -> String {
        use std::io::Read as _;
        let _ = self.child.kill();
        let mut stderr = String::new();
        if let Some(mut pipe) = self.child.stderr.take() {
            let _ = pipe.read_to_string(&mut stderr);
        }
        stderr
    }

    /// Sends SIGTERM, as a service manager stopping the server would.
    #[cfg(unix)]
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success(), "kill -TERM failed");
    }

    /// Waits at most `limit` for the process to exit (seen as its stderr closing) and returns
    /// its exit status and stderr; `None` when it is still running.
    pub fn wait_for_exit(
        &mut self,
        limit: std::time::Duration,
    ) -> Option<(std::process::ExitStatus, String)> {
        use std::io::Read as _;
        let mut pipe = self.child.stderr.take()?;
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut stderr = String::new();
            let _ = pipe.read_to_string(&mut stderr);
            let _ = sender.send(stderr);
        });
        let stderr = receiver.recv_timeout(limit).ok()?;
        Some((self.child.wait().unwrap(), stderr))
    }

    /// Sends SIGTERM, as a service manager stops the server, and waits for it to exit:
    /// (exit code, everything it wrote to stderr).
    pub fn terminate_and_wait(mut self) -> (i32, String) {
        self.terminate();
        let (status, stderr) = self
            .wait_for_exit(std::time::Duration::from_secs(120))
            .expect("the server did not exit within two minutes of SIGTERM");
        (status.code().unwrap_or(-1), stderr)
    }

    pub async fn login(&self, username: &str, password: &str) -> Answer {
        let response = reqwest::Client::new()
            .post(format!("{}/api/auth/login", self.base))
            .json(&json!({ "username": username, "password": password }))
            .send()
            .await
            .unwrap();
        Answer::from(response).await
    }

    pub async fn me(&self, token: &str) -> Answer {
        self.get("/api/auth/me", token).await
    }

    /// `GET path` with a bearer token.
    pub async fn get(&self, path: &str, token: &str) -> Answer {
        let response = reqwest::Client::new()
            .get(format!("{}{path}", self.base))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        Answer::from(response).await
    }
}

impl TestEnv {
    /// The test clock's current time.
    pub fn clock_now(&self) -> i64 {
        use tessera::clock::Clock as _;
        self.clock.now()
    }
}

/// A verifier elsewhere: a token codec rebuilt from the secret's key characters, with the
/// default issuer and the given audience and leeway.
pub fn codec(key: &str, audience: &str, leeway_seconds: u64) -> tessera_token::TokenCodec {
    tessera_token::TokenCodec::new(
        tessera_token::SigningKey::from_bytes(key.as_bytes()).unwrap(),
        tessera_token::TokenRules {
            issuer: "tessera".into(),
            audience: audience.into(),
            leeway_seconds,
        },
    )
    .unwrap()
}

/// The decoded protected header of a compact JWS.
pub fn token_header(token: &str) -> Value {
    use base64::Engine as _;
    let segment = token.split('.').next().unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(segment)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// The `kid` of a token's header.
pub fn kid_of(token: &str) -> String {
    token_header(token)["kid"].as_str().unwrap().to_owned()
}
