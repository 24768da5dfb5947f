//! The client side: a `tower::Service` that generated tonic clients accept, calling a
//! Polaris service instance picked per request.

use std::sync::{Arc, Weak};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use parking_lot::RwLock;
use polaris_sdk::{
    CallResult, Client, Consumer, Criteria, Error, Instance, LbPolicy, RequestContext, RpcPolicies,
    ServiceKey, code_text,
};
use tonic::body::Body;
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Status};
use tower::Service;

use crate::body::ReportingBody;

mod call;

pub use call::ResponseFuture;

/// The gRPC codes that count as failures for the circuit breaker: the callee or the network
/// failed (`UNKNOWN`, `DEADLINE_EXCEEDED`, `INTERNAL`, `UNAVAILABLE`, `DATA_LOSS`);
/// application answers (`NOT_FOUND`, `INVALID_ARGUMENT`...) are successes.
pub fn is_breaker_failure(code: i32) -> bool {
    matches!(code, 2 | 4 | 13 | 14 | 15)
}

/// Sets the hash key of one call for `ringHash` / `maglev` (put it in the request's
/// extensions: `request.extensions_mut().insert(HashKey::new("user-42"))`).
#[derive(Clone, Debug)]
pub struct HashKey(pub bytes::Bytes);

impl HashKey {
    /// A hash key from bytes or text.
    pub fn new(key: impl AsRef<[u8]>) -> HashKey {
        HashKey(bytes::Bytes::copy_from_slice(key.as_ref()))
    }
}

/// Overrides the load balancer of one call (request extension).
#[derive(Clone, Copy, Debug)]
pub struct CallLbPolicy(pub LbPolicy);

/// Builds a [`PolarisChannel`].
pub struct ChannelBuilder {
    client: Client,
    service: String,
    namespace: String,
    settings: Settings,
}

/// What a [`ChannelBuilder`] sets and its channel keeps.
struct Settings {
    caller: Option<ServiceKey>,
    lb: Option<LbPolicy>,
    policies: RpcPolicies,
    endpoint: Arc<dyn Fn(Endpoint) -> Endpoint + Send + Sync>,
    connect: Arc<ConnectFn>,
    failover: u32,
    breaker: bool,
    route_headers: bool,
    metadata: std::collections::BTreeMap<String, String>,
}

/// Makes the channel of one instance from its endpoint.
type ConnectFn = dyn Fn(&Endpoint) -> Channel + Send + Sync;

