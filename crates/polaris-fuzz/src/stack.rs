//! One whole server without sockets: every domain service on the volatile memory store, and
//! every listener's router or gRPC service as `polaris-server` wires it, on a single-threaded
//! tokio runtime whose clock is paused (a long poll or a timer then costs no wall time: the
//! clock jumps to the next timer whenever the runtime is idle).
//!
//! Each thread keeps one stack and builds a fresh one every [`INPUTS_PER_STACK`] inputs, so what
//! the inputs create cannot grow without bound.

use std::cell::RefCell;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use polaris_api_grpc::fuzzing::GrpcPort;
use polaris_api_grpc::{ConfigGrpcOptions, GrpcMetrics};
use polaris_api_http::{AppState, HttpMetrics};
use polaris_auth::{Auth, AuthOptions};
use polaris_config::ConfigCenter;
use polaris_governance::Governance;
use polaris_health::{Health, HealthOptions, MemoryBeats};
use polaris_naming::{Naming, NamingOptions};
use polaris_store::NamingStore;
use polaris_store::memory::MemoryStore;
use polaris_xds::{Limits, XdsMetrics, XdsService};
use prometheus_client::registry::Registry;
use tokio::runtime::Runtime;

/// Inputs served by one stack before the next input gets a fresh one.
pub const INPUTS_PER_STACK: usize = 20_000;

/// Virtual time one input may take before it counts as a hang (a config long poll is 30 s).
pub const INPUT_DEADLINE: Duration = Duration::from_secs(300);

/// The routers and services of every listener, over shared domain services.
pub struct Stack {
    runtime: Runtime,
    /// The HTTP OpenAPI router (port 8090), console auth off so that inputs reach the handlers.
    pub http: axum::Router,
    /// The Eureka router (port 8761).
    pub eureka: axum::Router,
    /// The naming gRPC port (8091).
    pub grpc_naming: GrpcPort,
    /// The config gRPC port (8093).
    pub grpc_config: GrpcPort,
    /// The xDS port (15010): `polaris_xds::routes`, as `polaris_xds::serve_with` serves them.
    pub xds: GrpcPort,
    /// Registered instances and the like, for harnesses that check the state after a request.
    pub naming: Arc<Naming>,
}

impl Stack {
    fn build() -> Stack {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .expect("a current-thread runtime");
        let parts = runtime.block_on(Self::wire());
        let (http, eureka, grpc_naming, grpc_config, xds, naming) = parts;
        Stack {
            runtime,
            http,
            eureka,
            grpc_naming,
            grpc_config,
            xds,
            naming,
        }
    }

    async fn wire() -> (
        axum::Router,
        axum::Router,
        GrpcPort,
        GrpcPort,
        GrpcPort,
        Arc<Naming>,
    ) {
        let store: Arc<dyn NamingStore> = Arc::new(MemoryStore::new());
        let options = NamingOptions {
            auto_create_service: true,
            auto_create_namespace: true,
        };
        let naming = Arc::new(Naming::open(store.clone(), options).await.expect("naming"));
        let governance = Arc::new(Governance::open(store.clone()).await.expect("governance"));
        let config = Arc::new(ConfigCenter::open(store.clone()).await.expect("config"));
        let auth_options = AuthOptions {
            console_open: false,
            password_cost: 4, // bcrypt's least: a third of the time went to hashing at cost 10
            ..AuthOptions::default()
        };
        let auth = Auth::open(store.clone(), auth_options).await.expect("auth");
        let health = Health::start(
            naming.clone(),
            Arc::new(MemoryBeats::default()),
            HealthOptions {
                open: true,
                owner: None,
            },
        );
        let mut registry = Registry::default();
        let http_metrics = HttpMetrics::register(&mut registry);
        let grpc_metrics = GrpcMetrics::register(&mut registry);
        let xds_metrics = Arc::new(XdsMetrics::register(&mut registry));
        let http = polaris_api_http::router(AppState {
            auth: auth.clone(),
            naming: naming.clone(),
            health: health.clone(),
            governance: governance.clone(),
            config: config.clone(),
            metrics: http_metrics,
            registry: Arc::new(registry),
        });
        let eureka_options = polaris_api_eureka::EurekaOptions::from_option(&Default::default());
        let eureka = polaris_api_eureka::router(polaris_api_eureka::EurekaState::new(
            naming.clone(),
            health.clone(),
            auth.clone(),
            eureka_options,
        ));
        let grpc_naming = polaris_api_grpc::fuzzing::naming_port(
            naming.clone(),
            governance.clone(),
            health,
            grpc_metrics.clone(),
            auth.clone(),
        );
        let grpc_config = polaris_api_grpc::fuzzing::config_port(
            config,
            grpc_metrics,
            ConfigGrpcOptions::default(),
            auth.clone(),
        );
        let xds = XdsService {
            cache: polaris_xds::start(naming.clone(), governance),
            auth,
            limits: Limits::default(),
            metrics: xds_metrics,
        };
        (
            http,
            eureka,
            grpc_naming,
            grpc_config,
            tower::util::BoxCloneSyncService::new(polaris_xds::routes(xds)),
            naming,
        )
    }

    /// Runs one input's work to completion on the stack's runtime; `None` when it took longer
    /// than [`INPUT_DEADLINE`] of virtual time.
    pub fn run<F: Future>(&self, work: F) -> Option<F::Output> {
        self.runtime
            .block_on(async { tokio::time::timeout(INPUT_DEADLINE, work).await.ok() })
    }
}

thread_local! {
    static STACK: RefCell<Option<(Stack, usize)>> = const { RefCell::new(None) };
}

/// Calls `f` with this thread's stack, building a fresh one when due.
pub fn with_stack<R>(f: impl FnOnce(&Stack) -> R) -> R {
    STACK.with(|cell| {
        let mut slot = cell.borrow_mut();
        let fresh = match slot.as_ref() {
            Some((_, served)) => *served >= INPUTS_PER_STACK,
            None => true,
        };
        if fresh {
            // Drop the old stack (and its runtime's tasks) before building the next.
            *slot = None;
            *slot = Some((Stack::build(), 0));
        }
        let (stack, served) = slot.as_mut().expect("a stack was just built");
        *served += 1;
        f(stack)
    })
}
