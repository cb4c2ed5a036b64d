//! Command-line settings: `--TESSERA_*` and `--AYANOVA_*` arguments, taken out of argv before
//! clap sees the rest. An upper-case `--NAME` without either prefix (`--JWT_EXPIRY=15`) is a
//! setting missing its prefix, not one of clap's lower-case options: it is an error naming the
//! nearest setting.
//!
//! Invariant: this module never interprets a setting's value; it only splits names from values.

use std::ffi::OsString;

use crate::Source;
use crate::error::{ConfigError, ConfigErrors};

/// Prefixes of arguments that are settings.
const SETTING_PREFIXES: [&str; 2] = ["--TESSERA_", "--AYANOVA_"];

/// `(NAME, value)` pairs of settings, in the order they were given.
pub type SettingPairs = Vec<(String, String)>;

/// Splits settings out of a full argv.
///
/// `args` is the whole argv **including the program name** at index 0, as
/// `std::env::args_os().collect()` gives it; the program name is kept as the first remaining
/// argument, which is what `clap::Parser::parse_from` expects.
///
/// Every argument starting with `--TESSERA_` or `--AYANOVA_` is a setting, wherever it is
/// (before or after a subcommand), in either form `--NAME=value` or `--NAME value`. A bare `--`
/// ends the search: it and everything after it are left for clap untouched. Other arguments
/// are left as they are, non-UTF-8 ones included.
///
/// Errors (all reported together): `--NAME` with no value (at the end, or followed by another
/// `--` argument; write `--NAME=--value` for a value starting with `--`), a setting argument
/// or value that is not valid UTF-8, and an upper-case `--NAME` (letters, digits and `_`) that
/// lacks the `TESSERA_`/`AYANOVA_` prefix.
pub fn split_cli_args(args: Vec<OsString>) -> Result<(SettingPairs, Vec<OsString>), ConfigErrors> {
    let mut settings = Vec::new();
    let mut remaining = Vec::with_capacity(args.len());
    let mut errors = Vec::new();
    let mut args = args.into_iter().peekable();
    remaining.extend(args.next());
    while let Some(arg) = args.next() {
        if arg == "--" {
            remaining.push(arg);
            remaining.extend(args.by_ref());
            break;
        }
        let bytes = arg.as_encoded_bytes();
        if !SETTING_PREFIXES
            .iter()
            .any(|prefix| bytes.starts_with(prefix.as_bytes()))
        {
            match unprefixed_setting(&arg) {
                Some(name) => errors.push(missing_prefix(name)),
                None => remaining.push(arg),
            }
            continue;
        }
        let Some(text) = arg.to_str() else {
            errors.push(not_utf8(&arg));
            continue;
        };
        let body = text.trim_start_matches('-');
        if let Some((name, value)) = body.split_once('=') {
            settings.push((name.to_owned(), value.to_owned()));
            continue;
        }
        let name = body.to_owned();
        let next_is_value = args
            .peek()
            .is_some_and(|next| !next.as_encoded_bytes().starts_with(b"--"));
        if !next_is_value {
            errors.push(ConfigError::about(
                &name,
                Some(Source::CommandLine),
                format!(
                    "--{name} in command line has no value: write --{name}=value or \
                     --{name} value"
                ),
            ));
            continue;
        }
        match args.next().map(OsString::into_string) {
            Some(Ok(value)) => settings.push((name, value)),
            Some(Err(_)) | None => errors.push(ConfigError::about(
                &name,
                Some(Source::CommandLine),
                format!("the value of --{name} in command line is not valid UTF-8"),
            )),
        }
    }
    if errors.is_empty() {
        Ok((settings, remaining))
    } else {
        Err(ConfigErrors(errors))
    }
}

