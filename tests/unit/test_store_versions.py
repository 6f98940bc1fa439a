"""Unit tests of a metadata home's versions of a key (node/store/versions.py): one manifest per
version id, newest wins within an id, the newest non-erased manifest current, whatever order the
manifests arrive in; counters agree with the manifests kept."""

from __future__ import annotations

import itertools
import random

import pytest

from ringstore.v1 import common_pb2

from node.hlc import stamp_key
from node.store import NodeStore
from node.store.errors import InvalidArgument
from node.store.usage import contribution
from node.store.versions import parse_version_id, show_version_id, version_id_of

MIB = 1024 * 1024
REPLICAS_3 = common_pb2.RedundancyPolicy(replication=common_pb2.Replication(replicas=3))


def _stamp(ms: int, node: str = "n", rewrite: int = 0) -> common_pb2.VersionStamp:
    return common_pb2.VersionStamp(physical_ms=ms, node_id=node, rewrite=rewrite)


def _put(ms: int, *, versioned: bool, key: str = "k", size: int = 3, tombstone: bool = False,
         node: str = "n") -> common_pb2.Manifest:
    """A put (or delete marker) stamped at `ms`: a new version id when versioned, else null."""
    stamp = _stamp(ms, node)
    m = common_pb2.Manifest(format_version=1, tenant="t", bucket="b", key=key, version=stamp, policy=REPLICAS_3,
                            tombstone=tombstone, version_id=version_id_of(stamp) if versioned else b"")
    if not tombstone:
        m.inline, m.inline_data, m.size_bytes = True, b"x" * size, size
    return m


def _erase(of: common_pb2.Manifest, ms: int) -> common_pb2.Manifest:
    return common_pb2.Manifest(format_version=1, tenant="t", bucket="b", key=of.key, version=_stamp(ms),
                               version_id=of.version_id, erased=True, tombstone=True)


def _ids(manifests) -> list[tuple[bytes, tuple]]:
    return sorted((m.version_id, stamp_key(m.version), m.erased) for m in manifests)


@pytest.fixture()
def store(tmp_path):
    s = NodeStore(str(tmp_path), map_size_bytes=64 * MIB)
    yield s
    s.close()


def test_unversioned_puts_replace_the_null_version_and_keep_nothing_behind(store):
    first, second = _put(10, versioned=False), _put(20, versioned=False, size=5)
    assert store.put_manifest(first) is False
    assert store.put_manifest(second) is False
    assert store.put_manifest(first) is True  # an older write of the same id loses
    assert store.get_manifest("t", "b", "k") == second
    assert store.key_manifests("t", "b", "k") == [second]


def test_versioned_puts_keep_the_versions_they_replace(store):
    null = _put(5, versioned=False)
    v1, v2 = _put(10, versioned=True), _put(20, versioned=True)
    for m in (null, v1, v2):
        assert store.put_manifest(m) is False
    assert store.get_manifest("t", "b", "k") == v2
    assert _ids(store.key_manifests("t", "b", "k")) == _ids([null, v1, v2])
    assert store.get_manifest_version("t", "b", "k", v1.version_id) == v1
    assert store.get_manifest_version("t", "b", "k", b"") == null
    assert store.get_manifest_version("t", "b", "k", version_id_of(_stamp(99))) is None
    # A put while suspended replaces the null version, behind the current one or as current.
    suspended = _put(30, versioned=False, size=7)
    store.put_manifest(suspended)
    assert store.get_manifest("t", "b", "k") == suspended
    assert _ids(store.key_manifests("t", "b", "k")) == _ids([suspended, v1, v2])


def test_erasing_the_current_version_makes_the_newest_left_current(store):
    v1, v2, marker = _put(10, versioned=True), _put(20, versioned=True), _put(30, versioned=True, tombstone=True)
    for m in (v1, v2, marker):
        store.put_manifest(m)
    assert store.get_manifest("t", "b", "k") == marker  # a delete marker is a version, and current
    store.put_manifest(_erase(marker, 40))
    assert store.get_manifest("t", "b", "k") == v2
    store.put_manifest(_erase(v2, 41))
    assert store.get_manifest("t", "b", "k") == v1
    store.put_manifest(_erase(v1, 42))
    assert store.get_manifest("t", "b", "k") is None
    assert all(m.erased for m in store.key_manifests("t", "b", "k"))
    # A late copy of an erased version loses to its erasure.
    assert store.put_manifest(v2) is True
    assert store.get_manifest("t", "b", "k") is None


