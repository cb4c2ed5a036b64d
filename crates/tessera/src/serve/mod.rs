//! Accepting and serving connections with discipline: a deadline for every request head, an
//! idle timeout for keep-alive connections, a cap on connections in all and from one client,
//! and a shutdown that finishes requests in flight within a deadline.
//!
//! Owns the accept loop, the connection caps ([`admission`]) and each connection's deadlines
//! ([`connection`]). One loop serves every listener (the API's and, when
//! `TESSERA_METRICS_LISTEN` is set, the metrics listener), each with its own router, under one
//! set of caps and one shutdown. Must never block the accept loop on a client, keep a connection it
//! refused for longer than it takes to answer `503`/`429` (and one second to let the answer
//! reach the client), know a route, or outlive the shutdown deadline.

mod admission;
mod connection;

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use tessera_config::{Settings, TrustedProxies};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinSet;

use crate::http::Refusal;
use admission::{Admission, Permit};
use connection::{Ended, Supervised, Timeouts};

/// Descriptors kept for everything but client connections (the database and its journal,
/// the listener, standard streams, refused connections being answered) when the connection
/// cap is derived from the open-file limit; a quarter of a smaller limit.
pub const RESERVED_DESCRIPTORS: u64 = 256;
/// The largest derived connection cap (each connection also costs memory).
pub const MAX_DERIVED_CONNECTIONS: u64 = 65_536;
/// The open-file limit assumed when it cannot be read.
const ASSUMED_OPEN_FILES: u64 = 1024;
/// The highest soft open-file limit asked for at start (Linux's default `fs.nr_open`).
const OPEN_FILES_CEILING: u64 = 1 << 20;
/// Refused connections being answered at once; past this they are closed without an answer.
const REFUSALS_AT_ONCE: usize = 64;
/// How long a refused connection is kept to let its answer reach the client.
const REFUSAL_LINGER: Duration = Duration::from_secs(1);

/// The connection rules of one server, resolved from the settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// How long a client may take to send a request head.
    pub header_timeout: Duration,
    /// How long a connection with no request in flight is kept.
    pub idle_timeout: Duration,
    /// Connections served at once.
    pub max_connections: usize,
    /// Connections one client address (an IPv6 /64) may hold at once; trusted proxies excepted.
    pub max_per_client: usize,
    /// How long a shutdown waits for requests in flight.
    pub shutdown_timeout: Duration,
}

impl ConnectionLimits {
    /// The limits the settings ask for, given the process's soft open-file limit (`None` when
    /// unknown), with a warning for each value adjusted or risky.
    pub fn from_settings(settings: &Settings, open_files: Option<u64>) -> (Self, Vec<String>) {
        let mut warnings = Vec::new();
        let open_files = open_files.unwrap_or(ASSUMED_OPEN_FILES);
        let capacity = derived_max_connections(open_files);
        let max_connections = match settings.max_connections {
            Some(given) => {
                let given = u64::from(given);
                if given > capacity {
                    warnings.push(format!(
                        "TESSERA_MAX_CONNECTIONS={given} is more than the open-file limit of {open_files} leaves room for (about {capacity}); past that, connections fail instead of being answered 503"
                    ));
                }
                given
            }
            None => capacity,
        };
        let mut max_per_client = u64::from(settings.max_connections_per_client);
        if max_per_client >= max_connections {
            let halved = (max_connections / 2).max(1);
            warnings.push(format!(
                "TESSERA_MAX_CONNECTIONS_PER_CLIENT={max_per_client} is not less than the {max_connections} connections the open-file limit allows; using {halved}"
            ));
            max_per_client = halved;
        }
        let limits = Self {
            header_timeout: Duration::from_secs(u64::from(settings.header_timeout_seconds)),
            idle_timeout: Duration::from_secs(u64::from(settings.idle_timeout_seconds)),
            max_connections: usize::try_from(max_connections).unwrap_or(usize::MAX),
            max_per_client: usize::try_from(max_per_client).unwrap_or(usize::MAX),
            shutdown_timeout: Duration::from_secs(u64::from(settings.shutdown_timeout_seconds)),
        };
        (limits, warnings)
    }
}

