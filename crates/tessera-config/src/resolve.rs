//! Resolution: from the raw sources to typed [`Settings`], a report of where each value came from,
//! and warnings.
//!
//! Precedence is command line, then environment, then config file, then the default. Within one
//! source, a setting's names (its name and aliases, or one name repeated) must agree; a secret
//! setting's `NAME_FILE` gives the value of `NAME` in its source, and a source giving both a
//! value and a file for one setting is ambiguous, an error. Unknown
//! names are judged in `unknown` (an error on the command line and in the config file, a warning
//! in the environment); every error is collected, so all problems are reported at once.
//!
//! Invariant: resolution does no I/O. Its only side effect is drawing a random JWT secret from
//! the operating system when none is configured.

use crate::Source;
use crate::error::{ConfigError, ConfigErrors, show_plain};
use crate::file::FileValue;
use crate::sources::{RawSources, SecretFile};
use crate::table::{
    DefaultValue, Draft, FileName, Raw, SETTINGS, SettingSpec, Settings, ValueKind,
    find_file_setting,
};

/// The outcome of resolution.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub settings: Settings,
    /// One entry per setting, in table order.
    pub report: Vec<SettingReport>,
    /// Every warning, ready to log: unknown settings, ignored properties, each setting's own
    /// warnings prefixed with the name it was given under, and warnings about settings that do
    /// not suit each other (which name both settings).
    pub warnings: Vec<String>,
}

/// Where one setting's value came from, for `tessera config check`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingReport {
    pub name: &'static str,
    /// The alias the value was given under, when it was not `name`; `NAME_FILE` when the value
    /// was read from a file.
    pub given_as: Option<&'static str>,
    /// The path given as `NAME_FILE`, when the value was read from that file.
    pub file: Option<String>,
    /// The value as shown: secrets as `<hidden: N characters>` or `<not set>`.
    pub display_value: String,
    pub source: Source,
    /// Lower-precedence sources that also set this setting and were overridden.
    pub overridden: Vec<Source>,
    /// Warnings about this setting's value (never containing a secret).
    pub warnings: Vec<String>,
}

impl Resolved {
    /// The rules that apply to serving only (`tessera serve`, and `tessera config check`,
    /// which checks for it): the other commands never issue tokens, so they are not held to
    /// them.
    ///
    /// The rules: an asymmetric `TESSERA_JWT_ALGORITHM` needs a private key, from
    /// `TESSERA_JWT_PRIVATE_KEY_FILE` or generated and sealed with
    /// `TESSERA_KEY_ENCRYPTION_SECRET`. With HS256, on a PostgreSQL database, where several
    /// instances may share one database and so must share one key, a JWT secret drawn at
    /// random at start is refused unless `TESSERA_ALLOW_RANDOM_SECRET` accepts it. SQLite
    /// keeps the random secret (with its warning).
    pub fn check_serve(&self) -> Result<(), ConfigErrors> {
        if let Some(error) = asymmetric_needs_a_key_source(&self.settings, &self.report) {
            return Err(ConfigErrors::one(error));
        }
        let secret = "TESSERA_JWT_SECRET";
        let generated = origin_of(&self.report, secret) == Some(Source::Generated);
        // An asymmetric algorithm signs with a private key: the secret then only verifies old
        // HS256 tokens, and a random one costs nothing at a restart.
        if !generated
            || !self.settings.jwt_algorithm.is_symmetric()
            || self.settings.allow_random_secret
            || !crate::parse::is_postgres_url(&self.settings.database_url)
        {
            return Ok(());
        }
        let database = "TESSERA_DATABASE_URL";
        Err(ConfigErrors::one(ConfigError::about(
            secret,
            Some(Source::Generated),
            format!(
                "{secret} (or AYANOVA_JWT_SECRET) is not set, and {database} (from {}) names a \
                 PostgreSQL database, where several instances must share one secret, else each \
                 refuses the tokens the others issue: set {secret} to the same value on every \
                 instance (`tessera gen-secret` prints a strong one), or set \
                 TESSERA_ALLOW_RANDOM_SECRET=true to accept a random secret drawn at every \
                 start (tokens then stop working at every restart and only work on the \
                 instance that issued them)",
                source_text(&self.report, database),
            ),
        )))
    }
}

