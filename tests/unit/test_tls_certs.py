"""Certificate tooling (nodectl/tls.py, `nodectl tls ...`): the files it writes, what the
certificates say, that a standard verifier accepts them for the names they carry and nothing else,
and that gRPC completes a mutual TLS handshake with them on loopback (and refuses a client of
another CA, or none)."""

from __future__ import annotations

import concurrent.futures as cf
import datetime
import ipaddress
import os
import stat
from pathlib import Path

import grpc
import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from nodectl import tls
from nodectl.cli import main
from nodectl.errors import AlreadyExists, InvalidArgument, NotFound

NOW = datetime.datetime(2026, 12, 1, tzinfo=datetime.timezone.utc)


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def _cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


@pytest.fixture
def ca(tmp_path) -> Path:
    tls.init_ca(tmp_path / "ca", now=NOW)
    return tmp_path / "ca"


def test_init_ca_writes_a_private_key_0600_in_a_0700_directory_and_refuses_to_overwrite(tmp_path):
    issued = tls.init_ca(tmp_path / "ca", now=NOW)
    assert _mode(tmp_path / "ca") == 0o700 and _mode(issued.key_path) == 0o600 and _mode(issued.cert_path) == 0o644
    cert = _cert(issued.cert_path)
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert cert.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign
    assert issued.not_after == NOW + datetime.timedelta(days=tls.CA_DAYS)
    before = issued.key_path.read_bytes()
    with pytest.raises(AlreadyExists, match="already holds a CA"):
        tls.init_ca(tmp_path / "ca", now=NOW)
    assert issued.key_path.read_bytes() == before
    assert sorted(p.name for p in (tmp_path / "ca").iterdir()) == ["ca.crt", "ca.key"], "no temporary file left"


def test_a_node_certificate_names_its_id_and_addresses_and_verifies_for_exactly_those(ca):
    issued = tls.issue_node(ca, "node-1", ["127.0.0.2", "Node-1.Example.Net", "::1"], now=NOW)
    assert (issued.key_path.name, issued.cert_path.name) == ("node-1.key", "node-1.crt")
    assert _mode(issued.key_path) == 0o600
    cert, root = _cert(issued.cert_path), _cert(ca / tls.CA_CERT_FILE)
    info = tls.describe(issued.cert_path.read_bytes())
    assert info.subject == "CN=node-1" and info.identity == "urn:ringstore:node:node-1" and not info.is_ca
    assert info.dns_names == ("node-1.example.net",) and info.ip_addresses == ("127.0.0.2", "::1")
    usages = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert set(usages) == {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}
    policy = PolicyBuilder().store(Store([root])).time(NOW + datetime.timedelta(days=1))
    for name in (x509.DNSName("node-1.example.net"), x509.IPAddress(ipaddress.ip_address("127.0.0.2"))):
        policy.build_server_verifier(name).verify(cert, [])
    with pytest.raises(VerificationError):
        policy.build_server_verifier(x509.IPAddress(ipaddress.ip_address("127.0.0.3"))).verify(cert, [])
    policy.build_client_verifier().verify(cert, [])
    with pytest.raises(VerificationError):  # a year and a day later it has expired
        (PolicyBuilder().store(Store([root])).time(NOW + datetime.timedelta(days=366))
         .build_server_verifier(x509.DNSName("node-1.example.net")).verify(cert, []))


def test_a_client_certificate_is_for_clients_only(ca, tmp_path):
    issued = tls.issue_client(ca, "ops", out_dir=tmp_path / "clients", now=NOW)
    assert issued.cert_path.parent == tmp_path / "clients" and _mode(tmp_path / "clients") == 0o700
    usages = _cert(issued.cert_path).extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usages) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    assert tls.describe(issued.cert_path.read_bytes()).identity == "urn:ringstore:client:ops"


def test_validity_is_bounded_by_days_and_by_the_ca(tmp_path):
    tls.init_ca(tmp_path / "ca", days=30, now=NOW)
    short = tls.issue_node(tmp_path / "ca", "node-1", ["localhost"], days=7, now=NOW)
    assert short.not_after == NOW + datetime.timedelta(days=7)
    capped = tls.issue_node(tmp_path / "ca", "node-2", ["localhost"], days=365, now=NOW)
    assert capped.not_after == NOW + datetime.timedelta(days=30)
    info = tls.describe(short.cert_path.read_bytes())
    assert info.expires_in_s(NOW + datetime.timedelta(days=8)) < 0


