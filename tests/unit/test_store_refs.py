"""Unit tests of node/store references: which object versions use a stored copy, and releasing a
copy only when the last of them lets go (including against a concurrent write of the same share)."""

from __future__ import annotations

import os
import random
import threading
import time

import blake3
import pytest

from ringstore.v1 import common_pb2

from node.store import (CorruptShare, InvalidArgument, NodeStore, ReleaseOutcome, ShareKey,
                        ref_key)

MIB = 1024 * 1024
NOW_MS = 1_700_000_000_000
DATA = b"chunk bytes shared by several object versions"
CHUNK_ID = blake3.blake3(DATA).digest()
# The concurrency tests run this many rounds, or until this deadline, whichever comes first.
RACE_ROUNDS_MAX = 300
RACE_DEADLINE_S = 10.0
# The second racer starts after a random delay up to this, so both orders (and the overlaps in
# between) happen: a write spends about a millisecond in fsync before it takes the share lock.
RACE_JITTER_S_MAX = 0.003


def _digest(data: bytes) -> bytes:
    return blake3.blake3(data).digest()


def _ref(key: str = "cat.jpg", physical_ms: int = 10, *, tenant: str = "default",
         bucket: str = "photos", logical: int = 0, node_id: str = "node-a",
         rewrite: int = 0) -> common_pb2.ObjectRef:
    stamp = common_pb2.VersionStamp(physical_ms=physical_ms, logical=logical, node_id=node_id,
                                    rewrite=rewrite)
    return common_pb2.ObjectRef(tenant=tenant, bucket=bucket, key=key, version=stamp)


def _placement(chunk_id: bytes, data_shares: int = 0,
               parity_shares: int = 0) -> common_pb2.PlacementRecord:
    if data_shares == parity_shares == 0:
        policy = common_pb2.RedundancyPolicy(replication=common_pb2.Replication(replicas=3))
    else:
        policy = common_pb2.RedundancyPolicy(erasure_coding=common_pb2.ErasureCoding(
            data_shares=data_shares, parity_shares=parity_shares))
    return common_pb2.PlacementRecord(format_version=1, chunk_id=chunk_id, policy=policy,
                                      size_bytes=len(DATA))


def _put(store: NodeStore, share: ShareKey, data: bytes = DATA, *,
         ref: common_pb2.ObjectRef | None = None, placement: bool = True) -> bool:
    record = (_placement(share.chunk_id, share.data_shares, share.parity_shares) if placement
              else None)
    return store.put_share(share, data, expected_blake3=_digest(data), placement=record,
                           referenced_by=ref)


def _refs(store: NodeStore, share: ShareKey) -> set[bytes]:
    return {ref_key(r) for r in store.references(share)}


def _files(root) -> list[str]:
    found = []
    for dirpath, _dirs, names in os.walk(root):
        found.extend(os.path.join(dirpath, n) for n in names)
    return sorted(found)


@pytest.fixture
def store(tmp_path):
    s = NodeStore(str(tmp_path), map_size_bytes=64 * MIB, now_unix_ms=lambda: NOW_MS)
    yield s
    s.close()


# -- ref keys ------------------------------------------------------------------------------------

def test_ref_key_is_deterministic_and_tells_every_field_apart():
    """ref_key is 32 bytes, equal for equal refs, and differs when any of tenant, bucket, key,
    physical_ms, logical, node_id or rewrite differs, including when strings only shift bytes
    between fields."""
    base = _ref()
    assert len(ref_key(base)) == 32
    assert ref_key(base) == ref_key(_ref())
    variants = [
        _ref(tenant="other"), _ref(bucket="photos2"), _ref(key="dog.jpg"), _ref(physical_ms=11),
        _ref(logical=1), _ref(node_id="node-b"), _ref(rewrite=1),
        _ref(tenant="defaultp", bucket="hotos"), _ref(bucket="photoscat.jpg", key=""),
        common_pb2.ObjectRef(tenant="default", bucket="photos", key="cat.jpg"),
    ]
    keys = {ref_key(base)} | {ref_key(v) for v in variants}
    assert len(keys) == len(variants) + 1


