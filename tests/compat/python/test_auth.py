"""Access control end to end: login, the permission table in docs/wire/auth.md walked endpoint by
endpoint with missing, invalid and disabled tokens, a sub account granted read on one namespace,
token refresh, hostile input, and clientOpen on a second server (grpcio registration)."""

import base64
import json
import os
import re
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import pytest

from conftest import CONFIG, REPO, _config_grpc_answers, _free_port, _grpc_answers, server_binary
from helpers import ADMIN_TOKEN, SUCCESS, Client, S, instance, unique, wait_until

ADMIN_ID = "65e4789a6d5b49669adf1e9e8387549c"
TABLE = REPO / "docs" / "wire" / "auth.md"


def call(addr, method, path, body=None, token=None, raw=None):
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["X-Polaris-Token"] = token
    request = urllib.request.Request(f"http://{addr}{path}", data=data, method=method,
                                     headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            status, text = reply.status, reply.read().decode()
    except urllib.error.HTTPError as err:
        status, text = err.code, err.read().decode()
    try:
        return status, json.loads(text)
    except ValueError:
        return status, {"text": text}


def login(addr, name, password, owner=None):
    body = {"name": name, "password": password}
    if owner:
        body["owner"] = owner
    return call(addr, "POST", "/core/v1/user/login", body)


def table_rows():
    rows = []
    for line in TABLE.read_text().splitlines():
        m = re.match(r"^\| (GET|POST|PUT|DELETE) \| `([^`]+)` \| ([^|]+) \|", line)
        if m:
            rows.append((m.group(1), m.group(2), m.group(3).strip()))
    assert len(rows) > 100, "the permission table is in docs/wire/auth.md"
    return rows


def create_sub_user(addr, name, password="secret123"):
    status, body = call(addr, "POST", "/core/v1/users", [{"name": name, "password": password}],
                        token=ADMIN_TOKEN)
    assert body["code"] == SUCCESS, body
    return body["responses"][0]["user"]["id"]


def token_of(addr, user_id):
    _, body = call(addr, "GET", f"/core/v1/user/token?id={user_id}", token=ADMIN_TOKEN)
    assert body["code"] == SUCCESS, body
    return body["user"]["auth_token"]


def test_admin_logs_in_with_the_documented_token(server):
    status, body = login(server.http_addr, "polaris", "polaris")
    assert (status, body["code"]) == (200, SUCCESS), body
    answer = body["loginResponse"]
    assert answer["token"] == ADMIN_TOKEN
    assert answer["user_id"] == ADMIN_ID
    assert answer["name"] == "polaris"
    status, body = login(server.http_addr, "polaris", "wrong-password")
    assert (status, body["code"]) == (401, 401001), body
    assert "loginResponse" not in body or not body["loginResponse"]
    status, body = login(server.http_addr, "nobody-" + unique("u"), "whatever")
    assert (status, body["code"]) == (400, 400312), body
    _, body = call(server.http_addr, "GET", "/core/v1/auth/status")
    assert body["optionSwitch"]["options"] == {"auth": "true", "consoleOpen": "true",
                                               "clientOpen": "false"}


def test_every_checked_endpoint_refuses_missing_invalid_and_disabled_tokens(server):
    addr = server.http_addr
    user = create_sub_user(addr, unique("disabled"))
    disabled = token_of(addr, user)
    _, body = call(addr, "PUT", "/core/v1/user/token/status",
                   {"id": user, "token_enable": False}, token=ADMIN_TOKEN)
    assert body["code"] == SUCCESS, body
    random_token = base64.b64encode(os.urandom(48)).decode()
    checked = [(m, p) for m, p, scope in table_rows() if scope.startswith(("console", "auth ("))]
    assert len(checked) > 90
    _, before = call(addr, "GET", "/naming/v1/namespaces?limit=100", token=ADMIN_TOKEN)
    for method, path in checked:
        body = None if method == "GET" else [{"name": "x", "namespace": "x"}]
        for token, codes in [(None, {401001, 401002}), (random_token, {401001, 401004}),
                             (disabled, {401003})]:
            status, reply = call(addr, method, path, body, token=token)
            assert status == 401 and reply.get("code") in codes, (method, path, token, reply)
    _, after = call(addr, "GET", "/naming/v1/namespaces?limit=100", token=ADMIN_TOKEN)
    assert before["amount"] == after["amount"], "nothing changed"


def test_a_sub_user_reads_only_the_namespace_granted(server):
    addr = server.http_addr
    granted, other = unique("granted"), unique("other")
    for name in (granted, other):  # `other` is the newer one, first on the admin's pages
        _, body = call(addr, "POST", "/naming/v1/namespaces", [{"name": name}], token=ADMIN_TOKEN)
        assert body["code"] == SUCCESS, body
        time.sleep(0.002)  # distinct modification times (milliseconds)
    _, body = call(addr, "POST", "/naming/v1/services",
                   [{"namespace": granted, "name": "svc"}, {"namespace": other, "name": "svc"}],
                   token=ADMIN_TOKEN)
    assert body["code"] == SUCCESS, body
    name = unique("reader")
    user = create_sub_user(addr, name)
    strategy = {"name": unique("read-one"), "action": "ONLY_READ",
                "principals": {"users": [{"id": user}]},
                "resources": {"namespaces": [{"id": granted}]}}
    _, body = call(addr, "POST", "/core/v1/auth/strategy", strategy, token=ADMIN_TOKEN)
    assert body["code"] == SUCCESS, body
    status, body = login(addr, name, "secret123", owner="polaris")
    assert body["code"] == SUCCESS, body
    token = body["loginResponse"]["token"]
    assert body["loginResponse"]["role"] == "sub"

    _, body = call(addr, "GET", "/naming/v1/namespaces?limit=100", token=token)
    names = {ns["name"] for ns in body["namespaces"]}
    assert granted in names and other not in names, names
    # Pages and totals count only what the caller may read: the newest namespace (`other`)
    # does not take the only place on a one-item page.
    _, body = call(addr, "GET", "/naming/v1/namespaces?limit=1", token=token)
    assert [ns["name"] for ns in body["namespaces"]] == [granted], body
    assert (body["amount"], body["size"]) == (1, 1), body
    _, body = call(addr, "GET", f"/naming/v1/services?namespace={granted}", token=token)
    assert body["code"] == SUCCESS and body["services"][0]["name"] == "svc", body
    status, body = call(addr, "GET", f"/naming/v1/services?namespace={other}", token=token)
    assert (status, body["code"]) == (401, 401001), body
    _, body = call(addr, "GET", "/naming/v1/services?limit=100", token=token)
    assert {s["namespace"] for s in body["services"]} <= {granted}, body
    assert body["amount"] == len(body["services"]) == 1, body
    status, body = call(addr, "POST", "/naming/v1/services",
                        [{"namespace": granted, "name": "new"}], token=token)
    assert (status, body["code"]) == (401, 401001), body
    status, body = call(addr, "POST", "/naming/v1/namespaces/delete", [{"name": other}],
                        token=token)
    assert status == 401, body
    # Users, groups and strategies are for main accounts.
    status, body = call(addr, "POST", "/core/v1/users", [{"name": unique("x"),
                                                          "password": "secret123"}], token=token)
    assert body["code"] == 403002, body
    _, body = call(addr, "GET", f"/naming/v1/services?namespace={granted}", token=ADMIN_TOKEN)
    assert [s["name"] for s in body["services"]] == ["svc"], "nothing was written"


def test_a_refreshed_token_replaces_the_old_one(server):
    addr = server.http_addr
    user = create_sub_user(addr, unique("refresh"))
    old = token_of(addr, user)
    assert call(addr, "GET", "/core/v1/user/token?id=" + user, token=old)[1]["code"] == SUCCESS
    _, body = call(addr, "PUT", "/core/v1/user/token/refresh", {"id": user}, token=ADMIN_TOKEN)
    assert body["code"] == SUCCESS, body
    new = token_of(addr, user)
    assert new != old
    status, body = call(addr, "GET", "/core/v1/users", token=old)
    assert (status, body["code"]) == (401, 401004), body
    assert call(addr, "GET", "/core/v1/users", token=new)[1]["code"] == SUCCESS


def test_hostile_names_and_tokens_get_clear_codes_and_change_nothing(server):
    addr = server.http_addr
    _, before = call(addr, "GET", "/core/v1/users?limit=100", token=ADMIN_TOKEN)
    for name, code in [("x' OR '1'='1", 400101), ("a" * 5000, 400101), ("", 400101),
                       ("robert); DROP TABLE users;--", 400101)]:
        status, body = call(addr, "POST", "/core/v1/users", [{"name": name, "password": "secret123"}],
                            token=ADMIN_TOKEN)
        assert body["code"] == code and status == 400, (name[:20], body)
    for raw in [b"{", b"[1,2", b"\xff\xfe", b'[{"name": 5, "password": []}]']:
        status, body = call(addr, "POST", "/core/v1/users", raw=raw, token=ADMIN_TOKEN)
        assert status == 400 and body["code"] // 1000 == 400, (raw, body)
    status, body = login(addr, "'; SELECT * FROM users; --", "x")
    assert body["code"] == 400312, body
    status, body = call(addr, "POST", "/core/v1/user/login", raw=b'{"name": ["polaris"]}')
    assert status == 400, body
    for token in [base64.b64encode(os.urandom(n)).decode() for n in (1, 16, 17, 64, 600)]:
        status, body = call(addr, "GET", "/core/v1/users", token=token)
        assert (status, body["code"]) == (401, 401001), body
    _, after = call(addr, "GET", "/core/v1/users?limit=100", token=ADMIN_TOKEN)
    assert before["amount"] == after["amount"]


def test_password_guessing_is_locked_out_and_the_server_stays_responsive(server):
    addr = server.http_addr
    name = unique("victim")
    create_sub_user(addr, name, password="right-one")
    started = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(lambda i: login(addr, name, f"wrong-{i}", owner="polaris")[1]["code"],
                              range(40)))
    assert codes.count(401001) >= 10 and 403003 in codes, codes
    # Locked: even the right password is refused for now, without hashing.
    assert login(addr, name, "right-one", owner="polaris")[1]["code"] == 403003
    # Other requests were served all along.
    probe = time.monotonic()
    assert call(addr, "GET", "/naming/v1/namespaces", token=ADMIN_TOKEN)[1]["code"] == SUCCESS
    assert time.monotonic() - probe < 1.0
    assert time.monotonic() - started < 30
    # Other accounts are not affected.
    assert login(addr, "polaris", "polaris")[1]["code"] == SUCCESS


