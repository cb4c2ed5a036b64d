//! The settings table: every setting declared once, with its names, default, rule, help text,
//! secrecy and parser. The config file keys, environment variables, command-line parameters,
//! `docs/SETTINGS.md` and `tessera config check` all derive from [`SETTINGS`].
//!
//! To add a setting: add a field to [`Settings`] and [`Draft`], a line to [`Draft::finish`], and
//! an entry here whose `apply` parses the text into the draft. Entries are resolved in table
//! order, so a setting another one depends on comes first (the secret policy before the secret).
//! The connection settings' entries sit in [`connections`], the CORS origins' in [`cors`] and
//! the metrics listener's in [`metrics`], the settings for several instances on one
//! PostgreSQL database in [`instances`], and the signing-key settings in [`keys`], listed here
//! like the others.
//!
//! A setting's value is one text ([`Parser::Text`]) or a list ([`Parser::List`],
//! [`ValueKind::List`]): comma-separated text on the command line, in the environment and in a
//! config.json string, a JSON array of strings in config.json, one item per line in a
//! `NAME_FILE`; [`Raw`] keeps the form a source gave until the setting parses it.

use std::path::PathBuf;

use secrecy::SecretString;

use crate::error::{show_hidden, show_plain};
use crate::parse;
use crate::proxies::TrustedProxies;
use crate::secret::{JwtSecret, SecretPolicy};

mod connections;
mod cors;
mod instances;
mod keys;
mod metrics;

pub use instances::{INSTANCE_LEASE_MAX_SECONDS, INSTANCE_LEASE_MIN_SECONDS};
pub use keys::JwtAlgorithm;

/// What a setting parses into the draft: warnings, or the reason the value is refused.
type Apply = fn(&str, &mut Draft) -> Result<Vec<String>, String>;

/// What a list setting parses into the draft from its items, one by one as given.
type ApplyList = fn(&[String], &mut Draft) -> Result<Vec<String>, String>;

/// How a setting's value is parsed: as one text, or as a list of items.
#[derive(Clone, Copy)]
pub(crate) enum Parser {
    /// One text (a file's content for `NAME_FILE`).
    Text(Apply),
    /// A list ([`ValueKind::List`]): comma-separated text, a JSON array of strings in
    /// config.json, or one item per line in a `NAME_FILE`.
    List(ApplyList),
}

/// A value as a source gives it, before its setting parses it.
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum Raw {
    /// A command-line or environment value, or a config.json string.
    Text(String),
    /// The content of a `NAME_FILE` (one trailing newline already removed).
    FileContent(String),
    /// A config.json array of strings (list settings only).
    Items(Vec<String>),
}

impl Raw {
    /// The value's items, for a list setting: a text split on commas (each item trimmed, empty
    /// ones dropped), a file split into lines (blank lines dropped, nothing else trimmed, a
    /// `\r` before a `\n` removed), an array as given.
    pub(crate) fn items(&self) -> Vec<String> {
        match self {
            Raw::Text(text) => text
                .split(',')
                .map(str::trim)
                .filter(|item| !item.is_empty())
                .map(str::to_owned)
                .collect(),
            Raw::FileContent(text) => text
                .lines()
                .filter(|line| !line.trim().is_empty())
                .map(str::to_owned)
                .collect(),
            Raw::Items(items) => items.clone(),
        }
    }
}

/// One setting: its names in every source, its default, its rule and its documentation.
pub struct SettingSpec {
    /// The name, the same in config.json, the environment and on the command line (`--NAME`).
    pub name: &'static str,
    /// Other names accepted in all three sources (for AyaNova compatibility).
    pub aliases: &'static [&'static str],
    /// The value used when no source sets one.
    pub default: DefaultValue,
    /// Words shown after the default in the docs ("in the working directory", "5 days").
    pub default_note: &'static str,
    /// What is allowed, in words; completes "must be …" in error messages.
    pub allowed: &'static str,
    /// One paragraph of help (Markdown inline code allowed).
    pub help: &'static str,
    /// Whether and how the value is hidden when shown.
    pub sensitivity: Sensitivity,
    /// Which JSON types config.json may use for it.
    pub kind: ValueKind,
    /// Whether config.json may set it (`TESSERA_CONFIG` cannot: it names that file).
    pub in_config_file: bool,
    /// An example value for the docs (never a real secret).
    pub example: &'static str,
    apply: Parser,
    on_unset: Apply,
}

/// A setting's default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefaultValue {
    /// This text, parsed exactly like a given value (so the docs and the behaviour agree).
    Value(&'static str),
    /// No value: the feature is off.
    Unset,
    /// Drawn at start (the JWT secret).
    Generated,
}

/// How a setting's value is shown in `config check`, errors and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sensitivity {
    /// Shown as given.
    Public,
    /// Never shown: only its length, as `<hidden: N characters>`.
    Secret,
    /// A URL shown with the password in its user information replaced by `<hidden>`.
    UrlWithCredentials,
}