/// The connection cap an open-file limit allows: the limit less [`RESERVED_DESCRIPTORS`]
/// (or a quarter of a smaller limit), at least 1 and at most [`MAX_DERIVED_CONNECTIONS`].
pub fn derived_max_connections(open_files: u64) -> u64 {
    let reserved = RESERVED_DESCRIPTORS.min(open_files / 4);
    open_files
        .saturating_sub(reserved)
        .clamp(1, MAX_DERIVED_CONNECTIONS)
}

/// The process's soft open-file limit, when the platform has one.
pub fn open_file_limit() -> Option<u64> {
    rlimit::Resource::NOFILE.get_soft().ok()
}

/// Raises the soft open-file limit to the hard limit (at most 2^20), logs what it did, and
/// returns the limit now in force.
pub fn raise_open_file_limit() -> Option<u64> {
    let before = open_file_limit();
    match rlimit::increase_nofile_limit(OPEN_FILES_CEILING) {
        Ok(_) => {
            let after = open_file_limit();
            match (before, after) {
                (Some(before), Some(after)) if after > before => {
                    tracing::info!(from = before, to = after, "raised the open-file limit");
                }
                (_, Some(after)) => tracing::info!(limit = after, "open-file limit"),
                _ => {}
            }
            after
        }
        Err(error) => {
            tracing::warn!(%error, limit = ?before, "could not raise the open-file limit");
            before
        }
    }
}

/// Serves each listener's router on it under `limits` (shared by all listeners) until
/// `shutdown` completes, then stops accepting on every listener, closes idle connections and
/// ones still sending a head, lets requests in flight finish, and cuts whatever is left at the
/// shutdown deadline.
pub async fn serve(
    listeners: Vec<(TcpListener, Router)>,
    limits: ConnectionLimits,
    trusted_proxies: Arc<TrustedProxies>,
    shutdown: impl Future<Output = ()> + Send,
) {
    let admission = Arc::new(Admission::new(
        limits.max_connections,
        limits.max_per_client,
        trusted_proxies,
    ));
    let refusals = Arc::new(Semaphore::new(REFUSALS_AT_ONCE));
    let timeouts = Timeouts {
        header: limits.header_timeout,
        idle: limits.idle_timeout,
        // The router answers 408 by then; the header timeout more lets the answer be written.
        in_flight: crate::http::REQUEST_TIMEOUT + limits.header_timeout,
    };
    let (stop, stopped) = watch::channel(false);
    let mut tasks = JoinSet::new();
    let mut turn = 0;
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            biased;
            () = &mut shutdown => break,
            Some(joined) = tasks.join_next(), if !tasks.is_empty() => log_task_panic(joined),
            (accepted, router) = accept_any(&listeners, &mut turn) => match accepted {
                Ok((stream, peer)) => match admission.admit(peer.ip()) {
                    Ok(permit) => {
                        let task = run_connection(
                            stream, peer, router.clone(), timeouts, permit, stopped.clone(),
                        );
                        tasks.spawn(task);
                    }
                    Err(refusal) => {
                        if let Ok(place) = Arc::clone(&refusals).try_acquire_owned() {
                            tasks.spawn(refuse(stream, refusal, place));
                        }
                    }
                },
                Err(error) if is_connection_error(&error) => {}
                Err(error) => {
                    // Out of descriptors or memory: wait a moment rather than spin.
                    tracing::warn!(%error, "accepting a connection failed");
                    tokio::select! {
                        () = tokio::time::sleep(Duration::from_millis(100)) => {}
                        () = &mut shutdown => break,
                    }
                }
            },
        }
    }
    drop(listeners);
    let _ = stop.send(true);
    let open = admission.open();
    tracing::info!(
        open,
        deadline_seconds = limits.shutdown_timeout.as_secs(),
        "stopped accepting; finishing requests in flight"
    );
    let drained = tokio::time::timeout(limits.shutdown_timeout, async {
        while let Some(joined) = tasks.join_next().await {
            log_task_panic(joined);
        }
    })
    .await;
    if drained.is_err() {
        let cut = admission.open();
        tasks.abort_all();
        while tasks.join_next().await.is_some() {}
        tracing::warn!(
            cut,
            "cut the connections still open at the shutdown deadline"
        );
    }
}

