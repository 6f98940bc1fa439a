"""Unit tests of node/store usage counters: a metadata home's UsageRecord of a bucket always equals
what the manifests it holds of that bucket add up to, through every way a manifest changes."""

from __future__ import annotations

import os
import random

import lmdb
import pytest

from ringstore.v1 import common_pb2

from node.store import CorruptRecord, MetadataUnavailable, NodeStore
from node.store.keys import manifest_key_prefix
from node.store.metadata import seal
from node.store.usage import contribution

MIB = 1024 * 1024
REPLICAS_3 = common_pb2.RedundancyPolicy(replication=common_pb2.Replication(replicas=3))
EC_4_2 = common_pb2.RedundancyPolicy(erasure_coding=common_pb2.ErasureCoding(data_shares=4, parity_shares=2))


def _manifest(key: str, ms: int, *, size: int = 0, chunks: tuple[int, ...] = (), bucket: str = "b",
              policy: common_pb2.RedundancyPolicy = REPLICAS_3, tombstone: bool = False) -> common_pb2.Manifest:
    m = common_pb2.Manifest(format_version=1, tenant="t", bucket=bucket, key=key, tombstone=tombstone,
                            policy=policy, version=common_pb2.VersionStamp(physical_ms=ms, node_id="n"))
    if tombstone:
        return m
    if chunks:
        offset = 0
        for i, chunk in enumerate(chunks):
            m.chunks.add(chunk_id=bytes([i]) * 32, size_bytes=chunk, offset_bytes=offset)
            offset += chunk
        m.size_bytes = offset
    else:
        m.inline = True
        m.inline_data = b"x" * size
        m.size_bytes = size
    return m


def _fields(record: common_pb2.UsageRecord) -> tuple[int, int, int, int, int]:
    return (record.objects, record.logical_bytes, record.chunk_bytes, record.inline_bytes, record.tombstones)


def _truth(store: NodeStore, bucket: str = "b") -> tuple[int, int, int, int, int]:
    """What a walk of the bucket's manifests adds up to (the audit the counters must agree with)."""
    total = [0] * 5
    for manifest in store.iter_manifests("t", bucket):
        c = contribution(manifest)
        for i, value in enumerate((c.objects, c.logical_bytes, c.chunk_bytes, c.inline_bytes, c.tombstones)):
            total[i] += value
    return tuple(total)


@pytest.fixture()
def store(tmp_path):
    s = NodeStore(str(tmp_path), map_size_bytes=64 * MIB)
    yield s
    s.close()


def test_put_overwrite_delete_and_purge_move_the_counters(store):
    """Each change moves the record by exactly the difference; the newer version decides."""
    assert _fields(store.bucket_usage("t", "b")) == (0, 0, 0, 0, 0)
    store.put_manifest(_manifest("a", 10, size=100))
    assert _fields(store.bucket_usage("t", "b")) == (1, 100, 0, 100, 0)
    store.put_manifest(_manifest("big", 11, chunks=(4 * MIB, 1 * MIB)))
    assert _fields(store.bucket_usage("t", "b")) == (2, 100 + 5 * MIB, 3 * 5 * MIB, 100, 0)
    # An overwrite replaces the old contribution: EC 4+2 of a 4 MiB chunk is 6 shares of 1 MiB.
    store.put_manifest(_manifest("big", 12, chunks=(4 * MIB,), policy=EC_4_2))
    assert _fields(store.bucket_usage("t", "b")) == (2, 100 + 4 * MIB, 6 * MIB, 100, 0)
    # An older version arriving late (sync, a slow replica) changes nothing.
    assert store.put_manifest(_manifest("big", 9, chunks=(8 * MIB,))) is True
    assert _fields(store.bucket_usage("t", "b")) == (2, 100 + 4 * MIB, 6 * MIB, 100, 0)
    tombstone = _manifest("a", 13, tombstone=True)
    store.put_manifest(tombstone)
    assert _fields(store.bucket_usage("t", "b")) == (1, 4 * MIB, 6 * MIB, 0, 1)
    # Garbage collection purges the tombstone (delete_manifest_if of exactly that version).
    assert store.delete_manifest_if(_manifest("a", 12, tombstone=True)) is False
    assert store.delete_manifest_if(tombstone) is True
    assert _fields(store.bucket_usage("t", "b")) == (1, 4 * MIB, 6 * MIB, 0, 0)
    assert store.bucket_usage("t", "b").changed.physical_ms == 13
    # Another bucket is counted apart.
    store.put_manifest(_manifest("a", 14, size=7, bucket="other"))
    assert _fields(store.bucket_usage("t", "other")) == (1, 7, 0, 7, 0)
    assert _fields(store.bucket_usage("t", "b")) == _truth(store)


