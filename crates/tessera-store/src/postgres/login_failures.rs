//! The failed-login counters on PostgreSQL: one row per failure and key in `login_failures`.
//!
//! A login reads both of its keys in one statement; recording a failure inserts, prunes and
//! commits in one transaction, so each failed login costs one commit. Recording first takes a
//! transaction-scoped advisory lock on each of its two keys (the account's, then the
//! client's, always in that order), so racing failures of one key prune one after the other
//! and never leave more than the limit behind. PostgreSQL text cannot hold a NUL character,
//! which a typed username may: keys store it as U+FFFD instead (see [`storable`]).

use sqlx::postgres::PgPool;

use std::borrow::Cow;

use super::{database_error, write_transaction};
use crate::{FailureCount, FailureKey, LoginFailure, LoginFailures, StoreError};

/// Both keys' failures after `$3`, one row each, told apart by the first column.
const COUNT_BOTH: &str = "\
     SELECT 'account'::text, COUNT(*), MIN(at) FROM login_failures \
     WHERE kind = 'account' AND key = $1 AND at > $3 \
     UNION ALL \
     SELECT 'client'::text, COUNT(*), MIN(at) FROM login_failures \
     WHERE kind = 'client' AND key = $2 AND at > $3";

/// One key's lock until the transaction ends: the kind (1 account, 2 client) and a hash of
/// the key, in a lock space of their own.
const LOCK_KEY: &str = "SELECT pg_advisory_xact_lock(CASE WHEN $1 = 'account' THEN 1 ELSE 2 END, \
     hashtext($2))";

const INSERT: &str = "INSERT INTO login_failures (kind, key, at) VALUES ($1, $2, $3)";

/// Every key's failures that left the window. Rows another transaction has locked (it is
/// deleting them too) are skipped rather than waited for: racing recorders of different keys
/// never queue, or deadlock, on each other's pruning.
const FORGET_EXPIRED: &str = "DELETE FROM login_failures WHERE id IN ( \
     SELECT id FROM login_failures WHERE at <= $1 FOR UPDATE SKIP LOCKED)";

/// One key's failures beyond its `$3` most recent.
const KEEP_RECENT: &str = "DELETE FROM login_failures \
     WHERE kind = $1 AND key = $2 AND id NOT IN ( \
     SELECT id FROM login_failures WHERE kind = $1 AND key = $2 \
     ORDER BY at DESC, id DESC LIMIT $3)";

/// Deletes one key's failures and returns the time of each.
const CLEAR: &str = "DELETE FROM login_failures WHERE kind = $1 AND key = $2 RETURNING at";

pub(super) async fn count(
    pool: &PgPool,
    account: &str,
    client: &str,
    since: i64,
) -> Result<LoginFailures, StoreError> {
    let rows: Vec<(String, i64, Option<i64>)> = sqlx::query_as(COUNT_BOTH)
        .bind(storable(account))
        .bind(storable(client))
        .bind(since)
        .fetch_all(pool)
        .await
        .map_err(database_error)?;
    let mut failures = LoginFailures::default();
    for (kind, count, oldest) in rows {
        let counted = FailureCount {
            failures: u64::try_from(count)
                .map_err(|_| StoreError::Corrupt("login_failures: a negative count".to_owned()))?,
            oldest,
        };
        match kind.as_str() {
            "account" => failures.account = counted,
            _ => failures.client = counted,
        }
    }
    Ok(failures)
}

pub(super) async fn record(pool: &PgPool, failure: LoginFailure<'_>) -> Result<(), StoreError> {
    let mut transaction = write_transaction(pool).await?;
    let keys = [
        (
            FailureKey::Account(failure.account),
            failure.keep_per_account,
        ),
        (FailureKey::Client(failure.client), failure.keep_per_client),
    ];
    for (key, _) in keys {
        sqlx::query(LOCK_KEY)
            .bind(key.kind())
            .bind(storable(key.key()))
            .execute(&mut *transaction)
            .await
            .map_err(database_error)?;
    }
    for (key, _) in keys {
        sqlx::query(INSERT)
            .bind(key.kind())
            .bind(storable(key.key()))
            .bind(failure.at)
            .execute(&mut *transaction)
            .await
            .map_err(database_error)?;
    }
    sqlx::query(FORGET_EXPIRED)
        .bind(failure.forget_until)
        .execute(&mut *transaction)
        .await
        .map_err(database_error)?;
    for (key, keep) in keys {
        sqlx::query(KEEP_RECENT)
            .bind(key.kind())
            .bind(storable(key.key()))
            .bind(i64::from(keep.max(1)))
            .execute(&mut *transaction)
            .await
            .map_err(database_error)?;
    }
    transaction.commit().await.map_err(database_error)
}

pub(super) async fn clear(
    pool: &PgPool,
    key: FailureKey<'_>,
    since: i64,
) -> Result<u64, StoreError> {
    let times: Vec<i64> = sqlx::query_scalar(CLEAR)
        .bind(key.kind())
        .bind(storable(key.key()))
        .fetch_all(pool)
        .await
        .map_err(database_error)?;
    Ok(times.iter().filter(|&&at| at > since).count() as u64)
}

/// A key as PostgreSQL text can hold it: every NUL character (which PostgreSQL refuses in
/// text) becomes U+FFFD, the same way in every statement, so such a key is still counted,
/// cleared and pruned like any other.
pub(super) fn storable(key: &str) -> Cow<'_, str> {
    if key.contains('\0') {
        Cow::Owned(key.replace('\0', "\u{FFFD}"))
    } else {
        Cow::Borrowed(key)
    }
}
