"""PolarisGRPC naming calls through the official generated stubs, checked against the official
server's behaviour (research notes polaris-api.md §1-3, §8, §12)."""

import hashlib
import json
import time
import urllib.error
import urllib.request

import pytest

from helpers import (
    DATA_NO_CHANGE,
    NOT_FOUND_RESOURCE,
    SUCCESS,
    ReqType,
    S,
    client_pb2,
    contract_pb2,
    instance,
    unique,
    wait_until,
)
from polaris_shim import response_pb2

RespType = response_pb2.DiscoverResponse.DiscoverResponseType


def official_id(namespace, service, host, port):
    return hashlib.sha1(f"{namespace}##{service}##{host}##{port}".encode()).hexdigest()


def by_host(instances):
    return {(i.host.value, i.port.value): i for i in instances}


def test_register_returns_id_and_success(client):
    svc = unique("reg")
    reply = client.register(instance(svc, "10.0.0.1", 8080))
    assert reply.code.value == SUCCESS, reply
    assert reply.instance.id.value == official_id("default", svc, "10.0.0.1", 8080)


def test_discover_instance_without_and_with_revision(client):
    svc = unique("disc")
    client.register(instance(svc, "10.0.0.1", 8080, weight={"value": 50}))
    client.register(instance(svc, "10.0.0.2", 8080))

    reply = client.discover_one(client.instance_request(svc))
    assert reply.code.value == SUCCESS, reply
    assert reply.type == RespType.INSTANCE
    assert reply.service.name.value == svc
    assert reply.service.namespace.value == "default"
    revision = reply.service.revision.value
    assert revision, "a full reply carries the service revision"
    found = by_host(reply.instances)
    assert set(found) == {("10.0.0.1", 8080), ("10.0.0.2", 8080)}
    assert found[("10.0.0.1", 8080)].weight.value == 50
    assert found[("10.0.0.2", 8080)].weight.value == 100
    assert found[("10.0.0.2", 8080)].healthy.value is True
    assert found[("10.0.0.2", 8080)].isolate.value is False

    again = client.discover_one(client.instance_request(svc, revision=revision))
    assert again.code.value == DATA_NO_CHANGE, again
    assert again.type == RespType.INSTANCE
    assert again.service.name.value == svc
    assert again.service.namespace.value == "default"
    assert len(again.instances) == 0

    # A change moves the revision: the old one gets the full list again.
    client.register(instance(svc, "10.0.0.3", 8080))
    changed = client.discover_one(client.instance_request(svc, revision=revision))
    assert changed.code.value == SUCCESS, changed
    assert changed.service.revision.value not in ("", revision)
    assert len(changed.instances) == 3


def test_heartbeat_success(client):
    svc = unique("beat")
    ins = instance(svc, "10.0.0.1", 8080, ttl=5)
    assert client.register(ins).code.value == SUCCESS
    reply = client.heartbeat(instance(svc, "10.0.0.1", 8080))
    assert reply.code.value == SUCCESS, reply
    by_id = client.heartbeat(instance(svc, "10.0.0.1", 8080,
                                      id=S(official_id("default", svc, "10.0.0.1", 8080))))
    assert by_id.code.value == SUCCESS, by_id


def _healthy(client, svc):
    (ins,) = client.instances_of(svc)
    return ins.healthy.value


def test_health_flips_in_real_time(client):
    """TTL 1s: unhealthy once 3 x TTL passed without a beat, healthy again on the next beat."""
    svc = unique("flip")
    ins = instance(svc, "10.0.0.1", 8080, ttl=1)
    assert client.register(ins).code.value == SUCCESS
    beat = instance(svc, "10.0.0.1", 8080)

    # Beating every 0.5 s for 3 s keeps it healthy.
    end = time.monotonic() + 3.0
    while True:
        assert client.heartbeat(beat).code.value == SUCCESS
        last_beat = time.monotonic()
        assert _healthy(client, svc), "instance turned unhealthy while beating"
        if last_beat >= end:
            break
        time.sleep(0.5)

    # Official rule: unhealthy once now - last beat >= 3 x TTL, checked on a 1 s wheel with up
    # to 1 s of jitter, so between 3 and about 5 s after the last beat.
    assert wait_until(lambda: not _healthy(client, svc), timeout=6.0, interval=0.1), \
        "instance still healthy 6 s after the last beat (TTL 1 s)"
    elapsed = time.monotonic() - last_beat
    assert elapsed >= 2.5, f"turned unhealthy {elapsed:.1f}s after the last beat, before 3 x TTL"

    assert client.heartbeat(beat).code.value == SUCCESS
    assert wait_until(lambda: _healthy(client, svc), timeout=3.0, interval=0.1), \
        "a beat did not turn the instance healthy again"


