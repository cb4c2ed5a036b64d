//! `tessera client add|list|remove`: the API clients that may call introspection, revocation
//! and the revocation feed.

use std::process::ExitCode;
use std::sync::Arc;

use clap::Subcommand;
use tessera_config::Settings;

use crate::app;
use crate::clients::AddError;
use crate::clock::{Clock as _, SystemClock, rfc3339};

#[derive(Debug, Subcommand)]
pub(super) enum ClientCommand {
    /// Add an API client; prints its id and secret once (only the secret's hash is kept).
    Add {
        /// A name for operators (letters, digits, '-', '_', '.').
        name: String,
    },
    /// List the API clients (never their secrets).
    List,
    /// Remove an API client by id or name: its credentials are refused from the next request.
    Remove {
        /// The client's id or name.
        client: String,
    },
}

pub(super) async fn run(settings: &Settings, command: ClientCommand) -> anyhow::Result<ExitCode> {
    let clock = Arc::new(SystemClock);
    let now = clock.now();
    let auth = app::authenticator(settings, clock).await?;
    let clients = auth.clients.clone();
    let outcome = async {
        match command {
            ClientCommand::Add { name } => match clients.add(&name, now).await {
                Ok(credentials) => {
                    println!("client_id: {}", credentials.id);
                    println!("client_secret: {}", credentials.secret);
                    eprintln!(
                        "added API client '{name}'; the secret is shown only now: keep it in the \
                         resource server's secret store"
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Err(AddError::Store(error)) => Err(error.into()),
                Err(error) => {
                    eprintln!("error: {error}");
                    Ok(ExitCode::FAILURE)
                }
            },
            ClientCommand::List => {
                println!(
                    "{:<24} {:<20} {:<20} name",
                    "client_id", "created", "disabled"
                );
                for client in clients.list().await? {
                    println!(
                        "{:<24} {:<20} {:<20} {}",
                        client.id,
                        rfc3339(client.created_at),
                        client.disabled_at.map(rfc3339).unwrap_or_default(),
                        client.name
                    );
                }
                Ok(ExitCode::SUCCESS)
            }
            ClientCommand::Remove { client } => {
                if clients.remove(&client).await? {
                    println!("removed API client '{client}'");
                    Ok(ExitCode::SUCCESS)
                } else {
                    eprintln!("error: no API client has the id or name '{client}'");
                    Ok(ExitCode::FAILURE)
                }
            }
        }
    }
    .await;
    auth.close().await;
    outcome
}
