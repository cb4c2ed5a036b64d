//! [`Client`]: the API's operations as typed calls, over plain HTTP (reqwest).
//!
//! Invariants: every call answers the operation's response type or a [`ClientError`]; an
//! error answer of the server becomes [`ClientError::Api`] with its status and parsed body;
//! no error or `Debug` here carries a token, a password or a body the server sent (an
//! unreadable body is described by where and how it failed to parse, never by its text).

use std::fmt;

use reqwest::header::{LINK, RETRY_AFTER};
use reqwest::{RequestBuilder, StatusCode};
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::{
    CreateUserBody, ErrorBody, ErrorCode, LoginBody, MeResponse, PasswordBody, RefreshBody,
    SessionList, SessionsEnded, TokenResponse, UpdateUserBody, User, UserList,
};

/// A client of one tessera server.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    /// Without a trailing `/`: `http://127.0.0.1:8080`.
    base: String,
}

/// Why a call did not answer its response type.
#[derive(Debug)]
#[non_exhaustive]
pub enum ClientError {
    /// The server answered an error, in its documented shape.
    Api {
        /// The HTTP status.
        status: StatusCode,
        /// The parsed error body: its [`ErrorCode`], message and refusal reason.
        body: ErrorBody,
        /// `Retry-After`, in seconds, when the server sent one.
        retry_after: Option<u64>,
    },
    /// The server answered something this client cannot read: a body not of the expected
    /// shape (for a success) or not an error body (for a failure).
    Unreadable {
        /// The HTTP status.
        status: StatusCode,
        /// Where and how the body failed to parse (never the body's text).
        detail: String,
    },
    /// No answer: the request could not be sent or the answer not received.
    Transport(reqwest::Error),
}

impl ClientError {
    /// The HTTP status of the answer, when there was one.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Self::Api { status, .. } | Self::Unreadable { status, .. } => Some(*status),
            Self::Transport(error) => error.status(),
        }
    }

    /// The error body's code, when the server answered one.
    pub fn code(&self) -> Option<&ErrorCode> {
        self.body().map(|body| &body.error)
    }

    /// The error body, when the server answered one.
    pub fn body(&self) -> Option<&ErrorBody> {
        match self {
            Self::Api { body, .. } => Some(body),
            _ => None,
        }
    }
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Api { status, body, .. } => {
                write!(f, "{status}: {} ({})", body.message, body.error)
            }
            Self::Unreadable { status, detail } => {
                write!(f, "{status}: unreadable answer: {detail}")
            }
            Self::Transport(error) => write!(f, "no answer: {error}"),
        }
    }
}

impl std::error::Error for ClientError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Transport(error) => Some(error),
            _ => None,
        }
    }
}

impl From<reqwest::Error> for ClientError {
    fn from(error: reqwest::Error) -> Self {
        Self::Transport(error)
    }
}

/// The query of `GET /api/users`: what is left out is the server's default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserQuery {
    /// The most users in one page, 1 to 1000 (100 when left out).
    pub limit: Option<u32>,
    /// Only the users after this username: the last one of the previous page.
    pub after: Option<String>,
    /// Only the users whose username contains this text.
    pub q: Option<String>,
}

impl UserQuery {
    fn encode(&self) -> String {
        let mut query = form_urlencoded::Serializer::new(String::new());
        if let Some(limit) = self.limit {
            query.append_pair("limit", &limit.to_string());
        }
        if let Some(after) = &self.after {
            query.append_pair("after", after);
        }
        if let Some(q) = &self.q {
            query.append_pair("q", q);
        }
        query.finish()
    }

    /// The query of a `Link: </api/users?…>; rel="next"` header.
    fn from_next_link(link: &str) -> Option<Self> {
        let (target, params) = link.split_once(';')?;
        if !params
            .split(';')
            .any(|param| param.trim() == "rel=\"next\"")
        {
            return None;
        }
        let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
        let (_, query) = target.split_once('?')?;
        let mut next = Self::default();
        for (name, value) in form_urlencoded::parse(query.as_bytes()) {
            match &*name {
                "limit" => next.limit = value.parse().ok(),
                "after" => next.after = Some(value.into_owned()),
                "q" => next.q = Some(value.into_owned()),
                _ => {}
            }
        }
        Some(next)
    }
}

/// One page of `GET /api/users`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserPage {
    /// The page's users, ordered by username.
    pub users: Vec<User>,
    /// The query of the next page (from the `Link` header), when more users may follow.
    pub next: Option<UserQuery>,
}

impl Client {
    /// A client of the server at `base_url` (such as `http://127.0.0.1:8080`), with a
    /// default reqwest client.
    pub fn new(base_url: impl Into<String>) -> Result<Self, ClientError> {
        let http = reqwest::Client::builder().build()?;
        Ok(Self::with_http(http, base_url))
    }

