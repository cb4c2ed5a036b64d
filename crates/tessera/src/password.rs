//! Password hashing with argon2id, off the async runtime and bounded.
//!
//! Hashing and verifying run on dedicated worker threads, one per core, at the lowest CPU
//! priority (nice 19): a login flood then takes only the CPU that checking tokens leaves
//! over, and never occupies the async runtime. Behind the running hashes waits a bounded
//! queue; past it a hash is refused at once with [`PasswordError::Busy`] (the API answers
//! `503` with `Retry-After`) instead of piling up memory and latency. Unknown users are
//! verified against a dummy hash so that their timing matches a real user's.
//! Each worker keeps one argon2 working memory (19 MiB at the policy's cost) for all its
//! hashes and wipes it after each, instead of allocating it per hash, which the allocator
//! would keep several of.
//! Invariants: plain-text passwords live only in `SecretString`s and are never logged; a
//! queued hash holds its place until it has run, even when its caller went away.

use std::panic::AssertUnwindSafe;
use std::sync::mpsc::{Receiver, Sender};
use std::sync::{Arc, Mutex, PoisonError};

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::{Semaphore, oneshot};

/// The policy's argon2id cost: m = 19456 KiB, t = 2, p = 1 (OWASP's minimum).
pub const MEMORY_KIB: u32 = 19_456;
/// Iterations.
pub const ITERATIONS: u32 = 2;
/// Lanes.
pub const PARALLELISM: u32 = 1;
/// The longest password accepted anywhere, in characters.
pub const MAX_PASSWORD_CHARS: usize = 1024;
/// The shortest password accepted for a new or changed password, in characters.
pub const MIN_NEW_PASSWORD_CHARS: usize = 8;
/// Hashes allowed to wait per hashing worker: at ~20 ms a hash, the last in line waits
/// about 0.6 s, which a login can afford; beyond that the client is told to come back.
pub const QUEUED_PER_WORKER: usize = 32;

/// Why a password could not be hashed or checked.
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    /// The argon2 implementation failed; the message names no password.
    #[error("password hashing failed: {0}")]
    Hash(String),
    /// The blocking task was cancelled or panicked.
    #[error("password hashing task did not finish")]
    Task,
    /// Every hashing worker is busy and the queue behind them is full.
    #[error("password hashing is at capacity; retry shortly")]
    Busy,
}

/// The result of checking a password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verification {
    /// The password matches the hash.
    pub matches: bool,
    /// The stored hash uses weaker parameters than the policy and should be replaced.
    pub needs_rehash: bool,
}

/// Hashes and verifies passwords on a bounded pool.
///
/// The worker threads end when the last clone is dropped.
#[derive(Clone)]
pub struct Passwords {
    /// Jobs for the worker threads.
    jobs: Sender<Job>,
    /// One per hash allowed in at once: running plus waiting.
    admissions: Arc<Semaphore>,
    dummy_hash: Arc<str>,
}

/// A hash to run on a worker thread, with that thread's working memory.
type Job = Box<dyn FnOnce(&mut WorkMemory) + Send + 'static>;

/// A worker's argon2 memory blocks, grown to the largest cost seen and wiped after each use.
#[derive(Default)]
struct WorkMemory(Vec<Block>);

impl std::fmt::Debug for Passwords {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Passwords")
            .field("available_admissions", &self.admissions.available_permits())
            .finish()
    }
}

impl Passwords {
    /// A hasher allowing `concurrency` hashes at once and `queue` more waiting for their
    /// turn. Computes the dummy hash once.
    pub fn new(concurrency: usize, queue: usize) -> Result<Self, PasswordError> {
        let mut filler = [0u8; 32];
        getrandom::fill(&mut filler).map_err(|e| PasswordError::Hash(e.to_string()))?;
        let dummy = hash_blocking(&filler, &mut WorkMemory::default())?;
        let concurrency = concurrency.max(1);
        Ok(Self {
            jobs: start_workers(concurrency)?,
            admissions: Arc::new(Semaphore::new(concurrency.saturating_add(queue))),
            dummy_hash: Arc::from(dummy),
        })
    }

    /// A hasher sized to the machine: one concurrent hash per core, and
    /// [`QUEUED_PER_WORKER`] waiting per core.
    pub fn for_this_machine() -> Result<Self, PasswordError> {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self::new(cores, cores.saturating_mul(QUEUED_PER_WORKER))
    }

