"""TLS at run time (ringstore/tls.py, node/tls.py): what a node checks in its files before serving,
the one-line explanations of failed handshakes, the port probe, and SIGHUP's reload, against real
in-process gRPC servers on loopback with certificates made by nodectl.tls."""

from __future__ import annotations

import concurrent.futures as cf
import datetime
import os
import socket
import ssl
import subprocess
import sys

import grpc
import pytest
from cryptography import x509
from grpc_health.v1 import health, health_pb2_grpc

from nodectl import tls as certs
from nodectl.client import Client
from nodectl.errors import NotTrusted
from node.tls import NodeTls
from ringstore import tls


@pytest.fixture
def ca(tmp_path):
    certs.init_ca(tmp_path / "ca")
    return tmp_path / "ca"


def _node(ca_dir, node_id, tmp_path, **kwargs):
    issued = certs.issue_node(ca_dir, node_id, ["127.0.0.1"], out_dir=tmp_path / "out", **kwargs)
    return str(issued.cert_path), str(issued.key_path)


def _serve(creds: grpc.ServerCredentials | None):
    server = grpc.server(cf.ThreadPoolExecutor(max_workers=4))
    health_pb2_grpc.add_HealthServicer_to_server(health.HealthServicer(), server)
    if creds is None:
        port = server.add_insecure_port("127.0.0.1:0")
    else:
        port = server.add_secure_port("127.0.0.1:0", creds)
    server.start()
    return server, f"127.0.0.1:{port}"


@pytest.fixture
def servers():
    started = []

    def start(creds):
        server, address = _serve(creds)
        started.append(server)
        return address

    yield start
    for server in started:
        server.stop(None)


# -- a node's own files ---------------------------------------------------------------------------

def test_load_node_credentials_accepts_what_issue_node_wrote(ca, tmp_path):
    cert, key = _node(ca, "node-1", tmp_path)
    creds = tls.load_node_credentials(cert, key, str(ca / "ca.crt"), node_id="node-1")
    assert creds.node_id == "node-1" and creds.info.ip_addresses == ("127.0.0.1",)


def test_a_certificate_for_another_node_is_refused_naming_both(ca, tmp_path):
    cert, key = _node(ca, "node-2", tmp_path)
    with pytest.raises(tls.TlsError, match="names urn:ringstore:node:node-2, but this node is node-1"):
        tls.load_node_credentials(cert, key, str(ca / "ca.crt"), node_id="node-1")


def test_a_key_that_is_not_the_certificates_is_refused(ca, tmp_path):
    cert, _ = _node(ca, "node-1", tmp_path)
    other = certs.issue_node(ca, "node-1", ["127.0.0.1"], out_dir=tmp_path / "other")
    with pytest.raises(tls.TlsError, match="is not the key of"):
        tls.load_node_credentials(cert, str(other.key_path), str(ca / "ca.crt"), node_id="node-1")


def test_a_certificate_from_another_ca_is_refused(ca, tmp_path):
    certs.init_ca(tmp_path / "other-ca")
    cert, key = _node(tmp_path / "other-ca", "node-1", tmp_path)
    with pytest.raises(tls.TlsError, match="is not signed by the CA in"):
        tls.load_node_credentials(cert, key, str(ca / "ca.crt"), node_id="node-1")


def test_an_expired_certificate_is_refused_with_when(ca, tmp_path):
    past = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=10)
    cert, key = _node(ca, "node-1", tmp_path, days=1, now=past)
    with pytest.raises(tls.TlsError, match=r"expired at \d{4}-\d\d-\d\d .* issue a new one"):
        tls.load_node_credentials(cert, key, str(ca / "ca.crt"), node_id="node-1")


def test_a_key_others_can_read_is_refused_with_the_chmod(ca, tmp_path):
    cert, key = _node(ca, "node-1", tmp_path)
    os.chmod(key, 0o644)
    with pytest.raises(tls.TlsError, match=f"run chmod 600 {key}"):
        tls.load_node_credentials(cert, key, str(ca / "ca.crt"), node_id="node-1")


def _noded(tmp_path, *args):
    secret = tmp_path / "secret"
    secret.write_bytes(b"s" * 32)
    secret.chmod(0o600)
    return subprocess.run([sys.executable, "-m", "node", "--data-dir", str(tmp_path / "d"), "--node-id", "node-1",
                           "--cluster-secret-file", str(secret), "--listen", "127.0.0.1:0",
                           "--peer-listen", "127.0.0.1:0", *args], capture_output=True, text=True, timeout=60)


def test_noded_without_certificates_or_insecure_exits_2_saying_both_ways(tmp_path):
    done = _noded(tmp_path)
    assert done.returncode == 2
    [line] = done.stderr.strip().splitlines()
    assert "--tls-cert, --tls-key and --tls-ca" in line and "--insecure" in line


