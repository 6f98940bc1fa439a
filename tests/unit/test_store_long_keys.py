"""Object keys longer than LMDB's 511-byte key limit: stored under shortened db keys, listed in
the order of their full UTF-8 bytes, with prefix and start_after ranges, and migrated from layout 2.

The listing is checked against a plain `sorted()` of the raw keys over random key sets built to hit
the hard cases: lengths either side of the inline limit, many keys sharing the same 478-byte head
(so LMDB holds them in hash order), keys that are prefixes of others, multi-byte UTF-8."""

from __future__ import annotations

import os
import random

import lmdb
import pytest

from ringstore.v1 import common_pb2

from node.store import NodeStore
from node.store.keys import (LMDB_KEY_BYTES_MAX, MANIFEST_DB_KEY_INLINE_BYTES_MAX,
                             manifest_key, manifest_key_prefix)

MIB = 1024 * 1024
TENANT, BUCKET = "default", "photos"
BASE_BYTES = len(manifest_key_prefix(TENANT, BUCKET))
# Object key length (bytes) at which the db key stops fitting whole.
INLINE_KEY_BYTES = MANIFEST_DB_KEY_INLINE_BYTES_MAX - BASE_BYTES


def _manifest(key: str, physical_ms: int = 1) -> common_pb2.Manifest:
    return common_pb2.Manifest(
        format_version=1, tenant=TENANT, bucket=BUCKET, key=key,
        version=common_pb2.VersionStamp(physical_ms=physical_ms, node_id="node-a"))


@pytest.fixture
def store(tmp_path):
    s = NodeStore(str(tmp_path), map_size_bytes=64 * MIB)
    yield s
    s.close()


def _random_keys(rng: random.Random, count: int) -> list[str]:
    """Keys of 1..1024 UTF-8 bytes, mostly near the inline limit, drawn from a few shared heads."""
    heads = ["a" * (INLINE_KEY_BYTES - 3) + tail for tail in ("bbb", "bbc", "\u00e9b")]
    heads += ["z" * 200, "a" * (INLINE_KEY_BYTES + 40)]
    keys: set[str] = set()
    while len(keys) < count:
        head = rng.choice(heads)
        cut = rng.randint(min(len(head), INLINE_KEY_BYTES - 10),
                          min(len(head), INLINE_KEY_BYTES + 10))
        tail = "".join(rng.choice("ab\u00e9\U0001f600") for _ in range(rng.randint(0, 12)))
        key = head[:cut] + tail
        while len(key.encode("utf-8")) > 1024:
            key = key[:-1]
        keys.add(key)
    return list(keys)


def _listing(store: NodeStore, *, prefix: str = "", start_after: str = "",
             limit: int = 1000) -> list[str]:
    """Every key the store lists for the range, paging `limit` at a time with start_after."""
    keys: list[str] = []
    after = start_after
    while True:
        page, more = store.list_manifests(TENANT, BUCKET, prefix=prefix, start_after=after,
                                          limit=limit)
        keys += [m.key for m in page]
        if not more:
            return keys
        assert page, "a page that says more exist must not be empty"
        after = page[-1].key


def _utf8_sorted(keys) -> list[str]:
    return sorted(keys, key=lambda k: k.encode("utf-8"))


def test_db_keys_fit_lmdb_and_long_ones_are_shortened():
    """A 1024-byte key gets a db key of at most 511 bytes; a key that fits whole is unchanged."""
    short = manifest_key(TENANT, BUCKET, "k" * INLINE_KEY_BYTES)
    assert short == manifest_key_prefix(TENANT, BUCKET) + b"k" * INLINE_KEY_BYTES
    for length in (INLINE_KEY_BYTES + 1, 511, 512, 1024):
        long_key = manifest_key(TENANT, BUCKET, "k" * length)
        assert len(long_key) == LMDB_KEY_BYTES_MAX
    assert manifest_key(TENANT, BUCKET, "k" * 1024) != manifest_key(TENANT, BUCKET, "k" * 1023)


