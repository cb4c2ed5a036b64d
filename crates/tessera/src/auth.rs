//! Logging in and checking access tokens: the rules that sit between HTTP and the
//! token core.
//!
//! Invariants:
//! - no path accepts an access token without loading its user and finding it active;
//! - unknown user, wrong password and inactive user take the same path through the
//!   password hasher and end in the same [`LoginError::InvalidCredentials`];
//! - throttling is consulted before any password work.

use std::net::IpAddr;
use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};
use tessera_store::{StoreError, UserId};
use tessera_token::{AccessClaims, IssuedToken, Subject, TokenCodec, VerifyError};

use crate::clock::SharedClock;
use crate::metrics::Metrics;
use crate::model::MAX_USERNAME_CHARS;
use crate::password::MAX_PASSWORD_CHARS;
use crate::throttle::{LoginThrottle, RetryAfter};
use crate::users::{UserView, Users};

/// A login attempt.
#[derive(Debug)]
pub struct LoginAttempt {
    /// As typed; normalised here.
    pub username: String,
    /// Exactly as received.
    pub password: SecretString,
    /// The client's address, for throttling.
    pub client: IpAddr,
}

/// A successful login.
#[derive(Debug)]
pub struct LoginSuccess {
    /// The access token and its claims.
    pub token: IssuedToken,
    /// The user it was issued to.
    pub user: UserView,
}

/// Why a login failed.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// Unknown user, wrong password or inactive user: deliberately one case.
    #[error("invalid username or password")]
    InvalidCredentials,
    /// Too many recent failures for this account or client.
    #[error("too many failed logins; retry in {} s", .0.0)]
    Throttled(RetryAfter),
    /// The password is longer than any accepted password.
    #[error("password is longer than {MAX_PASSWORD_CHARS} characters")]
    PasswordTooLong,
    /// Something on our side failed.
    #[error("login failed internally: {0}")]
    Internal(String),
}

/// Why an access token was refused.
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    /// The token itself is invalid.
    #[error(transparent)]
    Token(#[from] VerifyError),
    /// The token's `sub` is not a user id.
    #[error("token subject is not a user id")]
    BadSubject,
    /// The user no longer exists.
    #[error("token belongs to a user that no longer exists")]
    UnknownUser,
    /// The user has been set inactive.
    #[error("token belongs to an inactive user")]
    InactiveUser,
    /// The store could not be read.
    #[error("user lookup failed: {0}")]
    Store(#[from] StoreError),
}

impl AccessError {
    /// A stable snake_case code for metrics and logs.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Token(error) => error.reason(),
            Self::BadSubject => "bad_subject",
            Self::UnknownUser => "unknown_user",
            Self::InactiveUser => "inactive_user",
            Self::Store(_) => "store_error",
        }
    }
}

/// A verified token together with its user, as loaded for this request.
#[derive(Debug, Clone)]
pub struct Access {
    /// The token's claims.
    pub claims: AccessClaims,
    /// The user, current as of this request.
    pub user: Arc<UserView>,
}

/// Logs users in and checks tokens.
#[derive(Debug, Clone)]
pub struct Authenticator {
    /// Token issue and verification.
    pub codec: TokenCodec,
    /// Users and their cache.
    pub users: Users,
    /// Failed-login counters.
    pub throttle: Arc<LoginThrottle>,
    /// The clock.
    pub clock: SharedClock,
    /// Access-token lifetime in seconds.
    pub token_lifetime_seconds: i64,
    /// Counters for `/metrics`.
    pub metrics: Arc<Metrics>,
}

impl Authenticator {
    /// Checks credentials and issues an access token.
    pub async fn login(&self, attempt: LoginAttempt) -> Result<LoginSuccess, LoginError> {
        let result = self.try_login(attempt).await;
        self.metrics.login(match &result {
            Ok(_) => "success",
            Err(LoginError::InvalidCredentials) => "invalid_credentials",
            Err(LoginError::Throttled(_)) => "throttled",
            Err(LoginError::PasswordTooLong) => "invalid_request",
            Err(LoginError::Internal(_)) => "error",
        });
        result
    }

    async fn try_login(&self, attempt: LoginAttempt) -> Result<LoginSuccess, LoginError> {
        if attempt.password.expose_secret().chars().count() > MAX_PASSWORD_CHARS {
            return Err(LoginError::PasswordTooLong);
        }
        // No username is longer than MAX_USERNAME_CHARS, so a longer one is cut for the
        // throttle's key: still unique per real account, bounded in memory.
        let account: String = attempt
            .username
            .chars()
            .take(MAX_USERNAME_CHARS + 1)
            .collect::<String>()
            .to_ascii_lowercase();
        let now = self.clock.now();
        self.throttle
            .check(&account, attempt.client, now)
            .map_err(LoginError::Throttled)?;

        let user = self.users.for_login(&account).await.map_err(internal)?;
        let verification = self
            .users
            .passwords()
            .verify(
                user.as_ref().map(|u| u.password_hash.as_str()),
                &attempt.password,
            )
            .await
            .map_err(internal)?;
        let user = match user {
            Some(user) if verification.matches && user.active => user,
            _ => {
                self.throttle.record_failure(&account, attempt.client, now);
                return Err(LoginError::InvalidCredentials);
            }
        };
        self.throttle.record_success(&account);
        if verification.needs_rehash
            && let Err(error) = self.users.rehash(user.id, &attempt.password, now).await
        {
            tracing::warn!(user_id = %user.id, error = %error, "could not re-hash password");
        }
        let view = UserView::from(&user);
        let token = self.issue(&view, now).map_err(internal)?;
        Ok(LoginSuccess { token, user: view })
    }

    /// Issues an access token for `user` at `now`.
    pub fn issue(
        &self,
        user: &UserView,
        now: i64,
    ) -> Result<IssuedToken, tessera_token::IssueError> {
        let id = user.id.to_string();
        self.codec.issue(
            Subject {
                id: &id,
                name: &user.username,
                roles: &user.roles,
            },
            now,
            self.token_lifetime_seconds,
        )
    }

    /// Verifies a bearer token and loads its user; the user must exist and be active.
    pub async fn check(&self, token: &str) -> Result<Access, AccessError> {
        let result = self.try_check(token).await;
        match &result {
            Ok(_) => self.metrics.token_accepted(),
            Err(error) => self.metrics.token_rejected(error.reason()),
        }
        result
    }

    async fn try_check(&self, token: &str) -> Result<Access, AccessError> {
        let claims = self.codec.verify(token, self.clock.now())?;
        let id: UserId = claims.sub.parse().map_err(|_| AccessError::BadSubject)?;
        let user = self
            .users
            .cached(id)
            .await?
            .ok_or(AccessError::UnknownUser)?;
        if !user.active {
            return Err(AccessError::InactiveUser);
        }
        Ok(Access { claims, user })
    }
}

fn internal(error: impl std::fmt::Display) -> LoginError {
    LoginError::Internal(error.to_string())
}
