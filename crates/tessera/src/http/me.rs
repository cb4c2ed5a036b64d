//! `GET /api/auth/me`: who the token belongs to, and the token's times.
//!
//! The answer every client polls, so it is written by hand into one buffer: its shape is
//! fixed, the user is rendered by serde once per cached view ([`rendered_user`]), and every
//! other value is digits, hex, `-`, `:`, `+` and letters of a timestamp, which JSON strings
//! never escape. A property test holds it byte for byte to what serde writes for the same
//! shape.

use axum::response::Response;
use serde_json::value::RawValue;
use tessera_store::SessionId;

use super::openapi::{Timeout, TooManyRequests, Unauthorized, Unavailable};
use super::user_routes::{UserJson, rendered_user};
use super::{ApiError, AuthUser, json_body};
use crate::clock::{Rfc3339, push_rfc3339};

/// The shape of the answer: it documents the answer, and a property test holds
/// [`me_json`] to what serde writes for it.
#[derive(serde::Serialize, utoipa::ToSchema)]
#[cfg_attr(not(test), allow(dead_code))]
struct MeResponse<'a> {
    #[schema(value_type = UserJson)]
    user: &'a RawValue,
    token: TokenInfo,
    /// The server's clock.
    server_time: Rfc3339,
}

/// The access token presented.
#[derive(serde::Serialize, utoipa::ToSchema)]
#[cfg_attr(not(test), allow(dead_code))]
struct TokenInfo {
    issued_at: Rfc3339,
    expires_at: Rfc3339,
    /// Seconds left, never negative.
    expires_in: i64,
    #[schema(value_type = String, format = Uuid)]
    session_id: SessionId,
}

/// Who the token belongs to, and the token's times.
#[utoipa::path(
    get,
    path = "/api/auth/me",
    tag = "auth",
    operation_id = "me",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The token's user and times", body = MeResponse),
        (status = 401, response = Unauthorized),
        (status = 408, response = Timeout),
        (status = 429, response = TooManyRequests),
        (status = 503, response = Unavailable),
    )
)]
pub(super) async fn get_me(AuthUser(access): AuthUser) -> Result<Response, ApiError> {
    let body = me_json(
        rendered_user(&access.user)?,
        access.claims.iat,
        access.claims.exp,
        access.session_id,
        access.checked_at,
    );
    Ok(json_body(body))
}

/// `{"user":…,"token":{"issued_at":…,"expires_at":…,"expires_in":…,"session_id":…},
/// "server_time":…}`, as serde would write it.
fn me_json(user: &RawValue, iat: i64, exp: i64, session_id: SessionId, now: i64) -> Vec<u8> {
    let user = user.get().as_bytes();
    let mut out = Vec::with_capacity(user.len() + 200);
    out.extend_from_slice(br#"{"user":"#);
    out.extend_from_slice(user);
    out.extend_from_slice(br#","token":{"issued_at":""#);
    push_rfc3339(&mut out, iat);
    out.extend_from_slice(br#"","expires_at":""#);
    push_rfc3339(&mut out, exp);
    out.extend_from_slice(br#"","expires_in":"#);
    let expires_in = exp.saturating_sub(now).max(0);
    out.extend_from_slice(itoa::Buffer::new().format(expires_in).as_bytes());
    out.extend_from_slice(br#","session_id":""#);
    let mut hex = [0_u8; uuid::fmt::Hyphenated::LENGTH];
    out.extend_from_slice(session_id.as_hyphenated().encode_lower(&mut hex).as_bytes());
    out.extend_from_slice(br#""},"server_time":""#);
    push_rfc3339(&mut out, now);
    out.extend_from_slice(br#""}"#);
    out
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn by_serde(user: &RawValue, iat: i64, exp: i64, session_id: SessionId, now: i64) -> Vec<u8> {
        serde_json::to_vec(&MeResponse {
            user,
            token: TokenInfo {
                issued_at: Rfc3339(iat),
                expires_at: Rfc3339(exp),
                expires_in: exp.saturating_sub(now).max(0),
                session_id,
            },
            server_time: Rfc3339(now),
        })
        .unwrap()
    }

    /// Instants from far before year 0 to far after year 9999, where the formatting changes.
    fn instant() -> impl Strategy<Value = i64> {
        prop_oneof![
            -100_000_000_000_i64..400_000_000_000,
            0_i64..4_000_000_000,
            Just(i64::MIN),
            Just(i64::MAX),
        ]
    }

    proptest! {
        #[test]
        fn the_hand_written_answer_is_what_serde_writes(
            iat in instant(),
            exp in instant(),
            now in instant(),
            id in any::<u128>(),
            name in "\\PC{0,12}",
        ) {
            let user = serde_json::value::to_raw_value(
                &serde_json::json!({"id": id.to_string(), "username": name, "roles": ["a\"b"]}),
            )
            .unwrap();
            let session_id = SessionId::from_u128(id);
            let ours = me_json(&user, iat, exp, session_id, now);
            prop_assert_eq!(
                String::from_utf8(ours).unwrap(),
                String::from_utf8(by_serde(&user, iat, exp, session_id, now)).unwrap()
            );
        }
    }
}
