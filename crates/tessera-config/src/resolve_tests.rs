//! Resolution tested as a table: raw sources in, effective value and source (or error, or
//! warning) out. One `check` helper runs every case.

use std::path::PathBuf;

use crate::{
    ConfigFile, RawSources, Resolved, SETTINGS, Source, render_check, render_errors, resolve,
    settings_reference_markdown,
};

const FILE_PATH: &str = "/etc/tessera/config.json";

// 32-character secrets, one per source, so the winner is obvious.
const CLI: &str = "CommandLineSecret_0123456789abcd";
const ENV: &str = "EnvironmentSecret_0123456789abcd";
const FILE: &str = "ConfigFileSecret__0123456789abcd";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    Cli,
    Env,
    File,
    Default,
    Generated,
}

impl Origin {
    fn source(self) -> Source {
        match self {
            Origin::Cli => Source::CommandLine,
            Origin::Env => Source::Environment,
            Origin::File => Source::ConfigFile(PathBuf::from(FILE_PATH)),
            Origin::Default => Source::Default,
            Origin::Generated => Source::Generated,
        }
    }
}

enum Expect {
    /// The JWT key bytes and where the secret came from.
    Key(&'static str, Origin),
    /// A setting's shown value (as in `config check`) and where it came from.
    Shown(&'static str, &'static str, Origin),
    /// Resolution fails; the rendered errors contain every fragment.
    Error(&'static [&'static str]),
    /// Resolution succeeds with a warning containing the fragment.
    Warning(&'static str),
}

struct Case {
    what: &'static str,
    cli: &'static [(&'static str, &'static str)],
    env: &'static [(&'static str, &'static str)],
    /// The config file's JSON text, when there is one.
    file: Option<&'static str>,
    expect: Expect,
}

fn sources(case: &Case) -> RawSources {
    let pairs = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect()
    };
    RawSources {
        cli: pairs(case.cli),
        env: pairs(case.env),
        file: case
            .file
            .map(|text| ConfigFile::parse(PathBuf::from(FILE_PATH), text).unwrap()),
    }
}

fn report_of<'a>(resolved: &'a Resolved, name: &str) -> &'a crate::SettingReport {
    resolved
        .report
        .iter()
        .find(|entry| entry.name == name)
        .unwrap_or_else(|| panic!("no report for {name}"))
}

fn check(case: &Case) {
    let what = case.what;
    let result = resolve(&sources(case));
    match &case.expect {
        Expect::Key(key, from) => {
            let resolved = result.unwrap_or_else(|e| panic!("{what}: {}", render_errors(&e)));
            assert_eq!(
                resolved.settings.jwt_secret.key_bytes(),
                key.as_bytes(),
                "{what}"
            );
            assert_eq!(
                report_of(&resolved, "TESSERA_JWT_SECRET").source,
                from.source(),
                "{what}"
            );
        }
        Expect::Shown(name, shown, from) => {
            let resolved = result.unwrap_or_else(|e| panic!("{what}: {}", render_errors(&e)));
            let entry = report_of(&resolved, name);
            assert_eq!(entry.display_value, *shown, "{what}");
            assert_eq!(entry.source, from.source(), "{what}");
        }
        Expect::Error(fragments) => {
            let errors = match result {
                Ok(_) => panic!("{what}: expected an error"),
                Err(errors) => render_errors(&errors),
            };
            for fragment in *fragments {
                assert!(
                    errors.contains(fragment),
                    "{what}: {fragment:?} not in\n{errors}"
                );
            }
        }
        Expect::Warning(fragment) => {
            let resolved = result.unwrap_or_else(|e| panic!("{what}: {}", render_errors(&e)));
            assert!(
                resolved.warnings.iter().any(|w| w.contains(fragment)),
                "{what}: {fragment:?} not in {:#?}",
                resolved.warnings
            );
        }
    }
}

