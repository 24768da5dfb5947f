"""Config center end to end (docs/wire/config.md): groups, files and releases are written over
the HTTP console API (`/config/v1`), and read back on the config gRPC port (`config-grpc`,
`v1.PolarisConfigGRPC`) with the official generated stubs, as the SDKs read them: GetConfigFile
(content, version, md5, 200001 for a newer client), the WatchConfigFiles long poll, the CAS
UpsertAndPublishConfigFile, gray releases, encrypted files with RSA-wrapped data keys,
rollbacks, GetConfigFileMetadataList revisions, and refusals of hostile requests.

Every wait is a deadline poll; the longest fixed wait is the ~2 s that proves a parked watch is
still pending (the server holds a watch for 30 s and offers no shorter timeout, so each parked
watch is woken by a publish instead of timing out; the 30 s timeout itself is checked only with
POLARIS_COMPAT_SLOW=1).
"""

import base64
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import threading
import urllib.error
import urllib.request

from helpers import ADMIN_TOKEN

import grpc
import pytest
from google.protobuf import wrappers_pb2

import polaris_shim  # noqa: F401  (before any other polarismesh_specification import)
from helpers import DATA_NO_CHANGE, NOT_FOUND_RESOURCE, SUCCESS, S, unique, wait_until
from polarismesh_specification.api.v1.config_manage import (
    config_file_pb2,
    config_file_response_pb2,
    grpc_config_api_pb2_grpc,
)

NS = "default"
BAD_REQUEST = 400000
INVALID_FILE_NAME = 400802
INVALID_WATCH_FORMAT = 400806
DATA_CONFLICT = 409000
DATA_KEY_TAG = "internal-datakey"
ENCRYPTED_TAG = "internal-encrypted"
RPC_TIMEOUT_S = 10.0
VISIBLE_DEADLINE_S = 5.0
PENDING_S = 2.0
WAKE_DEADLINE_S = 5.0


def md5_hex(text):
    return hashlib.md5(text.encode()).hexdigest()


def U64(value):
    return wrappers_pb2.UInt64Value(value=value)


# --- HTTP console ---------------------------------------------------------------------------------

def http(addr, method, path, body=None):
    """(HTTP status, parsed JSON body) of one console call."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"http://{addr}{path}", data=data, method=method,
                                     headers={"Content-Type": "application/json",
                                              "X-Polaris-Token": ADMIN_TOKEN})
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return reply.status, json.loads(reply.read() or b"null")
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"null")


def console_ok(addr, method, path, body=None):
    status, reply = http(addr, method, path, body)
    assert status == 200 and reply["code"] == SUCCESS, (method, path, status, reply)
    return reply


def create_group(addr, group, namespace=NS):
    console_ok(addr, "POST", "/config/v1/configfilegroups",
               {"namespace": namespace, "name": group, "comment": "compat"})


def create_file(addr, group, name, content, namespace=NS, **extra):
    body = {"namespace": namespace, "group": group, "name": name, "content": content,
            "format": "text", **extra}
    return console_ok(addr, "POST", "/config/v1/configfiles", body)


def update_file(addr, group, name, content, namespace=NS, **extra):
    body = {"namespace": namespace, "group": group, "name": name, "content": content,
            "format": "text", **extra}
    return console_ok(addr, "PUT", "/config/v1/configfiles", body)


def publish(addr, group, name, release_name, namespace=NS, **extra):
    """Publishes the file's current content; returns (HTTP status, reply)."""
    body = {"namespace": namespace, "group": group, "fileName": name, "name": release_name,
            **extra}
    return http(addr, "POST", "/config/v1/configfiles/release", body)


def publish_ok(addr, group, name, release_name, namespace=NS, **extra):
    status, reply = publish(addr, group, name, release_name, namespace, **extra)
    assert status == 200 and reply["code"] == SUCCESS, (status, reply)
    assert reply["configFileRelease"]["name"] == release_name, reply
    return reply


def new_file(addr, content, group=None, name=None, **extra):
    """A fresh group holding one file with `content`; returns (group, name)."""
    group = group or unique("cfg-group")
    name = name or unique("app") + ".properties"
    create_group(addr, group)
    create_file(addr, group, name, content, **extra)
    return group, name


# --- gRPC config port -----------------------------------------------------------------------------

