//! `tessera keys list|generate|rotate|revoke`: the signing keys kept in the database.
//!
//! Every change is a store write that the change feed carries to every running instance; the
//! command returns once each of them has reloaded its keys (the same wait as a deactivation),
//! so after `keys rotate` every instance signs with the new key, and after `keys revoke` every
//! instance refuses the revoked key's tokens.

use std::process::ExitCode;
use std::sync::Arc;

use clap::Subcommand;
use tessera_config::Settings;
use tessera_store::KeyState;

use crate::app;
use crate::clock::{Clock as _, SystemClock, rfc3339};
use crate::keys::{KeysError, Rotation};

#[derive(Debug, Subcommand)]
pub(super) enum KeysCommand {
    /// List the signing keys: which signs (current), which is published to sign next, which
    /// still verify (retired, until when) and which are revoked.
    List,
    /// Generate the next key (published at once, signing only after a rotation) unless one
    /// exists; prints its kid.
    Generate,
    /// The next key starts signing, the current one retires (its tokens stay valid until they
    /// expire) and a new next key is generated. Refused while the next key has been published
    /// for less than TESSERA_JWKS_MAX_AGE_SECONDS, unless --force.
    Rotate {
        /// Rotate even if verifiers may not have fetched the next key yet.
        #[arg(long)]
        force: bool,
    },
    /// Revoke a key: its tokens are refused at once by every instance. Revoking the current key
    /// makes the next one sign at once.
    Revoke {
        /// The key's kid, as listed.
        kid: String,
    },
}

fn state_word(state: KeyState) -> &'static str {
    match state {
        KeyState::Next => "next",
        KeyState::Current => "current",
        KeyState::Retired => "retired",
        KeyState::Revoked => "revoked",
    }
}

fn print_rotation(rotation: &Rotation) {
    match &rotation.retired {
        Some(retired) => println!(
            "rotated: {} signs now; {retired} retired (its tokens stay valid until they expire); \
             {} is the next key",
            rotation.current, rotation.next
        ),
        None => println!(
            "rotated: {} signs now; {} is the next key",
            rotation.current, rotation.next
        ),
    }
}

pub(super) async fn run(settings: &Settings, command: KeysCommand) -> anyhow::Result<ExitCode> {
    let clock = Arc::new(SystemClock);
    let now = clock.now();
    let auth = app::authenticator(settings, clock).await?;
    let outcome = action(&auth, command, now).await;
    auth.close().await;
    outcome
}

async fn action(
    auth: &crate::auth::Authenticator,
    command: KeysCommand,
    now: i64,
) -> anyhow::Result<ExitCode> {
    let keys = &auth.keys;
    let result = match command {
        KeysCommand::List => {
            println!(
                "{:<44} {:<6} {:<8} {:<20} {:<20} until",
                "kid", "alg", "state", "created", "signing since"
            );
            for row in keys.stored().await? {
                let until = match row.state {
                    KeyState::Retired => row.verify_until.map(rfc3339).unwrap_or_default(),
                    KeyState::Revoked => row
                        .revoked_at
                        .map(|at| format!("revoked {}", rfc3339(at)))
                        .unwrap_or_default(),
                    _ => String::new(),
                };
                println!(
                    "{:<44} {:<6} {:<8} {:<20} {:<20} {until}",
                    row.kid,
                    row.algorithm,
                    state_word(row.state),
                    rfc3339(row.created_at),
                    row.activated_at.map(rfc3339).unwrap_or_default(),
                );
            }
            return Ok(ExitCode::SUCCESS);
        }
        KeysCommand::Generate => keys.generate(now).await.map(|kid| {
            println!("next key: {kid}");
        }),
        KeysCommand::Rotate { force } => keys
            .rotate(now, force)
            .await
            .map(|rotation| print_rotation(&rotation)),
        KeysCommand::Revoke { kid } => keys.revoke(&kid, now).await.map(|rotation| {
            println!("revoked {kid}: its tokens are refused from now on");
            if let Some(rotation) = rotation {
                print_rotation(&rotation);
            }
        }),
    };
    match result {
        Ok(()) => {
            // Returns once every running instance has reloaded its keys.
            auth.cluster.await_everyone().await;
            Ok(ExitCode::SUCCESS)
        }
        Err(error @ (KeysError::Store(_) | KeysError::Key(_))) => Err(error.into()),
        Err(error) => {
            eprintln!("error: {error}");
            Ok(ExitCode::FAILURE)
        }
    }
}
