//! polaris-tonic against the real server binary: discovery and failover, routing by labels,
//! circuit breaking, rate limiting, and a timeout changed in the config center (all but the
//! first from `polaris_testkit::suite`, which the polaris-volo tests run too).

mod echo;

use echo::{Tonic, consumer_channel};
use polaris_sdk::{RetryPolicy, RpcPolicies, RpcPolicy};
use polaris_testkit::TestServer;
use polaris_testkit::echo::client;
use polaris_testkit::suite::{dead_instance, provider, wait_instances};
use polaris_tonic::echo::{EchoRequest, echo_client::EchoClient};
use tonic::Code;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_fail_over_from_a_dead_instance() {
    let server = TestServer::start();
    let c = client(&server).await;
    let live = provider::<Tonic>(&c, "failover-echo", &[], false).await;
    // A registered, heartbeating instance whose process is gone: nothing listens there.
    let _dead = dead_instance(&c, "failover-echo", 2).await;
    let mut echo = EchoClient::new(consumer_channel(&c, "failover-echo").build());
    for i in 0..30 {
        let answer = echo
            .echo(EchoRequest {
                value: format!("call {i}"),
            })
            .await
            .unwrap_or_else(|e| panic!("call {i} lost: {e}"));
        assert_eq!(answer.get_ref().value, format!("call {i}"));
        assert_eq!(answer.get_ref().served_by, live.address());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unavailable_answers_are_retried_on_another_instance() {
    let server = TestServer::start();
    let c = client(&server).await;
    let good = provider::<Tonic>(&c, "retry-echo", &[], false).await;
    let bad = provider::<Tonic>(&c, "retry-echo", &[], false).await;
    bad.set_failing(true);
    wait_instances(&c, "retry-echo", 2).await;
    let call = |i: usize| {
        let mut request = tonic::Request::new(EchoRequest {
            value: format!("call {i}"),
        });
        request
            .metadata_mut()
            .insert("x-user", format!("user-{i}").parse().unwrap());
        request
    };
    // Without retries, some calls land on the failing instance (each with odds 1/2).
    let mut plain = EchoClient::new(
        consumer_channel(&c, "retry-echo")
            .circuit_breaker(false)
            .build(),
    );
    let mut unavailable = 0;
    for i in 0..40 {
        if let Err(status) = plain.echo(call(i)).await {
            assert_eq!(status.code(), Code::Unavailable, "{status}");
            unavailable += 1;
        }
    }
    assert!(unavailable > 0, "the failing instance was never picked");
    // With one retry, every call is answered by the good instance.
    let retry = RetryPolicy {
        max_retries: 1,
        same_node: false,
    };
    let policies = RpcPolicies::fixed(RpcPolicy::default().with_retry("Echo", retry));
    let channel = consumer_channel(&c, "retry-echo")
        .circuit_breaker(false)
        .failover(0)
        .policies(policies)
        .build();
    let mut echo = EchoClient::new(channel);
    for i in 0..40 {
        let answer = echo
            .echo(call(i))
            .await
            .unwrap_or_else(|e| panic!("call {i} not retried: {e}"));
        assert_eq!(answer.get_ref().value, format!("call {i}"));
        assert_eq!(answer.get_ref().served_by, good.address());
    }
}

polaris_testkit::framework_suite!(echo::Tonic);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_custom_connector_dials_each_instance() {
    let server = TestServer::start();
    let c = client(&server).await;
    let live = provider::<Tonic>(&c, "connector-echo", &[], false).await;
    // A connector that dials the instance's own address over TCP and counts its connections.
    let dialed = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let seen = dialed.clone();
    let connector = tower::service_fn(move |uri: http::Uri| {
        let seen = seen.clone();
        async move {
            let address = uri.authority().expect("an instance address").to_string();
            seen.lock().unwrap().push(address.clone());
            let stream = tokio::net::TcpStream::connect(address).await?;
            Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(stream))
        }
    });
    let channel = consumer_channel(&c, "connector-echo")
        .connect_with(move |endpoint| endpoint.connect_with_connector_lazy(connector.clone()))
        .build();
    let mut echo = EchoClient::new(channel);
    for i in 0..5 {
        let answer = echo
            .echo(EchoRequest {
                value: format!("call {i}"),
            })
            .await
            .unwrap_or_else(|e| panic!("call {i} failed: {e}"));
        assert_eq!(answer.get_ref().served_by, live.address());
    }
    assert_eq!(
        *dialed.lock().unwrap(),
        vec![live.address()],
        "one connection, through the connector, to the instance"
    );
}
