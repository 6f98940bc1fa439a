"""Cluster and node calls of `Client`: cluster status, the ring, one node's status, drain,
maintenance, and ring plans.

Node operations name one node and go to any node, which forwards them to the named one (only a
node changes its own membership record): `node_status` (a read, retried like the others),
`drain_node` and `set_maintenance`. The two actions are not retried: an UNAVAILABLE answer may
come after the named node applied the change, and the operator is better served by the error
and `nodectl node status` than by a client that repeats an operator action on a guess. A node
that is not ALIVE cannot speak for itself; its status is then the record gossip holds, with no
counts (`NodeStatus.reported_by_node` says which). `plan_ring` is a read that fans out like
repair status: every ALIVE member plans the layouts it is responsible for, and the answer names
the members that did not answer, so a partial plan is shown, never passed off as whole.
"""

from __future__ import annotations

import time

from ringstore.auth import bootstrap
from ringstore.v1 import admin_pb2

from nodectl.client.connection import _Connection
from nodectl.client.from_pb import cluster_status_from_pb, handover_from_pb, node_status_from_pb, ring_plan_from_pb
from nodectl.client.limits import MAINTENANCE_S_MAX, UINT64_MAX, ZONE_LENGTH_MAX
from nodectl.client.results import ClusterStatus, Handover, InitResult, NodeStatus, RingInfo, RingPlan, RingToken
from nodectl.client.validate import _quoted, _validate_uint, validate_node_id
from nodectl.errors import InvalidArgument


# Ring changes `plan_ring` can preview, by the name callers use.
PLAN_CHANGES = {
    "add": admin_pb2.PlanRingRequest.CHANGE_ADD,
    "drain": admin_pb2.PlanRingRequest.CHANGE_DRAIN,
}


class _ClusterCalls(_Connection):
    """The cluster and its nodes: status, ring, node operations, ring plans."""

    def cluster_status(self) -> ClusterStatus:
        """Members, states, ring shares and health as the connected node sees them."""
        response = self._unary(self._admin.GetClusterStatus, admin_pb2.GetClusterStatusRequest())
        return cluster_status_from_pb(response)

    def handover(self, *, this_node_only: bool = False) -> Handover:
        """Where each member stands in handing its metadata partitions to their homes after a ring
        change; fans out like repair status and names the members that did not answer."""
        request = admin_pb2.GetHandoverRequest(this_node_only=this_node_only)
        return handover_from_pb(self._unary(self._admin.GetHandover, request))

    def ring(self) -> RingInfo:
        """The ring's tokens and the fraction of the key space each node owns."""
        response = self._unary(self._admin.GetRing, admin_pb2.GetRingRequest())
        return RingInfo(
            tokens=[RingToken(token=t.token, node_id=t.node_id) for t in response.tokens],
            ownership=dict(response.ownership),
        )

    # -- node operations and ring plans --------------------------------------------------------

    def node_status(self, node_id: str = "") -> NodeStatus:
        """One node's state, drain and maintenance flags, what it holds and its disk; the
        connected node's own when `node_id` is empty."""
        if node_id:
            validate_node_id(node_id)
        response = self._unary(self._admin.GetNodeStatus,
                               admin_pb2.GetNodeStatusRequest(node_id=node_id))
        return node_status_from_pb(response)

    def drain_node(self, node_id: str, *, cancel: bool = False) -> NodeStatus:
        """Start draining `node_id` (it leaves the ring at once, repair moves its data to the
        nodes that now own it, and it turns LEFT by itself once it holds nothing), or with
        `cancel` stop it (the node rejoins the ring; what already moved stays moved).

        Returns the node's status just after. Not retried. The node refuses (FailedPrecondition)
        when it is not ALIVE, has LEFT, or the ring left behind would be too small for some policy.
        """
        validate_node_id(node_id)
        response = self._unary(self._admin.DrainNode,
                               admin_pb2.DrainNodeRequest(node_id=node_id, cancel=cancel),
                               replayable=False)
        return node_status_from_pb(response)

    def set_maintenance(self, node_id: str, duration_s: int) -> NodeStatus:
        """Put `node_id` in maintenance for `duration_s` seconds from now (at most
        MAINTENANCE_S_MAX), during which DOWN does not turn OUT; 0 ends it. The node must be ALIVE
        (the window rides on its own record). Returns its status just after. Not retried."""
        validate_node_id(node_id)
        _validate_uint("duration_s", duration_s, 0, MAINTENANCE_S_MAX)
        response = self._unary(self._admin.SetMaintenance,
                               admin_pb2.SetMaintenanceRequest(node_id=node_id,
                                                               duration_s=duration_s),
                               replayable=False)
        return node_status_from_pb(response)

    def plan_ring(self, change: str, node_id: str, *, zone: str = "", capacity_bytes: int = 0,
                  this_node_only: bool = False) -> RingPlan:
        """What `change` ("add" or "drain") of `node_id` would move, by source and target, before
        anything moves. For "add", `zone` and `capacity_bytes` describe the new node (capacity 0:
        the median of the ring's members)."""
        if change not in PLAN_CHANGES:
            raise InvalidArgument(f"ring plan change {change!r} is not one of "
                                  f"{', '.join(sorted(PLAN_CHANGES))}")
        validate_node_id(node_id)
        if change != "add" and (zone or capacity_bytes):
            raise InvalidArgument("zone and capacity_bytes describe a node being added; a drain "
                                  "plan takes neither")
        if not isinstance(zone, str) or len(zone) > ZONE_LENGTH_MAX:
            raise InvalidArgument(f"zone must be a string of at most {ZONE_LENGTH_MAX} characters, "
                                  f"got {_quoted(zone) if isinstance(zone, str) else zone!r}")
        _validate_uint("capacity_bytes", capacity_bytes, 0, UINT64_MAX)
        request = admin_pb2.PlanRingRequest(change=PLAN_CHANGES[change], node_id=node_id,
                                            zone=zone, capacity_bytes=capacity_bytes,
                                            this_node_only=this_node_only)
        return ring_plan_from_pb(change, node_id, self._unary(self._admin.PlanRing, request))

    def init_cluster(self, cluster_key: bytes, *, key_id: str = "", secret: str = "",
                     description: str = "") -> InitResult:
        """Make the cluster's first operator key, proving knowledge of the cluster key (the contents
        of a node's --cluster-secret-file). Without key_id and secret the node makes them and
        answers the secret this once. Not retried: a lost answer would make a second key."""
        if bool(key_id) != bool(secret):
            raise InvalidArgument("give both key_id and secret, or neither (the node then makes them)")
        date_ms = int(time.time() * 1000)
        request = admin_pb2.InitClusterRequest(key_id=key_id, secret=secret, date_ms=date_ms,
                                               mac=bootstrap.init_mac(cluster_key, date_ms, key_id),
                                               description=description)
        response = self._unary(self._admin.InitCluster, request, replayable=bool(key_id))
        return InitResult(key_id=response.key_id, secret=response.secret or secret, created=response.created)
