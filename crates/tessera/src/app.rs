//! Building and running one server instance.
//!
//! [`Application::build`] turns resolved settings into a bound listener (port 0 picks a
//! free port) and the router; tests build several in one process, each with its own
//! database, clock and counters: there is no global state.
//!
//! The ports are bound before anything is written (the API's, and the metrics listener's when
//! `TESSERA_METRICS_LISTEN` is set): a start that cannot listen leaves no first admin behind
//! (nor a database), so a generated password is never lost unseen.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use secrecy::SecretString;
use tessera_config::Settings;
use tessera_store::Store;
use tokio::net::TcpListener;

use crate::auth::Authenticator;
use crate::clock::SharedClock;
use crate::cluster::{self, Cluster, ClusterSettings};
use crate::http::{self, AppState};
use crate::keys::Keys;
use crate::metrics::Metrics;
use crate::password::Passwords;
use crate::serve::{self, ConnectionLimits};
use crate::sessions::{SessionLifetimes, Sessions};
use crate::throttle::{Limits, LoginThrottle};
use crate::users::{Bootstrap, Users};

/// How often ended and expired sessions (and old feed entries) are deleted.
pub const SESSION_PURGE_INTERVAL: Duration = Duration::from_secs(60);

/// A built, bound, not yet running server.
#[derive(Debug)]
pub struct Application {
    listener: TcpListener,
    local_addr: SocketAddr,
    /// The listener serving only `/metrics`, and its address, when the settings ask for one.
    metrics: Option<(TcpListener, SocketAddr)>,
    state: AppState,
    bootstrap: Bootstrap,
    limits: ConnectionLimits,
}

/// The lease the settings give an instance (see [`crate::cluster`]).
pub fn instance_lease(settings: &Settings) -> Duration {
    Duration::from_secs(u64::from(settings.instance_lease_seconds))
}

/// Opens the existing database and assembles the authenticator the settings describe (for
/// the command line, which creates no database; see [`open_existing_store`]).
pub async fn authenticator(
    settings: &Settings,
    clock: SharedClock,
) -> anyhow::Result<Authenticator> {
    authenticator_on(settings, clock, open_existing_store(settings).await?).await
}

/// The bound listeners: the API's, and the metrics listener when the settings name one.
struct Bound {
    api: TcpListener,
    metrics: Option<TcpListener>,
}

/// Listens on the addresses the settings name.
async fn bind(settings: &Settings) -> anyhow::Result<Bound> {
    let api = listen(&settings.listen, "TESSERA_LISTEN").await?;
    let metrics = match &settings.metrics_listen {
        Some(address) => Some(listen(address, "TESSERA_METRICS_LISTEN").await?),
        None => None,
    };
    Ok(Bound { api, metrics })
}

/// Listens on `address`, the value of the setting `setting`.
async fn listen(address: &str, setting: &str) -> anyhow::Result<TcpListener> {
    TcpListener::bind(address)
        .await
        .with_context(|| format!("failed to listen on {address} ({setting})"))
}

/// Opens the database the settings name, creating it if it is missing.
pub async fn open_store(settings: &Settings) -> anyhow::Result<Arc<dyn Store>> {
    tessera_store::connect(&settings.database_url)
        .await
        .context("failed to open the database")
}

/// Opens the existing database the settings name; creates nothing. A missing one is
/// [`tessera_store::StoreError::Missing`] (under the error's context).
pub async fn open_existing_store(settings: &Settings) -> anyhow::Result<Arc<dyn Store>> {
    tessera_store::connect_existing(&settings.database_url)
        .await
        .context("failed to open the database")
}

/// The authenticator the settings describe, on a store the caller opened.
pub async fn authenticator_on(
    settings: &Settings,
    clock: SharedClock,
    store: Arc<dyn Store>,
) -> anyhow::Result<Authenticator> {
    let passwords = Passwords::for_this_machine().context("failed to set up password hashing")?;
    let metrics = Arc::new(Metrics::new());
    let cluster = Cluster::new(
        Arc::clone(&store),
        clock.clone(),
        ClusterSettings {
            lease: instance_lease(settings),
            notifications: settings.database_notifications,
        },
    );
    let sessions = Sessions::new(
        Arc::clone(&store),
        SessionLifetimes {
            absolute_seconds: i64::from(settings.refresh_absolute_minutes) * 60,
            idle_seconds: i64::from(settings.refresh_idle_minutes) * 60,
            reuse_grace_seconds: i64::from(settings.refresh_reuse_grace_seconds),
        },
        Arc::clone(&metrics),
        cluster.clone(),
    );
    let throttle = LoginThrottle::new(
        Arc::clone(&store),
        Limits {
            per_account: settings.login_max_account_failures,
            per_client: settings.login_max_client_failures,
            window_seconds: settings.login_failure_window_seconds,
        },
    );
    let keys = Keys::load(settings, Arc::clone(&store), clock.now()).await?;
    cluster.reload_keys_with(keys.clone());
    Ok(Authenticator {
        clients: crate::clients::Clients::new(Arc::clone(&store)),
        keys,
        users: Users::new(store, passwords, sessions.clone(), cluster.clone()),
        sessions,
        single_session: settings.single_session,
        throttle: Arc::new(throttle),
        token_lifetime_seconds: i64::from(settings.jwt_expiration_minutes) * 60,
        metrics,
        clock,
        cluster,
    })
}

impl Application {
    /// Binds, opens the database, and creates the first admin if there are no users (last,
    /// so that nothing after it can fail and lose a generated password).
    pub async fn build(settings: &Settings, clock: SharedClock) -> anyhow::Result<Self> {
        let bound = bind(settings).await?;
        let store = open_store(settings).await?;
        Self::assemble(settings, clock, bound, store).await
    }