/// Which JSON values config.json may hold for a setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    /// A JSON string.
    Text,
    /// A JSON string or a JSON integer.
    Integer,
    /// A JSON string or a JSON boolean (`true` or `false`).
    Boolean,
    /// A list: a JSON string (comma-separated, as in the other sources) or a JSON array of
    /// strings; one item per line in a `NAME_FILE`.
    List,
}

impl SettingSpec {
    /// Whether the value is a secret (never shown, only its length).
    pub fn is_secret(&self) -> bool {
        self.sensitivity == Sensitivity::Secret
    }

    /// Whether the setting also accepts `NAME_FILE`, the path of a file holding the value: its
    /// value is a secret or may hold one (a database URL with a password).
    pub fn accepts_file(&self) -> bool {
        self.sensitivity != Sensitivity::Public
    }

    /// The name followed by its aliases.
    pub fn names(&self) -> impl Iterator<Item = &'static str> + use<> {
        std::iter::once(self.name).chain(self.aliases.iter().copied())
    }

    /// Whether `key` is this setting's name or one of its aliases.
    pub fn is_named(&self, key: &str) -> bool {
        self.names().any(|name| name == key)
    }

    /// How a value of this setting is shown: hidden when secret, password-free when a URL.
    pub fn display_value(&self, raw: &str) -> String {
        match self.sensitivity {
            Sensitivity::Public => show_plain(raw),
            Sensitivity::Secret => show_hidden(raw),
            Sensitivity::UrlWithCredentials => show_plain(&parse::redact_url_password(raw)),
        }
    }

    /// How a value as a source gave it is shown: as [`SettingSpec::display_value`], and a
    /// list of secrets as the number of items.
    pub(crate) fn display_raw(&self, raw: &Raw) -> String {
        match (self.kind, raw) {
            (ValueKind::List, raw) if self.is_secret() => {
                let count = raw.items().len();
                let plural = if count == 1 { "" } else { "s" };
                format!("<hidden: {count} item{plural}>")
            }
            (ValueKind::List, raw) => show_plain(&raw.items().join(",")),
            (_, Raw::Text(text) | Raw::FileContent(text)) => self.display_value(text),
            (_, Raw::Items(_)) => "<an array>".to_owned(),
        }
    }

    /// Parses a given text value into the draft (a list setting's text is comma-separated).
    pub(crate) fn apply(&self, raw: &str, draft: &mut Draft) -> Result<Vec<String>, String> {
        self.apply_raw(&Raw::Text(raw.to_owned()), draft)
    }

    /// Parses a value as a source gave it into the draft.
    pub(crate) fn apply_raw(&self, raw: &Raw, draft: &mut Draft) -> Result<Vec<String>, String> {
        match (self.apply, raw) {
            (Parser::Text(apply), Raw::Text(text) | Raw::FileContent(text)) => apply(text, draft),
            // Refused earlier, with the config file's type error; kept total.
            (Parser::Text(_), Raw::Items(_)) => Err("must be one value, not a list".to_owned()),
            (Parser::List(apply), raw) => apply(&raw.items(), draft),
        }
    }

    /// Fills the draft when no source gives a value and the default is not a text.
    pub(crate) fn apply_unset(&self, draft: &mut Draft) -> Result<Vec<String>, String> {
        (self.on_unset)("", draft)
    }
}

/// Finds a setting by its name or an alias.
pub fn find_setting(name: &str) -> Option<&'static SettingSpec> {
    SETTINGS.iter().find(|spec| spec.is_named(name))
}

/// The suffix of the name giving a secret setting's value as the path of a file holding it.
pub const FILE_SUFFIX: &str = "_FILE";

/// One `NAME_FILE` name of a setting that [accepts a file](SettingSpec::accepts_file).
#[derive(Clone, Copy)]
pub struct FileName {
    /// The setting.
    pub spec: &'static SettingSpec,
    /// The name or alias the file gives the value of (`AYANOVA_JWT_SECRET`).
    pub name: &'static str,
    /// That name with [`FILE_SUFFIX`] (`AYANOVA_JWT_SECRET_FILE`).
    pub file_name: &'static str,
}

/// Every `NAME_FILE` name, in table order: each name and alias of the settings that accept a
/// file, with [`FILE_SUFFIX`].
pub fn file_names() -> &'static [FileName] {
    static NAMES: std::sync::LazyLock<Vec<FileName>> = std::sync::LazyLock::new(|| {
        SETTINGS
            .iter()
            .filter(|spec| spec.accepts_file())
            .flat_map(|spec| {
                spec.names().map(move |name| FileName {
                    spec,
                    name,
                    // Built once for the life of the process, like the table itself.
                    file_name: Box::leak(format!("{name}{FILE_SUFFIX}").into_boxed_str()),
                })
            })
            .collect()
    });
    &NAMES
}

/// The `NAME_FILE` name `key`, when it is one.
pub fn find_file_setting(key: &str) -> Option<FileName> {
    file_names()
        .iter()
        .find(|file| file.file_name == key)
        .copied()
}

