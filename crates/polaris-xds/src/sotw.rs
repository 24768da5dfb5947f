//! State-of-the-world streams (ADS and the per-type services): one task per stream reads the
//! client's requests and the cache's change signal. A type gets a response when the client
//! subscribes or changes its names, and afterwards only when the resources it sees changed (a
//! content fingerprint is the version). An ACK records the version; a NACK is logged and keeps
//! the client on its last good version until the resources change again. A request for an
//! unknown type, or one over the limits, is answered with a `resource_errors` entry and the
//! stream goes on.

use std::collections::BTreeMap;
use std::sync::Arc;

use envoy_types::pb::envoy::config::core::v3::ControlPlane;
use envoy_types::pb::envoy::service::discovery::v3::{
    DiscoveryRequest, DiscoveryResponse, ResourceError, ResourceName,
};
use envoy_types::pb::google::rpc::Status as RpcStatus;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Status, Streaming};

use crate::cache::{XdsCache, XdsType};
use crate::node::NodeInfo;
use crate::view::{Stamp, Viewer};
use crate::{Limits, metrics::XdsMetrics};

/// The `control_plane.identifier` of every response.
pub const CONTROL_PLANE: &str = "polaris-rs";

/// What a stream tracks for one type.
#[derive(Default)]
struct Watch {
    names: Vec<String>,
    stamp: Stamp,
    /// The version last sent (accepted or not) and its nonce.
    sent_version: Option<String>,
    nonce: String,
}

pub(crate) fn control_plane() -> Option<ControlPlane> {
    Some(ControlPlane {
        identifier: CONTROL_PLANE.into(),
    })
}

/// A response carrying one error for the request's type (the stream stays open).
fn error_response(
    type_url: &str,
    nonce: String,
    code: tonic::Code,
    message: String,
) -> DiscoveryResponse {
    DiscoveryResponse {
        type_url: type_url.to_string(),
        nonce,
        control_plane: control_plane(),
        resource_errors: vec![ResourceError {
            resource_name: Some(ResourceName {
                name: String::new(),
                ..Default::default()
            }),
            error_detail: Some(RpcStatus {
                code: code as i32,
                message,
                details: Vec::new(),
            }),
        }],
        ..Default::default()
    }
}

struct Stream {
    cache: Arc<XdsCache>,
    limits: Limits,
    metrics: Arc<XdsMetrics>,
    /// `Some` for a per-type service.
    only: Option<XdsType>,
    node: Option<NodeInfo>,
    watches: BTreeMap<XdsType, Watch>,
    nonces: u64,
    out: mpsc::Sender<Result<DiscoveryResponse, Status>>,
}

impl Stream {
    fn next_nonce(&mut self) -> String {
        self.nonces += 1;
        self.nonces.to_string()
    }

    async fn send(&self, response: DiscoveryResponse) -> bool {
        self.out.send(Ok(response)).await.is_ok()
    }

    /// Recomputes `ty` and sends it when its version moved (or `force`: a new subscription
    /// whose client version differs). Returns false when the client is gone.
    async fn push(&mut self, ty: XdsType, client_version: Option<&str>) -> bool {
        let node = self.node.clone().unwrap_or_else(crate::view::anonymous);
        let viewer = Viewer {
            cache: &self.cache,
            node: &node,
        };
        let Some(watch) = self.watches.get(&ty) else {
            return true;
        };
        let view = viewer.view(ty, &watch.names);
        let version = view.version();
        let known = client_version.or(watch.sent_version.as_deref());
        let up_to_date = known == Some(version.as_str());
        let nonce = if up_to_date {
            None
        } else {
            Some(self.next_nonce())
        };
        let watch = self.watches.get_mut(&ty).expect("present above");
        watch.stamp = view.stamp;
        let Some(nonce) = nonce else {
            watch.sent_version = Some(version);
            return true;
        };
        watch.sent_version = Some(version.clone());
        watch.nonce = nonce.clone();
        self.metrics.pushed(ty, view.resources.len());
        let response = DiscoveryResponse {
            version_info: version,
            resources: view.resources.iter().map(|r| r.body.clone()).collect(),
            type_url: ty.type_url().to_string(),
            nonce,
            control_plane: control_plane(),
            ..Default::default()
        };
        self.send(response).await
    }