    /// A client of the server at `base_url` sending through `http` (timeouts, TLS, proxies
    /// as configured there).
    pub fn with_http(http: reqwest::Client, base_url: impl Into<String>) -> Self {
        let mut base = base_url.into();
        while base.ends_with('/') {
            base.pop();
        }
        Self { http, base }
    }

    /// The server's base URL, without a trailing `/`.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// `POST /api/auth/login`: the refresh token comes in the body.
    pub async fn login(
        &self,
        username: &str,
        password: &str,
    ) -> Result<TokenResponse, ClientError> {
        self.login_with(&LoginBody {
            username: username.to_owned(),
            password: password.to_owned(),
            refresh_cookie: false,
        })
        .await
    }

    /// `POST /api/auth/login` with this body.
    pub async fn login_with(&self, body: &LoginBody) -> Result<TokenResponse, ClientError> {
        json(self.http.post(self.url("/api/auth/login")).json(body)).await
    }

    /// `POST /api/auth/refresh` with the refresh token in the body (which it spends).
    pub async fn refresh(&self, refresh_token: &str) -> Result<TokenResponse, ClientError> {
        let body = RefreshBody {
            refresh_token: Some(refresh_token.to_owned()),
        };
        json(self.http.post(self.url("/api/auth/refresh")).json(&body)).await
    }

    /// `GET /api/auth/me`.
    pub async fn me(&self, access_token: &str) -> Result<MeResponse, ClientError> {
        json(self.get("/api/auth/me", access_token)).await
    }

    /// `POST /api/auth/logout`: ends the token's session.
    pub async fn logout(&self, access_token: &str) -> Result<(), ClientError> {
        empty(self.post("/api/auth/logout", access_token)).await
    }

    /// `POST /api/auth/logout-all`: ends every session of the token's user.
    pub async fn logout_all(&self, access_token: &str) -> Result<SessionsEnded, ClientError> {
        json(self.post("/api/auth/logout-all", access_token)).await
    }

    /// `POST /api/auth/password`: changes the caller's password; every other session ends.
    pub async fn change_password(
        &self,
        access_token: &str,
        current_password: &str,
        new_password: &str,
    ) -> Result<SessionsEnded, ClientError> {
        let body = PasswordBody {
            current_password: current_password.to_owned(),
            new_password: new_password.to_owned(),
        };
        json(self.post("/api/auth/password", access_token).json(&body)).await
    }

    /// `GET /api/auth/sessions`: the caller's live sessions.
    pub async fn sessions(&self, access_token: &str) -> Result<SessionList, ClientError> {
        json(self.get("/api/auth/sessions", access_token)).await
    }

    /// `DELETE /api/auth/sessions/{session_id}`: ends one of the caller's sessions.
    pub async fn end_session(
        &self,
        access_token: &str,
        session_id: Uuid,
    ) -> Result<(), ClientError> {
        let path = format!("/api/auth/sessions/{session_id}");
        empty(self.delete(&path, access_token)).await
    }

    /// `GET /api/users`: one page of users (admin).
    pub async fn list_users(
        &self,
        access_token: &str,
        query: &UserQuery,
    ) -> Result<UserPage, ClientError> {
        let query = query.encode();
        let path = if query.is_empty() {
            "/api/users".to_owned()
        } else {
            format!("/api/users?{query}")
        };
        let response = self.get(&path, access_token).send().await?;
        let next = response
            .headers()
            .get(LINK)
            .and_then(|link| link.to_str().ok())
            .and_then(UserQuery::from_next_link);
        let list: UserList = read(response).await?;
        Ok(UserPage {
            users: list.users,
            next,
        })
    }

    /// `POST /api/users`: creates a user (admin).
    pub async fn create_user(
        &self,
        access_token: &str,
        body: &CreateUserBody,
    ) -> Result<User, ClientError> {
        json(self.post("/api/users", access_token).json(body)).await
    }

    /// `GET /api/users/{id}` (admin).
    pub async fn user(&self, access_token: &str, id: Uuid) -> Result<User, ClientError> {
        json(self.get(&format!("/api/users/{id}"), access_token)).await
    }

    /// `PATCH /api/users/{id}`: changes what the body gives (admin).
    pub async fn update_user(
        &self,
        access_token: &str,
        id: Uuid,
        body: &UpdateUserBody,
    ) -> Result<User, ClientError> {
        let request = self
            .http
            .patch(self.url(&format!("/api/users/{id}")))
            .bearer_auth(access_token)
            .json(body);
        json(request).await
    }

    /// `DELETE /api/users/{id}`: deletes a user and its sessions (admin).
    pub async fn delete_user(&self, access_token: &str, id: Uuid) -> Result<(), ClientError> {
        empty(self.delete(&format!("/api/users/{id}"), access_token)).await
    }

