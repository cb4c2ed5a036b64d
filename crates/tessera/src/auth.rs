//! Logging in and checking access tokens: the rules that sit between HTTP and the
//! token core.
//!
//! Invariants:
//! - no path accepts an access token without loading its user and finding it active, and
//!   finding its session (`sid`) live;
//! - a refresh issues tokens only for a live session of an active user;
//! - unknown user, wrong password and inactive user take the same path through the
//!   password hasher and end in the same [`LoginError::InvalidCredentials`];
//! - throttling is consulted before any password work, and an attempt whose counters cannot
//!   be read or whose failure cannot be recorded is refused as unavailable (`503`), never
//!   let through unthrottled;
//! - every login attempt is logged at `info` (outcome, the username as typed, the user id
//!   when one was found, the client's address), never its password;
//! - a refused token's holder is told why ([`TokenReason`]); a failed login is not.

use std::net::IpAddr;
use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};
use tessera_store::{EndReason, Session, SessionId, StoreError, UserId};
use tessera_token::{AccessClaims, IssuedToken, RefreshToken, Subject, VerifyError};

use crate::clock::SharedClock;
use crate::cluster::{Cluster, OutOfDate};
use crate::metrics::Metrics;
use crate::model::{MAX_USERNAME_CHARS, NewPassword};
use crate::password::{MAX_PASSWORD_CHARS, PasswordError};
use crate::sessions::{Refreshed, SessionRefusal, Sessions, SessionsError};
use crate::throttle::{LoginThrottle, Refused, RetryAfter};
use crate::users::{UserView, Users, UsersError};

/// A login attempt.
#[derive(Debug)]
pub struct LoginAttempt {
    /// As typed; normalised here.
    pub username: String,
    /// Exactly as received.
    pub password: SecretString,
    /// The client's address, for throttling and the session record.
    pub client: IpAddr,
    /// The client's `User-Agent`, kept with the session.
    pub user_agent: String,
}

/// Tokens issued by a login or a refresh.
#[derive(Debug)]
pub struct Grant {
    /// The access token and its claims.
    pub token: IssuedToken,
    /// The refresh token to hand to the client.
    pub refresh_token: RefreshToken,
    /// The session both belong to.
    pub session: Session,
    /// The user they were issued to.
    pub user: UserView,
}

/// Why a token was refused, as its holder is told: in the `reason` of the `401` body and in
/// the `error_description` of `WWW-Authenticate`. Coarser than the metrics reasons, and
/// only ever about the presented token, its own session and its own user; never given for
/// a login.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenReason {
    /// The access token's `exp` has passed.
    TokenExpired,
    /// The access token's `nbf` is still ahead.
    TokenNotYetValid,
    /// The signature does not match this server's key.
    BadSignature,
    /// Not a well-formed token of its kind.
    MalformedToken,
    /// A JWT, but not an access token (`typ` is not `at+jwt`).
    WrongTokenType,
    /// Signed with an algorithm other than its key's.
    UnsupportedAlgorithm,
    /// Its `kid` names no key this server verifies with (revoked, removed, or another
    /// server's).
    UnknownKey,
    /// Issued by another issuer.
    WrongIssuer,
    /// Issued for another audience.
    WrongAudience,
    /// The token's session was ended (logout, a reused refresh token, an administrator, …).
    SessionEnded,
    /// The token's session passed its idle or absolute deadline.
    SessionExpired,
    /// The token's session is not known (purged after it ended, or never existed here).
    SessionUnknown,
    /// The token's user is deactivated.
    UserInactive,
    /// The token's user no longer exists.
    UserUnknown,
    /// No session knows this refresh token.
    TokenUnknown,
}

