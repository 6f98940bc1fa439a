"""Unit tests for the ring-change preview (node/repair/ringplan.py): which chunk copies an add or a
drain would move, by source and target node, with counts and bytes, and how node answers add up.

Design. Every test runs the preview on real `Ring`s over a few hundred synthetic placement records
written the way a put writes them (share i on the i-th node of the chunk's ring order), and plans
the whole cluster the way the lead does: every ALIVE member plans its own part from all the records
and `merge_plans` sums the parts. Expected counts come from the ring itself (how many layouts gain
the newcomer as a home, how many copies the drained node holds), not from the code under test.

Rejected: a hand-built ring order per record. The properties checked here (about 1/7 of the copies
move on a join, a drain moves exactly the drained node's copies) are statements about ring order.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable

import pytest

from ringstore.v1 import admin_pb2, common_pb2

from node.errors import FailedPrecondition, InvalidArgument
from node.repair.plan import Layout
from node.repair.ringplan import UNPLACEABLE_REASONS_MAX, merge_plans, plan_ring_change
from node.ring import Ring, RingMember, chunk_position

SEED = 20240921
GIB = 1024**3
WEIGHT_UNIT_BYTES = 1024 * GIB
NODE_IDS = tuple(f"node-{c}" for c in "abcdef")
NEWCOMER = "node-g"
RING = Ring([RingMember(n) for n in NODE_IDS])
RING_7 = RING.with_member(RingMember(NEWCOMER))
RING_3 = Ring([RingMember(n) for n in NODE_IDS[:3]])
RECORDS_PER_POLICY = 300
# A 6 -> 7 join should move 1/7 = 0.143 of all copies (only the slot the newcomer takes).
ADD_MOVED_FRACTION_MIN = 0.10
ADD_MOVED_FRACTION_MAX = 0.20
CHUNK_SIZE_BYTES_MAX = 4 * 1024 * 1024

REPLICAS_3 = common_pb2.RedundancyPolicy(replication=common_pb2.Replication(replicas=3))
EC_4_2 = common_pb2.RedundancyPolicy(
    erasure_coding=common_pb2.ErasureCoding(data_shares=4, parity_shares=2))

ADD = admin_pb2.PlanRingRequest.CHANGE_ADD
DRAIN = admin_pb2.PlanRingRequest.CHANGE_DRAIN


def _records(ring: Ring, policy: common_pb2.RedundancyPolicy, count: int = RECORDS_PER_POLICY,
             seed: int = SEED) -> list[common_pb2.PlacementRecord]:
    """Placement records as a put on `ring` writes them: slot i on the i-th home."""
    rng = random.Random(seed)
    records = []
    for _ in range(count):
        chunk_id = rng.randbytes(32)
        size_bytes = rng.randint(1, CHUNK_SIZE_BYTES_MAX)
        layout = Layout.of_policy(chunk_id, size_bytes, policy)
        homes = ring.ordered_nodes(chunk_position(chunk_id))[:layout.wanted]
        records.append(common_pb2.PlacementRecord(
            format_version=1, chunk_id=chunk_id, policy=policy, size_bytes=size_bytes,
            holders=[common_pb2.ShareHolder(node_id=node, share_index=slot if layout.erasure else 0,
                                            blake3=bytes([slot]) * 32)
                     for slot, node in enumerate(homes)]))
    return records


REPLICA_RECORDS = _records(RING, REPLICAS_3)
EC_RECORDS = _records(RING, EC_4_2)
EC_RECORDS_ON_7 = _records(RING_7, EC_4_2)


def _live(ring: Ring, *down: str) -> Callable[[str], bool]:
    """ALIVE as membership says it: a ring member that is not DOWN (a node not yet joined is not)."""
    return lambda node_id: node_id in ring and node_id not in down


def _request(change: int, node_id: str, **fields) -> admin_pb2.PlanRingRequest:
    return admin_pb2.PlanRingRequest(change=change, node_id=node_id, **fields)


def _part(request: admin_pb2.PlanRingRequest, me: str, ring: Ring = RING,
          records: Iterable[common_pb2.PlacementRecord] = REPLICA_RECORDS,
          is_live: Callable[[str], bool] | None = None) -> admin_pb2.PlanRingResponse:
    return plan_ring_change(request, me=me, ring=ring, is_live=is_live or _live(ring), records=records,
                            weight_unit_bytes=WEIGHT_UNIT_BYTES)


def _parts(request: admin_pb2.PlanRingRequest, ring: Ring, records: list[common_pb2.PlacementRecord],
           down: Iterable[str] = ()) -> list[admin_pb2.PlanRingResponse]:
    """Every ALIVE member's part, each planned from all the records (a superset of its own store's:
    the responsibility rule alone must keep the parts disjoint)."""
    is_live = _live(ring, *down)
    return [_part(request, me, ring, records, is_live) for me in sorted(ring.node_ids) if is_live(me)]


def _moves(response: admin_pb2.PlanRingResponse) -> list[tuple[str, str, int, int]]:
    return [(m.source_node_id, m.target_node_id, m.copies, m.bytes) for m in response.moves]


def _wanted(record: common_pb2.PlacementRecord) -> int:
    return Layout.of_record(record).wanted


def _copy_bytes(record: common_pb2.PlacementRecord) -> int:
    return Layout.of_record(record).copy_size_bytes()


# ---- add ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("records", [REPLICA_RECORDS, EC_RECORDS], ids=["replicas=3", "ec=4+2"])
def test_add_moves_about_a_seventh_of_the_copies_all_onto_the_newcomer(records):
    """A 7th node takes one slot of each layout it becomes a home of, copied from a current holder;
    nothing else moves, and the totals count every layout once."""
    plan = merge_plans(_parts(_request(ADD, NEWCOMER), RING, records))

    gaining = [r for r in records
               if NEWCOMER in RING_7.ordered_nodes(chunk_position(r.chunk_id))[:_wanted(r)]]
    assert {m.target_node_id for m in plan.moves} == {NEWCOMER}
    assert {m.source_node_id for m in plan.moves} <= set(NODE_IDS)
    assert plan.copies_moved == len(gaining)
    assert plan.bytes_moved == sum(_copy_bytes(r) for r in gaining)
    assert plan.copies_moved == sum(m.copies for m in plan.moves)
    assert plan.bytes_moved == sum(m.bytes for m in plan.moves)
    assert plan.layouts_total == len(records)
    assert plan.copies_total == sum(_wanted(r) for r in records)
    assert plan.bytes_total == sum(_wanted(r) * _copy_bytes(r) for r in records)
    assert ADD_MOVED_FRACTION_MIN <= plan.copies_moved / plan.copies_total <= ADD_MOVED_FRACTION_MAX
    assert plan.layouts_unplaceable == 0 and not plan.unplaceable_reasons
    assert list(plan.node_ids) == sorted(NODE_IDS)


@pytest.mark.parametrize("down", [(), ("node-c",), ("node-a", "node-e")], ids=["all-alive", "one-down", "two-down"])
@pytest.mark.parametrize("request_", [_request(ADD, NEWCOMER), _request(DRAIN, "node-b")], ids=["add", "drain"])
def test_each_layout_is_counted_by_exactly_one_node(request_, down):
    """Every ALIVE node plans from all records, yet the parts are disjoint and cover every layout
    with an ALIVE holder, also while some nodes are DOWN; the load is spread over the nodes."""
    records = REPLICA_RECORDS + EC_RECORDS_ON_7 if request_.change == DRAIN else REPLICA_RECORDS + EC_RECORDS
    ring = RING_7 if request_.change == DRAIN else RING
    parts = _parts(request_, ring, records, down)

    assert sum(p.layouts_total for p in parts) == len(records)
    assert all(p.layouts_total > 0 for p in parts)
    assert all(list(p.node_ids) == [me] for p, me in zip(parts, sorted(set(ring.node_ids) - set(down))))
    assert merge_plans(parts).layouts_total == len(records)


def test_add_weight_comes_from_capacity_or_the_median_member():
    """capacity_bytes / weight_unit_bytes is the newcomer's weight; 0 means the median weight of the
    ring's members (not the mean), and a heavier newcomer takes more."""
    weights = (1.0, 1.0, 1.0, 2.0, 5.0, 8.0)  # median 1.5, mean 3.0
    ring = Ring([RingMember(n, weight=w) for n, w in zip(NODE_IDS, weights)])
    records = _records(ring, REPLICAS_3)

    def moved(capacity_bytes: int) -> admin_pb2.PlanRingResponse:
        return merge_plans(_parts(_request(ADD, NEWCOMER, capacity_bytes=capacity_bytes), ring, records))

    median, light, heavy = moved(0), moved(WEIGHT_UNIT_BYTES), moved(3 * WEIGHT_UNIT_BYTES)
    assert median == moved(WEIGHT_UNIT_BYTES * 3 // 2)
    assert 0 < light.copies_moved < median.copies_moved < heavy.copies_moved


def test_add_counts_work_the_current_ring_already_has_pending():
    """The plan believes the records: a layout already missing a home copy shows its move too."""
    record = REPLICA_RECORDS[0]
    short = common_pb2.PlacementRecord()
    short.CopyFrom(record)
    del short.holders[-1]
    missing_home = record.holders[-1].node_id
    without = merge_plans(_parts(_request(ADD, NEWCOMER), RING, [record]))
    with_missing = merge_plans(_parts(_request(ADD, NEWCOMER), RING, [short]))

    assert with_missing.copies_moved == without.copies_moved + 1
    assert missing_home in {m.target_node_id for m in with_missing.moves}


def test_add_returns_a_handoff_share_to_the_home_it_stands_in_for():
    """A share written to a spare while its home was DOWN goes back to that home, as repair sends it
    (the record's handoff_for), not to whichever home is free first, such as the newcomer."""
    joiner = "node-h"
    ring_8 = RING_7.with_member(RingMember(joiner))
    checked = 0
    for record in EC_RECORDS_ON_7:
        order = RING_7.ordered_nodes(chunk_position(record.chunk_id))
        new_homes = ring_8.ordered_nodes(chunk_position(record.chunk_id))[:6]
        home, spare = order[4], order[6]
        if joiner not in new_homes[:new_homes.index(home)]:
            continue  # the joiner comes after the home: any rule picks the home first
        handoff = common_pb2.PlacementRecord()
        handoff.CopyFrom(record)
        handoff.holders[4].node_id, handoff.holders[4].handoff_for_node_id = spare, home
        plan = merge_plans(_parts(_request(ADD, joiner), RING_7, [handoff]))
        assert (spare, home) in {(m.source_node_id, m.target_node_id) for m in plan.moves}
        checked += 1
    assert checked > 0


# ---- drain --------------------------------------------------------------------------------------

@pytest.mark.parametrize("ring, records, drained", [
    pytest.param(RING, REPLICA_RECORDS, "node-b", id="replicas=3-of-6"),
    pytest.param(RING_7, EC_RECORDS_ON_7, "node-d", id="ec=4+2-of-7"),
])
def test_drain_moves_exactly_the_drained_nodes_copies_from_it(ring, records, drained):
    """Every copy on the drained node moves (from it, to a remaining member) and nothing else does."""
    plan = merge_plans(_parts(_request(DRAIN, drained), ring, records))

    held = [r for r in records if drained in {h.node_id for h in r.holders}]
    assert {m.source_node_id for m in plan.moves} == {drained}
    assert drained not in {m.target_node_id for m in plan.moves}
    assert plan.copies_moved == len(held)
    assert plan.bytes_moved == sum(_copy_bytes(r) for r in held)
    assert plan.layouts_total == len(records)
    assert plan.layouts_unplaceable == 0


@pytest.mark.parametrize("ring, records, drained, sources", [
    pytest.param(RING, REPLICA_RECORDS, "node-b", set(NODE_IDS) - {"node-b"}, id="replicas=3: another holder"),
    pytest.param(RING_7, EC_RECORDS_ON_7, "node-d", {""}, id="ec=4+2: rebuild"),
])
def test_drain_of_a_down_node_copies_from_the_others(ring, records, drained, sources):
    """A drained node that is DOWN cannot be a source: replicas copy from another holder, erasure
    coding rebuilds the share from K others (source "")."""
    plan = merge_plans(_parts(_request(DRAIN, drained), ring, records, down=[drained]))

    held = [r for r in records if drained in {h.node_id for h in r.holders}]
    assert {m.source_node_id for m in plan.moves} <= sources
    assert plan.copies_moved == len(held)
    assert drained not in {m.target_node_id for m in plan.moves}


@pytest.mark.parametrize("ring, records, reason", [
    pytest.param(RING_3, _records(RING_3, REPLICAS_3), "replicas=3 needs 3 ring members, the ring has 2; "
                 "add nodes or convert to a smaller policy", id="replicas=3-of-3"),
    pytest.param(RING, EC_RECORDS, "ec=4+2 needs 6 ring members, the ring has 5; "
                 "add nodes or convert to a smaller policy", id="ec=4+2-of-6"),
])
def test_drain_below_the_policy_width_leaves_every_layout_unplaceable(ring, records, reason):
    """With fewer members than a layout has slots, every layout is unplaceable and the one reason
    says to add nodes; no copy is planned onto a node that already holds one."""
    drained = sorted(ring.node_ids)[0]
    plan = merge_plans(_parts(_request(DRAIN, drained), ring, records))

    assert plan.layouts_unplaceable == len(records)
    assert list(plan.unplaceable_reasons) == [reason]
    assert all(m.source_node_id == drained and m.target_node_id != drained for m in plan.moves)


def test_a_part_keeps_at_most_the_limit_of_distinct_reasons():
    """Reasons are examples: distinct, and no more than UNPLACEABLE_REASONS_MAX per answer, while
    the count still covers every unplaceable layout."""
    widths = range(6, 13)  # every one wider than the 5 members a drain leaves: one reason each
    records = [r for n in widths for r in _records(
        RING, common_pb2.RedundancyPolicy(replication=common_pb2.Replication(replicas=n)), count=3, seed=SEED + n)]
    # Only node-b is ALIVE, and every node holds every layout, so node-b answers for all of them.
    plan = _part(_request(DRAIN, "node-a"), "node-b", RING, records, lambda node_id: node_id == "node-b")

    assert len(widths) > UNPLACEABLE_REASONS_MAX
    assert plan.layouts_total == plan.layouts_unplaceable == len(records)
    assert len(set(plan.unplaceable_reasons)) == len(plan.unplaceable_reasons) == UNPLACEABLE_REASONS_MAX
    assert all("add nodes" in reason for reason in plan.unplaceable_reasons)


# ---- rejected requests --------------------------------------------------------------------------

@pytest.mark.parametrize("request_, error, message", [
    (_request(admin_pb2.PlanRingRequest.CHANGE_UNSPECIFIED, NEWCOMER), InvalidArgument,
     "change CHANGE_UNSPECIFIED is not one to plan; pass CHANGE_ADD or CHANGE_DRAIN"),
    (_request(9, NEWCOMER), InvalidArgument, "change 9 is not one to plan"),
    (_request(ADD, "node-c"), FailedPrecondition, "node-c is already one of the 6 ring members"),
    (_request(DRAIN, NEWCOMER), FailedPrecondition, "node-g is not one of the 6 ring members"),
    (_request(ADD, ""), InvalidArgument, "node id '' must match"),
    (_request(DRAIN, "Node-A"), InvalidArgument, "node id 'Node-A' must match"),
    (_request(ADD, "-node"), InvalidArgument, "must match"),
    (_request(ADD, "node_g"), InvalidArgument, "must match"),
    (_request(ADD, "n" * 64), InvalidArgument, "must match"),
    (_request(ADD, NEWCOMER, zone="z" * 65), InvalidArgument, "zone of node-g must be at most 64 characters, got 65"),
    (_request(ADD, NEWCOMER, capacity_bytes=2**64 - 1), InvalidArgument,
     f"capacity_bytes {2**64 - 1} of node-g does not fit the ring"),
], ids=["unspecified", "unknown-change", "add-member", "drain-non-member", "empty-id", "upper-case-id",
        "leading-dash-id", "underscore-id", "long-id", "long-zone", "huge-capacity"])
def test_bad_requests_are_rejected_with_one_line_that_says_what_to_do(request_, error, message):
    with pytest.raises(error) as raised:
        _part(request_, "node-a")
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)


