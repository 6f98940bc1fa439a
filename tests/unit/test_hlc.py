"""Hybrid logical clock ordering (node/hlc.py)."""

from node.hlc import HybridLogicalClock, stamp_key
from ringstore.v1 import common_pb2


class FakeWall:
    def __init__(self, ms: int) -> None:
        self.ms = ms

    def __call__(self) -> int:
        return self.ms


def test_stamps_strictly_increase_even_when_the_wall_clock_stalls_or_goes_back():
    """now() is monotonic on one node: equal or earlier wall time bumps the logical counter."""
    wall = FakeWall(1000)
    clock = HybridLogicalClock("a", wall)
    stamps = [clock.now()]
    for ms in (1000, 1000, 999, 500, 1001, 1001):
        wall.ms = ms
        stamps.append(clock.now())
    keys = [stamp_key(s) for s in stamps]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)
    assert (stamps[-1].physical_ms, stamps[-1].logical) == (1001, 1)


def test_observe_orders_a_causally_later_write_after_a_remote_one_despite_clock_skew():
    """A node with a slow clock that has seen a remote stamp issues a greater one next."""
    remote = common_pb2.VersionStamp(physical_ms=5000, logical=3, node_id="z")
    clock = HybridLogicalClock("a", FakeWall(1000))
    clock.observe(remote)
    mine = clock.now()
    assert stamp_key(mine) > stamp_key(remote)


def test_ties_break_on_node_id_deterministically():
    """Concurrent writes with the same physical and logical time order by node id."""
    a = common_pb2.VersionStamp(physical_ms=7, logical=0, node_id="node-a")
    b = common_pb2.VersionStamp(physical_ms=7, logical=0, node_id="node-b")
    assert stamp_key(b) > stamp_key(a)
