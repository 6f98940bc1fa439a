"""Unit tests for the repair planner (node/repair/plan.py): where each slot of a chunk layout belongs,
which copies to make, which to drop, and how much redundancy is left.

Design. The planner is pure, so every case is a row of a table: which nodes of the chunk's ring order
hold which slot, which are DOWN and which left the ring, and the plan that must come out. Rows name
nodes by their place in a real `Ring`'s order for one chunk (`ORDER[i]`), so a row reads as "the
third home lacks its copy" and still exercises real ring order. Rebalancing is checked on real rings
with and without a node over many random chunk ids, because "only the missing share moves" is a
statement about ring order, not about any one hand-made list.

Rejected: hand-written ring orders such as ["a", "b", "c"] for every case. They make rows shorter, but
hide the one property that matters on join (a newcomer is inserted into every walk, the rest keep
their order) behind an assumption the test itself made.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable, Iterable

import pytest

from ringstore.v1 import common_pb2

from node.repair.plan import (HOLDS_BY_CLOCKS, HOLDS_NOT, HOLDS_SURELY, STORE_CLOCK_SKEW_MS_MAX, Layout, LayoutPlan,
                              Move, plan_layout, record_presence, responsible_node)
from node.ring import Ring, RingMember, chunk_position
from node.store import ShareKey

SEED = 20240917
CHUNK_ID = bytes(range(32))
# Not a multiple of 4 or 2, so share sizes round up.
SIZE_BYTES = 4_194_301
NODE_IDS = tuple(f"node-{i}" for i in range(1, 9))
RING = Ring([RingMember(n) for n in NODE_IDS], vnodes_per_node=64)
# The chunk's ring order on the 8-node ring: rows name nodes by their index here.
ORDER = tuple(RING.ordered_nodes(chunk_position(CHUNK_ID)))
# Rebalancing: chunks drawn, and the bounds on the fraction of shares a 6 -> 7 node join may move
# (ideal 1/7 = 0.143: only the share on the home the newcomer displaces).
REBALANCE_CHUNKS = 500
REBALANCE_MOVED_FRACTION_MIN = 0.10
REBALANCE_MOVED_FRACTION_MAX = 0.20

REPLICAS_3 = Layout(CHUNK_ID, SIZE_BYTES, replicas=3)
EC_4_2 = Layout(CHUNK_ID, SIZE_BYTES, data_shares=4, parity_shares=2)
EC_2_1 = Layout(CHUNK_ID, SIZE_BYTES, data_shares=2, parity_shares=1)


def _nodes(places: Iterable[int]) -> tuple[str, ...]:
    return tuple(ORDER[i] for i in places)


def _pairs(pairs: Iterable[tuple[int, int]]) -> list[tuple[int, str]]:
    """(slot, place in ORDER) -> (slot, node id)."""
    return [(slot, ORDER[place]) for slot, place in pairs]


def _live_except(down: Iterable[str]) -> Callable[[str], bool]:
    down_set = frozenset(down)
    return lambda node_id: node_id not in down_set


def _moves(plan: LayoutPlan) -> set[tuple[int, str, frozenset[str]]]:
    """Moves without the order of their sources (the planner promises the set, not an order)."""
    return {(m.slot, m.target, frozenset(m.sources)) for m in plan.moves}


def _record(layout: Layout, holders: Iterable[tuple[str, int, str]]) -> common_pb2.PlacementRecord:
    """A placement record with (node, slot, handoff_for) holders and a per-slot blake3 stand-in."""
    if layout.erasure:
        policy = common_pb2.RedundancyPolicy(erasure_coding=common_pb2.ErasureCoding(
            data_shares=layout.data_shares, parity_shares=layout.parity_shares))
    else:
        policy = common_pb2.RedundancyPolicy(replication=common_pb2.Replication(replicas=layout.replicas))
    return common_pb2.PlacementRecord(
        format_version=1, chunk_id=layout.chunk_id, policy=policy, size_bytes=layout.size_bytes,
        holders=[common_pb2.ShareHolder(node_id=node, share_index=slot, handoff_for_node_id=handoff_for,
                                        blake3=_share_hash(layout, slot))
                 for node, slot, handoff_for in holders])


def _share_hash(layout: Layout, slot: int) -> bytes:
    return bytes([slot]) * 32 if layout.erasure else layout.chunk_id


def _params(cases: Iterable) -> list:
    """Table rows as pytest params; a row with `bug` set is a strict xfail."""
    return [pytest.param(case, id=case.name,
                         marks=[pytest.mark.xfail(strict=True, reason=case.bug)] if case.bug else [])
            for case in cases]


def _holders(record_holders: Iterable[common_pb2.ShareHolder]) -> list[tuple[str, int, str]]:
    return [(h.node_id, h.share_index, h.handoff_for_node_id) for h in record_holders]


# ---- Layout -------------------------------------------------------------------------------------

@pytest.mark.parametrize("layout, policy_text, wanted, needed, copy_size_bytes, keys", [
    pytest.param(REPLICAS_3, "replicas=3", 3, 1, SIZE_BYTES, [ShareKey(CHUNK_ID)], id="replicas=3"),
    pytest.param(EC_4_2, "ec=4+2", 6, 4, 1_048_576, [ShareKey(CHUNK_ID, i, 4, 2) for i in range(6)],
                 id="ec=4+2"),
    pytest.param(EC_2_1, "ec=2+1", 3, 2, 2_097_151, [ShareKey(CHUNK_ID, i, 2, 1) for i in range(3)],
                 id="ec=2+1"),
    pytest.param(Layout(CHUNK_ID, 0, data_shares=2, parity_shares=1), "ec=2+1", 3, 2, 1,
                 [ShareKey(CHUNK_ID, i, 2, 1) for i in range(3)], id="ec=2+1-empty-chunk"),
    pytest.param(Layout(CHUNK_ID, 0, replicas=1), "replicas=1", 1, 1, 0, [ShareKey(CHUNK_ID)],
                 id="replicas=1-empty-chunk"),
])
def test_layout_sizes_counts_and_store_keys(layout, policy_text, wanted, needed, copy_size_bytes, keys):
    """wanted is N or K+M, needed is 1 or K, a copy is the chunk or ceil(size/K) bytes (at least 1),
    probe_keys is the one replica key or every share key, and key(slot) is the slot's own key."""
    assert layout.policy_text == policy_text
    assert (layout.wanted, layout.needed) == (wanted, needed)
    assert layout.copy_size_bytes() == copy_size_bytes
    assert layout.probe_keys() == keys
    assert [layout.key(slot) for slot in range(wanted)] == (keys * wanted if not layout.erasure else keys)


