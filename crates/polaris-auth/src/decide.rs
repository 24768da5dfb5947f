//! The decision for one request to an [`Endpoint`]: whether it is checked under the current
//! switches, who calls it, whether that caller may act on the resources the request names, and
//! what the caller's list answers may show. The adapters read the token and the named
//! resources from their typed request; everything else is decided here.

use polaris_types::{Code, PolarisError, Resource, ResourceKind, Result, Visible};

use crate::check::may;
use crate::endpoint::{Endpoint, Scope, Target};
use crate::{Access, Auth, Operator, Origin, ResourceRef};

impl Auth {
    /// Whether requests to `endpoint` are checked at all: never for open endpoints, heartbeats
    /// and client reports; for console and client endpoints only while their switch is on.
    /// When this is false an adapter reads nothing from the request.
    pub fn checks(&self, endpoint: Endpoint) -> bool {
        match endpoint.scope() {
            Scope::Open | Scope::Heartbeat | Scope::Report => false,
            Scope::Console => self.options.console_open,
            Scope::Client => self.options.client_open,
            Scope::AuthModule => true,
        }
    }

    /// The caller of `endpoint` with `token` (401001, 401003, 401004 as [`Auth::authenticate`]).
    pub fn caller(&self, endpoint: Endpoint, token: Option<&str>) -> Result<Operator> {
        let origin = match endpoint.scope() {
            Scope::Open | Scope::Heartbeat | Scope::Report => return Ok(Operator::Unchecked),
            Scope::Console => Origin::Console,
            Scope::Client => Origin::Client,
            Scope::AuthModule => Origin::AuthModule,
        };
        self.authenticate(origin, token)
    }

    /// Whether `operator` may call `endpoint` on `resources` (the resources the request names;
    /// none for a read checked on its token only). A write that names nothing a sub account
    /// could be granted is refused; a create is not checked against the namespace it creates.
    pub fn allowed(
        &self,
        operator: &Operator,
        endpoint: Endpoint,
        resources: &[ResourceRef],
    ) -> Result<()> {
        if !self.restricted(operator, endpoint) {
            return Ok(());
        }
        let access = endpoint.access();
        if endpoint.creates() {
            let named: Vec<ResourceRef> = resources
                .iter()
                .filter(|r| r.kind != ResourceKind::Namespace)
                .cloned()
                .collect();
            return self.authorize(operator, access, &named);
        }
        if access == Access::Write && resources.is_empty() {
            return Err(PolarisError::new(
                Code::NotAllowedAccess,
                "the request names no resource this account may write",
            ));
        }
        self.authorize(operator, access, resources)
    }

    /// Whether `operator` is limited to what its strategies name on `endpoint`.
    pub fn restricted(&self, operator: &Operator, endpoint: Endpoint) -> bool {
        !operator.is_owner() && endpoint.target() != Target::Nothing
    }

    /// After a successful create by a restricted caller: adds what it created to the caller's
    /// default strategy.
    pub async fn created(
        &self,
        operator: &Operator,
        endpoint: Endpoint,
        resources: &[ResourceRef],
    ) {
        if !endpoint.creates() || !self.restricted(operator, endpoint) {
            return;
        }
        for resource in resources {
            if let Err(err) = self.grant_creator(operator, resource.clone()).await {
                tracing::warn!(target: "polaris_auth", %err, "could not grant the creator");
            }
        }
    }

    /// What `operator`'s list answers on `endpoint` may show: everything for owners and for
    /// endpoints that name no resources, else what its strategies let it read, judged on the
    /// state current when the list is built.
    pub fn visible(&self, operator: &Operator, endpoint: Endpoint) -> Visible {
        if !self.restricted(operator, endpoint) {
            return Visible::everything();
        }
        let state = self.state();
        let operator = operator.clone();
        Visible::only(move |resource| {
            let resource = match resource {
                Resource::Namespace(ns) => ResourceRef::namespace(ns),
                Resource::Service { namespace, name } => ResourceRef::service(namespace, name),
                Resource::ConfigGroup { namespace, name } => {
                    ResourceRef::config_group(namespace, name)
                }
            };
            may(&state, &operator, Access::Read, &resource)
        })
    }
}
