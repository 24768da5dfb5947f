"""ADS for an Envoy sidecar node, against the names and shapes the official server builds:
CDS `PassthroughCluster` + `OUTBOUND|<ns>|<svc>` + `INBOUND|<ns>|<svc>`, EDS with weights,
health and `envoy.lb` metadata, LDS `OUTBOUND_15001` + `<svc>.<ns>_INBOUND_15006`, RDS
`polaris-outbound-router` + `polaris-inbound-cluster|<svc>.<ns>`; pushes without a new request,
isolation, NACK and unknown types."""

from envoy.config.cluster.v3 import cluster_pb2
from envoy.config.core.v3 import health_check_pb2
from envoy.config.endpoint.v3 import endpoint_pb2
from envoy.config.listener.v3 import listener_pb2
from envoy.config.route.v3 import route_pb2
from envoy.extensions.filters.network.http_connection_manager.v3 import (
    http_connection_manager_pb2 as hcm_pb2,
)

from conftest import CDS, EDS, LDS, RDS, SUCCESS, sidecar_node, unique


def unpack(response, message_type):
    out = {}
    for any_ in response.resources:
        message = message_type()
        assert any_.Unpack(message), any_.type_url
        out[getattr(message, "name", None) or message.cluster_name] = message
    return out


def endpoints(cla):
    return {(e.endpoint.address.socket_address.address, e.endpoint.address.socket_address.port_value)
            : e for group in cla.endpoints for e in group.lb_endpoints}


def test_sidecar_gets_the_official_resources(server, ads_factory):
    svc = unique("orders")
    server.register(svc, "10.1.0.1", 8080, weight=100, metadata={"version": "v1"},
                    location={"region": "south", "zone": "z1", "campus": "c1"})
    server.register(svc, "10.1.0.2", 8080, weight=50, healthy=False)
    server.register(svc, "10.1.0.3", 8080, weight=0)
    ads = ads_factory(sidecar_node("default", svc))

    clusters = unpack(ads.subscribe(CDS), cluster_pb2.Cluster)
    out, inbound = f"OUTBOUND|default|{svc}", f"INBOUND|default|{svc}"
    assert {"PassthroughCluster", out, inbound} <= set(clusters)
    c = clusters[out]
    assert c.type == cluster_pb2.Cluster.EDS
    assert c.eds_cluster_config.service_name == out
    assert c.eds_cluster_config.eds_config.HasField("ads")
    assert c.connect_timeout.seconds == 5
    assert clusters["PassthroughCluster"].type == cluster_pb2.Cluster.ORIGINAL_DST

    cla = unpack(ads.subscribe(EDS, [out, inbound]), endpoint_pb2.ClusterLoadAssignment)
    found = endpoints(cla[out])
    assert set(found) == {("10.1.0.1", 8080), ("10.1.0.2", 8080)}  # weight 0 left out
    first = found[("10.1.0.1", 8080)]
    assert first.load_balancing_weight.value == 100
    assert first.health_status == health_check_pb2.HEALTHY
    assert found[("10.1.0.2", 8080)].health_status == health_check_pb2.UNHEALTHY
    assert first.metadata.filter_metadata["envoy.lb"].fields["version"].string_value == "v1"
    localities = {(g.locality.region, g.locality.zone, g.locality.sub_zone)
                  for g in cla[out].endpoints}
    assert ("south", "z1", "c1") in localities
    assert all(g.load_balancing_weight.value > 0 for g in cla[out].endpoints)
    assert endpoints(cla[inbound]) and set(endpoints(cla[inbound])) == {("127.0.0.1", 8080)}

    listeners = unpack(ads.subscribe(LDS), listener_pb2.Listener)
    assert set(listeners) == {"OUTBOUND_15001", f"{svc}.default_INBOUND_15006"}
    outbound_listener = listeners["OUTBOUND_15001"]
    assert outbound_listener.address.socket_address.port_value == 15001
    assert outbound_listener.default_filter_chain.name == "PassthroughFilterChain"
    manager = hcm_pb2.HttpConnectionManager()
    outbound_listener.filter_chains[0].filters[0].typed_config.Unpack(manager)
    assert manager.rds.route_config_name == "polaris-outbound-router"
    inbound_listener = listeners[f"{svc}.default_INBOUND_15006"]
    ports = [fc.filter_chain_match.destination_port.value for fc in inbound_listener.filter_chains]
    assert 8080 in ports

    inbound_route = f"polaris-inbound-cluster|{svc}.default"
    routes = unpack(ads.subscribe(RDS, ["polaris-outbound-router", inbound_route]),
                    route_pb2.RouteConfiguration)
    hosts = {h.name: h for h in routes["polaris-outbound-router"].virtual_hosts}
    assert "allow_any" in hosts
    domains = set(hosts[out].domains)
    assert {svc, f"{svc}.default", f"{svc}.default.svc.cluster.local", f"{svc}.default:8080"} <= domains
    assert hosts[out].routes[-1].route.cluster == out
    assert routes[inbound_route].virtual_hosts[0].routes[0].route.cluster == inbound


