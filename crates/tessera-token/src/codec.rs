//! [`TokenCodec`]: issue and strictly verify access tokens with a [`KeySet`] under fixed
//! [`TokenRules`].
//!
//! Issuing signs with the set's signing key through aws-lc-rs directly rather than through
//! `jsonwebtoken`: `jsonwebtoken`'s `Header` serializes `typ` before `alg` and cannot produce
//! exactly `{"alg":…,"typ":"at+jwt","kid":…}`, whose precomputed encoding is the verify fast path.
//!
//! Invariant: `now` is always a parameter; nothing here reads the clock or does I/O.

use std::fmt;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::claims::{self, AccessClaims};
use crate::jws::{self, Keys};
use crate::recent::RecentTokens;
use crate::{IssueError, KeySet, MAX_TOKEN_BYTES, RulesError, VerifyError};

/// The largest clock leeway [`TokenCodec::new`] accepts (RFC 8725 asks for a small one).
pub const MAX_LEEWAY_SECONDS: u64 = 60;

/// What every access token must say, fixed when the codec is built.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenRules {
    /// The `iss` every token carries and must match exactly.
    pub issuer: String,
    /// The `aud` every token carries and must contain.
    pub audience: String,
    /// Clock skew tolerated on `exp`, `nbf` and `iat`; at most [`MAX_LEEWAY_SECONDS`].
    pub leeway_seconds: u64,
}

/// The user a token is issued for.
#[derive(Clone, Copy, Debug)]
pub struct Subject<'a> {
    /// The user id, carried as `sub`; must not be empty.
    pub id: &'a str,
    /// The session the token belongs to, carried as `sid`; must not be empty.
    pub session_id: &'a str,
    /// The display name, carried as `name`.
    pub name: &'a str,
    /// The roles, carried as `roles`.
    pub roles: &'a [String],
}

/// A freshly issued token and the claims inside it.
///
/// `Debug` redacts the token: it is a bearer credential.
#[derive(Clone, PartialEq, Eq)]
pub struct IssuedToken {
    /// The compact JWS to hand to the client.
    pub token: String,
    /// The claims signed into `token`.
    pub claims: AccessClaims,
}

impl fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedToken")
            .field("token", &"<redacted>")
            .field("claims", &self.claims)
            .finish()
    }
}

/// Issues and verifies access tokens with one key set under one set of rules.
///
/// `Debug` shows the rules and the keys' algorithms and kids, never key material or tokens.
/// Clones share the cache of [`TokenCodec::verify_cached`].
#[derive(Clone, Debug)]
pub struct TokenCodec {
    keys: KeySet,
    rules: TokenRules,
    recent: Arc<RecentTokens>,
}

impl TokenCodec {
    /// Builds a codec; refuses an empty issuer or audience and a leeway above
    /// [`MAX_LEEWAY_SECONDS`]. `keys` is a [`KeySet`], or a single
    /// [`SigningKey`](crate::SigningKey) (a set of one).
    pub fn new(keys: impl Into<KeySet>, rules: TokenRules) -> Result<Self, RulesError> {
        let keys = keys.into();
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
        Ok(Self {
            keys,
            rules,
            recent: Arc::new(RecentTokens::new()),
        })
    }

    /// The keys this codec signs with and verifies against.
    pub fn keys(&self) -> &KeySet {
        &self.keys
    }

    /// The rules this codec issues and verifies under.
    pub fn rules(&self) -> &TokenRules {
        &self.rules
    }

