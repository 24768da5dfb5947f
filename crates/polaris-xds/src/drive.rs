//! The one loop that drives an xDS stream, state of the world or delta: it answers the client's
//! requests and the read model's changes in turn, and ends when the client goes away.

use std::future::Future;
use std::sync::Arc;

use tokio::sync::{mpsc, watch};
use tokio_stream::StreamExt;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Status, Streaming};

use crate::metrics::XdsMetrics;

/// What a stream does with a request and with a change of the read model; `false` ends it.
pub(crate) trait XdsStream: Send + 'static {
    type Request: prost::Message + Default + Send + 'static;
    type Response: Send + 'static;

    fn on_request(&mut self, request: Self::Request) -> impl Future<Output = bool> + Send;
    fn on_change(&mut self) -> impl Future<Output = bool> + Send;
    fn out(&self) -> &mpsc::Sender<Result<Self::Response, Status>>;
}

/// Spawns the task that drives `stream` and hands back what it sends.
pub(crate) fn drive<S: XdsStream>(
    mut stream: S,
    mut requests: Streaming<S::Request>,
    mut changes: watch::Receiver<u64>,
    responses: mpsc::Receiver<Result<S::Response, Status>>,
    metrics: Arc<XdsMetrics>,
) -> ReceiverStream<Result<S::Response, Status>> {
    tokio::spawn(async move {
        let _open = metrics.stream_opened();
        loop {
            let alive = tokio::select! {
                request = requests.next() => match request {
                    Some(Ok(request)) => stream.on_request(request).await,
                    Some(Err(status)) => {
                        tracing::debug!(target: "polaris_xds", %status, "xDS stream ended by the client");
                        false
                    }
                    None => false,
                },
                changed = changes.changed() => match changed {
                    Ok(()) => stream.on_change().await,
                    Err(_) => false,
                },
                () = stream.out().closed() => false,
            };
            if !alive {
                break;
            }
        }
    });
    ReceiverStream::new(responses)
}
