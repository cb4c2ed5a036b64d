//! Keeping a SQLite store's files in order: the readiness probe, the consistent backup of a
//! live database and the clean close that leaves every write in the main file.
//!
//! A backup never overwrites an existing file and is created readable by its owner only; the
//! close never discards a write (a checkpoint that other readers hold up is only reported).

use std::io::ErrorKind;
use std::path::Path;

use sqlx::sqlite::SqlitePool;

use super::database_error;
use super::open::Pools;
use crate::StoreError;

/// Takes the write lock on the probe connection, whose busy timeout is short, and lets it go:
/// `Err(StoreError::Busy)` when a write could not start now.
///
/// It first waits for its turn at this process's writer and holds it meanwhile, so this
/// process's own writes (one after another, the lock taken again microseconds after each
/// commit) can never fail the probe: only a lock held by another process can.
pub(super) async fn probe(pools: &Pools) -> Result<(), StoreError> {
    let _turn = pools.writer.acquire().await.map_err(database_error)?;
    let transaction = pools
        .probe
        .begin_with("BEGIN IMMEDIATE")
        .await
        .map_err(database_error)?;
    transaction.rollback().await.map_err(database_error)
}

/// Writes a consistent copy of the database to `destination` (`VACUUM INTO` reads one
/// snapshot, so writers carry on meanwhile), created with mode `0600` and synced to disk.
pub(super) async fn backup(pool: &SqlitePool, destination: &Path) -> Result<(), StoreError> {
    let io_error = |source| StoreError::Backup {
        path: destination.to_path_buf(),
        source,
    };
    // Absolute, so SQLite never reads the name as a `file:` URI.
    let absolute = std::path::absolute(destination).map_err(io_error)?;
    let Some(name) = absolute.to_str() else {
        return Err(io_error(std::io::Error::new(
            ErrorKind::InvalidInput,
            "the path is not valid UTF-8",
        )));
    };
    let mut new_file = std::fs::OpenOptions::new();
    new_file.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut new_file, 0o600);
    match new_file.open(&absolute) {
        Ok(_) => {}
        Err(error) if error.kind() == ErrorKind::AlreadyExists => {
            return Err(StoreError::BackupExists(destination.to_path_buf()));
        }
        Err(error) => return Err(io_error(error)),
    }
    let copied = async {
        sqlx::query("VACUUM INTO $1")
            .bind(name)
            .execute(pool)
            .await
            .map_err(database_error)?;
        sync(&absolute).map_err(io_error)
    }
    .await;
    if copied.is_err() {
        // The file is ours and incomplete: leave nothing that looks like a backup.
        let _ = std::fs::remove_file(&absolute);
    }
    copied
}

/// Syncs a new file and its directory entry to disk.
fn sync(path: &Path) -> std::io::Result<()> {
    std::fs::File::open(path)?.sync_all()?;
    if let Some(parent) = path.parent() {
        std::fs::File::open(parent)?.sync_all()?;
    }
    Ok(())
}

/// Closes the reading connections, moves everything in the WAL into the main file
/// (`wal_checkpoint(TRUNCATE)`), and closes the writer.
pub(super) async fn close(pools: &Pools) -> Result<(), StoreError> {
    pools.reader.close().await;
    pools.probe.close().await;
    let checkpoint: Result<(i64, i64, i64), StoreError> =
        sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)")
            .fetch_one(&pools.writer)
            .await
            .map_err(database_error);
    pools.writer.close().await;
    let (blocked, wal_pages, copied_pages) = checkpoint?;
    if blocked != 0 {
        // Another process is reading an older snapshot; the WAL stays valid and is
        // checkpointed by the next writer, so nothing is lost.
        tracing::warn!(
            wal_pages,
            copied_pages,
            "another connection kept the database's write-ahead log from being fully \
             checkpointed on close"
        );
    }
    Ok(())
}
