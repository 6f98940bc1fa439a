"""Unit tests of node/store layouts: erasure share keys of several geometries next to replicas, and
placement records kept per layout (replication, K+M)."""

from __future__ import annotations

import itertools
import os

import blake3
import lmdb
import pytest

from ringstore.v1 import common_pb2

from node.store.keys import ref_row_key
from node.store.metadata import seal
from node.store import (CorruptShare, InvalidArgument, NodeStore, ShareKey, UnknownFormatVersion,
                        placement_key, policy_geometry)

MIB = 1024 * 1024
NOW_MS = 1_700_000_000_000
CHUNK_ID = bytes(range(32))
GEOMETRIES = [(1, 1), (2, 1), (4, 2), (10, 4), (128, 128), (1, 255), (255, 1)]


def _digest(data: bytes) -> bytes:
    return blake3.blake3(data).digest()


def _policy(data_shares: int = 0, parity_shares: int = 0) -> common_pb2.RedundancyPolicy:
    if data_shares == parity_shares == 0:
        return common_pb2.RedundancyPolicy(replication=common_pb2.Replication(replicas=3))
    return common_pb2.RedundancyPolicy(erasure_coding=common_pb2.ErasureCoding(
        data_shares=data_shares, parity_shares=parity_shares))


def _placement(chunk_id: bytes, data_shares: int = 0, parity_shares: int = 0, *,
               holder: str = "node-a") -> common_pb2.PlacementRecord:
    return common_pb2.PlacementRecord(
        format_version=1, chunk_id=chunk_id, size_bytes=100,
        policy=_policy(data_shares, parity_shares),
        holders=[common_pb2.ShareHolder(node_id=holder, share_index=0)])


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


# -- share keys ----------------------------------------------------------------------------------

@pytest.mark.parametrize("args, message", [
    ((CHUNK_ID, 3), r"erasure share index 3 given without a geometry \(data_shares=0, "
                    r"parity_shares=0\)"),
    ((CHUNK_ID, None, 4, 2), r"replica .* has no erasure geometry, got data_shares=4 "
                             r"parity_shares=2"),
    ((CHUNK_ID, None, 4, 0), r"data_shares=4 parity_shares=0"),
    ((CHUNK_ID, None, 0, 2), r"data_shares=0 parity_shares=2"),
    ((CHUNK_ID, 0, 0, 2), r"geometry 0\+2 is invalid: need data_shares >= 1"),
    ((CHUNK_ID, 0, 4, 0), r"geometry 4\+0 is invalid: .*parity_shares >= 1"),
    ((CHUNK_ID, 0, 200, 57), r"geometry 200\+57 is invalid: .*data_shares \+ parity_shares <= 256"),
    ((CHUNK_ID, 6, 4, 2), r"share index 6 is out of range for geometry 4\+2: need 0\.\.5"),
    ((CHUNK_ID, -1, 4, 2), r"share index -1 is out of range for geometry 4\+2"),
    ((CHUNK_ID, True, 4, 2), r"share index must be None \(replica\) or an integer, got True"),
    ((CHUNK_ID, 0, 4.0, 2), r"geometry must be integers, got data_shares=4.0"),
    ((CHUNK_ID[:31], None), r"chunk id must be 32 bytes \(blake3\), got 31"),
])
def test_share_key_geometry_is_validated_with_numbers(args, message):
    """A replica has no geometry, an erasure share has 1 <= K, 1 <= M, K+M <= 256 and an index
    below K+M; anything else (including a mix of the two) is InvalidArgument naming the numbers."""
    with pytest.raises(InvalidArgument, match=message):
        ShareKey(*args)


@pytest.mark.parametrize("args", [
    (CHUNK_ID,), (CHUNK_ID, None, 0, 0), (CHUNK_ID, 0, 1, 1), (CHUNK_ID, 255, 1, 255),
    (CHUNK_ID, 255, 255, 1), (CHUNK_ID, 5, 4, 2), (bytearray(CHUNK_ID), 0, 4, 2),
])
def test_share_key_accepts_the_edges(args):
    """The smallest and largest zfec geometries and their last index are valid keys."""
    share = ShareKey(*args)
    assert isinstance(share.chunk_id, bytes)
    assert share.is_replica is (share.share_index is None)


