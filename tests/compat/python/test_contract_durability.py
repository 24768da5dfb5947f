"""A reported service contract is acknowledged only once durable: it survives `kill -9` of the
server, with the same revision, read back over PolarisServiceContractGRPC by a real grpcio client."""

import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

import grpc

from conftest import CONFIG, START_DEADLINE_S, _free_port, _grpc_answers, server_binary
from helpers import SUCCESS, contract_pb2, grpcapi_pb2_grpc, unique, wait_until


def _start(workdir, grpc_port, http_port, config_port):
    config = workdir / "polaris-server.yaml"
    config.write_text(CONFIG.format(http_port=http_port, grpc_port=grpc_port,
                                    config_port=config_port, data_dir=workdir / "data"))
    log = open(workdir / "server.log", "ab")
    process = subprocess.Popen([str(server_binary()), "start", "--config", str(config)],
                               cwd=workdir, stdout=log, stderr=subprocess.STDOUT)
    log.close()
    addr = f"127.0.0.1:{grpc_port}"
    up = wait_until(lambda: process.poll() is not None or _grpc_answers(addr),
                    START_DEADLINE_S, interval=0.1)
    assert up and process.poll() is None, (workdir / "server.log").read_text(errors="replace")
    return process, addr


def _contract(service, paths):
    return contract_pb2.ServiceContract(
        name="rest-api", namespace="default", service=service, protocol="http", version="v1",
        interfaces=[contract_pb2.InterfaceDescriptor(method="GET", path=p) for p in paths])


def _get(addr, service):
    with grpc.insecure_channel(addr) as channel:
        stub = grpcapi_pb2_grpc.PolarisServiceContractGRPCStub(channel)
        query = contract_pb2.ServiceContract(name="rest-api", namespace="default",
                                              service=service, protocol="http", version="v1")
        return stub.GetServiceContract(query, timeout=10)


def test_reported_contract_survives_kill_9():
    workdir = Path(tempfile.mkdtemp(prefix="polaris-contract-"))
    ports = [_free_port() for _ in range(3)]
    service = unique("durable-contract")
    process = None
    try:
        process, addr = _start(workdir, *ports)
        with grpc.insecure_channel(addr) as channel:
            stub = grpcapi_pb2_grpc.PolarisServiceContractGRPCStub(channel)
            reply = stub.ReportServiceContract(_contract(service, ["/a", "/b"]), timeout=10)
            assert reply.code.value == SUCCESS, reply
        before = _get(addr, service)
        assert before.code.value == SUCCESS, before

        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
        process, addr = _start(workdir, *ports)

        after = _get(addr, service)
        assert after.code.value == SUCCESS, after
        assert [i.path for i in after.serviceContract.interfaces] == ["/a", "/b"]
        assert after.serviceContract.revision == before.serviceContract.revision
    finally:
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()
        shutil.rmtree(workdir, ignore_errors=True)