def test_ref_key_rejects_other_messages():
    """Anything but an ObjectRef is bad input."""
    with pytest.raises(InvalidArgument, match="ObjectRef"):
        ref_key(common_pb2.VersionStamp())


# -- adding references ---------------------------------------------------------------------------

def test_references_are_added_on_fresh_and_dedup_writes(store):
    """The first write of a copy records its version's reference; a dedup of the same bytes for
    another version adds that version's; repeating a reference or writing without one adds
    nothing."""
    share = ShareKey(CHUNK_ID)
    first, second = _ref("a", 1), _ref("b", 2)
    assert _put(store, share, ref=first) is False
    assert store.references(share) == [first]
    assert _put(store, share, ref=second) is True
    assert _refs(store, share) == {ref_key(first), ref_key(second)}
    assert _put(store, share, ref=first) is True
    assert _put(store, share, ref=None, placement=False) is True
    assert store.reference_count(share) == 2
    assert store.stats() == (1, len(DATA))


def test_streaming_commit_records_the_reference(store):
    """ShareWriter.commit takes referenced_by like put_share."""
    share = ShareKey(CHUNK_ID, 3, 4, 2)
    with store.begin_share(share) as writer:
        writer.write(DATA)
        writer.commit(expected_blake3=CHUNK_ID, placement=None, referenced_by=_ref())
    assert store.references(share) == [_ref()]


def test_references_are_per_share(store):
    """References of a replica, of share 0 of 4+2 and of share 0 of 2+1 of one chunk are kept
    apart (prefix scans on a db key are exact)."""
    shares = [ShareKey(CHUNK_ID), ShareKey(CHUNK_ID, 0, 4, 2), ShareKey(CHUNK_ID, 0, 2, 1)]
    for i, share in enumerate(shares):
        _put(store, share, ref=_ref(str(i)))
    for i, share in enumerate(shares):
        assert store.references(share) == [_ref(str(i))]


def test_references_limit(store):
    """references returns at most `limit` refs; a limit outside 1..REFERENCES_LIMIT_MAX is bad
    input."""
    share = ShareKey(CHUNK_ID)
    for i in range(3):
        _put(store, share, ref=_ref(str(i)))
    assert len(store.references(share, limit=2)) == 2
    assert store.reference_count(share) == 3
    with pytest.raises(InvalidArgument, match="limit"):
        store.references(share, limit=0)


def test_long_object_keys_fit(store):
    """A 1024-byte object key makes a reference row like any other (its key is hashed, so the
    LMDB key stays far below 511 bytes)."""
    share = ShareKey(CHUNK_ID)
    ref = _ref("k" * 1024)
    _put(store, share, ref=ref)
    assert store.references(share) == [ref]
    assert store.release_share(share, ref) == ReleaseOutcome(deleted=True, references_left=0)


# -- releasing -----------------------------------------------------------------------------------

def test_release_keeps_the_copy_until_the_last_reference(store, tmp_path):
    """Releasing one of two references keeps file, entry and placement; releasing it again is a
    no-op; releasing the last deletes the file, the index entry and the placement record."""
    share = ShareKey(CHUNK_ID)
    first, second = _ref("a", 1), _ref("b", 2)
    _put(store, share, ref=first)
    _put(store, share, ref=second)
    assert store.release_share(share, first) == ReleaseOutcome(deleted=False, references_left=1)
    assert store.release_share(share, first) == ReleaseOutcome(deleted=False, references_left=1)
    assert store.read_share(share) == DATA
    assert store.get_placement(CHUNK_ID) is not None
    assert store.release_share(share, second) == ReleaseOutcome(deleted=True, references_left=0)
    assert not store.has_share(share)
    assert _files(tmp_path / "chunks") == []
    assert store.get_placement(CHUNK_ID) is None
    assert store.references(share) == []
    assert store.stats() == (0, 0)
    assert store.release_share(share, second) == ReleaseOutcome(deleted=False, references_left=0)


