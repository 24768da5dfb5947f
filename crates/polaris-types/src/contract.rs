//! Service contracts: the API interfaces an SDK reports for its service, so that others (and the
//! console) can read them back.

use crate::Millis;

/// One interface of a contract: a method or HTTP route and its description.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ContractInterface {
    pub name: String,
    pub method: String,
    pub path: String,
    pub content: String,
    pub kind: String,
}

/// A reported contract. It is identified by [`ServiceContract::key`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServiceContract {
    pub namespace: String,
    pub service: String,
    /// The contract's name; SDKs that send none are keyed by `kind` instead.
    pub name: String,
    pub kind: String,
    pub version: String,
    pub protocol: String,
    pub content: String,
    pub interfaces: Vec<ContractInterface>,
    /// A digest of the content and interfaces, so a reader can ask "changed since?".
    pub revision: String,
    pub mtime: Millis,
}

/// Identifies a contract: (namespace, service, name, version, protocol).
pub type ContractKey = (String, String, String, String, String);

impl ServiceContract {
    pub fn key(&self) -> ContractKey {
        let name = if self.name.is_empty() {
            &self.kind
        } else {
            &self.name
        };
        (
            self.namespace.clone(),
            self.service.clone(),
            name.clone(),
            self.version.clone(),
            self.protocol.clone(),
        )
    }
}
