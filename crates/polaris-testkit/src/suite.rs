//! The scenarios every framework integration must pass against the real server binary, written
//! once over [`Framework`]; each integration's tests invoke [`framework_suite!`](crate::framework_suite)
//! with its implementation (as the store backends do with the conformance suite).

use std::future::Future;
use std::time::Duration;

use polaris_sdk::lifecycle::ServerRegistration;
use polaris_sdk::{
    Client, InstanceSpec, LbPolicy, Registration, RpcPolicies, RpcPolicy, ServiceKey, SuiteKeys,
};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use crate::echo::{EchoState, Provider, client, registration};
use crate::{TestServer, eventually, fixtures};

/// What a served provider stops on.
pub type Stop = std::pin::Pin<Box<dyn Future<Output = ()> + Send>>;

/// How long a scenario waits for a change to show.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// The gRPC status of a failed call, as far as the scenarios tell them apart.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    Unavailable(String),
    ResourceExhausted(String),
    DeadlineExceeded(String),
    Other(String),
}

impl Failure {
    /// The failure of a call that ended with gRPC status `code` (its number) and `message`.
    pub fn from_status(code: i32, message: &str) -> Failure {
        let message = message.to_string();
        match code {
            14 => Failure::Unavailable(message),
            8 => Failure::ResourceExhausted(message),
            4 => Failure::DeadlineExceeded(message),
            _ => Failure::Other(format!("code {code}: {message}")),
        }
    }
}

/// How a consumer of the suite's calls is set up.
#[derive(Clone, Default)]
pub struct CallOptions {
    /// The caller service (namespace, name) routing rules match.
    pub caller: Option<(String, String)>,
    pub load_balancer: Option<LbPolicy>,
    pub policies: Option<RpcPolicies>,
}

/// What a framework's Echo server is handed: it serves `echo` on `listener` (behind the
/// Polaris rate-limit layer when `limited`) until `stop` resolves.
pub struct Serving {
    pub listener: TcpListener,
    pub echo: EchoState,
    pub limited: bool,
    pub stop: Stop,
}

/// A framework integration as the suite drives it.
pub trait Framework {
    /// A client of one service through the framework with every Polaris layer.
    type Caller: Send + Sync;

    /// Spawns a server of the framework as `serving` says, registered through `polaris`.
    fn serve(polaris: ServerRegistration, serving: Serving);

    /// A caller of `service` set up with `options`.
    fn caller(client: &Client, service: &str, options: CallOptions) -> Self::Caller;

