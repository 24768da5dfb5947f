//! Service contracts reported by SDKs. A report is written durably before it is acknowledged and
//! then served from memory; the revision changes only when the content or interfaces do, so a
//! reader that sends the revision it holds learns cheaply that nothing changed.

use std::collections::HashMap;
use std::sync::Arc;

use polaris_types::{Code, ContractKey, PolarisError, Result, ServiceContract, validate};

use crate::{Naming, now_millis};

/// Contracts by key, as loaded from the store and updated by reports.
pub(crate) type ContractMap = HashMap<ContractKey, Arc<ServiceContract>>;

/// Checks the fields that identify a contract (for reports and for reads alike).
pub fn validate_contract_key(c: &ServiceContract) -> Result<()> {
    if !validate::is_valid_name(&c.namespace, 64) {
        return Err(PolarisError::new(
            Code::InvalidNamespaceName,
            "invalid contract namespace",
        ));
    }
    if !c.service.is_empty() && !validate::is_valid_name(&c.service, 128) {
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

fn same_content(a: &ServiceContract, b: &ServiceContract) -> bool {
    a.content == b.content && a.interfaces == b.interfaces
}

impl Naming {
    /// Stores `contract` under its key, replacing any earlier report, and returns what was stored.
    pub async fn report_contract(
        &self,
        mut contract: ServiceContract,
    ) -> Result<Arc<ServiceContract>> {
        validate_contract_key(&contract)?;
        let key = contract.key();
        // One report at a time, so the revision and the map follow the order of the writes.
        let _writing = self.contract_writes.lock().await;
        let previous = self.contracts.read().get(&key).cloned();
        contract.revision = match previous {
            Some(old) if same_content(&old, &contract) => old.revision.clone(),
            _ => polaris_types::new_revision(),
        };
        contract.mtime = now_millis();
        self.write(vec![polaris_store::Mutation::PutServiceContract(
            contract.clone(),
        )])
        .await?;
        let stored = Arc::new(contract);
        self.contracts.write().insert(key, stored.clone());
        Ok(stored)
    }

    /// The contract stored under `key`, if any.
    pub fn contract(&self, key: &ContractKey) -> Option<Arc<ServiceContract>> {
        self.contracts.read().get(key).cloned()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use polaris_store::NamingStore;
    use polaris_store::memory::MemoryStore;
    use polaris_types::{Code, ContractInterface, ServiceContract};

    use crate::{Naming, NamingOptions};

    fn report(path: &str) -> ServiceContract {
        ServiceContract {
            namespace: "default".to_string(),
            service: "orders".to_string(),
            name: "api".to_string(),
            version: "v1".to_string(),
            protocol: "http".to_string(),
            interfaces: vec![ContractInterface {
                method: "GET".to_string(),
                path: path.to_string(),
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn revision_changes_only_with_content_and_survives_reopen() {
        let store = Arc::new(MemoryStore::new());
        let naming = Naming::open(store.clone(), NamingOptions::default())
            .await
            .unwrap();
        let first = naming.report_contract(report("/a")).await.unwrap();
        let again = naming.report_contract(report("/a")).await.unwrap();
        assert_eq!(first.revision, again.revision);
        let changed = naming.report_contract(report("/b")).await.unwrap();
        assert_ne!(changed.revision, first.revision);
        assert_eq!(store.load_service_contracts().await.unwrap().len(), 1);

        let reopened = Naming::open(
            Arc::new(MemoryStore::open(store.data())),
            NamingOptions::default(),
        )
        .await
        .unwrap();
        let loaded = reopened.contract(&report("/b").key()).expect("stored");
        assert_eq!(loaded.revision, changed.revision);
        assert_eq!(loaded.interfaces[0].path, "/b");
    }

    #[tokio::test]
    async fn hostile_keys_are_refused_with_polaris_codes() {
        let naming = Naming::open(Arc::new(MemoryStore::new()), NamingOptions::default())
            .await
            .unwrap();
        let mut no_protocol = report("/a");
        no_protocol.protocol.clear();
        let mut bad_namespace = report("/a");
        bad_namespace.namespace = "bad ns!".repeat(20);
        let mut bad_service = report("/a");
        bad_service.service = "x".repeat(1000);
        for (contract, code) in [
            (no_protocol, Code::InvalidParameter),
            (bad_namespace, Code::InvalidNamespaceName),
            (bad_service, Code::InvalidServiceName),
        ] {
            let err = naming.report_contract(contract).await.unwrap_err();
            assert_eq!(err.code, code);
        }
    }
}
