//! The quickstart scenarios of the framework integrations, with their `quickstart_provider`
//! and `quickstart_consumer` examples run as processes against the real server.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use polaris_sdk::{Client, ServiceKey};

use crate::suite::{CallOptions, DEADLINE, Framework};
use crate::{Example, TestServer, eventually, run_consumer};

/// A client without push-empty protection, so that the removal of the last instance shows.
async fn observer(server: &TestServer) -> Client {
    let builder = server.client_builder().push_empty_protection(false);
    builder.build().await.expect("observer client")
}

/// The ports of the instances of `default/<service>`, through the SDK (the official Discover
/// stream).
async fn instance_ports(c: &Client, service: &str) -> Vec<u32> {
    let key = ServiceKey::new("default", service);
    let mut ports: Vec<u32> = match c.consumer().get_all_instances(&key).await {
        Ok(all) => all.instances.iter().map(|i| i.port).collect(),
        Err(_) => Vec::new(),
    };
    ports.sort_unstable();
    ports
}

/// The provider example registers before printing its port, the consumer example prints the
/// echoed text, and SIGTERM deregisters the provider. `crate_dir` is the integration's
/// `env!("CARGO_MANIFEST_DIR")`, `service` the examples' service name.
pub async fn examples_register_call_and_deregister(crate_dir: &str, service: &str) {
    let server = TestServer::start();
    let c = observer(&server).await;
    let provider = Example::start(crate_dir, "quickstart_provider", &server);
    let port = provider.port();
    assert!(
        instance_ports(&c, service).await.contains(&u32::from(port)),
        "registered before the port is printed"
    );
    let output = run_consumer(
        crate_dir,
        "quickstart_consumer",
        &server,
        &["hello", "polaris"],
    );
    assert_eq!(output, "hello polaris\n");
    provider.terminate();
    eventually("the instance is gone", DEADLINE, async || {
        (!instance_ports(&c, service).await.contains(&u32::from(port))).then_some(())
    })
    .await;
}

/// Four callers run through `F` while a provider example stops gracefully (SIGTERM:
/// deregister, drain, stop): no call is lost. With `killed`, a third provider is SIGKILLed
/// first (still registered, dead), and the calls fail over from it too.
pub async fn sigterm_loses_no_call<F: Framework>(crate_dir: &str, service: &str, killed: bool)
where
    F::Caller: Clone + 'static,
{
    let server = TestServer::start();
    let c = observer(&server).await;
    let a = Example::start(crate_dir, "quickstart_provider", &server);
    let b = Example::start(crate_dir, "quickstart_provider", &server);
    let dead = killed.then(|| Example::start(crate_dir, "quickstart_provider", &server));
    let count = 2 + usize::from(killed);
    eventually("the instances registered", DEADLINE, async || {
        (instance_ports(&c, service).await.len() == count).then_some(())
    })
    .await;
    // SIGKILL: the instance stays registered (healthy until its TTL runs out) but is dead.
    if let Some(dead) = dead {
        dead.kill();
    }
    let echo = F::caller(&c, service, CallOptions::default());
    let done = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut callers = Vec::new();
    for worker in 0..4 {
        let (echo, done, stop) = (echo.clone(), done.clone(), stop.clone());
        callers.push(tokio::spawn(async move {
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let value = format!("{worker}-{i}");
                let answer = F::call(&echo, &value, &[]).await;
                let (echoed, _) = answer.unwrap_or_else(|e| panic!("call {value} lost: {e:?}"));
                assert_eq!(echoed, value);
                done.fetch_add(1, Ordering::Relaxed);
                i += 1;
            }
        }));
    }
    let before = done.load(Ordering::Relaxed);
    eventually("calls flow", DEADLINE, async || {
        (done.load(Ordering::Relaxed) > before + 200).then_some(())
    })
    .await;
    let a_port = a.port();
    a.terminate();
    assert!(
        !instance_ports(&c, service)
            .await
            .contains(&u32::from(a_port))
    );
    let after = done.load(Ordering::Relaxed);
    eventually("calls keep flowing to b", DEADLINE, async || {
        (done.load(Ordering::Relaxed) > after + 200).then_some(())
    })
    .await;
    stop.store(true, Ordering::Relaxed);
    for caller in callers {
        caller.await.expect("no call lost");
    }
    drop(b);
}