def test_any_order_of_versions_ends_at_the_walk(store):
    """Random puts, overwrites, deletes and stale versions in random order, as sync and read repair
    deliver them: the record always equals a walk of the manifests."""
    rng = random.Random(7)
    for step in range(400):
        key = f"k{rng.randrange(20)}"
        ms = rng.randrange(1, 1000)
        kind = rng.random()
        if kind < 0.2:
            store.put_manifest(_manifest(key, ms, tombstone=True))
        elif kind < 0.5:
            store.put_manifest(_manifest(key, ms, chunks=tuple(rng.randrange(1, 3 * MIB) for _ in range(2)),
                                         policy=rng.choice([REPLICAS_3, EC_4_2])))
        elif kind < 0.9:
            store.put_manifest(_manifest(key, ms, size=rng.randrange(0, 4096)))
        else:
            current = store.get_manifest("t", "b", key)
            if current is not None:
                store.delete_manifest_if(current)
        if step % 50 == 0:
            assert _fields(store.bucket_usage("t", "b")) == _truth(store), step
    assert _fields(store.bucket_usage("t", "b")) == _truth(store)


def test_dropping_every_manifest_drops_the_counters(store):
    store.put_manifest(_manifest("a", 1, size=5))
    store.put_manifest(_manifest("a", 2, size=6, bucket="c"))
    store.drop_manifests()
    assert _fields(store.bucket_usage("t", "b")) == (0, 0, 0, 0, 0)
    assert _fields(store.bucket_usage("t", "c")) == (0, 0, 0, 0, 0)


def _raw(data_dir, db: bytes, key: bytes, value: bytes | None = None) -> bytes | None:
    env = lmdb.open(os.path.join(str(data_dir), "meta"), max_dbs=10, map_size=64 * MIB, subdir=True)
    try:
        with env.begin(write=value is not None) as txn:
            handle = env.open_db(db, txn=txn)
            if value is None:
                return txn.get(key, db=handle)
            txn.put(key, value, db=handle)
            return None
    finally:
        env.close()


def test_a_corrupt_manifest_found_at_open_is_left_out_of_a_recount(tmp_path):
    """A manifest quarantined at open took an unknown contribution with it: the bucket is counted
    again from what is left, so a refill that brings the manifest back counts it once."""
    store = NodeStore(str(tmp_path), map_size_bytes=64 * MIB)
    store.put_manifest(_manifest("a", 1, size=5))
    store.put_manifest(_manifest("b", 2, size=9))
    store.close()
    key = b"t\0b\0a"
    raw = bytearray(_raw(tmp_path, b"manifests", key))
    raw[-1] ^= 0xFF
    _raw(tmp_path, b"manifests", key, bytes(raw))
    with NodeStore(str(tmp_path), map_size_bytes=64 * MIB) as reopened:
        with pytest.raises(MetadataUnavailable):
            reopened.bucket_usage("t", "b")  # incomplete until the refill: never believed
        reopened.finish_refill()
        with pytest.raises(CorruptRecord):
            reopened.bucket_usage("t", "b")  # still missing the quarantined manifest
        reopened.put_manifest(_manifest("a", 1, size=5))  # the refill puts it back
        assert _fields(reopened.bucket_usage("t", "b")) == (2, 14, 0, 14, 0)


def test_a_corrupt_usage_record_is_recounted(tmp_path):
    store = NodeStore(str(tmp_path), map_size_bytes=64 * MIB)
    store.put_manifest(_manifest("a", 1, size=5))
    store.close()
    part = manifest_key_prefix("t", "b")
    _raw(tmp_path, b"usage", part, seal(b"usage", part, b"not what was counted") + b"!")
    with NodeStore(str(tmp_path), map_size_bytes=64 * MIB) as reopened:
        reopened.finish_refill()
        assert _fields(reopened.bucket_usage("t", "b")) == (1, 5, 0, 5, 0)


def test_a_layout_4_data_dir_gets_its_counters_at_open(tmp_path):
    """Migration 4 -> 5 fills the usage db from the manifests already there."""
    store = NodeStore(str(tmp_path), map_size_bytes=64 * MIB)
    store.put_manifest(_manifest("a", 1, size=5))
    store.put_manifest(_manifest("b", 2, chunks=(MIB,)))
    store.put_manifest(_manifest("c", 3, tombstone=True))
    store.close()
    env = lmdb.open(os.path.join(str(tmp_path), "meta"), max_dbs=10, map_size=64 * MIB, subdir=True)
    with env.begin(write=True) as txn:
        txn.drop(env.open_db(b"usage", txn=txn), delete=True)
        txn.put(b"format_version", b"4", db=env.open_db(b"meta", txn=txn))
    env.close()
    with NodeStore(str(tmp_path), map_size_bytes=64 * MIB) as reopened:
        assert _fields(reopened.bucket_usage("t", "b")) == (2, 5 + MIB, 3 * MIB, 5, 1)
    assert _raw(tmp_path, b"meta", b"format_version") == b"8"


