//! The introspection API clients on PostgreSQL (table `api_clients`, migration 0006).
//!
//! One statement per call; the unique id and name are the database's constraints, and a
//! write that breaks one is [`StoreError::Conflict`]. Both columns are `COLLATE "C"`, so
//! they are compared and ordered byte for byte, as on SQLite.

use sqlx::postgres::PgPool;

use super::database_error;
use crate::{ApiClient, StoreError};

/// The unique constraint on `api_clients.name` (PostgreSQL's default name for it).
const NAME_CONSTRAINT: &str = "api_clients_name_key";
/// The primary key of `api_clients`.
const ID_CONSTRAINT: &str = "api_clients_pkey";

macro_rules! client_columns {
    () => {
        "id, name, secret_hash, created_at, disabled_at"
    };
}

const INSERT: &str = concat!(
    "INSERT INTO api_clients (id, name, secret_hash, created_at, disabled_at) \
     VALUES ($1, $2, $3, $4, $5) RETURNING ",
    client_columns!()
);

const BY_ID: &str = concat!(
    "SELECT ",
    client_columns!(),
    " FROM api_clients WHERE id = $1"
);

const ALL: &str = concat!(
    "SELECT ",
    client_columns!(),
    " FROM api_clients ORDER BY name"
);

const DELETE: &str = "DELETE FROM api_clients WHERE id = $1";

#[derive(sqlx::FromRow)]
struct ClientRow {
    id: String,
    name: String,
    secret_hash: String,
    created_at: i64,
    disabled_at: Option<i64>,
}

impl From<ClientRow> for ApiClient {
    fn from(row: ClientRow) -> Self {
        Self {
            id: row.id,
            name: row.name,
            secret_hash: row.secret_hash,
            created_at: row.created_at,
            disabled_at: row.disabled_at,
        }
    }
}

pub(super) async fn create(pool: &PgPool, client: ApiClient) -> Result<ApiClient, StoreError> {
    let row = sqlx::query_as::<_, ClientRow>(INSERT)
        .bind(&client.id)
        .bind(&client.name)
        .bind(&client.secret_hash)
        .bind(client.created_at)
        .bind(client.disabled_at)
        .fetch_one(pool)
        .await
        .map_err(|error| {
            let clash = error
                .as_database_error()
                .filter(|database| database.is_unique_violation())
                .and_then(|database| database.constraint());
            match clash {
                Some(NAME_CONSTRAINT) => StoreError::Conflict(format!(
                    "an API client named {:?} already exists",
                    client.name
                )),
                Some(ID_CONSTRAINT) => StoreError::Conflict(format!(
                    "an API client with id {:?} already exists",
                    client.id
                )),
                _ => read_error(error),
            }
        })?;
    Ok(row.into())
}

pub(super) async fn by_id(pool: &PgPool, id: &str) -> Result<Option<ApiClient>, StoreError> {
    let row = sqlx::query_as::<_, ClientRow>(BY_ID)
        .bind(id)
        .fetch_optional(pool)
        .await
        .map_err(read_error)?;
    Ok(row.map(ApiClient::from))
}

pub(super) async fn list(pool: &PgPool) -> Result<Vec<ApiClient>, StoreError> {
    let rows = sqlx::query_as::<_, ClientRow>(ALL)
        .fetch_all(pool)
        .await
        .map_err(read_error)?;
    Ok(rows.into_iter().map(ApiClient::from).collect())
}

pub(super) async fn delete(pool: &PgPool, id: &str) -> Result<bool, StoreError> {
    let result = sqlx::query(DELETE)
        .bind(id)
        .execute(pool)
        .await
        .map_err(database_error)?;
    Ok(result.rows_affected() > 0)
}

/// Maps a failed query that decodes rows: a column of the wrong type is corruption.
fn read_error(error: sqlx::Error) -> StoreError {
    match error {
        sqlx::Error::ColumnDecode { index, source } => StoreError::Corrupt(format!(
            "column api_clients.{index} cannot be decoded: {source}"
        )),
        other => database_error(other),
    }
}
