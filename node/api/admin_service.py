"""AdminService: what this node sees of the cluster, for `nodectl status` and operators.

Cluster-wide calls (repair status, throttles, scrub, ring plans) are answered by the contacted node:
it does its own part and asks every other ALIVE member the same question with `this_node_only` set,
in parallel, and lists the members that did not answer instead of failing the whole call. So any
client, not only nodectl, gets the cluster's answer from any one node.

Calls about one node (its status, drain, maintenance) are forwarded by the contacted node to the
named node, because only a node changes its own membership record (see node/gossip/member.py). A
node that is not ALIVE cannot be drained or put in maintenance; its status is the record gossip
holds about it.
"""

from __future__ import annotations

import concurrent.futures as cf
import dataclasses
from typing import Callable

import grpc

from node import errors
from node.api.status import download_method, streaming, unary, unary_method
from node.gossip import MemberInfo, MemberState, Membership
from node.objects.coordinator import replication
from node.peers.client import PeerClient, PeerError
from node.repair.ringplan import merge_plans
from node.ring import Ring
from node.store import NodeStore
from ringstore.v1 import admin_pb2

# Deadline of one fan-out call to another member.
FAN_OUT_TIMEOUT_S = 10.0
# ... of the handover fan-out, which `nodectl status` makes every time: a member that hangs costs
# the status command this long, and is listed as not answering.
HANDOVER_TIMEOUT_S = 3.0
# Longest maintenance window one call may set; a longer absence should let repair run.
MAINTENANCE_S_MAX = 7 * 24 * 3600

# What a forwarded call's status code means to our caller (the reverse of node/api/status.py).
_ERROR_OF_CODE = {
    grpc.StatusCode.INVALID_ARGUMENT: errors.InvalidArgument,
    grpc.StatusCode.NOT_FOUND: errors.NotFound,
    grpc.StatusCode.FAILED_PRECONDITION: errors.FailedPrecondition,
    grpc.StatusCode.RESOURCE_EXHAUSTED: errors.ResourceExhausted,
}


@dataclasses.dataclass(frozen=True)
class Healing:
    """The self-healing parts the admin calls reach (the daemon's repairer, scrubber, fsck)."""

    repair_status: Callable[[], admin_pb2.NodeRepairStatus]
    set_repair_config: Callable[[admin_pb2.SetRepairConfigRequest], None]
    start_scrub: Callable[[], None]
    scrub_status: Callable[[], admin_pb2.NodeScrubStatus]
    fsck: Callable[[str, bool, int], object]  # (bucket, deep, bandwidth_bytes_per_s)
    repair_debt_chunks: Callable[[], int]
    handover: Callable[[int], admin_pb2.NodeHandover]  # (ring to promise readers, or 0)
    lifecycle_status: Callable[[], admin_pb2.NodeLifecycleStatus]


@dataclasses.dataclass(frozen=True)
class Operations:
    """This node's own operator actions (the daemon's drain, maintenance, status and ring plan)."""

    node_status: Callable[[], admin_pb2.NodeStatus]
    drain: Callable[[bool], admin_pb2.NodeStatus]
    set_maintenance: Callable[[int], admin_pb2.NodeStatus]
    plan_ring: Callable[[admin_pb2.PlanRingRequest], admin_pb2.PlanRingResponse]
    set_faults: Callable[[admin_pb2.SetFaultsRequest], admin_pb2.SetFaultsResponse]

SERVICE = "ringstore.v1.AdminService"
SOFTWARE_VERSION = "0.1.0"


