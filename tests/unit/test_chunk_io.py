"""Storing and reading one chunk (node/objects/chunk_io.py) against an in-process fake cluster.

The real `ChunkIO` runs with a real ring of node-1..node-6, a real thread pool and, where counters
matter, a real `Metrics`; only the holders are fake (`FakeReplicas`, one dict of shares), so each
test can make a chosen holder unreachable, lose or corrupt its copy, flip a byte of what it returns,
or block until the test releases it. Tests that count fetches set the hedge delay far beyond any
test's run time, so no timer can add a fetch; the hedging tests block a holder on an Event and
release it in `finally`, never sleeping and hoping.
"""

from __future__ import annotations

import concurrent.futures as cf
import itertools
import random
import threading

import blake3
import pytest

from node import errors
from node.erasure import Geometry, chunk_id_of, codec, encode
from node.metrics import Metrics
from node.objects.chunk_io import REPLICA_READ_EXTRA_HOLDERS, ChunkIO, policy_text
from node.objects.replicas import HolderError
from node.ring import Ring, RingMember, chunk_position
from node.store import ShareKey
from ringstore import frames
from ringstore.frames import Framed
from ringstore.v1 import common_pb2, peer_pb2

NODES = tuple(f"node-{i}" for i in range(1, 7))
RING = Ring([RingMember(n) for n in NODES], vnodes_per_node=64)
WALL_MS = 1_700_000_000_123
NAME = "photos/cat.jpg"
OBJECT_REF = common_pb2.ObjectRef(tenant="t", bucket="photos", key="cat.jpg")
# Hedging off: far longer than any test runs, so fetch counts never race a timer.
NO_HEDGE_S = 60.0
HEDGE_S = 0.05
# Deadline for anything a test waits on (a read's result, fetches starting); never slept.
WAIT_S = 5.0
# What each injected fault is reported as (chunk_io's reasons) and how a DataLoss message names it.
REASON = {"unavailable": "unreachable", "not_found": "missing", "corrupt": "corrupt", "flip": "corrupt",
          "truncate": "corrupt"}
ASKED = {"unavailable": "unavailable", "not_found": "not found", "corrupt": "corrupt",
         "flip": "corrupt (blake3 mismatch)", "truncate": "corrupt (blake3 mismatch)"}
FAULTS = ("unavailable", "not_found", "corrupt", "flip")


def replicated(n: int) -> common_pb2.RedundancyPolicy:
    return common_pb2.RedundancyPolicy(replication=common_pb2.Replication(replicas=n))


def ec(k: int, m: int) -> common_pb2.RedundancyPolicy:
    return common_pb2.RedundancyPolicy(erasure_coding=common_pb2.ErasureCoding(data_shares=k, parity_shares=m))


def chunk_bytes(size: int, seed: int = 0) -> bytes:
    return random.Random(f"{size}/{seed}").randbytes(size)


def homes(chunk_id: bytes, count: int) -> list[str]:
    return RING.ordered_nodes(chunk_position(chunk_id))[:count]


class View:
    """ClusterView over the fixed ring; `down` is the set of nodes membership calls DOWN, `full` the
    ALIVE nodes gossip calls full (-> the free bytes they announced)."""

    def __init__(self, node_id: str) -> None:
        self.node_id = node_id
        self.down: set[str] = set()
        self.full: dict[str, int] = {}

    def ring(self) -> Ring:
        return RING

    def is_live(self, node_id: str) -> bool:
        return node_id in NODES and node_id not in self.down

    def address_of(self, node_id: str) -> str:
        return f"127.0.0.1:{7000 + NODES.index(node_id)}"

    def state_name(self, node_id: str) -> str:
        return "DOWN" if node_id in self.down else "ALIVE"

    def live_count(self) -> int:
        return sum(self.is_live(n) for n in NODES)

    def full_nodes(self) -> dict[str, int]:
        return {n: free for n, free in self.full.items() if self.is_live(n)}


