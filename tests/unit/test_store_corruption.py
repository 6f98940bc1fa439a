"""Unit tests of damaged metadata: the checksum envelope of every LMDB value, a record found corrupt
at run time (quarantined, never returned), at open (quarantined, the store refills), and an env
LMDB itself cannot walk (moved aside, a fresh one with the share files re-indexed)."""

from __future__ import annotations

import os
import random
import shutil
import signal
import struct
import subprocess
import sys
import time

import blake3
import lmdb
import pytest

from ringstore.v1 import common_pb2

from node.store import CorruptRecord, MetadataUnavailable, NodeStore, ShareKey
from node.store.metadata import ENVELOPE_HEADER_BYTES, seal, unseal

MIB = 1024 * 1024


def _manifest(key: str, size_bytes: int = 10) -> common_pb2.Manifest:
    return common_pb2.Manifest(format_version=1, tenant="t", bucket="b", key=key,
                               size_bytes=size_bytes,
                               version=common_pb2.VersionStamp(physical_ms=1, node_id="n"))


def _raw(data_dir, db_name: bytes, key: bytes, value: bytes | None = None) -> bytes | None:
    """Read (or, given `value`, overwrite) one stored value behind the store's back."""
    env = lmdb.open(os.path.join(data_dir, "meta"), max_dbs=10, map_size=64 * MIB, subdir=True)
    try:
        with env.begin(write=True) as txn:
            db = env.open_db(db_name, txn=txn)
            if value is not None:
                txn.put(key, value, db=db)
            return txn.get(key, db=db)
    finally:
        env.close()


def _flip(raw: bytes, at: int) -> bytes:
    return raw[:at] + bytes([raw[at] ^ 0x01]) + raw[at + 1:]


def test_envelope_round_trips_and_any_flipped_byte_is_caught():
    """seal/unseal give the payload back; flipping any single byte of the stored value (version,
    checksum or payload), or reading it under another key or db, raises CorruptRecord naming the
    db and a hash of the key, never the payload."""
    payload = _manifest("k").SerializeToString()
    stored = seal(b"manifests", b"t\0b\0k", payload)
    assert len(stored) == len(payload) + ENVELOPE_HEADER_BYTES
    assert unseal(b"manifests", b"t\0b\0k", stored) == payload
    for at in range(len(stored)):
        with pytest.raises(CorruptRecord, match=r"corrupt record in db manifests \(key blake3 "):
            unseal(b"manifests", b"t\0b\0k", _flip(stored, at))
    with pytest.raises(CorruptRecord):
        unseal(b"manifests", b"t\0b\0x", stored)
    with pytest.raises(CorruptRecord):
        unseal(b"buckets", b"t\0b\0k", stored)
    with pytest.raises(CorruptRecord, match="shorter than its envelope"):
        unseal(b"manifests", b"t\0b\0k", stored[:4])


def test_a_flipped_byte_found_at_run_time_is_quarantined_and_not_answered_until_put_back(tmp_path):
    """A manifest whose stored value changed under the store raises CorruptRecord on read (not a
    parse error, not data); the record is dropped, counted per db and reported to the hook once;
    until a good copy is put back, reading or listing it says MetadataUnavailable instead of an
    authoritative "absent" (CorruptRecord again, counted once); a put clears it."""
    store = NodeStore(str(tmp_path / "a"), map_size_bytes=64 * MIB)
    store.put_manifest(_manifest("k"))
    store.put_manifest(_manifest("other"))
    store.close()
    key = b"\0".join([b"t", b"b", b"k"])
    raw = _raw(tmp_path / "a", b"manifests", key)
    assert raw is not None, "manifest key layout changed; update the test"
    store = NodeStore(str(tmp_path / "a"), map_size_bytes=64 * MIB)
    assert store.open_report is None
    with store._meta.env.begin(write=True) as txn:  # the disk changes under the running store
        txn.put(key, _flip(raw, len(raw) - 3), db=store._meta.manifests)
    seen: list[CorruptRecord] = []
    store.set_corrupt_record_hook(seen.append)
    with pytest.raises(CorruptRecord):
        store.get_manifest("t", "b", "k")
    assert [err.db for err in seen] == ["manifests"]
    assert store.corrupt_records == {"manifests": 1}
    with store._meta.env.begin() as txn:
        assert txn.get(key, db=store._meta.manifests) is None
    assert store.metadata_health() == "refilling"
    with pytest.raises(CorruptRecord, match="quarantined and not put back yet"):
        store.get_manifest("t", "b", "k")
    with pytest.raises(CorruptRecord):
        store.list_manifests("t", "b")
    assert store.corrupt_records == {"manifests": 1} and len(seen) == 1
    assert store.get_manifest("t", "b", "other") is not None
    store.put_manifest(_manifest("k", size_bytes=11))
    assert store.get_manifest("t", "b", "k").size_bytes == 11
    assert store.metadata_health() == "ok"
    store.close()


