"""Unit tests of the node/store API the repair loop drives: references carried by repaired copies,
dropping surplus copies with their placement records, turning handoff copies home, batched scans of
placements and manifests, metadata partitions for re-replication, and disk usage."""

from __future__ import annotations

import os
from collections.abc import Sequence

import blake3
import pytest

from ringstore.v1 import common_pb2

import node.store.store as store_module
from node.store import (METADATA_PARTITIONS_MAX, REFERENCES_LIMIT_MAX, CorruptShare,
                        InvalidArgument, NodeStore, ShareKey, StoreError, placement_key,
                        policy_geometry, ref_key)

MIB = 1024 * 1024
NOW_MS = 1_700_000_000_000
DATA = b"bytes of a chunk that repair moves between nodes"
CHUNK_ID = blake3.blake3(DATA).digest()
OTHER_CHUNK_ID = bytes(range(32))
GEOMETRY = (4, 2)
SMALL_BATCH = 2


def _digest(data: bytes) -> bytes:
    return blake3.blake3(data).digest()


def _stamp(physical_ms: int, *, logical: int = 0, node_id: str = "node-a",
           rewrite: int = 0) -> common_pb2.VersionStamp:
    return common_pb2.VersionStamp(physical_ms=physical_ms, logical=logical, node_id=node_id,
                                   rewrite=rewrite)


def _ref(key: str, physical_ms: int = 10) -> common_pb2.ObjectRef:
    return common_pb2.ObjectRef(tenant="default", bucket="photos", key=key,
                                version=_stamp(physical_ms))


def _placement(chunk_id: bytes, data_shares: int = 0,
               parity_shares: int = 0) -> common_pb2.PlacementRecord:
    if data_shares == parity_shares == 0:
        policy = common_pb2.RedundancyPolicy(replication=common_pb2.Replication(replicas=3))
    else:
        policy = common_pb2.RedundancyPolicy(erasure_coding=common_pb2.ErasureCoding(
            data_shares=data_shares, parity_shares=parity_shares))
    return common_pb2.PlacementRecord(format_version=1, chunk_id=chunk_id, policy=policy,
                                      size_bytes=len(DATA))


def _share_data(share: ShareKey) -> bytes:
    """Distinct bytes per share, so each file and index entry is its own."""
    return DATA + share.suffix().encode()


def _put(store: NodeStore, share: ShareKey, *, ref: common_pb2.ObjectRef | None = None,
         references: Sequence[common_pb2.ObjectRef] = (), handoff_for_node_id: str = "",
         placement: bool = True) -> bool:
    data = _share_data(share)
    record = (_placement(share.chunk_id, share.data_shares, share.parity_shares) if placement
              else None)
    return store.put_share(share, data, expected_blake3=_digest(data), placement=record,
                           handoff_for_node_id=handoff_for_node_id, referenced_by=ref,
                           references=references)


def _ref_keys(store: NodeStore, share: ShareKey) -> set[bytes]:
    return {ref_key(r) for r in store.references(share)}


def _manifest(tenant: str, bucket: str, key: str, stamp: common_pb2.VersionStamp, *,
              tombstone: bool = False) -> common_pb2.Manifest:
    return common_pb2.Manifest(format_version=1, tenant=tenant, bucket=bucket, key=key,
                               version=stamp, tombstone=tombstone)


def _bucket(tenant: str, name: str, stamp: common_pb2.VersionStamp) -> common_pb2.BucketRecord:
    return common_pb2.BucketRecord(format_version=1, tenant=tenant, name=name, version=stamp)


def _files(root) -> list[str]:
    """Share files of the data dir: final, temporary and quarantined (not LMDB's or the lock)."""
    found = []
    for sub in ("chunks", "tmp", "quarantine"):
        for dirpath, _dirs, names in os.walk(os.path.join(root, sub)):
            found.extend(os.path.join(dirpath, n) for n in names)
    return sorted(found)


@pytest.fixture
def store(tmp_path):
    s = NodeStore(str(tmp_path), map_size_bytes=64 * MIB, now_unix_ms=lambda: NOW_MS)
    yield s
    s.close()


# -- references carried by repaired copies -------------------------------------------------------