def test_delete_manifest_if_drops_exactly_that_version(store):
    v1, v2 = _put(10, versioned=True), _put(20, versioned=True)
    store.put_manifests([v1, v2])
    stale = common_pb2.Manifest()
    stale.CopyFrom(v2)
    stale.version.rewrite = 1
    assert store.delete_manifest_if(stale) is False
    assert store.delete_manifest_if(v2) is True
    assert store.get_manifest("t", "b", "k") == v1
    assert store.delete_manifest_if(v1) is True
    assert store.key_manifests("t", "b", "k") == []


@pytest.mark.parametrize("seed", range(12))
def test_any_arrival_order_converges_to_the_same_versions(tmp_path, seed):
    rng = random.Random(seed)
    writes: list[common_pb2.Manifest] = []
    ms = 10
    for _ in range(rng.randint(3, 9)):
        ms += rng.randint(1, 3)
        roll = rng.random()
        if roll < 0.3:
            writes.append(_put(ms, versioned=False, size=rng.randint(0, 9)))
        elif roll < 0.75 or not writes:
            writes.append(_put(ms, versioned=True, size=rng.randint(0, 9), tombstone=rng.random() < 0.2))
        else:
            writes.append(_erase(rng.choice(writes), ms))
    outcomes = []
    for run in range(4):
        order = list(writes)
        rng.shuffle(order)
        with NodeStore(str(tmp_path / str(run)), map_size_bytes=64 * MIB) as s:
            for m in order:
                if rng.random() < 0.5:
                    s.put_manifest(m)
                else:
                    s.put_manifests([m, m])  # a duplicate in one batch is superseded by itself
            kept = s.key_manifests("t", "b", "k")
            current = s.get_manifest("t", "b", "k")
            outcomes.append((_ids(kept), None if current is None else stamp_key(current.version)))
            # The current version is the newest non-erased one kept.
            live = [m for m in kept if not m.erased]
            assert (current is None) == (not live)
            if live:
                assert stamp_key(current.version) == max(stamp_key(m.version) for m in live)
            _assert_counters_agree(s)
    assert all(o == outcomes[0] for o in outcomes)


def _assert_counters_agree(store: NodeStore) -> None:
    current = {m.key: stamp_key(m.version) for m in store.list_manifests("t", "b", limit=1000)[0]}
    total = common_pb2.UsageRecord()
    for m in store.iter_manifests("t", "b"):
        c = contribution(m, current=current.get(m.key) == stamp_key(m.version) and not m.erased)
        for field in ("objects", "logical_bytes", "inline_bytes", "tombstones", "noncurrent_versions",
                      "noncurrent_bytes"):
            setattr(total, field, getattr(total, field) + getattr(c, field))
    usage = store.bucket_usage("t", "b")
    for field in ("objects", "logical_bytes", "inline_bytes", "tombstones", "noncurrent_versions",
                  "noncurrent_bytes"):
        assert getattr(usage, field) == getattr(total, field), field
    assert store.recount_usage("t", "b") in (0, 1)
    recounted = store.bucket_usage("t", "b")
    assert (recounted.objects, recounted.noncurrent_versions, recounted.noncurrent_bytes) == (
        usage.objects, usage.noncurrent_versions, usage.noncurrent_bytes)


def test_list_with_all_versions_brings_each_keys_versions_after_it(store):
    for key in ("a", "b", "c"):
        for ms in (10, 20):
            store.put_manifest(_put(ms, versioned=True, key=key))
    listed, more = store.list_manifests("t", "b", all_versions=True, limit=3)  # ends at a key once 3 are in
    assert [m.key for m in listed] == ["a", "a", "b", "b"] and more
    assert listed[0].version.physical_ms == 20  # the current one first
    listed, more = store.list_manifests("t", "b", all_versions=True, start_after="b", include_start=True)
    assert [m.key for m in listed] == ["b", "b", "c", "c"] and not more
    # Partitions with only erased records left are still walked (they are synced and purged).
    store.put_manifest(_erase(_put(10, versioned=True, key="z"), 30))
    assert ("t", "b") in store.manifest_partitions()


