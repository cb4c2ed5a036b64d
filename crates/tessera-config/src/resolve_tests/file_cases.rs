//! Cases about `NAME_FILE`: secret settings read from files, with real files in a temporary
//! directory read by [`read_sources`], then resolved.

use std::path::Path;

use secrecy::ExposeSecret as _;

use super::{CLI, ENV, report_of};
use crate::test_support::pairs;
use crate::{ConfigErrors, Resolved, Source, read_sources, render_check, render_errors, resolve};

/// A temporary directory to write secret files and config.json into.
struct Dir(tempfile::TempDir);

impl Dir {
    fn new() -> Dir {
        Dir(tempfile::tempdir().unwrap())
    }

    /// Writes `content` to `name` and returns its absolute path as text.
    fn write(&self, name: &str, content: impl AsRef<[u8]>) -> String {
        let path = self.0.path().join(name);
        std::fs::write(&path, content).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        path.display().to_string()
    }

    fn path(&self) -> &Path {
        self.0.path()
    }

    /// Reads the sources as the binary does (config.json from this directory) and resolves them.
    fn resolve(
        &self,
        cli: &[(&str, &str)],
        env: &[(&str, &str)],
    ) -> Result<Resolved, ConfigErrors> {
        let sources = read_sources(pairs(cli), pairs(env), self.path())?;
        resolve(&sources)
    }

    /// The rendered errors of a resolution expected to fail.
    fn errors(&self, cli: &[(&str, &str)], env: &[(&str, &str)]) -> String {
        match self.resolve(cli, env) {
            Ok(_) => panic!("expected an error for {cli:?} {env:?}"),
            Err(errors) => render_errors(&errors),
        }
    }
}

/// The 32-byte key of a resolution expected to succeed.
fn key(resolved: &Result<Resolved, ConfigErrors>) -> String {
    let resolved = resolved
        .as_ref()
        .unwrap_or_else(|e| panic!("{}", render_errors(e)));
    String::from_utf8(resolved.settings.jwt_secret.key_bytes().to_vec()).unwrap()
}

fn source_of(resolved: &Resolved, name: &str) -> Source {
    report_of(resolved, name).source.clone()
}

