//! Cases about sources: unknown names, overrides, error collection and secrecy.

use super::{CLI, Case, ENV, Expect, FILE, Origin, check, report_of, sources};
use crate::{RawSources, render_check, render_errors, resolve};

#[test]
fn defaults() {
    let expected = [
        ("TESSERA_CONFIG", "config.json (no file read)"),
        ("TESSERA_LISTEN", "127.0.0.1:8420"),
        ("TESSERA_METRICS_LISTEN", "<not set>"),
        ("TESSERA_DATABASE_URL", "sqlite://tessera.db"),
        ("TESSERA_LOG", "info"),
        ("TESSERA_JWT_SECRET_POLICY", "pad"),
        ("TESSERA_JWT_ISSUER", "tessera"),
        ("TESSERA_JWT_AUDIENCE", "tessera"),
        ("TESSERA_JWT_EXPIRATION_MINUTES", "7200"),
        ("TESSERA_JWT_LEEWAY_SECONDS", "30"),
        ("TESSERA_REFRESH_ABSOLUTE_MINUTES", "43200"),
        ("TESSERA_REFRESH_IDLE_MINUTES", "10080"),
        ("TESSERA_REFRESH_REUSE_GRACE_SECONDS", "10"),
        ("TESSERA_SINGLE_SESSION", "false"),
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
    assert_eq!(
        (
            settings.refresh_absolute_minutes,
            settings.refresh_idle_minutes,
            settings.refresh_reuse_grace_seconds
        ),
        (43200, 10080, 10)
    );
    assert!(!settings.single_session);
    assert!(settings.admin_password.is_none());
    assert_eq!(settings.login_max_account_failures, 10);
    assert_eq!(settings.login_max_client_failures, 50);
    assert_eq!(settings.login_failure_window_seconds, 900);
}

#[test]
fn unknown_names_are_warnings_in_the_environment_with_the_closest_setting() {
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
            what: "the issue's name, in the environment",
            cli: &[],
            env: &[("TESSERA_JWT_EXPIRY", "15")],
            file: None,
            expect: Expect::Warning(
                "unknown setting TESSERA_JWT_EXPIRY in environment; did you mean TESSERA_JWT_EXPIRATION_MINUTES?",
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
            what: "an AyaNova name close to the secret",
            cli: &[],
            env: &[("AYANOVA_JWT_SECERT", "x")],
            file: None,
            expect: Expect::Warning(
                "unknown setting AYANOVA_JWT_SECERT in environment; did you mean AYANOVA_JWT_SECRET?",
            ),
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
fn unknown_names_on_the_command_line_or_in_the_file_stop_the_start() {
    let cases = [
        Case {
            what: "the issue's name on the command line",
            cli: &[("TESSERA_JWT_EXPIRY", "15")],
            env: &[],
            file: None,
            expect: Expect::Error(&[
                "unknown setting TESSERA_JWT_EXPIRY in command line; did you mean TESSERA_JWT_EXPIRATION_MINUTES?",
            ]),
        },
        Case {
            what: "the issue's name in the config file",
            cli: &[],
            env: &[],
            file: Some(r#"{"TESSERA_JWT_EXPIRY": 15}"#),
            expect: Expect::Error(&[
                "unknown setting TESSERA_JWT_EXPIRY in config file /etc/tessera/config.json; did you mean TESSERA_JWT_EXPIRATION_MINUTES?",
            ]),
        },
        Case {
            what: "command line typo",
            cli: &[("TESSERA_LISTN", "x")],
            env: &[],
            file: None,
            expect: Expect::Error(&[
                "unknown setting TESSERA_LISTN in command line; did you mean TESSERA_LISTEN?",
            ]),
        },
        Case {
            what: "config file typo",
            cli: &[],
            env: &[],
            file: Some(r#"{"TESSERA_JWT_ISUER": "x"}"#),
            expect: Expect::Error(&[
                "unknown setting TESSERA_JWT_ISUER in config file /etc/tessera/config.json; did you mean TESSERA_JWT_ISSUER?",
            ]),
        },
        Case {
            what: "words, not letters",
            cli: &[("TESSERA_SECRET", "x"), ("TESSERA_LISTEN_ADDR", "x")],
            env: &[],
            file: Some(r#"{"TESSERA_DB_URL": "sqlite://x.db"}"#),
            expect: Expect::Error(&[
                "unknown setting TESSERA_SECRET in command line; did you mean TESSERA_JWT_SECRET?",
                "unknown setting TESSERA_LISTEN_ADDR in command line; did you mean TESSERA_LISTEN?",
                "unknown setting TESSERA_DB_URL in config file /etc/tessera/config.json; did you mean TESSERA_DATABASE_URL?",
            ]),
        },
        Case {
            what: "nothing close",
            cli: &[],
            env: &[],
            file: Some(r#"{"TESSERA_ZZZ": "x"}"#),
            expect: Expect::Error(&[
                "unknown setting TESSERA_ZZZ in config file /etc/tessera/config.json; the settings are listed in docs/SETTINGS.md",
            ]),
        },
        Case {
            what: "an AyaNova setting on the command line",
            cli: &[("AYANOVA_USE_URLS", "x")],
            env: &[],
            file: None,
            expect: Expect::Error(&[
                "AYANOVA_USE_URLS in command line is an AyaNova setting tessera does not use; tessera's own is TESSERA_LISTEN",
            ]),
        },
        Case {
            what: "an AyaNova typo in the file",
            cli: &[],
            env: &[],
            file: Some(r#"{"AYANOVA_DB_CONECTION": "x", "AYANOVA_QUUX": 1}"#),
            expect: Expect::Error(&[
                "unknown setting AYANOVA_DB_CONECTION in config file /etc/tessera/config.json; did you mean AYANOVA_DB_CONNECTION (an AyaNova setting tessera ignores)?",
                "unknown setting AYANOVA_QUUX in config file /etc/tessera/config.json; it is neither a tessera setting nor one of the AyaNova settings tessera ignores",
            ]),
        },
        Case {
            what: "reported with the other problems",
            cli: &[("TESSERA_JWT_EXPIRY", "15")],
            env: &[("TESSERA_JWT_EXPIRATION_MINUTES", "4")],
            file: None,
            expect: Expect::Error(&[
                "2 problems",
                "TESSERA_JWT_EXPIRY",
                "TESSERA_JWT_EXPIRATION_MINUTES=4",
            ]),
        },
    ];
    for case in &cases {
        check(case);
    }
}

#[test]
fn an_unknown_name_repeated_in_one_source_is_reported_once() {
    let case = Case {
        what: "twice",
        cli: &[("TESSERA_JWT_EXPIRY", "15"), ("TESSERA_JWT_EXPIRY", "16")],
        env: &[],
        file: Some(r#"{"TESSERA_JWT_EXPIRY": 15}"#),
        expect: Expect::Error(&[]),
    };
    let errors = resolve(&sources(&case)).unwrap_err();
    let names: Vec<_> = errors.iter().map(|e| e.setting()).collect();
    assert_eq!(
        names,
        [Some("TESSERA_JWT_EXPIRY"), Some("TESSERA_JWT_EXPIRY")],
        "{errors}"
    );
    assert_eq!(errors.0[0].origin(), Some(&crate::Source::CommandLine));
}

#[test]
fn other_names_are_ignored_silently() {
    let case = Case {
        what: "AyaNova's other settings and an app's other properties",
        cli: &[],
        env: &[("AYANOVA_DB_CONNECTION", "x"), ("AYANOVA_QUUX", "x")],
        file: Some(
            r#"{"AYANOVA_USE_URLS": "x", "AYANOVA_DB_CONNECTION": "Server=localhost;",
                "AYANOVA_DEFAULT_TRANSLATION": "en", "AYANOVA_SET_SUPERUSER_PW": "x",
                "Logging": {"x": 1}, "name": 5}"#,
        ),
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
        file: Some(r#"{"TESSERA_JWT_ISSUER": [], "TESSERA_DATABASE_URL": "postgres://h"}"#),
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
