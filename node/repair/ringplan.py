"""What a ring change would move: `nodectl ring plan add|drain NODE`, before anyone commits to it.

Design. A ring change moves nothing by itself; the repair loop does, layout by layout, with
`plan.plan_layout` under the new ring. So the preview runs that same planner: it builds the ring the
change would give (`Ring.with_member` for an add, `Ring.without_member` for a drain), plans every
chunk layout under the new ring's order, and sums the moves per (source node, target node) with
their copies and bytes. Whatever rule repair follows (a share on a home stays there, a DOWN home
keeps its slot, a layout with too few ring members cannot be placed) the preview follows too,
because it is the same function.

Counted once. Each node plans only the layouts it is responsible for under the *current* ring
(`plan.responsible_node`: the first ALIVE holder in ring order that the placement record names, the
same rule that picks the node repairing a layout), from the placement records in its own store.
Every holder keeps the record, the responsible node is one of them, so summing every node's answer
(`merge_plans`) counts every layout exactly once. A layout with no ALIVE holder is counted by nobody;
it is unreadable now and no ring change moves it.

Believed, not probed. The plan takes each record's holders as they are written and asks no node
what it actually has: a preview must be cheap enough to run before every change and must not load
the nodes it is about to burden. Copies lost since the last scan show up as repair work, not here.
An added node counts as ALIVE in the new ring (it would be by the time it joins); a drained node
keeps its liveness, since it stays up and is the source of its own copies until repair has moved
them. When a copy could come from several holders, the drained node is named as the source, since a
drain copies from it; otherwise the first holder in the planner's order. Under erasure coding a move
with no holder of its share is a rebuild from K other shares and has source "".

The plan includes work the current ring already has pending (a handoff copy not yet returned, a
home missing its copy): after the change, repair would do it too. Metadata partitions (manifests,
bucket records) are left out: they are small next to chunk data and follow the same ring.

Rejected: diffing each chunk's old home set against its new one. It needs no planner, but it would
say nothing true about what the records hold (handoff copies, a DOWN home that keeps its slot, a
layout the smaller ring cannot place), could not name the node a copy comes from, and would drift
from repair's rule the first time that rule changed.

Rejected: one node planning every layout from every record it can gather. It would have to pull
every placement record in the cluster through one node; each node reading its own store is
parallel and needs nothing but a sum.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable

from ringstore.v1 import admin_pb2, common_pb2

from node.errors import FailedPrecondition, InvalidArgument
# The member id rule itself, so a node this plan accepts is one gossip would accept.
from node.gossip.member import _NODE_ID_RE, ZONE_LENGTH_MAX
from node.repair.plan import (Layout, Move, plan_layout, preferred_homes, record_presence, recorded_slots,
                              responsible_node)
from node.ring import Ring, RingMember, chunk_position

# Distinct example reasons an answer carries for the layouts it cannot place (one per kind of
# trouble is what an operator reads; the count says how many layouts have it).
UNPLACEABLE_REASONS_MAX = 5

_CHANGE = admin_pb2.PlanRingRequest


def plan_ring_change(request: admin_pb2.PlanRingRequest, *, me: str, ring: Ring,
                     is_live: Callable[[str], bool], records: Iterable[common_pb2.PlacementRecord],
                     weight_unit_bytes: int,
                     store_created_at_ms: Callable[[str], int] = lambda node_id: 0) -> admin_pb2.PlanRingResponse:
    """This node's part of the plan: the layouts among `records` it is responsible for under `ring`,
    planned under the ring the change gives. `weight_unit_bytes`: the capacity that counts as weight
    1.0 (RingConfig.weight_unit_bytes). `store_created_at_ms`: when each node's store was created,
    for the same responsibility rule repair follows. Raises InvalidArgument / FailedPrecondition for
    a bad request."""
    new_ring = _changed_ring(request, ring, weight_unit_bytes)
    added = request.node_id if request.change == _CHANGE.CHANGE_ADD else None
    drained = request.node_id if request.change == _CHANGE.CHANGE_DRAIN else None

    def is_live_after(node_id: str) -> bool:
        return node_id == added or is_live(node_id)

    response = admin_pb2.PlanRingResponse(node_ids=[me])
    moved: dict[tuple[str, str], list[int]] = {}
    reasons: list[str] = []
    for record in records:
        layout = Layout.of_record(record)
        if layout.wanted == 0:
            continue
        position = chunk_position(layout.chunk_id)
        named = [h.node_id for h in record.holders]
        def presence(node: str, at_ms: int = record.updated_at_unix_ms) -> int:
            return record_presence(at_ms, store_created_at_ms(node))

        if responsible_node(ring.ordered_nodes(position), named, is_live, presence) != me:
            continue
        recorded = recorded_slots(record, layout)
        plan = plan_layout(layout, new_ring.ordered_nodes(position), is_live_after, recorded, recorded,
                           preferred_homes(record, layout))
        copy_bytes = layout.copy_size_bytes()
        response.layouts_total += 1
        response.copies_total += layout.wanted
        response.bytes_total += layout.wanted * copy_bytes
        for move in plan.moves:
            tally = moved.setdefault((_source(move, drained), move.target), [0, 0])
            tally[0] += 1
            tally[1] += copy_bytes
        if plan.unrepairable:  # also set whenever some slot has no target (too few ring members)
            response.layouts_unplaceable += 1
            if plan.unrepairable not in reasons and len(reasons) < UNPLACEABLE_REASONS_MAX:
                reasons.append(plan.unrepairable)
    _fill_moves(response, moved)
    response.unplaceable_reasons.extend(reasons)
    return response


def merge_plans(parts: Iterable[admin_pb2.PlanRingResponse]) -> admin_pb2.PlanRingResponse:
    """The cluster's plan from every node's part: counters summed, moves merged by (source, target)
    and sorted, at most UNPLACEABLE_REASONS_MAX distinct reasons (sorted, so the answer does not
    depend on which node answered first), node ids and unreachable nodes sorted."""
    merged = admin_pb2.PlanRingResponse()
    moved: dict[tuple[str, str], list[int]] = {}
    reasons: set[str] = set()
    node_ids: set[str] = set()
    unreachable: set[str] = set()
    for part in parts:
        for field in ("layouts_total", "copies_total", "bytes_total", "layouts_unplaceable"):
            setattr(merged, field, getattr(merged, field) + getattr(part, field))
        for move in part.moves:
            tally = moved.setdefault((move.source_node_id, move.target_node_id), [0, 0])
            tally[0] += move.copies
            tally[1] += move.bytes
        reasons.update(part.unplaceable_reasons)
        node_ids.update(part.node_ids)
        unreachable.update(part.unreachable)
    _fill_moves(merged, moved)
    merged.unplaceable_reasons.extend(sorted(reasons)[:UNPLACEABLE_REASONS_MAX])
    merged.node_ids.extend(sorted(node_ids))
    merged.unreachable.extend(sorted(unreachable))
    return merged


def _changed_ring(request: admin_pb2.PlanRingRequest, ring: Ring, weight_unit_bytes: int) -> Ring:
    """The ring the requested change gives, or the error that says what is wrong with the request."""
    node_id = request.node_id
    if request.change not in (_CHANGE.CHANGE_ADD, _CHANGE.CHANGE_DRAIN):
        name = (_CHANGE.Change.Name(request.change) if request.change in _CHANGE.Change.values()
                else str(request.change))
        raise InvalidArgument(f"ring plan: change {name} is not one to plan; pass CHANGE_ADD or CHANGE_DRAIN")
    if not _NODE_ID_RE.match(node_id):
        raise InvalidArgument(f"ring plan: node id {node_id!r} must match [a-z0-9][a-z0-9-]{{0,62}}")
    if request.change == _CHANGE.CHANGE_DRAIN:
        if node_id not in ring:
            raise FailedPrecondition(f"ring plan: {node_id} is not one of the {len(ring)} ring members "
                                     "(already draining, OUT or LEFT?); check `nodectl status`")
        return ring.without_member(node_id)
    if node_id in ring:
        raise FailedPrecondition(f"ring plan: {node_id} is already one of the {len(ring)} ring members; "
                                 "plan a drain of it, or add a node with a new id")
    if len(request.zone) > ZONE_LENGTH_MAX:
        raise InvalidArgument(f"ring plan: zone of {node_id} must be at most {ZONE_LENGTH_MAX} "
                              f"characters, got {len(request.zone)}")
    if request.capacity_bytes:
        weight = request.capacity_bytes / weight_unit_bytes
    else:  # like a typical member; an empty ring has no members to take after
        weight = statistics.median(m.weight for m in ring.members) if len(ring) else 1.0
    try:
        return ring.with_member(RingMember(node_id, request.zone, weight))
    except ValueError as exc:  # a capacity so large the member would own too many tokens
        raise InvalidArgument(f"ring plan: capacity_bytes {request.capacity_bytes} of {node_id} "
                              f"does not fit the ring ({exc})") from None


def _source(move: Move, drained: str | None) -> str:
    """Where a move copies from: the drained node when it holds the slot, else the first source;
    "" for an erasure-coded share rebuilt from K others."""
    if drained is not None and drained in move.sources:
        return drained
    return move.sources[0] if move.sources else ""


def _fill_moves(response: admin_pb2.PlanRingResponse, moved: dict[tuple[str, str], list[int]]) -> None:
    for (source, target), (copies, size_bytes) in sorted(moved.items()):
        response.moves.add(source_node_id=source, target_node_id=target, copies=copies, bytes=size_bytes)
        response.copies_moved += copies
        response.bytes_moved += size_bytes