def test_longest_valid_node_id_is_accepted():
    plan = _part(_request(ADD, "n" * 63), "node-a")
    assert plan.layouts_total > 0


# ---- merge_plans --------------------------------------------------------------------------------

def _response(node_id: str, moves: list[tuple[str, str, int, int]], reasons: list[str],
              unreachable: list[str] = ()) -> admin_pb2.PlanRingResponse:
    return admin_pb2.PlanRingResponse(
        moves=[admin_pb2.RingMove(source_node_id=s, target_node_id=t, copies=c, bytes=b) for s, t, c, b in moves],
        layouts_total=10, copies_total=30, bytes_total=300, copies_moved=sum(m[2] for m in moves),
        bytes_moved=sum(m[3] for m in moves), layouts_unplaceable=len(reasons), unplaceable_reasons=reasons,
        node_ids=[node_id], unreachable=unreachable)


def test_merge_plans_sums_counters_merges_moves_and_sorts():
    parts = [
        _response("node-c", [("node-b", "node-g", 2, 20), ("", "node-g", 1, 5)], ["r5", "r1", "r3"]),
        _response("node-a", [("node-a", "node-g", 4, 40), ("node-b", "node-g", 3, 30)], ["r1", "r6", "r2", "r4"],
                  unreachable=["node-f: deadline exceeded after 5.00 s"]),
        _response("node-b", [], [], unreachable=["node-e: connection refused"]),
    ]
    merged = merge_plans(parts)

    assert _moves(merged) == [("", "node-g", 1, 5), ("node-a", "node-g", 4, 40), ("node-b", "node-g", 5, 50)]
    assert (merged.layouts_total, merged.copies_total, merged.bytes_total) == (30, 90, 900)
    assert (merged.copies_moved, merged.bytes_moved) == (10, 95)
    assert merged.layouts_unplaceable == 7
    assert list(merged.unplaceable_reasons) == ["r1", "r2", "r3", "r4", "r5"][:UNPLACEABLE_REASONS_MAX]
    assert list(merged.node_ids) == ["node-a", "node-b", "node-c"]
    assert list(merged.unreachable) == ["node-e: connection refused", "node-f: deadline exceeded after 5.00 s"]
    assert merge_plans(reversed(parts)) == merged


def test_merge_of_nothing_is_an_empty_plan():
    assert merge_plans([]) == admin_pb2.PlanRingResponse()
