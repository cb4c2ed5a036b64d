//! Human-readable output derived from the settings table: the `config check` report, error
//! listings, and the settings reference page (`docs/SETTINGS.md`).
//!
//! Invariant: everything here is built from [`SETTINGS`], [`Resolved`] or [`ConfigErrors`], which
//! already hold secrets hidden; nothing here sees a secret.

use std::fmt::Write as _;

use crate::error::{ConfigErrors, show_plain};
use crate::resolve::{Resolved, SettingReport};
use crate::table::{DefaultValue, SETTINGS, SettingSpec, ValueKind};
use crate::unknown::AYANOVA_SETTINGS;

/// Widest value column before values simply run on.
const VALUE_COLUMN_MAX: usize = 40;

/// The `tessera config check` report: every setting with its value (secrets hidden) and where it
/// came from, then every warning.
pub fn render_check(resolved: &Resolved) -> String {
    let name_width = resolved
        .report
        .iter()
        .map(|entry| entry.name.len())
        .chain(std::iter::once("SETTING".len()))
        .max()
        .unwrap_or_default();
    let value_width = resolved
        .report
        .iter()
        .map(|entry| entry.display_value.chars().count())
        .chain(std::iter::once("VALUE".len()))
        .max()
        .unwrap_or_default()
        .min(VALUE_COLUMN_MAX);
    let mut out = String::from(
        "tessera settings (command line over environment over config file over default)\n\n",
    );
    let _ = writeln!(
        out,
        "{:name_width$}  {:value_width$}  SOURCE",
        "SETTING", "VALUE"
    );
    for entry in &resolved.report {
        let line = format!(
            "{:name_width$}  {:value_width$}  {}",
            entry.name,
            entry.display_value,
            describe_source(entry)
        );
        let _ = writeln!(out, "{}", line.trim_end());
    }
    match resolved.warnings.as_slice() {
        [] => out.push_str("\nno warnings\n"),
        warnings => {
            let plural = if warnings.len() == 1 { "" } else { "s" };
            let _ = writeln!(out, "\n{} warning{plural}:", warnings.len());
            for warning in warnings {
                let _ = writeln!(out, "  - {warning}");
            }
        }
    }
    out
}

fn describe_source(entry: &SettingReport) -> String {
    let mut text = entry.source.to_string();
    match (entry.given_as, &entry.file) {
        (Some(name), Some(path)) => {
            let _ = write!(text, " {name}={}", show_plain(path));
        }
        (Some(alias), None) => {
            let _ = write!(text, " (as {alias})");
        }
        (None, _) => {}
    }
    if !entry.overridden.is_empty() {
        let overridden: Vec<String> = entry.overridden.iter().map(ToString::to_string).collect();
        let _ = write!(text, "; overrides {}", overridden.join(", "));
    }
    if !entry.warnings.is_empty() {
        text.push_str("; see warnings");
    }
    text
}

/// Every configuration problem, one per line, with a pointer to the reference.
pub fn render_errors(errors: &ConfigErrors) -> String {
    let count = errors.0.len();
    let mut out = match count {
        1 => "tessera's settings have a problem:\n".to_owned(),
        _ => format!("tessera's settings have {count} problems:\n"),
    };
    for error in errors {
        let _ = writeln!(out, "  - {error}");
    }
    out.push_str(
        "Settings are given as --NAME=value on the command line, as environment variables or \
         in config.json; docs/SETTINGS.md describes each one.\n",
    );
    out
}

/// The settings reference page, generated from the table. `docs/SETTINGS.md` holds its output.
pub fn settings_reference_markdown() -> String {
    let mut out = String::from(
        "# tessera settings\n\
         \n\
         <!-- Generated from the settings table in crates/tessera-config; do not edit by hand.\n     \
         Regenerate with: TESSERA_BLESS=1 cargo test -p tessera-config -->\n\
         \n\
         Every setting has one name, used unchanged in all three places it can be given:\n\
         \n\
         | where | how |\n\
         | --- | --- |\n\
         | command line | `--NAME=value` or `--NAME value`, before or after the subcommand |\n\
         | environment | a variable `NAME=value`; an empty variable is an empty value, not an unset one |\n\
         | config file | a property `\"NAME\": \"value\"` of the JSON object in `config.json` (see `TESSERA_CONFIG`) |\n\
         \n\
         The command line wins over the environment, which wins over the config file, which wins \
         over the default. Names are case-sensitive. Within one place, a setting given twice, or \
         under its name and an alias, must have the same value each time. In the config file \
         values are JSON strings; integer settings also accept JSON integers, and boolean \
         settings JSON `true` and `false`. Other properties of the config file are ignored.\n\
         \n",
    );
    write_file_rule(&mut out);
    write_unknown_names_rule(&mut out);
    out.push_str(
        "`tessera config check` prints every setting's value, secrets hidden, and where it came \
         from. Start-up stops with one line per problem when a value is not allowed or a name \
         is unknown, listing every problem at once.\n\
         \n\
         ## Summary\n\
         \n\
         | setting | default | allowed |\n\
         | --- | --- | --- |\n",
    );
    for spec in SETTINGS {
        let _ = writeln!(
            out,
            "| [`{name}`](#{anchor}) | {default} | {allowed} |",
            name = spec.name,
            anchor = spec.name.to_lowercase(),
            default = cell(&default_text(spec)),
            allowed = cell(spec.allowed),
        );
    }
    for spec in SETTINGS {
        out.push('\n');
        write_setting(&mut out, spec);
    }
    out
}

