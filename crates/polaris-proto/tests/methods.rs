//! The gRPC paths the generated clients call and the servers answer must be exactly the
//! official ones (`/v1.<Service>/<Method>`), since SDKs dial them by name.

mod common;
use common::*;

use polaris_proto::v1::polaris_grpc_client::PolarisGrpcClient;
use polaris_proto::v1::polaris_service_contract_grpc_client::PolarisServiceContractGrpcClient;
use polaris_proto::v1::{
    Client, DiscoverRequest, Instance, ServiceContract, polaris_grpc_server,
    polaris_service_contract_grpc_server,
};
use tonic::codegen::tokio_stream;

#[tokio::test]
async fn naming_client_paths() {
    let rec = Recorder::default();
    let mut c = PolarisGrpcClient::new(rec.clone());
    let _ = c.report_client(Client::default()).await;
    let _ = c.register_instance(Instance::default()).await;
    let _ = c.deregister_instance(Instance::default()).await;
    let _ = c.heartbeat(Instance::default()).await;
    let _ = c
        .discover(tokio_stream::iter(vec![DiscoverRequest::default()]))
        .await;
    assert_eq!(
        rec.paths(),
        [
            "/v1.PolarisGRPC/ReportClient",
            "/v1.PolarisGRPC/RegisterInstance",
            "/v1.PolarisGRPC/DeregisterInstance",
            "/v1.PolarisGRPC/Heartbeat",
            "/v1.PolarisGRPC/Discover",
        ]
    );
}

#[tokio::test]
async fn contract_client_paths() {
    let rec = Recorder::default();
    let mut c = PolarisServiceContractGrpcClient::new(rec.clone());
    let _ = c.report_service_contract(ServiceContract::default()).await;
    let _ = c.get_service_contract(ServiceContract::default()).await;
    assert_eq!(
        rec.paths(),
        [
            "/v1.PolarisServiceContractGRPC/ReportServiceContract",
            "/v1.PolarisServiceContractGRPC/GetServiceContract",
        ]
    );
}

#[test]
fn server_names() {
    assert_eq!(polaris_grpc_server::SERVICE_NAME, "v1.PolarisGRPC");
    assert_eq!(
        polaris_service_contract_grpc_server::SERVICE_NAME,
        "v1.PolarisServiceContractGRPC"
    );
}
