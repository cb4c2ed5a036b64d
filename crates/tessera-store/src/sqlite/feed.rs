//! The change feed and the instances' heartbeats on SQLite.
//!
//! Triggers (migration 0004) append to `changes` in the writing transaction; the single
//! writer lock makes commit order the order of `seq` (AUTOINCREMENT, never reused). Reads of
//! the feed run in one read transaction on a reading connection, so the rows and
//! `pruned_through` come from one snapshot. Times of heartbeats are the database's own clock.

use sqlx::sqlite::SqlitePool;

use super::{database_error, write_transaction};
use crate::{Change, ChangeBatch, ChangeKind, Heartbeat, Instance, StoreError};

/// Unix milliseconds by SQLite's clock (one value per statement).
macro_rules! now_ms {
    () => {
        "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)"
    };
}

/// Unix seconds by SQLite's clock.
macro_rules! now_s {
    () => {
        "CAST(strftime('%s', 'now') AS INTEGER)"
    };
}

const LATEST: &str = "SELECT max(COALESCE((SELECT MAX(seq) FROM changes), 0), pruned_through) \
     FROM feed_state WHERE id = 1";

const SINCE: &str = "SELECT seq, kind, id FROM changes WHERE seq > $1 ORDER BY seq LIMIT $2";

const PRUNED_THROUGH: &str = "SELECT pruned_through FROM feed_state WHERE id = 1";

const HEARTBEAT: &str = concat!(
    "INSERT INTO instances (id, label, applied, lease_ms, started_at, heartbeat_ms) \
     VALUES ($1, $2, $3, $4, ",
    now_s!(),
    ", ",
    now_ms!(),
    ") ON CONFLICT (id) DO UPDATE SET \
     applied = max(applied, excluded.applied), heartbeat_ms = excluded.heartbeat_ms, lease_ms = excluded.lease_ms"
);

const INSTANCES: &str = concat!(
    "SELECT id, label, applied, lease_ms, started_at, max(0, ",
    now_ms!(),
    " - heartbeat_ms) FROM instances ORDER BY label, id"
);

const REMOVE_INSTANCE: &str = "DELETE FROM instances WHERE id = $1";

/// The oldest entries, for pruning to find the run written before its limit.
const OLDEST: &str = "SELECT seq, at FROM changes ORDER BY seq LIMIT $1";

const DELETE_THROUGH: &str = "DELETE FROM changes WHERE seq <= $1";

const RECORD_PRUNED: &str =
    "UPDATE feed_state SET pruned_through = max(pruned_through, $1) WHERE id = 1";

const PRUNE_INSTANCES: &str = concat!(
    "DELETE FROM instances WHERE heartbeat_ms < ",
    now_ms!(),
    " - $1"
);

pub(super) async fn latest(pool: &SqlitePool) -> Result<i64, StoreError> {
    let latest: Option<i64> = sqlx::query_scalar(LATEST)
        .fetch_optional(pool)
        .await
        .map_err(database_error)?;
    latest.ok_or_else(missing_state)
}

pub(super) async fn since(
    pool: &SqlitePool,
    after: i64,
    limit: u32,
) -> Result<ChangeBatch, StoreError> {
    // A deferred transaction: its snapshot starts at the first read and serves both.
    let mut transaction = pool.begin().await.map_err(database_error)?;
    let rows: Vec<(i64, String, String)> = sqlx::query_as(SINCE)
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&mut *transaction)
        .await
        .map_err(database_error)?;
    let pruned_through: Option<i64> = sqlx::query_scalar(PRUNED_THROUGH)
        .fetch_optional(&mut *transaction)
        .await
        .map_err(database_error)?;
    transaction.commit().await.map_err(database_error)?;
    let pruned_through = pruned_through.ok_or_else(missing_state)?;
    let changes = rows
        .into_iter()
        .map(|(seq, kind, id)| {
            Ok(Change {
                seq,
                kind: ChangeKind::parse(&kind, seq)?,
                id: uuid::Uuid::parse_str(&id).map_err(|error| {
                    StoreError::Corrupt(format!("changes.id of seq {seq} is not a uuid: {error}"))
                })?,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    Ok(ChangeBatch::new(after, changes, pruned_through))
}

pub(super) async fn heartbeat(pool: &SqlitePool, beat: Heartbeat<'_>) -> Result<(), StoreError> {
    let Heartbeat {
        id,
        label,
        applied,
        lease_ms,
    } = beat;
    sqlx::query(HEARTBEAT)
        .bind(id.hyphenated().to_string())
        .bind(label)
        .bind(applied)
        .bind(lease_ms)
        .execute(pool)
        .await
        .map_err(database_error)?;
    Ok(())
}

pub(super) async fn instances(pool: &SqlitePool) -> Result<Vec<Instance>, StoreError> {
    let rows: Vec<(String, String, i64, i64, i64, i64)> = sqlx::query_as(INSTANCES)
        .fetch_all(pool)
        .await
        .map_err(database_error)?;
    rows.into_iter()
        .map(|(id, label, applied, lease_ms, started_at, age_ms)| {
            Ok(Instance {
                id: uuid::Uuid::parse_str(&id).map_err(|error| {
                    StoreError::Corrupt(format!("instances.id is not a uuid: {error}"))
                })?,
                label,
                applied,
                lease_ms,
                started_at,
                age_ms,
            })
        })
        .collect()
}

pub(super) async fn remove_instance(pool: &SqlitePool, id: uuid::Uuid) -> Result<bool, StoreError> {
    let result = sqlx::query(REMOVE_INSTANCE)
        .bind(id.hyphenated().to_string())
        .execute(pool)
        .await
        .map_err(database_error)?;
    Ok(result.rows_affected() > 0)
}

pub(super) async fn prune(
    pool: &SqlitePool,
    before: i64,
    limit: u32,
    stale_instance_ms: i64,
) -> Result<u64, StoreError> {
    let mut transaction = write_transaction(pool).await?;
    let oldest: Vec<(i64, i64)> = sqlx::query_as(OLDEST)
        .bind(i64::from(limit))
        .fetch_all(&mut *transaction)
        .await
        .map_err(database_error)?;
    let through = oldest
        .iter()
        .take_while(|(_, at)| *at < before)
        .map(|(seq, _)| *seq)
        .last();
    let mut deleted = 0;
    if let Some(through) = through {
        deleted = sqlx::query(DELETE_THROUGH)
            .bind(through)
            .execute(&mut *transaction)
            .await
            .map_err(database_error)?
            .rows_affected();
        sqlx::query(RECORD_PRUNED)
            .bind(through)
            .execute(&mut *transaction)
            .await
            .map_err(database_error)?;
    }
    sqlx::query(PRUNE_INSTANCES)
        .bind(stale_instance_ms)
        .execute(&mut *transaction)
        .await
        .map_err(database_error)?;
    transaction.commit().await.map_err(database_error)?;
    Ok(deleted)
}

fn missing_state() -> StoreError {
    StoreError::Corrupt("feed_state: the row is missing".to_owned())
}