/// Every setting name and alias, in table order.
pub fn setting_names() -> impl Iterator<Item = &'static str> {
    SETTINGS.iter().flat_map(SettingSpec::names)
}

/// Every tessera setting, in resolution (and documentation) order.
pub static SETTINGS: &[SettingSpec] = &[
    SettingSpec {
        name: "TESSERA_CONFIG",
        aliases: &[],
        default: DefaultValue::Value("config.json"),
        default_note: "in the working directory",
        allowed: "the path of a JSON file",
        help: "Path of the JSON config file holding settings as `\"NAME\": \"value\"` \
               properties; other properties are ignored. A relative path is relative to the \
               working directory. This setting is read from the command line and the \
               environment only; inside the file it is ignored with a warning. A missing file \
               is fine at the default path and an error at a path given explicitly.",
        sensitivity: Sensitivity::Public,
        kind: ValueKind::Text,
        in_config_file: false,
        example: "/etc/tessera/config.json",
        apply: Parser::Text(|raw, _| parse::config_path(raw).map(|()| Vec::new())),
        on_unset: no_op,
    },
    SettingSpec {
        name: "TESSERA_LISTEN",
        aliases: &[],
        default: DefaultValue::Value("127.0.0.1:8420"),
        default_note: "",
        allowed: "host:port, where host is an IPv4 address, an IPv6 address in brackets or a \
                  host name, and port is 0 to 65535",
        help: "Address and port the HTTP server listens on. Use `0.0.0.0:8420` or \
               `[::]:8420` to accept connections on every interface; the default accepts local \
               connections only. Port `0` asks the operating system for any free port.",
        sensitivity: Sensitivity::Public,
        kind: ValueKind::Text,
        in_config_file: true,
        example: "0.0.0.0:8420",
        apply: Parser::Text(|raw, draft| {
            draft.listen = parse::listen_address(raw)?;
            Ok(Vec::new())
        }),
        on_unset: no_op,
    },
    metrics::METRICS_LISTEN,
    SettingSpec {
        name: "TESSERA_DATABASE_URL",
        aliases: &[],
        default: DefaultValue::Value("sqlite://tessera.db"),
        default_note: "in the working directory",
        allowed: "a URL starting with sqlite://, sqlite:, postgres:// or postgresql://",
        help: "Where tessera keeps users and sessions. SQLite, for one machine: \
               `sqlite://<file>` or `sqlite:<file>`, where a relative file is relative to the \
               working directory and missing folders are created; in-memory databases and \
               `?options` are refused. PostgreSQL, for several instances sharing one database: \
               `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE` (or `postgresql://`), with \
               libpq's `?options` such as `sslmode`; the database is created when missing and \
               the user may create it. A password in the URL is never shown.",
        sensitivity: Sensitivity::UrlWithCredentials,
        kind: ValueKind::Text,
        in_config_file: true,
        example: "sqlite:///var/lib/tessera/tessera.db",
        apply: Parser::Text(|raw, draft| {
            let (url, warnings) = parse::database_url(raw)?;
            draft.database_url = url;
            Ok(warnings)
        }),
        on_unset: no_op,
    },
    instances::DATABASE_NOTIFICATIONS,
    instances::INSTANCE_LEASE,
    SettingSpec {
        name: "TESSERA_LOG",
        aliases: &[],
        default: DefaultValue::Value("info"),
        default_note: "",
        allowed: "a tracing filter such as info or info,tessera=debug",
        help: "What tessera logs, as a `tracing` filter: a level (`off`, `error`, `warn`, \
               `info`, `debug`, `trace`) or comma-separated `target=level` directives, for \
               example `warn,tessera=debug`. Secrets are never logged at any level.",
        sensitivity: Sensitivity::Public,
        kind: ValueKind::Text,
        in_config_file: true,
        example: "warn,tessera=debug",
        apply: Parser::Text(|raw, draft| {
            let (filter, warnings) = parse::log_filter(raw)?;
            draft.log = filter;
            Ok(warnings)
        }),
        on_unset: no_op,
    },
    keys::JWT_ALGORITHM,
    // Before TESSERA_JWT_SECRET: the secret's parser reads the policy from the draft.
    SettingSpec {
        name: "TESSERA_JWT_SECRET_POLICY",
        aliases: &[],
        default: DefaultValue::Value("pad"),
        default_note: "",
        allowed: "pad or strict",
        help: "How `TESSERA_JWT_SECRET` becomes the signing key. `pad` applies the AyaNova \
               compatibility rule described there (pad to 32 characters, or keep the first 32). \
               `strict` requires at least 32 characters and uses the whole value as the key, \
               without cutting; a shorter secret stops the start.",
        sensitivity: Sensitivity::Public,
        kind: ValueKind::Text,
        in_config_file: true,
        example: "strict",
        apply: Parser::Text(|raw, draft| {
            draft.jwt_secret_policy = SecretPolicy::parse(raw)?;
            Ok(Vec::new())
        }),
        on_unset: no_op,
    },
    SettingSpec {
        name: "TESSERA_JWT_SECRET",
        aliases: &["AYANOVA_JWT_SECRET"],
        default: DefaultValue::Generated,
        default_note: "random per start (32 characters, never saved)",
        allowed: "a secret that is not empty or blank (policy pad), or of at least 32 \
                  characters (policy strict)",
        help: "The secret that signs and verifies access tokens (HS256). Changing it and \
               restarting invalidates every token issued before. When it is not set, tessera \
               draws 32 random characters from the operating system at each start (on a \
               PostgreSQL database only with `TESSERA_ALLOW_RANDOM_SECRET`), so users \
               must log in again after every restart. Under the default policy `pad`, length \
               is counted in characters (Unicode scalar values), not bytes: a value of fewer \
               than 32 characters is padded on the right with `-` (U+002D HYPHEN-MINUS) to \
               exactly 32, a longer one is cut to its first 32 characters, and the key is the \
               UTF-8 encoding of those 32 characters. A verifier elsewhere must be able to \
               rebuild the key, so this rule is exact and stable. An empty or blank value is an \
               error, never a padded key. Padding adds no strength: use 32 random characters \
               (for example from `openssl rand -base64 24`). tessera warns when the value is \
               padded, cut, or printed as an example in documentation, and when it looks weak: \
               fewer than 10 distinct characters, or under 128 bits estimated as the number of \
               characters used in the key times log2 of the combined size of the character classes present (26 \
               lower-case, 26 upper-case, 10 digits, 33 other ASCII, 100 anything else). The \
               estimate is generous: a phrase can pass it and still be guessable.",
        sensitivity: Sensitivity::Secret,
        kind: ValueKind::Text,
        in_config_file: true,
        example: "<32 random characters>",
        apply: Parser::Text(|raw, draft| {
            let secret = JwtSecret::parse(raw, draft.jwt_secret_policy)
                .map_err(|error| error.to_string())?;
            let warnings = secret.warnings();
            draft.jwt_secret = Some(secret);
            Ok(warnings)
        }),
        on_unset: |_, draft| {
            let secret = JwtSecret::generate().map_err(|error| error.to_string())?;
            // With an asymmetric algorithm the secret signs nothing: a random one loses
            // nothing at a restart.
            let warnings = if draft.jwt_algorithm.is_symmetric() {
                secret.warnings()
            } else {
                Vec::new()
            };
            draft.jwt_secret = Some(secret);
            Ok(warnings)
        },
    },
    keys::JWT_PREVIOUS_SECRETS,
    instances::ALLOW_RANDOM_SECRET,
    keys::JWT_PRIVATE_KEY_FILE,
    keys::KEY_ENCRYPTION_SECRET,
    keys::KEY_ROTATION_DAYS,
    keys::JWKS_MAX_AGE,
    SettingSpec {
        name: "TESSERA_JWT_ISSUER",
        aliases: &[],
        default: DefaultValue::Value("tessera"),
        default_note: "",
        allowed: "a text of 1 to 256 characters that is not blank",
        help: "The `iss` claim written into access tokens; tokens presented back must carry \
               exactly this value. Usually the server's public URL.",
        sensitivity: Sensitivity::Public,
        kind: ValueKind::Text,
        in_config_file: true,
        example: "https://auth.example.com",
        apply: Parser::Text(|raw, draft| {
            let (issuer, warnings) = parse::claim_value(raw)?;
            draft.jwt_issuer = issuer;
            Ok(warnings)
        }),
        on_unset: no_op,
    },
    SettingSpec {
        name: "TESSERA_JWT_AUDIENCE",
        aliases: &[],
        default: DefaultValue::Value("tessera"),
        default_note: "",
        allowed: "a text of 1 to 256 characters that is not blank",
        help: "The `aud` claim written into access tokens; tokens presented back must carry \
               exactly this value (or an array containing it). Usually the URL of the \
               application the tokens are for.",
        sensitivity: Sensitivity::Public,
        kind: ValueKind::Text,
        in_config_file: true,
        example: "https://app.example.com",
        apply: Parser::Text(|raw, draft| {
            let (audience, warnings) = parse::claim_value(raw)?;
            draft.jwt_audience = audience;
            Ok(warnings)
        }),
        on_unset: no_op,
    },
    SettingSpec {
        name: "TESSERA_JWT_EXPIRATION_MINUTES",
        aliases: &[],
        default: DefaultValue::Value("7200"),
        default_note: "5 days",
        allowed: "an integer from 5 to 43200 (minutes)",
        help: "Lifetime of an access token, in minutes from issue. The default is the 5 days \
               of the AyaNova documentation; a shorter lifetime limits what a stolen token can \
               do. Deactivating a user takes effect at once whatever the lifetime. With refresh \
               tokens, 10 to 30 minutes is recommended; tessera warns when this is longer than \
               `TESSERA_REFRESH_IDLE_MINUTES`.",
        sensitivity: Sensitivity::Public,
        kind: ValueKind::Integer,
        in_config_file: true,
        example: "60",
        apply: Parser::Text(|raw, draft| {
            draft.jwt_expiration_minutes = parse::integer(raw, 5, 43200, "minutes")?;
            Ok(Vec::new())
        }),
        on_unset: no_op,
    },
    SettingSpec {
        name: "TESSERA_JWT_LEEWAY_SECONDS",
        aliases: &[],
        default: DefaultValue::Value("30"),
        default_note: "",
        allowed: "an integer from 0 to 60 (seconds)",
        help: "Clock difference tolerated, in seconds, when checking a token's `exp` and `nbf` \
               times, for verifiers whose clocks drift slightly.",
        sensitivity: Sensitivity::Public,
        kind: ValueKind::Integer,
        in_config_file: true,
        example: "10",
        apply: Parser::Text(|raw, draft| {
            draft.jwt_leeway_seconds = parse::integer(raw, 0, 60, "seconds")?;
            Ok(Vec::new())
        }),
        on_unset: no_op,
    },
    SettingSpec {
        name: "TESSERA_REFRESH_ABSOLUTE_MINUTES",
        aliases: &[],
        default: DefaultValue::Value("43200"),
        default_note: "30 days",
        allowed: "an integer from 5 to 525600 (minutes)",
        help: "The absolute lifetime of a login session and of its refresh tokens, in minutes \
               from login, however often the session is refreshed; after it the user must log \
               in again. The default of 30 days is the month of \"remember me\" that common \
               web applications give; sensitive deployments should use less, for example a \
               working day (`480`). `TESSERA_REFRESH_IDLE_MINUTES` must not be longer \
               (start-up refuses it), so a lifetime under the idle default of 7 days needs a \
               shorter idle timeout too.",
        sensitivity: Sensitivity::Public,
        kind: ValueKind::Integer,
        in_config_file: true,
        example: "20160",
        apply: Parser::Text(|raw, draft| {
            draft.refresh_absolute_minutes = parse::integer(raw, 5, 525600, "minutes")?;
            Ok(Vec::new())
        }),
        on_unset: no_op,
    },
    SettingSpec {
        name: "TESSERA_REFRESH_IDLE_MINUTES",
        aliases: &[],
        default: DefaultValue::Value("10080"),
        default_note: "7 days",
        allowed: "an integer from 5 to 525600 (minutes)",
        help: "A session that is not refreshed for this many minutes ends (an idle timeout). \
               Each refresh moves the deadline, but never past the absolute lifetime \
               `TESSERA_REFRESH_ABSOLUTE_MINUTES`, which this must not exceed. Access tokens \
               of an ended session are refused on their next request. The default of 7 days \
               keeps a user who comes back every week logged in, and logs an abandoned device \
               out within a week. tessera warns when `TESSERA_JWT_EXPIRATION_MINUTES` is \
               longer, since access tokens then outlive idle sessions.",
        sensitivity: Sensitivity::Public,
        kind: ValueKind::Integer,
        in_config_file: true,
        example: "14400",
        apply: Parser::Text(|raw, draft| {
            draft.refresh_idle_minutes = parse::integer(raw, 5, 525600, "minutes")?;
            Ok(Vec::new())
        }),
        on_unset: no_op,
    },
    SettingSpec {
        name: "TESSERA_REFRESH_REUSE_GRACE_SECONDS",
        aliases: &[],
        default: DefaultValue::Value("10"),
        default_note: "",
        allowed: "an integer from 0 to 60 (seconds)",
        help: "A refresh token that was already rotated (exchanged for a successor) is \
               normally proof of theft, and presenting it again ends the whole session \
               (RFC 9700 §4.14.2). Within this many seconds after its rotation, presenting it \
               instead returns the very same successor, so two tabs refreshing at once, or a \
               client retrying after a lost response, are not logged out. `0` turns the grace \
               off. The trade-off: during the grace window a thief holding the same token gets \
               the same successor; a reuse after the window still ends the session.",
        sensitivity: Sensitivity::Public,
        kind: ValueKind::Integer,
        in_config_file: true,
        example: "0",
        apply: Parser::Text(|raw, draft| {
            draft.refresh_reuse_grace_seconds = parse::integer(raw, 0, 60, "seconds")?;
            Ok(Vec::new())
        }),
        on_unset: no_op,
    },
    SettingSpec {
        name: "TESSERA_SINGLE_SESSION",
        aliases: &[],
        default: DefaultValue::Value("false"),
        default_note: "",
        allowed: "true, false, 1, 0, yes, no, on or off (letters in any case)",
        help: "When on, a successful login ends every other session of the same user: their \
               refresh tokens and access tokens stop working at once, so each user is logged \
               in on one device at a time, the behaviour AyaNova documents. Off by default, \
               so a user may stay logged in on several devices. In config.json the value may \
               be a JSON boolean (`true`) as well as a string.",
        sensitivity: Sensitivity::Public,
        kind: ValueKind::Boolean,
        in_config_file: true,
        example: "true",
        apply: Parser::Text(|raw, draft| {
            draft.single_session = parse::boolean(raw)?;
            Ok(Vec::new())
        }),
        on_unset: no_op,
    },
    SettingSpec {
        name: "TESSERA_ADMIN_PASSWORD",
        aliases: &[],
        default: DefaultValue::Unset,
        default_note: "",
        allowed: "8 to 1024 characters, not blank",
        help: "Password of the first administrator account. It is used only when the user \
               table is empty (the first start) and ignored once any user exists, so it can be \
               removed after the first start.",
        sensitivity: Sensitivity::Secret,
        kind: ValueKind::Text,
        in_config_file: true,
        example: "<a long random password>",
        apply: Parser::Text(|raw, draft| {
            draft.admin_password = Some(parse::admin_password(raw)?);
            Ok(Vec::new())
        }),
        on_unset: no_op,
    },
    SettingSpec {
        name: "TESSERA_LOGIN_MAX_ACCOUNT_FAILURES",
        aliases: &[],
        default: DefaultValue::Value("10"),
        default_note: "",
        allowed: "an integer from 1 to 100 (failed logins)",
        help: "Failed logins allowed for one account within \
               `TESSERA_LOGIN_FAILURE_WINDOW_SECONDS`; further attempts for that account are \
               answered `429 Too Many Requests` with `Retry-After` until the window passes. \
               Unknown user names are counted the same way. A low limit lets anyone lock a user \
               out by failing on purpose; a high one gives a guesser more tries. Together with \
               the window it may allow at most 100 failures per account per hour \
               (failures × 3600 / window ≤ 100), the OWASP ceiling; start-up refuses more.",
        sensitivity: Sensitivity::Public,
        kind: ValueKind::Integer,
        in_config_file: true,
        example: "5",
        apply: Parser::Text(|raw, draft| {
            draft.login_max_account_failures = parse::integer(raw, 1, 100, "failed logins")?;
            Ok(Vec::new())
        }),
        on_unset: no_op,
    },
    SettingSpec {
        name: "TESSERA_LOGIN_MAX_CLIENT_FAILURES",
        aliases: &[],
        default: DefaultValue::Value("50"),
        default_note: "",
        allowed: "an integer from 1 to 10000 (failed logins)",
        help: "Failed logins allowed from one client IP address, over all accounts, within \
               `TESSERA_LOGIN_FAILURE_WINDOW_SECONDS`; further attempts from that address are \
               answered `429 Too Many Requests` with `Retry-After`. Raise it when many users \
               share one address (a proxy or NAT).",
        sensitivity: Sensitivity::Public,
        kind: ValueKind::Integer,
        in_config_file: true,
        example: "200",
        apply: Parser::Text(|raw, draft| {
            draft.login_max_client_failures = parse::integer(raw, 1, 10000, "failed logins")?;
            Ok(Vec::new())
        }),
        on_unset: no_op,
    },
    SettingSpec {
        name: "TESSERA_LOGIN_FAILURE_WINDOW_SECONDS",
        aliases: &[],
        default: DefaultValue::Value("900"),
        default_note: "15 minutes",
        allowed: "an integer from 60 to 86400 (seconds)",
        help: "The window, in seconds, over which failed logins are counted for \
               `TESSERA_LOGIN_MAX_ACCOUNT_FAILURES` and `TESSERA_LOGIN_MAX_CLIENT_FAILURES`.",
        sensitivity: Sensitivity::Public,
        kind: ValueKind::Integer,
        in_config_file: true,
        example: "3600",
        apply: Parser::Text(|raw, draft| {
            draft.login_failure_window_seconds = parse::integer(raw, 60, 86400, "seconds")?;
            Ok(Vec::new())
        }),
        on_unset: no_op,
    },
    SettingSpec {
        name: "TESSERA_TRUSTED_PROXIES",
        aliases: &[],
        default: DefaultValue::Unset,
        default_note: "no proxy is trusted",
        allowed: "a comma-separated list of IP addresses and CIDR ranges",
        help: "Reverse proxies whose `X-Forwarded-For` header is believed. Behind a proxy every \
               connection comes from the proxy, so without this the per-client login limit \
               counts all users as one client. When a connection comes from a listed address, \
               the client is the right-most `X-Forwarded-For` address that is not itself listed; \
               from any other address the header is ignored, so clients cannot spoof it.",
        sensitivity: Sensitivity::Public,
        kind: ValueKind::Text,
        in_config_file: true,
        example: "127.0.0.1, 10.0.0.0/8",
        apply: Parser::Text(|raw, draft| {
            draft.trusted_proxies = TrustedProxies::parse(raw)?;
            Ok(Vec::new())
        }),
        on_unset: no_op,
    },
    cors::CORS_ORIGINS,
    connections::HEADER_TIMEOUT,
    connections::IDLE_TIMEOUT,
    connections::MAX_CONNECTIONS,
    connections::MAX_CONNECTIONS_PER_CLIENT,
    connections::SHUTDOWN_TIMEOUT,
];