    /// Hashes `password` into a PHC string.
    pub async fn hash(&self, password: &SecretString) -> Result<String, PasswordError> {
        let password = password.clone();
        self.run(move |memory| hash_blocking(password.expose_secret().as_bytes(), memory))
            .await
    }

    /// Checks `password` against `stored` (a PHC string), or against the dummy hash when
    /// `stored` is `None`, so that an unknown user costs the same time; then `matches` is
    /// always false.
    pub async fn verify(
        &self,
        stored: Option<&str>,
        password: &SecretString,
    ) -> Result<Verification, PasswordError> {
        let known = stored.is_some();
        let hash = stored.map_or_else(|| self.dummy_hash.to_string(), str::to_owned);
        let password = password.clone();
        let verification = self
            .run(move |memory| {
                Ok(verify_blocking(
                    &hash,
                    password.expose_secret().as_bytes(),
                    memory,
                ))
            })
            .await?;
        Ok(Verification {
            matches: known && verification.matches,
            needs_rehash: verification.needs_rehash,
        })
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut WorkMemory) -> Result<T, PasswordError> + Send + 'static,
    ) -> Result<T, PasswordError> {
        // Owned by the job, so the place is freed when the hash has run, not when a caller
        // that went away stopped waiting.
        let admission = Arc::clone(&self.admissions)
            .try_acquire_owned()
            .map_err(|_| PasswordError::Busy)?;
        let (result_sender, result) = oneshot::channel();
        let job: Job = Box::new(move |memory| {
            let result = work(memory);
            // Free the place before answering, so the caller can hash again at once.
            drop(admission);
            let _ = result_sender.send(result);
        });
        self.jobs.send(job).map_err(|_| PasswordError::Task)?;
        result.await.map_err(|_| PasswordError::Task)?
    }
}

/// Starts `count` hashing threads at the lowest priority; they end when every sender is gone.
fn start_workers(count: usize) -> Result<Sender<Job>, PasswordError> {
    let (sender, receiver) = std::sync::mpsc::channel::<Job>();
    let receiver = Arc::new(Mutex::new(receiver));
    for index in 0..count {
        let receiver = Arc::clone(&receiver);
        std::thread::Builder::new()
            .name(format!("tessera-hash-{index}"))
            .spawn(move || work_until_closed(&receiver))
            .map_err(|e| PasswordError::Hash(format!("failed to start a hashing thread: {e}")))?;
    }
    Ok(sender)
}

fn work_until_closed(receiver: &Mutex<Receiver<Job>>) {
    if let Err(error) =
        thread_priority::set_current_thread_priority(thread_priority::ThreadPriority::Min)
    {
        tracing::warn!(error = ?error, "could not lower the priority of a password hashing thread");
    }
    let mut memory = WorkMemory::default();
    loop {
        let job = receiver
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .recv();
        let Ok(job) = job else {
            return;
        };
        // A panicking hash drops its result sender: its caller gets `Task`, the thread lives on.
        let _ = std::panic::catch_unwind(AssertUnwindSafe(|| job(&mut memory)));
    }
}

fn policy() -> Result<Argon2<'static>, PasswordError> {
    let params = Params::new(MEMORY_KIB, ITERATIONS, PARALLELISM, None)
        .map_err(|e| PasswordError::Hash(e.to_string()))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Runs argon2 in `memory` and wipes it afterwards, whatever the outcome.
fn compute(
    argon2: &Argon2<'_>,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
    memory: &mut WorkMemory,
) -> Result<(), argon2::Error> {
    let blocks = argon2.params().block_count();
    if memory.0.len() < blocks {
        memory.0.resize(blocks, Block::new());
    }
    let result = argon2.hash_password_into_with_memory(password, salt, out, &mut memory.0);
    memory.0.fill(Block::new());
    result
}

/// A new PHC string under the policy, with 16 random bytes of salt.
fn hash_blocking(password: &[u8], memory: &mut WorkMemory) -> Result<String, PasswordError> {
    let fail = |e: &dyn std::fmt::Display| PasswordError::Hash(e.to_string());
    let argon2 = policy()?;
    let mut salt = [0_u8; 16];
    getrandom::fill(&mut salt).map_err(|e| fail(&e))?;
    let mut out = [0_u8; Params::DEFAULT_OUTPUT_LEN];
    compute(&argon2, password, &salt, &mut out, memory).map_err(|e| fail(&e))?;
    let hash = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(argon2.params()).map_err(|e| fail(&e))?,
        salt: Some(Salt::new(&salt).map_err(|e| fail(&e))?),
        hash: Some(Output::new(&out).map_err(|e| fail(&e))?),
    };
    Ok(hash.to_string())
}

