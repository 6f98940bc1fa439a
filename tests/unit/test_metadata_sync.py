"""Unit tests for metadata sync (node/repair/metadata_sync.py) against a real NodeStore: a home is
pushed each partition once, and again when it comes back with a new store (a replaced disk), since
nothing it acknowledged before is in that store."""

from __future__ import annotations

import pytest

from node.objects.replicas import HolderError
from node.repair.metadata_sync import Handover, MetadataSync
from node.ring import Ring, RingMember
from node.store import NodeStore
from ringstore.v1 import common_pb2

MIB = 1024 * 1024
NODES = ("node-1", "node-2", "node-3")
RING = Ring([RingMember(n) for n in NODES], vnodes_per_node=16)


class _View:
    """Three ALIVE nodes, all homes of every partition (metadata_replicas=3); `stores` is what gossip
    says each node's store id is."""

    node_id = "node-1"

    def __init__(self) -> None:
        self.stores = {n: f"{i:02x}" * 16 for i, n in enumerate(NODES)}
        self.rings = [RING]
        self.down: set[str] = set()

    def ring(self) -> Ring:
        # Each call takes the next ring of the list while more than one is left: a ring change
        # in the middle of a pass.
        return self.rings.pop(0) if len(self.rings) > 1 else self.rings[0]

    def is_live(self, node_id: str) -> bool:
        return node_id not in self.down

    def store_of(self, node_id: str) -> tuple[str, int]:
        return self.stores[node_id], 0


class _Replicas:
    """Records every push as (node, what)."""

    def __init__(self) -> None:
        self.pushed: list[tuple[str, str]] = []
        self.failing: set[str] = set()

    def put_manifest(self, node_id: str, manifest: common_pb2.Manifest, _: str) -> None:
        self._push(node_id, f"{manifest.bucket}/{manifest.key}")

    def put_bucket(self, node_id: str, record: common_pb2.BucketRecord) -> None:
        self._push(node_id, f"bucket {record.name}")

    def _push(self, node_id: str, what: str) -> None:
        if node_id in self.failing:
            raise HolderError(node_id, "unavailable", f"refused {what}")
        self.pushed.append((node_id, what))


def _sync(view: _View, store: NodeStore, replicas: _Replicas) -> MetadataSync:
    return MetadataSync(view=view, store=store, replicas=replicas, metadata_replicas=3, settled=lambda: True,
                        wall_ms=lambda: 1_700_000_000_000)


@pytest.fixture
def store(tmp_path):
    with NodeStore(str(tmp_path), map_size_bytes=64 * MIB) as s:
        stamp = common_pb2.VersionStamp(physical_ms=1, node_id="node-1")
        s.put_bucket(common_pb2.BucketRecord(format_version=1, tenant="default", name="photos", version=stamp))
        for key in ("a", "b"):
            s.put_manifest(common_pb2.Manifest(format_version=1, tenant="default", bucket="photos", key=key,
                                               version=stamp))
        yield s


def test_a_home_with_a_new_store_is_pushed_every_partition_again(store):
    """Each other home gets the bucket's manifests and the bucket record once; passes after that push
    nothing; once node-2 announces a new store id, the next pass pushes all of it to node-2 again,
    and to nobody else."""
    view, replicas = _View(), _Replicas()
    sync = _sync(view, store, replicas)
    everything = {"photos/a", "photos/b", "bucket photos"}
    sync.step()
    assert sorted(replicas.pushed) == sorted((n, what) for n in ("node-2", "node-3") for what in everything)
    replicas.pushed.clear()
    sync.step()
    assert replicas.pushed == []

    view.stores["node-2"] = "ff" * 16  # node-2's disk was replaced
    sync.step()
    assert sorted(replicas.pushed) == sorted(("node-2", what) for what in everything)
    replicas.pushed.clear()
    sync.step()
    assert replicas.pushed == []


def test_handover_is_synced_once_every_home_has_every_partition(store):
    """Before a pass: nothing known. A pass that pushes both partitions to both other homes ends
    synced on its ring; a home that refuses leaves its partitions pending and the pass unsynced,
    until a pass that reaches it."""
    view, replicas = _View(), _Replicas()
    sync = _sync(view, store, replicas)
    assert sync.handover() == Handover()
    replicas.failing.add("node-3")
    sync.step()
    assert sync.handover() == Handover(ring_fingerprint=RING.fingerprint, synced_ring_fingerprint=0,
                                       partitions_held=2, partitions_pending=2, partitions_waiting=0,
                                       last_pass_unix_ms=1_700_000_000_000)
    replicas.failing.clear()
    sync.step()
    handover = sync.handover()
    assert (handover.synced_ring_fingerprint, handover.partitions_pending) == (RING.fingerprint, 0)


def test_a_home_that_is_not_live_and_lacks_a_partition_keeps_it_waiting(store):
    """A home that is DOWN before it was pushed anything is not counted as holding it: the
    partitions wait for it, and the pass after it is live again pushes them and ends synced. A home
    that was pushed before it went DOWN keeps its acknowledgement."""
    view, replicas = _View(), _Replicas()
    sync = _sync(view, store, replicas)
    view.down.add("node-3")
    sync.step()
    handover = sync.handover()
    assert (handover.partitions_pending, handover.partitions_waiting, handover.synced_ring_fingerprint) == (0, 2, 0)
    view.down.clear()
    sync.step()
    assert sync.handover().synced_ring_fingerprint == RING.fingerprint
    view.down.add("node-2")
    sync.step()
    assert sync.handover().synced_ring_fingerprint == RING.fingerprint


def test_a_ring_change_during_a_pass_leaves_it_unsynced(store):
    """The pass began on one ring and ended on another: it says which ring it used and is not
    synced; the next pass, on the new ring, is."""
    view, replicas = _View(), _Replicas()
    sync = _sync(view, store, replicas)
    bigger = Ring([RingMember(n) for n in (*NODES, "node-4")], vnodes_per_node=16)
    view.stores["node-4"] = "44" * 16
    view.rings = [RING, bigger]
    sync.step()
    handover = sync.handover()
    assert (handover.ring_fingerprint, handover.synced_ring_fingerprint) == (RING.fingerprint, 0)
    sync.step()
    assert sync.handover().synced_ring_fingerprint == bigger.fingerprint


def test_no_pass_while_metadata_is_refilled(store, monkeypatch):
    """A node whose metadata is partial says so and pushes nothing."""
    view, replicas = _View(), _Replicas()
    sync = _sync(view, store, replicas)
    monkeypatch.setattr(store, "metadata_health", lambda: "refilling")
    sync.step()
    assert replicas.pushed == []
    handover = sync.handover()
    assert (handover.metadata_ok, handover.synced_ring_fingerprint) == (False, 0)
