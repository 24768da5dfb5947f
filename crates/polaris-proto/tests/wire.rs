//! Wire checks built from hand-written bytes, so that field numbers and wire types are tested
//! independently of our `.proto` files. The numbers come from the official specification.

mod common;
use common::*;

use polaris_proto::v1::discover_request::DiscoverRequestType;
use polaris_proto::v1::health_check::HealthCheckType;
use polaris_proto::v1::{
    DiscoverDirection, DiscoverRequest, DiscoverResponse, Instance, Namespace, Response, Service,
};
use prost::Message;

#[test]
fn instance_fields() {
    let wire = cat(&[
        string_value(1, "inst-1"),
        string_value(2, "svc"),
        string_value(3, "ns"),
        string_value(4, "10.0.0.1"),
        int_value(5, 8080),
        string_value(6, "grpc"),
        int_value(9, 100),
        // health_check = 10 { type = 1 HEARTBEAT, heartbeat = 2 { ttl = 1 (UInt32Value) } }
        bytes(10, &cat(&[int(1, 1), bytes(2, &int_value(1, 5))])),
        int_value(12, 1),
        // location = 13 { region = 1, zone = 2, campus = 3 }
        bytes(
            13,
            &cat(&[
                string_value(1, "r"),
                string_value(2, "z"),
                string_value(3, "c"),
            ]),
        ),
        // metadata = 14, a map entry { key = 1, value = 2 }
        bytes(14, &cat(&[bytes(1, b"k"), bytes(2, b"v")])),
        string_value(19, "tok"),
        int_value(20, 1),
        string_value(21, "vpc-a"),
    ]);
    let i = Instance::decode(wire.as_slice()).expect("decode instance");
    assert_eq!(i.id.as_deref(), Some("inst-1"));
    assert_eq!(i.service.as_deref(), Some("svc"));
    assert_eq!(i.namespace.as_deref(), Some("ns"));
    assert_eq!(i.host.as_deref(), Some("10.0.0.1"));
    assert_eq!(i.port, Some(8080));
    assert_eq!(i.protocol.as_deref(), Some("grpc"));
    assert_eq!(i.weight, Some(100));
    let hc = i.health_check.expect("health_check");
    assert_eq!(hc.r#type(), HealthCheckType::Heartbeat);
    assert_eq!(hc.heartbeat.and_then(|h| h.ttl), Some(5));
    assert_eq!(i.isolate, Some(true));
    let loc = i.location.expect("location");
    assert_eq!(
        (
            loc.region.as_deref(),
            loc.zone.as_deref(),
            loc.campus.as_deref()
        ),
        (Some("r"), Some("z"), Some("c"))
    );
    assert_eq!(i.metadata.get("k").map(String::as_str), Some("v"));
    assert_eq!(i.service_token.as_deref(), Some("tok"));
    assert_eq!(i.enable_health_check, Some(true));
    assert_eq!(i.vpc_id.as_deref(), Some("vpc-a"));
    assert_eq!(i.healthy, None, "absent wrapper stays None");
}

#[test]
fn instance_encodes_to_expected_bytes() {
    let i = Instance {
        host: Some("127.0.0.1".into()),
        port: Some(8091),
        ..Instance::default()
    };
    let expected = cat(&[string_value(4, "127.0.0.1"), int_value(5, 8091)]);
    assert_eq!(i.encode_to_vec(), expected);
}

#[test]
fn service_fields() {
    let wire = cat(&[
        string_value(1, "echo"),
        string_value(2, "default"),
        string_value(15, "rev-42"),
        string_value(12, "svc-token"),
        string_value(25, "other-ns"),
        int_value(27, 3),
        int(28, 2),
        int_value(100, 1),
        int(101, 1),
    ]);
    let s = Service::decode(wire.as_slice()).expect("decode service");
    assert_eq!(s.name.as_deref(), Some("echo"));
    assert_eq!(s.namespace.as_deref(), Some("default"));
    assert_eq!(s.revision.as_deref(), Some("rev-42"));
    assert_eq!(s.token.as_deref(), Some("svc-token"));
    assert_eq!(s.export_to, ["other-ns"]);
    assert_eq!(s.isolate_instance_count, Some(3));
    assert_eq!(s.service_status, 2, "OFFLINE");
    assert_eq!(s.deleteable, Some(true));
    assert_eq!(s.service_type, 1, "SERVICE_TYPE_MCP_SERVER");
}

#[test]
fn discover_request_fields() {
    let wire = cat(&[
        int(1, 100),
        bytes(
            2,
            &cat(&[
                string_value(1, "echo"),
                string_value(2, "default"),
                string_value(15, "r1"),
            ]),
        ),
        bytes(30, &int(1, 1)),
        int(31, 1),
    ]);
    let r = DiscoverRequest::decode(wire.as_slice()).expect("decode request");
    assert_eq!(r.r#type(), DiscoverRequestType::Lane);
    assert_eq!(r.direction(), DiscoverDirection::Caller);
    let s = r.service.expect("service");
    assert_eq!(s.revision.as_deref(), Some("r1"));
    assert!(r.filter.expect("Filter").only_healthy_instance);
}

#[test]
fn discover_response_fields() {
    let inst = |host: &str| bytes(5, &cat(&[string_value(4, host), int_value(5, 80)]));
    let wire = cat(&[
        int_value(1, 200_000),
        string_value(2, "execute success"),
        int(3, 1),
        bytes(
            4,
            &cat(&[string_value(1, "echo"), string_value(15, "rev-9")]),
        ),
        inst("10.0.0.1"),
        inst("10.0.0.2"),
        bytes(9, &string_value(1, "listed")),
        bytes(10, &string_value(1, "ns-a")),
        bytes(21, &string_value(1, "real-echo")),
        int(29, 1),
    ]);
    let r = DiscoverResponse::decode(wire.as_slice()).expect("decode response");
    assert_eq!(r.code, Some(200_000));
    assert_eq!(r.info.as_deref(), Some("execute success"));
    assert_eq!(r.r#type(), DiscoverRequestType::Instance);
    assert_eq!(r.direction(), DiscoverDirection::Caller);
    assert_eq!(r.service.and_then(|s| s.revision).as_deref(), Some("rev-9"));
    let hosts: Vec<_> = r.instances.iter().map(|i| i.host.as_deref()).collect();
    assert_eq!(hosts, [Some("10.0.0.1"), Some("10.0.0.2")]);
    assert_eq!(r.services[0].name.as_deref(), Some("listed"));
    assert_eq!(r.namespaces[0].name.as_deref(), Some("ns-a"));
    assert_eq!(
        r.alias_for.and_then(|s| s.name).as_deref(),
        Some("real-echo")
    );
}

#[test]
fn response_fields() {
    let wire = cat(&[
        int_value(1, 400_202),
        string_value(2, "not found"),
        bytes(6, &string_value(1, "inst-1")),
        bytes(
            30,
            &cat(&[bytes(2, b"grpc"), bytes(4, b"echo"), bytes(7, b"r")]),
        ),
    ]);
    let r = Response::decode(wire.as_slice()).expect("decode response");
    assert_eq!(r.code, Some(400_202));
    assert_eq!(r.info.as_deref(), Some("not found"));
    assert_eq!(r.instance.and_then(|i| i.id).as_deref(), Some("inst-1"));
    let c = r.service_contract.expect("serviceContract");
    assert_eq!((c.name.as_str(), c.service.as_str()), ("grpc", "echo"));
    assert_eq!(c.revision, "r");
}

#[test]
fn enum_numbers() {
    use DiscoverRequestType as T;
    let pairs = [
        (T::Instance, 1),
        (T::Routing, 3),
        (T::RateLimit, 4),
        (T::CircuitBreaker, 5),
        (T::Services, 6),
        (T::Namespaces, 12),
        (T::FaultDetector, 13),
        (T::Lane, 100),
        (T::CustomRouteRule, 101),
        (T::NearbyRouteRule, 102),
        (T::Lossless, 103),
        (T::BlockAllowRule, 104),
        (T::TrafficMirroring, 105),
        (T::FaultInjection, 106),
    ];
    for (t, n) in pairs {
        assert_eq!(t as i32, n, "{t:?}");
        assert_eq!(T::try_from(n), Ok(t));
    }
}

/// Field numbers whose meaning changed across specification versions are not declared, so
/// both SDK generations decode: the old `BoolValue deleteable` (embedded message) and the new
/// `bool sync_to_global_registry` (varint) are skipped alike.
#[test]
fn drifted_fields_are_skipped() {
    for field26 in [int(26, 1), int_value(26, 1)] {
        let wire = cat(&[string_value(1, "echo"), field26, int_value(100, 1)]);
        let s = Service::decode(wire.as_slice()).expect("decode service with field 26");
        assert_eq!(s.name.as_deref(), Some("echo"));
        assert_eq!(s.deleteable, Some(true));
        // Nothing at 26 is ever re-emitted.
        assert_eq!(
            s.encode_to_vec(),
            cat(&[string_value(1, "echo"), int_value(100, 1)])
        );
    }
    for field18 in [int(18, 1), int_value(18, 0)] {
        let wire = cat(&[string_value(1, "ns"), field18]);
        let n = Namespace::decode(wire.as_slice()).expect("decode namespace with field 18");
        assert_eq!(n.name.as_deref(), Some("ns"));
    }
    // DiscoverResponse 25: repeated (<= 1.7) or singular (1.8) LosslessRule, both messages.
    let rule = bytes(25, &bytes(1, b"rule-id"));
    let wire = cat(&[int(3, 103), rule.clone(), rule]);
    let r = DiscoverResponse::decode(wire.as_slice()).expect("decode response with field 25");
    assert_eq!(r.r#type(), DiscoverRequestType::Lossless);
}
