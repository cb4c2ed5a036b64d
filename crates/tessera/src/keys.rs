//! The signing keys: which key signs, which keys verify, what the key set publishes, and the
//! life of the keys tessera keeps in its database.
//!
//! Three sources, chosen by the settings:
//! - **the JWT secret** (`TESSERA_JWT_ALGORITHM=HS256`, the default): the seeds' secret signs;
//!   `TESSERA_JWT_PREVIOUS_SECRETS` verify and never sign. Nothing is published.
//! - **a PEM file** (`TESSERA_JWT_PRIVATE_KEY_FILE`): its key signs; rotating it is the
//!   operator's business outside tessera.
//! - **the database** (an asymmetric algorithm without a key file): tessera generates the keys,
//!   keeps their private parts sealed under `TESSERA_KEY_ENCRYPTION_SECRET`, and moves them
//!   through *next* (published, not signing) → *current* (signing) → *retired* (verifying until
//!   the longest token it signed has expired, plus the leeway) → removed; *revoked* is refused
//!   at once. A next key is always kept published, so that at a rotation the key that starts
//!   signing has been in every verifier's cached key set for at least one cache lifetime
//!   (`TESSERA_JWKS_MAX_AGE_SECONDS`): a rotation refuses a younger next key unless forced.
//!
//! In every mode the keys found in the database that are not revoked also verify (an operator
//! moving back to HS256 keeps the tokens already issued valid until they expire), and the
//! asymmetric ones are published.
//!
//! Invariants: the codec in use is replaced whole (a token is checked against one consistent
//! key set); every write to the keys goes through the store, whose change feed makes every
//! instance reload ([`Keys::reload`], called by the follower before it reports a change
//! applied), so a revocation is refused everywhere once the revoking command has returned.

use std::fmt;
use std::path::Path;
use std::sync::{Arc, RwLock};

use anyhow::Context as _;
use secrecy::{ExposeSecret as _, SecretString};
use tessera_config::{JwtAlgorithm, Settings};
use tessera_store::{KeyState, NewKey, Store, StoreError, StoredKey};
use tessera_token::seal::{open_private_key, seal_private_key};
use tessera_token::{
    Algorithm, KeySet, SigningKey, TokenCodec, TokenRules, VerifyingKey, jwk_set, parse_jwk_set,
};

/// How long a revoked key's row is kept after its revocation, so that operators see it in
/// `keys list` and verifiers following the revocation feed learn of it (a day).
const KEEP_REVOKED_SECONDS: i64 = 24 * 60 * 60;

/// The key set as published at `/.well-known/jwks.json`.
#[derive(Debug, Clone)]
pub struct Jwks {
    /// The JSON document.
    pub body: Arc<str>,
    /// A strong validator of `body`.
    pub etag: Arc<str>,
}

/// What signs and verifies right now, replaced whole on every reload.
#[derive(Debug)]
pub struct Loaded {
    /// Issues with the signing key; verifies against every key of the set.
    pub codec: TokenCodec,
    /// The published key set.
    pub jwks: Jwks,
}

/// Where the signing key comes from.
enum Source {
    /// The JWT secret signs (HS256).
    Secret(SigningKey),
    /// A PEM file signs; its path is kept for messages.
    File(SigningKey, String),
    /// Keys kept in the database, generated for `algorithm`, sealed under the secret.
    Database {
        algorithm: Algorithm,
        encryption_secret: SecretString,
    },
}

impl fmt::Debug for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Secret(key) => f.debug_tuple("Secret").field(key).finish(),
            Self::File(key, path) => f.debug_tuple("File").field(key).field(path).finish(),
            Self::Database { algorithm, .. } => f
                .debug_struct("Database")
                .field("algorithm", algorithm)
                .finish_non_exhaustive(),
        }
    }
}

/// The timing rules of the key life.
#[derive(Debug, Clone, Copy)]
pub struct KeyPolicy {
    /// The longest an access token lives, plus the leeway: how long a retired key verifies.
    pub token_seconds: i64,
    /// The key set's cache lifetime: how long a next key is published before it may sign.
    pub publish_seconds: i64,
    /// Rotate the current key this long after it started signing; `None`: only on command.
    pub rotate_after_seconds: Option<i64>,
}