def test_references_are_committed_with_a_fresh_copy_and_keep_it_until_the_last_release(store):
    """A copy written with `references` (what repair copies from the copy it rebuilds) has a row
    for each of them and for `referenced_by`; it survives every release but the last."""
    share = ShareKey(CHUNK_ID, 1, *GEOMETRY)
    carried = [_ref("a", 1), _ref("b", 2)]
    new = _ref("c", 3)
    assert _put(store, share, ref=new, references=carried) is False
    assert _ref_keys(store, share) == {ref_key(r) for r in [*carried, new]}
    assert store.reference_count(share) == 3
    for ref in [new, carried[0]]:
        assert store.release_share(share, ref).deleted is False
    assert store.has_share(share)
    assert store.release_share(share, carried[1]).deleted is True
    assert not store.has_share(share)


def test_references_from_a_dedup_commit_are_added_and_counted(store):
    """A second write of the same bytes (a dedup) adds the rows of its `references`, without
    `referenced_by` too, and reference_count counts them with the original one."""
    share = ShareKey(CHUNK_ID)
    first = _ref("first")
    assert _put(store, share, ref=first) is False
    carried = [_ref("x", 5), _ref("y", 6), _ref("x", 5)]  # a repeat adds nothing
    assert _put(store, share, references=carried, placement=False) is True
    assert store.reference_count(share) == 3
    assert _ref_keys(store, share) == {ref_key(first), ref_key(carried[0]), ref_key(carried[1])}
    assert store.stats() == (1, len(_share_data(share)))


def test_streaming_commit_takes_references(store):
    """ShareWriter.commit takes `references` like put_share does."""
    share = ShareKey(CHUNK_ID)
    data = _share_data(share)
    with store.begin_share(share) as writer:
        writer.write(data[:5])
        writer.write(data[5:])
        assert writer.commit(expected_blake3=_digest(data), placement=None,
                             references=(_ref("streamed"),)) is False
    assert store.references(share) == [_ref("streamed")]


def test_references_up_to_the_limit_are_accepted(store):
    """Exactly REFERENCES_LIMIT_MAX carried references commit in one write, and `references`
    lists them all back."""
    share = ShareKey(CHUNK_ID)
    carried = [_ref(f"k{i}") for i in range(REFERENCES_LIMIT_MAX)]
    _put(store, share, references=carried)
    assert store.reference_count(share) == REFERENCES_LIMIT_MAX
    assert len(store.references(share)) == REFERENCES_LIMIT_MAX


@pytest.mark.parametrize("already_stored", [False, True])
def test_too_many_references_write_nothing(store, tmp_path, already_stored):
    """More than REFERENCES_LIMIT_MAX references is InvalidArgument naming both numbers, before
    anything is written: no index entry, file, temp file, reference row or placement record (and
    on a dedup, no new reference row)."""
    share = ShareKey(CHUNK_ID, 0, *GEOMETRY)
    if already_stored:
        _put(store, share, ref=_ref("kept"), placement=False)
    files_before = _files(tmp_path)
    too_many = [_ref("same")] * (REFERENCES_LIMIT_MAX + 1)
    with pytest.raises(InvalidArgument,
                       match=rf"{REFERENCES_LIMIT_MAX + 1} references, more than "
                             rf"{REFERENCES_LIMIT_MAX} per commit"):
        _put(store, share, ref=_ref("new"), references=too_many)
    assert store.has_share(share) is already_stored
    assert store.reference_count(share) == (1 if already_stored else 0)
    assert store.get_placement(CHUNK_ID, *GEOMETRY) is None
    assert _files(tmp_path) == files_before


# -- layout_shares -------------------------------------------------------------------------------