    /// `GET /api/users/{id}/sessions`: a user's live sessions (admin).
    pub async fn user_sessions(
        &self,
        access_token: &str,
        id: Uuid,
    ) -> Result<SessionList, ClientError> {
        json(self.get(&format!("/api/users/{id}/sessions"), access_token)).await
    }

    /// `DELETE /api/users/{id}/sessions`: ends every session of a user (admin).
    pub async fn end_user_sessions(
        &self,
        access_token: &str,
        id: Uuid,
    ) -> Result<SessionsEnded, ClientError> {
        json(self.delete(&format!("/api/users/{id}/sessions"), access_token)).await
    }

    /// `DELETE /api/users/{id}/sessions/{session_id}`: ends one session of a user (admin).
    pub async fn end_user_session(
        &self,
        access_token: &str,
        id: Uuid,
        session_id: Uuid,
    ) -> Result<(), ClientError> {
        let path = format!("/api/users/{id}/sessions/{session_id}");
        empty(self.delete(&path, access_token)).await
    }

    fn get(&self, path: &str, access_token: &str) -> RequestBuilder {
        self.http.get(self.url(path)).bearer_auth(access_token)
    }

    fn post(&self, path: &str, access_token: &str) -> RequestBuilder {
        self.http.post(self.url(path)).bearer_auth(access_token)
    }

    fn delete(&self, path: &str, access_token: &str) -> RequestBuilder {
        self.http.delete(self.url(path)).bearer_auth(access_token)
    }
}

/// Sends and reads a JSON answer.
async fn json<T: DeserializeOwned>(request: RequestBuilder) -> Result<T, ClientError> {
    read(request.send().await?).await
}

/// Sends and expects a success without a body to read.
async fn empty(request: RequestBuilder) -> Result<(), ClientError> {
    let response = request.send().await?;
    if response.status().is_success() {
        return Ok(());
    }
    Err(failure(response).await)
}

/// A success's body as `T`, or the error the answer is.
async fn read<T: DeserializeOwned>(response: reqwest::Response) -> Result<T, ClientError> {
    let status = response.status();
    if !status.is_success() {
        return Err(failure(response).await);
    }
    let bytes = response.bytes().await?;
    serde_json::from_slice(&bytes).map_err(|error| ClientError::Unreadable {
        status,
        detail: describe(&error),
    })
}

/// The error an unsuccessful answer is.
async fn failure(response: reqwest::Response) -> ClientError {
    let status = response.status();
    let retry_after = response
        .headers()
        .get(RETRY_AFTER)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse().ok());
    let bytes = match response.bytes().await {
        Ok(bytes) => bytes,
        Err(error) => return ClientError::Transport(error),
    };
    match serde_json::from_slice::<ErrorBody>(&bytes) {
        Ok(body) => ClientError::Api {
            status,
            body,
            retry_after,
        },
        Err(error) => ClientError::Unreadable {
            status,
            detail: describe(&error),
        },
    }
}

/// How a body failed to parse, without any of its text (serde's own message may quote it).
fn describe(error: &serde_json::Error) -> String {
    let kind = match error.classify() {
        serde_json::error::Category::Io => "could not be read",
        serde_json::error::Category::Syntax => "is not JSON",
        serde_json::error::Category::Data => "does not have the expected fields and types",
        serde_json::error::Category::Eof => "ends too soon",
    };
    format!(
        "the body {kind} (line {}, column {})",
        error.line(),
        error.column()
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_next_link_gives_the_next_query() {
        let next =
            UserQuery::from_next_link("</api/users?limit=2&after=b%C3%A9a&q=a%26b>; rel=\"next\"")
                .unwrap();
        assert_eq!(
            next,
            UserQuery {
                limit: Some(2),
                after: Some("béa".into()),
                q: Some("a&b".into()),
            }
        );
        assert_eq!(next.encode(), "limit=2&after=b%C3%A9a&q=a%26b");
        assert_eq!(
            UserQuery::from_next_link("</api/users?limit=2>; rel=\"prev\""),
            None
        );
        assert_eq!(UserQuery::default().encode(), "");
    }

    #[test]
    fn an_unreadable_body_is_described_without_its_text() {
        let error =
            serde_json::from_slice::<TokenResponse>(br#"{"access_token": 7, "x": "secret-token"}"#)
                .unwrap_err();
        let detail = describe(&error);
        assert!(
            !detail.contains("secret") && !detail.contains('7'),
            "{detail}"
        );
        assert!(detail.contains("expected fields"), "{detail}");
    }

    #[test]
    fn a_trailing_slash_is_dropped_from_the_base() {
        let client = Client::new("http://127.0.0.1:9/").unwrap();
        assert_eq!(client.base_url(), "http://127.0.0.1:9");
        assert_eq!(client.url("/api/auth/me"), "http://127.0.0.1:9/api/auth/me");
    }
}