/// Why a key command could not be carried out.
#[derive(Debug, thiserror::Error)]
pub enum KeysError {
    /// The keys are not kept in the database in this configuration.
    #[error("{0}")]
    NotManaged(&'static str),
    /// The next key has not been published long enough.
    #[error(
        "the next key {kid} has been published for {published_seconds} s, less than the key set's \
         cache lifetime (TESSERA_JWKS_MAX_AGE_SECONDS = {required_seconds} s): verifiers that cached \
         the set before it was published would refuse its tokens; try again in {wait_seconds} s, \
         or pass --force"
    )]
    TooYoung {
        kid: String,
        published_seconds: i64,
        required_seconds: i64,
        wait_seconds: i64,
    },
    /// No key has this kid.
    #[error("no key has the kid {0:?}")]
    UnknownKid(String),
    /// The key is already revoked.
    #[error("the key {0} is already revoked")]
    AlreadyRevoked(String),
    /// Another process changed the keys at the same moment.
    #[error("another instance or command changed the keys at the same moment; run it again")]
    Conflict,
    /// The database failed.
    #[error("database error: {0}")]
    Store(#[from] StoreError),
    /// A key could not be generated, sealed or opened.
    #[error("{0}")]
    Key(String),
}

/// The result of [`Keys::rotate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotation {
    /// The key that signed before, now retired; `None` when there was none.
    pub retired: Option<String>,
    /// The key that signs now.
    pub current: String,
    /// The key generated to be next.
    pub next: String,
}

/// The signing keys of this instance; clones share them.
#[derive(Clone)]
pub struct Keys {
    inner: Arc<Inner>,
}

struct Inner {
    loaded: RwLock<Arc<Loaded>>,
    source: Source,
    previous: Vec<VerifyingKey>,
    rules: TokenRules,
    policy: KeyPolicy,
    store: Arc<dyn Store>,
}

impl fmt::Debug for Keys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keys")
            .field("source", &self.inner.source)
            .field("previous", &self.inner.previous)
            .field("policy", &self.inner.policy)
            .finish_non_exhaustive()
    }
}

/// The token rules the settings give.
pub fn token_rules(settings: &Settings) -> TokenRules {
    TokenRules {
        issuer: settings.jwt_issuer.clone(),
        audience: settings.jwt_audience.clone(),
        leeway_seconds: u64::from(settings.jwt_leeway_seconds),
    }
}

/// The key-life timing the settings give.
pub fn key_policy(settings: &Settings) -> KeyPolicy {
    KeyPolicy {
        token_seconds: i64::from(settings.jwt_expiration_minutes) * 60
            + i64::from(settings.jwt_leeway_seconds),
        publish_seconds: i64::from(settings.jwks_max_age_seconds),
        rotate_after_seconds: settings
            .key_rotation_days
            .map(|days| i64::from(days) * 24 * 60 * 60),
    }
}

/// The algorithm of the token crate for a configured one.
pub fn algorithm(configured: JwtAlgorithm) -> Algorithm {
    match configured {
        JwtAlgorithm::Hs256 => Algorithm::Hs256,
        JwtAlgorithm::EdDsa => Algorithm::EdDsa,
        JwtAlgorithm::Es256 => Algorithm::Es256,
        JwtAlgorithm::Rs256 => Algorithm::Rs256,
    }
}

/// Reads a PEM private key file; the message names the setting and the path, never content.
fn read_key_file(path: &Path, algorithm: Algorithm) -> anyhow::Result<SigningKey> {
    let shown = path.display();
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read TESSERA_JWT_PRIVATE_KEY_FILE {shown}"))?;
    let key = SigningKey::from_pem(&text, None)
        .map_err(|error| anyhow::anyhow!("TESSERA_JWT_PRIVATE_KEY_FILE {shown}: {error}"))?;
    anyhow::ensure!(
        key.algorithm() == algorithm,
        "TESSERA_JWT_PRIVATE_KEY_FILE {shown} holds an {} key, but TESSERA_JWT_ALGORITHM is {}",
        key.algorithm().as_str(),
        algorithm.as_str()
    );
    Ok(key)
}

