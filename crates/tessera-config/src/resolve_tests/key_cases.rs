//! Cases for the signing-key settings: `TESSERA_JWT_ALGORITHM`, `TESSERA_JWT_PRIVATE_KEY_FILE`,
//! `TESSERA_KEY_ENCRYPTION_SECRET`, `TESSERA_JWT_PREVIOUS_SECRETS`, `TESSERA_KEY_ROTATION_DAYS`
//! and `TESSERA_JWKS_MAX_AGE_SECONDS`: every source, the `NAME_FILE` and list forms, every
//! refusal, and the rules `check_serve` adds.

use std::path::{Path, PathBuf};

use secrecy::ExposeSecret as _;

use super::{CLI, Case, ENV, Expect, Origin, check, report_of};
use crate::test_support::pairs;
use crate::{
    ConfigErrors, JwtAlgorithm, JwtSecret, RawSources, Resolved, SecretPolicy, Source,
    read_sources, render_check, render_errors, resolve,
};

/// 32 characters or more, distinct per source, and never a published example.
const KES_CLI: &str = "KeyEncryption_CommandLine_0123456789";
const KES_ENV: &str = "KeyEncryption_Environment_0123456789";
const KES_FILE: &str = "KeyEncryption_ConfigFile__0123456789";
/// Previous secrets: recognisable fragments that must never be shown.
const OLD_A: &str = "OldSecretAlpha_Qx7vLp2RmZ9aKt4W";
const OLD_B: &str = "OldSecretBravo_Yh8NbE3sGf6Ud1Jk";

fn resolved(cli: &[(&str, &str)], env: &[(&str, &str)], file: Option<&str>) -> Resolved {
    try_resolve(cli, env, file).unwrap_or_else(|e| panic!("{}", render_errors(&e)))
}

fn try_resolve(
    cli: &[(&str, &str)],
    env: &[(&str, &str)],
    file: Option<&str>,
) -> Result<Resolved, ConfigErrors> {
    resolve(&RawSources {
        cli: pairs(cli),
        env: pairs(env),
        file: file
            .map(|text| crate::ConfigFile::parse(PathBuf::from(super::FILE_PATH), text).unwrap()),
        secret_files: Vec::new(),
    })
}

fn errors(cli: &[(&str, &str)], env: &[(&str, &str)], file: Option<&str>) -> String {
    match try_resolve(cli, env, file) {
        Ok(_) => panic!("expected an error for {cli:?} {env:?} {file:?}"),
        Err(errors) => render_errors(&errors),
    }
}

fn assert_contains_all(text: &str, fragments: &[&str]) {
    for fragment in fragments {
        assert!(text.contains(fragment), "{fragment:?} not in\n{text}");
    }
}

/// The effective keys of the previous secrets, as text.
fn previous_keys(resolved: &Resolved) -> Vec<String> {
    resolved
        .settings
        .jwt_previous_secrets
        .iter()
        .map(|secret| String::from_utf8(secret.key_bytes().to_vec()).unwrap())
        .collect()
}

/// Everything a user or a log may see of a resolution: the check report, the warnings and the
/// settings' `Debug`.
fn everything_shown(resolved: &Resolved) -> String {
    format!(
        "{}\n{:?}\n{:?}",
        render_check(resolved),
        resolved.warnings,
        resolved.settings
    )
}