def test_version_ids_show_and_parse():
    vid = version_id_of(_stamp(1_700_000_000_000, "node-1"))
    assert len(vid) == 16 and parse_version_id(show_version_id(vid)) == vid
    assert show_version_id(b"") == "null" and parse_version_id("null") == b""
    assert version_id_of(_stamp(5, "a", rewrite=3)) == version_id_of(_stamp(5, "a"))
    for bad in ("", "nul", "00" * 16, "zz" * 16, "ab" * 15):
        with pytest.raises(InvalidArgument, match="not one this cluster issued"):
            parse_version_id(bad)
    assert len({version_id_of(_stamp(5, n)) for n in map(str, range(50))}) == 50
    assert len({version_id_of(_stamp(ms)) for ms, _ in itertools.product(range(50), range(1))}) == 50


def _tagged(manifest: common_pb2.Manifest, tags: dict[str, str], changed_ms: int) -> common_pb2.Manifest:
    out = common_pb2.Manifest()
    out.CopyFrom(manifest)
    out.tagging.Clear()
    out.tagging.tags.update(tags)
    out.tagging.changed.CopyFrom(_stamp(changed_ms))
    return out


def test_a_tag_change_keeps_the_version_and_merges_with_a_conversion_in_any_order(tmp_path):
    """Tags change by writing the version's manifest again with its stamp and newer tags: the home
    keeps the newer tags, a conversion's rewrite keeps its body and the newer tags, and a newer put
    is never replaced by a late tag change of the version before it."""
    original = _put(10, versioned=False, size=4)
    tagged = _tagged(original, {"team": "red"}, 20)
    converted = common_pb2.Manifest()
    converted.CopyFrom(original)
    converted.version.rewrite = 1
    converted.policy.replication.replicas = 2
    retagged = _tagged(original, {"team": "blue"}, 30)
    newer_put = _put(25, versioned=False, size=9)
    for run, order in enumerate(itertools.permutations([original, tagged, converted, retagged])):
        with NodeStore(str(tmp_path / str(run)), map_size_bytes=64 * MIB) as s:
            for m in order:
                s.put_manifest(m)
            kept = s.get_manifest("t", "b", "k")
            assert kept.version.rewrite == 1 and kept.policy.replication.replicas == 2, order
            assert dict(kept.tagging.tags) == {"team": "blue"}
            assert s.put_manifest(tagged) is True  # older tags: nothing to write
            s.put_manifest(newer_put)
            assert s.put_manifest(retagged) is True  # the key moved on: a late tag change loses
            assert s.get_manifest("t", "b", "k") == newer_put
            assert s.bucket_usage("t", "b").logical_bytes == 9


def _read_mark(of: common_pb2.Manifest, read_at_ms: int) -> common_pb2.Manifest:
    out = common_pb2.Manifest()
    out.CopyFrom(of)
    out.read_at_unix_ms = read_at_ms
    return out


def test_read_marks_keep_the_latest_and_merge_with_tags_and_a_conversion_in_any_order(tmp_path):
    """A read mark (the version's manifest again with read_at set) keeps the latest mark whatever
    order marks, a tag change and a conversion arrive in, changes no usage counter, and loses to a
    newer put like a late tag change."""
    original = _put(10, versioned=False, size=4)
    tagged = _tagged(original, {"team": "red"}, 20)
    converted = common_pb2.Manifest()
    converted.CopyFrom(original)
    converted.version.rewrite = 1
    converted.policy.replication.replicas = 2
    early, late = _read_mark(original, 1_000), _read_mark(tagged, 5_000)
    for run, order in enumerate(itertools.permutations([original, early, converted, late, tagged])):
        with NodeStore(str(tmp_path / str(run)), map_size_bytes=64 * MIB) as s:
            for m in order:
                s.put_manifest(m)
            kept = s.get_manifest("t", "b", "k")
            assert (kept.version.rewrite, kept.read_at_unix_ms, dict(kept.tagging.tags)) == (1, 5_000, {"team": "red"})
            assert s.put_manifest(early) is True  # an older mark: nothing to write
            assert s.bucket_usage("t", "b").objects == 1 and s.bucket_usage("t", "b").logical_bytes == 4
            if run == 0:
                newer_put = _put(25, versioned=False, size=9)
                s.put_manifest(newer_put)
                assert s.put_manifest(_read_mark(original, 9_000)) is True  # the key moved on
                assert s.get_manifest("t", "b", "k") == newer_put
