//! The consumer side: instances and rules from the local cache, routed and balanced.
//!
//! The first read of a service subscribes it on the client's Discover stream and waits for the
//! first answer (up to `global.api.timeout`, falling back to the persisted copy); every later
//! read is a lock-free snapshot load with no IO.

pub(crate) mod cache;
pub(crate) mod compiled;
pub(crate) mod discover;
pub(crate) mod persist;
pub(crate) mod select;
mod watch;

use std::sync::Arc;

use polaris_proto::v1;
use polaris_traffic::{Instance, ServiceInstances};

pub use cache::{ResourceKind, ServiceKey, Snapshot};
pub use select::{Criteria, LbPolicy};
pub use watch::{ResourceWatch, ServiceWatch};

use crate::client::Inner;
use crate::error::{Error, Result};

/// The consumer API of a [`Client`](crate::Client). Cheap to create and to clone.
#[derive(Clone)]
pub struct Consumer {
    pub(crate) inner: Arc<Inner>,
}

/// One kind of governance rule of a service, as last delivered by the server.
#[derive(Debug, Clone)]
pub struct RuleSet {
    /// The kind of rule.
    pub kind: ResourceKind,
    /// The server's revision (empty when the service has no such rule).
    pub revision: String,
    /// The Discover answer carrying the rules (`routing`, `rate_limit`, `circuit_breaker`,
    /// `fault_detector` or `lanes`).
    pub response: Arc<v1::DiscoverResponse>,
}

impl Consumer {
    /// The instances snapshot; on a first load the routing rules are subscribed alongside.
    async fn instances(&self, service: &ServiceKey) -> Result<Arc<Snapshot>> {
        if let Some(snapshot) = self
            .inner
            .cache
            .get(ResourceKind::Instances, service)
            .and_then(|e| e.current())
        {
            return Ok(snapshot);
        }
        self.inner.selector.prefetch(&self.inner, service);
        self.inner.load(ResourceKind::Instances, service).await
    }

    /// Every instance of the service, unfiltered (unhealthy and isolated ones included).
    pub async fn get_all_instances(&self, service: &ServiceKey) -> Result<Arc<ServiceInstances>> {
        let snapshot = self.inner.load(ResourceKind::Instances, service).await?;
        Ok(snapshot.instances.clone())
    }

    /// The instances a call may go to: the router chain of `consumer.serviceRouter` applied to
    /// the cached list (by default lanes, routing rules, nearby, destination metadata, then
    /// healthy, non-isolated instances whose breaker is not open, with every instance
    /// returned when none is).
    pub async fn get_instances(
        &self,
        service: &ServiceKey,
        criteria: &Criteria,
    ) -> Result<Arc<ServiceInstances>> {
        let snapshot = self.instances(service).await?;
        let all = &snapshot.instances;
        let selector = &self.inner.selector;
        let ctx = selector.ctx(service);
        let routed = selector
            .route(&self.inner, &ctx, service, &all.instances, criteria)
            .await?;
        if Arc::ptr_eq(&routed, &all.instances) {
            return Ok(all.clone());
        }
        Ok(Arc::new(ServiceInstances {
            namespace: all.namespace.clone(),
            service: all.service.clone(),
            revision: all.revision.clone(),
            metadata: all.metadata.clone(),
            instances: routed,
        }))
    }

    /// One instance for a call: the router chain, then the load balancer (the client's default
    /// or `criteria.lb`, with `criteria.hash_key` for the hash balancers).
    pub async fn get_one_instance(
        &self,
        service: &ServiceKey,
        criteria: &Criteria,
    ) -> Result<Arc<Instance>> {
        let snapshot = self.instances(service).await?;
        let selector = &self.inner.selector;
        let ctx = selector.ctx(service);
        let routed = selector
            .route(
                &self.inner,
                &ctx,
                service,
                &snapshot.instances.instances,
                criteria,
            )
            .await?;
        selector
            .pick(&ctx, &routed, criteria)
            .ok_or_else(|| Error::NoInstance {
                namespace: service.namespace.to_string(),
                service: service.name.to_string(),
            })
    }

    /// Follows the service's instance list: the receiver always holds the newest snapshot.
    pub async fn watch(&self, service: &ServiceKey) -> Result<ServiceWatch> {
        let entry = self.inner.entry(ResourceKind::Instances, service);
        self.inner.load(ResourceKind::Instances, service).await?;
        Ok(ServiceWatch::new(entry.subscribe()))
    }

    /// The service's rules of one kind (loaded on first use, then kept current).
    pub async fn get_rules(&self, kind: ResourceKind, service: &ServiceKey) -> Result<RuleSet> {
        let snapshot = self.inner.load(kind, service).await?;
        Ok(RuleSet {
            kind,
            revision: snapshot.revision.clone(),
            response: snapshot.response.clone(),
        })
    }

    /// Follows one kind of rule of the service.
    pub async fn watch_rules(
        &self,
        kind: ResourceKind,
        service: &ServiceKey,
    ) -> Result<ResourceWatch> {
        let entry = self.inner.entry(kind, service);
        self.inner.load(kind, service).await?;
        Ok(ResourceWatch::new(entry.subscribe()))
    }

    /// True once the server pushes changes on the Discover stream (no polling needed).
    pub fn push_active(&self) -> bool {
        self.inner.engine.push_active()
    }
}