def test_db_keys_round_trip_and_never_prefix_each_other():
    """Replica keys are chunk id + b"r" (33 bytes), share keys chunk id + b"e" + K, M, index
    (36 bytes); every key of every geometry parses back to its ShareKey, all are distinct, and none
    is a prefix of another (so a prefix scan on a db key is exact)."""
    other_chunk = b"\xff" * 32
    shares = [ShareKey(CHUNK_ID), ShareKey(other_chunk)]
    for chunk_id, (k, m) in itertools.product((CHUNK_ID, other_chunk), GEOMETRIES):
        shares.extend(ShareKey(chunk_id, i, k, m) for i in range(k + m))
    keys = [s.db_key() for s in shares]
    assert len(set(keys)) == len(keys)
    assert all(ShareKey.from_db_key(s.db_key()) == s for s in shares)
    assert ShareKey(CHUNK_ID).db_key() == CHUNK_ID + b"r"
    assert ShareKey(CHUNK_ID, 3, 4, 2).db_key() == CHUNK_ID + b"e\x04\x02\x03"
    assert {len(k) for k in keys} == {33, 36}
    ordered = sorted(keys)
    # In sorted order a key's extensions follow it directly, so adjacent pairs suffice.
    assert not any(b.startswith(a) for a, b in zip(ordered, ordered[1:]))


def test_suffixes_and_layout_keys():
    """Suffixes are "r" and "<index>of<K>+<M>"; layout keys are the chunk id for a replica and
    chunk id + b"e" + K, M for a share, equal to placement_key of the same geometry."""
    assert ShareKey(CHUNK_ID).suffix() == "r"
    assert ShareKey(CHUNK_ID, 3, 4, 2).suffix() == "3of4+2"
    assert ShareKey(CHUNK_ID, 0, 128, 128).suffix() == "0of128+128"
    assert str(ShareKey(CHUNK_ID, 1, 2, 1)) == f"{CHUNK_ID.hex()}.1of2+1"
    assert ShareKey(CHUNK_ID).layout_key() == placement_key(CHUNK_ID) == CHUNK_ID
    assert ShareKey(CHUNK_ID, 5, 4, 2).layout_key() == placement_key(CHUNK_ID, 4, 2)
    assert placement_key(CHUNK_ID, 4, 2) == CHUNK_ID + b"e\x04\x02"
    assert placement_key(CHUNK_ID, 4, 2) != placement_key(CHUNK_ID, 2, 1)
    assert ShareKey(CHUNK_ID, 0, 4, 2).layout_key() == ShareKey(CHUNK_ID, 5, 4, 2).layout_key()


@pytest.mark.parametrize("args, message", [
    ((CHUNK_ID, 4, 0), r"4\+0 is invalid"),
    ((CHUNK_ID, 0, 2), r"0\+2 is invalid"),
    ((CHUNK_ID, 200, 100), r"200\+100 is invalid"),
    ((CHUNK_ID[:8], 4, 2), r"32 bytes .*got 8"),
])
def test_placement_key_rejects_bad_geometry(args, message):
    """placement_key takes (0, 0) for replication or a valid K+M, and a 32-byte chunk id."""
    with pytest.raises(InvalidArgument, match=message):
        placement_key(*args)


def test_policy_geometry():
    """A policy names its layout: replication (0, 0) or erasure coding (K, M); unset or 0+0 is
    bad input."""
    assert policy_geometry(_policy()) == (0, 0)
    assert policy_geometry(_policy(4, 2)) == (4, 2)
    with pytest.raises(InvalidArgument, match="unset"):
        policy_geometry(common_pb2.RedundancyPolicy())
    with pytest.raises(InvalidArgument, match=r"0\+0"):
        policy_geometry(common_pb2.RedundancyPolicy(erasure_coding=common_pb2.ErasureCoding()))


