//! Access control for both gRPC ports, on the typed requests tonic decoded: each service is
//! wrapped in [`Guarded`], whose methods name their [`Endpoint`], read the token (the
//! `x-polaris-token` metadata, or the `service_token` of a registered instance, which takes
//! precedence, as officially) and the resources the message names, and let `polaris-auth`
//! decide before the inner service runs. Heartbeats and client reports are never checked; reads
//! are checked on their token only (the Discover streams once, when they open). A refusal is
//! the method's own reply message carrying the Polaris code (gRPC status OK), as the official
//! server answers. With client checks off nothing is read.

mod services;

use std::sync::Arc;

use polaris_auth::{Auth, Endpoint, ResourceRef};
use polaris_proto::v1;
use polaris_types::PolarisError;
use tonic::Request;

pub use services::Guarded;

/// The metadata key of the token.
pub const TOKEN_METADATA_KEY: &str = "x-polaris-token";

/// Every gRPC method with the endpoint it is checked as, in documentation order.
pub const METHODS: &[(&str, Endpoint)] = &[
    (
        "/v1.PolarisGRPC/RegisterInstance",
        Endpoint::RegisterInstance,
    ),
    (
        "/v1.PolarisGRPC/DeregisterInstance",
        Endpoint::DeregisterInstance,
    ),
    ("/v1.PolarisGRPC/Heartbeat", Endpoint::Heartbeat),
    ("/v1.PolarisGRPC/ReportClient", Endpoint::ReportClient),
    ("/v1.PolarisGRPC/Discover", Endpoint::Discover),
    (
        "/v1.PolarisServiceContractGRPC/ReportServiceContract",
        Endpoint::ReportServiceContract,
    ),
    (
        "/v1.PolarisServiceContractGRPC/GetServiceContract",
        Endpoint::GetServiceContract,
    ),
    (
        "/v1.PolarisConfigGRPC/GetConfigFile",
        Endpoint::GetConfigFile,
    ),
    (
        "/v1.PolarisConfigGRPC/CreateConfigFile",
        Endpoint::ClientCreateConfigFile,
    ),
    (
        "/v1.PolarisConfigGRPC/UpdateConfigFile",
        Endpoint::ClientUpdateConfigFile,
    ),
    (
        "/v1.PolarisConfigGRPC/PublishConfigFile",
        Endpoint::ClientPublishConfigFile,
    ),
    (
        "/v1.PolarisConfigGRPC/UpsertAndPublishConfigFile",
        Endpoint::ClientUpsertAndPublishConfigFile,
    ),
    (
        "/v1.PolarisConfigGRPC/WatchConfigFiles",
        Endpoint::WatchConfigFiles,
    ),
    (
        "/v1.PolarisConfigGRPC/GetConfigFileMetadataList",
        Endpoint::GetConfigFileMetadataList,
    ),
    ("/v1.PolarisConfigGRPC/Discover", Endpoint::ConfigDiscover),
];

/// The endpoint a method path is checked as.
pub fn endpoint_of(path: &str) -> Option<Endpoint> {
    METHODS.iter().find(|(p, _)| *p == path).map(|(_, e)| *e)
}

/// A request message that names resources (and may carry its own token).
pub(crate) trait Named {
    fn resources(&self) -> Vec<ResourceRef>;

    fn token(&self) -> Option<&str> {
        None
    }
}

impl Named for v1::Instance {
    fn resources(&self) -> Vec<ResourceRef> {
        service_ref(self.namespace.as_deref(), self.service.as_deref())
    }

    fn token(&self) -> Option<&str> {
        self.service_token.as_deref().filter(|t| !t.is_empty())
    }
}

impl Named for v1::ServiceContract {
    fn resources(&self) -> Vec<ResourceRef> {
        service_ref(Some(&self.namespace), Some(&self.service))
    }
}

impl Named for v1::ConfigFile {
    fn resources(&self) -> Vec<ResourceRef> {
        group_ref(self.namespace.as_deref(), self.group.as_deref())
    }
}

impl Named for v1::ConfigFileRelease {
    fn resources(&self) -> Vec<ResourceRef> {
        group_ref(self.namespace.as_deref(), self.group.as_deref())
    }
}

