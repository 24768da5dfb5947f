"""Hostile or careless gRPC clients: the server answers with an error status or keeps serving,
never hangs, and other clients are not held up."""

import random
import time
from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest

from helpers import NOT_FOUND_RESOURCE, SUCCESS, Client, instance, unique

REGISTER = "/v1.PolarisGRPC/RegisterInstance"
CALL_TIMEOUT_S = 10
# Codes grpc-go (the official server) and tonic use for an undecodable request.
DECODE_ERRORS = {grpc.StatusCode.INTERNAL, grpc.StatusCode.INVALID_ARGUMENT}


def raw_register(channel):
    """RegisterInstance taking and returning raw bytes."""
    return channel.unary_unary(REGISTER, request_serializer=None, response_deserializer=None)


def assert_still_serving(addr):
    """A fresh connection can register and discover."""
    with grpc.insecure_channel(addr) as ch:
        other = Client(ch)
        svc = unique("alive")
        assert other.register(instance(svc, "10.1.1.1", 80)).code.value == SUCCESS
        assert len(other.instances_of(svc)) == 1


def expect_error(call, payload):
    started = time.monotonic()
    with pytest.raises(grpc.RpcError) as raised:
        call(payload, timeout=CALL_TIMEOUT_S)
    code = raised.value.code()
    assert code != grpc.StatusCode.DEADLINE_EXCEEDED, "the server hung on the request"
    assert time.monotonic() - started < CALL_TIMEOUT_S / 2
    return raised.value


def test_garbage_bytes_get_an_error_status(channel, addrs):
    rng = random.Random(1234)
    # 0x07 = field 0 with wire type 7: invalid whatever follows.
    payload = b"\x07" + bytes(rng.getrandbits(8) for _ in range(512))
    err = expect_error(raw_register(channel), payload)
    assert err.code() in DECODE_ERRORS, err
    assert_still_serving(addrs[0])


def test_truncated_protobuf_gets_an_error_status(channel, addrs):
    whole = instance(unique("trunc"), "10.0.0.1", 8080,
                     metadata={"k": "v" * 100}).SerializeToString()
    payload = whole[:-20]  # cut inside the metadata entry
    err = expect_error(raw_register(channel), payload)
    assert err.code() in DECODE_ERRORS, err
    assert_still_serving(addrs[0])


def _oversized():
    ins = instance(unique("huge"), "10.0.0.1", 8080, metadata={"blob": "x" * (17 * 1024 * 1024)})
    payload = ins.SerializeToString()
    assert len(payload) > 16 * 1024 * 1024
    return payload


def test_oversized_message_is_refused(channel, addrs):
    err = expect_error(raw_register(channel), _oversized())
    assert err.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, err
    assert_still_serving(addrs[0])


def test_oversized_config_request_is_resource_exhausted(server):
    """The config port (8093) refuses an oversized request the same way."""
    channel = grpc.insecure_channel(server.config_addr,
                                    options=[("grpc.max_send_message_length", 64 << 20)])
    try:
        call = channel.unary_unary("/v1.PolarisConfigGRPC/GetConfigFile",
                                   request_serializer=None, response_deserializer=None)
        err = expect_error(call, _oversized())
        assert err.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, err
    finally:
        channel.close()


def test_silent_discover_stream_stays_open(client, addrs):
    stream = client.stream()
    try:
        for _ in range(3):
            assert_still_serving(addrs[0])
        assert stream.recv_or_none(1.0) is None, "the server ended or answered a silent stream"
        svc = unique("late")
        stream.send(client.instance_request(svc))
        reply = stream.recv(5)
        assert reply.code.value == NOT_FOUND_RESOURCE
        assert reply.service.name.value == svc
    finally:
        stream.close()


def test_five_thousand_requests_answered_in_order(client):
    known = unique("burst-known")
    client.register(instance(known, "10.0.0.1", 8080))
    total = 5000
    names = [known if i % 7 == 0 else f"burst-unknown-{i}" for i in range(total)]
    stream = client.stream()
    try:
        for name in names:
            stream.send(client.instance_request(name))
        for i, name in enumerate(names):
            reply = stream.recv(10)
            assert reply.service.name.value == name, f"reply {i} is for another request"
            expected = SUCCESS if name == known else NOT_FOUND_RESOURCE
            assert reply.code.value == expected, (i, reply.code.value)
        assert stream.recv_or_none(0.3) is None, "more replies than requests"
    finally:
        stream.close()


