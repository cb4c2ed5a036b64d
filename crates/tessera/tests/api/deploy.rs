//! The systemd unit in `deploy/` stays true to the binary: its settings are real and valid,
//! its command exists, and systemd accepts the unit.

use std::path::Path;
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