impl ChannelBuilder {
    /// The namespace of the service (default `default`).
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = namespace.into();
        self
    }

    /// The calling service: its outbound routing rules and lanes apply.
    pub fn caller(mut self, namespace: &str, service: &str) -> Self {
        self.settings.caller = Some(ServiceKey::new(namespace, service));
        self
    }

    /// The load balancer (default: the client's `consumer.loadbalancer.type`).
    pub fn load_balancer(mut self, policy: LbPolicy) -> Self {
        self.settings.lb = Some(policy);
        self
    }

    /// Only instances whose metadata holds this pair (`dstMetaRouter`).
    pub fn destination_metadata(
        mut self,
        key: impl Into<String>,
        value: impl Into<String>,
    ) -> Self {
        self.settings.metadata.insert(key.into(), value.into());
        self
    }

    /// Per-method timeouts, retries and degradation (fixed, or followed from the config
    /// center with [`RpcPolicies::watch`]).
    pub fn policies(mut self, policies: RpcPolicies) -> Self {
        self.settings.policies = policies;
        self
    }

    /// Adjusts the tonic endpoint of every instance (TLS, keep-alive, connect timeout...).
    pub fn endpoint(mut self, f: impl Fn(Endpoint) -> Endpoint + Send + Sync + 'static) -> Self {
        self.settings.endpoint = Arc::new(f);
        self
    }

    /// How the channel of each instance is made from its endpoint (after
    /// [`endpoint`](Self::endpoint)); the default is [`Endpoint::connect_lazy`], over TCP.
    /// For another transport pass a lazy connect with a connector (a
    /// `tower::Service<http::Uri>` answering a hyper IO: a Unix socket, a proxy, an
    /// in-process server), e.g. `|e| e.connect_with_connector_lazy(connector.clone())`.
    /// Called once per instance, when its first call is made; it must not block.
    pub fn connect_with(
        mut self,
        f: impl Fn(&Endpoint) -> Channel + Send + Sync + 'static,
    ) -> Self {
        self.settings.connect = Arc::new(f);
        self
    }

    /// How many other instances a call may try after connection errors (default 2).
    pub fn failover(mut self, attempts: u32) -> Self {
        self.settings.failover = attempts;
        self
    }

    /// Whether calls are checked against and reported to the circuit breakers (default on).
    pub fn circuit_breaker(mut self, enable: bool) -> Self {
        self.settings.breaker = enable;
        self
    }

    /// Whether request metadata is handed to routing rules as `$header.<key>` (default on).
    pub fn route_by_headers(mut self, enable: bool) -> Self {
        self.settings.route_headers = enable;
        self
    }

    /// The channel. Connections are made on first use; needs a Tokio runtime when called.
    pub fn build(self) -> PolarisChannel {
        let service = ServiceKey::new(&self.namespace, &self.service);
        let shared = Arc::new(Shared {
            consumer: self.client.consumer(),
            service,
            settings: self.settings,
            methods: RwLock::default(),
            connections: RwLock::default(),
            header_maps: parking_lot::Mutex::new(Vec::new()),
            pruner: std::sync::Once::new(),
        });
        PolarisChannel { shared }
    }
}

type ConnKey = (Arc<str>, u32);

/// The maps looked up on every call, with a fast (seeded) hasher rather than SipHash.
type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

/// One instance's connection and when it last failed to connect.
struct Conn {
    channel: Channel,
    /// Handles of `channel` that finished a call, for the next ones (a tonic `Channel`
    /// clone allocates).
    spares: parking_lot::Mutex<Vec<Channel>>,
    down_until: parking_lot::Mutex<Option<Instant>>,
}

/// How many idle handles a connection keeps (about the calls in flight at once).
const MAX_SPARES: usize = 64;

impl Conn {
    /// A handle for one call: a spare, or a new clone.
    fn handle(&self) -> Channel {
        self.spares
            .lock()
            .pop()
            .unwrap_or_else(|| self.channel.clone())
    }

    /// Keeps the handle of a call that completed.
    fn give_back(&self, channel: Channel) {
        let mut spares = self.spares.lock();
        if spares.len() < MAX_SPARES {
            spares.push(channel);
        }
    }
}

/// How long an instance that refused a connection is avoided (unless nothing else is left).
const DOWN_FOR: Duration = Duration::from_secs(2);

struct Shared {
    consumer: Consumer,
    service: ServiceKey,
    settings: Settings,
    /// What a call of each path shares (interned, so a call copies no text).
    methods: RwLock<FastMap<Arc<str>, Arc<MethodInfo>>>,
    connections: RwLock<FastMap<ConnKey, Arc<Conn>>>,
    /// Header maps of finished calls, for the copy the next calls keep for failover.
    header_maps: parking_lot::Mutex<Vec<http::HeaderMap>>,
    pruner: std::sync::Once,
}

/// A client channel to a Polaris service: per request it runs the router chain and the load
/// balancer over the SDK's cache (kept current by push), checks the circuit breakers, calls
/// the picked instance over its own connection, fails over to another instance on connection
/// errors, and reports the gRPC status and latency to the breakers.
///
/// A call allocates no more than one through a plain tonic `Channel`, but for the copy of
/// the request body kept for a resend (tonic boxes every request body): none with
/// `failover(0)` and no retries. Request metadata used as labels, a [`HashKey`], destination
/// metadata and a per-method timeout cost their copies when present.
///
/// Cheap to clone; pass it to any generated client: `EchoClient::new(channel)`.
#[derive(Clone)]
pub struct PolarisChannel {
    shared: Arc<Shared>,
}