def test_layout_shares_lists_one_layout_only(store):
    """layout_shares returns the indexed shares of exactly one layout of one chunk: the replica,
    or the share indexes of that K+M, never another geometry's or another chunk's."""
    stored = [ShareKey(CHUNK_ID), ShareKey(CHUNK_ID, 5, 4, 2), ShareKey(CHUNK_ID, 0, 4, 2),
              ShareKey(CHUNK_ID, 2, 4, 2), ShareKey(CHUNK_ID, 1, 2, 1),
              ShareKey(OTHER_CHUNK_ID, 3, 4, 2)]
    for share in stored:
        _put(store, share)
    assert store.layout_shares(CHUNK_ID) == [ShareKey(CHUNK_ID)]
    assert store.layout_shares(CHUNK_ID, 4, 2) == [ShareKey(CHUNK_ID, i, 4, 2) for i in (0, 2, 5)]
    assert store.layout_shares(CHUNK_ID, 2, 1) == [ShareKey(CHUNK_ID, 1, 2, 1)]
    assert store.layout_shares(CHUNK_ID, 10, 4) == []
    assert store.layout_shares(OTHER_CHUNK_ID) == []
    assert store.layout_shares(OTHER_CHUNK_ID, 4, 2) == [ShareKey(OTHER_CHUNK_ID, 3, 4, 2)]


@pytest.mark.parametrize("args, message", [
    ((CHUNK_ID, 4, 0), r"geometry 4\+0 is invalid"),
    ((CHUNK_ID[:31],), r"chunk id must be 32 bytes"),
])
def test_layout_shares_rejects_bad_layouts(store, args, message):
    """A malformed chunk id or geometry is InvalidArgument, not an empty answer."""
    with pytest.raises(InvalidArgument, match=message):
        store.layout_shares(*args)


# -- drop_copy -----------------------------------------------------------------------------------

def test_drop_copy_keeps_the_placement_while_a_sibling_share_stays(store, tmp_path):
    """Dropping one share of a stripe removes its entry, file and every reference row but keeps
    the layout's placement record while a sibling share is indexed here; dropping the last share
    removes the record. Another layout's record and shares are never touched. Stats follow."""
    first, second = ShareKey(CHUNK_ID, 0, *GEOMETRY), ShareKey(CHUNK_ID, 3, *GEOMETRY)
    replica = ShareKey(CHUNK_ID)
    for share in (first, second, replica):
        _put(store, share, ref=_ref("a"), references=[_ref("b"), _ref("c")])
    assert store.drop_copy(first) is True
    assert not store.has_share(first)
    assert not os.path.exists(store._files.final_path(first))
    assert store.reference_count(first) == 0
    assert store.get_placement(CHUNK_ID, *GEOMETRY) is not None
    assert store.layout_shares(CHUNK_ID, *GEOMETRY) == [second]

    assert store.drop_copy(second) is True
    assert store.get_placement(CHUNK_ID, *GEOMETRY) is None
    assert store.get_placement(CHUNK_ID) is not None
    assert store.has_share(replica) and store.reference_count(replica) == 3
    assert store.stats() == (1, len(_share_data(replica)))
    assert _files(tmp_path) == [store._files.final_path(replica)]


def test_drop_copy_of_the_replica_leaves_the_stripe_alone(store):
    """The replica is its own layout: dropping it removes the replicated placement record even
    though shares of the same chunk under a K+M stay, and those keep their record."""
    share = ShareKey(CHUNK_ID, 0, *GEOMETRY)
    _put(store, share)
    _put(store, ShareKey(CHUNK_ID))
    assert store.drop_copy(ShareKey(CHUNK_ID)) is True
    assert store.get_placement(CHUNK_ID) is None
    assert store.get_placement(CHUNK_ID, *GEOMETRY) is not None
    assert store.has_share(share)


def test_drop_copy_of_an_absent_share_is_false_and_keeps_records(store):
    """Dropping a share that is not here returns False, twice, and leaves a placement record that
    was stored ahead of any share of its layout."""
    store.put_placement(_placement(CHUNK_ID, *GEOMETRY))
    share = ShareKey(CHUNK_ID, 1, *GEOMETRY)
    assert store.drop_copy(share) is False
    assert store.drop_copy(share) is False
    assert store.get_placement(CHUNK_ID, *GEOMETRY) is not None
    assert store.stats() == (0, 0)


def test_drop_copy_ignores_references(store):
    """Unlike release_share, drop_copy removes a copy that object versions still reference (the
    copies repair made elsewhere carry those references)."""
    share = ShareKey(CHUNK_ID)
    _put(store, share, references=[_ref(f"k{i}") for i in range(5)])
    assert store.release_share(share, _ref("k0")).deleted is False
    assert store.drop_copy(share) is True
    assert (store.has_share(share), store.reference_count(share)) == (False, 0)
    assert store.get_placement(CHUNK_ID) is None


