//! The unary methods of `PolarisGRPC`.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use polaris_health::Health;
use polaris_naming::Naming;
use polaris_proto::shared::DiscoverReply;
use polaris_proto::shared::PolarisGrpc;
use polaris_proto::v1;
use polaris_types::Code;
use tokio_stream::Stream;
use tonic::{Request, Response, Status, Streaming};

use crate::convert::{error_response, instance_created, instance_spec, response};
use crate::metrics::GrpcMetrics;
use crate::push::PushHub;
use polaris_discovery::Discovery;

/// `PolarisGRPC` over the registry and the health checker.
pub struct PolarisService {
    pub(crate) naming: Arc<Naming>,
    backends: Arc<Discovery>,
    health: Arc<Health>,
    pub(crate) hub: Arc<PushHub>,
    metrics: Arc<GrpcMetrics>,
    max_subscriptions: usize,
}

impl PolarisService {
    pub(crate) fn new(
        backends: Arc<Discovery>,
        health: Arc<Health>,
        hub: Arc<PushHub>,
        metrics: Arc<GrpcMetrics>,
        max_subscriptions: usize,
    ) -> Self {
        PolarisService {
            naming: backends.naming.clone(),
            backends,
            health,
            hub,
            metrics,
            max_subscriptions,
        }
    }
}

fn echo(ins: &v1::Instance) -> v1::Instance {
    v1::Instance {
        id: ins.id.clone(),
        service: ins.service.clone(),
        namespace: ins.namespace.clone(),
        vpc_id: ins.vpc_id.clone(),
        host: ins.host.clone(),
        port: ins.port,
        ..Default::default()
    }
}

type DiscoverStream = Pin<Box<dyn Stream<Item = Result<DiscoverReply, Status>> + Send>>;

#[tonic::async_trait]
impl PolarisGrpc for PolarisService {
    async fn report_client(
        &self,
        request: Request<v1::Client>,
    ) -> Result<Response<v1::Response>, Status> {
        let started = Instant::now();
        let peer = request.remote_addr().map(|a| a.ip().to_string());
        let client = request.into_inner();
        let host = client.host.filter(|h| !h.is_empty()).or(peer);
        let reply = v1::Response {
            client: Some(v1::Client {
                host,
                location: client.location,
                ..Default::default()
            }),
            ..response(Code::ExecuteSuccess)
        };
        self.metrics.observe("ReportClient", started);
        Ok(Response::new(reply))
    }

    async fn register_instance(
        &self,
        request: Request<v1::Instance>,
    ) -> Result<Response<v1::Response>, Status> {
        let started = Instant::now();
        let ins = request.into_inner();
        let reply = match self.naming.register_instance(instance_spec(&ins)).await {
            Ok(created) => v1::Response {
                instance: Some(instance_created(&created)),
                ..response(Code::ExecuteSuccess)
            },
            Err(err) => v1::Response {
                instance: Some(echo(&ins)),
                ..error_response(&err)
            },
        };
        self.metrics.observe("RegisterInstance", started);
        Ok(Response::new(reply))
    }

    async fn deregister_instance(
        &self,
        request: Request<v1::Instance>,
    ) -> Result<Response<v1::Response>, Status> {
        let started = Instant::now();
        let ins = request.into_inner();
        let reply = match self.naming.deregister_instance(&instance_spec(&ins)).await {
            Ok(()) => response(Code::ExecuteSuccess),
            Err(err) => error_response(&err),
        };
        self.metrics.observe("DeregisterInstance", started);
        Ok(Response::new(v1::Response {
            instance: Some(echo(&ins)),
            ..reply
        }))
    }

    async fn heartbeat(
        &self,
        request: Request<v1::Instance>,
    ) -> Result<Response<v1::Response>, Status> {
        let started = Instant::now();
        let ins = request.into_inner();
        let reply = match self.health.heartbeat(&instance_spec(&ins)).await {
            Ok(()) => response(Code::ExecuteSuccess),
            Err(err) => error_response(&err),
        };
        self.metrics.observe("Heartbeat", started);
        Ok(Response::new(v1::Response {
            instance: Some(echo(&ins)),
            ..reply
        }))
    }

    type DiscoverStream = DiscoverStream;

    async fn discover(
        &self,
        request: Request<Streaming<v1::DiscoverRequest>>,
    ) -> Result<Response<Self::DiscoverStream>, Status> {
        let push = crate::push::wants_push(request.metadata());
        let inbound = request.into_inner();
        let outbound = crate::discover::DiscoverStream::new(
            self.backends.clone(),
            self.hub.clone(),
            self.metrics.clone(),
            inbound,
            push,
            self.max_subscriptions,
        );
        Ok(Response::new(Box::pin(outbound)))
    }
}