def file_info(group, name, namespace=NS, version=None, tags=None, public_key=None):
    info = config_file_pb2.ClientConfigFileInfo(
        namespace=S(namespace), group=S(group), file_name=S(name))
    if version is not None:
        info.version.CopyFrom(U64(version))
    for key, value in (tags or {}).items():
        info.tags.add(key=S(key), value=S(value))
    if public_key is not None:
        info.public_key.CopyFrom(S(public_key))
    return info


def get_file(stub, group, name, **kwargs):
    reply = stub.GetConfigFile(file_info(group, name, **kwargs), timeout=RPC_TIMEOUT_S)
    assert isinstance(reply, config_file_response_pb2.ConfigClientResponse)
    return reply


def get_until(stub, group, name, predicate, deadline=VISIBLE_DEADLINE_S, **kwargs):
    """Polls GetConfigFile until `predicate(reply)` holds; returns the last reply."""
    last = []

    def probe():
        reply = get_file(stub, group, name, **kwargs)
        last[:] = [reply]
        return predicate(reply)

    wait_until(probe, deadline)
    return last[0]


def serves(content, version):
    return lambda r: (r.code.value == SUCCESS and r.configFile.content.value == content
                      and r.configFile.version.value == version)


def tag_map(config_file):
    return {t.key.value: t.value.value for t in config_file.tags}


def watch_request(*files):
    """files: (group, name, version) triples."""
    request = config_file_pb2.ClientWatchConfigFileRequest()
    for group, name, version in files:
        request.watch_files.append(file_info(group, name, version=version))
    return request


class PendingWatch:
    """A WatchConfigFiles call running in a thread."""

    def __init__(self, stub, request, timeout=60.0):
        self.reply = None
        self.error = None
        self._thread = threading.Thread(target=self._run, args=(stub, request, timeout),
                                        daemon=True)
        self._thread.start()

    def _run(self, stub, request, timeout):
        try:
            self.reply = stub.WatchConfigFiles(request, timeout=timeout)
        except grpc.RpcError as err:
            self.error = err

    def pending_after(self, seconds):
        self._thread.join(seconds)
        return self._thread.is_alive()

    def result(self, deadline):
        self._thread.join(deadline)
        assert not self._thread.is_alive(), f"the watch was not answered within {deadline}s"
        assert self.error is None, self.error
        return self.reply


@pytest.fixture
def http_addr(addrs):
    return addrs[1]


@pytest.fixture
def config_channel(config_addr):
    channel = grpc.insecure_channel(config_addr)
    yield channel
    channel.close()


@pytest.fixture
def stub(config_channel):
    return grpc_config_api_pb2_grpc.PolarisConfigGRPCStub(config_channel)


# --- RSA and AES (the `cryptography` package, else the openssl command) ---------------------------

try:
    if os.environ.get("POLARIS_COMPAT_FORCE_OPENSSL"):
        raise ImportError("forced")
    from cryptography.hazmat.primitives import padding as sym_padding
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import padding as rsa_padding
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    HAVE_CRYPTOGRAPHY = True
except ImportError:
    HAVE_CRYPTOGRAPHY = False


class RsaKeyPair:
    """A client key pair as the SDKs make one: the public half travels as base64 of PKCS#1 DER."""

    def __init__(self, bits):
        self.bits = bits
        if HAVE_CRYPTOGRAPHY:
            self._key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
            der = self._key.public_key().public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.PKCS1)
        else:
            self._dir = tempfile.mkdtemp(prefix="polaris-rsa-")
            self._pem = os.path.join(self._dir, "key.pem")
            subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
                            f"rsa_keygen_bits:{bits}", "-out", self._pem],
                           check=True, capture_output=True)
            der = subprocess.run(["openssl", "rsa", "-in", self._pem, "-RSAPublicKey_out",
                                  "-outform", "DER"], check=True, capture_output=True).stdout
        self.public_key_b64 = base64.b64encode(der).decode()

    def decrypt(self, ciphertext):
        """PKCS#1 v1.5 decryption."""
        if HAVE_CRYPTOGRAPHY:
            return self._key.decrypt(ciphertext, rsa_padding.PKCS1v15())
        return subprocess.run(["openssl", "pkeyutl", "-decrypt", "-inkey", self._pem,
                               "-pkeyopt", "rsa_padding_mode:pkcs1"], input=ciphertext,
                              check=True, capture_output=True).stdout

    def close(self):
        if not HAVE_CRYPTOGRAPHY:
            shutil.rmtree(self._dir, ignore_errors=True)