impl TokenReason {
    /// The stable snake_case code clients read.
    pub fn code(self) -> &'static str {
        match self {
            Self::TokenExpired => "token_expired",
            Self::TokenNotYetValid => "token_not_yet_valid",
            Self::BadSignature => "bad_signature",
            Self::MalformedToken => "malformed_token",
            Self::WrongTokenType => "wrong_token_type",
            Self::UnsupportedAlgorithm => "unsupported_algorithm",
            Self::UnknownKey => "unknown_key",
            Self::WrongIssuer => "wrong_issuer",
            Self::WrongAudience => "wrong_audience",
            Self::SessionEnded => "session_ended",
            Self::SessionExpired => "session_expired",
            Self::SessionUnknown => "session_unknown",
            Self::UserInactive => "user_inactive",
            Self::UserUnknown => "user_unknown",
            Self::TokenUnknown => "token_unknown",
        }
    }
}

/// A refused access token: the reason and a sentence for its holder, with no token, secret
/// or claim value in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRefusal {
    /// The machine-readable reason.
    pub reason: TokenReason,
    /// What happened and what to do, in one sentence.
    pub message: String,
}

/// Why a refresh was refused.
#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    /// Malformed, unknown, rotated after the grace window, or of an ended session or an
    /// inactive user; the reason is for the token's holder.
    #[error("invalid refresh token ({})", .0.code())]
    InvalidToken(TokenReason),
    /// The database was locked by another writer for too long; retrying may succeed.
    #[error("refresh failed, the database is busy: {0}")]
    Unavailable(String),
    /// This instance could not confirm it applied every recent change (see
    /// [`crate::cluster`]); another instance, or this one shortly, can answer.
    #[error("refresh refused: {0}")]
    OutOfDate(OutOfDate),
    /// Something on our side failed.
    #[error("refresh failed internally: {0}")]
    Internal(String),
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
    /// Password hashing is at capacity; nothing was counted against the account.
    #[error("too many logins at once; retry shortly")]
    Busy,
    /// The database was locked by another writer for too long; retrying may succeed.
    #[error("login failed, the database is busy: {0}")]
    Unavailable(String),
    /// Something on our side failed.
    #[error("login failed internally: {0}")]
    Internal(String),
}

/// Why a user's own password change was refused.
#[derive(Debug, thiserror::Error)]
pub enum PasswordChangeError {
    /// The current password given is not the user's: counted as a failed login.
    #[error("the current password is not correct")]
    WrongPassword,
    /// Too many recent failures for this account or client.
    #[error("too many failed password checks; retry in {} s", .0.0)]
    Throttled(RetryAfter),
    /// Password hashing is at capacity; nothing was counted against the account.
    #[error("too many password checks at once; retry shortly")]
    Busy,
    /// The database was locked by another writer for too long; retrying may succeed.
    #[error("password change failed, the database is busy: {0}")]
    Unavailable(String),
    /// Writing the new password failed (the user vanished, the store failed, hashing failed).
    #[error(transparent)]
    Users(#[from] UsersError),
    /// Something on our side failed.
    #[error("password change failed internally: {0}")]
    Internal(String),
}

/// A user's own password change, made with a valid access token.
#[derive(Debug)]
pub struct PasswordChange {
    /// The user's current password, exactly as received.
    pub current: SecretString,
    /// The new password, already checked against the policy.
    pub new: NewPassword,
    /// The client's address, for throttling.
    pub client: IpAddr,
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
    /// The token's `sid` is not a session id.
    #[error("token session id is not a session id")]
    BadSession,
    /// The token's session does not back it any more.
    #[error(transparent)]
    Session(SessionRefusal),
    /// The store could not be read.
    #[error("user lookup failed: {0}")]
    Store(#[from] StoreError),
    /// This instance could not confirm it applied every recent change, so its caches may be
    /// stale (see [`crate::cluster`]).
    #[error(transparent)]
    OutOfDate(OutOfDate),
}

impl AccessError {
    /// Whether the check could not be made (the store or the lease failed): no answer about
    /// the token itself.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Store(_) | Self::OutOfDate(_))
    }