def test_registration_is_pushed_without_a_new_request(server, ads_factory):
    svc = unique("push")
    server.register(svc, "10.2.0.1", 9000)
    ads = ads_factory(sidecar_node("default"))
    name = f"OUTBOUND|default|{svc}"
    ads.subscribe(CDS)
    first = ads.subscribe(EDS, [name])
    server.register(svc, "10.2.0.2", 9000)
    pushed = ads.recv(EDS, timeout=2.0)
    assert pushed.version_info != first.version_info
    cla = unpack(pushed, endpoint_pb2.ClusterLoadAssignment)[name]
    assert set(endpoints(cla)) == {("10.2.0.1", 9000), ("10.2.0.2", 9000)}
    ads.ack(pushed, [name])
    # Only the endpoints changed: clusters are not sent again.
    ads.recv_none(CDS, timeout=0.5)


def test_isolation_and_deregistration_remove_endpoints(server, ads_factory):
    svc = unique("iso")
    server.register(svc, "10.3.0.1", 7000)
    server.register(svc, "10.3.0.2", 7000)
    ads = ads_factory(sidecar_node("default"))
    name = f"OUTBOUND|default|{svc}"
    ads.subscribe(EDS, [name])
    server.isolate(svc, "10.3.0.1", 7000)
    pushed = ads.recv(EDS, timeout=2.0)
    assert set(endpoints(unpack(pushed, endpoint_pb2.ClusterLoadAssignment)[name])) == \
        {("10.3.0.2", 7000)}
    ads.ack(pushed, [name])
    server.deregister(svc, "10.3.0.2", 7000)
    pushed = ads.recv(EDS, timeout=2.0)
    assert endpoints(unpack(pushed, endpoint_pb2.ClusterLoadAssignment)[name]) == {}


def test_nack_keeps_the_stream_and_the_next_change_arrives(server, ads_factory):
    svc = unique("nack")
    server.register(svc, "10.4.0.1", 6000)
    ads = ads_factory(sidecar_node("default"))
    name = f"OUTBOUND|default|{svc}"
    ads.send(EDS, [name])
    rejected = ads.recv(EDS)
    ads.send(EDS, [name], version="", nonce=rejected.nonce, error="test rejects this")
    ads.recv_none(EDS, timeout=0.5)  # not re-sent: nothing changed
    server.register(svc, "10.4.0.2", 6000)
    pushed = ads.recv(EDS, timeout=2.0)
    assert pushed.version_info != rejected.version_info
    assert len(endpoints(unpack(pushed, endpoint_pb2.ClusterLoadAssignment)[name])) == 2
    assert ads.error is None


def test_unknown_type_gets_an_error_and_the_stream_goes_on(server, ads_factory):
    ads = ads_factory(sidecar_node("default"))
    bogus = "type.googleapis.com/polaris.NoSuchThing"
    ads.send(bogus)
    reply = ads.recv(bogus)
    assert reply.resource_errors and "unsupported type URL" in \
        reply.resource_errors[0].error_detail.message
    ads.send("")  # garbage: no type at all
    assert ads.recv("").resource_errors
    clusters = unpack(ads.subscribe(CDS), cluster_pb2.Cluster)
    assert "PassthroughCluster" in clusters
    assert ads.error is None


def test_other_streams_are_not_disturbed_and_rules_reach_clusters(server, ads_factory):
    svc = unique("cb")
    server.register(svc, "10.5.0.1", 5000)
    calm = ads_factory(sidecar_node("default"))
    calm.subscribe(CDS)
    noisy = ads_factory(sidecar_node("default"))
    noisy.send("type.googleapis.com/nope")
    noisy.recv("type.googleapis.com/nope")
    rule = {
        "name": unique("cb-rule"), "namespace": "default", "enable": True, "level": "INSTANCE",
        "rule_matcher": {"source": {"service": "*", "namespace": "*"},
                         "destination": {"service": svc, "namespace": "default"}},
        "error_conditions": [{"input_type": "RET_CODE",
                              "condition": {"type": "RANGE", "value": "500~599"}}],
        "trigger_condition": [{"trigger_type": "CONSECUTIVE_ERROR", "error_count": 7,
                               "interval": 30, "error_percent": 40, "minimum_request": 12}],
        "recoverCondition": {"sleep_window": 60},
    }
    status, body = server.http("POST", "/naming/v1/circuitbreaker/rules", [rule])
    assert status == 200 and body["code"] == SUCCESS, body

    def outlier():
        response = calm.recv(CDS, timeout=2.0)
        calm.ack(response)
        cluster = unpack(response, cluster_pb2.Cluster).get(f"OUTBOUND|default|{svc}")
        return cluster is not None and cluster.HasField("outlier_detection") and cluster

    cluster = None
    for _ in range(5):
        cluster = outlier()
        if cluster:
            break
    assert cluster, "no CDS push with outlier detection"
    od = cluster.outlier_detection
    assert od.consecutive_5xx.value == 7 and od.failure_percentage_threshold.value == 40
    assert od.interval.seconds == 30 and od.base_ejection_time.seconds == 60
    assert calm.error is None and noisy.error is None


def test_named_request_outside_the_node_namespace_is_answered(server, ads_factory):
    svc = unique("far")
    server.register(svc, "10.6.0.1", 4000, namespace="Polaris")
    ads = ads_factory(sidecar_node("default"))
    name = f"OUTBOUND|Polaris|{svc}"
    cla = unpack(ads.subscribe(EDS, [name]), endpoint_pb2.ClusterLoadAssignment)
    assert set(endpoints(cla[name])) == {("10.6.0.1", 4000)}
