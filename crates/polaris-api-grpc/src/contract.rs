//! `PolarisServiceContractGRPC`: SDKs report the API interfaces of their service and read those
//! of others. Reports are stored durably by the registry ([`Naming::report_contract`]).

use std::sync::Arc;

use polaris_naming::{Naming, validate_contract_key};
use polaris_proto::v1;
use polaris_proto::v1::polaris_service_contract_grpc_server::PolarisServiceContractGrpc;
use polaris_types::{Code, ContractInterface, ServiceContract};
use tonic::{Request, Response, Status};

use crate::convert::{error_response, response};

pub struct ContractService {
    naming: Arc<Naming>,
}

impl ContractService {
    pub fn new(naming: Arc<Naming>) -> Self {
        ContractService { naming }
    }
}

fn from_wire(c: v1::ServiceContract) -> ServiceContract {
    ServiceContract {
        namespace: c.namespace,
        service: c.service,
        name: c.name,
        kind: c.r#type,
        version: c.version,
        protocol: c.protocol,
        content: c.content,
        interfaces: c
            .interfaces
            .into_iter()
            .map(|i| ContractInterface {
                name: i.name,
                method: i.method,
                path: i.path,
                content: i.content,
                kind: i.r#type,
            })
            .collect(),
        revision: c.revision,
        mtime: 0,
    }
}

fn to_wire(c: &ServiceContract) -> v1::ServiceContract {
    let interfaces = c
        .interfaces
        .iter()
        .map(|i| v1::InterfaceDescriptor {
            name: i.name.clone(),
            method: i.method.clone(),
            path: i.path.clone(),
            content: i.content.clone(),
            r#type: i.kind.clone(),
            namespace: c.namespace.clone(),
            service: c.service.clone(),
            protocol: c.protocol.clone(),
            version: c.version.clone(),
            ..Default::default()
        })
        .collect();
    v1::ServiceContract {
        name: c.name.clone(),
        namespace: c.namespace.clone(),
        service: c.service.clone(),
        protocol: c.protocol.clone(),
        version: c.version.clone(),
        revision: c.revision.clone(),
        content: c.content.clone(),
        interfaces,
        r#type: c.kind.clone(),
        ..Default::default()
    }
}

#[tonic::async_trait]
impl PolarisServiceContractGrpc for ContractService {
    async fn report_service_contract(
        &self,
        request: Request<v1::ServiceContract>,
    ) -> Result<Response<v1::Response>, Status> {
        let contract = from_wire(request.into_inner());
        let reply = match self.naming.report_contract(contract).await {
            Ok(_) => response(Code::ExecuteSuccess),
            Err(err) => error_response(&err),
        };
        Ok(Response::new(reply))
    }

    async fn get_service_contract(
        &self,
        request: Request<v1::ServiceContract>,
    ) -> Result<Response<v1::Response>, Status> {
        let query = from_wire(request.into_inner());
        if let Err(err) = validate_contract_key(&query) {
            return Ok(Response::new(error_response(&err)));
        }
        let reply = match self.naming.contract(&query.key()) {
            None => response(Code::NotFoundResource),
            Some(found) if !query.revision.is_empty() && query.revision == found.revision => {
                response(Code::DataNoChange)
            }
            Some(found) => v1::Response {
                service_contract: Some(to_wire(&found)),
                ..response(Code::ExecuteSuccess)
            },
        };
        Ok(Response::new(reply))
    }
}
