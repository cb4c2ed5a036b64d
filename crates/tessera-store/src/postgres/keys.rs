//! The signing keys on PostgreSQL (table `signing_keys`, migration 0005).
//!
//! The unique rules (one kid, one current, one next) are the database's indexes: of racing
//! inserts, the loser waits for the winner's commit and then fails on the index, which is
//! [`StoreError::Conflict`]. An activation runs at READ COMMITTED and first locks the rows it
//! decides on (the target and the current key, in id order) with `SELECT … FOR UPDATE`; a
//! racing activation waits for those locks and then sees the winner's states, so its
//! compare-and-swap on the current kid fails. A row that became current in a transaction the
//! lock did not see still hits the one-current index: that too is a conflict. The feed's `key`
//! changes are written by the table's deferred trigger.

use sqlx::postgres::PgPool;

use super::{database_error, write_transaction};
use crate::keys::{check_activation, check_new, insert_conflict, revoked_before};
use crate::{KeyState, NewKey, StoreError, StoredKey};

/// The unique constraint on `signing_keys.kid` (PostgreSQL's default name for it).
const KID_CONSTRAINT: &str = "signing_keys_kid_key";
/// The partial unique indexes of migration 0005.
const ONE_CURRENT: &str = "signing_keys_one_current";
const ONE_NEXT: &str = "signing_keys_one_next";

/// Columns of `signing_keys`, in the order [`KeyRow`] reads them.
macro_rules! key_columns {
    () => {
        "id, kid, algorithm, state, public_jwk, sealed_private, created_at, activated_at, \
         retired_at, verify_until, revoked_at"
    };
}

const SELECT_ALL: &str = concat!(
    "SELECT ",
    key_columns!(),
    " FROM signing_keys ORDER BY created_at, kid"
);

/// `$6` is the state; a current key is activated when it is inserted.
const INSERT: &str = concat!(
    "INSERT INTO signing_keys \
     (id, kid, algorithm, public_jwk, sealed_private, state, created_at, activated_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, CASE WHEN $6 = 'current' THEN $7 END) \
     RETURNING ",
    key_columns!()
);

/// Locks the target and the current key, in id order, and answers their kids and states.
const LOCK_FOR_ACTIVATION: &str = "SELECT kid, state FROM signing_keys \
     WHERE kid = $1 OR state = 'current' ORDER BY id FOR UPDATE";

/// Runs first, so the one-current index never sees two.
const RETIRE_CURRENT: &str = "UPDATE signing_keys SET state = 'retired', retired_at = $1, \
     verify_until = $2 WHERE state = 'current'";

const ACTIVATE: &str =
    "UPDATE signing_keys SET state = 'current', activated_at = $1 WHERE kid = $2";

/// A key already revoked is left alone (no write, no feed entry).
const REVOKE: &str = "UPDATE signing_keys SET state = 'revoked', revoked_at = $2 \
     WHERE kid = $1 AND state <> 'revoked'";

const EXISTS: &str = "SELECT EXISTS (SELECT 1 FROM signing_keys WHERE kid = $1)";

const REMOVE_EXPIRED: &str = "DELETE FROM signing_keys \
     WHERE (state = 'retired' AND verify_until < $1) \
     OR (state = 'revoked' AND revoked_at < $2)";

/// A `signing_keys` row as PostgreSQL returns it, before validation.
#[derive(sqlx::FromRow)]
struct KeyRow {
    id: uuid::Uuid,
    kid: String,
    algorithm: String,
    state: String,
    public_jwk: String,
    sealed_private: Option<Vec<u8>>,
    created_at: i64,
    activated_at: Option<i64>,
    retired_at: Option<i64>,
    verify_until: Option<i64>,
    revoked_at: Option<i64>,
}

impl KeyRow {
    fn into_key(self) -> Result<StoredKey, StoreError> {
        Ok(StoredKey {
            id: self.id,
            state: KeyState::parse(&self.state, &self.kid)?,
            kid: self.kid,
            algorithm: self.algorithm,
            public_jwk: self.public_jwk,
            sealed_private: self.sealed_private,
            created_at: self.created_at,
            activated_at: self.activated_at,
            retired_at: self.retired_at,
            verify_until: self.verify_until,
            revoked_at: self.revoked_at,
        })
    }
}

