//! On-disk encoding of service contracts, in the same versioned-JSON format as the other records
//! (see `codec`).

use polaris_store::StoreResult;
use polaris_types::{ContractInterface, Millis, ServiceContract};
use serde::{Deserialize, Serialize};

use crate::codec::{KEY_SEPARATOR, decode, encode};

// The stored shape is the domain type's own fields, named as they are, so serde's remote
// derive writes and reads `ServiceContract` directly through these mirrors.

#[derive(Serialize, Deserialize)]
#[serde(remote = "ContractInterface")]
struct InterfaceV1 {
    name: String,
    method: String,
    path: String,
    content: String,
    kind: String,
}

#[derive(Serialize, Deserialize)]
#[serde(remote = "ServiceContract")]
struct ContractV1 {
    namespace: String,
    service: String,
    name: String,
    kind: String,
    version: String,
    protocol: String,
    content: String,
    #[serde(with = "interfaces")]
    interfaces: Vec<ContractInterface>,
    revision: String,
    mtime: Millis,
}

/// A list of interfaces, each through [`InterfaceV1`].
mod interfaces {
    use polaris_types::ContractInterface;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Serialize)]
    struct Out<'a>(#[serde(with = "super::InterfaceV1")] &'a ContractInterface);

    #[derive(Deserialize)]
    struct In(#[serde(with = "super::InterfaceV1")] ContractInterface);

    pub(super) fn serialize<S: Serializer>(
        list: &[ContractInterface],
        to: S,
    ) -> Result<S::Ok, S::Error> {
        to.collect_seq(list.iter().map(Out))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        from: D,
    ) -> Result<Vec<ContractInterface>, D::Error> {
        let list = Vec::<In>::deserialize(from)?;
        Ok(list.into_iter().map(|In(i)| i).collect())
    }
}

#[derive(Serialize)]
struct Stored<'a>(#[serde(with = "ContractV1")] &'a ServiceContract);

#[derive(Deserialize)]
struct Loaded(#[serde(with = "ContractV1")] ServiceContract);

/// The table key and the encoded record of `c`.
pub(crate) fn encode_contract(c: &ServiceContract) -> (String, Vec<u8>) {
    let (namespace, service, name, version, protocol) = c.key();
    let key = [namespace, service, name, version, protocol].join(&KEY_SEPARATOR.to_string());
    (key, encode(&Stored(c)))
}

pub(crate) fn decode_contract(bytes: &[u8]) -> StoreResult<ServiceContract> {
    let Loaded(contract) = decode("service contract", bytes)?;
    Ok(contract)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stored_format_is_pinned_and_reads_back() {
        let contract = ServiceContract {
            namespace: "default".into(),
            service: "echo".into(),
            name: "api".into(),
            kind: "grpc".into(),
            version: "v1".into(),
            protocol: "grpc".into(),
            content: "c".into(),
            interfaces: vec![ContractInterface {
                name: "Echo".into(),
                method: "POST".into(),
                path: "/echo.Echo/Echo".into(),
                content: "i".into(),
                kind: "grpc".into(),
            }],
            revision: "r1".into(),
            mtime: 7,
        };
        let (key, bytes) = encode_contract(&contract);
        assert_eq!(key, "default\0echo\0api\0v1\0grpc");
        let json = r#"{"namespace":"default","service":"echo","name":"api","kind":"grpc","version":"v1","protocol":"grpc","content":"c","interfaces":[{"name":"Echo","method":"POST","path":"/echo.Echo/Echo","content":"i","kind":"grpc"}],"revision":"r1","mtime":7}"#;
        assert_eq!(bytes[0], 1, "format version 1");
        assert_eq!(std::str::from_utf8(&bytes[1..]).unwrap(), json);
        assert_eq!(decode_contract(&bytes).unwrap(), contract);
    }
}