impl Keys {
    /// The keys the settings describe, on `store`: in database mode, generates the current and
    /// the next key when missing (a concurrent start of another instance is tolerated), then
    /// loads everything.
    pub async fn load(
        settings: &Settings,
        store: Arc<dyn Store>,
        now: i64,
    ) -> anyhow::Result<Self> {
        let algorithm = algorithm(settings.jwt_algorithm);
        let source = match (&settings.jwt_private_key_file, algorithm) {
            (_, Algorithm::Hs256) => Source::Secret(
                SigningKey::from_bytes(settings.jwt_secret.key_bytes())
                    .context("failed to build the signing key")?,
            ),
            (Some(path), algorithm) => {
                Source::File(read_key_file(path, algorithm)?, path.display().to_string())
            }
            (None, algorithm) => Source::Database {
                algorithm,
                encryption_secret: settings.key_encryption_secret.clone().with_context(|| {
                    format!(
                        "TESSERA_JWT_ALGORITHM is {}: set TESSERA_KEY_ENCRYPTION_SECRET (the \
                         secret that seals the private keys tessera keeps in its database) or \
                         TESSERA_JWT_PRIVATE_KEY_FILE (a PEM private key you manage)",
                        algorithm.as_str()
                    )
                })?,
            },
        };
        let mut previous = Vec::with_capacity(settings.jwt_previous_secrets.len());
        for secret in &settings.jwt_previous_secrets {
            let key = SigningKey::from_bytes(secret.key_bytes())
                .context("failed to build a key from TESSERA_JWT_PREVIOUS_SECRETS")?;
            previous.push(key.verifying_key());
        }
        let rules = token_rules(settings);
        let policy = key_policy(settings);
        // A placeholder until the first load: the source's key alone, or a throwaway one.
        let placeholder = Arc::new(build(
            match &source {
                Source::Secret(key) | Source::File(key, _) => key.clone(),
                Source::Database { .. } => {
                    SigningKey::from_bytes(&[0; 32]).context("failed to build a placeholder key")?
                }
            },
            Vec::new(),
            &rules,
        )?);
        let keys = Self {
            inner: Arc::new(Inner {
                loaded: RwLock::new(placeholder),
                source,
                previous,
                rules,
                policy,
                store,
            }),
        };
        if matches!(keys.inner.source, Source::Database { .. }) {
            keys.ensure(now).await?;
        }
        keys.reload(now).await?;
        Ok(keys)
    }

