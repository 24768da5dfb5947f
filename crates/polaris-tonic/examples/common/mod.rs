//! Shared bits of the examples: the Polaris client, logs and the console HTTP helper (from
//! `polaris_testkit::example`, shared with the SDK and polaris-volo examples) and the Echo
//! service.

#![allow(dead_code, unused_imports)]

pub use polaris_testkit::example::{framework_client as client, http, init_logs};
use polaris_tonic::echo::{EchoRequest, EchoResponse, echo_server::Echo};
use tonic::{Request, Response, Status};

/// Echo answering with the request's text and the address that served it; fails with
/// `UNAVAILABLE` while `failing` is set.
#[derive(Clone, Default)]
pub struct EchoService {
    pub served_by: String,
    pub failing: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

#[tonic::async_trait]
impl Echo for EchoService {
    async fn echo(&self, request: Request<EchoRequest>) -> Result<Response<EchoResponse>, Status> {
        if self.failing.load(std::sync::atomic::Ordering::Relaxed) {
            return Err(Status::unavailable(format!(
                "{} is failing",
                self.served_by
            )));
        }
        Ok(Response::new(EchoResponse {
            value: request.into_inner().value,
            served_by: self.served_by.clone(),
        }))
    }
}
