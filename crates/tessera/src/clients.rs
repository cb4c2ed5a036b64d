//! API clients: the resource servers allowed to call introspection, revocation and the
//! revocation feed. `tessera client add NAME` prints an id and a secret once; the database
//! keeps the secret's SHA-256 only.
//!
//! The secret is 256 random bits, so one SHA-256 is as good as a password hash against a
//! stolen database and costs nothing per request. Checking a presented secret takes the same
//! steps whether the id exists or not (a hash and a constant-time comparison against the
//! stored hash or a fixed one), so the answer's timing does not tell which ids exist.
//!
//! Invariant: the secret is shown once, by the command that made it, and never stored,
//! logged or printed again.

use std::fmt;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest as _, Sha256};
use tessera_store::{ApiClient, Store, StoreError};

/// Random bytes in a client id (22 base64url characters).
const ID_BYTES: usize = 16;
/// Random bytes in a client secret (43 base64url characters).
const SECRET_BYTES: usize = 32;
/// The longest name `client add` accepts.
pub const MAX_NAME_CHARS: usize = 64;

/// A new client's credentials, shown once.
pub struct NewCredentials {
    /// The public client id.
    pub id: String,
    /// The secret; only its hash is kept.
    pub secret: String,
}

impl fmt::Debug for NewCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewCredentials")
            .field("id", &self.id)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// Why a client could not be added.
#[derive(Debug, thiserror::Error)]
pub enum AddError {
    /// The name is empty, too long or has characters other than letters, digits, `-`, `_`, `.`.
    #[error("a client name is 1 to {MAX_NAME_CHARS} characters: letters, digits, '-', '_' and '.'")]
    BadName,
    /// Another client has this name.
    #[error("a client named {0:?} exists already")]
    Taken(String),
    /// No randomness.
    #[error("the operating system's random generator failed")]
    Randomness,
    /// The database failed.
    #[error("database error: {0}")]
    Store(StoreError),
}

/// The API clients on one store.
#[derive(Debug, Clone)]
pub struct Clients {
    store: Arc<dyn Store>,
}

fn random_text(bytes: usize) -> Result<String, AddError> {
    let mut buffer = vec![0_u8; bytes];
    getrandom::fill(&mut buffer).map_err(|_| AddError::Randomness)?;
    Ok(URL_SAFE_NO_PAD.encode(buffer))
}

/// The stored form of a secret: SHA-256, lower-case hex.
fn secret_hash(secret: &str) -> String {
    let digest = Sha256::digest(secret.as_bytes());
    let mut hex = String::with_capacity(64);
    for byte in digest {
        hex.push(char::from(b"0123456789abcdef"[usize::from(byte >> 4)]));
        hex.push(char::from(b"0123456789abcdef"[usize::from(byte & 15)]));
    }
    hex
}

/// Compares two byte strings in time that depends only on their lengths.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0_u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Clients {
    /// The clients of `store`.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self { store }
    }

    /// Adds a client named `name`; returns its credentials (the secret is not kept).
    pub async fn add(&self, name: &str, now: i64) -> Result<NewCredentials, AddError> {
        let valid = !name.is_empty()
            && name.chars().count() <= MAX_NAME_CHARS
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !valid {
            return Err(AddError::BadName);
        }
        let id = random_text(ID_BYTES)?;
        let secret = random_text(SECRET_BYTES)?;
        let client = ApiClient {
            id: id.clone(),
            name: name.to_owned(),
            secret_hash: secret_hash(&secret),
            created_at: now,
            disabled_at: None,
        };
        match self.store.create_api_client(client).await {
            Ok(_) => Ok(NewCredentials { id, secret }),
            Err(StoreError::Conflict(_)) => Err(AddError::Taken(name.to_owned())),
            Err(error) => Err(AddError::Store(error)),
        }
    }

    /// Every client, for `client list`.
    pub async fn list(&self) -> Result<Vec<ApiClient>, StoreError> {
        self.store.list_api_clients().await
    }

    /// Removes a client by id or name; its credentials are refused from the next request.
    pub async fn remove(&self, id_or_name: &str) -> Result<bool, StoreError> {
        if self.store.delete_api_client(id_or_name).await? {
            return Ok(true);
        }
        let by_name = self
            .store
            .list_api_clients()
            .await?
            .into_iter()
            .find(|client| client.name == id_or_name);
        match by_name {
            Some(client) => self.store.delete_api_client(&client.id).await,
            None => Ok(false),
        }
    }

    /// The client these credentials name, when the secret is its own and it is not disabled.
    pub async fn authenticate(
        &self,
        id: &str,
        secret: &str,
    ) -> Result<Option<ApiClient>, StoreError> {
        // Ids are fixed-size base64url; anything else names no client, and is not looked up.
        let plausible = id.len() <= 64
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        let client = if plausible {
            self.store.api_client(id).await?
        } else {
            None
        };
        let presented = secret_hash(secret);
        const NOBODY: &str = "0000000000000000000000000000000000000000000000000000000000000000";
        let stored = client
            .as_ref()
            .map_or(NOBODY, |client| client.secret_hash.as_str());
        let matches = same(presented.as_bytes(), stored.as_bytes());
        Ok(client.filter(|client| matches && client.disabled_at.is_none()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stored_hash_is_sha256_hex() {
        assert_eq!(
            secret_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn comparison_needs_equal_bytes_and_lengths() {
        assert!(same(b"abc", b"abc"));
        assert!(!same(b"abc", b"abd"));
        assert!(!same(b"abc", b"abcd"));
    }

    #[test]
    fn debug_hides_the_secret() {
        let credentials = NewCredentials {
            id: "id".into(),
            secret: "s3cr3t".into(),
        };
        assert!(!format!("{credentials:?}").contains("s3cr3t"));
    }
}