/// `on_unset` for settings whose default is a text (already applied) or that stay unset.
fn no_op(_: &str, _: &mut Draft) -> Result<Vec<String>, String> {
    Ok(Vec::new())
}

/// tessera's settings, resolved and typed. `Debug` never shows a secret.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The algorithm that signs access tokens.
    pub jwt_algorithm: JwtAlgorithm,
    pub jwt_secret: JwtSecret,
    /// Earlier HS256 secrets that still verify but never sign, each under the secret's rule.
    pub jwt_previous_secrets: Vec<JwtSecret>,
    /// A PEM private key managed outside tessera (asymmetric algorithms only); not yet read.
    pub jwt_private_key_file: Option<PathBuf>,
    /// The secret sealing the private keys kept in the database; at least 32 characters.
    pub key_encryption_secret: Option<SecretString>,
    /// Days between scheduled rotations of generated keys; `None` when there is no schedule.
    pub key_rotation_days: Option<u32>,
    /// The key set's `Cache-Control: max-age`, and how long a next key is published before
    /// it signs, in seconds.
    pub jwks_max_age_seconds: u32,
    pub jwt_secret_policy: SecretPolicy,
    /// Whether `serve` may draw a random secret at every start on a PostgreSQL database
    /// (always allowed on SQLite).
    pub allow_random_secret: bool,
    pub jwt_issuer: String,
    pub jwt_audience: String,
    pub jwt_expiration_minutes: u32,
    pub jwt_leeway_seconds: u32,
    /// How long a login session and its refresh tokens live, in minutes from login.
    pub refresh_absolute_minutes: u32,
    /// How long a session lives without a refresh, in minutes; at most the absolute lifetime.
    pub refresh_idle_minutes: u32,
    /// How long after its rotation a refresh token may be presented again and get the same
    /// successor, in seconds; `0` when every reuse ends the session.
    pub refresh_reuse_grace_seconds: u32,
    /// Whether a successful login ends every other session of the same user.
    pub single_session: bool,
    /// Validated `host:port`.
    pub listen: String,
    /// Validated `host:port` of the listener serving only `/metrics`; `None` serves it on
    /// `listen` with the API.
    pub metrics_listen: Option<String>,
    pub database_url: String,
    /// Whether a PostgreSQL store learns of changes through LISTEN/NOTIFY besides polling;
    /// ignored on SQLite.
    pub database_notifications: bool,
    /// How long an instance keeps accepting tokens without confirming it has applied every
    /// change, in seconds; within 1 to 60.
    pub instance_lease_seconds: u32,
    pub admin_password: Option<SecretString>,
    /// A `tracing_subscriber::EnvFilter` directive string, already checked to parse.
    pub log: String,
    pub login_max_account_failures: u32,
    pub login_max_client_failures: u32,
    pub login_failure_window_seconds: u32,
    pub trusted_proxies: TrustedProxies,
    /// Origins whose pages may call the API with credentials, exactly as browsers send them
    /// in `Origin`; empty when no other origin may.
    pub cors_origins: Vec<String>,
    /// How long a client may take to send a request head, in seconds.
    pub header_timeout_seconds: u32,
    /// How long a keep-alive connection with no request in flight is kept, in seconds.
    pub idle_timeout_seconds: u32,
    /// How many connections are served at once; `None` derives it from the open-file limit.
    pub max_connections: Option<u32>,
    /// How many connections one client address (an IPv6 /64) may hold at once.
    pub max_connections_per_client: u32,
    /// How long a shutdown waits for requests in flight, in seconds.
    pub shutdown_timeout_seconds: u32,
}

