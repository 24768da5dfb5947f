//! Delta (incremental) ADS, which the official server lacks: per type, the client subscribes
//! to names (or to everything, with no names or `*`), and each response carries only the
//! resources whose content changed since the client last had them and the names that went
//! away. Versions are per resource (content fingerprints), so a reconnecting client's
//! `initial_resource_versions` spare it resources it already has.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use envoy_types::pb::envoy::service::discovery::v3::{
    DeltaDiscoveryRequest, DeltaDiscoveryResponse, Resource as DeltaResource,
};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Status, Streaming};

use crate::Limits;
use crate::cache::{XdsCache, XdsType};
use crate::metrics::XdsMetrics;
use crate::node::NodeInfo;
use crate::sotw::control_plane;
use crate::view::{Stamp, Viewer};

#[derive(Default)]
struct DeltaWatch {
    wildcard: bool,
    names: BTreeSet<String>,
    /// What the client has: name -> version.
    known: HashMap<String, String>,
    stamp: Stamp,
    nonce: String,
    answered: bool,
}

struct DeltaStream {
    cache: Arc<XdsCache>,
    limits: Limits,
    metrics: Arc<XdsMetrics>,
    node: Option<NodeInfo>,
    watches: BTreeMap<XdsType, DeltaWatch>,
    nonces: u64,
    out: mpsc::Sender<Result<DeltaDiscoveryResponse, Status>>,
}

impl DeltaStream {
    async fn push(&mut self, ty: XdsType) -> bool {
        let node = self.node.clone().unwrap_or_else(crate::view::anonymous);
        let viewer = Viewer {
            cache: &self.cache,
            node: &node,
        };
        let Some(watch) = self.watches.get_mut(&ty) else {
            return true;
        };
        let names: Vec<String> = if watch.wildcard {
            Vec::new()
        } else {
            watch.names.iter().cloned().collect()
        };
        let view = viewer.view(ty, &names);
        watch.stamp = view.stamp;
        let mut resources = Vec::new();
        let mut present = BTreeSet::new();
        for r in &view.resources {
            let version = format!("{:016x}", r.fingerprint);
            present.insert(r.name.clone());
            if watch.known.get(&r.name) != Some(&version) {
                resources.push(DeltaResource {
                    name: r.name.clone(),
                    version: version.clone(),
                    resource: Some(r.body.clone()),
                    ..Default::default()
                });
                watch.known.insert(r.name.clone(), version);
            }
        }
        let removed: Vec<String> = watch
            .known
            .keys()
            .filter(|n| !present.contains(*n))
            .cloned()
            .collect();
        for name in &removed {
            watch.known.remove(name);
        }
        let first_wildcard = watch.wildcard && !watch.answered;
        if resources.is_empty() && removed.is_empty() && !first_wildcard {
            return true;
        }
        watch.answered = true;
        self.nonces += 1;
        watch.nonce = self.nonces.to_string();
        self.metrics.pushed(ty, resources.len());
        let response = DeltaDiscoveryResponse {
            system_version_info: view_version(&watch.known),
            resources,
            type_url: ty.type_url().to_string(),
            removed_resources: removed,
            nonce: watch.nonce.clone(),
            control_plane: control_plane(),
            ..Default::default()
        };
        self.out.send(Ok(response)).await.is_ok()
    }

    async fn on_request(&mut self, request: DeltaDiscoveryRequest) -> bool {
        if let Some(node) = request.node.as_ref().filter(|_| self.node.is_none()) {
            self.node = Some(NodeInfo::parse(node));
        }
        let node_id = self.node.as_ref().map(|n| n.id.clone()).unwrap_or_default();
        let Some(ty) = XdsType::parse(&request.type_url) else {
            tracing::warn!(target: "polaris_xds", node = node_id, type_url = request.type_url, "unsupported delta type URL");
            let status =
                Status::invalid_argument(format!("unsupported type URL `{}`", request.type_url));
            // Delta responses have no error field: the stream ends with the reason.
            let _ = self.out.send(Err(status)).await;
            return false;
        };
        let first = !self.watches.contains_key(&ty);
        let watch = self.watches.entry(ty).or_default();
        if first {
            watch.wildcard = request.resource_names_subscribe.is_empty();
            watch.known = request
                .initial_resource_versions
                .clone()
                .into_iter()
                .collect();
        }
        for name in &request.resource_names_subscribe {
            if name == "*" {
                watch.wildcard = true;
            } else {
                watch.names.insert(name.clone());
            }
        }
        for name in &request.resource_names_unsubscribe {
            if name == "*" {
                watch.wildcard = false;
            }
            watch.names.remove(name);
            watch.known.remove(name);
        }
        if watch.names.len() > self.limits.max_names_per_type {
            let status = Status::resource_exhausted(format!(
                "at most {} resource names per type per stream",
                self.limits.max_names_per_type
            ));
            let _ = self.out.send(Err(status)).await;
            return false;
        }
        if !request.response_nonce.is_empty() && request.response_nonce == watch.nonce {
            if let Some(error) = request.error_detail {
                tracing::warn!(target: "polaris_xds", node = node_id, type_url = request.type_url, error = error.message, "delta NACK");
                self.metrics.nacked(ty);
            }
            let subscription_changed = !request.resource_names_subscribe.is_empty()
                || !request.resource_names_unsubscribe.is_empty();
            if !subscription_changed {
                return true;
            }
        }
        self.push(ty).await
    }

    async fn on_change(&mut self) -> bool {
        let stamps = self.watches.iter().map(|(ty, w)| (*ty, &w.stamp));
        for ty in crate::view::stale(&self.cache, self.node.as_ref(), stamps) {
            if !self.push(ty).await {
                return false;
            }
        }
        true
    }
}

fn view_version(known: &HashMap<String, String>) -> String {
    let sorted: BTreeMap<&String, &String> = known.iter().collect();
    format!("{:016x}", crate::cache::fingerprint(sorted))
}

/// Serves one delta stream.
pub fn serve(
    cache: Arc<XdsCache>,
    limits: Limits,
    metrics: Arc<XdsMetrics>,
    requests: Streaming<DeltaDiscoveryRequest>,
) -> ReceiverStream<Result<DeltaDiscoveryResponse, Status>> {
    let (out, responses) = mpsc::channel(8);
    let changes = cache.subscribe();
    let stream = DeltaStream {
        cache,
        limits,
        metrics: metrics.clone(),
        node: None,
        watches: BTreeMap::new(),
        nonces: 0,
        out,
    };
    crate::drive::drive(stream, requests, changes, responses, metrics)
}

impl crate::drive::XdsStream for DeltaStream {
    type Request = DeltaDiscoveryRequest;
    type Response = DeltaDiscoveryResponse;

    fn on_request(
        &mut self,
        request: DeltaDiscoveryRequest,
    ) -> impl std::future::Future<Output = bool> + Send {
        DeltaStream::on_request(self, request)
    }

    fn on_change(&mut self) -> impl std::future::Future<Output = bool> + Send {
        DeltaStream::on_change(self)
    }

    fn out(&self) -> &mpsc::Sender<Result<DeltaDiscoveryResponse, Status>> {
        &self.out
    }
}
