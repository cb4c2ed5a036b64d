//! Which database a command works on, named on standard error before it is opened, and
//! `tessera migrate`, the one command besides `serve` that creates a database, and
//! `tessera db check`.
//!
//! Invariant: the database URL itself is never printed (it may hold a password): a SQLite
//! database is shown as its absolute file path, anything else as the URL with its password
//! hidden, as `config check` shows it.

use std::process::ExitCode;

use anyhow::Context as _;
use tessera_config::{Resolved, Settings};
use tessera_store::{DatabaseUrl, StoreError};

use crate::app;

/// The setting that names the database.
const SETTING: &str = "TESSERA_DATABASE_URL";

/// The database the settings name, as an operator should read it.
pub(super) struct Database {
    /// The URL to open; may hold a password, so it is never shown.
    url: String,
    /// The absolute file of a SQLite URL; otherwise the URL with its password hidden.
    shown: String,
    /// The setting and where its value came from: `TESSERA_DATABASE_URL, default`.
    origin: String,
}

impl Database {
    /// Describes the database the resolved settings name.
    pub(super) fn describe(resolved: &Resolved) -> Self {
        let url = resolved.settings.database_url.clone();
        let entry = resolved.report.iter().find(|entry| entry.name == SETTING);
        let shown = match DatabaseUrl::parse(&url) {
            Ok(DatabaseUrl::Sqlite(path)) => std::path::absolute(&path)
                .unwrap_or(path)
                .display()
                .to_string(),
            _ => entry.map_or_else(|| "<not shown>".to_owned(), |e| e.display_value.clone()),
        };
        let origin = match entry {
            Some(entry) => format!("{SETTING}, {}", entry.source),
            None => SETTING.to_owned(),
        };
        Self { url, shown, origin }
    }

    /// `/abs/tessera.db (TESSERA_DATABASE_URL, default)`.
    pub(super) fn named(&self) -> String {
        format!("{} ({})", self.shown, self.origin)
    }

    /// Says on standard error which database the command is about to open.
    pub(super) fn announce(&self) {
        eprintln!("database: {}", self.named());
    }

    /// Replaces a "there is no database" failure by a message that names the path, the
    /// setting and its source, and how to create one; other failures pass unchanged.
    pub(super) fn explain(&self, error: anyhow::Error) -> anyhow::Error {
        match error.downcast_ref::<StoreError>() {
            Some(StoreError::Missing { found, .. }) => anyhow::anyhow!(
                "there is no tessera database at {}: {found}; nothing was created. Create it \
                 with `tessera migrate` (or start `tessera serve`), or set {SETTING} to the \
                 database you meant",
                self.named()
            ),
            _ => error,
        }
    }

    /// Runs `tessera migrate`: creates the database if it is missing, applies pending
    /// migrations and says what it did.
    pub(super) async fn migrate(&self) -> anyhow::Result<ExitCode> {
        let opened = tessera_store::migrate(&self.url)
            .await
            .map_err(|error| anyhow::Error::new(error).context("failed to migrate the database"))?;
        if opened.created {
            println!("created the database {}", self.shown);
        }
        if opened.applied.is_empty() {
            println!(
                "the database is up to date (schema version {}); nothing to migrate",
                opened.schema_version
            );
        } else {
            let applied: Vec<String> = opened
                .applied
                .iter()
                .map(|(version, description)| format!("{version} ({description})"))
                .collect();
            println!(
                "applied {} migration(s): {}; the schema is at version {}",
                applied.len(),
                applied.join(", "),
                opened.schema_version
            );
        }
        Ok(ExitCode::SUCCESS)
    }
}

/// Runs `tessera db check`: connects (applying pending migrations, as a server start would),
/// then prints the schema version, the change feed's end and the registered instances.
/// Fails (exit code 1) only when the database cannot be opened; an instance past its lease
/// is reported, not an error (a crashed one stays listed until it is an hour old).
pub(super) async fn check(settings: &Settings) -> anyhow::Result<ExitCode> {
    let (store, opened) = tessera_store::inspect_existing(&settings.database_url)
        .await
        .context("failed to open the database")?;
    let outcome = report(store.as_ref(), &opened, app::instance_lease(settings)).await;
    if let Err(error) = store.close().await {
        tracing::warn!(error = %crate::auth::describe(&error), "could not close the database cleanly");
    }
    outcome?;
    Ok(ExitCode::SUCCESS)
}

async fn report(
    store: &dyn tessera_store::Store,
    opened: &tessera_store::Opened,
    lease: std::time::Duration,
) -> anyhow::Result<()> {
    if opened.applied.is_empty() {
        println!(
            "connected; schema version {} (up to date)",
            opened.schema_version
        );
    } else {
        println!(
            "connected; applied {} pending migration(s); schema version {}",
            opened.applied.len(),
            opened.schema_version
        );
    }
    let end = store
        .latest_change()
        .await
        .context("failed to read the change feed")?;
    println!("change feed: at {end}");
    let instances = store
        .instances()
        .await
        .context("failed to read the instance registry")?;
    let lease_ms = i64::try_from(lease.as_millis()).unwrap_or(i64::MAX);
    let live = instances.iter().filter(|i| i.age_ms <= lease_ms).count();
    println!(
        "instances: {} registered, {live} within their lease ({} s)",
        instances.len(),
        lease.as_secs()
    );
    for instance in &instances {
        let behind = end.saturating_sub(instance.applied);
        let applied = if behind == 0 {
            format!("applied {} (up to date)", instance.applied)
        } else {
            format!("applied {} ({behind} behind)", instance.applied)
        };
        let state = if instance.age_ms <= lease_ms {
            "serving"
        } else {
            "past its lease: not serving (stopped or cut off)"
        };
        #[allow(clippy::cast_precision_loss)]
        let age = instance.age_ms as f64 / 1000.0;
        println!(
            "  {}  {applied}  heartbeat {age:.1} s ago  started {}  {state}",
            instance.label,
            crate::clock::rfc3339(instance.started_at)
        );
    }
    Ok(())
}
