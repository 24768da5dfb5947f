"""One real polaris-server for the Eureka tests: HTTP, naming gRPC and Eureka on free loopback
ports. The gRPC helpers of the compatibility suite (official stubs) are reused from
tests/compat/python."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

import grpc
import pytest

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO / "tests" / "compat" / "python"))

import polaris_shim  # noqa: E402,F401  (before any other polarismesh_specification import)
from helpers import Client, wait_until  # noqa: E402

CONFIG = """\
apiservers:
  - name: api-http
    option: {{ listenIP: "127.0.0.1", listenPort: {http} }}
  - name: service-grpc
    option: {{ listenIP: "127.0.0.1", listenPort: {grpc} }}
  - name: service-eureka
    option: {{ listenIP: "127.0.0.1", listenPort: {eureka}, namespace: default }}
store:
  name: embedded
  option: {{ path: {data} }}
"""


def free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def binary():
    for candidate in [os.environ.get("POLARIS_SERVER_BIN"),
                      os.environ.get("CARGO_TARGET_DIR") and
                      str(Path(os.environ["CARGO_TARGET_DIR"]) / "debug" / "polaris-server"),
                      str(REPO / "target" / "debug" / "polaris-server")]:
        if candidate and Path(candidate).is_file():
            return candidate
    raise RuntimeError("polaris-server not built (set POLARIS_SERVER_BIN)")


class Server:
    def __init__(self, eureka_url, grpc_addr, log_path, process):
        self.eureka_url = eureka_url
        self.grpc_addr = grpc_addr
        self.log_path = log_path
        self.process = process

    def alive(self):
        return self.process.poll() is None


def _eureka_answers(url):
    try:
        with urllib.request.urlopen(url + "/apps", timeout=1) as reply:
            return reply.status == 200
    except OSError:
        return False


@pytest.fixture(scope="session")
def server():
    workdir = Path(tempfile.mkdtemp(prefix="polaris-eureka-"))
    http, grpc_port, eureka = free_ports(3)
    config = workdir / "polaris-server.yaml"
    config.write_text(CONFIG.format(http=http, grpc=grpc_port, eureka=eureka, data=workdir / "data"))
    log_path = workdir / "server.log"
    log = open(log_path, "wb")
    process = subprocess.Popen([binary(), "start", "--config", str(config)], cwd=workdir,
                               stdout=log, stderr=subprocess.STDOUT)
    srv = Server(f"http://127.0.0.1:{eureka}/eureka", f"127.0.0.1:{grpc_port}", log_path, process)
    try:
        if not wait_until(lambda: not srv.alive() or _eureka_answers(srv.eureka_url), 30, 0.1) \
                or not srv.alive():
            raise RuntimeError("server did not start:\n" + log_path.read_text(errors="replace"))
        yield srv
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def polaris(server):
    channel = grpc.insecure_channel(server.grpc_addr)
    yield Client(channel)
    channel.close()
