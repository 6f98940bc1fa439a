"""Which member records make the ring, and as which `RingMember`: the one rule every caller uses.

Design. The ring is a pure function of its member set (node/ring), so every node must derive the
same set from the same table. The rule: a record is in the ring while its node is ALIVE, SUSPECT or
DOWN and not draining (a DOWN node keeps its place so its data is not moved on a blip; OUT, LEFT
and draining nodes are out), and it weighs `capacity_bytes / weight_unit_bytes`. The daemon's
`ClusterState` builds its ring from `ring_members(...)`; the simulation derives each node's ring and
checks its incremental fingerprints (one record at a time, `ring_member`) with the same functions,
so a change of the rule reaches both at once.

Rejected: keeping a copy of the rule in the simulator (it had one). It tested the copy, not the
daemon: a rule changed in one place only would have gone unseen.

Pure: functions of their arguments.
"""

from __future__ import annotations

from collections.abc import Iterable

from node.gossip.member import MemberInfo, MemberState
from node.ring import RingMember

RING_STATES = frozenset({MemberState.ALIVE, MemberState.SUSPECT, MemberState.DOWN})


def in_ring(info: MemberInfo) -> bool:
    """True when the record keeps its node in the ring (ALIVE, SUSPECT or DOWN, not draining)."""
    return info.state in RING_STATES and not info.draining


def ring_member(info: MemberInfo, weight_unit_bytes: int) -> RingMember | None:
    """The ring member a record makes, or None when the record keeps its node out of the ring."""
    if not in_ring(info):
        return None
    return RingMember(info.node_id, info.zone, info.capacity_bytes / weight_unit_bytes)


def ring_members(infos: Iterable[MemberInfo], weight_unit_bytes: int) -> tuple[RingMember, ...]:
    """The ring member set of a table (one record per node), sorted by node id: what `Ring(...)`
    is built from."""
    members = (ring_member(info, weight_unit_bytes) for info in infos)
    return tuple(sorted((m for m in members if m is not None), key=lambda m: m.node_id))
