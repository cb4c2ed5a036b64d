//! Cases for the connection settings: defaults, bounds, JSON forms and the per-client cap
//! staying below the total.

use super::{Case, Expect, Origin, check};
use crate::SETTINGS;

#[test]
fn connection_defaults() {
    let expected = [
        ("TESSERA_HEADER_TIMEOUT_SECONDS", "10"),
        ("TESSERA_IDLE_TIMEOUT_SECONDS", "75"),
        ("TESSERA_MAX_CONNECTIONS", "<not set>"),
        ("TESSERA_MAX_CONNECTIONS_PER_CLIENT", "64"),
        ("TESSERA_SHUTDOWN_TIMEOUT_SECONDS", "10"),
    ];
    for (name, shown) in expected {
        check(&Case {
            what: "connection default",
            cli: &[],
            env: &[],
            file: None,
            expect: Expect::Shown(name, shown, Origin::Default),
        });
    }
    check(&Case {
        what: "typed connection defaults",
        cli: &[],
        env: &[],
        file: None,
        expect: Expect::Holds(
            "TESSERA_MAX_CONNECTIONS",
            |s| {
                (
                    s.header_timeout_seconds,
                    s.idle_timeout_seconds,
                    s.max_connections,
                    s.max_connections_per_client,
                    s.shutdown_timeout_seconds,
                ) == (10, 75, None, 64, 10)
            },
            Origin::Default,
        ),
    });
}

#[test]
fn connection_bounds() {
    let bounds: &[(&str, &[&str], &[&str])] = &[
        (
            "TESSERA_HEADER_TIMEOUT_SECONDS",
            &["1", "300"],
            &["0", "301", "10s", "-1", "1.5"],
        ),
        (
            "TESSERA_IDLE_TIMEOUT_SECONDS",
            &["1", "3600"],
            &["0", "3601", "1m"],
        ),
        (
            "TESSERA_MAX_CONNECTIONS",
            &["65", "1000000"],
            &["0", "1000001", "-5", "many"],
        ),
        (
            "TESSERA_MAX_CONNECTIONS_PER_CLIENT",
            &["1", "1000"],
            &["0", "1000001", "+4"],
        ),
        (
            "TESSERA_SHUTDOWN_TIMEOUT_SECONDS",
            &["0", "300"],
            &["301", "-1", "5s"],
        ),
    ];
    for &(name, good, bad) in bounds {
        for &value in good {
            check(&Case {
                what: "connection setting within bounds",
                cli: &[],
                env: leak(&[(name, value)]),
                file: None,
                expect: Expect::Shown(name, value, Origin::Env),
            });
        }
        for &value in bad {
            let allowed = SETTINGS.iter().find(|s| s.name == name).unwrap().allowed;
            let message: &'static str = Box::leak(
                format!("{name}={value} from environment is invalid: must be {allowed}")
                    .into_boxed_str(),
            );
            check(&Case {
                what: "connection setting out of bounds",
                cli: &[],
                env: leak(&[(name, value)]),
                file: None,
                expect: Expect::Error(Box::leak(Box::new([message]))),
            });
        }
    }
}

#[test]
fn connection_settings_from_every_source() {
    let cases = [
        Case {
            what: "JSON integers",
            cli: &[],
            env: &[],
            file: Some(
                r#"{"TESSERA_HEADER_TIMEOUT_SECONDS": 2, "TESSERA_IDLE_TIMEOUT_SECONDS": 30, "TESSERA_MAX_CONNECTIONS": 500, "TESSERA_MAX_CONNECTIONS_PER_CLIENT": 20, "TESSERA_SHUTDOWN_TIMEOUT_SECONDS": 0}"#,
            ),
            expect: Expect::Holds(
                "TESSERA_MAX_CONNECTIONS",
                |s| {
                    (
                        s.header_timeout_seconds,
                        s.idle_timeout_seconds,
                        s.max_connections,
                        s.max_connections_per_client,
                        s.shutdown_timeout_seconds,
                    ) == (2, 30, Some(500), 20, 0)
                },
                Origin::File,
            ),
        },
        Case {
            what: "command line over environment",
            cli: &[("TESSERA_IDLE_TIMEOUT_SECONDS", "5")],
            env: &[("TESSERA_IDLE_TIMEOUT_SECONDS", "50")],
            file: None,
            expect: Expect::Shown("TESSERA_IDLE_TIMEOUT_SECONDS", "5", Origin::Cli),
        },
        Case {
            what: "JSON bool for a timeout",
            cli: &[],
            env: &[],
            file: Some(r#"{"TESSERA_SHUTDOWN_TIMEOUT_SECONDS": true}"#),
            expect: Expect::Error(&[
                "TESSERA_SHUTDOWN_TIMEOUT_SECONDS in config file /etc/tessera/config.json is invalid: expected a string or an integer, found true or false",
            ]),
        },
    ];
    for case in &cases {
        check(case);
    }
}

#[test]
fn one_client_cannot_be_allowed_every_connection() {
    let cases = [
        Case {
            what: "per-client cap just below the total",
            cli: &[("TESSERA_MAX_CONNECTIONS", "10")],
            env: &[("TESSERA_MAX_CONNECTIONS_PER_CLIENT", "9")],
            file: None,
            expect: Expect::Holds(
                "TESSERA_MAX_CONNECTIONS_PER_CLIENT",
                |s| (s.max_connections, s.max_connections_per_client) == (Some(10), 9),
                Origin::Env,
            ),
        },
        Case {
            what: "per-client cap equal to the total",
            cli: &[("TESSERA_MAX_CONNECTIONS", "10")],
            env: &[("TESSERA_MAX_CONNECTIONS_PER_CLIENT", "10")],
            file: None,
            expect: Expect::Error(&[
                "TESSERA_MAX_CONNECTIONS_PER_CLIENT=10 (from environment) is not less than TESSERA_MAX_CONNECTIONS=10 (from command line); one client could then take every connection: lower the per-client limit or raise the total",
            ]),
        },
        Case {
            what: "a total below the default per-client cap",
            cli: &[],
            env: &[("TESSERA_MAX_CONNECTIONS", "64")],
            file: None,
            expect: Expect::Error(&[
                "TESSERA_MAX_CONNECTIONS_PER_CLIENT=64 (from default) is not less than TESSERA_MAX_CONNECTIONS=64 (from environment)",
            ]),
        },
        Case {
            what: "a derived total is not checked at resolution",
            cli: &[],
            env: &[("TESSERA_MAX_CONNECTIONS_PER_CLIENT", "1000000")],
            file: None,
            expect: Expect::Holds(
                "TESSERA_MAX_CONNECTIONS_PER_CLIENT",
                |s| s.max_connections.is_none() && s.max_connections_per_client == 1_000_000,
                Origin::Env,
            ),
        },
    ];
    for case in &cases {
        check(case);
    }
}

fn leak(pairs: &[(&'static str, &'static str)]) -> &'static [(&'static str, &'static str)] {
    Box::leak(pairs.to_vec().into_boxed_slice())
}
