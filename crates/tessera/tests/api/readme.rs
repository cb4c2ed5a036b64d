//! README's walkthrough ("A first login"), run as written against the real binary.
//!
//! The README marks two `console` blocks: `<!-- walkthrough: server -->` (its last command
//! starts the server) and `<!-- walkthrough: client -->`. A line starting with `$ ` is a
//! command (a trailing `\` continues it on the next line); the lines after it are what it
//! prints, where `…` stands for any text and runs of spaces count as one. Both blocks run in
//! one empty directory with the freshly built `tessera` first on the `PATH`; the server
//! listens on a free port, which replaces `127.0.0.1:8420` wherever the README shows it.

use std::io::{BufRead as _, BufReader};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// The address the README shows; the test's server has its own.
const README_ADDRESS: &str = "127.0.0.1:8420";

#[derive(Debug)]
struct Step {
    command: String,
    expected: Vec<String>,
}

/// The `console` block that follows `marker`, as commands and their expected output.
fn block(readme: &str, marker: &str) -> Vec<Step> {
    let start = readme
        .find(marker)
        .unwrap_or_else(|| panic!("README.md has no {marker}"));
    let mut lines = readme[start..].lines().skip(1);
    assert_eq!(
        lines.next().map(str::trim),
        Some("```console"),
        "{marker} must be followed by a ```console block"
    );
    let mut steps: Vec<Step> = Vec::new();
    let mut continued = false;
    for line in lines.by_ref() {
        if line.trim() == "```" {
            break;
        }
        if continued {
            let step = steps.last_mut().unwrap();
            step.command.push('\n');
            step.command.push_str(line);
        } else if let Some(command) = line.strip_prefix("$ ") {
            steps.push(Step {
                command: command.to_owned(),
                expected: Vec::new(),
            });
        } else {
            let step = steps
                .last_mut()
                .unwrap_or_else(|| panic!("output before any command in {marker}: {line}"));
            step.expected.push(line.to_owned());
        }
        continued = line.ends_with('\\');
    }
    assert!(!steps.is_empty(), "{marker} block has no commands");
    steps
}

fn squeeze(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Whether `actual` is `expected` with each `…` standing for any text.
fn matches(expected: &str, actual: &str) -> bool {
    let (expected, actual) = (squeeze(expected), squeeze(actual));
    let pieces: Vec<&str> = expected.split('…').collect();
    let (first, rest) = pieces.split_first().unwrap();
    let Some(mut remaining) = actual.strip_prefix(first) else {
        return false;
    };
    let Some((last, middle)) = rest.split_last() else {
        return remaining.is_empty();
    };
    for piece in middle {
        match remaining.find(piece) {
            Some(at) => remaining = &remaining[at + piece.len()..],
            None => return false,
        }
    }
    remaining.ends_with(last) && remaining.len() >= last.len()
}

fn assert_output(step: &Step, actual: &str, address: &str) {
    let actual: Vec<&str> = actual.lines().filter(|l| !l.trim().is_empty()).collect();
    let expected: Vec<String> = step
        .expected
        .iter()
        .map(|line| line.replace(README_ADDRESS, address))
        .collect();
    let ok =
        actual.len() == expected.len() && expected.iter().zip(&actual).all(|(e, a)| matches(e, a));
    assert!(
        ok,
        "README step `{}` printed\n{}\nbut README shows\n{}",
        step.command,
        actual.join("\n"),
        expected.join("\n")
    );
}

/// A shell in the walkthrough's directory, with the built binary first on the `PATH` and no
/// setting inherited from the developer's environment.
fn shell(dir: &Path) -> Command {
    let binary = PathBuf::from(env!("CARGO_BIN_EXE_tessera"));
    let path = format!(
        "{}:{}",
        binary.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut command = Command::new("bash");
    command.current_dir(dir).env("PATH", path);
    for (key, _) in std::env::vars() {
        if key.starts_with("TESSERA_") || key.starts_with("AYANOVA_") {
            command.env_remove(key);
        }
    }
    command.env("TESSERA_LOG", "warn");
    command
}

/// Runs `steps` in one shell and returns each one's standard output, checking that each
/// command succeeded.
fn run_steps(dir: &Path, steps: &[Step], address: &str) -> Vec<String> {
    let mut script = String::new();
    for (index, step) in steps.iter().enumerate() {
        script.push_str(&format!("printf '\\n@@step {index}@@\\n'\n"));
        script.push_str(&step.command.replace(README_ADDRESS, address));
        script.push_str("\nprintf '\\n@@status %d@@\\n' $?\n");
    }
    let output = shell(dir).arg("-c").arg(&script).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let mut outputs = Vec::new();
    for (index, step) in steps.iter().enumerate() {
        let marker = format!("@@step {index}@@");
        let after = stdout
            .split_once(&marker)
            .unwrap_or_else(|| panic!("step `{}` never ran; stderr: {stderr}", step.command))
            .1;
        let (printed, status) = after.split_once("@@status ").unwrap();
        let status = status.split_once("@@").unwrap().0;
        assert_eq!(
            status, "0",
            "README step `{}` failed; it printed {printed}; stderr: {stderr}",
            step.command
        );
        outputs.push(printed.to_owned());
    }
    outputs
}

/// The server, in its own process group so that the shell and the server stop together.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let group = format!("-{}", self.0.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.0.wait();
    }
}