@pytest.mark.parametrize("length", [511, 512, 1024])
def test_long_keys_put_get_list_delete(store, length):
    """Keys of 511, 512 and 1024 bytes store, read back by full key, list, and delete; two keys
    sharing their first 1023 bytes stay apart."""
    key, neighbour = "x" * length, "x" * (length - 1) + "y"
    store.put_manifest(_manifest(key))
    store.put_manifest(_manifest(neighbour, physical_ms=2))
    assert store.get_manifest(TENANT, BUCKET, key).key == key
    assert store.get_manifest(TENANT, BUCKET, neighbour).version.physical_ms == 2
    assert _listing(store) == [key, neighbour]
    assert store.put_manifest(_manifest(key)) is True  # same version: superseded, not a new row
    assert store.delete_manifest_if(_manifest(key)) is True
    assert store.get_manifest(TENANT, BUCKET, key) is None
    assert _listing(store) == [neighbour]


@pytest.mark.parametrize("seed", range(8))
def test_listing_order_and_ranges_match_sorted_raw_keys(store, seed):
    """For random keys around the inline limit (seeded), the full listing, prefix listings and
    start_after listings, paged at several sizes, equal sorted() of the raw UTF-8 keys."""
    rng = random.Random(seed)
    keys = _random_keys(rng, 120)
    for key in keys:
        store.put_manifest(_manifest(key))
    expected = _utf8_sorted(keys)
    for limit in (1, 7, 1000):
        assert _listing(store, limit=limit) == expected, f"seed {seed} limit {limit}"
    probes = rng.sample(keys, 10) + ["a" * INLINE_KEY_BYTES, "a" * (INLINE_KEY_BYTES + 5), "b"]
    for probe in probes:
        for cut in (len(probe) // 2, INLINE_KEY_BYTES - 1, INLINE_KEY_BYTES + 2, len(probe)):
            prefix = probe[:cut]
            want = [k for k in expected if k.encode("utf-8").startswith(prefix.encode("utf-8"))]
            assert _listing(store, prefix=prefix, limit=5) == want, f"seed {seed} prefix {cut}"
        after = [k for k in expected if k.encode("utf-8") > probe.encode("utf-8")]
        assert _listing(store, start_after=probe, limit=5) == after, f"seed {seed} start_after"
        prefix = probe[:INLINE_KEY_BYTES - 2]
        both = [k for k in after if k.encode("utf-8").startswith(prefix.encode("utf-8"))]
        assert _listing(store, prefix=prefix, start_after=probe, limit=3) == both


def test_layout_2_long_manifest_keys_are_migrated(tmp_path):
    """A layout-2 data dir holding a manifest under its whole 500-byte db key (what layout 2 wrote
    for keys it could hold) opens as layout 4 (through 3) with that manifest under the shortened key: it reads
    back and lists; short keys are untouched."""
    long_key, short_key = "m" * (500 - BASE_BYTES), "short"
    NodeStore(str(tmp_path), map_size_bytes=64 * MIB).close()
    env = lmdb.open(os.path.join(str(tmp_path), "meta"), max_dbs=10, map_size=64 * MIB, subdir=True)
    try:
        with env.begin(write=True) as txn:
            manifests = env.open_db(b"manifests", txn=txn)
            for key in (long_key, short_key):
                raw_key = manifest_key_prefix(TENANT, BUCKET) + key.encode()
                txn.put(raw_key, _manifest(key).SerializeToString(), db=manifests)
            meta = env.open_db(b"meta", txn=txn)
            txn.put(b"format_version", b"2", db=meta)
            txn.delete(b"store", db=meta)   # layout 2 predates store identities
    finally:
        env.close()
    with NodeStore(str(tmp_path), map_size_bytes=64 * MIB) as s:
        assert s.get_manifest(TENANT, BUCKET, long_key).key == long_key
        assert s.get_manifest(TENANT, BUCKET, short_key).key == short_key
        assert [m.key for m in s.list_manifests(TENANT, BUCKET)[0]] == [long_key, short_key]
