"""Every Eureka route over plain HTTP, in JSON and XML, as the independent checks do it."""

import gzip
import json

import pytest

from eureka_http import (JSON, all_instances, call, get_json, get_xml, instance_body, register,
                         unique)

PREFIXES = ["", "/v1", "/v2"]


@pytest.mark.parametrize("prefix", PREFIXES)
def test_register_is_visible_on_the_next_request_in_json_and_xml(server, prefix):
    base = server.eureka_url + prefix
    app = unique("http-app")
    before = get_json(f"{base}/apps")["applications"]["versions__delta"]
    register(base, app, f"{app}-1")
    apps = get_json(f"{base}/apps")
    found = all_instances(apps)[(app.upper(), f"{app}-1")]
    assert found["status"] == "UP" and found["port"] == {"$": 8080, "@enabled": "true"}
    assert found["metadata"] == {"owner": "tests"}
    assert apps["applications"]["versions__delta"] != before
    root = get_xml(f"{base}/apps/")
    names = [a.findtext("name") for a in root.findall("application")]
    assert app.upper() in names
    assert root.findtext("apps__hashcode").startswith(("UP_", "DOWN_", "OUT_OF_SERVICE_"))
    one = get_xml(f"{base}/apps/{app.upper()}")
    assert one.tag == "application" and one.find("instance/port").attrib["enabled"] == "true"
    assert get_json(f"{base}/apps/{app.lower()}")["application"]["name"] == app.upper()


def test_delta_reports_additions_changes_and_removals(server):
    base = server.eureka_url
    app = unique("delta-app")
    get_json(f"{base}/apps")
    register(base, app, f"{app}-1")
    delta = all_instances(get_json(f"{base}/apps/delta"))
    assert delta[(app.upper(), f"{app}-1")]["actionType"] == "ADDED"
    assert call(f"{base}/apps/{app}/{app}-1/status?value=OUT_OF_SERVICE", "PUT")[0] == 200
    delta = all_instances(get_json(f"{base}/apps/delta"))
    assert delta[(app.upper(), f"{app}-1")]["actionType"] == "MODIFIED"
    assert call(f"{base}/apps/{app}/{app}-1", "DELETE")[0] == 200
    delta = all_instances(get_json(f"{base}/apps/delta"))
    assert delta[(app.upper(), f"{app}-1")]["actionType"] == "DELETED"
    xml = get_xml(f"{base}/apps/delta")
    assert any(i.findtext("actionType") == "DELETED" for i in xml.iter("instance"))
    # The hash is of the whole registry, for the client's reconciliation.
    full = get_json(f"{base}/apps")["applications"]["apps__hashcode"]
    assert get_json(f"{base}/apps/delta")["applications"]["apps__hashcode"] == full


def test_gzip_bodies_are_served_when_asked(server):
    register(server.eureka_url, unique("gzip-app"), unique("gz"))
    status, headers, body = call(f"{server.eureka_url}/apps",
                                 headers={**JSON, "Accept-Encoding": "gzip"})
    assert status == 200 and headers["Content-Encoding"] == "gzip"
    plain = call(f"{server.eureka_url}/apps", headers=JSON)[2]
    assert json.loads(gzip.decompress(body)) == json.loads(plain)


def test_status_override_and_its_removal(server):
    base, app = server.eureka_url, unique("status-app")
    register(base, app, f"{app}-1")
    assert call(f"{base}/apps/{app}/{app}-1/status?value=OUT_OF_SERVICE", "PUT")[0] == 200
    instance = get_json(f"{base}/apps/{app}/{app}-1")["instance"]
    assert instance["status"] == "OUT_OF_SERVICE"
    assert get_xml(f"{base}/instances/{app}-1").findtext("status") == "OUT_OF_SERVICE"
    assert call(f"{base}/apps/{app}/{app}-1/status?value=DOWN", "PUT")[0] == 200
    assert get_json(f"{base}/instances/{app}-1")["instance"]["status"] == "DOWN"
    assert call(f"{base}/apps/{app}/{app}-1/status", "DELETE")[0] == 200
    assert get_json(f"{base}/instances/{app}-1")["instance"]["status"] == "UP"
    assert call(f"{base}/apps/{app}/missing/status?value=DOWN", "PUT")[0] == 404


def test_metadata_update_merges(server):
    base, app = server.eureka_url, unique("meta-app")
    register(base, app, f"{app}-1")
    assert call(f"{base}/apps/{app}/{app}-1/metadata?version=2&color=blue", "PUT")[0] == 200
    meta = get_json(f"{base}/apps/{app}/{app}-1")["instance"]["metadata"]
    assert meta == {"owner": "tests", "version": "2", "color": "blue"}
    assert call(f"{base}/apps/{app}/missing/metadata?a=b", "PUT")[0] == 404