impl PolarisChannel {
    /// A builder for `service` (namespace `default` unless set).
    pub fn builder(client: Client, service: impl Into<String>) -> ChannelBuilder {
        ChannelBuilder {
            client,
            service: service.into(),
            namespace: "default".into(),
            settings: Settings {
                caller: None,
                lb: None,
                policies: RpcPolicies::default(),
                endpoint: Arc::new(|e| e),
                connect: Arc::new(Endpoint::connect_lazy),
                failover: 2,
                breaker: true,
                route_headers: true,
                metadata: Default::default(),
            },
        }
    }

    /// The service called.
    pub fn service(&self) -> &ServiceKey {
        &self.shared.service
    }

    /// How many instance connections are open or pending.
    pub fn connections(&self) -> usize {
        self.shared.connections.read().len()
    }
}

impl Service<http::Request<Body>> for PolarisChannel {
    type Response = http::Response<ReportingBody>;
    type Error = Status;
    type Future = ResponseFuture;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Status>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        ResponseFuture::new(self.shared.clone(), request)
    }
}

/// How many distinct paths a channel keeps a [`MethodInfo`] for; calls to further paths
/// build theirs per call.
const MAX_METHODS: usize = 1024;

/// What every call of one path shares: the path as the breaker's method, and the routing
/// request (bare method as `$path`, the caller's name).
struct MethodInfo {
    path: Arc<str>,
    request: Arc<RequestContext>,
}

/// What the circuit breaker hears about one call.
pub(crate) struct BreakerReport {
    consumer: Consumer,
    service: ServiceKey,
    caller: Option<ServiceKey>,
    method: Arc<str>,
    instance: Arc<Instance>,
}

impl BreakerReport {
    /// Reports the call's gRPC status code and duration.
    pub(crate) fn report(self, code: i32, delay: Duration) {
        let code_text = code_text(i64::from(code));
        let mut result = if is_breaker_failure(code) {
            CallResult::failure(self.service, code_text, delay)
        } else {
            let mut ok = CallResult::success(self.service, delay);
            ok.code = code_text;
            ok
        };
        result.method = Some(self.method);
        result.instance = Some(self.instance);
        result.caller = self.caller;
        self.consumer.report(&result);
    }
}

fn no_instance(e: Error) -> Status {
    match e {
        Error::CircuitOpen(why) => Status::unavailable(format!("circuit open: {why}")),
        other => Status::unavailable(other.to_string()),
    }
}

impl Shared {
    /// The shared facts of the calls to `path` (kept for the first [`MAX_METHODS`] paths).
    fn method(&self, path: &str) -> Arc<MethodInfo> {
        if let Some(info) = self.methods.read().get(path) {
            return info.clone();
        }
        let request = RequestContext {
            path: Some(path.rsplit('/').next().unwrap_or(path).to_string()),
            caller_service: self.settings.caller.as_ref().map(|c| c.name.to_string()),
            ..RequestContext::default()
        };
        let info = Arc::new(MethodInfo {
            path: Arc::from(path),
            request: Arc::new(request),
        });
        let mut methods = self.methods.write();
        if methods.len() < MAX_METHODS {
            methods.insert(info.path.clone(), info.clone());
        }
        info
    }

    fn criteria(&self, method: &MethodInfo, parts: &http::request::Parts) -> Criteria {
        let mut criteria = Criteria {
            caller: self.settings.caller.clone(),
            request: method.request.clone(),
            metadata: self.settings.metadata.clone(),
            ..Criteria::default()
        };
        criteria.lb = parts
            .extensions
            .get::<CallLbPolicy>()
            .map(|p| p.0)
            .or(self.settings.lb);
        if let Some(key) = parts.extensions.get::<HashKey>() {
            criteria.hash_key = Some(key.0.to_vec());
        }
        if self.settings.route_headers {
            for (name, value) in &parts.headers {
                let name = name.as_str();
                if is_protocol_header(name) {
                    continue;
                }
                if let Ok(value) = value.to_str() {
                    Arc::make_mut(&mut criteria.request)
                        .headers
                        .insert(name.to_string(), value.to_string());
                }
            }
        }
        criteria
    }

