"""Unit tests of the deduplication savings records (node/store/savings.py): after any sequence of
writes, dedups, releases, drops, quarantines and rebuilds they equal what a brute-force walk of the
copies and their references computes, and survive a layout 6 -> 7 migration and a damaged record."""

from __future__ import annotations

import random
from collections import Counter

import blake3
import lmdb
import pytest

from ringstore.v1 import common_pb2

from node.store import CorruptShare, NodeStore, ShareKey
from node.store import savings

MIB = 1024 * 1024
NOW_MS = 1_700_000_000_000
CHUNKS = [bytes([n]) * (100 * (n + 1)) for n in range(4)]
OWNERS = [("t1", "photos"), ("t1", "docs"), ("t2", "photos"), ("", "ops")]
WORKLOAD_STEPS = 300


def _ref(owner: tuple[str, str], key: str, ms: int) -> common_pb2.ObjectRef:
    return common_pb2.ObjectRef(tenant=owner[0], bucket=owner[1], key=key,
                                version=common_pb2.VersionStamp(physical_ms=ms, node_id="n1"))


def _shares(data: bytes) -> list[ShareKey]:
    chunk_id = blake3.blake3(data).digest()
    return [ShareKey(chunk_id), ShareKey(chunk_id, 0, 2, 1)]


def _placement(share: ShareKey, size: int) -> common_pb2.PlacementRecord:
    if share.share_index is None:
        policy = common_pb2.RedundancyPolicy(replication=common_pb2.Replication(replicas=3))
    else:
        policy = common_pb2.RedundancyPolicy(erasure_coding=common_pb2.ErasureCoding(data_shares=2, parity_shares=1))
    return common_pb2.PlacementRecord(format_version=1, chunk_id=share.chunk_id, policy=policy, size_bytes=size)


def _put(store: NodeStore, share: ShareKey, data: bytes, ref: common_pb2.ObjectRef | None) -> None:
    store.put_share(share, data, expected_blake3=blake3.blake3(data).digest(),
                    placement=_placement(share, len(data)), referenced_by=ref)


def _brute_force(store: NodeStore) -> dict[bytes, tuple[int, int]]:
    """The savings by their definition: per indexed copy, references beyond the first per scope."""
    total: Counter = Counter()
    for share, info in store.iter_shares():
        refs = store.references(share)
        for scope in (Counter(savings.bucket_key(r.tenant, r.bucket) for r in refs),
                      Counter({savings.EVERYTHING_KEY: len(refs)})):
            for key, count in scope.items():
                if count > 1:
                    total[(key, 0)] += (count - 1) * info.size_bytes
                    total[(key, 1)] += count - 1
    keys = {key for key, _ in total}
    return {key: (total[(key, 0)], total[(key, 1)]) for key in keys if total[(key, 1)]}


def _kept(store: NodeStore) -> dict[bytes, tuple[int, int]]:
    return {key: (r.saved_bytes, r.shared_references) for key, r in store.dedup_savings()}


def _recounted(store: NodeStore) -> dict[bytes, tuple[int, int]]:
    return {key: (r.saved_bytes, r.shared_references) for key, r in store.recount_savings(write=False)}


@pytest.fixture
def store(tmp_path):
    s = NodeStore(str(tmp_path), map_size_bytes=64 * MIB, now_unix_ms=lambda: NOW_MS)
    yield s
    s.close()


def test_contribution_counts_each_scope():
    owners = [("t1", "a"), ("t1", "a"), ("t1", "b"), ("t2", "a")]
    found = savings.contribution(owners, 10)
    assert found == {savings.bucket_key("t1", "a"): (10, 1), savings.EVERYTHING_KEY: (30, 3)}
    assert savings.contribution(owners, None) == {} and savings.contribution(owners[:1], 10) == {}
    assert savings.moved(found, {}) == {key: (-b, -r) for key, (b, r) in found.items()}


def test_a_second_version_of_the_same_bytes_saves_a_copy(store):
    share = _shares(CHUNKS[1])[0]
    _put(store, share, CHUNKS[1], _ref(OWNERS[0], "a", 1))
    assert _kept(store) == {}
    _put(store, share, CHUNKS[1], _ref(OWNERS[0], "b", 2))  # a dedup
    size = len(CHUNKS[1])
    assert _kept(store) == {savings.bucket_key(*OWNERS[0]): (size, 1), savings.EVERYTHING_KEY: (size, 1)}
    _put(store, share, CHUNKS[1], _ref(OWNERS[0], "b", 2))  # the same reference again: no change
    assert _kept(store)[savings.EVERYTHING_KEY] == (size, 1)
    store.release_share(share, _ref(OWNERS[0], "a", 1))
    assert _kept(store) == {}


