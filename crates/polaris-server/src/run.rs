//! Wiring: opens the store, loads the registry, serves the HTTP OpenAPI, and shuts everything
//! down in order when asked to.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{Context, bail};
use axum::serve::ListenerExt;
use polaris_api_grpc::GrpcMetrics;
use polaris_api_http::{AppState, HttpMetrics};
use polaris_cluster::Domains;
use polaris_config::ConfigCenter;
use polaris_governance::Governance;
use polaris_health::{Health, HealthOptions};
use polaris_naming::{Naming, NamingOptions};
use polaris_store::NamingStore;
use polaris_store_redb::{GroupCommitOptions, RedbStore};
use polaris_store_sql::{SqlOptions, SqlStore};
use polaris_tls::{ALPN_GRPC, ALPN_HTTP1, CertStore, Listener};
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::config::{ListenerConfig, ServerConfig, StoreConfig};
use crate::limits::ServerLimits;

/// How long open connections and streams may take to finish after a stop signal.
pub const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

/// A server that has opened its store and bound its listeners, ready to serve.
pub struct Server {
    naming: Arc<Naming>,
    health: Arc<Health>,
    governance: Arc<Governance>,
    /// The config center, served over HTTP and the config gRPC port.
    pub config: Arc<ConfigCenter>,
    auth: Arc<polaris_auth::Auth>,
    purger: tokio::task::JoinHandle<()>,
    /// The follower, membership and hints of cluster mode (a shared SQL store).
    cluster: Option<crate::cluster::Cluster>,
    grpc: Option<Listener>,
    config_grpc: Option<Listener>,
    grpc_metrics: Arc<GrpcMetrics>,
    http: Option<(Listener, axum::Router)>,
    eureka: Option<(Listener, polaris_api_eureka::EurekaState)>,
    xds: Option<(Listener, Arc<polaris_xds::XdsMetrics>)>,
    console: Option<(Listener, axum::Router)>,
    limits: ServerLimits,
}

