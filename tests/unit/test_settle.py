"""Whether a ring is settled (node/objects/settle.py), and what a settled ring changes for a manifest
read (Coordinator._read_quorum_only): only R homes are asked, this node first, and any failure
falls back on asking every live home."""

from __future__ import annotations

import concurrent.futures as cf
import threading
import time

import pytest

from node.config import StorageConfig
from node.hlc import HybridLogicalClock
from node.objects import settle
from node.objects.coordinator import Coordinator
from node.objects.replicas import HolderError
from node.objects.settle import RingSettlement
from node.ring import Ring, RingMember, metadata_position
from ringstore.v1 import admin_pb2, common_pb2

F, G = 0xF0F0, 0x6060


@pytest.fixture
def pool():
    with cf.ThreadPoolExecutor(8) as p:
        yield p


class _Members:
    """Each member's answer: (current ring, synced ring), or an exception to raise."""

    def __init__(self, answers: dict) -> None:
        self.answers = answers
        self.asked = 0
        self.hold = threading.Event()
        self.hold.set()

    def ask(self, node_id: str, timeout_s: float, promise_ring: int) -> admin_pb2.NodeHandover:
        self.asked += 1
        self.hold.wait(5)
        answer = self.answers[node_id]
        if isinstance(answer, Exception):
            raise answer
        current, synced, *promise = answer
        promise_s = promise[0] if promise else (3.0 if promise_ring == current else 0.0)
        return admin_pb2.NodeHandover(node_id=node_id, current_ring_fingerprint=current,
                                      synced_ring_fingerprint=synced, metadata_ok=True, promise_s=promise_s)


def _settlement(members: _Members, pool, clock: list[float], ring: list[int]) -> RingSettlement:
    return RingSettlement(ring_fingerprint=lambda: ring[0], live_members=lambda: list(members.answers),
                          ask=members.ask, pool=pool, monotonic_s=lambda: clock[0])


def _idle(s: RingSettlement) -> None:
    """Until no background check runs."""
    deadline = time.monotonic() + 5
    while s._checking and time.monotonic() < deadline:
        time.sleep(0.005)


def _settles(s: RingSettlement, fingerprint: int) -> bool:
    """settled() after the background check it starts has ended."""
    _idle(s)
    s.settled(fingerprint)
    _idle(s)
    return s.settled(fingerprint)


def test_settled_only_when_every_live_member_uses_and_has_handed_over_under_the_ring(pool):
    clock, ring = [100.0], [F]
    members = _Members({"a": (F, F), "b": (F, F), "c": (F, F)})
    s = _settlement(members, pool, clock, ring)
    assert not s.settled(F)  # the first call only starts a check
    assert _settles(s, F)
    assert not s.settled(G)
    _idle(s)
    for answer, reason in (((F, 0), "has not handed over"), ((G, G), "uses ring"), ((F, F, 0.0), "gave no promise"),
                           (RuntimeError("UNIMPLEMENTED"), "did not answer")):
        members.answers["b"] = answer
        s.invalidate()
        assert not _settles(s, F)
        assert reason in s.last_reason


def test_a_membership_change_drops_the_verdict_and_a_check_that_spans_one_is_not_kept(pool):
    clock, ring = [100.0], [F]
    members = _Members({"a": (F, F), "b": (F, F)})
    s = _settlement(members, pool, clock, ring)
    assert _settles(s, F)
    s.invalidate()
    assert not s.settled(F)
    members.hold.clear()  # the check now waits in its asks ...
    s.invalidate()
    s.settled(F)
    s.invalidate()  # ... while a member's record changes
    members.hold.set()
    _idle(s)
    assert s._settled is None


