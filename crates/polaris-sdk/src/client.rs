//! The [`Client`] and its builder.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use polaris_traffic::breaker::CircuitBreakers;
use polaris_traffic::limiter::RateLimiter;
use tokio::sync::watch;

use crate::config::Settings;
use crate::config_center::{ConfigCenter, ConfigState};
use crate::consumer::cache::{Cache, Entry, ResourceKind, ServiceKey, Snapshot};
use crate::consumer::compiled::CompiledCache;
use crate::consumer::discover::{Engine, EngineOptions};
use crate::consumer::persist::Persist;
use crate::consumer::select::Selector;
use crate::consumer::{Consumer, LbPolicy};
use crate::error::{Error, Result};
use crate::governance::Limiter;
use crate::provider::{LiveRegistration, Provider};
use crate::rpc::Rpc;

/// The SDK entry point: one per application, cheap to clone (an `Arc` inside), no globals.
///
/// Background tasks (the Discover stream, heartbeats, config watches) stop when the last clone
/// is dropped or [`shutdown`](Client::shutdown) is called.
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) settings: Settings,
    pub(crate) naming: Rpc,
    pub(crate) cache: Cache,
    pub(crate) engine: Engine,
    pub(crate) persist: Option<Persist>,
    pub(crate) selector: Selector,
    pub(crate) breakers: Arc<CircuitBreakers>,
    pub(crate) breaker_services: Mutex<polaris_traffic::FastSet<ServiceKey>>,
    pub(crate) limiters: CompiledCache<RateLimiter>,
    pub(crate) config: Arc<ConfigState>,
    pub(crate) registrations: Mutex<HashMap<u64, LiveRegistration>>,
    pub(crate) shutdown: watch::Sender<bool>,
    /// Where this application runs: the caller location of nearby routing by default.
    pub(crate) location: Option<polaris_traffic::Location>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.shutdown.send_replace(true);
    }
}

impl Client {
    /// A builder starting from the default settings.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// The consumer API: instances, routing, balancing, rules, watches.
    pub fn consumer(&self) -> Consumer {
        Consumer {
            inner: self.inner.clone(),
        }
    }

    /// The provider API: registration with heartbeats.
    pub fn provider(&self) -> Provider {
        Provider {
            inner: self.inner.clone(),
        }
    }

    /// The rate limiter API.
    pub fn limiter(&self) -> Limiter {
        Limiter {
            inner: self.inner.clone(),
        }
    }

    /// The config center API: files, typed values, watches.
    pub fn config(&self) -> ConfigCenter {
        ConfigCenter {
            inner: self.inner.clone(),
        }
    }

    /// The settings in force.
    pub fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    /// Graceful shutdown: deregisters every live registration (each bounded by the API
    /// timeout), then stops the background tasks of every clone of this client.
    pub async fn shutdown(&self) {
        let live: Vec<LiveRegistration> = self
            .inner
            .registrations
            .lock()
            .drain()
            .map(|(_, r)| r)
            .collect();
        for registration in live {
            registration.stop_and_deregister(&self.inner.naming).await;
        }
        self.inner.shutdown.send_replace(true);
    }
}

impl Inner {
    /// The cache entry, created and subscribed on first use (served from a fresh persisted
    /// copy at once when `startUseFileCache` allows).
    pub(crate) fn entry(&self, kind: ResourceKind, key: &ServiceKey) -> Arc<Entry> {
        let (entry, created) = self.cache.get_or_insert(kind, key);
        if created {
            let local = &self.settings.consumer.local_cache;
            if local.start_use_file_cache
                && let Some(persist) = &self.persist
                && let Some((answer, age)) = persist.load(kind, key)
                && age <= local.persist_available_interval
            {
                tracing::debug!(%key, ?kind, ?age, "serving the persisted answer until the server answers");
                entry.install(Arc::new(Snapshot::new(kind, key, answer, true)));
            }
            self.engine.subscribe(entry.clone());
        }
        entry
    }