class FakeReplicas:
    """The holders: shares keyed by (node, ShareKey), placement records by (node, chunk, K, M).

    Faults are per node: `unreachable` nodes fail every call with HolderError(unavailable);
    `fetch_faults[node]` is not_found | corrupt (the holder says so) | flip | truncate (the holder
    returns damaged bytes and says nothing); `gates[node]` blocks that node's fetches until set.
    Every fetch and placement lookup is logged in call order."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.changed = threading.Condition(self.lock)
        self.shares: dict[tuple[str, ShareKey], bytes] = {}
        self.placements: dict[tuple[str, bytes, int, int], common_pb2.PlacementRecord] = {}
        self.stored: list[tuple[str, ShareKey, str]] = []
        self.fetches: list[tuple[str, ShareKey]] = []
        self.placement_lookups: list[str] = []
        self.unreachable: set[str] = set()
        self.store_unreachable: set[str] = set()
        self.store_full: set[str] = set()
        self.fetch_faults: dict[str, str] = {}
        self.gates: dict[str, threading.Event] = {}

    def _reach(self, node_id: str, unreachable: set[str]) -> None:
        if node_id in unreachable:
            raise HolderError(node_id, "unavailable", "UNAVAILABLE: connection refused")

    def framed(self, data) -> list[Framed]:
        return frames.framed(data, 1024)

    def store_share(self, node_id: str, key: ShareKey, data, placement: common_pb2.PlacementRecord,
                    blake3_digest: bytes, handoff_for: str, referenced_by: common_pb2.ObjectRef, *,
                    wire: list[Framed] | None = None) -> None:
        self._reach(node_id, self.unreachable | self.store_unreachable)
        if wire is not None:  # what the wire would carry is exactly the share's bytes
            decode = frames.decoder(peer_pb2.StoreChunkRequest)
            assert b"".join(bytes(decode(f.wire)) for f in wire) == bytes(data)
        if node_id in self.store_full:
            raise HolderError(node_id, "full", f"RESOURCE_EXHAUSTED: {node_id} is full: refusing a copy")
        assert blake3.blake3(data).digest() == blake3_digest, "coordinator sent a hash that is not the share's"
        record = common_pb2.PlacementRecord()
        record.CopyFrom(placement)  # the wire serializes it at send time
        with self.lock:
            assert (node_id, key) not in self.shares, f"{node_id} asked to store {key} twice"
            self.shares[(node_id, key)] = bytes(data)
            self.placements[(node_id, key.chunk_id, key.data_shares, key.parity_shares)] = record
            self.stored.append((node_id, key, handoff_for))

    def put_placement(self, node_id: str, record: common_pb2.PlacementRecord) -> None:
        self._reach(node_id, self.unreachable)
        policy = record.policy
        k, m = ((policy.erasure_coding.data_shares, policy.erasure_coding.parity_shares)
                if policy.WhichOneof("policy") == "erasure_coding" else (0, 0))
        copy = common_pb2.PlacementRecord()
        copy.CopyFrom(record)
        with self.lock:
            self.placements[(node_id, bytes(record.chunk_id), k, m)] = copy

    def get_placement(self, node_id: str, chunk_id: bytes, data_shares: int = 0,
                      parity_shares: int = 0) -> common_pb2.PlacementRecord | None:
        with self.lock:
            self.placement_lookups.append(node_id)
        self._reach(node_id, self.unreachable)
        with self.lock:
            return self.placements.get((node_id, chunk_id, data_shares, parity_shares))

    def fetch_share(self, node_id: str, key: ShareKey) -> bytes:
        with self.lock:
            self.fetches.append((node_id, key))
            self.changed.notify_all()
            gate = self.gates.get(node_id)
        if gate is not None and not gate.wait(2 * WAIT_S):
            raise HolderError(node_id, "unavailable", "DEADLINE_EXCEEDED: test gate never released")
        self._reach(node_id, self.unreachable)
        fault = self.fetch_faults.get(node_id)
        if fault in ("not_found", "corrupt"):
            raise HolderError(node_id, fault, f"{fault.upper()}: injected")
        with self.lock:
            data = self.shares.get((node_id, key))
        if data is None:
            raise HolderError(node_id, "not_found", f"NOT_FOUND: {node_id} holds no {key}")
        if fault == "flip":
            middle = len(data) // 2
            data = data[:middle] + bytes([data[middle] ^ 0x01]) + data[middle + 1:]
        elif fault == "truncate":
            data = data[:-1]
        return data

    def fetch_checked(self, node_id: str, key: ShareKey, expected_blake3: bytes) -> bytes | None:
        data = self.fetch_share(node_id, key)
        return data if blake3.blake3(data).digest() == expected_blake3 else None

    def wait_for_fetches(self, count: int) -> None:
        with self.changed:
            assert self.changed.wait_for(lambda: len(self.fetches) >= count, timeout=WAIT_S), \
                f"only {len(self.fetches)} of {count} fetches started within {WAIT_S} s: {self.fetches}"

    def holder_of(self, key: ShareKey) -> str:
        [node] = [node for node, k in self.shares if k == key]
        return node

    def fetched_indexes(self) -> list[int | None]:
        return [key.share_index for _, key in self.fetches]


class Cluster:
    """One ChunkIO over a fresh fake cluster, with the damage it reported."""

    def __init__(self, *, hedge_s: float, node_id: str, metrics: bool) -> None:
        self.view = View(node_id)
        self.replicas = FakeReplicas()
        self.pool = cf.ThreadPoolExecutor(max_workers=12, thread_name_prefix="send")
        self.caller = cf.ThreadPoolExecutor(max_workers=1, thread_name_prefix="caller")
        self.metrics = Metrics() if metrics else None
        self.damage: list[tuple] = []
        self.io = ChunkIO(view=self.view, replicas=self.replicas, send_pool=self.pool, wall_ms=lambda: WALL_MS,
                          metrics=self.metrics, report_damage=lambda *report: self.damage.append(report),
                          read_hedge_after_s=hedge_s)

    def store(self, data: bytes, policy: common_pb2.RedundancyPolicy, offset: int = 0) -> common_pb2.ChunkRef:
        return self.io.store(data, offset, policy, NAME, OBJECT_REF)

    def read(self, ref: common_pb2.ChunkRef, policy: common_pb2.RedundancyPolicy, lo: int = 0,
             hi: int | None = None) -> bytes:
        return bytes(self.io.read(ref, policy, NAME, lo, hi))

    def read_in_background(self, ref, policy, lo: int = 0, hi: int | None = None) -> cf.Future:
        return self.caller.submit(self.read, ref, policy, lo, hi)

    def reset_log(self) -> None:
        with self.replicas.lock:
            self.replicas.fetches.clear()
            self.replicas.placement_lookups.clear()
        self.damage.clear()

    def sample(self, name: str, **labels: str) -> float:
        assert self.metrics is not None
        value = self.metrics.registry.get_sample_value(name, labels)
        return 0.0 if value is None else value

    def close(self) -> None:
        for gate in self.replicas.gates.values():
            gate.set()
        self.caller.shutdown(wait=True)
        self.pool.shutdown(wait=True)


@pytest.fixture
def make_cluster():
    made: list[Cluster] = []

    def make(*, hedge_s: float = NO_HEDGE_S, node_id: str = "coordinator", metrics: bool = False) -> Cluster:
        cluster = Cluster(hedge_s=hedge_s, node_id=node_id, metrics=metrics)
        made.append(cluster)
        return cluster

    yield make
    for cluster in made:
        cluster.close()


def overlapping_data_shares(lo: int, hi: int, share: int) -> set[int]:
    """The data shares holding any byte of [lo, hi)."""
    return {i for i in range(hi // share + 1) if i * share < hi and (i + 1) * share > lo}


def interesting_ranges(size: int, share: int, k: int) -> list[tuple[int, int]]:
    """Every range of a small chunk; for a larger one, every pair of points around share boundaries
    (so 1-byte ranges at each boundary, ranges inside one share, across shares, into the padded last
    share, and the whole chunk)."""
    if size <= 13:
        return [(lo, hi) for lo in range(size + 1) for hi in range(lo, size + 1)]
    points = {0, 1, size - 1, size}
    for i in range(1, k + 1):
        points |= {i * share - 1, i * share, i * share + 1}
    points = sorted(p for p in points if 0 <= p <= size)
    return [(lo, hi) for lo, hi in itertools.combinations_with_replacement(points, 2)]


# -- store ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("k,m", [(4, 2), (2, 1)])
@pytest.mark.parametrize("size", [1, 3, 1001, 4099])
def test_ec_store_puts_share_i_on_home_i_and_every_record_names_every_slot(make_cluster, k, m, size):
    """Under ec=K+M share i (ShareKey(cid, i, K, M)) lands on the i-th home node, K+M distinct nodes;
    each holder's placement record lists every slot with its holder and the share's blake3; the
    ChunkRef carries the K+M share hashes."""
    cluster = make_cluster(metrics=True)
    data = chunk_bytes(size)
    ref = cluster.store(data, ec(k, m), offset=7 << 20)
    cid = chunk_id_of(data)
    shares = [bytes(s) for s in encode(data, Geometry(k, m))]
    hashes = [blake3.blake3(s).digest() for s in shares]

    assert ref == common_pb2.ChunkRef(chunk_id=cid, size_bytes=size, offset_bytes=7 << 20, share_blake3=hashes)
    expected_homes = homes(cid, k + m)
    assert len(set(expected_homes)) == k + m
    assert sorted((n, key) for n, key, _ in cluster.replicas.stored) == sorted(
        (expected_homes[i], ShareKey(cid, i, k, m)) for i in range(k + m))
    assert all(handoff == "" for _, _, handoff in cluster.replicas.stored)
    for i, node in enumerate(expected_homes):
        assert cluster.replicas.shares[(node, ShareKey(cid, i, k, m))] == shares[i]
        record = cluster.replicas.placements[(node, cid, k, m)]
        assert record.chunk_id == cid and record.size_bytes == size and record.updated_at_unix_ms == WALL_MS
        assert record.policy == ec(k, m) and record.format_version == 1
        assert [(h.share_index, h.node_id, h.handoff_for_node_id, h.blake3) for h in record.holders] == [
            (j, expected_homes[j], "", hashes[j]) for j in range(k + m)]
    assert cluster.sample("ringstore_erasure_encode_bytes_total") == size


@pytest.mark.parametrize("size", [1, 1001])
def test_replicated_store_puts_whole_copies_on_the_home_nodes(make_cluster, size):
    """Under replicas=3 each of the 3 home nodes gets the whole chunk as ShareKey(cid); the record
    names all three slots with the chunk id as hash, and the ChunkRef has no share hashes."""
    cluster = make_cluster(metrics=True)
    data = chunk_bytes(size)
    ref = cluster.store(data, replicated(3))
    cid = chunk_id_of(data)

    assert ref == common_pb2.ChunkRef(chunk_id=cid, size_bytes=size, offset_bytes=0)
    assert len(ref.share_blake3) == 0
    expected_homes = homes(cid, 3)
    assert sorted(n for n, _, _ in cluster.replicas.stored) == sorted(expected_homes)
    assert {key for _, key, _ in cluster.replicas.stored} == {ShareKey(cid)}
    for node in expected_homes:
        assert cluster.replicas.shares[(node, ShareKey(cid))] == data
        record = cluster.replicas.placements[(node, cid, 0, 0)]
        assert record.policy == replicated(3)
        assert [(h.share_index, h.node_id, h.blake3) for h in record.holders] == [
            (slot, expected_homes[slot], cid) for slot in range(3)]
    assert cluster.sample("ringstore_erasure_encode_bytes_total") == 0


def test_store_puts_a_down_homes_share_on_the_next_live_node_as_a_handoff(make_cluster):
    """A DOWN home's share goes to the first live node after the home set, recorded as its handoff,
    so the stripe still has K+M distinct holders."""
    cluster = make_cluster()
    data = chunk_bytes(1001)
    cid = chunk_id_of(data)
    order = RING.ordered_nodes(chunk_position(cid))
    cluster.view.down = {order[1]}
    cluster.store(data, ec(2, 1))

    stored = sorted((key.share_index, node, handoff) for node, key, handoff in cluster.replicas.stored)
    assert stored == [(0, order[0], ""), (1, order[3], order[1]), (2, order[2], "")]
    for node in (order[0], order[2], order[3]):
        record = cluster.replicas.placements[(node, cid, 2, 1)]
        assert [(h.share_index, h.node_id, h.handoff_for_node_id) for h in record.holders] == [
            (0, order[0], ""), (1, order[3], order[1]), (2, order[2], "")]


def test_store_replaces_a_holder_that_fails_mid_write_and_rewrites_every_record(make_cluster):
    """A holder that fails during the write is replaced by a spare live node as a handoff copy, and
    every holder's placement record is rewritten to name the stand-in instead of the failed node."""
    cluster = make_cluster()
    data = chunk_bytes(1001)
    cid = chunk_id_of(data)
    order = RING.ordered_nodes(chunk_position(cid))
    cluster.replicas.store_unreachable = {order[0]}
    ref = cluster.store(data, ec(2, 1))

    stored = sorted((key.share_index, node, handoff) for node, key, handoff in cluster.replicas.stored)
    assert stored == [(0, order[3], order[0]), (1, order[1], ""), (2, order[2], "")]
    hashes = list(ref.share_blake3)
    for node in (order[1], order[2], order[3]):
        record = cluster.replicas.placements[(node, cid, 2, 1)]
        assert [(h.share_index, h.node_id, h.handoff_for_node_id, h.blake3) for h in record.holders] == [
            (0, order[3], order[0], hashes[0]), (1, order[1], "", hashes[1]), (2, order[2], "", hashes[2])]
    assert (order[0], cid, 2, 1) not in cluster.replicas.placements
    assert cluster.read(ref, ec(2, 1)) == data