def test_corrupt_records_found_at_open_are_quarantined_and_the_store_waits_for_a_refill(tmp_path):
    """A value damaged while the node was down is found by the walk at open: the record is gone,
    counted, listed in open_report, and metadata reads wait for the refill from peers
    (finish_refill) instead of answering "absent"."""
    store = NodeStore(str(tmp_path), map_size_bytes=64 * MIB)
    store.put_manifest(_manifest("k"))
    store.save_node_id("node-a")
    store.close()
    key = b"\0".join([b"t", b"b", b"k"])
    _raw(tmp_path, b"manifests", key, _flip(_raw(tmp_path, b"manifests", key), 12))
    store = NodeStore(str(tmp_path), map_size_bytes=64 * MIB)
    assert store.open_report is not None and not store.open_report.moved_to
    assert [err.db for err in store.open_report.corrupt] == ["manifests"]
    assert store.corrupt_records == {"manifests": 1}
    with pytest.raises(MetadataUnavailable, match="being refilled"):
        store.get_manifest("t", "b", "k")
    store.finish_refill(cleared=store.quarantined_keys())
    assert store.get_manifest("t", "b", "k") is None
    assert store.load_node_id() == "node-a"
    store.close()


def test_an_env_lmdb_cannot_walk_is_moved_aside_and_the_share_files_reindexed(tmp_path):
    """Garbage over the middle of data.mdb: open moves the env to meta.corrupt-<ms> (owner-only),
    starts a fresh one that keeps the node id, indexes every intact replica file again (a file
    whose bytes do not match its name goes to quarantine/), and waits for a refill."""
    store = NodeStore(str(tmp_path), map_size_bytes=64 * MIB, now_unix_ms=lambda: 1234)
    store.save_node_id("node-a")
    datas = [bytes([i]) * (1000 + i) for i in range(20)]
    for data in datas:
        chunk_id = blake3.blake3(data).digest()
        store.put_share(ShareKey(chunk_id), data, expected_blake3=chunk_id, placement=None)
    for i in range(300):
        store.put_manifest(_manifest(f"key-{i:04d}", size_bytes=i))
    rotten = ShareKey(blake3.blake3(datas[0]).digest())
    store.close()
    with open(tmp_path / "chunks" / rotten.chunk_id[:1].hex() / rotten.chunk_id[1:2].hex()
              / str(rotten), "r+b") as f:
        f.write(b"X")
    path = tmp_path / "meta" / "data.mdb"
    size_bytes = path.stat().st_size
    with open(path, "r+b") as f:
        f.seek(size_bytes // 2 - 8192)
        f.write(os.urandom(16384))  # any garbage: pages that abort LMDB are caught in a child (below)
    f.close()

    store = NodeStore(str(tmp_path), map_size_bytes=64 * MIB, now_unix_ms=lambda: 1234)
    report = store.open_report
    assert report is not None
    if report.moved_to:  # LMDB could not walk it
        aside = tmp_path / "meta.corrupt-1234"
        assert report.moved_to == str(aside)
        assert (aside.stat().st_mode & 0o077) == 0 and (aside / "data.mdb").exists()
        assert report.shares_reindexed == 19 and report.share_files_refused == 1
        assert store.stats()[0] == 19
        assert store.load_node_id() == "node-a"
        for data in datas[1:]:
            assert store.read_share(ShareKey(blake3.blake3(data).digest())) == data
    else:  # the garbage fell on values only: each one is caught by its checksum
        assert report.corrupt
    assert store.metadata_health() == "refilling"
    with pytest.raises(MetadataUnavailable):
        store.list_manifests("t", "b")
    store.close()


# LMDB pages: 4 KiB each, the flags half-word at byte 10 of each (P_BRANCH 0x01, P_LEAF 0x02);
# pages 0 and 1 are the meta pages.
PAGE_BYTES = 4096
PAGE_FLAGS_OFFSET = 10
P_BRANCH, P_LEAF = 0x01, 0x02
ABORTING_PAGES_WANTED = 2
# Opening the store as it would be without the child's walk first: in this process, the env as found.
_UNPROTECTED = ("import sys; import node.store.store as store; store.probe_env = lambda path: ('', None); "
                "store.NodeStore(sys.argv[1], map_size_bytes=64 << 20).close()")
_OPEN = ("import sys; from node.store import NodeStore; s = NodeStore(sys.argv[1], map_size_bytes=64 << 20); "
         "print(bool(s.open_report and s.open_report.moved_to), s.load_node_id(), s.metadata_health()); s.close()")


def test_pages_that_abort_lmdb_make_the_env_damaged_not_the_node_dead(tmp_path):
    """Some damaged pages trip LMDB's assertions, which abort the process reading them (SIGABRT; no
    handler survives): a leaf page whose flags say branch does, in many places. The store walks the
    env in a child process before opening it, so such an env is moved aside and rebuilt like any
    other damaged one, the node id kept: shown on pages that do abort a store opened without that
    walk (the meta db's page, which holds the node id, is left alone)."""
    base = tmp_path / "base"
    store = NodeStore(str(base), map_size_bytes=64 * MIB, now_unix_ms=lambda: 1234)
    store.save_node_id("node-a")
    for i in range(300):
        store.put_manifest(_manifest(f"key-{i:04d}", size_bytes=i))
    store.close()
    image = (base / "meta" / "data.mdb").read_bytes()
    leaves = [page for page in range(2, len(image) // PAGE_BYTES)
              if struct.unpack_from("<H", image, page * PAGE_BYTES + PAGE_FLAGS_OFFSET)[0] & P_LEAF
              and b"node_id" not in image[page * PAGE_BYTES:(page + 1) * PAGE_BYTES]]
    aborted = 0
    for page in leaves:
        data_dir = tmp_path / f"page-{page}"
        shutil.copytree(base, data_dir)
        with open(data_dir / "meta" / "data.mdb", "r+b") as f:
            f.seek(page * PAGE_BYTES + PAGE_FLAGS_OFFSET)
            f.write(struct.pack("<H", P_BRANCH))
        unprotected = subprocess.run([sys.executable, "-c", _UNPROTECTED, str(data_dir)], capture_output=True,
                                     check=False)
        if unprotected.returncode != -signal.SIGABRT:
            continue
        shutil.rmtree(data_dir)
        shutil.copytree(base, data_dir)  # the unprotected open may have moved it aside: damage it again
        with open(data_dir / "meta" / "data.mdb", "r+b") as f:
            f.seek(page * PAGE_BYTES + PAGE_FLAGS_OFFSET)
            f.write(struct.pack("<H", P_BRANCH))
        aborted += 1
        opened = subprocess.run([sys.executable, "-c", _OPEN, str(data_dir)], capture_output=True, text=True,
                                check=False)
        assert opened.returncode == 0, opened.stderr[-500:]
        assert opened.stdout.split() == ["True", "node-a", "refilling"], opened.stdout
        if aborted == ABORTING_PAGES_WANTED:
            return
    pytest.fail(f"{aborted} of {len(leaves)} leaf pages turned branch aborted an unprotected open: the case is "
                "not shown")


def test_rebuild_metadata_flag_starts_a_fresh_env_from_the_files(tmp_path):
    """NodeStore(rebuild_metadata=True) (noded --rebuild-metadata) moves even a clean env aside
    and rebuilds the index from the share files."""
    store = NodeStore(str(tmp_path), map_size_bytes=64 * MIB, now_unix_ms=lambda: 99)
    data = b"hello"
    chunk_id = blake3.blake3(data).digest()
    store.put_share(ShareKey(chunk_id), data, expected_blake3=chunk_id, placement=None)
    store.put_manifest(_manifest("k"))
    store.close()
    store = NodeStore(str(tmp_path), map_size_bytes=64 * MIB, now_unix_ms=lambda: 99,
                      rebuild_metadata=True)
    assert store.open_report.moved_to.endswith("meta.corrupt-99")
    assert store.read_share(ShareKey(chunk_id)) == data
    store.finish_refill()
    assert store.get_manifest("t", "b", "k") is None
    store.close()


def test_lmdb_failing_at_run_time_marks_the_metadata_damaged_until_restart(tmp_path):
    """Garbage written over the b-tree pages of a running store's data.mdb: the next metadata
    read fails with MetadataUnavailable naming the damage (never an lmdb error, never data), and
    every later call too, chunk index included: metadata_health() is "damaged" until a restart
    rebuilds the env."""
    store = NodeStore(str(tmp_path), map_size_bytes=64 * MIB)
    for i in range(300):
        store.put_manifest(_manifest(f"key-{i:04d}", size_bytes=i))
    path = tmp_path / "meta" / "data.mdb"
    size_bytes = path.stat().st_size
    with open(path, "r+b") as f:  # the store's read-only map shares these pages
        f.seek(4096 * 2)
        f.write(b"\xff" * (size_bytes - 4096 * 2))
    with pytest.raises(MetadataUnavailable, match="is damaged .*restart the node"):
        store.list_manifests("t", "b", limit=1000)
    assert store.metadata_health() == "damaged"
    with pytest.raises(MetadataUnavailable):
        store.get_manifest("t", "b", "key-0001")
    with pytest.raises(MetadataUnavailable):
        store.has_share(ShareKey(b"\x01" * 32))
    store.close()
    store = NodeStore(str(tmp_path), map_size_bytes=64 * MIB)
    assert store.open_report is not None and store.open_report.moved_to
    store.close()


def test_local_replica_calls_turn_a_corrupt_record_into_a_holder_error(tmp_path):
    """Replicas calls the local store directly when the holder is this node: a corrupt manifest
    is HolderError kind "corrupt" and metadata being refilled is kind "unavailable", the same as a
    remote holder answering DATA_LOSS or UNAVAILABLE, so the coordinator's quorum read goes on
    with the other replicas instead of failing with an internal error."""
    from types import SimpleNamespace

    from node.objects.replicas import HolderError, Replicas
    store = NodeStore(str(tmp_path / "a"), map_size_bytes=64 * MIB)
    store.put_manifest(_manifest("k"))
    key = b"\0".join([b"t", b"b", b"k"])
    with store._meta.env.begin(write=True) as txn:
        raw = txn.get(key, db=store._meta.manifests)
        txn.put(key, _flip(raw, len(raw) - 1), db=store._meta.manifests)
    replicas = Replicas(view=SimpleNamespace(node_id="node-a"), store=store, peers=None,
                        frame_size_bytes=MIB, timeout_s=1.0)
    with pytest.raises(HolderError) as caught:
        replicas.get_manifest("node-a", "t", "b", "k")
    assert caught.value.kind == "corrupt" and caught.value.node_id == "node-a"
    assert "corrupt record in db manifests" in str(caught.value)
    store.close()
    store = NodeStore(str(tmp_path / "b"), map_size_bytes=64 * MIB, rebuild_metadata=True)
    replicas = Replicas(view=SimpleNamespace(node_id="node-a"), store=store, peers=None,
                        frame_size_bytes=MIB, timeout_s=1.0)
    with pytest.raises(HolderError) as caught:
        replicas.list_buckets("node-a", "t")
    assert caught.value.kind == "unavailable"
    store.close()


def test_a_corrupt_share_index_entry_found_at_open_is_indexed_again_from_its_file(tmp_path):
    """A share's index entry damaged while the node was down is dropped at open and, its file
    being intact, indexed again at once: the copy reads back and the stats count it."""
    data = b"payload" * 50
    chunk_id = blake3.blake3(data).digest()
    store = NodeStore(str(tmp_path), map_size_bytes=64 * MIB)
    store.put_share(ShareKey(chunk_id), data, expected_blake3=chunk_id, placement=None)
    store.close()
    key = ShareKey(chunk_id).db_key()
    _raw(tmp_path, b"chunks", key, _flip(_raw(tmp_path, b"chunks", key), 5))
    store = NodeStore(str(tmp_path), map_size_bytes=64 * MIB)
    assert [err.db for err in store.open_report.corrupt] == ["chunks"]
    assert store.read_share(ShareKey(chunk_id)) == data
    assert store.stats() == (1, len(data))
    assert not store.node_id_lost()
    store.close()


def test_a_lost_node_id_is_reported_so_the_daemon_can_ask_for_it(tmp_path):
    """When the damage took the node id (its meta record corrupt), node_id_lost() says so and the
    store does not invent one."""
    store = NodeStore(str(tmp_path), map_size_bytes=64 * MIB)
    store.save_node_id("node-a")
    store.close()
    _raw(tmp_path, b"meta", b"node_id", _flip(_raw(tmp_path, b"meta", b"node_id"), 10))
    store = NodeStore(str(tmp_path), map_size_bytes=64 * MIB)
    assert store.node_id_lost() and store.load_node_id() is None
    store.close()


def test_noded_check_metadata_reports_without_changing_anything(tmp_path):
    """`noded --check-metadata` on a stopped node: exit 0 and a record count when clean; exit 1
    with one line per corrupt record (db and key hash) when not, and the record is still there
    afterwards (the check never quarantines or migrates)."""
    from click.testing import CliRunner

    from node.daemon import main
    store = NodeStore(str(tmp_path / "store"), map_size_bytes=64 * MIB)
    written_now = _manifest("k")
    written_now.version.physical_ms = int(time.time() * 1000)  # recent: its change is logged
    store.put_manifest(written_now)
    store.save_node_id("node-a")
    store.close()
    result = CliRunner().invoke(main, ["--data-dir", str(tmp_path), "--check-metadata"])
    assert result.exit_code == 0, result.output
    # the manifest, its bucket's usage record, its three breakdowns (prefix, type, policy) and
    # today's history entry, its two index entries (size, write time), its change-log entry, the node
    # id, the store identity
    assert result.output.endswith("11 records, all intact\n")
    key = b"\0".join([b"t", b"b", b"k"])
    meta = tmp_path / "store"
    bad = _flip(_raw(meta, b"manifests", key), 20)
    _raw(meta, b"manifests", key, bad)
    result = CliRunner().invoke(main, ["--data-dir", str(tmp_path), "--check-metadata"])
    assert result.exit_code == 1
    assert result.output.splitlines()[0].startswith("corrupt record in db manifests (key blake3 ")
    assert "1 of 11 records corrupt" in result.output
    assert _raw(meta, b"manifests", key) == bad


def test_manifests_put_together_answer_each_as_its_own_put_would(tmp_path):
    """put_manifests writes a batch in one transaction; each gets put_manifest's answer: stored
    (False) or superseded (True), an older version after a newer one of the same key in the batch
    superseded by it, the usage counter moved once per stored version. A record in the batch whose
    stored value is corrupt fails alone (CorruptRecord, quarantined) and the others are stored."""
    store = NodeStore(str(tmp_path / "a"), map_size_bytes=64 * MIB)
    newer = _manifest("k", 30)
    newer.version.physical_ms = 5
    stale = _manifest("stored")
    store.put_manifest(_manifest("stored", 20))
    stale.version.physical_ms = 0
    assert store.put_manifests([_manifest("a"), newer, _manifest("k"), stale, _manifest("bad")]) == \
        [False, False, True, True, False]
    assert store.get_manifest("t", "b", "k").size_bytes == 30
    assert store.bucket_usage("t", "b").objects == 4  # a, k, stored, bad
    key = b"\0".join([b"t", b"b", b"bad"])
    with store._meta.env.begin(write=True) as txn:  # the disk changes under the running store
        raw = txn.get(key, db=store._meta.manifests)
        txn.put(key, _flip(raw, len(raw) - 3), db=store._meta.manifests)
    replacement = _manifest("bad")
    replacement.version.physical_ms = 9
    later = _manifest("a")
    later.version.physical_ms = 9
    outcomes = store.put_manifests([later, replacement])
    assert outcomes[0] is False and isinstance(outcomes[1], CorruptRecord)
    assert store.get_manifest("t", "b", "a").version.physical_ms == 9
    with pytest.raises(CorruptRecord, match="quarantined"):  # until a good copy is put back
        store.get_manifest("t", "b", "bad")
    assert store.put_manifests([replacement]) == [False]
    assert store.get_manifest("t", "b", "bad").version.physical_ms == 9
    store.close()


def test_a_local_read_is_checked_against_the_hash_the_caller_expects_without_hashing_again(tmp_path):
    """Replicas.fetch_checked on this node's own copy: the store verified the bytes against the
    blake3 its index keeps, so the answer is the bytes when that is the hash the caller expects,
    None when the copy is of other bytes, and a flipped byte in the file is HolderError "corrupt"
    (the file quarantined), as a remote holder's DATA_LOSS would be."""
    from types import SimpleNamespace

    from node.objects.replicas import HolderError, Replicas
    store = NodeStore(str(tmp_path), map_size_bytes=64 * MIB)
    data = os.urandom(64 * 1024)
    digest = blake3.blake3(data).digest()
    key = ShareKey(digest)
    store.put_share(key, data, expected_blake3=digest, placement=None)
    replicas = Replicas(view=SimpleNamespace(node_id="node-a"), store=store, peers=None,
                        frame_size_bytes=MIB, timeout_s=1.0)
    assert replicas.fetch_checked("node-a", key, digest) == data
    assert replicas.fetch_checked("node-a", key, blake3.blake3(b"other bytes").digest()) is None
    path = store._files.final_path(key)
    with open(path, "r+b") as f:
        f.seek(100)
        byte = f.read(1)
        f.seek(100)
        f.write(bytes([byte[0] ^ 0x01]))
    with pytest.raises(HolderError) as caught:
        replicas.fetch_checked("node-a", key, digest)
    assert caught.value.kind == "corrupt" and caught.value.node_id == "node-a"
    assert not os.path.exists(path)
    store.close()
