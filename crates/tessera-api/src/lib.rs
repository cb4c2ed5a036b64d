//! The wire of tessera's HTTP API: the request and response bodies of every `/api/...`
//! operation and the error body with its codes, shared by the server (which writes the
//! responses and reads the requests), its tests and [`Client`] (which do the opposite).
//!
//! Invariants:
//! - Each type reads and writes exactly the JSON the server has always answered: the server
//!   serializes these types (or, on its hot paths, a borrowing copy held to them by its
//!   tests), so a shape changes here or nowhere.
//! - With the `openapi` feature every type derives `utoipa::ToSchema`, under the schema name
//!   and description the server's OpenAPI document has always used.
//! - No `Debug` shows a password or a token; they print as `<redacted>`.
//!
//! Features: `openapi` (schemas for the server's document) and `client` (a typed HTTP
//! client on reqwest, plain HTTP; put TLS in front with a proxy or enable it in your own
//! reqwest and pass that client to [`Client::with_http`]).

mod auth;
#[cfg(feature = "client")]
mod client;
mod error;
mod sessions;
mod time;
mod users;

pub use auth::{
    LoginBody, LoginUser, MeResponse, PasswordBody, RefreshBody, SessionsEnded, TokenInfo,
    TokenResponse,
};
#[cfg(feature = "client")]
pub use client::{Client, ClientError, UserPage, UserQuery};
pub use error::{ErrorBody, ErrorCode, RefusalReason};
pub use sessions::{Session, SessionList};
pub use time::{Timestamp, TimestampError};
pub use users::{CreateUserBody, UpdateUserBody, User, UserList};

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn no_debug_shows_a_secret() {
        let secret = "hunter2-secret";
        let shown = [
            format!(
                "{:?}",
                LoginBody {
                    username: "ada".into(),
                    password: secret.into(),
                    refresh_cookie: false
                }
            ),
            format!(
                "{:?}",
                RefreshBody {
                    refresh_token: Some(secret.into())
                }
            ),
            format!(
                "{:?}",
                PasswordBody {
                    current_password: secret.into(),
                    new_password: secret.into()
                }
            ),
            format!("{:?}", CreateUserBody::new("ada", secret)),
            format!(
                "{:?}",
                UpdateUserBody {
                    password: Some(secret.into()),
                    ..UpdateUserBody::default()
                }
            ),
            format!(
                "{:?}",
                TokenResponse {
                    access_token: secret.into(),
                    token_type: "Bearer".into(),
                    expires_in: 900,
                    expires_at: Timestamp(900),
                    refresh_token: Some(secret.into()),
                    refresh_expires_at: Timestamp(9_000),
                    session_id: uuid::Uuid::nil(),
                    server_time: Timestamp(0),
                    user: LoginUser {
                        id: uuid::Uuid::nil(),
                        username: "ada".into(),
                        roles: vec![],
                    },
                }
            ),
        ];
        for text in shown {
            assert!(!text.contains(secret), "{text}");
            assert!(text.contains("<redacted>"), "{text}");
        }
    }

    #[test]
    fn a_token_answer_reads_back_as_written() {
        let json = r#"{"access_token":"a.b.c","token_type":"Bearer","expires_in":900,"expires_at":"2027-01-15T08:15:00Z","refresh_token":"r","refresh_expires_at":"2027-01-16T08:00:00Z","session_id":"7c0f5f5e-8d4a-4a36-9a43-3f4e2b0c1d2e","server_time":"2027-01-15T08:00:00Z","user":{"id":"0b7e3a0c-4c1f-4f59-8f5e-2b8c1e9d3a41","username":"ada","roles":["admin"]}}"#;
        let answer: TokenResponse = serde_json::from_str(json).unwrap();
        assert_eq!(answer.expires_at, Timestamp(1_800_000_900));
        assert_eq!(answer.refresh_token.as_deref(), Some("r"));
        assert_eq!(serde_json::to_string(&answer).unwrap(), json);
        // Cookie mode: no refresh token in the body, none written back.
        let cookie = json.replace(r#""refresh_token":"r","#, "");
        let answer: TokenResponse = serde_json::from_str(&cookie).unwrap();
        assert_eq!(answer.refresh_token, None);
        assert_eq!(serde_json::to_string(&answer).unwrap(), cookie);
    }

    #[test]
    fn request_bodies_leave_out_what_is_not_given() {
        assert_eq!(
            serde_json::to_string(&UpdateUserBody {
                active: Some(false),
                ..UpdateUserBody::default()
            })
            .unwrap(),
            r#"{"active":false}"#
        );
        assert_eq!(
            serde_json::to_string(&RefreshBody::default()).unwrap(),
            "{}"
        );
        let created: CreateUserBody =
            serde_json::from_str(r#"{"username":"ada","password":"12345678"}"#).unwrap();
        assert!(created.active && created.roles.is_empty());
        let unknown = serde_json::from_str::<CreateUserBody>(
            r#"{"username":"ada","password":"12345678","colour":"red"}"#,
        );
        assert!(unknown.is_err());
    }
}