impl Server {
    /// Opens the store, loads the registry and binds the listeners.
    pub async fn bind(config: &ServerConfig) -> anyhow::Result<Server> {
        let mut registry = Registry::with_prefix("polaris");
        let (store, sql_store) = open_store(config, &mut registry).await?;
        // A shared store: note where the feed stands before the caches load, so the follower
        // reads again (and skips) whatever commits while they load.
        let feed_start = match store.change_feed() {
            Some(feed) => Some(
                feed.revisions()
                    .await
                    .map_err(|e| anyhow::anyhow!("reading the change feed's revisions: {e}"))?,
            ),
            None => None,
        };
        let options = NamingOptions {
            auto_create_service: config.naming.auto_create,
            auto_create_namespace: config.namespace.auto_create,
        };
        let naming = Arc::new(
            Naming::open(store.clone(), options)
                .await
                .map_err(|e| anyhow::anyhow!("loading the registry: {e}"))?,
        );
        let governance = Arc::new(
            Governance::open(store.clone())
                .await
                .map_err(|e| anyhow::anyhow!("loading governance rules: {e}"))?,
        );
        let config_center = Arc::new(
            ConfigCenter::open(store.clone())
                .await
                .map_err(|e| anyhow::anyhow!("loading the config center: {e}"))?,
        );
        let auth = polaris_auth::Auth::open(store.clone(), config.auth.clone())
            .await
            .map_err(|e| anyhow::anyhow!("loading users and strategies: {e}"))?;
        let mut cluster = match (feed_start, &sql_store) {
            (Some(start), Some(sql)) => Some(crate::cluster::Cluster::start(
                config,
                sql.clone(),
                Domains {
                    naming: naming.clone(),
                    governance: governance.clone(),
                    config: config_center.clone(),
                    auth: auth.clone(),
                },
                start,
            )?),
            _ => None,
        };
        // On a shared store only the leader purges (membership runs it, fenced).
        let purger = match &cluster {
            Some(_) => tokio::spawn(std::future::pending()),
            None => tokio::spawn(purge_tombstones(store.clone())),
        };
        let (beats, redis_beats) = crate::cluster::beat_store(config)?;
        let health = Health::start(
            naming.clone(),
            beats,
            HealthOptions {
                open: config.healthcheck.open,
                owner: cluster.as_ref().map(|c| c.owner()),
            },
        );
        let limits = ServerLimits::new(&config.limits);
        config_center.set_max_watch_files(limits.max_watch_files());
        polaris_limits::register(&mut registry);
        let metrics = HttpMetrics::register(&mut registry);
        let grpc_metrics = GrpcMetrics::register(&mut registry);
        let xds = match config.apiserver("xds-v3") {
            Some(api) => Some((
                secure(
                    &api.listener,
                    polaris_xds::bind(api.listener.socket_addr()).await?,
                    ALPN_GRPC,
                    "xDS",
                )?,
                Arc::new(polaris_xds::XdsMetrics::register(&mut registry)),
            )),
            None => None,
        };
        let registry = Arc::new(registry);
        let api = polaris_api_http::router(AppState {
            auth: auth.clone(),
            naming: naming.clone(),
            health: health.clone(),
            governance: governance.clone(),
            config: config_center.clone(),
            metrics,
            registry,
        });
        // Before the console takes its copy: writes through either listener share the buckets.
        let api = polaris_api_http::limits::limit_writes(api, limits.writes(), "api-http");
        let http = match &config.http {
            Some(listen) => {
                let addr = SocketAddr::new(listen.listen_ip, listen.listen_port);
                let listener = TcpListener::bind(addr)
                    .await
                    .with_context(|| format!("cannot listen for HTTP on {addr}"))?;
                Some((secure(listen, listener, ALPN_HTTP1, "HTTP")?, api.clone()))
            }
            None => None,
        };
        let grpc = match config.apiserver("service-grpc") {
            Some(api) => {
                let addr = api.listener.socket_addr();
                let listener = TcpListener::bind(addr)
                    .await
                    .with_context(|| format!("cannot listen for naming gRPC on {addr}"))?;
                Some(secure(&api.listener, listener, ALPN_GRPC, "naming gRPC")?)
            }
            None => None,
        };
        let config_grpc = match config.apiserver("config-grpc") {
            Some(api) => {
                let addr = api.listener.socket_addr();
                let listener = TcpListener::bind(addr)
                    .await
                    .with_context(|| format!("cannot listen for config gRPC on {addr}"))?;
                Some(secure(&api.listener, listener, ALPN_GRPC, "config gRPC")?)
            }
            None => None,
        };
        let eureka = match config.apiserver("service-eureka") {
            Some(api) => {
                let addr = api.listener.socket_addr();
                let listener = TcpListener::bind(addr)
                    .await
                    .with_context(|| format!("cannot listen for Eureka on {addr}"))?;
                let listener = secure(&api.listener, listener, ALPN_HTTP1, "Eureka")?;
                let options = polaris_api_eureka::EurekaOptions::from_option(&api.option);
                let state = polaris_api_eureka::EurekaState::new(
                    naming.clone(),
                    health.clone(),
                    auth.clone(),
                    options,
                );
                Some((listener, state))
            }
            None => None,
        };
        let console = match config.apiserver("console") {
            Some(entry) => {
                let addr = entry.listener.socket_addr();
                let listener = polaris_console::bind(addr)
                    .await
                    .with_context(|| format!("cannot listen for the console on {addr}"))?;
                let listener = secure(&entry.listener, listener, ALPN_HTTP1, "the console")?;
                let node = crate::console::node_info(config, &http, &grpc, &config_grpc, &listener);
                Some((
                    listener,
                    polaris_console::router(api, crate::console::state(&auth, &health, node)),
                ))
            }
            None => None,
        };
        if let Some(cluster) = &mut cluster {
            cluster.join(config, &options_addr(&http), &grpc, naming.clone());
        }
        let maintain = crate::maintain::routes(crate::maintain::ClusterState {
            auth: auth.clone(),
            store: cluster.as_ref().map(|c| c.sql.clone()),
            follower: cluster.as_ref().map(|c| c.follower.clone()),
            membership: cluster.as_ref().and_then(|c| c.membership.clone()),
            beats: redis_beats,
        });
        let http = http.map(|(listener, router)| (listener, router.merge(maintain)));
        Ok(Server {
            cluster,
            naming,
            health,
            governance,
            config: config_center,
            auth,
            purger,
            grpc,
            config_grpc,
            grpc_metrics,
            http,
            eureka,
            xds,
            console,
            limits,
        })
    }

    /// The bound Eureka address, if enabled.
    pub fn eureka_addr(&self) -> Option<SocketAddr> {
        self.eureka.as_ref().and_then(|(l, _)| l.local_addr().ok())
    }

