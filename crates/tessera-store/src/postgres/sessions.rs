//! Sessions and refresh tokens on PostgreSQL.
//!
//! A refresh locks its session's row (`SELECT … FOR UPDATE`) before it reads the presented
//! token for its decision, so two refreshes of one session (from this instance or another
//! one) are decided one after the other, never interleaved: the second one sees the first
//! one's committed rotation. Sessions are always locked before their refresh tokens, the
//! order a cascading delete of a user takes too.

use sqlx::PgConnection;
use sqlx::postgres::PgPool;

use super::{database_error, read_error, write_transaction};
use crate::{
    EndReason, NewSession, Revocation, RotateOutcome, Rotation, Session, SessionId, StoreError,
    UserId,
};

/// Columns of `sessions`, in the order [`SessionRow`] reads them.
macro_rules! session_columns {
    () => {
        "id, user_id, created_at, last_used_at, idle_expires_at, absolute_expires_at, \
         client_ip, user_agent, revoked_at, revoke_reason"
    };
}

const SELECT_SESSION: &str = concat!(
    "SELECT ",
    session_columns!(),
    " FROM sessions WHERE id = $1"
);

const LOCK_SESSION: &str = concat!(
    "SELECT ",
    session_columns!(),
    " FROM sessions WHERE id = $1 FOR UPDATE"
);

const INSERT_SESSION: &str = concat!(
    "INSERT INTO sessions \
     (id, user_id, created_at, last_used_at, idle_expires_at, absolute_expires_at, client_ip, user_agent) \
     VALUES ($1, $2, $3, $3, $4, $5, $6, $7) \
     RETURNING ",
    session_columns!()
);

const INSERT_REFRESH_TOKEN: &str =
    "INSERT INTO refresh_tokens (token_hash, session_id, created_at) VALUES ($1, $2, $3)";

/// `$2 IS NULL` selects every user's sessions.
const SELECT_LIVE: &str = concat!(
    "SELECT ",
    session_columns!(),
    " FROM sessions \
     WHERE revoked_at IS NULL AND idle_expires_at > $1 AND absolute_expires_at > $1 \
     AND ($2::uuid IS NULL OR user_id = $2) \
     ORDER BY created_at DESC, id"
);

const END_SESSION: &str = "UPDATE sessions SET revoked_at = $2, revoke_reason = $3 \
     WHERE id = $1 AND revoked_at IS NULL";

/// Only live sessions are counted as ended; `$3 IS NULL` keeps none.
const END_USER_SESSIONS: &str = "UPDATE sessions SET revoked_at = $2, revoke_reason = $4 \
     WHERE user_id = $1 AND revoked_at IS NULL \
     AND idle_expires_at > $2 AND absolute_expires_at > $2 \
     AND ($3::uuid IS NULL OR id <> $3)";

/// Which session a token belongs to, read before any lock is taken.
const TOKEN_SESSION: &str = "SELECT session_id FROM refresh_tokens WHERE token_hash = $1";

/// Read again under the session's lock, for the decision.
const LOCK_REFRESH_TOKEN: &str = "SELECT session_id, rotated_at, successor FROM refresh_tokens \
     WHERE token_hash = $1 FOR UPDATE";

const MARK_ROTATED: &str = "UPDATE refresh_tokens SET rotated_at = $2, successor = $3 \
     WHERE token_hash = $1 AND rotated_at IS NULL";

const TOUCH_SESSION: &str = concat!(
    "UPDATE sessions SET last_used_at = $2, idle_expires_at = $3 WHERE id = $1 RETURNING ",
    session_columns!()
);

const REVOKE_RETURNING: &str = concat!(
    "UPDATE sessions SET revoked_at = $2, revoke_reason = $3 WHERE id = $1 RETURNING ",
    session_columns!()
);

/// Sessions another transaction has locked (a purge of another instance, a refresh being
/// refused) are left for the next batch rather than waited for.
const PURGE: &str = "DELETE FROM sessions WHERE id IN ( \
     SELECT id FROM sessions \
     WHERE revoked_at IS NOT NULL OR idle_expires_at <= $1 OR absolute_expires_at <= $1 \
     LIMIT $2 FOR UPDATE SKIP LOCKED)";

