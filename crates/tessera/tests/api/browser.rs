//! The Node suites, run from here so that `cargo test` covers them: the browser suite
//! (`tests/browser/`: the real binary's pages and JS client in headless Chromium, through
//! playwright-core) and the JS client's unit tests (`clients/js/test/`). Each needs Node 20
//! or later; the browser suite also Debian's Chromium and its npm packages, which it
//! installs itself when they are missing (`npm ci --prefix tests/browser`, the versions of
//! its lock file). A missing piece fails the test with what to install, never skips it.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The repository's root.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// The Chromium the browser suite drives (the harness reads the same variable).
fn chromium() -> PathBuf {
    std::env::var_os("TESSERA_CHROMIUM")
        .map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from)
}

/// Fails the test unless `node` runs and is version 20 or later (`node --test` with
/// `--test-concurrency`).
fn require_node() {
    let output = Command::new("node")
        .arg("--version")
        .output()
        .unwrap_or_else(|error| {
            panic!(
                "node is not installed or not on the PATH ({error}): the browser suite and the JS \
             client's tests need Node 20 or later (apt-get install -y nodejs npm)"
            )
        });
    let version = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    let major: u32 = version
        .trim_start_matches('v')
        .split('.')
        .next()
        .and_then(|major| major.parse().ok())
        .unwrap_or(0);
    assert!(
        output.status.success() && major >= 20,
        "node --version printed {version:?}: the Node suites need Node 20 or later"
    );
}

/// Every file under `dir` (recursively) whose name satisfies `keep`, sorted.
fn files(dir: &Path, keep: &dyn Fn(&str) -> bool) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().and_then(OsStr::to_str).unwrap_or("");
            if path.is_dir() {
                if name != "node_modules" {
                    pending.push(path);
                }
            } else if keep(name) {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

/// Runs `node --test --test-concurrency=1` on `tests` from the repository's root with
/// `TESSERA_BIN` set to this build's binary; fails with node's whole output unless every
/// test passed.
fn node_test(what: &str, tests: &[PathBuf]) {
    let root = root();
    let mut command = Command::new("node");
    command
        .current_dir(&root)
        .arg("--test")
        .arg("--test-concurrency=1")
        // One test that hangs fails alone, with its name, instead of the whole suite.
        .arg("--test-timeout=300000")
        .args(
            tests
                .iter()
                .map(|path| path.strip_prefix(&root).unwrap_or(path)),
        )
        .env("TESSERA_BIN", env!("CARGO_BIN_EXE_tessera"));
    // The harness starts the server with a clean slate; nothing of the developer's settings
    // reaches the node process either.
    for (key, _) in std::env::vars() {
        if key.starts_with("AYANOVA_") || (key.starts_with("TESSERA_") && key != "TESSERA_CHROMIUM")
        {
            command.env_remove(key);
        }
    }
    let output = command
        .output()
        .unwrap_or_else(|error| panic!("could not run node for {what}: {error}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{what} failed (node exited with {}):\n{stdout}\n{stderr}",
        output.status
    );
    // node's closing counts, for the log of a passing run.
    for line in stdout.lines().filter(|line| line.starts_with("# ")) {
        println!("{what}: {}", line.trim_start_matches("# "));
    }
}

#[test]
fn the_pages_and_the_js_client_pass_the_browser_suite_in_chromium() {
    require_node();
    let chromium = chromium();
    assert!(
        chromium.is_file(),
        "{} is missing: the browser suite drives Debian's Chromium \
         (apt-get install -y chromium; .ci/run installs it)",
        chromium.display()
    );
    let suite = root().join("tests/browser");
    let installed = |package: &str| {
        suite
            .join("node_modules")
            .join(package)
            .join("package.json")
            .is_file()
    };
    let packages = ["playwright-core", "axe-core"];
    if !packages.iter().all(|package| installed(package)) {
        // A fresh clone: the exact versions of package-lock.json, from the npm registry.
        let status = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--prefix"])
            .arg(&suite)
            .status()
            .unwrap_or_else(|error| {
                panic!("npm is not installed ({error}): apt-get install -y nodejs npm")
            });
        assert!(
            status.success(),
            "npm ci --prefix tests/browser failed ({status}); the browser suite needs its \
             packages from the npm registry"
        );
    }
    for package in packages {
        assert!(
            installed(package),
            "tests/browser/node_modules/{package} is missing after npm ci --prefix tests/browser"
        );
    }
    let tests = files(&suite, &|name| name.ends_with(".test.mjs"));
    assert!(!tests.is_empty(), "no tests/browser/*.test.mjs to run");
    node_test("the browser suite", &tests);
}

#[test]
fn the_js_clients_unit_tests_pass() {
    require_node();
    let dir = root().join("clients/js/test");
    assert!(
        dir.is_dir(),
        "clients/js/test is missing: the JS client's unit tests live there"
    );
    // What `node --test clients/js/test/` runs: every JavaScript file of a `test` directory.
    let tests = files(&dir, &|name| {
        [".js", ".mjs", ".cjs"]
            .iter()
            .any(|extension| name.ends_with(extension))
    });
    assert!(!tests.is_empty(), "clients/js/test holds no test file");
    node_test("the JS client's unit tests", &tests);
}