    /// Calls Echo with `value` and request metadata `headers`: the answer's (value, served_by).
    fn call(
        caller: &Self::Caller,
        value: &str,
        headers: &[(&'static str, &str)],
    ) -> impl Future<Output = Result<(String, String), Failure>> + Send;
}

/// Serves and registers an Echo instance of `service` through `F`.
pub async fn provider<F: Framework>(
    client: &Client,
    service: &str,
    metadata: &[(&str, &str)],
    limited: bool,
) -> Provider {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let state = EchoState::new(listener.local_addr().unwrap().to_string());
    let (polaris, registered) = registration(client, service, metadata);
    let (stop, stopped) = oneshot::channel::<()>();
    let serving = Serving {
        listener,
        echo: state.clone(),
        limited,
        stop: Box::pin(async move { drop(stopped.await) }),
    };
    F::serve(polaris, serving);
    registered.await.expect("registered");
    Provider::new(state, stop)
}

/// How many instances of `default/<service>` the client's cache lists.
pub async fn instance_count(client: &Client, service: &str) -> usize {
    let key = ServiceKey::new("default", service);
    client
        .consumer()
        .get_all_instances(&key)
        .await
        .map_or(0, |all| all.instances.len())
}

/// Waits until the client lists `n` instances of `service`.
pub async fn wait_instances(client: &Client, service: &str, n: usize) {
    eventually(
        &format!("{n} instances of {service}"),
        DEADLINE,
        async || (instance_count(client, service).await == n).then_some(()),
    )
    .await;
}

/// Registers a heartbeating instance of `default/<service>` on a loopback port where nothing
/// listens (a process that is gone), then waits until the client lists `listed` instances.
pub async fn dead_instance(client: &Client, service: &str, listed: usize) -> Registration {
    let port = u32::from(crate::free_port());
    let spec = InstanceSpec::new("default", service, "127.0.0.1", port);
    let dead = client.provider().register(spec).await.unwrap();
    wait_instances(client, service, listed).await;
    dead
}

/// A v2 routing rule on request metadata sends matching calls to the labelled instances only.
pub async fn routing_rules_steer_by_request_metadata<F: Framework>() {
    let server = TestServer::start();
    let c = client(&server).await;
    let gray = provider::<F>(&c, "route-echo", &[("env", "gray")], false).await;
    let prod = provider::<F>(&c, "route-echo", &[("env", "prod")], false).await;
    let created = server.post("/naming/v2/routings", &fixtures::vip_to_gray("route-echo"));
    assert_eq!(created["code"], 200_000, "{created}");
    let options = CallOptions {
        caller: Some(("default".into(), "web".into())),
        ..CallOptions::default()
    };
    let echo = F::caller(&c, "route-echo", options);
    eventually("vip users routed to gray only", DEADLINE, async || {
        for _ in 0..20 {
            let (_, served_by) = F::call(&echo, "vip-7", &[("x-user", "vip-7")]).await.ok()?;
            if served_by != gray.address() {
                return None;
            }
        }
        Some(())
    })
    .await;
    // Other users are not matched (failover `all`): both instances serve them.
    eventually("other users reach prod too", DEADLINE, async || {
        let (_, served_by) = F::call(&echo, "bob", &[("x-user", "bob")]).await.ok()?;
        (served_by == prod.address()).then_some(())
    })
    .await;
}

/// Ten consecutive errors eject an instance; after the sleep window it serves again.
pub async fn failing_instances_are_ejected_and_recover_after_the_sleep_window<F: Framework>() {
    let server = TestServer::start();
    let c = client(&server).await;
    let bad = provider::<F>(&c, "shaky-echo", &[], false).await;
    let good = provider::<F>(&c, "shaky-echo", &[], false).await;
    bad.set_failing(true);
    let options = CallOptions {
        load_balancer: Some(LbPolicy::RoundRobin),
        ..CallOptions::default()
    };
    let echo = F::caller(&c, "shaky-echo", options);
    wait_instances(&c, "shaky-echo", 2).await;
    // The default instance rule: 10 consecutive errors open the instance's breaker.
    let mut failures = 0;
    for _ in 0..40 {
        if let Err(failure) = F::call(&echo, "x", &[]).await {
            assert!(matches!(failure, Failure::Unavailable(_)), "{failure:?}");
            failures += 1;
        }
    }
    assert!(
        failures >= 10,
        "the failing instance was called ({failures} failures)"
    );
    for _ in 0..30 {
        let answer = F::call(&echo, "y", &[]).await;
        let (_, served_by) = answer.expect("the ejected instance receives no calls");
        assert_eq!(served_by, good.address());
    }
    bad.set_failing(false);
    // After the sleep window (2 s here) half-open probes succeed and the breaker closes.
    eventually(
        "the recovered instance serves again",
        DEADLINE,
        async || {
            let (_, served_by) = F::call(&echo, "z", &[]).await.ok()?;
            (served_by == bad.address()).then_some(())
        },
    )
    .await;
}

/// A local QPS limit makes the rate-limit layer answer `RESOURCE_EXHAUSTED`.
pub async fn rate_limits_answer_resource_exhausted<F: Framework>() {
    let server = TestServer::start();
    let c = client(&server).await;
    let _provider = provider::<F>(&c, "limited-echo", &[], true).await;
    let created = server.post(
        "/naming/v1/ratelimits",
        &fixtures::local_limit("limited-echo", "three", 3, "60s"),
    );
    assert_eq!(created["code"], 200_000, "{created}");
    let echo = F::caller(&c, "limited-echo", CallOptions::default());
    let refused = eventually("the limit applies", DEADLINE, async || {
        for _ in 0..10 {
            if let Err(failure) = F::call(&echo, "q", &[]).await {
                return Some(failure);
            }
        }
        None
    })
    .await;
    let Failure::ResourceExhausted(message) = &refused else {
        panic!("{refused:?}");
    };
    assert!(message.contains("rate limited"), "{refused:?}");
}

/// A per-method timeout published in the config center applies from a later call.
pub async fn a_timeout_changed_in_the_config_center_applies_without_restart<F: Framework>() {
    let server = TestServer::start();
    let c = client(&server).await;
    let provider = provider::<F>(&c, "timeout-echo", &[], false).await;
    let keys = SuiteKeys::new("web", "timeout-echo");
    let file = keys.file("rpc_timeout");
    server.publish_file(
        &keys.group,
        &file,
        r#"{"*": {"rpc_timeout_ms": 3000}}"#,
        false,
    );
    let policies = RpcPolicies::watch(
        &c,
        keys.clone(),
        RpcPolicy::default(),
        Duration::from_millis(200),
    );
    let options = CallOptions {
        policies: Some(policies),
        ..CallOptions::default()
    };
    let echo = F::caller(&c, "timeout-echo", options);
    eventually(
        "the 3 s timeout lets a 300 ms call finish",
        DEADLINE,
        async || F::call(&echo, "slow", &[]).await.ok().map(drop),
    )
    .await;
    server.publish_file(
        &keys.group,
        &file,
        r#"{"Echo": {"rpc_timeout_ms": 100}}"#,
        false,
    );
    let failure = eventually("the 100 ms timeout applies", DEADLINE, async || {
        F::call(&echo, "slow", &[]).await.err()
    })
    .await;
    assert!(
        matches!(failure, Failure::DeadlineExceeded(_)),
        "{failure:?}"
    );
    // Fast calls still pass under the new timeout.
    let (_, served_by) = F::call(&echo, "fast", &[]).await.unwrap();
    assert_eq!(served_by, provider.address());
}

/// The scenarios of [`crate::suite`] as `#[tokio::test]`s for the framework `$framework`.
#[macro_export]
macro_rules! framework_suite {
    ($framework:ty) => {
        $crate::framework_suite!(@tests $framework;
            routing_rules_steer_by_request_metadata,
            failing_instances_are_ejected_and_recover_after_the_sleep_window,
            rate_limits_answer_resource_exhausted,
            a_timeout_changed_in_the_config_center_applies_without_restart,
        );
    };
    (@tests $framework:ty; $($name:ident,)*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                $crate::suite::$name::<$framework>().await;
            }
        )*
    };
}
