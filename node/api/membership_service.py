"""MembershipService: heartbeats, gossip, state sync (by digest, and whole tables for nodes from
before digests) and joins, handed to the `Membership` machine.

The servicer also keeps the node's membership traffic accounting, both ends in one place: the
messages and serialized bytes of every call it serves (requests in, replies out), and through the
`GrpcTransport` it is given, the calls this node makes (requests out, replies in). That is what
`ringstore_gossip_bytes_total` reports and bench's idle-gossip figure reads.
"""

from __future__ import annotations

import grpc

from node.api.status import unary, unary_method
from node.gossip import MemberInfo, Membership
from node.gossip.transport import PeerUnreachable, Transport
from node.metrics import Metrics
from node.peers.gossip_transport import GrpcTransport
from ringstore.v1 import membership_pb2 as m

SERVICE = "ringstore.v1.MembershipService"


def _infos(members) -> list[MemberInfo]:
    return [MemberInfo.from_proto(x) for x in members]


def _protos(infos) -> list[m.Member]:
    return [x.to_proto() for x in infos]


class MembershipServicer:
    def __init__(self, membership: Membership, transport: Transport, metrics: Metrics, probe_timeout_s: float) -> None:
        """`probe_timeout_s` caps the ping an IndirectProbe asks of this node: the asker's budget
        is the configured timeout stretched by its local health, so pass the most it can be."""
        self._membership = membership
        self._transport = transport
        self._metrics = metrics
        self._probe_timeout_s = probe_timeout_s
        if isinstance(transport, GrpcTransport):
            transport.on_bytes = self._count_bytes

    def _count_bytes(self, kind: str, direction: str, size_bytes: int) -> None:
        self._metrics.gossip_bytes.labels(kind, direction).inc(size_bytes)

    def _count(self, kind: str, request) -> None:
        self._metrics.gossip_messages.labels(kind, "received").inc()
        self._count_bytes(kind, "received", request.ByteSize())

    def _reply(self, kind: str, response):
        self._count_bytes(kind, "sent", response.ByteSize())
        return response

    @unary
    def Heartbeat(self, request, context):
        self._count("heartbeat", request)
        updates = self._membership.on_heartbeat(MemberInfo.from_proto(request.sender), _infos(request.updates))
        return self._reply("heartbeat", m.HeartbeatResponse(updates=_protos(updates)))

    @unary
    def IndirectProbe(self, request, context):
        self._count("indirect_probe", request)
        timeout_s = min(request.timeout_ms / 1000.0 if request.timeout_ms else self._probe_timeout_s,
                        self._probe_timeout_s)
        try:
            answer = self._transport.ping(request.target_address, request.target_node_id, timeout_s)
        except PeerUnreachable:
            answer = None
        return self._reply("indirect_probe", m.IndirectProbeResponse(reachable=answer is not None))

    @unary
    def Ping(self, request, context):
        self._count("ping", request)
        me = self._membership.me()
        if request.node_id and request.node_id != me.node_id:
            context.abort(grpc.StatusCode.NOT_FOUND, f"this is {me.node_id}, not {request.node_id}")
        return self._reply("ping", m.PingResponse(member=me.to_proto()))

    @unary
    def Gossip(self, request, context):
        self._count("gossip", request)
        self._membership.on_gossip(_infos(request.updates))
        return self._reply("gossip", m.GossipResponse())

    @unary
    def SyncState(self, request, context):
        self._count("sync", request)
        members = self._membership.on_sync(_infos(request.members))
        return self._reply("sync", m.SyncStateResponse(members=_protos(members)))

    @unary
    def SyncDigest(self, request, context):
        self._count("sync_digest", request)
        buckets, members = self._membership.on_sync_digest(list(request.bucket_hashes))
        return self._reply("sync_digest", m.SyncDigestResponse(buckets=buckets, members=_protos(members)))

    @unary
    def Join(self, request, context):
        self._count("join", request)
        joiner = MemberInfo.from_proto(request.member)
        members = self._membership.on_join(joiner)
        previous_state = self._membership.previous_state(joiner.node_id)
        return self._reply("join", m.JoinResponse(
            members=_protos(members), previous_generation=self._membership.previous_generation(joiner.node_id),
            previous_state=int(previous_state) if previous_state is not None else 0))

    def handlers(self) -> grpc.GenericRpcHandler:
        return grpc.method_handlers_generic_handler(SERVICE, {
            "Heartbeat": unary_method(self.Heartbeat, m.HeartbeatRequest),
            "IndirectProbe": unary_method(self.IndirectProbe, m.IndirectProbeRequest),
            "Ping": unary_method(self.Ping, m.PingRequest),
            "Gossip": unary_method(self.Gossip, m.GossipRequest),
            "SyncState": unary_method(self.SyncState, m.SyncStateRequest),
            "SyncDigest": unary_method(self.SyncDigest, m.SyncDigestRequest),
            "Join": unary_method(self.Join, m.JoinRequest),
        })



