//! `tessera completions SHELL` and `tessera man`: generated from the clap definition, with
//! every setting added as an option. Settings are taken out of the arguments by
//! `tessera_config` before clap parses the rest, so clap never sees them when it parses; they
//! are added here only so that completions offer them and the manual page lists them.
//!
//! The manual page is one page: every command (`tessera user add`, …) has its own subsection
//! under COMMANDS, rather than a reference to a page of its own that is not installed.

use std::io::{ErrorKind, Write as _};
use std::process::ExitCode;

use clap::{Arg, CommandFactory as _};
use clap_complete::Shell;
use roff::{Roff, bold, italic, roman};

use super::Cli;

/// The program name scripts and the page are written for.
const NAME: &str = "tessera";

/// The command line as clap knows it, plus every setting as a global `--NAME VALUE` option, and
/// every secret setting's `--NAME_FILE PATH`.
pub(super) fn command() -> clap::Command {
    let command = tessera_config::SETTINGS
        .iter()
        .fold(Cli::command(), |command, spec| {
            command.arg(
                Arg::new(spec.name)
                    .long(spec.name)
                    .visible_aliases(spec.aliases.iter().copied())
                    .value_name("VALUE")
                    .global(true)
                    .help(first_sentence(spec.help))
                    .long_help(spec.help),
            )
        });
    tessera_config::file_names()
        .iter()
        .fold(command, |command, file| {
            command.arg(
                Arg::new(file.file_name)
                    .long(file.file_name)
                    .value_name("PATH")
                    .value_hint(clap::ValueHint::FilePath)
                    .global(true)
                    .help(format!(
                        "The path of a file holding {} (one trailing newline removed)",
                        file.name
                    )),
            )
        })
}

/// The first sentence of a setting's help, for completion menus.
fn first_sentence(help: &str) -> String {
    match help.split_once(". ") {
        Some((first, _)) => format!("{first}."),
        None => help.to_owned(),
    }
}

/// Prints the completion script for `shell`.
pub(super) fn completions(shell: Shell) -> ExitCode {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command(), NAME, &mut script);
    print(&script)
}

/// Prints the manual page (roff).
pub(super) fn man() -> ExitCode {
    match man_page() {
        Ok(page) => print(page.as_bytes()),
        Err(error) => {
            eprintln!("error: failed to render the manual page: {error}");
            ExitCode::FAILURE
        }
    }
}

/// The whole manual page: clap_mangen's title, name, synopsis, description and options (the
/// settings), then every command, the exit status and the version.
fn man_page() -> std::io::Result<String> {
    let mut command = command();
    command.build();
    let man = clap_mangen::Man::new(command.clone());
    // Each rendered part starts with the same preamble; the page keeps only the first.
    let preamble = Roff::new().render();
    let mut page = String::new();
    let mut part = |render: &dyn Fn(&mut Vec<u8>) -> std::io::Result<()>| {
        let mut bytes = Vec::new();
        render(&mut bytes)?;
        let text = String::from_utf8_lossy(&bytes).into_owned();
        match text.strip_prefix(&preamble) {
            Some(rest) if !page.is_empty() => page.push_str(rest),
            _ => page.push_str(&text),
        }
        Ok::<(), std::io::Error>(())
    };
    part(&|w| man.render_title(w))?;
    part(&|w| man.render_name_section(w))?;
    part(&|w| man.render_synopsis_section(w))?;
    part(&|w| man.render_description_section(w))?;
    part(&|w| man.render_options_section(w))?;
    let mut rest = Roff::new();
    rest.control("SH", ["COMMANDS"]);
    for sub in command.get_subcommands_mut() {
        describe_commands(&mut rest, sub);
    }
    rest.control("SH", ["ENVIRONMENT"]);
    rest.text([roman(
        "Every option above is also an environment variable and a config.json property of \
         the same name; the command line wins over the environment, which wins over the \
         config file, which wins over the default. `tessera config check` shows every \
         setting's value and where it came from.",
    )]);
    rest.control("SH", ["EXIT STATUS"]);
    rest.text([roman(
        "0 on success; 1 on a failure (an invalid token, a missing user, a missing \
         database, …); 2 on invalid settings or usage.",
    )]);
    part(&|w| rest.to_writer(w))?;
    part(&|w| man.render_version_section(w))?;
    Ok(page)
}

/// A subsection for `command` (with its usage, description and arguments) when it is a
/// command of its own, or for each of its subcommands when it only groups them.
fn describe_commands(roff: &mut Roff, command: &mut clap::Command) {
    if command.get_name() == "help" {
        return;
    }
    if command.has_subcommands() {
        for sub in command.get_subcommands_mut() {
            describe_commands(roff, sub);
        }
        return;
    }
    let usage = command.render_usage().to_string();
    let usage = usage.strip_prefix("Usage: ").unwrap_or(&usage).to_owned();
    let name = command
        .get_bin_name()
        .unwrap_or(command.get_name())
        .to_owned();
    roff.control("SS", [name.as_str()]);
    roff.text([bold(usage)]);
    if let Some(about) = command.get_long_about().or(command.get_about()) {
        roff.control("PP", []);
        roff.text([roman(about.to_string())]);
    }
    let own = command
        .get_arguments()
        .filter(|arg| !arg.is_global_set() && !arg.is_hide_set() && arg.get_id() != "help");
    for arg in own {
        roff.control("TP", []);
        let value = arg
            .get_value_names()
            .and_then(|names| names.first())
            .map_or_else(|| arg.get_id().as_str().to_uppercase(), ToString::to_string);
        let mut label = Vec::new();
        match arg.get_long() {
            Some(long) => {
                label.push(bold(format!("--{long}")));
                if arg.get_action().takes_values() {
                    label.push(roman(" "));
                    label.push(italic(format!("<{value}>")));
                }
            }
            None => label.push(italic(format!("<{value}>"))),
        }
        roff.text(label);
        if let Some(help) = arg.get_long_help().or(arg.get_help()) {
            roff.text([roman(help.to_string())]);
        }
    }
}

/// Writes `bytes` to standard output; a closed pipe ends the output quietly (the reader has
/// all it wanted), any other write error is a failure, never a panic.
fn print(bytes: &[u8]) -> ExitCode {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) if error.kind() == ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: failed to write to standard output: {error}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_command_line_is_consistent() {
        command().debug_assert();
    }

    #[test]
    fn completions_offer_the_settings() {
        let mut script = Vec::new();
        clap_complete::generate(Shell::Bash, &mut command(), NAME, &mut script);
        let script = String::from_utf8(script).unwrap();
        assert!(script.contains("--TESSERA_DATABASE_URL"), "{script}");
        assert!(script.contains("--AYANOVA_JWT_SECRET"), "{script}");
    }

    #[test]
    fn the_manual_page_describes_every_command_once_in_one_page() {
        let page = man_page().unwrap();
        assert_eq!(page.matches(".ie \\n(.g").count(), 1, "{page}");
        assert!(
            !page.contains("tessera\\-user(1)"),
            "refers to another page: {page}"
        );
        for command in [
            "tessera user add",
            "tessera token verify",
            "tessera migrate",
        ] {
            assert!(
                page.contains(&format!(".SS \"{command}\"")),
                "{command}: {page}"
            );
        }
        assert!(page.contains(".SH \"EXIT STATUS\""), "{page}");
    }
}
