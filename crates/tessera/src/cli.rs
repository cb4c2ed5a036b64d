//! The command line: `serve` (the default), `migrate`, `gen-secret`, `config check`,
//! `token verify`, `user …` (including `user grant` / `user revoke` of one role, `user
//! rename`, and `user unlock`, which clears failed-login counters), `session …`, `db backup`,
//! `completions SHELL` and `man`, all taking the same settings flags. Every command that opens
//! the database closes it before it exits, so its writes are in the main database file.
//!
//! Every command that opens the database names it on standard error first (`database: PATH
//! (TESSERA_DATABASE_URL, SOURCE)`). Only `serve` and `migrate` create a database; the others
//! refuse a missing one, create nothing, and say how to create it.
//!
//! Settings flags (`--NAME=value` / `--NAME value` for every name in the settings table)
//! are taken out of the arguments first by `tessera_config`, so they may stand anywhere;
//! clap parses what is left. Exit codes: 0 success, 1 failure (an invalid token, a
//! missing user, …), 2 invalid settings or usage.

mod clients;
mod database;
mod docs;
mod keys;
mod token;

use std::ffi::OsString;
use std::io::BufRead as _;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use secrecy::{ExposeSecret, SecretString};
use tessera_config::{Resolved, Settings};

use crate::app::{self, Application};
use crate::auth::Authenticator;
use crate::clock::{Clock as _, SystemClock, rfc3339};
use crate::model::{NewPassword, Roles, Username, random_alphanumeric};
use crate::throttle::LoginThrottle;
use crate::users::{Bootstrap, UserChanges, Users};
use tessera_store::{EndReason, SessionId};

/// Exit code for invalid settings or usage.
const EXIT_SETTINGS: u8 = 2;
/// Users read per store query by `tessera user list`.
const LIST_PAGE_SIZE: u32 = 1000;

#[derive(Debug, Parser)]
#[command(
    name = "tessera",
    version,
    about = "Self-hosted authentication server: logs users in, issues signed JWTs and verifies them on every request",
    after_long_help = settings_help()
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server (the default when no command is given); creates the database if it is
    /// missing.
    Serve,
    /// Create the database if it is missing and apply pending schema migrations, then exit.
    Migrate,
    /// Print a new random secret: 32 characters from the OS CSPRNG.
    GenSecret,
    /// Inspect the settings.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Inspect tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Manage users in the configured database.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Inspect and end login sessions in the configured database.
    Session {
        #[command(subcommand)]
        command: SessionCommand,
    },
    /// Manage the API clients (resource servers) that may introspect and revoke tokens.
    Client {
        #[command(subcommand)]
        command: clients::ClientCommand,
    },
    /// Manage the signing keys kept in the database (asymmetric algorithms).
    Keys {
        #[command(subcommand)]
        command: keys::KeysCommand,
    },
    /// Look after the configured database.
    Db {
        #[command(subcommand)]
        command: DbCommand,
    },
    /// Print a shell completion script (`tessera completions bash > /etc/bash_completion.d/tessera`).
    Completions {
        /// The shell to complete for.
        shell: clap_complete::Shell,
    },
    /// Print the manual page, in roff (`tessera man > tessera.1`).
    Man,
}

impl Command {
    /// Whether the command opens the configured database (`serve` logs it instead).
    fn reads_database(&self) -> bool {
        matches!(
            self,
            Self::Migrate
                | Self::Token {
                    command: TokenCommand::Verify { jwks: None, .. }
                }
                | Self::User { .. }
                | Self::Session { .. }
                | Self::Keys { .. }
                | Self::Client { .. }
                | Self::Db { .. }
        )
    }
}

