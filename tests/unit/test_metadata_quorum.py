"""The metadata quorum rule (Coordinator._read_all, docs/design.md "Metadata quorums"): reads and
writes count home replicas only, so a read never answers from a set of replicas that may miss an
acknowledged write."""

import concurrent.futures as cf
import threading

import pytest

from node import errors
from node.config import StorageConfig
from node.hlc import HybridLogicalClock
from node.objects.coordinator import Coordinator
from node.objects.replicas import HolderError
from node.ring import Ring, RingMember, metadata_position
from ringstore.v1 import common_pb2

RING = Ring([RingMember(f"node-{i}") for i in range(1, 6)], vnodes_per_node=64)
POSITION = metadata_position("default", "photos")
HOMES = RING.ordered_nodes(POSITION)[:3]
STAND_IN = RING.ordered_nodes(POSITION)[3]


class View:
    node_id = "node-x"

    def __init__(self, down: set[str]) -> None:
        self.down = down

    def ring(self) -> Ring:
        return RING

    def is_live(self, node_id: str) -> bool:
        return node_id not in self.down

    def state_name(self, node_id: str) -> str:
        return "DOWN" if node_id in self.down else "ALIVE"


def manifest(physical_ms: int) -> common_pb2.Manifest:
    return common_pb2.Manifest(format_version=1, tenant="default", bucket="photos", key="k",
                               version=common_pb2.VersionStamp(physical_ms=physical_ms, node_id="node-1"))


class Replicas:
    """What each node holds for key k: the acknowledged v2 is on two homes; the third home holds v1."""

    def __init__(self, held: dict[str, common_pb2.Manifest | None], unreachable: set[str]) -> None:
        self.held = held
        self.unreachable = unreachable
        self.asked: list[str] = []

    def get_manifest(self, node_id, tenant, bucket, key, version_id=None):
        self.asked.append(node_id)
        if node_id in self.unreachable:
            raise HolderError(node_id, "unavailable", "UNAVAILABLE: dropped")
        held = self.held.get(node_id)
        if version_id is not None and (held is None or held.version_id != version_id):
            return None  # one manifest per home here: the null version's
        return held


@pytest.fixture
def pool():
    with cf.ThreadPoolExecutor(4) as p:
        yield p


def coordinator(view: View, replicas: Replicas, pool) -> Coordinator:
    c = Coordinator(view=view, replicas=replicas, config=StorageConfig(), hlc=HybridLogicalClock("node-x", lambda: 0),
                    chunk_pool=pool, send_pool=pool, wall_ms=lambda: 0)
    c.bucket = lambda name: None  # the bucket exists; only the manifest read is under test
    return c


def test_a_read_that_reaches_one_home_and_a_stand_in_fails_instead_of_answering_stale(pool):
    """v2 was acknowledged by two homes (b, c); home c looks DOWN to this coordinator and home b does
    not answer. The read must not count the stand-in (which holds nothing) with home a (which holds
    v1): it fails UNAVAILABLE rather than return v1."""
    a, b, c = HOMES
    held = {a: manifest(1), b: manifest(2), c: manifest(2), STAND_IN: None}
    replicas = Replicas(held, unreachable={b})
    with pytest.raises(errors.Unavailable, match=r"read quorum not met: 1 of 2 home replicas answered"):
        coordinator(View(down={c}), replicas, pool).current_manifest("photos", "k")
    assert STAND_IN not in replicas.asked


def test_too_few_live_homes_fails_at_once_naming_their_states(pool):
    """Two of three homes DOWN: nothing is asked, and the error names each home's state."""
    a, b, c = HOMES
    replicas = Replicas({}, unreachable=set())
    with pytest.raises(errors.Unavailable, match=r"1 of 3 metadata home replicas are live") as info:
        coordinator(View(down={b, c}), replicas, pool).current_manifest("photos", "k")
    assert f"{b} DOWN" in str(info.value) and replicas.asked == []