@pytest.mark.parametrize("layout", [REPLICAS_3, EC_4_2, EC_2_1], ids=lambda l: l.policy_text)
def test_layout_of_record_reads_the_policy_back(layout):
    """A placement record gives back the layout it was written for, under either policy."""
    assert Layout.of_record(_record(layout, [])) == layout


# ---- replicas=3 ---------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class ReplicaCase:
    """One replicas=3 situation on the 8-node ring; nodes are places in ORDER (0..2 are the homes)."""

    name: str
    holding: tuple[int, ...]  # places with a copy (verified when ALIVE, recorded otherwise)
    down: tuple[int, ...] = ()  # places that are DOWN (still ring members)
    out: tuple[int, ...] = ()  # places that left the ring (not in ring order, not ALIVE)
    homes: tuple[int, ...] = (0, 1, 2)
    moves: tuple[tuple[int, int, tuple[int, ...]], ...] = ()  # (slot, target place, source places)
    surplus: tuple[int, ...] = ()
    waiting: tuple[int, ...] = ()
    present: int = 3
    complete: bool = False
    unrepairable: tuple[str, ...] = ()  # fragments of the reason; () = repairable
    bug: str = ""  # a known plan.py bug makes this row fail (xfail, strict)


REPLICA_CASES = [
    ReplicaCase("full-at-home", holding=(0, 1, 2), complete=True),
    ReplicaCase("home-lacks-copy", holding=(0, 1, 5), moves=((2, 2, (0, 1, 5)),), surplus=(5,)),
    # The handoff copy stays and nothing is rebuilt for a DOWN home. `surplus` lists it because the
    # field means "drop once complete"; the plan is not complete while a home is DOWN, so none drops.
    ReplicaCase("down-home-handoff-elsewhere", holding=(0, 1, 3), down=(2,), waiting=(2,), surplus=(3,)),
    ReplicaCase("down-home-back-with-copy", holding=(0, 1, 2, 3), surplus=(3,), complete=True),
    ReplicaCase("down-home-holds-its-copy", holding=(0, 1, 2), down=(2,), waiting=(2,), present=2),
    ReplicaCase("out-home-moves-to-new-home", holding=(0, 1, 2), out=(2,), homes=(0, 1, 3),
                moves=((2, 3, (0, 1)),), present=2),
    ReplicaCase("two-homes-lack-copies", holding=(1,), moves=((0, 0, (1,)), (2, 2, (1,))), present=1),
    ReplicaCase("no-live-copy", holding=(0, 4), down=(0, 4), waiting=(0,), present=0,
                unrepairable=("no intact copy on any ALIVE node", "copies on nodes not ALIVE",
                              ORDER[0], ORDER[4])),
    ReplicaCase("no-copy-anywhere", holding=(), present=0,
                unrepairable=("no intact copy on any ALIVE node",)),
    ReplicaCase("only-copy-on-down-stand-in", holding=(4,), down=(4,), present=0,
                unrepairable=("no intact copy on any ALIVE node", f"copies on nodes not ALIVE: {ORDER[4]}")),
]