@pytest.fixture(scope="module")
def client_open_server():
    binary = server_binary()
    workdir = Path(tempfile.mkdtemp(prefix="polaris-auth-"))
    grpc_port, http_port, config_port = _free_port(), _free_port(), _free_port()
    config = workdir / "polaris-server.yaml"
    config.write_text(CONFIG.format(http_port=http_port, grpc_port=grpc_port,
                                    config_port=config_port, data_dir=workdir / "data")
                      + "auth:\n  strategy:\n    option: { clientOpen: true }\n")
    log = open(workdir / "server.log", "wb")
    process = subprocess.Popen([str(binary), "start", "--config", str(config)], cwd=workdir,
                               stdout=log, stderr=subprocess.STDOUT)
    grpc_addr = f"127.0.0.1:{grpc_port}"
    try:
        assert wait_until(lambda: process.poll() is not None or _grpc_answers(grpc_addr), 30)
        assert process.poll() is None, (workdir / "server.log").read_text()
        config_addr = f"127.0.0.1:{config_port}"
        assert wait_until(lambda: _config_grpc_answers(config_addr), 30)
        yield grpc_addr, f"127.0.0.1:{http_port}", config_addr
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def test_registration_needs_no_token_while_client_checks_are_off(server):
    with grpc.insecure_channel(server.grpc_addr) as channel:
        reply = Client(channel).register(instance(unique("open"), "10.0.0.1", 80))
        assert reply.code.value == SUCCESS, reply