def test_drop_copy_of_a_quarantined_copy_clears_its_references(store):
    """A quarantined copy has no entry and no file but keeps its references; dropping it removes
    them and the layout's record, and says False since no entry or file was removed."""
    share = ShareKey(CHUNK_ID)
    _put(store, share, ref=_ref("a"))
    with open(store._files.final_path(share), "ab") as f:
        f.write(b"rot")
    with pytest.raises(CorruptShare):
        store.read_share(share)
    assert store.reference_count(share) == 1
    assert store.drop_copy(share) is False
    assert store.reference_count(share) == 0
    assert store.get_placement(CHUNK_ID) is None


def test_drop_copy_removes_an_orphan_file(store):
    """A file with no index entry (a crash between an index commit and the unlink) is removed,
    and that counts as a drop."""
    share = ShareKey(CHUNK_ID)
    _put(store, share)
    store._drop_index_entry(share)  # the state a crash after the index commit leaves
    assert os.path.exists(store._files.final_path(share))
    assert store.drop_copy(share) is True
    assert not os.path.exists(store._files.final_path(share))
    assert store.stats() == (0, 0)


def test_drop_copy_survives_reopen(tmp_path):
    """What drop_copy removed stays removed after a restart, and the reopened store counts the
    same stats."""
    kept, dropped = ShareKey(CHUNK_ID, 0, *GEOMETRY), ShareKey(CHUNK_ID, 1, *GEOMETRY)
    with NodeStore(str(tmp_path), map_size_bytes=64 * MIB) as s:
        _put(s, kept)
        _put(s, dropped, ref=_ref("a"))
        s.drop_copy(dropped)
        stats = s.stats()
    with NodeStore(str(tmp_path), map_size_bytes=64 * MIB) as s:
        assert s.stats() == stats == (1, len(_share_data(kept)))
        assert s.layout_shares(CHUNK_ID, *GEOMETRY) == [kept]
        assert s.reference_count(dropped) == 0


# -- set_home ------------------------------------------------------------------------------------

def test_set_home_turns_a_handoff_copy_home_once(tmp_path):
    """set_home clears handoff_for_node_id (True), then is a no-op (False); nothing else in the
    entry changes, and it lasts across a restart."""
    share = ShareKey(CHUNK_ID, 2, *GEOMETRY)
    with NodeStore(str(tmp_path), map_size_bytes=64 * MIB, now_unix_ms=lambda: NOW_MS) as s:
        _put(s, share, handoff_for_node_id="node-b")
        before = s.share_info(share)
        assert before.handoff_for_node_id == "node-b"
        assert s.set_home(share) is True
        assert s.set_home(share) is False
        after = s.share_info(share)
    expected = common_pb2.StoredShare()
    expected.CopyFrom(before)
    expected.handoff_for_node_id = ""
    assert after == expected
    with NodeStore(str(tmp_path), map_size_bytes=64 * MIB) as s:
        assert s.share_info(share).handoff_for_node_id == ""


def test_set_home_of_an_absent_or_home_share_is_false(store):
    """An absent share and a copy that is already home are left alone."""
    home = ShareKey(CHUNK_ID)
    _put(store, home)
    assert store.set_home(home) is False
    assert store.set_home(ShareKey(OTHER_CHUNK_ID)) is False
    assert not store.has_share(ShareKey(OTHER_CHUNK_ID))


# -- iter_placements -----------------------------------------------------------------------------

def test_iter_placements_walks_every_layout_across_batches(store, monkeypatch):
    """iter_placements yields every record once, replicated and erasure layouts alike, in key
    order, also across several batches."""
    monkeypatch.setattr(store_module, "ITER_RECORDS_BATCH_MAX", SMALL_BATCH)
    layouts = [(CHUNK_ID, 0, 0), (CHUNK_ID, 4, 2), (CHUNK_ID, 2, 1), (OTHER_CHUNK_ID, 0, 0),
               (OTHER_CHUNK_ID, 10, 4)]
    for chunk_id, k, m in layouts:
        store.put_placement(_placement(chunk_id, k, m))
    listed = list(store.iter_placements())
    keys = [placement_key(r.chunk_id, *policy_geometry(r.policy)) for r in listed]
    assert keys == sorted(placement_key(*layout) for layout in layouts)