    /// A stable snake_case code for metrics and logs.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Token(error) => error.reason(),
            Self::BadSubject => "bad_subject",
            Self::UnknownUser => "unknown_user",
            Self::InactiveUser => "inactive_user",
            Self::BadSession => "bad_session",
            Self::Session(refusal) => refusal.reason(),
            Self::Store(_) => "store_error",
            Self::OutOfDate(_) => "instance_out_of_date",
        }
    }

    /// What the token's holder is told; `None` for a store failure, which is not the
    /// token's fault.
    pub fn refusal(&self) -> Option<TokenRefusal> {
        use TokenReason as R;
        let (reason, message) = match self {
            Self::Token(error) => match error {
                VerifyError::Expired { .. } => (
                    R::TokenExpired,
                    format!("the access {error}; refresh it or log in again"),
                ),
                VerifyError::NotYetValid { .. } => (
                    R::TokenNotYetValid,
                    format!("the access {error}; check the clocks of the issuer and this server"),
                ),
                VerifyError::BadSignature => (
                    R::BadSignature,
                    "the access token's signature does not match this server's key (another \
                     server issued it, or the key changed); log in again"
                        .to_owned(),
                ),
                VerifyError::UnsupportedAlgorithm => (
                    R::UnsupportedAlgorithm,
                    "the access token is not signed with the algorithm of its key".to_owned(),
                ),
                VerifyError::UnknownKey => (
                    R::UnknownKey,
                    "the access token's key (kid) is not one this server verifies with: it was \
                     revoked or removed, or another server issued the token; log in again"
                        .to_owned(),
                ),
                VerifyError::WrongTokenType => (
                    R::WrongTokenType,
                    "the token is not an access token (its typ is not at+jwt)".to_owned(),
                ),
                VerifyError::WrongIssuer => (
                    R::WrongIssuer,
                    "the access token was issued by another issuer".to_owned(),
                ),
                VerifyError::WrongAudience => (
                    R::WrongAudience,
                    "the access token was issued for another audience".to_owned(),
                ),
                VerifyError::TooLarge
                | VerifyError::Malformed(_)
                | VerifyError::ForbiddenHeader(_)
                | VerifyError::UnknownCrit
                | VerifyError::InvalidClaims(_) => (
                    R::MalformedToken,
                    format!("the access token is not well formed: {error}"),
                ),
            },
            Self::BadSubject | Self::BadSession => (
                R::MalformedToken,
                format!("the access token is not well formed: {self}"),
            ),
            Self::UnknownUser => (
                R::UserUnknown,
                "the access token's user no longer exists".to_owned(),
            ),
            Self::InactiveUser => (
                R::UserInactive,
                "the access token's user is deactivated".to_owned(),
            ),
            Self::Session(SessionRefusal::Ended) => (
                R::SessionEnded,
                "the access token's session was ended (a logout, a password change or an \
                 administrator); log in again"
                    .to_owned(),
            ),
            Self::Session(SessionRefusal::Expired) => (
                R::SessionExpired,
                "the access token's session expired; log in again".to_owned(),
            ),
            Self::Session(SessionRefusal::Unknown) => (
                R::SessionUnknown,
                "the access token's session no longer exists; log in again".to_owned(),
            ),
            Self::Store(_) | Self::OutOfDate(_) => return None,
        };
        Some(TokenRefusal { reason, message })
    }
}

/// A verified token together with its user, as loaded for this request.
#[derive(Debug, Clone)]
pub struct Access {
    /// The token's claims (shared with the codec's memory of recently verified tokens).
    pub claims: Arc<AccessClaims>,
    /// The user, current as of this request.
    pub user: Arc<UserView>,
    /// The session the token belongs to, live as of this request.
    pub session_id: SessionId,
    /// The instant (Unix seconds) the token was checked at.
    pub checked_at: i64,
}

