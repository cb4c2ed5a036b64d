//! The signing keys on SQLite (table `signing_keys`, migration 0005).
//!
//! The unique rules (one kid, one current, one next) are the database's indexes; an insert
//! that breaks one is [`StoreError::Conflict`]. An activation reads and writes inside one
//! `BEGIN IMMEDIATE` transaction, which holds SQLite's single write lock from the start, so
//! its compare-and-swap on the current kid cannot interleave with any other writer. The
//! feed's `key` changes are written by the table's triggers.

use sqlx::sqlite::SqlitePool;

use super::{database_error, write_transaction};
use crate::keys::{check_activation, check_new, insert_conflict, revoked_before};
use crate::{KeyState, NewKey, StoreError, StoredKey};

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

const STATE_OF: &str = "SELECT state FROM signing_keys WHERE kid = $1";

const CURRENT_KID: &str = "SELECT kid FROM signing_keys WHERE state = 'current'";

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

/// A `signing_keys` row as SQLite returns it, before validation.
#[derive(sqlx::FromRow)]
struct KeyRow {
    id: String,
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
        let id = uuid::Uuid::parse_str(&self.id).map_err(|error| {
            StoreError::Corrupt(format!(
                "signing_keys.id of key {} is not a uuid: {error}",
                self.kid
            ))
        })?;
        Ok(StoredKey {
            id,
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

pub(super) async fn all(pool: &SqlitePool) -> Result<Vec<StoredKey>, StoreError> {
    let rows = sqlx::query_as::<_, KeyRow>(SELECT_ALL)
        .fetch_all(pool)
        .await
        .map_err(read_error)?;
    rows.into_iter().map(KeyRow::into_key).collect()
}

pub(super) async fn insert(
    pool: &SqlitePool,
    key: NewKey,
    now: i64,
) -> Result<StoredKey, StoreError> {
    check_new(&key)?;
    let row = sqlx::query_as::<_, KeyRow>(INSERT)
        .bind(uuid::Uuid::new_v4().hyphenated().to_string())
        .bind(&key.kid)
        .bind(&key.algorithm)
        .bind(&key.public_jwk)
        .bind(key.sealed_private.as_deref())
        .bind(key.state.as_str())
        .bind(now)
        .fetch_one(pool)
        .await
        .map_err(|error| {
            let clash = error
                .as_database_error()
                .filter(|database| database.is_unique_violation())
                .map(|database| database.message().contains("signing_keys.kid"));
            match clash {
                Some(on_kid) => insert_conflict(&key, on_kid),
                None => read_error(error),
            }
        })?;
    row.into_key()
}

pub(super) async fn activate(
    pool: &SqlitePool,
    kid: &str,
    expected_current: Option<&str>,
    now: i64,
    verify_until: i64,
) -> Result<(), StoreError> {
    let mut transaction = write_transaction(pool).await?;
    let state: Option<String> = sqlx::query_scalar(STATE_OF)
        .bind(kid)
        .fetch_optional(&mut *transaction)
        .await
        .map_err(database_error)?;
    let target = state
        .map(|state| KeyState::parse(&state, kid))
        .transpose()?;
    let current: Option<String> = sqlx::query_scalar(CURRENT_KID)
        .fetch_optional(&mut *transaction)
        .await
        .map_err(database_error)?;
    check_activation(kid, target, current.as_deref(), expected_current)?;
    sqlx::query(RETIRE_CURRENT)
        .bind(now)
        .bind(verify_until)
        .execute(&mut *transaction)
        .await
        .map_err(database_error)?;
    sqlx::query(ACTIVATE)
        .bind(now)
        .bind(kid)
        .execute(&mut *transaction)
        .await
        .map_err(database_error)?;
    transaction.commit().await.map_err(database_error)
}

pub(super) async fn revoke(pool: &SqlitePool, kid: &str, now: i64) -> Result<bool, StoreError> {
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
    pool: &SqlitePool,
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

/// Maps a failed query that decodes rows: a column of the wrong type is corruption.
fn read_error(error: sqlx::Error) -> StoreError {
    match error {
        sqlx::Error::ColumnDecode { index, source } => StoreError::Corrupt(format!(
            "column signing_keys.{index} cannot be decoded: {source}"
        )),
        other => database_error(other),
    }
}
