"""Plain HTTP against the Eureka port: every call returns (status, headers, body bytes)."""

import gzip
import itertools
import json
import os
import urllib.error
import urllib.request
import xml.etree.ElementTree as ElementTree

JSON = {"Accept": "application/json"}
_ids = itertools.count(1)


def unique(prefix):
    return f"{prefix}-{os.getpid()}-{next(_ids)}"


def call(url, method="GET", body=None, headers=None):
    data = body.encode() if isinstance(body, str) else body
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return reply.status, reply.headers, reply.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers, err.read()


def get_json(url, headers=None):
    status, reply_headers, body = call(url, headers={**JSON, **(headers or {})})
    assert status == 200, (url, status, body)
    if reply_headers.get("Content-Encoding") == "gzip":
        body = gzip.decompress(body)
    return json.loads(body)


def get_xml(url, headers=None):
    status, _, body = call(url, headers=headers or {})
    assert status == 200, (url, status, body)
    return ElementTree.fromstring(body)


def instance_body(app, instance_id, ip="127.0.0.1", port=8080, status="UP", **extra):
    instance = {
        "instanceId": instance_id, "hostName": "localhost", "app": app.upper(), "ipAddr": ip,
        "status": status, "overriddenStatus": "UNKNOWN",
        "port": {"$": port, "@enabled": "true"}, "securePort": {"$": 443, "@enabled": "false"},
        "countryId": 1,
        "dataCenterInfo": {"@class": "com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo",
                           "name": "MyOwn"},
        "leaseInfo": {"renewalIntervalInSecs": 30, "durationInSecs": 90},
        "metadata": {"owner": "tests"},
        "vipAddress": app.lower(), "secureVipAddress": app.lower() + "-secure",
    }
    instance.update(extra)
    return json.dumps({"instance": instance})


def register(base, app, instance_id, headers=None, **extra):
    status, _, body = call(f"{base}/apps/{app.upper()}", "POST", instance_body(app, instance_id, **extra),
                           {"Content-Type": "application/json", **(headers or {})})
    assert status == 204, (status, body)


def all_instances(apps_json):
    """{(APP, instanceId): instance} of an applications document in JSON."""
    out = {}
    for app in apps_json["applications"]["application"]:
        for instance in app["instance"]:
            out[(app["name"], instance["instanceId"])] = instance
    return out
