//! The quickstart examples as processes against the real server: the provider registers
//! (seen through the official Discover API) and prints its port, the consumer prints the
//! echoed text, and SIGTERM deregisters before exit while calls in flight lose nothing (the
//! scenarios are `polaris_testkit::quickstart`, shared with polaris-tonic).

mod echo;

use polaris_testkit::quickstart;

const SERVICE: &str = "EchoServerVolo";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quickstart_examples_register_call_and_deregister() {
    quickstart::examples_register_call_and_deregister(env!("CARGO_MANIFEST_DIR"), SERVICE).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_deregisters_first_and_calls_in_flight_lose_nothing() {
    quickstart::sigterm_loses_no_call::<echo::Volo>(env!("CARGO_MANIFEST_DIR"), SERVICE, false)
        .await;
}