/// Resolves the settings from the raw sources, reporting every problem at once.
pub fn resolve(sources: &RawSources) -> Result<Resolved, ConfigErrors> {
    let (mut errors, mut warnings) = crate::unknown::unknown_names(sources);
    warnings.extend(exposed_file_warning(sources));
    warnings.extend(sources.secret_files.iter().filter_map(exposed_secret_file));
    let mut draft = Draft::default();
    let mut report = Vec::with_capacity(SETTINGS.len());
    let file_origin = sources
        .file
        .as_ref()
        .map(|file| Source::ConfigFile(file.path.clone()));

    for spec in SETTINGS {
        let mut given = Vec::new();
        let mut failed = false;
        for (origin, found) in candidates(spec, sources, &mut warnings) {
            match found {
                Ok(values) if values.is_empty() => {}
                Ok(values) => match agree(spec, &origin, values) {
                    Ok(value) => given.push((origin, value)),
                    Err(error) => {
                        errors.push(error);
                        failed = true;
                    }
                },
                Err(found_errors) => {
                    errors.extend(found_errors);
                    failed = true;
                }
            }
        }
        if failed {
            continue;
        }
        let mut given = given.into_iter();
        let entry = match given.next() {
            Some((origin, value)) => {
                let overridden = given.map(|(origin, _)| origin).collect();
                apply_given(spec, value, origin, overridden, &mut draft)
            }
            None => apply_default(spec, &mut draft),
        };
        match entry {
            Ok(mut entry) => {
                if spec.name == "TESSERA_CONFIG" && file_origin.is_none() {
                    entry.display_value.push_str(" (no file read)");
                }
                let shown_name = entry.given_as.unwrap_or(entry.name);
                warnings.extend(entry.warnings.iter().map(|w| format!("{shown_name}: {w}")));
                report.push(entry);
            }
            Err(error) => errors.push(error),
        }
    }

    if !errors.is_empty() {
        return Err(ConfigErrors(errors));
    }
    // Every setting was resolved without error, so every slot is filled.
    let settings = draft.finish().map_err(|name| {
        ConfigErrors::one(ConfigError::about(
            name,
            None,
            format!("{name} was not resolved (a bug in tessera-config)"),
        ))
    })?;
    errors.extend(account_failures_per_hour(&settings, &report));
    errors.extend(refresh_idle_within_absolute(&settings, &report));
    errors.extend(per_client_below_total(&settings, &report));
    errors.extend(metrics_apart_from_api(&settings, &report));
    errors.extend(key_file_needs_asymmetric(&settings, &report));
    if !errors.is_empty() {
        return Err(ConfigErrors(errors));
    }
    let joined = access_outlives_idle_sessions(&settings, &report)
        .map(|warning| ("TESSERA_JWT_EXPIRATION_MINUTES", warning))
        .into_iter()
        .chain(unused_key_settings(&settings, &report));
    for (name, warning) in joined.collect::<Vec<_>>() {
        if let Some(entry) = report.iter_mut().find(|entry| entry.name == name) {
            entry.warnings.push(warning.clone());
        }
        warnings.push(warning);
    }
    Ok(Resolved {
        settings,
        report,
        warnings,
    })
}

/// The most failed logins one account may make in an hour (OWASP ASVS, SECURITY.md).
pub const MAX_ACCOUNT_FAILURES_PER_HOUR: u64 = 100;