def test_ec_store_with_fewer_live_nodes_than_shares_is_unavailable(make_cluster):
    """Two shares never share a node: ec=4+2 with 5 live nodes fails with the numbers, storing nothing."""
    cluster = make_cluster()
    cluster.view.down = {"node-3"}
    with pytest.raises(errors.Unavailable, match=r"needs 6 live nodes but 5 of 6"):
        cluster.store(chunk_bytes(1001), ec(4, 2))
    assert cluster.replicas.stored == []


def test_store_puts_a_full_homes_share_on_the_next_node_with_room_as_a_handoff(make_cluster):
    """A home gossip calls full gets no copy: its share goes to the first live node with room after the
    home set (a full node there is skipped too), recorded as a handoff for the full home; the chunk
    reads back."""
    cluster = make_cluster()
    data = chunk_bytes(1001)
    cid = chunk_id_of(data)
    order = RING.ordered_nodes(chunk_position(cid))
    cluster.view.full = {order[1]: 5 * 2**20, order[3]: 0}
    ref = cluster.store(data, ec(2, 1))

    stored = sorted((key.share_index, node, handoff) for node, key, handoff in cluster.replicas.stored)
    assert stored == [(0, order[0], ""), (1, order[4], order[1]), (2, order[2], "")]
    assert cluster.read(ref, ec(2, 1)) == data


