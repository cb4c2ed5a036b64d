//! Interoperability through the JWKS: tokens of every asymmetric algorithm, verified by the two
//! libraries resource servers use most, PyJWT (with `cryptography`, from PyPI) and `jose`
//! (npm), each fetching `/.well-known/jwks.json` itself with its cache on, while tokens keep
//! coming and an operator rotates the signing key in the middle.
//!
//! What it proves: the key that starts signing at a rotation was already in the key set the
//! verifiers had cached (published as *next* before it signs), so neither library rejects a
//! token nor even needs to fetch the set again; and tokens signed before the rotation stay
//! valid (the old key is *retired*, still published).
//!
//! The packages are installed on first use from their registries at the versions pinned in
//! `tests/interop/` (`npm ci`, and `pip install --target` into `target/interop-python`); a
//! missing Python or Node fails the test with what to install, never skips it.

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Binary, RunningBinary, TestEnv, kid_of};

const ADMIN_PASSWORD: &str = "interop admin password 1";
const KEY_ENCRYPTION_SECRET: &str = "interop-key-encryption-secret-0123456789";
/// Tokens verified before the rotation and after it, by each library.
const TOKENS_PER_PHASE: usize = 120;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// Held while the packages are checked and installed: the three tests run at once, and an
/// install under a verifier that is starting breaks its imports.
static INSTALL: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// `tests/interop/node_modules` with jose, installed by `npm ci` when missing.
fn node_packages() -> PathBuf {
    let _installing = INSTALL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let dir = root().join("tests/interop");
    if !dir.join("node_modules/jose/package.json").is_file() {
        let status = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--prefix"])
            .arg(&dir)
            .status()
            .unwrap_or_else(|error| {
                panic!("npm is not installed ({error}): apt-get install -y nodejs npm")
            });
        assert!(
            status.success(),
            "npm ci --prefix tests/interop failed ({status})"
        );
    }
    dir
}

/// A directory holding PyJWT and cryptography, installed by pip when missing.
fn python_packages() -> PathBuf {
    let _installing = INSTALL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| root().join("target"), PathBuf::from)
        .join("interop-python");
    let requirements = root().join("tests/interop/requirements.txt");
    let stamp = target.join("installed-requirements.txt");
    let wanted = std::fs::read_to_string(&requirements).unwrap();
    if std::fs::read_to_string(&stamp).ok().as_deref() != Some(wanted.as_str()) {
        let status = Command::new("python3")
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
            ])
            .arg("--target")
            .arg(&target)
            .arg("--upgrade")
            .arg("-r")
            .arg(&requirements)
            .status()
            .unwrap_or_else(|error| panic!("python3 is not installed ({error})"));
        assert!(
            status.success(),
            "pip install -r tests/interop/requirements.txt failed ({status})"
        );
        std::fs::write(&stamp, wanted).unwrap();
    }
    target
}

/// One verifier process, spoken to one token per line.
struct Verifier {
    name: &'static str,
    child: Child,
    input: ChildStdin,
    output: BufReader<ChildStdout>,
}

impl Drop for Verifier {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Verifier {
    fn spawn(name: &'static str, mut command: Command) -> Self {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start the {name} verifier: {error}"));
        let input = child.stdin.take().unwrap();
        let output = BufReader::new(child.stdout.take().unwrap());
        Self {
            name,
            child,
            input,
            output,
        }
    }

    fn jose(jwks: &str, algorithm: &str) -> Self {
        let dir = node_packages();
        let mut command = Command::new("node");
        command
            .current_dir(&dir)
            .arg("verify_jose.mjs")
            .args([jwks, "tessera", "tessera", algorithm]);
        Self::spawn("jose", command)
    }

    fn pyjwt(jwks: &str, algorithm: &str) -> Self {
        let packages = python_packages();
        let mut command = Command::new("python3");
        command
            .current_dir(root().join("tests/interop"))
            .env("PYTHONPATH", packages)
            .arg("verify_pyjwt.py")
            .args([jwks, "tessera", "tessera", algorithm]);
        Self::spawn("PyJWT", command)
    }

    fn line(&mut self) -> Value {
        let mut line = String::new();
        let read = self.output.read_line(&mut line).unwrap();
        assert!(read > 0, "the {} verifier exited", self.name);
        serde_json::from_str(&line)
            .unwrap_or_else(|error| panic!("{} printed {line:?}: {error}", self.name))
    }

    /// Sends every token at once (the verifier works through them as fast as it can), then
    /// reads one verdict per token.
    fn verify_all(&mut self, tokens: &[String]) -> Vec<Value> {
        let mut batch = String::new();
        for token in tokens {
            batch.push_str(token);
            batch.push('\n');
        }
        self.input.write_all(batch.as_bytes()).unwrap();
        self.input.flush().unwrap();
        tokens.iter().map(|_| self.line()).collect()
    }