/// The rule for `NAME_FILE`, with the names that accept it.
fn write_file_rule(out: &mut String) {
    let names: Vec<String> = crate::table::file_names()
        .iter()
        .map(|file| format!("`{}`", file.file_name))
        .collect();
    let _ = writeln!(
        out,
        "Every secret setting, and each of its aliases, is also accepted as `NAME_FILE`: the \
         path of a file whose content is the value, the convention of container secrets \
         (`/run/secrets/…`) and secret managers. It is given in the same three places \
         (`--NAME_FILE=path`, a variable `NAME_FILE=path`, a property `\"NAME_FILE\": \"path\"`) \
         with the same precedence: it is the value of `NAME` from that place, so a \
         `--NAME_FILE` on the command line wins over `NAME` in the environment. Giving both \
         `NAME` and `NAME_FILE` in one place is an error. A relative path is relative to the \
         working directory. The value is the file's content with one trailing newline (`\\n` \
         or `\\r\\n`) removed, as `echo secret > file` and Docker and Kubernetes secrets \
         write it; nothing else is trimmed. The file must be a regular UTF-8 file of at most \
         {} KiB that is not empty; tessera warns when users other than its owner may read or \
         write it. `config check` shows the name and path the value came from. The names: {}.\n",
        crate::sources::SECRET_FILE_MAX_BYTES / 1024,
        names.join(", ")
    );
}

/// The rule for names that are not settings, with AyaNova's settings that tessera ignores.
fn write_unknown_names_rule(out: &mut String) {
    out.push_str(
        "A name that is not a setting is a mistake tessera reports, with the nearest setting \
         by the name's words (`TESSERA_JWT_EXPIRY`: did you mean \
         `TESSERA_JWT_EXPIRATION_MINUTES`?):\n\
         \n\
         | name | command line | config file | environment |\n\
         | --- | --- | --- | --- |\n\
         | unknown `TESSERA_*` | error | error | warning |\n\
         | upper-case `--NAME` without the prefix (`--JWT_EXPIRY=15`) | error | | |\n\
         | one of AyaNova's settings listed below | error | ignored | ignored |\n\
         | any other `AYANOVA_*` | error | error | ignored, or a warning when close to a setting |\n\
         \n\
         An error stops the start (exit code 2). tessera reads `AYANOVA_JWT_SECRET`; AyaNova's \
         other settings are ignored in the config file and the environment so that tessera can \
         share AyaNova's config.json and environment: ",
    );
    let names: Vec<String> = AYANOVA_SETTINGS
        .iter()
        .map(|(name, ours)| match ours {
            Some(ours) => format!("`{name}` (tessera's own: `{ours}`)"),
            None => format!("`{name}`"),
        })
        .collect();
    let _ = writeln!(out, "{}.\n", names.join(", "));
}

fn write_setting(out: &mut String, spec: &SettingSpec) {
    let _ = writeln!(out, "## `{}`\n", spec.name);
    let _ = writeln!(out, "{}\n", spec.help);
    if !spec.aliases.is_empty() {
        let aliases: Vec<String> = spec.aliases.iter().map(|a| format!("`{a}`")).collect();
        let _ = writeln!(
            out,
            "- **Also accepted as:** {} (in all three places)",
            aliases.join(", ")
        );
    }
    let _ = writeln!(out, "- **Default:** {}", default_text(spec));
    let _ = writeln!(out, "- **Allowed:** {}", spec.allowed);
    if spec.is_secret() {
        let _ = writeln!(
            out,
            "- **Secret:** yes; never logged or shown: `config check` and error messages print \
             only its length"
        );
    }
    if spec.accepts_file() {
        let names: Vec<String> = spec
            .names()
            .map(|name| format!("`{name}{}`", crate::table::FILE_SUFFIX))
            .collect();
        let _ = writeln!(
            out,
            "- **From a file:** {} (the path of a file holding the value)",
            names.join(", ")
        );
    }
    let places = if spec.in_config_file {
        "command line, environment, config file"
    } else {
        "command line, environment (ignored with a warning in the config file)"
    };
    let _ = writeln!(out, "- **Where:** {places}");
    let json_value = match spec.kind {
        ValueKind::Integer if spec.example.bytes().all(|b| b.is_ascii_digit()) => {
            spec.example.to_owned()
        }
        ValueKind::Boolean if matches!(spec.example, "true" | "false") => spec.example.to_owned(),
        ValueKind::List => {
            let items: Vec<String> = spec.example.split(',').map(json_string).collect();
            format!("[{}]", items.join(", "))
        }
        ValueKind::Integer | ValueKind::Boolean | ValueKind::Text => json_string(spec.example),
    };
    let shell_value = shell_quoted(spec.example);
    let mut examples = vec![
        format!("`--{}={shell_value}`", spec.name),
        format!("`{}={shell_value}`", spec.name),
    ];
    if spec.in_config_file {
        examples.push(format!("`\"{}\": {json_value}`", spec.name));
    }
    let _ = writeln!(out, "- **Example:** {}", examples.join(", "));
}

fn default_text(spec: &SettingSpec) -> String {
    let value = match spec.default {
        DefaultValue::Value(text) => format!("`{text}`"),
        DefaultValue::Unset => "not set".to_owned(),
        DefaultValue::Generated => String::new(),
    };
    match (value.is_empty(), spec.default_note.is_empty()) {
        (_, true) => value,
        (true, false) => spec.default_note.to_owned(),
        (false, false) => format!("{value} ({})", spec.default_note),
    }
}

fn json_string(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| format!("\"{text}\""))
}

/// The example as typed in a shell: quoted when it holds characters a shell would interpret.
fn shell_quoted(text: &str) -> String {
    let plain = text
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "_./:,=@+-".contains(c));
    if plain {
        text.to_owned()
    } else {
        format!("\"{text}\"")
    }
}

/// Escapes a Markdown table cell.
fn cell(text: &str) -> String {
    text.replace('|', "\\|")
}