# -- shares of several geometries ----------------------------------------------------------------

def test_same_chunk_under_two_geometries_is_two_shares(store, tmp_path):
    """Share 1 of a 4+2 stripe and share 1 of a 2+1 stripe of one chunk are distinct files and
    index entries; each reads back its own bytes and deleting one leaves the other."""
    wide, narrow = ShareKey(CHUNK_ID, 1, 4, 2), ShareKey(CHUNK_ID, 1, 2, 1)
    replica = ShareKey(CHUNK_ID)
    for share, data in ((wide, b"quarter"), (narrow, b"half of it"), (replica, b"whole")):
        assert store.put_share(share, data, expected_blake3=_digest(data), placement=None) is False
    hex_id = CHUNK_ID.hex()
    leaf = tmp_path / "chunks" / hex_id[:2] / hex_id[2:4]
    assert _files(tmp_path / "chunks") == sorted(
        str(leaf / f"{hex_id}.{suffix}") for suffix in ("1of4+2", "1of2+1", "r"))
    assert (store.read_share(wide), store.read_share(narrow)) == (b"quarter", b"half of it")
    assert {s for s, _ in store.iter_shares()} == {wide, narrow, replica}
    assert store.stats() == (3, 7 + 10 + 5)
    assert store.delete_share(wide) is True
    assert not store.has_share(wide)
    assert store.read_share(narrow) == b"half of it"
    assert store.read_share(replica) == b"whole"


def test_quarantine_names_carry_the_geometry(store, tmp_path):
    """A corrupt erasure share is quarantined under a name with its geometry suffix."""
    share = ShareKey(CHUNK_ID, 2, 4, 2)
    store.put_share(share, b"share bytes", expected_blake3=_digest(b"share bytes"), placement=None)
    with open(store._files.final_path(share), "r+b") as f:
        f.write(b"X")
    with pytest.raises(CorruptShare, match="share 2of4\\+2 of chunk"):
        store.read_share(share)
    [quarantined] = _files(tmp_path / "quarantine")
    assert os.path.basename(quarantined).startswith(f"{CHUNK_ID.hex()}.2of4+2.{NOW_MS}.")


# -- placements per layout -----------------------------------------------------------------------

def test_placements_of_one_chunk_per_layout_are_independent(store):
    """The replicated and the 4+2 and 2+1 placement records of one chunk are stored, read and
    deleted independently; get_placement without geometry is the replicated one."""
    store.put_placement(_placement(CHUNK_ID, holder="rep"))
    store.put_placement(_placement(CHUNK_ID, 4, 2, holder="ec42"))
    store.put_placement(_placement(CHUNK_ID, 2, 1, holder="ec21"))
    assert store.get_placement(CHUNK_ID).holders[0].node_id == "rep"
    assert store.get_placement(CHUNK_ID, 4, 2).holders[0].node_id == "ec42"
    assert store.get_placement(CHUNK_ID, 2, 1).holders[0].node_id == "ec21"
    assert store.get_placement(CHUNK_ID, 6, 3) is None
    assert store.delete_placement(CHUNK_ID, 4, 2) is True
    assert store.delete_placement(CHUNK_ID, 4, 2) is False
    assert store.get_placement(CHUNK_ID, 4, 2) is None
    assert store.get_placement(CHUNK_ID).holders[0].node_id == "rep"
    assert store.delete_placement(CHUNK_ID) is True
    assert store.get_placement(CHUNK_ID, 2, 1).holders[0].node_id == "ec21"


@pytest.mark.parametrize("policy, message", [
    (common_pb2.RedundancyPolicy(), "policy is unset"),
    (common_pb2.RedundancyPolicy(erasure_coding=common_pb2.ErasureCoding(
        data_shares=4)), r"4\+0 is invalid"),
])
def test_put_placement_needs_a_policy(store, policy, message):
    """A placement record without a policy, or with an invalid K+M, has no layout: bad input."""
    record = common_pb2.PlacementRecord(format_version=1, chunk_id=CHUNK_ID, policy=policy)
    with pytest.raises(InvalidArgument, match=message):
        store.put_placement(record)


