//! [`PolarisLoadBalance`]: Volo's `LoadBalance` running the SDK's router chain and load
//! balancer per call, on the request's labels ([`RouteLabels`]) when the outer
//! [`RouteLabelsLayer`](crate::RouteLabelsLayer) put them in the callee endpoint.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use polaris_sdk::{Criteria, Instance, LbPolicy, ServiceKey};
use volo::context::Endpoint;
use volo::discovery::Change;
use volo::loadbalance::LoadBalance;
use volo::loadbalance::error::LoadBalanceError;
use volo::net::Address;

use crate::discover::{PolarisDiscover, lb_error, socket_addr};
use crate::route::{RouteLabelsLayer, current_labels};

/// One call's routing inputs, set by [`RouteLabelsLayer`] for the call's task (or put in
/// the callee endpoint's tags by hand); the balancer leaves the instance it picked here for
/// the inner [`CircuitBreakerLayer`](crate::CircuitBreakerLayer).
pub struct RouteLabels {
    /// The criteria of the call: caller, method (`$path`), headers, hash key, balancer.
    pub criteria: Criteria,
    picked: OnceLock<Arc<Instance>>,
}

impl RouteLabels {
    /// Labels for one call.
    pub fn new(criteria: Criteria) -> RouteLabels {
        RouteLabels {
            criteria,
            picked: OnceLock::new(),
        }
    }

    /// The instance the balancer picked for the call, once it has.
    pub fn picked(&self) -> Option<&Arc<Instance>> {
        self.picked.get()
    }
}

/// What every call of a client shares: the caller, the balancer, destination metadata.
#[derive(Clone, Default)]
pub(crate) struct BalanceSettings {
    pub(crate) caller: Option<ServiceKey>,
    pub(crate) lb: Option<LbPolicy>,
    pub(crate) metadata: BTreeMap<String, String>,
    pub(crate) route_headers: bool,
}

impl BalanceSettings {
    /// The criteria of a call with no request labels.
    pub(crate) fn base(&self) -> Criteria {
        let mut criteria = Criteria {
            lb: self.lb,
            metadata: self.metadata.clone(),
            ..Criteria::default()
        };
        criteria.caller = self.caller.clone();
        criteria
    }
}

/// Load balancing for Volo clients over [`PolarisDiscover`]: per call, the SDK's router
/// chain (lanes, routing rules on the caller and the request's labels, nearby, destination
/// metadata, health and open breakers) and balancer (weighted random by default, or the
/// client's `consumer.loadbalancer.type`, or per call through [`CallLbPolicy`](crate::CallLbPolicy)
/// and [`HashKey`](crate::HashKey)) on the SDK's cache, kept current by server push.
/// An instance that refused a connection in the last 2 s is avoided while another is left.
///
/// Volo's gRPC client makes one attempt, so the picker yields one address.
#[derive(Clone)]
pub struct PolarisLoadBalance {
    pub(crate) settings: Arc<BalanceSettings>,
    base: Arc<Criteria>,
}

impl Default for PolarisLoadBalance {
    fn default() -> Self {
        PolarisLoadBalance::new()
    }
}

impl PolarisLoadBalance {
    /// A balancer with the client's default load balancer and no caller.
    pub fn new() -> PolarisLoadBalance {
        let settings = BalanceSettings {
            route_headers: true,
            ..BalanceSettings::default()
        };
        PolarisLoadBalance {
            base: Arc::new(settings.base()),
            settings: Arc::new(settings),
        }
    }

    fn with(mut self, change: impl FnOnce(&mut BalanceSettings)) -> Self {
        change(Arc::make_mut(&mut self.settings));
        self.base = Arc::new(self.settings.base());
        self
    }

    /// The calling service: its outbound routing rules and lanes apply.
    pub fn caller(self, namespace: &str, service: &str) -> Self {
        self.with(|s| s.caller = Some(ServiceKey::new(namespace, service)))
    }

    /// The load balancer (default: the client's `consumer.loadbalancer.type`).
    pub fn load_balancer(self, policy: LbPolicy) -> Self {
        self.with(|s| s.lb = Some(policy))
    }

    /// Only instances whose metadata holds this pair (`dstMetaRouter`).
    pub fn destination_metadata(self, key: impl Into<String>, value: impl Into<String>) -> Self {
        let (key, value) = (key.into(), value.into());
        self.with(|s| {
            s.metadata.insert(key, value);
        })
    }

    /// Whether request metadata reaches routing rules as `$header.<key>` (default on).
    pub fn route_by_headers(self, enable: bool) -> Self {
        self.with(|s| s.route_headers = enable)
    }

    /// The outer layer giving this balancer each request's labels (method, metadata, hash
    /// key): `.layer_outer(lb.route_labels_layer())`. Without it every call is routed on the
    /// caller and destination metadata alone.
    pub fn route_labels_layer(&self) -> RouteLabelsLayer {
        RouteLabelsLayer::new(self.settings.clone())
    }

    async fn pick(
        &self,
        discover: &PolarisDiscover,
        key: &ServiceKey,
        criteria: &Criteria,
    ) -> Result<Arc<Instance>, LoadBalanceError> {
        let shared = &discover.shared;
        let one = shared
            .consumer
            .get_one_instance(key, criteria)
            .await
            .map_err(lb_error)?;
        let down = |i: &Instance| socket_addr(i).is_some_and(|a| shared.is_down(&a));
        if !down(&one) {
            return Ok(one);
        }
        let routed = shared
            .consumer
            .get_instances(key, criteria)
            .await
            .map_err(lb_error)?;
        Ok(routed
            .instances
            .iter()
            .find(|i| !down(i))
            .cloned()
            .unwrap_or(one))
    }
}

impl LoadBalance<PolarisDiscover> for PolarisLoadBalance {
    type InstanceIter = std::option::IntoIter<Address>;

    async fn get_picker<'future>(
        &'future self,
        endpoint: &'future Endpoint,
        discover: &'future PolarisDiscover,
    ) -> Result<Self::InstanceIter, LoadBalanceError> {
        let key = discover.service_key(endpoint);
        // The route-labels layer's criteria (a copy without allocation unless the call has
        // a hash key or the balancer destination metadata), else an endpoint tag's.
        let from_task = current_labels(|l| l.criteria.clone());
        let labels = endpoint.get::<RouteLabels>();
        let criteria = match &from_task {
            Some(criteria) => criteria,
            None => labels.map_or(&*self.base, |l| &l.criteria),
        };
        let instance = self.pick(discover, &key, criteria).await?;
        let Some(address) = socket_addr(&instance) else {
            let why = format!(
                "instance {}:{} of {key} has no IP address",
                instance.host, instance.port
            );
            return Err(LoadBalanceError::Discover(why.into()));
        };
        if from_task.is_some() {
            current_labels(|l| l.picked.set(instance));
        } else if let Some(labels) = labels {
            let _ = labels.picked.set(instance);
        }
        Ok(Some(Address::Ip(address)).into_iter())
    }

    /// Nothing to do: every pick reads the SDK's cache, which push keeps current.
    fn rebalance(&self, _changes: Change<ServiceKey>) {}
}