class AdminServicer:
    def __init__(self, *, membership: Membership, ring: Callable[[], Ring], store: NodeStore,
                 default_replicas: int, metadata_replicas: int, healing: Healing, operations: Operations,
                 peers: PeerClient, pool: cf.Executor) -> None:
        self._healing = healing
        self._operations = operations
        self._peers = peers
        self._pool = pool
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
            if member.node_id in ring.node_ids and not member.state.live:
                healthy = False
            if member.state == MemberState.ALIVE and member.metadata_health:
                healthy = False  # its metadata is being refilled after damage, or damaged
        reply.health = "healthy" if healthy else "degraded"
        reply.repair_debt_chunks = self._healing.repair_debt_chunks()
        return reply

    @unary
    def GetRing(self, request, context):
        ring = self._ring()
        reply = admin_pb2.GetRingResponse()
        for token, node_id in ring.tokens():
            reply.tokens.add(token=token, node_id=node_id)
        reply.ownership.update(ring.ownership())
        return reply

    # -- self-healing -----------------------------------------------------------------------------

    def _fan_out(self, name: str, request, response_cls,
                 timeout_s: float = FAN_OUT_TIMEOUT_S) -> tuple[list, list[str]]:
        """Ask every other ALIVE member the same call with this_node_only set: (replies, failures)."""
        me = self._membership.node_id
        others = [m for m in self._membership.members() if m.node_id != me and m.state.live]
        forwarded = type(request)()
        forwarded.CopyFrom(request)
        forwarded.this_node_only = True
        futures = {self._pool.submit(self._peers.admin_call, m.address, name, forwarded, response_cls,
                                     timeout_s): m.node_id for m in others}
        replies, failures = [], []
        for future, node_id in futures.items():
            try:
                replies.append(future.result())
            except PeerError as err:
                failures.append(f"{node_id}: {err.code.name} {err.details}")
        return replies, sorted(failures)

    def _cluster_wide(self, name: str, request, reply, field: str, sort_key=None,
                      timeout_s: float = FAN_OUT_TIMEOUT_S):
        """`reply` holds this node's own part in its repeated `field`; unless the request is for
        this node only, add every other ALIVE member's part and name the members that did not
        answer. The parts come back sorted (by `sort_key`)."""
        if not request.this_node_only:
            replies, reply.unreachable[:] = self._fan_out(name, request, type(reply), timeout_s)
            for other in replies:
                getattr(reply, field).extend(getattr(other, field))
        getattr(reply, field).sort(key=sort_key)
        return reply

    @unary
    def GetRepairStatus(self, request, context):
        reply = admin_pb2.GetRepairStatusResponse(nodes=[self._healing.repair_status()])
        return self._cluster_wide("GetRepairStatus", request, reply, "nodes", lambda n: n.node_id)

    @unary
    def GetHandover(self, request, context):
        reply = admin_pb2.GetHandoverResponse(nodes=[self._healing.handover(request.promise_ring_fingerprint)])
        return self._cluster_wide("GetHandover", request, reply, "nodes", lambda n: n.node_id, HANDOVER_TIMEOUT_S)

    @unary
    def SetRepairConfig(self, request, context):
        self._healing.set_repair_config(request)
        reply = admin_pb2.SetRepairConfigResponse(node_ids=[self._membership.node_id])
        return self._cluster_wide("SetRepairConfig", request, reply, "node_ids")

    @unary
    def StartScrub(self, request, context):
        self._healing.start_scrub()
        reply = admin_pb2.StartScrubResponse(node_ids=[self._membership.node_id])
        return self._cluster_wide("StartScrub", request, reply, "node_ids")

    @unary
    def GetScrubStatus(self, request, context):
        reply = admin_pb2.GetScrubStatusResponse(nodes=[self._healing.scrub_status()])
        return self._cluster_wide("GetScrubStatus", request, reply, "nodes", lambda n: n.node_id)

    @unary
    def GetLifecycleStatus(self, request, context):
        reply = admin_pb2.GetLifecycleStatusResponse(nodes=[self._healing.lifecycle_status()])
        return self._cluster_wide("GetLifecycleStatus", request, reply, "nodes", lambda n: n.node_id)

    @streaming
    def Fsck(self, request, context):
        yield from self._healing.fsck(request.bucket, request.deep, request.bandwidth_bytes_per_s)

    # -- one node's operations --------------------------------------------------------------------

    @unary
    def GetNodeStatus(self, request, context):
        member = self._member(request.node_id)
        if member.node_id == self._membership.node_id:
            return self._operations.node_status()
        if not member.state.live:
            return admin_pb2.NodeStatus(node_id=member.node_id, member=member.to_proto())
        return self._forward(member, "GetNodeStatus", request)

    @unary
    def DrainNode(self, request, context):
        member = self._member(request.node_id, required=True)
        if member.node_id == self._membership.node_id:
            return self._operations.drain(request.cancel)
        self._require_alive(member, "draining moves its data away, so the node must be ALIVE; if it is gone "
                                    "for good, let it turn OUT and repair restores its data elsewhere")
        return self._forward(member, "DrainNode", request)

    @unary
    def SetMaintenance(self, request, context):
        if request.duration_s > MAINTENANCE_S_MAX:
            raise errors.InvalidArgument(f"maintenance of {request.duration_s} s is longer than the "
                                         f"{MAINTENANCE_S_MAX} s (7 days) limit; use a shorter window")
        member = self._member(request.node_id, required=True)
        if member.node_id == self._membership.node_id:
            return self._operations.set_maintenance(request.duration_s)
        self._require_alive(member, "the window rides on the node's own membership record; set it "
                                    "before the restart")
        return self._forward(member, "SetMaintenance", request)

    @unary
    def PlanRing(self, request, context):
        own = self._operations.plan_ring(request)
        if request.this_node_only:
            return own
        replies, unreachable = self._fan_out("PlanRing", request, admin_pb2.PlanRingResponse)
        merged = merge_plans([own, *replies])
        merged.unreachable[:] = unreachable
        return merged

    @unary
    def SetFaults(self, request, context):
        """The contacted node's own faults (never forwarded); refused unless it runs with
        --allow-fault-injection."""
        return self._operations.set_faults(request)

    def _member(self, node_id: str, *, required: bool = False) -> MemberInfo:
        if not node_id:
            if required:
                raise errors.InvalidArgument("name the node (node_id); `nodectl status` lists the members")
            node_id = self._membership.node_id
        member = self._membership.get(node_id)
        if member is None:
            raise errors.NotFound(f"no member {node_id!r} in this cluster; `nodectl status` lists the members")
        return member

    @staticmethod
    def _require_alive(member: MemberInfo, why: str) -> None:
        if not member.state.live:
            raise errors.FailedPrecondition(f"{member.node_id} is {member.state.name}: {why}")

    def _forward(self, member: MemberInfo, name: str, request) -> admin_pb2.NodeStatus:
        forwarded = type(request)()
        forwarded.CopyFrom(request)
        forwarded.node_id = member.node_id
        try:
            return self._peers.admin_call(member.address, name, forwarded, admin_pb2.NodeStatus, FAN_OUT_TIMEOUT_S)
        except PeerError as err:
            error = _ERROR_OF_CODE.get(err.code)
            if error is not None:
                raise error(err.details) from None
            raise errors.Unavailable(f"{member.node_id} did not answer ({err.code.name}: {err.details}); "
                                     "check it with `nodectl status` and retry") from None

    def handlers(self) -> grpc.GenericRpcHandler:
        a = admin_pb2
        return grpc.method_handlers_generic_handler(SERVICE, {
            "GetClusterStatus": unary_method(self.GetClusterStatus, a.GetClusterStatusRequest),
            "GetRing": unary_method(self.GetRing, a.GetRingRequest),
            "GetRepairStatus": unary_method(self.GetRepairStatus, a.GetRepairStatusRequest),
            "GetHandover": unary_method(self.GetHandover, a.GetHandoverRequest),
            "SetRepairConfig": unary_method(self.SetRepairConfig, a.SetRepairConfigRequest),
            "StartScrub": unary_method(self.StartScrub, a.StartScrubRequest),
            "GetScrubStatus": unary_method(self.GetScrubStatus, a.GetScrubStatusRequest),
            "GetLifecycleStatus": unary_method(self.GetLifecycleStatus, a.GetLifecycleStatusRequest),
            "Fsck": download_method(self.Fsck, a.FsckRequest),
            "GetNodeStatus": unary_method(self.GetNodeStatus, a.GetNodeStatusRequest),
            "DrainNode": unary_method(self.DrainNode, a.DrainNodeRequest),
            "SetMaintenance": unary_method(self.SetMaintenance, a.SetMaintenanceRequest),
            "PlanRing": unary_method(self.PlanRing, a.PlanRingRequest),
            "SetFaults": unary_method(self.SetFaults, a.SetFaultsRequest),
        })
