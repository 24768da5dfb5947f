//! The gRPC services on the xDS port: ADS (state of the world and delta) and the per-type
//! CDS, EDS, LDS and RDS services, all over the same streams, with the token check of the other
//! gRPC ports at stream open.

use std::sync::Arc;

use envoy_types::pb::envoy::config::core::v3::Node;
use envoy_types::pb::envoy::service::cluster::v3::cluster_discovery_service_server::ClusterDiscoveryService;
use envoy_types::pb::envoy::service::discovery::v3::aggregated_discovery_service_server::AggregatedDiscoveryService;
use envoy_types::pb::envoy::service::discovery::v3::{
    DeltaDiscoveryRequest, DeltaDiscoveryResponse, DiscoveryRequest, DiscoveryResponse,
};
use envoy_types::pb::envoy::service::endpoint::v3::endpoint_discovery_service_server::EndpointDiscoveryService;
use envoy_types::pb::envoy::service::listener::v3::listener_discovery_service_server::ListenerDiscoveryService;
use envoy_types::pb::envoy::service::route::v3::route_discovery_service_server::RouteDiscoveryService;
use polaris_auth::{Auth, Origin};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use crate::cache::{XdsCache, XdsType};
use crate::metrics::XdsMetrics;
use crate::node::NodeInfo;
use crate::view::Viewer;
use crate::{Limits, delta, sotw};

/// The metadata key of the token, as on the other gRPC ports.
pub const TOKEN_METADATA_KEY: &str = "x-polaris-token";

type SotwStream = ReceiverStream<Result<DiscoveryResponse, Status>>;
type DeltaStream = ReceiverStream<Result<DeltaDiscoveryResponse, Status>>;

/// Shared by every service on the port.
#[derive(Clone)]
pub struct XdsService {
    pub cache: Arc<XdsCache>,
    pub auth: Arc<Auth>,
    pub limits: Limits,
    pub metrics: Arc<XdsMetrics>,
}

impl XdsService {
    /// Refuses a stream without a valid token when client checks are on.
    pub(crate) fn admit<T>(&self, request: &Request<T>) -> Result<(), Status> {
        if !self.auth.options().client_open {
            return Ok(());
        }
        let token = request
            .metadata()
            .get(TOKEN_METADATA_KEY)
            .and_then(|v| v.to_str().ok());
        self.auth
            .authenticate(Origin::Client, token)
            .map(|_| ())
            .map_err(|err| Status::unauthenticated(err.info()))
    }

    fn sotw(
        &self,
        only: Option<XdsType>,
        request: Request<Streaming<DiscoveryRequest>>,
    ) -> Result<Response<SotwStream>, Status> {
        self.admit(&request)?;
        let stream = sotw::serve(
            self.cache.clone(),
            self.limits,
            self.metrics.clone(),
            only,
            request.into_inner(),
        );
        Ok(Response::new(stream))
    }

    fn delta(
        &self,
        request: Request<Streaming<DeltaDiscoveryRequest>>,
    ) -> Result<Response<DeltaStream>, Status> {
        self.admit(&request)?;
        let stream = delta::serve(
            self.cache.clone(),
            self.limits,
            self.metrics.clone(),
            request.into_inner(),
        );
        Ok(Response::new(stream))
    }

    fn fetch(
        &self,
        ty: XdsType,
        request: Request<DiscoveryRequest>,
    ) -> Result<Response<DiscoveryResponse>, Status> {
        self.admit(&request)?;
        let request = request.into_inner();
        let node = NodeInfo::parse(request.node.as_ref().unwrap_or(&Node::default()));
        let viewer = Viewer {
            cache: &self.cache,
            node: &node,
        };
        let view = viewer.view(ty, &request.resource_names);
        let version = view.version();
        if version == request.version_info {
            return Err(Status::new(tonic::Code::Unavailable, "up to date"));
        }
        Ok(Response::new(DiscoveryResponse {
            version_info: version,
            resources: view.resources.iter().map(|r| r.body.clone()).collect(),
            type_url: ty.type_url().to_string(),
            control_plane: sotw::control_plane(),
            ..Default::default()
        }))
    }
}

#[tonic::async_trait]
impl AggregatedDiscoveryService for XdsService {
    type StreamAggregatedResourcesStream = SotwStream;
    type DeltaAggregatedResourcesStream = DeltaStream;

    async fn stream_aggregated_resources(
        &self,
        request: Request<Streaming<DiscoveryRequest>>,
    ) -> Result<Response<SotwStream>, Status> {
        self.sotw(None, request)
    }

    async fn delta_aggregated_resources(
        &self,
        request: Request<Streaming<DeltaDiscoveryRequest>>,
    ) -> Result<Response<DeltaStream>, Status> {
        self.delta(request)
    }
}

/// Implements one per-type discovery service on [`XdsService`].
macro_rules! per_type_service {
    ($trait:ident, $ty:expr, $stream:ident, $delta_stream:ident, $stream_fn:ident, $delta_fn:ident, $fetch_fn:ident) => {
        #[tonic::async_trait]
        impl $trait for XdsService {
            type $stream = SotwStream;
            type $delta_stream = DeltaStream;

            async fn $stream_fn(
                &self,
                request: Request<Streaming<DiscoveryRequest>>,
            ) -> Result<Response<SotwStream>, Status> {
                self.sotw(Some($ty), request)
            }

            async fn $delta_fn(
                &self,
                request: Request<Streaming<DeltaDiscoveryRequest>>,
            ) -> Result<Response<DeltaStream>, Status> {
                self.delta(request)
            }

            async fn $fetch_fn(
                &self,
                request: Request<DiscoveryRequest>,
            ) -> Result<Response<DiscoveryResponse>, Status> {
                self.fetch($ty, request)
            }
        }
    };
}

per_type_service!(
    ClusterDiscoveryService,
    XdsType::Cluster,
    StreamClustersStream,
    DeltaClustersStream,
    stream_clusters,
    delta_clusters,
    fetch_clusters
);
per_type_service!(
    EndpointDiscoveryService,
    XdsType::Endpoint,
    StreamEndpointsStream,
    DeltaEndpointsStream,
    stream_endpoints,
    delta_endpoints,
    fetch_endpoints
);
per_type_service!(
    ListenerDiscoveryService,
    XdsType::Listener,
    StreamListenersStream,
    DeltaListenersStream,
    stream_listeners,
    delta_listeners,
    fetch_listeners
);
per_type_service!(
    RouteDiscoveryService,
    XdsType::Route,
    StreamRoutesStream,
    DeltaRoutesStream,
    stream_routes,
    delta_routes,
    fetch_routes
);