/// The per-account limit and its window together must not allow more than
/// [`MAX_ACCOUNT_FAILURES_PER_HOUR`] failures an hour.
fn account_failures_per_hour(settings: &Settings, report: &[SettingReport]) -> Option<ConfigError> {
    let failures = u64::from(settings.login_max_account_failures);
    let window = u64::from(settings.login_failure_window_seconds).max(1);
    let per_hour = (failures * 3600).div_ceil(window);
    if per_hour <= MAX_ACCOUNT_FAILURES_PER_HOUR {
        return None;
    }
    let name = "TESSERA_LOGIN_MAX_ACCOUNT_FAILURES";
    Some(ConfigError::about(
        name,
        origin_of(report, name),
        format!(
            "{name}={failures} (from {}) with TESSERA_LOGIN_FAILURE_WINDOW_SECONDS={window} (from {}) allows {per_hour} failed logins per account per hour; at most {MAX_ACCOUNT_FAILURES_PER_HOUR} are allowed: lower the failures or lengthen the window",
            source_text(report, name),
            source_text(report, "TESSERA_LOGIN_FAILURE_WINDOW_SECONDS"),
        ),
    ))
}

/// A session's idle timeout must be at most its absolute lifetime: a longer one could never end a
/// session, and suggests the two were mixed up.
fn refresh_idle_within_absolute(
    settings: &Settings,
    report: &[SettingReport],
) -> Option<ConfigError> {
    let idle = settings.refresh_idle_minutes;
    let absolute = settings.refresh_absolute_minutes;
    if idle <= absolute {
        return None;
    }
    let name = "TESSERA_REFRESH_IDLE_MINUTES";
    Some(ConfigError::about(
        name,
        origin_of(report, name),
        format!(
            "{name}={idle} (from {}) is longer than TESSERA_REFRESH_ABSOLUTE_MINUTES={absolute} (from {}); the idle timeout must be at most the absolute lifetime: lower the idle timeout or lengthen the lifetime",
            source_text(report, name),
            source_text(report, "TESSERA_REFRESH_ABSOLUTE_MINUTES"),
        ),
    ))
}

/// One client may not be allowed every connection: the per-client cap must be below the total.
/// (A derived total is only known at start; the server halves the per-client cap there.)
fn per_client_below_total(settings: &Settings, report: &[SettingReport]) -> Option<ConfigError> {
    let per_client = settings.max_connections_per_client;
    let total = settings.max_connections?;
    if per_client < total {
        return None;
    }
    let name = "TESSERA_MAX_CONNECTIONS_PER_CLIENT";
    Some(ConfigError::about(
        name,
        origin_of(report, name),
        format!(
            "{name}={per_client} (from {}) is not less than TESSERA_MAX_CONNECTIONS={total} (from {}); one client could then take every connection: lower the per-client limit or raise the total",
            source_text(report, name),
            source_text(report, "TESSERA_MAX_CONNECTIONS"),
        ),
    ))
}

/// The metrics listener needs an address of its own: the API's address cannot be bound twice.
/// (Port 0 draws a different free port for each.)
fn metrics_apart_from_api(settings: &Settings, report: &[SettingReport]) -> Option<ConfigError> {
    let metrics = settings.metrics_listen.as_deref()?;
    if metrics != settings.listen || metrics.ends_with(":0") {
        return None;
    }
    let name = "TESSERA_METRICS_LISTEN";
    Some(ConfigError::about(
        name,
        origin_of(report, name),
        format!(
            "{name}={metrics} (from {}) is the address of TESSERA_LISTEN (from {}); give the \
             metrics listener an address of its own, or unset {name} to serve /metrics with the API",
            source_text(report, name),
            source_text(report, "TESSERA_LISTEN"),
        ),
    ))
}

/// A private key file signs with an asymmetric algorithm only: with HS256 it would be ignored,
/// and the operator surely meant it to sign.
fn key_file_needs_asymmetric(settings: &Settings, report: &[SettingReport]) -> Option<ConfigError> {
    settings.jwt_private_key_file.as_ref()?;
    if !settings.jwt_algorithm.is_symmetric() {
        return None;
    }
    let name = "TESSERA_JWT_PRIVATE_KEY_FILE";
    let algorithm = "TESSERA_JWT_ALGORITHM";
    Some(ConfigError::about(
        name,
        origin_of(report, name),
        format!(
            "{name} (from {}) is set but {algorithm} is {} (from {}), which signs with \
             TESSERA_JWT_SECRET and no private key: set {algorithm} to the key's algorithm \
             (EdDSA, ES256 or RS256), or unset {name}",
            source_text(report, name),
            settings.jwt_algorithm,
            source_text(report, algorithm),
        ),
    ))
}