    async fn on_request(&mut self, request: DiscoveryRequest) -> bool {
        if let Some(node) = request.node.as_ref().filter(|_| self.node.is_none()) {
            self.node = Some(NodeInfo::parse(node));
        }
        let node_id = self.node.as_ref().map(|n| n.id.clone()).unwrap_or_default();
        let ty = match XdsType::parse(&request.type_url) {
            Some(ty) if self.only.is_none_or(|only| only == ty) => ty,
            _ => {
                tracing::warn!(target: "polaris_xds", node = node_id, type_url = request.type_url, "unsupported type URL");
                let nonce = self.next_nonce();
                let message = format!(
                    "unsupported type URL `{}` on this service; served: {}",
                    request.type_url,
                    XdsType::ALL.map(XdsType::type_url).join(", ")
                );
                let response = error_response(
                    &request.type_url,
                    nonce,
                    tonic::Code::InvalidArgument,
                    message,
                );
                return self.send(response).await;
            }
        };
        if request.resource_names.len() > self.limits.max_names_per_type {
            let nonce = self.next_nonce();
            let message = format!(
                "{} resource names requested; at most {} per type per stream",
                request.resource_names.len(),
                self.limits.max_names_per_type
            );
            let response = error_response(
                &request.type_url,
                nonce,
                tonic::Code::ResourceExhausted,
                message,
            );
            return self.send(response).await;
        }
        let watch = self.watches.entry(ty).or_default();
        if !request.response_nonce.is_empty() && request.response_nonce != watch.nonce {
            // A stale nonce: the client has not seen our latest response yet; its next request
            // (with the latest nonce) carries its current subscription.
            return true;
        }
        let names_changed = watch.names != request.resource_names;
        watch.names = request.resource_names;
        if !request.response_nonce.is_empty() {
            if let Some(error) = request.error_detail {
                tracing::warn!(
                    target: "polaris_xds",
                    node = node_id,
                    type_url = request.type_url,
                    rejected = watch.sent_version.as_deref().unwrap_or_default(),
                    kept = request.version_info,
                    error = error.message,
                    "NACK: the client rejected a response and keeps its last good version"
                );
                self.metrics.nacked(ty);
            }
            if !names_changed {
                return true;
            }
            return self.push(ty, None).await;
        }
        let client_version = Some(request.version_info.as_str()).filter(|v| !v.is_empty());
        if !names_changed && watch.sent_version.is_some() && client_version.is_none() {
            // A repeated initial request: answer it again.
            watch.sent_version = None;
        }
        self.push(ty, client_version.map(str::to_string).as_deref())
            .await
    }

    async fn on_change(&mut self) -> bool {
        let stamps = self.watches.iter().map(|(ty, w)| (*ty, &w.stamp));
        for ty in crate::view::stale(&self.cache, self.node.as_ref(), stamps) {
            if !self.push(ty, None).await {
                return false;
            }
        }
        true
    }
}

/// Serves one state-of-the-world stream.
pub fn serve(
    cache: Arc<XdsCache>,
    limits: Limits,
    metrics: Arc<XdsMetrics>,
    only: Option<XdsType>,
    requests: Streaming<DiscoveryRequest>,
) -> ReceiverStream<Result<DiscoveryResponse, Status>> {
    let (out, responses) = mpsc::channel(8);
    let changes = cache.subscribe();
    let stream = Stream {
        cache,
        limits,
        metrics: metrics.clone(),
        only,
        node: None,
        watches: BTreeMap::new(),
        nonces: 0,
        out,
    };
    crate::drive::drive(stream, requests, changes, responses, metrics)
}

impl crate::drive::XdsStream for Stream {
    type Request = DiscoveryRequest;
    type Response = DiscoveryResponse;

    fn on_request(
        &mut self,
        request: DiscoveryRequest,
    ) -> impl std::future::Future<Output = bool> + Send {
        Stream::on_request(self, request)
    }

    fn on_change(&mut self) -> impl std::future::Future<Output = bool> + Send {
        Stream::on_change(self)
    }

    fn out(&self) -> &mpsc::Sender<Result<DiscoveryResponse, Status>> {
        &self.out
    }
}