    /// Picks an instance, avoiding those that refused a connection lately and `avoid`.
    async fn pick(
        &self,
        criteria: &Criteria,
        avoid: Option<&Arc<Instance>>,
    ) -> Result<Arc<Instance>, Status> {
        let one = self
            .consumer
            .get_one_instance(&self.service, criteria)
            .await
            .map_err(no_instance)?;
        if !self.is_avoided(&one, avoid) {
            return Ok(one);
        }
        let routed = self
            .consumer
            .get_instances(&self.service, criteria)
            .await
            .map_err(no_instance)?;
        Ok(routed
            .instances
            .iter()
            .find(|i| !self.is_avoided(i, avoid))
            .cloned()
            .unwrap_or(one))
    }

    fn is_avoided(&self, instance: &Arc<Instance>, avoid: Option<&Arc<Instance>>) -> bool {
        if avoid.is_some_and(|a| a.host == instance.host && a.port == instance.port) {
            return true;
        }
        let connections = self.connections.read();
        connections
            .get(&(instance.host.clone(), instance.port))
            .and_then(|c| *c.down_until.lock())
            .is_some_and(|until| Instant::now() < until)
    }

    fn connection(self: &Arc<Self>, instance: &Instance) -> Result<Arc<Conn>, Status> {
        let key = (instance.host.clone(), instance.port);
        if let Some(conn) = self.connections.read().get(&key) {
            return Ok(conn.clone());
        }
        let uri = format!("http://{}:{}", instance.host, instance.port);
        let endpoint = Endpoint::from_shared(uri)
            .map_err(|e| Status::invalid_argument(format!("instance address: {e}")))?;
        let channel = (self.settings.connect)(&(self.settings.endpoint)(endpoint));
        let conn = Arc::new(Conn {
            channel,
            spares: parking_lot::Mutex::new(Vec::new()),
            down_until: parking_lot::Mutex::new(None),
        });
        let conn = self.connections.write().entry(key).or_insert(conn).clone();
        self.start_pruner();
        Ok(conn)
    }

    /// Drops the connections of instances that left the service (on every pushed change).
    fn start_pruner(self: &Arc<Self>) {
        self.pruner.call_once(|| {
            let weak: Weak<Shared> = Arc::downgrade(self);
            let consumer = self.consumer.clone();
            let service = self.service.clone();
            tokio::spawn(async move {
                let Ok(mut watch) = consumer.watch(&service).await else {
                    return;
                };
                while let Ok(instances) = watch.changed().await {
                    let Some(shared) = weak.upgrade() else { return };
                    shared.connections.write().retain(|(host, port), _| {
                        instances
                            .instances
                            .iter()
                            .any(|i| &i.host == host && i.port == *port)
                    });
                }
            });
        });
    }

    fn breaker_report(&self, method: &MethodInfo, instance: &Arc<Instance>) -> BreakerReport {
        BreakerReport {
            consumer: self.consumer.clone(),
            service: self.service.clone(),
            caller: self.settings.caller.clone(),
            method: method.path.clone(),
            instance: instance.clone(),
        }
    }

    fn report_now(
        &self,
        method: &MethodInfo,
        instance: &Arc<Instance>,
        code: Code,
        start: Instant,
    ) {
        if self.settings.breaker {
            let report = self.breaker_report(method, instance);
            report.report(code as i32, start.elapsed());
        }
    }
}

/// Headers of the gRPC protocol itself, not application metadata.
fn is_protocol_header(name: &str) -> bool {
    matches!(name, "te" | "content-type" | "user-agent")
        || name.starts_with("grpc-")
        || name.starts_with(':')
}