def test_noded_with_a_certificate_for_another_node_exits_2_in_one_line(ca, tmp_path):
    cert, key = _node(ca, "node-9", tmp_path)
    done = _noded(tmp_path, "--tls-cert", cert, "--tls-key", key, "--tls-ca", str(ca / "ca.crt"))
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"noded: error: {cert} names urn:ringstore:node:node-9, but this node is node-1; issue it a certificate "
        "with `nodectl tls issue-node node-1`"]


# -- failed handshakes, explained ------------------------------------------------------------------

def _node_server_creds(ca, tmp_path, node_id="node-1", *, require_client_auth=False):
    cert, key = _node(ca, node_id, tmp_path)
    return NodeTls(cert, key, str(ca / "ca.crt"), node_id=node_id).server_credentials(
        require_client_auth=require_client_auth)


def test_client_errors_name_the_tls_problem_in_one_line(ca, tmp_path, servers):
    """Plaintext to TLS, TLS to plaintext, another CA, no CA: each NotTrusted (exit 9), one line."""
    tls_address = servers(_node_server_creds(ca, tmp_path))
    plain_address = servers(None)
    certs.init_ca(tmp_path / "other-ca")
    cases = [
        (dict(address=tls_address, insecure=True), f"{tls_address} serves TLS: give the cluster's CA"),
        (dict(address=plain_address, ca_file=str(ca / "ca.crt")), f"{plain_address} does not speak TLS"),
        (dict(address=tls_address, ca_file=str(tmp_path / "other-ca" / "ca.crt")),
         f"the certificate of {tls_address} is not signed by the CA this client trusts"),
        (dict(address=tls_address, insecure=False), f"the certificate of {tls_address} is not signed"),
    ]
    for kwargs, message in cases:
        with Client(timeout_s=5, retries_max=0, **kwargs) as client:
            with pytest.raises(NotTrusted) as info:
                client.cluster_status()
        assert str(info.value).startswith(message) and "\n" not in str(info.value), (kwargs, str(info.value))
        assert info.value.exit_code == 9
    with Client(address=tls_address, ca_file=str(ca / "ca.crt"), timeout_s=5, retries_max=0) as client:
        with pytest.raises(Exception) as info:
            client.cluster_status()  # TLS works: the fake has no AdminService, so UNIMPLEMENTED
        assert not isinstance(info.value, NotTrusted)


def test_a_client_on_the_peer_port_is_told_to_use_the_client_port(ca, tmp_path, servers):
    address = servers(_node_server_creds(ca, tmp_path, require_client_auth=True))
    with Client(address=address, ca_file=str(ca / "ca.crt"), timeout_s=5, retries_max=0) as client:
        with pytest.raises(NotTrusted, match=f"{address} is a peer port: it takes only node certificates"):
            client.cluster_status()


def test_probe_says_when_a_port_refuses_our_certificate(ca, tmp_path, servers):
    address = servers(_node_server_creds(ca, tmp_path, require_client_auth=True))
    certs.init_ca(tmp_path / "other-ca")
    foreign = certs.issue_node(tmp_path / "other-ca", "node-2", ["127.0.0.1"], out_dir=tmp_path / "foreign")
    found = tls.probe(address, use_tls=True, ca_file=str(ca / "ca.crt"), cert_file=str(foreign.cert_path),
                      key_file=str(foreign.key_path))
    assert found == (f"{address} refused this certificate ({foreign.cert_path}): it is not signed by the "
                     "cluster's CA, or has expired")
    own = certs.issue_node(ca, "node-3", ["127.0.0.1"], out_dir=tmp_path / "own")
    assert tls.probe(address, use_tls=True, ca_file=str(ca / "ca.crt"), cert_file=str(own.cert_path),
                     key_file=str(own.key_path)) is None


def test_probe_of_a_closed_port_is_not_a_tls_problem():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert tls.probe(f"127.0.0.1:{port}") is None


def test_explain_reads_grpc_details():
    details = ("failed to connect to all addresses; last error: UNKNOWN: ipv4:127.0.0.1:7400: Tls handshake "
               "failed (TSI_PROTOCOL_FAILURE): SSL_ERROR_SSL: error:1000007d:SSL routines:OPENSSL_internal:"
               "CERTIFICATE_VERIFY_FAILED: certificate has expired: OK")
    assert tls.explain(details) == ("the certificate of 127.0.0.1:7400 has expired: issue the node a new one and "
                                    "send it SIGHUP")
    assert tls.explain("failed to connect to all addresses; last error: UNAVAILABLE: ipv4:127.0.0.1:1: "
                       "Connection refused") is None


# -- SIGHUP: a reload swaps what new handshakes see -----------------------------------------------