def test_store_with_too_few_nodes_with_room_is_resource_exhausted_naming_the_full_ones(make_cluster):
    """Enough live nodes but too few with room: RESOURCE_EXHAUSTED naming each full node and its free
    bytes, and nothing is stored."""
    cluster = make_cluster()
    cluster.view.full = {"node-2": 12 * 2**20, "node-5": 0}
    with pytest.raises(errors.ResourceExhausted,
                       match=r"needs 6 nodes with free space; 4 of 6 ALIVE ring members have room; full: "):
        cluster.store(chunk_bytes(1001), ec(4, 2))
    assert cluster.replicas.stored == []


def test_a_holder_refusing_a_copy_as_full_is_replaced_and_all_full_is_resource_exhausted(make_cluster):
    """A holder whose gossip has not yet said full refuses the copy: a spare stands in as its handoff.
    When the spares refuse too, the put fails with RESOURCE_EXHAUSTED naming the full nodes, not
    UNAVAILABLE."""
    cluster = make_cluster()
    data = chunk_bytes(1001)
    cid = chunk_id_of(data)
    order = RING.ordered_nodes(chunk_position(cid))
    cluster.replicas.store_full = {order[0]}
    cluster.store(data, replicated(3))
    stored = sorted((node, handoff) for node, _, handoff in cluster.replicas.stored)
    assert stored == sorted([(order[1], ""), (order[2], ""), (order[3], order[0])])

    cluster = make_cluster()
    cluster.replicas.store_full = set(NODES)
    with pytest.raises(errors.ResourceExhausted, match=r"write quorum not met: 0 of 3 acks; disk full on ") as info:
        cluster.store(data, replicated(3))
    assert all(f"{node}: RESOURCE_EXHAUSTED" in str(info.value) for node in NODES)


# -- healthy reads -------------------------------------------------------------------------------

READ_CASES = [pytest.param(policy, size, id=f"{policy_text(policy)}-{size}")
              for policy, sizes in ((ec(4, 2), (1, 3, 4, 5, 7, 13, 1001, 4096, 4099)),
                                    (ec(2, 1), (1, 2, 3, 5, 1001)),
                                    (replicated(3), (1, 7, 1001)))
              for size in sizes]


@pytest.mark.parametrize("policy,size", READ_CASES)
def test_every_byte_range_reads_back_exactly(make_cluster, policy, size):
    """[lo, hi) returns exactly those bytes: inside one share, across shares, into the padded last
    share, 1-byte ranges on each side of every share boundary, empty ranges and the whole chunk,
    including sizes K does not divide."""
    cluster = make_cluster()
    data = chunk_bytes(size)
    ref = cluster.store(data, policy)
    if policy.WhichOneof("policy") == "erasure_coding":
        k = policy.erasure_coding.data_shares
        share = Geometry(k, policy.erasure_coding.parity_shares).share_size_bytes(size)
    else:
        k, share = 1, size
    for lo, hi in interesting_ranges(size, share, k):
        assert cluster.read(ref, policy, lo, hi) == data[lo:hi], (lo, hi)
    assert cluster.read(ref, policy) == data
    assert cluster.damage == []


@pytest.mark.parametrize("k,m", [(4, 2), (2, 1)])
@pytest.mark.parametrize("size", [7, 1001, 4099])
def test_range_read_fetches_only_the_data_shares_it_covers(make_cluster, k, m, size):
    """When they are healthy, a byte range asks only the data shares holding its bytes, each once and
    from its home node; no parity share and no placement record."""
    cluster = make_cluster()
    data = chunk_bytes(size)
    ref = cluster.store(data, ec(k, m))
    cid = bytes(ref.chunk_id)
    home = homes(cid, k + m)
    share = Geometry(k, m).share_size_bytes(size)
    for lo, hi in interesting_ranges(size, share, k):
        if lo == hi or (lo, hi) == (0, size):
            continue
        cluster.reset_log()
        assert cluster.read(ref, ec(k, m), lo, hi) == data[lo:hi]
        covered = overlapping_data_shares(lo, hi, share)
        assert sorted(cluster.replicas.fetches, key=lambda f: f[1].share_index) == [
            (home[i], ShareKey(cid, i, k, m)) for i in sorted(covered)], (lo, hi)
        assert len(cluster.replicas.placement_lookups) == 1  # where the shares are: one record lookup