def test_release_of_a_copy_without_references_deletes_it(store):
    """A copy stored without any reference (referenced_by=None) goes at its first release."""
    share = ShareKey(CHUNK_ID)
    _put(store, share)
    assert store.release_share(share, _ref()) == ReleaseOutcome(deleted=True, references_left=0)
    assert not store.has_share(share)


def test_release_of_an_absent_share_changes_nothing(store):
    """Releasing a share this node never held returns deleted=False, references_left=0 and leaves
    the layout's placement record (and other shares) alone."""
    held = ShareKey(CHUNK_ID, 1, 4, 2)
    _put(store, held, ref=_ref())
    outcome = store.release_share(ShareKey(CHUNK_ID, 0, 4, 2), _ref())
    assert outcome == ReleaseOutcome(deleted=False, references_left=0)
    assert store.get_placement(CHUNK_ID, 4, 2) is not None
    assert store.references(held) == [_ref()]


def test_release_keeps_the_placement_while_the_layout_has_shares_here(store):
    """Releasing share 0 of a 4+2 stripe keeps the 4+2 placement while share 1 of that stripe is
    still here; releasing share 1 drops it. Other layouts' placements of the chunk stay."""
    shares = [ShareKey(CHUNK_ID, 0, 4, 2), ShareKey(CHUNK_ID, 1, 4, 2)]
    for share in shares:
        _put(store, share, ref=_ref())
    _put(store, ShareKey(CHUNK_ID, 0, 2, 1), ref=_ref())
    _put(store, ShareKey(CHUNK_ID), ref=_ref())
    assert store.release_share(shares[0], _ref()).deleted is True
    assert store.get_placement(CHUNK_ID, 4, 2) is not None
    assert store.release_share(shares[1], _ref()).deleted is True
    assert store.get_placement(CHUNK_ID, 4, 2) is None
    assert store.get_placement(CHUNK_ID, 2, 1) is not None
    assert store.get_placement(CHUNK_ID) is not None
    assert store.stats() == (2, 2 * len(DATA))


def test_delete_share_drops_its_references(store):
    """delete_share removes every reference row of the share with its index entry; a later write
    starts with no references."""
    share = ShareKey(CHUNK_ID)
    _put(store, share, ref=_ref("a"))
    _put(store, share, ref=_ref("b"))
    assert store.delete_share(share) is True
    assert store.references(share) == []
    _put(store, share)
    assert store.reference_count(share) == 0


def test_quarantine_keeps_references(store):
    """A copy found corrupt is quarantined with its references kept, so the rebuilt copy still
    knows its users; releasing the last of them after the rebuild deletes it."""
    share = ShareKey(CHUNK_ID, 2, 4, 2)
    _put(store, share, ref=_ref())
    with open(store._files.final_path(share), "r+b") as f:
        f.write(b"\0")
    with pytest.raises(CorruptShare):
        store.read_share(share)
    assert store.references(share) == [_ref()]
    assert _put(store, share, placement=False) is False  # repair rebuilds it
    assert store.references(share) == [_ref()]
    assert store.release_share(share, _ref()) == ReleaseOutcome(deleted=True, references_left=0)


def test_release_of_a_quarantined_copy_drops_refs_and_placement(store):
    """Releasing the last reference of a copy that was quarantined (no index entry, no file)
    removes the reference and the layout's placement, and reports deleted=False."""
    share = ShareKey(CHUNK_ID)
    _put(store, share, ref=_ref())
    with open(store._files.final_path(share), "ab") as f:
        f.write(b"junk")
    with pytest.raises(CorruptShare):
        store.read_share(share)
    assert store.release_share(share, _ref()) == ReleaseOutcome(deleted=False, references_left=0)
    assert store.references(share) == []
    assert store.get_placement(CHUNK_ID) is None


def test_references_survive_reopen(tmp_path):
    """Reference rows are durable like the index entry they were committed with."""
    share = ShareKey(CHUNK_ID, 0, 2, 1)
    with NodeStore(str(tmp_path), map_size_bytes=64 * MIB) as s:
        _put(s, share, ref=_ref("a"))
        _put(s, share, ref=_ref("b"))
    with NodeStore(str(tmp_path), map_size_bytes=64 * MIB) as s:
        assert _refs(s, share) == {ref_key(_ref("a")), ref_key(_ref("b"))}
        assert s.release_share(share, _ref("a")).references_left == 1


