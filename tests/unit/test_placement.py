"""Home holders, handoff stand-ins and quorum writes (node/objects/placement.py, quorum.py)."""

import concurrent.futures as cf

import pytest

from node import errors
from node.objects.placement import Assignment, Targets, choose_targets, read_order
from node.objects.quorum import write_quorum
from node.objects.replicas import HolderError
from node.ring import Ring, RingMember

RING = Ring([RingMember(f"node-{i}") for i in range(1, 7)], vnodes_per_node=64)
POSITIONS = [i * (2**64 // 97) for i in range(97)]


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


def test_read_order_puts_home_holders_first_and_skips_down_nodes():
    """Reads ask live nodes in preference order, so handoff copies are found right after the home set."""
    for position in POSITIONS[:10]:
        ordered = RING.ordered_nodes(position)
        assert read_order(RING, position, lambda n: n != ordered[0]) == ordered[1:]


class Flaky:
    """A send function whose listed nodes fail."""

    def __init__(self, failing: set[str]) -> None:
        self.failing = failing
        self.sent: list[Assignment] = []

    def __call__(self, assignment: Assignment) -> None:
        self.sent.append(assignment)
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