def test_registration_needs_a_token_when_client_checks_are_on(client_open_server):
    grpc_addr, http_addr, _ = client_open_server
    service = unique("guarded")
    with grpc.insecure_channel(grpc_addr) as channel:
        client = Client(channel)
        reply = client.register(instance(service, "10.0.0.1", 80))
        assert reply.code.value == 401001, reply
        bogus = [("x-polaris-token", base64.b64encode(os.urandom(40)).decode())]
        reply = client.stub.RegisterInstance(instance(service, "10.0.0.1", 80), metadata=bogus)
        assert reply.code.value == 401001, reply
        reply = client.stub.RegisterInstance(instance(service, "10.0.0.1", 80),
                                             metadata=[("x-polaris-token", ADMIN_TOKEN)])
        assert reply.code.value == SUCCESS, reply
        # The instance's service_token works too, and heartbeats are never checked.
        ins = instance(service, "10.0.0.2", 80, service_token=S(ADMIN_TOKEN))
        assert client.register(ins).code.value == SUCCESS
        assert client.heartbeat(instance(service, "10.0.0.1", 80)).code.value != 401001
        # Discovery without a token is a read: allowed while clientStrict is off.
        answers = client.discover_one(client.instance_request(service), timeout=5)
        assert answers.code.value == SUCCESS and len(answers.instances) == 2, answers



