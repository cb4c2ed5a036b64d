//! Accept tessera's access tokens in another Rust service (a "resource server").
//!
//! A [`Verifier`] checks a bearer token exactly as tessera itself does — it runs tessera's own
//! [`TokenCodec::verify_cached`](tessera_token::TokenCodec::verify_cached): size, structure,
//! strict base64url, header allow-list, `kid` → key, `alg` equal to that key's algorithm,
//! signature, `typ: at+jwt`, then `exp`/`nbf`/`iat` (with the configured leeway), `iss`, `aud`
//! and the shape of every claim — and answers the token's [`Claims`] or a [`Rejection`] whose
//! [`reason`](Rejection::reason) is tessera's own reason code.
//!
//! Keys come from one of two places:
//! - [`Verifier::jwks`]: tessera's `/.well-known/jwks.json` (EdDSA, ES256, RS256), fetched and
//!   cached as the `jwks` module describes: refreshed after the response's `max-age`, refetched
//!   at most once per interval for an unknown `kid` (single flight, negative cache), previous
//!   keys kept when a fetch fails.
//! - [`Verifier::shared_secret`]: the HS256 secret tessera is configured with, turned into a key
//!   by tessera's pad/cut rule (see [`Verifier::shared_secret`]).
//!
//! For HTTP services, [`VerifyLayer`] (tower) refuses requests without a valid
//! `Authorization: Bearer` token — a refused token is `401` with
//! `WWW-Authenticate: Bearer error="invalid_token"` and `{"error":"invalid_token","reason":…}`,
//! a missing one `401` with `WWW-Authenticate: Bearer` and `{"error":"missing_token",…}` (as
//! tessera answers both), and `503` while no key set could be fetched — and puts the [`Claims`]
//! into the request's extensions; the axum extractor [`Authenticated`] takes them from there, or
//! verifies itself with the [`Verifier`] in the router's state.
//!
//! ```no_run
//! use axum::{Router, routing::get};
//! use tessera_verify::{Authenticated, TokenRules, Verifier};
//!
//! # fn build() -> Result<Router, tessera_verify::BuildError> {
//! let rules = TokenRules {
//!     issuer: "tessera".into(),
//!     audience: "tessera".into(),
//!     leeway_seconds: 30,
//! };
//! let verifier = Verifier::jwks("https://auth.example/.well-known/jwks.json", rules)?;
//! let app = Router::new()
//!     .route("/me", get(|Authenticated(claims): Authenticated| async move { claims.sub.clone() }))
//!     .with_state(verifier);
//! # Ok(app) }
//! ```
//!
//! A token alone cannot say that its user was deactivated or its session ended (tessera checks
//! both on every request it serves itself). [`Verifier::follow_revocations`] follows tessera's
//! revocation feed (the `revocations` module: one long poll, no call per token) and refuses
//! such tokens from the feed's answer on, and every token while the feed has been silent for
//! longer than its staleness limit. Without it, keep access tokens short-lived.
//!
//! Invariants: no token, secret or key material appears in an error, a log line or `Debug`
//! output; every failure is a rejection (fail closed) and no input makes this crate panic; time
//! is read from one injectable [`Clock`] only.

mod clock;
mod http;
mod jwks;
mod revocations;
mod secret;

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use tessera_token::{KeySet, SigningKey, TokenCodec};

pub use clock::{Clock, ManualClock, SystemClock};
pub use http::{Authenticated, VerifyLayer, VerifyService, bearer_token};
pub use jwks::{
    DEFAULT_MAX_AGE_SECONDS, DEFAULT_MIN_REFETCH_INTERVAL, FETCH_TIMEOUT, FetchError, JwksOptions,
    MAX_JWKS_BYTES, MAX_MAX_AGE_SECONDS, MIN_MAX_AGE_SECONDS,
};
pub use revocations::FeedOptions;
pub use secret::SecretError;
pub use tessera_token::{AccessClaims, TokenRules, VerifyError};

use jwks::JwksCache;

