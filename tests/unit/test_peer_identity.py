"""The peer port's identity check (node/api/auth.py) over real mutual TLS: a node certificate is
served; a client certificate from the same CA gets a TLS connection but every call is refused
UNAUTHENTICATED and counted; a certificate from another CA never gets a connection."""

from __future__ import annotations

import concurrent.futures as cf
import datetime

import grpc
import pytest
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from node.api.auth import PeerIdentityInterceptor
from node.peers.client import PeerClient, PeerError
from node.tls import NodeTls
from nodectl import tls as certs
from ringstore import tls
from ringstore.v1 import membership_pb2


@pytest.fixture
def peer_port(tmp_path):
    """(address, CA file, rejections): node-1's peer port with the daemon's interceptor."""
    certs.init_ca(tmp_path / "ca")
    issued = certs.issue_node(tmp_path / "ca", "node-1", ["127.0.0.1"], out_dir=tmp_path / "n1")
    node_tls = NodeTls(str(issued.cert_path), str(issued.key_path), str(tmp_path / "ca" / "ca.crt"),
                       node_id="node-1")
    rejections: list[str] = []
    server = grpc.server(cf.ThreadPoolExecutor(max_workers=4),
                         interceptors=[PeerIdentityInterceptor(on_reject=rejections.append)])
    health_pb2_grpc.add_HealthServicer_to_server(health.HealthServicer(), server)
    port = server.add_secure_port("127.0.0.1:0", node_tls.server_credentials(require_client_auth=True))
    server.start()
    yield f"127.0.0.1:{port}", tmp_path / "ca" / "ca.crt", rejections
    server.stop(None)


def _check(address, ca_file, cert_path, key_path):
    creds = grpc.ssl_channel_credentials(ca_file.read_bytes(), key_path.read_bytes(), cert_path.read_bytes())
    with grpc.secure_channel(address, creds) as channel:
        return health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)


def test_a_node_certificate_is_served(peer_port, tmp_path):
    address, ca_file, rejections = peer_port
    node2 = certs.issue_node(tmp_path / "ca", "node-2", ["127.0.0.1"], out_dir=tmp_path / "n2")
    assert _check(address, ca_file, node2.cert_path, node2.key_path).status == health_pb2.HealthCheckResponse.SERVING
    assert rejections == []


def test_a_client_certificate_of_the_same_ca_is_refused_and_counted(peer_port, tmp_path):
    address, ca_file, rejections = peer_port
    client = certs.issue_client(tmp_path / "ca", "alice", out_dir=tmp_path / "alice")
    with pytest.raises(grpc.RpcError) as info:
        _check(address, ca_file, client.cert_path, client.key_path)
    assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert info.value.details() == "the peer port takes only node certificates; clients use the client port"
    assert rejections == ["not_a_node"]


def test_a_node_of_another_ca_gets_no_connection(peer_port, tmp_path):
    """Its PeerClient call fails on the handshake; PeerError marks it a TLS refusal (not retried as
    an ordinary outage) and names the problem in one line."""
    address, ca_file, rejections = peer_port
    certs.init_ca(tmp_path / "other")
    other = certs.issue_node(tmp_path / "other", "node-9", ["127.0.0.1"], out_dir=tmp_path / "n9")
    with pytest.raises(grpc.RpcError) as info:
        _check(address, ca_file, other.cert_path, other.key_path)
    assert info.value.code() == grpc.StatusCode.UNAVAILABLE
    other_ca = tmp_path / "other" / "ca.crt"
    node9 = NodeTls(str(other.cert_path), str(other.key_path), str(other_ca), node_id="node-9")
    peers = PeerClient(node_id="node-9", message_bytes_max=1 << 20, credentials=node9.channel_credentials,
                       ca_file=str(other_ca))
    try:
        with pytest.raises(PeerError) as error:
            peers.membership_call(address, "Ping", membership_pb2.PingRequest(), 5.0)
    finally:
        peers.close()
    assert error.value.tls_refused
    assert error.value.details == f"the certificate of {address} is not signed by the CA in {other_ca}"
    assert rejections == []


def test_an_expired_node_certificate_gets_no_connection(peer_port, tmp_path):
    """A node certificate of the cluster's own CA that has expired is refused at the handshake, and
    the probe a joining node runs says so."""
    address, ca_file, rejections = peer_port
    past = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=10)
    old = certs.issue_node(tmp_path / "ca", "node-2", ["127.0.0.1"], out_dir=tmp_path / "old", days=1, now=past)
    with pytest.raises(grpc.RpcError) as info:
        _check(address, ca_file, old.cert_path, old.key_path)
    assert info.value.code() == grpc.StatusCode.UNAVAILABLE
    assert tls.probe(address, use_tls=True, ca_file=str(ca_file), cert_file=str(old.cert_path),
                     key_file=str(old.key_path)) == (
        f"{address} refused this certificate ({old.cert_path}): it is not signed by the cluster's CA, or has expired")
    assert rejections == []