def test_share_placement_is_stored_under_its_layout(store):
    """The placement record committed with an erasure share lands under that share's layout, not
    under the chunk's replicated layout."""
    share = ShareKey(CHUNK_ID, 0, 4, 2)
    store.put_share(share, b"s0", expected_blake3=_digest(b"s0"),
                    placement=_placement(CHUNK_ID, 4, 2, holder="node-a"))
    assert store.get_placement(CHUNK_ID, 4, 2).holders[0].node_id == "node-a"
    assert store.get_placement(CHUNK_ID) is None
    store.put_share(share, b"s0", expected_blake3=_digest(b"s0"),
                    placement=_placement(CHUNK_ID, 4, 2, holder="node-b"))
    assert store.get_placement(CHUNK_ID, 4, 2).holders[0].node_id == "node-b"


@pytest.mark.parametrize("share, placement, message", [
    (ShareKey(CHUNK_ID), _placement(CHUNK_ID, 4, 2),
     r"is for erasure coding 4\+2 but share r is stored under replication"),
    (ShareKey(CHUNK_ID, 0, 4, 2), _placement(CHUNK_ID),
     r"is for replication but share 0of4\+2 is stored under erasure coding 4\+2"),
    (ShareKey(CHUNK_ID, 0, 4, 2), _placement(CHUNK_ID, 2, 1),
     r"is for erasure coding 2\+1 but share 0of4\+2 is stored under erasure coding 4\+2"),
    (ShareKey(CHUNK_ID, 0, 4, 2), common_pb2.PlacementRecord(format_version=1, chunk_id=CHUNK_ID),
     r"policy is unset"),
])
def test_share_with_mismatched_placement_is_rejected(store, tmp_path, share, placement, message):
    """A placement record whose policy is not the share's layout is bad input and nothing is
    stored: no file, no temp file, no index entry, no placement."""
    with pytest.raises(InvalidArgument, match=message):
        store.put_share(share, b"data", expected_blake3=_digest(b"data"), placement=placement)
    assert _files(tmp_path / "chunks") == [] and _files(tmp_path / "tmp") == []
    assert not store.has_share(share)
    assert store.stats() == (0, 0)
    for geometry in ((0, 0), (4, 2), (2, 1)):
        assert store.get_placement(CHUNK_ID, *geometry) is None


# -- layout 1 -> 2 migration ---------------------------------------------------------------------

def _raw_put(data_dir, db_name: bytes, key: bytes, value: bytes) -> None:
    env = lmdb.open(os.path.join(data_dir, "meta"), max_dbs=10, map_size=64 * MIB, subdir=True)
    try:
        with env.begin(write=True) as txn:
            txn.put(key, value, db=env.open_db(db_name, txn=txn))
    finally:
        env.close()


def _raw_get(data_dir, db_name: bytes, key: bytes) -> bytes | None:
    env = lmdb.open(os.path.join(data_dir, "meta"), max_dbs=10, map_size=64 * MIB, subdir=True)
    try:
        with env.begin(write=True) as txn:
            return txn.get(key, db=env.open_db(db_name, txn=txn))
    finally:
        env.close()


def _raw_share_file(data_dir, chunk_id: bytes, data: bytes) -> None:
    directory = os.path.join(data_dir, "chunks", chunk_id[:1].hex(), chunk_id[1:2].hex())
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, f"{chunk_id.hex()}.r"), "wb") as f:
        f.write(data)