    /// As [`Application::build`], on a store the caller opened (tests open theirs with a
    /// short busy timeout).
    pub async fn build_on(
        settings: &Settings,
        clock: SharedClock,
        store: Arc<dyn Store>,
    ) -> anyhow::Result<Self> {
        let bound = bind(settings).await?;
        Self::assemble(settings, clock, bound, store).await
    }

    /// Everything after binding and opening the store; the first admin comes last.
    async fn assemble(
        settings: &Settings,
        clock: SharedClock,
        bound: Bound,
        store: Arc<dyn Store>,
    ) -> anyhow::Result<Self> {
        let Bound { api, metrics } = bound;
        let local_addr = api
            .local_addr()
            .context("failed to read the bound address")?;
        let metrics = match metrics {
            Some(listener) => {
                let address = listener
                    .local_addr()
                    .context("failed to read the metrics listener's bound address")?;
                Some((listener, address))
            }
            None => None,
        };
        let (limits, warnings) =
            ConnectionLimits::from_settings(settings, serve::open_file_limit());
        for warning in warnings {
            tracing::warn!("{warning}");
        }
        let auth = authenticator_on(settings, clock.clone(), store).await?;
        let fixed_port = !settings.listen.ends_with(":0");
        auth.cluster
            .join(&local_addr.to_string(), fixed_port)
            .await
            .context("failed to join the instances on this database (change feed, heartbeat)")?;
        let admin_password: Option<&SecretString> = settings.admin_password.as_ref();
        let bootstrap = auth
            .users
            .bootstrap(admin_password, clock.now())
            .await
            .context("failed to create the first admin user")?;
        // Take in the feed up to here (the admin just created included), so the follower's
        // first round does not evict what the first requests cache. Not fatal: the follower
        // does the same within its first round.
        if let Err(error) = auth.catch_up().await {
            tracing::warn!(error = %crate::auth::describe(&error), "could not read the change feed");
        }
        Ok(Self {
            listener: api,
            local_addr,
            metrics,
            state: AppState {
                auth: Arc::new(auth),
                trusted_proxies: Arc::new(settings.trusted_proxies.clone()),
                secure_cookies: !http::is_loopback_listen(&settings.listen),
                cors_origins: http::CorsOrigins::new(&settings.cors_origins),
            },
            bootstrap,
            limits,
        })
    }

    /// The address actually bound (the real port when the setting asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The address of the listener serving only `/metrics`, when `TESSERA_METRICS_LISTEN` is
    /// set (the real port when it asked for port 0).
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics.as_ref().map(|(_, address)| *address)
    }

    /// The shared state (for the CLI and tests).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// The connection rules the server applies.
    pub fn limits(&self) -> ConnectionLimits {
        self.limits
    }

    /// What start-up did about the first admin user.
    pub fn bootstrap(&self) -> &Bootstrap {
        &self.bootstrap
    }

    /// Serves until `shutdown` completes, then shuts down gracefully within the shutdown
    /// deadline (see [`serve::serve`]).
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let auth = Arc::clone(&self.state.auth);
        // Both stop when this future ends or is dropped.
        let follower = {
            let (users, sessions) = (auth.users.clone(), auth.sessions.clone());
            cluster::AbortOnDrop(tokio::spawn(auth.cluster.clone().follow(move |evict| {
                cluster::evict_from(&users, &sessions, evict);
            })))
        };
        let purger = cluster::AbortOnDrop(tokio::spawn(purge_sessions(self.state.auth.clone())));
        let trusted_proxies = Arc::clone(&self.state.trusted_proxies);
        let mut listeners = vec![(
            self.listener,
            http::router(self.state.clone(), self.metrics.is_none()),
        )];
        if let Some((listener, _)) = self.metrics {
            listeners.push((listener, http::metrics_router(self.state)));
        }
        serve::serve(listeners, self.limits, trusted_proxies, shutdown).await;
        follower.stop().await;
        purger.stop().await;
        auth.cluster.leave().await;
        // Only after the last request: every write then reaches the main database file.
        auth.close().await;
        Ok(())
    }

    /// Serves until Ctrl-C or SIGTERM.
    pub async fn run(self) -> anyhow::Result<()> {
        self.run_until(shutdown_signal()).await
    }
}

/// Deletes ended and expired sessions in bounded batches; every minute.
async fn purge_sessions(auth: Arc<Authenticator>) {
    let mut interval = tokio::time::interval(SESSION_PURGE_INTERVAL);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        match auth.sessions.purge(auth.clock.now()).await {
            Ok(0) => {}
            Ok(purged) => tracing::debug!(purged, "deleted ended and expired sessions"),
            Err(error) => tracing::warn!(error = %error, "could not purge sessions"),
        }
        let before = auth.clock.now() - cluster::FEED_RETENTION_SECONDS;
        match auth
            .users
            .prune_feed(before, cluster::STALE_INSTANCE_MS)
            .await
        {
            Ok(0) => {}
            Ok(pruned) => tracing::debug!(pruned, "deleted old change feed entries"),
            Err(error) => tracing::warn!(error = %error, "could not prune the change feed"),
        }
        // Keys past their time go; with TESSERA_KEY_ROTATION_DAYS, a due key rotates (one
        // instance wins the rotation, the others see it in the feed).
        match auth.keys.tick(auth.clock.now()).await {
            Ok(None) => {}
            Ok(Some(rotation)) => tracing::info!(
                current = %rotation.current,
                retired = rotation.retired.as_deref().unwrap_or(""),
                next = %rotation.next,
                "rotated the signing key on schedule"
            ),
            Err(error) => tracing::warn!(error = %error, "could not look after the signing keys"),
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