@pytest.mark.parametrize("call,error,message", [
    (lambda ca: tls.issue_node(ca, "Node_1", ["localhost"]), InvalidArgument, "node id 'Node_1' is invalid"),
    (lambda ca: tls.issue_node(ca, "node-1", []), InvalidArgument, "give at least one --san"),
    (lambda ca: tls.issue_node(ca, "node-1", ["bad host"]), InvalidArgument, "neither an IP address nor a DNS"),
    (lambda ca: tls.issue_node(ca, "node-1", ["x"] * (tls.SANS_MAX + 1)), InvalidArgument, "at most"),
    (lambda ca: tls.issue_node(ca, "node-1", ["x"], days=0), InvalidArgument, "--days must be"),
    (lambda ca: tls.issue_node(ca.parent / "none", "node-1", ["x"]), NotFound, "ca.key not found"),
])
def test_bad_input_is_one_clear_error_and_writes_nothing(ca, call, error, message):
    before = sorted(p.name for p in ca.iterdir())
    with pytest.raises(error, match=message):
        call(ca)
    assert sorted(p.name for p in ca.iterdir()) == before


def test_issuing_twice_refuses_to_overwrite_the_key(ca):
    issued = tls.issue_node(ca, "node-1", ["localhost"], now=NOW)
    key = issued.key_path.read_bytes()
    with pytest.raises(AlreadyExists, match="node-1.key exists"):
        tls.issue_node(ca, "node-1", ["localhost"], now=NOW)
    assert issued.key_path.read_bytes() == key


def test_grpc_completes_a_mutual_tls_handshake_with_them_and_refuses_other_clients(tmp_path):
    """A server with node-1's certificate, requiring client certificates of the cluster CA: node-2
    gets an answer over 127.0.0.1 (checked against node-1's IP SAN); a client of another CA and a
    client with no certificate are refused."""
    ca, other = tmp_path / "ca", tmp_path / "other"
    tls.init_ca(ca)
    tls.init_ca(other)
    server_files, client_files = tls.issue_node(ca, "node-1", ["127.0.0.1"]), tls.issue_node(ca, "node-2", ["127.0.0.1"])
    stranger = tls.issue_node(other, "node-3", ["127.0.0.1"])
    root = (ca / tls.CA_CERT_FILE).read_bytes()
    server = grpc.server(cf.ThreadPoolExecutor(max_workers=2))
    health_pb2_grpc.add_HealthServicer_to_server(health.HealthServicer(), server)
    port = server.add_secure_port("127.0.0.1:0", grpc.ssl_server_credentials(
        [(server_files.key_path.read_bytes(), server_files.cert_path.read_bytes())],
        root_certificates=root, require_client_auth=True))
    server.start()

    def ask(credentials: grpc.ChannelCredentials) -> None:
        with grpc.secure_channel(f"127.0.0.1:{port}", credentials) as channel:
            health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)

    try:
        ask(grpc.ssl_channel_credentials(root, client_files.key_path.read_bytes(), client_files.cert_path.read_bytes()))
        for key, chain in ((stranger.key_path, stranger.cert_path), (None, None)):
            with pytest.raises(grpc.RpcError) as caught:
                ask(grpc.ssl_channel_credentials(root, key and key.read_bytes(), chain and chain.read_bytes()))
            assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    finally:
        server.stop(None)


def test_the_cli_writes_the_files_and_names_them(tmp_path):
    runner = CliRunner()
    result = runner.invoke(main, ["tls", "init-ca", "--dir", str(tmp_path / "ca")])
    assert result.exit_code == 0 and result.output.splitlines()[0] == f"wrote {tmp_path / 'ca' / 'ca.key'} (private key, mode 0600)"
    result = runner.invoke(main, ["tls", "issue-node", "node-1", "--ca", str(tmp_path / "ca"), "--san", "127.0.0.1",
                                  "--out", str(tmp_path / "n1"), "--days", "30"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "n1" / "node-1.key").exists() and _mode(tmp_path / "n1" / "node-1.key") == 0o600
    result = runner.invoke(main, ["tls", "show", str(tmp_path / "n1" / "node-1.crt")])
    assert result.exit_code == 0
    assert "identity  urn:ringstore:node:node-1" in result.output and "SANs      127.0.0.1" in result.output
    assert "(expires in 29 d 23 h)" in result.output or "(expires in 30 d 0 h)" in result.output


@pytest.mark.parametrize("args,exit_code,message", [
    (["tls", "init-ca", "--dir", "{ca}"], 6, "already holds a CA"),
    (["tls", "issue-node", "node-1", "--ca", "{ca}", "--san", "bad host"], 2, "neither an IP address"),
    (["tls", "issue-node", "node-1", "--ca", "{tmp}/none", "--san", "x"], 3, "ca.key not found"),
    (["tls", "issue-client", "Bad", "--ca", "{ca}"], 2, "client name 'Bad' is invalid"),
])
def test_cli_errors_are_one_line_with_their_exit_code(ca, tmp_path, args, exit_code, message):
    result = CliRunner().invoke(main, [a.format(ca=ca, tmp=tmp_path) for a in args])
    assert result.exit_code == exit_code
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("nodectl: error: ") and message in lines[0]
