"""py-eureka-client (PyPI) against polaris-rs: its own register, renew, status, cancel and
discovery calls, which read the XML documents, and its client loop, which follows the delta."""

import asyncio

from py_eureka_client import eureka_basic
from py_eureka_client import logger as py_eureka_logger
from py_eureka_client.eureka_basic import Instance, LeaseInfo, PortWrapper
from py_eureka_client.eureka_client import EurekaClient

from eureka_http import unique
from helpers import wait_until


def run(coroutine):
    return asyncio.run(coroutine)


def instance(app, instance_id, port=9100):
    return Instance(instanceId=instance_id, app=app.upper(), ipAddr="127.0.0.1", hostName="localhost",
                    status="UP", overriddenstatus="UNKNOWN", port=PortWrapper(port, True),
                    securePort=PortWrapper(443, False), vipAddress=app.lower(),
                    leaseInfo=LeaseInfo(renewalIntervalInSecs=30, durationInSecs=90),
                    metadata={"lang": "python"})


def test_basic_calls_of_the_client(server):
    url, app = server.eureka_url, unique("py-app")
    iid = f"{app}-1"
    run(eureka_basic.register(url, instance(app, iid)))
    run(eureka_basic.send_heartbeat(url, app.upper(), iid, 1))
    apps = run(eureka_basic.get_applications(url))
    found = apps.get_application(app.upper())
    assert [i.instanceId for i in found.instances] == [iid]
    assert found.instances[0].port.port == 9100 and found.instances[0].metadata == {"lang": "python"}
    assert run(eureka_basic.get_application(url, app.upper())).instances[0].ipAddr == "127.0.0.1"
    assert run(eureka_basic.get_app_instance(url, app.upper(), iid)).status == "UP"
    assert run(run(eureka_basic.get_instance(url, iid))).hostName == "localhost"
    vip = run(eureka_basic.get_vip(url, app.upper()))
    assert [a.name for a in vip.applications] == [app.upper()]

    run(eureka_basic.status_update(url, app.upper(), iid, 1, "OUT_OF_SERVICE"))
    assert run(eureka_basic.get_app_instance(url, app.upper(), iid)).status == "OUT_OF_SERVICE"
    delta = run(eureka_basic.get_delta(url))
    changed = delta.get_application(app.upper()).instances
    assert [(i.instanceId, i.actionType) for i in changed] == [(iid, "MODIFIED")]
    run(eureka_basic.delete_status_override(url, app.upper(), iid, "1"))
    assert run(eureka_basic.get_app_instance(url, app.upper(), iid)).status == "UP"

    run(eureka_basic.cancel(url, app.upper(), iid))
    assert run(eureka_basic.get_applications(url)).get_application(app.upper()).instances == []
    removed = run(eureka_basic.get_delta(url)).get_application(app.upper()).instances
    assert [(i.instanceId, i.actionType) for i in removed] == [(iid, "DELETED")]


def test_client_loop_registers_renews_and_follows_the_delta(server):
    app, other = unique("loop-app"), unique("loop-other")
    client = EurekaClient(eureka_server=server.eureka_url, app_name=app, instance_id=f"{app}-1",
                          instance_host="localhost", instance_ip="127.0.0.1", instance_port=9200,
                          renewal_interval_in_secs=1, duration_in_secs=3)
    run(client.start())
    try:
        def sees(name):
            apps = client.applications
            return apps is not None and apps.get_application(name.upper()).instances
        assert wait_until(lambda: sees(app), 15, 0.2), "the client never saw itself"
        # Another client's registration reaches this one through /apps/delta.
        run(eureka_basic.register(server.eureka_url, instance(other, f"{other}-1")))
        assert wait_until(lambda: sees(other), 15, 0.2), "the delta never brought the new app"
        run(eureka_basic.cancel(server.eureka_url, other.upper(), f"{other}-1"))
        assert wait_until(lambda: not sees(other), 15, 0.2), "the delta never removed it"
    finally:
        run(client.stop())
        # The client's heartbeat thread outlives stop(); keep it quiet once the server is gone.
        py_eureka_logger.set_level("CRITICAL")
    apps = run(eureka_basic.get_applications(server.eureka_url))
    assert apps.get_application(app.upper()).instances == []
