//! The provider side: register an instance and keep it alive with heartbeats.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use polaris_proto::v1;
use tokio::task::JoinHandle;

use crate::client::Inner;
use crate::error::{Error, Result, check, codes};
use crate::rpc::Rpc;

/// What to register: an instance of a service and its heartbeat TTL.
#[derive(Debug, Clone)]
pub struct InstanceSpec {
    /// Namespace of the service.
    pub namespace: String,
    /// Name of the service (created by the server on first registration when it allows it).
    pub service: String,
    /// Host (IP or name) the instance listens on.
    pub host: String,
    /// Port the instance listens on.
    pub port: u32,
    /// Protocol label (`grpc`, `http`...).
    pub protocol: Option<String>,
    /// Version label.
    pub version: Option<String>,
    /// Load-balancing weight (server default 100).
    pub weight: Option<u32>,
    /// Instance metadata.
    pub metadata: BTreeMap<String, String>,
    /// Region, zone and campus.
    pub location: Option<polaris_traffic::Location>,
    /// Register isolated (receives no traffic).
    pub isolate: Option<bool>,
    /// Heartbeat period; the server marks the instance unhealthy after 3 missed TTLs.
    /// Default 5 s (the server clamps it to 1..=60 s).
    pub ttl: Duration,
    /// A service token, when the server checks them.
    pub service_token: Option<String>,
}

impl InstanceSpec {
    /// An instance of `namespace/service` at `host:port`, with a 5 s TTL.
    pub fn new(
        namespace: impl Into<String>,
        service: impl Into<String>,
        host: impl Into<String>,
        port: u32,
    ) -> InstanceSpec {
        InstanceSpec {
            namespace: namespace.into(),
            service: service.into(),
            host: host.into(),
            port,
            protocol: None,
            version: None,
            weight: None,
            metadata: BTreeMap::new(),
            location: None,
            isolate: None,
            ttl: Duration::from_secs(5),
            service_token: None,
        }
    }

    /// Sets the protocol label.
    pub fn protocol(mut self, protocol: impl Into<String>) -> Self {
        self.protocol = Some(protocol.into());
        self
    }

    /// Sets the version label.
    pub fn version(mut self, version: impl Into<String>) -> Self {
        self.version = Some(version.into());
        self
    }

    /// Sets the weight.
    pub fn weight(mut self, weight: u32) -> Self {
        self.weight = Some(weight);
        self
    }

    /// Adds metadata pairs.
    pub fn metadata<K: Into<String>, V: Into<String>>(
        mut self,
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        self.metadata
            .extend(pairs.into_iter().map(|(k, v)| (k.into(), v.into())));
        self
    }

    /// Sets the location.
    pub fn location(mut self, region: &str, zone: &str, campus: &str) -> Self {
        self.location = Some(polaris_traffic::Location::new(region, zone, campus));
        self
    }

    /// Sets the heartbeat TTL.
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// Sets the service token.
    pub fn service_token(mut self, token: impl Into<String>) -> Self {
        self.service_token = Some(token.into());
        self
    }

    fn ttl_secs(&self) -> u32 {
        self.ttl.as_secs().clamp(1, 60) as u32
    }

    fn to_register(&self) -> v1::Instance {
        v1::Instance {
            namespace: Some(self.namespace.clone()),
            service: Some(self.service.clone()),
            host: Some(self.host.clone()),
            port: Some(self.port),
            protocol: self.protocol.clone(),
            version: self.version.clone(),
            weight: self.weight,
            isolate: self.isolate,
            metadata: self.metadata.clone().into_iter().collect(),
            location: self.location.as_ref().map(|l| v1::Location {
                region: Some(l.region.clone()),
                zone: Some(l.zone.clone()),
                campus: Some(l.campus.clone()),
            }),
            health_check: Some(v1::HealthCheck {
                r#type: v1::health_check::HealthCheckType::Heartbeat as i32,
                heartbeat: Some(v1::HeartbeatHealthCheck {
                    ttl: Some(self.ttl_secs()),
                }),
            }),
            enable_health_check: Some(true),
            service_token: self.service_token.clone(),
            ..Default::default()
        }
    }

    fn to_identity(&self, id: &str) -> v1::Instance {
        v1::Instance {
            id: (!id.is_empty()).then(|| id.to_string()),
            namespace: Some(self.namespace.clone()),
            service: Some(self.service.clone()),
            host: Some(self.host.clone()),
            port: Some(self.port),
            service_token: self.service_token.clone(),
            ..Default::default()
        }
    }
}

/// The provider API of a [`Client`](crate::Client).
#[derive(Clone)]
pub struct Provider {
    pub(crate) inner: Arc<Inner>,
}

static NEXT_REGISTRATION: AtomicU64 = AtomicU64::new(1);

/// A registered instance kept alive by a background heartbeat task.
///
/// Call [`deregister`](Registration::deregister) for an orderly exit. Dropping the guard stops
/// the heartbeats and deregisters on a spawned task (best effort).
pub struct Registration {
    inner: Arc<Inner>,
    key: u64,
    id: String,
    spec: Arc<InstanceSpec>,
    done: bool,
}

