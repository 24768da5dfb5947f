"""Governance rules end to end: created over the HTTP console API, read back through the Discover
stream with the official generated stubs, checked in the shape the SDKs read
(docs/wire/governance.md §2.4, §3.4, §4.4, §5.3, §6).

Every kind goes through the same life: create → Discover (shape) → same revision → 200001 →
update over HTTP → a push stream sees the new revision → disable (or delete, for kinds without an
enable flag) → the rule no longer takes effect. The JSON names of the console lists are checked
against the official descriptors of the same messages.
"""

import json
import time
import urllib.error
import urllib.request

from helpers import ADMIN_TOKEN

import pytest
from google.protobuf import descriptor_pool

from helpers import DATA_NO_CHANGE, SUCCESS, Req, ReqType, S, instance, unique, wait_until
from polaris_shim import response_pb2, service_pb2

# Load the governance modules so their messages are in the default pool.
from polarismesh_specification.api.v1.fault_tolerance import (  # noqa: F401
    circuitbreaker_pb2,
    fault_detector_pb2,
)
from polarismesh_specification.api.v1.traffic_manage import (  # noqa: F401
    lane_pb2,
    ratelimit_pb2,
    routing_pb2,
)

RespType = response_pb2.DiscoverResponse.DiscoverResponseType
EMPTY_ROUTING_REVISION = "da39a3ee5e6b4b0d3255bfef95601890afd80709"
PUSH_DEADLINE_S = 2.0
POLL_S = 5.0
NS = "default"


# --- HTTP ---------------------------------------------------------------------------------------

