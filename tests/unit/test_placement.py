"""Home holders, handoff stand-ins and quorum writes (node/objects/placement.py, quorum.py)."""

import concurrent.futures as cf
import re
import threading
import time

import pytest

from node import errors
from node.objects.placement import Assignment, Targets, choose_targets, read_order
from node.objects.quorum import write_quorum
from node.objects.replicas import HolderError
from node.ring import Ring, RingMember

RING = Ring([RingMember(f"node-{i}") for i in range(1, 7)], vnodes_per_node=64)
POSITIONS = [i * (2**64 // 97) for i in range(97)]
MIB = 2**20


@pytest.mark.parametrize("down", [set(), {"node-1"}, {"node-2", "node-5"}, {"node-1", "node-2", "node-3"}])
def test_down_home_holders_get_the_next_live_nodes_as_handoff_stand_ins(down):
    """Live home holders keep their copy; each DOWN one is replaced by the next live node, recorded as its handoff."""
    for position in POSITIONS:
        ordered = RING.ordered_nodes(position)
        targets = choose_targets(RING, position, 3, lambda n: n not in down, what="t")
        nodes = [a.node_id for a in targets.assignments]
        assert len(set(nodes)) == 3 and not set(nodes) & down
        for slot, (home, assignment) in enumerate(zip(ordered[:3], targets.assignments)):
            assert assignment.slot == slot
            if home in down:
                assert assignment.handoff_for == home and assignment.node_id not in ordered[:3]
            else:
                assert assignment == Assignment(home, slot=slot)
        stand_ins = [n for n in ordered[3:] if n not in down]
        assert [a.node_id for a in targets.assignments if a.handoff_for] == stand_ins[:len(down & set(ordered[:3]))]
        assert list(targets.spares) == [n for n in stand_ins if n not in nodes]


def test_too_few_live_nodes_is_unavailable_with_the_numbers():
    """Asking for more copies than live nodes names both counts and the live nodes."""
    with pytest.raises(errors.Unavailable, match="needs 4 live nodes but 3 of 6"):
        choose_targets(RING, 0, 4, lambda n: n in {"node-1", "node-2", "node-3"}, what="storing x")


@pytest.mark.parametrize("down, full", [
    (set(), {"node-1"}),
    (set(), {"node-2", "node-5"}),
    ({"node-3"}, {"node-1"}),
    ({"node-4"}, {"node-1", "node-2"}),
])
def test_full_home_holders_get_stand_ins_like_down_ones_and_spares_skip_full_nodes(down, full):
    """A full home is treated like a DOWN one for chunk copies: the next live node with room stands in,
    recorded as its handoff; no full node is assigned or offered as a spare."""
    free = {n: 3 * MIB for n in full}
    for position in POSITIONS:
        ordered = RING.ordered_nodes(position)
        targets = choose_targets(RING, position, 3, lambda n: n not in down, what="t", full=free)
        nodes = [a.node_id for a in targets.assignments]
        assert len(set(nodes)) == 3 and not set(nodes) & (down | full)
        usable = [n for n in ordered[3:] if n not in down | full]
        blocked = [home for home in ordered[:3] if home in down | full]
        for slot, (home, assignment) in enumerate(zip(ordered[:3], targets.assignments)):
            assert assignment.slot == slot
            if home in down | full:
                assert assignment.handoff_for == home
            else:
                assert assignment == Assignment(home, slot=slot)
        assert [a.node_id for a in targets.assignments if a.handoff_for] == usable[:len(blocked)]
        assert list(targets.spares) == usable[len(blocked):]


def test_too_few_nodes_with_room_is_resource_exhausted_naming_the_full_ones():
    """Enough ALIVE nodes but too few with room: RESOURCE_EXHAUSTED with both counts, each full node and
    its free bytes, and what to do (waiting would not help, so not UNAVAILABLE)."""
    full = {"node-3": 12 * MIB, "node-4": 0}
    ordered = RING.ordered_nodes(0)
    listed = ", ".join(f"{n} ({'12.0 MiB' if n == 'node-3' else '0 B'} free)" for n in ordered if n in full)
    with pytest.raises(errors.ResourceExhausted) as info:
        choose_targets(RING, 0, 3, lambda n: n != "node-1" and n != "node-2", what="storing chunk ab (replicas=3)",
                       full=full)
    assert str(info.value) == (
        f"storing chunk ab (replicas=3) needs 3 nodes with free space; 2 of 4 ALIVE ring members have room; "
        f"full: {listed}; delete data, free disk space or add nodes")


def test_too_few_live_nodes_stays_unavailable_when_some_are_also_full():
    """A shortage of ALIVE nodes is UNAVAILABLE (nodes may come back) even if some live ones are full;
    the message names the full ones as well."""
    with pytest.raises(errors.Unavailable, match=r"needs 4 live nodes but 3 of 6 .*; full: node-2 \(1\.0 MiB free\)"):
        choose_targets(RING, 0, 4, lambda n: n in {"node-1", "node-2", "node-3"}, what="storing x",
                       full={"node-2": MIB})


def test_read_order_puts_home_holders_first_and_skips_down_nodes():
    """Reads ask live nodes in preference order, so handoff copies are found right after the home set."""
    for position in POSITIONS[:10]:
        ordered = RING.ordered_nodes(position)
        assert read_order(RING, position, lambda n: n != ordered[0]) == ordered[1:]


class Flaky:
    """A send function whose listed nodes fail: unreachable, or refusing the copy as full."""

    def __init__(self, failing: set[str], full: frozenset[str] = frozenset()) -> None:
        self.failing = failing
        self.full = full
        self.sent: list[Assignment] = []

    def __call__(self, assignment: Assignment) -> None:
        self.sent.append(assignment)
        if assignment.node_id in self.full:
            raise HolderError(assignment.node_id, "full", f"RESOURCE_EXHAUSTED: {assignment.node_id} is full")
        if assignment.node_id in self.failing:
            raise HolderError(assignment.node_id, "unavailable", "UNAVAILABLE: connection refused")


@pytest.fixture
def pool():
    with cf.ThreadPoolExecutor(4) as p:
        yield p


def test_a_holder_failing_mid_write_is_replaced_by_a_spare_as_its_handoff(pool):
    """All copies must land: a failed holder's copy goes to a spare, recorded as a handoff for it, in the
    failed holder's slot (its share index under erasure coding)."""
    targets = Targets((Assignment("a", slot=0), Assignment("b", slot=1), Assignment("c", slot=2)), ("d", "e"))
    send = Flaky({"b"})
    acked = write_quorum(pool, targets, 3, send, what="chunk")
    assert sorted(acked, key=lambda a: a.node_id) == [
        Assignment("a", slot=0), Assignment("c", slot=2), Assignment("d", "b", slot=1)]


def test_quorum_not_met_names_every_failure(pool):
    """When spares run out the error says how many acks of how many, and why each holder failed."""
    targets = Targets((Assignment("a"), Assignment("b"), Assignment("c")), ("d",))
    with pytest.raises(errors.Unavailable, match=r"write quorum not met: 1 of 3 acks") as info:
        write_quorum(pool, targets, 3, Flaky({"b", "c", "d"}), what="chunk")
    assert all(f"{n}: UNAVAILABLE" in str(info.value) for n in "bcd")


def test_metadata_quorum_returns_once_two_of_three_acknowledge(pool):
    """A 2-of-3 write succeeds with one replica down and does not need a spare."""
    targets = Targets((Assignment("a"), Assignment("b"), Assignment("c")), ())
    acked = write_quorum(pool, targets, 2, Flaky({"c"}), what="manifest")
    assert {a.node_id for a in acked} == {"a", "b"}


def test_a_holder_refusing_as_full_is_replaced_by_a_spare_as_its_handoff(pool):
    """A holder gossip had not yet called full refuses the copy; a spare takes its slot as its handoff."""
    targets = Targets((Assignment("a", slot=0), Assignment("b", slot=1), Assignment("c", slot=2)), ("d",))
    acked = write_quorum(pool, targets, 3, Flaky(set(), full=frozenset({"b"})), what="chunk")
    assert sorted(acked, key=lambda a: a.node_id) == [
        Assignment("a", slot=0), Assignment("c", slot=2), Assignment("d", "b", slot=1)]


@pytest.mark.parametrize("unreachable, full, error", [
    pytest.param(set(), frozenset("bcd"), errors.ResourceExhausted, id="every-failure-full"),
    pytest.param({"d"}, frozenset("bc"), errors.Unavailable, id="one-failure-unreachable"),
])
def test_quorum_missed_only_on_full_disks_is_resource_exhausted(pool, unreachable, full, error):
    """When every failure was a full disk the answer is RESOURCE_EXHAUSTED naming those nodes (retrying
    will not help); if any holder was unreachable it stays UNAVAILABLE."""
    targets = Targets((Assignment("a"), Assignment("b"), Assignment("c")), ("d",))
    with pytest.raises(errors.RingstoreError, match=r"write quorum not met: 1 of 3 acks") as info:
        write_quorum(pool, targets, 3, Flaky(unreachable, full=full), what="chunk")
    assert type(info.value) is error
    if error is errors.ResourceExhausted:
        named = re.search(r"; disk full on (.*?) \(", str(info.value))
        assert named is not None and sorted(named.group(1).split(", ")) == ["b", "c", "d"]


def test_metadata_quorum_counts_home_acks_only(pool):
    """Metadata writes count homes only: with two homes failing, a stand-in's ack (and the DOWN
    home's handoff copy) is written but does not make the quorum, so the write is not acknowledged
    and says it may or may not take effect."""
    targets = Targets((Assignment("a"), Assignment("b"), Assignment("d", handoff_for="c")), ("e",))
    send = Flaky({"b"})
    with pytest.raises(errors.Unavailable, match=r"write quorum not met: 1 of 2 home acks .*may or may not"):
        write_quorum(pool, targets, 2, send, what="manifest", homes_only=True)
    assert {a.node_id for a in send.sent} == {"a", "b", "d", "e"}


def test_metadata_quorum_waits_for_a_second_home_past_fast_stand_ins(pool):
    """A stand-in answering first does not end the wait: the write returns once two homes have it."""
    targets = Targets((Assignment("d", handoff_for="a"), Assignment("b"), Assignment("c")), ())
    acked = write_quorum(pool, targets, 2, Flaky(set()), what="manifest", homes_only=True)
    assert {a.node_id for a in acked if not a.handoff_for} == {"b", "c"}


def test_settled_is_called_once_the_write_still_in_flight_at_the_quorum_ends(pool):
    """A 2-of-3 write returns with the slow third write still running; `settled` waits for it, once."""
    release = threading.Event()
    calls: list[str] = []

    def send(assignment: Assignment) -> None:
        if assignment.node_id == "c":
            release.wait(10)

    targets = Targets((Assignment("a"), Assignment("b"), Assignment("c")), ())
    acked = write_quorum(pool, targets, 2, send, what="manifest", settled=lambda: calls.append("settled"))
    assert {a.node_id for a in acked} == {"a", "b"}
    assert calls == []  # c's write has not ended yet
    release.set()
    deadline = time.monotonic() + 10
    while not calls and time.monotonic() < deadline:
        time.sleep(0.01)
    assert calls == ["settled"]


def test_settled_is_called_when_the_quorum_fails_too(pool):
    calls: list[str] = []
    targets = Targets((Assignment("a"), Assignment("b"), Assignment("c")), ())
    with pytest.raises(errors.Unavailable):
        write_quorum(pool, targets, 3, Flaky({"c"}), what="manifest", settled=lambda: calls.append("settled"))
    assert calls == ["settled"]
