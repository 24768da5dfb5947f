//! Discover answers. Given a `DiscoverRequest`, [`Discovery::answer`] reads the registry and the
//! governance rules and builds the `DiscoverResponse` the official server would send: instances
//! with revisions and `200001` when unchanged, service lists, and governance rules in the shapes
//! the SDKs read (v2 routing rules become v1 inbounds/outbounds). Both the gRPC stream (with
//! push) and the HTTP `/v1/Discover` route use it, so the two cannot drift apart. Full instance
//! answers are encoded once per revision and shared ([`shared`]). The config center's client
//! answers (GetConfigFile, watches, listings) are built once for both ports in [`config_client`].

pub mod config_client;
pub mod convert;
pub mod rules;
pub mod shared;

pub use shared::{EncodedAnswer, SharedAnswers};

use std::sync::Arc;

use polaris_governance::Governance;
use polaris_naming::Naming;
use polaris_proto::v1;
use polaris_proto::v1::discover_request::DiscoverRequestType;
use polaris_types::{Code, RuleKind, ServiceKey};

use crate::convert::{service, status};

/// The domain services a Discover answer reads.
#[derive(Clone)]
pub struct Discovery {
    pub naming: Arc<Naming>,
    pub governance: Arc<Governance>,
}

impl Discovery {
    /// Answers one request from the current registry and rule snapshots.
    pub fn answer(&self, request: &v1::DiscoverRequest) -> v1::DiscoverResponse {
        answer_with(self, request)
    }
}

fn echo_service(request: &v1::DiscoverRequest) -> Option<v1::Service> {
    request.service.as_ref().map(|s| v1::Service {
        name: s.name.clone(),
        namespace: s.namespace.clone(),
        revision: s.revision.clone(),
        ..Default::default()
    })
}

/// A reply that echoes the request's type and service with a code and no payload.
pub fn reply(request: &v1::DiscoverRequest, code: Code, info: String) -> v1::DiscoverResponse {
    v1::DiscoverResponse {
        code: Some(code.value()),
        info: Some(info),
        r#type: request.r#type,
        service: echo_service(request),
        ..Default::default()
    }
}

/// Answers one request from the current registry snapshot.
pub(crate) fn answer_with(
    backends: &Discovery,
    request: &v1::DiscoverRequest,
) -> v1::DiscoverResponse {
    let naming = &backends.naming;
    let asked = request.service.clone().unwrap_or_default();
    let revision = asked.revision.clone().unwrap_or_default();
    match DiscoverRequestType::try_from(request.r#type) {
        Ok(DiscoverRequestType::Instance) => {
            let name = asked.name.clone().unwrap_or_default();
            let namespace = asked.namespace.clone().filter(|n| !n.is_empty());
            let key = ServiceKey::new(
                namespace.unwrap_or_else(|| polaris_types::DEFAULT_NAMESPACE.into()),
                name,
            );
            let found = match naming.discover_instances(&key, &revision) {
                Ok(found) => found,
                Err(err) => return reply(request, err.code, err.info()),
            };
            if found.unchanged {
                return reply(
                    request,
                    Code::DataNoChange,
                    Code::DataNoChange.info().into(),
                );
            }
            let mut asked_service = service(&found.view);
            asked_service.name = Some(key.name.clone());
            asked_service.namespace = Some(key.namespace.clone());
            let (code, info) = status(Code::ExecuteSuccess, Code::ExecuteSuccess.info());
            v1::DiscoverResponse {
                code,
                info,
                r#type: request.r#type,
                service: Some(asked_service),
                instances: found
                    .view
                    .instances
                    .values()
                    .map(|i| crate::convert::instance(i))
                    .collect(),
                alias_for: Some(service(&found.view)),
                ..Default::default()
            }
        }
        Ok(DiscoverRequestType::Services) => {
            let namespace = asked.namespace.clone().unwrap_or_default();
            let found = naming.discover_services(&namespace, &revision);
            if found.unchanged {
                return reply(
                    request,
                    Code::DataNoChange,
                    Code::DataNoChange.info().into(),
                );
            }
            let (code, info) = status(Code::ExecuteSuccess, Code::ExecuteSuccess.info());
            v1::DiscoverResponse {
                code,
                info,
                r#type: request.r#type,
                service: Some(v1::Service {
                    name: asked.name.clone(),
                    namespace: Some(namespace),
                    revision: Some(found.revision),
                    ..Default::default()
                }),
                services: found
                    .services
                    .iter()
                    .map(|s| convert::service_entry(s))
                    .collect(),
                ..Default::default()
            }
        }
        Ok(kind) => match rule_kind(kind) {
            Some(rule_kind) => answer_rules(backends, request, rule_kind),
            // Types not served yet are echoed with an empty success, so SDKs waiting for them
            // move on (the official server answers them with ROUTING, which strands them).
            None => reply(
                request,
                Code::ExecuteSuccess,
                Code::ExecuteSuccess.info().into(),
            ),
        },
        Err(_) => reply(
            request,
            Code::ExecuteSuccess,
            Code::ExecuteSuccess.info().into(),
        ),
    }
}

