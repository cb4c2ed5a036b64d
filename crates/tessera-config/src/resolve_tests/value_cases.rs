//! Cases for the other settings' values: bounds, forms and defaults.

use super::{Case, Expect, Origin, check};
use crate::SETTINGS;

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
            // Up to 25 with the default 900 s window; 100 needs a window of an hour.
            &["1", "25"],
            &["0", "101"],
        ),
        (
            "TESSERA_LOGIN_MAX_CLIENT_FAILURES",
            &["1", "10000"],
            &["0", "10001"],
        ),
        (
            "TESSERA_LOGIN_FAILURE_WINDOW_SECONDS",
            // 360 s is the shortest window for the default 10 failures (100 an hour).
            &["360", "86400"],
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
        what: "account failures per hour at the limit (25 per 900 s = 100 an hour)",
        cli: &[("TESSERA_LOGIN_MAX_ACCOUNT_FAILURES", "25")],
        env: &[],
        file: None,
        expect: Expect::Shown("TESSERA_LOGIN_MAX_ACCOUNT_FAILURES", "25", Origin::Cli),
    });
    cases.push(Case {
        what: "the shortest window with one failure per window",
        cli: &[("TESSERA_LOGIN_MAX_ACCOUNT_FAILURES", "1")],
        env: &[("TESSERA_LOGIN_FAILURE_WINDOW_SECONDS", "60")],
        file: None,
        expect: Expect::Shown("TESSERA_LOGIN_FAILURE_WINDOW_SECONDS", "60", Origin::Env),
    });
    cases.push(Case {
        what: "100 account failures with an hour's window",
        cli: &[("TESSERA_LOGIN_FAILURE_WINDOW_SECONDS", "3600")],
        env: &[("TESSERA_LOGIN_MAX_ACCOUNT_FAILURES", "100")],
        file: None,
        expect: Expect::Shown("TESSERA_LOGIN_MAX_ACCOUNT_FAILURES", "100", Origin::Env),
    });
    cases.push(Case {
        what: "account failures per hour above the limit",
        cli: &[("TESSERA_LOGIN_MAX_ACCOUNT_FAILURES", "100")],
        env: &[("TESSERA_LOGIN_FAILURE_WINDOW_SECONDS", "600")],
        file: None,
        expect: Expect::Error(&[
            "TESSERA_LOGIN_MAX_ACCOUNT_FAILURES=100 (from command line) with TESSERA_LOGIN_FAILURE_WINDOW_SECONDS=600 (from environment) allows 600 failed logins per account per hour; at most 100",
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