#[test]
fn jwt_secret_precedence_and_aliases() {
    let cases = [
        Case {
            what: "command line beats environment beats file",
            cli: &[("TESSERA_JWT_SECRET", CLI)],
            env: &[("TESSERA_JWT_SECRET", ENV)],
            file: Some(r#"{"TESSERA_JWT_SECRET": "ConfigFileSecret__0123456789abcd"}"#),
            expect: Expect::Key(CLI, Origin::Cli),
        },
        Case {
            what: "environment beats file",
            cli: &[],
            env: &[("TESSERA_JWT_SECRET", ENV)],
            file: Some(r#"{"TESSERA_JWT_SECRET": "ConfigFileSecret__0123456789abcd"}"#),
            expect: Expect::Key(ENV, Origin::Env),
        },
        Case {
            what: "file beats default",
            cli: &[],
            env: &[],
            file: Some(r#"{"TESSERA_JWT_SECRET": "ConfigFileSecret__0123456789abcd"}"#),
            expect: Expect::Key(FILE, Origin::File),
        },
        Case {
            what: "command line AYANOVA beats environment TESSERA",
            cli: &[("AYANOVA_JWT_SECRET", CLI)],
            env: &[("TESSERA_JWT_SECRET", ENV)],
            file: None,
            expect: Expect::Key(CLI, Origin::Cli),
        },
        Case {
            what: "command line TESSERA beats environment AYANOVA",
            cli: &[("TESSERA_JWT_SECRET", CLI)],
            env: &[("AYANOVA_JWT_SECRET", ENV)],
            file: None,
            expect: Expect::Key(CLI, Origin::Cli),
        },
        Case {
            what: "environment AYANOVA beats file TESSERA",
            cli: &[],
            env: &[("AYANOVA_JWT_SECRET", ENV)],
            file: Some(r#"{"TESSERA_JWT_SECRET": "ConfigFileSecret__0123456789abcd"}"#),
            expect: Expect::Key(ENV, Origin::Env),
        },
        Case {
            what: "environment TESSERA beats file AYANOVA",
            cli: &[],
            env: &[("TESSERA_JWT_SECRET", ENV)],
            file: Some(r#"{"AYANOVA_JWT_SECRET": "ConfigFileSecret__0123456789abcd"}"#),
            expect: Expect::Key(ENV, Origin::Env),
        },
        Case {
            what: "file AYANOVA alone",
            cli: &[],
            env: &[],
            file: Some(r#"{"AYANOVA_JWT_SECRET": "ConfigFileSecret__0123456789abcd"}"#),
            expect: Expect::Key(FILE, Origin::File),
        },
        Case {
            what: "both names with the same value in one source",
            cli: &[],
            env: &[("TESSERA_JWT_SECRET", ENV), ("AYANOVA_JWT_SECRET", ENV)],
            file: None,
            expect: Expect::Key(ENV, Origin::Env),
        },
        Case {
            what: "both names with different values in the environment",
            cli: &[],
            env: &[("TESSERA_JWT_SECRET", ENV), ("AYANOVA_JWT_SECRET", CLI)],
            file: None,
            expect: Expect::Error(&[
                "TESSERA_JWT_SECRET and AYANOVA_JWT_SECRET set in environment with different values",
                "<hidden: 32 characters>",
            ]),
        },
        Case {
            what: "both names with different values on the command line",
            cli: &[("AYANOVA_JWT_SECRET", CLI), ("TESSERA_JWT_SECRET", ENV)],
            env: &[],
            file: None,
            expect: Expect::Error(&[
                "AYANOVA_JWT_SECRET and TESSERA_JWT_SECRET set in command line with different",
            ]),
        },
        Case {
            what: "both names with different values in the file",
            cli: &[],
            env: &[],
            file: Some(
                r#"{"TESSERA_JWT_SECRET": "ConfigFileSecret__0123456789abcd",
                    "AYANOVA_JWT_SECRET": "EnvironmentSecret_0123456789abcd"}"#,
            ),
            expect: Expect::Error(&[
                "TESSERA_JWT_SECRET and AYANOVA_JWT_SECRET set in config file /etc/tessera/config.json",
            ]),
        },
        Case {
            what: "the seed's command line example",
            cli: &[("AYANOVA_JWT_SECRET", "02847This_is_my_secret_key456576")],
            env: &[],
            file: None,
            expect: Expect::Key("02847This_is_my_secret_key456576", Origin::Cli),
        },
        Case {
            what: "the seed's config.json example",
            cli: &[],
            env: &[],
            file: Some(r#"{"AYANOVA_JWT_SECRET": "My32CharacterSecretKey0123456789"}"#),
            expect: Expect::Key("My32CharacterSecretKey0123456789", Origin::File),
        },
        Case {
            what: "the seed's example is flagged",
            cli: &[],
            env: &[("AYANOVA_JWT_SECRET", "02847This_is_my_secret_key456576")],
            file: None,
            expect: Expect::Warning("AYANOVA_JWT_SECRET: is a published example secret"),
        },
        Case {
            what: "31 characters are padded with one hyphen",
            cli: &[],
            env: &[("TESSERA_JWT_SECRET", "EnvironmentSecret_0123456789abc")],
            file: None,
            expect: Expect::Key("EnvironmentSecret_0123456789abc-", Origin::Env),
        },
        Case {
            what: "40 characters give the key of their first 32",
            cli: &[],
            env: &[(
                "TESSERA_JWT_SECRET",
                "EnvironmentSecret_0123456789abcdEXTRA123",
            )],
            file: None,
            expect: Expect::Key(ENV, Origin::Env),
        },
        Case {
            what: "ten é are padded with 22 hyphens",
            cli: &[],
            env: &[("TESSERA_JWT_SECRET", "éééééééééé")],
            file: None,
            expect: Expect::Key("éééééééééé----------------------", Origin::Env),
        },
        Case {
            what: "padding is warned about",
            cli: &[],
            env: &[("TESSERA_JWT_SECRET", "éééééééééé")],
            file: None,
            expect: Expect::Warning("padded from 10 characters to 32"),
        },
        Case {
            what: "an empty environment variable is an empty secret",
            cli: &[],
            env: &[("TESSERA_JWT_SECRET", "")],
            file: None,
            expect: Expect::Error(&[
                "TESSERA_JWT_SECRET=<hidden: 0 characters> from environment is invalid: must not be empty",
            ]),
        },
        Case {
            what: "an empty alias is an empty secret too",
            cli: &[],
            env: &[("AYANOVA_JWT_SECRET", "")],
            file: None,
            expect: Expect::Error(&["AYANOVA_JWT_SECRET=<hidden: 0 characters> from environment"]),
        },
        Case {
            what: "a blank secret is an error",
            cli: &[("TESSERA_JWT_SECRET", "   ")],
            env: &[],
            file: None,
            expect: Expect::Error(&[
                "TESSERA_JWT_SECRET=<hidden: 3 characters> from command line is invalid: must not be blank",
            ]),
        },
        Case {
            what: "a blank secret in the file is an error",
            cli: &[],
            env: &[],
            file: Some(r#"{"TESSERA_JWT_SECRET": " \t "}"#),
            expect: Expect::Error(&["from config file /etc/tessera/config.json is invalid"]),
        },
        Case {
            what: "a non-string secret in the file is an error",
            cli: &[],
            env: &[],
            file: Some(r#"{"TESSERA_JWT_SECRET": 12345678}"#),
            expect: Expect::Error(&[
                "TESSERA_JWT_SECRET in config file /etc/tessera/config.json is invalid: expected a string, found a number",
            ]),
        },
        Case {
            what: "strict policy refuses 31 characters",
            cli: &[],
            env: &[
                ("TESSERA_JWT_SECRET_POLICY", "strict"),
                ("TESSERA_JWT_SECRET", "EnvironmentSecret_0123456789abc"),
            ],
            file: None,
            expect: Expect::Error(&["must be at least 32 characters (policy strict)"]),
        },
        Case {
            what: "strict policy uses 40 characters whole",
            cli: &[("TESSERA_JWT_SECRET_POLICY", "strict")],
            env: &[(
                "TESSERA_JWT_SECRET",
                "EnvironmentSecret_0123456789abcdEXTRA123",
            )],
            file: None,
            expect: Expect::Key("EnvironmentSecret_0123456789abcdEXTRA123", Origin::Env),
        },
        Case {
            what: "strict policy from the file",
            cli: &[],
            env: &[("TESSERA_JWT_SECRET", "short")],
            file: Some(r#"{"TESSERA_JWT_SECRET_POLICY": "strict"}"#),
            expect: Expect::Error(&["TESSERA_JWT_SECRET=<hidden: 5 characters> from environment"]),
        },
        Case {
            what: "unknown policy",
            cli: &[],
            env: &[("TESSERA_JWT_SECRET_POLICY", "Strict")],
            file: None,
            expect: Expect::Error(&[
                "TESSERA_JWT_SECRET_POLICY=Strict from environment is invalid: must be pad or strict",
            ]),
        },
        Case {
            what: "no secret anywhere: generated",
            cli: &[],
            env: &[],
            file: None,
            expect: Expect::Warning(
                "TESSERA_JWT_SECRET: no TESSERA_JWT_SECRET/AYANOVA_JWT_SECRET set: generated a random secret",
            ),
        },
        Case {
            what: "no secret anywhere: shown hidden",
            cli: &[],
            env: &[],
            file: Some("{}"),
            expect: Expect::Shown(
                "TESSERA_JWT_SECRET",
                "<hidden: 32 characters>",
                Origin::Generated,
            ),
        },
        Case {
            what: "a secret on the command line is warned about",
            cli: &[("TESSERA_JWT_SECRET", CLI)],
            env: &[],
            file: None,
            expect: Expect::Warning("process list"),
        },
    ];
    for case in &cases {
        check(case);
    }
}

#[test]
fn generated_secret_is_reported_hidden() {
    let resolved = resolve(&RawSources::default()).unwrap();
    let entry = report_of(&resolved, "TESSERA_JWT_SECRET");
    assert_eq!(entry.display_value, "<hidden: 32 characters>");
    assert_eq!(entry.source, Source::Generated);
    let key = resolved.settings.jwt_secret.key_bytes();
    assert_eq!(key.len(), 32);
    assert!(key.iter().all(u8::is_ascii_alphanumeric));
    let again = resolve(&RawSources::default()).unwrap();
    assert_ne!(again.settings.jwt_secret.key_bytes(), key);
}

#[test]
fn numeric_bounds() {
    let mut cases = Vec::new();
    let bounds: &[(&str, &[&str], &[&str])] = &[
        (
            "TESSERA_JWT_EXPIRATION_MINUTES",
            &["5", "43200", "7200"],
            &["4", "43201", "5m", "0", "-5", ""],
        ),
        (
            "TESSERA_JWT_LEEWAY_SECONDS",
            &["0", "60"],
            &["61", "1.5", "30s"],
        ),
        (
            "TESSERA_LOGIN_MAX_ACCOUNT_FAILURES",
            &["1", "100"],
            &["0", "101"],
        ),
        (
            "TESSERA_LOGIN_MAX_CLIENT_FAILURES",
            &["1", "10000"],
            &["0", "10001"],
        ),
        (
            "TESSERA_LOGIN_FAILURE_WINDOW_SECONDS",
            &["60", "86400"],
            &["59", "86401"],
        ),
    ];
    for &(name, good, bad) in bounds {
        for &value in good {
            cases.push(Case {
                what: "integer within bounds",
                cli: &[],
                env: leak(name, value),
                file: None,
                expect: Expect::Shown(name, value, Origin::Env),
            });
        }
        for &value in bad {
            let allowed = SETTINGS.iter().find(|s| s.name == name).unwrap().allowed;
            let fragment: &'static str = Box::leak(
                format!("from environment is invalid: must be {allowed}").into_boxed_str(),
            );
            cases.push(Case {
                what: "integer out of bounds",
                cli: &[],
                env: leak(name, value),
                file: None,
                expect: Expect::Error(Box::leak(Box::new([name, fragment]))),
            });
        }
    }
    cases.push(Case {
        what: "the issue's example message",
        cli: &[],
        env: &[("TESSERA_JWT_EXPIRATION_MINUTES", "3")],
        file: None,
        expect: Expect::Error(&[
            "TESSERA_JWT_EXPIRATION_MINUTES=3 from environment is invalid: must be an integer from 5 to 43200 (minutes)",
        ]),
    });
    cases.push(Case {
        what: "integer from JSON",
        cli: &[],
        env: &[],
        file: Some(r#"{"TESSERA_JWT_EXPIRATION_MINUTES": 60}"#),
        expect: Expect::Shown("TESSERA_JWT_EXPIRATION_MINUTES", "60", Origin::File),
    });
    cases.push(Case {
        what: "integer as a JSON string",
        cli: &[],
        env: &[],
        file: Some(r#"{"TESSERA_JWT_LEEWAY_SECONDS": "10"}"#),
        expect: Expect::Shown("TESSERA_JWT_LEEWAY_SECONDS", "10", Origin::File),
    });
    cases.push(Case {
        what: "JSON integer out of bounds",
        cli: &[],
        env: &[],
        file: Some(r#"{"TESSERA_JWT_LEEWAY_SECONDS": -1}"#),
        expect: Expect::Error(&[
            "TESSERA_JWT_LEEWAY_SECONDS=-1 from config file /etc/tessera/config.json is invalid",
        ]),
    });
    cases.push(Case {
        what: "JSON fraction for an integer",
        cli: &[],
        env: &[],
        file: Some(r#"{"TESSERA_JWT_EXPIRATION_MINUTES": 60.5}"#),
        expect: Expect::Error(&["expected a string or an integer, found a number with a fraction"]),
    });
    cases.push(Case {
        what: "JSON bool for an integer",
        cli: &[],
        env: &[],
        file: Some(r#"{"TESSERA_JWT_EXPIRATION_MINUTES": true}"#),
        expect: Expect::Error(&[
            "TESSERA_JWT_EXPIRATION_MINUTES in config file",
            "found true or false",
        ]),
    });
    for case in &cases {
        check(case);
    }
}

/// A one-pair table for generated cases (leaked: tests only).
fn leak(name: &'static str, value: &'static str) -> &'static [(&'static str, &'static str)] {
    Box::leak(Box::new([(name, value)]))
}

#[test]
fn text_settings() {
    let cases = [
        Case {
            what: "issuer blank",
            cli: &[],
            env: &[("TESSERA_JWT_ISSUER", "  ")],
            file: None,
            expect: Expect::Error(&[
                "TESSERA_JWT_ISSUER=\"  \" from environment is invalid: must not be empty or blank",
            ]),
        },
        Case {
            what: "audience empty",
            cli: &[("TESSERA_JWT_AUDIENCE", "")],
            env: &[],
            file: None,
            expect: Expect::Error(&["TESSERA_JWT_AUDIENCE=\"\" from command line is invalid"]),
        },
        Case {
            what: "issuer from the file",
            cli: &[],
            env: &[],
            file: Some(r#"{"TESSERA_JWT_ISSUER": "https://auth.example.com"}"#),
            expect: Expect::Shown(
                "TESSERA_JWT_ISSUER",
                "https://auth.example.com",
                Origin::File,
            ),
        },
        Case {
            what: "issuer as a JSON number",
            cli: &[],
            env: &[],
            file: Some(r#"{"TESSERA_JWT_ISSUER": 5}"#),
            expect: Expect::Error(&[
                "TESSERA_JWT_ISSUER in config file /etc/tessera/config.json is invalid: expected a string, found a number",
            ]),
        },
        Case {
            what: "listen IPv6",
            cli: &[("TESSERA_LISTEN", "[::1]:0")],
            env: &[],
            file: None,
            expect: Expect::Shown("TESSERA_LISTEN", "[::1]:0", Origin::Cli),
        },
        Case {
            what: "listen host name",
            cli: &[],
            env: &[("TESSERA_LISTEN", "localhost:8420")],
            file: None,
            expect: Expect::Shown("TESSERA_LISTEN", "localhost:8420", Origin::Env),
        },
        Case {
            what: "listen IPv6 without brackets",
            cli: &[],
            env: &[("TESSERA_LISTEN", "::1:8420")],
            file: None,
            expect: Expect::Error(&["TESSERA_LISTEN=::1:8420 from environment", "in brackets"]),
        },
        Case {
            what: "listen port too large",
            cli: &[],
            env: &[("TESSERA_LISTEN", "0.0.0.0:65536")],
            file: None,
            expect: Expect::Error(&["TESSERA_LISTEN=0.0.0.0:65536 from environment is invalid"]),
        },
        Case {
            what: "database sqlite:",
            cli: &[],
            env: &[("TESSERA_DATABASE_URL", "sqlite:data/tessera.db")],
            file: None,
            expect: Expect::Shown(
                "TESSERA_DATABASE_URL",
                "sqlite:data/tessera.db",
                Origin::Env,
            ),
        },
        Case {
            what: "database postgres, password hidden",
            cli: &[],
            env: &[(
                "TESSERA_DATABASE_URL",
                "postgres://tessera:s3cr3tpw@db/tessera",
            )],
            file: None,
            expect: Expect::Error(&[
                "TESSERA_DATABASE_URL=postgres://tessera:<hidden>@db/tessera from environment is invalid: PostgreSQL support is not built yet",
            ]),
        },
        Case {
            what: "database other",
            cli: &[],
            env: &[("TESSERA_DATABASE_URL", "mysql://db/tessera")],
            file: None,
            expect: Expect::Error(&["must start with sqlite:// or sqlite:"]),
        },
        Case {
            what: "log filter",
            cli: &[],
            env: &[("TESSERA_LOG", "warn,tessera=debug")],
            file: None,
            expect: Expect::Shown("TESSERA_LOG", "warn,tessera=debug", Origin::Env),
        },
        Case {
            what: "bad log filter",
            cli: &[],
            env: &[("TESSERA_LOG", "tessera=loud")],
            file: None,
            expect: Expect::Error(&["TESSERA_LOG=tessera=loud from environment is invalid"]),
        },
        Case {
            what: "admin password unset",
            cli: &[],
            env: &[],
            file: None,
            expect: Expect::Shown("TESSERA_ADMIN_PASSWORD", "<not set>", Origin::Default),
        },
        Case {
            what: "admin password set",
            cli: &[],
            env: &[("TESSERA_ADMIN_PASSWORD", "correct horse")],
            file: None,
            expect: Expect::Shown(
                "TESSERA_ADMIN_PASSWORD",
                "<hidden: 13 characters>",
                Origin::Env,
            ),
        },
        Case {
            what: "admin password too short",
            cli: &[],
            env: &[("TESSERA_ADMIN_PASSWORD", "hunter2")],
            file: None,
            expect: Expect::Error(&[
                "TESSERA_ADMIN_PASSWORD=<hidden: 7 characters> from environment is invalid: must be 8 to 1024 characters",
            ]),
        },
        Case {
            what: "same name twice on the command line, different values",
            cli: &[("TESSERA_LOG", "debug"), ("TESSERA_LOG", "info")],
            env: &[],
            file: None,
            expect: Expect::Error(&[
                "TESSERA_LOG set in command line with different values (TESSERA_LOG=debug, TESSERA_LOG=info)",
            ]),
        },
        Case {
            what: "same name twice on the command line, same value",
            cli: &[("TESSERA_LOG", "debug"), ("TESSERA_LOG", "debug")],
            env: &[],
            file: None,
            expect: Expect::Shown("TESSERA_LOG", "debug", Origin::Cli),
        },
        Case {
            what: "TESSERA_CONFIG from the environment",
            cli: &[],
            env: &[("TESSERA_CONFIG", "/etc/tessera/config.json")],
            file: Some("{}"),
            expect: Expect::Shown("TESSERA_CONFIG", "/etc/tessera/config.json", Origin::Env),
        },
    ];
    for case in &cases {
        check(case);
    }
}

#[test]
fn defaults() {
    let expected = [
        ("TESSERA_CONFIG", "config.json (no file read)"),
        ("TESSERA_LISTEN", "127.0.0.1:8420"),
        ("TESSERA_DATABASE_URL", "sqlite://tessera.db"),
        ("TESSERA_LOG", "info"),
        ("TESSERA_JWT_SECRET_POLICY", "pad"),
        ("TESSERA_JWT_ISSUER", "tessera"),
        ("TESSERA_JWT_AUDIENCE", "tessera"),
        ("TESSERA_JWT_EXPIRATION_MINUTES", "7200"),
        ("TESSERA_JWT_LEEWAY_SECONDS", "30"),
        ("TESSERA_ADMIN_PASSWORD", "<not set>"),
        ("TESSERA_LOGIN_MAX_ACCOUNT_FAILURES", "10"),
        ("TESSERA_LOGIN_MAX_CLIENT_FAILURES", "50"),
        ("TESSERA_LOGIN_FAILURE_WINDOW_SECONDS", "900"),
    ];
    for (name, shown) in expected {
        check(&Case {
            what: "default",
            cli: &[],
            env: &[],
            file: None,
            expect: Expect::Shown(name, shown, Origin::Default),
        });
    }
    let settings = resolve(&RawSources::default()).unwrap().settings;
    assert_eq!(settings.listen, "127.0.0.1:8420");
    assert_eq!(settings.database_url, "sqlite://tessera.db");
    assert_eq!(settings.log, "info");
    assert_eq!(settings.jwt_secret_policy, crate::SecretPolicy::Pad);
    assert_eq!(
        (settings.jwt_issuer.as_str(), settings.jwt_audience.as_str()),
        ("tessera", "tessera")
    );
    assert_eq!(
        (settings.jwt_expiration_minutes, settings.jwt_leeway_seconds),
        (7200, 30)
    );
    assert!(settings.admin_password.is_none());
    assert_eq!(settings.login_max_account_failures, 10);
    assert_eq!(settings.login_max_client_failures, 50);
    assert_eq!(settings.login_failure_window_seconds, 900);
}

#[test]
fn unknown_names_are_warned_about_with_the_closest_setting() {
    let cases = [
        Case {
            what: "environment typo",
            cli: &[],
            env: &[("TESSERA_JWT_SECERT", "x")],
            file: None,
            expect: Expect::Warning(
                "unknown setting TESSERA_JWT_SECERT in environment; did you mean TESSERA_JWT_SECRET?",
            ),
        },
        Case {
            what: "command line typo",
            cli: &[("TESSERA_LISTN", "x")],
            env: &[],
            file: None,
            expect: Expect::Warning(
                "unknown setting TESSERA_LISTN in command line; did you mean TESSERA_LISTEN?",
            ),
        },
        Case {
            what: "config file typo",
            cli: &[],
            env: &[],
            file: Some(r#"{"TESSERA_JWT_ISUER": "x"}"#),
            expect: Expect::Warning(
                "unknown setting TESSERA_JWT_ISUER in config file /etc/tessera/config.json; did you mean TESSERA_JWT_ISSUER?",
            ),
        },
        Case {
            what: "wrong case",
            cli: &[],
            env: &[("TESSERA_jwt_secret", "x")],
            file: None,
            expect: Expect::Warning("did you mean TESSERA_JWT_SECRET?"),
        },
        Case {
            what: "a longer name",
            cli: &[],
            env: &[("TESSERA_JWT_EXPIRATION", "60")],
            file: None,
            expect: Expect::Warning("did you mean TESSERA_JWT_EXPIRATION_MINUTES?"),
        },
        Case {
            what: "nothing close",
            cli: &[],
            env: &[("TESSERA_ZZZ", "x")],
            file: None,
            expect: Expect::Warning(
                "unknown setting TESSERA_ZZZ in environment; the settings are listed in docs/SETTINGS.md",
            ),
        },
        Case {
            what: "unknown AyaNova parameter on the command line",
            cli: &[("AYANOVA_USE_URLS", "x")],
            env: &[],
            file: None,
            expect: Expect::Warning("unknown setting AYANOVA_USE_URLS in command line"),
        },
        Case {
            what: "TESSERA_CONFIG in the file",
            cli: &[],
            env: &[],
            file: Some(r#"{"TESSERA_CONFIG": "other.json"}"#),
            expect: Expect::Warning(
                "TESSERA_CONFIG in config file /etc/tessera/config.json is ignored here",
            ),
        },
    ];
    for case in &cases {
        check(case);
    }
}

#[test]
fn other_names_are_ignored_silently() {
    let case = Case {
        what: "AyaNova's other settings and an app's other properties",
        cli: &[],
        env: &[("AYANOVA_DB_CONNECTION", "x")],
        file: Some(r#"{"AYANOVA_USE_URLS": "x", "Logging": {"x": 1}, "name": 5}"#),
        expect: Expect::Key(FILE, Origin::File),
    };
    let mut raw = sources(&case);
    raw.file.as_mut().unwrap().entries.push((
        "TESSERA_JWT_SECRET".to_owned(),
        crate::FileValue::Text(FILE.to_owned()),
    ));
    let resolved = resolve(&raw).unwrap();
    assert!(resolved.warnings.is_empty(), "{:?}", resolved.warnings);
}

#[test]
fn report_lists_overridden_sources_and_aliases() {
    let case = Case {
        what: "overrides",
        cli: &[("AYANOVA_JWT_SECRET", CLI)],
        env: &[("TESSERA_JWT_SECRET", ENV)],
        file: Some(r#"{"TESSERA_JWT_SECRET": "ConfigFileSecret__0123456789abcd"}"#),
        expect: Expect::Key(CLI, Origin::Cli),
    };
    let resolved = resolve(&sources(&case)).unwrap();
    let entry = report_of(&resolved, "TESSERA_JWT_SECRET");
    assert_eq!(entry.given_as, Some("AYANOVA_JWT_SECRET"));
    assert_eq!(
        entry.overridden,
        vec![Origin::Env.source(), Origin::File.source()]
    );
    let check_text = render_check(&resolved);
    assert!(
        check_text.contains(
            "command line (as AYANOVA_JWT_SECRET); overrides environment, config file /etc/tessera/config.json"
        ),
        "{check_text}"
    );
}

#[test]
fn every_problem_is_reported_at_once() {
    let case = Case {
        what: "many problems",
        cli: &[("TESSERA_LISTEN", "nowhere")],
        env: &[
            ("TESSERA_JWT_SECRET", ""),
            ("TESSERA_JWT_LEEWAY_SECONDS", "61"),
        ],
        file: Some(r#"{"TESSERA_JWT_ISSUER": [], "TESSERA_DATABASE_URL": "postgres://h/db"}"#),
        expect: Expect::Error(&[]),
    };
    let errors = resolve(&sources(&case)).unwrap_err();
    let settings: Vec<_> = errors.iter().filter_map(|e| e.setting()).collect();
    assert_eq!(
        settings,
        [
            "TESSERA_LISTEN",
            "TESSERA_DATABASE_URL",
            "TESSERA_JWT_SECRET",
            "TESSERA_JWT_ISSUER",
            "TESSERA_JWT_LEEWAY_SECONDS"
        ]
    );
    let rendered = render_errors(&errors);
    assert!(
        rendered.starts_with("tessera's settings have 5 problems:\n"),
        "{rendered}"
    );
    for error in &errors {
        assert!(!error.to_string().contains('\n'));
    }
}

#[test]
fn secrets_never_appear_in_errors_reports_warnings_or_debug() {
    const SECRET: &str = "Zq8sWm3kPx7vTn2bYr6cLd9fHj4gKa5e-so-secret";
    const ADMIN: &str = "AdminPassword!Sup3rSecret";
    let (secret, admin) = (SECRET, ADMIN);
    let failing = [
        Case {
            what: "conflict",
            cli: &[],
            env: &[
                ("TESSERA_JWT_SECRET", SECRET),
                ("AYANOVA_JWT_SECRET", "zzzzz"),
            ],
            file: None,
            expect: Expect::Error(&[]),
        },
        Case {
            what: "strict",
            cli: &[
                ("TESSERA_JWT_SECRET_POLICY", "strict"),
                ("TESSERA_JWT_SECRET", "Zq8sWm3kPx7v"),
            ],
            env: &[],
            file: None,
            expect: Expect::Error(&[]),
        },
        Case {
            what: "admin conflict",
            cli: &[
                ("TESSERA_ADMIN_PASSWORD", ADMIN),
                ("TESSERA_ADMIN_PASSWORD", "other one!"),
            ],
            env: &[],
            file: None,
            expect: Expect::Error(&[]),
        },
    ];
    for case in &failing {
        let errors = resolve(&sources(case)).unwrap_err();
        let rendered = format!("{}\n{errors}\n{errors:?}", render_errors(&errors));
        for value in [secret, "Zq8sWm3kPx7v", admin, "zzzzz"] {
            assert!(!rendered.contains(value), "{}: {rendered}", case.what);
        }
        assert!(rendered.contains("<hidden:"), "{rendered}");
    }
    let passing = Case {
        what: "resolved",
        cli: &[("TESSERA_JWT_SECRET", SECRET)],
        env: &[("TESSERA_ADMIN_PASSWORD", ADMIN)],
        file: None,
        expect: Expect::Error(&[]),
    };
    let raw = sources(&passing);
    let resolved = resolve(&raw).unwrap();
    let everything = format!(
        "{:?}\n{:?}\n{}\n{:?}",
        resolved.settings,
        resolved,
        render_check(&resolved),
        raw
    );
    let first_32: String = secret.chars().take(32).collect();
    for value in [secret, first_32.as_str(), admin] {
        assert!(!everything.contains(value), "{everything}");
    }
    assert!(everything.contains("JwtSecret(<redacted>)"));
}

#[test]
fn check_report_lists_every_setting() {
    let resolved = resolve(&RawSources::default()).unwrap();
    let text = render_check(&resolved);
    for spec in SETTINGS {
        assert!(text.contains(spec.name), "{text}");
    }
    let secret_line = text
        .lines()
        .find(|line| line.starts_with("TESSERA_JWT_SECRET "))
        .unwrap();
    assert!(secret_line.contains("<hidden: 32 characters>"), "{text}");
    assert!(
        secret_line.contains("generated at start; see warnings"),
        "{text}"
    );
    assert!(text.contains("1 warning:"), "{text}");
}

/// `docs/SETTINGS.md` is generated from the table; `TESSERA_BLESS=1` rewrites it.
#[test]
fn settings_reference_is_up_to_date() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/SETTINGS.md");
    let generated = settings_reference_markdown();
    if std::env::var_os("TESSERA_BLESS").is_some_and(|value| value == "1") {
        std::fs::create_dir_all(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs")).unwrap();
        std::fs::write(path, &generated).unwrap();
        return;
    }
    let on_disk = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        on_disk == generated,
        "docs/SETTINGS.md is out of date: run TESSERA_BLESS=1 cargo test -p tessera-config"
    );
}

#[test]
fn settings_reference_documents_every_setting() {
    let page = settings_reference_markdown();
    for spec in SETTINGS {
        assert!(
            page.contains(&format!("## `{}`", spec.name)),
            "{}",
            spec.name
        );
        for alias in spec.aliases {
            assert!(page.contains(alias));
        }
    }
    assert!(page.contains("padded on the right with `-` (U+002D HYPHEN-MINUS) to exactly 32"));
    assert!(page.contains("A verifier elsewhere must be able to rebuild the key"));
    assert!(page.contains("`\"TESSERA_JWT_EXPIRATION_MINUTES\": 60`"));
}