/// The verified claims of an access token (cheap to clone; dereferences to
/// [`tessera_token::AccessClaims`]: `sub`, `sid`, `name`, `roles`, `exp`, …).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claims(Arc<AccessClaims>);

impl Claims {
    /// The claims themselves.
    pub fn into_inner(self) -> Arc<AccessClaims> {
        self.0
    }
}

impl Deref for Claims {
    type Target = AccessClaims;

    fn deref(&self) -> &AccessClaims {
        &self.0
    }
}

/// Why a request or a token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Rejection {
    /// No `Authorization: Bearer` token (only [`VerifyLayer`] and [`Authenticated`] say this).
    #[error("an Authorization: Bearer token is required")]
    MissingToken,
    /// The token was refused; the error says why (never with the token's content).
    #[error("invalid token: {0}")]
    Invalid(VerifyError),
    /// No key set could be fetched from tessera yet, so no token can be checked (fail closed).
    #[error("the key set is unavailable; no token can be verified")]
    Unavailable,
    /// tessera's revocation feed says the token died: its user was deactivated or deleted
    /// after it was issued, its session ended, or the feed was reset after it was issued.
    #[error("the token was revoked")]
    Revoked,
    /// The revocation feed has not answered within its staleness limit, so no token can be
    /// trusted (fail closed).
    #[error("tessera's revocation feed is unavailable; no token can be trusted")]
    RevocationsUnavailable,
}

impl Rejection {
    /// A stable snake_case code: `missing_token`, `key_set_unavailable`, or tessera-token's
    /// [`VerifyError::reason`] (`expired`, `wrong_audience`, `bad_signature`, `unknown_key`, …).
    pub fn reason(&self) -> &'static str {
        match self {
            Rejection::MissingToken => "missing_token",
            Rejection::Invalid(error) => error.reason(),
            Rejection::Unavailable => "key_set_unavailable",
            Rejection::Revoked => "revoked",
            Rejection::RevocationsUnavailable => "revocation_feed_unavailable",
        }
    }
}