@pytest.mark.parametrize("seed", range(3))
def test_breakdowns_by_prefix_and_type_add_up_to_what_the_manifests_hold(tmp_path, seed):
    """A random workload of puts across prefixes and types, overwrites that move a key to another
    type, deletes, versions kept and erased: each breakdown record equals a walk of the manifests,
    and the breakdowns of each kind add up to the bucket's record."""
    from node.store import usage as usage_module
    from node.store.versions import version_id_of
    rng = random.Random(seed)
    with NodeStore(str(tmp_path), map_size_bytes=64 * MIB) as store:
        for step in range(200):
            key = rng.choice(["logs/a", "logs/b", "img/x", "img/y", "top", "docs/readme"])
            stamp = common_pb2.VersionStamp(physical_ms=1000 + step, node_id="n")
            versioned = rng.random() < 0.4
            m = common_pb2.Manifest(format_version=1, tenant="t", bucket="b", key=key, version=stamp,
                                    version_id=version_id_of(stamp) if versioned else b"", policy=REPLICAS_3)
            roll = rng.random()
            if roll < 0.7:
                m.inline, m.size_bytes = True, rng.randint(0, 50)
                m.inline_data = b"x" * m.size_bytes
                m.content_type = rng.choice(["image/png", "text/plain", ""])
            elif roll < 0.85:
                m.tombstone = True
            else:
                held = [v for v in store.key_manifests("t", "b", key) if not v.erased]
                if not held:
                    continue
                m.erased, m.tombstone, m.version_id = True, True, rng.choice(held).version_id
            store.put_manifest(m)
        current = {m.key: m.version for m in store.list_manifests("t", "b")[0]}
        expected: dict[tuple[bytes, str], list[int]] = {}
        for m in store.iter_manifests("t", "b"):
            c = contribution(m, current=current.get(m.key) == m.version and not m.erased)
            for kind, name in usage_module.breakdown_names(m):
                totals = expected.setdefault((kind, name), [0] * 4)
                for i, value in enumerate((c.objects, c.logical_bytes, c.noncurrent_versions, c.tombstones)):
                    totals[i] += value
        bucket = store.bucket_usage("t", "b")
        for kind in (usage_module.BY_PREFIX, usage_module.BY_TYPE, usage_module.BY_POLICY):
            held = {name: [r.objects, r.logical_bytes, r.noncurrent_versions, r.tombstones]
                    for name, r in store.usage_breakdown("t", "b", kind)}
            assert held == {name: t for (k, name), t in expected.items() if k == kind and any(t)}
            assert sum(r[0] for r in held.values()) == bucket.objects
            assert sum(r[1] for r in held.values()) == bucket.logical_bytes
        before = [store.usage_breakdown("t", "b", kind) for kind in (usage_module.BY_PREFIX, usage_module.BY_TYPE)]
        store.recount_usage("t", "b")  # what a quarantine does: the breakdowns are counted again alike
        after = [store.usage_breakdown("t", "b", kind) for kind in (usage_module.BY_PREFIX, usage_module.BY_TYPE)]
        strip = lambda rows: [(name, r.objects, r.logical_bytes, r.tombstones) for name, r in rows]  # noqa: E731
        assert [strip(rows) for rows in after] == [strip(rows) for rows in before]


def test_the_history_keeps_each_days_last_record_for_thirty_days(tmp_path):
    """A day's entry is the bucket's record after that day's last change; days without changes have
    none; entries older than 30 days go when a new day begins; a recount keeps them."""
    from node.store import usage as usage_module
    now = {"ms": 0}
    with NodeStore(str(tmp_path), map_size_bytes=64 * MIB, now_unix_ms=lambda: now["ms"]) as store:
        store.set_usage_day(1.0)  # days of one second
        for step, day in enumerate((0, 1, 1, 5, 40)):
            now["ms"] = day * 1000 + 500 + step
            store.put_manifest(_manifest(f"k{step}", now["ms"], size=day + 1))
        history = store.usage_breakdown("t", "b", usage_module.HISTORY)
        assert [name for name, _ in history] == ["40000"]  # days 0..5 are more than 30 days back
        now["ms"] = 41_500
        store.put_manifest(_manifest("later", 41_500, size=7))
        store.recount_usage("t", "b")
        history = store.usage_breakdown("t", "b", usage_module.HISTORY)
        assert [(name, r.objects) for name, r in history] == [("40000", 5), ("41000", 6)]