/// Logs users in and checks tokens.
#[derive(Debug, Clone)]
pub struct Authenticator {
    /// The signing keys: token issue and verification.
    pub keys: crate::keys::Keys,
    /// The API clients allowed to introspect and revoke tokens.
    pub clients: crate::clients::Clients,
    /// Users and their cache.
    pub users: Users,
    /// Sessions and their cache.
    pub sessions: Sessions,
    /// Whether a login ends the user's other sessions.
    pub single_session: bool,
    /// Failed-login counters.
    pub throttle: Arc<LoginThrottle>,
    /// The clock.
    pub clock: SharedClock,
    /// Access-token lifetime in seconds.
    pub token_lifetime_seconds: i64,
    /// Counters for `/metrics`.
    pub metrics: Arc<Metrics>,
    /// This instance among those on the same database: the lease token checks depend on.
    pub cluster: Cluster,
}

impl Authenticator {
    /// Checks credentials and issues an access token. Every attempt is counted and logged
    /// at `info`: outcome, the username as typed (cut short; escaped by the log format),
    /// the user's id when one was found, and the client's address; never the password.
    pub async fn login(&self, attempt: LoginAttempt) -> Result<Grant, LoginError> {
        let username = loggable_username(&attempt.username);
        let client = attempt.client;
        let mut user_id = None;
        let result = self.try_login(attempt, &mut user_id).await;
        let outcome = match &result {
            Ok(_) => "success",
            Err(LoginError::InvalidCredentials) => "invalid_credentials",
            Err(LoginError::Throttled(_)) => "throttled",
            Err(LoginError::PasswordTooLong) => "invalid_request",
            Err(LoginError::Busy) => "busy",
            Err(LoginError::Unavailable(_)) => "database_busy",
            Err(LoginError::Internal(_)) => "error",
        };
        self.metrics.login(outcome);
        tracing::info!(
            outcome = %outcome,
            username = ?username,
            user_id = user_id.as_ref().map(tracing::field::display),
            client = %client,
            "login"
        );
        result
    }

    /// Sets `user_id` as soon as the username names a user.
    async fn try_login(
        &self,
        attempt: LoginAttempt,
        user_id: &mut Option<UserId>,
    ) -> Result<Grant, LoginError> {
        if attempt.password.expose_secret().chars().count() > MAX_PASSWORD_CHARS {
            return Err(LoginError::PasswordTooLong);
        }
        // No username is longer than MAX_USERNAME_CHARS, so a longer one is cut for the
        // throttle's key: still unique per real account, bounded in the database.
        let account: String = attempt
            .username
            .chars()
            .take(MAX_USERNAME_CHARS + 1)
            .collect::<String>()
            .to_ascii_lowercase();
        let now = self.clock.now();
        let checked = self
            .throttle
            .check(&account, attempt.client, now)
            .await
            .map_err(|refused| match refused {
                Refused::Throttled(wait) => LoginError::Throttled(wait),
                // Fail closed: without the counters, no attempt goes ahead.
                Refused::Unavailable(error) => LoginError::Unavailable(describe(&error)),
            })?;

        let user = self
            .users
            .for_login(&account)
            .await
            .map_err(|error| login_failure(error.is_busy(), &error))?;
        *user_id = user.as_ref().map(|user| user.id);
        let verification = self
            .users
            .passwords()
            .verify(
                user.as_ref().map(|u| u.password_hash.as_str()),
                &attempt.password,
            )
            .await
            .map_err(|error| match error {
                PasswordError::Busy => LoginError::Busy,
                other => internal(other),
            })?;
        let user = match user {
            Some(user) if verification.matches && user.active => user,
            _ => {
                // A failure that cannot be counted is not answered as one: the client could
                // otherwise keep guessing while the store refuses writes.
                self.throttle
                    .record_failure(&account, attempt.client, now)
                    .await
                    .map_err(|error| LoginError::Unavailable(describe(&error)))?;
                return Err(LoginError::InvalidCredentials);
            }
        };
        if let Err(error) = self.throttle.record_success(checked, &account, now).await {
            // The user proved the password; stale failures only count against it later.
            tracing::warn!(error = %describe(&error), "could not clear the account's failed logins");
        }
        if verification.needs_rehash
            && let Err(error) = self.users.rehash(user.id, &attempt.password, now).await
        {
            tracing::warn!(user_id = %user.id, error = %error, "could not re-hash password");
        }
        let (session, refresh_token) = self
            .sessions
            .start(user.id, attempt.client, &attempt.user_agent, now)
            .await
            .map_err(|error| match error {
                // Deleted since its password was checked: as if it had never existed.
                SessionsError::Store(StoreError::UserNotFound) => LoginError::InvalidCredentials,
                other => login_failure(other.is_busy(), &other),
            })?;
        if self.single_session {
            self.sessions
                .end_all_of(user.id, Some(session.id), EndReason::SingleSession, now)
                .await
                .map_err(|error| login_failure(error.is_busy(), &error))?;
        }
        let view = UserView::from(&user);
        let token = self.issue(&view, session.id, now).map_err(internal)?;
        Ok(Grant {
            token,
            refresh_token,
            session,
            user: view,
        })
    }

