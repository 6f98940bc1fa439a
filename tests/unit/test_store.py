"""Unit tests of node/store: durable share files, the LMDB index, newest-wins metadata."""

from __future__ import annotations

import os
import random
import threading

import blake3
import lmdb
import pytest

from ringstore.v1 import common_pb2

from node.store import (ChecksumMismatch, CorruptShare, DataDirLocked, InvalidArgument, NodeStore,
                        ShareKey, ShareNotFound, StoreError, UnknownFormatVersion, version_key)
from node.store import store as store_module
from node.store.metadata import seal

MIB = 1024 * 1024
NOW_MS = 1_700_000_000_000
# Geometry of the erasure shares these tests store when they give a share index.
GEOMETRY = (8, 4)


def _bytes(size: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(size)


def _digest(data: bytes) -> bytes:
    return blake3.blake3(data).digest()


def _placement(chunk_id: bytes, *holders: str) -> common_pb2.PlacementRecord:
    """A replicated layout's placement record."""
    return common_pb2.PlacementRecord(
        format_version=1, chunk_id=chunk_id, size_bytes=1,
        policy=common_pb2.RedundancyPolicy(replication=common_pb2.Replication(replicas=3)),
        holders=[common_pb2.ShareHolder(node_id=h, share_index=i) for i, h in enumerate(holders)])


def _put(store: NodeStore, data: bytes, share_index: int | None = None, *,
         placement: common_pb2.PlacementRecord | None = None, handoff: str = "",
         chunk_id: bytes | None = None) -> tuple[ShareKey, bool]:
    geometry = GEOMETRY if share_index is not None else (0, 0)
    share = ShareKey(chunk_id or _digest(data), share_index, *geometry)
    already = store.put_share(share, data, expected_blake3=_digest(data), placement=placement,
                              handoff_for_node_id=handoff)
    return share, already


def _files(root: str) -> list[str]:
    found = []
    for dirpath, _dirs, names in os.walk(root):
        found.extend(os.path.join(dirpath, n) for n in names)
    return sorted(found)


def _stamp(physical_ms: int, logical: int = 0, node_id: str = "node-a") -> common_pb2.VersionStamp:
    return common_pb2.VersionStamp(physical_ms=physical_ms, logical=logical, node_id=node_id)


def _manifest(key: str, stamp: common_pb2.VersionStamp, *, bucket: str = "photos",
              tenant: str = "default", tombstone: bool = False,
              content_type: str = "") -> common_pb2.Manifest:
    return common_pb2.Manifest(format_version=1, tenant=tenant, bucket=bucket, key=key,
                               version=stamp, tombstone=tombstone, content_type=content_type)


def _bucket(name: str, stamp: common_pb2.VersionStamp, *, tenant: str = "default",
            tombstone: bool = False) -> common_pb2.BucketRecord:
    return common_pb2.BucketRecord(format_version=1, tenant=tenant, name=name, version=stamp,
                                   tombstone=tombstone)


@pytest.fixture
def store(tmp_path):
    s = NodeStore(str(tmp_path), map_size_bytes=64 * MIB, now_unix_ms=lambda: NOW_MS)
    yield s
    s.close()


# -- share keys ----------------------------------------------------------------------------------

@pytest.mark.parametrize("chunk_id, share_index", [
    (b"\x01" * 31, None),
    (b"\x01" * 33, None),
    ("ab" * 32, None),
    (b"\x01" * 32, -1),
    (b"\x01" * 32, 256),
    (b"\x01" * 32, True),
    (b"\x01" * 32, "3"),
])
def test_share_key_rejects_bad_input(chunk_id, share_index):
    """A chunk id that is not 32 bytes or a share index outside None/0..K+M-1 is bad input."""
    with pytest.raises(InvalidArgument):
        ShareKey(chunk_id, share_index, 128, 128)
    with pytest.raises(InvalidArgument):
        ShareKey(chunk_id, share_index)


def test_share_key_db_keys_are_distinct_and_round_trip():
    """Every share index of a 128+128 stripe and the replica get distinct index keys (share 114 is
    not b"r") that parse back to the same ShareKey, and file suffixes are "r" or "<i>of<K>+<M>"."""
    chunk_id = bytes(range(32))
    shares = [ShareKey(chunk_id)] + [ShareKey(chunk_id, i, 128, 128) for i in range(256)]
    keys = {s.db_key() for s in shares}
    assert len(keys) == len(shares)
    assert all(ShareKey.from_db_key(s.db_key()) == s for s in shares)
    assert ShareKey(chunk_id).suffix() == "r"
    assert ShareKey(chunk_id, 114, 128, 128).suffix() == "114of128+128"


@pytest.mark.parametrize("older, newer", [
    (_stamp(1, 0, "z"), _stamp(2, 0, "a")),  # physical time first
    (_stamp(5, 1, "z"), _stamp(5, 2, "a")),  # then the logical counter
    (_stamp(5, 1, "node-a"), _stamp(5, 1, "node-b")),  # then node id breaks the tie
])
def test_version_key_orders_by_physical_logical_node(older, newer):
    """version_key orders stamps by (physical_ms, logical, node_id)."""
    assert version_key(older) < version_key(newer)


# -- shares --------------------------------------------------------------------------------------

@pytest.mark.parametrize("size_bytes", [0, 1, 4 * MIB])
@pytest.mark.parametrize("share_index", [None, 3])
def test_share_round_trip(store, tmp_path, size_bytes, share_index):
    """A put share reads back byte for byte, is indexed with its size and blake3, and lives at
    chunks/ab/cd/<hex>.<r|index>."""
    data = _bytes(size_bytes, seed=size_bytes)
    share, already = _put(store, data, share_index)
    assert already is False
    assert store.read_share(share) == data
    assert store.has_share(share)
    info = store.share_info(share)
    assert (info.format_version, info.size_bytes, info.blake3) == (1, size_bytes, _digest(data))
    assert info.stored_at_unix_ms == NOW_MS
    hex_id = share.chunk_id.hex()
    suffix = "r" if share_index is None else f"{share_index}of8+4"
    assert _files(str(tmp_path / "chunks")) == [
        str(tmp_path / "chunks" / hex_id[:2] / hex_id[2:4] / f"{hex_id}.{suffix}")]
    assert store.stats() == (1, size_bytes)


def test_streaming_writer_accepts_pieces_and_memoryviews(store):
    """ShareWriter hashes and writes pieces incrementally; the result equals the whole."""
    data = _bytes(300_000, seed=7)
    share = ShareKey(_digest(data))
    with store.begin_share(share) as writer:
        for start in range(0, len(data), 65_536):
            writer.write(memoryview(data)[start:start + 65_536])
        assert writer.commit(expected_blake3=_digest(data), placement=None) is False
    assert store.read_share(share) == data


def test_dedup_skips_the_write_but_updates_placement(store, tmp_path):
    """A second put of the same share returns already_present, keeps one file and the stats, and
    still replaces the placement record."""
    data = _bytes(1000)
    chunk_id = _digest(data)
    _put(store, data, placement=_placement(chunk_id, "node-a"))
    stats_before = store.stats()
    _, already = _put(store, data, placement=_placement(chunk_id, "node-b"))
    assert already is True
    assert len(_files(str(tmp_path / "chunks"))) == 1
    assert _files(str(tmp_path / "tmp")) == []
    assert store.stats() == stats_before
    assert store.get_placement(chunk_id).holders[0].node_id == "node-b"


def test_checksum_mismatch_stores_nothing(store, tmp_path):
    """Bytes that do not match the promised blake3 raise ChecksumMismatch naming the chunk, and
    leave nothing in tmp/ or chunks/, no index entry and no placement record."""
    data = _bytes(5000)
    chunk_id = _digest(data)
    share = ShareKey(chunk_id)
    with pytest.raises(ChecksumMismatch) as caught:
        store.put_share(share, data + b"x", expected_blake3=chunk_id,
                        placement=_placement(chunk_id, "node-a"))
    assert chunk_id.hex() in str(caught.value)
    assert _files(str(tmp_path / "tmp")) == []
    assert _files(str(tmp_path / "chunks")) == []
    assert not store.has_share(share)
    assert store.get_placement(chunk_id) is None
    assert store.stats() == (0, 0)


def test_abort_leaves_nothing(store, tmp_path):
    """abort() (explicit, repeated, or by an exception inside `with`) removes the temp file and
    indexes nothing."""
    share = ShareKey(_digest(b"abc"))
    writer = store.begin_share(share)
    writer.write(b"abc")
    writer.abort()
    writer.abort()
    with pytest.raises(RuntimeError):
        with store.begin_share(share) as writer:
            writer.write(b"abc")
            raise RuntimeError("client went away")
    assert _files(str(tmp_path / "tmp")) == []
    assert _files(str(tmp_path / "chunks")) == []
    assert not store.has_share(share)


def test_share_larger_than_limit_is_rejected(tmp_path):
    """A writer that sends more than share_size_bytes_max gets InvalidArgument and its temp file
    is gone."""
    with NodeStore(str(tmp_path), map_size_bytes=64 * MIB, share_size_bytes_max=10) as s:
        with pytest.raises(InvalidArgument):
            _put(s, b"x" * 11)
        assert _files(str(tmp_path / "tmp")) == []


def test_placement_must_name_the_share_chunk(store):
    """A placement record for another chunk is bad input; nothing is stored."""
    data = b"payload"
    with pytest.raises(InvalidArgument):
        _put(store, data, placement=_placement(b"\x09" * 32, "node-a"))
    assert store.stats() == (0, 0)


@pytest.mark.parametrize("first, second, expected", [
    ("node-x", "", ""),        # a home write turns a handoff copy into a home copy
    ("", "node-x", ""),        # a handoff write never demotes a home copy
    ("node-x", "node-y", "node-x"),
    ("node-x", "node-x", "node-x"),
])
def test_handoff_state_only_moves_toward_home(store, first, second, expected):
    """Re-writing a share keeps or promotes its home/handoff state, never demotes it."""
    share, _ = _put(store, b"data", handoff=first)
    _, already = _put(store, b"data", handoff=second)
    assert already is True
    assert store.share_info(share).handoff_for_node_id == expected


def test_delete_share_removes_file_index_and_stats(store, tmp_path):
    """delete_share drops the index entry and the file and says whether anything was there."""
    share, _ = _put(store, b"to delete")
    assert store.delete_share(share) is True
    assert store.delete_share(share) is False
    assert not store.has_share(share)
    assert _files(str(tmp_path / "chunks")) == []
    assert store.stats() == (0, 0)
    with pytest.raises(ShareNotFound):
        store.read_share(share)


@pytest.mark.parametrize("corrupt", [
    pytest.param(lambda raw: raw[:100] + bytes([raw[100] ^ 0x01]) + raw[101:], id="flipped-byte"),
    pytest.param(lambda raw: raw[:-1], id="truncated"),
    pytest.param(lambda raw: raw + b"\0", id="extended"),
    pytest.param(lambda raw: b"", id="emptied"),
])
def test_corrupt_file_is_quarantined(store, tmp_path, corrupt):
    """A chunk file whose bytes no longer match the index raises CorruptShare naming the chunk,
    the path and both blake3s; the file moves to quarantine/, the entry is dropped (has_share
    False, stats decremented) and the next read is ShareNotFound."""
    data = _bytes(4096, seed=3)
    share, _ = _put(store, data)
    path = _files(str(tmp_path / "chunks"))[0]
    with open(path, "rb") as f:
        bad = corrupt(f.read())
    with open(path, "wb") as f:
        f.write(bad)
    with pytest.raises(CorruptShare) as caught:
        store.read_share(share)
    message = str(caught.value)
    assert share.chunk_id.hex() in message and path in message
    assert caught.value.expected_blake3 == _digest(data)
    assert caught.value.actual_blake3 == _digest(bad)
    assert caught.value.actual_size_bytes == len(bad)
    quarantined = _files(str(tmp_path / "quarantine"))
    assert quarantined == [caught.value.quarantine_path]
    with open(quarantined[0], "rb") as f:
        assert f.read() == bad
    assert not os.path.exists(path)
    assert not store.has_share(share)
    assert store.stats() == (0, 0)
    with pytest.raises(ShareNotFound):
        store.read_share(share)


def test_missing_file_is_not_found_and_drops_entry(store, tmp_path):
    """An index entry whose file vanished reads as ShareNotFound and the entry is dropped."""
    share, _ = _put(store, b"gone soon")
    os.unlink(_files(str(tmp_path / "chunks"))[0])
    with pytest.raises(ShareNotFound):
        store.read_share(share)
    assert not store.has_share(share)
    assert store.stats() == (0, 0)


def test_has_share_sees_a_deleted_file_and_drops_the_entry(store, tmp_path):
    """has_share (HasChunk's and fsck's probe) stats the file: a copy whose file was deleted is
    absent and its index entry is dropped (stats count it out), so repair sees a lost copy."""
    share, _ = _put(store, b"deleted behind our back")
    assert store.has_share(share)
    os.unlink(store._files.final_path(share))
    assert not store.has_share(share)
    assert store.share_info(share) is None and store.stats() == (0, 0)
    assert not store.has_share(share)


def test_has_share_quarantines_a_file_of_the_wrong_size(store, tmp_path):
    """A truncated file is found by its size alone (no read when the size matches) and
    quarantined; a same-size flipped byte passes has_share but not verify_share."""
    truncated, _ = _put(store, _bytes(4096, seed=1))
    with open(store._files.final_path(truncated), "r+b") as f:
        f.truncate(100)
    assert not store.has_share(truncated)
    assert len(os.listdir(tmp_path / "quarantine")) == 1
    flipped, _ = _put(store, _bytes(4096, seed=2))
    with open(store._files.final_path(flipped), "r+b") as f:
        f.write(b"\xff")
    assert store.has_share(flipped)
    assert not store.verify_share(flipped)
    assert not store.has_share(flipped)
    intact, _ = _put(store, _bytes(4096, seed=3))
    assert store.verify_share(intact) and store.has_share(intact)


def test_rewrite_after_corruption_restores_the_share(store):
    """After quarantine, writing the same share again stores it afresh (repair's path)."""
    data = _bytes(2048, seed=9)
    share, _ = _put(store, data)
    with open(store._files.final_path(share), "r+b") as f:
        f.write(b"\xff")
    with pytest.raises(CorruptShare):
        store.read_share(share)
    _, already = _put(store, data)
    assert already is False
    assert store.read_share(share) == data


def test_concurrent_writers_of_one_share_both_succeed(store, tmp_path):
    """Threads writing the same share at once all succeed, exactly one actually writes, and one
    intact file remains with nothing left in tmp/."""
    data = _bytes(MIB, seed=11)
    share = ShareKey(_digest(data))
    writers_count = 4
    barrier = threading.Barrier(writers_count)
    results: list[bool] = []
    errors: list[BaseException] = []

    def write() -> None:
        try:
            with store.begin_share(share) as writer:
                writer.write(data)
                barrier.wait(timeout=30)
                results.append(writer.commit(expected_blake3=share.chunk_id, placement=None))
        except BaseException as exc:  # noqa: BLE001 - surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=write) for _ in range(writers_count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert sorted(results) == [False] + [True] * (writers_count - 1)
    assert len(_files(str(tmp_path / "chunks"))) == 1
    assert _files(str(tmp_path / "tmp")) == []
    assert store.read_share(share) == data
    assert store.stats() == (1, MIB)


def test_stats_track_puts_overwrites_and_deletes(store):
    """stats() equals the count and byte sum of the index after puts, dedups, content-changing
    overwrites, deletes and quarantines."""
    shares = [_put(store, _bytes(100 * i, seed=i))[0] for i in range(1, 6)]
    _put(store, _bytes(100, seed=1))  # dedup
    erasure = ShareKey(b"\x05" * 32, 0, *GEOMETRY)
    store.put_share(erasure, b"a" * 10, expected_blake3=_digest(b"a" * 10), placement=None)
    store.put_share(erasure, b"b" * 30, expected_blake3=_digest(b"b" * 30), placement=None)
    store.delete_share(shares[0])
    with open(store._files.final_path(shares[1]), "ab") as f:
        f.write(b"junk")
    with pytest.raises(CorruptShare):
        store.read_share(shares[1])
    listed = list(store.iter_shares())
    assert store.stats() == (len(listed), sum(info.size_bytes for _, info in listed))
    assert store.stats() == (4, 300 + 400 + 500 + 30)


def test_iter_shares_walks_every_entry_across_batches(store, monkeypatch):
    """iter_shares yields every share once, in key order, also when it spans several batches."""
    monkeypatch.setattr(store_module, "ITER_SHARES_BATCH_MAX", 2)
    shares = {_put(store, _bytes(10, seed=i))[0] for i in range(5)}
    first = min(shares, key=ShareKey.db_key)
    shares.add(_put(store, b"share", 7, chunk_id=first.chunk_id)[0])
    listed = [share for share, _ in store.iter_shares()]
    assert sorted(listed, key=ShareKey.db_key) == listed
    assert set(listed) == shares


def test_mark_verified_sets_the_time(tmp_path):
    """mark_verified stamps last_verified_at with the injected clock and skips missing shares."""
    clock = [NOW_MS]
    with NodeStore(str(tmp_path), map_size_bytes=64 * MIB, now_unix_ms=lambda: clock[0]) as s:
        share, _ = _put(s, b"scrub me")
        clock[0] += 5000
        assert s.mark_verified([share, ShareKey(b"\x00" * 32)]) == 1
        info = s.share_info(share)
        assert (info.stored_at_unix_ms, info.last_verified_at_unix_ms) == (NOW_MS, NOW_MS + 5000)


# -- restart -------------------------------------------------------------------------------------

def test_reopen_keeps_everything(tmp_path):
    """Everything acknowledged before close is there after reopening: shares, stats, placements,
    manifests, buckets and the node id."""
    data = _bytes(70_000, seed=5)
    chunk_id = _digest(data)
    with NodeStore(str(tmp_path), map_size_bytes=64 * MIB) as s:
        s.save_node_id("node-a")
        _put(s, data, placement=_placement(chunk_id, "node-a", "node-b"))
        _put(s, b"share-2", 2, chunk_id=chunk_id)
        s.put_manifest(_manifest("cat.jpg", _stamp(10)))
        s.put_bucket(_bucket("photos", _stamp(3)))
        stats = s.stats()
    with NodeStore(str(tmp_path), map_size_bytes=64 * MIB) as s:
        assert s.load_node_id() == "node-a"
        assert s.read_share(ShareKey(chunk_id)) == data
        assert s.read_share(ShareKey(chunk_id, 2, *GEOMETRY)) == b"share-2"
        assert s.stats() == stats == (2, 70_007)
        assert [h.node_id for h in s.get_placement(chunk_id).holders] == ["node-a", "node-b"]
        assert s.get_manifest("default", "photos", "cat.jpg").version.physical_ms == 10
        assert s.get_bucket("default", "photos").version.physical_ms == 3


def test_temp_files_are_removed_at_open(tmp_path):
    """Temp files a crash left in tmp/ are deleted when the store opens, and never indexed."""
    with NodeStore(str(tmp_path), map_size_bytes=64 * MIB) as s:
        writer = s.begin_share(ShareKey(_digest(b"half")))
        writer.write(b"ha")  # "crash": never committed nor aborted
        (tmp_path / "tmp" / "stray.r.0123").write_bytes(b"junk")
        writer._close_file()
    assert len(_files(str(tmp_path / "tmp"))) == 2
    with NodeStore(str(tmp_path), map_size_bytes=64 * MIB) as s:
        assert _files(str(tmp_path / "tmp")) == []
        assert s.temp_files_removed_at_open == 2
        assert s.stats() == (0, 0)


def test_second_open_of_a_data_dir_is_refused(store, tmp_path):
    """A data dir already open (here or in another process) cannot be opened again."""
    with pytest.raises(DataDirLocked):
        NodeStore(str(tmp_path), map_size_bytes=64 * MIB)


def test_node_id_is_saved_once(store):
    """The node id round-trips; saving the same id again is a no-op, a different one an error."""
    assert store.load_node_id() is None
    store.save_node_id("node-a")
    store.save_node_id("node-a")
    with pytest.raises(StoreError):
        store.save_node_id("node-b")
    assert store.load_node_id() == "node-a"


# -- format versions -----------------------------------------------------------------------------

@pytest.mark.parametrize("put", [
    pytest.param(lambda s: s.put_manifest(common_pb2.Manifest(
        format_version=2, tenant="t", bucket="b", key="k")), id="manifest-v2"),
    pytest.param(lambda s: s.put_manifest(common_pb2.Manifest(
        tenant="t", bucket="b", key="k")), id="manifest-unset"),
    pytest.param(lambda s: s.put_bucket(common_pb2.BucketRecord(
        format_version=9, tenant="t", name="bbb")), id="bucket-v9"),
    pytest.param(lambda s: s.put_placement(common_pb2.PlacementRecord(
        format_version=2, chunk_id=b"\x01" * 32)), id="placement-v2"),
    pytest.param(lambda s: _put(s, b"x", placement=common_pb2.PlacementRecord(
        format_version=2, chunk_id=_digest(b"x"))), id="share-placement-v2"),
])
def test_unknown_record_version_is_rejected_on_write(store, put):
    """A record whose format_version this code does not know is refused with UnknownFormatVersion
    and nothing is stored."""
    with pytest.raises(UnknownFormatVersion, match="format_version"):
        put(store)
    assert store.stats() == (0, 0)


def _raw_put(data_dir, db_name: bytes, key: bytes, value: bytes) -> None:
    env = lmdb.open(os.path.join(data_dir, "meta"), max_dbs=10, map_size=64 * MIB, subdir=True)
    try:
        with env.begin(write=True) as txn:
            txn.put(key, value, db=env.open_db(db_name, txn=txn))
    finally:
        env.close()


def test_unknown_record_version_on_disk_is_rejected_on_read(tmp_path):
    """A manifest written by a newer node (format_version 2) raises UnknownFormatVersion when read
    or listed instead of being half-understood."""
    NodeStore(str(tmp_path), map_size_bytes=64 * MIB).close()
    newer = common_pb2.Manifest(format_version=2, tenant="t", bucket="b", key="k")
    _raw_put(str(tmp_path), b"manifests", b"t\0b\0k",
             seal(b"manifests", b"t\0b\0k", newer.SerializeToString()))
    with NodeStore(str(tmp_path), map_size_bytes=64 * MIB) as s:
        with pytest.raises(UnknownFormatVersion):
            s.get_manifest("t", "b", "k")
        with pytest.raises(UnknownFormatVersion):
            s.list_manifests("t", "b")


def test_unknown_data_dir_version_refuses_to_open(tmp_path):
    """A data dir whose layout format_version is neither 8 nor a migratable 1..7 is not
    opened (and not swept)."""
    NodeStore(str(tmp_path), map_size_bytes=64 * MIB).close()
    _raw_put(str(tmp_path), b"meta", b"format_version", b"9")
    (tmp_path / "tmp" / "keep.r.1").write_bytes(b"x")
    with pytest.raises(UnknownFormatVersion, match="format_version"):
        NodeStore(str(tmp_path), map_size_bytes=64 * MIB)
    assert (tmp_path / "tmp" / "keep.r.1").exists()
    _raw_put(str(tmp_path), b"meta", b"format_version", b"5")
    NodeStore(str(tmp_path), map_size_bytes=64 * MIB).close()


# -- placements ----------------------------------------------------------------------------------

def test_placement_put_get_and_delete(store):
    """Placement records round-trip, the last put wins, and absent chunks read as None."""
    chunk_id = b"\x07" * 32
    assert store.get_placement(chunk_id) is None
    store.put_placement(_placement(chunk_id, "node-a", "node-b"))
    store.put_placement(_placement(chunk_id, "node-a", "node-c"))
    assert [h.node_id for h in store.get_placement(chunk_id).holders] == ["node-a", "node-c"]
    assert store.delete_placement(chunk_id) is True
    assert store.get_placement(chunk_id) is None


def test_share_commit_writes_its_placement(store):
    """A share's placement record is committed together with the share."""
    data = b"with placement"
    _put(store, data, placement=_placement(_digest(data), "node-a"))
    assert store.get_placement(_digest(data)).holders[0].node_id == "node-a"


# -- manifests -----------------------------------------------------------------------------------

@pytest.mark.parametrize("puts, expected_superseded, expected_content_type", [
    # (stamp, content_type) in put order
    ([(_stamp(1), "v1"), (_stamp(2), "v2")], [False, False], "v2"),
    ([(_stamp(2), "v2"), (_stamp(1), "v1")], [False, True], "v2"),  # older put superseded
    ([(_stamp(2), "v2"), (_stamp(2), "v2-again")], [False, True], "v2"),  # equal: idempotent
    ([(_stamp(2, 1), "l1"), (_stamp(2, 0), "l0")], [False, True], "l1"),
    ([(_stamp(2, 0, "node-b"), "b"), (_stamp(2, 0, "node-a"), "a")], [False, True], "b"),
    ([(_stamp(2, 0, "node-a"), "a"), (_stamp(2, 0, "node-b"), "b")], [False, False], "b"),
])
def test_manifest_newest_wins(store, puts, expected_superseded, expected_content_type):
    """Only the newest version of a key is kept: older or equal stamps are superseded, ties on
    (physical_ms, logical) are broken by node id."""
    superseded = [store.put_manifest(_manifest("k", stamp, content_type=ct)) for stamp, ct in puts]
    assert superseded == expected_superseded
    assert store.get_manifest("default", "photos", "k").content_type == expected_content_type


def test_tombstone_is_a_version_like_any_other(store):
    """A newer tombstone replaces the object; an older live version cannot resurrect it."""
    store.put_manifest(_manifest("k", _stamp(1)))
    assert store.put_manifest(_manifest("k", _stamp(2), tombstone=True)) is False
    assert store.put_manifest(_manifest("k", _stamp(1, 5))) is True
    assert store.get_manifest("default", "photos", "k").tombstone is True
    assert store.get_manifest("default", "photos", "missing") is None


LISTING_KEYS = ["a/1", "a/2", "a/3", "b/1", "b/2", "c"]


@pytest.mark.parametrize("prefix, start_after, limit, expected_keys, expected_more", [
    ("", "", 1000, LISTING_KEYS, False),
    ("", "", 6, LISTING_KEYS, False),
    ("", "", 5, LISTING_KEYS[:5], True),
    ("a/", "", 1000, ["a/1", "a/2", "a/3"], False),
    ("a/", "", 2, ["a/1", "a/2"], True),
    ("a/", "a/2", 1000, ["a/3"], False),
    ("a/", "a/3", 1000, [], False),
    ("a/", "a/25", 1000, ["a/3"], False),   # start_after need not exist
    ("b/", "a/2", 1000, ["b/1", "b/2"], False),  # start_after before the prefix
    ("a/", "b", 1000, [], False),  # start_after past the prefix
    ("", "b/1", 2, ["b/2", "c"], False),
    ("", "b/1", 1, ["b/2"], True),
    ("c", "", 1000, ["c"], False),
    ("d", "", 1000, [], False),
])
def test_list_manifests_prefix_start_after_limit(store, prefix, start_after, limit,
                                                 expected_keys, expected_more):
    """list_manifests returns keys > start_after with the prefix, in order, at most `limit`,
    tombstones included, and says whether more exist; other buckets and tenants never leak in."""
    for i, key in enumerate(LISTING_KEYS):
        store.put_manifest(_manifest(key, _stamp(i + 1), tombstone=(key == "b/1")))
    store.put_manifest(_manifest("a/0", _stamp(1), bucket="photo"))  # bucket name is a prefix
    store.put_manifest(_manifest("a/0", _stamp(1), bucket="photos-2"))
    store.put_manifest(_manifest("a/0", _stamp(1), tenant="other"))
    found, more = store.list_manifests("default", "photos", prefix=prefix,
                                       start_after=start_after, limit=limit)
    assert [m.key for m in found] == expected_keys
    assert more is expected_more
    assert all(m.tombstone == (m.key == "b/1") for m in found)


def test_list_manifests_orders_unicode_by_code_point(store):
    """Unicode keys round-trip and list in code point order, with unicode prefixes."""
    keys = ["z", "é", "日本/猫.jpg", "日本/犬.jpg", "a", "😀", "Z", "ß"]
    for i, key in enumerate(keys):
        store.put_manifest(_manifest(key, _stamp(i + 1)))
    found, more = store.list_manifests("default", "photos")
    assert [m.key for m in found] == sorted(keys) and more is False
    found, _ = store.list_manifests("default", "photos", prefix="日本/")
    assert [m.key for m in found] == ["日本/犬.jpg", "日本/猫.jpg"]
    found, _ = store.list_manifests("default", "photos", start_after="日本/犬.jpg")
    assert [m.key for m in found] == ["日本/猫.jpg", "😀"]
    assert store.get_manifest("default", "photos", "😀").version.physical_ms == 6


@pytest.mark.parametrize("limit", [0, -1, 10_001])
def test_list_manifests_rejects_bad_limit(store, limit):
    """A limit outside 1..LIST_MANIFESTS_LIMIT_MAX is bad input."""
    with pytest.raises(InvalidArgument):
        store.list_manifests("default", "photos", limit=limit)


# -- buckets -------------------------------------------------------------------------------------

def test_bucket_records_newest_wins_and_list_by_name(store):
    """Bucket records keep the newest version (tombstones too) and list by name per tenant."""
    assert store.put_bucket(_bucket("zeta", _stamp(1))) is False
    assert store.put_bucket(_bucket("alpha", _stamp(1))) is False
    assert store.put_bucket(_bucket("alpha", _stamp(3), tombstone=True)) is False
    assert store.put_bucket(_bucket("alpha", _stamp(2))) is True
    assert store.put_bucket(_bucket("alpha", _stamp(3), tombstone=True)) is True
    assert store.put_bucket(_bucket("mid", _stamp(1), tenant="other")) is False
    listed = store.list_buckets("default")
    assert [(b.name, b.tombstone) for b in listed] == [("alpha", True), ("zeta", False)]
    assert [b.name for b in store.list_buckets("other")] == ["mid"]
    assert store.list_buckets("nobody") == []
    assert store.get_bucket("default", "alpha").version.physical_ms == 3
    assert store.get_bucket("default", "missing") is None


def test_read_share_referenced_never_answers_a_collected_copy_without_its_references(store, monkeypatch):
    """Repair reads a copy and its references to carry them along; garbage collection may release
    the last reference (deleting the copy) between the two reads. The references come first, so
    the answer is the copy with them, or ShareNotFound: never the bytes with no references, which
    repair would have to copy as a copy it cannot judge."""
    data = _bytes(5000, seed=3)
    share = ShareKey(_digest(data))
    ref = common_pb2.ObjectRef(tenant="t", bucket="b", key="k", version=_stamp(1_700_000_000_000))
    store.put_share(share, data, expected_blake3=_digest(data), placement=None, referenced_by=ref)

    read, refs = store.read_share_referenced(share)
    assert read == data and [r.key for r in refs] == ["k"]

    real_read = store.read_share

    def collected_after_the_bytes(key):  # the collector's pass lands right after the bytes were read
        out = real_read(key)
        assert store.release_share(key, ref).deleted
        return out

    monkeypatch.setattr(store, "read_share", collected_after_the_bytes)
    read, refs = store.read_share_referenced(share)
    assert read == data and [r.key for r in refs] == ["k"], "the bytes come with the references they had"

    store.put_share(share, data, expected_blake3=_digest(data), placement=None, referenced_by=ref)

    def collected_before_the_bytes(key):
        assert store.release_share(key, ref).deleted
        return real_read(key)

    monkeypatch.setattr(store, "read_share", collected_before_the_bytes)
    with pytest.raises(ShareNotFound):
        store.read_share_referenced(share)