def aes_decrypt(ciphertext_b64, key):
    """The official file cipher: AES-128-CBC, IV = the key, PKCS#7, base64 ciphertext."""
    raw = base64.b64decode(ciphertext_b64, validate=True)
    if HAVE_CRYPTOGRAPHY:
        decryptor = Cipher(algorithms.AES(key), modes.CBC(key)).decryptor()
        padded = decryptor.update(raw) + decryptor.finalize()
        unpadder = sym_padding.PKCS7(128).unpadder()
        return (unpadder.update(padded) + unpadder.finalize()).decode()
    return subprocess.run(["openssl", "enc", "-d", "-aes-128-cbc", "-K", key.hex(),
                           "-iv", key.hex()], input=raw, check=True,
                          capture_output=True).stdout.decode()


# --- GetConfigFile --------------------------------------------------------------------------------

def test_get_config_file_returns_content_version_and_md5(stub, http_addr):
    content = "timeout=3s\nretries=2\n"
    group, name = new_file(http_addr, content)

    # Created but not published: 400202, with the request echoed.
    reply = get_file(stub, group, name)
    assert reply.code.value == NOT_FOUND_RESOURCE, reply
    assert reply.configFile.file_name.value == name, reply

    publish_ok(http_addr, group, name, "r1")
    reply = get_until(stub, group, name, serves(content, 1))
    assert reply.code.value == SUCCESS, reply
    got = reply.configFile
    assert (got.namespace.value, got.group.value, got.file_name.value) == (NS, group, name)
    assert got.content.value == content
    assert got.version.value == 1
    assert got.md5.value == md5_hex(content)
    assert not got.encrypted.value
    assert DATA_KEY_TAG not in tag_map(got)

    # The client already holds this version: still served; a newer one: 200001 with the echo.
    assert get_file(stub, group, name, version=1).code.value == SUCCESS
    reply = get_file(stub, group, name, version=2)
    assert reply.code.value == DATA_NO_CHANGE, reply
    assert reply.configFile.version.value == 2 and not reply.configFile.HasField("content")

    # A second publish takes the next version and the new md5.
    content2 = "timeout=5s\nretries=2\n"
    update_file(http_addr, group, name, content2)
    publish_ok(http_addr, group, name, "r2")
    reply = get_until(stub, group, name, serves(content2, 2))
    assert reply.configFile.content.value == content2, reply
    assert reply.configFile.version.value == 2
    assert reply.configFile.md5.value == md5_hex(content2)
    assert get_file(stub, group, name, version=2).code.value == SUCCESS
    assert get_file(stub, group, name, version=3).code.value == DATA_NO_CHANGE


# --- WatchConfigFiles -----------------------------------------------------------------------------

def test_watch_answers_at_once_when_the_client_is_behind(stub, http_addr):
    content = "a=1"
    group, name = new_file(http_addr, content)
    publish_ok(http_addr, group, name, "first")
    get_until(stub, group, name, serves(content, 1))

    reply = stub.WatchConfigFiles(watch_request((group, name, 0)), timeout=WAKE_DEADLINE_S)
    assert reply.code.value == SUCCESS, reply
    got = reply.configFile
    assert (got.namespace.value, got.group.value, got.file_name.value) == (NS, group, name)
    assert got.version.value == 1
    assert got.md5.value == md5_hex(content)
    assert got.name.value == "first"
    assert not got.HasField("content") and len(got.tags) == 0, got