#[test]
fn a_secret_file_gives_the_value_in_each_of_the_three_sources() {
    let dir = Dir::new();
    let path = dir.write("jwt", format!("{ENV}\n"));
    for name in ["TESSERA_JWT_SECRET_FILE", "AYANOVA_JWT_SECRET_FILE"] {
        let from_env = dir.resolve(&[], &[(name, &path)]);
        assert_eq!(key(&from_env), ENV, "{name}");
        let resolved = from_env.unwrap();
        assert_eq!(
            source_of(&resolved, "TESSERA_JWT_SECRET"),
            Source::Environment
        );
        let entry = report_of(&resolved, "TESSERA_JWT_SECRET");
        assert_eq!(entry.given_as, Some(name));
        assert_eq!(entry.file.as_deref(), Some(path.as_str()));
        assert_eq!(entry.display_value, "<hidden: 32 characters>");
        let check = render_check(&resolved);
        let line = check
            .lines()
            .find(|line| line.starts_with("TESSERA_JWT_SECRET "))
            .unwrap();
        assert!(
            line.ends_with(&format!("environment {name}={path}")),
            "{line}"
        );
        assert!(!check.contains(ENV), "the secret never shows: {check}");

        let from_cli = dir.resolve(&[(name, &path)], &[]).unwrap();
        assert_eq!(
            source_of(&from_cli, "TESSERA_JWT_SECRET"),
            Source::CommandLine
        );
        assert!(
            !from_cli.warnings.iter().any(|w| w.contains("process list")),
            "a path on the command line reveals nothing: {:?}",
            from_cli.warnings
        );

        dir.write("config.json", format!(r#"{{"{name}": "{path}"}}"#));
        let from_file = dir.resolve(&[], &[]);
        assert_eq!(key(&from_file), ENV, "{name}");
        assert_eq!(
            source_of(&from_file.unwrap(), "TESSERA_JWT_SECRET"),
            Source::ConfigFile(dir.path().join("config.json"))
        );
        std::fs::remove_file(dir.path().join("config.json")).unwrap();
    }
}

#[test]
fn a_file_is_the_value_of_its_name_in_its_source_with_the_same_precedence() {
    let dir = Dir::new();
    let cli_file = dir.write("cli", CLI);
    let env_file = dir.write("env", ENV);
    // A file on the command line beats a value in the environment …
    let resolved = dir.resolve(
        &[("TESSERA_JWT_SECRET_FILE", &cli_file)],
        &[("TESSERA_JWT_SECRET", ENV)],
    );
    assert_eq!(key(&resolved), CLI);
    assert_eq!(
        report_of(&resolved.unwrap(), "TESSERA_JWT_SECRET").overridden,
        vec![Source::Environment]
    );
    // … a value on the command line beats a file in the environment …
    let resolved = dir.resolve(
        &[("AYANOVA_JWT_SECRET", CLI)],
        &[("TESSERA_JWT_SECRET_FILE", &env_file)],
    );
    assert_eq!(key(&resolved), CLI);
    // … and a file in the environment beats a value in config.json.
    dir.write(
        "config.json",
        r#"{"TESSERA_JWT_SECRET": "ConfigFileSecret__0123456789abcd"}"#,
    );
    let resolved = dir.resolve(&[], &[("AYANOVA_JWT_SECRET_FILE", &env_file)]);
    assert_eq!(key(&resolved), ENV);
    let check = render_check(&resolved.unwrap());
    assert!(
        check.contains(&format!(
            "environment AYANOVA_JWT_SECRET_FILE={env_file}; overrides config file"
        )),
        "{check}"
    );
}

#[test]
fn a_value_and_a_file_in_one_source_are_ambiguous() {
    let dir = Dir::new();
    let path = dir.write("jwt", ENV);
    for (direct, file) in [
        ("TESSERA_JWT_SECRET", "TESSERA_JWT_SECRET_FILE"),
        ("AYANOVA_JWT_SECRET", "TESSERA_JWT_SECRET_FILE"),
        ("TESSERA_JWT_SECRET", "AYANOVA_JWT_SECRET_FILE"),
    ] {
        for in_cli in [true, false] {
            let given = [(direct, ENV), (file, path.as_str())];
            let (cli, env, origin): (&[_], &[_], _) = if in_cli {
                (&given, &[], "command line")
            } else {
                (&[], &given, "environment")
            };
            let errors = dir.errors(cli, env);
            assert!(
                errors.contains(&format!("{direct} and {file} are set together in {origin}")),
                "{errors}"
            );
            assert!(errors.contains("ambiguous"), "{errors}");
            assert!(!errors.contains(ENV), "{errors}");
        }
    }
    dir.write(
        "config.json",
        format!(r#"{{"TESSERA_ADMIN_PASSWORD": "x", "TESSERA_ADMIN_PASSWORD_FILE": "{path}"}}"#),
    );
    let errors = dir.errors(&[], &[]);
    assert!(
        errors.contains(
            "TESSERA_ADMIN_PASSWORD and TESSERA_ADMIN_PASSWORD_FILE are set together in config file"
        ),
        "{errors}"
    );
}

#[test]
fn two_files_for_one_setting_in_one_source_must_agree() {
    let dir = Dir::new();
    let first = dir.write("first", ENV);
    let same = dir.write("same", format!("{ENV}\n"));
    let other = dir.write("other", CLI);
    let resolved = dir.resolve(
        &[],
        &[
            ("TESSERA_JWT_SECRET_FILE", &first),
            ("AYANOVA_JWT_SECRET_FILE", &same),
        ],
    );
    assert_eq!(key(&resolved), ENV);
    let errors = dir.errors(
        &[],
        &[
            ("TESSERA_JWT_SECRET_FILE", &first),
            ("AYANOVA_JWT_SECRET_FILE", &other),
        ],
    );
    assert!(
        errors.contains(&format!(
            "TESSERA_JWT_SECRET_FILE and AYANOVA_JWT_SECRET_FILE set in environment with \
             different values (TESSERA_JWT_SECRET_FILE={first} (holding <hidden: 32 \
             characters>), AYANOVA_JWT_SECRET_FILE={other} (holding <hidden: 32 characters>))"
        )),
        "{errors}"
    );
    assert!(!errors.contains(ENV) && !errors.contains(CLI), "{errors}");
}

#[test]
fn one_trailing_newline_is_removed_and_nothing_else() {
    let dir = Dir::new();
    for (content, value) in [
        ("a password\n", "a password"),
        ("a password\r\n", "a password"),
        ("a password", "a password"),
        ("a password\n\n", "a password\n"),
        ("  a password \t\n", "  a password \t"),
        ("a password\r", "a password\r"),
        ("\na password", "\na password"),
    ] {
        let path = dir.write("admin", content);
        let resolved = dir
            .resolve(&[], &[("TESSERA_ADMIN_PASSWORD_FILE", &path)])
            .unwrap_or_else(|e| panic!("{content:?}: {}", render_errors(&e)));
        let password = resolved.settings.admin_password.unwrap();
        assert_eq!(password.expose_secret(), value, "{content:?}");
    }
}

#[test]
fn the_pad_and_cut_rule_applies_to_a_file_as_to_a_variable() {
    let dir = Dir::new();
    for (content, expected) in [
        ("k7Wq\n", format!("k7Wq{}", "-".repeat(28))),
        (
            "0123456789abcdefghijABCDEFGHIJ0123456789\n",
            "0123456789abcdefghijABCDEFGHIJ01".to_owned(),
        ),
    ] {
        let path = dir.write("jwt", content);
        let from_file = dir.resolve(&[], &[("TESSERA_JWT_SECRET_FILE", &path)]);
        let from_variable = dir.resolve(&[], &[("TESSERA_JWT_SECRET", content.trim_end())]);
        assert_eq!(key(&from_file), expected);
        assert_eq!(key(&from_file), key(&from_variable));
        let warnings = from_file.unwrap().warnings;
        assert!(
            warnings
                .iter()
                .any(|w| w.starts_with("TESSERA_JWT_SECRET_FILE: ")
                    && (w.contains("padded") || w.contains("cut"))),
            "{warnings:?}"
        );
    }
}

#[test]
fn a_file_that_cannot_be_used_is_a_precise_error_that_never_shows_its_content() {
    let dir = Dir::new();
    let missing = dir.path().join("missing").display().to_string();
    let folder = dir.path().display().to_string();
    let cases = [
        (missing.clone(), "there is no such file"),
        (folder, "it is a directory, not a regular file"),
        (
            dir.write("binary", b"Secret\xffSecret"),
            "it is not UTF-8 (invalid byte at offset 6)",
        ),
        (dir.write("empty", ""), "it is empty"),
        (dir.write("newline", "\n"), "it holds only a newline"),
        (dir.write("crlf", "\r\n"), "it holds only a newline"),
        (
            dir.write("large", "Secret".repeat(11_000)),
            "it is larger than 64 KiB",
        ),
    ];
    for (path, reason) in &cases {
        for (cli, env, origin) in [(true, false, "command line"), (false, true, "environment")] {
            let given = [("TESSERA_JWT_SECRET_FILE", path.as_str())];
            let errors = dir.errors(
                if cli { &given } else { &[] },
                if env { &given } else { &[] },
            );
            assert!(
                errors.contains(&format!(
                    "TESSERA_JWT_SECRET_FILE={path} from {origin}: cannot read \
                     TESSERA_JWT_SECRET from the file: {reason}"
                )),
                "{errors}"
            );
            assert!(
                !errors.contains("Secret"),
                "the content never shows: {errors}"
            );
        }
    }
    // Every problem at once, in the file's own source.
    dir.write(
        "config.json",
        format!(
            r#"{{"TESSERA_ADMIN_PASSWORD_FILE": "{missing}", "TESSERA_JWT_SECRET_FILE": 5,
                "TESSERA_DATABASE_URL_FILE": ""}}"#
        ),
    );
    let errors = dir.errors(&[], &[]);
    let config = dir.path().join("config.json").display().to_string();
    for expected in [
        format!(
            "TESSERA_ADMIN_PASSWORD_FILE={missing} from config file {config}: cannot read \
             TESSERA_ADMIN_PASSWORD from the file: there is no such file"
        ),
        format!(
            "TESSERA_JWT_SECRET_FILE in config file {config} is invalid: expected a string (a \
             path), found a number"
        ),
        format!("TESSERA_DATABASE_URL_FILE in config file {config} is invalid: the path is empty"),
    ] {
        assert!(errors.contains(&expected), "{expected}\nnot in\n{errors}");
    }
}

#[cfg(unix)]
#[test]
fn an_unreadable_or_special_file_is_refused() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = Dir::new();
    let fifo = dir.path().join("fifo");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    if made.is_ok_and(|status| status.success()) {
        let fifo = fifo.display().to_string();
        let errors = dir.errors(&[], &[("TESSERA_JWT_SECRET_FILE", &fifo)]);
        assert!(
            errors.contains("it is a special file, not a regular file"),
            "{errors}"
        );
    }
    let path = dir.write("locked", ENV);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o000)).unwrap();
    if std::fs::read(&path).is_err() {
        // Not running as root, which reads every file.
        let errors = dir.errors(&[], &[("TESSERA_JWT_SECRET_FILE", &path)]);
        assert!(errors.contains("permission denied"), "{errors}");
    }
}