def http(addr, method, path, body=None):
    """(HTTP status, parsed JSON body) of one console call."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"http://{addr}{path}", data=data, method=method,
                                     headers={"Content-Type": "application/json",
                                              "X-Polaris-Token": ADMIN_TOKEN})
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return reply.status, json.loads(reply.read() or b"null")
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"null")


def write_ok(addr, method, path, items):
    """Runs a console batch that must succeed; returns its first item reply."""
    status, body = http(addr, method, path, items)
    assert status == 200 and body["code"] == SUCCESS, (method, path, status, body)
    first = body["responses"][0]
    assert first["code"] == SUCCESS, (method, path, first)
    return first


def listed(addr, path, field, rule_id):
    """The console list items with this id."""
    status, body = http(addr, "GET", f"{path}?id={rule_id}")
    assert status == 200 and body["code"] == SUCCESS, body
    return body.get(field) or []


# --- Discover -----------------------------------------------------------------------------------

def rule_request(kind, service, revision=None, namespace=NS):
    svc = service_pb2.Service(name=S(service), namespace=S(namespace))
    if revision is not None:
        svc.revision.CopyFrom(S(revision))
    return Req(type=kind, service=svc)


def assert_envelope(reply, kind, service, namespace=NS):
    """Code, echoed type and service, and a revision, as every SDK checks first."""
    assert reply.code.value == SUCCESS, reply
    assert reply.type == kind, reply
    assert reply.service.name.value == service
    assert reply.service.namespace.value == namespace
    assert reply.service.revision.value != ""
    return reply.service.revision.value


def header_argument(key, value):
    return {"type": "HEADER", "key": key, "value": {"type": "EXACT", "value": value}}


# --- one class per rule kind --------------------------------------------------------------------

class Routing:
    """v2 routing rules (POST /naming/v2/routings), delivered as v1 inbounds/outbounds."""
    kind = ReqType.ROUTING
    path = "/naming/v2/routings"
    list_field = "data"
    message = "v1.RouteRule"

    def __init__(self, addr, name):
        self.addr, self.name = addr, name
        self.caller, self.callee = f"{name}-caller", f"{name}-callee"
        self.service = self.callee
        self.header_value = "vip"

    def body(self, rule_id=None):
        rule = {
            "name": self.name, "namespace": NS, "enable": True, "priority": 1,
            "routing_policy": "RulePolicy", "description": "compat",
            "routing_config": {
                "@type": "type.googleapis.com/v1.RuleRoutingConfig",
                "rules": [{
                    "name": "sub",
                    "sources": [{"service": self.caller, "namespace": NS,
                                 "arguments": [header_argument("x-user", self.header_value)]}],
                    "destinations": [{"service": self.callee, "namespace": NS, "name": "gray",
                                      "weight": 100, "priority": 0,
                                      "labels": {"env": {"type": "EXACT", "value": "gray"}}}],
                }],
            },
        }
        if rule_id is not None:
            rule["id"] = rule_id
        return rule

    def create(self):
        reply = write_ok(self.addr, "POST", self.path, [self.body()])
        assert reply["data"]["@type"] == "type.googleapis.com/v1.RouteRule", reply
        self.id = reply["data"]["id"]
        assert self.id

    def update(self):
        self.header_value = "vvip"
        write_ok(self.addr, "PUT", self.path, [self.body(self.id)])

    def disable(self):
        write_ok(self.addr, "PUT", f"{self.path}/enable", [{"id": self.id, "enable": False}])

    def check(self, reply):
        revision = assert_envelope(reply, self.kind, self.callee)
        routing = reply.routing
        assert routing.revision.value == revision
        assert routing.service.value == self.callee and routing.namespace.value == NS
        assert len(routing.inbounds) == 1, routing
        assert len(routing.outbounds) == 0, routing
        route = routing.inbounds[0]
        assert [(s.service.value, s.namespace.value) for s in route.sources] == [(self.caller, NS)]
        source = route.sources[0]
        assert set(source.metadata) == {"$header.x-user"}, source
        assert source.metadata["$header.x-user"].value.value == self.header_value
        assert [(d.service.value, d.namespace.value) for d in route.destinations] == \
            [(self.callee, NS)]
        dest = route.destinations[0]
        assert dest.metadata["env"].value.value == "gray"
        assert dest.weight.value == 100
        assert dest.name.value == f"{self.name}.sub.gray"

    def check_caller_side(self, reply):
        assert_envelope(reply, self.kind, self.caller)
        routing = reply.routing
        assert len(routing.inbounds) == 0, routing
        assert len(routing.outbounds) == 1, routing
        route = routing.outbounds[0]
        assert [(s.service.value, s.namespace.value) for s in route.sources] == [(self.caller, NS)]
        assert route.sources[0].metadata["$header.x-user"].value.value == self.header_value
        assert [d.service.value for d in route.destinations] == [self.callee]

    def gone(self, reply):
        return (reply.code.value == SUCCESS and not reply.routing.inbounds
                and reply.routing.revision.value == EMPTY_ROUTING_REVISION)


class RateLimit:
    """Rate limits (POST /naming/v1/ratelimits), matched on their exact service."""
    kind = ReqType.RATE_LIMIT
    path = "/naming/v1/ratelimits"
    list_field = "rateLimits"
    message = "v1.Rule"

    def __init__(self, addr, name):
        self.addr, self.name, self.service = addr, name, f"{name}-svc"
        self.max_amount = 10

    def body(self, rule_id=None):
        rule = {
            "name": self.name, "service": self.service, "namespace": NS, "priority": 1,
            "resource": "QPS", "type": "LOCAL", "action": "REJECT",
            "amounts": [{"maxAmount": self.max_amount, "validDuration": "1s"}],
            "arguments": [header_argument("x-user", "vip")],
        }
        if rule_id is not None:
            rule["id"] = rule_id
        return rule

    def create(self):
        reply = write_ok(self.addr, "POST", self.path, [self.body()])
        self.id = reply["rateLimit"]["id"]
        assert self.id

    def update(self):
        self.max_amount = 20
        write_ok(self.addr, "PUT", self.path, [self.body(self.id)])

    def disable(self):
        write_ok(self.addr, "PUT", f"{self.path}/enable", [{"id": self.id, "disable": True}])

    def check(self, reply):
        revision = assert_envelope(reply, self.kind, self.service)
        assert reply.HasField("rateLimit")
        assert reply.rateLimit.revision.value == revision
        assert len(reply.rateLimit.rules) == 1, reply.rateLimit
        rule = reply.rateLimit.rules[0]
        assert rule.id.value == self.id
        assert rule.service.value == self.service and rule.namespace.value == NS
        assert not rule.disable.value
        assert [(a.maxAmount.value, a.validDuration.seconds) for a in rule.amounts] == \
            [(self.max_amount, 1)]
        assert rule.resource == ratelimit_pb2.Rule.QPS
        assert rule.type == ratelimit_pb2.Rule.LOCAL
        assert [(a.type, a.key, a.value.value.value) for a in rule.arguments] == \
            [(ratelimit_pb2.MatchArgument.HEADER, "x-user", "vip")]

    def gone(self, reply):
        # As officially: a disabled rule is still delivered, flagged `disable` (SDKs skip it).
        if reply.code.value != SUCCESS:
            return False
        return [r.disable.value for r in reply.rateLimit.rules if r.id.value == self.id] == [True]


class CircuitBreaker:
    """Circuit breakers (POST /naming/v1/circuitbreaker/rules), keyed by the matcher's
    destination."""
    kind = ReqType.CIRCUIT_BREAKER
    path = "/naming/v1/circuitbreaker/rules"
    list_field = "data"
    message = "v1.CircuitBreakerRule"

    def __init__(self, addr, name):
        self.addr, self.name, self.service = addr, name, f"{name}-svc"
        self.error_count = 5

    def body(self, rule_id=None):
        rule = {
            "name": self.name, "namespace": NS, "enable": True, "level": "SERVICE",
            "description": "compat",
            "rule_matcher": {
                "source": {"service": "*", "namespace": "*"},
                "destination": {"service": self.service, "namespace": NS,
                                "method": {"type": "REGEX", "value": "^/api/.*"}},
            },
            "error_conditions": [{"input_type": "RET_CODE",
                                  "condition": {"type": "RANGE", "value": "500~599"}}],
            "trigger_condition": [{"trigger_type": "CONSECUTIVE_ERROR",
                                   "error_count": self.error_count}],
        }
        if rule_id is not None:
            rule["id"] = rule_id
        return rule

    def create(self):
        reply = write_ok(self.addr, "POST", self.path, [self.body()])
        assert reply["data"]["@type"] == "type.googleapis.com/v1.CircuitBreakerRule", reply
        self.id = reply["data"]["id"]
        assert self.id

    def update(self):
        self.error_count = 7
        write_ok(self.addr, "PUT", self.path, [self.body(self.id)])

    def disable(self):
        write_ok(self.addr, "PUT", f"{self.path}/enable", [{"id": self.id, "enable": False}])

    def check(self, reply):
        revision = assert_envelope(reply, self.kind, self.service)
        cb = reply.circuitBreaker
        assert cb.revision.value == revision
        assert cb.service.value == self.service and cb.service_namespace.value == NS
        assert len(cb.rules) == 1, cb
        rule = cb.rules[0]
        assert rule.id == self.id and rule.name == self.name and rule.enable
        assert rule.level == circuitbreaker_pb2.SERVICE
        dst = rule.rule_matcher.destination
        assert (dst.service, dst.namespace) == (self.service, NS)
        assert (dst.method.type, dst.method.value.value) == \
            (dst.method.REGEX, "^/api/.*")
        src = rule.rule_matcher.source
        assert (src.service, src.namespace) == ("*", "*")
        assert [(c.input_type, c.condition.value.value) for c in rule.error_conditions] == \
            [(circuitbreaker_pb2.ErrorCondition.RET_CODE, "500~599")]
        assert [(t.trigger_type, t.error_count) for t in rule.trigger_condition] == \
            [(circuitbreaker_pb2.TriggerCondition.CONSECUTIVE_ERROR, self.error_count)]

    def gone(self, reply):
        # As officially: still delivered, with `enable: false` (SDKs filter it).
        if reply.code.value != SUCCESS:
            return False
        return [r.enable for r in reply.circuitBreaker.rules if r.id == self.id] == [False]


class FaultDetector:
    """Fault detectors (POST /naming/v1/faultdetectors), keyed by target_service; they have no
    enable flag, so "disable" is a delete."""
    kind = ReqType.FAULT_DETECTOR
    path = "/naming/v1/faultdetectors"
    list_field = "data"
    message = "v1.FaultDetectRule"

    def __init__(self, addr, name):
        self.addr, self.name, self.service = addr, name, f"{name}-svc"
        self.interval = 10

    def body(self, rule_id=None):
        rule = {
            "name": self.name, "namespace": NS, "description": "compat",
            "interval": self.interval, "timeout": 1, "port": 8080, "protocol": "HTTP",
            "target_service": {"service": self.service, "namespace": NS},
            "http_config": {"method": "GET", "url": "/health",
                            "headers": [{"key": "x-probe", "value": "1"}]},
        }
        if rule_id is not None:
            rule["id"] = rule_id
        return rule

    def create(self):
        reply = write_ok(self.addr, "POST", self.path, [self.body()])
        assert reply["data"]["@type"] == "type.googleapis.com/v1.FaultDetectRule", reply
        self.id = reply["data"]["id"]
        assert self.id

    def update(self):
        self.interval = 30
        write_ok(self.addr, "PUT", self.path, [self.body(self.id)])

    def disable(self):
        write_ok(self.addr, "POST", f"{self.path}/delete", [{"id": self.id}])

    def check(self, reply):
        revision = assert_envelope(reply, self.kind, self.service)
        fd = reply.faultDetector
        assert fd.revision == revision
        assert len(fd.rules) == 1, fd
        rule = fd.rules[0]
        assert rule.id == self.id and rule.name == self.name
        assert (rule.target_service.service, rule.target_service.namespace) == (self.service, NS)
        assert (rule.interval, rule.timeout, rule.port) == (self.interval, 1, 8080)
        assert rule.protocol == fault_detector_pb2.FaultDetectRule.HTTP
        assert (rule.http_config.method, rule.http_config.url) == ("GET", "/health")
        assert [(h.key, h.value) for h in rule.http_config.headers] == [("x-probe", "1")]

    def gone(self, reply):
        return reply.code.value == SUCCESS and not [
            r for r in reply.faultDetector.rules if r.id == self.id]


class Lane:
    """Lane groups (POST /naming/v1/lane/groups), applying to their destinations; no enable
    flag on the group, so "disable" is a delete."""
    kind = ReqType.LANE
    path = "/naming/v1/lane/groups"
    list_field = "data"
    message = "v1.LaneGroup"

    def __init__(self, addr, name):
        self.addr, self.name, self.service = addr, name, f"{name}-svc"
        self.description = "lanes"

    def body(self, rule_id=None):
        group = {
            "name": self.name, "description": self.description,
            "entries": [{"type": "polarismesh.cn/service", "selector": {
                "@type": "type.googleapis.com/v1.ServiceSelector",
                "namespace": NS, "service": f"{self.name}-gateway"}}],
            "destinations": [{"service": self.service, "namespace": NS}],
            "rules": [{"name": "gray", "enable": True, "default_label_value": "gray",
                       "traffic_match_rule": {"arguments": [header_argument("lane", "gray")]}}],
        }
        if rule_id is not None:
            group["id"] = rule_id
        return group

    def create(self):
        reply = write_ok(self.addr, "POST", self.path, [self.body()])
        assert reply["data"]["@type"] == "type.googleapis.com/v1.LaneGroup", reply
        self.id = reply["data"]["id"]
        assert self.id

    def update(self):
        self.description = "lanes, changed"
        write_ok(self.addr, "PUT", self.path, [self.body(self.id)])

    def disable(self):
        write_ok(self.addr, "POST", f"{self.path}/delete", [{"id": self.id}])

    def check(self, reply):
        assert_envelope(reply, self.kind, self.service)
        assert len(reply.lanes) == 1, reply
        group = reply.lanes[0]
        assert group.id == self.id and group.name == self.name
        assert group.description == self.description
        assert group.revision != ""
        assert [(d.service, d.namespace) for d in group.destinations] == [(self.service, NS)]
        assert [e.type for e in group.entries] == ["polarismesh.cn/service"]
        selector = lane_pb2.ServiceSelector()
        assert group.entries[0].selector.Unpack(selector)
        assert selector.service == f"{self.name}-gateway"
        assert [(r.name, r.enable, r.default_label_value) for r in group.rules] == \
            [("gray", True, "gray")]
        args = group.rules[0].traffic_match_rule.arguments
        assert [(a.key, a.value.value.value) for a in args] == [("lane", "gray")]

    def gone(self, reply):
        return reply.code.value == SUCCESS and not [g for g in reply.lanes if g.id == self.id]


KINDS = [Routing, RateLimit, CircuitBreaker, FaultDetector, Lane]


def kind_id(cls):
    return cls.__name__


# --- tests --------------------------------------------------------------------------------------

@pytest.mark.parametrize("cls", KINDS, ids=kind_id)
def test_rule_discover_life(cls, addrs, client):
    rule = cls(addrs[1], unique(f"gov-{cls.__name__.lower()}"))
    rule.create()

    first = client.discover_one(rule_request(rule.kind, rule.service))
    rule.check(first)
    revision = first.service.revision.value

    # The same revision again: nothing changed.
    same = client.discover_one(rule_request(rule.kind, rule.service, revision=revision))
    assert same.code.value == DATA_NO_CHANGE, same
    assert same.type == rule.kind

    # A push stream subscribed to the rules sees an update without asking again.
    stream = client.stream(push=True)
    try:
        stream.send(rule_request(rule.kind, rule.service, revision=""))
        subscribed = stream.recv(5)
        rule.check(subscribed)
        assert subscribed.service.revision.value == revision

        started = time.monotonic()
        rule.update()
        pushed = stream.recv_or_none(PUSH_DEADLINE_S)
        assert pushed is not None, f"no {cls.__name__} push within {PUSH_DEADLINE_S}s"
        assert time.monotonic() - started <= PUSH_DEADLINE_S + 0.5
        rule.check(pushed)  # the new content (update() changed the expected values)
        new_revision = pushed.service.revision.value
        assert new_revision != revision
    finally:
        stream.close()

    # A plain request sees the update too, and the old revision is no longer current.
    fresh = client.discover_one(rule_request(rule.kind, rule.service, revision=revision))
    rule.check(fresh)
    assert fresh.service.revision.value == new_revision
    assert not rule.gone(fresh)

    rule.disable()
    removed = wait_until(
        lambda: rule.gone(client.discover_one(rule_request(rule.kind, rule.service))), POLL_S)
    assert removed, f"{cls.__name__} {rule.id} still takes effect after being disabled"
    after = client.discover_one(rule_request(rule.kind, rule.service, revision=new_revision))
    assert after.code.value == SUCCESS, "the revision must move when the rule goes"


def test_routing_caller_side_is_an_outbound(addrs, client):
    rule = Routing(addrs[1], unique("gov-outbound"))
    rule.create()
    rule.check_caller_side(client.discover_one(rule_request(rule.kind, rule.caller)))
    # An unrelated service sees neither side.
    other = client.discover_one(rule_request(rule.kind, unique("gov-bystander")))
    assert other.code.value == SUCCESS
    assert not other.routing.inbounds and not other.routing.outbounds


def test_rate_limit_rule_names_the_requested_service(addrs, client):
    rule = RateLimit(addrs[1], unique("gov-alias"))
    client.register(instance(rule.service, "10.0.0.1", 8080))
    rule.create()
    alias = unique("gov-alias-name")
    status, body = http(addrs[1], "POST", "/naming/v1/service/alias", {
        "service": rule.service, "namespace": NS, "alias": alias, "alias_namespace": NS})
    assert status == 200 and body["code"] == SUCCESS, body
    reply = client.discover_one(rule_request(rule.kind, alias))
    assert_envelope(reply, rule.kind, alias)
    assert [r.service.value for r in reply.rateLimit.rules] == [alias]
    assert [r.namespace.value for r in reply.rateLimit.rules] == [NS]
    assert reply.aliasFor.name.value == rule.service


def test_service_without_rules(client):
    svc = unique("gov-norules")
    client.register(instance(svc, "10.0.0.1", 8080))

    routing = client.discover_one(rule_request(ReqType.ROUTING, svc))
    assert routing.code.value == SUCCESS, routing
    assert routing.type == RespType.ROUTING
    assert routing.service.name.value == svc and routing.service.namespace.value == NS
    assert routing.HasField("routing"), "ROUTING always carries a payload"
    assert not routing.routing.inbounds and not routing.routing.outbounds
    assert routing.routing.revision.value == EMPTY_ROUTING_REVISION
    assert routing.service.revision.value == EMPTY_ROUTING_REVISION
    again = client.discover_one(rule_request(ReqType.ROUTING, svc, EMPTY_ROUTING_REVISION))
    assert again.code.value == DATA_NO_CHANGE, again

    limits = client.discover_one(rule_request(ReqType.RATE_LIMIT, svc))
    assert limits.code.value == SUCCESS, limits
    assert limits.type == RespType.RATE_LIMIT
    assert limits.service.name.value == svc
    assert not limits.HasField("rateLimit"), limits

    for kind, field in [(ReqType.CIRCUIT_BREAKER, "circuitBreaker"),
                        (ReqType.FAULT_DETECTOR, "faultDetector")]:
        reply = client.discover_one(rule_request(kind, svc))
        assert reply.code.value == SUCCESS and reply.type == kind, reply
        assert not reply.HasField(field), reply
    lanes = client.discover_one(rule_request(ReqType.LANE, svc))
    assert lanes.code.value == SUCCESS and lanes.type == RespType.LANE
    assert len(lanes.lanes) == 0


def test_rule_request_without_name_is_refused(client):
    reply = client.discover_one(rule_request(ReqType.ROUTING, ""))
    assert reply.code.value == 400120, reply
    assert reply.type == RespType.ROUTING
    reply = client.discover_one(rule_request(ReqType.RATE_LIMIT, "svc", namespace=""))
    assert reply.code.value == 400110, reply


# --- JSON names of the console lists ------------------------------------------------------------

# Explicit json_name options that changed between spec releases while number and type stayed:
# our server keeps the names of the spec the official 1.x servers ship (polaris-proto lib.rs,
# "JSON names that drifted"); the PyPI 1.7.0 descriptors carry the later ones.
DRIFTED = {
    ("v1.Rule", "concurrency_amount"): "concurrencyAmount",
    ("v1.LaneRule", "groupName"): "group_name",
}
# Fields a later spec added (1.8); the 1.7.0 descriptors do not know them.
LATER_FIELDS = {
    ("v1.CircuitBreakerRule", "regex_separate"),
    ("v1.BlockConfig", "recoverCondition"),
    ("v1.Route", "metadata"),
}
WELL_KNOWN = "google.protobuf."


def unknown_json_names(value, desc, path="$"):
    """Keys of `value` (JSON of message `desc`) that are not the official JSON name of a field,
    nested messages included; each as (path, message, key)."""
    bad = []
    if not isinstance(value, dict):
        return bad
    pool = descriptor_pool.Default()
    if desc.full_name == "google.protobuf.Any":
        type_name = value.get("@type", "").rsplit("/", 1)[-1]
        try:
            inner = pool.FindMessageTypeByName(type_name)
        except KeyError:
            return [(path, desc.full_name, f"@type {type_name}")]
        rest = {k: v for k, v in value.items() if k != "@type"}
        return unknown_json_names(rest, inner, path)
    if desc.full_name.startswith(WELL_KNOWN):
        return bad
    by_json = {f.json_name: f for f in desc.fields}
    for key, item in value.items():
        field = by_json.get(key)
        if field is None and (desc.full_name, key) in DRIFTED:
            field = by_json.get(DRIFTED[(desc.full_name, key)])
        if field is None:
            if (desc.full_name, key) not in LATER_FIELDS:
                bad.append((path, desc.full_name, key))
            continue
        inner = field.message_type
        if inner is None:
            continue
        if inner.GetOptions().map_entry:
            value_type = inner.fields_by_name["value"].message_type
            if value_type is not None and isinstance(item, dict):
                for k, v in item.items():
                    bad += unknown_json_names(v, value_type, f"{path}.{key}[{k}]")
        elif isinstance(item, list):
            for i, element in enumerate(item):
                bad += unknown_json_names(element, inner, f"{path}.{key}[{i}]")
        else:
            bad += unknown_json_names(item, inner, f"{path}.{key}")
    return bad


@pytest.mark.parametrize("cls", KINDS, ids=kind_id)
def test_console_list_uses_official_json_names(cls, addrs):
    rule = cls(addrs[1], unique(f"gov-json-{cls.__name__.lower()}"))
    rule.create()
    items = listed(rule.addr, rule.path, rule.list_field, rule.id)
    assert len(items) == 1, items
    item = items[0]
    desc = descriptor_pool.Default().FindMessageTypeByName(rule.message)
    if rule.list_field == "data":
        assert item["@type"] == f"type.googleapis.com/{rule.message}"
        item = {k: v for k, v in item.items() if k != "@type"}
    assert unknown_json_names(item, desc) == []
    # The names the official server emits for the fields this test sets: jsonpb with
    # OrigName false, so proto3 JSON names (`httpConfig`, `ruleMatcher`: the official protos
    # declare no json_name there) unless the spec declares one (`routing_policy`).
    expected = {
        "Routing": ["routing_policy", "routing_config", "enable", "priority"],
        "RateLimit": ["amounts", "arguments", "resource", "service", "namespace"],
        "CircuitBreaker": ["ruleMatcher", "errorConditions", "triggerCondition", "level"],
        "FaultDetector": ["targetService", "httpConfig", "interval", "protocol"],
        "Lane": ["entries", "destinations", "rules"],
    }[cls.__name__]
    missing = [k for k in expected if k not in item]
    assert not missing, (missing, sorted(item))


def test_json_name_checker_flags_wrong_names():
    """The checker above is not vacuous: proto names where the spec has JSON names, unknown
    keys and unknown Any types are reported, nested ones included."""
    pool = descriptor_pool.Default()
    detector = pool.FindMessageTypeByName("v1.FaultDetectRule")
    assert unknown_json_names({"http_config": {"url": "/"}}, detector) == \
        [("$", "v1.FaultDetectRule", "http_config")]
    assert unknown_json_names({"httpConfig": {"uri": "/"}}, detector) == \
        [("$.httpConfig", "v1.HttpProtocolConfig", "uri")]
    route = pool.FindMessageTypeByName("v1.RouteRule")
    bad_any = {"routing_config": {"@type": "type.googleapis.com/v1.RuleRoutingConfig",
                                  "rules": [{"sources": [{"svc": "a"}]}]}}
    assert unknown_json_names(bad_any, route) == \
        [("$.routing_config.rules[0].sources[0]", "v1.SourceService", "svc")]
    assert unknown_json_names({"routing_config": {"@type": "x/v1.Nope"}}, route) != []