@pytest.mark.parametrize("k,m", [(4, 2), (2, 1)])
@pytest.mark.parametrize("size", [1, 3, 1001, 4096])
def test_healthy_whole_read_joins_the_k_data_shares_without_decoding(make_cluster, monkeypatch, k, m, size):
    """A whole read with every data share intact fetches exactly the K data shares from their homes
    and never runs the zfec decoder (which is made to fail here)."""
    cluster = make_cluster(metrics=True)
    data = chunk_bytes(size)
    ref = cluster.store(data, ec(k, m))
    cid = bytes(ref.chunk_id)

    def no_decoder(*args):
        raise AssertionError("a healthy read ran the zfec decoder")

    monkeypatch.setattr(codec, "_decoder", no_decoder)
    assert cluster.read(ref, ec(k, m)) == data
    home = homes(cid, k + m)
    assert sorted(cluster.replicas.fetches, key=lambda f: f[1].share_index) == [
        (home[i], ShareKey(cid, i, k, m)) for i in range(k)]
    assert cluster.sample("ringstore_erasure_decode_bytes_total") == 0
    assert cluster.sample("ringstore_degraded_reads_total", policy="ec") == 0
    assert cluster.damage == []


# -- degraded reads ------------------------------------------------------------------------------


def parity_asked(failing: set[int], k: int, m: int) -> list[int]:
    """Parity shares a whole read asks, in order, when `failing` shares fail fast and none is slow:
    one more for each failed data share or failed parity share, until K are good."""
    short = sum(1 for i in range(k) if i in failing)
    asked = []
    for p in range(k, k + m):
        if short == 0:
            break
        asked.append(p)
        if p not in failing:
            short -= 1
    return asked


def inject(cluster: Cluster, node: str, fault: str) -> None:
    if fault == "unavailable":
        cluster.replicas.unreachable.add(node)
    else:
        cluster.replicas.fetch_faults[node] = fault


LOSS_CASES = [(4, 2, set(c)) for c in itertools.combinations(range(6), 2)] + [
    (2, 1, set(c)) for c in itertools.combinations(range(3), 1)]


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("k,m,failing", LOSS_CASES, ids=lambda v: str(v))
def test_lost_shares_up_to_m_are_replaced_by_parity_and_reported(make_cluster, fault, k, m, failing):
    """Any M shares unreachable, missing, corrupt on disk or returned with a flipped byte (caught by
    the share's blake3, before decoding) still give the exact bytes, whole or ranged; each bad share
    that was asked is reported once with its index, node and reason, and no holder is asked twice."""
    cluster = make_cluster()
    size = 1001
    data = chunk_bytes(size, seed=len(failing))
    ref = cluster.store(data, ec(k, m))
    cid = bytes(ref.chunk_id)
    home = homes(cid, k + m)
    for i in failing:
        inject(cluster, home[i], fault)

    assert cluster.read(ref, ec(k, m)) == data
    asked = {i for i in failing if i < k} | (failing & set(parity_asked(failing, k, m)))
    assert sorted(cluster.damage) == sorted((cid, k, m, i, home[i], REASON[fault]) for i in asked)
    assert len(cluster.replicas.fetches) == len(set(cluster.replicas.fetches))

    share = Geometry(k, m).share_size_bytes(size)
    for lo, hi in [(share - 3, share + 3), (0, 1), (size - 1, size), (share + 1, 2 * share - 1)]:
        cluster.reset_log()
        assert cluster.read(ref, ec(k, m), lo, hi) == data[lo:hi], (lo, hi)
        assert set(cluster.damage) <= {(cid, k, m, i, home[i], REASON[fault]) for i in failing}
        assert {(cid, k, m, i, home[i], REASON[fault]) for i in overlapping_data_shares(lo, hi, share)
                if i in failing} <= set(cluster.damage)


def test_degraded_reads_are_counted_with_the_bytes_decoded(make_cluster):
    """A read that had to use parity counts one degraded ec read and the chunk's bytes as decoded; a
    replica read that moved past a bad copy counts one degraded replication read."""
    cluster = make_cluster(metrics=True)
    data = chunk_bytes(1001)
    ref = cluster.store(data, ec(4, 2))
    inject(cluster, homes(bytes(ref.chunk_id), 6)[2], "not_found")
    assert cluster.read(ref, ec(4, 2)) == data
    assert cluster.sample("ringstore_degraded_reads_total", policy="ec") == 1
    assert cluster.sample("ringstore_erasure_decode_bytes_total") == 1001

    other = chunk_bytes(999)
    replica_ref = cluster.store(other, replicated(3))
    inject(cluster, homes(bytes(replica_ref.chunk_id), 3)[0], "flip")
    assert cluster.read(replica_ref, replicated(3)) == other
    assert cluster.sample("ringstore_degraded_reads_total", policy="replication") == 1


