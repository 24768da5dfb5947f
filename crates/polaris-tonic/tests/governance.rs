//! polaris-tonic against the real server binary: discovery and failover, routing by labels,
//! circuit breaking, rate limiting, and a timeout changed in the config center (all but the
//! first from `polaris_testkit::suite`, which the polaris-volo tests run too).

mod echo;

use echo::{Tonic, consumer_channel};
use polaris_testkit::TestServer;
use polaris_testkit::echo::client;
use polaris_testkit::suite::{dead_instance, provider};
use polaris_tonic::echo::{EchoRequest, echo_client::EchoClient};

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

polaris_testkit::framework_suite!(echo::Tonic);