@pytest.mark.parametrize("seed", [1717, 3, 99])
def test_random_workload_matches_a_walk_of_the_references(store, tmp_path, seed):
    rng = random.Random(seed)
    refs = [_ref(owner, f"k{n}", n) for n, owner in enumerate(OWNERS * 3)]
    for step in range(WORKLOAD_STEPS):
        data = rng.choice(CHUNKS)
        share = rng.choice(_shares(data))
        op = rng.random()
        if op < 0.4:
            _put(store, share, data, rng.choice(refs + [None]))
        elif op < 0.55:
            store.add_references(share, rng.sample(refs, rng.randint(1, 3)))
        elif op < 0.8:
            store.release_share(share, rng.choice(refs))
        elif op < 0.87:
            store.delete_share(share)
        elif op < 0.93:
            store.drop_copy(share)
        elif store.share_info(share) is not None:  # damage the file: a read quarantines the copy
            with open(store._files.final_path(share), "r+b") as f:
                f.write(b"\xfe")
            with pytest.raises(CorruptShare):
                store.read_share(share)
        assert _kept(store) == _brute_force(store) == _recounted(store), f"after step {step}"
    assert _kept(store), "the workload never shared a copy: it proves nothing"
    store.close()
    reopened = NodeStore(str(tmp_path), map_size_bytes=64 * MIB, now_unix_ms=lambda: NOW_MS)
    try:
        assert _kept(reopened) == _brute_force(reopened)
        assert [key for key, _ in reopened.dedup_savings("t1")] == sorted(
            key for key in _brute_force(reopened) if key.startswith(b"t1\0")) + [savings.EVERYTHING_KEY]
    finally:
        reopened.close()


def _shared_store(store: NodeStore) -> dict[bytes, tuple[int, int]]:
    for n, owner in enumerate(OWNERS):
        for data in CHUNKS[:2]:
            _put(store, _shares(data)[0], data, _ref(owner, f"k{n}", n))
            _put(store, _shares(data)[0], data, _ref(owner, f"j{n}", n))
    expected = _brute_force(store)
    assert expected
    return expected


def _kept_after(store: NodeStore, tmp_path, change) -> tuple[dict, dict]:
    """(what the store kept, what it keeps once `change(env, txn)` was made behind its back and it
    was opened again)."""
    expected = _shared_store(store)
    store.close()
    env = lmdb.open(str(tmp_path / "meta"), max_dbs=16, subdir=True)
    with env.begin(write=True) as txn:
        change(env, txn)
    env.close()
    with NodeStore(str(tmp_path), map_size_bytes=64 * MIB, now_unix_ms=lambda: NOW_MS) as reopened:
        return expected, _kept(reopened)


def test_layout_6_data_dir_gains_its_savings_at_open(store, tmp_path):
    def back_to_layout_6(env, txn) -> None:
        txn.drop(env.open_db(b"savings", txn=txn), delete=False)
        txn.put(b"format_version", b"6", db=env.open_db(b"meta", txn=txn))

    expected, kept = _kept_after(store, tmp_path, back_to_layout_6)
    assert kept == expected


def test_a_damaged_savings_record_is_counted_again(store, tmp_path):
    def damage(env, txn) -> None:
        db = env.open_db(b"savings", txn=txn)
        raw = bytearray(txn.get(savings.EVERYTHING_KEY, db=db))
        raw[-1] ^= 0xFF
        txn.put(savings.EVERYTHING_KEY, bytes(raw), db=db)

    expected, kept = _kept_after(store, tmp_path, damage)
    assert kept == expected


def test_references_can_be_scoped_to_a_bucket(store):
    """A put naming a stored chunk (node/objects/known_chunks.py) may only reuse a copy its own
    bucket already references: `referenced_by` and `add_references(only_if_referenced_by=...)`."""
    data = CHUNKS[2]
    share = _shares(data)[0]
    absent = _shares(CHUNKS[3])[0]
    _put(store, share, data, _ref(OWNERS[0], "a", 1))
    assert store.referenced_by(share, OWNERS[0])
    assert not store.referenced_by(share, OWNERS[1]) and not store.referenced_by(share, OWNERS[2])
    assert not store.referenced_by(absent, OWNERS[0])
    # Another bucket (another tenant too) may not add itself by the chunk's hash...
    for owner in OWNERS[1:3]:
        assert store.add_references(share, [_ref(owner, "stolen", 2)], only_if_referenced_by=owner) == 0
    assert store.reference_count(share) == 1
    # ...the bucket that holds it may, and then each of its references counts.
    assert store.add_references(share, [_ref(OWNERS[0], "b", 3)], only_if_referenced_by=OWNERS[0]) == 1
    assert store.reference_count(share) == 2
    assert store.add_references(absent, [_ref(OWNERS[0], "c", 4)], only_if_referenced_by=OWNERS[0]) == 0
    assert _kept(store) == _brute_force(store) == _recounted(store)  # the savings moved with the new row
