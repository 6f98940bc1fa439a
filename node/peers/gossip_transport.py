"""The membership Transport over gRPC: what `node.gossip.MembershipDriver` sends, through PeerClient.

Every call reports its kind (`heartbeat`, `sync`, ... the same names MembershipServicer counts on
the receiving end) to `on_send`, and the serialized sizes of its request and of the peer's reply to
`on_bytes`, so idle gossip traffic can be read in bytes per node from the metrics. Sizes are the
protobuf messages; gRPC's HTTP/2 framing and TLS records ride on top of every call and are
not counted (count the calls for that). Rejected: counting bytes on the channel (a gRPC
interceptor); the same channels carry chunk data, and membership traffic must not drown in it.
"""

from __future__ import annotations

import grpc

from node.gossip import MemberInfo
from node.gossip.transport import PeerRejected, PeerUnimplemented, PeerUnreachable
from node.peers.client import PeerClient, PeerError
from ringstore.v1 import membership_pb2 as m

_REJECTED = (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED)
# MembershipService method -> the kind label both ends count it under.
KIND_OF_METHOD = {"Heartbeat": "heartbeat", "IndirectProbe": "indirect_probe", "Ping": "ping",
                  "Gossip": "gossip", "SyncState": "sync", "SyncDigest": "sync_digest", "Join": "join"}


class JoinedTable(list):
    """A Join answer: the members, plus the generation of an earlier life of the joiner's node id
    the answering node knew (0: none), which tells a node whose store is new that its disk was
    replaced rather than that it is new."""

    def __init__(self, members: list[MemberInfo], previous_generation: int, previous_state: int = 0) -> None:
        super().__init__(members)
        self.previous_generation = previous_generation
        # The wire number of that earlier record's state (0: none); see JoinResponse.previous_state.
        self.previous_state = previous_state


class GrpcTransport:
    """Implements node.gossip.transport.Transport with MembershipService calls.

    `diagnose(address)` (optional) asks a peer that closed a Join's connection at once whether it
    refused this node's certificate (ringstore.tls.probe): gRPC reports that only as "Socket
    closed", like a node that died mid-call, and a joining node must stop with the reason rather
    than retry for its whole join deadline."""

    def __init__(self, peers: PeerClient, on_send=None, diagnose=None) -> None:
        self._peers = peers
        self._diagnose = diagnose or (lambda address: None)
        self._on_send = on_send or (lambda kind: None)
        # on_bytes(kind, direction, size_bytes) with direction "sent" or "received"; set by the
        # MembershipServicer, which counts the other end's bytes too.
        self.on_bytes = lambda kind, direction, size_bytes: None

    def _call(self, address: str, name: str, request, timeout_s: float):
        kind = KIND_OF_METHOD[name]
        self._on_send(kind)
        self.on_bytes(kind, "sent", request.ByteSize())
        try:
            reply = self._peers.membership_call(address, name, request, timeout_s)
        except PeerError as err:
            if err.code in _REJECTED or err.tls_refused:
                raise PeerRejected(address, err.details) from None
            if name == "Join" and "Socket closed" in err.details:
                refused = self._diagnose(address)
                if refused:
                    raise PeerRejected(address, refused) from None
            if err.code == grpc.StatusCode.UNIMPLEMENTED:
                raise PeerUnimplemented(address, f"{err.code.name}: {err.details}") from None
            raise PeerUnreachable(address, f"{err.code.name}: {err.details}") from None
        self.on_bytes(kind, "received", reply.ByteSize())
        return reply

    def heartbeat(self, address: str, sender: MemberInfo, updates, timeout_s: float) -> list[MemberInfo]:
        reply = self._call(address, "Heartbeat", m.HeartbeatRequest(
            sender=sender.to_proto(), updates=[u.to_proto() for u in updates]), timeout_s)
        return [MemberInfo.from_proto(x) for x in reply.updates]

    def gossip(self, address: str, updates, timeout_s: float) -> None:
        self._call(address, "Gossip", m.GossipRequest(updates=[u.to_proto() for u in updates]), timeout_s)

    def sync(self, address: str, members, timeout_s: float) -> list[MemberInfo]:
        reply = self._call(address, "SyncState", m.SyncStateRequest(members=[x.to_proto() for x in members]),
                           timeout_s)
        return [MemberInfo.from_proto(x) for x in reply.members]

    def sync_digest(self, address: str, bucket_hashes,
                    timeout_s: float) -> tuple[list[int], list[MemberInfo]]:
        reply = self._call(address, "SyncDigest", m.SyncDigestRequest(bucket_hashes=bucket_hashes), timeout_s)
        return list(reply.buckets), [MemberInfo.from_proto(x) for x in reply.members]

    def indirect_probe(self, helper_address: str, target_node_id: str, target_address: str,
                       timeout_s: float) -> bool:
        # The helper gets 80 % of our budget for its own ping, so its answer arrives while we still wait.
        reply = self._call(helper_address, "IndirectProbe", m.IndirectProbeRequest(
            target_node_id=target_node_id, target_address=target_address, timeout_ms=int(timeout_s * 800)),
            timeout_s)
        return reply.reachable

    def ping(self, address: str, node_id: str, timeout_s: float) -> MemberInfo | None:
        try:
            reply = self._call(address, "Ping", m.PingRequest(node_id=node_id), timeout_s)
        except PeerUnreachable:
            return None
        return MemberInfo.from_proto(reply.member)

    def join(self, address: str, me: MemberInfo, timeout_s: float) -> list[MemberInfo]:
        reply = self._call(address, "Join", m.JoinRequest(member=me.to_proto()), timeout_s)
        return JoinedTable([MemberInfo.from_proto(x) for x in reply.members], reply.previous_generation,
                           reply.previous_state)