def test_two_homes_answering_give_the_newest_version(pool):
    """With one home DOWN the other two overlap every acknowledged write: the newest wins."""
    a, b, c = HOMES
    replicas = Replicas({a: manifest(1), b: manifest(2)}, unreachable=set())
    got = coordinator(View(down={c}), replicas, pool).current_manifest("photos", "k")
    assert got.version.physical_ms == 2


class Chunks:
    """The chunk reads a get makes: bytes per chunk id, each read recorded; `started` is set by the
    first read, so a test can hold the later homes' answers until an early read has begun."""

    def __init__(self, held: dict[bytes, bytes]) -> None:
        self.held = held
        self.reads: list[bytes] = []
        self.started = threading.Event()

    def read(self, ref, policy, name, lo, hi):
        self.reads.append(bytes(ref.chunk_id))
        self.started.set()
        return memoryview(self.held[bytes(ref.chunk_id)])[lo:hi]


def stored(physical_ms: int, data: bytes) -> common_pb2.Manifest:
    m = manifest(physical_ms)
    m.size_bytes = len(data)
    m.policy.replication.replicas = 3
    m.chunks.add(chunk_id=bytes([physical_ms]) * 32, offset_bytes=0, size_bytes=len(data))
    return m


class SlowHomes(Replicas):
    """Homes in `after` answer only once a chunk read has started."""

    def __init__(self, held, after: set[str], chunks: Chunks) -> None:
        super().__init__(held, unreachable=set())
        self.after, self.chunks = after, chunks

    def get_manifest(self, node_id, tenant, bucket, key, version_id=None):
        if node_id in self.after:
            assert self.chunks.started.wait(10), "no chunk read started from the first answer"
        return super().get_manifest(node_id, tenant, bucket, key, version_id)


@pytest.mark.parametrize("first", ["stale", "newest"])
def test_a_get_reads_its_chunk_from_the_first_answer_and_keeps_it_only_if_the_quorum_agrees(pool, first):
    """The first chunk's read starts from the first home's answer, before the quorum is in. When that
    answer is a stale home's v1, the read is dropped and v2's chunk is read and returned; when it is
    already v2, that one read is all the get makes."""
    a, b, c = HOMES
    old, new = b"old bytes" * 100, b"new bytes" * 100
    chunks = Chunks({bytes([1]) * 32: old, bytes([2]) * 32: new})
    held = {a: stored(1, old), b: stored(2, new), c: stored(2, new)}
    quick = {a} if first == "stale" else {b}
    replicas = SlowHomes(held, after=set(HOMES) - quick, chunks=chunks)
    co = coordinator(View(down=set()), replicas, pool)
    co.chunks = chunks
    got, start, length, frames, plan = co.get_object("photos", "k", None, None)
    assert got.version.physical_ms == 2 and (start, length) == (0, len(new))
    assert b"".join(frames) == new
    assert plan == []
    if first == "stale":
        assert chunks.reads == [bytes([1]) * 32, bytes([2]) * 32]
    else:
        assert chunks.reads == [bytes([2]) * 32]


def test_a_get_answered_with_a_direct_plan_reads_no_chunk_itself(pool):
    """When the client reads a replicated object's chunks from their holders, the coordinator starts
    no early read and returns no payload: the plan is made for the quorum's newest version."""
    a, b, c = HOMES
    old, new = b"old bytes" * 100, b"new bytes" * 100
    chunks = Chunks({bytes([1]) * 32: old, bytes([2]) * 32: new})
    replicas = Replicas({a: stored(1, old), b: stored(2, new), c: stored(2, new)}, unreachable=set())
    co = coordinator(View(down=set()), replicas, pool)
    co.chunks = chunks
    asked = []

    class Direct:
        def applies(self, manifest, start, length):
            return True

        def plan(self, manifest, start, length):
            asked.append((manifest.version.physical_ms, start, length))
            return ["the plan"]

    got, start, length, frames, answer = co.get_object("photos", "k", None, None, Direct())
    assert answer == ["the plan"] and asked == [(2, 0, len(new))] and list(frames) == []
    assert chunks.reads == []