@pytest.mark.parametrize("case", _params(REPLICA_CASES))
def test_replicas_plan(case: ReplicaCase):
    """replicas=3: every live home without a copy gets one from every live holder, a DOWN home keeps
    its slot (waiting, nothing rebuilt), an OUT home's slot moves to the next ring node, copies off
    home are surplus, and a layout with no live copy says so and names the nodes not ALIVE."""
    out = set(_nodes(case.out))
    order = [n for n in ORDER if n not in out]
    live = _live_except(_nodes(case.down) + tuple(out))
    present = [(0, n) for n in _nodes(case.holding) if live(n)]
    recorded = [(0, n) for n in _nodes(case.holding)]
    plan = plan_layout(REPLICAS_3, order, live, present, recorded)
    assert plan.homes == _nodes(case.homes) == plan.targets
    assert _moves(plan) == {(slot, ORDER[target], frozenset(_nodes(sources)))
                            for slot, target, sources in case.moves}
    assert plan.surplus == tuple((0, n) for n in sorted(_nodes(case.surplus)))
    assert plan.waiting == case.waiting
    assert plan.present == case.present
    if not case.unrepairable:
        assert plan.unrepairable == ""
    for fragment in case.unrepairable:
        assert fragment in plan.unrepairable
    assert plan.held == {0: tuple(sorted(_nodes(case.holding)))}
    assert plan.complete is case.complete  # last: rows marked with a bug fail only here


def test_replicas_down_home_holders_after_names_the_handoff_copy():
    """While a home is DOWN, the record keeps the live homes and names the stand-in that holds the copy
    as handoff for the DOWN home; once the home is back with its copy, the record names only homes."""
    record = _record(REPLICAS_3, [(ORDER[0], 0, ""), (ORDER[1], 1, ""), (ORDER[3], 2, ORDER[2])])
    recorded = [(0, h.node_id) for h in record.holders]
    down = plan_layout(REPLICAS_3, ORDER, _live_except([ORDER[2]]), recorded, recorded)
    assert _holders(down.holders_after(record, ())) == [(ORDER[0], 0, ""), (ORDER[1], 1, ""),
                                                        (ORDER[3], 2, ORDER[2])]
    assert all(h.blake3 == CHUNK_ID for h in down.holders_after(record, ()))
    back = plan_layout(REPLICAS_3, ORDER, _live_except([]), recorded + [(0, ORDER[2])], recorded)
    assert _holders(back.holders_after(record, ())) == [(ORDER[0], 0, ""), (ORDER[1], 1, ""),
                                                        (ORDER[2], 2, "")]


def test_replicas_out_home_holders_after_names_the_new_home_once_the_move_is_made():
    """After an OUT home's slot is copied to the new home, the record names the new home, no handoff."""
    order = [n for n in ORDER if n != ORDER[2]]
    record = _record(REPLICAS_3, [(ORDER[0], 0, ""), (ORDER[1], 1, ""), (ORDER[2], 2, "")])
    recorded = [(0, h.node_id) for h in record.holders]
    live = _live_except([ORDER[2]])
    plan = plan_layout(REPLICAS_3, order, live, [(0, ORDER[0]), (0, ORDER[1])], recorded)
    assert _holders(plan.holders_after(record, plan.moves)) == [(ORDER[0], 0, ""), (ORDER[1], 1, ""),
                                                               (ORDER[3], 2, "")]


# ---- erasure coding -----------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class ErasureCase:
    """One erasure-coded situation on the 8-node ring; nodes are places in ORDER."""

    name: str
    layout: Layout
    shares: tuple[tuple[int, int], ...]  # (share index, place) copies
    down: tuple[int, ...] = ()
    ring_size: int = len(NODE_IDS)  # the ring is ORDER[:ring_size]
    targets: tuple[int | None, ...] = ()  # place per slot; () = slot i on ORDER[i]
    moves: tuple[tuple[int, int, tuple[int, ...]], ...] = ()
    surplus: tuple[tuple[int, int], ...] = ()
    waiting: tuple[int, ...] = ()
    present: int = 0  # 0 = layout.wanted
    complete: bool = False
    unrepairable: tuple[str, ...] = ()
    bug: str = ""  # a known plan.py bug makes this row fail (xfail, strict)


def _at_home(layout: Layout, *missing: int) -> tuple[tuple[int, int], ...]:
    return tuple((i, i) for i in range(layout.wanted) if i not in missing)