def test_layout_1_data_dir_is_migrated_at_open(tmp_path):
    """A layout-1 data dir opens as layout 4 (through 2 and 3): its replica entries stay, a replicated placement
    stays under the chunk id, and an erasure placement (kept under the bare chunk id in layout 1)
    moves to its layout key; every value gains its checksum envelope."""
    replicated_chunk, coded_chunk = _digest(b"r"), b"\x02" * 32
    entry = common_pb2.StoredShare(format_version=1, size_bytes=1, blake3=replicated_chunk)
    _raw_share_file(tmp_path, replicated_chunk, b"r")
    _raw_put(tmp_path, b"meta", b"format_version", b"1")
    _raw_put(tmp_path, b"chunks", replicated_chunk + b"r", entry.SerializeToString())
    _raw_put(tmp_path, b"placements", replicated_chunk,
             _placement(replicated_chunk).SerializeToString())
    _raw_put(tmp_path, b"placements", coded_chunk,
             _placement(coded_chunk, 4, 2).SerializeToString())
    with NodeStore(str(tmp_path), map_size_bytes=64 * MIB) as s:
        assert s.read_share(ShareKey(replicated_chunk)) == b"r"
        assert s.get_placement(replicated_chunk) is not None
        assert s.get_placement(coded_chunk) is None
        assert s.get_placement(coded_chunk, 4, 2).policy.erasure_coding.parity_shares == 2
        assert s.open_report is None
    assert _raw_get(tmp_path, b"meta", b"format_version") == b"8"


def test_layout_2_data_dir_gains_checksum_envelopes_at_open(tmp_path):
    """A layout-2 data dir (values stored bare) opens as layout 4: every record of every db reads
    back as before, each value is now envelope + payload, and nothing is reported corrupt."""
    chunk_id = _digest(b"abc")
    entry = common_pb2.StoredShare(format_version=1, size_bytes=3, blake3=chunk_id)
    manifest = common_pb2.Manifest(format_version=1, tenant="t", bucket="b", key="k",
                                   size_bytes=3)
    bucket = common_pb2.BucketRecord(format_version=1, tenant="t", name="b")
    ref = common_pb2.ObjectRef(tenant="t", bucket="b", key="k")
    _raw_share_file(tmp_path, chunk_id, b"abc")
    rows = {
        (b"meta", b"format_version"): b"2",
        (b"meta", b"node_id"): b"node-x",
        (b"chunks", chunk_id + b"r"): entry.SerializeToString(),
        (b"placements", chunk_id): _placement(chunk_id).SerializeToString(),
        (b"manifests", b"t\0b\0k"): manifest.SerializeToString(),
        (b"buckets", b"t\0b"): bucket.SerializeToString(),
        (b"refs", ref_row_key(ShareKey(chunk_id), ref)): b"\x01" + ref.SerializeToString(),
    }
    for (db, key), value in rows.items():
        _raw_put(tmp_path, db, key, value)
    with NodeStore(str(tmp_path), map_size_bytes=64 * MIB) as s:
        assert s.open_report is None
        assert s.load_node_id() == "node-x"
        assert s.read_share(ShareKey(chunk_id)) == b"abc"
        assert s.get_placement(chunk_id).holders[0].node_id == "node-a"
        assert s.get_manifest("t", "b", "k").size_bytes == 3
        assert [r.name for r in s.list_buckets("t")] == ["b"]
        assert s.references(ShareKey(chunk_id)) == [ref]
    assert _raw_get(tmp_path, b"meta", b"format_version") == b"8"
    for (db, key), value in rows.items():
        if key != b"format_version":
            assert _raw_get(tmp_path, db, key) == seal(db, key, value), (db, key)


def test_layout_1_erasure_share_refuses_to_migrate(tmp_path):
    """A layout-1 erasure share entry (34-byte key, no geometry) cannot be migrated: open refuses
    with a message saying so, and the data dir stays at layout 1."""
    NodeStore(str(tmp_path), map_size_bytes=64 * MIB).close()
    _raw_put(tmp_path, b"meta", b"format_version", b"1")
    _raw_put(tmp_path, b"chunks", CHUNK_ID + b"e\x03", b"")
    with pytest.raises(UnknownFormatVersion, match="1 erasure share entries without a geometry"):
        NodeStore(str(tmp_path), map_size_bytes=64 * MIB)
    assert _raw_get(tmp_path, b"meta", b"format_version") == b"1"
