"""TLS with official clients: grpcio over `grpc.ssl_channel_credentials` and Python's HTTPS client,
against a server of its own started with `apiservers[].option.tls`. Certificates are made here,
per module, with `cryptography`. The naming gRPC port requires client certificates
(`trustedCAFile`); the HTTP and config ports only serve TLS."""

import datetime
import http.client
import ipaddress
import signal
import ssl
import subprocess
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from conftest import START_DEADLINE_S, _free_port, server_binary
from helpers import SUCCESS, Client, instance, unique, wait_until
from polarismesh_specification.api.v1.config_manage import (
    config_file_pb2,
    grpc_config_api_pb2_grpc,
)


def _name(common_name):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


class Ca:
    """A CA that signs server and client certificates."""

    def __init__(self, common_name):
        self.key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.timezone.utc)
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(_name(common_name)).issuer_name(_name(common_name))
            .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False,
                                         encipher_only=False, decipher_only=False), critical=True)
            .sign(self.key, hashes.SHA256())
        )
        self.pem = _pem(self.cert)

    def leaf(self, common_name, server):
        """(certificate PEM, key PEM) for a server (localhost, 127.0.0.1) or a client."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.timezone.utc)
        usage = x509.oid.ExtendedKeyUsageOID.SERVER_AUTH if server \
            else x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(common_name)).issuer_name(self.cert.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        )
        if server:
            builder = builder.add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False)
        return _pem(builder.sign(self.key, hashes.SHA256())), _key_pem(key)


CONFIG = """\
apiservers:
  - name: api-http
    option: {{ listenIP: "127.0.0.1", listenPort: {http_port}, tls: {{ certFile: "{cert}", keyFile: "{key}" }} }}
  - name: service-grpc
    option: {{ listenIP: "127.0.0.1", listenPort: {grpc_port}, tls: {{ certFile: "{cert}", keyFile: "{key}", trustedCAFile: "{client_ca}" }} }}
  - name: config-grpc
    option: {{ listenIP: "127.0.0.1", listenPort: {config_port}, tls: {{ certFile: "{cert}", keyFile: "{key}" }} }}
store:
  name: embedded
  option: {{ path: "{data_dir}" }}
