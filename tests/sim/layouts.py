"""Synthetic chunk layouts on the converged ring: how far each ring change moved, and what repair
would plan, checked at every checkpoint of a run.

Design. A checkpoint is taken once the cluster has converged (every running node derives the same
ring member set). The book builds that ring (reusing the previous one's tokens when one member
joined or left), then:
- ring-movement: when exactly one member joined or left, the share of key positions whose first
  preference changed is that member's ownership, which must stay under `MOVEMENT_RATIO_MAX` / N
  (N = members of the larger ring). Exact, from the ring's ownership, not sampled from chunks:
  with a few hundred chunks a 1/1000 fraction would be a count of one or two;
- for every layout (half replicas=3, half ec=4+2, placed at their homes at the first checkpoint),
  the real planner (`plan_layout`, fed the chunk's `ordered_nodes`, the disk copies on ALIVE nodes
  as the scan's `present`, and the placement record) is run the way the repair loop runs it: make
  the planned copies, rewrite the record (`holders_after`), scan again, and drop surplus copies
  only when the plan is complete, until a scan finds nothing to do. Checked on the way:
  copies-never-fewer (no layout ends a checkpoint with fewer live copies or distinct shares than it
  started with, so no plan ever dropped a last copy), move-source (every copy is made from a live
  holder of that slot, or rebuilt from at least K shares), and, when the caller expects it and
  enough ALIVE ring members are left, full-redundancy (every layout back to all its copies, with no
  reason to call it unrepairable).
Who is responsible for a layout and how fast repair runs are not modelled: the repair loop's own
tests cover those; this checks the planner's decisions against the ring membership produces.

Copies live on disk: a killed node's copies are not present while it is down (not ALIVE), and are
there again if it restarts, as a restarted process keeps its store.

Rejected: counting moved copies of the synthetic layouts as the movement invariant. It is the
figure an operator sees, and the report prints it, but at N = 1000 the expected count per change is
about one copy per 1000, too few for a bound that does not flap.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable

from ringstore.v1 import common_pb2

from node.repair.plan import Layout, LayoutPlan, plan_layout, preferred_homes, recorded_slots
from node.ring import Ring, RingMember, chunk_position

from .invariants import SimViolation

# Adding or removing one member of N moves about 1/N of the key space; never more than this / N
# (DESIGN section 4).
MOVEMENT_RATIO_MAX = 1.3
# Scans one checkpoint runs per layout: make copies, rewrite the record, drop surplus, then one
# scan that finds nothing. A layout still changing after this many is a planner that oscillates.
REPAIR_ROUNDS_MAX = 5
CHUNK_SIZE_BYTES = 4 * 1024 * 1024
REPLICAS = 3
EC_DATA_SHARES = 4
EC_PARITY_SHARES = 2

Violation = Callable[[str, str], SimViolation]


@dataclasses.dataclass(frozen=True)
class Checkpoint:
    """What one checkpoint found."""

    label: str
    time_s: float
    members: int
    # "" at the first checkpoint, "none", "join NODE", "leave NODE", or "several" (no bound then).
    change: str
    # Share of key positions whose first preference moved, and that share times N (ideal 1.0).
    moved_fraction: float
    moved_ratio: float
    copies_made: int
    copies_dropped: int
    # All copies/shares that exist after the checkpoint, and the layouts below full redundancy.
    copies: int
    below_full: int


@dataclasses.dataclass
class _Chunk:
    layout: Layout
    position: int
    record: common_pb2.PlacementRecord
    disk: set[tuple[int, str]]   # (slot, node) copies that exist; replicas use slot 0


class LayoutBook:
    """The ring at the last checkpoint and the synthetic layouts placed on it."""

    def __init__(self, rng: random.Random, count: int, vnodes_per_node: int) -> None:
        self._chunk_ids = [rng.randbytes(32) for _ in range(count)]
        self._vnodes_per_node = vnodes_per_node
        self._ring: Ring | None = None
        self._chunks: list[_Chunk] = []

    def checkpoint(self, label: str, time_s: float, members: tuple[RingMember, ...],
                   is_live: Callable[[str], bool], *, expect_full: bool,
                   violation: Violation) -> Checkpoint:
        """Build the ring of `members`, check the movement and plan every layout (see above)."""
        old = self._ring
        ring = self._derive(members)
        ring.check()
        self._ring = ring
        change, moved = self._movement(old, ring, violation)
        n = max(len(ring), len(old) if old is not None else 0)
        if old is None:
            self._place(ring)
            made = dropped = 0
        else:
            made, dropped = self._repair(ring, is_live, expect_full, violation)
        copies = sum(len(chunk.disk) for chunk in self._chunks)
        below = sum(1 for chunk in self._chunks
                    if self._live_count(chunk, is_live) < chunk.layout.wanted)
        return Checkpoint(label=label, time_s=time_s, members=len(ring), change=change,
                          moved_fraction=moved, moved_ratio=moved * n, copies_made=made,
                          copies_dropped=dropped, copies=copies, below_full=below)

    # ---- the ring ----------------------------------------------------------------------------

    def _derive(self, members: tuple[RingMember, ...]) -> Ring:
        old = self._ring
        if old is None:
            return Ring(members, vnodes_per_node=self._vnodes_per_node)
        wanted_ids = {member.node_id for member in members}
        ring = old
        for member in old.members:
            if member.node_id not in wanted_ids:
                ring = ring.without_member(member.node_id)
        kept = set(ring.members)
        for member in members:
            if member not in kept:
                ring = ring.with_member(member)   # a new member, or new attributes for one
        assert ring.members == tuple(sorted(members, key=lambda m: m.node_id)), "ring derivation"
        return ring

    @staticmethod
    def _movement(old: Ring | None, new: Ring, violation: Violation) -> tuple[str, float]:
        if old is None:
            return "", 0.0
        added = sorted(new.node_ids - old.node_ids)
        removed = sorted(old.node_ids - new.node_ids)
        if not added and not removed:
            return "none", 0.0
        if len(added) + len(removed) > 1:
            return "several", 0.0
        if added:
            node_id, ring, change = added[0], new, f"join {added[0]}"
        else:
            node_id, ring, change = removed[0], old, f"leave {removed[0]}"
        moved = ring.ownership()[node_id]
        bound = MOVEMENT_RATIO_MAX / len(ring)
        if moved > bound:
            raise violation("ring-movement",
                            f"{change} moved {moved:.5f} of the key space, more than "
                            f"{MOVEMENT_RATIO_MAX}/{len(ring)} = {bound:.5f}")
        return change, moved

    # ---- layouts -------------------------------------------------------------------------------

    def _place(self, ring: Ring) -> None:
        """Every layout at its homes, as a put on this ring would write it."""
        ec_fits = len(ring) >= EC_DATA_SHARES + EC_PARITY_SHARES
        for index, chunk_id in enumerate(self._chunk_ids):
            if index % 2 and ec_fits:
                layout = Layout(chunk_id, CHUNK_SIZE_BYTES, data_shares=EC_DATA_SHARES,
                                parity_shares=EC_PARITY_SHARES)
                policy = common_pb2.RedundancyPolicy(erasure_coding=common_pb2.ErasureCoding(
                    data_shares=EC_DATA_SHARES, parity_shares=EC_PARITY_SHARES))
            else:
                replicas = min(REPLICAS, len(ring))
                layout = Layout(chunk_id, CHUNK_SIZE_BYTES, replicas=replicas)
                policy = common_pb2.RedundancyPolicy(
                    replication=common_pb2.Replication(replicas=replicas))
            position = chunk_position(chunk_id)
            homes = ring.ordered_nodes(position)[:layout.wanted]
            holders = [common_pb2.ShareHolder(node_id=node, share_index=slot,
                                              blake3=_share_hash(layout, slot))
                       for slot, node in enumerate(homes)]
            record = common_pb2.PlacementRecord(format_version=1, chunk_id=chunk_id, policy=policy,
                                                size_bytes=CHUNK_SIZE_BYTES, holders=holders)
            disk = {(slot if layout.erasure else 0, node) for slot, node in enumerate(homes)}
            self._chunks.append(_Chunk(layout, position, record, disk))

    def _repair(self, ring: Ring, is_live: Callable[[str], bool], expect_full: bool,
                violation: Violation) -> tuple[int, int]:
        live_members = sum(1 for node_id in ring.node_ids if is_live(node_id))
        made = dropped = 0
        for chunk in self._chunks:
            layout = chunk.layout
            order = ring.ordered_nodes(chunk.position)
            before = self._live_count(chunk, is_live)
            for _ in range(REPAIR_ROUNDS_MAX):
                plan = self._plan(chunk, order, is_live)
                if plan.moves:
                    self._check_sources(chunk, plan, is_live, violation)
                    for move in plan.moves:
                        chunk.disk.add((move.slot if layout.erasure else 0, move.target))
                    made += len(plan.moves)
                    self._rewrite_record(chunk, plan)
                    continue
                self._rewrite_record(chunk, plan)
                if plan.complete and plan.surplus:
                    for slot, node in plan.surplus:
                        chunk.disk.discard((slot, node))
                    dropped += len(plan.surplus)
                    continue
                break
            else:
                raise violation("repair-settles", f"chunk {layout.chunk_id.hex()[:16]} "
                                f"({layout.policy_text}) still has work after "
                                f"{REPAIR_ROUNDS_MAX} scans: {plan.moves} {plan.surplus}")
            after = self._live_count(chunk, is_live)
            if after < before:
                raise violation("copies-never-fewer",
                                f"chunk {layout.chunk_id.hex()[:16]} ({layout.policy_text}) went "
                                f"from {before} to {after} live copies ({plan.held})")
            if expect_full and live_members >= layout.wanted and (
                    after < layout.wanted or plan.unrepairable):
                raise violation("full-redundancy",
                                f"chunk {layout.chunk_id.hex()[:16]} ({layout.policy_text}) has "
                                f"{after} of {layout.wanted} with {live_members} ALIVE ring "
                                f"members: {plan.unrepairable or 'no plan back to full'}")
        return made, dropped

    @staticmethod
    def _plan(chunk: _Chunk, order: list[str], is_live: Callable[[str], bool]) -> LayoutPlan:
        present = [(slot, node) for slot, node in sorted(chunk.disk) if is_live(node)]
        return plan_layout(chunk.layout, order, is_live, present,
                           recorded_slots(chunk.record, chunk.layout),
                           preferred_homes(chunk.record, chunk.layout))

    @staticmethod
    def _check_sources(chunk: _Chunk, plan: LayoutPlan, is_live: Callable[[str], bool],
                       violation: Violation) -> None:
        layout = chunk.layout
        for move in plan.moves:
            slot = move.slot if layout.erasure else 0
            bad = [s for s in move.sources if not is_live(s) or (slot, s) not in chunk.disk]
            rebuild = layout.erasure and not move.sources and plan.present >= layout.needed
            if bad or not (move.sources or rebuild):
                raise violation("move-source",
                                f"chunk {layout.chunk_id.hex()[:16]} ({layout.policy_text}) slot "
                                f"{move.slot} -> {move.target} from {move.sources or 'nothing'} "
                                f"({plan.present} present)")

    @staticmethod
    def _rewrite_record(chunk: _Chunk, plan: LayoutPlan) -> None:
        record = common_pb2.PlacementRecord()
        record.CopyFrom(chunk.record)
        record.ClearField("holders")
        record.holders.extend(plan.holders_after(chunk.record, plan.moves))
        chunk.record = record

    @staticmethod
    def _live_count(chunk: _Chunk, is_live: Callable[[str], bool]) -> int:
        """Live copies (replicas, at most `wanted`) or distinct live shares."""
        live = {(slot, node) for slot, node in chunk.disk if is_live(node)}
        if chunk.layout.erasure:
            return len({slot for slot, _ in live})
        return min(chunk.layout.wanted, len(live))


def _share_hash(layout: Layout, slot: int) -> bytes:
    """What the record stores as a share's blake3: the chunk id for replicas, a stand-in value per
    share index under erasure coding (the planner only copies it along)."""
    if not layout.erasure:
        return layout.chunk_id
    return bytes([slot]) * 32