    /// What signs and verifies now.
    pub fn loaded(&self) -> Arc<Loaded> {
        match self.inner.loaded.read() {
            Ok(guard) => Arc::clone(&guard),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// The timing rules of the key life.
    pub fn policy(&self) -> KeyPolicy {
        self.inner.policy
    }

    /// The codec in use.
    pub fn codec(&self) -> TokenCodec {
        self.loaded().codec.clone()
    }

    /// Reads the keys again from their sources and replaces the codec and the key set.
    pub async fn reload(&self, now: i64) -> anyhow::Result<()> {
        let stored = self
            .inner
            .store
            .signing_keys()
            .await
            .context("failed to read the signing keys")?;
        let mut verifying = self.inner.previous.clone();
        let mut signing = match &self.inner.source {
            Source::Secret(key) | Source::File(key, _) => Some(key.clone()),
            Source::Database { .. } => None,
        };
        for row in &stored {
            match row.state {
                KeyState::Revoked => continue,
                KeyState::Retired if row.verify_until.is_some_and(|until| until < now) => continue,
                KeyState::Current => {
                    if let Source::Database {
                        encryption_secret, ..
                    } = &self.inner.source
                    {
                        signing = Some(open_row(row, encryption_secret)?);
                        continue;
                    }
                }
                KeyState::Next | KeyState::Retired => {}
            }
            let public = public_key(row)?;
            let signs = signing
                .as_ref()
                .is_some_and(|key| key.kid() == public.kid());
            if !signs && !verifying.iter().any(|key| key.kid() == public.kid()) {
                verifying.push(public);
            }
        }
        let signing = signing.context(
            "no current signing key in the database (all revoked?): run `tessera keys rotate \
             --force` or restart tessera to generate one",
        )?;
        let loaded = build(signing, verifying, &self.inner.rules)?;
        match self.inner.loaded.write() {
            Ok(mut guard) => *guard = Arc::new(loaded),
            Err(poisoned) => *poisoned.into_inner() = Arc::new(loaded),
        }
        Ok(())
    }

    fn database(&self) -> Result<(Algorithm, &SecretString), KeysError> {
        match &self.inner.source {
            Source::Secret(_) => Err(KeysError::NotManaged(
                "TESSERA_JWT_ALGORITHM is HS256: the JWT secret signs, and no key is kept in \
                 the database (to rotate it without logging everyone out, list the old secret \
                 in TESSERA_JWT_PREVIOUS_SECRETS)",
            )),
            Source::File(..) => Err(KeysError::NotManaged(
                "TESSERA_JWT_PRIVATE_KEY_FILE is set: the signing key is managed outside \
                 tessera, and no key is kept in the database",
            )),
            Source::Database {
                algorithm,
                encryption_secret,
            } => Ok((*algorithm, encryption_secret)),
        }
    }

    /// A new key of the configured algorithm, sealed, as a row to insert in `state`.
    fn new_row(&self, state: KeyState) -> Result<NewKey, KeysError> {
        let (algorithm, secret) = self.database()?;
        let key = SigningKey::generate(algorithm)
            .map_err(|error| KeysError::Key(format!("could not generate a key: {error}")))?;
        let sealed = seal_private_key(secret.expose_secret().as_bytes(), &key)
            .map_err(|error| KeysError::Key(format!("could not seal the new key: {error}")))?;
        let jwk = key
            .verifying_key()
            .to_jwk()
            .ok_or_else(|| KeysError::Key("a generated key has no public JWK".to_owned()))?;
        Ok(NewKey {
            kid: key.kid().to_owned(),
            algorithm: algorithm.as_str().to_owned(),
            public_jwk: jwk.to_string(),
            sealed_private: Some(sealed),
            state,
        })
    }

    /// Database mode, at start: a current key of the configured algorithm, and a next one.
    /// A current key of another algorithm (the setting changed) is replaced at once: its tokens
    /// stay valid as it retires.
    async fn ensure(&self, now: i64) -> anyhow::Result<()> {
        let (algorithm, secret) = self.database()?;
        let stored = self.inner.store.signing_keys().await?;
        let current = stored.iter().find(|row| row.state == KeyState::Current);
        match current {
            None => {
                match self
                    .inner
                    .store
                    .insert_key(self.new_row(KeyState::Current)?, now)
                    .await
                {
                    Ok(row) => {
                        tracing::info!(kid = %row.kid, alg = %row.algorithm, "generated the signing key")
                    }
                    // Another instance starting at the same moment made one.
                    Err(StoreError::Conflict(_)) => {}
                    Err(error) => return Err(error.into()),
                }
            }
            Some(row) => {
                // Fails at start, clearly, when the secret cannot open it.
                open_row(row, secret)?;
                if row.algorithm != algorithm.as_str() {
                    tracing::warn!(
                        kid = %row.kid,
                        from = %row.algorithm,
                        to = %algorithm.as_str(),
                        "TESSERA_JWT_ALGORITHM changed: rotating to a new key at once"
                    );
                    for next in stored.iter().filter(|row| row.state == KeyState::Next) {
                        if next.algorithm != algorithm.as_str() {
                            self.inner.store.revoke_key(&next.kid, now).await?;
                        }
                    }
                    match self.rotate(now, true).await {
                        Ok(_) | Err(KeysError::Conflict) => {}
                        Err(error) => return Err(error.into()),
                    }
                }
            }
        }
        self.ensure_next(now).await?;
        Ok(())
    }

    /// Inserts a next key unless one exists. Returns the new kid.
    async fn ensure_next(&self, now: i64) -> Result<Option<String>, KeysError> {
        let stored = self.inner.store.signing_keys().await?;
        if stored.iter().any(|row| row.state == KeyState::Next) {
            return Ok(None);
        }
        match self
            .inner
            .store
            .insert_key(self.new_row(KeyState::Next)?, now)
            .await
        {
            Ok(row) => Ok(Some(row.kid)),
            Err(StoreError::Conflict(_)) => Ok(None),
            Err(error) => Err(error.into()),
        }
    }

    /// Every key row, for `keys list`.
    pub async fn stored(&self) -> Result<Vec<StoredKey>, KeysError> {
        Ok(self.inner.store.signing_keys().await?)
    }

    /// Generates a next key when there is none; returns its kid, or the existing next key's.
    pub async fn generate(&self, now: i64) -> Result<String, KeysError> {
        self.database()?;
        if let Some(kid) = self.ensure_next(now).await? {
            return Ok(kid);
        }
        let stored = self.inner.store.signing_keys().await?;
        stored
            .into_iter()
            .find(|row| row.state == KeyState::Next)
            .map(|row| row.kid)
            .ok_or(KeysError::Conflict)
    }

    /// The next key starts signing; the current one retires (it verifies until the longest
    /// token it signed has expired); a new next key is generated. Refuses a next key published
    /// for less than the key set's cache lifetime unless `force`.
    pub async fn rotate(&self, now: i64, force: bool) -> Result<Rotation, KeysError> {
        self.database()?;
        let mut stored = self.inner.store.signing_keys().await?;
        if !stored.iter().any(|row| row.state == KeyState::Next) {
            if !force {
                return Err(KeysError::TooYoung {
                    kid: "(none yet)".to_owned(),
                    published_seconds: 0,
                    required_seconds: self.inner.policy.publish_seconds,
                    wait_seconds: self.inner.policy.publish_seconds,
                });
            }
            self.ensure_next(now).await?;
            stored = self.inner.store.signing_keys().await?;
        }
        let next = stored
            .iter()
            .find(|row| row.state == KeyState::Next)
            .ok_or(KeysError::Conflict)?;
        let published = now.saturating_sub(next.created_at);
        if !force && published < self.inner.policy.publish_seconds {
            return Err(KeysError::TooYoung {
                kid: next.kid.clone(),
                published_seconds: published,
                required_seconds: self.inner.policy.publish_seconds,
                wait_seconds: self.inner.policy.publish_seconds - published,
            });
        }
        let current = stored
            .iter()
            .find(|row| row.state == KeyState::Current)
            .map(|row| row.kid.clone());
        let verify_until = now.saturating_add(self.inner.policy.token_seconds);
        match self
            .inner
            .store
            .activate_key(&next.kid, current.as_deref(), now, verify_until)
            .await
        {
            Ok(()) => {}
            Err(StoreError::Conflict(_)) => return Err(KeysError::Conflict),
            Err(error) => return Err(error.into()),
        }
        let activated = next.kid.clone();
        let new_next = self.generate(now).await?;
        Ok(Rotation {
            retired: current,
            current: activated,
            next: new_next,
        })
    }

    /// Revokes a key: its tokens are refused at once, everywhere. Revoking the current key
    /// makes the next key sign at once (however young: a compromised key must stop now).
    /// Returns the rotation this caused, if any.
    pub async fn revoke(&self, kid: &str, now: i64) -> Result<Option<Rotation>, KeysError> {
        self.database()?;
        let stored = self.inner.store.signing_keys().await?;
        let row = stored
            .iter()
            .find(|row| row.kid == kid)
            .ok_or_else(|| KeysError::UnknownKid(kid.to_owned()))?;
        if row.state == KeyState::Revoked {
            return Err(KeysError::AlreadyRevoked(kid.to_owned()));
        }
        let rotation = if row.state == KeyState::Current {
            Some(self.rotate(now, true).await?)
        } else {
            None
        };
        if !self.inner.store.revoke_key(kid, now).await? {
            return Err(KeysError::UnknownKid(kid.to_owned()));
        }
        if row.state == KeyState::Next {
            self.ensure_next(now).await?;
        }
        Ok(rotation)
    }

    /// The periodic upkeep: removes keys past their time and, with a schedule, rotates when
    /// the current key is due and the next one has been published long enough.
    pub async fn tick(&self, now: i64) -> Result<Option<Rotation>, KeysError> {
        if self.database().is_err() {
            return Ok(None);
        }
        self.inner
            .store
            .remove_expired_keys(now, KEEP_REVOKED_SECONDS)
            .await?;
        let Some(after) = self.inner.policy.rotate_after_seconds else {
            return Ok(None);
        };
        let stored = self.inner.store.signing_keys().await?;
        let due = stored.iter().any(|row| {
            row.state == KeyState::Current
                && row
                    .activated_at
                    .unwrap_or(row.created_at)
                    .saturating_add(after)
                    <= now
        });
        if !due {
            return Ok(None);
        }
        match self.rotate(now, false).await {
            Ok(rotation) => Ok(Some(rotation)),
            // Not yet published long enough, or another instance rotated: next tick.
            Err(KeysError::TooYoung { .. } | KeysError::Conflict) => Ok(None),
            Err(error) => Err(error),
        }
    }
}

/// The private key of a stored row, opened with the secret.
fn open_row(row: &StoredKey, secret: &SecretString) -> anyhow::Result<SigningKey> {
    let algorithm: Algorithm = row
        .algorithm
        .parse()
        .map_err(|_| anyhow::anyhow!("the stored key {} has an unknown algorithm", row.kid))?;
    let sealed = row
        .sealed_private
        .as_deref()
        .with_context(|| format!("the stored key {} has no private part", row.kid))?;
    open_private_key(
        secret.expose_secret().as_bytes(),
        algorithm,
        &row.kid,
        sealed,
    )
    .map_err(|_| {
        anyhow::anyhow!(
            "TESSERA_KEY_ENCRYPTION_SECRET does not open the signing key {} kept in the database: \
             the secret is not the one the key was sealed with, or the stored key was altered",
            row.kid
        )
    })
}

/// The verifying key of a stored row, from its public JWK.
fn public_key(row: &StoredKey) -> anyhow::Result<VerifyingKey> {
    let set = format!("{{\"keys\":[{}]}}", row.public_jwk);
    let mut keys = parse_jwk_set(set.as_bytes())
        .map_err(|error| anyhow::anyhow!("the stored key {} is unreadable: {error}", row.kid))?;
    let key = keys
        .pop()
        .with_context(|| format!("the stored key {} is empty", row.kid))?;
    anyhow::ensure!(
        key.kid() == row.kid && key.algorithm().as_str() == row.algorithm,
        "the stored key {} does not match its public JWK",
        row.kid
    );
    Ok(key)
}

/// A codec and key set from a signing key and the other verifying keys.
fn build(
    signing: SigningKey,
    verifying: Vec<VerifyingKey>,
    rules: &TokenRules,
) -> anyhow::Result<Loaded> {
    let set = KeySet::new(signing, verifying).context("inconsistent key set")?;
    let body: Arc<str> = jwk_set(&set.verifying().cloned().collect::<Vec<_>>())
        .to_string()
        .into();
    let etag = {
        use sha2::Digest as _;
        let digest = sha2::Sha256::digest(body.as_bytes());
        let hex: String = digest[..8]
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect();
        format!("\"{hex}\"").into()
    };
    let codec = TokenCodec::new(set, rules.clone()).context("invalid token rules")?;
    codec
        .self_test()
        .context("token self-test failed (crypto backend misconfigured)")?;
    Ok(Loaded {
        codec,
        jwks: Jwks { body, etag },
    })
}