#[cfg(unix)]
#[test]
fn a_secret_file_others_may_read_warns_like_the_config_file() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = Dir::new();
    let path = dir.write("jwt", ENV);
    let exposed = |mode: u32| {
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        let resolved = dir
            .resolve(&[], &[("TESSERA_JWT_SECRET_FILE", &path)])
            .unwrap();
        resolved
            .warnings
            .into_iter()
            .find(|w| w.contains("by users other than its owner"))
    };
    for (mode, access) in [
        (0o644, "is readable by"),
        (0o640, "is readable by"),
        (0o622, "is writable by"),
        (0o666, "is readable and writable by"),
    ] {
        let warning = exposed(mode).unwrap_or_else(|| panic!("no warning for {mode:o}"));
        assert!(
            warning.starts_with(&format!("TESSERA_JWT_SECRET_FILE={path} from environment")),
            "{warning}"
        );
        assert!(warning.contains(access), "{warning}");
        assert!(warning.contains(&format!("(mode {mode:04o})")), "{warning}");
        assert!(warning.contains(&format!("chmod 600 {path}")), "{warning}");
    }
    for quiet in [0o600, 0o400] {
        assert_eq!(exposed(quiet), None, "{quiet:o}");
    }
}

#[test]
fn a_database_url_from_a_file_never_shows_its_password() {
    let dir = Dir::new();
    let path = dir.write(
        "url",
        "postgres://tessera:Hunter2Hunter2@db.internal/tessera\n",
    );
    let resolved = dir
        .resolve(&[], &[("TESSERA_DATABASE_URL_FILE", &path)])
        .unwrap();
    assert_eq!(
        resolved.settings.database_url,
        "postgres://tessera:Hunter2Hunter2@db.internal/tessera"
    );
    let check = render_check(&resolved);
    assert!(
        check.contains("postgres://tessera:<hidden>@db.internal/tessera"),
        "{check}"
    );
    assert!(!check.contains("Hunter2"), "{check}");

    let path = dir.write("bad", "mysql://tessera:Hunter2Hunter2@db/tessera\n");
    let errors = dir.errors(&[], &[("TESSERA_DATABASE_URL_FILE", &path)]);
    assert!(
        errors.contains(&format!(
            "TESSERA_DATABASE_URL_FILE={path} (holding mysql://tessera:<hidden>@db/tessera) from \
             environment is invalid"
        )),
        "{errors}"
    );
    assert!(!errors.contains("Hunter2"), "{errors}");
}