    /// The snapshot of a resource: from memory, else the first answer of the server (up to the
    /// API timeout), else the persisted copy when the server is unreachable.
    pub(crate) async fn load(&self, kind: ResourceKind, key: &ServiceKey) -> Result<Arc<Snapshot>> {
        if let Some(entry) = self.cache.get(kind, key)
            && let Some(snapshot) = entry.current()
        {
            return Ok(snapshot);
        }
        let entry = self.entry(kind, key);
        if let Some(snapshot) = entry.current() {
            return Ok(snapshot);
        }
        let timeout = self.settings.global.api.timeout;
        let mut rx = entry.subscribe();
        let waited = tokio::time::timeout(
            timeout,
            rx.wait_for(|s| s.snapshot.is_some() || s.error.is_some()),
        )
        .await;
        let error = match waited {
            Ok(Ok(state)) => match (&state.snapshot, &state.error) {
                (Some(snapshot), _) => return Ok(snapshot.clone()),
                (None, Some(error)) => error.clone(),
                (None, None) => Error::Timeout(timeout),
            },
            Ok(Err(_)) => return Err(Error::Closed),
            Err(_) => Error::Timeout(timeout),
        };
        if error.is_retryable()
            && !entry
                .disk_checked
                .swap(true, std::sync::atomic::Ordering::Relaxed)
            && let Some(persist) = &self.persist
            && let Some((answer, age)) = persist.load(kind, key)
        {
            tracing::info!(%key, ?kind, ?age, %error, "server unreachable: serving the persisted answer");
            if let Some(snapshot) = entry.current() {
                return Ok(snapshot);
            }
            let snapshot = Arc::new(Snapshot::new(kind, key, answer, true));
            entry.install(snapshot.clone());
            return Ok(snapshot);
        }
        Err(error)
    }
}

/// Builds a [`Client`] from code, from a `polaris.yaml`, or both (code wins).
#[derive(Default)]
pub struct ClientBuilder {
    settings: Option<Settings>,
    file: Option<PathBuf>,
    addresses: Option<Vec<String>>,
    config_addresses: Option<Vec<String>>,
    token: Option<String>,
    timeout: Option<Duration>,
    refresh: Option<Duration>,
    persist_dir: Option<Option<PathBuf>>,
    config_persist_dir: Option<Option<PathBuf>>,
    push: Option<bool>,
    push_empty_protection: Option<bool>,
    lb: Option<LbPolicy>,
    location: Option<polaris_traffic::Location>,
}

impl ClientBuilder {
    /// Starts from these settings instead of the defaults.
    pub fn settings(mut self, settings: Settings) -> Self {
        self.settings = Some(settings);
        self
    }