#[derive(Debug, Subcommand)]
enum DbCommand {
    /// Check the database: that it answers, its schema version, the change feed's end, and
    /// every server instance registered on it (its heartbeat's age and how far it has applied
    /// the change feed). Applies pending migrations, as a server start would.
    Check,
    /// Write a consistent copy of the database (safe while a server runs) to a new file,
    /// readable only by its owner.
    Backup {
        /// Where to write the copy; must not exist yet.
        path: std::path::PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum SessionCommand {
    /// List live sessions, newest first.
    List {
        /// Only this user's sessions.
        #[arg(long)]
        user: Option<String>,
    },
    /// End a session (or, with --user, every session of a user): its refresh token and its
    /// access tokens are refused from then on.
    Revoke {
        /// The session id (as listed).
        #[arg(required_unless_present = "user", conflicts_with = "user")]
        id: Option<String>,
        /// End every session of this user instead.
        #[arg(long)]
        user: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Show every setting's effective value (secrets hidden), its source and warnings.
    Check,
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Check a token as the server would: exit 0 when valid, 1 with the reason otherwise.
    Verify {
        /// The access token (compact JWS), as pasted: a leading `Bearer ` and surrounding
        /// whitespace are ignored. `-` reads it from the first line of standard input.
        token: String,
        /// Check offline against this key set (a JWKS file, or the URL of tessera's
        /// `/.well-known/jwks.json`) instead of the database: signature and claims only, not the
        /// user or the session.
        #[arg(long, value_name = "FILE|URL")]
        jwks: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Create a user (a password is generated and printed unless --password-stdin).
    Add {
        /// The username (a-z, 0-9, '.', '_', '-', '@').
        username: String,
        /// A role to grant; repeat for several (`--role admin`).
        #[arg(long = "role")]
        roles: Vec<String>,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
        /// Create the user inactive.
        #[arg(long)]
        inactive: bool,
    },
    /// List users.
    List,
    /// Allow a user to log in and use tokens again.
    Activate {
        /// The username.
        username: String,
    },
    /// Block a user at once: login and every token already issued are refused.
    Deactivate {
        /// The username.
        username: String,
    },
    /// Set a new password (generated and printed unless --password-stdin).
    Passwd {
        /// The username.
        username: String,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Delete a user.
    Delete {
        /// The username.
        username: String,
    },
    /// Give a user a role; granting `admin` to an active user recovers a database left
    /// without an active administrator.
    Grant {
        /// The username.
        username: String,
        /// The role (a-z, 0-9, '.', '_', '-', ':').
        role: String,
    },
    /// Take a role from a user; refused when it would leave no active user with `admin`.
    Revoke {
        /// The username.
        username: String,
        /// The role.
        role: String,
    },
    /// Give a user a new username; its id, sessions and tokens stay valid.
    Rename {
        /// The current username.
        username: String,
        /// The new username (a-z, 0-9, '.', '_', '-', '@'), not held by another user.
        new_username: String,
    },
    /// Clear the failed logins counted against a user (and, with --client, a client
    /// address), so that a running server lets the next attempt through.
    Unlock {
        /// The username.
        #[arg(required_unless_present = "client")]
        username: Option<String>,
        /// Clear the failed logins counted against this client IP address too (or only).
        #[arg(long, value_name = "IP")]
        client: Option<std::net::IpAddr>,
    },
}

fn settings_help() -> String {
    let mut help = String::from(
        "Settings (each also a config.json property and an environment variable of the same name;\n\
         command line over environment over config.json over default):\n",
    );
    for spec in tessera_config::SETTINGS {
        help.push_str(&format!("  --{}=VALUE", spec.name));
        for alias in spec.aliases {
            help.push_str(&format!("  (or --{alias}=VALUE)"));
        }
        if spec.accepts_file() {
            help.push_str(&format!("  (or --{}_FILE=PATH)", spec.name));
        }
        help.push('\n');
    }
    help.push_str(
        "Secret settings also accept NAME_FILE, the path of a file holding the value.\n\
         See docs/SETTINGS.md or `tessera config check`.\n",
    );
    help
}

/// Runs the command line and returns the process exit code.
pub fn run() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().collect();
    let (setting_args, rest) = match tessera_config::split_cli_args(args) {
        Ok(split) => split,
        Err(errors) => {
            eprint!("{}", tessera_config::render_errors(&errors));
            return ExitCode::from(EXIT_SETTINGS);
        }
    };
    let cli = match Cli::try_parse_from(rest) {
        Ok(cli) => cli,
        Err(error) => {
            let _ = error.print();
            return ExitCode::from(u8::try_from(error.exit_code()).unwrap_or(EXIT_SETTINGS));
        }
    };
    let command = cli.command.unwrap_or(Command::Serve);
    match command {
        Command::Completions { shell } => return docs::completions(shell),
        Command::Man => return docs::man(),
        _ => {}
    }
    if let Command::GenSecret = command {
        let generated = tessera_config::JwtSecret::generate()
            .map_err(|e| anyhow::anyhow!("{e}"))
            .and_then(|secret| Ok(std::str::from_utf8(secret.key_bytes())?.to_owned()));
        return match generated {
            Ok(secret) => {
                println!("{secret}");
                ExitCode::SUCCESS
            }
            Err(error) => fail(&error),
        };
    }
    let mut resolved = match load_settings(setting_args) {
        Ok(resolved) => resolved,
        Err(message) => {
            eprint!("{message}");
            return ExitCode::from(EXIT_SETTINGS);
        }
    };
    resolved.warnings.extend(process_warning());
    // The rules for serving: `serve` stops before binding, `config check` reports them.
    let serve_check = resolved.check_serve();
    if let Command::Config {
        command: ConfigCommand::Check,
    } = command
    {
        print!("{}", tessera_config::render_check(&resolved));
        return match serve_check {
            Ok(()) => ExitCode::SUCCESS,
            Err(errors) => {
                eprint!("{}", tessera_config::render_errors(&errors));
                ExitCode::from(EXIT_SETTINGS)
            }
        };
    }
    if let (Command::Serve, Err(errors)) = (&command, &serve_check) {
        eprint!("{}", tessera_config::render_errors(errors));
        return ExitCode::from(EXIT_SETTINGS);
    }
    // The token is read before anything is opened, so a bad one is only a usage error.
    let token = match &command {
        Command::Token {
            command: TokenCommand::Verify { token, .. },
        } => match token::obtain(token, std::io::stdin().lock()) {
            Ok(token) => token,
            Err(message) => {
                eprintln!("error: {message}");
                return ExitCode::from(EXIT_SETTINGS);
            }
        },
        _ => String::new(),
    };
    let database = database::Database::describe(&resolved);
    if command.reads_database() {
        database.announce();
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            return fail(&anyhow::Error::new(error).context("failed to start the async runtime"));
        }
    };
    let outcome = runtime.block_on(async {
        match command {
            Command::Migrate => database.migrate().await,
            Command::Token {
                command:
                    TokenCommand::Verify {
                        jwks: Some(source), ..
                    },
            } => token::verify_offline(&resolved.settings, &token, &source).await,
            Command::Token { .. } => token::verify(&resolved.settings, &token).await,
            Command::User { command } => user_command(&resolved.settings, command).await,
            Command::Session { command } => session_command(&resolved.settings, command).await,
            Command::Keys { command } => keys::run(&resolved.settings, command).await,
            Command::Client { command } => clients::run(&resolved.settings, command).await,
            Command::Db { command } => db_command(&resolved.settings, command).await,
            _ => serve(resolved, &database.named())
                .await
                .map(|()| ExitCode::SUCCESS),
        }
    });
    outcome.unwrap_or_else(|error| fail(&database.explain(error)))
}

/// Prints the error and its causes on one line (a cause its error already ends with is not
/// repeated) and answers exit code 1.
fn fail(error: &anyhow::Error) -> ExitCode {
    let text = crate::auth::join_causes(error.chain().map(ToString::to_string));
    eprintln!("error: {text}");
    ExitCode::FAILURE
}

fn load_settings(setting_args: Vec<(String, String)>) -> Result<Resolved, String> {
    let env = tessera_config::env_vars(std::env::vars_os())
        .map_err(|e| tessera_config::render_errors(&e))?;
    let cwd =
        std::env::current_dir().map_err(|e| format!("cannot read the working directory: {e}\n"))?;
    let sources = tessera_config::read_sources(setting_args, env, &cwd)
        .map_err(|e| tessera_config::render_errors(&e))?;
    tessera_config::resolve(&sources).map_err(|e| tessera_config::render_errors(&e))
}

/// A warning when tessera runs as root: it needs no privilege (it listens on an unprivileged
/// port by default and writes one database), so a flaw in it would hand over the machine.
fn process_warning() -> Option<String> {
    #[cfg(unix)]
    if rustix::process::geteuid().is_root() {
        return Some(
            "tessera is running as root; it needs no privileges: run it as an unprivileged user \
             that owns only its database directory and config file"
                .to_owned(),
        );
    }
    None
}

async fn serve(resolved: Resolved, database: &str) -> anyhow::Result<()> {
    init_tracing(&resolved.settings.log);
    for warning in &resolved.warnings {
        tracing::warn!("{warning}");
    }
    let settings = resolved.settings;
    crate::serve::raise_open_file_limit();
    let app = Application::build(&settings, Arc::new(SystemClock)).await?;
    match app.bootstrap() {
        Bootstrap::NotNeeded => {}
        Bootstrap::Created(user) => {
            tracing::info!(username = %user.username, "created the first admin user with TESSERA_ADMIN_PASSWORD");
        }
        Bootstrap::CreatedWithGeneratedPassword(user, password) => {
            println!(
                "created the first admin user '{}' with the generated password: {}\n\
                 (shown once; change it with `tessera user passwd {}` or set TESSERA_ADMIN_PASSWORD on a fresh database)",
                user.username,
                password.expose_secret(),
                user.username
            );
        }
    }
    let limits = app.limits();
    tracing::info!(
        address = %app.local_addr(),
        database,
        max_connections = limits.max_connections,
        max_connections_per_client = limits.max_per_client,
        header_timeout_seconds = limits.header_timeout.as_secs(),
        idle_timeout_seconds = limits.idle_timeout.as_secs(),
        "listening"
    );
    if let Some(metrics) = app.metrics_addr() {
        tracing::info!(address = %metrics, "serving /metrics on its own listener");
    }
    // After the log lines, so whoever waits for this announcement finds the log written; the
    // metrics address comes first, so it is known once the main one is.
    if let Some(metrics) = app.metrics_addr() {
        println!("tessera metrics on http://{metrics}/metrics");
    }
    println!("tessera listening on http://{}", app.local_addr());
    app.run().await
}

fn init_tracing(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .try_init();
}

/// Runs `tessera db …`.
async fn db_command(settings: &Settings, command: DbCommand) -> anyhow::Result<ExitCode> {
    let path = match command {
        DbCommand::Check => return database::check(settings).await,
        DbCommand::Backup { path } => path,
    };
    let auth = app::authenticator(settings, Arc::new(SystemClock)).await?;
    let outcome = auth.users.backup(&path).await;
    auth.close().await;
    outcome?;
    println!("backed up the database to {}", path.display());
    Ok(ExitCode::SUCCESS)
}

async fn user_command(settings: &Settings, command: UserCommand) -> anyhow::Result<ExitCode> {
    let clock = Arc::new(SystemClock);
    let now = crate::clock::Clock::now(clock.as_ref());
    let auth = app::authenticator(settings, clock).await?;
    let outcome = user_action(auth.users.clone(), &auth.throttle, command, now).await;
    auth.close().await;
    outcome
}

async fn user_action(
    users: Users,
    throttle: &LoginThrottle,
    command: UserCommand,
    now: i64,
) -> anyhow::Result<ExitCode> {
    match command {
        UserCommand::Add {
            username,
            roles,
            password_stdin,
            inactive,
        } => {
            let username = Username::parse(&username)?;
            let roles = Roles::parse(&roles)?;
            let (password, generated) = obtain_password(password_stdin)?;
            let user = users
                .create(username, &password, roles, !inactive, now)
                .await?;
            println!("created user '{}' ({})", user.username, user.id);
            if generated {
                println!(
                    "generated password (shown once): {}",
                    password.secret().expose_secret()
                );
            }
        }
        UserCommand::List => {
            println!(
                "{:<24} {:<36} {:<8} {:<20} roles",
                "username", "id", "active", "created"
            );
            // Page by page, so a large database is never held in memory at once.
            let mut after: Option<String> = None;
            loop {
                let page = users
                    .list_page(after.as_deref(), None, LIST_PAGE_SIZE)
                    .await?;
                for user in &page.users {
                    println!(
                        "{:<24} {:<36} {:<8} {:<20} {}",
                        user.username,
                        user.id,
                        if user.active { "yes" } else { "no" },
                        rfc3339(user.created_at),
                        user.roles.join(",")
                    );
                }
                match page.users.last() {
                    Some(last) if page.more => after = Some(last.username.clone()),
                    _ => break,
                }
            }
        }
        UserCommand::Activate { username } => {
            set_active(&users, &username, true, now).await?;
        }
        UserCommand::Deactivate { username } => {
            set_active(&users, &username, false, now).await?;
        }
        UserCommand::Passwd {
            username,
            password_stdin,
        } => {
            let user = users
                .get_by_username(&Username::parse(&username)?)
                .await
                .with_context(|| format!("user '{username}'"))?;
            let (password, generated) = obtain_password(password_stdin)?;
            let changes = UserChanges {
                password: Some(password.clone()),
                ..UserChanges::default()
            };
            users.update(user.id, changes, now).await?;
            println!("changed the password of '{}'", user.username);
            if generated {
                println!(
                    "generated password (shown once): {}",
                    password.secret().expose_secret()
                );
            }
        }
        UserCommand::Delete { username } => {
            let user = users
                .get_by_username(&Username::parse(&username)?)
                .await
                .with_context(|| format!("user '{username}'"))?;
            users.delete(user.id).await?;
            println!("deleted user '{}'", user.username);
        }
        UserCommand::Grant { username, role } => {
            change_role(&users, &username, &role, true, now).await?;
        }
        UserCommand::Revoke { username, role } => {
            change_role(&users, &username, &role, false, now).await?;
        }
        UserCommand::Rename {
            username,
            new_username,
        } => {
            rename(&users, &username, &new_username, now).await?;
        }
        UserCommand::Unlock { username, client } => {
            if let Some(username) = username {
                let user = users
                    .get_by_username(&Username::parse(&username)?)
                    .await
                    .with_context(|| format!("user '{username}'"))?;
                let cleared = throttle.unlock_account(&user.username, now).await?;
                println!(
                    "cleared {cleared} recent failed login(s) of '{}'",
                    user.username
                );
            }
            if let Some(client) = client {
                let cleared = throttle.unlock_client(client, now).await?;
                println!("cleared {cleared} recent failed login(s) from {client}");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Renames a user through [`Users`], which drops it from the caches; a running server shows
/// the new name after its next poll. A taken name is refused by the store, atomically.
async fn rename(users: &Users, username: &str, new_username: &str, now: i64) -> anyhow::Result<()> {
    let name = Username::parse(username)?;
    let new = Username::parse(new_username)
        .with_context(|| format!("invalid new username '{new_username}'"))?;
    let user = users
        .get_by_username(&name)
        .await
        .with_context(|| format!("user '{username}'"))?;
    if user.username == new.as_str() {
        println!(
            "'{}' already has that username; nothing changed",
            user.username
        );
        return Ok(());
    }
    let changes = UserChanges {
        username: Some(new.clone()),
        ..UserChanges::default()
    };
    users
        .update(user.id, changes, now)
        .await
        .with_context(|| format!("cannot rename '{}' to '{}'", user.username, new.as_str()))?;
    println!(
        "renamed '{}' to '{}' ({}); its sessions and tokens stay valid",
        user.username,
        new.as_str(),
        user.id
    );
    Ok(())
}

/// Grants (`grant`) or revokes one role through [`Users`], so the last-admin guard applies;
/// a grant or revoke that would change nothing says so and writes nothing.
async fn change_role(
    users: &Users,
    username: &str,
    role: &str,
    grant: bool,
    now: i64,
) -> anyhow::Result<()> {
    let name = Username::parse(username)?;
    // Validates the role name before anything is read.
    Roles::parse(&[role])?;
    let user = users
        .get_by_username(&name)
        .await
        .with_context(|| format!("user '{username}'"))?;
    let holds = user.roles.iter().any(|held| held == role);
    if holds == grant {
        let has = if grant {
            "already has"
        } else {
            "does not have"
        };
        println!(
            "'{}' {has} the role '{role}'; nothing changed",
            user.username
        );
        return Ok(());
    }
    let wanted: Vec<&str> = user
        .roles
        .iter()
        .map(String::as_str)
        .filter(|held| *held != role)
        .chain(grant.then_some(role))
        .collect();
    let changes = UserChanges {
        roles: Some(Roles::parse(&wanted)?),
        ..UserChanges::default()
    };
    let updated = users.update(user.id, changes, now).await?;
    let roles = if updated.roles.is_empty() {
        "none".to_owned()
    } else {
        updated.roles.join(", ")
    };
    if grant {
        println!(
            "granted the role '{role}' to '{}' (roles: {roles})",
            updated.username
        );
    } else {
        println!(
            "revoked the role '{role}' from '{}' (roles: {roles})",
            updated.username
        );
    }
    Ok(())
}

async fn session_command(settings: &Settings, command: SessionCommand) -> anyhow::Result<ExitCode> {
    let clock = Arc::new(SystemClock);
    let now = clock.now();
    let auth = app::authenticator(settings, clock).await?;
    let outcome = session_action(auth.clone(), command, now).await;
    auth.close().await;
    outcome
}

async fn session_action(
    auth: Authenticator,
    command: SessionCommand,
    now: i64,
) -> anyhow::Result<ExitCode> {
    match command {
        SessionCommand::List { user } => {
            let user = match user {
                Some(name) => Some(find_user(&auth, &name).await?),
                None => None,
            };
            println!(
                "{:<36} {:<24} {:<20} {:<20} {:<15} user agent",
                "session", "username", "last used", "expires", "client"
            );
            for session in auth.sessions.live(user, now).await? {
                // One lookup per distinct user (cached), not a scan of every user.
                let owner = auth.users.cached(session.user_id).await?;
                println!(
                    "{:<36} {:<24} {:<20} {:<20} {:<15} {}",
                    session.id,
                    owner.as_ref().map_or("?", |owner| owner.username.as_str()),
                    rfc3339(session.last_used_at),
                    rfc3339(session.expires_at()),
                    session.client_ip,
                    session.user_agent
                );
            }
        }
        SessionCommand::Revoke { id: Some(id), .. } => {
            let id: SessionId = id
                .parse()
                .with_context(|| format!("'{id}' is not a session id"))?;
            if auth.sessions.end(id, EndReason::EndedByAdmin, now).await? {
                println!("ended session {id}");
            } else {
                println!("no live session {id}");
                return Ok(ExitCode::FAILURE);
            }
        }
        SessionCommand::Revoke {
            user: Some(name), ..
        } => {
            let user = find_user(&auth, &name).await?;
            let ended = auth
                .sessions
                .end_all_of(user, None, EndReason::EndedByAdmin, now)
                .await?;
            println!("ended {ended} session(s) of '{name}'");
        }
        SessionCommand::Revoke { .. } => anyhow::bail!("give a session id or --user NAME"),
    }
    Ok(ExitCode::SUCCESS)
}

async fn find_user(auth: &Authenticator, username: &str) -> anyhow::Result<tessera_store::UserId> {
    let user = auth
        .users
        .get_by_username(&Username::parse(username)?)
        .await
        .with_context(|| format!("user '{username}'"))?;
    Ok(user.id)
}

async fn set_active(users: &Users, username: &str, active: bool, now: i64) -> anyhow::Result<()> {
    let user = users
        .get_by_username(&Username::parse(username)?)
        .await
        .with_context(|| format!("user '{username}'"))?;
    let changes = UserChanges {
        active: Some(active),
        ..UserChanges::default()
    };
    users.update(user.id, changes, now).await?;
    println!(
        "{} '{}'",
        if active { "activated" } else { "deactivated" },
        user.username
    );
    Ok(())
}

/// Reads the first line of standard input, or generates 20 random characters.
fn obtain_password(from_stdin: bool) -> anyhow::Result<(NewPassword, bool)> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("failed to read the password from standard input")?;
        let line = line.strip_suffix('\n').unwrap_or(&line);
        let line = line.strip_suffix('\r').unwrap_or(line);
        Ok((
            NewPassword::parse(SecretString::from(line.to_owned()))?,
            false,
        ))
    } else {
        let generated = random_alphanumeric(20).context("no randomness available")?;
        Ok((NewPassword::parse(SecretString::from(generated))?, true))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clap_definition_is_consistent() {
        use clap::CommandFactory as _;
        Cli::command().debug_assert();
    }
}
