"""Eureka instances are ordinary Polaris instances: gRPC Discover (official stubs) sees what an
Eureka client registered, and Eureka clients see what an SDK registered over gRPC."""

from eureka_http import all_instances, call, get_json, register, unique
from helpers import SUCCESS, instance, wait_until


def test_eureka_registration_is_seen_by_polaris_discover(server, polaris):
    app = unique("Cross-App")
    register(server.eureka_url, app, f"{app}-1", port=8123)
    instances = polaris.instances_of(app.lower())
    assert [(i.host.value, i.port.value) for i in instances] == [("127.0.0.1", 8123)]
    found = instances[0]
    assert found.id.value == f"{app}-1" and found.metadata["owner"] == "tests"
    assert found.metadata["internal-eureka-vip"] == app.lower()
    assert found.health_check.heartbeat.ttl.value == 30
    assert call(f"{server.eureka_url}/apps/{app}/{app}-1/status?value=OUT_OF_SERVICE", "PUT")[0] == 200
    assert polaris.instances_of(app.lower())[0].isolate.value


def test_sdk_registration_is_seen_by_eureka_clients(server, polaris):
    service = unique("sdk-svc")
    reply = polaris.register(instance(service, "10.9.8.7", 7001, metadata={"team": "a"}))
    assert reply.code.value == SUCCESS, reply
    found = all_instances(get_json(f"{server.eureka_url}/apps"))
    ours = [v for (app, _), v in found.items() if app == service.upper()]
    assert len(ours) == 1
    assert ours[0]["ipAddr"] == "10.9.8.7" and ours[0]["port"]["$"] == 7001
    assert ours[0]["metadata"] == {"team": "a"} and ours[0]["status"] == "UP"
    polaris.deregister(instance(service, "10.9.8.7", 7001))
    assert wait_until(lambda: not any(a == service.upper() for a, _ in
                                      all_instances(get_json(f"{server.eureka_url}/apps"))), 5)
