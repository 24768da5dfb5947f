//! Provider and consumer against the real server binary.

use polaris_testkit as support;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use polaris_sdk::{Client, Criteria, InstanceSpec, LbPolicy, ServiceKey};
use support::{TestServer, eventually};

const DEADLINE: Duration = Duration::from_secs(15);

async fn client(server: &TestServer, persist: Option<PathBuf>) -> Client {
    let builder = server.client_builder().persist_dir(persist);
    let builder = builder.refresh_interval(Duration::from_millis(200));
    builder.build().await.expect("client")
}

/// A consumer without push-empty protection, so that the removal of the last instance shows.
async fn observer(server: &TestServer) -> Client {
    Client::builder()
        .addresses([server.naming_addr()])
        .persist_dir(None)
        .push_empty_protection(false)
        .build()
        .await
        .expect("observer client")
}

/// How many instances of `key` the client lists (panics on an error).
async fn listed(c: &Client, key: &ServiceKey) -> usize {
    c.consumer()
        .get_all_instances(key)
        .await
        .unwrap()
        .instances
        .len()
}

/// Registers `spec` through `c` (panics on an error).
async fn register(c: &Client, spec: InstanceSpec) -> polaris_sdk::Registration {
    c.provider().register(spec).await.unwrap()
}

fn spec(service: &str, port: u32) -> InstanceSpec {
    InstanceSpec::new("default", service, "127.0.0.1", port)
        .protocol("grpc")
        .version("1.0.0")
        .metadata([("env", "test")])
        .ttl(Duration::from_secs(1))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_discover_heartbeat_deregister() {
    let server = TestServer::start();
    let provider = client(&server, None).await;
    // Without push-empty protection, so the deregistration of the last instance shows.
    let consumer = observer(&server).await;
    let key = ServiceKey::new("default", "echo");

    let registration = register(&provider, spec("echo", 9001)).await;
    assert!(!registration.instance_id().is_empty());
    let all = eventually("instance visible", DEADLINE, async || {
        let all = consumer.consumer().get_all_instances(&key).await.ok()?;
        (all.instances.len() == 1).then_some(all)
    })
    .await;
    let instance = &all.instances[0];
    assert_eq!((&*instance.host, instance.port), ("127.0.0.1", 9001));
    assert_eq!(instance.metadata["env"], "test");
    assert_eq!(instance.protocol, "grpc");
    assert_eq!(&*instance.id, registration.instance_id());

    // Heartbeats every TTL (1 s) keep it healthy past 3 TTLs.
    let until = Instant::now() + Duration::from_millis(4_500);
    while Instant::now() < until {
        let one = consumer
            .consumer()
            .get_one_instance(
                &key,
                &Criteria::default().lb(LbPolicy::RingHash).hash_key("u1"),
            )
            .await
            .unwrap();
        assert!(one.healthy, "heartbeats keep the instance healthy");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    registration.deregister().await.unwrap();
    eventually("instance gone", DEADLINE, async || {
        let all = consumer.consumer().get_all_instances(&key).await.ok()?;
        all.instances.is_empty().then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_propagates_registrations_to_watchers() {
    let server = TestServer::start();
    let provider = client(&server, None).await;
    let consumer = client(&server, None).await;
    let key = ServiceKey::new("default", "pushed");
    let _first = register(&provider, spec("pushed", 10_000)).await;
    let mut watch = consumer.consumer().watch(&key).await.unwrap();
    let mut latencies = Vec::new();
    let mut keep = Vec::new();
    for i in 1..=20u32 {
        let started = Instant::now();
        keep.push(register(&provider, spec("pushed", 10_000 + i)).await);
        loop {
            let list = tokio::time::timeout(DEADLINE, watch.changed())
                .await
                .expect("watch saw the registration in time")
                .unwrap();
            if list.instances.len() as u32 == i + 1 {
                break;
            }
        }
        latencies.push(started.elapsed());
    }
    assert!(consumer.consumer().push_active(), "the server pushed");
    latencies.sort();
    println!(
        "registration -> watch latency: p50 {:?}, p99 {:?}, max {:?}",
        latencies[latencies.len() / 2],
        latencies[latencies.len() * 99 / 100],
        latencies[latencies.len() - 1]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polling_works_without_push() {
    let server = TestServer::start();
    let provider = client(&server, None).await;
    let consumer = Client::builder()
        .addresses([server.naming_addr()])
        .persist_dir(None)
        .push(false)
        .refresh_interval(Duration::from_millis(100))
        .build()
        .await
        .unwrap();
    let key = ServiceKey::new("default", "polled");
    let _a = register(&provider, spec("polled", 1)).await;
    assert_eq!(listed(&consumer, &key).await, 1);
    let _b = register(&provider, spec("polled", 2)).await;
    eventually("second instance polled", DEADLINE, async || {
        let all = consumer.consumer().get_all_instances(&key).await.ok()?;
        (all.instances.len() == 2).then_some(())
    })
    .await;
    assert!(!consumer.consumer().push_active());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_service_is_a_server_error() {
    let server = TestServer::start();
    let consumer = client(&server, None).await;
    let err = consumer
        .consumer()
        .get_all_instances(&ServiceKey::new("default", "nobody"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(400_202), "{err}");
    // The service appears later: the consumer picks it up.
    let provider = client(&server, None).await;
    let _reg = register(&provider, spec("nobody", 1)).await;
    eventually("late service visible", DEADLINE, async || {
        let key = ServiceKey::new("default", "nobody");
        let all = consumer.consumer().get_all_instances(&key).await.ok()?;
        (all.instances.len() == 1).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_restart_keeps_cache_and_reregisters() {
    let mut server = TestServer::start();
    let provider = client(&server, None).await;
    let consumer = client(&server, Some(server.scratch("consumer"))).await;
    let key = ServiceKey::new("default", "sturdy");
    let registration = register(&provider, spec("sturdy", 7001)).await;
    consumer.consumer().get_all_instances(&key).await.unwrap();

    server.kill();
    // The cache keeps answering while the server is down.
    for _ in 0..5 {
        let one = consumer
            .consumer()
            .get_one_instance(&key, &Criteria::default())
            .await
            .expect("cached answer during the outage");
        assert_eq!(one.port, 7001);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    server.restart();
    // A new registration after the restart reaches the consumer: its stream reconnected.
    let _second = register(&provider, spec("sturdy", 7002)).await;
    eventually("stream resumed after restart", DEADLINE, async || {
        let all = consumer.consumer().get_all_instances(&key).await.ok()?;
        (all.instances.len() == 2).then_some(())
    })
    .await;

    // The instance disappears from the server (data loss): heartbeats answer "not found"
    // and the provider registers it again.
    let deleted = server.post(
        "/naming/v1/instances/delete",
        &serde_json::json!([{ "id": registration.instance_id() }]),
    );
    assert_eq!(deleted["code"], 200_000, "{deleted}");
    eventually(
        "instance re-registered and healthy",
        Duration::from_secs(30),
        async || {
            let all = consumer.consumer().get_all_instances(&key).await.ok()?;
            all.instances
                .iter()
                .any(|i| i.port == 7001 && i.healthy)
                .then_some(())
        },
    )
    .await;
    registration.deregister().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fresh_client_serves_the_disk_cache_during_an_outage() {
    let mut server = TestServer::start();
    let dir = server.scratch("backup");
    let provider = client(&server, None).await;
    let key = ServiceKey::new("default", "durable");
    let _reg = register(&provider, spec("durable", 8001)).await;
    {
        let first = client(&server, Some(dir.clone())).await;
        first.consumer().get_all_instances(&key).await.unwrap();
        eventually("answer persisted", DEADLINE, async || {
            std::fs::read_dir(&dir)
                .ok()?
                .flatten()
                .any(|e| {
                    e.file_name()
                        .to_string_lossy()
                        .starts_with("instance#default#durable")
                })
                .then_some(())
        })
        .await;
    }
    server.kill();

    // Stale-file path: the server is tried first, then the file serves.
    let mut settings = polaris_sdk::Settings::default();
    settings.consumer.local_cache.start_use_file_cache = false;
    let second = Client::builder()
        .settings(settings)
        .addresses([server.naming_addr()])
        .persist_dir(Some(dir.clone()))
        .timeout(Duration::from_millis(500))
        .build()
        .await
        .unwrap();
    let all = second.consumer().get_all_instances(&key).await.unwrap();
    assert_eq!(all.instances.len(), 1);
    assert_eq!(all.instances[0].port, 8001);
    let one = second
        .consumer()
        .get_one_instance(&key, &Criteria::default())
        .await
        .unwrap();
    assert_eq!(one.port, 8001);

    // Fresh-file path: served at once, without waiting for the server.
    let third = client(&server, Some(dir)).await;
    let started = Instant::now();
    let all = third.consumer().get_all_instances(&key).await.unwrap();
    assert_eq!(all.instances.len(), 1);
    assert!(started.elapsed() < Duration::from_millis(1500));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_empty_protection_keeps_the_last_instances() {
    let server = TestServer::start();
    let provider = client(&server, None).await;
    let protected = client(&server, None).await;
    let unprotected = observer(&server).await;
    let key = ServiceKey::new("default", "fragile");
    let registration = register(&provider, spec("fragile", 6001)).await;
    for c in [&protected, &unprotected] {
        eventually("loaded", DEADLINE, async || {
            let all = c.consumer().get_all_instances(&key).await.ok()?;
            (all.instances.len() == 1).then_some(())
        })
        .await;
    }
    let mut protected_watch = protected.consumer().watch(&key).await.unwrap();
    registration.deregister().await.unwrap();
    eventually(
        "unprotected client sees the empty list",
        DEADLINE,
        async || {
            let all = unprotected.consumer().get_all_instances(&key).await.ok()?;
            all.instances.is_empty().then_some(())
        },
    )
    .await;
    // Several refresh rounds later the protected client still holds the instance.
    let changed = tokio::time::timeout(Duration::from_secs(1), protected_watch.changed()).await;
    assert!(changed.is_err(), "the protected cache must not change");
    let all = protected.consumer().get_all_instances(&key).await.unwrap();
    assert_eq!(all.instances.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polaris_yaml_configures_the_client() {
    let server = TestServer::start();
    let yaml = format!(
        "global:\n  serverConnector:\n    addresses: [\"{}\"]\n  api:\n    timeout: 2s\nconsumer:\n  localCache:\n    persistDir: {}\n  loadbalancer:\n    type: roundRobin\nconfig:\n  configConnector:\n    addresses: [\"{}\"]\n  unknownKey: 1\n",
        server.naming_addr(),
        server.scratch("yaml-cache").display(),
        server.config_addr()
    );
    let path = server.scratch("conf").join("polaris.yaml");
    std::fs::write(&path, yaml).unwrap();
    let c = Client::builder().config_file(&path).build().await.unwrap();
    assert_eq!(c.settings().global.api.timeout, Duration::from_secs(2));
    let _a = c.provider().register(spec("yaml", 1)).await.unwrap();
    let _b = c.provider().register(spec("yaml", 2)).await.unwrap();
    let key = ServiceKey::new("default", "yaml");
    eventually("two instances", DEADLINE, async || {
        let all = c.consumer().get_all_instances(&key).await.ok()?;
        (all.instances.len() == 2).then_some(())
    })
    .await;
    // Round robin alternates between the two.
    let mut ports = Vec::new();
    for _ in 0..4 {
        ports.push(
            c.consumer()
                .get_one_instance(&key, &Criteria::default())
                .await
                .unwrap()
                .port,
        );
    }
    assert!(ports.contains(&1) && ports.contains(&2), "{ports:?}");

    // Graceful shutdown deregisters what is still registered.
    c.shutdown().await;
    let observer = observer(&server).await;
    let all = observer.consumer().get_all_instances(&key).await.unwrap();
    assert!(all.instances.is_empty(), "{:?}", all.instances);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_a_registration_deregisters() {
    let server = TestServer::start();
    let provider = client(&server, None).await;
    let observer = observer(&server).await;
    let key = ServiceKey::new("default", "dropped");
    let registration = register(&provider, spec("dropped", 5)).await;
    assert_eq!(listed(&observer, &key).await, 1);
    drop(registration);
    eventually("deregistered on drop", DEADLINE, async || {
        let all = observer.consumer().get_all_instances(&key).await.ok()?;
        all.instances.is_empty().then_some(())
    })
    .await;
}