/// The rule kind a Discover type asks for.
pub fn rule_kind(kind: DiscoverRequestType) -> Option<RuleKind> {
    Some(match kind {
        DiscoverRequestType::Routing => RuleKind::Routing,
        DiscoverRequestType::RateLimit => RuleKind::RateLimit,
        DiscoverRequestType::CircuitBreaker => RuleKind::CircuitBreaker,
        DiscoverRequestType::FaultDetector => RuleKind::FaultDetector,
        DiscoverRequestType::Lane => RuleKind::Lane,
        _ => return None,
    })
}

/// Answers a rule request: the rules that apply to the service (or to the service an alias
/// points to), `200001` when the client's revision is current.
fn answer_rules(
    backends: &Discovery,
    request: &v1::DiscoverRequest,
    kind: RuleKind,
) -> v1::DiscoverResponse {
    let asked = request.service.clone().unwrap_or_default();
    let name = asked.name.clone().unwrap_or_default();
    let namespace = asked.namespace.clone().unwrap_or_default();
    if name.is_empty() {
        return reply(
            request,
            Code::InvalidServiceName,
            Code::InvalidServiceName.info().into(),
        );
    }
    if namespace.is_empty() {
        return reply(
            request,
            Code::InvalidNamespaceName,
            Code::InvalidNamespaceName.info().into(),
        );
    }
    let asked_key = ServiceKey::new(namespace, name);
    let snapshot = backends.naming.snapshot();
    let real = snapshot
        .service(&asked_key)
        .and_then(|v| v.service.reference.clone())
        .unwrap_or_else(|| asked_key.clone());
    let payload = rules::payload(&backends.governance, kind, &asked_key, &real);
    let client_revision = asked.revision.clone().unwrap_or_default();
    // No applicable rule means an empty success (routing always has a revision); circuit
    // breakers and lanes report "no change" only for a non-empty client revision.
    let needs_revision = matches!(kind, RuleKind::CircuitBreaker | RuleKind::Lane);
    let unchanged = !payload.revision.is_empty()
        && client_revision == payload.revision
        && !(needs_revision && client_revision.is_empty());
    if unchanged {
        return reply(
            request,
            Code::DataNoChange,
            Code::DataNoChange.info().into(),
        );
    }
    let (code, info) = status(Code::ExecuteSuccess, Code::ExecuteSuccess.info());
    let mut response = v1::DiscoverResponse {
        code,
        info,
        r#type: request.r#type,
        service: Some(v1::Service {
            name: Some(asked_key.name.clone()),
            namespace: Some(asked_key.namespace.clone()),
            revision: Some(payload.revision.clone()),
            ..Default::default()
        }),
        alias_for: Some(v1::Service {
            name: Some(real.name.clone()),
            namespace: Some(real.namespace.clone()),
            ..Default::default()
        }),
        ..Default::default()
    };
    (payload.fill)(&mut response);
    response
}