def test_watch_is_held_then_woken_by_a_publish_of_its_file_only(stub, http_addr):
    group, name = new_file(http_addr, "v=1")
    other = unique("other") + ".yaml"
    create_file(http_addr, group, other, "o: 1")
    publish_ok(http_addr, group, name, "r1")
    publish_ok(http_addr, group, other, "o1")
    get_until(stub, group, name, serves("v=1", 1))
    get_until(stub, group, other, serves("o: 1", 1))

    # Both clients are up to date: the server parks them (officially for 30 s, then 200001).
    watch = PendingWatch(stub, watch_request((group, name, 1)))
    watch_other = PendingWatch(stub, watch_request((group, other, 1)))
    assert watch.pending_after(PENDING_S), f"answered without a change: {watch.reply}"
    assert watch_other.pending_after(0.1), f"answered without a change: {watch_other.reply}"

    # A concurrent publish of the watched file wakes its watcher, and only that one.
    update_file(http_addr, group, name, "v=2")
    publish_ok(http_addr, group, name, "r2")
    reply = watch.result(WAKE_DEADLINE_S)
    assert reply.code.value == SUCCESS, reply
    got = reply.configFile
    assert (got.group.value, got.file_name.value) == (group, name)
    assert got.version.value == 2
    assert got.md5.value == md5_hex("v=2")
    assert got.name.value == "r2"
    assert not got.HasField("content"), got
    assert watch_other.pending_after(0.5), f"woken by another file: {watch_other.reply}"

    # Wake the other watcher too rather than waiting out the server's 30 s hold.
    update_file(http_addr, group, other, "o: 2")
    publish_ok(http_addr, group, other, "o2")
    reply = watch_other.result(WAKE_DEADLINE_S)
    assert reply.code.value == SUCCESS, reply
    assert (reply.configFile.file_name.value, reply.configFile.version.value) == (other, 2)


def test_watch_of_several_files_wakes_for_any_of_them(stub, http_addr):
    group, first = new_file(http_addr, "x=1")
    second = unique("second") + ".json"
    create_file(http_addr, group, second, "{}")
    publish_ok(http_addr, group, first, "a")
    publish_ok(http_addr, group, second, "b")
    get_until(stub, group, second, serves("{}", 1))

    watch = PendingWatch(stub, watch_request((group, first, 1), (group, second, 1)))
    assert watch.pending_after(PENDING_S), f"answered without a change: {watch.reply}"
    update_file(http_addr, group, second, '{"k": 1}')
    publish_ok(http_addr, group, second, "b2")
    reply = watch.result(WAKE_DEADLINE_S)
    assert reply.code.value == SUCCESS, reply
    assert (reply.configFile.file_name.value, reply.configFile.version.value) == (second, 2)


@pytest.mark.skipif(not os.environ.get("POLARIS_COMPAT_SLOW"),
                    reason="waits out the fixed 30 s watch hold; set POLARIS_COMPAT_SLOW=1")
def test_watch_without_a_change_times_out_with_200001(stub, http_addr):
    group, name = new_file(http_addr, "still=1")
    publish_ok(http_addr, group, name, "r1")
    get_until(stub, group, name, serves("still=1", 1))

    watch = PendingWatch(stub, watch_request((group, name, 1)))
    assert watch.pending_after(25.0), f"answered before the hold ended: {watch.reply}"
    reply = watch.result(10.0)
    # Officially the timeout reply has neither `info` nor a file.
    assert reply.code.value == DATA_NO_CHANGE, reply
    assert not reply.HasField("info") and not reply.HasField("configFile"), reply


# --- UpsertAndPublishConfigFile (compare-and-swap) ------------------------------------------------

def publish_info(group, name, content, md5=None, release_name="", namespace=NS):
    info = config_file_pb2.ConfigFilePublishInfo(
        namespace=S(namespace), group=S(group), file_name=S(name), content=S(content),
        format=S("text"), release_name=S(release_name))
    if md5 is not None:
        info.md5.CopyFrom(S(md5))
    return info


