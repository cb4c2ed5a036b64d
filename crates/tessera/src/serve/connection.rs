//! One connection: hyper's HTTP/1.1 state machine, watched so that a request head must
//! arrive within the header timeout and a connection with no request in flight is closed
//! after the idle timeout.
//!
//! Why not hyper's own `header_read_timeout`: hyper (1.x) arms it whenever it starts waiting
//! for a head, which on a keep-alive connection is right after the previous response, so it
//! is also the idle timeout and the two cannot differ. Here a connection is in one of three
//! states, changed only while hyper polls it (so on the connection's own task):
//! waiting for a head (from the connection's start, or from the first byte after an idle
//! wait) → a request in flight (hyper called the service) → idle (the service answered) →
//! waiting for a head when a byte arrives. The deadline follows the state. A request in
//! flight gets the router's request timeout (which answers 408) plus the header timeout to
//! write its answer, and a connection being closed gets the header timeout to flush what it
//! owes: a client that stops reading its answers (hyper then can neither write nor read on)
//! loses its connection instead of holding it forever.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::response::Response;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::{Instant, Sleep};
use tower::ServiceExt as _;

/// How long a client may take over a request head, how long an idle connection is kept, and
/// how long a request may be in flight (answer written included).
#[derive(Debug, Clone, Copy)]
pub(super) struct Timeouts {
    pub(super) header: Duration,
    pub(super) idle: Duration,
    pub(super) in_flight: Duration,
}

/// Waiting for a request head (or nothing received yet).
const WAITING_HEAD: u64 = 0;
/// hyper called the service and the answer is not ready yet.
const IN_FLIGHT: u64 = 1;
/// The last answer is ready and no byte of another request has arrived.
const IDLE: u64 = 2;
/// The state sits in the two top bits of the activity word, the time it began (milliseconds
/// since the connection started) in the rest.
const STATE_SHIFT: u32 = 62;

/// What a connection is doing and since when; shared by its reader, its service and its
/// supervisor.
#[derive(Debug)]
pub(super) struct Activity {
    started: Instant,
    word: AtomicU64,
}

impl Activity {
    fn new() -> Self {
        Self {
            started: Instant::now(),
            word: AtomicU64::new(WAITING_HEAD << STATE_SHIFT),
        }
    }

    fn enter(&self, state: u64) {
        let since = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX >> 2);
        self.word.store(
            (state << STATE_SHIFT) | (since & (u64::MAX >> 2)),
            Ordering::Relaxed,
        );
    }

    fn snapshot(&self) -> u64 {
        self.word.load(Ordering::Relaxed)
    }

    fn state(&self) -> u64 {
        self.snapshot() >> STATE_SHIFT
    }

    /// Whether the client is still to finish sending a request head.
    pub(super) fn is_waiting_head(&self) -> bool {
        self.state() == WAITING_HEAD
    }

    fn on_bytes_read(&self) {
        if self.state() == IDLE {
            self.enter(WAITING_HEAD);
        }
    }

    /// When the state in `snapshot` times out.
    fn deadline(&self, snapshot: u64, timeouts: Timeouts) -> Instant {
        let since = self.started + Duration::from_millis(snapshot & (u64::MAX >> 2));
        since
            + match snapshot >> STATE_SHIFT {
                WAITING_HEAD => timeouts.header,
                IDLE => timeouts.idle,
                _ => timeouts.in_flight,
            }
    }
}

/// The socket, telling the activity when bytes arrive.
#[derive(Debug)]
struct Watched {
    stream: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.stream).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.on_bytes_read();
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// The router as hyper sees it for one connection: every request carries the peer address
/// (`ConnectInfo`, as `axum::serve` gives it) and moves the activity.
#[derive(Debug, Clone)]
struct ConnectionService {
    router: Router,
    peer: SocketAddr,
    activity: Arc<Activity>,
}

type ResponseFuture = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

impl hyper::service::Service<hyper::Request<Incoming>> for ConnectionService {
    type Response = Response;
    type Error = Infallible;
    type Future = ResponseFuture;