/// The next connection on any of `listeners`, with its listener's router. The listeners take
/// turns being asked first, so a flood on one cannot keep another from being served.
async fn accept_any<'a>(
    listeners: &'a [(TcpListener, Router)],
    turn: &mut usize,
) -> (io::Result<(TcpStream, SocketAddr)>, &'a Router) {
    std::future::poll_fn(|cx| {
        let count = listeners.len();
        for offset in 0..count {
            let index = (*turn + offset) % count;
            let Some((listener, router)) = listeners.get(index) else {
                continue;
            };
            if let std::task::Poll::Ready(accepted) = listener.poll_accept(cx) {
                *turn = index + 1;
                return std::task::Poll::Ready((accepted, router));
            }
        }
        std::task::Poll::Pending
    })
    .await
}

/// Logs a connection task that panicked (a handler's panic is answered 500 by the router;
/// this is one in hyper or in this module).
fn log_task_panic(joined: Result<(), tokio::task::JoinError>) {
    if let Err(error) = joined
        && error.is_panic()
    {
        tracing::error!("a connection task panicked");
    }
}

/// Errors of one connection that was aborted before it was accepted: nothing to wait for.
fn is_connection_error(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// Serves one admitted connection until it ends or the server stops.
async fn run_connection(
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    timeouts: Timeouts,
    permit: Permit,
    mut stopped: watch::Receiver<bool>,
) {
    let _permit = permit;
    // Answers are small and latency matters more than packet count.
    let _ = stream.set_nodelay(true);
    let mut connection = Supervised::new(stream, peer, router, timeouts);
    let ended = tokio::select! {
        ended = &mut connection => ended,
        () = wait_for_stop(&mut stopped) => {
            if connection.is_waiting_head() {
                // Half a request, or none yet: nothing is lost by closing now.
                return;
            }
            connection.shut_down();
            connection.await
        }
    };
    match ended {
        Ended::Finished(Ok(())) => {}
        Ended::Finished(Err(error)) => tracing::debug!(%peer, %error, "connection ended"),
        Ended::HeadTimedOut => {
            tracing::debug!(%peer, "closed a connection whose request head was late");
        }
        Ended::Stalled => {
            tracing::debug!(%peer, "closed a connection whose client stopped reading its answers");
        }
    }
}

/// Completes when the server stops (or its stop signal is gone).
async fn wait_for_stop(stopped: &mut watch::Receiver<bool>) {
    let _ = stopped.wait_for(|stop| *stop).await;
}

/// Answers a refused connection, then lets the answer reach the client before closing.
async fn refuse(mut stream: TcpStream, refusal: Refusal, place: OwnedSemaphorePermit) {
    let _place = place;
    let _ = tokio::time::timeout(REFUSAL_LINGER, async {
        stream.write_all(refusal.response()).await?;
        stream.shutdown().await?;
        // Read what the client sends until it closes: closing a socket with unread bytes
        // resets it, and the client could lose the answer.
        let mut sink = [0_u8; 1024];
        while stream.read(&mut sink).await? > 0 {}
        Ok::<(), io::Error>(())
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_derived_cap_leaves_room_for_the_rest() {
        assert_eq!(derived_max_connections(1024), 768);
        assert_eq!(derived_max_connections(20_000), 19_744);
        assert_eq!(derived_max_connections(1 << 20), MAX_DERIVED_CONNECTIONS);
        assert_eq!(derived_max_connections(256), 192);
        assert_eq!(derived_max_connections(0), 1);
    }
}