@pytest.mark.parametrize("down", range(6))
def test_a_down_home_is_never_asked_and_parity_goes_out_in_the_first_round(make_cluster, down):
    """A home that membership calls DOWN is skipped without a fetch; if it held a data share, a
    parity share is asked alongside the other data shares at once (every fetch is held at a gate
    until K are in flight), not after a failed round; nothing is reported for it."""
    cluster = make_cluster()
    data = chunk_bytes(1001)
    ref = cluster.store(data, ec(4, 2))
    home = homes(bytes(ref.chunk_id), 6)
    cluster.view.down = {home[down]}
    gate = threading.Event()
    cluster.replicas.gates = {node: gate for node in NODES}
    try:
        reading = cluster.read_in_background(ref, ec(4, 2))
        cluster.replicas.wait_for_fetches(4)
        first_round = set(cluster.replicas.fetched_indexes())
    finally:
        gate.set()
    assert reading.result(timeout=WAIT_S) == data
    assert first_round == ({0, 1, 2, 3} - {down}) | ({4} if down < 4 else set())
    assert len(cluster.replicas.fetches) == 4
    assert home[down] not in {node for node, _ in cluster.replicas.fetches}
    assert len(cluster.replicas.placement_lookups) == 1  # where the shares are: one record lookup
    assert cluster.damage == []


def test_replica_read_skips_a_down_holder_without_asking_it(make_cluster):
    """Under replication a DOWN first holder is not asked; the next holder serves the read."""
    cluster = make_cluster()
    data = chunk_bytes(1001)
    ref = cluster.store(data, replicated(3))
    home = homes(bytes(ref.chunk_id), 3)
    cluster.view.down = {home[0]}
    assert cluster.read(ref, replicated(3)) == data
    assert [node for node, _ in cluster.replicas.fetches] == [home[1]]
    assert cluster.damage == []


@pytest.mark.parametrize("slow", range(4))
def test_a_slow_data_share_is_hedged_with_parity(make_cluster, slow):
    """A data-share holder that has not answered after read_hedge_after_s gets a parity share asked
    alongside; the read completes from the others while the slow holder is still blocked."""
    cluster = make_cluster(hedge_s=HEDGE_S, metrics=True)
    data = chunk_bytes(1001)
    ref = cluster.store(data, ec(4, 2))
    home = homes(bytes(ref.chunk_id), 6)
    gate = threading.Event()
    cluster.replicas.gates[home[slow]] = gate
    share = Geometry(4, 2).share_size_bytes(1001)
    try:
        assert cluster.read_in_background(ref, ec(4, 2)).result(timeout=WAIT_S) == data
        assert not gate.is_set()
        fetched = cluster.replicas.fetched_indexes()
        assert slow in fetched and 4 in fetched
        assert cluster.sample("ringstore_degraded_reads_total", policy="ec") == 1

        # A range inside the slow share needs K other shares to rebuild it.
        cluster.reset_log()
        lo, hi = slow * share + 1, min(1001, (slow + 1) * share) - 1
        assert cluster.read_in_background(ref, ec(4, 2), lo, hi).result(timeout=WAIT_S) == data[lo:hi]
        assert not gate.is_set()
    finally:
        gate.set()


# -- holders outside the home set ----------------------------------------------------------------


@pytest.mark.parametrize("home_back", [False, True], ids=["home-still-down", "home-back-empty"])
def test_a_share_only_on_its_handoff_node_is_read_where_the_placement_record_says(make_cluster, home_back):
    """A share written to a handoff node while its home was DOWN is read from the handoff node the
    placement record names, whether the home is still DOWN or back without the share: its home is
    never asked, so nothing is reported missing, and no parity is needed."""
    cluster = make_cluster()
    data = chunk_bytes(1001)
    cid = chunk_id_of(data)
    order = RING.ordered_nodes(chunk_position(cid))
    cluster.view.down = {order[0]}
    ref = cluster.store(data, ec(2, 1))
    assert cluster.replicas.holder_of(ShareKey(cid, 0, 2, 1)) == order[3]
    if home_back:
        cluster.view.down = set()
    cluster.replicas.unreachable = {order[2]}

    assert cluster.read(ref, ec(2, 1)) == data
    assert (order[3], ShareKey(cid, 0, 2, 1)) in cluster.replicas.fetches
    assert (order[0], ShareKey(cid, 0, 2, 1)) not in cluster.replicas.fetches
    assert cluster.damage == []


def test_a_share_moved_by_rebalancing_is_read_from_its_recorded_holder(make_cluster):
    """Rebalancing keeps a share on whichever home moves least, so share i may sit on the j-th home:
    the read follows the placement record and never asks the ring's i-th home."""
    cluster = make_cluster()
    data = chunk_bytes(4099)
    cid = chunk_id_of(data)
    ref = cluster.store(data, ec(2, 1))
    order = RING.ordered_nodes(chunk_position(cid))
    with cluster.replicas.lock:  # swap shares 0 and 1 between their holders, as a rebalance might
        s0 = cluster.replicas.shares.pop((order[0], ShareKey(cid, 0, 2, 1)))
        s1 = cluster.replicas.shares.pop((order[1], ShareKey(cid, 1, 2, 1)))
        cluster.replicas.shares[(order[1], ShareKey(cid, 0, 2, 1))] = s0
        cluster.replicas.shares[(order[0], ShareKey(cid, 1, 2, 1))] = s1
        for key, record in cluster.replicas.placements.items():
            for holder in record.holders:
                if holder.share_index in (0, 1):
                    holder.node_id = order[1 - holder.share_index]
    assert cluster.read(ref, ec(2, 1)) == data
    assert sorted(cluster.replicas.fetches, key=lambda f: f[1].share_index) == [
        (order[1], ShareKey(cid, 0, 2, 1)), (order[0], ShareKey(cid, 1, 2, 1))]
    assert cluster.damage == []


def test_a_replica_outside_the_read_window_is_found_through_the_placement_record(make_cluster):
    """A replica held only by a node past the home set and its handoff window (the ring moved) is
    read from the holder the placement record names."""
    cluster = make_cluster()
    data = chunk_bytes(1001)
    cid = chunk_id_of(data)
    order = RING.ordered_nodes(chunk_position(cid))
    ref = cluster.store(data, replicated(2))
    far = order[2 + REPLICA_READ_EXTRA_HOLDERS]
    replicas = cluster.replicas
    for node in order[:2]:
        del replicas.shares[(node, ShareKey(cid))]
        record = replicas.placements[(node, cid, 0, 0)]
        record.holders[0].node_id = far
        del record.holders[1:]
    replicas.shares[(far, ShareKey(cid))] = data

    assert cluster.read(ref, replicated(2)) == data
    assert [node for node, _ in replicas.fetches] == order[:2 + REPLICA_READ_EXTRA_HOLDERS] + [far]


