//! A served application's registration lifecycle, for any RPC framework: register its
//! services (with heartbeats) once it listens, and on the shutdown signal deregister first,
//! keep serving while consumers notice, then stop the framework gracefully.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::time::Duration;

use crate::consumer::ServiceKey;
use crate::{Client, InstanceSpec, Registration, ServerLimit};

/// The error of [`ServerRegistration::serve`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A future resolving when the framework should stop accepting calls.
pub type ShutdownSignal = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Registers a served application in Polaris for as long as it serves (what
/// `polaris-tonic` and `polaris-volo` wrap around their servers).
///
/// ```no_run
/// # async fn demo(client: polaris_sdk::Client) -> Result<(), polaris_sdk::lifecycle::BoxError> {
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
/// let local = listener.local_addr()?;
/// polaris_sdk::ServerRegistration::builder(client)
///     .service_name("echo")
///     .serve(local, |shutdown| async move {
///         // run the framework's server on `listener` until `shutdown` resolves
///         shutdown.await;
///         Ok::<(), std::io::Error>(())
///     })
///     .await
/// # }
/// ```
pub struct ServerRegistration {
    client: Client,
    services: Vec<String>,
    host: Option<String>,
    /// Namespace, metadata, version, weight and TTL of every registered instance (service,
    /// host and port are filled in per registration).
    template: InstanceSpec,
    delay_register: Duration,
    drain: Duration,
    max_wait: Duration,
    on_registered: Option<OnRegistered>,
    /// What starts the shutdown; SIGINT or SIGTERM ([`crate::shutdown_signal`]) when unset. In
    /// a mutex only so that the registration is `Sync` (the future need not be).
    signal: std::sync::Mutex<Option<ShutdownSignal>>,
}

/// A callback given the registered host and port.
type OnRegistered = Box<dyn FnOnce(&str, u16) + Send + Sync>;

/// The local IP that reaches the client's first Polaris server (127.0.0.1 when it cannot be
/// reached): the address a provider should listen on and register.
pub async fn local_host(client: &Client) -> IpAddr {
    let polaris = client
        .settings()
        .global
        .server_connector
        .addresses
        .first()
        .cloned()
        .unwrap_or_else(|| "127.0.0.1:8091".into());
    let loopback = IpAddr::from([127, 0, 0, 1]);
    match tokio::net::TcpStream::connect(&polaris).await {
        Ok(stream) => stream.local_addr().map_or(loopback, |a| a.ip()),
        Err(_) => loopback,
    }
}

impl ServerRegistration {
    /// A registration in namespace `default`, TTL 5 s, drain 1 s, graceful wait up to 30 s.
    pub fn builder(client: Client) -> ServerRegistration {
        ServerRegistration {
            client,
            services: Vec::new(),
            host: None,
            template: InstanceSpec::new("default", "", "", 0).protocol("grpc"),
            delay_register: Duration::ZERO,
            drain: Duration::from_secs(1),
            max_wait: Duration::from_secs(30),
            on_registered: None,
            signal: std::sync::Mutex::new(None),
        }
    }

    /// The namespace to register in.
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.template.namespace = namespace.into();
        self
    }

    /// Registers under this Polaris service name (may be given several times).
    pub fn service_name(mut self, name: impl Into<String>) -> Self {
        self.services.push(name.into());
        self
    }

    /// The host to register (default: the listener's IP, or when it listens on every
    /// interface, the local address that reaches the Polaris server).
    pub fn host(mut self, host: impl Into<String>) -> Self {
        self.host = Some(host.into());
        self
    }

    /// Adds instance metadata.
    pub fn metadata<K: Into<String>, V: Into<String>>(
        mut self,
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        self.template = self.template.metadata(pairs);
        self
    }

    /// The version label.
    pub fn version(mut self, version: impl Into<String>) -> Self {
        self.template = self.template.version(version);
        self
    }

    /// The load-balancing weight.
    pub fn weight(mut self, weight: u32) -> Self {
        self.template = self.template.weight(weight);
        self
    }

    /// The heartbeat TTL.
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.template = self.template.ttl(ttl);
        self
    }

    /// Waits this long after the server listens before registering (warm-up).
    pub fn delay_register(mut self, delay: Duration) -> Self {
        self.delay_register = delay;
        self
    }

    /// On shutdown: how long to keep serving after deregistering (so consumers learn of it),
    /// and the longest wait for calls in flight after that.
    pub fn graceful(mut self, drain: Duration, max_wait: Duration) -> Self {
        self.drain = drain;
        self.max_wait = max_wait;
        self
    }

    /// Shuts down when `signal` resolves instead of on SIGINT or SIGTERM.
    pub fn shutdown_on(mut self, signal: impl Future<Output = ()> + Send + 'static) -> Self {
        *self.signal.get_mut().unwrap_or_else(|e| e.into_inner()) = Some(Box::pin(signal));
        self
    }

    /// Runs once every service is registered, with the host and port registered.
    pub fn on_registered(mut self, f: impl FnOnce(&str, u16) + Send + Sync + 'static) -> Self {
        self.on_registered = Some(Box::new(f));
        self
    }

    /// The first service to register, in its namespace (whose rate limits a server layer
    /// enforces).
    pub fn first_service(&self) -> Option<ServiceKey> {
        self.services
            .first()
            .map(|name| ServiceKey::new(&self.template.namespace, name))
    }

    /// The rate limit of the first service to register ([`first_service`](Self::first_service),
    /// `default/""` when none is named), which a server rate-limit layer enforces.
    pub fn server_limit(&self) -> ServerLimit {
        let service = self
            .first_service()
            .unwrap_or_else(|| ServiceKey::new("default", ""));
        ServerLimit::new(self.client.limiter(), service)
    }

    /// The client registering.
    pub fn client(&self) -> &Client {
        &self.client
    }

    async fn host_for(&self, local: SocketAddr) -> String {
        if let Some(host) = &self.host {
            return host.clone();
        }
        if !local.ip().is_unspecified() {
            return local.ip().to_string();
        }
        local_host(&self.client).await.to_string()
    }

    async fn register_all(&self, host: &str, port: u16) -> Result<Vec<Registration>, BoxError> {
        let mut done: Vec<Registration> = Vec::new();
        for name in &self.services {
            let spec = InstanceSpec {
                service: name.clone(),
                host: host.to_string(),
                port: u32::from(port),
                ..self.template.clone()
            };
            match self.client.provider().register(spec).await {
                Ok(registration) => done.push(registration),
                Err(e) => {
                    for registration in done {
                        let _ = registration.deregister().await;
                    }
                    return Err(format!("registering {name}: {e}").into());
                }
            }
        }
        Ok(done)
    }

    /// Serves through `serve` (given the shutdown signal to hand to the framework; the
    /// framework already listens on `local`), registers every service once listening, and
    /// on the shutdown signal ([`shutdown_on`](Self::shutdown_on)): deregisters, keeps
    /// serving for the drain time, then shuts the framework down gracefully (calls in flight
    /// finish, bounded by the max wait). A registration failure stops the server.
    pub async fn serve<F, Fut, E>(mut self, local: SocketAddr, serve: F) -> Result<(), BoxError>
    where
        F: FnOnce(ShutdownSignal) -> Fut,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Into<BoxError> + Send + 'static,
    {
        if self.services.is_empty() {
            return Err("no Polaris service name to register".into());
        }
        let host = self.host_for(local).await;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let shutdown: ShutdownSignal = Box::pin(async move {
            let _ = stopped.await;
        });
        let mut serving = tokio::spawn(serve(shutdown));
        let signal = self
            .signal
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        let mut signal = signal.unwrap_or_else(|| Box::pin(crate::shutdown_signal()));
        let registered = tokio::select! {
            r = async {
                tokio::time::sleep(self.delay_register).await;
                self.register_all(&host, local.port()).await
            } => r,
            ended = &mut serving => return flatten(ended),
        };
        let registrations = match registered {
            Ok(r) => r,
            Err(e) => {
                let _ = stop.send(());
                let _ = serving.await;
                return Err(e);
            }
        };
        tracing::info!(services = ?self.services, %host, port = local.port(), "registered in Polaris");
        if let Some(f) = self.on_registered.take() {
            f(&host, local.port());
        }
        let ended_early = tokio::select! {
            _ = &mut signal => None,
            ended = &mut serving => Some(ended),
        };
        for registration in registrations {
            if let Err(e) = registration.deregister().await {
                tracing::warn!(error = %e, "deregistration failed");
            }
        }
        if let Some(ended) = ended_early {
            return flatten(ended);
        }
        tracing::info!(drain = ?self.drain, "deregistered: draining before shutdown");
        tokio::time::sleep(self.drain).await;
        let _ = stop.send(());
        match tokio::time::timeout(self.max_wait, &mut serving).await {
            Ok(ended) => flatten(ended),
            Err(_) => {
                serving.abort();
                tracing::warn!(max_wait = ?self.max_wait, "calls still running at the graceful limit: stopped");
                Ok(())
            }
        }
    }
}

fn flatten<E: Into<BoxError>>(
    ended: Result<Result<(), E>, tokio::task::JoinError>,
) -> Result<(), BoxError> {
    match ended {
        Ok(result) => result.map_err(Into::into),
        Err(join) => Err(Box::new(join)),
    }
}
