//! The raw sources of settings, before resolution: command-line pairs, environment pairs and the
//! parsed config file.
//!
//! Invariant: [`read_sources`] is the only function in this crate doing I/O (it reads the config
//! file and the files named by secret settings' `NAME_FILE`). It interprets nothing but
//! `TESSERA_CONFIG` and which names are `NAME_FILE`; a secret file that cannot be used is kept
//! as a reason, reported by resolution with every other problem.

use std::ffi::OsString;
use std::fmt;
use std::path::Path;

use zeroize::Zeroizing;

use crate::Source;
use crate::error::{ConfigError, ConfigErrors, show_plain};
use crate::file::{ConfigFile, FileValue};
use crate::table::{DefaultValue, SettingSpec, find_setting};

/// The setting naming the config file.
const CONFIG_SETTING: &str = "TESSERA_CONFIG";

/// Everything the settings can come from, as given.
#[derive(Clone, Default)]
pub struct RawSources {
    /// `--NAME=value` pairs from [`crate::split_cli_args`], in order.
    pub cli: Vec<(String, String)>,
    /// Environment variables whose names start with `TESSERA_` or `AYANOVA_`.
    pub env: Vec<(String, String)>,
    /// The config file, or `None` when there is none at the default path.
    pub file: Option<ConfigFile>,
    /// The files named by secret settings' `NAME_FILE` in any source, read by
    /// [`read_sources`]; resolution takes each one as the value of `NAME` in its source.
    pub secret_files: Vec<SecretFile>,
}

/// The file a secret setting's `NAME_FILE` names, and what reading it gave.
#[derive(Clone)]
pub struct SecretFile {
    /// Where the `NAME_FILE` setting was given.
    pub origin: Source,
    /// `NAME_FILE` as given (`TESSERA_JWT_SECRET_FILE`).
    pub key: String,
    /// The path as given (paths are not secret).
    pub path: String,
    /// The file's content with one trailing newline removed, or why it cannot be used.
    pub content: Result<Zeroizing<String>, String>,
    /// The file's permission bits, when the platform has them and the file was read.
    pub mode: Option<u32>,
}

/// The content is a secret: `Debug` shows the name, path and outcome only.
impl fmt::Debug for SecretFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let content = match &self.content {
            Ok(text) => format!("<hidden: {} characters>", text.chars().count()),
            Err(reason) => reason.clone(),
        };
        f.debug_struct("SecretFile")
            .field("origin", &self.origin)
            .field("key", &self.key)
            .field("path", &self.path)
            .field("content", &content)
            .field("mode", &self.mode.map(|mode| format!("{mode:o}")))
            .finish()
    }
}

/// The largest secret file read, in bytes: secrets are short, and a larger file is a mistake
/// (a wrong path), not a secret.
pub const SECRET_FILE_MAX_BYTES: u64 = 64 * 1024;

/// Values may be secrets: `Debug` shows names only.
impl fmt::Debug for RawSources {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = |pairs: &[(String, String)]| -> Vec<String> {
            pairs.iter().map(|(name, _)| name.clone()).collect()
        };
        f.debug_struct("RawSources")
            .field("cli", &names(&self.cli))
            .field("env", &names(&self.env))
            .field("file", &self.file)
            .field("secret_files", &self.secret_files)
            .finish()
    }
}

/// Whether an environment variable or property name belongs to tessera's settings namespace.
pub(crate) fn is_setting_like(name: &str) -> bool {
    name.starts_with("TESSERA_") || name.starts_with("AYANOVA_")
}

