//! The change feed, its notifications and the instances' heartbeats on PostgreSQL.
//!
//! Triggers (migration 0004) append to `changes` at COMMIT (deferred constraint triggers)
//! under one advisory lock held until the commit has finished, so `seq` is handed out in
//! commit order: a reader never finds a change below a `seq` it has already read. Reads of the
//! feed run in one REPEATABLE READ transaction, so the rows and `pruned_through` come from one
//! snapshot. Every time here is the database's clock (`clock_timestamp()`), never the
//! caller's, except the pruning limit the caller passes.

use std::fmt;

use sqlx::postgres::{PgListener, PgPool};

use super::login_failures::storable;
use super::{database_error, write_transaction};
use crate::{Change, ChangeBatch, ChangeKind, ChangeListener, Heartbeat, Instance, StoreError};

/// The channel the feed's triggers notify on every commit that appended to it.
const CHANNEL: &str = "tessera_changes";

/// Unix milliseconds by the database's clock.
macro_rules! now_ms {
    () => {
        "floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint"
    };
}

const LATEST: &str = "SELECT GREATEST(COALESCE((SELECT MAX(seq) FROM changes), 0), \
     pruned_through) FROM feed_state WHERE id = 1";

const SINCE: &str = "SELECT seq, kind, id FROM changes WHERE seq > $1 ORDER BY seq LIMIT $2";

const PRUNED_THROUGH: &str = "SELECT pruned_through FROM feed_state WHERE id = 1";

const HEARTBEAT: &str = concat!(
    "INSERT INTO instances (id, label, applied, lease_ms, started_at, heartbeat_ms) \
     VALUES ($1, $2, $3, $4, floor(extract(epoch FROM clock_timestamp()))::bigint, ",
    now_ms!(),
    ") ON CONFLICT (id) DO UPDATE SET \
     applied = GREATEST(instances.applied, excluded.applied), \
     heartbeat_ms = excluded.heartbeat_ms, lease_ms = excluded.lease_ms"
);

const INSTANCES: &str = concat!(
    "SELECT id, label, applied, lease_ms, started_at, GREATEST(0, ",
    now_ms!(),
    " - heartbeat_ms) FROM instances ORDER BY label, id"
);

const REMOVE_INSTANCE: &str = "DELETE FROM instances WHERE id = $1";

/// The oldest entries, for pruning to find the run written before its limit.
const OLDEST: &str = "SELECT seq, at FROM changes ORDER BY seq LIMIT $1";

const DELETE_THROUGH: &str = "DELETE FROM changes WHERE seq <= $1";

const RECORD_PRUNED: &str =
    "UPDATE feed_state SET pruned_through = GREATEST(pruned_through, $1) WHERE id = 1";

const PRUNE_INSTANCES: &str = concat!(
    "DELETE FROM instances WHERE heartbeat_ms < ",
    now_ms!(),
    " - $1"
);

pub(super) async fn latest(pool: &PgPool) -> Result<i64, StoreError> {
    let latest: Option<i64> = sqlx::query_scalar(LATEST)
        .fetch_optional(pool)
        .await
        .map_err(database_error)?;
    latest.ok_or_else(missing_state)
}

pub(super) async fn since(
    pool: &PgPool,
    after: i64,
    limit: u32,
) -> Result<ChangeBatch, StoreError> {
    let mut transaction = pool
        .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .await
        .map_err(database_error)?;
    let rows: Vec<(i64, String, uuid::Uuid)> = sqlx::query_as(SINCE)
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
                id,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    Ok(ChangeBatch::new(after, changes, pruned_through))
}

pub(super) async fn heartbeat(pool: &PgPool, beat: Heartbeat<'_>) -> Result<(), StoreError> {
    let Heartbeat {
        id,
        label,
        applied,
        lease_ms,
    } = beat;
    sqlx::query(HEARTBEAT)
        .bind(id)
        .bind(storable(label))
        .bind(applied)
        .bind(lease_ms)
        .execute(pool)
        .await
        .map_err(database_error)?;
    Ok(())
}

pub(super) async fn instances(pool: &PgPool) -> Result<Vec<Instance>, StoreError> {
    let rows: Vec<(uuid::Uuid, String, i64, i64, i64, i64)> = sqlx::query_as(INSTANCES)
        .fetch_all(pool)
        .await
        .map_err(database_error)?;
    Ok(rows
        .into_iter()
        .map(
            |(id, label, applied, lease_ms, started_at, age_ms)| Instance {
                id,
                label,
                applied,
                lease_ms,
                started_at,
                age_ms,
            },
        )
        .collect())
}

pub(super) async fn remove_instance(pool: &PgPool, id: uuid::Uuid) -> Result<bool, StoreError> {
    let result = sqlx::query(REMOVE_INSTANCE)
        .bind(id)
        .execute(pool)
        .await
        .map_err(database_error)?;
    Ok(result.rows_affected() > 0)
}

/// Deletes only a run from the start of the feed. Since `seq` follows commit order, every
/// entry at or below the last one read here has committed (or never will), so racing
/// pruners and writers cannot leave a gap below `pruned_through`.
pub(super) async fn prune(
    pool: &PgPool,
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

/// Listens on [`CHANNEL`] with a connection taken from `pool` (held until it is dropped).
pub(super) async fn listener(pool: &PgPool) -> Result<Box<dyn ChangeListener>, StoreError> {
    let mut listener = PgListener::connect_with(pool)
        .await
        .map_err(database_error)?;
    // A lost connection is reported, not silently replaced: notifications may be missed.
    listener.eager_reconnect(false);
    listener.listen(CHANNEL).await.map_err(database_error)?;
    Ok(Box::new(PgChangeListener { listener }))
}

/// A [`ChangeListener`] on one connection of the store's pool.
struct PgChangeListener {
    listener: PgListener,
}

#[async_trait::async_trait]
impl ChangeListener for PgChangeListener {
    async fn wait(&mut self) -> Result<(), StoreError> {
        match self.listener.try_recv().await {
            Ok(Some(_)) => {
                // Notifications that arrived together wake the caller once.
                while self.listener.next_buffered().is_some() {}
                Ok(())
            }
            Ok(None) => Err(StoreError::ListenerLost(None)),
            Err(error) => Err(StoreError::ListenerLost(Some(error))),
        }
    }
}

impl fmt::Debug for PgChangeListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgChangeListener")
            .field("channel", &CHANNEL)
            .finish_non_exhaustive()
    }
}

fn missing_state() -> StoreError {
    StoreError::Corrupt("feed_state: the row is missing".to_owned())
}