/// A `sessions` row as PostgreSQL returns it, before validation.
#[derive(sqlx::FromRow)]
struct SessionRow {
    id: SessionId,
    user_id: UserId,
    created_at: i64,
    last_used_at: i64,
    idle_expires_at: i64,
    absolute_expires_at: i64,
    client_ip: String,
    user_agent: String,
    revoked_at: Option<i64>,
    revoke_reason: Option<String>,
}

/// A `refresh_tokens` row, as far as a refresh needs it.
#[derive(sqlx::FromRow)]
struct RefreshRow {
    session_id: SessionId,
    rotated_at: Option<i64>,
    successor: Option<Vec<u8>>,
}

pub(super) async fn create(
    pool: &PgPool,
    session: NewSession,
    now: i64,
) -> Result<Session, StoreError> {
    let mut transaction = write_transaction(pool).await?;
    let row = sqlx::query_as::<_, SessionRow>(INSERT_SESSION)
        .bind(session.id)
        .bind(session.user_id)
        .bind(now)
        .bind(session.idle_expires_at)
        .bind(session.absolute_expires_at)
        .bind(session.client_ip)
        .bind(session.user_agent)
        .fetch_one(&mut *transaction)
        .await
        .map_err(create_error)?;
    sqlx::query(INSERT_REFRESH_TOKEN)
        .bind(&session.refresh_hash[..])
        .bind(session.id)
        .bind(now)
        .execute(&mut *transaction)
        .await
        .map_err(database_error)?;
    transaction.commit().await.map_err(database_error)?;
    row.into_session()
}

pub(super) async fn by_id(pool: &PgPool, id: SessionId) -> Result<Option<Session>, StoreError> {
    let row = sqlx::query_as::<_, SessionRow>(SELECT_SESSION)
        .bind(id)
        .fetch_optional(pool)
        .await
        .map_err(read_error)?;
    row.map(SessionRow::into_session).transpose()
}

pub(super) async fn of_refresh_token(
    pool: &PgPool,
    token_hash: &[u8; 32],
) -> Result<Option<SessionId>, StoreError> {
    sqlx::query_scalar("SELECT session_id FROM refresh_tokens WHERE token_hash = $1")
        .bind(&token_hash[..])
        .fetch_optional(pool)
        .await
        .map_err(read_error)
}

pub(super) async fn live(
    pool: &PgPool,
    user: Option<UserId>,
    now: i64,
) -> Result<Vec<Session>, StoreError> {
    let rows = sqlx::query_as::<_, SessionRow>(SELECT_LIVE)
        .bind(now)
        .bind(user)
        .fetch_all(pool)
        .await
        .map_err(read_error)?;
    rows.into_iter().map(SessionRow::into_session).collect()
}

pub(super) async fn end(
    pool: &PgPool,
    id: SessionId,
    reason: EndReason,
    now: i64,
) -> Result<bool, StoreError> {
    let result = sqlx::query(END_SESSION)
        .bind(id)
        .bind(now)
        .bind(reason.as_str())
        .execute(pool)
        .await
        .map_err(database_error)?;
    Ok(result.rows_affected() > 0)
}

/// Ends the user's live sessions except `keep`, on any connection (a pool's or a
/// transaction's).
pub(super) async fn end_for_user(
    connection: &mut PgConnection,
    user: UserId,
    keep: Option<SessionId>,
    reason: EndReason,
    now: i64,
) -> Result<u64, StoreError> {
    let result = sqlx::query(END_USER_SESSIONS)
        .bind(user)
        .bind(now)
        .bind(keep)
        .bind(reason.as_str())
        .execute(connection)
        .await
        .map_err(database_error)?;
    Ok(result.rows_affected())
}