def test_deregister(client):
    svc = unique("dereg")
    client.register(instance(svc, "10.0.0.1", 8080))
    client.register(instance(svc, "10.0.0.2", 8080))
    reply = client.deregister(instance(svc, "10.0.0.1", 8080))
    assert reply.code.value == SUCCESS, reply
    remaining = by_host(client.instances_of(svc))
    assert set(remaining) == {("10.0.0.2", 8080)}

    by_id = client.deregister(instance(svc, "", 0,
                                       id=S(official_id("default", svc, "10.0.0.2", 8080))))
    assert by_id.code.value == SUCCESS, by_id
    assert len(client.instances_of(svc)) == 0


def test_deregister_unknown_instance_succeeds(client):
    reply = client.deregister(instance(unique("ghost"), "10.9.9.9", 9))
    assert reply.code.value == SUCCESS, reply


@pytest.mark.parametrize("kind", ["LANE", "CUSTOM_ROUTE_RULE", "NEARBY_ROUTE_RULE", "LOSSLESS",
                                  "BLOCK_ALLOW_RULE", "TRAFFIC_MIRRORING", "FAULT_INJECTION"])
def test_unsupported_type_echoed(client, kind):
    svc = unique("unsup")
    client.register(instance(svc, "10.0.0.1", 8080))
    request = client.instance_request(svc)
    request.type = ReqType.Value(kind)
    reply = client.discover_one(request)
    assert reply.type == RespType.Value(kind), "type must be echoed (never ROUTING)"
    assert reply.type != RespType.ROUTING
    assert reply.code.value == SUCCESS, reply
    assert reply.service.name.value == svc
    assert reply.service.namespace.value == "default"


def test_routing_without_rules_is_empty_success(client):
    svc = unique("route")
    client.register(instance(svc, "10.0.0.1", 8080))
    request = client.instance_request(svc)
    request.type = ReqType.ROUTING
    reply = client.discover_one(request)
    assert reply.code.value == SUCCESS, reply
    assert reply.type == RespType.ROUTING
    assert reply.service.name.value == svc
    assert len(reply.routing.inbounds) == 0 and len(reply.routing.outbounds) == 0


def test_services_one_namespace_and_all(client):
    ns = unique("ns")
    a, b = unique("svc-a"), unique("svc-b")
    client.register(instance(a, "10.0.0.1", 8080, namespace=ns))
    client.register(instance(b, "10.0.0.1", 8080, namespace=ns))
    other = unique("svc-default")
    client.register(instance(other, "10.0.0.1", 8080))

    reply = client.discover_one(client.services_request(ns))
    assert reply.code.value == SUCCESS, reply
    assert reply.type == RespType.SERVICES
    assert {(s.namespace.value, s.name.value) for s in reply.services} == {(ns, a), (ns, b)}
    revision = reply.service.revision.value
    assert revision

    unchanged = client.discover_one(client.services_request(ns, revision=revision))
    assert unchanged.code.value == DATA_NO_CHANGE, unchanged
    assert unchanged.type == RespType.SERVICES

    everything = client.discover_one(client.services_request(""))
    assert everything.code.value == SUCCESS, everything
    names = {(s.namespace.value, s.name.value) for s in everything.services}
    assert {(ns, a), (ns, b), ("default", other)} <= names


def test_unknown_service_is_not_found(client):
    svc = unique("missing")
    reply = client.discover_one(client.instance_request(svc))
    assert reply.code.value == NOT_FOUND_RESOURCE, reply
    assert reply.type == RespType.INSTANCE
    assert reply.service.name.value == svc