/// An asymmetric algorithm needs a private key: a file managed outside tessera, or keys tessera
/// generates and seals with the key-encryption secret.
fn asymmetric_needs_a_key_source(
    settings: &Settings,
    report: &[SettingReport],
) -> Option<ConfigError> {
    let algorithm = settings.jwt_algorithm;
    if algorithm.is_symmetric()
        || settings.jwt_private_key_file.is_some()
        || settings.key_encryption_secret.is_some()
    {
        return None;
    }
    let name = "TESSERA_JWT_ALGORITHM";
    Some(ConfigError::about(
        name,
        origin_of(report, name),
        format!(
            "{name}={algorithm} (from {}) signs with a private key, but neither \
             TESSERA_JWT_PRIVATE_KEY_FILE nor TESSERA_KEY_ENCRYPTION_SECRET is set: set \
             TESSERA_KEY_ENCRYPTION_SECRET (32 or more random characters, the same on every \
             instance) to let tessera generate, store and rotate keys, or set \
             TESSERA_JWT_PRIVATE_KEY_FILE to a PEM private key managed outside tessera",
            source_text(report, name),
        ),
    ))
}

/// Warnings, each with the setting it is about, for key settings that change nothing: the
/// key-encryption secret and a rotation schedule with HS256 (no private key is generated), and a
/// rotation schedule for a key file (tessera never replaces it).
fn unused_key_settings(
    settings: &Settings,
    report: &[SettingReport],
) -> Vec<(&'static str, String)> {
    let algorithm = "TESSERA_JWT_ALGORITHM";
    let mut warnings = Vec::new();
    let mut unused = |name: &'static str, set: bool, why: String| {
        if set {
            warnings.push((
                name,
                format!(
                    "{name} (from {}) is not used: {why}",
                    source_text(report, name)
                ),
            ));
        }
    };
    if settings.jwt_algorithm.is_symmetric() {
        let why = format!(
            "{algorithm} is {} (from {}), which signs with TESSERA_JWT_SECRET, so no private \
             key is generated; set {algorithm} to EdDSA, ES256 or RS256 to use it",
            settings.jwt_algorithm,
            source_text(report, algorithm),
        );
        unused(
            "TESSERA_KEY_ENCRYPTION_SECRET",
            settings.key_encryption_secret.is_some(),
            why.clone(),
        );
        unused(
            "TESSERA_KEY_ROTATION_DAYS",
            settings.key_rotation_days.is_some(),
            why,
        );
    } else if settings.jwt_private_key_file.is_some() {
        unused(
            "TESSERA_KEY_ROTATION_DAYS",
            settings.key_rotation_days.is_some(),
            format!(
                "the key of TESSERA_JWT_PRIVATE_KEY_FILE (from {}) is managed outside tessera, \
                 which never replaces it; replace the file and restart to change it",
                source_text(report, "TESSERA_JWT_PRIVATE_KEY_FILE"),
            ),
        );
    }
    warnings
}

/// A warning when access tokens live longer than an idle session: they are then cut off when
/// the session ends rather than expiring on their own.
fn access_outlives_idle_sessions(settings: &Settings, report: &[SettingReport]) -> Option<String> {
    let access = settings.jwt_expiration_minutes;
    let idle = settings.refresh_idle_minutes;
    if access <= idle {
        return None;
    }
    let name = "TESSERA_JWT_EXPIRATION_MINUTES";
    Some(format!(
        "{name}={access} (from {}) is longer than TESSERA_REFRESH_IDLE_MINUTES={idle} (from {}): access tokens then outlive idle sessions and are cut off when the session ends; access tokens of 10 to 30 minutes with refresh tokens are recommended",
        source_text(report, name),
        source_text(report, "TESSERA_REFRESH_IDLE_MINUTES"),
    ))
}

