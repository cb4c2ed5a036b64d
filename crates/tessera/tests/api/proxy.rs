//! A TCP proxy a test puts between a server and its database, to cut the server off and
//! restore it: accept, connect upstream, copy both ways. Cut, it severs every connection it
//! carries and closes new ones as soon as they are accepted; restored, it carries new
//! connections again. It runs on the test's runtime and stops when dropped.

use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// A running proxy from a loopback port to `upstream`.
pub struct Proxy {
    addr: SocketAddr,
    /// `true` while cut; every connection task watches it.
    cut: watch::Sender<bool>,
    accept: JoinHandle<()>,
}

impl Proxy {
    /// Listens on a fresh loopback port and forwards every connection to `upstream`.
    pub async fn start(upstream: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (cut, _) = watch::channel(false);
        let watcher = cut.clone();
        let accept = tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    continue;
                };
                if *watcher.borrow() {
                    drop(client);
                    continue;
                }
                let cut = watcher.subscribe();
                let upstream = upstream.clone();
                tokio::spawn(carry(client, upstream, cut));
            }
        });
        Self { addr, cut, accept }
    }

    /// The address clients connect to instead of the upstream.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Severs every connection now and refuses new ones until [`Proxy::restore`].
    pub fn cut(&self) {
        self.cut.send_replace(true);
    }

    /// Carries new connections again.
    pub fn restore(&self) {
        self.cut.send_replace(false);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut.send_replace(true);
    }
}

/// Copies between `client` and a new connection to `upstream` until either side closes or
/// the proxy is cut; then both sockets are dropped.
async fn carry(mut client: TcpStream, upstream: String, mut cut: watch::Receiver<bool>) {
    let Ok(mut server) = TcpStream::connect(&upstream).await else {
        return;
    };
    tokio::select! {
        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
        _ = cut.wait_for(|cut| *cut) => {}
    }
}
