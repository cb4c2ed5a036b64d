//! `GET /api/revocations?after=CURSOR&wait=SECONDS`: the revocation feed for API clients.
//!
//! A service that verifies tokens offline (by the JWKS or the shared secret) follows it to
//! learn what a token cannot say: which users, sessions and keys died since it last asked.
//! Each answer is read from the change feed every instance follows, after the cursor:
//! - `{"type": "user", "user_id", "at"}`: the user is deactivated or deleted; refuse their
//!   tokens issued at or before `at`;
//! - `{"type": "session", "session_id", "at"}`: the session ended; refuse its tokens;
//! - `{"type": "key", "kid", "at"}`: the key is revoked; refuse its tokens and refetch the key
//!   set;
//! - `"reset": true`: changes after the cursor were pruned (the cursor is more than an hour
//!   old): refuse every token issued at or before `reset_at`, then go on from `cursor`.
//!
//! Without `after` the answer starts at the feed's end (a new follower knows nothing that
//! happened before). With `wait` (at most 25 s) and nothing new, the answer waits for the next
//! change this instance applies, so a follower learns of a revocation as soon as the instance
//! does. `at` is this server's clock, in Unix seconds, as tokens' `iat` are.

use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use tessera_store::{ChangeKind, KeyState};
use utoipa_axum::routes;

use super::oauth::Client;
use super::openapi::{ApiRoutes, Timeout, TooManyRequests, Unavailable};
use super::{ApiError, AppState};

pub(super) fn routes(api: ApiRoutes) -> ApiRoutes {
    api.add(routes!(get_revocations))
}

/// The longest `wait` a request may ask for, in seconds (under the request timeout).
pub const MAX_WAIT_SECONDS: u64 = 25;
/// The most changes one answer reads.
const BATCH: u32 = 500;

/// The query of `GET /api/revocations`.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct FeedQuery {
    /// The `cursor` of the previous answer; absent: start at the feed's end.
    after: Option<i64>,
    /// Seconds to wait for a change when there is none yet (0 to 25; default 0).
    wait: Option<u64>,
}

/// One revocation.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Event {
    /// The user is deactivated or deleted: refuse their tokens issued at or before `at`.
    User { user_id: String, at: i64 },
    /// The session ended: refuse its tokens.
    Session { session_id: String, at: i64 },
    /// The key is revoked: refuse its tokens.
    Key { kid: String, at: i64 },
}

/// An answer of the revocation feed.
#[derive(Serialize, utoipa::ToSchema)]
struct Feed {
    /// Pass it as `after` next time.
    cursor: i64,
    /// Changes after `after` were pruned: refuse every token issued at or before `reset_at`.
    reset: bool,
    /// With `reset`, the instant before which every token must be refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    reset_at: Option<i64>,
    /// The revocations after `after`, oldest first.
    events: Vec<Event>,
}

/// The revocations since a cursor, for services that verify tokens offline: users
/// deactivated or deleted (with the instant from which their tokens die), sessions ended, keys
/// revoked. With `wait`, an answer with nothing new waits for the next change.
#[utoipa::path(
    get,
    path = "/api/revocations",
    tag = "discovery",
    operation_id = "get_revocations",
    security(("client" = [])),
    params(FeedQuery),
    responses(
        (status = 200, description = "The revocations after the cursor", body = Feed),
        (status = 400, description = "A malformed query", body = tessera_api::ErrorBody),
        (status = 401, description = "Client authentication failed (`invalid_client`)", body = tessera_api::ErrorBody),
        (status = 408, response = Timeout),
        (status = 429, response = TooManyRequests),
        (status = 503, response = Unavailable),
    )
)]
async fn get_revocations(
    State(state): State<AppState>,
    _client: Client,
    query: Result<Query<FeedQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|_| {
        ApiError::BadRequest(
            "`after` is a cursor (an integer from a previous answer) and `wait` 0 to 25 seconds"
                .to_owned(),
        )
    })?;
    let wait = query.wait.unwrap_or(0);
    if wait > MAX_WAIT_SECONDS {
        return Err(ApiError::BadRequest(format!(
            "`wait` is at most {MAX_WAIT_SECONDS} seconds"
        )));
    }
    let auth = &state.auth;
    let store = auth.users.store();
    let Some(after) = query.after else {
        let cursor = store.latest_change().await?;
        return Ok(answer(Feed {
            cursor,
            reset: false,
            reset_at: None,
            events: Vec::new(),
        }));
    };
    if after < 0 {
        return Err(ApiError::BadRequest("`after` is never negative".to_owned()));
    }
    // Only what this instance has applied: its answers agree with its own checks.
    let mut applied = auth.cluster.applied_changes();
    if wait > 0 && *applied.borrow_and_update() <= after {
        let _ = tokio::time::timeout(
            Duration::from_secs(wait),
            applied.wait_for(|position| *position > after),
        )
        .await;
    }
    let batch = store.changes_since(after, BATCH).await?;
    let now = auth.clock.now();
    let mut events = Vec::new();
    let mut keys = None;
    for change in &batch.changes {
        match change.kind {
            ChangeKind::User => {
                let user = store.user_by_id(change.id).await?;
                if user.is_none_or(|user| !user.active) {
                    events.push(Event::User {
                        user_id: change.id.to_string(),
                        at: now,
                    });
                }
            }
            ChangeKind::Session => events.push(Event::Session {
                session_id: change.id.to_string(),
                at: now,
            }),
            ChangeKind::Key => {
                if keys.is_none() {
                    keys = Some(
                        auth.keys
                            .stored()
                            .await
                            .map_err(|error| ApiError::DatabaseBusy(error.to_string()))?,
                    );
                }
                let revoked = keys
                    .iter()
                    .flatten()
                    .find(|key| key.id == change.id && key.state == KeyState::Revoked);
                if let Some(key) = revoked {
                    events.push(Event::Key {
                        kid: key.kid.clone(),
                        at: now,
                    });
                }
            }
        }
    }
    Ok(answer(Feed {
        cursor: batch.next,
        reset: batch.missed,
        reset_at: batch.missed.then_some(now),
        events,
    }))
}

fn answer(feed: Feed) -> Response {
    let mut response = axum::Json(feed).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
