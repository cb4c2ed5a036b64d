//! Resolution tested as a table: raw sources in, effective value and source (or error, or
//! warning) out. One `check` helper (here) runs every case; the cases are grouped by topic.

mod connection_cases;
mod file_cases;
mod key_cases;
mod metrics_cases;
mod render_cases;
mod secret_cases;
mod source_cases;
mod value_cases;

use std::path::PathBuf;

use crate::{ConfigFile, RawSources, Resolved, Settings, Source, render_errors, resolve};

pub(super) const FILE_PATH: &str = "/etc/tessera/config.json";

// 32-character secrets, one per source, so the winner is obvious.
pub(super) const CLI: &str = "CommandLineSecret_0123456789abcd";
pub(super) const ENV: &str = "EnvironmentSecret_0123456789abcd";
pub(super) const FILE: &str = "ConfigFileSecret__0123456789abcd";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Origin {
    Cli,
    Env,
    File,
    Default,
    Generated,
}

impl Origin {
    pub(super) fn source(self) -> Source {
        match self {
            Origin::Cli => Source::CommandLine,
            Origin::Env => Source::Environment,
            Origin::File => Source::ConfigFile(PathBuf::from(FILE_PATH)),
            Origin::Default => Source::Default,
            Origin::Generated => Source::Generated,
        }
    }
}

pub(super) enum Expect {
    /// The JWT key bytes and where the secret came from.
    Key(&'static str, Origin),
    /// A setting's shown value (as in `config check`) and where it came from.
    Shown(&'static str, &'static str, Origin),
    /// The typed settings pass the test, and the named setting came from the origin.
    Holds(&'static str, fn(&Settings) -> bool, Origin),
    /// Resolution fails; the rendered errors contain every fragment.
    Error(&'static [&'static str]),
    /// Resolution succeeds with a warning containing the fragment.
    Warning(&'static str),
    /// Resolution succeeds and no warning contains the fragment.
    NoWarning(&'static str),
}

pub(super) struct Case {
    pub(super) what: &'static str,
    pub(super) cli: &'static [(&'static str, &'static str)],
    pub(super) env: &'static [(&'static str, &'static str)],
    /// The config file's JSON text, when there is one.
    pub(super) file: Option<&'static str>,
    pub(super) expect: Expect,
}

pub(super) fn sources(case: &Case) -> RawSources {
    use crate::test_support::pairs;
    RawSources {
        cli: pairs(case.cli),
        env: pairs(case.env),
        file: case
            .file
            .map(|text| ConfigFile::parse(PathBuf::from(FILE_PATH), text).unwrap()),
        secret_files: Vec::new(),
    }
}

pub(super) fn report_of<'a>(resolved: &'a Resolved, name: &str) -> &'a crate::SettingReport {
    resolved
        .report
        .iter()
        .find(|entry| entry.name == name)
        .unwrap_or_else(|| panic!("no report for {name}"))
}

pub(super) fn check(case: &Case) {
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
        Expect::Holds(name, test, from) => {
            let resolved = result.unwrap_or_else(|e| panic!("{what}: {}", render_errors(&e)));
            assert!(test(&resolved.settings), "{what}: {:?}", resolved.settings);
            assert_eq!(report_of(&resolved, name).source, from.source(), "{what}");
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
        Expect::NoWarning(fragment) => {
            let resolved = result.unwrap_or_else(|e| panic!("{what}: {}", render_errors(&e)));
            assert!(
                !resolved.warnings.iter().any(|w| w.contains(fragment)),
                "{what}: {fragment:?} in {:#?}",
                resolved.warnings
            );
        }
    }
}
