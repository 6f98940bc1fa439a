"""Membership over real gRPC: the digest sync through MembershipServicer and GrpcTransport, and what
a node from before digest sync answers (a servicer without the SyncDigest method, as an old daemon
registers it).

Each test starts in-process plaintext gRPC servers on free loopback ports (the peer port's mutual TLS
is tested in test_peer_identity.py) and stops them at the end.
"""

from __future__ import annotations

import concurrent.futures as cf
import random

import grpc
import pytest

from node.api.membership_service import SERVICE, MembershipServicer
from node.api.status import unary_method
from node.config import GossipConfig
from node.gossip import ManualClock, MemberInfo, MemberState, Membership, PeerUnimplemented, PeerUnreachable
from node.metrics import Metrics
from node.peers.client import PeerClient
from node.peers.gossip_transport import GrpcTransport
from ringstore.v1 import membership_pb2 as m

# The MembershipService methods of a daemon from before digest sync.
OLD_METHODS = ("Heartbeat", "IndirectProbe", "Ping", "Gossip", "SyncState", "Join")
MIB = 1024 * 1024


def _member(node_id: str, incarnation: int = 0) -> MemberInfo:
    return MemberInfo(node_id=node_id, address=f"{node_id}.test:7400", zone="", capacity_bytes=1,
                      generation=100, incarnation=incarnation, state=MemberState.ALIVE)


class _Server:
    """One node's MembershipService on a free port; `old` leaves SyncDigest out, as a daemon from
    before digest sync registers the service."""

    def __init__(self, membership: Membership, *, old: bool) -> None:
        peers = PeerClient(node_id=membership.node_id, message_bytes_max=8 * MIB)
        servicer = MembershipServicer(membership, GrpcTransport(peers), Metrics(), probe_timeout_s=0.5)
        handler = servicer.handlers()
        if old:
            handler = grpc.method_handlers_generic_handler(SERVICE, {
                name: unary_method(getattr(servicer, name), getattr(m, f"{name}Request"))
                for name in OLD_METHODS})
        self.server = grpc.server(cf.ThreadPoolExecutor(max_workers=4))
        self.server.add_generic_rpc_handlers((handler,))
        self.address = f"127.0.0.1:{self.server.add_insecure_port('127.0.0.1:0')}"
        self.server.start()


@pytest.fixture
def cluster():
    """(make_server, transport): servers are stopped and the client closed at the end."""
    servers: list[_Server] = []
    peers = PeerClient(node_id="caller", message_bytes_max=8 * MIB)

    def make_server(membership: Membership, *, old: bool = False) -> _Server:
        servers.append(_Server(membership, old=old))
        return servers[-1]

    try:
        yield make_server, GrpcTransport(peers)
    finally:
        peers.close()
        for server in servers:
            server.server.stop(None)


def _membership(node_id: str, *records: MemberInfo) -> Membership:
    node = Membership(config=GossipConfig(), me=_member(node_id), clock=ManualClock(), rng=random.Random(1))
    node.on_sync_reply(list(records))
    return node


def test_sync_digest_over_grpc_answers_the_differing_buckets_and_nothing_when_converged(cluster):
    """A digest sent with GrpcTransport reaches MembershipServicer.SyncDigest: the answer names the
    one bucket that differs with the callee's records in it; a digest equal to the callee's gets an
    empty answer."""
    make_server, transport = cluster
    callee = _membership("b0", *[_member(f"n{i}") for i in range(20)], _member("x1", incarnation=4))
    server = make_server(callee)
    caller = _membership("b0", *[_member(f"n{i}") for i in range(20)], _member("x1", incarnation=3))
    buckets, members = transport.sync_digest(server.address, caller._table.digest.hashes(), 5.0)
    assert buckets == [callee._table.digest.bucket("x1")]
    assert _member("x1", incarnation=4) in members
    assert all(callee._table.digest.bucket(m.node_id) == buckets[0] for m in members)
    assert transport.sync_digest(server.address, callee._table.digest.hashes(), 5.0) == ([], [])


def test_an_old_node_answers_the_digest_unimplemented_and_the_whole_table_sync_still_works(cluster):
    """A node from before digest sync has no SyncDigest: the transport raises PeerUnimplemented (a
    kind of PeerUnreachable, so callers that do not know it treat it as a failed call), and the
    whole-table SyncState works as before, both against the old node and against a new one."""
    make_server, transport = cluster
    old = make_server(_membership("o0", _member("n1")), old=True)
    new = make_server(_membership("w0", _member("n2")))
    with pytest.raises(PeerUnimplemented) as info:
        transport.sync_digest(old.address, [0] * 64, 5.0)
    assert isinstance(info.value, PeerUnreachable) and "UNIMPLEMENTED" in str(info.value)
    for server, holder in ((old, "o0"), (new, "w0")):
        table = transport.sync(server.address, [_member("n9")], 5.0)
        assert {m.node_id for m in table} >= {holder, "n9"}


def test_a_malformed_digest_is_invalid_argument_not_unimplemented(cluster):
    """An empty digest is refused with INVALID_ARGUMENT (PeerUnreachable naming it), so a bad caller
    is never mistaken for an old peer."""
    make_server, transport = cluster
    server = make_server(_membership("b0"))
    with pytest.raises(PeerUnreachable) as info:
        transport.sync_digest(server.address, [], 5.0)
    assert not isinstance(info.value, PeerUnimplemented) and "INVALID_ARGUMENT" in str(info.value)