def test_upsert_and_publish_is_a_compare_and_swap(stub, http_addr):
    original = "mode=blue"
    group, name = new_file(http_addr, original)
    publish_ok(http_addr, group, name, "r1")
    get_until(stub, group, name, serves(original, 1))

    # A stale md5: refused with 409000, nothing written or published.
    reply = stub.UpsertAndPublishConfigFile(
        publish_info(group, name, "mode=green", md5=md5_hex("mode=red")), timeout=RPC_TIMEOUT_S)
    assert reply.code.value == DATA_CONFLICT, reply
    assert (reply.configFile.group.value, reply.configFile.file_name.value) == (group, name)
    reply = get_file(stub, group, name)
    assert (reply.configFile.content.value, reply.configFile.version.value) == (original, 1)
    console = console_ok(http_addr, "GET",
                         f"/config/v1/configfiles?namespace={NS}&group={group}&name={name}")
    assert console["configFile"]["content"] == original, console

    # The md5 of the content read: written and published under the next version.
    reply = stub.UpsertAndPublishConfigFile(
        publish_info(group, name, "mode=green", md5=md5_hex(original), release_name="cas-1"),
        timeout=RPC_TIMEOUT_S)
    assert reply.code.value == SUCCESS, reply
    assert (reply.configFile.namespace.value, reply.configFile.group.value,
            reply.configFile.file_name.value) == (NS, group, name)
    reply = get_until(stub, group, name, serves("mode=green", 2))
    assert reply.configFile.content.value == "mode=green", reply
    assert reply.configFile.version.value == 2
    assert reply.configFile.md5.value == md5_hex("mode=green")

    # The md5 that was right a moment ago is stale now.
    reply = stub.UpsertAndPublishConfigFile(
        publish_info(group, name, "mode=blue", md5=md5_hex(original)), timeout=RPC_TIMEOUT_S)
    assert reply.code.value == DATA_CONFLICT, reply
    assert get_file(stub, group, name).configFile.content.value == "mode=green"


def test_upsert_and_publish_creates_an_absent_file(stub, http_addr):
    group, name = unique("cas-new"), unique("fresh") + ".txt"
    reply = stub.UpsertAndPublishConfigFile(
        publish_info(group, name, "hello", md5="anything"), timeout=RPC_TIMEOUT_S)
    assert reply.code.value == SUCCESS, reply
    reply = get_until(stub, group, name, serves("hello", 1))
    assert reply.configFile.md5.value == md5_hex("hello"), reply


# --- gray releases --------------------------------------------------------------------------------

@pytest.mark.parametrize("label,matching,other", [
    ("CLIENT_IP", "10.9.9.9", "10.9.9.8"),
    ("env", "canary", "prod"),
], ids=["client-ip", "client-label"])
def test_gray_release_is_seen_only_by_matching_clients(stub, http_addr, label, matching, other):
    group, name = new_file(http_addr, "feature=off")
    publish_ok(http_addr, group, name, "full")
    get_until(stub, group, name, serves("feature=off", 1))

    update_file(http_addr, group, name, "feature=on")
    beta = [{"key": label, "value": {"type": "EXACT", "value": matching}}]
    publish_ok(http_addr, group, name, "beta", releaseType="gray", betaLabels=beta)

    reply = get_until(stub, group, name, serves("feature=on", 2), tags={label: matching})
    assert reply.configFile.content.value == "feature=on", reply
    assert reply.configFile.version.value == 2
    assert reply.configFile.md5.value == md5_hex("feature=on")

    # Others keep the full release: a different value, and no tags (the peer's CLIENT_IP).
    for tags in ({label: other}, None):
        reply = get_file(stub, group, name, tags=tags)
        assert reply.code.value == SUCCESS, (tags, reply)
        assert (reply.configFile.content.value, reply.configFile.version.value) == \
            ("feature=off", 1), (tags, reply)

    # A full publish while the gray release is active is refused (stop the beta first).
    status, body = publish(http_addr, group, name, "full-2")
    assert body["code"] == DATA_CONFLICT, (status, body)
    assert get_file(stub, group, name).configFile.version.value == 1


def test_gray_publish_without_beta_labels_is_refused(stub, http_addr):
    group, name = new_file(http_addr, "x=1")
    status, body = publish(http_addr, group, name, "beta", releaseType="gray")
    assert body["code"] == 400904 and status == 400, (status, body)
    assert get_file(stub, group, name).code.value == NOT_FOUND_RESOURCE


# --- encrypted files ------------------------------------------------------------------------------