/// Checks `password` against a stored PHC string with the parameters it names, comparing
/// in constant time; anything unreadable is a mismatch that asks for a re-hash.
fn verify_blocking(stored: &str, password: &[u8], memory: &mut WorkMemory) -> Verification {
    let unreadable = Verification {
        matches: false,
        needs_rehash: true,
    };
    let Ok(parsed) = PasswordHash::new(stored) else {
        return unreadable;
    };
    let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else {
        return unreadable;
    };
    let algorithm = Algorithm::try_from(parsed.algorithm.as_str());
    let version = parsed.version.map(Version::try_from).transpose();
    let params = Params::try_from(&parsed);
    let (Ok(algorithm), Ok(version), Ok(params)) = (algorithm, version, params) else {
        return unreadable;
    };
    let argon2 = Argon2::new(algorithm, version.unwrap_or_default(), params);
    let mut buffer = [0_u8; Output::MAX_LENGTH];
    let Some(out) = buffer.get_mut(..expected.len()) else {
        return unreadable;
    };
    let matches = compute(&argon2, password, salt, out, memory).is_ok()
        // `Output`'s equality is constant-time.
        && Output::new(out).is_ok_and(|computed| computed == *expected);
    Verification {
        matches,
        needs_rehash: below_policy(&parsed),
    }
}