/// Settings being resolved. Every field is written by its setting's parser, from a given value
/// or from the default text, before [`Draft::finish`].
#[derive(Default)]
pub(crate) struct Draft {
    pub(crate) jwt_algorithm: JwtAlgorithm,
    pub(crate) jwt_secret: Option<JwtSecret>,
    jwt_previous_secrets: Vec<JwtSecret>,
    pub(crate) jwt_private_key_file: Option<PathBuf>,
    pub(crate) key_encryption_secret: Option<SecretString>,
    key_rotation_days: Option<u32>,
    jwks_max_age_seconds: u32,
    pub(crate) jwt_secret_policy: SecretPolicy,
    pub(crate) allow_random_secret: bool,
    jwt_issuer: String,
    jwt_audience: String,
    pub(crate) jwt_expiration_minutes: u32,
    jwt_leeway_seconds: u32,
    pub(crate) refresh_absolute_minutes: u32,
    pub(crate) refresh_idle_minutes: u32,
    refresh_reuse_grace_seconds: u32,
    single_session: bool,
    pub(crate) listen: String,
    pub(crate) metrics_listen: Option<String>,
    database_url: String,
    pub(crate) database_notifications: bool,
    pub(crate) instance_lease_seconds: u32,
    admin_password: Option<SecretString>,
    log: String,
    pub(crate) login_max_account_failures: u32,
    login_max_client_failures: u32,
    pub(crate) login_failure_window_seconds: u32,
    trusted_proxies: TrustedProxies,
    cors_origins: Vec<String>,
    header_timeout_seconds: u32,
    idle_timeout_seconds: u32,
    pub(crate) max_connections: Option<u32>,
    pub(crate) max_connections_per_client: u32,
    shutdown_timeout_seconds: u32,
}