def test_encrypted_file_returns_ciphertext_and_the_data_key(stub, http_addr):
    plaintext = "db.password=s3cr3t\ndb.user=app\n"
    group, name = new_file(http_addr, plaintext, encrypted=True, encryptAlgo="AES")
    publish_ok(http_addr, group, name, "enc-1")
    reply = get_until(stub, group, name, lambda r: r.code.value == SUCCESS)
    assert reply.code.value == SUCCESS, reply
    got = reply.configFile
    ciphertext = got.content.value
    assert ciphertext and ciphertext != plaintext and "s3cr3t" not in ciphertext, got
    assert got.md5.value == md5_hex(ciphertext)
    assert got.encrypted.value
    tags = tag_map(got)
    assert tags.get(ENCRYPTED_TAG) == "true", tags
    data_key = base64.b64decode(tags[DATA_KEY_TAG], validate=True)
    assert len(data_key) == 16, tags
    assert aes_decrypt(ciphertext, data_key) == plaintext

    # The console shows the plaintext.
    console = console_ok(http_addr, "GET",
                         f"/config/v1/configfiles?namespace={NS}&group={group}&name={name}")
    assert console["configFile"]["content"] == plaintext, console

    # With a public key the data key comes back RSA-wrapped (PKCS#1 v1.5) for that key only.
    for bits in (1024, 2048):
        pair = RsaKeyPair(bits)
        try:
            reply = get_file(stub, group, name, public_key=pair.public_key_b64)
            assert reply.code.value == SUCCESS, reply
            assert reply.configFile.content.value == ciphertext
            wrapped = base64.b64decode(tag_map(reply.configFile)[DATA_KEY_TAG], validate=True)
            assert len(wrapped) == bits // 8, (bits, len(wrapped))
            unwrapped = pair.decrypt(wrapped)
            assert unwrapped == data_key, bits
            assert aes_decrypt(reply.configFile.content.value, unwrapped) == plaintext
        finally:
            pair.close()

    # A public key that does not parse: the plain data key, as officially.
    reply = get_file(stub, group, name, public_key=base64.b64encode(b"not a key").decode())
    assert reply.code.value == SUCCESS, reply
    assert base64.b64decode(tag_map(reply.configFile)[DATA_KEY_TAG]) == data_key


# --- rollback -------------------------------------------------------------------------------------

def test_rollback_serves_the_earlier_content_under_a_higher_version(stub, http_addr):
    group, name = new_file(http_addr, "color=red")
    publish_ok(http_addr, group, name, "red")
    update_file(http_addr, group, name, "color=blue")
    publish_ok(http_addr, group, name, "blue")
    get_until(stub, group, name, serves("color=blue", 2))

    # A client up to date is parked, and the rollback wakes it.
    watch = PendingWatch(stub, watch_request((group, name, 2)))
    assert watch.pending_after(PENDING_S), f"answered without a change: {watch.reply}"
    reply = console_ok(http_addr, "PUT", "/config/v1/configfiles/releases/rollback",
                       [{"namespace": NS, "group": group, "fileName": name, "name": "red"}])
    assert [r["code"] for r in reply["responses"]] == [SUCCESS], reply

    woken = watch.result(WAKE_DEADLINE_S)
    assert woken.code.value == SUCCESS, woken
    assert woken.configFile.version.value == 3 and woken.configFile.name.value == "red"

    reply = get_until(stub, group, name, serves("color=red", 3))
    assert reply.configFile.content.value == "color=red", reply
    assert reply.configFile.version.value == 3
    assert reply.configFile.md5.value == md5_hex("color=red")
    assert get_file(stub, group, name, version=4).code.value == DATA_NO_CHANGE

    # An unknown release cannot be rolled back to.
    status, body = http(http_addr, "PUT", "/config/v1/configfiles/releases/rollback",
                        [{"namespace": NS, "group": group, "fileName": name, "name": "nope"}])
    assert body["code"] == NOT_FOUND_RESOURCE, (status, body)
    assert get_file(stub, group, name).configFile.version.value == 3


# --- GetConfigFileMetadataList --------------------------------------------------------------------

def metadata_list(stub, group, revision=None, namespace=NS):
    request = config_file_pb2.ConfigFileGroupRequest(
        config_file_group=config_file_pb2.ConfigFileGroup(namespace=S(namespace), name=S(group)))
    if revision is not None:
        request.revision.CopyFrom(S(revision))
    reply = stub.GetConfigFileMetadataList(request, timeout=RPC_TIMEOUT_S)
    assert isinstance(reply, config_file_response_pb2.ConfigClientListResponse)
    return reply