    /// The bound naming gRPC address, if enabled.
    pub fn grpc_addr(&self) -> Option<SocketAddr> {
        self.grpc.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// The bound config gRPC address, if enabled.
    pub fn config_grpc_addr(&self) -> Option<SocketAddr> {
        self.config_grpc.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// The bound xDS address, if enabled.
    pub fn xds_addr(&self) -> Option<SocketAddr> {
        self.xds.as_ref().and_then(|(l, _)| l.local_addr().ok())
    }

    /// The bound console address, if the console is enabled.
    pub fn console_addr(&self) -> Option<SocketAddr> {
        self.console.as_ref().and_then(|(l, _)| l.local_addr().ok())
    }

    /// The bound HTTP address, if the HTTP OpenAPI is enabled.
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.http.as_ref().and_then(|(l, _)| l.local_addr().ok())
    }

    /// Serves until `shutdown` resolves, then stops accepting, lets in-flight requests finish
    /// (long-lived streams get [`SHUTDOWN_GRACE`]) and closes the store.
    pub async fn serve(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let (stop_tx, stop_rx) = watch::channel(false);
        let stopped = move || {
            let mut rx = stop_rx.clone();
            async move {
                let _ = rx.wait_for(|stop| *stop).await;
            }
        };
        let mut servers = JoinSet::new();
        if let Some((listener, router)) = self.http {
            tracing::info!(target: "polaris_api_http", addr = ?listener.local_addr().ok(), tls = listener.is_tls(), "HTTP OpenAPI listening");
            // Admitted sockets have TCP_NODELAY; `tap_io` gives axum the peer address.
            let admission = self.limits.connections("api-http").admission();
            let listener = listener.admitting(admission).tap_io(|_| {});
            let serve = axum::serve(
                listener,
                router.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(stopped());
            servers.spawn(async move { serve.await.context("HTTP server failed") });
        }
        if let Some(listener) = self.grpc {
            tracing::info!(target: "polaris_api_grpc", addr = ?listener.local_addr().ok(), tls = listener.is_tls(), "naming gRPC listening");
            let serve = polaris_api_grpc::serve_with(
                listener,
                self.naming.clone(),
                self.governance.clone(),
                self.health.clone(),
                self.grpc_metrics.clone(),
                self.auth.clone(),
                self.limits.grpc("service-grpc"),
                stopped(),
            );
            servers.spawn(async move { serve.await.context("naming gRPC server failed") });
        }
        if let Some(listener) = self.config_grpc {
            tracing::info!(target: "polaris_api_grpc", addr = ?listener.local_addr().ok(), tls = listener.is_tls(), "config gRPC listening");
            let options = polaris_api_grpc::ConfigGrpcOptions {
                limits: self.limits.grpc("config-grpc"),
                ..Default::default()
            };
            let serve = polaris_api_grpc::serve_config_with(
                listener,
                self.config.clone(),
                self.grpc_metrics.clone(),
                options,
                self.auth.clone(),
                stopped(),
            );
            servers.spawn(async move { serve.await.context("config gRPC server failed") });
        }
        if let Some((listener, state)) = self.eureka {
            tracing::info!(target: "polaris_api_eureka", addr = ?listener.local_addr().ok(), tls = listener.is_tls(), "Eureka listening");
            let serve = polaris_api_eureka::serve(listener, state, stopped());
            servers.spawn(async move { serve.await.context("Eureka server failed") });
        }
        if let Some((listener, metrics)) = self.xds {
            tracing::info!(target: "polaris_xds", addr = ?listener.local_addr().ok(), tls = listener.is_tls(), "xDS v3 listening");
            let (limits, connections) = self.limits.xds();
            let serve = polaris_xds::serve_with(
                listener,
                self.naming.clone(),
                self.governance.clone(),
                self.auth.clone(),
                metrics,
                limits,
                connections,
                stopped(),
            );
            servers.spawn(async move { serve.await.context("xDS server failed") });
        }
        if let Some((listener, router)) = self.console {
            let serve = polaris_console::serve(listener, router, stopped());
            servers.spawn(async move { serve.await.context("console server failed") });
        }
        let mut failure = None;
        tokio::select! {
            () = shutdown => {}
            Some(result) = servers.join_next() => {
                failure = result.map_err(anyhow::Error::from).and_then(|r| r).err();
            }
        }
        let _ = stop_tx.send(true);
        let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
            while let Some(result) = servers.join_next().await {
                if let Err(err) = result.map_err(anyhow::Error::from).and_then(|r| r) {
                    tracing::error!(%err, "listener failed while stopping");
                }
            }
        });
        if drained.await.is_err() {
            tracing::warn!("open streams did not end within {SHUTDOWN_GRACE:?}; closing them");
            servers.abort_all();
        }
        tracing::info!("listeners closed; stopping the health checker and closing the store");
        self.health.stop().await;
        self.purger.abort();
        if let Some(cluster) = &self.cluster {
            cluster.stop();
        }
        self.naming
            .close()
            .await
            .map_err(|e| anyhow::anyhow!("closing the store: {e}"))?;
        tracing::info!("polaris-server stopped");
        match failure {
            Some(err) => Err(err),
            None => Ok(()),
        }
    }
}