pub(super) async fn rotate(
    pool: &PgPool,
    rotation: Rotation,
    now: i64,
) -> Result<RotateOutcome, StoreError> {
    let mut transaction = write_transaction(pool).await?;
    let session_id: Option<SessionId> = sqlx::query_scalar(TOKEN_SESSION)
        .bind(&rotation.presented[..])
        .fetch_optional(&mut *transaction)
        .await
        .map_err(read_error)?;
    let Some(session_id) = session_id else {
        return Ok(RotateOutcome::Unknown);
    };
    // The session's lock first: every refresh of this session queues here.
    let Some(session) = sqlx::query_as::<_, SessionRow>(LOCK_SESSION)
        .bind(session_id)
        .fetch_optional(&mut *transaction)
        .await
        .map_err(read_error)?
    else {
        // Purged (or its user deleted) since the first read: the token is gone with it.
        return Ok(RotateOutcome::Unknown);
    };
    let session = session.into_session()?;
    let Some(token) = sqlx::query_as::<_, RefreshRow>(LOCK_REFRESH_TOKEN)
        .bind(&rotation.presented[..])
        .fetch_optional(&mut *transaction)
        .await
        .map_err(read_error)?
    else {
        return Ok(RotateOutcome::Unknown);
    };
    if token.session_id != session.id {
        return Err(StoreError::Corrupt(
            "refresh_tokens: a token moved to another session".to_owned(),
        ));
    }
    if !session.is_live(now) {
        return Ok(RotateOutcome::Ended(session));
    }
    if let Some(rotated_at) = token.rotated_at {
        if now < rotated_at.saturating_add(rotation.grace_seconds) {
            let sealed_successor = token.successor.ok_or_else(|| {
                StoreError::Corrupt("refresh_tokens.successor is missing".to_owned())
            })?;
            return Ok(RotateOutcome::Grace {
                session,
                sealed_successor,
            });
        }
        let revoked = sqlx::query_as::<_, SessionRow>(REVOKE_RETURNING)
            .bind(session.id)
            .bind(now)
            .bind(EndReason::RefreshReuse.as_str())
            .fetch_one(&mut *transaction)
            .await
            .map_err(read_error)?
            .into_session()?;
        transaction.commit().await.map_err(database_error)?;
        return Ok(RotateOutcome::ReuseDetected(revoked));
    }
    let marked = sqlx::query(MARK_ROTATED)
        .bind(&rotation.presented[..])
        .bind(now)
        .bind(&rotation.sealed_successor)
        .execute(&mut *transaction)
        .await
        .map_err(database_error)?;
    if marked.rows_affected() != 1 {
        // Impossible under the locks taken before the read; refuse rather than fork.
        return Err(StoreError::Corrupt(
            "refresh_tokens: the current token changed during a refresh".to_owned(),
        ));
    }
    sqlx::query(INSERT_REFRESH_TOKEN)
        .bind(&rotation.successor[..])
        .bind(session.id)
        .bind(now)
        .execute(&mut *transaction)
        .await
        .map_err(database_error)?;
    let idle_expires_at = now
        .saturating_add(rotation.idle_seconds)
        .min(session.absolute_expires_at);
    let touched = sqlx::query_as::<_, SessionRow>(TOUCH_SESSION)
        .bind(session.id)
        .bind(now)
        .bind(idle_expires_at)
        .fetch_one(&mut *transaction)
        .await
        .map_err(read_error)?
        .into_session()?;
    transaction.commit().await.map_err(database_error)?;
    Ok(RotateOutcome::Rotated(touched))
}

pub(super) async fn purge(pool: &PgPool, now: i64, limit: u32) -> Result<u64, StoreError> {
    let result = sqlx::query(PURGE)
        .bind(now)
        .bind(i64::from(limit))
        .execute(pool)
        .await
        .map_err(database_error)?;
    Ok(result.rows_affected())
}

/// A session for a user that does not exist is [`StoreError::UserNotFound`].
fn create_error(error: sqlx::Error) -> StoreError {
    match error.as_database_error() {
        Some(database_error) if database_error.is_foreign_key_violation() => {
            StoreError::UserNotFound
        }
        _ => read_error(error),
    }
}

impl SessionRow {
    /// Validates the raw columns; anything malformed is [`StoreError::Corrupt`].
    fn into_session(self) -> Result<Session, StoreError> {
        let id = self.id;
        let revoked = match (self.revoked_at, self.revoke_reason) {
            (None, None) => None,
            (Some(at), Some(reason)) => Some(Revocation { at, reason }),
            _ => {
                return Err(StoreError::Corrupt(format!(
                    "sessions.revoked_at and revoke_reason of session {id} disagree"
                )));
            }
        };
        Ok(Session {
            id,
            user_id: self.user_id,
            created_at: self.created_at,
            last_used_at: self.last_used_at,
            idle_expires_at: self.idle_expires_at,
            absolute_expires_at: self.absolute_expires_at,
            client_ip: self.client_ip,
            user_agent: self.user_agent,
            revoked,
        })
    }
}