# -- races ---------------------------------------------------------------------------------------

def _check_consistent(store: NodeStore, share: ShareKey) -> None:
    """Never an index entry without its file, nor a reference on a copy that is gone."""
    present = store.has_share(share)
    assert present == os.path.exists(store._files.final_path(share)), "index and file disagree"
    if not present:
        assert store.references(share) == [], "reference left on a released copy"
        assert store.get_placement(CHUNK_ID, share.data_shares, share.parity_shares) is None
    assert _files(store._files.tmp_dir) == []
    listed = list(store.iter_shares())
    assert store.stats() == (len(listed), sum(info.size_bytes for _, info in listed))


def _race(first, second, delay_s: float) -> None:
    """Run two calls at once (released together by a barrier, the second `delay_s` later);
    re-raise what either raised."""
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def run(call, wait_s: float) -> None:
        try:
            barrier.wait(timeout=10)
            time.sleep(wait_s)
            call()
        except BaseException as exc:  # noqa: BLE001 - surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(first, 0.0)),
               threading.Thread(target=run, args=(second, delay_s))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not any(t.is_alive() for t in threads), "a racing call hung"
    if errors:
        raise errors[0]


@pytest.mark.parametrize("share", [ShareKey(CHUNK_ID), ShareKey(CHUNK_ID, 4, 4, 2)],
                         ids=["replica", "share"])
def test_put_and_release_of_the_same_ref_race(store, share):
    """A write of the share for a version racing the release of that same version's reference
    ends, in every round, either with the copy present and referenced by that version (release
    ran first, found nothing) or absent with no reference (write ran first, release removed it)."""
    ref = _ref()
    rng = random.Random(1)
    outcomes = {"present": 0, "absent": 0}
    deadline_s = time.monotonic() + RACE_DEADLINE_S
    for _ in range(RACE_ROUNDS_MAX):
        if time.monotonic() > deadline_s:
            break
        _race(lambda: _put(store, share, ref=ref), lambda: store.release_share(share, ref),
              rng.uniform(0, RACE_JITTER_S_MAX))
        _check_consistent(store, share)
        if store.has_share(share):
            assert store.references(share) == [ref]
            assert store.read_share(share) == DATA
            outcomes["present"] += 1
        else:
            outcomes["absent"] += 1
        store.delete_share(share)
        store.delete_placement(CHUNK_ID, share.data_shares, share.parity_shares)
    print(f"outcomes over {sum(outcomes.values())} rounds: {outcomes}")
    assert sum(outcomes.values()) > 0


@pytest.mark.parametrize("share", [ShareKey(CHUNK_ID), ShareKey(CHUNK_ID, 4, 4, 2)],
                         ids=["replica", "share"])
def test_put_for_a_new_version_racing_release_of_the_old_keeps_the_copy(store, share):
    """A copy referenced by an old version, written again for a new version while the old
    version's reference is released, ends in every round present, intact and referenced by the
    new version only: the release either sees the new reference, or deletes the copy before the
    write installs it afresh."""
    old, new = _ref("k", 1), _ref("k", 2)
    rng = random.Random(2)
    deadline_s = time.monotonic() + RACE_DEADLINE_S
    rounds = 0
    for _ in range(RACE_ROUNDS_MAX):
        if time.monotonic() > deadline_s:
            break
        _put(store, share, ref=old)
        _race(lambda: _put(store, share, ref=new), lambda: store.release_share(share, old),
              rng.uniform(0, RACE_JITTER_S_MAX))
        _check_consistent(store, share)
        assert store.references(share) == [new]
        assert store.read_share(share) == DATA
        assert store.get_placement(CHUNK_ID, share.data_shares, share.parity_shares) is not None
        store.delete_share(share)
        rounds += 1
    assert rounds > 0
