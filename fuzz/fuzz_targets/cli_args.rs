//! `--NAME=value` command-line settings: `split_cli_args` on any argv (arguments separated by
//! NUL bytes, any bytes, non-UTF-8 included), then resolution of what it split out. Never a
//! panic; the split keeps everything else in order and is idempotent; a secret never shows.
#![no_main]

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt as _;

use libfuzzer_sys::fuzz_target;
use tessera_config::{RawSources, split_cli_args};
use tessera_fuzz::{resolve_and_render, shown_errors};

const PREFIXES: [&[u8]; 2] = [b"--TESSERA_", b"--AYANOVA_"];

fuzz_target!(|data: &[u8]| {
    let args: Vec<OsString> = if data.is_empty() {
        Vec::new()
    } else {
        data.split(|&b| b == 0)
            .map(|arg| OsString::from_vec(arg.to_vec()))
            .collect()
    };
    let (settings, remaining) = match split_cli_args(args.clone()) {
        Ok(split) => split,
        Err(errors) => {
            assert!(!errors.0.is_empty(), "an error without a problem");
            let _ = shown_errors(&errors);
            return;
        }
    };

    // The program name stays first; what is left is `args` in order, minus the settings.
    assert_eq!(remaining.first(), args.first(), "the program name moved");
    let mut rest = args.iter();
    for kept in &remaining {
        assert!(
            rest.any(|arg| arg == kept),
            "an argument was reordered or invented"
        );
    }
    let consumed = args.len() - remaining.len();
    assert!(settings.len() <= consumed && consumed <= 2 * settings.len());
    let end = remaining
        .iter()
        .position(|arg| arg == "--")
        .unwrap_or(remaining.len());
    for arg in remaining.iter().take(end).skip(1) {
        let bytes = arg.as_encoded_bytes();
        assert!(
            !PREFIXES.iter().any(|p| bytes.starts_with(p)),
            "a setting was left for clap"
        );
    }
    for (name, _) in &settings {
        assert!(
            name.starts_with("TESSERA_") || name.starts_with("AYANOVA_"),
            "{name:?}"
        );
        assert!(!name.contains('='), "{name:?}");
    }

    // Splitting what is left finds nothing more; the settings written as `--NAME=value`
    // split back to themselves.
    let (none, same) = split_cli_args(remaining.clone()).expect("the remainder splits");
    assert!(
        none.is_empty() && same == remaining,
        "splitting is not idempotent"
    );
    let mut written = vec![OsString::from("tessera")];
    written.extend(
        settings
            .iter()
            .map(|(n, v)| OsString::from(format!("--{n}={v}"))),
    );
    let (again, _) = split_cli_args(written).expect("written settings split");
    assert_eq!(again, settings, "--NAME=value does not round-trip");

    let sources = RawSources {
        cli: settings.clone(),
        env: Vec::new(),
        file: None,
        secret_files: Vec::new(),
    };
    resolve_and_render(&sources, &settings);
});