def test_non_reading_push_client_does_not_hold_up_others(addrs):
    big, small = unique("flood"), unique("quiet")
    padding = "p" * 2048
    with grpc.insecure_channel(addrs[0]) as slow_ch, grpc.insecure_channel(addrs[0]) as fast_ch, \
            grpc.insecure_channel(addrs[0]) as writer_ch:
        writer = Client(writer_ch)

        def reg(svc, n):
            reply = writer.register(instance(svc, f"10.2.{n // 250}.{n % 250}", 8080,
                                             metadata={"pad": padding}))
            assert reply.code.value == SUCCESS

        for n in range(40):
            reg(big, n)
        reg(small, 0)

        slow = Client(slow_ch).stream(push=True, read=False)
        fast = Client(fast_ch).stream(push=True)
        try:
            slow.send(Client.instance_request(big))
            fast.send(Client.instance_request(big))
            fast.send(Client.instance_request(small))
            assert fast.recv(5).service.name.value == big
            assert fast.recv(5).service.name.value == small

            # Many changes, each push of `big` some 100 KB: far past the slow client's window.
            with ThreadPoolExecutor(8) as pool:
                list(pool.map(lambda n: reg(big, n), range(40, 240)))

            def latest_count(deadline_s):
                count, deadline = None, time.monotonic() + deadline_s
                while count != 240 and time.monotonic() < deadline:
                    reply = fast.recv_or_none(max(0.01, deadline - time.monotonic()))
                    if reply is None:
                        break
                    if reply.service.name.value == big:
                        count = len(reply.instances)
                return count

            assert latest_count(3.0) == 240, "the reading client missed the newest state"

            started = time.monotonic()
            reg(small, 1)
            pushed = fast.recv_or_none(2.0)
            assert pushed is not None, "no push to a reading client while another one is stuck"
            assert pushed.service.name.value == small and len(pushed.instances) == 2
            assert time.monotonic() - started < 2.0
            assert_still_serving(addrs[0])

            # Once it reads, the stuck client catches up with the newest state, nothing lost.
            slow.start_reading()
            first = slow.recv(5)
            assert first.service.name.value == big and first.code.value == SUCCESS
            newest, received = len(first.instances), 1
            deadline = time.monotonic() + 5.0
            while newest != 240 and time.monotonic() < deadline:
                reply = slow.recv_or_none(max(0.01, deadline - time.monotonic()))
                if reply is None:
                    break
                received += 1
                newest = len(reply.instances)
            assert newest == 240, f"the slow client never got the newest state ({newest})"
            print(f"slow client caught up after {received} messages for 200 changes")
        finally:
            slow.close()
            fast.close()


def test_random_bytes_never_crash_the_server(channel, addrs):
    """A few hundred random payloads: each gets a status (error or a Polaris code), none hangs."""
    rng = random.Random(99)
    call = raw_register(channel)
    for _ in range(200):
        payload = bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 64)))
        try:
            call(payload, timeout=CALL_TIMEOUT_S)
        except grpc.RpcError as err:
            assert err.code() != grpc.StatusCode.DEADLINE_EXCEEDED
            assert err.code() != grpc.StatusCode.UNAVAILABLE, "the server went away"
    assert_still_serving(addrs[0])



def _discover_raw(channel, frames):
    """Runs a Discover stream of raw frames; returns (replies received, the error ending it)."""
    call = channel.stream_stream("/v1.PolarisGRPC/Discover",
                                 request_serializer=None, response_deserializer=None)
    replies = []
    with pytest.raises(grpc.RpcError) as raised:
        for reply in call(iter(frames), timeout=CALL_TIMEOUT_S):
            replies.append(reply)
    return replies, raised.value


def test_discover_stream_ends_with_the_reason_for_a_bad_frame(client, channel, addrs):
    """A garbage frame after a good request ends the stream with INTERNAL (as grpc-go does, not
    with OK); an oversized one with RESOURCE_EXHAUSTED. Earlier replies are delivered."""
    good = client.instance_request(unique("stream-ok")).SerializeToString()
    replies, err = _discover_raw(channel, [good, b"\xff\xff\xff\xff\x0f"])
    assert err.code() == grpc.StatusCode.INTERNAL, err
    assert len(replies) == 1
    replies, err = _discover_raw(channel, [good, _oversized()])
    assert err.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, err
    assert len(replies) == 1
    assert_still_serving(addrs[0])


def test_config_discover_stream_ends_with_the_reason_for_a_bad_frame(server):
    """The same on the config port: the empty request is answered, then garbage ends the stream
    with INTERNAL."""
    with grpc.insecure_channel(server.config_addr) as channel:
        call = channel.stream_stream("/v1.PolarisConfigGRPC/Discover",
                                     request_serializer=None, response_deserializer=None)
        replies = []
        with pytest.raises(grpc.RpcError) as raised:
            for reply in call(iter([b"", b"\xff\xff\xff\xff\x0f"]), timeout=CALL_TIMEOUT_S):
                replies.append(reply)
        assert raised.value.code() == grpc.StatusCode.INTERNAL, raised.value
        assert len(replies) == 1