def test_iter_placements_holds_no_transaction_between_batches(store, monkeypatch):
    """A record written after the first batch was read, sorting after it, still appears: each
    batch is a fresh read transaction (a held one would not see it)."""
    monkeypatch.setattr(store_module, "ITER_RECORDS_BATCH_MAX", SMALL_BATCH)
    low = [bytes([1]) * 32, bytes([2]) * 32]
    for chunk_id in low:
        store.put_placement(_placement(chunk_id))
    late = bytes([3]) * 32
    walk = store.iter_placements()
    assert [next(walk).chunk_id, next(walk).chunk_id] == low
    store.put_placement(_placement(late))
    assert [r.chunk_id for r in walk] == [late]


def test_iter_placements_of_an_empty_store_is_empty(store):
    """No records, no items."""
    assert list(store.iter_placements()) == []


# -- manifest partitions -------------------------------------------------------------------------

MANIFESTS = [
    # (tenant, bucket, key): buckets and tenants that are prefixes of each other, an empty key, a
    # key of one low control byte, and non-ASCII names.
    ("t", "abc", ""),
    ("t", "abc", "\x01"),
    ("t", "abc", "zebra"),
    ("t", "abcd", "a"),
    ("t", "ab", "x"),
    ("t", "b", "k"),
    ("t2", "abc", "k"),
    ("default", "photos", "cat.jpg"),
    ("é", "ü-bucket", "ключ"),
]


def test_manifest_partitions_lists_each_bucket_once_in_key_order(store):
    """manifest_partitions names every (tenant, bucket) with manifests once, in key order, with
    prefix-sharing names ("abc", "abcd", "ab"; "t", "t2") told apart."""
    for i, (tenant, bucket, key) in enumerate(MANIFESTS):
        store.put_manifest(_manifest(tenant, bucket, key, _stamp(100 + i)))
    expected = sorted({(t, b) for t, b, _ in MANIFESTS},
                      key=lambda p: (p[0].encode() + b"\0" + p[1].encode()))
    assert store.manifest_partitions() == expected
    assert expected[:5] == [("default", "photos"), ("t", "ab"), ("t", "abc"), ("t", "abcd"),
                            ("t", "b")]


def test_manifest_partitions_of_an_empty_store_is_empty(store):
    """No manifests, no partitions (bucket records alone do not make one)."""
    store.put_bucket(_bucket("t", "abc", _stamp(1)))
    assert store.manifest_partitions() == []


def test_metadata_partitions_are_limited(store, monkeypatch):
    """Beyond METADATA_PARTITIONS_MAX partitions the listing raises StoreError naming the limit
    rather than building an unbounded list."""
    assert METADATA_PARTITIONS_MAX >= 10_000
    monkeypatch.setattr(store_module, "METADATA_PARTITIONS_MAX", 2)
    for bucket in ("a", "b", "c"):
        store.put_manifest(_manifest("t", bucket, "k", _stamp(1)))
        store.put_bucket(_bucket(bucket, "name", _stamp(1)))
    with pytest.raises(StoreError, match="more than 2 manifest partitions"):
        store.manifest_partitions()
    with pytest.raises(StoreError, match="more than 2 bucket tenants"):
        store.bucket_tenants()


def test_iter_manifests_walks_one_bucket_across_batches(store, monkeypatch):
    """iter_manifests yields every manifest of exactly one (tenant, bucket), tombstones included,
    in key order, across batches; a bucket whose name extends it ("abcd") is not included."""
    monkeypatch.setattr(store_module, "ITER_RECORDS_BATCH_MAX", SMALL_BATCH)
    keys = ["", "\x01", "a", "a/b", "b", "zebra"]
    for i, key in enumerate(reversed(keys)):
        store.put_manifest(_manifest("t", "abc", key, _stamp(10 + i), tombstone=(key == "b")))
    store.put_manifest(_manifest("t", "abcd", "a", _stamp(1)))
    store.put_manifest(_manifest("t", "ab", "zz", _stamp(1)))
    listed = list(store.iter_manifests("t", "abc"))
    assert [m.key for m in listed] == keys
    assert [m.tombstone for m in listed] == [key == "b" for key in keys]
    assert list(store.iter_manifests("t", "nothing")) == []