"""


class TlsServer:
    def __init__(self, workdir, process, http_port, grpc_port, config_port, ca, client_ca):
        self.workdir, self.process = workdir, process
        self.http_addr = f"127.0.0.1:{http_port}"
        self.grpc_addr = f"127.0.0.1:{grpc_port}"
        self.config_addr = f"127.0.0.1:{config_port}"
        self.ca, self.client_ca = ca, client_ca

    def https_context(self, client_cert=None):
        context = ssl.create_default_context(cadata=self.ca.pem.decode())
        if client_cert is not None:
            cert, key = client_cert
            cert_file, key_file = self.workdir / "c.pem", self.workdir / "c.key"
            cert_file.write_bytes(cert)
            key_file.write_bytes(key)
            context.load_cert_chain(cert_file, key_file)
        return context

    def credentials(self, client_cert=None):
        if client_cert is None:
            return grpc.ssl_channel_credentials(root_certificates=self.ca.pem)
        cert, key = client_cert
        return grpc.ssl_channel_credentials(root_certificates=self.ca.pem, private_key=key,
                                            certificate_chain=cert)

    def secure_channel(self, addr, client_cert=None):
        return grpc.secure_channel(addr, self.credentials(client_cert),
                                   options=[("grpc.ssl_target_name_override", "localhost")])

    def log(self):
        return (self.workdir / "server.log").read_text(errors="replace")


def _https_ok(url, context):
    try:
        with urllib.request.urlopen(url, context=context, timeout=2) as reply:
            return reply.status == 200
    except (OSError, urllib.error.URLError):
        return False


@pytest.fixture(scope="module")
def tls_server():
    workdir = Path(tempfile.mkdtemp(prefix="polaris-tls-"))
    ca, client_ca = Ca("compat server CA"), Ca("compat client CA")
    cert, key = ca.leaf("polaris-server", server=True)
    (workdir / "server.pem").write_bytes(cert)
    (workdir / "server.key").write_bytes(key)
    (workdir / "client-ca.pem").write_bytes(client_ca.pem)
    ports = [_free_port() for _ in range(3)]
    while len(set(ports)) < 3:
        ports = [_free_port() for _ in range(3)]
    http_port, grpc_port, config_port = ports
    (workdir / "polaris-server.yaml").write_text(CONFIG.format(
        http_port=http_port, grpc_port=grpc_port, config_port=config_port,
        cert=workdir / "server.pem", key=workdir / "server.key",
        client_ca=workdir / "client-ca.pem", data_dir=workdir / "data"))
    log = open(workdir / "server.log", "wb")
    process = subprocess.Popen(
        [str(server_binary()), "start", "--config", str(workdir / "polaris-server.yaml")],
        cwd=workdir, stdout=log, stderr=subprocess.STDOUT)
    server = TlsServer(workdir, process, http_port, grpc_port, config_port, ca, client_ca)
    try:
        up = wait_until(lambda: process.poll() is not None or _https_ok(
            f"https://{server.http_addr}/", server.https_context()), START_DEADLINE_S, 0.1)
        assert up and process.poll() is None, f"TLS server did not start:\n{server.log()}"
        yield server
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        log.close()


def test_https_serves_and_plain_http_is_refused(tls_server):
    url = f"https://{tls_server.http_addr}/"
    with urllib.request.urlopen(url, context=tls_server.https_context(), timeout=10) as reply:
        assert reply.read() == b"Polaris Server"
    # Plain HTTP gets a TLS alert or a closed connection, never an HTTP answer.
    with pytest.raises((urllib.error.URLError, http.client.HTTPException, OSError)):
        urllib.request.urlopen(f"http://{tls_server.http_addr}/", timeout=10).read()


def test_grpcio_with_a_client_certificate_registers_and_discovers(tls_server):
    identity = tls_server.client_ca.leaf("compat-client", server=False)
    with tls_server.secure_channel(tls_server.grpc_addr, identity) as channel:
        client = Client(channel)
        service = unique("tls-svc")
        reply = client.register(instance(service, "10.9.0.1", 8080))
        assert reply.code.value == SUCCESS, reply
        hosts = [i.host.value for i in client.instances_of(service)]
        assert hosts == ["10.9.0.1"]


def test_grpcio_without_a_trusted_client_certificate_is_refused(tls_server):
    stranger = Ca("stranger").leaf("stranger", server=False)
    for identity in (None, stranger):
        with tls_server.secure_channel(tls_server.grpc_addr, identity) as channel:
            with pytest.raises(grpc.RpcError) as refused:
                Client(channel).register(instance(unique("tls-no"), "10.9.0.2", 80), timeout=5)
            assert refused.value.code() == grpc.StatusCode.UNAVAILABLE


def test_grpcio_plain_text_on_a_tls_port_is_refused(tls_server):
    with grpc.insecure_channel(tls_server.config_addr) as channel:
        stub = grpc_config_api_pb2_grpc.PolarisConfigGRPCStub(channel)
        with pytest.raises(grpc.RpcError) as refused:
            stub.GetConfigFile(config_file_pb2.ClientConfigFileInfo(), timeout=5)
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE


def test_grpcio_config_port_over_tls(tls_server):
    with tls_server.secure_channel(tls_server.config_addr) as channel:
        stub = grpc_config_api_pb2_grpc.PolarisConfigGRPCStub(channel)
        reply = stub.GetConfigFile(config_file_pb2.ClientConfigFileInfo(), timeout=10)
        # An empty request is refused with a Polaris code: the call went through TLS.
        assert reply.code.value not in (0, SUCCESS), reply
