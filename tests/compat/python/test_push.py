"""Opt-in push on the Discover stream (`x-polaris-push: true` metadata when opening it)."""

import time

from helpers import PUSH_KEY, SUCCESS, instance, unique
from polaris_shim import response_pb2

RespType = response_pb2.DiscoverResponse.DiscoverResponseType
PUSH_DEADLINE_S = 2.0
QUIET_WINDOW_S = 1.5


def hosts(reply):
    return {i.host.value for i in reply.instances}


def test_push_on_instance_change(client):
    svc = unique("push")
    client.register(instance(svc, "10.0.0.1", 8080))
    stream = client.stream(push=True)
    try:
        stream.send(client.instance_request(svc))
        first = stream.recv(5)
        assert first.code.value == SUCCESS, first
        assert hosts(first) == {"10.0.0.1"}

        assert client.register(instance(svc, "10.0.0.2", 8080)).code.value == SUCCESS
        started = time.monotonic()
        pushed = stream.recv_or_none(PUSH_DEADLINE_S)
        assert pushed is not None, f"no push within {PUSH_DEADLINE_S}s of a registration"
        assert time.monotonic() - started <= PUSH_DEADLINE_S
        assert pushed.code.value == SUCCESS
        assert pushed.type == RespType.INSTANCE
        assert pushed.service.name.value == svc
        assert pushed.service.namespace.value == "default"
        assert pushed.service.revision.value not in ("", first.service.revision.value)
        assert hosts(pushed) == {"10.0.0.1", "10.0.0.2"}

        # Deregistration is a change too.
        client.deregister(instance(svc, "10.0.0.1", 8080))
        gone = stream.recv_or_none(PUSH_DEADLINE_S)
        assert gone is not None and hosts(gone) == {"10.0.0.2"}
    finally:
        stream.close()


def test_no_push_without_metadata(client):
    svc = unique("nopush")
    client.register(instance(svc, "10.0.0.1", 8080))
    stream = client.stream(push=False)
    try:
        stream.send(client.instance_request(svc))
        first = stream.recv(5)
        assert first.code.value == SUCCESS
        client.register(instance(svc, "10.0.0.2", 8080))
        unsolicited = stream.recv_or_none(QUIET_WINDOW_S)
        assert unsolicited is None, f"unsolicited message without push metadata: {unsolicited}"

        # The next message is exactly the reply to the next request.
        stream.send(client.instance_request(svc, revision=first.service.revision.value))
        reply = stream.recv(5)
        assert reply.code.value == SUCCESS
        assert hosts(reply) == {"10.0.0.1", "10.0.0.2"}
        assert stream.recv_or_none(0.3) is None
    finally:
        stream.close()


def test_push_cancelled_by_metadata_off(client):
    svc = unique("cancel")
    client.register(instance(svc, "10.0.0.1", 8080))
    stream = client.stream(push=True)
    try:
        stream.send(client.instance_request(svc))
        assert stream.recv(5).code.value == SUCCESS
        stream.send(client.instance_request(svc, metadata={PUSH_KEY: "off"}))
        cancel = stream.recv(5)
        assert cancel.code.value == SUCCESS
        assert cancel.type == RespType.INSTANCE
        client.register(instance(svc, "10.0.0.2", 8080))
        assert stream.recv_or_none(QUIET_WINDOW_S) is None, "push after cancellation"
    finally:
        stream.close()


def test_push_services_list(client):
    ns = unique("pushns")
    client.register(instance(unique("first"), "10.0.0.1", 8080, namespace=ns))
    stream = client.stream(push=True)
    try:
        stream.send(client.services_request(ns))
        first = stream.recv(5)
        assert first.code.value == SUCCESS and len(first.services) == 1
        second = unique("second")
        client.register(instance(second, "10.0.0.1", 8080, namespace=ns))
        pushed = stream.recv_or_none(PUSH_DEADLINE_S)
        assert pushed is not None, "no push of the service list"
        assert pushed.type == RespType.SERVICES
        assert second in {s.name.value for s in pushed.services}
    finally:
        stream.close()


def test_many_subscriptions_on_one_stream(client):
    services = [unique("many") for _ in range(50)]
    for svc in services:
        client.register(instance(svc, "10.0.0.1", 8080))
    stream = client.stream(push=True)
    try:
        for svc in services:
            stream.send(client.instance_request(svc))
        replies = [stream.recv(5) for _ in services]
        assert [r.service.name.value for r in replies] == services, "replies out of order"

        for svc in services:
            client.register(instance(svc, "10.0.0.2", 8080))
        seen = {}
        deadline = time.monotonic() + 5.0
        while len(seen) < len(services) and time.monotonic() < deadline:
            reply = stream.recv_or_none(max(0.01, deadline - time.monotonic()))
            if reply is None:
                break
            seen[reply.service.name.value] = hosts(reply)
        missing = [s for s in services if seen.get(s) != {"10.0.0.1", "10.0.0.2"}]
        assert not missing, f"{len(missing)} subscriptions got no up-to-date push: {missing[:5]}"
    finally:
        stream.close()
