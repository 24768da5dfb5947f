"""Thin helpers over the official generated stubs (polarismesh-specification on PyPI)."""

import itertools
import os
import queue
import threading
import time

from google.protobuf import wrappers_pb2

from polaris_shim import (
    client_pb2,
    contract_pb2,
    grpcapi_pb2_grpc,
    request_pb2,
    service_pb2,
)

SUCCESS = 200000
DATA_NO_CHANGE = 200001
NOT_FOUND_RESOURCE = 400202

Req = request_pb2.DiscoverRequest
ReqType = request_pb2.DiscoverRequest.DiscoverRequestType
PUSH_KEY = "x-polaris-push"

_unique = itertools.count(1)


def unique(prefix):
    """A name no other test uses (the server is shared by the session)."""
    return f"{prefix}-{os.getpid()}-{next(_unique)}"


def wait_until(predicate, timeout, interval=0.05):
    """Polls `predicate` until it is truthy or `timeout` seconds pass; returns the last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


def S(value):
    return wrappers_pb2.StringValue(value=value)


def U(value):
    return wrappers_pb2.UInt32Value(value=value)


def B(value):
    return wrappers_pb2.BoolValue(value=value)


def instance(service, host, port, namespace="default", ttl=None, **extra):
    ins = service_pb2.Instance(
        service=S(service), namespace=S(namespace), host=S(host), port=U(port), **extra)
    if ttl is not None:
        ins.enable_health_check.CopyFrom(B(True))
        ins.health_check.type = service_pb2.HealthCheck.HEARTBEAT
        ins.health_check.heartbeat.ttl.CopyFrom(U(ttl))
    return ins


class DiscoverStream:
    """A Discover bidi stream fed from a queue; replies are read by a thread into a queue
    (unless `read=False`, which leaves them unread on the wire)."""

    def __init__(self, stub, push=False, read=True):
        self._requests = queue.Queue()
        self.replies = queue.Queue()
        metadata = [(PUSH_KEY, "true")] if push else None
        self.call = stub.Discover(self._generate(), metadata=metadata)
        self._reader = None
        if read:
            self._reader = threading.Thread(target=self._read, daemon=True)
            self._reader.start()

    def start_reading(self):
        """Starts reading a stream opened with `read=False`."""
        if self._reader is None:
            self._reader = threading.Thread(target=self._read, daemon=True)
            self._reader.start()

    def _generate(self):
        while True:
            item = self._requests.get()
            if item is None:
                return
            yield item

    def _read(self):
        try:
            for reply in self.call:
                self.replies.put(reply)
        except Exception as err:  # grpc.RpcError on cancel or failure
            self.replies.put(err)

    def send(self, request):
        self._requests.put(request)

    def recv(self, timeout=5.0):
        """The next reply; raises queue.Empty after `timeout`, re-raises a stream error."""
        item = self.replies.get(timeout=timeout)
        if isinstance(item, Exception):
            raise item
        return item

    def recv_or_none(self, timeout):
        try:
            return self.recv(timeout)
        except queue.Empty:
            return None

    def close(self):
        self._requests.put(None)
        self.call.cancel()


class Client:
    def __init__(self, channel):
        self.channel = channel
        self.stub = grpcapi_pb2_grpc.PolarisGRPCStub(channel)
        self.contracts = grpcapi_pb2_grpc.PolarisServiceContractGRPCStub(channel)

    # unary calls
    def register(self, ins, timeout=10):
        return self.stub.RegisterInstance(ins, timeout=timeout)

    def deregister(self, ins, timeout=10):
        return self.stub.DeregisterInstance(ins, timeout=timeout)

    def heartbeat(self, ins, timeout=10):
        return self.stub.Heartbeat(ins, timeout=timeout)

    def report_client(self, client, timeout=10):
        return self.stub.ReportClient(client, timeout=timeout)

    # discover
    @staticmethod
    def instance_request(service, namespace="default", revision=None, metadata=None):
        svc = service_pb2.Service(name=S(service), namespace=S(namespace))
        if revision is not None:
            svc.revision.CopyFrom(S(revision))
        if metadata:
            svc.metadata.update(metadata)
        return Req(type=ReqType.INSTANCE, service=svc)

    @staticmethod
    def services_request(namespace, revision=None):
        svc = service_pb2.Service(namespace=S(namespace))
        if revision is not None:
            svc.revision.CopyFrom(S(revision))
        return Req(type=ReqType.SERVICES, service=svc)

    def stream(self, push=False, read=True):
        return DiscoverStream(self.stub, push=push, read=read)

    def discover_one(self, request, timeout=5.0):
        """Opens a stream, sends one request, returns its reply."""
        stream = self.stream()
        try:
            stream.send(request)
            return stream.recv(timeout)
        finally:
            stream.close()

    def instances_of(self, service, namespace="default"):
        reply = self.discover_one(self.instance_request(service, namespace))
        assert reply.code.value == SUCCESS, reply
        return reply.instances


__all__ = ["client_pb2", "contract_pb2"]


# The default admin's token: console endpoints are checked by default, as officially.
ADMIN_TOKEN = "nu/0WRA4EqSR1FagrjRj0fZwPXuGlMpX+zCuWu4uMqy8xr1vRjisSbA25aAC3mtU8MeeRsKhQiDAynUR09I="