    /// Changes the password of the token's user, who must prove the current one: ends every
    /// other session of the user and keeps the token's own; returns how many ended. The
    /// current password is checked exactly as a login checks one, under the same throttle
    /// (per account and per client, consulted before any password work): a wrong one is
    /// recorded as a failed login, so a stolen access token cannot be used to guess the
    /// password faster than the login form allows. Every attempt is logged at `info`
    /// (outcome, user id, client), never a password.
    pub async fn change_own_password(
        &self,
        access: &Access,
        change: PasswordChange,
    ) -> Result<u64, PasswordChangeError> {
        let client = change.client;
        let result = self.try_change_own_password(access, change).await;
        let outcome = match &result {
            Ok(_) => "success",
            Err(PasswordChangeError::WrongPassword) => "wrong_password",
            Err(PasswordChangeError::Throttled(_)) => "throttled",
            Err(PasswordChangeError::Busy) => "busy",
            Err(PasswordChangeError::Unavailable(_)) => "database_busy",
            Err(PasswordChangeError::Users(_) | PasswordChangeError::Internal(_)) => "error",
        };
        tracing::info!(
            outcome = %outcome,
            user_id = %access.user.id,
            session_id = %access.session_id,
            client = %client,
            "password change"
        );
        result
    }

    async fn try_change_own_password(
        &self,
        access: &Access,
        change: PasswordChange,
    ) -> Result<u64, PasswordChangeError> {
        // The login's throttle key for this account: its normalised username.
        let account = access.user.username.to_ascii_lowercase();
        let now = self.clock.now();
        let checked = self
            .throttle
            .check(&account, change.client, now)
            .await
            .map_err(|refused| match refused {
                Refused::Throttled(wait) => PasswordChangeError::Throttled(wait),
                Refused::Unavailable(error) => PasswordChangeError::Unavailable(describe(&error)),
            })?;
        let user = self
            .users
            .with_hash(access.user.id)
            .await
            .map_err(|error| change_failure(error.is_busy(), &error))?;
        // No stored password is longer than any accepted one: such a password is wrong,
        // and not worth hashing.
        let too_long = change.current.expose_secret().chars().count() > MAX_PASSWORD_CHARS;
        let matches = if too_long {
            false
        } else {
            self.users
                .passwords()
                .verify(
                    user.as_ref().map(|user| user.password_hash.as_str()),
                    &change.current,
                )
                .await
                .map_err(|error| match error {
                    PasswordError::Busy => PasswordChangeError::Busy,
                    other => PasswordChangeError::Internal(describe(&other)),
                })?
                .matches
        };
        if !matches {
            // As for a login: a failure that cannot be counted is not answered as one.
            self.throttle
                .record_failure(&account, change.client, now)
                .await
                .map_err(|error| PasswordChangeError::Unavailable(describe(&error)))?;
            return Err(PasswordChangeError::WrongPassword);
        }
        if let Err(error) = self.throttle.record_success(checked, &account, now).await {
            tracing::warn!(error = %describe(&error), "could not clear the account's failed logins");
        }
        let ended = self
            .users
            .change_own_password(access.user.id, access.session_id, &change.new, now)
            .await?;
        Ok(ended)
    }