def test_a_strategy_naming_a_service_by_id_grants_writes_to_it_only(server):
    addr = server.http_addr
    ns = unique("byid")
    _, body = call(addr, "POST", "/naming/v1/namespaces", [{"name": ns}], token=ADMIN_TOKEN)
    assert body["code"] == SUCCESS, body
    _, body = call(addr, "POST", "/naming/v1/services",
                   [{"namespace": ns, "name": "mine"}, {"namespace": ns, "name": "theirs"}],
                   token=ADMIN_TOKEN)
    assert body["code"] == SUCCESS, body
    _, body = call(addr, "GET", f"/naming/v1/services?namespace={ns}&name=mine", token=ADMIN_TOKEN)
    service_id = body["services"][0]["id"]
    name = unique("writer")
    user = create_sub_user(addr, name)
    strategy = {"name": unique("write-one"), "action": "READ_WRITE",
                "principals": {"users": [{"id": user}]},
                "resources": {"services": [{"id": service_id}]}}
    _, body = call(addr, "POST", "/core/v1/auth/strategy", strategy, token=ADMIN_TOKEN)
    assert body["code"] == SUCCESS, body
    token = token_of(addr, user)
    instance_of = lambda svc: [{"namespace": ns, "service": svc, "host": "10.1.1.1", "port": 80}]
    status, body = call(addr, "POST", "/naming/v1/instances", instance_of("mine"), token=token)
    assert body["code"] == SUCCESS, body
    status, body = call(addr, "POST", "/naming/v1/instances", instance_of("theirs"), token=token)
    assert (status, body["code"]) == (401, 401001), body
    _, body = call(addr, "GET", f"/core/v1/auth/principal/resources?principal_id={user}"
                   "&principal_type=user", token=ADMIN_TOKEN)
    services = body["resources"]["services"]
    assert [s["name"] for s in services] == ["mine"] and services[0]["namespace"] == ns, body


def test_config_writes_need_a_token_and_reads_do_not_when_client_checks_are_on(client_open_server):
    from polarismesh_specification.api.v1.config_manage import (
        config_file_pb2,
        grpc_config_api_pb2_grpc,
    )
    _, _, config_addr = client_open_server
    group, name = unique("guarded-group"), unique("file") + ".txt"
    info = config_file_pb2.ConfigFilePublishInfo(
        namespace=S("default"), group=S(group), file_name=S(name), content=S("v=1"),
        format=S("text"))
    with grpc.insecure_channel(config_addr) as channel:
        stub = grpc_config_api_pb2_grpc.PolarisConfigGRPCStub(channel)
        reply = stub.UpsertAndPublishConfigFile(info, timeout=10)
        assert reply.code.value == 401001, reply
        reply = stub.UpsertAndPublishConfigFile(
            info, timeout=10, metadata=[("x-polaris-token", ADMIN_TOKEN)])
        assert reply.code.value == SUCCESS, reply
        query = config_file_pb2.ClientConfigFileInfo(
            namespace=S("default"), group=S(group), file_name=S(name))
        reply = stub.GetConfigFile(query, timeout=10)
        assert reply.code.value == SUCCESS and reply.configFile.content.value == "v=1", reply