/// Gathers the raw sources and reads the config file.
///
/// `env` may be the whole environment: only names starting with `TESSERA_` or `AYANOVA_` are
/// kept. The config file is at `TESSERA_CONFIG` from the command line, else from the
/// environment, else `config.json`; a relative path is joined to `cwd`. A missing file at the
/// default path means no file; a missing file at a path given explicitly is an error, as is an
/// unreadable, non-UTF-8 or malformed file.
///
/// Every `NAME_FILE` of a secret setting, in any source, names a file read here into
/// [`RawSources::secret_files`] (a relative path joined to `cwd`): a regular UTF-8 file of at
/// most [`SECRET_FILE_MAX_BYTES`], whose value is its content less one trailing `\n` or `\r\n`
/// and must not be empty.
pub fn read_sources(
    cli: Vec<(String, String)>,
    env: impl IntoIterator<Item = (String, String)>,
    cwd: &Path,
) -> Result<RawSources, ConfigErrors> {
    let env: Vec<(String, String)> = env
        .into_iter()
        .filter(|(name, _)| is_setting_like(name))
        .collect();
    let (value, origin) = config_path(&cli, &env)?;
    let path = cwd.join(&value);
    let file = match std::fs::read(&path) {
        Ok(bytes) => {
            let bytes = Zeroizing::new(bytes);
            let text = std::str::from_utf8(&bytes).map_err(|error| {
                ConfigError::in_source(
                    Source::ConfigFile(path.clone()),
                    format!(
                        "config file {} is not UTF-8 (invalid byte at offset {})",
                        path.display(),
                        error.valid_up_to()
                    ),
                )
            })?;
            let mut file = ConfigFile::parse(path.clone(), text)?;
            file.mode = permission_bits(&path);
            Some(file)
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound && origin == Source::Default => {
            None
        }
        Err(error) => {
            return Err(ConfigErrors::one(ConfigError::about(
                CONFIG_SETTING,
                Some(origin.clone()),
                format!(
                    "{CONFIG_SETTING}={} from {origin}: cannot read config file {}: {error}",
                    show_plain(&value),
                    path.display()
                ),
            )));
        }
    };
    let secret_files = read_secret_files(&cli, &env, file.as_ref(), cwd);
    Ok(RawSources {
        cli,
        env,
        file,
        secret_files,
    })
}

/// Reads every file named by a secret setting's `NAME_FILE`, in source order. A relative path
/// is joined to `cwd`. Problems are kept with each file, for resolution to report with the rest.
fn read_secret_files(
    cli: &[(String, String)],
    env: &[(String, String)],
    file: Option<&ConfigFile>,
    cwd: &Path,
) -> Vec<SecretFile> {
    let mut given: Vec<(Source, &str, Result<&str, String>)> = Vec::new();
    for (pairs, origin) in [(cli, Source::CommandLine), (env, Source::Environment)] {
        for (key, path) in pairs {
            if crate::table::find_file_setting(key).is_some() {
                given.push((origin.clone(), key, Ok(path)));
            }
        }
    }
    if let Some(file) = file {
        let origin = Source::ConfigFile(file.path.clone());
        for (key, value) in &file.entries {
            if crate::table::find_file_setting(key).is_some() {
                let path = match value {
                    FileValue::Text(path) => Ok(path.as_str()),
                    FileValue::Integer(_) => Err("a number".to_owned()),
                    FileValue::Boolean(_) => Err("true or false".to_owned()),
                    FileValue::TextList(_) => Err("an array".to_owned()),
                    FileValue::Other(kind) => Err((*kind).to_owned()),
                }
                .map_err(|found| format!("expected a string (a path), found {found}"));
                given.push((origin.clone(), key, path));
            }
        }
    }
    given
        .into_iter()
        .map(|(origin, key, path)| {
            let (path, content, mode) = match path {
                Ok("") => (String::new(), Err("the path is empty".to_owned()), None),
                Ok(path) => {
                    let (content, mode) = read_secret_file(&cwd.join(path));
                    (path.to_owned(), content, mode)
                }
                Err(reason) => (String::new(), Err(reason), None),
            };
            SecretFile {
                origin,
                key: key.to_owned(),
                path,
                content,
                mode,
            }
        })
        .collect()
}

/// Reads one secret file: a regular, UTF-8 file of at most [`SECRET_FILE_MAX_BYTES`] whose
/// content, less one trailing `\n` or `\r\n`, is not empty. Nothing else is trimmed.
fn read_secret_file(path: &Path) -> (Result<Zeroizing<String>, String>, Option<u32>) {
    use std::io::Read as _;
    let describe = |error: std::io::Error| match error.kind() {
        std::io::ErrorKind::NotFound => "there is no such file".to_owned(),
        std::io::ErrorKind::PermissionDenied => {
            "permission denied: tessera's user cannot read it".to_owned()
        }
        _ => format!("cannot read it: {error}"),
    };
    // Checked before opening, so a FIFO or a device is refused rather than waited on.
    match std::fs::metadata(path) {
        Ok(metadata) if !metadata.is_file() => {
            let what = if metadata.is_dir() {
                "a directory"
            } else {
                "a special file"
            };
            return (Err(format!("it is {what}, not a regular file")), None);
        }
        Ok(_) => {}
        Err(error) => return (Err(describe(error)), None),
    }
    let mut bytes = Zeroizing::new(Vec::new());
    let read = std::fs::File::open(path)
        .and_then(|file| file.take(SECRET_FILE_MAX_BYTES + 1).read_to_end(&mut bytes));
    if let Err(error) = read {
        return (Err(describe(error)), None);
    }
    let mode = permission_bits(path);
    if bytes.len() as u64 > SECRET_FILE_MAX_BYTES {
        return (
            Err(format!(
                "it is larger than {} KiB; a secret file holds the secret only",
                SECRET_FILE_MAX_BYTES / 1024
            )),
            mode,
        );
    }
    let text = match std::str::from_utf8(&bytes) {
        Ok(text) => text,
        Err(error) => {
            return (
                Err(format!(
                    "it is not UTF-8 (invalid byte at offset {})",
                    error.valid_up_to()
                )),
                mode,
            );
        }
    };
    let value = text
        .strip_suffix("\r\n")
        .or_else(|| text.strip_suffix('\n'))
        .unwrap_or(text);
    if value.is_empty() {
        let what = if text.is_empty() {
            "it is empty"
        } else {
            "it holds only a newline"
        };
        return (Err(what.to_owned()), mode);
    }
    (Ok(Zeroizing::new(value.to_owned())), mode)
}

/// The permission bits of the file at `path` (`None` where the platform has none, or when they
/// cannot be read).
fn permission_bits(path: &Path) -> Option<u32> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::metadata(path)
            .ok()
            .map(|metadata| metadata.permissions().mode() & 0o7777)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

/// The config file path as given, and where it came from.
fn config_path(
    cli: &[(String, String)],
    env: &[(String, String)],
) -> Result<(String, Source), ConfigErrors> {
    let Some(spec) = find_setting(CONFIG_SETTING) else {
        return Ok(("config.json".to_owned(), Source::Default));
    };
    for (pairs, origin) in [(cli, Source::CommandLine), (env, Source::Environment)] {
        let mut values = pairs
            .iter()
            .filter(|(name, _)| spec.is_named(name))
            .map(|(_, value)| value);
        let Some(first) = values.next() else {
            continue;
        };
        if values.any(|other| other != first) {
            // Resolution reports the conflict in full; the file cannot be chosen meanwhile.
            return Err(ConfigErrors::one(ConfigError::about(
                CONFIG_SETTING,
                Some(origin.clone()),
                format!("{CONFIG_SETTING} is set more than once in {origin} with different values"),
            )));
        }
        check_path(spec, first, &origin)?;
        return Ok((first.clone(), origin));
    }
    match spec.default {
        DefaultValue::Value(text) => Ok((text.to_owned(), Source::Default)),
        DefaultValue::Unset | DefaultValue::Generated => {
            Ok(("config.json".to_owned(), Source::Default))
        }
    }
}

fn check_path(spec: &SettingSpec, value: &str, origin: &Source) -> Result<(), ConfigErrors> {
    crate::parse::config_path(value).map_err(|reason| {
        ConfigErrors::one(ConfigError::invalid(
            spec.name,
            &spec.display_value(value),
            origin.clone(),
            &reason,
        ))
    })
}

/// Converts `std::env::vars_os()` into the pairs [`read_sources`] takes, keeping only names that
/// start with `TESSERA_` or `AYANOVA_`. Unlike `std::env::vars()`, it does not panic on
/// non-UTF-8 variables: other variables are skipped whatever they hold, and a tessera variable
/// that is not UTF-8 is an error.
pub fn env_vars(
    vars: impl IntoIterator<Item = (OsString, OsString)>,
) -> Result<Vec<(String, String)>, ConfigErrors> {
    let mut pairs = Vec::new();
    let mut errors = Vec::new();
    for (name, value) in vars {
        let Some(name) = name.to_str().filter(|name| is_setting_like(name)) else {
            continue;
        };
        match value.into_string() {
            Ok(value) => pairs.push((name.to_owned(), value)),
            Err(_) => errors.push(ConfigError::about(
                name,
                Some(Source::Environment),
                format!("{name} in environment is not valid UTF-8"),
            )),
        }
    }
    if errors.is_empty() {
        Ok(pairs)
    } else {
        Err(ConfigErrors(errors))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::file::FileValue;
    use crate::test_support::pairs;

    #[test]
    fn missing_default_file_is_fine() {
        let dir = tempfile::tempdir().unwrap();
        let sources = read_sources(Vec::new(), pairs(&[("PATH", "/bin")]), dir.path()).unwrap();
        assert!(sources.file.is_none());
        assert!(sources.env.is_empty(), "non-tessera variables are dropped");
    }

    #[test]
    fn default_file_is_read_from_the_working_directory() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("config.json"),
            r#"{"TESSERA_LOG": "debug"}"#,
        )
        .unwrap();
        let sources = read_sources(Vec::new(), Vec::new(), dir.path()).unwrap();
        let file = sources.file.unwrap();
        assert_eq!(file.path, dir.path().join("config.json"));
        assert_eq!(
            file.entries,
            vec![(
                "TESSERA_LOG".to_owned(),
                FileValue::Text("debug".to_owned())
            )]
        );
    }

    /// The warnings resolution gives for a config.json with `text` and permission bits `mode`.
    #[cfg(unix)]
    fn warnings_for_file(text: &str, mode: u32) -> Vec<String> {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        let sources = read_sources(Vec::new(), Vec::new(), dir.path()).unwrap();
        assert_eq!(sources.file.as_ref().unwrap().mode, Some(mode));
        crate::resolve(&sources).unwrap().warnings
    }

    #[cfg(unix)]
    #[test]
    fn a_config_file_holding_a_secret_warns_when_others_may_read_or_write_it() {
        const SECRET: &str = r#"{"AYANOVA_JWT_SECRET": "Vq3rT9xLm2Pz8KdW4sYb7NcH1gJf6RtE"}"#;
        let exposed = |warnings: &[String]| {
            warnings
                .iter()
                .find(|w| w.contains("by users other than its owner"))
                .cloned()
        };
        for (mode, access) in [
            (0o644, "is readable by"),
            (0o640, "is readable by"),
            (0o622, "is writable by"),
            (0o666, "is readable and writable by"),
        ] {
            let warning = exposed(&warnings_for_file(SECRET, mode))
                .unwrap_or_else(|| panic!("no warning for mode {mode:o}"));
            assert!(warning.contains("holds AYANOVA_JWT_SECRET"), "{warning}");
            assert!(warning.contains(access), "{mode:o}: {warning}");
            assert!(warning.contains(&format!("(mode {mode:04o})")), "{warning}");
            assert!(warning.contains("chmod 600"), "{warning}");
            assert!(
                !warning.contains("Vq3rT9xLm2"),
                "the secret never shows: {warning}"
            );
        }
        for quiet in [0o600, 0o400] {
            assert_eq!(
                exposed(&warnings_for_file(SECRET, quiet)),
                None,
                "{quiet:o}"
            );
        }
        let no_secret = warnings_for_file(r#"{"TESSERA_LOG": "debug"}"#, 0o666);
        assert_eq!(
            exposed(&no_secret),
            None,
            "a file without a secret is not sensitive"
        );
    }

    #[test]
    fn explicit_path_comes_from_command_line_then_environment() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.json"), r#"{"TESSERA_LOG": "a"}"#).unwrap();
        std::fs::write(dir.path().join("b.json"), r#"{"TESSERA_LOG": "b"}"#).unwrap();
        let sources = read_sources(
            pairs(&[("TESSERA_CONFIG", "a.json")]),
            pairs(&[("TESSERA_CONFIG", "b.json")]),
            dir.path(),
        )
        .unwrap();
        assert_eq!(sources.file.unwrap().path, dir.path().join("a.json"));
        let absolute = dir.path().join("b.json").display().to_string();
        let sources = read_sources(
            Vec::new(),
            pairs(&[("TESSERA_CONFIG", absolute.as_str())]),
            Path::new("/nonexistent"),
        )
        .unwrap();
        assert_eq!(sources.file.unwrap().path, dir.path().join("b.json"));
    }

    #[test]
    fn explicit_missing_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        for (cli, env, origin) in [
            (
                pairs(&[("TESSERA_CONFIG", "missing.json")]),
                Vec::new(),
                "command line",
            ),
            (
                Vec::new(),
                pairs(&[("TESSERA_CONFIG", "missing.json")]),
                "environment",
            ),
        ] {
            let errors = read_sources(cli, env, dir.path()).unwrap_err();
            let message = errors.0[0].to_string();
            assert!(message.contains("TESSERA_CONFIG=missing.json"), "{message}");
            assert!(message.contains(origin), "{message}");
            assert!(message.contains("cannot read config file"), "{message}");
        }
    }

    #[test]
    fn empty_or_conflicting_explicit_paths_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let errors =
            read_sources(Vec::new(), pairs(&[("TESSERA_CONFIG", "")]), dir.path()).unwrap_err();
        assert!(
            errors.0[0]
                .to_string()
                .contains("TESSERA_CONFIG=\"\" from environment")
        );
        let errors = read_sources(
            pairs(&[("TESSERA_CONFIG", "a.json"), ("TESSERA_CONFIG", "b.json")]),
            Vec::new(),
            dir.path(),
        )
        .unwrap_err();
        assert!(errors.0[0].to_string().contains("different values"));
    }

    #[test]
    fn a_directory_or_invalid_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("config.json")).unwrap();
        assert!(read_sources(Vec::new(), Vec::new(), dir.path()).is_err());

        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("config.json"),
            b"{\"TESSERA_LOG\": \"\xff\"}",
        )
        .unwrap();
        let message = read_sources(Vec::new(), Vec::new(), dir.path())
            .unwrap_err()
            .to_string();
        assert!(message.contains("not UTF-8"), "{message}");

        std::fs::write(dir.path().join("config.json"), "[]").unwrap();
        let message = read_sources(Vec::new(), Vec::new(), dir.path())
            .unwrap_err()
            .to_string();
        assert!(message.contains("must hold a JSON object"), "{message}");
    }

    #[cfg(unix)]
    #[test]
    fn env_vars_keeps_tessera_names_and_refuses_non_utf8_values() {
        use std::os::unix::ffi::OsStringExt;
        let vars = vec![
            (OsString::from("PATH"), OsString::from("/bin")),
            (OsString::from_vec(b"X\xff".to_vec()), OsString::from("x")),
            (
                OsString::from("OTHER"),
                OsString::from_vec(b"\xff".to_vec()),
            ),
            (OsString::from("TESSERA_LOG"), OsString::from("debug")),
            (OsString::from("AYANOVA_JWT_SECRET"), OsString::from("")),
        ];
        assert_eq!(
            env_vars(vars).unwrap(),
            pairs(&[("TESSERA_LOG", "debug"), ("AYANOVA_JWT_SECRET", "")])
        );
        let bad = vec![(
            OsString::from("TESSERA_LOG"),
            OsString::from_vec(b"\xff".to_vec()),
        )];
        assert!(
            env_vars(bad)
                .unwrap_err()
                .to_string()
                .contains("TESSERA_LOG")
        );
    }
}