/// The name of an argument `--NAME` or `--NAME=value` whose name looks like a setting's (an
/// upper-case letter, then upper-case letters, digits and `_`) but lacks the prefix.
fn unprefixed_setting(arg: &OsString) -> Option<&str> {
    let body = arg.to_str()?.strip_prefix("--")?;
    let name = body.split_once('=').map_or(body, |(name, _)| name);
    let mut bytes = name.bytes();
    let starts_upper = bytes.next().is_some_and(|b| b.is_ascii_uppercase());
    let rest_fits = bytes.all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
    (starts_upper && rest_fits && name.len() >= 2).then_some(name)
}

/// The error for a setting name given without its prefix, with the setting it most likely is.
fn missing_prefix(name: &str) -> ConfigError {
    let hint = match crate::unknown::closest_setting(name) {
        Some(meant) => format!("did you mean --{meant}?"),
        None => format!(
            "the settings are listed in {}",
            crate::unknown::SETTINGS_LIST
        ),
    };
    ConfigError::about(
        name,
        Some(Source::CommandLine),
        format!(
            "--{name} in command line is not a setting: setting names start with TESSERA_ or \
             AYANOVA_; {hint}"
        ),
    )
}

/// The error for a setting argument that is not UTF-8; only the name part is shown.
fn not_utf8(arg: &OsString) -> ConfigError {
    let bytes = arg.as_encoded_bytes();
    let name_end = bytes.iter().position(|b| *b == b'=').unwrap_or(bytes.len());
    let name = String::from_utf8_lossy(bytes.get(2..name_end).unwrap_or_default()).into_owned();
    ConfigError::about(
        &name,
        Some(Source::CommandLine),
        format!("the argument --{name} in command line is not valid UTF-8"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::pairs;

    fn os(args: &[&str]) -> Vec<OsString> {
        args.iter().map(OsString::from).collect()
    }

    #[test]
    fn the_seed_example_works_exactly() {
        // ayanova.exe --AYANOVA_JWT_SECRET="02847This_is_my_secret_key456576" after the shell
        // removed the quotes.
        let (settings, rest) = split_cli_args(os(&[
            "tessera",
            "--AYANOVA_JWT_SECRET=02847This_is_my_secret_key456576",
        ]))
        .unwrap();
        assert_eq!(
            settings,
            pairs(&[("AYANOVA_JWT_SECRET", "02847This_is_my_secret_key456576")])
        );
        assert_eq!(rest, os(&["tessera"]));
    }

    #[test]
    fn both_forms_before_and_after_a_subcommand() {
        type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a [&'a str]);
        let cases: &[Case] = &[
            (
                &["tessera", "--TESSERA_LOG=debug", "serve"],
                &[("TESSERA_LOG", "debug")],
                &["tessera", "serve"],
            ),
            (
                &["tessera", "--TESSERA_LOG", "debug", "serve"],
                &[("TESSERA_LOG", "debug")],
                &["tessera", "serve"],
            ),
            (
                &[
                    "tessera",
                    "serve",
                    "--TESSERA_LOG=debug",
                    "--port-file",
                    "p",
                ],
                &[("TESSERA_LOG", "debug")],
                &["tessera", "serve", "--port-file", "p"],
            ),
            (
                &["tessera", "config", "check", "--TESSERA_LOG", "debug"],
                &[("TESSERA_LOG", "debug")],
                &["tessera", "config", "check"],
            ),
            (
                &[
                    "tessera",
                    "--TESSERA_JWT_SECRET=a=b=c",
                    "--AYANOVA_JWT_SECRET",
                    "x y",
                ],
                &[
                    ("TESSERA_JWT_SECRET", "a=b=c"),
                    ("AYANOVA_JWT_SECRET", "x y"),
                ],
                &["tessera"],
            ),
            (
                &["tessera", "--TESSERA_JWT_SECRET=", "serve"],
                &[("TESSERA_JWT_SECRET", "")],
                &["tessera", "serve"],
            ),
            (
                &["tessera", "--TESSERA_LOG", "-5"],
                &[("TESSERA_LOG", "-5")],
                &["tessera"],
            ),
            (
                &["tessera", "serve", "--", "--TESSERA_LOG=debug"],
                &[],
                &["tessera", "serve", "--", "--TESSERA_LOG=debug"],
            ),
            (
                &["tessera", "--tessera_log=x", "-TESSERA_LOG=x", "--verbose"],
                &[],
                &["tessera", "--tessera_log=x", "-TESSERA_LOG=x", "--verbose"],
            ),
            (&[], &[], &[]),
        ];
        for (argv, settings, rest) in cases {
            let (got_settings, got_rest) = split_cli_args(os(argv)).unwrap();
            assert_eq!(got_settings, pairs(settings), "{argv:?}");
            assert_eq!(got_rest, os(rest), "{argv:?}");
        }
    }

    #[test]
    fn a_name_without_value_is_an_error() {
        for argv in [
            &["tessera", "--TESSERA_LOG"][..],
            &["tessera", "--TESSERA_LOG", "--TESSERA_LISTEN=x"][..],
            &["tessera", "--AYANOVA_JWT_SECRET", "--", "serve"][..],
        ] {
            let errors = split_cli_args(os(argv)).unwrap_err();
            let message = errors.0[0].to_string();
            assert!(message.contains("command line"), "{message}");
            assert!(message.contains("has no value"), "{message}");
            assert_eq!(errors.0[0].origin(), Some(&Source::CommandLine));
        }
    }

    #[test]
    fn an_upper_case_name_without_its_prefix_is_an_error_naming_the_setting() {
        for argv in [
            &["tessera", "--JWT_EXPIRY=15", "serve"][..],
            &["tessera", "serve", "--JWT_EXPIRY", "15"][..],
        ] {
            let errors = split_cli_args(os(argv)).unwrap_err();
            assert_eq!(errors.0.len(), 1, "{argv:?}");
            assert_eq!(errors.0[0].setting(), Some("JWT_EXPIRY"));
            assert_eq!(
                errors.0[0].to_string(),
                "--JWT_EXPIRY in command line is not a setting: setting names start with \
                 TESSERA_ or AYANOVA_; did you mean --TESSERA_JWT_EXPIRATION_MINUTES?"
            );
        }
        let message = split_cli_args(os(&["tessera", "--QQQ_ZZZ=1"]))
            .unwrap_err()
            .to_string();
        assert!(
            message.ends_with("the settings are listed in docs/SETTINGS.md"),
            "{message}"
        );
        // Options that are not upper-case stay clap's.
        let argv = ["tessera", "--port-file", "p", "--Verbose", "-V", "--X"];
        let (settings, rest) = split_cli_args(os(&argv)).unwrap();
        assert!(settings.is_empty());
        assert_eq!(rest, os(&argv));
    }

    #[test]
    fn all_problems_are_reported_together() {
        let errors = split_cli_args(os(&["tessera", "--TESSERA_A", "--TESSERA_B"])).unwrap_err();
        assert_eq!(errors.0.len(), 2);
        assert_eq!(errors.0[0].setting(), Some("TESSERA_A"));
        assert_eq!(errors.0[1].setting(), Some("TESSERA_B"));
    }

    #[cfg(unix)]
    #[test]
    fn non_utf8_settings_are_errors_and_other_arguments_pass_through() {
        use std::os::unix::ffi::OsStringExt;
        let bad_value = OsString::from_vec(b"--TESSERA_JWT_SECRET=\xff\xfe".to_vec());
        let errors = split_cli_args(vec!["tessera".into(), bad_value]).unwrap_err();
        let message = errors.0[0].to_string();
        assert!(message.contains("TESSERA_JWT_SECRET") && message.contains("UTF-8"));

        let bad_next = OsString::from_vec(b"\xff".to_vec());
        let errors =
            split_cli_args(vec!["tessera".into(), "--TESSERA_LOG".into(), bad_next]).unwrap_err();
        assert!(errors.0[0].to_string().contains("UTF-8"));

        let other = OsString::from_vec(b"file-\xff.txt".to_vec());
        let (settings, rest) = split_cli_args(vec!["tessera".into(), other.clone()]).unwrap();
        assert!(settings.is_empty());
        assert_eq!(rest, vec![OsString::from("tessera"), other]);
    }
}