# -- delete if version ---------------------------------------------------------------------------

STORED = _stamp(50, logical=2, node_id="node-b")


@pytest.mark.parametrize("asked, deleted", [
    (STORED, True),
    (_stamp(50, logical=2, node_id="node-b", rewrite=1), False),  # a rewrite is newer
    (_stamp(50, logical=1, node_id="node-b"), False),  # older than stored
    (_stamp(51), False),  # newer than stored
    (_stamp(50, logical=2, node_id="node-a"), False),
])
def test_delete_manifest_if_deletes_only_that_exact_version(store, asked, deleted):
    """delete_manifest_if removes the stored manifest only when its version equals the given one
    in every field of the version order; otherwise the stored version stays."""
    store.put_manifest(_manifest("t", "abc", "k", STORED))
    assert store.delete_manifest_if(_manifest("t", "abc", "k", asked)) is deleted
    assert (store.get_manifest("t", "abc", "k") is None) is deleted


def test_delete_manifest_if_never_deletes_a_newer_version(store):
    """The push-then-delete of re-replication: a newer version that arrived after the push is kept,
    and a missing key is False."""
    pushed = _manifest("t", "abc", "k", _stamp(1))
    store.put_manifest(pushed)
    newer = _manifest("t", "abc", "k", _stamp(2))
    store.put_manifest(newer)
    assert store.delete_manifest_if(pushed) is False
    assert store.get_manifest("t", "abc", "k") == newer
    assert store.delete_manifest_if(newer) is True
    assert store.delete_manifest_if(newer) is False
    assert store.manifest_partitions() == []


# -- bucket records ------------------------------------------------------------------------------

def test_bucket_tenants_lists_each_tenant_once(store):
    """bucket_tenants names every tenant with bucket records once, in key order, telling apart
    tenants that are prefixes of each other."""
    for tenant, name in [("t2", "abc"), ("t", "abcd"), ("t", "abc"), ("default", "x"),
                         ("t", "b"), ("é", "y")]:
        store.put_bucket(_bucket(tenant, name, _stamp(1)))
    assert store.bucket_tenants() == ["default", "t", "t2", "é"]
    store.put_manifest(_manifest("other", "abc", "k", _stamp(1)))
    assert "other" not in store.bucket_tenants()


@pytest.mark.parametrize("asked, deleted", [
    (STORED, True),
    (_stamp(50, logical=2, node_id="node-b", rewrite=1), False),
    (_stamp(49), False),
    (_stamp(51), False),
])
def test_delete_bucket_if_deletes_only_that_exact_version(store, asked, deleted):
    """delete_bucket_if follows delete_manifest_if's rule; the tenant's other records stay."""
    store.put_bucket(_bucket("t", "abc", STORED))
    store.put_bucket(_bucket("t", "abcd", STORED))
    assert store.delete_bucket_if(_bucket("t", "abc", asked)) is deleted
    assert [r.name for r in store.list_buckets("t")] == (["abcd"] if deleted else ["abc", "abcd"])
    assert store.delete_bucket_if(_bucket("t", "missing", STORED)) is False


def test_put_placement_if_updated_at_is_a_compare_and_set(store):
    """Repair plans from a snapshot: its record replaces the stored one only while that is still the
    record it scanned (or none is stored), never one a put wrote since."""
    chunk_id = _digest(b"cas")
    scanned = _placement(chunk_id)
    scanned.updated_at_unix_ms = 100
    assert store.put_placement(scanned)
    newer_put = _placement(chunk_id)
    newer_put.updated_at_unix_ms = 200
    assert store.put_placement(newer_put)
    repaired = _placement(chunk_id)
    repaired.updated_at_unix_ms = 300
    assert not store.put_placement(repaired, if_updated_at_unix_ms=100)
    assert store.get_placement(chunk_id).updated_at_unix_ms == 200
    assert store.put_placement(repaired, if_updated_at_unix_ms=200)
    assert store.get_placement(chunk_id).updated_at_unix_ms == 300
    other = _digest(b"cas-none-stored")
    fresh = _placement(other)
    fresh.updated_at_unix_ms = 5
    assert store.put_placement(fresh, if_updated_at_unix_ms=100)
