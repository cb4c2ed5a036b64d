//! tessera's settings: one table ([`SETTINGS`]) declares every setting once, and everything else
//! derives from it: the config.json property, the environment variable and the command-line
//! parameter (all three with the same name), the settings reference (`docs/SETTINGS.md`, from
//! [`settings_reference_markdown`]) and the `tessera config check` report ([`render_check`]).
//!
//! Flow: [`split_cli_args`] takes `--NAME=value` settings out of argv, [`read_sources`] reads the
//! config file, [`resolve`] turns the raw sources into typed [`Settings`]; [`load`] does all three.
//! Precedence: command line over environment over config file over default. Secret settings
//! also accept `NAME_FILE`, the path of a file holding the value, in each source: it is the
//! value of `NAME` from that source.
//!
//! Code map:
//! - `table`: [`SettingSpec`], [`SETTINGS`], [`Settings`].
//! - `secret`: [`JwtSecret`], the only place the seed's pad/truncate rule lives.
//! - `parse`: the value parsers the table uses.
//! - `cli`, `sources`, `file`: the three sources, split and read.
//! - `resolve`: precedence, conflicts, the report.
//! - `unknown`: names that are not settings (errors, warnings, AyaNova's own settings) and the
//!   nearest real name.
//! - `render`: `config check`, error listings and the reference page.
//!
//! Invariants: [`read_sources`] is the only function doing I/O (the config file and the secret
//! files); [`resolve`] is pure except for drawing a random secret when none is set; no error,
//! warning, report or `Debug` output contains a secret's value.

mod cli;
mod error;
mod file;
mod parse;
pub mod proxies;
mod render;
mod resolve;
pub mod secret;
mod sources;
mod table;
mod unknown;

#[cfg(test)]
mod resolve_tests;

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};

pub use cli::{SettingPairs, split_cli_args};
pub use error::{ConfigError, ConfigErrors};
pub use file::{ConfigFile, FileValue};
pub use proxies::{IpRange, TrustedProxies};
pub use render::{render_check, render_errors, settings_reference_markdown};
pub use resolve::{Resolved, SettingReport, resolve};
pub use secret::{JwtSecret, SecretAdjustment, SecretError, SecretPolicy};
pub use sources::{RawSources, SECRET_FILE_MAX_BYTES, SecretFile, env_vars, read_sources};
pub use table::{
    DefaultValue, FILE_SUFFIX, FileName, INSTANCE_LEASE_MAX_SECONDS, INSTANCE_LEASE_MIN_SECONDS,
    JwtAlgorithm, SETTINGS, Sensitivity, SettingSpec, Settings, ValueKind, file_names,
    find_file_setting, find_setting, setting_names,
};

/// Where a setting's value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    CommandLine,
    Environment,
    ConfigFile(PathBuf),
    Default,
    Generated,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::CommandLine => f.write_str("command line"),
            Source::Environment => f.write_str("environment"),
            Source::ConfigFile(path) => write!(f, "config file {}", path.display()),
            Source::Default => f.write_str("default"),
            Source::Generated => f.write_str("generated at start"),
        }
    }
}

/// Splits argv, reads the sources and resolves the settings.
///
/// `args` is the full argv including the program name (`std::env::args_os().collect()`); the
/// arguments left for clap are returned with the program name first. `env` may be the whole
/// environment (see [`env_vars`] to get it without panicking on non-UTF-8 variables); `cwd` is
/// where a relative config file path is looked up.
pub fn load(
    args: Vec<OsString>,
    env: impl IntoIterator<Item = (String, String)>,
    cwd: &Path,
) -> Result<(Resolved, Vec<OsString>), ConfigErrors> {
    let (cli, remaining) = split_cli_args(args)?;
    let sources = read_sources(cli, env, cwd)?;
    let resolved = resolve(&sources)?;
    Ok((resolved, remaining))
}

/// Helpers shared by the unit tests.
#[cfg(test)]
pub(crate) mod test_support {
    /// Owned `(name, value)` pairs, as the sources carry them.
    pub(crate) fn pairs(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_display_as_documented() {
        assert_eq!(Source::CommandLine.to_string(), "command line");
        assert_eq!(Source::Environment.to_string(), "environment");
        assert_eq!(
            Source::ConfigFile(PathBuf::from("/etc/tessera/config.json")).to_string(),
            "config file /etc/tessera/config.json"
        );
        assert_eq!(Source::Default.to_string(), "default");
        assert_eq!(Source::Generated.to_string(), "generated at start");
    }

    #[test]
    fn load_splits_reads_and_resolves() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("config.json"),
            r#"{"TESSERA_JWT_ISSUER": "from-file", "TESSERA_LOG": "warn"}"#,
        )
        .unwrap();
        let args = [
            "tessera",
            "serve",
            "--AYANOVA_JWT_SECRET=02847This_is_my_secret_key456576",
        ]
        .map(OsString::from)
        .to_vec();
        let env = [("TESSERA_LOG".to_owned(), "debug".to_owned())];
        let (resolved, rest) = load(args, env, dir.path()).unwrap();
        assert_eq!(rest, ["tessera", "serve"].map(OsString::from).to_vec());
        let settings = &resolved.settings;
        assert_eq!(
            settings.jwt_secret.key_bytes(),
            b"02847This_is_my_secret_key456576"
        );
        assert_eq!(settings.jwt_issuer, "from-file");
        assert_eq!(settings.log, "debug");
        assert!(
            resolved
                .warnings
                .iter()
                .any(|w| w.contains("AYANOVA_JWT_SECRET: is a published example secret"))
        );
    }

    #[test]
    fn load_reports_command_line_errors_first() {
        let dir = tempfile::tempdir().unwrap();
        let args = ["tessera", "--TESSERA_LOG"].map(OsString::from).to_vec();
        let errors = load(args, Vec::new(), dir.path()).unwrap_err();
        assert!(errors.0[0].to_string().contains("has no value"));
    }
}