/// Why a [`Verifier`] could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The JWKS URL does not parse, or is not `http`/`https`.
    #[error("invalid JWKS URL: {0}")]
    Url(String),
    /// The rules are refused (empty issuer or audience, leeway above 60 s).
    #[error(transparent)]
    Rules(#[from] tessera_token::RulesError),
    /// The shared secret is empty or blank.
    #[error(transparent)]
    Secret(#[from] SecretError),
    /// The key could not be prepared.
    #[error(transparent)]
    Key(#[from] tessera_token::KeyError),
    /// The HTTP client could not be built.
    #[error("could not build the HTTP client: {0}")]
    HttpClient(String),
}

/// Verifies tessera access tokens. Cheap to clone (clones share the keys and their cache).
///
/// `Debug` shows where keys come from, never key material.
#[derive(Clone)]
pub struct Verifier {
    keys: Arc<Keys>,
    clock: Arc<dyn Clock>,
    revocations: Option<Arc<revocations::Revocations>>,
}

pub(crate) enum Keys {
    /// The shared HS256 secret: fixed for the verifier's life.
    Fixed(TokenCodec),
    /// Keys fetched from tessera's JWKS.
    Jwks(JwksCache),
}

impl Verifier {
    /// Verifies with the keys published at `url` (tessera's `/.well-known/jwks.json`), with the
    /// default [`JwksOptions`]. Nothing is fetched until the first token (or
    /// [`Verifier::refresh`]).
    ///
    /// Fetch it over `https` (with a [`JwksOptions::http_client`] that has TLS) unless the
    /// network between this service and tessera is trusted: whoever can change the key set can
    /// mint tokens.
    pub fn jwks(url: &str, rules: TokenRules) -> Result<Self, BuildError> {
        Self::jwks_with(url, rules, JwksOptions::default())
    }

    /// [`Verifier::jwks`] with options (refetch interval, HTTP client).
    pub fn jwks_with(
        url: &str,
        rules: TokenRules,
        options: JwksOptions,
    ) -> Result<Self, BuildError> {
        let url = reqwest::Url::parse(url).map_err(|error| BuildError::Url(error.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(BuildError::Url(format!(
                "scheme {} is not http or https",
                url.scheme()
            )));
        }
        // The rules are checked now, not at the first fetch.
        check_rules(&rules)?;
        if url.scheme() == "http" && !is_loopback(&url) {
            tracing::warn!(
                url = %jwks::redacted(&url),
                "the JWKS URL is plain http: whoever can change the key set on the way can mint \
                 tokens; use https unless the network is trusted"
            );
        }
        let cache = JwksCache::new(url, rules, options)
            .map_err(|error| BuildError::HttpClient(error.to_string()))?;
        Ok(Self {
            keys: Arc::new(Keys::Jwks(cache)),
            clock: Arc::new(SystemClock),
            revocations: None,
        })
    }

    /// Verifies HS256 tokens of a tessera configured with `TESSERA_JWT_SECRET=secret` (policy
    /// `pad`, the default): the secret becomes a key by tessera's rule — fewer than 32
    /// characters are padded with `-` to 32, more are cut to the first 32 (characters, not
    /// bytes); empty or blank is refused. Tokens with and without a `kid` are accepted.
    pub fn shared_secret(secret: &str, rules: TokenRules) -> Result<Self, BuildError> {
        Self::shared_secrets(secret, &[], rules)
    }

    /// [`Verifier::shared_secret`] that also accepts tokens signed with `previous` secrets
    /// (tessera's `TESSERA_JWT_PREVIOUS_SECRETS`, each under the same rule), so tokens issued
    /// before a secret rotation stay valid until they expire. Two secrets giving the same key
    /// are refused.
    pub fn shared_secrets(
        secret: &str,
        previous: &[&str],
        rules: TokenRules,
    ) -> Result<Self, BuildError> {
        let signing = SigningKey::from_bytes(&secret::padded_key(secret)?)?;
        let mut verifying = Vec::with_capacity(previous.len());
        for old in previous {
            verifying.push(SigningKey::from_bytes(&secret::padded_key(old)?)?.verifying_key());
        }
        let keys = KeySet::new(signing, verifying).map_err(|error| match error {
            tessera_token::KeyError::DuplicateKid { .. } => {
                BuildError::Secret(SecretError::Duplicate)
            }
            other => BuildError::Key(other),
        })?;
        Self::fixed(keys, rules)
    }

    /// Verifies HS256 tokens signed with exactly `key` (a tessera configured with
    /// `TESSERA_JWT_SECRET_POLICY=strict`: the secret's UTF-8 bytes, unchanged).
    pub fn shared_key(key: &[u8], rules: TokenRules) -> Result<Self, BuildError> {
        Self::fixed(
            KeySet::new(SigningKey::from_bytes(key)?, Vec::new())?,
            rules,
        )
    }

    fn fixed(keys: KeySet, rules: TokenRules) -> Result<Self, BuildError> {
        let codec = TokenCodec::new(keys, rules)?;
        Ok(Self {
            keys: Arc::new(Keys::Fixed(codec)),
            clock: Arc::new(SystemClock),
            revocations: None,
        })
    }

    /// The same verifier reading time from `clock` (tests: a [`ManualClock`]).
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Verifies `token` (the compact JWS, without `Bearer `) now.
    ///
    /// In JWKS mode this may fetch the key set first (see the `jwks` module docs): when none is
    /// loaded, when it is older than its `max-age`, or once per interval for an unknown `kid`.
    pub async fn verify(&self, token: &str) -> Result<Claims, Rejection> {
        let now = self.clock.now();
        let claims = match &*self.keys {
            Keys::Fixed(codec) => codec
                .verify_cached(token, now)
                .map(Claims)
                .map_err(Rejection::Invalid)?,
            Keys::Jwks(cache) => cache.verify(token, now).await?,
        };
        if let Some(revocations) = &self.revocations {
            revocations.check(&claims)?;
        }
        Ok(claims)
    }

    /// The same verifier, also following tessera's revocation feed at `url`
    /// (`https://AUTH/api/revocations`) as the API client `client_id` (`tessera client add`):
    /// a token whose user was deactivated or deleted after it was issued, or whose session
    /// ended, is refused ([`Rejection::Revoked`]) once the feed has said so, and every token is
    /// refused while the feed has not answered for [`FeedOptions::max_staleness`]. Must be
    /// called within a tokio runtime (it spawns the follower task, which stops when the last
    /// clone of the verifier is dropped).
    pub fn follow_revocations(
        mut self,
        url: &str,
        client_id: &str,
        client_secret: &str,
        options: FeedOptions,
    ) -> Result<Self, BuildError> {
        let url = reqwest::Url::parse(url).map_err(|error| BuildError::Url(error.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(BuildError::Url(format!(
                "scheme {} is not http or https",
                url.scheme()
            )));
        }
        let revocations = revocations::follow(
            url,
            client_id.to_owned(),
            zeroize::Zeroizing::new(client_secret.to_owned()),
            options,
            Arc::clone(&self.keys),
            Arc::clone(&self.clock),
        )
        .map_err(|error| BuildError::HttpClient(error.to_string()))?;
        self.revocations = Some(revocations);
        Ok(self)
    }

    /// The cursor of the revocation feed's last applied answer (`None` before the first, or
    /// without [`Verifier::follow_revocations`]).
    pub fn revocation_cursor(&self) -> Option<i64> {
        self.revocations.as_ref().and_then(|r| r.cursor())
    }

    /// Returns once the follower has applied another answer of the feed (never without
    /// [`Verifier::follow_revocations`]).
    pub async fn revocations_updated(&self) {
        match &self.revocations {
            Some(revocations) => revocations.updated().await,
            None => std::future::pending().await,
        }
    }

    /// Fetches the key set now, whatever the refetch interval says; `Ok` for a shared secret.
    ///
    /// Call it at start-up to fail fast (or log) when tessera cannot be reached; a failure keeps
    /// the previous keys.
    pub async fn refresh(&self) -> Result<(), FetchError> {
        match &*self.keys {
            Keys::Fixed(_) => Ok(()),
            Keys::Jwks(cache) => cache.refresh(self.clock.now()).await,
        }
    }
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &*self.keys {
            Keys::Fixed(_) => f
                .debug_struct("Verifier")
                .field("keys", &"shared HS256 secret")
                .finish_non_exhaustive(),
            Keys::Jwks(cache) => f
                .debug_struct("Verifier")
                .field("jwks", &cache.display_url())
                .finish_non_exhaustive(),
        }
    }
}

/// Whether `url` names this machine (plain http is then fine).
fn is_loopback(url: &reqwest::Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The same checks as [`TokenCodec::new`], without a key.
fn check_rules(rules: &TokenRules) -> Result<(), tessera_token::RulesError> {
    use tessera_token::{MAX_LEEWAY_SECONDS, RulesError};
    if rules.issuer.is_empty() {
        return Err(RulesError::EmptyIssuer);
    }
    if rules.audience.is_empty() {
        return Err(RulesError::EmptyAudience);
    }
    if rules.leeway_seconds > MAX_LEEWAY_SECONDS {
        return Err(RulesError::LeewayTooLarge {
            leeway_seconds: rules.leeway_seconds,
            max: MAX_LEEWAY_SECONDS,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn only_this_machine_counts_as_loopback() {
        for (url, loopback) in [
            ("http://127.0.0.1:8080/jwks", true),
            ("http://127.8.9.10/jwks", true),
            ("http://[::1]:8080/jwks", true),
            ("http://LocalHost/jwks", true),
            ("http://10.0.0.5/jwks", false),
            ("http://auth.example/jwks", false),
            ("http://localhost.example/jwks", false),
        ] {
            let parsed = reqwest::Url::parse(url).unwrap();
            assert_eq!(is_loopback(&parsed), loopback, "{url}");
        }
    }
}