ERASURE_CASES = [
    ErasureCase("4+2-at-home", EC_4_2, _at_home(EC_4_2), complete=True),
    ErasureCase("2+1-at-home", EC_2_1, _at_home(EC_2_1), complete=True),
    # After ring changes a home may hold another index than its place: it keeps that share.
    ErasureCase("4+2-shares-rotated-among-homes-stay", EC_4_2, tuple((i, (i + 1) % 6) for i in range(6)),
                targets=(1, 2, 3, 4, 5, 0), complete=True),
    ErasureCase("4+2-missing-share-copied-from-stand-in", EC_4_2, _at_home(EC_4_2, 3) + ((3, 7),),
                moves=((3, 3, (7,)),), surplus=((3, 7),)),
    ErasureCase("2+1-missing-share-copied-from-stand-in", EC_2_1, _at_home(EC_2_1, 0) + ((0, 4),),
                moves=((0, 0, (4,)),), surplus=((0, 4),)),
    ErasureCase("4+2-missing-share-rebuilt", EC_4_2, _at_home(EC_4_2, 3), moves=((3, 3, ()),), present=5),
    ErasureCase("4+2-two-missing-rebuilt-at-exactly-k", EC_4_2, _at_home(EC_4_2, 1, 4),
                moves=((1, 1, ()), (4, 4, ())), present=4),
    ErasureCase("2+1-missing-share-rebuilt", EC_2_1, _at_home(EC_2_1, 2), moves=((2, 2, ()),), present=2),
    ErasureCase("4+2-down-home-keeps-its-share", EC_4_2, _at_home(EC_4_2), down=(2,), waiting=(2,),
                present=5),
    ErasureCase("4+2-down-home-handoff-stays", EC_4_2, _at_home(EC_4_2, 2) + ((2, 6),), down=(2,),
                waiting=(2,), surplus=((2, 6),)),
    # Fewer than K: sourceless moves are dropped, a move with a live source is still made.
    ErasureCase("4+2-below-k-keeps-only-sourced-moves", EC_4_2, ((0, 0), (1, 1), (2, 7)),
                moves=((2, 2, (7,)),), surplus=((2, 7),), present=3,
                unrepairable=("only 3 of the 4 shares needed to rebuild are on ALIVE nodes",)),
    ErasureCase("4+2-below-k-names-down-holders", EC_4_2, ((0, 0), (1, 1), (3, 3)), down=(3,),
                waiting=(3,), present=2,
                unrepairable=("only 2 of the 4 shares needed to rebuild", f"copies on nodes not ALIVE: {ORDER[3]}")),
    ErasureCase("2+1-below-k", EC_2_1, ((1, 1),), present=1,
                unrepairable=("only 1 of the 2 shares needed to rebuild are on ALIVE nodes",),
                ),
    # The extra copy of share 0 on ORDER[7] is surplus; a complete plan would let ORDER[7] drop it.
    ErasureCase("4+2-below-k-with-extra-copy", EC_4_2, ((0, 0), (0, 7), (1, 1)), surplus=((0, 7),), present=2,
                unrepairable=("only 2 of the 4 shares needed to rebuild",)),
    ErasureCase("4+2-ring-too-small", EC_4_2, _at_home(EC_4_2, 5), ring_size=5,
                targets=(0, 1, 2, 3, 4, None), present=5,
                unrepairable=("ec=4+2 needs 6 ring members, the ring has 5",)),
    ErasureCase("2+1-ring-too-small-still-fills-homes", EC_2_1, ((0, 0), (2, 1)), ring_size=2,
                targets=(0, None, 1), present=2,
                unrepairable=("ec=2+1 needs 3 ring members, the ring has 2",)),
]


def _assert_redundancy(plan: LayoutPlan, layout: Layout, case) -> None:
    """What every table row states about a plan's redundancy: waiting slots, copies present, and
    the unrepairable reason (empty, or containing each of the row's fragments)."""
    assert plan.waiting == case.waiting
    assert plan.present == (case.present or layout.wanted)
    if not case.unrepairable:
        assert plan.unrepairable == ""
    for fragment in case.unrepairable:
        assert fragment in plan.unrepairable


@pytest.mark.parametrize("case", _params(ERASURE_CASES))
def test_erasure_plan(case: ErasureCase):
    """ec=K+M: a share on a home stays there whatever its index, a missing share is copied from a live
    holder or rebuilt (no sources) while K shares are live, never rebuilt below K, a DOWN home keeps its
    share (waiting), and a ring smaller than K+M is unrepairable with both numbers in the reason."""
    layout = case.layout
    order = list(ORDER[:case.ring_size])
    live = _live_except(_nodes(case.down))
    shares = _pairs(case.shares)
    plan = plan_layout(layout, order, live, [(s, n) for s, n in shares if live(n)], shares)
    targets = case.targets or tuple(range(layout.wanted))
    assert plan.homes == tuple(order[:layout.wanted])
    assert plan.targets == tuple(None if t is None else ORDER[t] for t in targets)
    assert _moves(plan) == {(slot, ORDER[target], frozenset(_nodes(sources)))
                            for slot, target, sources in case.moves}
    assert plan.surplus == tuple(sorted(_pairs(case.surplus)))
    _assert_redundancy(plan, layout, case)
    assert plan.complete is case.complete  # last: rows marked with a bug fail only here