pub(super) async fn all(pool: &PgPool) -> Result<Vec<StoredKey>, StoreError> {
    let rows = sqlx::query_as::<_, KeyRow>(SELECT_ALL)
        .fetch_all(pool)
        .await
        .map_err(read_error)?;
    rows.into_iter().map(KeyRow::into_key).collect()
}

pub(super) async fn insert(pool: &PgPool, key: NewKey, now: i64) -> Result<StoredKey, StoreError> {
    check_new(&key)?;
    // One statement, committed on its own: the deferred feed trigger runs at its commit.
    let row = sqlx::query_as::<_, KeyRow>(INSERT)
        .bind(uuid::Uuid::new_v4())
        .bind(&key.kid)
        .bind(&key.algorithm)
        .bind(&key.public_jwk)
        .bind(key.sealed_private.as_deref())
        .bind(key.state.as_str())
        .bind(now)
        .fetch_one(pool)
        .await
        .map_err(|error| match unique_clash(&error) {
            Some(Clash::Kid) => insert_conflict(&key, true),
            Some(Clash::State) => insert_conflict(&key, false),
            None => read_error(error),
        })?;
    row.into_key()
}

pub(super) async fn activate(
    pool: &PgPool,
    kid: &str,
    expected_current: Option<&str>,
    now: i64,
    verify_until: i64,
) -> Result<(), StoreError> {
    let mut transaction = write_transaction(pool).await?;
    let locked: Vec<(String, String)> = sqlx::query_as(LOCK_FOR_ACTIVATION)
        .bind(kid)
        .fetch_all(&mut *transaction)
        .await
        .map_err(database_error)?;
    let mut target = None;
    let mut current = None;
    for (row_kid, state) in &locked {
        let state = KeyState::parse(state, row_kid)?;
        if row_kid == kid {
            target = Some(state);
        }
        if state == KeyState::Current {
            current = Some(row_kid.as_str());
        }
    }
    check_activation(kid, target, current, expected_current)?;
    let raced = |error: sqlx::Error| match unique_clash(&error) {
        Some(_) => StoreError::Conflict(
            "another writer changed the signing keys at the same time".to_owned(),
        ),
        None => database_error(error),
    };
    sqlx::query(RETIRE_CURRENT)
        .bind(now)
        .bind(verify_until)
        .execute(&mut *transaction)
        .await
        .map_err(raced)?;
    sqlx::query(ACTIVATE)
        .bind(now)
        .bind(kid)
        .execute(&mut *transaction)
        .await
        .map_err(raced)?;
    transaction.commit().await.map_err(raced)
}

pub(super) async fn revoke(pool: &PgPool, kid: &str, now: i64) -> Result<bool, StoreError> {
    let revoked = sqlx::query(REVOKE)
        .bind(kid)
        .bind(now)
        .execute(pool)
        .await
        .map_err(database_error)?
        .rows_affected();
    if revoked > 0 {
        return Ok(true);
    }
    sqlx::query_scalar(EXISTS)
        .bind(kid)
        .fetch_one(pool)
        .await
        .map_err(database_error)
}

pub(super) async fn remove_expired(
    pool: &PgPool,
    now: i64,
    keep_revoked_secs: i64,
) -> Result<u64, StoreError> {
    let result = sqlx::query(REMOVE_EXPIRED)
        .bind(now)
        .bind(revoked_before(now, keep_revoked_secs))
        .execute(pool)
        .await
        .map_err(database_error)?;
    Ok(result.rows_affected())
}

/// Which unique rule of `signing_keys` a write broke.
enum Clash {
    Kid,
    State,
}

fn unique_clash(error: &sqlx::Error) -> Option<Clash> {
    let database = error.as_database_error()?;
    if !database.is_unique_violation() {
        return None;
    }
    match database.constraint()? {
        KID_CONSTRAINT => Some(Clash::Kid),
        ONE_CURRENT | ONE_NEXT => Some(Clash::State),
        _ => None,
    }
}

/// Maps a failed query that decodes rows: a column of the wrong type is corruption.
fn read_error(error: sqlx::Error) -> StoreError {
    match error {
        sqlx::Error::ColumnDecode { index, source } => StoreError::Corrupt(format!(
            "column signing_keys.{index} cannot be decoded: {source}"
        )),
        other => database_error(other),
    }
}