    /// Trades a refresh token for a new access token and a new refresh token.
    pub async fn refresh(&self, presented: &str) -> Result<Grant, RefreshError> {
        let (result, outcome) = match RefreshToken::parse(presented) {
            Ok(presented) => self.try_refresh(&presented).await,
            Err(_) => (
                Err(RefreshError::InvalidToken(TokenReason::MalformedToken)),
                "malformed",
            ),
        };
        self.metrics.refresh(outcome);
        result
    }

    async fn try_refresh(
        &self,
        presented: &RefreshToken,
    ) -> (Result<Grant, RefreshError>, &'static str) {
        if let Err(out_of_date) = self.cluster.check_fresh() {
            return (Err(RefreshError::OutOfDate(out_of_date)), "out_of_date");
        }
        let now = self.clock.now();
        let refreshed = match self.sessions.refresh(presented, now).await {
            Ok(refreshed) => refreshed,
            Err(error) => return refresh_failure(error.is_busy(), &error),
        };
        let (session, refresh_token, outcome) = match refreshed {
            Refreshed::Rotated(session, token) => (session, token, "rotated"),
            Refreshed::Repeated(session, token) => (session, token, "repeated_within_grace"),
            Refreshed::ReuseDetected(session) => {
                tracing::warn!(
                    session_id = %session.id,
                    user_id = %session.user_id,
                    "a rotated refresh token was presented again: the session is ended"
                );
                let refused = RefreshError::InvalidToken(TokenReason::SessionEnded);
                return (Err(refused), "reuse_detected");
            }
            Refreshed::Ended => {
                let refused = RefreshError::InvalidToken(TokenReason::SessionEnded);
                return (Err(refused), "ended");
            }
            Refreshed::Unknown => {
                let refused = RefreshError::InvalidToken(TokenReason::TokenUnknown);
                return (Err(refused), "unknown");
            }
        };
        let user = match self.users.cached(session.user_id).await {
            Ok(Some(user)) if user.active => user,
            Ok(_) => {
                let refused = RefreshError::InvalidToken(TokenReason::UserInactive);
                return (Err(refused), "inactive_user");
            }
            Err(error) => return refresh_failure(error.is_busy(), &error),
        };
        match self.issue(&user, session.id, now) {
            Ok(token) => (
                Ok(Grant {
                    token,
                    refresh_token,
                    session,
                    user: user.as_ref().clone(),
                }),
                outcome,
            ),
            Err(error) => (Err(RefreshError::Internal(describe(&error))), "error"),
        }
    }

    /// Issues an access token for `user` in `session` at `now`.
    pub fn issue(
        &self,
        user: &UserView,
        session: SessionId,
        now: i64,
    ) -> Result<IssuedToken, tessera_token::IssueError> {
        let id = user.id.to_string();
        let session_id = session.to_string();
        self.keys.loaded().codec.issue(
            Subject {
                id: &id,
                session_id: &session_id,
                name: &user.username,
                roles: &user.roles,
            },
            now,
            self.token_lifetime_seconds,
        )
    }

    /// Closes the store, leaving every write in the main database file; call once, when the
    /// process is done with it. A failure is logged: the writes themselves are already safe.
    pub async fn close(&self) {
        if let Err(error) = self.users.close_store().await {
            tracing::warn!(error = %describe(&error), "could not close the database cleanly");
        }
    }

    /// Applies the change feed up to its end now (what the follower does on its own every
    /// poll interval or notification), and renews this instance's lease.
    pub async fn catch_up(&self) -> Result<(), StoreError> {
        let (users, sessions) = (&self.users, &self.sessions);
        self.cluster
            .round(true, |evict| {
                crate::cluster::evict_from(users, sessions, evict)
            })
            .await
    }