/// `tcp` as `config` asks: TLS with the files of its `option.tls` block (loaded now, so a
/// missing or bad file stops the start with its name), or plain text.
fn secure(
    config: &ListenerConfig,
    tcp: TcpListener,
    alpn: &'static [&'static [u8]],
    what: &str,
) -> anyhow::Result<Listener> {
    let Some(files) = &config.tls else {
        return Ok(Listener::plain(tcp));
    };
    let certs = CertStore::open(files.clone(), alpn)
        .map_err(|err| anyhow::anyhow!("TLS for {what}: {err}"))?;
    tracing::info!(cert = %files.cert_file.display(),
        client_certificates = files.trusted_ca_file.is_some(), "TLS on for {what}");
    Ok(Listener::tls(tcp, certs))
}

/// How long tombstones of deleted records are kept (other nodes of a cluster load changes
/// incrementally and must see deletions); the official server purges after about 20 minutes.
const TOMBSTONE_RETENTION: std::time::Duration = std::time::Duration::from_secs(20 * 60);

/// Forgets old tombstones every few minutes, for the server's lifetime.
async fn purge_tombstones(store: Arc<dyn NamingStore>) {
    let mut every = tokio::time::interval(std::time::Duration::from_secs(5 * 60));
    loop {
        every.tick().await;
        let before = polaris_naming::now_millis() - TOMBSTONE_RETENTION.as_millis() as i64;
        if let Err(err) = store.purge_tombstones(before).await {
            tracing::warn!(target: "polaris_store", %err, "cannot purge tombstones");
        }
    }
}

/// `store.name` of the shared SQL store (the official server's MySQL plugin name).
const SQL_STORE_NAME: &str = "defaultStore";

/// The store, and the same store as a SQL store when it is one (cluster mode).
type OpenedStore = (Arc<dyn NamingStore>, Option<Arc<SqlStore>>);

async fn open_store(config: &ServerConfig, registry: &mut Registry) -> anyhow::Result<OpenedStore> {
    match &config.store {
        StoreConfig::Embedded { path } => {
            // waitTime is not used: batches form on their own while the previous commit syncs.
            let batch = &config.naming.batch_register;
            let options = GroupCommitOptions {
                queue_size: batch.queue_size.max(1),
                max_batch: batch.max_batch_count.max(1),
                ..GroupCommitOptions::default()
            };
            let store = RedbStore::open(path, options)?;
            store.register_metrics(registry);
            tracing::info!(target: "polaris_store", path = %path.display(), "embedded store opened");
            Ok((Arc::new(store), None))
        }
        StoreConfig::Sql { name, option } if name == SQL_STORE_NAME => {
            let options = SqlOptions::from_store_option(option)
                .map_err(|e| anyhow::anyhow!("store.option: {e}"))?;
            let store = SqlStore::open(&options).await?;
            tracing::info!(target: "polaris_store", db_type = ?options.dialect, addr = %options.addr,
                database = %options.database, "SQL store opened");
            let store = Arc::new(store);
            Ok((store.clone(), Some(store)))
        }
        StoreConfig::Sql { name, .. } => {
            bail!(
                "store `{name}` is not supported; use the embedded store (store.name: embedded) \
                 or {SQL_STORE_NAME}"
            )
        }
    }
}

fn options_addr(http: &Option<(Listener, axum::Router)>) -> Option<SocketAddr> {
    http.as_ref().and_then(|(l, _)| l.local_addr().ok())
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::error!(%err, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(err) => {
                tracing::error!(%err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!("SIGINT received, shutting down"),
        () = terminate => tracing::info!("SIGTERM received, shutting down"),
    }
}