    fn call(&self, request: hyper::Request<Incoming>) -> Self::Future {
        self.activity.enter(IN_FLIGHT);
        let mut request = request.map(Body::new);
        request.extensions_mut().insert(ConnectInfo(self.peer));
        let answer = self.router.clone().oneshot(request);
        let activity = Arc::clone(&self.activity);
        Box::pin(async move {
            let response = answer.await;
            activity.enter(IDLE);
            response
        })
    }
}

type Connection = http1::Connection<TokioIo<Watched>, ConnectionService>;

/// How a supervised connection ended.
#[derive(Debug)]
pub(super) enum Ended {
    /// hyper finished it (the client closed, or after a graceful shutdown), maybe with an error.
    Finished(Result<(), hyper::Error>),
    /// The request head did not arrive in time; the connection is to be dropped.
    HeadTimedOut,
    /// A request stayed in flight, or a closing connection kept owing bytes, past its
    /// deadline (a client that does not read its answers); the connection is to be dropped.
    Stalled,
}

/// A connection under its deadlines. Polling it drives hyper; it completes when hyper is done
/// or a head is late. An idle connection past its deadline is shut down gracefully.
pub(super) struct Supervised {
    connection: Pin<Box<Connection>>,
    activity: Arc<Activity>,
    timeouts: Timeouts,
    timer: Pin<Box<Sleep>>,
    /// The activity the timer was set for; `None` when it was set for none yet.
    armed_for: Option<u64>,
    /// Whether the timer runs (it stops once it fired for the current activity).
    armed: bool,
    closing: bool,
}

impl Supervised {
    pub(super) fn new(
        stream: TcpStream,
        peer: SocketAddr,
        router: Router,
        timeouts: Timeouts,
    ) -> Self {
        let activity = Arc::new(Activity::new());
        let io = TokioIo::new(Watched {
            stream,
            activity: Arc::clone(&activity),
        });
        let service = ConnectionService {
            router,
            peer,
            activity: Arc::clone(&activity),
        };
        let mut builder = http1::Builder::new();
        // The timeouts are kept here, not by hyper (see the module documentation).
        builder.header_read_timeout(None).keep_alive(true);
        let connection = Box::pin(builder.serve_connection(io, service));
        let timer = Box::pin(tokio::time::sleep_until(activity.started + timeouts.header));
        Self {
            connection,
            activity,
            timeouts,
            timer,
            armed_for: None,
            armed: false,
            closing: false,
        }
    }

    /// Whether the client is still to finish sending a request head.
    pub(super) fn is_waiting_head(&self) -> bool {
        self.activity.is_waiting_head()
    }

    /// Lets the request in flight finish, then closes; closes an idle connection at once.
    pub(super) fn shut_down(&mut self) {
        self.closing = true;
        self.connection.as_mut().graceful_shutdown();
    }
}

impl Future for Supervised {
    type Output = Ended;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Ended> {
        let this = self.get_mut();
        loop {
            if let Poll::Ready(result) = this.connection.as_mut().poll(cx) {
                return Poll::Ready(Ended::Finished(result));
            }
            // Every change of activity happens inside the poll above, so this sees the latest.
            let snapshot = this.activity.snapshot();
            if this.armed_for != Some(snapshot) {
                this.armed_for = Some(snapshot);
                let deadline = this.activity.deadline(snapshot, this.timeouts);
                this.timer.as_mut().reset(deadline);
                this.armed = true;
            }
            if !this.armed || this.timer.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            this.armed = false;
            match snapshot >> STATE_SHIFT {
                WAITING_HEAD => return Poll::Ready(Ended::HeadTimedOut),
                IN_FLIGHT => return Poll::Ready(Ended::Stalled),
                // Closing, idle, and still not done: hyper is stuck flushing to a client that
                // does not read.
                _ if this.closing => return Poll::Ready(Ended::Stalled),
                _ => {
                    tracing::debug!("closing an idle connection");
                    this.shut_down();
                    // hyper flushes what it owes before it closes; the client gets the header
                    // timeout to take it.
                    this.timer
                        .as_mut()
                        .reset(Instant::now() + this.timeouts.header);
                    this.armed = true;
                }
            }
        }
    }
}