@pytest.mark.parametrize("preferred, targets, surplus", [
    pytest.param(None, (0, 1, 2), (0, 1), id="no-preference-first-in-ring-order"),
    pytest.param({0: 1}, (1, 0, 2), (0, 0), id="record-keeps-share-on-second-home"),
    # A preference for a node that does not hold the share is no option.
    pytest.param({0: 5}, (0, 1, 2), (0, 1), id="preference-off-home-ignored"),
])
def test_erasure_preferred_breaks_ties_between_homes_holding_a_share(preferred, targets, surplus):
    """When two homes hold the same share, it stays where the record says; the other home takes the
    missing share (rebuilt) and its copy of the shared one is surplus."""
    shares = _pairs([(0, 0), (0, 1), (2, 2)])
    live = _live_except([])
    prefer = None if preferred is None else {slot: ORDER[place] for slot, place in preferred.items()}
    plan = plan_layout(EC_2_1, ORDER, live, shares, shares, prefer)
    assert plan.targets == _nodes(targets)
    assert plan.moves == (Move(1, ORDER[targets[1]], ()),)
    assert plan.surplus == (_pairs([surplus])[0],)


def test_erasure_holders_after_names_made_moves_and_handoffs_with_recorded_hashes():
    """The new record puts each slot on its target when the move was made or the target holds it, and
    otherwise names the node holding it as handoff for the target; every holder keeps its slot's hash."""
    record = _record(EC_2_1, [(ORDER[0], 0, ""), (ORDER[4], 1, ORDER[1]), (ORDER[5], 2, ORDER[2])])
    shares = _pairs([(0, 0), (1, 4), (2, 5)])
    live = _live_except([ORDER[2]])
    plan = plan_layout(EC_2_1, ORDER, live, [(s, n) for s, n in shares if live(n)], shares)
    assert plan.waiting == (2,)
    assert plan.moves == (Move(1, ORDER[1], (ORDER[4],)),)
    assert _holders(plan.holders_after(record, plan.moves)) == [(ORDER[0], 0, ""), (ORDER[1], 1, ""),
                                                               (ORDER[5], 2, ORDER[2])]
    assert _holders(plan.holders_after(record, ())) == [(ORDER[0], 0, ""), (ORDER[4], 1, ORDER[1]),
                                                       (ORDER[5], 2, ORDER[2])]
    assert [h.blake3 for h in plan.holders_after(record, plan.moves)] == [_share_hash(EC_2_1, s) for s in range(3)]


def test_erasure_holders_after_names_no_holder_for_a_slot_without_home_or_copy():
    """On a ring smaller than K+M, a slot with no home and no copy gets no holder in the record."""
    record = _record(EC_4_2, [(ORDER[i], i, "") for i in range(5)])
    shares = _pairs(_at_home(EC_4_2, 5))
    plan = plan_layout(EC_4_2, ORDER[:5], _live_except([]), shares, shares)
    assert _holders(plan.holders_after(record, ())) == [(ORDER[i], i, "") for i in range(5)]


def test_erasure_holders_after_keeps_a_live_holder_of_a_slot_without_a_home():
    """ec=4+2 on a 5-node ring while ORDER[5] drains (ALIVE, out of the ring) holding share 5: the slot
    has no home, but the record keeps naming the node that holds it."""
    record = _record(EC_4_2, [(ORDER[i], i, "") for i in range(6)])
    shares = _pairs(_at_home(EC_4_2))
    plan = plan_layout(EC_4_2, ORDER[:5], _live_except([]), shares, shares)
    assert plan.targets[5] is None
    assert (ORDER[5], 5) in [(h.node_id, h.share_index) for h in plan.holders_after(record, ())]


def test_erasure_join_moves_only_the_displaced_share():
    """6 -> 7 nodes under ec=4+2: a stripe whose homes now include the newcomer gets exactly one move,
    of the share on the home it displaced, onto the newcomer; the others get none. Over many chunks
    about 1/7 of all shares move (forcing share i onto the i-th home would move about half)."""
    seven = Ring([RingMember(n) for n in NODE_IDS[:7]], vnodes_per_node=64)
    six = seven.without_member("node-7")
    rng = random.Random(SEED)
    moved = 0
    for _ in range(REBALANCE_CHUNKS):
        layout = dataclasses.replace(EC_4_2, chunk_id=rng.randbytes(32))
        position = chunk_position(layout.chunk_id)
        before, after = six.ordered_nodes(position), seven.ordered_nodes(position)
        shares = [(i, node) for i, node in enumerate(before[:6])]
        plan = plan_layout(layout, after, _live_except([]), shares, shares)
        if "node-7" in after[:6]:
            assert plan.moves == (Move(5, "node-7", (before[5],)),)
            assert plan.surplus == ((5, before[5]),)
        else:
            assert plan.moves == () and plan.complete
        moved += len(plan.moves)
    fraction = moved / (REBALANCE_CHUNKS * EC_4_2.wanted)
    assert REBALANCE_MOVED_FRACTION_MIN <= fraction <= REBALANCE_MOVED_FRACTION_MAX, fraction