#[test]
fn a_file_holding_a_blank_secret_is_refused_naming_the_file() {
    let dir = Dir::new();
    let path = dir.write("jwt", "   \n");
    let errors = dir.errors(&[("AYANOVA_JWT_SECRET_FILE", &path)], &[]);
    assert!(
        errors.contains(&format!(
            "AYANOVA_JWT_SECRET_FILE={path} (holding <hidden: 3 characters>) from command line \
             is invalid"
        )),
        "{errors}"
    );
}

#[test]
fn secret_file_contents_never_reach_debug_output() {
    let dir = Dir::new();
    let path = dir.write("jwt", ENV);
    let sources = read_sources(
        Vec::new(),
        pairs(&[("TESSERA_JWT_SECRET_FILE", &path)]),
        dir.path(),
    )
    .unwrap();
    let debug = format!("{sources:?}");
    assert!(debug.contains("TESSERA_JWT_SECRET_FILE"), "{debug}");
    assert!(debug.contains(&path), "{debug}");
    assert!(!debug.contains(ENV), "{debug}");
    let resolved = resolve(&sources).unwrap();
    assert!(!format!("{resolved:?}").contains(ENV));
}

#[test]
fn a_relative_path_is_relative_to_the_working_directory() {
    let dir = Dir::new();
    dir.write("jwt", ENV);
    let resolved = dir.resolve(&[], &[("TESSERA_JWT_SECRET_FILE", "jwt")]);
    assert_eq!(key(&resolved), ENV);
}