# -- data loss -----------------------------------------------------------------------------------

DATA_LOSS_CASES = [
    (4, 2, {0: "flip", 1: "not_found", 2: "corrupt"}),
    (4, 2, {3: "corrupt", 4: "flip", 5: "not_found"}),
    (4, 2, {1: "flip", 4: "flip", 5: "flip"}),
    (4, 2, {0: "truncate", 2: "flip", 3: "corrupt", 5: "unavailable"}),
    (2, 1, {0: "flip", 2: "corrupt"}),
    (2, 1, {0: "flip", 1: "flip", 2: "flip"}),
]


@pytest.mark.parametrize("k,m,faults", DATA_LOSS_CASES, ids=lambda v: str(v))
def test_fewer_than_k_good_shares_is_data_loss_naming_what_was_found_and_asked(make_cluster, k, m, faults):
    """With fewer than K intact shares a read, whole or ranged, raises DataLoss (never returns bytes)
    whose message names the chunk, the object, how many of K shares were intact, which ones, and
    every node that failed with how; every bad share is reported."""
    cluster = make_cluster()
    data = chunk_bytes(1001)
    ref = cluster.store(data, ec(k, m), offset=3 << 20)
    cid = bytes(ref.chunk_id)
    home = homes(cid, k + m)
    for i, fault in faults.items():
        inject(cluster, home[i], fault)
    good = [i for i in range(k + m) if i not in faults]
    share = Geometry(k, m).share_size_bytes(1001)
    first_bad_data = min(i for i in faults if i < k)
    for lo, hi in [(0, 1001), (first_bad_data * share + 1, first_bad_data * share + 2)]:
        cluster.reset_log()
        with pytest.raises(errors.DataLoss) as caught:
            cluster.read(ref, ec(k, m), lo, hi)
        message = str(caught.value)
        assert f"chunk {cid.hex()[:16]} of {NAME} (offset {3 << 20}, ec={k}+{m})" in message
        assert f"only {len(good)} of the {k} shares needed are intact" in message
        assert f"(found shares: {', '.join(map(str, good)) or 'none'})" in message
        for i, fault in faults.items():
            assert f"{home[i]} (share {i}): {ASKED[fault]}" in message
        assert sorted(cluster.damage) == sorted((cid, k, m, i, home[i], REASON[fault]) for i, fault in faults.items())


@pytest.mark.parametrize("count", [0, 1, 5, 7])
def test_a_manifest_with_the_wrong_number_of_share_hashes_is_data_loss(make_cluster, count):
    """A ChunkRef whose share hash list is not K+M long is a damaged manifest: DataLoss saying so,
    before any holder is asked."""
    cluster = make_cluster()
    data = chunk_bytes(1001)
    ref = cluster.store(data, ec(4, 2))
    damaged = common_pb2.ChunkRef(chunk_id=ref.chunk_id, size_bytes=ref.size_bytes,
                                  share_blake3=(list(ref.share_blake3) * 2)[:count])
    for lo, hi in [(0, 1001), (10, 20)]:
        with pytest.raises(errors.DataLoss, match=rf"records {count} share hashes for ec=4\+2 \(expected 6\); "
                                                  r"the manifest is damaged"):
            cluster.read(damaged, ec(4, 2), lo, hi)
    assert cluster.replicas.fetches == []


def test_shares_that_match_their_hashes_but_not_the_chunk_id_are_data_loss(make_cluster):
    """If the manifest's share hashes describe other bytes than its chunk id (all shares verify but
    the joined chunk does not hash to the id), a whole read is DataLoss, not those other bytes."""
    cluster = make_cluster()
    data, other = chunk_bytes(1001), chunk_bytes(1001, seed=9)
    ref = cluster.store(data, ec(4, 2))
    cid = bytes(ref.chunk_id)
    other_shares = [bytes(s) for s in encode(other, Geometry(4, 2))]
    for i, node in enumerate(homes(cid, 6)):
        cluster.replicas.shares[(node, ShareKey(cid, i, 4, 2))] = other_shares[i]
    ref.ClearField("share_blake3")
    ref.share_blake3.extend(blake3.blake3(s).digest() for s in other_shares)
    with pytest.raises(errors.DataLoss, match=r"match their recorded hashes but decode to different bytes"):
        cluster.read(ref, ec(4, 2))


# -- replication ---------------------------------------------------------------------------------


@pytest.mark.parametrize("fault", FAULTS + ("truncate",))
def test_replica_read_moves_past_a_bad_first_holder(make_cluster, fault):
    """A first holder that is unreachable, missing the copy, corrupt, or returns bytes that do not
    hash to the chunk id is reported (no share index, 0+0) and the next holder serves the read."""
    cluster = make_cluster()
    data = chunk_bytes(1001)
    ref = cluster.store(data, replicated(3))
    cid = bytes(ref.chunk_id)
    home = homes(cid, 3)
    inject(cluster, home[0], fault)
    assert cluster.read(ref, replicated(3), 5, 500) == data[5:500]
    assert cluster.replicas.fetches == [(home[0], ShareKey(cid)), (home[1], ShareKey(cid))]
    assert cluster.damage == [(cid, 0, 0, None, home[0], REASON[fault])]