    /// Loads the settings from a `polaris.yaml` file when building.
    pub fn config_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.file = Some(path.into());
        self
    }

    /// The naming server addresses (`host:port`, port 8091 by default on the server).
    pub fn addresses<I: IntoIterator<Item = S>, S: Into<String>>(mut self, addresses: I) -> Self {
        self.addresses = Some(addresses.into_iter().map(Into::into).collect());
        self
    }

    /// The config center addresses (`host:port`, 8093 by default on the server).
    pub fn config_addresses<I: IntoIterator<Item = S>, S: Into<String>>(
        mut self,
        addresses: I,
    ) -> Self {
        self.config_addresses = Some(addresses.into_iter().map(Into::into).collect());
        self
    }

    /// The token sent as `x-polaris-token`.
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// Deadline of one server call (`global.api.timeout`).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Revision poll period when the server does not push
    /// (`consumer.localCache.serviceRefreshInterval`).
    pub fn refresh_interval(mut self, interval: Duration) -> Self {
        self.refresh = Some(interval);
        self
    }

    /// Where Discover answers are persisted (`consumer.localCache.persistDir`); `None`
    /// disables persistence.
    pub fn persist_dir(mut self, dir: Option<PathBuf>) -> Self {
        self.persist_dir = Some(dir);
        self
    }

    /// Where config files are kept (`config.localCache.persistDir`); `None` disables it.
    pub fn config_persist_dir(mut self, dir: Option<PathBuf>) -> Self {
        self.config_persist_dir = Some(dir);
        self
    }

    /// Whether to ask the server for push (default true).
    pub fn push(mut self, push: bool) -> Self {
        self.push = Some(push);
        self
    }

    /// Whether an empty instance list may replace a non-empty one (default: refused).
    pub fn push_empty_protection(mut self, protect: bool) -> Self {
        self.push_empty_protection = Some(protect);
        self
    }

    /// The default load balancer (`consumer.loadbalancer.type`).
    pub fn load_balancer(mut self, policy: LbPolicy) -> Self {
        self.lb = Some(policy);
        self
    }

    /// Where this application runs: `nearbyBasedRouter` prefers instances close to it unless
    /// a call's [`Criteria`](crate::Criteria) names another location.
    pub fn location(mut self, region: &str, zone: &str, campus: &str) -> Self {
        self.location = Some(polaris_traffic::Location::new(region, zone, campus));
        self
    }

    /// Builds the client and starts its background tasks. Needs a Tokio runtime; does no IO
    /// (connections are made on first use).
    pub async fn build(self) -> Result<Client> {
        let mut settings = match (&self.file, self.settings) {
            (Some(file), _) => Settings::from_file(file)?,
            (None, Some(settings)) => settings,
            (None, None) => Settings::default(),
        };
        if let Some(a) = self.addresses {
            settings.global.server_connector.addresses = a;
        }
        if let Some(a) = self.config_addresses {
            settings.config.config_connector.addresses = a;
        }
        if let Some(t) = self.token {
            settings.global.server_connector.token = t;
        }
        if let Some(t) = self.timeout {
            settings.global.api.timeout = t;
        }
        if let Some(r) = self.refresh {
            settings.consumer.local_cache.service_refresh_interval = r;
        }
        if let Some(d) = self.persist_dir {
            settings.consumer.local_cache.persist_dir = d;
        }
        if let Some(d) = self.config_persist_dir {
            settings.config.local_cache.persist_dir = d;
        }
        if let Some(p) = self.push_empty_protection {
            settings.consumer.local_cache.push_empty_protection = p;
        }
        if let Some(lb) = self.lb {
            settings.consumer.loadbalancer.kind = lb.name().to_string();
        }
        settings.validate()?;
        let connector = &settings.global.server_connector;
        let timeout = settings.global.api.timeout;
        let naming = Rpc::new(
            &connector.addresses,
            &connector.token,
            &connector.tls(),
            connector.connect_timeout,
            timeout,
        )?;
        let config_rpc = Rpc::new(
            &settings.config_addresses(),
            &connector.token,
            &settings.config_tls(),
            connector.connect_timeout,
            timeout,
        )?;
        let default_lb =
            LbPolicy::from_name(&settings.consumer.loadbalancer.kind).ok_or_else(|| {
                Error::Settings(format!(
                    "unknown consumer.loadbalancer.type {:?}",
                    settings.consumer.loadbalancer.kind
                ))
            })?;
        let breakers = Arc::new(CircuitBreakers::with_defaults(
            &settings.consumer.circuit_breaker.defaults(),
        ));
        let selector = Selector::new(
            default_lb,
            &settings.consumer.service_router,
            breakers.clone(),
        )?;
        let (shutdown, shutdown_rx) = watch::channel(false);
        let persist = settings
            .consumer
            .local_cache
            .persist_dir
            .clone()
            .map(Persist::start);
        let local = &settings.consumer.local_cache;
        let engine = Engine::start(
            naming.clone(),
            EngineOptions {
                refresh: local.service_refresh_interval,
                push: self.push.unwrap_or(true),
                protect_empty: local.push_empty_protection,
            },
            persist.clone(),
            shutdown_rx.clone(),
        );
        let config = Arc::new(ConfigState::new(config_rpc, &settings, shutdown_rx));
        Ok(Client {
            inner: Arc::new(Inner {
                naming,
                cache: Cache::default(),
                engine,
                persist,
                selector,
                breakers,
                breaker_services: Mutex::default(),
                limiters: CompiledCache::default(),
                config,
                registrations: Mutex::new(HashMap::new()),
                shutdown,
                location: self.location,
                settings,
            }),
        })
    }
}