def test_a_verdict_is_asked_again_and_lasts_less_than_the_shortest_promise(pool):
    """Re-asked every RECHECK_S, and not more often when it is not settled; used until
    PROMISE_MARGIN_S before the shortest promise it got ends, counted from before the check was
    sent."""
    clock, ring = [100.0], [F]
    members = _Members({"a": (F, F, 3.0), "b": (F, F, 2.5)})
    s = _settlement(members, pool, clock, ring)
    assert _settles(s, F)
    asked = members.asked
    clock[0] += settle.RECHECK_S / 2
    assert s.settled(F) and members.asked == asked  # fresh, not due
    members.answers["a"] = (F, 0)
    clock[0] += settle.RECHECK_S
    assert s.settled(F)  # still valid while the re-check runs ...
    assert not _settles(s, F)  # ... which finds it no longer settled
    members.answers["a"] = (F, F, 3.0)
    asked = members.asked
    assert not s.settled(F) and members.asked == asked  # checks start at most every RECHECK_S
    clock[0] += settle.RECHECK_S
    checked_at = clock[0]
    assert _settles(s, F)
    s._checking = True  # no re-check can start: the verdict lapses with the shortest promise
    clock[0] = checked_at + 2.5 - settle.PROMISE_MARGIN_S - 0.01
    assert s.settled(F)
    clock[0] = checked_at + 2.5 - settle.PROMISE_MARGIN_S
    assert not s.settled(F)


# -- what a settled ring changes for a manifest read ----------------------------------------------

RING = Ring([RingMember(f"node-{i}") for i in range(1, 6)], vnodes_per_node=64)
POSITION = metadata_position("default", "photos")
HOMES = RING.ordered_nodes(POSITION)[:3]


class _View:
    def __init__(self, node_id: str) -> None:
        self.node_id = node_id

    def ring(self) -> Ring:
        return RING

    def is_live(self, node_id: str) -> bool:
        return True

    def state_name(self, node_id: str) -> str:
        return "ALIVE"


class _Settled:
    def __init__(self, value: bool) -> None:
        self.value = value

    def settled(self, fingerprint: int) -> bool:
        assert fingerprint == RING.fingerprint
        return self.value


class _Replicas:
    def __init__(self, held: dict, failing: set[str]) -> None:
        self.held = held
        self.failing = failing
        self.asked: list[str] = []
        self.lock = threading.Lock()

    def get_manifest(self, node_id, tenant, bucket, key, version_id=None):
        with self.lock:
            self.asked.append(node_id)
        if node_id in self.failing:
            raise HolderError(node_id, "unavailable", "UNAVAILABLE: dropped")
        held = self.held.get(node_id)
        if version_id is not None and (held is None or held.version_id != version_id):
            return None  # one manifest per home here: the null version's
        return held


def _manifest(physical_ms: int) -> common_pb2.Manifest:
    return common_pb2.Manifest(format_version=1, tenant="default", bucket="photos", key="k",
                               version=common_pb2.VersionStamp(physical_ms=physical_ms, node_id="node-1"))


def _read(me: str, settled: bool, replicas: _Replicas, pool) -> common_pb2.Manifest:
    c = Coordinator(view=_View(me), replicas=replicas, config=StorageConfig(), settlement=_Settled(settled),
                    hlc=HybridLogicalClock(me, lambda: 0), chunk_pool=pool, send_pool=pool, wall_ms=lambda: 0)
    c.bucket = lambda name: None
    return c.current_manifest("photos", "k")


def test_a_settled_ring_reads_a_quorum_of_homes_this_node_first(pool):
    a, b, c = HOMES
    held = {a: _manifest(2), b: _manifest(2), c: _manifest(1)}
    replicas = _Replicas(held, failing=set())
    assert _read(c, True, replicas, pool).version.physical_ms == 2
    assert sorted(replicas.asked) == sorted([c, a])  # itself, then the first other home
    replicas.asked.clear()
    _read(c, False, replicas, pool)
    assert sorted(replicas.asked) == sorted(HOMES)  # not settled: every live home
    replicas.asked.clear()
    _read("node-x", True, replicas, pool)
    assert sorted(replicas.asked) == sorted([a, b])  # not a home: the first two


def test_a_quorum_read_that_fails_asks_every_live_home(pool):
    a, b, c = HOMES
    replicas = _Replicas({a: _manifest(2), b: _manifest(1), c: _manifest(2)}, failing={a})
    assert _read(b, True, replicas, pool).version.physical_ms == 2
    assert sorted(replicas.asked) == sorted([b, a, b, a, c])