def test_metadata_list_lists_released_files_with_a_revision(stub, http_addr):
    group, first = new_file(http_addr, "one=1")
    second, draft = unique("second") + ".yaml", unique("draft") + ".txt"
    create_file(http_addr, group, second, "two: 2")
    create_file(http_addr, group, draft, "never published")

    # Nothing released yet: success with nothing else.
    reply = metadata_list(stub, group)
    assert reply.code.value == SUCCESS, reply
    assert not reply.HasField("revision") and list(reply.config_file_infos) == [], reply

    publish_ok(http_addr, group, first, "first-r")
    publish_ok(http_addr, group, second, "second-r")
    reply = None

    def both_listed():
        nonlocal reply
        reply = metadata_list(stub, group)
        return len(reply.config_file_infos) == 2

    wait_until(both_listed, VISIBLE_DEADLINE_S)
    assert reply.code.value == SUCCESS, reply
    assert (reply.namespace, reply.group) == (NS, group)
    revision = reply.revision.value
    assert revision, reply
    items = {i.file_name.value: i for i in reply.config_file_infos}
    assert set(items) == {first, second}, reply
    for file, release in ((first, "first-r"), (second, "second-r")):
        item = items[file]
        assert (item.namespace.value, item.group.value) == (NS, group)
        assert item.name.value == release and item.version.value == 1, item
        assert item.release_time.value, item

    # The same revision: 200001 and nothing else.
    reply = metadata_list(stub, group, revision=revision)
    assert reply.code.value == DATA_NO_CHANGE, reply
    assert list(reply.config_file_infos) == [], reply

    # A new release changes the revision; the old one is no longer current.
    update_file(http_addr, group, first, "one=11")
    publish_ok(http_addr, group, first, "first-r2")

    def revised():
        nonlocal reply
        reply = metadata_list(stub, group, revision=revision)
        return reply.code.value == SUCCESS

    wait_until(revised, VISIBLE_DEADLINE_S)
    assert reply.code.value == SUCCESS, reply
    assert reply.revision.value and reply.revision.value != revision, reply
    items = {i.file_name.value: i for i in reply.config_file_infos}
    assert (items[first].name.value, items[first].version.value) == ("first-r2", 2), reply
    assert metadata_list(stub, group, revision=reply.revision.value).code.value == DATA_NO_CHANGE


def test_metadata_list_needs_namespace_and_group(stub):
    assert metadata_list(stub, "").code.value == BAD_REQUEST
    assert metadata_list(stub, "some-group", namespace="").code.value == BAD_REQUEST


# --- hostile requests -----------------------------------------------------------------------------

def test_watch_without_files_is_refused(stub):
    reply = stub.WatchConfigFiles(config_file_pb2.ClientWatchConfigFileRequest(),
                                  timeout=WAKE_DEADLINE_S)
    assert reply.code.value == INVALID_WATCH_FORMAT, reply


def test_watch_of_an_incomplete_file_key_is_refused(stub):
    request = config_file_pb2.ClientWatchConfigFileRequest()
    request.watch_files.append(config_file_pb2.ClientConfigFileInfo(
        namespace=S(NS), file_name=S("no-group.txt")))
    reply = stub.WatchConfigFiles(request, timeout=WAKE_DEADLINE_S)
    assert reply.code.value == BAD_REQUEST, reply


@pytest.mark.parametrize("bad_name", ["../../etc/passwd", "conf/../../secret", "/etc/passwd"])
def test_path_traversal_file_names_are_refused(stub, http_addr, bad_name):
    group = unique("hostile")
    create_group(http_addr, group)

    reply = stub.UpsertAndPublishConfigFile(publish_info(group, bad_name, "x=1"),
                                            timeout=RPC_TIMEOUT_S)
    assert reply.code.value == INVALID_FILE_NAME, reply

    status, body = http(http_addr, "POST", "/config/v1/configfiles",
                        {"namespace": NS, "group": group, "name": bad_name, "content": "x=1"})
    assert body["code"] == INVALID_FILE_NAME and status == 400, (status, body)

    # Nothing was stored or published under that name.
    assert get_file(stub, group, bad_name).code.value == NOT_FOUND_RESOURCE
    status, body = http(http_addr, "GET",
                        f"/config/v1/configfiles/by-group?namespace={NS}&group={group}")
    assert body["code"] == SUCCESS and body["configFiles"] == [], (status, body)