impl Named for v1::ConfigFilePublishInfo {
    fn resources(&self) -> Vec<ResourceRef> {
        group_ref(self.namespace.as_deref(), self.group.as_deref())
    }
}

/// A message without a namespace names the empty one, which no strategy grants.
fn service_ref(namespace: Option<&str>, service: Option<&str>) -> Vec<ResourceRef> {
    match (namespace.unwrap_or_default(), service.unwrap_or_default()) {
        (ns, svc) if !ns.is_empty() && !svc.is_empty() => vec![ResourceRef::service(ns, svc)],
        (ns, _) => vec![ResourceRef::namespace(ns)],
    }
}

fn group_ref(namespace: Option<&str>, group: Option<&str>) -> Vec<ResourceRef> {
    match (namespace.unwrap_or_default(), group.unwrap_or_default()) {
        (ns, g) if !g.is_empty() => vec![ResourceRef::config_group(ns, g)],
        (ns, _) => vec![ResourceRef::namespace(ns)],
    }
}

/// The checks of one port.
#[derive(Clone)]
pub(crate) struct Guard {
    auth: Arc<Auth>,
}

impl Guard {
    /// A write: the caller (body token first) and write access to what the message names.
    pub(crate) fn write<M: Named>(
        &self,
        endpoint: Endpoint,
        request: &Request<M>,
    ) -> Result<(), PolarisError> {
        let message = request.get_ref();
        let token = message.token().or_else(|| metadata_token(request));
        self.check(endpoint, token, || message.resources())
    }

    /// A read: the caller only.
    pub(crate) fn read<M>(
        &self,
        endpoint: Endpoint,
        request: &Request<M>,
    ) -> Result<(), PolarisError> {
        self.check(endpoint, metadata_token(request), Vec::new)
    }

    /// The caller of `token`, and its access to `resources`, where `endpoint` is checked.
    fn check(
        &self,
        endpoint: Endpoint,
        token: Option<&str>,
        resources: impl FnOnce() -> Vec<ResourceRef>,
    ) -> Result<(), PolarisError> {
        if !self.auth.checks(endpoint) {
            return Ok(());
        }
        let operator = self.auth.caller(endpoint, token)?;
        self.auth.allowed(&operator, endpoint, &resources())
    }
}

fn metadata_token<M>(request: &Request<M>) -> Option<&str> {
    request
        .metadata()
        .get(TOKEN_METADATA_KEY)
        .and_then(|v| v.to_str().ok())
}

/// A reply message carrying a refusal's code.
pub(crate) trait Refused {
    fn refused(err: &PolarisError) -> Self;
}

macro_rules! refused {
    ($($message:ty),*) => {
        $(impl Refused for $message {
            fn refused(err: &PolarisError) -> Self {
                Self {
                    code: Some(err.code.value()),
                    info: Some(err.info()),
                    ..Default::default()
                }
            }
        })*
    };
}

refused!(
    v1::Response,
    v1::DiscoverResponse,
    v1::ConfigClientResponse,
    v1::ConfigClientListResponse
);

impl Refused for v1::ConfigDiscoverResponse {
    fn refused(err: &PolarisError) -> Self {
        Self {
            code: err.code.value(),
            info: err.info(),
            ..Default::default()
        }
    }
}

/// The gRPC methods as Markdown, as `docs/wire/auth.md` carries them.
pub fn markdown() -> String {
    let mut out = String::from("| Method | Endpoint | Checked as | Access |\n|---|---|---|---|\n");
    for (path, e) in METHODS {
        let scope = match e.scope() {
            polaris_auth::Scope::Client if e.access() == polaris_auth::Access::Read => {
                "client (token only)"
            }
            polaris_auth::Scope::Client => "client",
            polaris_auth::Scope::Heartbeat => "heartbeat (never checked)",
            polaris_auth::Scope::Report => "client report (never checked)",
            _ => "console",
        };
        let access = match e.access() {
            polaris_auth::Access::Read => "read",
            polaris_auth::Access::Write => "write",
        };
        out.push_str(&format!(
            "| `{path}` | {} | {scope} | {access} |\n",
            e.name()
        ));
    }
    out
}

#[cfg(test)]
mod tests;