/// Where the setting `name` came from, for messages naming two settings.
fn source_text(report: &[SettingReport], name: &str) -> String {
    origin_of(report, name).map_or_else(|| "default".to_owned(), |origin| origin.to_string())
}

/// The source of the setting `name`, when it was resolved.
fn origin_of(report: &[SettingReport], name: &str) -> Option<Source> {
    report
        .iter()
        .find(|entry| entry.name == name)
        .map(|entry| entry.source.clone())
}

/// One value a source gives for a setting.
struct Given {
    /// The name as given: the setting's name, an alias, or one of them with `_FILE`.
    name: &'static str,
    /// The value (for `NAME_FILE`, the file's content).
    value: Raw,
    /// The path given as `NAME_FILE`, when the value was read from it.
    file: Option<String>,
}

impl Given {
    /// How the value is shown in messages: hidden as the setting hides it, after the path of
    /// the file holding it.
    fn shown(&self, spec: &SettingSpec) -> String {
        let value = spec.display_raw(&self.value);
        match &self.file {
            Some(path) => format!("{} (holding {value})", show_plain(path)),
            None => value,
        }
    }
}

/// A source's values for one setting, or the errors found in them (a type error from the
/// config file, a secret file that cannot be used, a value and a file given together).
type Found = Result<Vec<Given>, Vec<ConfigError>>;

/// The values each source holds for `spec`, in precedence order.
fn candidates(
    spec: &'static SettingSpec,
    sources: &RawSources,
    warnings: &mut Vec<String>,
) -> Vec<(Source, Found)> {
    let from_pairs = |pairs: &[(String, String)]| -> Found {
        Ok(pairs
            .iter()
            .filter_map(|(key, value)| {
                spec_name(spec, key).map(|name| Given {
                    name,
                    value: Raw::Text(value.clone()),
                    file: None,
                })
            })
            .collect())
    };
    let mut found = vec![
        (Source::CommandLine, from_pairs(&sources.cli)),
        (Source::Environment, from_pairs(&sources.env)),
    ];
    if let Some(file) = &sources.file {
        let origin = Source::ConfigFile(file.path.clone());
        let mut entries = file
            .entries
            .iter()
            .filter_map(|(key, value)| spec_name(spec, key).map(|name| (name, value)));
        if spec.in_config_file {
            let values = entries
                .map(|(name, value)| {
                    file_text(spec, name, value, &origin).map(|value| Given {
                        name,
                        value,
                        file: None,
                    })
                })
                .collect::<Result<Vec<_>, _>>()
                .map_err(|error| vec![error]);
            found.push((origin, values));
        } else if let Some((name, _)) = entries.next() {
            warnings.push(format!(
                "{name} in {origin} is ignored here: it is read from the command line or the \
                 environment only"
            ));
        }
    }
    if spec.accepts_file() {
        for (origin, values) in &mut found {
            add_secret_files(spec, sources, origin, values);
        }
    }
    found
}

