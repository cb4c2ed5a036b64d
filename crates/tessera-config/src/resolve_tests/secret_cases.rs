//! Cases for TESSERA_JWT_SECRET: precedence, aliases, the seed's rule and its policy.

use super::{CLI, Case, ENV, Expect, FILE, Origin, check, report_of};
use crate::{RawSources, Source, resolve};

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

/// The serve-only rule: a random secret on PostgreSQL needs the opt-in; SQLite and any
/// configured secret are unaffected.
#[test]
fn random_secret_on_postgres_needs_the_opt_in() {
    const PG: &str = "postgres://tessera:pw@db.example/tessera";
    let outcome = |env: &'static [(&'static str, &'static str)]| {
        let case = Case {
            what: "serve rule",
            cli: &[],
            env,
            file: None,
            expect: Expect::NoWarning(""),
        };
        resolve(&super::sources(&case))
            .unwrap_or_else(|e| panic!("{}", crate::render_errors(&e)))
            .check_serve()
            .map_err(|e| crate::render_errors(&e))
    };
    let refused = outcome(&[("TESSERA_DATABASE_URL", PG)]).unwrap_err();
    for fragment in [
        "TESSERA_JWT_SECRET (or AYANOVA_JWT_SECRET) is not set",
        "TESSERA_DATABASE_URL (from environment) names a PostgreSQL database",
        "several instances must share one secret",
        "`tessera gen-secret`",
        "TESSERA_ALLOW_RANDOM_SECRET=true",
        "only work on the instance that issued them",
    ] {
        assert!(refused.contains(fragment), "{fragment:?} not in\n{refused}");
    }
    assert!(!refused.contains(":pw@"), "{refused}");
    assert!(
        outcome(&[("TESSERA_DATABASE_URL", "POSTGRESQL://h/d")]).is_err(),
        "the scheme in any case"
    );
    outcome(&[
        ("TESSERA_DATABASE_URL", PG),
        ("TESSERA_ALLOW_RANDOM_SECRET", "true"),
    ])
    .expect("opted in");
    outcome(&[("TESSERA_DATABASE_URL", PG), ("TESSERA_JWT_SECRET", ENV)]).expect("configured");
    outcome(&[("TESSERA_DATABASE_URL", PG), ("AYANOVA_JWT_SECRET", ENV)]).expect("alias");
    outcome(&[]).expect("SQLite keeps the random secret");
}

#[test]
fn instance_settings_default_and_resolve() {
    let settings = |env: &'static [(&'static str, &'static str)]| {
        let case = Case {
            what: "instance settings",
            cli: &[],
            env,
            file: None,
            expect: Expect::NoWarning(""),
        };
        resolve(&super::sources(&case)).unwrap().settings
    };
    let defaults = settings(&[]);
    assert!(!defaults.allow_random_secret);
    assert!(defaults.database_notifications);
    assert_eq!(defaults.instance_lease_seconds, 5);
    let given = settings(&[
        ("TESSERA_ALLOW_RANDOM_SECRET", "on"),
        ("TESSERA_DATABASE_NOTIFICATIONS", "no"),
        ("TESSERA_INSTANCE_LEASE_SECONDS", "20"),
    ]);
    assert!(given.allow_random_secret);
    assert!(!given.database_notifications);
    assert_eq!(given.instance_lease_seconds, 20);
    check(&Case {
        what: "lease out of range",
        cli: &[("TESSERA_INSTANCE_LEASE_SECONDS", "21")],
        env: &[],
        file: None,
        expect: Expect::Error(&[
            "TESSERA_INSTANCE_LEASE_SECONDS=21 from command line is invalid: must be an integer \
             from 1 to 20 (seconds)",
        ]),
    });
    check(&Case {
        what: "a near miss is suggested",
        cli: &[],
        env: &[("TESSERA_DATABASE_NOTIFY", "false")],
        file: None,
        expect: Expect::Warning("TESSERA_DATABASE_NOTIFICATIONS"),
    });
}