@pytest.mark.parametrize("name", ["has space", "bad*char", "s" * 129, "ünï"])
def test_discover_of_an_invalid_name_is_not_found(client, addrs, name):
    # As officially: Discover does not validate the name, it just finds nothing (400202), and the
    # request is echoed; only registration refuses such names with their specific codes.
    reply = client.discover_one(client.instance_request(name))
    assert reply.code.value == NOT_FOUND_RESOURCE, reply
    assert reply.type == RespType.INSTANCE
    assert reply.service.name.value == name and reply.service.namespace.value == "default"
    body = json.dumps({"type": "INSTANCE", "service": {"namespace": "default", "name": name}})
    request = urllib.request.Request(f"http://{addrs[1]}/v1/Discover", data=body.encode(),
                                     method="POST", headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            status, text = answer.status, answer.read()
    except urllib.error.HTTPError as err:
        status, text = err.code, err.read()
    answer = json.loads(text)
    assert status == 400 and answer["code"] == NOT_FOUND_RESOURCE, (status, answer)
    assert answer["service"]["name"] == name, answer
    refused = client.register(instance(name, "10.9.9.9", 80))
    assert refused.code.value == 400120, refused


def test_report_client(client):
    reply = client.report_client(client_pb2.Client(
        host=S("127.0.0.1"), type=client_pb2.Client.SDK, version=S("compat-1.0"),
        id=S(unique("client"))))
    assert reply.code.value == SUCCESS, reply


def test_service_contract_report_then_get(client):
    svc = unique("contract")
    contract = contract_pb2.ServiceContract(
        name="rest-api", namespace="default", service=svc, protocol="http", version="v1",
        interfaces=[contract_pb2.InterfaceDescriptor(method="GET", path="/items", name="list")])
    reply = client.contracts.ReportServiceContract(contract, timeout=10)
    assert reply.code.value == SUCCESS, reply

    query = contract_pb2.ServiceContract(name="rest-api", namespace="default", service=svc,
                                         protocol="http", version="v1")
    got = client.contracts.GetServiceContract(query, timeout=10)
    assert got.code.value == SUCCESS, got
    assert got.serviceContract.service == svc
    assert [(i.method, i.path) for i in got.serviceContract.interfaces] == [("GET", "/items")]
    assert got.serviceContract.revision

    query.revision = got.serviceContract.revision
    same = client.contracts.GetServiceContract(query, timeout=10)
    assert same.code.value == DATA_NO_CHANGE, same

    # Reporting the same interfaces again keeps the revision; new interfaces change it.
    assert client.contracts.ReportServiceContract(contract, timeout=10).code.value == SUCCESS
    assert client.contracts.GetServiceContract(query, timeout=10).code.value == DATA_NO_CHANGE
    contract.interfaces.append(contract_pb2.InterfaceDescriptor(method="POST", path="/items"))
    assert client.contracts.ReportServiceContract(contract, timeout=10).code.value == SUCCESS
    changed = client.contracts.GetServiceContract(query, timeout=10)
    assert changed.code.value == SUCCESS, changed
    assert len(changed.serviceContract.interfaces) == 2

    missing = contract_pb2.ServiceContract(name="rest-api", namespace="default",
                                           service=unique("nocontract"), protocol="http",
                                           version="v1")
    assert client.contracts.GetServiceContract(missing, timeout=10).code.value == \
        NOT_FOUND_RESOURCE


def test_codes_in_body_with_status_ok(client):
    """An invalid registration is a Polaris code in a gRPC OK reply, not a gRPC error."""
    reply = client.register(instance("bad service name!", "10.0.0.1", 8080))
    assert reply.code.value // 1000 == 400, reply



def test_heartbeat_on_instance_without_health_check(client):
    svc = unique("nocheck")
    client.register(instance(svc, "10.0.0.1", 8080))
    reply = client.heartbeat(instance(svc, "10.0.0.1", 8080))
    assert reply.code.value == 400141, reply  # HeartbeatOnDisabledIns


def test_heartbeat_unknown_instance_tolerated_three_times(client):
    ghost = instance(unique("ghostbeat"), "10.0.0.1", 8080)
    codes = [client.heartbeat(ghost).code.value for _ in range(4)]
    assert codes == [SUCCESS, SUCCESS, SUCCESS, NOT_FOUND_RESOURCE]


def test_grpc_discover_lists_every_instance_and_register_keeps_isolate(client):
    """gRPC discovery returns unhealthy, isolated and weight-0 instances; the SDK filters.
    Re-registering without `isolate` keeps the stored flag."""
    svc = unique("all")
    client.register(instance(svc, "10.0.0.1", 8080, isolate={"value": True}))
    client.register(instance(svc, "10.0.0.2", 8080, weight={"value": 0}))
    client.register(instance(svc, "10.0.0.3", 8080, healthy={"value": False}))
    found = by_host(client.instances_of(svc))
    assert set(found) == {("10.0.0.1", 8080), ("10.0.0.2", 8080), ("10.0.0.3", 8080)}
    assert found[("10.0.0.1", 8080)].isolate.value is True
    assert found[("10.0.0.2", 8080)].weight.value == 0

    client.register(instance(svc, "10.0.0.1", 8080, metadata={"v": "2"}))
    again = by_host(client.instances_of(svc))[("10.0.0.1", 8080)]
    assert again.isolate.value is True, "re-registration dropped the stored isolate flag"
    assert dict(again.metadata) == {"v": "2"}


def test_vpc_instance_id_and_no_token_returned(client):
    svc = unique("vpc")
    reply = client.register(instance(svc, "10.0.0.1", 8080, vpc_id=S("vpc-1"),
                                     service_token=S("secret-token")))
    assert reply.code.value == SUCCESS, reply
    expected = hashlib.sha1(f"default##{svc}##vpc-1##10.0.0.1##8080".encode()).hexdigest()
    assert reply.instance.id.value == expected
    (found,) = client.instances_of(svc)
    assert found.id.value == expected
    assert found.vpc_id.value == "vpc-1"
    assert not found.service_token.value, "an instance's service_token must never be returned"