def test_vips_match_case_insensitively(server):
    base, app = server.eureka_url, unique("Vip-App")
    register(base, app, f"{app}-1")
    for vip in [app.lower(), app.upper()]:
        found = all_instances(get_json(f"{base}/vips/{vip}"))
        assert list(found) == [(app.upper(), f"{app}-1")]
    assert all_instances(get_json(f"{base}/svips/{app.upper()}-SECURE"))
    assert get_xml(f"{base}/vips/{app}").findtext("application/name") == app.upper()
    assert not all_instances(get_json(f"{base}/vips/no-such-vip"))


def test_renew_of_an_unknown_instance_is_404_and_known_is_200(server):
    base, app = server.eureka_url, unique("renew-app")
    register(base, app, f"{app}-1")
    assert call(f"{base}/apps/{app}/{app}-1?status=UP&lastDirtyTimestamp=1", "PUT")[0] == 200
    assert call(f"{base}/apps/{app}/never-registered", "PUT")[0] == 404
    assert call(f"{base}/apps/{app}/{app}-1", "DELETE")[0] == 200
    assert call(f"{base}/apps/{app}/{app}-1", "PUT")[0] == 404
    assert call(f"{base}/apps/{app}", headers=JSON)[0] == 404
    assert call(f"{base}/apps/{app}/{app}-1", headers=JSON)[0] == 404


def test_xml_registration(server):
    base, app = server.eureka_url, unique("xml-app")
    body = (f"<instance><instanceId>{app}-x</instanceId><hostName>h</hostName><app>{app.upper()}</app>"
            f"<ipAddr>127.0.0.2</ipAddr><status>UP</status><port enabled=\"true\">9000</port>"
            f"<securePort enabled=\"false\">443</securePort><metadata><k>v</k></metadata>"
            f"<dataCenterInfo class=\"com.netflix.appinfo.MyDataCenterInfo\"><name>MyOwn</name>"
            f"</dataCenterInfo></instance>")
    status, _, text = call(f"{base}/apps/{app}", "POST", body, {"Content-Type": "application/xml"})
    assert status == 204, text
    instance = get_xml(f"{base}/apps/{app}/{app}-x")
    assert instance.findtext("port") == "9000" and instance.findtext("metadata/k") == "v"
    assert instance.find("dataCenterInfo").attrib["class"] == "com.netflix.appinfo.MyDataCenterInfo"


def test_namespace_header_keeps_apps_apart(server):
    base, app = server.eureka_url, unique("ns-app")
    ns = {"x-namespace": unique("eureka-ns")}
    register(base, app, f"{app}-1", headers=ns)
    assert (app.upper(), f"{app}-1") in all_instances(get_json(f"{base}/apps", ns))
    assert (app.upper(), f"{app}-1") not in all_instances(get_json(f"{base}/apps"))
    assert call(f"{base}/apps/{app}/{app}-1", "PUT", headers=ns)[0] == 200


def test_peer_replication_batch(server):
    base, app = server.eureka_url, unique("peer-app")
    info = json.loads(instance_body(app, f"{app}-p"))["instance"]
    batch = {"replicationList": [
        {"action": "Register", "appName": app.upper(), "id": f"{app}-p", "instanceInfo": info},
        {"action": "StatusUpdate", "appName": app.upper(), "id": f"{app}-p", "status": "OUT_OF_SERVICE"},
        {"action": "Heartbeat", "appName": app.upper(), "id": f"{app}-ghost"},
    ]}
    status, _, body = call(f"{base}/peerreplication/batch", "POST", json.dumps(batch),
                           {"Content-Type": "application/json", **JSON})
    assert status == 200, body
    codes = [r["statusCode"] for r in json.loads(body)["responseList"]]
    assert codes[0] == 200 and codes[2] == 404
    assert all_instances(get_json(f"{base}/apps"))[(app.upper(), f"{app}-p")]
    status, _, body = call(f"{base}/peerreplication/batch", "POST", json.dumps(batch),
                           {"Content-Type": "application/json", "DiscoveryIdentity-Name": "PolarisServer"})
    assert status == 200 and json.loads(body)["responseList"] == []


@pytest.mark.parametrize("body,content_type", [
    ("", "application/json"),
    ("{not json", "application/json"),
    ('{"instance": {"ipAddr": "1.1.1.1"}}', "application/json"),
    ('{"instance": {"instanceId": "x", "hostName": "h"}}', "application/json"),
    ('{"instance": {"instanceId": "x", "ipAddr": "1.1.1.1", "port": {"$": "eighty"}}}', "application/json"),
    ("<instance><app>", "application/xml"),
    ("<instance>" + "<a>" * 100 + "</a>" * 100 + "</instance>", "application/xml"),
    ("x" * (5 * 1024 * 1024), "application/json"),
])
def test_bad_input_is_4xx_and_the_server_stays_up(server, body, content_type):
    status, _, _ = call(f"{server.eureka_url}/apps/BAD", "POST", body, {"Content-Type": content_type})
    assert 400 <= status < 500, status
    assert call(f"{server.eureka_url}/apps/BAD/x/status?value=NOPE", "PUT")[0] == 400
    assert server.alive()
    assert call(f"{server.eureka_url}/apps")[0] == 200
