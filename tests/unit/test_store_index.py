"""Unit tests of a home's object indexes (node/store/index.py): every `find` condition against a
brute-force filter of the current objects, through overwrites, deletes, versions, permanent deletes,
tag changes and a recount; paging by position; a walk bounded by its condition's matches."""

from __future__ import annotations

import random

import pytest

from ringstore.v1 import common_pb2

from node.store import NodeStore
from node.store import index
from node.store.versions import version_id_of

MIB = 1024 * 1024
TYPES = ("image/png", "image/jpeg", "text/plain", "application/json", "")


def _manifest(rng: random.Random, key: str, ms: int, *, versioned: bool) -> common_pb2.Manifest:
    stamp = common_pb2.VersionStamp(physical_ms=ms, node_id="n")
    m = common_pb2.Manifest(format_version=1, tenant="t", bucket="b", key=key, version=stamp, inline=True,
                            created_at_unix_ms=ms, content_type=rng.choice(TYPES),
                            version_id=version_id_of(stamp) if versioned else b"")
    m.size_bytes = rng.choice((0, 10, 100, 1000, 5000))
    m.inline_data = b"x" * m.size_bytes
    for name in rng.sample(["team", "year", "temp"], rng.randint(0, 2)):
        m.tagging.tags[name] = rng.choice(["a", "b"])
    m.tagging.changed.CopyFrom(stamp)
    if rng.random() < 0.5:
        m.metadata["owner"] = rng.choice(["ann", "bob"])
    return m


def _queries() -> list[common_pb2.ObjectQuery]:
    q = common_pb2.ObjectQuery
    return [q(tags={"team": "a"}), q(tags={"team": "a", "year": "b"}), q(metadata={"owner": "bob"}),
            q(content_type="image/*"), q(content_type="text/plain"), q(larger_than_bytes=100),
            q(smaller_than_bytes=100), q(larger_than_bytes=5, smaller_than_bytes=1000),
            q(modified_after_unix_ms=1050), q(modified_before_unix_ms=1050),
            q(prefix="k1"), q(prefix="k1", tags={"temp": "b"}), q(content_type="image/*", larger_than_bytes=50),
            q()]


def _brute(store: NodeStore, query: common_pb2.ObjectQuery) -> list[str]:
    current = store.list_manifests("t", "b", limit=10_000)[0]
    return sorted(m.key for m in current if index.matches(query, m, now_ms=10 ** 13))


def _find(store: NodeStore, query: common_pb2.ObjectQuery, limit: int) -> list[str]:
    keys, after = [], b""
    while True:
        found, after = store.find_manifests("t", "b", query, after=after or b"", limit=limit, now_ms=10 ** 13)
        keys += [m.key for _, m in found]
        positions = [p for p, _ in found]
        assert positions == sorted(positions)
        if after is None:
            return sorted(keys)


@pytest.mark.parametrize("seed", range(4))
def test_every_condition_finds_what_a_brute_force_filter_finds(tmp_path, seed):
    rng = random.Random(seed)
    with NodeStore(str(tmp_path), map_size_bytes=64 * MIB) as store:
        written: list[common_pb2.Manifest] = []
        for step in range(300):
            key = f"k{rng.randint(0, 40)}"
            roll = rng.random()
            ms = 1000 + step
            if roll < 0.7:
                written.append(_manifest(rng, key, ms, versioned=rng.random() < 0.5))
                store.put_manifest(written[-1])
            elif roll < 0.8:
                store.put_manifest(common_pb2.Manifest(format_version=1, tenant="t", bucket="b", key=key,
                                                       tombstone=True, version=common_pb2.VersionStamp(
                                                           physical_ms=ms, node_id="n")))
            elif roll < 0.9 and written:
                victim = rng.choice(written)
                erased = common_pb2.Manifest(format_version=1, tenant="t", bucket="b", key=victim.key, erased=True,
                                             tombstone=True, version_id=victim.version_id,
                                             version=common_pb2.VersionStamp(physical_ms=ms, node_id="n"))
                store.put_manifest(erased)
            elif written:
                retag = common_pb2.Manifest()
                retag.CopyFrom(rng.choice(written))
                retag.tagging.tags.clear()
                retag.tagging.tags["team"] = rng.choice(["a", "b"])
                retag.tagging.changed.CopyFrom(common_pb2.VersionStamp(physical_ms=ms, node_id="n"))
                store.put_manifest(retag)
        for query in _queries():
            assert _find(store, query, limit=7) == _brute(store, query), query
        store.recount_usage("t", "b")  # what a quarantine does: the indexes are built again
        for query in _queries():
            assert _find(store, query, limit=1000) == _brute(store, query), query


def test_a_walk_reads_only_its_conditions_matches(tmp_path, monkeypatch):
    """1000 objects, 10 tagged: a tag query reads 10 index entries, whatever the bucket holds (with
    a walk allowed only 10 reads, it still ends in one call), where a size range over all of them
    needs many calls."""
    import node.store.store as store_module
    monkeypatch.setattr(store_module, "FIND_SCAN_MAX", 10)
    with NodeStore(str(tmp_path), map_size_bytes=64 * MIB) as store:
        manifests = []
        for i in range(1000):
            m = common_pb2.Manifest(format_version=1, tenant="t", bucket="b", key=f"obj-{i:04}", inline=True,
                                    version=common_pb2.VersionStamp(physical_ms=1000 + i, node_id="n"),
                                    created_at_unix_ms=1000 + i)
            if i % 100 == 0:
                m.tagging.tags["wanted"] = "yes"
            manifests.append(m)
        store.put_manifests(manifests)
        query = common_pb2.ObjectQuery(tags={"wanted": "yes"})
        found, after = store.find_manifests("t", "b", query, limit=1000)
        assert sorted(m.key for _, m in found) == [f"obj-{i:04}" for i in range(0, 1000, 100)] and after is None
        everything = common_pb2.ObjectQuery(smaller_than_bytes=1)
        found, after = store.find_manifests("t", "b", everything, limit=1000)
        assert len(found) == 10 and after is not None