#[test]
fn file_names_of_settings_that_are_not_secret_are_unknown_with_a_hint() {
    let dir = Dir::new();
    let path = dir.write("listen", "0.0.0.0:8420");
    let resolved = dir.resolve(&[], &[("TESSERA_LISTEN_FILE", &path)]).unwrap();
    let warning = resolved
        .warnings
        .iter()
        .find(|w| w.contains("TESSERA_LISTEN_FILE"))
        .unwrap_or_else(|| panic!("{:?}", resolved.warnings));
    assert_eq!(
        warning,
        "unknown setting TESSERA_LISTEN_FILE in environment; only secret settings accept \
         NAME_FILE (the path of a file holding the value), and TESSERA_LISTEN is not secret: \
         give its value directly, as TESSERA_LISTEN"
    );
    assert_eq!(
        resolved.settings.listen, "127.0.0.1:8420",
        "the file is not read"
    );
    let errors = dir.errors(&[("TESSERA_CONFIG_FILE", &path)], &[]);
    assert!(
        errors
            .contains("unknown setting TESSERA_CONFIG_FILE in command line; only secret settings"),
        "{errors}"
    );
}

#[test]
fn file_names_are_known_and_suggested_for_their_typos() {
    for name in [
        "TESSERA_JWT_SECRET_FILE",
        "AYANOVA_JWT_SECRET_FILE",
        "TESSERA_ADMIN_PASSWORD_FILE",
        "TESSERA_DATABASE_URL_FILE",
    ] {
        let dir = Dir::new();
        let path = dir.write("value", "sqlite://x.db-long-enough-password-0123456789");
        let resolved = dir.resolve(&[], &[(name, &path)]).unwrap();
        assert!(
            !resolved
                .warnings
                .iter()
                .any(|w| w.contains("unknown setting")),
            "{name}: {:?}",
            resolved.warnings
        );
    }
    for (typed, meant) in [
        ("TESSERA_JWT_SECRET_FIEL", "TESSERA_JWT_SECRET_FILE"),
        ("TESSERA_JWT_SECRET_FILES", "TESSERA_JWT_SECRET_FILE"),
        ("AYANOVA_JWT_SECRET_FIL", "AYANOVA_JWT_SECRET_FILE"),
        ("TESSERA_ADMIN_PASSWORD_FLIE", "TESSERA_ADMIN_PASSWORD_FILE"),
        ("TESSERA_DB_URL_FILE", "TESSERA_DATABASE_URL_FILE"),
        // Names without the suffix still suggest the setting itself.
        ("TESSERA_JWT_SECERT", "TESSERA_JWT_SECRET"),
        ("TESSERA_ADMIN_PASSWD", "TESSERA_ADMIN_PASSWORD"),
    ] {
        assert_eq!(
            crate::unknown::closest_setting(typed),
            Some(meant),
            "{typed}"
        );
    }
    let dir = Dir::new();
    let errors = dir.errors(&[("TESSERA_JWT_SECRET_FIEL", "/run/secrets/jwt")], &[]);
    assert!(
        errors.contains(
            "unknown setting TESSERA_JWT_SECRET_FIEL in command line; did you mean \
             TESSERA_JWT_SECRET_FILE?"
        ),
        "{errors}"
    );
}
