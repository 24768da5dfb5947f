"""Delta ADS, the per-type EDS service, and v2 routing rules as sidecar routes."""

import queue
import threading

import grpc
from envoy.config.endpoint.v3 import endpoint_pb2
from envoy.config.route.v3 import route_pb2
from envoy.service.discovery.v3 import ads_pb2_grpc, discovery_pb2
from envoy.service.endpoint.v3 import eds_pb2_grpc

from conftest import EDS, RDS, SUCCESS, sidecar_node, unique
from test_ads import endpoints, unpack


def test_delta_ads_sends_only_what_changed(server):
    svc = unique("delta")
    server.register(svc, "10.7.0.1", 3000)
    name = f"OUTBOUND|default|{svc}"
    channel = grpc.insecure_channel(server.xds_addr)
    requests, responses = queue.Queue(), queue.Queue()

    def generate():
        while (item := requests.get()) is not None:
            yield item

    call = ads_pb2_grpc.AggregatedDiscoveryServiceStub(channel).DeltaAggregatedResources(generate())

    def read():
        try:
            for response in call:
                responses.put(response)
        except grpc.RpcError:
            pass  # the channel closes when the test ends

    threading.Thread(target=read, daemon=True).start()
    node = sidecar_node("default")
    try:
        requests.put(discovery_pb2.DeltaDiscoveryRequest(
            node=node, type_url=EDS, resource_names_subscribe=[name]))
        first = responses.get(timeout=5)
        assert [r.name for r in first.resources] == [name] and first.resources[0].version
        requests.put(discovery_pb2.DeltaDiscoveryRequest(
            node=node, type_url=EDS, response_nonce=first.nonce))
        server.register(svc, "10.7.0.2", 3000)
        pushed = responses.get(timeout=2)
        assert [r.name for r in pushed.resources] == [name]
        assert pushed.resources[0].version != first.resources[0].version
        cla = endpoint_pb2.ClusterLoadAssignment()
        pushed.resources[0].resource.Unpack(cla)
        assert len(endpoints(cla)) == 2
        requests.put(discovery_pb2.DeltaDiscoveryRequest(
            node=node, type_url=EDS, response_nonce=pushed.nonce))
        # The service goes away: its assignment is reported removed.
        server.deregister(svc, "10.7.0.1", 3000)
        server.deregister(svc, "10.7.0.2", 3000)
        status, body = server.http("POST", "/naming/v1/services/delete",
                                   [{"name": svc, "namespace": "default"}])
        assert status == 200, body
        removed = None
        while removed is None:
            reply = responses.get(timeout=5)
            requests.put(discovery_pb2.DeltaDiscoveryRequest(
                node=node, type_url=EDS, response_nonce=reply.nonce))
            if reply.removed_resources:
                removed = reply
        assert list(removed.removed_resources) == [name]
    finally:
        requests.put(None)
        channel.close()


def test_per_type_eds_service_serves_endpoints(server):
    svc = unique("eds")
    server.register(svc, "10.8.0.1", 2000)
    name = f"OUTBOUND|default|{svc}"
    channel = grpc.insecure_channel(server.xds_addr)
    try:
        stub = eds_pb2_grpc.EndpointDiscoveryServiceStub(channel)
        request = discovery_pb2.DiscoveryRequest(
            node=sidecar_node("default"), type_url=EDS, resource_names=[name])
        stream = stub.StreamEndpoints(iter([request]))
        reply = next(stream)
        assert set(endpoints(unpack(reply, endpoint_pb2.ClusterLoadAssignment)[name])) == \
            {("10.8.0.1", 2000)}
        stream.cancel()
        # A type that is not this service's gets an error in the reply, not a broken stream.
        wrong = discovery_pb2.DiscoveryRequest(node=sidecar_node("default"), type_url=RDS)
        reply = next(stub.StreamEndpoints(iter([wrong])))
        assert reply.resource_errors
    finally:
        channel.close()


def test_routing_rules_become_routes_with_weighted_clusters(server, ads_factory):
    callee, caller = unique("callee"), unique("caller")
    server.register(callee, "10.9.0.1", 1000, metadata={"env": "gray"})
    ads = ads_factory(sidecar_node("default"))
    ads.subscribe(RDS, ["polaris-outbound-router"])
    rule = {
        "name": unique("route"), "namespace": "default", "enable": True, "priority": 1,
        "routing_policy": "RulePolicy",
        "routing_config": {
            "@type": "type.googleapis.com/v1.RuleRoutingConfig",
            "rules": [{
                "name": "sub",
                "sources": [{"service": caller, "namespace": "default",
                             "arguments": [{"type": "HEADER", "key": "x-user",
                                            "value": {"type": "EXACT", "value": "vip"}}]}],
                "destinations": [{"service": callee, "namespace": "default", "name": "gray",
                                  "weight": 100, "priority": 0,
                                  "labels": {"env": {"type": "EXACT", "value": "gray"}}}],
            }],
        },
    }
    status, body = server.http("POST", "/naming/v2/routings", [rule])
    assert status == 200 and body["code"] == SUCCESS, body
    vhost = None
    for _ in range(5):
        response = ads.recv(RDS, timeout=2.0)
        ads.ack(response, ["polaris-outbound-router"])
        config = unpack(response, route_pb2.RouteConfiguration)["polaris-outbound-router"]
        hosts = {h.name: h for h in config.virtual_hosts}
        vhost = hosts.get(f"OUTBOUND|default|{callee}")
        if vhost is not None and len(vhost.routes) > 1:
            break
    assert vhost is not None and len(vhost.routes) == 2, vhost
    route = vhost.routes[0]
    assert [(h.name, h.string_match.exact) for h in route.match.headers] == [("x-user", "vip")]
    weighted = route.route.weighted_clusters.clusters
    assert [c.name for c in weighted] == [f"OUTBOUND|default|{callee}"]
    assert weighted[0].metadata_match.filter_metadata["envoy.lb"].fields["env"].string_value == \
        "gray"
    assert vhost.routes[1].route.cluster == f"OUTBOUND|default|{callee}"


def test_gateway_node_gets_its_listener_and_routes(server, ads_factory):
    from envoy.config.core.v3 import base_pb2
    from envoy.config.listener.v3 import listener_pb2
    from envoy.extensions.filters.network.http_connection_manager.v3 import (
        http_connection_manager_pb2 as hcm_pb2,
    )
    from google.protobuf import struct_pb2

    from conftest import LDS

    gw = unique("edge")
    node = base_pb2.Node(id="gateway~default/gw-1~10.0.0.8")
    meta = struct_pb2.Struct()
    meta.update({"gateway.polarismesh.cn/serviceNamespace": "default",
                 "gateway.polarismesh.cn/serviceName": gw})
    node.metadata.CopyFrom(meta)
    ads = ads_factory(node)
    listeners = unpack(ads.subscribe(LDS), listener_pb2.Listener)
    assert list(listeners) == ["OUTBOUND_15001"]
    manager = hcm_pb2.HttpConnectionManager()
    listeners["OUTBOUND_15001"].filter_chains[0].filters[0].typed_config.Unpack(manager)
    assert manager.rds.route_config_name == "polaris-outbound-router-gateway"
    assert [f.name for f in manager.http_filters][-1] == "envoy.filters.http.router"
    routes = unpack(ads.subscribe(RDS, ["polaris-outbound-router-gateway"]),
                    route_pb2.RouteConfiguration)
    host = routes["polaris-outbound-router-gateway"].virtual_hosts[0]
    assert host.name == "gateway-virtualhost" and list(host.domains) == ["*"]
    assert host.routes[-1].route.cluster == "PassthroughCluster"