/// What the client keeps of a live registration, for [`Client::shutdown`](crate::Client::shutdown).
pub(crate) struct LiveRegistration {
    spec: Arc<InstanceSpec>,
    id: String,
    heartbeat: JoinHandle<()>,
}

impl LiveRegistration {
    pub(crate) async fn stop_and_deregister(self, rpc: &Rpc) {
        self.heartbeat.abort();
        if let Err(e) = deregister(rpc, &self.spec, &self.id).await {
            tracing::warn!(service = %self.spec.service, error = %e, "deregister failed");
        }
    }
}

async fn register(rpc: &Rpc, spec: &InstanceSpec) -> Result<String> {
    let answer = rpc
        .unary(
            rpc.naming()
                .register_instance(rpc.request(spec.to_register())),
        )
        .await?;
    check(answer.code, answer.info)?;
    Ok(answer.instance.and_then(|i| i.id).unwrap_or_default())
}

async fn deregister(rpc: &Rpc, spec: &InstanceSpec, id: &str) -> Result<()> {
    let answer = rpc
        .unary(
            rpc.naming()
                .deregister_instance(rpc.request(spec.to_identity(id))),
        )
        .await?;
    check(answer.code, answer.info).map(|_| ())
}

/// True for heartbeat answers meaning "the server does not know this instance".
fn is_unknown_instance(code: u32) -> bool {
    matches!(
        code,
        codes::NOT_FOUND_RESOURCE | codes::NOT_FOUND_SERVICE | codes::NOT_FOUND_INSTANCE
    )
}

async fn heartbeat_loop(rpc: Rpc, spec: Arc<InstanceSpec>, mut id: String) {
    let mut tick = tokio::time::interval(spec.ttl.max(Duration::from_millis(100)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tick.tick().await;
        let sent = rpc
            .unary(rpc.naming().heartbeat(rpc.request(spec.to_identity(&id))))
            .await;
        let reregister = match sent {
            Ok(answer) => {
                let code = answer.code.unwrap_or_default();
                if code != codes::OK {
                    tracing::debug!(code, info = ?answer.info, service = %spec.service, "heartbeat refused");
                }
                is_unknown_instance(code)
            }
            Err(e) => {
                tracing::debug!(error = %e, service = %spec.service, "heartbeat failed");
                false
            }
        };
        if reregister {
            match register(&rpc, &spec).await {
                Ok(new_id) => {
                    tracing::info!(service = %spec.service, id = %new_id, "instance re-registered");
                    if !new_id.is_empty() {
                        id = new_id;
                    }
                }
                Err(e) => tracing::warn!(error = %e, "re-registration failed"),
            }
        }
    }
}

impl Provider {
    /// Registers the instance and starts heartbeating it every TTL. When a heartbeat answers
    /// "not found" (server data lost, instance deleted), the instance is registered again.
    pub async fn register(&self, spec: InstanceSpec) -> Result<Registration> {
        if spec.host.is_empty() || spec.service.is_empty() || spec.namespace.is_empty() {
            return Err(Error::Settings(
                "namespace, service and host are required".into(),
            ));
        }
        let rpc = &self.inner.naming;
        let id = register(rpc, &spec).await?;
        let spec = Arc::new(spec);
        let heartbeat = tokio::spawn(heartbeat_loop(rpc.clone(), spec.clone(), id.clone()));
        let key = NEXT_REGISTRATION.fetch_add(1, Ordering::Relaxed);
        self.inner.registrations.lock().insert(
            key,
            LiveRegistration {
                spec: spec.clone(),
                id: id.clone(),
                heartbeat,
            },
        );
        Ok(Registration {
            inner: self.inner.clone(),
            key,
            id,
            spec,
            done: false,
        })
    }

    /// Deregisters an instance by its address, without a registration guard.
    pub async fn deregister(&self, spec: &InstanceSpec) -> Result<()> {
        deregister(&self.inner.naming, spec, "").await
    }
}

impl Registration {
    /// The instance id the server assigned.
    pub fn instance_id(&self) -> &str {
        &self.id
    }

    /// What was registered.
    pub fn spec(&self) -> &InstanceSpec {
        &self.spec
    }

    /// Stops the heartbeats and deregisters the instance.
    pub async fn deregister(mut self) -> Result<()> {
        self.done = true;
        let live = self.inner.registrations.lock().remove(&self.key);
        if let Some(live) = live {
            live.heartbeat.abort();
        }
        deregister(&self.inner.naming, &self.spec, &self.id).await
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let Some(live) = self.inner.registrations.lock().remove(&self.key) else {
            return;
        };
        live.heartbeat.abort();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let rpc = self.inner.naming.clone();
            runtime.spawn(async move { live.stop_and_deregister(&rpc).await });
        }
    }
}

/// Resolves on Ctrl-C or (on Unix) SIGTERM: pair it with [`Client::shutdown`](crate::Client::shutdown)
/// for a graceful exit.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