def test_erasure_down_home_keeps_the_share_its_handoff_copy_holds():
    """ec=2+1 written on [ORDER[0], ORDER[2], ORDER[3]] while ORDER[2] was DOWN (share 1 went to the
    stand-in ORDER[4], recorded as handoff for ORDER[2]); then ORDER[3] left the ring and ORDER[1]
    joined. ORDER[2] is still DOWN and keeps its slot, share 1: the handoff copy stays where it is,
    and the lost share 2 is rebuilt on the live home ORDER[1] (2 shares live = K)."""
    order = [n for n in ORDER if n != ORDER[3]]
    live = _live_except([ORDER[2], ORDER[3]])
    recorded = _pairs([(0, 0), (1, 4), (2, 3)])
    present = _pairs([(0, 0), (1, 4)])
    preferred = {0: ORDER[0], 1: ORDER[2], 2: ORDER[3]}  # where the record says each share belongs
    plan = plan_layout(EC_2_1, order, live, present, recorded, preferred)
    assert plan.targets == (ORDER[0], ORDER[2], ORDER[1])
    assert plan.moves == (Move(2, ORDER[1], ()),)
    assert plan.waiting == (1,)


def test_erasure_matching_moves_as_few_shares_as_possible():
    """ORDER[0] holds shares 0 and 1, ORDER[1] holds share 0: giving share 0 to ORDER[1] and share 1 to
    ORDER[0] leaves one move (share 2 rebuilt on ORDER[2]) instead of two."""
    shares = _pairs([(0, 0), (1, 0), (0, 1)])
    plan = plan_layout(EC_2_1, ORDER, _live_except([]), shares, shares)
    assert plan.moves == (Move(2, ORDER[2], ()),)


# ---- full disks ---------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class FullCase:
    """A layout on the 8-node ring where some ALIVE nodes are full (cannot take copies); places in ORDER."""

    name: str
    layout: Layout
    copies: tuple[tuple[int, int], ...]  # (slot, place); slot 0 for every replica
    full: tuple[int, ...]
    down: tuple[int, ...] = ()
    # (slot, target place, source places, place of the full home a stand-in holds the copy for or None)
    moves: tuple[tuple[int, int, tuple[int, ...], int | None], ...] = ()
    waiting: tuple[int, ...] = ()
    present: int = 0  # 0 = layout.wanted
    complete: bool = False
    # The record once every move is made: (node place, slot, handoff_for place or None), by slot.
    holders: tuple[tuple[int, int, int | None], ...] = ()
    unrepairable: tuple[str, ...] = ()
    bug: str = ""  # a known plan.py bug makes this row fail (xfail, strict)


def _slots(*places: int) -> tuple[tuple[int, int], ...]:
    return tuple((0, place) for place in places)


FULL_CASES = [
    # A full home's copies stay where they are and count: nothing moves, nothing is surplus.
    FullCase("replicas-full-home-holds-its-copy", REPLICAS_3, _slots(0, 1, 2), full=(2,), complete=True,
             holders=((0, 0, None), (1, 1, None), (2, 2, None))),
    # Its copy is on a live stand-in: the slot waits there (not complete, so the stand-in keeps it).
    FullCase("replicas-full-home-copy-elsewhere-waits", REPLICAS_3, _slots(0, 1, 3), full=(2,), waiting=(2,),
             holders=((0, 0, None), (1, 1, None), (3, 2, 2))),
    # Its copy was lost: made on the next node after the homes, as a handoff for it.
    FullCase("replicas-full-home-copy-lost-goes-to-stand-in", REPLICAS_3, _slots(0, 1), full=(2,),
             moves=((2, 3, (0, 1), 2),), present=2, holders=((0, 0, None), (1, 1, None), (3, 2, 2))),
    FullCase("replicas-stand-in-skips-full-and-down-nodes", REPLICAS_3, _slots(0, 1), full=(2, 3), down=(4,),
             moves=((2, 5, (0, 1), 2),), present=2, holders=((0, 0, None), (1, 1, None), (5, 2, 2))),
    # The copy off home stands in for the full home; the live home lacking its copy gets one.
    FullCase("replicas-copy-off-home-serves-the-full-home-first", REPLICAS_3, _slots(0, 3), full=(2,),
             moves=((1, 1, (0, 3), None),), waiting=(2,), present=2,
             holders=((0, 0, None), (1, 1, None), (3, 2, 2))),
    # A DOWN home earlier in slot order takes the copy off home; the full home's copy counts as lost.
    FullCase("replicas-down-and-full-homes", REPLICAS_3, _slots(0, 3), full=(2,), down=(1,),
             moves=((2, 4, (0, 3), 2),), waiting=(1,), present=2,
             holders=((0, 0, None), (3, 1, 1), (4, 2, 2))),
    FullCase("replicas-no-stand-in-with-room", REPLICAS_3, _slots(0, 1), full=(2, 3, 4, 5, 6, 7), present=2,
             holders=((0, 0, None), (1, 1, None), (2, 2, None)),
             unrepairable=(f"no node can stand in for full home(s) {ORDER[2]} whose copy was lost",
                           "delete data, free disk space or add nodes")),
    FullCase("ec-full-home-holds-its-share", EC_2_1, _at_home(EC_2_1), full=(1,), complete=True,
             holders=((0, 0, None), (1, 1, None), (2, 2, None))),
    FullCase("ec-full-home-share-elsewhere-waits", EC_2_1, ((0, 0), (1, 4), (2, 2)), full=(1,), waiting=(1,),
             holders=((0, 0, None), (4, 1, 1), (2, 2, None))),
    # Lost: rebuilt (no sources) on the first node after the homes.
    FullCase("ec-full-home-share-lost-rebuilt-on-stand-in", EC_2_1, _at_home(EC_2_1, 1), full=(1,),
             moves=((1, 3, (), 1),), present=2, holders=((0, 0, None), (3, 1, 1), (2, 2, None))),
    # The next node after the homes holds another share of the stripe: never two shares on one node.
    FullCase("ec-stand-in-holds-no-share-of-the-stripe", EC_2_1, ((0, 3), (2, 2)), full=(1,),
             moves=((0, 0, (3,), None), (1, 4, (), 1)), present=2,
             holders=((0, 0, None), (4, 1, 1), (2, 2, None))),
    FullCase("ec-4+2-full-home-share-lost", EC_4_2, _at_home(EC_4_2, 3), full=(3, 6), moves=((3, 7, (), 3),),
             present=5, holders=((0, 0, None), (1, 1, None), (2, 2, None), (7, 3, 3), (4, 4, None), (5, 5, None))),
    FullCase("ec-no-stand-in-with-room", EC_2_1, _at_home(EC_2_1, 1), full=(1, 3, 4, 5, 6, 7), present=2,
             holders=((0, 0, None), (1, 1, None), (2, 2, None)),
             unrepairable=(f"no node can stand in for full home(s) {ORDER[1]} whose copy was lost",)),
]


