//! [`Guarded`]: each gRPC service wrapped so that its methods are checked on the message tonic
//! decoded, then delegated to the inner service unchanged.

use std::sync::Arc;

use polaris_auth::{Auth, Endpoint};
use polaris_proto::shared::{DiscoverReply, PolarisGrpc};
use polaris_proto::v1;
use polaris_proto::v1::polaris_config_grpc_server::PolarisConfigGrpc;
use polaris_proto::v1::polaris_service_contract_grpc_server::PolarisServiceContractGrpc;
use tonic::{Request, Response, Status, Streaming};

use super::{Guard, Refused};
use crate::config::ConfigService;
use crate::contract::ContractService;
use crate::naming::PolarisService;

/// A service behind the access checks of its port.
pub struct Guarded<S> {
    inner: S,
    guard: Guard,
}

impl<S> Guarded<S> {
    pub(crate) fn new(inner: S, auth: Arc<Auth>) -> Self {
        Guarded {
            inner,
            guard: Guard { auth },
        }
    }
}

/// Checks a unary request with `$check` (`write` or `read`) and answers a refusal as the
/// method's reply message, or runs the inner method.
macro_rules! checked {
    ($self:ident . $method:ident($request:ident), $check:ident, $endpoint:ident) => {{
        if let Err(err) = $self.guard.$check(Endpoint::$endpoint, &$request) {
            return Ok(Response::new(Refused::refused(&err)));
        }
        $self.inner.$method($request).await
    }};
}

type Reply<T> = Result<Response<T>, Status>;

impl Guarded<ConfigService> {
    /// WatchConfigFiles for the lean route (`config/watch_route.rs`): the check of tonic's
    /// method, on the request's metadata. Admitted, the watch needs only the peer's address
    /// and the service; refused, the reply is the refusal.
    pub(crate) fn admit_watch(
        &self,
        head: Request<()>,
    ) -> Result<(String, &ConfigService), Box<v1::ConfigClientResponse>> {
        if let Err(err) = self.guard.read(Endpoint::WatchConfigFiles, &head) {
            return Err(Box::new(v1::ConfigClientResponse::refused(&err)));
        }
        Ok((crate::config::peer_ip(head.remote_addr()), &self.inner))
    }
}

#[tonic::async_trait]
impl PolarisGrpc for Guarded<PolarisService> {
    async fn report_client(&self, request: Request<v1::Client>) -> Reply<v1::Response> {
        self.inner.report_client(request).await
    }

    async fn register_instance(&self, request: Request<v1::Instance>) -> Reply<v1::Response> {
        checked!(self.register_instance(request), write, RegisterInstance)
    }

    async fn deregister_instance(&self, request: Request<v1::Instance>) -> Reply<v1::Response> {
        checked!(self.deregister_instance(request), write, DeregisterInstance)
    }

    async fn heartbeat(&self, request: Request<v1::Instance>) -> Reply<v1::Response> {
        self.inner.heartbeat(request).await
    }

    type DiscoverStream = <PolarisService as PolarisGrpc>::DiscoverStream;

    async fn discover(
        &self,
        request: Request<Streaming<v1::DiscoverRequest>>,
    ) -> Reply<Self::DiscoverStream> {
        if let Err(err) = self.guard.read(Endpoint::Discover, &request) {
            let refusal = DiscoverReply::Message(Box::new(v1::DiscoverResponse::refused(&err)));
            return Ok(Response::new(Box::pin(tokio_stream::once(Ok(refusal)))));
        }
        self.inner.discover(request).await
    }
}

#[tonic::async_trait]
impl PolarisServiceContractGrpc for Guarded<ContractService> {
    async fn report_service_contract(
        &self,
        request: Request<v1::ServiceContract>,
    ) -> Reply<v1::Response> {
        checked!(
            self.report_service_contract(request),
            write,
            ReportServiceContract
        )
    }

    async fn get_service_contract(
        &self,
        request: Request<v1::ServiceContract>,
    ) -> Reply<v1::Response> {
        checked!(self.get_service_contract(request), read, GetServiceContract)
    }
}

#[tonic::async_trait]
impl PolarisConfigGrpc for Guarded<ConfigService> {
    async fn get_config_file(
        &self,
        request: Request<v1::ClientConfigFileInfo>,
    ) -> Reply<v1::ConfigClientResponse> {
        checked!(self.get_config_file(request), read, GetConfigFile)
    }

    async fn create_config_file(
        &self,
        request: Request<v1::ConfigFile>,
    ) -> Reply<v1::ConfigClientResponse> {
        checked!(
            self.create_config_file(request),
            write,
            ClientCreateConfigFile
        )
    }

    async fn update_config_file(
        &self,
        request: Request<v1::ConfigFile>,
    ) -> Reply<v1::ConfigClientResponse> {
        checked!(
            self.update_config_file(request),
            write,
            ClientUpdateConfigFile
        )
    }

    async fn publish_config_file(
        &self,
        request: Request<v1::ConfigFileRelease>,
    ) -> Reply<v1::ConfigClientResponse> {
        checked!(
            self.publish_config_file(request),
            write,
            ClientPublishConfigFile
        )
    }

    async fn upsert_and_publish_config_file(
        &self,
        request: Request<v1::ConfigFilePublishInfo>,
    ) -> Reply<v1::ConfigClientResponse> {
        checked!(
            self.upsert_and_publish_config_file(request),
            write,
            ClientUpsertAndPublishConfigFile
        )
    }

    async fn watch_config_files(
        &self,
        request: Request<v1::ClientWatchConfigFileRequest>,
    ) -> Reply<v1::ConfigClientResponse> {
        checked!(self.watch_config_files(request), read, WatchConfigFiles)
    }

    async fn get_config_file_metadata_list(
        &self,
        request: Request<v1::ConfigFileGroupRequest>,
    ) -> Reply<v1::ConfigClientListResponse> {
        checked!(
            self.get_config_file_metadata_list(request),
            read,
            GetConfigFileMetadataList
        )
    }

    type DiscoverStream = <ConfigService as PolarisConfigGrpc>::DiscoverStream;

    async fn discover(
        &self,
        request: Request<Streaming<v1::ConfigDiscoverRequest>>,
    ) -> Reply<Self::DiscoverStream> {
        if let Err(err) = self.guard.read(Endpoint::ConfigDiscover, &request) {
            let refusal = v1::ConfigDiscoverResponse::refused(&err);
            return Ok(Response::new(Box::pin(tokio_stream::once(Ok(refusal)))));
        }
        self.inner.discover(request).await
    }
}
