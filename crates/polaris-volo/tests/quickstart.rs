//! The quickstart examples as processes against the real server: the provider registers
//! (seen through the official Discover API) and prints its port, the consumer prints the
//! echoed text, and SIGTERM deregisters before exit while calls in flight lose nothing.

#[path = "../../polaris-sdk/tests/support/mod.rs"]
mod support;

#[path = "../../polaris-tonic/tests/examples/mod.rs"]
mod examples;

mod echo;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use examples::{Example, run_consumer};
use polaris_sdk::{Client, ServiceKey};
use polaris_volo::PolarisLoadBalance;
use support::{TestServer, eventually};

const DEADLINE: Duration = Duration::from_secs(20);
const SERVICE: &str = "EchoServerVolo";

async fn client(server: &TestServer) -> Client {
    Client::builder()
        .addresses([server.naming_addr()])
        .config_addresses([server.config_addr()])
        .persist_dir(None)
        .config_persist_dir(None)
        .push_empty_protection(false)
        .build()
        .await
        .unwrap()
}

/// The ports of the service's instances, through the SDK (the official Discover stream).
async fn instance_ports(c: &Client) -> Vec<u32> {
    let key = ServiceKey::new("default", SERVICE);
    let mut ports: Vec<u32> = match c.consumer().get_all_instances(&key).await {
        Ok(all) => all.instances.iter().map(|i| i.port).collect(),
        Err(_) => Vec::new(),
    };
    ports.sort_unstable();
    ports
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quickstart_examples_register_call_and_deregister() {
    let server = TestServer::start();
    let c = client(&server).await;
    let provider = Example::start("quickstart_provider", &server);
    let port = provider.port();
    assert!(
        instance_ports(&c).await.contains(&u32::from(port)),
        "registered before the port is printed"
    );
    let output = run_consumer("quickstart_consumer", &server, &["hello", "polaris"]);
    assert_eq!(output, "hello polaris\n");
    provider.terminate();
    eventually("the instance is gone", DEADLINE, async || {
        (!instance_ports(&c).await.contains(&u32::from(port))).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_deregisters_first_and_calls_in_flight_lose_nothing() {
    let server = TestServer::start();
    let c = client(&server).await;
    let a = Example::start("quickstart_provider", &server);
    let b = Example::start("quickstart_provider", &server);
    eventually("two instances", DEADLINE, async || {
        (instance_ports(&c).await.len() == 2).then_some(())
    })
    .await;
    let echo = echo::echo_client(&c, SERVICE, PolarisLoadBalance::new());
    let done = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut callers = Vec::new();
    for worker in 0..4 {
        let (echo, done, stop) = (echo.clone(), done.clone(), stop.clone());
        callers.push(tokio::spawn(async move {
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let value = format!("{worker}-{i}");
                let answer = echo.echo(echo::request(&value)).await;
                let answer = answer.unwrap_or_else(|e| panic!("call {value} lost: {e}"));
                assert_eq!(answer.get_ref().value, value);
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
    // Graceful stop of `a` while calls are running: deregister, drain, stop.
    let a_port = a.port();
    a.terminate();
    assert!(!instance_ports(&c).await.contains(&u32::from(a_port)));
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