/// Adds the values of `spec` that `origin` gives as `NAME_FILE`. A file that cannot be used is
/// an error, and so is a source giving both a value and a file for the setting (which one was
/// meant is unknown).
fn add_secret_files(
    spec: &'static SettingSpec,
    sources: &RawSources,
    origin: &Source,
    values: &mut Found,
) {
    let matching: Vec<(FileName, &SecretFile)> = sources
        .secret_files
        .iter()
        .filter(|file| file.origin == *origin)
        .filter_map(|file| {
            find_file_setting(&file.key)
                .filter(|file_name| std::ptr::eq(file_name.spec, spec))
                .map(|file_name| (file_name, file))
        })
        .collect();
    if matching.is_empty() {
        return;
    }
    let mut errors = Vec::new();
    if let Ok(direct) = values.as_ref()
        && !direct.is_empty()
    {
        let mut names: Vec<&str> = Vec::new();
        let given = direct.iter().map(|given| given.name);
        for name in given.chain(matching.iter().map(|(file_name, _)| file_name.file_name)) {
            if !names.contains(&name) {
                names.push(name);
            }
        }
        errors.push(ConfigError::about(
            spec.name,
            Some(origin.clone()),
            format!(
                "{} are set together in {origin}, which is ambiguous: give {} either as a \
                 value or as a file holding it (NAME_FILE), not both",
                names.join(" and "),
                spec.name
            ),
        ));
    }
    let mut files = Vec::new();
    for (file_name, file) in matching {
        let name = file_name.file_name;
        match &file.content {
            Ok(content) => files.push(Given {
                name,
                value: Raw::FileContent(content.as_str().to_owned()),
                file: Some(file.path.clone()),
            }),
            Err(reason) if file.path.is_empty() => errors.push(ConfigError::about(
                name,
                Some(origin.clone()),
                format!("{name} in {origin} is invalid: {reason}"),
            )),
            Err(reason) => errors.push(ConfigError::about(
                name,
                Some(origin.clone()),
                format!(
                    "{name}={} from {origin}: cannot read {} from the file: {reason}",
                    show_plain(&file.path),
                    file_name.name
                ),
            )),
        }
    }
    match values {
        Err(existing) => existing.extend(errors),
        Ok(_) if !errors.is_empty() => *values = Err(errors),
        Ok(given) => given.extend(files),
    }
}

