"""Proxyless gRPC: a plain grpcio client with GRPC_XDS_BOOTSTRAP pointing at the xDS port and an
`xds:///<svc>.<ns>` target calls a real grpcio server (the standard health service) registered
in Polaris, and moves to a new instance after the old one is deregistered."""

import json
import os
import subprocess
import sys
import textwrap
from concurrent import futures

import grpc
from grpc_health.v1 import health, health_pb2

from conftest import free_port, unique, wait_until

# The client runs in its own process: gRPC reads the bootstrap once per process.
CLIENT = textwrap.dedent("""
    import sys, time, grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc
    channel = grpc.insecure_channel(sys.argv[1])
    stub = health_pb2_grpc.HealthStub(channel)
    deadline = time.monotonic() + float(sys.argv[2])
    while time.monotonic() < deadline:
        try:
            reply = stub.Check(health_pb2.HealthCheckRequest(service="who"), timeout=2)
            print("reply", reply.status, flush=True)
        except grpc.RpcError as err:
            print("error", err.code().name, err.details(), flush=True)
        time.sleep(0.2)
""")


def health_server(status):
    """A grpcio server whose health service reports `status` for the service "who"."""
    port = free_port()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    servicer = health.HealthServicer()
    servicer.set("who", status)
    from grpc_health.v1 import health_pb2_grpc
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    return server, port


def test_proxyless_grpc_calls_and_follows_instances(server, tmp_path):
    svc = unique("echo")
    first, first_port = health_server(health_pb2.HealthCheckResponse.SERVING)
    second, second_port = health_server(health_pb2.HealthCheckResponse.NOT_SERVING)
    bootstrap = tmp_path / "bootstrap.json"
    bootstrap.write_text(json.dumps({
        "xds_servers": [{"server_uri": server.xds_addr,
                         "channel_creds": [{"type": "insecure"}],
                         "server_features": ["xds_v3"]}],
        "node": {"id": "default/proxyless-client~127.0.0.1", "locality": {}},
    }))
    server.register(svc, "127.0.0.1", first_port, protocol="grpc")
    env = dict(os.environ, GRPC_XDS_BOOTSTRAP=str(bootstrap))
    client = subprocess.Popen(
        [sys.executable, "-c", CLIENT, f"xds:///{svc}.default", "40"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    lines = []
    try:
        def saw(status):
            def check():
                line = client.stdout.readline()
                if line:
                    lines.append(line.strip())
                return line.strip() == f"reply {status}"
            return check

        serving = health_pb2.HealthCheckResponse.SERVING
        not_serving = health_pb2.HealthCheckResponse.NOT_SERVING
        assert wait_until(saw(serving), 20, 0), "\n".join(lines[-20:])
        server.register(svc, "127.0.0.1", second_port, protocol="grpc")
        server.deregister(svc, "127.0.0.1", first_port)
        assert wait_until(saw(not_serving), 15, 0), "\n".join(lines[-20:])
    finally:
        client.kill()
        client.wait()
        first.stop(0)
        second.stop(0)