impl Draft {
    /// The settings, or `None` when the secret is missing (only after an error was reported).
    pub(crate) fn finish(self) -> Option<Settings> {
        Some(Settings {
            jwt_algorithm: self.jwt_algorithm,
            jwt_secret: self.jwt_secret?,
            jwt_previous_secrets: self.jwt_previous_secrets,
            jwt_private_key_file: self.jwt_private_key_file,
            key_encryption_secret: self.key_encryption_secret,
            key_rotation_days: self.key_rotation_days,
            jwks_max_age_seconds: self.jwks_max_age_seconds,
            jwt_secret_policy: self.jwt_secret_policy,
            allow_random_secret: self.allow_random_secret,
            jwt_issuer: self.jwt_issuer,
            jwt_audience: self.jwt_audience,
            jwt_expiration_minutes: self.jwt_expiration_minutes,
            jwt_leeway_seconds: self.jwt_leeway_seconds,
            refresh_absolute_minutes: self.refresh_absolute_minutes,
            refresh_idle_minutes: self.refresh_idle_minutes,
            refresh_reuse_grace_seconds: self.refresh_reuse_grace_seconds,
            single_session: self.single_session,
            listen: self.listen,
            metrics_listen: self.metrics_listen,
            database_url: self.database_url,
            database_notifications: self.database_notifications,
            instance_lease_seconds: self.instance_lease_seconds,
            admin_password: self.admin_password,
            log: self.log,
            login_max_account_failures: self.login_max_account_failures,
            login_max_client_failures: self.login_max_client_failures,
            login_failure_window_seconds: self.login_failure_window_seconds,
            trusted_proxies: self.trusted_proxies,
            cors_origins: self.cors_origins,
            header_timeout_seconds: self.header_timeout_seconds,
            idle_timeout_seconds: self.idle_timeout_seconds,
            max_connections: self.max_connections,
            max_connections_per_client: self.max_connections_per_client,
            shutdown_timeout_seconds: self.shutdown_timeout_seconds,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn names_are_unique_and_prefixed() {
        let names: Vec<_> = setting_names().collect();
        let unique: BTreeSet<_> = names.iter().collect();
        assert_eq!(names.len(), unique.len(), "duplicate name in {names:?}");
        for name in names {
            assert!(
                name.starts_with("TESSERA_") || name.starts_with("AYANOVA_"),
                "{name}"
            );
            assert!(
                name.bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_'),
                "{name}"
            );
        }
    }

    #[test]
    fn every_text_default_is_valid() {
        for spec in SETTINGS {
            if let DefaultValue::Value(text) = spec.default {
                let mut draft = Draft::default();
                assert!(spec.apply(text, &mut draft).is_ok(), "{}", spec.name);
            }
        }
    }

    #[test]
    fn policy_is_resolved_before_the_secret() {
        let position = |name| SETTINGS.iter().position(|spec| spec.name == name);
        assert!(position("TESSERA_JWT_SECRET_POLICY") < position("TESSERA_JWT_SECRET"));
    }

    #[test]
    fn integer_rules_match_their_allowed_text() {
        for spec in SETTINGS
            .iter()
            .filter(|spec| spec.kind == ValueKind::Integer)
        {
            let error = spec.apply("x", &mut Draft::default()).unwrap_err();
            assert_eq!(error, format!("must be {}", spec.allowed), "{}", spec.name);
        }
    }

    #[test]
    fn boolean_rules_match_their_allowed_text() {
        let booleans: Vec<_> = SETTINGS
            .iter()
            .filter(|spec| spec.kind == ValueKind::Boolean)
            .collect();
        assert!(!booleans.is_empty());
        for spec in booleans {
            let error = spec.apply("x", &mut Draft::default()).unwrap_err();
            assert_eq!(error, format!("must be {}", spec.allowed), "{}", spec.name);
            assert!(spec.apply(spec.example, &mut Draft::default()).is_ok());
        }
    }

    #[test]
    fn entries_are_documented() {
        for spec in SETTINGS {
            assert!(
                !spec.allowed.is_empty() && !spec.help.is_empty(),
                "{}",
                spec.name
            );
            assert!(!spec.example.is_empty(), "{}", spec.name);
            assert!(!spec.help.contains('\n'), "{}", spec.name);
        }
    }

    #[test]
    fn display_hides_secrets_and_url_passwords() {
        let secret = find_setting("AYANOVA_JWT_SECRET").unwrap();
        assert_eq!(secret.name, "TESSERA_JWT_SECRET");
        assert_eq!(secret.display_value("abc"), "<hidden: 3 characters>");
        let url = find_setting("TESSERA_DATABASE_URL").unwrap();
        assert_eq!(
            url.display_value("postgres://u:pw@h/d"),
            "postgres://u:<hidden>@h/d"
        );
        assert!(find_setting("TESSERA_NOPE").is_none());
    }
}