/// The table's spelling of `key` when it names `spec`.
fn spec_name(spec: &'static SettingSpec, key: &str) -> Option<&'static str> {
    spec.names().find(|name| *name == key)
}

/// A config file value as the setting takes it, checked against the setting's JSON types.
fn file_text(
    spec: &SettingSpec,
    name: &str,
    value: &FileValue,
    origin: &Source,
) -> Result<Raw, ConfigError> {
    let expected = match spec.kind {
        ValueKind::Text => "expected a string",
        ValueKind::Integer => "expected a string or an integer",
        ValueKind::Boolean => "expected a string or a boolean (true or false)",
        ValueKind::List => "expected a string or an array of strings",
    };
    let found = match value {
        FileValue::Text(text) => return Ok(Raw::Text(text.clone())),
        FileValue::Integer(number) if spec.kind == ValueKind::Integer => {
            return Ok(Raw::Text(number.to_string()));
        }
        FileValue::Boolean(value) if spec.kind == ValueKind::Boolean => {
            return Ok(Raw::Text(value.to_string()));
        }
        FileValue::TextList(items) if spec.kind == ValueKind::List => {
            return Ok(Raw::Items(items.clone()));
        }
        FileValue::Integer(_) => "a number",
        FileValue::Boolean(_) => "true or false",
        FileValue::TextList(_) => "an array",
        FileValue::Other(kind) => kind,
    };
    Err(ConfigError::about(
        name,
        Some(origin.clone()),
        format!("{name} in {origin} is invalid: {expected}, found {found}"),
    ))
}

/// The one value a source gives, or an error when its names disagree.
fn agree(spec: &SettingSpec, origin: &Source, values: Vec<Given>) -> Result<Given, ConfigError> {
    let Some(first) = values.first().map(|given| given.value.clone()) else {
        return Err(ConfigError::about(
            spec.name,
            Some(origin.clone()),
            format!(
                "{} has no value in {origin} (a bug in tessera-config)",
                spec.name
            ),
        ));
    };
    if values.iter().any(|given| given.value != first) {
        let mut names: Vec<&str> = Vec::new();
        for given in &values {
            if !names.contains(&given.name) {
                names.push(given.name);
            }
        }
        let shown: Vec<String> = values
            .iter()
            .map(|given| format!("{}={}", given.name, given.shown(spec)))
            .collect();
        return Err(ConfigError::about(
            spec.name,
            Some(origin.clone()),
            format!(
                "{} set in {origin} with different values ({}): set it once, or give every \
                 name the same value",
                names.join(" and "),
                shown.join(", ")
            ),
        ));
    }
    // All values agree: report the main name when it is among them.
    let mut values = values;
    let main = values
        .iter()
        .position(|given| given.name == spec.name)
        .unwrap_or(0);
    Ok(values.swap_remove(main))
}

fn apply_given(
    spec: &'static SettingSpec,
    given: Given,
    origin: Source,
    overridden: Vec<Source>,
    draft: &mut Draft,
) -> Result<SettingReport, ConfigError> {
    let name = given.name;
    let mut warnings = spec.apply_raw(&given.value, draft).map_err(|reason| {
        ConfigError::invalid(name, &given.shown(spec), origin.clone(), &reason)
    })?;
    let shown = spec.display_raw(&given.value);
    // A file's path on the command line reveals nothing.
    if spec.is_secret() && origin == Source::CommandLine && given.file.is_none() {
        warnings.push(
            "is given on the command line, where other local users can read it in the process \
             list; prefer the environment or the config file"
                .to_owned(),
        );
    }
    Ok(SettingReport {
        name: spec.name,
        given_as: (name != spec.name).then_some(name),
        file: given.file,
        display_value: shown,
        source: origin,
        overridden,
        warnings,
    })
}

fn apply_default(
    spec: &'static SettingSpec,
    draft: &mut Draft,
) -> Result<SettingReport, ConfigError> {
    let bug = |reason: String| {
        ConfigError::about(
            spec.name,
            Some(Source::Default),
            format!(
                "the default of {} is invalid (a bug in tessera): {reason}",
                spec.name
            ),
        )
    };
    let (display_value, source, warnings) = match spec.default {
        DefaultValue::Value(text) => (
            spec.display_value(text),
            Source::Default,
            spec.apply(text, draft).map_err(bug)?,
        ),
        DefaultValue::Unset => (
            "<not set>".to_owned(),
            Source::Default,
            spec.apply_unset(draft).map_err(bug)?,
        ),
        DefaultValue::Generated => {
            let warnings = spec.apply_unset(draft).map_err(|reason| {
                ConfigError::about(
                    spec.name,
                    Some(Source::Generated),
                    format!("{} could not be generated: {reason}", spec.name),
                )
            })?;
            (
                format!("<hidden: {} characters>", crate::secret::KEY_CHARACTERS),
                Source::Generated,
                warnings,
            )
        }
    };
    Ok(SettingReport {
        name: spec.name,
        given_as: None,
        file: None,
        display_value,
        source,
        overridden: Vec::new(),
        warnings,
    })
}

/// A warning when the config file holds a secret setting and others than its owner may read or
/// write it: anyone who can read it can mint tokens, anyone who can write it can choose the key.
fn exposed_file_warning(sources: &RawSources) -> Option<String> {
    let file = sources.file.as_ref()?;
    let mode = file.mode?;
    let secret = file
        .entries
        .iter()
        .filter_map(|(key, _)| {
            crate::table::find_setting(key)
                .filter(|spec| spec.is_secret())
                .map(|_| key)
        })
        .next()?;
    let access = exposure(mode)?;
    let path = file.path.display();
    Some(format!(
        "config file {path} holds {secret} and is {access} by users other than its owner \
         (mode {mode:04o}); restrict it with `chmod 600 {path}`"
    ))
}

/// A warning when a secret file others than its owner may read or write, as for the config
/// file.
fn exposed_secret_file(file: &SecretFile) -> Option<String> {
    let mode = file.mode.filter(|_| file.content.is_ok())?;
    let access = exposure(mode)?;
    let path = show_plain(&file.path);
    Some(format!(
        "{}={path} from {}: the file is {access} by users other than its owner (mode \
         {mode:04o}); restrict it with `chmod 600 {path}`",
        file.key, file.origin
    ))
}

/// Who other than its owner may use a file with permission bits `mode`, in words, when anyone
/// may.
fn exposure(mode: u32) -> Option<&'static str> {
    let readable = mode & 0o044 != 0;
    let writable = mode & 0o022 != 0;
    match (readable, writable) {
        (true, true) => Some("readable and writable"),
        (true, false) => Some("readable"),
        (false, true) => Some("writable"),
        (false, false) => None,
    }
}
