//! The systemd unit in `deploy/` stays true to the binary: its settings are real and valid,
//! its command exists, and systemd accepts the unit. `deploy/cluster.sh` brings three
//! instances up behind nginx on one PostgreSQL database and its smoke test passes.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::helpers::Binary;

fn unit() -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/tessera.service"),
    )
    .unwrap()
}

/// The `NAME=value` pairs of the unit's `Environment=` lines.
fn environment(unit: &str) -> Vec<(String, String)> {
    unit.lines()
        .filter_map(|line| line.strip_prefix("Environment="))
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap();
            (name.to_owned(), value.to_owned())
        })
        .collect()
}

#[test]
fn the_units_settings_pass_config_check() {
    let unit = unit();
    let settings = environment(&unit);
    assert!(
        settings
            .iter()
            .any(|(name, _)| name == "TESSERA_DATABASE_URL"),
        "the unit must put the database in its state directory"
    );
    let dir = tempfile::tempdir().unwrap();
    let mut binary = Binary::new(dir.path())
        .arg("config")
        .arg("check")
        .env("TESSERA_JWT_SECRET", "unit-test-secret-0123456789abcdef");
    for (name, value) in &settings {
        binary = binary.env(name, value);
    }
    let (code, stdout, stderr) = binary.output();
    assert_eq!(
        code, 0,
        "config check refused the unit's settings: {stdout}{stderr}"
    );
    for (name, value) in &settings {
        assert!(
            stdout.contains(name) && stdout.contains(value.as_str()),
            "config check does not show {name}={value} as effective: {stdout}"
        );
    }
    assert!(!stderr.contains("unknown setting"), "{stderr}");
}

#[test]
fn systemd_accepts_the_unit() {
    let unit = unit();
    let exec = unit
        .lines()
        .find_map(|line| line.strip_prefix("ExecStart="))
        .unwrap();
    let (program, args) = exec.split_once(' ').unwrap();
    assert_eq!(program, "/usr/local/bin/tessera");
    assert_eq!(args, "serve");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tessera.service");
    std::fs::write(&path, unit.replace(program, env!("CARGO_BIN_EXE_tessera"))).unwrap();
    let Ok(output) = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(&path)
        .output()
    else {
        // Machines without systemd cannot check the unit's syntax; the settings test above
        // still holds it to the binary.
        eprintln!("systemd-analyze is not installed; unit syntax not checked");
        return;
    };
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stderr.trim().is_empty(),
        "systemd-analyze verify: {stderr}"
    );
}

/// nginx on the `PATH`, or where Debian puts it (`/usr/sbin` is not on every user's `PATH`).
fn nginx() -> Option<PathBuf> {
    std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .chain([PathBuf::from("/usr/sbin")])
        .map(|dir| dir.join("nginx"))
        .find(|candidate| candidate.is_file())
}

/// The `PORT` of every `127.0.0.1:PORT` and `ports A B C` in the script's result line.
fn ports_in(line: &str) -> Vec<u16> {
    let after = |marker: &str| line.split_once(marker).map_or("", |(_, rest)| rest);
    let instances = after("(ports ").split(')').next().unwrap_or("");
    let balancer = after("127.0.0.1:").split(';').next().unwrap_or("");
    instances
        .split_whitespace()
        .chain([balancer])
        .map(|port| port.parse().unwrap())
        .collect()
}

#[test]
fn the_cluster_script_passes_its_smoke_test_and_stops_what_it_started() {
    assert!(
        nginx().is_some(),
        "nginx is not installed, and deploy/cluster.sh needs it: \
         apt-get install -y nginx-light (Debian/Ubuntu; .ci/run installs it)"
    );
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/cluster.sh");
    let output = Command::new("bash")
        .arg(&script)
        .arg("--binary")
        .arg(env!("CARGO_BIN_EXE_tessera"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let result = stdout.lines().last().unwrap_or("");
    assert!(
        output.status.success() && result.starts_with("cluster: ok: 3 instances (ports "),
        "deploy/cluster.sh exited with {}: {stdout}{stderr}",
        output.status
    );
    let ports = ports_in(result);
    assert_eq!(ports.len(), 4, "three instances and nginx: {result}");
    for port in ports {
        assert!(
            TcpStream::connect(("127.0.0.1", port)).is_err(),
            "something still listens on 127.0.0.1:{port} after deploy/cluster.sh: {result}"
        );
    }
}
