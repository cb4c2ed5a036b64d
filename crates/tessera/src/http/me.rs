//! `GET /api/auth/me`: who the token belongs to, and the token's times.
//!
//! The answer every client polls, so it is written by hand into one buffer: its shape is
//! fixed, the user is rendered by serde once per cached view ([`rendered_user`]), and every
//! other value is digits, hex, `-`, `:`, `+` and letters of a timestamp, which JSON strings
//! never escape. A property test holds it byte for byte to what serde writes for
//! [`MeResponse`], the shape the document shows and clients read.

use axum::response::Response;
use serde_json::value::RawValue;
use tessera_api::MeResponse;
use tessera_store::SessionId;

use super::openapi::{Timeout, TooManyRequests, Unauthorized, Unavailable};
use super::user_routes::rendered_user;
use super::{ApiError, AuthUser, json_body};
use crate::clock::push_rfc3339;

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
    use tessera_api::TokenInfo;

    use super::*;
    use crate::clock::Rfc3339;

    fn by_serde(user: &RawValue, iat: i64, exp: i64, session_id: SessionId, now: i64) -> Vec<u8> {
        serde_json::to_vec(&MeResponse {
            user: serde_json::from_str(user.get()).unwrap(),
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
            let view = crate::users::UserView {
                id: SessionId::from_u128(id),
                username: name.clone(),
                roles: vec!["a\"b".to_owned()],
                active: id % 2 == 0,
                created_at: iat,
                updated_at: now,
                rendered: std::sync::OnceLock::new(),
            };
            let user = rendered_user(&view).unwrap();
            let session_id = SessionId::from_u128(id.rotate_left(64));
            let ours = me_json(user, iat, exp, session_id, now);
            prop_assert_eq!(
                String::from_utf8(ours.clone()).unwrap(),
                String::from_utf8(by_serde(user, iat, exp, session_id, now)).unwrap()
            );
            // What a client reads is what the server meant.
            let read: MeResponse = serde_json::from_slice(&ours).unwrap();
            prop_assert_eq!(read.user.id, view.id);
            prop_assert_eq!(read.user.username, name);
            prop_assert_eq!(read.token.session_id, session_id);
            prop_assert_eq!(read.token.expires_at, Rfc3339(exp));
            prop_assert_eq!(read.server_time, Rfc3339(now));
        }
    }
}