    fn fetches(&mut self) -> u64 {
        self.input.write_all(b"stats\n").unwrap();
        self.input.flush().unwrap();
        self.line()["fetches"].as_u64().unwrap()
    }
}

/// The real binary on `env`'s database, signing with `algorithm`.
fn tessera(env: &TestEnv, algorithm: &str) -> Binary {
    Binary::new(env.path())
        .arg(format!("--TESSERA_DATABASE_URL={}", env.database_url()))
        .env("TESSERA_JWT_ALGORITHM", algorithm)
        .env("TESSERA_KEY_ENCRYPTION_SECRET", KEY_ENCRYPTION_SECRET)
        .env(
            "TESSERA_JWT_SECRET",
            "interop-unused-hs256-secret-0123456789",
        )
        .env("TESSERA_ADMIN_PASSWORD", ADMIN_PASSWORD)
        // Verifiers here keep the set as long as they like; what matters is that a key is in
        // the set before it signs, which holds for any max-age.
        .env("TESSERA_JWKS_MAX_AGE_SECONDS", "0")
}

struct Session {
    client: reqwest::Client,
    base: String,
    refresh_token: String,
}

impl Session {
    async fn login(server: &RunningBinary) -> Self {
        let client = reqwest::Client::new();
        let answer = client
            .post(format!("{}/api/auth/login", server.base))
            .json(&json!({"username": "admin", "password": ADMIN_PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), StatusCode::OK);
        let body: Value = answer.json().await.unwrap();
        Self {
            client,
            base: server.base.clone(),
            refresh_token: body["refresh_token"].as_str().unwrap().to_owned(),
        }
    }

    /// A fresh access token, by a refresh (cheap, unlike a login).
    async fn token(&mut self) -> String {
        let answer = self
            .client
            .post(format!("{}/api/auth/refresh", self.base))
            .json(&json!({"refresh_token": self.refresh_token}))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), StatusCode::OK);
        let body: Value = answer.json().await.unwrap();
        self.refresh_token = body["refresh_token"].as_str().unwrap().to_owned();
        body["access_token"].as_str().unwrap().to_owned()
    }

    async fn tokens(&mut self, count: usize) -> Vec<String> {
        let mut tokens = Vec::with_capacity(count);
        for _ in 0..count {
            tokens.push(self.token().await);
        }
        tokens
    }
}

fn assert_all_accepted(verifier: &str, phase: &str, verdicts: &[Value]) {
    let rejected: Vec<&Value> = verdicts.iter().filter(|v| v["ok"] != true).collect();
    assert!(
        rejected.is_empty(),
        "{verifier} rejected {} of {} valid tokens {phase}; first: {}",
        rejected.len(),
        verdicts.len(),
        rejected[0]
    );
}

async fn rotation_under_load(algorithm: &str) {
    let env = TestEnv::new();
    let server = tessera(&env, algorithm)
        .arg("serve")
        .env("TESSERA_LISTEN", "127.0.0.1:0")
        .serve();
    let jwks = format!("{}/.well-known/jwks.json", server.base);
    let mut session = Session::login(&server).await;
    let mut verifiers = [
        Verifier::jose(&jwks, algorithm),
        Verifier::pyjwt(&jwks, algorithm),
    ];

    let before = session.tokens(TOKENS_PER_PHASE).await;
    let old_kid = kid_of(&before[0]);
    assert!(before.iter().all(|token| kid_of(token) == old_kid));
    for verifier in &mut verifiers {
        let verdicts = verifier.verify_all(&before);
        assert_all_accepted(verifier.name, "before the rotation", &verdicts);
    }

    // The operator rotates: the command returns once the running server signs with the new key.
    let (code, stdout, stderr) = tessera(&env, algorithm).arg("keys").arg("rotate").output();
    assert_eq!(code, 0, "keys rotate: {stdout}{stderr}");

    let after = session.tokens(TOKENS_PER_PHASE).await;
    let new_kid = kid_of(&after[0]);
    assert_ne!(new_kid, old_kid, "the server still signs with the old key");
    assert!(after.iter().all(|token| kid_of(token) == new_kid));
    // New tokens and the ones issued before, interleaved, as a resource server sees them.
    let mixed: Vec<String> = after
        .iter()
        .zip(&before)
        .flat_map(|(new, old)| [new.clone(), old.clone()])
        .collect();
    for verifier in &mut verifiers {
        let verdicts = verifier.verify_all(&mixed);
        assert_all_accepted(verifier.name, "after the rotation", &verdicts);
        let kids: std::collections::BTreeSet<&str> =
            verdicts.iter().filter_map(|v| v["kid"].as_str()).collect();
        assert_eq!(kids.len(), 2, "{}: {kids:?}", verifier.name);
        // The new key was in the set fetched at the start: no second fetch was needed.
        assert_eq!(
            verifier.fetches(),
            1,
            "{} had to fetch the key set again: the new key was not published before it signed",
            verifier.name
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pyjwt_and_jose_verify_eddsa_tokens_across_a_rotation() {
    rotation_under_load("EdDSA").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pyjwt_and_jose_verify_es256_tokens_across_a_rotation() {
    rotation_under_load("ES256").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pyjwt_and_jose_verify_rs256_tokens_across_a_rotation() {
    rotation_under_load("RS256").await;
}