@pytest.mark.parametrize("case", _params(FULL_CASES))
def test_full_nodes_plan(case: FullCase):
    """A full home (ALIVE, cannot take copies) keeps its slot and the copies it holds; a copy it lacks
    waits where a live node holds it (plan not complete, so no surplus drops); a lost one is made on
    the next node after the homes that is live, has room and holds no copy of the layout, and the
    record names it as a handoff for the full home. No stand-in with room is unrepairable, with why."""
    layout = case.layout
    live = _live_except(_nodes(case.down))
    full = set(_nodes(case.full))
    copies = _pairs(case.copies)
    plan = plan_layout(layout, ORDER, live, [(s, n) for s, n in copies if live(n)], copies,
                       can_take=lambda node: node not in full)
    assert {(m.slot, m.target, frozenset(m.sources), m.handoff_for) for m in plan.moves} == {
        (slot, ORDER[target], frozenset(_nodes(sources)), "" if home is None else ORDER[home])
        for slot, target, sources, home in case.moves}
    _assert_redundancy(plan, layout, case)
    record = _record(layout, [(n, s, "") for s, n in copies])
    assert _holders(plan.holders_after(record, plan.moves)) == [
        (ORDER[place], slot, "" if home is None else ORDER[home]) for place, slot, home in case.holders]
    assert plan.complete is case.complete


@pytest.mark.parametrize("layout, copies_after", [
    pytest.param(REPLICAS_3, _slots(0, 1, 3), id="replicas"),
    pytest.param(EC_2_1, ((0, 0), (1, 3), (2, 2)), id="ec"),
])
def test_a_stand_in_for_a_full_home_stays_until_the_home_has_room(layout, copies_after):
    """After the stand-in copy is made the next scan leaves it (the slot waits: no move, not complete, so
    nothing drops); once the home has room again the copy goes home and the stand-in's is surplus."""
    copies = _pairs(copies_after)
    slot = 2 if not layout.erasure else 1
    home = ORDER[slot]
    waiting = plan_layout(layout, ORDER, _live_except([]), copies, copies, can_take=lambda node: node != home)
    assert (waiting.moves, waiting.waiting, waiting.complete) == ((), (slot,), False)
    back = plan_layout(layout, ORDER, _live_except([]), copies, copies, can_take=lambda node: True)
    sources = {n for s, n in copies if s == (slot if layout.erasure else 0)}
    assert _moves(back) == {(slot, home, frozenset(sources))}
    assert (0 if not layout.erasure else slot, ORDER[3]) in back.surplus


# ---- properties ---------------------------------------------------------------------------------

