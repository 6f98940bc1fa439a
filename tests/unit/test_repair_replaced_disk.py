"""Unit tests of the repair loop around a replaced disk, on a 5-node ring of real stores in one
process: the node whose store is younger than a placement record is not responsible for it (it does
not have it), so the next holder refills it and counts it in its status; and a failure a node listed
while responsible is dropped once another node is."""

from __future__ import annotations

import contextlib
import random
import threading
import time

import blake3
import pytest

from node.config import RepairConfig
from node.gossip.clock import ManualClock
from node.objects.replicas import Replicas
from node.repair.plan import STORE_CLOCK_SKEW_MS_MAX
from node.repair.queue import RepairQueue
from node.repair.repairer import Repairer
from node.ring import Ring, RingMember, chunk_position
from node.store import NodeStore, ShareKey
from ringstore.v1 import common_pb2

MIB = 1024 * 1024
KIB = 1024
NOW_MS = 1_700_000_000_000
# The cluster's stores are far older than the record; the replaced one was created a minute after it.
OLD_STORE_MS = NOW_MS - 3_600_000
REPLACED_AT_MS = NOW_MS + 60_000
NODES = tuple(f"node-{i}" for i in range(1, 6))
RING = Ring([RingMember(n) for n in NODES], vnodes_per_node=32)


class _View:
    """Every node ALIVE, none full; `created` is when gossip says each node's store was created."""

    def __init__(self, node_id: str, created: dict[str, int]) -> None:
        self.node_id = node_id
        self.created = created

    def ring(self) -> Ring:
        return RING

    def is_live(self, node_id: str) -> bool:
        return True

    def address_of(self, node_id: str) -> str:
        return ""

    def state_name(self, node_id: str) -> str:
        return "ALIVE"

    def live_count(self) -> int:
        return len(NODES)

    def full_nodes(self) -> dict[str, int]:
        return {}

    def store_of(self, node_id: str) -> tuple[str, int]:
        return f"store-of-{node_id}", self.created[node_id]


class _Cluster:
    """Replicas over the real stores: each call runs on the named node's store (Replicas' local path)."""

    def __init__(self, stores: dict[str, NodeStore]) -> None:
        self._by_node = {node: Replicas(view=_View(node, {}), store=store, peers=None, frame_size_bytes=64 * KIB,
                                        timeout_s=5.0) for node, store in stores.items()}

    def __getattr__(self, name: str):
        def call(node_id: str, *args, **kwargs):
            return getattr(self._by_node[node_id], name)(node_id, *args, **kwargs)
        return call


def _record(chunk_id: bytes, size: int, holders, updated_at_ms: int) -> common_pb2.PlacementRecord:
    return common_pb2.PlacementRecord(
        format_version=1, chunk_id=chunk_id, size_bytes=size, updated_at_unix_ms=updated_at_ms,
        policy=common_pb2.RedundancyPolicy(replication=common_pb2.Replication(replicas=3)),
        holders=[common_pb2.ShareHolder(node_id=node, share_index=i, blake3=chunk_id)
                 for i, node in enumerate(holders)])


@pytest.fixture
def replaced(tmp_path):
    """replicas=3 of one chunk on its three homes; then the first home's data dir is replaced (an empty
    store, created after the record). Yields (stores, ring order, share, data, repairer factory)."""
    data = random.Random(5).randbytes(64 * KIB)
    share = ShareKey(blake3.blake3(data).digest())
    order = RING.ordered_nodes(chunk_position(share.chunk_id))
    record = _record(share.chunk_id, len(data), order[:3], NOW_MS)
    ref = common_pb2.ObjectRef(tenant="t", bucket="b", key="k",
                               version=common_pb2.VersionStamp(physical_ms=NOW_MS, node_id="node-1"))
    with contextlib.ExitStack() as stack:
        stores = {node: stack.enter_context(NodeStore(str(tmp_path / node), map_size_bytes=64 * MIB))
                  for node in NODES}
        for node in order[1:3]:  # order[0]'s copy and record went with its disk
            stores[node].put_share(share, data, expected_blake3=share.chunk_id, placement=record, referenced_by=ref)
        created = {node: OLD_STORE_MS for node in NODES} | {order[0]: REPLACED_AT_MS}

        def repairer(node: str, created: dict[str, int] = created) -> Repairer:
            made = Repairer(view=_View(node, created), store=stores[node], replicas=_Cluster(stores),
                            clock=ManualClock(wall_start_ms=REPLACED_AT_MS + 60_000), config=RepairConfig.local(),
                            queue=RepairQueue(), metrics=None, ring_changed_at_s=lambda: 0.0)
            stack.callback(made.close)
            return made

        yield stores, order, share, data, repairer