def _served_serial(address: str, ca_file: str) -> int:
    host, port = address.rsplit(":", 1)
    context = ssl.create_default_context(cafile=ca_file)
    context.set_alpn_protocols(["h2"])
    with socket.create_connection((host, int(port)), timeout=5) as raw:
        with context.wrap_socket(raw, server_hostname=host) as conn:
            return x509.load_der_x509_certificate(conn.getpeercert(binary_form=True)).serial_number


def test_reload_serves_the_new_certificate_and_keeps_the_old_on_a_bad_file(ca, tmp_path, servers):
    cert, key = _node(ca, "node-1", tmp_path)
    node_tls = NodeTls(cert, key, str(ca / "ca.crt"), node_id="node-1")
    reloads = []
    node_tls.on_reload(lambda: reloads.append(1))
    address = servers(node_tls.server_credentials(require_client_auth=False))
    first = _served_serial(address, str(ca / "ca.crt"))
    assert first == x509.load_pem_x509_certificate(open(cert, "rb").read()).serial_number

    fresh = certs.issue_node(ca, "node-1", ["127.0.0.1"], out_dir=tmp_path / "fresh")
    os.replace(fresh.cert_path, cert)
    os.replace(fresh.key_path, key)
    node_tls.reload()
    second = _served_serial(address, str(ca / "ca.crt"))
    assert second != first and reloads == [1]

    wrong = certs.issue_node(ca, "node-2", ["127.0.0.1"], out_dir=tmp_path / "wrong")
    os.replace(wrong.cert_path, cert)
    with pytest.raises(tls.TlsError):
        node_tls.reload()
    assert _served_serial(address, str(ca / "ca.crt")) == second and reloads == [1]


# -- nodectl status warns about certificates close to expiry -------------------------------------

def test_status_warns_about_expired_and_expiring_certificates_only():
    from nodectl.cli.cluster import format_status
    from nodectl.client import ClusterStatus, MemberStatus

    day_ms = 86_400_000
    now_ms = 1_800_000_000_000

    def member(node_id, not_after_ms, state="ALIVE"):
        return MemberStatus(node_id=node_id, address="127.0.0.1:1", zone="", state=state, generation=1,
                            incarnation=0, ring_share=0.25, state_age_s=1.0, free_bytes=1, capacity_bytes=1,
                            metrics_port=0, chunks_stored=0, bytes_stored=0, tls_not_after_unix_ms=not_after_ms)

    status = ClusterStatus(node_id="node-1", health="healthy", default_replicas=3, metadata_replicas=3,
                           repair_debt_chunks=0, software_version="x", members=[
                               member("node-1", now_ms + 365 * day_ms), member("node-2", now_ms + 5 * day_ms),
                               member("node-3", now_ms - day_ms), member("node-4", 0),
                               member("node-5", now_ms + day_ms, state="LEFT")])
    warnings = [line for line in format_status(status, now_unix_ms=now_ms) if line.startswith("warning:")]
    assert warnings == [
        "warning: node-3's TLS certificate expired at 2027-01-14 08:00 UTC: its peers refuse it; issue a new one "
        "and send the node SIGHUP",
        "warning: node-2's TLS certificate expires in 5.0 days (2027-01-20 08:00 UTC): issue a new one and send "
        "the node SIGHUP",
    ]


# -- which transport a Client picks ---------------------------------------------------------------

def test_client_transport_arguments_beat_the_environment_and_plaintext_is_never_implied(ca, monkeypatch):
    from nodectl.errors import InvalidArgument, NotFound

    ca_file = str(ca / "ca.crt")
    monkeypatch.delenv("RINGSTORE_INSECURE")
    with Client(address="127.0.0.1:1") as client:  # nothing said: TLS with the system's CAs
        assert (client.insecure, client.ca_file) == (False, None)
    monkeypatch.setenv("RINGSTORE_CA", ca_file)
    with Client(address="127.0.0.1:1") as client:
        assert (client.insecure, client.ca_file) == (False, ca_file)
    with Client(address="127.0.0.1:1", insecure=True) as client:  # an explicit opt-out beats RINGSTORE_CA
        assert (client.insecure, client.ca_file) == (True, None)
    monkeypatch.setenv("RINGSTORE_INSECURE", "1")
    with Client(address="127.0.0.1:1", ca_file=ca_file) as client:  # an explicit CA beats RINGSTORE_INSECURE
        assert (client.insecure, client.ca_file) == (False, ca_file)
    with pytest.raises(InvalidArgument, match="not both"):
        Client(address="127.0.0.1:1", ca_file=ca_file, insecure=True)
    with pytest.raises(NotFound, match="cannot read the CA certificate /nonexistent/ca.crt"):
        Client(address="127.0.0.1:1", ca_file="/nonexistent/ca.crt", insecure=False)
