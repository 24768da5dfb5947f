"""Fixtures: one real polaris-server per session with its xDS port, and an ADS client."""

import json
import os
import queue
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import grpc
import pytest
from envoy.config.core.v3 import base_pb2
from envoy.service.discovery.v3 import ads_pb2_grpc, discovery_pb2
from google.protobuf import struct_pb2

REPO = Path(__file__).resolve().parents[3]
# The console's default admin token (console endpoints are checked by default, as officially).
ADMIN_TOKEN = "nu/0WRA4EqSR1FagrjRj0fZwPXuGlMpX+zCuWu4uMqy8xr1vRjisSbA25aAC3mtU8MeeRsKhQiDAynUR09I="
SUCCESS = 200000

CDS = "type.googleapis.com/envoy.config.cluster.v3.Cluster"
EDS = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment"
LDS = "type.googleapis.com/envoy.config.listener.v3.Listener"
RDS = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration"

CONFIG = """\
apiservers:
  - name: api-http
    option: {{ listenIP: "127.0.0.1", listenPort: {http_port} }}
  - name: service-grpc
    option: {{ listenIP: "127.0.0.1", listenPort: {grpc_port} }}
  - name: xds-v3
    option: {{ listenIP: "127.0.0.1", listenPort: {xds_port} }}
store:
  name: embedded
  option: {{ path: {data_dir} }}
"""


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate, timeout, interval=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def server_binary():
    for path in [os.environ.get("POLARIS_SERVER_BIN"),
                 os.environ.get("CARGO_TARGET_DIR") and
                 os.path.join(os.environ["CARGO_TARGET_DIR"], "debug", "polaris-server"),
                 REPO / "target" / "debug" / "polaris-server"]:
        if path and os.access(path, os.X_OK):
            return str(path)
    raise RuntimeError("polaris-server binary not found; set POLARIS_SERVER_BIN")


class Server:
    def __init__(self, http_addr, xds_addr, log_path):
        self.http_addr, self.xds_addr, self.log_path = http_addr, xds_addr, log_path

    def http(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"http://{self.http_addr}{path}", data=data, method=method,
            headers={"Content-Type": "application/json", "X-Polaris-Token": ADMIN_TOKEN})
        try:
            with urllib.request.urlopen(request, timeout=10) as reply:
                return reply.status, json.loads(reply.read() or b"null")
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read() or b"null")

    def register(self, service, host, port, namespace="default", **extra):
        body = {"service": service, "namespace": namespace, "host": host, "port": port}
        body.update(extra)
        status, reply = self.http("POST", "/v1/RegisterInstance", body)
        assert status == 200 and reply["code"] in (SUCCESS, 200001), reply
        return reply

    def deregister(self, service, host, port, namespace="default"):
        body = {"service": service, "namespace": namespace, "host": host, "port": port}
        status, reply = self.http("POST", "/v1/DeregisterInstance", body)
        assert status == 200 and reply["code"] == SUCCESS, reply

    def isolate(self, service, host, port, isolate=True, namespace="default"):
        body = [{"service": service, "namespace": namespace, "host": host, "port": port,
                 "isolate": isolate}]
        status, reply = self.http("PUT", "/naming/v1/instances", body)
        assert status == 200 and reply["code"] == SUCCESS, reply

    def log_tail(self, lines=40):
        return "\n".join(Path(self.log_path).read_text(errors="replace").splitlines()[-lines:])


def _xds_answers(addr):
    channel = grpc.insecure_channel(addr)
    try:
        grpc.channel_ready_future(channel).result(timeout=1)
        return True
    except grpc.FutureTimeoutError:
        return False
    finally:
        channel.close()


@pytest.fixture(scope="session")
def server():
    workdir = Path(tempfile.mkdtemp(prefix="polaris-xds-"))
    http_port, grpc_port, xds_port = free_port(), free_port(), free_port()
    config = workdir / "polaris-server.yaml"
    config.write_text(CONFIG.format(http_port=http_port, grpc_port=grpc_port, xds_port=xds_port,
                                    data_dir=workdir / "data"))
    log_path = workdir / "server.log"
    log = open(log_path, "wb")
    process = subprocess.Popen([server_binary(), "start", "--config", str(config)],
                               cwd=workdir, stdout=log, stderr=subprocess.STDOUT)
    srv = Server(f"127.0.0.1:{http_port}", f"127.0.0.1:{xds_port}", log_path)
    try:
        ok = wait_until(lambda: process.poll() is not None or _xds_answers(srv.xds_addr), 30, 0.1)
        assert ok and process.poll() is None, f"server did not start:\n{srv.log_tail()}"
        yield srv
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
        if os.environ.get("POLARIS_XDS_KEEP") is None:
            shutil.rmtree(workdir, ignore_errors=True)


def sidecar_node(namespace="default", service=None, node_id=None):
    node = base_pb2.Node(id=node_id or f"{namespace}/{uuid.uuid4()}~10.0.0.9")
    if service:
        meta = struct_pb2.Struct()
        meta.update({"sidecar.polarismesh.cn/serviceName": service,
                     "sidecar.polarismesh.cn/serviceNamespace": namespace})
        node.metadata.CopyFrom(meta)
    return node


class Ads:
    """An ADS stream driven like Envoy: requests in, responses read on a thread."""

    def __init__(self, addr, node, metadata=None):
        self.channel = grpc.insecure_channel(addr)
        self.node = node
        self.requests = queue.Queue()
        self.responses = queue.Queue()
        stub = ads_pb2_grpc.AggregatedDiscoveryServiceStub(self.channel)
        self.call = stub.StreamAggregatedResources(self._generate(), metadata=metadata)
        self.error = None
        threading.Thread(target=self._read, daemon=True).start()

    def _generate(self):
        while True:
            item = self.requests.get()
            if item is None:
                return
            yield item

    def _read(self):
        try:
            for response in self.call:
                self.responses.put(response)
        except grpc.RpcError as err:
            self.error = err
            self.responses.put(err)

    def send(self, type_url, names=(), version="", nonce="", error=None):
        request = discovery_pb2.DiscoveryRequest(
            node=self.node, type_url=type_url, resource_names=list(names),
            version_info=version, response_nonce=nonce)
        if error:
            request.error_detail.code = 3
            request.error_detail.message = error
        self.requests.put(request)

    def recv(self, type_url=None, timeout=5.0):
        """The next response (of `type_url` when given; others are skipped)."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {type_url or 'response'} within {timeout}s")
            try:
                item = self.responses.get(timeout=left)
            except queue.Empty:
                continue
            if isinstance(item, Exception):
                raise item
            if type_url is None or item.type_url == type_url:
                return item

    def recv_none(self, type_url, timeout):
        """Asserts no response of `type_url` arrives within `timeout`."""
        try:
            response = self.recv(type_url, timeout)
        except AssertionError:
            return
        raise AssertionError(f"unexpected {type_url} response: version {response.version_info}")

    def subscribe(self, type_url, names=(), timeout=5.0):
        """Requests a type and ACKs the response; returns it."""
        self.send(type_url, names)
        response = self.recv(type_url, timeout)
        self.ack(response, names)
        return response

    def ack(self, response, names=()):
        self.send(response.type_url, names, version=response.version_info, nonce=response.nonce)

    def close(self):
        self.requests.put(None)
        self.channel.close()


@pytest.fixture
def ads_factory(server):
    streams = []

    def make(node, metadata=None):
        stream = Ads(server.xds_addr, node, metadata)
        streams.append(stream)
        return stream

    yield make
    for stream in streams:
        stream.close()