    /// Store calls caused by requests (the per-request checks should cause none while the
    /// caches are warm).
    pub fn store_calls(&self) -> u64 {
        self.users.store_calls() + self.sessions.store_calls()
    }

    /// The session a token belongs to, for revocation (RFC 7009): a refresh token's, current or
    /// rotated, or a verifying access token's; `None` for anything else.
    pub async fn session_of(&self, token: &str, now: i64) -> Result<Option<SessionId>, StoreError> {
        if let Ok(refresh) = RefreshToken::parse(token) {
            return self
                .users
                .store()
                .session_of_refresh_token(&refresh.lookup_hash())
                .await;
        }
        Ok(self
            .keys
            .loaded()
            .codec
            .verify(token, now)
            .ok()
            .and_then(|claims| claims.sid.parse().ok()))
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
        self.cluster.check_fresh().map_err(AccessError::OutOfDate)?;
        let now = self.clock.now();
        let claims = self.keys.loaded().codec.verify_cached(token, now)?;
        let id: UserId = claims.sub.parse().map_err(|_| AccessError::BadSubject)?;
        let session_id: SessionId = claims.sid.parse().map_err(|_| AccessError::BadSession)?;
        let user = self
            .users
            .cached(id)
            .await?
            .ok_or(AccessError::UnknownUser)?;
        if !user.active {
            return Err(AccessError::InactiveUser);
        }
        self.sessions
            .check(session_id, id, now)
            .await?
            .map_err(AccessError::Session)?;
        Ok(Access {
            claims,
            user,
            session_id,
            checked_at: now,
        })
    }
}

/// The username of a login attempt as it may be logged: at most [`MAX_USERNAME_CHARS`]
/// characters (no account has a longer name), then `…`. Logged with `?`, so quotes and
/// control characters are escaped and a username cannot forge a log line.
fn loggable_username(typed: &str) -> String {
    let mut chars = typed.chars();
    let mut shown: String = chars.by_ref().take(MAX_USERNAME_CHARS).collect();
    if chars.next().is_some() {
        shown.push('…');
    }
    shown
}

fn internal(error: impl std::error::Error) -> LoginError {
    LoginError::Internal(describe(&error))
}

/// A failed store call during a login: a busy database is its own case.
fn login_failure(busy: bool, error: &dyn std::error::Error) -> LoginError {
    if busy {
        LoginError::Unavailable(describe(error))
    } else {
        LoginError::Internal(describe(error))
    }
}

/// A failed store call during a password change: a busy database is its own case.
fn change_failure(busy: bool, error: &dyn std::error::Error) -> PasswordChangeError {
    if busy {
        PasswordChangeError::Unavailable(describe(error))
    } else {
        PasswordChangeError::Internal(describe(error))
    }
}

/// A failed store call during a refresh, with its metrics outcome.
fn refresh_failure(
    busy: bool,
    error: &dyn std::error::Error,
) -> (Result<Grant, RefreshError>, &'static str) {
    if busy {
        (
            Err(RefreshError::Unavailable(describe(error))),
            "database_busy",
        )
    } else {
        (Err(RefreshError::Internal(describe(error))), "error")
    }
}

/// An error and its causes, joined with ": ", for the log (never for a client: a cause may
/// name a table or a host). A cause whose text its error already ends with (sqlx repeats an
/// I/O error in its own message) is not repeated.
pub(crate) fn describe(error: &dyn std::error::Error) -> String {
    join_causes(std::iter::successors(Some(error), |error| error.source()).map(ToString::to_string))
}

/// Texts of an error and its causes, outermost first, joined with ": ", each left out when the
/// text before it already ends with it.
pub(crate) fn join_causes(texts: impl IntoIterator<Item = String>) -> String {
    let mut joined = String::new();
    for text in texts {
        if text.is_empty() || joined.ends_with(text.as_str()) {
            continue;
        }
        if !joined.is_empty() {
            joined.push_str(": ");
        }
        joined.push_str(&text);
    }
    joined
}