def test_the_next_holder_refills_a_replaced_disk(replaced):
    """The first home lost its disk: the second home (the first holder whose store is older than the
    record) is responsible, copies the chunk back with a placement record, and its scan counted it."""
    stores, order, share, data, repairer = replaced
    repair = repairer(order[1])
    assert repair.scan_and_repair() == 1
    status = repair.status()
    assert (status.chunks_responsible, status.copies_repaired_total) == (1, 1)
    assert stores[order[0]].read_share(share) == data
    assert [h.node_id for h in stores[order[0]].get_placement(share.chunk_id).holders] == list(order[:3])


def test_without_store_ages_nobody_refills_it(replaced):
    """What happened before store identities: every store looks as old as the record, so the emptied
    first home is responsible, and the holders that have the record do nothing and count nothing."""
    stores, order, share, data, repairer = replaced
    for node in order[1:3]:
        repair = repairer(node, {n: 0 for n in NODES})
        assert repair.scan_and_repair() == 0
        assert repair.status().chunks_below_full == 0
    assert not stores[order[0]].has_share(share)


def test_a_failure_listed_while_responsible_is_dropped_once_another_node_is(replaced):
    """The second home fails to refill the first (its disk refuses the copy) and lists the failure. A
    put then rewrites the record well after the new store was made, so the first home is responsible
    again: the second home's next scan no longer lists the failure as its own."""
    stores, order, share, data, repairer = replaced
    stores[order[0]].set_disk_limits(node_id=order[0], full_ratio=1.0, free_bytes_min=0, bytes_max=KIB)
    repair = repairer(order[1])
    repair.scan_and_repair()
    assert [chunk_id for chunk_id, _ in repair.status().unrepairable] == [share.chunk_id]
    newer = _record(share.chunk_id, len(data), order[:3], REPLACED_AT_MS + STORE_CLOCK_SKEW_MS_MAX)
    for node in order[:3]:
        stores[node].put_placement(newer)
    repair.scan_and_repair()
    assert repair.status().unrepairable == ()


class _Gated(_Cluster):
    """The cluster, where every chunk copy waits until `gate` is set (a repair held to a trickle)."""

    def __init__(self, stores: dict[str, NodeStore]) -> None:
        super().__init__(stores)
        self.gate = threading.Event()
        self.stored = 0

    def store_share(self, node_id: str, *args, **kwargs):
        assert self.gate.wait(30), "gate never opened"
        self.stored += 1
        return self._by_node[node_id].store_share(node_id, *args, **kwargs)


def test_a_round_of_the_loop_leaves_held_work_running_and_later_scans_still_count_it(replaced, tmp_path):
    """With a time budget (the loop), a round returns while its copy is still held back, a scan right
    after counts the chunk below full again without starting its copy twice, and once the copy may go
    it is made exactly once and the count drops to 0."""
    stores, order, share, data, _ = replaced
    cluster = _Gated(stores)
    created = {node: OLD_STORE_MS for node in NODES} | {order[0]: REPLACED_AT_MS}
    repair = Repairer(view=_View(order[1], created), store=stores[order[1]], replicas=cluster,
                      clock=ManualClock(wall_start_ms=REPLACED_AT_MS + 60_000), config=RepairConfig.local(),
                      queue=RepairQueue(), metrics=None, ring_changed_at_s=lambda: 0.0)
    try:
        rounds = [repair.scan_and_repair(work_for_s=0.05) for _ in range(2)]
        assert rounds == [1, 0], "the held copy was started again"
        assert repair.status().chunks_below_full == 1
        cluster.gate.set()
        deadline = time.monotonic() + 30
        while repair.status().chunks_below_full and time.monotonic() < deadline:
            time.sleep(0.01)
        assert repair.status().chunks_below_full == 0
        assert cluster.stored == 1 and stores[order[0]].read_share(share) == data
    finally:
        cluster.gate.set()
        repair.close()
