"""AdminService: what this node sees of the cluster, for `nodectl status` and operators."""

from __future__ import annotations

from typing import Callable

import grpc

from node.api.status import unary, unary_method
from node.gossip import MemberState, Membership
from node.objects.coordinator import replication
from node.ring import Ring
from node.store import NodeStore
from ringstore.v1 import admin_pb2

SERVICE = "ringstore.v1.AdminService"
SOFTWARE_VERSION = "0.1.0"


class AdminServicer:
    def __init__(self, *, membership: Membership, ring: Callable[[], Ring], store: NodeStore,
                 default_replicas: int, metadata_replicas: int) -> None:
        self._membership = membership
        self._ring = ring
        self._store = store
        self._default_replicas = default_replicas
        self._metadata_replicas = metadata_replicas

    @unary
    def GetClusterStatus(self, request, context):
        ring = self._ring()
        ownership = ring.ownership()
        me = self._membership.node_id
        reply = admin_pb2.GetClusterStatusResponse(
            node_id=me, default_policy=replication(self._default_replicas),
            metadata_replicas=self._metadata_replicas, software_version=SOFTWARE_VERSION)
        healthy = True
        for member in self._membership.members():
            status = reply.members.add(member=member.to_proto(), ring_share=ownership.get(member.node_id, 0.0),
                                       state_age_s=self._membership.state_age_s(member.node_id))
            if member.node_id == me:
                status.chunks_stored, status.bytes_stored = self._store.stats()
            if member.node_id in ring.node_ids and member.state != MemberState.ALIVE:
                healthy = False
        reply.health = "healthy" if healthy else "degraded"
        return reply

    @unary
    def GetRing(self, request, context):
        ring = self._ring()
        reply = admin_pb2.GetRingResponse()
        for token, node_id in ring.tokens():
            reply.tokens.add(token=token, node_id=node_id)
        reply.ownership.update(ring.ownership())
        return reply

    def handlers(self) -> grpc.GenericRpcHandler:
        return grpc.method_handlers_generic_handler(SERVICE, {
            "GetClusterStatus": unary_method(self.GetClusterStatus, admin_pb2.GetClusterStatusRequest),
            "GetRing": unary_method(self.GetRing, admin_pb2.GetRingRequest),
        })