#[test]
fn algorithm_from_each_source_with_precedence_and_default() {
    let cases = [
        Case {
            what: "default is HS256",
            cli: &[],
            env: &[],
            file: None,
            expect: Expect::Holds(
                "TESSERA_JWT_ALGORITHM",
                |s| s.jwt_algorithm == JwtAlgorithm::Hs256,
                Origin::Default,
            ),
        },
        Case {
            what: "config file",
            cli: &[],
            env: &[],
            file: Some(r#"{"TESSERA_JWT_ALGORITHM": "ES256"}"#),
            expect: Expect::Holds(
                "TESSERA_JWT_ALGORITHM",
                |s| s.jwt_algorithm == JwtAlgorithm::Es256,
                Origin::File,
            ),
        },
        Case {
            what: "environment beats file",
            cli: &[],
            env: &[("TESSERA_JWT_ALGORITHM", "RS256")],
            file: Some(r#"{"TESSERA_JWT_ALGORITHM": "ES256"}"#),
            expect: Expect::Holds(
                "TESSERA_JWT_ALGORITHM",
                |s| s.jwt_algorithm == JwtAlgorithm::Rs256,
                Origin::Env,
            ),
        },
        Case {
            what: "command line beats environment",
            cli: &[("TESSERA_JWT_ALGORITHM", "EdDSA")],
            env: &[("TESSERA_JWT_ALGORITHM", "RS256")],
            file: None,
            expect: Expect::Holds(
                "TESSERA_JWT_ALGORITHM",
                |s| s.jwt_algorithm == JwtAlgorithm::EdDsa,
                Origin::Cli,
            ),
        },
        Case {
            what: "shown as its JWS name",
            cli: &[],
            env: &[("TESSERA_JWT_ALGORITHM", "EdDSA")],
            file: None,
            expect: Expect::Shown("TESSERA_JWT_ALGORITHM", "EdDSA", Origin::Env),
        },
    ];
    for case in &cases {
        check(case);
    }
    for algorithm in [
        JwtAlgorithm::Hs256,
        JwtAlgorithm::EdDsa,
        JwtAlgorithm::Es256,
        JwtAlgorithm::Rs256,
    ] {
        assert_eq!(algorithm.as_str().parse(), Ok(algorithm));
        assert_eq!(algorithm.to_string(), algorithm.as_str());
        assert_eq!(algorithm.is_symmetric(), algorithm == JwtAlgorithm::Hs256);
    }
}

#[test]
fn a_bad_algorithm_name_is_refused_listing_the_four() {
    for (source, bad) in [
        ("env", "hs256"),
        ("env", "none"),
        ("env", ""),
        ("cli", "HS512"),
        ("file", "eddsa"),
        ("env", "Ed25519"),
    ] {
        let (cli, env, file, origin) = match source {
            "cli" => (
                vec![("TESSERA_JWT_ALGORITHM", bad)],
                vec![],
                None,
                "command line",
            ),
            "env" => (
                vec![],
                vec![("TESSERA_JWT_ALGORITHM", bad)],
                None,
                "environment",
            ),
            _ => (
                vec![],
                vec![],
                Some(format!(r#"{{"TESSERA_JWT_ALGORITHM": "{bad}"}}"#)),
                "config file /etc/tessera/config.json",
            ),
        };
        let message = errors(&cli, &env, file.as_deref());
        assert_contains_all(
            &message,
            &[
                "TESSERA_JWT_ALGORITHM=",
                &format!("from {origin} is invalid"),
                "must be HS256, EdDSA, ES256 or RS256 (exact spelling)",
            ],
        );
    }
    let message = errors(&[], &[("TESSERA_JWT_ALGORITHM", "hs256")], None);
    assert!(
        message.contains("(names are case-sensitive: HS256)"),
        "{message}"
    );
    let message = errors(&[], &[("TESSERA_JWT_ALGORITHM", "none")], None);
    assert!(!message.contains("case-sensitive"), "{message}");
}

#[test]
fn private_key_file_needs_an_asymmetric_algorithm() {
    let resolved = resolved(
        &[],
        &[
            ("TESSERA_JWT_ALGORITHM", "EdDSA"),
            ("TESSERA_JWT_PRIVATE_KEY_FILE", "/run/secrets/key.pem"),
        ],
        None,
    );
    assert_eq!(
        resolved.settings.jwt_private_key_file.as_deref(),
        Some(Path::new("/run/secrets/key.pem"))
    );
    assert_eq!(
        report_of(&resolved, "TESSERA_JWT_PRIVATE_KEY_FILE").display_value,
        "/run/secrets/key.pem",
        "a path is not secret"
    );
    resolved.check_serve().unwrap();

    let from_file = self::resolved(
        &[("TESSERA_JWT_ALGORITHM", "RS256")],
        &[],
        Some(r#"{"TESSERA_JWT_PRIVATE_KEY_FILE": "key.pem"}"#),
    );
    assert_eq!(
        from_file.settings.jwt_private_key_file,
        Some(PathBuf::from("key.pem"))
    );
    assert_eq!(
        self::resolved(&[], &[], None).settings.jwt_private_key_file,
        None
    );

    // With HS256, whether by default or given: an error naming both settings and sources.
    let message = errors(
        &[],
        &[("TESSERA_JWT_PRIVATE_KEY_FILE", "/run/secrets/key.pem")],
        None,
    );
    assert_contains_all(
        &message,
        &[
            "TESSERA_JWT_PRIVATE_KEY_FILE (from environment) is set",
            "TESSERA_JWT_ALGORITHM is HS256 (from default)",
            "set TESSERA_JWT_ALGORITHM to the key's algorithm (EdDSA, ES256 or RS256)",
            "or unset TESSERA_JWT_PRIVATE_KEY_FILE",
        ],
    );
    let message = errors(
        &[("TESSERA_JWT_ALGORITHM", "HS256")],
        &[],
        Some(r#"{"TESSERA_JWT_PRIVATE_KEY_FILE": "key.pem"}"#),
    );
    assert_contains_all(
        &message,
        &[
            "TESSERA_JWT_PRIVATE_KEY_FILE (from config file /etc/tessera/config.json)",
            "TESSERA_JWT_ALGORITHM is HS256 (from command line)",
        ],
    );

    let message = errors(
        &[],
        &[
            ("TESSERA_JWT_ALGORITHM", "EdDSA"),
            ("TESSERA_JWT_PRIVATE_KEY_FILE", ""),
        ],
        None,
    );
    assert_contains_all(
        &message,
        &[
            "TESSERA_JWT_PRIVATE_KEY_FILE=\"\" from environment is invalid",
            "must be the path of a PEM file holding a private key",
        ],
    );
}

#[test]
fn key_encryption_secret_from_each_source_hidden_everywhere() {
    let resolved = resolved(
        &[("TESSERA_KEY_ENCRYPTION_SECRET", KES_CLI)],
        &[("TESSERA_KEY_ENCRYPTION_SECRET", KES_ENV)],
        Some(r#"{"TESSERA_KEY_ENCRYPTION_SECRET": "KeyEncryption_ConfigFile__0123456789"}"#),
    );
    let secret = resolved.settings.key_encryption_secret.as_ref().unwrap();
    assert_eq!(secret.expose_secret(), KES_CLI, "used whole, never cut");
    let entry = report_of(&resolved, "TESSERA_KEY_ENCRYPTION_SECRET");
    assert_eq!(entry.display_value, "<hidden: 36 characters>");
    assert_eq!(entry.source, Source::CommandLine);
    let shown = everything_shown(&resolved);
    for value in [KES_CLI, KES_ENV, KES_FILE] {
        assert!(!shown.contains(value), "{value} shown in\n{shown}");
    }
    assert!(
        resolved
            .warnings
            .iter()
            .any(|w| w.starts_with("TESSERA_KEY_ENCRYPTION_SECRET: is given on the command line")),
        "{:?}",
        resolved.warnings
    );

    let from_file = self::resolved(
        &[],
        &[],
        Some(r#"{"TESSERA_KEY_ENCRYPTION_SECRET": "KeyEncryption_ConfigFile__0123456789"}"#),
    );
    assert_eq!(
        from_file
            .settings
            .key_encryption_secret
            .as_ref()
            .unwrap()
            .expose_secret(),
        KES_FILE
    );
    assert!(
        self::resolved(&[], &[], None)
            .settings
            .key_encryption_secret
            .is_none()
    );
}

#[test]
fn a_short_or_blank_key_encryption_secret_is_refused_without_showing_it() {
    let short = "KeyEncryption_Short_01234567890"; // 31 characters
    assert_eq!(short.chars().count(), 31);
    let message = errors(&[], &[("TESSERA_KEY_ENCRYPTION_SECRET", short)], None);
    assert_contains_all(
        &message,
        &[
            "TESSERA_KEY_ENCRYPTION_SECRET=<hidden: 31 characters> from environment is invalid",
            "must be at least 32 characters; got 31",
        ],
    );
    assert!(!message.contains(short), "{message}");
    // No pad rule: the JWT secret's padding never applies, even under policy pad.
    let message = errors(
        &[("TESSERA_JWT_SECRET_POLICY", "pad")],
        &[],
        Some(r#"{"TESSERA_KEY_ENCRYPTION_SECRET": "short"}"#),
    );
    assert_contains_all(
        &message,
        &[
            "from config file /etc/tessera/config.json is invalid",
            "got 5",
        ],
    );
    for blank in ["", &" ".repeat(40)] {
        let message = errors(&[("TESSERA_KEY_ENCRYPTION_SECRET", blank)], &[], None);
        assert_contains_all(
            &message,
            &["from command line is invalid", "must not be empty or blank"],
        );
    }
    // Long enough but weak: accepted, with the JWT secret's warning.
    let weak = resolved(
        &[],
        &[("TESSERA_KEY_ENCRYPTION_SECRET", &"ab".repeat(20))],
        None,
    );
    assert!(
        weak.warnings
            .iter()
            .any(|w| w.starts_with("TESSERA_KEY_ENCRYPTION_SECRET: looks weak")),
        "{:?}",
        weak.warnings
    );
    assert!(
        !weak.warnings.iter().any(|w| w.contains("padded")),
        "{:?}",
        weak.warnings
    );
}

#[test]
fn previous_secrets_as_lists_in_each_source() {
    // Environment and command line: commas, spaces around them dropped, empty items skipped.
    let env = resolved(
        &[],
        &[(
            "TESSERA_JWT_PREVIOUS_SECRETS",
            &format!(" {OLD_A} ,{OLD_B},"),
        )],
        None,
    );
    assert_eq!(
        previous_keys(&env),
        [OLD_A.to_owned() + "-", OLD_B.to_owned() + "-"]
    );
    let cli = resolved(&[("TESSERA_JWT_PREVIOUS_SECRETS", OLD_B)], &[], None);
    assert_eq!(previous_keys(&cli), [OLD_B.to_owned() + "-"]);
    // config.json: an array of strings, where a secret may hold a comma, or a text as above.
    let array = resolved(
        &[],
        &[],
        Some(
            r#"{"TESSERA_JWT_PREVIOUS_SECRETS": ["OldSecretAlpha_Qx7vLp2RmZ9aKt4W", "with,comma_Yh8NbE3sGf6Ud1Jk7Lp2"]}"#,
        ),
    );
    assert_eq!(
        previous_keys(&array),
        [
            OLD_A.to_owned() + "-",
            "with,comma_Yh8NbE3sGf6Ud1Jk7Lp2".to_owned() + "-"
        ]
    );
    let text = resolved(
        &[],
        &[],
        Some(
            r#"{"TESSERA_JWT_PREVIOUS_SECRETS": "OldSecretAlpha_Qx7vLp2RmZ9aKt4W, OldSecretBravo_Yh8NbE3sGf6Ud1Jk"}"#,
        ),
    );
    assert_eq!(previous_keys(&text), previous_keys(&env));
    // Unset, or an empty value: none.
    assert!(previous_keys(&resolved(&[], &[], None)).is_empty());
    assert!(
        previous_keys(&resolved(
            &[],
            &[("TESSERA_JWT_PREVIOUS_SECRETS", "")],
            None
        ))
        .is_empty()
    );
    assert!(
        previous_keys(&resolved(
            &[],
            &[],
            Some(r#"{"TESSERA_JWT_PREVIOUS_SECRETS": []}"#)
        ))
        .is_empty()
    );
    // Other JSON types are refused, naming what is allowed.
    for (json, found) in [
        ("42", "found a number"),
        ("[1, 2]", "found an array holding values other than strings"),
        ("{}", "found an object"),
    ] {
        let message = errors(
            &[],
            &[],
            Some(&format!(r#"{{"TESSERA_JWT_PREVIOUS_SECRETS": {json}}}"#)),
        );
        assert_contains_all(
            &message,
            &[
                "TESSERA_JWT_PREVIOUS_SECRETS in config file /etc/tessera/config.json is invalid",
                "expected a string or an array of strings",
                found,
            ],
        );
    }
    // An array is a list setting's form only.
    let message = errors(&[], &[], Some(r#"{"TESSERA_JWT_ISSUER": ["a", "b"]}"#));
    assert!(
        message.contains("expected a string, found an array"),
        "{message}"
    );
}

#[test]
fn previous_secrets_alias_follows_precedence() {
    // (command line, environment, config file, the winning secret, its source)
    type Pairs = &'static [(&'static str, &'static str)];
    let cases: [(Pairs, Pairs, Option<&str>, &str, Source); 5] = [
        (
            &[("AYANOVA_JWT_PREVIOUS_SECRETS", OLD_A)],
            &[("TESSERA_JWT_PREVIOUS_SECRETS", OLD_B)],
            None,
            OLD_A,
            Source::CommandLine,
        ),
        (
            &[("TESSERA_JWT_PREVIOUS_SECRETS", OLD_A)],
            &[("AYANOVA_JWT_PREVIOUS_SECRETS", OLD_B)],
            None,
            OLD_A,
            Source::CommandLine,
        ),
        (
            &[],
            &[("AYANOVA_JWT_PREVIOUS_SECRETS", OLD_B)],
            Some(r#"{"TESSERA_JWT_PREVIOUS_SECRETS": ["OldSecretAlpha_Qx7vLp2RmZ9aKt4W"]}"#),
            OLD_B,
            Source::Environment,
        ),
        (
            &[],
            &[("TESSERA_JWT_PREVIOUS_SECRETS", OLD_B)],
            Some(r#"{"AYANOVA_JWT_PREVIOUS_SECRETS": "OldSecretAlpha_Qx7vLp2RmZ9aKt4W"}"#),
            OLD_B,
            Source::Environment,
        ),
        (
            &[],
            &[],
            Some(r#"{"AYANOVA_JWT_PREVIOUS_SECRETS": "OldSecretAlpha_Qx7vLp2RmZ9aKt4W"}"#),
            OLD_A,
            Source::ConfigFile(PathBuf::from(super::FILE_PATH)),
        ),
    ];
    for (cli, env, file, winner, source) in cases {
        let resolved = resolved(cli, env, file);
        assert_eq!(
            previous_keys(&resolved),
            [winner.to_owned() + "-"],
            "{cli:?} {env:?}"
        );
        let entry = report_of(&resolved, "TESSERA_JWT_PREVIOUS_SECRETS");
        assert_eq!(entry.source, source);
        assert_eq!(entry.display_value, "<hidden: 1 item>");
    }
    let message = errors(
        &[],
        &[
            ("TESSERA_JWT_PREVIOUS_SECRETS", OLD_A),
            ("AYANOVA_JWT_PREVIOUS_SECRETS", OLD_B),
        ],
        None,
    );
    assert_contains_all(
        &message,
        &[
            "TESSERA_JWT_PREVIOUS_SECRETS and AYANOVA_JWT_PREVIOUS_SECRETS set in environment with different values",
            "<hidden: 1 item>",
        ],
    );
    assert!(
        !message.contains(OLD_A) && !message.contains(OLD_B),
        "{message}"
    );
}

#[test]
fn previous_secrets_follow_the_jwt_secret_rule_and_policy() {
    // A 10-character previous secret becomes exactly the key the JWT secret would.
    let ten = "Tq9#kLm2Zx";
    let as_current = resolved(&[], &[("TESSERA_JWT_SECRET", ten)], None);
    let as_previous = resolved(
        &[],
        &[
            ("TESSERA_JWT_SECRET", ENV),
            ("TESSERA_JWT_PREVIOUS_SECRETS", ten),
        ],
        None,
    );
    let key = as_current.settings.jwt_secret.key_bytes();
    assert_eq!(key, format!("{ten}{}", "-".repeat(22)).as_bytes());
    assert_eq!(
        as_previous.settings.jwt_previous_secrets[0].key_bytes(),
        key
    );
    // A long one is cut to its first 32 characters, like the JWT secret.
    let long = format!("{OLD_A}_and_more_characters");
    let cut = resolved(&[], &[("TESSERA_JWT_PREVIOUS_SECRETS", &long)], None);
    assert_eq!(
        cut.settings.jwt_previous_secrets[0].key_bytes(),
        JwtSecret::parse(&long, SecretPolicy::Pad)
            .unwrap()
            .key_bytes()
    );
    assert_eq!(
        previous_keys(&cut),
        [long.chars().take(32).collect::<String>()]
    );
    // Each secret's warnings, by position, never the value.
    let warnings = &as_previous.warnings;
    assert!(
        warnings.iter().any(|w| w.starts_with(
            "TESSERA_JWT_PREVIOUS_SECRETS: the secret padded from 10 characters to 32"
        )),
        "{warnings:?}"
    );
    let two = resolved(
        &[],
        &[("TESSERA_JWT_PREVIOUS_SECRETS", &format!("{OLD_A},{ten}"))],
        None,
    );
    assert!(
        two.warnings
            .iter()
            .any(|w| w.starts_with("TESSERA_JWT_PREVIOUS_SECRETS: secret 2 of 2 padded from 10")),
        "{:?}",
        two.warnings
    );
    assert!(!everything_shown(&two).contains(ten));
    // Policy strict: a short previous secret is refused like a short JWT secret.
    let message = errors(
        &[],
        &[
            ("TESSERA_JWT_SECRET_POLICY", "strict"),
            ("TESSERA_JWT_SECRET", ENV),
            ("TESSERA_JWT_PREVIOUS_SECRETS", &format!("{OLD_A}-,{ten}")),
        ],
        None,
    );
    assert_contains_all(
        &message,
        &[
            "TESSERA_JWT_PREVIOUS_SECRETS=<hidden: 2 items> from environment is invalid",
            "secret 2 of 2 must be at least 32 characters (policy strict); got 10",
        ],
    );
    assert!(!message.contains(ten), "{message}");
    // A blank item in an array is refused, by position.
    let message = errors(
        &[],
        &[],
        Some(r#"{"TESSERA_JWT_PREVIOUS_SECRETS": ["OldSecretAlpha_Qx7vLp2RmZ9aKt4W", " "]}"#),
    );
    assert!(
        message.contains("secret 2 of 2 must not be blank"),
        "{message}"
    );
}

#[test]
fn a_previous_secret_equal_to_the_current_one_or_repeated_is_refused() {
    let message = errors(
        &[("TESSERA_JWT_SECRET", CLI)],
        &[("TESSERA_JWT_PREVIOUS_SECRETS", &format!("{OLD_A},{CLI}"))],
        None,
    );
    assert_contains_all(
        &message,
        &[
            "TESSERA_JWT_PREVIOUS_SECRETS=<hidden: 2 items> from environment is invalid",
            "secret 2 of 2 gives the key of TESSERA_JWT_SECRET",
            "remove it from the list",
        ],
    );
    assert!(
        !message.contains(CLI) && !message.contains(OLD_A),
        "{message}"
    );
    // Equal keys, not equal texts: a short secret and its padded form are the same key.
    let message = errors(
        &[],
        &[
            ("TESSERA_JWT_SECRET", "Tq9#kLm2Zx"),
            ("TESSERA_JWT_PREVIOUS_SECRETS", "Tq9#kLm2Zx----"),
        ],
        None,
    );
    assert!(
        message.contains("the secret gives the key of TESSERA_JWT_SECRET"),
        "{message}"
    );
    let message = errors(
        &[],
        &[],
        Some(&format!(
            r#"{{"TESSERA_JWT_PREVIOUS_SECRETS": ["{OLD_A}", "{OLD_B}", "{OLD_A}"]}}"#
        )),
    );
    assert_contains_all(
        &message,
        &[
            "from config file /etc/tessera/config.json is invalid",
            "secrets 1 and 3 of 3 give the same key: list each once",
        ],
    );
}

#[test]
fn previous_secrets_are_hidden_in_check_and_debug() {
    let resolved = resolved(
        &[],
        &[
            ("TESSERA_JWT_SECRET", ENV),
            ("TESSERA_JWT_PREVIOUS_SECRETS", &format!("{OLD_A},{OLD_B}")),
        ],
        None,
    );
    let entry = report_of(&resolved, "TESSERA_JWT_PREVIOUS_SECRETS");
    assert_eq!(entry.display_value, "<hidden: 2 items>");
    let shown = everything_shown(&resolved);
    for fragment in ["OldSecretAlpha", "OldSecretBravo", "Qx7vLp2", "Yh8NbE3"] {
        assert!(!shown.contains(fragment), "{fragment} shown in\n{shown}");
    }
    assert!(
        render_check(&resolved).contains("TESSERA_JWT_PREVIOUS_SECRETS"),
        "listed in config check"
    );
}

/// A temporary directory holding secret files, read as the binary reads them.
fn with_files(
    files: &[(&str, &str)],
    cli: &[(&str, &str)],
    env: &[(&str, &str)],
) -> (tempfile::TempDir, Result<Resolved, ConfigErrors>) {
    let dir = tempfile::tempdir().unwrap();
    for (name, content) in files {
        let path = dir.path().join(name);
        std::fs::write(&path, content).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
    }
    let result = read_sources(pairs(cli), pairs(env), dir.path()).and_then(|s| resolve(&s));
    (dir, result)
}

#[test]
fn secret_settings_from_files() {
    // One previous secret per line; blank lines ignored; CRLF files too; nothing else trimmed.
    let content = format!("{OLD_A}\r\n\r\n  \n{OLD_B}\n");
    for name in [
        "TESSERA_JWT_PREVIOUS_SECRETS_FILE",
        "AYANOVA_JWT_PREVIOUS_SECRETS_FILE",
    ] {
        let (_dir, result) = with_files(&[("old", &content)], &[], &[(name, "old")]);
        let resolved = result.unwrap_or_else(|e| panic!("{}", render_errors(&e)));
        assert_eq!(
            previous_keys(&resolved),
            [OLD_A.to_owned() + "-", OLD_B.to_owned() + "-"],
            "{name}"
        );
        let entry = report_of(&resolved, "TESSERA_JWT_PREVIOUS_SECRETS");
        assert_eq!(entry.source, Source::Environment);
        assert_eq!(entry.given_as, Some(name));
        assert_eq!(entry.file.as_deref(), Some("old"));
        assert_eq!(entry.display_value, "<hidden: 2 items>");
        assert!(!everything_shown(&resolved).contains("OldSecret"));
    }
    // Commas in a file are part of the secret: the file form is lines.
    let (_dir, result) = with_files(
        &[("old", "with,comma_Yh8NbE3sGf6Ud1Jk7Lp2\n")],
        &[("TESSERA_JWT_PREVIOUS_SECRETS_FILE", "old")],
        &[("TESSERA_JWT_PREVIOUS_SECRETS", OLD_A)],
    );
    let resolved = result.unwrap_or_else(|e| panic!("{}", render_errors(&e)));
    assert_eq!(
        previous_keys(&resolved),
        ["with,comma_Yh8NbE3sGf6Ud1Jk7Lp2-"],
        "the command line's file beats the environment's value"
    );
    // The key-encryption secret from a file, whole.
    let (_dir, result) = with_files(
        &[("kes", &format!("{KES_FILE}\n"))],
        &[],
        &[("TESSERA_KEY_ENCRYPTION_SECRET_FILE", "kes")],
    );
    let resolved = result.unwrap_or_else(|e| panic!("{}", render_errors(&e)));
    assert_eq!(
        resolved
            .settings
            .key_encryption_secret
            .as_ref()
            .unwrap()
            .expose_secret(),
        KES_FILE
    );
    let (_dir, result) = with_files(
        &[("kes", "too short\n")],
        &[],
        &[("TESSERA_KEY_ENCRYPTION_SECRET_FILE", "kes")],
    );
    let message = render_errors(&result.expect_err("a short secret from a file is refused"));
    assert_contains_all(
        &message,
        &[
            "TESSERA_KEY_ENCRYPTION_SECRET_FILE=kes (holding <hidden: 9 characters>) from \
             environment is invalid",
            "must be at least 32 characters; got 9",
        ],
    );
    assert!(!message.contains("too short"), "{message}");
}

#[test]
fn rotation_days_and_jwks_max_age_bounds() {
    let defaults = resolved(&[], &[], None);
    assert_eq!(defaults.settings.key_rotation_days, None);
    assert_eq!(
        report_of(&defaults, "TESSERA_KEY_ROTATION_DAYS").display_value,
        "<not set>"
    );
    assert_eq!(defaults.settings.jwks_max_age_seconds, 300);
    for (raw, days) in [("1", 1), ("90", 90), ("365", 365)] {
        let resolved = resolved(&[], &[("TESSERA_KEY_ROTATION_DAYS", raw)], None);
        assert_eq!(resolved.settings.key_rotation_days, Some(days));
    }
    let from_file = resolved(&[], &[], Some(r#"{"TESSERA_KEY_ROTATION_DAYS": 30}"#));
    assert_eq!(from_file.settings.key_rotation_days, Some(30));
    for bad in ["0", "366", "-1", "30d", ""] {
        let message = errors(&[("TESSERA_KEY_ROTATION_DAYS", bad)], &[], None);
        assert_contains_all(
            &message,
            &[
                "TESSERA_KEY_ROTATION_DAYS=",
                "from command line is invalid: must be an integer from 1 to 365 (days)",
            ],
        );
    }
    for (raw, seconds) in [("0", 0), ("60", 60), ("86400", 86400)] {
        let resolved = resolved(&[], &[("TESSERA_JWKS_MAX_AGE_SECONDS", raw)], None);
        assert_eq!(resolved.settings.jwks_max_age_seconds, seconds);
    }
    let from_file = resolved(&[], &[], Some(r#"{"TESSERA_JWKS_MAX_AGE_SECONDS": 3600}"#));
    assert_eq!(from_file.settings.jwks_max_age_seconds, 3600);
    for bad in ["86401", "-1", "5m", "1e3"] {
        let message = errors(&[], &[("TESSERA_JWKS_MAX_AGE_SECONDS", bad)], None);
        assert_contains_all(
            &message,
            &["from environment is invalid: must be an integer from 0 to 86400 (seconds)"],
        );
    }
}

#[test]
fn serving_with_an_asymmetric_algorithm_needs_a_key_source() {
    const PG: &str = "postgres://tessera:pw@db/tessera";
    let serve = |env: &[(&str, &str)]| {
        resolved(&[], env, None)
            .check_serve()
            .map_err(|e| render_errors(&e))
    };
    for algorithm in ["EdDSA", "ES256", "RS256"] {
        let message = serve(&[("TESSERA_JWT_ALGORITHM", algorithm)]).unwrap_err();
        assert_contains_all(
            &message,
            &[
                &format!(
                    "TESSERA_JWT_ALGORITHM={algorithm} (from environment) signs with a private key"
                ),
                "neither TESSERA_JWT_PRIVATE_KEY_FILE nor TESSERA_KEY_ENCRYPTION_SECRET is set",
                "set TESSERA_KEY_ENCRYPTION_SECRET",
                "or set TESSERA_JWT_PRIVATE_KEY_FILE",
            ],
        );
        serve(&[
            ("TESSERA_JWT_ALGORITHM", algorithm),
            ("TESSERA_KEY_ENCRYPTION_SECRET", KES_ENV),
        ])
        .unwrap();
        serve(&[
            ("TESSERA_JWT_ALGORITHM", algorithm),
            ("TESSERA_JWT_PRIVATE_KEY_FILE", "key.pem"),
        ])
        .unwrap();
    }
    // HS256 needs neither.
    serve(&[]).unwrap();
    // An asymmetric algorithm signs without the secret: a random one is fine on PostgreSQL,
    // and is not warned about.
    serve(&[
        ("TESSERA_DATABASE_URL", PG),
        ("TESSERA_JWT_ALGORITHM", "EdDSA"),
        ("TESSERA_KEY_ENCRYPTION_SECRET", KES_ENV),
    ])
    .unwrap();
    let quiet = resolved(
        &[],
        &[
            ("TESSERA_JWT_ALGORITHM", "EdDSA"),
            ("TESSERA_KEY_ENCRYPTION_SECRET", KES_ENV),
        ],
        None,
    );
    assert!(
        !quiet
            .warnings
            .iter()
            .any(|w| w.contains("generated a random secret")),
        "{:?}",
        quiet.warnings
    );
    assert!(
        serve(&[("TESSERA_DATABASE_URL", PG)])
            .unwrap_err()
            .contains("TESSERA_JWT_SECRET (or AYANOVA_JWT_SECRET) is not set"),
        "HS256 still refuses a random secret on PostgreSQL"
    );
    let loud = resolved(&[], &[], None);
    assert!(
        loud.warnings
            .iter()
            .any(|w| w.contains("generated a random secret")),
        "{:?}",
        loud.warnings
    );
}

#[test]
fn key_settings_that_change_nothing_are_warned_about() {
    let warned = |name: &str, resolved: &Resolved| {
        resolved
            .warnings
            .iter()
            .find(|w| w.starts_with(&format!("{name} (from ")))
            .cloned()
    };
    let hs256 = resolved(
        &[],
        &[
            ("TESSERA_KEY_ENCRYPTION_SECRET", KES_ENV),
            ("TESSERA_KEY_ROTATION_DAYS", "30"),
        ],
        None,
    );
    for name in ["TESSERA_KEY_ENCRYPTION_SECRET", "TESSERA_KEY_ROTATION_DAYS"] {
        let warning = warned(name, &hs256).unwrap_or_else(|| panic!("{:?}", hs256.warnings));
        assert_contains_all(
            &warning,
            &[
                "(from environment) is not used",
                "TESSERA_JWT_ALGORITHM is HS256 (from default)",
                "set TESSERA_JWT_ALGORITHM to EdDSA, ES256 or RS256",
            ],
        );
        assert!(!warning.contains(KES_ENV), "{warning}");
        assert!(
            report_of(&hs256, name)
                .warnings
                .iter()
                .any(|w| w == &warning),
            "shown by config check next to {name}"
        );
    }
    let file_key = resolved(
        &[],
        &[
            ("TESSERA_JWT_ALGORITHM", "ES256"),
            ("TESSERA_JWT_PRIVATE_KEY_FILE", "key.pem"),
            ("TESSERA_KEY_ROTATION_DAYS", "30"),
        ],
        None,
    );
    let warning = warned("TESSERA_KEY_ROTATION_DAYS", &file_key)
        .unwrap_or_else(|| panic!("{:?}", file_key.warnings));
    assert!(
        warning.contains("TESSERA_JWT_PRIVATE_KEY_FILE (from environment) is managed outside"),
        "{warning}"
    );
    let used = resolved(
        &[],
        &[
            ("TESSERA_JWT_ALGORITHM", "EdDSA"),
            ("TESSERA_KEY_ENCRYPTION_SECRET", KES_ENV),
            ("TESSERA_KEY_ROTATION_DAYS", "30"),
        ],
        None,
    );
    assert!(
        !used.warnings.iter().any(|w| w.contains("is not used")),
        "{:?}",
        used.warnings
    );
}
