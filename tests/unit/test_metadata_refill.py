"""Unit tests of node/repair/metadata_refill.py: a node whose metadata env was rebuilt pulls its
bucket records, the manifests of the buckets it is a home of, the placement records and the
references of its re-indexed copies back from the other homes, and answers again only then.

Three real NodeStores stand for three nodes; the holder calls go straight to the peer's store (the
same calls `Replicas` makes over gRPC), so nothing but the network is left out."""

from __future__ import annotations

import blake3
import pytest

from ringstore.v1 import common_pb2

from node.objects.replicas import HolderError
from node.repair.metadata_refill import MetadataRefill
from node.ring import Ring, RingMember
from node.store import CorruptRecord, MetadataUnavailable, NodeStore, ShareKey

MIB = 1024 * 1024
NODES = ("node-1", "node-2", "node-3")
DATA = b"chunk bytes" * 100
CHUNK_ID = blake3.blake3(DATA).digest()


class _View:
    def __init__(self, me: str, live: set[str]) -> None:
        self.node_id = me
        self.live = live
        self._ring = Ring([RingMember(n) for n in NODES], vnodes_per_node=16)

    def ring(self) -> Ring:
        return self._ring

    def is_live(self, node_id: str) -> bool:
        return node_id in self.live


class _Peers:
    """The holder calls MetadataRefill makes, answered by each node's own store."""

    def __init__(self, stores: dict[str, NodeStore]) -> None:
        self.stores = stores

    def _store(self, node: str) -> NodeStore:
        return self.stores[node]

    def _call(self, node, fn):
        try:
            return fn(self._store(node))
        except (CorruptRecord, MetadataUnavailable) as err:
            raise HolderError(node, "unavailable", str(err)) from None

    def list_buckets(self, node, tenant):
        return self._call(node, lambda s: s.list_buckets(tenant))

    def list_manifests(self, node, request):
        return self._call(node, lambda s: s.list_manifests(request.tenant, request.bucket,
                                                         start_after=request.start_after,
                                                         limit=request.limit))

    def get_placement(self, node, chunk_id, data_shares=0, parity_shares=0):
        return self._call(node, lambda s: s.get_placement(chunk_id, data_shares, parity_shares))

    def share_references(self, node, key):
        if not self._store(node).has_share(key):
            raise HolderError(node, "not_found", "no copy")
        return self._store(node).references(key)


def _version(ms: int) -> common_pb2.VersionStamp:
    return common_pb2.VersionStamp(physical_ms=ms, node_id="node-1")


@pytest.fixture
def stores(tmp_path):
    made = {n: NodeStore(str(tmp_path / n), map_size_bytes=64 * MIB, now_unix_ms=lambda: 5)
            for n in NODES}
    ref = common_pb2.ObjectRef(tenant="default", bucket="b", key="k", version=_version(1))
    placement = common_pb2.PlacementRecord(
        format_version=1, chunk_id=CHUNK_ID, size_bytes=len(DATA),
        policy=common_pb2.RedundancyPolicy(replication=common_pb2.Replication(replicas=3)),
        holders=[common_pb2.ShareHolder(node_id=n, share_index=i) for i, n in enumerate(NODES)])
    for store in made.values():
        store.put_bucket(common_pb2.BucketRecord(format_version=1, tenant="default", name="b",
                                                 version=_version(1)))
        for i in range(5):
            store.put_manifest(common_pb2.Manifest(format_version=1, tenant="default", bucket="b",
                                                   key=f"k{i}", size_bytes=i, version=_version(1)))
        store.put_share(ShareKey(CHUNK_ID), DATA, expected_blake3=CHUNK_ID, placement=placement,
                        referenced_by=ref)
    yield made
    for store in made.values():
        store.close()


def test_a_rebuilt_node_refills_everything_from_its_peers_before_answering(tmp_path, stores):
    """node-1 restarts with --rebuild-metadata: until a refill step has run it answers UNAVAILABLE
    for manifests and bucket records (never "absent"); one step pulls back the bucket record, all
    five manifests, the chunk's placement record and its copy's reference from node-2 and node-3,
    and then it answers with exactly what they hold."""
    stores["node-1"].close()
    stores["node-1"] = NodeStore(str(tmp_path / "node-1"), map_size_bytes=64 * MIB,
                                 rebuild_metadata=True)
    me = stores["node-1"]
    assert me.reference_count(ShareKey(CHUNK_ID)) == 0
    with pytest.raises(MetadataUnavailable):
        me.list_manifests("default", "b")
    refill = MetadataRefill(view=_View("node-1", set(NODES)), store=me, replicas=_Peers(stores),
                            metadata_replicas=3, settled=lambda: True)
    assert refill.step() is True
    assert me.metadata_health() == "ok"
    assert [m.key for m in me.list_manifests("default", "b")[0]] == [f"k{i}" for i in range(5)]
    assert [r.name for r in me.list_buckets("default")] == ["b"]
    assert me.get_placement(CHUNK_ID).holders[2].node_id == "node-3"
    assert me.references(ShareKey(CHUNK_ID)) == stores["node-2"].references(ShareKey(CHUNK_ID))


def test_no_other_home_alive_means_no_refill_yet(tmp_path, stores):
    """With every other home down, a step refills nothing and the node keeps answering
    UNAVAILABLE (its partial metadata is not passed off as the truth); with one of the two other
    homes back it still waits (the one not heard from may hold the only other copy of an
    acknowledged write); once both are back, the next step finishes."""
    stores["node-1"].close()
    stores["node-1"] = NodeStore(str(tmp_path / "node-1"), map_size_bytes=64 * MIB,
                                 rebuild_metadata=True)
    view = _View("node-1", {"node-1"})
    refill = MetadataRefill(view=view, store=stores["node-1"], replicas=_Peers(stores),
                            metadata_replicas=3, settled=lambda: True)
    assert refill.step() is False
    assert stores["node-1"].metadata_health() == "refilling"
    view.live.add("node-3")
    assert refill.step() is False
    assert stores["node-1"].metadata_health() == "refilling"
    view.live.add("node-2")
    assert refill.step() is True
    assert len(stores["node-1"].list_manifests("default", "b")[0]) == 5