@pytest.mark.parametrize("layout, places, out, below_full, misplaced, moves", [
    pytest.param(REPLICAS_3, (0, 1, 2), (), False, False, 0, id="replicas-complete"),
    pytest.param(REPLICAS_3, (0, 1, 5), (), False, True, 1, id="replicas-full-off-home"),
    pytest.param(REPLICAS_3, (0, 1), (2,), True, False, 1, id="replicas-out-home"),
    pytest.param(EC_4_2, (0, 1, 2, 3, 4, 5), (), False, False, 0, id="ec-complete"),
    pytest.param(EC_4_2, (0, 1, 2, 3, 4, 7), (), False, True, 1, id="ec-full-off-home"),
    pytest.param(EC_4_2, (0, 1, 2, 3), (), True, False, 2, id="ec-two-shares-lost"),
])
def test_below_full_misplaced_and_bytes_to_write(layout, places, out, below_full, misplaced, moves):
    """below_full counts live slots against wanted; misplaced is full redundancy with work left;
    bytes_to_write is one copy (chunk or share) per move."""
    order = [n for n in ORDER if n not in _nodes(out)]
    copies = [(i if layout.erasure else 0, ORDER[place]) for i, place in enumerate(places)]
    plan = plan_layout(layout, order, _live_except(_nodes(out)), copies, copies)
    assert (plan.below_full, plan.misplaced) == (below_full, misplaced)
    assert len(plan.moves) == moves
    assert plan.bytes_to_write == moves * layout.copy_size_bytes()


# ---- responsible_node ---------------------------------------------------------------------------

@pytest.mark.parametrize("named, down, expected", [
    pytest.param((1, 3), (), 1, id="first-named-in-ring-order"),
    pytest.param((3, 1), (), 1, id="record-order-does-not-matter"),
    pytest.param((1, 3), (1,), 3, id="down-named-node-skipped"),
    pytest.param((2,), (), 2, id="unnamed-alive-nodes-skipped"),
    pytest.param((1, "node-9", "node-10"), (1,), "node-10", id="outside-ring-after-by-id"),
    pytest.param((1, "node-9"), (), 1, id="ring-member-before-outside-ring"),
    pytest.param((1, 3, "node-9"), (1, 3, "node-9"), None, id="none-alive"),
    pytest.param((), (), None, id="nothing-named"),
])
def test_responsible_node(named, down, expected):
    """The first ALIVE named node in the chunk's ring order; named nodes outside the ring (draining)
    come after, by id; None when no named node is ALIVE."""
    def node(ref: int | str) -> str:
        return ORDER[ref] if isinstance(ref, int) else ref

    got = responsible_node(ORDER, [node(n) for n in named], _live_except([node(n) for n in down]))
    assert got == (None if expected is None else node(expected))


RECORD_AT_MS = 1_700_000_000_000


@pytest.mark.parametrize("created_at_ms, expected", [
    pytest.param(0, HOLDS_SURELY, id="store-older-than-identities"),
    pytest.param(RECORD_AT_MS - STORE_CLOCK_SKEW_MS_MAX, HOLDS_SURELY, id="older-by-the-skew-allowance"),
    pytest.param(RECORD_AT_MS - STORE_CLOCK_SKEW_MS_MAX + 1, HOLDS_BY_CLOCKS, id="older-within-the-allowance"),
    pytest.param(RECORD_AT_MS, HOLDS_BY_CLOCKS, id="same-millisecond"),
    pytest.param(RECORD_AT_MS + 1, HOLDS_NOT, id="created-after-the-record"),
])
def test_record_presence(created_at_ms, expected):
    """A store holds a record only if it existed when the record was last written; surely so only
    when older by more than the clocks may disagree."""
    assert record_presence(RECORD_AT_MS, created_at_ms) == expected


@pytest.mark.parametrize("named, presence, down, expected", [
    pytest.param((1, 3, 5), {1: HOLDS_NOT}, (), 3, id="replaced-disk-leaves-it-to-the-next"),
    pytest.param((1, 3, 5), {1: HOLDS_NOT, 3: HOLDS_NOT}, (), 5, id="two-replaced-disks"),
    pytest.param((1, 3, 5), {1: HOLDS_NOT}, (3,), 5, id="next-one-down"),
    pytest.param((1, 3, 5), {1: HOLDS_NOT, 3: HOLDS_BY_CLOCKS, 5: HOLDS_BY_CLOCKS}, (), 3,
                 id="young-cluster-clocks-decide"),
    pytest.param((1, 3, 5), {1: HOLDS_BY_CLOCKS, 3: HOLDS_BY_CLOCKS, 5: HOLDS_SURELY}, (), 5,
                 id="sure-before-by-clocks"),
    pytest.param((1, 3, 5), {1: HOLDS_NOT, 3: HOLDS_NOT, 5: HOLDS_NOT}, (), 1, id="none-holds-first-alive"),
    pytest.param((1, 3), {1: HOLDS_NOT}, (3,), 1, id="only-the-replaced-one-alive"),
])
def test_responsible_node_passes_over_a_store_younger_than_the_record(named, presence, down, expected):
    """A named node whose store cannot hold the record (created after it: a disk replaced under the
    same node id) is not responsible, since it would never scan the layout; the first ALIVE named
    node among those most surely holding it is. Unlisted nodes hold it surely."""
    nodes = {ref: ORDER[ref] for ref in (1, 3, 5)}
    tiers = {nodes[ref]: tier for ref, tier in presence.items()}
    got = responsible_node(ORDER, [nodes[n] for n in named], _live_except([nodes[n] for n in down]),
                           lambda node: tiers.get(node, HOLDS_SURELY))
    assert got == nodes[expected]