    /// Issues a token for `subject` (user `sub`, session `sid`) valid from `now`
    /// (`iat = nbf = now`) until `now + lifetime_seconds`, with a `jti` of 128 random bits, signed
    /// by the set's signing key under `{"alg":…,"typ":"at+jwt","kid":…}`. A verify-only set is
    /// [`IssueError::NoSigningKey`].
    pub fn issue(
        &self,
        subject: Subject<'_>,
        now: i64,
        lifetime_seconds: i64,
    ) -> Result<IssuedToken, IssueError> {
        let key = self.keys.signing().ok_or(IssueError::NoSigningKey)?;
        if subject.id.is_empty() {
            return Err(IssueError::EmptySubject);
        }
        if subject.session_id.is_empty() {
            return Err(IssueError::EmptySessionId);
        }
        if lifetime_seconds <= 0 {
            return Err(IssueError::InvalidLifetime { lifetime_seconds });
        }
        let exp = now
            .checked_add(lifetime_seconds)
            .ok_or(IssueError::TimeOverflow)?;
        let claims = AccessClaims {
            iss: self.rules.issuer.clone(),
            aud: self.rules.audience.clone(),
            sub: subject.id.to_owned(),
            sid: subject.session_id.to_owned(),
            iat: now,
            nbf: now,
            exp,
            jti: new_token_id()?,
            name: subject.name.to_owned(),
            roles: subject.roles.to_vec(),
        };
        let payload = serde_json::to_vec(&claims).map_err(|_| IssueError::Encoding)?;
        let token = jws::sign_compact(key, &payload)?;
        if token.len() > MAX_TOKEN_BYTES {
            return Err(IssueError::TooLarge {
                len: token.len(),
                max: MAX_TOKEN_BYTES,
            });
        }
        Ok(IssuedToken { token, claims })
    }

    /// Verifies `token` at `now`: the signature layer (as [`crate::verify_signature`], with the
    /// key chosen by the header's `kid` among the set's keys and the algorithm pinned to that
    /// key), then `typ: at+jwt`, then the claims. Any failure is a rejection.
    pub fn verify(&self, token: &str, now: i64) -> Result<AccessClaims, VerifyError> {
        let mut buffer = jws::PayloadBuffer::new();
        let (header, payload) = jws::verify_compact(Keys::Set(&self.keys), token, &mut buffer)?;
        header.check_access_token_type()?;
        claims::check_claims(&payload, &self.rules, now)
    }

    /// [`TokenCodec::verify`] with a memory: a token that verified before is recognised by an
    /// exact comparison of all its bytes and only has its time claims (`exp`, `nbf`, `iat`)
    /// checked again; everything else a full verify checks depends on nothing but the token and
    /// this codec. Answers exactly as `verify` would, for every token and every `now`.
    pub fn verify_cached(&self, token: &str, now: i64) -> Result<Arc<AccessClaims>, VerifyError> {
        if let Some(claims) = self.recent.get(token) {
            return match claims::check_times(&claims, &self.rules, now) {
                Ok(()) => Ok(claims),
                Err(error) => {
                    self.recent.forget(token);
                    Err(error)
                }
            };
        }
        let claims = Arc::new(self.verify(token, now)?);
        self.recent.remember(token, Arc::clone(&claims));
        Ok(claims)
    }

    /// Signs and verifies a throwaway token, so a broken crypto backend is found at start-up as
    /// an error rather than on the first request.
    pub fn self_test(&self) -> Result<(), IssueError> {
        // A fixed instant: the self-test must not read the clock either.
        const SELF_TEST_NOW: i64 = 1_000_000_000;
        let roles = ["self-test".to_owned()];
        let subject = Subject {
            id: "self-test",
            session_id: "self-test",
            name: "self-test",
            roles: &roles,
        };
        let issued = self.issue(subject, SELF_TEST_NOW, 60)?;
        match self.verify(&issued.token, SELF_TEST_NOW) {
            Ok(claims) if claims == issued.claims => {}
            Ok(_) => {
                return Err(IssueError::SelfTest(
                    "verified claims differ from issued claims",
                ));
            }
            Err(_) => {
                return Err(IssueError::SelfTest(
                    "a freshly issued token did not verify",
                ));
            }
        }
        let mut tampered = issued.token.into_bytes();
        if let Some(last) = tampered.last_mut() {
            *last = if *last == b'A' { b'E' } else { b'A' };
        }
        let tampered = String::from_utf8(tampered)
            .map_err(|_| IssueError::SelfTest("tampered token is not UTF-8"))?;
        match self.verify(&tampered, SELF_TEST_NOW) {
            Err(_) => Ok(()),
            Ok(_) => Err(IssueError::SelfTest("a tampered token verified")),
        }
    }
}

/// 128 bits from the operating system's CSPRNG, base64url without padding (22 characters).
fn new_token_id() -> Result<String, IssueError> {
    let mut bytes = [0_u8; 16];
    getrandom::fill(&mut bytes).map_err(|_| IssueError::Randomness)?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}