def test_groups_and_strategies_round_trip_and_group_tokens_carry_the_groups_grants(server):
    addr = server.http_addr
    ns = unique("team-ns")
    _, body = call(addr, "POST", "/naming/v1/namespaces", [{"name": ns}], token=ADMIN_TOKEN)
    assert body["code"] == SUCCESS, body
    alice, bob = create_sub_user(addr, unique("alice")), create_sub_user(addr, unique("bob"))
    group_name = unique("team")
    _, body = call(addr, "POST", "/core/v1/usergroup",
                   {"name": group_name, "relation": {"users": [{"id": alice}]}}, token=ADMIN_TOKEN)
    assert body["code"] == SUCCESS, body
    group = body["userGroup"]["id"]
    _, body = call(addr, "POST", "/core/v1/usergroup", {"name": group_name}, token=ADMIN_TOKEN)
    assert body["code"] == 400216, body
    _, body = call(addr, "PUT", "/core/v1/usergroups",
                   [{"id": group, "add_relations": {"users": [{"id": bob}]},
                     "remove_relations": {"users": [{"id": alice}]}}], token=ADMIN_TOKEN)
    assert body["code"] == SUCCESS, body
    _, body = call(addr, "GET", f"/core/v1/usergroup/detail?id={group}", token=ADMIN_TOKEN)
    assert [u["id"] for u in body["userGroup"]["relation"]["users"]] == [bob], body
    _, body = call(addr, "GET", f"/core/v1/usergroups?user_id={bob}", token=ADMIN_TOKEN)
    assert [g["id"] for g in body["userGroups"]] == [group], body

    strategy = {"name": unique("team-rw"), "action": "READ_WRITE",
                "principals": {"groups": [{"id": group}]},
                "resources": {"namespaces": [{"id": ns}]}}
    _, body = call(addr, "POST", "/core/v1/auth/strategy", strategy, token=ADMIN_TOKEN)
    assert body["code"] == SUCCESS, body
    strategy_id = body["authStrategy"]["id"]
    _, body = call(addr, "GET", f"/core/v1/auth/strategies?principal_id={group}"
                   "&principal_type=group&show_detail=true", token=ADMIN_TOKEN)
    names = {s["name"] for s in body["authStrategies"]}
    assert strategy["name"] in names and any(n.startswith("(用户组)") for n in names), body

    # Bob writes through the group; so does the group's own token; Alice left the group.
    write = [{"namespace": ns, "name": unique("svc")}]
    assert call(addr, "POST", "/naming/v1/services", write,
                token=token_of(addr, bob))[1]["code"] == SUCCESS
    _, body = call(addr, "GET", f"/core/v1/usergroup/token?id={group}", token=ADMIN_TOKEN)
    group_token = body["userGroup"]["auth_token"]
    assert call(addr, "POST", "/naming/v1/services", [{"namespace": ns, "name": unique("g")}],
                token=group_token)[1]["code"] == SUCCESS
    assert call(addr, "POST", "/naming/v1/services", [{"namespace": ns, "name": unique("a")}],
                token=token_of(addr, alice))[0] == 401
    _, body = call(addr, "PUT", "/core/v1/usergroup/token/status",
                   {"id": group, "token_enable": False}, token=ADMIN_TOKEN)
    assert body["code"] == SUCCESS, body
    assert call(addr, "GET", "/naming/v1/namespaces", token=group_token)[1]["code"] == 401003

    # Narrowing the strategy to read-only takes Bob's writes away at once.
    _, body = call(addr, "PUT", "/core/v1/auth/strategies", [{"id": strategy_id,
                                                              "action": "ONLY_READ"}],
                   token=ADMIN_TOKEN)
    assert body["code"] == SUCCESS, body
    assert call(addr, "POST", "/naming/v1/services", [{"namespace": ns, "name": unique("b")}],
                token=token_of(addr, bob))[0] == 401
    _, body = call(addr, "POST", "/core/v1/auth/strategies/delete", [{"id": strategy_id}],
                   token=ADMIN_TOKEN)
    assert body["code"] == SUCCESS, body
    _, body = call(addr, "POST", "/core/v1/usergroups/delete", [{"id": group}, {}],
                   token=ADMIN_TOKEN)
    assert [r["code"] for r in body["responses"]] == [SUCCESS, 400421], body
    _, body = call(addr, "GET", f"/core/v1/usergroup/detail?id={group}", token=ADMIN_TOKEN)
    assert body["code"] == 400314, body
