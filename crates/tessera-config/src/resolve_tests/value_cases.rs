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
            "TESSERA_REFRESH_ABSOLUTE_MINUTES",
            // Down to the default idle timeout (10080); shorter needs a shorter idle timeout.
            &["10080", "43200", "525600"],
            &["4", "525601", "30d", "-1", ""],
        ),
        (
            "TESSERA_REFRESH_IDLE_MINUTES",
            // Up to the default absolute lifetime (43200); longer needs a longer lifetime.
            &["5", "10080", "43200"],
            &["4", "525601", "1.5", "7d"],
        ),
        (
            "TESSERA_REFRESH_REUSE_GRACE_SECONDS",
            &["0", "10", "60"],
            &["61", "-1", "10s", "0.5"],
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
    cases.push(Case {
        what: "refresh lifetimes as JSON integers",
        cli: &[],
        env: &[],
        file: Some(
            r#"{"TESSERA_REFRESH_ABSOLUTE_MINUTES": 480, "TESSERA_REFRESH_IDLE_MINUTES": 60, "TESSERA_REFRESH_REUSE_GRACE_SECONDS": 0}"#,
        ),
        expect: Expect::Holds(
            "TESSERA_REFRESH_IDLE_MINUTES",
            |s| {
                (
                    s.refresh_absolute_minutes,
                    s.refresh_idle_minutes,
                    s.refresh_reuse_grace_seconds,
                ) == (480, 60, 0)
            },
            Origin::File,
        ),
    });
    cases.push(Case {
        what: "JSON bool for the reuse grace",
        cli: &[],
        env: &[],
        file: Some(r#"{"TESSERA_REFRESH_REUSE_GRACE_SECONDS": false}"#),
        expect: Expect::Error(&[
            "TESSERA_REFRESH_REUSE_GRACE_SECONDS in config file /etc/tessera/config.json is invalid: expected a string or an integer, found true or false",
        ]),
    });
    cases.push(Case {
        what: "the shortest absolute lifetime with the shortest idle timeout",
        cli: &[("TESSERA_REFRESH_ABSOLUTE_MINUTES", "5")],
        env: &[("TESSERA_REFRESH_IDLE_MINUTES", "5")],
        file: None,
        expect: Expect::Holds(
            "TESSERA_REFRESH_ABSOLUTE_MINUTES",
            |s| (s.refresh_absolute_minutes, s.refresh_idle_minutes) == (5, 5),
            Origin::Cli,
        ),
    });
    cases.push(Case {
        what: "the longest idle timeout with the longest absolute lifetime",
        cli: &[("TESSERA_REFRESH_IDLE_MINUTES", "525600")],
        env: &[("TESSERA_REFRESH_ABSOLUTE_MINUTES", "525600")],
        file: None,
        expect: Expect::Shown("TESSERA_REFRESH_IDLE_MINUTES", "525600", Origin::Cli),
    });
    for case in &cases {
        check(case);
    }
}

#[test]
fn refresh_lifetimes_fit_together() {
    const OUTLIVE: &str = "access tokens then outlive idle sessions";
    let cases = [
        Case {
            what: "idle timeout equal to the absolute lifetime",
            cli: &[("TESSERA_REFRESH_IDLE_MINUTES", "1440")],
            env: &[("TESSERA_REFRESH_ABSOLUTE_MINUTES", "1440")],
            file: None,
            expect: Expect::Holds(
                "TESSERA_REFRESH_IDLE_MINUTES",
                |s| s.refresh_idle_minutes == s.refresh_absolute_minutes,
                Origin::Cli,
            ),
        },
        Case {
            what: "idle timeout longer than the absolute lifetime",
            cli: &[("TESSERA_REFRESH_ABSOLUTE_MINUTES", "10080")],
            env: &[("TESSERA_REFRESH_IDLE_MINUTES", "20160")],
            file: None,
            expect: Expect::Error(&[
                "TESSERA_REFRESH_IDLE_MINUTES=20160 (from environment) is longer than TESSERA_REFRESH_ABSOLUTE_MINUTES=10080 (from command line); the idle timeout must be at most the absolute lifetime: lower the idle timeout or lengthen the lifetime",
            ]),
        },
        Case {
            what: "absolute lifetime shorter than the default idle timeout",
            cli: &[],
            env: &[("TESSERA_REFRESH_ABSOLUTE_MINUTES", "480")],
            file: None,
            expect: Expect::Error(&[
                "TESSERA_REFRESH_IDLE_MINUTES=10080 (from default) is longer than TESSERA_REFRESH_ABSOLUTE_MINUTES=480 (from environment)",
            ]),
        },
        Case {
            what: "idle timeout longer than the absolute lifetime, both in the file",
            cli: &[],
            env: &[],
            file: Some(
                r#"{"TESSERA_REFRESH_ABSOLUTE_MINUTES": "14400", "TESSERA_REFRESH_IDLE_MINUTES": 14401}"#,
            ),
            expect: Expect::Error(&[
                "TESSERA_REFRESH_IDLE_MINUTES=14401 (from config file /etc/tessera/config.json) is longer than TESSERA_REFRESH_ABSOLUTE_MINUTES=14400 (from config file /etc/tessera/config.json)",
            ]),
        },
        Case {
            what: "idle timeout over the absolute lifetime is refused, not only warned about",
            cli: &[("TESSERA_REFRESH_IDLE_MINUTES", "60")],
            env: &[("TESSERA_REFRESH_ABSOLUTE_MINUTES", "30")],
            file: None,
            expect: Expect::Error(&["TESSERA_REFRESH_IDLE_MINUTES=60 (from command line)"]),
        },
        Case {
            what: "the defaults: 5-day access tokens within 7-day idle sessions",
            cli: &[],
            env: &[],
            file: None,
            expect: Expect::NoWarning(OUTLIVE),
        },
        Case {
            what: "access lifetime equal to the idle timeout",
            cli: &[],
            env: &[("TESSERA_JWT_EXPIRATION_MINUTES", "10080")],
            file: None,
            expect: Expect::NoWarning(OUTLIVE),
        },
        Case {
            what: "short access tokens with a short idle timeout",
            cli: &[("TESSERA_JWT_EXPIRATION_MINUTES", "15")],
            env: &[("TESSERA_REFRESH_IDLE_MINUTES", "60")],
            file: None,
            expect: Expect::NoWarning(OUTLIVE),
        },
        Case {
            what: "access lifetime longer than the default idle timeout",
            cli: &[],
            env: &[("TESSERA_JWT_EXPIRATION_MINUTES", "10081")],
            file: None,
            expect: Expect::Warning(
                "TESSERA_JWT_EXPIRATION_MINUTES=10081 (from environment) is longer than TESSERA_REFRESH_IDLE_MINUTES=10080 (from default): access tokens then outlive idle sessions and are cut off when the session ends; access tokens of 10 to 30 minutes with refresh tokens are recommended",
            ),
        },
        Case {
            what: "idle timeout shorter than the default access lifetime",
            cli: &[("TESSERA_REFRESH_IDLE_MINUTES", "60")],
            env: &[],
            file: None,
            expect: Expect::Warning(
                "TESSERA_JWT_EXPIRATION_MINUTES=7200 (from default) is longer than TESSERA_REFRESH_IDLE_MINUTES=60 (from command line)",
            ),
        },
        Case {
            what: "the warning does not stop the start",
            cli: &[("TESSERA_REFRESH_IDLE_MINUTES", "60")],
            env: &[],
            file: None,
            expect: Expect::Holds(
                "TESSERA_REFRESH_IDLE_MINUTES",
                |s| (s.jwt_expiration_minutes, s.refresh_idle_minutes) == (7200, 60),
                Origin::Cli,
            ),
        },
    ];
    for case in &cases {
        check(case);
    }
}

#[test]
fn boolean_settings() {
    const RULE: &str = "must be true, false, 1, 0, yes, no, on or off (letters in any case)";
    let on: fn(&crate::Settings) -> bool = |s| s.single_session;
    let off: fn(&crate::Settings) -> bool = |s| !s.single_session;
    let name = "TESSERA_SINGLE_SESSION";
    let mut cases = vec![
        Case {
            what: "off by default",
            cli: &[],
            env: &[],
            file: None,
            expect: Expect::Holds(name, off, Origin::Default),
        },
        Case {
            what: "true from a JSON boolean",
            cli: &[],
            env: &[],
            file: Some(r#"{"TESSERA_SINGLE_SESSION": true}"#),
            expect: Expect::Holds(name, on, Origin::File),
        },
        Case {
            what: "a JSON boolean is shown as true",
            cli: &[],
            env: &[],
            file: Some(r#"{"TESSERA_SINGLE_SESSION": true}"#),
            expect: Expect::Shown(name, "true", Origin::File),
        },
        Case {
            what: "false from a JSON boolean",
            cli: &[],
            env: &[],
            file: Some(r#"{"TESSERA_SINGLE_SESSION": false}"#),
            expect: Expect::Holds(name, off, Origin::File),
        },
        Case {
            what: "a JSON string in the file",
            cli: &[],
            env: &[],
            file: Some(r#"{"TESSERA_SINGLE_SESSION": "Yes"}"#),
            expect: Expect::Holds(name, on, Origin::File),
        },
        Case {
            what: "command line beats environment beats file",
            cli: &[("TESSERA_SINGLE_SESSION", "off")],
            env: &[("TESSERA_SINGLE_SESSION", "on")],
            file: Some(r#"{"TESSERA_SINGLE_SESSION": true}"#),
            expect: Expect::Holds(name, off, Origin::Cli),
        },
        Case {
            what: "environment beats a JSON boolean",
            cli: &[],
            env: &[("TESSERA_SINGLE_SESSION", "true")],
            file: Some(r#"{"TESSERA_SINGLE_SESSION": false}"#),
            expect: Expect::Holds(name, on, Origin::Env),
        },
        Case {
            what: "a JSON number",
            cli: &[],
            env: &[],
            file: Some(r#"{"TESSERA_SINGLE_SESSION": 1}"#),
            expect: Expect::Error(&[
                "TESSERA_SINGLE_SESSION in config file /etc/tessera/config.json is invalid: expected a string or a boolean (true or false), found a number",
            ]),
        },
        Case {
            what: "JSON null",
            cli: &[],
            env: &[],
            file: Some(r#"{"TESSERA_SINGLE_SESSION": null}"#),
            expect: Expect::Error(&["expected a string or a boolean (true or false), found null"]),
        },
        Case {
            what: "a word that is not listed",
            cli: &[],
            env: &[("TESSERA_SINGLE_SESSION", "maybe")],
            file: None,
            expect: Expect::Error(&[
                "TESSERA_SINGLE_SESSION=maybe from environment is invalid: must be true, false, 1, 0, yes, no, on or off (letters in any case)",
            ]),
        },
        Case {
            what: "an empty value",
            cli: &[],
            env: &[("TESSERA_SINGLE_SESSION", "")],
            file: None,
            expect: Expect::Error(&[
                "TESSERA_SINGLE_SESSION=\"\" from environment is invalid",
                RULE,
            ]),
        },
        Case {
            what: "spaces around the word",
            cli: &[("TESSERA_SINGLE_SESSION", " true")],
            env: &[],
            file: None,
            expect: Expect::Error(&[
                "TESSERA_SINGLE_SESSION=\" true\" from command line is invalid",
                RULE,
            ]),
        },
        Case {
            what: "an unlisted word in the file",
            cli: &[],
            env: &[],
            file: Some(r#"{"TESSERA_SINGLE_SESSION": "enabled"}"#),
            expect: Expect::Error(&[
                "TESSERA_SINGLE_SESSION=enabled from config file /etc/tessera/config.json is invalid",
                RULE,
            ]),
        },
        Case {
            what: "a JSON boolean for a text setting",
            cli: &[],
            env: &[],
            file: Some(r#"{"TESSERA_LOG": true}"#),
            expect: Expect::Error(&[
                "TESSERA_LOG in config file /etc/tessera/config.json is invalid: expected a string, found true or false",
            ]),
        },
    ];
    let words: &[(&'static str, bool)] = &[
        ("true", true),
        ("TRUE", true),
        ("1", true),
        ("yes", true),
        ("on", true),
        ("On", true),
        ("false", false),
        ("False", false),
        ("0", false),
        ("no", false),
        ("NO", false),
        ("off", false),
    ];
    for &(word, value) in words {
        for (cli, env, from) in [
            (leak(name, word), &[][..], Origin::Cli),
            (&[][..], leak(name, word), Origin::Env),
        ] {
            cases.push(Case {
                what: if value {
                    "a word for on"
                } else {
                    "a word for off"
                },
                cli,
                env,
                file: None,
                expect: Expect::Holds(name, if value { on } else { off }, from),
            });
            cases.push(Case {
                what: "the word is shown as given",
                cli,
                env,
                file: None,
                expect: Expect::Shown(name, word, from),
            });
        }
    }
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
            env: &[("TESSERA_DATABASE_URL", "postgres://tessera:s3cr3tpw@db")],
            file: None,
            expect: Expect::Error(&[
                "TESSERA_DATABASE_URL=postgres://tessera:<hidden>@db from environment is invalid: must name a host and a database",
            ]),
        },
        Case {
            // Found by the config fuzz targets' secret check: the password was shown whole.
            what: "database postgres, password holding / ? # hidden",
            cli: &[],
            env: &[("TESSERA_DATABASE_URL", "postgres://tessera:pa/ss?w#rd@db")],
            file: None,
            expect: Expect::Error(&[
                "TESSERA_DATABASE_URL=postgres://tessera:<hidden>@db from environment is invalid: must name a host and a database",
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
