//! Following a shared store: changes other nodes committed reach this node's cache through the
//! same cache operations the local write path uses (`put_*`/`remove_*` of [`crate::NamingCache`]),
//! so push streams, Eureka and xDS see them as they see local writes.
//!
//! A catch-up holds the registry's structure lock exclusively from before it reads the feed until
//! it has applied what it read: a local write is then either wholly before the read (the read
//! returns its row, or a newer one) or wholly after the apply, so a stale row can never overwrite
//! a newer local one. Records equal to the cached ones are skipped, which makes a node's own
//! writes, read back from the feed, cost nothing and announce nothing.

use std::collections::HashSet;
use std::sync::Arc;

use polaris_store::Mutation;
use polaris_store::feed::{ChangeFeed, FeedBatch, FeedDomain};
use polaris_types::{ContractKey, Result, ServiceKey};

use crate::Naming;

/// What one catch-up changed in the cache.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Applied {
    /// The revision the cache now holds.
    pub revision: i64,
    /// Records put or removed (records equal to the cached ones are not counted).
    pub changed: usize,
}

impl Naming {
    /// Reads what the naming or contracts `domain` committed after `after` (everything, when
    /// `None`) and applies it to the cache.
    pub async fn catch_up(
        &self,
        feed: &dyn ChangeFeed,
        domain: FeedDomain,
        after: Option<i64>,
    ) -> Result<Applied> {
        match domain {
            FeedDomain::Contracts => {
                let _writing = self.contract_writes.lock().await;
                let batch = feed.changes_since(domain, after).await?;
                Ok(self.apply_contracts(batch))
            }
            _ => {
                let _all = self.structure.write().await;
                let batch = feed.changes_since(domain, after).await?;
                Ok(self.apply_naming(batch))
            }
        }
    }

    fn apply_contracts(&self, batch: FeedBatch) -> Applied {
        let mut contracts = self.contracts.write();
        let mut changed = 0;
        let mut listed: HashSet<ContractKey> = HashSet::new();
        for mutation in batch.mutations {
            if let Mutation::PutServiceContract(contract) = mutation {
                let key = contract.key();
                listed.insert(key.clone());
                if contracts.get(&key).is_none_or(|c| **c != contract) {
                    contracts.insert(key, Arc::new(contract));
                    changed += 1;
                }
            }
        }
        if batch.full {
            let before = contracts.len();
            contracts.retain(|key, _| listed.contains(key));
            changed += before - contracts.len();
        }
        Applied {
            revision: batch.revision,
            changed,
        }
    }

    fn apply_naming(&self, batch: FeedBatch) -> Applied {
        let mut changed = 0;
        let mut orphans = 0;
        let full = batch.full;
        let (mut namespaces, mut services, mut instances) =
            (HashSet::new(), HashSet::new(), HashSet::new());
        for mutation in batch.mutations {
            let snapshot = self.cache.snapshot();
            match mutation {
                Mutation::PutNamespace(ns) => {
                    if full {
                        namespaces.insert(ns.name.clone());
                    }
                    if snapshot.namespaces.get(&ns.name).is_none_or(|c| **c != ns) {
                        self.cache.put_namespace(ns);
                        changed += 1;
                    }
                }
                Mutation::DeleteNamespace { name, .. } => {
                    let cached = snapshot.namespaces.contains_key(&name);
                    if cached {
                        self.cache.remove_namespace(&name);
                    }
                    changed += usize::from(cached);
                }
                Mutation::PutService(svc) => {
                    let key = svc.key();
                    if snapshot.service(&key).is_none_or(|v| *v.service != svc) {
                        self.cache.put_service(svc);
                        changed += 1;
                    }
                    if full {
                        services.insert(key);
                    }
                }
                Mutation::DeleteService { key, .. } => {
                    let cached = snapshot.service(&key).is_some();
                    if cached {
                        self.cache.remove_service(&key);
                    }
                    changed += usize::from(cached);
                }
                Mutation::PutInstance(ins) => {
                    if full {
                        instances.insert(ins.id.clone());
                    }
                    if snapshot.instance(&ins.id).is_none_or(|c| **c != ins) {
                        let id = ins.id.clone();
                        if self.cache.put_instance(ins) {
                            self.forget_unknown_beats(&id);
                            changed += 1;
                        } else {
                            orphans += 1;
                        }
                    }
                }
                Mutation::DeleteInstance { id, .. } => {
                    changed += usize::from(self.cache.remove_instance(&id));
                }
                _ => {}
            }
        }
        if full {
            changed += self.drop_unlisted(&namespaces, &services, &instances);
        }
        if orphans > 0 {
            tracing::warn!(
                orphans,
                "followed instances whose service is missing were not applied"
            );
        }
        Applied {
            revision: batch.revision,
            changed,
        }
    }

    /// After a full reload: removes what the store no longer lists (deleted while this node
    /// was behind the purge of tombstones), children first.
    fn drop_unlisted(
        &self,
        namespaces: &HashSet<String>,
        services: &HashSet<ServiceKey>,
        instances: &HashSet<String>,
    ) -> usize {
        let snapshot = self.cache.snapshot();
        let mut dropped = 0;
        for id in snapshot.instance_owner.keys() {
            if !instances.contains(id) && self.cache.remove_instance(id) {
                dropped += 1;
            }
        }
        for key in snapshot.services.keys() {
            if !services.contains(key) {
                self.cache.remove_service(key);
                dropped += 1;
            }
        }
        for name in snapshot.namespaces.keys() {
            if !namespaces.contains(name) {
                self.cache.remove_namespace(name);
                dropped += 1;
            }
        }
        dropped
    }
}