#[test]
fn walkthrough_runs_as_written() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md"))
            .unwrap();
    let server_steps = block(&readme, "<!-- walkthrough: server -->");
    let client_steps = block(&readme, "<!-- walkthrough: client -->");
    let dir = tempfile::tempdir().unwrap();

    let (serve, setup) = server_steps.split_last().unwrap();
    for (step, printed) in setup
        .iter()
        .zip(run_steps(dir.path(), setup, README_ADDRESS))
    {
        assert_output(step, &printed, README_ADDRESS);
    }

    let mut child = shell(dir.path())
        .arg("-c")
        .arg(&serve.command)
        .env("TESSERA_LISTEN", "127.0.0.1:0")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let server = Server(child);
    let mut printed = Vec::new();
    let mut address = None;
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        let listening = line
            .strip_prefix("tessera listening on http://")
            .map(str::to_owned);
        printed.push(line);
        if listening.is_some() {
            address = listening;
            break;
        }
    }
    let address = address.unwrap_or_else(|| {
        panic!(
            "`{}` never said it was listening: {printed:?}",
            serve.command
        )
    });
    assert_output(serve, &printed.join("\n"), &address);

    for (step, printed) in client_steps
        .iter()
        .zip(run_steps(dir.path(), &client_steps, &address))
    {
        assert_output(step, &printed, &address);
    }
    drop(server);
}

#[test]
fn the_output_pattern_is_strict_outside_its_wildcards() {
    assert!(matches("a … c", "a b c"));
    assert!(matches("a…", "abc"));
    assert!(matches("{\"x\":1,…}", "{\"x\":1,\"y\":2}"));
    assert!(matches("admin  …  yes", "admin 123 yes"));
    assert!(!matches("a … c", "a b d"));
    assert!(!matches("abc", "abcd"));
    assert!(!matches("…x…x", "ax"));
    assert!(!matches("{\"error\":\"invalid_token\",…}", "{\"user\":{}}"));
}

/// Every file of the repository that a build, a test or CI reads, outside `target/`.
fn repository_files(root: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![root.to_owned()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let entry = entry.unwrap();
            let path = entry.path();
            let name = entry.file_name();
            if entry.file_type().unwrap().is_dir() {
                if !matches!(
                    name.to_str(),
                    Some("target" | ".git" | "corpus" | "artifacts")
                ) {
                    pending.push(path);
                }
            } else {
                files.push(path);
            }
        }
    }
    files
}

#[test]
fn the_repository_stands_alone() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let license = std::fs::read_to_string(root.join("LICENSE")).unwrap();
    assert!(license.contains("Apache License") && license.contains("Version 2.0"));
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    assert!(manifest.contains("license = \"Apache-2.0\""));
    // Nothing reaches outside the repository for its inputs.
    // The team's reference folder beside the checkout, spelled so that this file does not
    // name it itself.
    let folder = ["sha", "red"].concat();
    let outside = [format!("../{folder}"), format!("../../{folder}")];
    for file in repository_files(&root) {
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        for needle in &outside {
            assert!(
                !text.contains(needle.as_str()),
                "{} refers to {needle}, which is not part of the repository",
                file.display()
            );
        }
    }
}
