"""Fixtures: one real polaris-server per test session on free loopback ports."""

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import grpc
import pytest

import polaris_shim  # noqa: F401  (must come before any other polarismesh_specification import)
from helpers import Client, wait_until

REPO = Path(__file__).resolve().parents[3]
START_DEADLINE_S = 30.0


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_binary():
    candidates = []
    if os.environ.get("POLARIS_SERVER_BIN"):
        candidates.append(Path(os.environ["POLARIS_SERVER_BIN"]))
    candidates.append(REPO / "target" / "debug" / "polaris-server")
    if os.environ.get("CARGO_TARGET_DIR"):
        candidates.append(Path(os.environ["CARGO_TARGET_DIR"]) / "debug" / "polaris-server")
    for path in candidates:
        if path.is_file() and os.access(path, os.X_OK):
            return path
    raise RuntimeError(
        "polaris-server binary not found (set POLARIS_SERVER_BIN or run "
        f"`cargo build -p polaris-server`); looked at {[str(c) for c in candidates]}"
    )


CONFIG = """\
apiservers:
  - name: api-http
    option: {{ listenIP: "127.0.0.1", listenPort: {http_port} }}
  - name: service-grpc
    option: {{ listenIP: "127.0.0.1", listenPort: {grpc_port} }}
  - name: config-grpc
    option: {{ listenIP: "127.0.0.1", listenPort: {config_port} }}
store:
  name: embedded
  option: {{ path: {data_dir} }}
"""


class Server:
    def __init__(self, process, grpc_addr, http_addr, workdir, log_path, config_addr=None):
        self.process = process
        self.grpc_addr = grpc_addr
        self.http_addr = http_addr
        self.config_addr = config_addr
        self.workdir = workdir
        self.log_path = log_path

    def log_tail(self, lines=40):
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "<no log>"


def _grpc_answers(grpc_addr):
    """True once a Discover round trip succeeds."""
    channel = grpc.insecure_channel(grpc_addr)
    try:
        client = Client(channel)
        reply = client.discover_one(client.services_request(""), timeout=1.0)
        return reply.code.value == 200000
    except grpc.RpcError:
        return False
    finally:
        channel.close()


def _config_grpc_answers(config_addr):
    """True once the config port answers a GetConfigFile (an empty request: 400000)."""
    from polarismesh_specification.api.v1.config_manage import (
        config_file_pb2,
        grpc_config_api_pb2_grpc,
    )
    channel = grpc.insecure_channel(config_addr)
    try:
        stub = grpc_config_api_pb2_grpc.PolarisConfigGRPCStub(channel)
        reply = stub.GetConfigFile(config_file_pb2.ClientConfigFileInfo(), timeout=1.0)
        return reply.code.value != 0
    except grpc.RpcError:
        return False
    finally:
        channel.close()


@pytest.fixture(scope="session")
def server():
    binary = server_binary()
    workdir = Path(tempfile.mkdtemp(prefix="polaris-compat-"))
    grpc_port, http_port, config_port = _free_port(), _free_port(), _free_port()
    while http_port == grpc_port:
        http_port = _free_port()
    while config_port in (grpc_port, http_port):
        config_port = _free_port()
    config = workdir / "polaris-server.yaml"
    config.write_text(CONFIG.format(http_port=http_port, grpc_port=grpc_port,
                                    config_port=config_port, data_dir=workdir / "data"))
    log_path = workdir / "server.log"
    log = open(log_path, "wb")
    process = subprocess.Popen(
        [str(binary), "start", "--config", str(config)],
        cwd=workdir, stdout=log, stderr=subprocess.STDOUT,
    )
    grpc_addr, http_addr = f"127.0.0.1:{grpc_port}", f"127.0.0.1:{http_port}"
    config_addr = f"127.0.0.1:{config_port}"
    srv = Server(process, grpc_addr, http_addr, workdir, log_path, config_addr=config_addr)
    try:
        ok = wait_until(lambda: process.poll() is not None or (
            _grpc_answers(grpc_addr) and _config_grpc_answers(config_addr)),
            START_DEADLINE_S, interval=0.1)
        if not ok or process.poll() is not None:
            raise RuntimeError(f"polaris-server did not answer gRPC on {grpc_addr} and "
                               f"{config_addr} within {START_DEADLINE_S}s "
                               f"(exit={process.poll()}):\n{srv.log_tail()}")
        yield srv
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        log.close()
        if os.environ.get("POLARIS_COMPAT_KEEP") is None:
            shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def addrs(server):
    """(grpc_addr, http_addr) of the running server."""
    return server.grpc_addr, server.http_addr


@pytest.fixture(scope="session")
def config_addr(server):
    """The address of the config gRPC port (`config-grpc`, PolarisConfigGRPC)."""
    return server.config_addr


@pytest.fixture
def channel(addrs):
    ch = grpc.insecure_channel(addrs[0], options=[
        ("grpc.max_receive_message_length", 64 * 1024 * 1024),
        ("grpc.max_send_message_length", 64 * 1024 * 1024),
    ])
    yield ch
    ch.close()


@pytest.fixture
def client(channel):
    return Client(channel)