def test_replica_read_asks_the_local_copy_first(make_cluster):
    """The coordinator's own copy is read first when it is one of the holders."""
    data = chunk_bytes(1001)
    third = homes(chunk_id_of(data), 3)[2]
    cluster = make_cluster(node_id=third)
    ref = cluster.store(data, replicated(3))
    assert cluster.read(ref, replicated(3)) == data
    assert [node for node, _ in cluster.replicas.fetches] == [third]


def test_replica_read_with_no_intact_copy_is_data_loss_naming_every_node_asked(make_cluster):
    """When no holder has an intact copy the read raises DataLoss naming the chunk, the object and
    every node asked with what went wrong there; it never returns the damaged bytes."""
    cluster = make_cluster()
    data = chunk_bytes(1001)
    ref = cluster.store(data, replicated(3), offset=1 << 20)
    cid = bytes(ref.chunk_id)
    order = RING.ordered_nodes(chunk_position(cid))
    faults = {order[0]: "flip", order[1]: "not_found", order[2]: "corrupt"}
    for node, fault in faults.items():
        inject(cluster, node, fault)
    with pytest.raises(errors.DataLoss) as caught:
        cluster.read(ref, replicated(3))
    message = str(caught.value)
    assert f"chunk {cid.hex()[:16]} of {NAME} (offset {1 << 20}): no intact copy found" in message
    for node, fault in faults.items():
        assert f"{node}: {ASKED[fault]}" in message
    for node in order[3:3 + REPLICA_READ_EXTRA_HOLDERS]:
        assert f"{node}: not found" in message
    assert {(node, reason) for _, _, _, _, node, reason in cluster.damage} >= {
        (node, REASON[fault]) for node, fault in faults.items()}


# -- defects found by these tests, now fixed ------------------------------------------------------


def test_a_stripe_short_only_because_holders_are_down_is_unavailable_naming_them(make_cluster):
    """With 3 of a 4+2 stripe's holders DOWN and the other 3 intact, nothing is known lost: the read
    is UNAVAILABLE (retry), not DATA_LOSS, and says which shares were found and which holders it
    waits for (it must not say no live node was asked)."""
    cluster = make_cluster()
    data = chunk_bytes(1001)
    ref = cluster.store(data, ec(4, 2))
    home = homes(bytes(ref.chunk_id), 6)
    cluster.view.down = set(home[3:])
    with pytest.raises(errors.Unavailable) as caught:
        cluster.read(ref, ec(4, 2))
    message = str(caught.value)
    assert "found shares: 0, 1, 2" in message and "no live node" not in message
    assert "readable again once the holders of shares 3, 4, 5 answer" in message
    assert all(f"share {i} on {home[i]} (DOWN)" in message for i in (3, 4, 5))


@pytest.mark.parametrize("k,m,faults", [
    (4, 2, {0: "flip", 1: "not_found", 2: "unavailable"}),
    (2, 1, {0: "unavailable", 1: "unavailable"}),
    (2, 1, {0: "corrupt", 2: "unavailable"}),
], ids=lambda v: str(v))
def test_a_stripe_short_because_holders_did_not_answer_is_unavailable(make_cluster, k, m, faults):
    """Shares on holders that did not answer may be intact: when they would make K, the read is
    UNAVAILABLE (a client retries it) naming them, and still never returns bytes."""
    cluster = make_cluster()
    ref = cluster.store(chunk_bytes(1001), ec(k, m))
    home = homes(bytes(ref.chunk_id), k + m)
    for i, fault in faults.items():
        inject(cluster, home[i], fault)
    with pytest.raises(errors.Unavailable) as caught:
        cluster.read(ref, ec(k, m))
    waited = sorted(i for i, fault in faults.items() if fault == "unavailable")
    assert f"readable again once the holders of shares {', '.join(map(str, waited))} answer" in str(caught.value)


def test_a_stripe_short_even_with_every_unreachable_share_is_data_loss(make_cluster):
    """When the shares that might still be intact would not make K either, the loss is certain:
    DATA_LOSS, whatever the unreachable holders say later."""
    cluster = make_cluster()
    ref = cluster.store(chunk_bytes(1001), ec(4, 2))
    home = homes(bytes(ref.chunk_id), 6)
    for i, fault in {0: "flip", 1: "not_found", 2: "corrupt", 3: "unavailable"}.items():
        inject(cluster, home[i], fault)
    with pytest.raises(errors.DataLoss, match=r"only 2 of the 4 shares needed are intact"):
        cluster.read(ref, ec(4, 2))


def test_replica_read_with_unreachable_holders_and_no_copy_found_is_unavailable(make_cluster):
    """No copy found, but one holder did not answer and another is DOWN: a copy may be intact on
    either, so the read is UNAVAILABLE naming both, not DATA_LOSS."""
    cluster = make_cluster()
    ref = cluster.store(chunk_bytes(1001), replicated(3))
    order = RING.ordered_nodes(chunk_position(bytes(ref.chunk_id)))
    inject(cluster, order[0], "corrupt")
    inject(cluster, order[1], "unavailable")
    cluster.view.down = {order[2]}
    with pytest.raises(errors.Unavailable) as caught:
        cluster.read(ref, replicated(3))
    assert f"readable again once {', '.join(sorted(order[1:3]))} answer" in str(caught.value)


def test_replica_read_reports_damage_only_for_nodes_meant_to_hold_a_copy(make_cluster):
    """With both replicas=2 holders unreachable, the nodes asked speculatively after them (not_found:
    they never held a copy) are not reported to the repair queue as missing copies."""
    cluster = make_cluster()
    data = chunk_bytes(1001)
    ref = cluster.store(data, replicated(2))
    home = homes(bytes(ref.chunk_id), 2)
    cluster.replicas.unreachable = set(home)
    with pytest.raises(errors.Unavailable):
        cluster.read(ref, replicated(2))
    assert {node for _, _, _, _, node, _ in cluster.damage} == set(home)