/// True when a stored hash is not argon2id or its costs are below the policy.
fn below_policy(hash: &PasswordHash) -> bool {
    if hash.algorithm.as_str() != "argon2id" {
        return true;
    }
    match Params::try_from(hash) {
        Ok(params) => {
            params.m_cost() < MEMORY_KIB
                || params.t_cost() < ITERATIONS
                || params.p_cost() < PARALLELISM
        }
        Err(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};

    /// Our PHC strings and the argon2 crate's own hasher and verifier agree both ways.
    #[test]
    fn hashes_interoperate_with_the_argon2_crates_own_code() {
        let mut memory = WorkMemory::default();
        let ours = hash_blocking(b"correct horse", &mut memory).unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(
            Argon2::default()
                .verify_password(b"correct horse", &parsed)
                .is_ok()
        );
        assert!(
            Argon2::default()
                .verify_password(b"correct horsE", &parsed)
                .is_err()
        );
        for params in [
            Params::new(MEMORY_KIB, ITERATIONS, PARALLELISM, None).unwrap(),
            Params::new(8_192, 3, 2, Some(48)).unwrap(),
        ] {
            let theirs = Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
                .hash_password(b"pw")
                .unwrap()
                .to_string();
            assert!(
                verify_blocking(&theirs, b"pw", &mut memory).matches,
                "{theirs}"
            );
            assert!(!verify_blocking(&theirs, b"pW", &mut memory).matches);
        }
        let argon2i = Argon2::new(Algorithm::Argon2i, Version::V0x13, Params::default())
            .hash_password(b"pw")
            .unwrap()
            .to_string();
        let verification = verify_blocking(&argon2i, b"pw", &mut memory);
        assert!(verification.matches && verification.needs_rehash);
    }

    #[test]
    fn the_working_memory_is_reused_and_wiped_after_each_hash() {
        let mut memory = WorkMemory::default();
        let hash = hash_blocking(b"secret", &mut memory).unwrap();
        let blocks = memory.0.len();
        assert_eq!(blocks, usize::try_from(MEMORY_KIB).unwrap());
        let wiped = |memory: &WorkMemory| {
            memory
                .0
                .iter()
                .all(|block| AsRef::<[u64]>::as_ref(block).iter().all(|word| *word == 0))
        };
        assert!(wiped(&memory));
        assert!(verify_blocking(&hash, b"secret", &mut memory).matches);
        assert_eq!(memory.0.len(), blocks, "no second allocation");
        assert!(wiped(&memory));
    }

    fn secret(s: &str) -> SecretString {
        SecretString::from(s.to_owned())
    }

    #[tokio::test]
    async fn hash_then_verify_roundtrip_with_policy_parameters() {
        let passwords = Passwords::new(2, 0).unwrap();
        let hash = passwords.hash(&secret("correct horse")).await.unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        let ok = passwords
            .verify(Some(&hash), &secret("correct horse"))
            .await
            .unwrap();
        assert_eq!(
            ok,
            Verification {
                matches: true,
                needs_rehash: false
            }
        );
        let bad = passwords
            .verify(Some(&hash), &secret("correct horsE"))
            .await
            .unwrap();
        assert!(!bad.matches);
    }

    #[tokio::test]
    async fn unknown_user_never_matches_even_with_the_dummy_password() {
        let passwords = Passwords::new(1, 0).unwrap();
        let result = passwords.verify(None, &secret("")).await.unwrap();
        assert!(!result.matches);
    }

    #[tokio::test]
    async fn passwords_are_verified_exactly_as_received() {
        let passwords = Passwords::new(1, 0).unwrap();
        let original = "pässwörd 🦀\u{0301} with trailing space ";
        let hash = passwords.hash(&secret(original)).await.unwrap();
        assert!(
            passwords
                .verify(Some(&hash), &secret(original))
                .await
                .unwrap()
                .matches
        );
        let trimmed = original.trim_end();
        assert!(
            !passwords
                .verify(Some(&hash), &secret(trimmed))
                .await
                .unwrap()
                .matches
        );
    }

    #[tokio::test]
    async fn weak_parameters_ask_for_a_rehash() {
        let weak = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(8_192, 1, 1, None).unwrap(),
        )
        .hash_password(b"pw")
        .unwrap()
        .to_string();
        let passwords = Passwords::new(1, 0).unwrap();
        let result = passwords.verify(Some(&weak), &secret("pw")).await.unwrap();
        assert_eq!(
            result,
            Verification {
                matches: true,
                needs_rehash: true
            }
        );
    }

    /// Polls a future once, so that it takes its place in line, and keeps it.
    async fn enter<F: std::future::Future + Unpin>(future: &mut F) {
        std::future::poll_fn(|context| {
            let _ = std::pin::Pin::new(&mut *future).poll(context);
            std::task::Poll::Ready(())
        })
        .await;
    }

    #[tokio::test]
    async fn past_the_queue_a_hash_is_refused_at_once_and_admitted_again_later() {
        let passwords = Passwords::new(1, 1).unwrap();
        let password = secret("queued password");
        // Two jobs that hold their places until released: one runs, one waits.
        let (release, gate) = std::sync::mpsc::channel::<()>();
        let gate = Arc::new(Mutex::new(gate));
        let blocker = |gate: Arc<Mutex<Receiver<()>>>| {
            passwords.run(move |_| {
                let _ = gate.lock().unwrap().recv();
                Ok(())
            })
        };
        let mut running = Box::pin(blocker(Arc::clone(&gate)));
        let mut waiting = Box::pin(blocker(Arc::clone(&gate)));
        enter(&mut running).await;
        enter(&mut waiting).await;
        let refused = passwords.verify(None, &password).await;
        assert!(matches!(refused, Err(PasswordError::Busy)), "{refused:?}");
        // Once the line moves, hashing is admitted again.
        release.send(()).unwrap();
        release.send(()).unwrap();
        running.await.unwrap();
        waiting.await.unwrap();
        assert!(passwords.verify(None, &password).await.is_ok());
    }

    /// A caller that stops waiting does not free its place before its hash has run.
    #[tokio::test]
    async fn a_cancelled_caller_keeps_its_place_until_the_hash_ran() {
        let passwords = Passwords::new(1, 0).unwrap();
        let (release, gate) = std::sync::mpsc::channel::<()>();
        let mut blocked = Box::pin(passwords.run(move |_| {
            let _ = gate.recv();
            Ok(())
        }));
        enter(&mut blocked).await;
        drop(blocked);
        let refused = passwords.verify(None, &secret("pw")).await;
        assert!(matches!(refused, Err(PasswordError::Busy)), "{refused:?}");
        release.send(()).unwrap();
    }

    #[tokio::test]
    async fn garbage_hash_is_a_mismatch_not_a_panic() {
        let passwords = Passwords::new(1, 0).unwrap();
        let result = passwords
            .verify(Some("not a phc string"), &secret("pw"))
            .await
            .unwrap();
        assert!(!result.matches);
    }
}
