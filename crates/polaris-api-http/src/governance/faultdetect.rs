//! Fault detectors: `/naming/v1/faultdetectors` (+ `/delete`; there is no `/enable`), item
//! `v1.FaultDetectRule`, replies `data` = Any (governance.md §5).

use axum::Router;
use polaris_discovery::rules::FaultDetectors;
use polaris_proto::v1;
use polaris_types::Code;

use super::by_id::{self, IdKind, plain_id};
use super::{ConsoleKind, ListKind, Listed, contains};
use crate::AppState;
use crate::body::Query;

impl ConsoleKind for FaultDetectors {}

impl IdKind for FaultDetectors {
    plain_id!(v1::FaultDetectRule);

    // The official server refuses an empty fault-detector id with the circuit-breaker code.
    const MISSING_ID: Code = Code::InvalidCircuitBreakerId;
    const NOT_FOUND: Code = Code::NotFoundResource;
    // On update a duplicate name carries `data{id}`.
    const ECHO_REFUSED_UPDATE: Option<Code> = Some(Code::FaultDetectRuleExisted);

    /// There is no `/enable` for fault detectors.
    fn enabled(_rule: &v1::FaultDetectRule) -> bool {
        true
    }
}

impl ListKind for FaultDetectors {
    const LIST_KEYS: &'static [&'static str] = LIST_KEYS;
    const ALL_OUT_OF_RANGE: bool = true;
    const BY_NAMESPACE: bool = true;

    /// The filters of §5.3 (boltdb flavour) that the domain filter does not cover.
    fn keep((_, rule): &Listed<v1::FaultDetectRule>, query: &Query) -> bool {
        let target = rule.target_service.clone().unwrap_or_default();
        let method = target
            .method
            .as_ref()
            .and_then(|m| m.value.clone())
            .unwrap_or_default();
        let (service, namespace) = (query.text("service"), query.text("serviceNamespace"));
        // `service` and `serviceNamespace` apply only together, as an exact destination match.
        let by_service = service.is_empty()
            || namespace.is_empty()
            || (target.service == service && target.namespace == namespace);
        by_service
            && contains(&rule.name, &query.text("name"))
            && contains(&rule.description, &query.text("description"))
            && contains(&target.service, &query.text("dstService"))
            && contains(&target.namespace, &query.text("dstNamespace"))
            && contains(&method, &query.text("dstMethod"))
    }
}

pub fn routes() -> Router<AppState> {
    by_id::routes::<FaultDetectors>("/naming/v1/faultdetectors")
}

const LIST_KEYS: &[&str] = &[
    "brief",
    "service",
    "serviceNamespace",
    "dstService",
    "dstNamespace",
    "dstMethod",
    "description",
];
