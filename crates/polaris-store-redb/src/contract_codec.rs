//! On-disk encoding of service contracts, in the same versioned-JSON format as the other records
//! (see `codec`).

use polaris_store::StoreResult;
use polaris_types::{ContractInterface, Millis, ServiceContract};
use serde::{Deserialize, Serialize};

use crate::codec::{KEY_SEPARATOR, decode, encode};

#[derive(Serialize, Deserialize)]
struct InterfaceV1 {
    name: String,
    method: String,
    path: String,
    content: String,
    kind: String,
}

#[derive(Serialize, Deserialize)]
struct ContractV1 {
    namespace: String,
    service: String,
    name: String,
    kind: String,
    version: String,
    protocol: String,
    content: String,
    interfaces: Vec<InterfaceV1>,
    revision: String,
    mtime: Millis,
}

/// The table key and the encoded record of `c`.
pub(crate) fn encode_contract(c: &ServiceContract) -> (String, Vec<u8>) {
    let (namespace, service, name, version, protocol) = c.key();
    let key = [namespace, service, name, version, protocol].join(&KEY_SEPARATOR.to_string());
    let interfaces = c
        .interfaces
        .iter()
        .map(|i| InterfaceV1 {
            name: i.name.clone(),
            method: i.method.clone(),
            path: i.path.clone(),
            content: i.content.clone(),
            kind: i.kind.clone(),
        })
        .collect();
    let bytes = encode(&ContractV1 {
        namespace: c.namespace.clone(),
        service: c.service.clone(),
        name: c.name.clone(),
        kind: c.kind.clone(),
        version: c.version.clone(),
        protocol: c.protocol.clone(),
        content: c.content.clone(),
        interfaces,
        revision: c.revision.clone(),
        mtime: c.mtime,
    });
    (key, bytes)
}

pub(crate) fn decode_contract(bytes: &[u8]) -> StoreResult<ServiceContract> {
    let c: ContractV1 = decode("service contract", bytes)?;
    Ok(ServiceContract {
        namespace: c.namespace,
        service: c.service,
        name: c.name,
        kind: c.kind,
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
                kind: i.kind,
            })
            .collect(),
        revision: c.revision,
        mtime: c.mtime,
    })
}
