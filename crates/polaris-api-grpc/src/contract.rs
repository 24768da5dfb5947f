//! `PolarisServiceContractGRPC`: SDKs report the API interfaces of their service and read those
//! of others. Contracts are kept in memory by this node.

use std::collections::HashMap;

use parking_lot::RwLock;
use polaris_proto::v1;
use polaris_proto::v1::polaris_service_contract_grpc_server::PolarisServiceContractGrpc;
use polaris_types::{Code, PolarisError};
use tonic::{Request, Response, Status};

use crate::convert::{error_response, response};

/// (namespace, service, name, version, protocol)
type ContractKey = (String, String, String, String, String);

#[derive(Default)]
pub struct ContractService {
    contracts: RwLock<HashMap<ContractKey, v1::ServiceContract>>,
}

fn key(c: &v1::ServiceContract) -> ContractKey {
    let name = if c.name.is_empty() {
        c.r#type.clone()
    } else {
        c.name.clone()
    };
    (
        c.namespace.clone(),
        c.service.clone(),
        name,
        c.version.clone(),
        c.protocol.clone(),
    )
}

fn validate(c: &v1::ServiceContract) -> Result<(), PolarisError> {
    let valid = |s: &str, max: usize| polaris_types::validate::is_valid_name(s, max);
    if !valid(&c.namespace, 64) {
        return Err(PolarisError::new(
            Code::InvalidNamespaceName,
            "invalid contract namespace",
        ));
    }
    if !c.service.is_empty() && !valid(&c.service, 128) {
        return Err(PolarisError::new(
            Code::InvalidServiceName,
            "invalid contract service",
        ));
    }
    if c.protocol.is_empty() || c.protocol.len() > 64 {
        return Err(PolarisError::new(
            Code::InvalidParameter,
            "protocol is required",
        ));
    }
    Ok(())
}

fn revision_of(c: &v1::ServiceContract) -> String {
    use std::hash::{DefaultHasher, Hash, Hasher};
    let mut hasher = DefaultHasher::new();
    c.content.hash(&mut hasher);
    for i in &c.interfaces {
        (&i.method, &i.path, &i.content, &i.r#type, &i.name).hash(&mut hasher);
    }
    format!("{:016x}", hasher.finish())
}

#[tonic::async_trait]
impl PolarisServiceContractGrpc for ContractService {
    async fn report_service_contract(
        &self,
        request: Request<v1::ServiceContract>,
    ) -> Result<Response<v1::Response>, Status> {
        let mut contract = request.into_inner();
        if let Err(err) = validate(&contract) {
            return Ok(Response::new(error_response(&err)));
        }
        contract.revision = revision_of(&contract);
        self.contracts.write().insert(key(&contract), contract);
        Ok(Response::new(response(Code::ExecuteSuccess)))
    }

    async fn get_service_contract(
        &self,
        request: Request<v1::ServiceContract>,
    ) -> Result<Response<v1::Response>, Status> {
        let query = request.into_inner();
        if let Err(err) = validate(&query) {
            return Ok(Response::new(error_response(&err)));
        }
        let found = self.contracts.read().get(&key(&query)).cloned();
        let reply = match found {
            None => response(Code::NotFoundResource),
            Some(contract) if !query.revision.is_empty() && query.revision == contract.revision => {
                response(Code::DataNoChange)
            }
            Some(contract) => v1::Response {
                service_contract: Some(contract),
                ..response(Code::ExecuteSuccess)
            },
        };
        Ok(Response::new(reply))
    }
}
