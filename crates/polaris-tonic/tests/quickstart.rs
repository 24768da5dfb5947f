//! The quickstart examples as processes against the real server: the provider registers and
//! prints its port, the consumer prints the echoed text, a killed provider is failed over,
//! and SIGTERM deregisters before exit while calls in flight lose nothing (the scenarios are
//! `polaris_testkit::quickstart`, shared with polaris-volo).

mod echo;

use polaris_testkit::quickstart;

const SERVICE: &str = "EchoServerTonic";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quickstart_examples_register_call_and_deregister() {
    quickstart::examples_register_call_and_deregister(env!("CARGO_MANIFEST_DIR"), SERVICE).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_providers_are_failed_over_and_sigterm_loses_no_call() {
    quickstart::sigterm_loses_no_call::<echo::Tonic>(env!("CARGO_MANIFEST_DIR"), SERVICE, true)
        .await;
}
