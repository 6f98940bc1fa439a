"""Unit tests for metadata sync (node/repair/metadata_sync.py) against a real NodeStore: a home is
pushed each partition once, and again when it comes back with a new store (a replaced disk), since
nothing it acknowledged before is in that store."""

from __future__ import annotations

import pytest

from node.repair.metadata_sync import MetadataSync
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

    def ring(self) -> Ring:
        return RING

    def is_live(self, node_id: str) -> bool:
        return True

    def store_of(self, node_id: str) -> tuple[str, int]:
        return self.stores[node_id], 0


class _Replicas:
    """Records every push as (node, what)."""

    def __init__(self) -> None:
        self.pushed: list[tuple[str, str]] = []

    def put_manifest(self, node_id: str, manifest: common_pb2.Manifest, _: str) -> None:
        self.pushed.append((node_id, f"{manifest.bucket}/{manifest.key}"))

    def put_bucket(self, node_id: str, record: common_pb2.BucketRecord) -> None:
        self.pushed.append((node_id, f"bucket {record.name}"))


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
    sync = MetadataSync(view=view, store=store, replicas=replicas, metadata_replicas=3, settled=lambda: True)
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
