//! The `config check` report and the generated settings reference.

use crate::{RawSources, SETTINGS, render_check, resolve, settings_reference_markdown};

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

#[test]
fn check_report_marks_access_tokens_that_outlive_idle_sessions() {
    let sources = RawSources {
        env: crate::test_support::pairs(&[("TESSERA_REFRESH_IDLE_MINUTES", "60")]),
        ..RawSources::default()
    };
    let text = render_check(&resolve(&sources).unwrap());
    let line = text
        .lines()
        .find(|line| line.starts_with("TESSERA_JWT_EXPIRATION_MINUTES "))
        .unwrap();
    assert!(line.ends_with("default; see warnings"), "{text}");
    assert!(text.contains("2 warnings:"), "{text}");
    assert!(
        text.contains("  - TESSERA_JWT_EXPIRATION_MINUTES=7200 (from default) is longer than"),
        "{text}"
    );
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
    assert!(page.contains("`\"TESSERA_SINGLE_SESSION\": true`"));
    assert!(page.contains("`--TESSERA_SINGLE_SESSION=true`"));
}
