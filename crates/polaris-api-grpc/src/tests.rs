//! The adapter over a real loopback connection, with the generated client.

use std::sync::Arc;
use std::time::Duration;

use polaris_governance::Governance;
use polaris_health::{Health, HealthOptions, MemoryBeats};
use polaris_naming::{InstanceSpec, Naming, NamingOptions};
use polaris_proto::v1;
use polaris_proto::v1::discover_request::DiscoverRequestType;
use polaris_proto::v1::polaris_grpc_client::PolarisGrpcClient;
use polaris_store::memory::MemoryStore;
use polaris_types::{Rule, RuleKind, RuleTarget, TargetRole};
use prost::Message;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Streaming;
use tonic::transport::Channel;

struct Fixture {
    naming: Arc<Naming>,
    governance: Arc<Governance>,
    client: PolarisGrpcClient<Channel>,
}

async fn fixture() -> Fixture {
    let store = Arc::new(MemoryStore::new());
    let naming = Arc::new(
        Naming::open(store.clone(), NamingOptions::default())
            .await
            .unwrap(),
    );
    let governance = Arc::new(Governance::open(store.clone()).await.unwrap());
    let auth = polaris_auth::Auth::open(store, polaris_auth::AuthOptions::default())
        .await
        .unwrap();
    let health = Health::start(
        naming.clone(),
        Arc::new(MemoryBeats::default()),
        HealthOptions::default(),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let metrics = Arc::new(crate::GrpcMetrics::default());
    let limits = crate::GrpcLimits::unlimited("service-grpc");
    tokio::spawn(crate::serve_with(
        listener,
        naming.clone(),
        governance.clone(),
        health,
        metrics,
        auth,
        limits,
        std::future::pending(),
    ));
    let channel = connect(addr).await;
    Fixture {
        naming,
        governance,
        client: PolarisGrpcClient::new(channel),
    }
}

fn instance(port: u32) -> InstanceSpec {
    InstanceSpec {
        namespace: "default".into(),
        service: "svc".into(),
        host: "10.0.0.1".into(),
        port: Some(port),
        ..Default::default()
    }
}

fn request(kind: DiscoverRequestType, name: &str, revision: Option<String>) -> v1::DiscoverRequest {
    v1::DiscoverRequest {
        r#type: kind as i32,
        service: Some(v1::Service {
            name: Some(name.into()),
            namespace: Some("default".into()),
            revision,
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Opens a Discover stream, with or without push.
async fn open(
    client: &mut PolarisGrpcClient<Channel>,
    push: bool,
) -> (
    mpsc::Sender<v1::DiscoverRequest>,
    Streaming<v1::DiscoverResponse>,
) {
    let (tx, rx) = mpsc::channel(16);
    let mut req = tonic::Request::new(ReceiverStream::new(rx));
    if push {
        req.metadata_mut()
            .insert(crate::PUSH_METADATA_KEY, "true".parse().unwrap());
    }
    let stream = client.discover(req).await.unwrap().into_inner();
    (tx, stream)
}

async fn next(stream: &mut Streaming<v1::DiscoverResponse>) -> v1::DiscoverResponse {
    tokio::time::timeout(Duration::from_secs(5), stream.message())
        .await
        .expect("a reply in time")
        .unwrap()
        .unwrap()
}

#[tokio::test]
async fn discover_answers_in_order_with_revisions() {
    let mut f = fixture().await;
    f.naming.register_instance(instance(1)).await.unwrap();
    let (tx, mut stream) = open(&mut f.client, false).await;
    tx.send(request(DiscoverRequestType::Instance, "svc", None))
        .await
        .unwrap();
    tx.send(request(DiscoverRequestType::Lane, "svc", None))
        .await
        .unwrap();
    tx.send(request(DiscoverRequestType::Instance, "missing", None))
        .await
        .unwrap();
    let full = next(&mut stream).await;
    assert_eq!(full.code, Some(200_000));
    assert_eq!(full.instances.len(), 1);
    let revision = full.service.and_then(|s| s.revision).unwrap();
    let lane = next(&mut stream).await;
    assert_eq!(
        (lane.code, lane.r#type),
        (Some(200_000), DiscoverRequestType::Lane as i32)
    );
    assert_eq!(next(&mut stream).await.code, Some(400_202));
    tx.send(request(
        DiscoverRequestType::Instance,
        "svc",
        Some(revision.clone()),
    ))
    .await
    .unwrap();
    let same = next(&mut stream).await;
    assert_eq!(same.code, Some(200_001));
    let echoed = same.service.unwrap();
    assert_eq!(
        (echoed.name.as_deref(), echoed.revision.as_deref()),
        (Some("svc"), Some(revision.as_str()))
    );
}

#[tokio::test]
async fn pushes_reach_subscribers_only() {
    let mut f = fixture().await;
    f.naming.register_instance(instance(1)).await.unwrap();
    let (push_tx, mut pushed) = open(&mut f.client, true).await;
    let (plain_tx, mut plain) = open(&mut f.client, false).await;
    for tx in [&push_tx, &plain_tx] {
        tx.send(request(DiscoverRequestType::Instance, "svc", None))
            .await
            .unwrap();
    }
    assert_eq!(next(&mut pushed).await.instances.len(), 1);
    assert_eq!(next(&mut plain).await.instances.len(), 1);
    f.naming.register_instance(instance(2)).await.unwrap();
    let update = next(&mut pushed).await;
    assert_eq!((update.code, update.instances.len()), (Some(200_000), 2));
    let quiet = tokio::time::timeout(Duration::from_millis(300), plain.message()).await;
    assert!(quiet.is_err(), "a client without push gets nothing unasked");
}

#[tokio::test]
async fn a_slow_reader_gets_the_newest_state_without_a_flood() {
    let mut f = fixture().await;
    f.naming.register_instance(instance(0)).await.unwrap();
    let (tx, mut stream) = open(&mut f.client, true).await;
    tx.send(request(DiscoverRequestType::Instance, "svc", None))
        .await
        .unwrap();
    assert_eq!(next(&mut stream).await.instances.len(), 1);
    for port in 1..=200 {
        f.naming.register_instance(instance(port)).await.unwrap();
    }
    let newest = f
        .naming
        .snapshot()
        .services
        .values()
        .next()
        .unwrap()
        .revision
        .to_string();
    let mut received = 0;
    loop {
        let update = next(&mut stream).await;
        received += 1;
        if update.service.and_then(|s| s.revision).as_deref() == Some(newest.as_str()) {
            assert_eq!(update.instances.len(), 201);
            break;
        }
    }
    assert!(
        received < 200,
        "changes coalesce: {received} pushes for 200 changes"
    );
}

#[tokio::test]
async fn a_subscription_can_be_cancelled() {
    let mut f = fixture().await;
    f.naming.register_instance(instance(1)).await.unwrap();
    let (tx, mut stream) = open(&mut f.client, true).await;
    tx.send(request(DiscoverRequestType::Instance, "svc", None))
        .await
        .unwrap();
    next(&mut stream).await;
    let mut cancel = request(DiscoverRequestType::Instance, "svc", None);
    if let Some(service) = cancel.service.as_mut() {
        service
            .metadata
            .insert(crate::PUSH_METADATA_KEY.into(), "off".into());
    }
    tx.send(cancel).await.unwrap();
    assert_eq!(next(&mut stream).await.code, Some(200_000));
    f.naming.register_instance(instance(2)).await.unwrap();
    let quiet = tokio::time::timeout(Duration::from_millis(300), stream.message()).await;
    assert!(quiet.is_err(), "no push after cancelling");
}

#[tokio::test]
async fn registration_and_heartbeat_codes_travel_in_the_body() {
    let mut f = fixture().await;
    let ins = v1::Instance {
        service: Some("svc".into()),
        namespace: Some("default".into()),
        host: Some("10.0.0.9".into()),
        port: Some(80),
        ..Default::default()
    };
    let created = f
        .client
        .register_instance(ins.clone())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(created.code, Some(200_000));
    let id = created.instance.and_then(|i| i.id).unwrap();
    assert_eq!(
        id,
        polaris_types::instance_id("default", "svc", "", "10.0.0.9", 80)
    );
    let beat = f.client.heartbeat(ins.clone()).await.unwrap().into_inner();
    assert_eq!(
        beat.code,
        Some(400_141),
        "no health check enabled on the instance"
    );
    let bad = v1::Instance {
        host: None,
        ..ins.clone()
    };
    assert_eq!(
        f.client
            .register_instance(bad)
            .await
            .unwrap()
            .into_inner()
            .code,
        Some(400_131)
    );
    let gone = f
        .client
        .deregister_instance(ins.clone())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(gone.code, Some(200_000));
    assert_eq!(
        f.client
            .deregister_instance(ins)
            .await
            .unwrap()
            .into_inner()
            .code,
        Some(200_000)
    );
}

/// A channel to the test server at `addr`.
pub(crate) async fn connect(addr: std::net::SocketAddr) -> Channel {
    Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap()
}

fn callee(service: &str) -> RuleTarget {
    RuleTarget {
        namespace: "default".into(),
        service: service.into(),
        role: TargetRole::Callee,
    }
}

#[tokio::test]
async fn rate_limits_are_discovered_with_revisions_and_pushed_on_change() {
    let mut f = fixture().await;
    let (tx, mut stream) = open(&mut f.client, true).await;
    tx.send(request(DiscoverRequestType::RateLimit, "svc", None))
        .await
        .unwrap();
    let empty = next(&mut stream).await;
    assert_eq!(
        (empty.code, empty.rate_limit.is_none()),
        (Some(200_000), true),
        "no rules, no payload"
    );
    let body = v1::Rule {
        amounts: vec![v1::Amount {
            max_amount: Some(10),
            ..Default::default()
        }],
        ..Default::default()
    }
    .encode_to_vec();
    let created = f
        .governance
        .create(Rule::new(
            RuleKind::RateLimit,
            "rl",
            vec![callee("svc")],
            body,
        ))
        .await
        .unwrap();
    let pushed = next(&mut stream).await;
    let limits = pushed.rate_limit.expect("the new rule is pushed");
    assert_eq!(limits.rules.len(), 1);
    assert_eq!(limits.rules[0].id.as_deref(), Some(created.id.as_str()));
    assert_eq!(limits.rules[0].service.as_deref(), Some("svc"));
    assert_eq!(limits.rules[0].amounts[0].max_amount, Some(10));
    let revision = limits.revision.clone();
    // Rate limits hash even a single rule's revision, as the official server does.
    let hashed = {
        use sha1::Digest;
        hex::encode(sha1::Sha1::digest(created.revision.as_bytes()))
    };
    assert_eq!(revision.as_deref(), Some(hashed.as_str()));
    tx.send(request(
        DiscoverRequestType::RateLimit,
        "svc",
        revision.clone(),
    ))
    .await
    .unwrap();
    assert_eq!(next(&mut stream).await.code, Some(200_001));
    f.governance
        .enable(RuleKind::RateLimit, &created.id, false)
        .await
        .unwrap();
    let disabled = next(&mut stream).await;
    assert_eq!(disabled.code, Some(200_000));
    let limits = disabled.rate_limit.expect("a disabled rule is still sent");
    assert_eq!(limits.rules.len(), 1);
    assert_eq!(
        limits.rules[0].disable,
        Some(true),
        "flagged for the SDK to skip"
    );
    assert_ne!(limits.revision, revision, "disabling changes the revision");
}

#[tokio::test]
async fn v2_routing_rules_arrive_as_v1_inbounds_and_outbounds() {
    let mut f = fixture().await;
    let (tx, mut stream) = open(&mut f.client, false).await;
    tx.send(request(DiscoverRequestType::Routing, "callee", None))
        .await
        .unwrap();
    let none = next(&mut stream).await;
    assert_eq!(
        none.routing.and_then(|r| r.revision).as_deref(),
        Some(polaris_discovery::rules::EMPTY_ROUTING_REVISION)
    );
    let config = v1::RuleRoutingConfig {
        sources: vec![v1::SourceService {
            namespace: "default".into(),
            service: "caller".into(),
            arguments: vec![v1::SourceMatch {
                r#type: v1::source_match::Type::Header as i32,
                key: "x-user".into(),
                value: Some(v1::MatchString {
                    value: Some("vip".into()),
                    ..Default::default()
                }),
            }],
        }],
        destinations: vec![v1::DestinationGroup {
            namespace: "default".into(),
            service: "callee".into(),
            name: "gray".into(),
            weight: 100,
            ..Default::default()
        }],
        rules: vec![],
    };
    let rule = v1::RouteRule {
        routing_config: Some(prost_types::Any {
            type_url: "type.googleapis.com/v1.RuleRoutingConfig".into(),
            value: config.encode_to_vec(),
        }),
        ..Default::default()
    };
    let targets = vec![
        RuleTarget {
            namespace: "default".into(),
            service: "caller".into(),
            role: TargetRole::Caller,
        },
        callee("callee"),
    ];
    f.governance
        .create(Rule::new(
            RuleKind::Routing,
            "r",
            targets,
            rule.encode_to_vec(),
        ))
        .await
        .unwrap();
    tx.send(request(DiscoverRequestType::Routing, "callee", None))
        .await
        .unwrap();
    let routing = next(&mut stream).await.routing.unwrap();
    assert_eq!((routing.inbounds.len(), routing.outbounds.len()), (1, 0));
    let route = &routing.inbounds[0];
    assert_eq!(route.sources[0].service.as_deref(), Some("caller"));
    assert!(route.sources[0].metadata.contains_key("$header.x-user"));
    assert_eq!(route.destinations[0].name.as_deref(), Some("r..gray"));
    tx.send(request(DiscoverRequestType::Routing, "caller", None))
        .await
        .unwrap();
    let routing = next(&mut stream).await.routing.unwrap();
    assert_eq!((routing.inbounds.len(), routing.outbounds.len()), (0, 1));
    assert_eq!(
        routing.outbounds[0].destinations[0].service.as_deref(),
        Some("callee")
    );
}
