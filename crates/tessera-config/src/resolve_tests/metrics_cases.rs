//! Cases about the metrics listener's address.

use super::{Case, Expect, Origin, check};

#[test]
fn metrics_listen_is_unset_by_default_and_validated_like_listen() {
    let cases = [
        Case {
            what: "default",
            cli: &[],
            env: &[],
            file: None,
            expect: Expect::Holds(
                "TESSERA_METRICS_LISTEN",
                |s| s.metrics_listen.is_none(),
                Origin::Default,
            ),
        },
        Case {
            what: "from the file",
            cli: &[],
            env: &[],
            file: Some(r#"{"TESSERA_METRICS_LISTEN": "127.0.0.1:9420"}"#),
            expect: Expect::Holds(
                "TESSERA_METRICS_LISTEN",
                |s| s.metrics_listen.as_deref() == Some("127.0.0.1:9420"),
                Origin::File,
            ),
        },
        Case {
            what: "IPv6 from the environment",
            cli: &[],
            env: &[("TESSERA_METRICS_LISTEN", "[::1]:9420")],
            file: None,
            expect: Expect::Shown("TESSERA_METRICS_LISTEN", "[::1]:9420", Origin::Env),
        },
        Case {
            what: "no port",
            cli: &[("TESSERA_METRICS_LISTEN", "127.0.0.1")],
            env: &[],
            file: None,
            expect: Expect::Error(&[
                "TESSERA_METRICS_LISTEN=127.0.0.1 from command line is invalid: must be host:port",
                "(missing :port)",
            ]),
        },
        Case {
            what: "IPv6 without brackets",
            cli: &[],
            env: &[("TESSERA_METRICS_LISTEN", "::1:9420")],
            file: None,
            expect: Expect::Error(&[
                "TESSERA_METRICS_LISTEN=::1:9420 from environment",
                "in brackets",
            ]),
        },
        Case {
            what: "the API's own address",
            cli: &[("TESSERA_METRICS_LISTEN", "127.0.0.1:8420")],
            env: &[],
            file: None,
            expect: Expect::Error(&[
                "TESSERA_METRICS_LISTEN=127.0.0.1:8420 (from command line) is the address of TESSERA_LISTEN (from default)",
            ]),
        },
        Case {
            what: "port 0 for both draws two ports",
            cli: &[
                ("TESSERA_LISTEN", "127.0.0.1:0"),
                ("TESSERA_METRICS_LISTEN", "127.0.0.1:0"),
            ],
            env: &[],
            file: None,
            expect: Expect::Shown("TESSERA_METRICS_LISTEN", "127.0.0.1:0", Origin::Cli),
        },
    ];
    for case in &cases {
        check(case);
    }
}
