"""Unit tests for a store's identity (node/store/identity.py): a random id and a creation time made
with the LMDB environment, kept across restarts, new whenever the environment is new (a replaced
disk, or metadata rebuilt in a fresh environment), and advertised in the membership record."""

from __future__ import annotations

import shutil

import lmdb
import pytest

from node.config import ConfigError, NodeConfig
from node.daemon import NodeDaemon
from node.gossip.member import InvalidMember, MemberInfo, MemberState
from node.store import NodeStore, StoreIdentity, UnknownFormatVersion
from node.store.identity import STORE_ID_BYTES, decode_identity, encode_identity
from node.store.metadata import DB_META, MAX_DBS, META_STORE, seal
from node.store.store import META_DIR

MIB = 1024 * 1024
NOW_MS = 1_700_000_000_000


def _open(path, now_ms: int = NOW_MS) -> NodeStore:
    return NodeStore(str(path), map_size_bytes=64 * MIB, now_unix_ms=lambda: now_ms)


def _set_meta(path, value: bytes | None) -> None:
    """Write (or delete, with None) the store identity row straight into a closed store's LMDB,
    sealed in its checksum envelope as the store writes it."""
    env = lmdb.open(str(path / META_DIR), max_dbs=MAX_DBS, map_size=64 * MIB, subdir=True)
    try:
        meta = env.open_db(DB_META)
        with env.begin(write=True) as txn:
            if value is None:
                txn.delete(META_STORE, db=meta)
            else:
                txn.put(META_STORE, seal(DB_META, META_STORE, value), db=meta)
    finally:
        env.close()


def test_a_new_store_gets_an_identity_that_survives_a_restart(tmp_path):
    """A new store's id is STORE_ID_BYTES random bytes in hex, created now; reopening the same data
    dir later (a plain restart) keeps both."""
    with _open(tmp_path) as store:
        first = store.identity
    assert len(first.store_id) == 2 * STORE_ID_BYTES and first.created_at_unix_ms == NOW_MS
    with _open(tmp_path, NOW_MS + 60_000) as store:
        assert store.identity == first


def test_a_replaced_disk_gets_a_new_identity(tmp_path):
    """The data dir removed and started again under the same node id: a new id, created later."""
    with _open(tmp_path) as store:
        store.save_node_id("node-4")
        first = store.identity
    shutil.rmtree(tmp_path)
    with _open(tmp_path, NOW_MS + 5_000) as store:
        assert store.identity.store_id != first.store_id
        assert store.identity.created_at_unix_ms == NOW_MS + 5_000


def test_metadata_rebuilt_in_a_fresh_environment_gets_a_new_identity(tmp_path):
    """Only the LMDB environment replaced (chunk files left in place): it is a new store all the
    same, since nothing the old index, placements or manifests said can be counted on."""
    with _open(tmp_path) as store:
        first = store.identity
    shutil.rmtree(tmp_path / META_DIR)
    with _open(tmp_path, NOW_MS + 1) as store:
        assert store.identity.store_id != first.store_id
        assert store.identity.created_at_unix_ms == NOW_MS + 1


def test_a_store_from_before_identities_is_migrated_to_one_created_at_zero(tmp_path):
    """A data dir written before store identities existed holds what it held: it gets an id with
    created_at 0 (older than any record), written once and kept."""
    with _open(tmp_path) as store:
        store.save_node_id("node-1")
    _set_meta(tmp_path, None)
    with _open(tmp_path, NOW_MS + 10_000) as store:
        migrated = store.identity
    assert migrated.created_at_unix_ms == 0 and len(migrated.store_id) == 2 * STORE_ID_BYTES
    with _open(tmp_path, NOW_MS + 20_000) as store:
        assert store.identity == migrated


@pytest.mark.parametrize("raw", [
    pytest.param(b'{"format_version": 2, "store_id": "ab", "created_at_unix_ms": 1}', id="newer-format"),
    pytest.param(b'{"store_id": "ab", "created_at_unix_ms": 1}', id="no-format"),
])
def test_an_identity_of_an_unknown_format_is_refused(tmp_path, raw):
    """The store does not open on an identity record whose format_version it does not read."""
    with _open(tmp_path):
        pass
    _set_meta(tmp_path, raw)
    with pytest.raises(UnknownFormatVersion, match="format_version"):
        _open(tmp_path)


def test_identity_round_trips_through_its_record():
    identity = StoreIdentity("0123abcd" * 4, NOW_MS)
    assert decode_identity(encode_identity(identity), "test") == identity


def test_the_membership_record_carries_the_store_identity():
    """store_id and store_created_at_unix_ms go through the wire record unchanged; a store id that
    is not lowercase hex (or too long) is refused as a malformed record."""
    member = MemberInfo(node_id="node-4", address="127.0.0.1:1", zone="", capacity_bytes=1, generation=2,
                        incarnation=0, state=MemberState.ALIVE, store_id="ab" * 16,
                        store_created_at_unix_ms=NOW_MS)
    assert MemberInfo.from_proto(member.to_proto()) == member
    for bad in ("AB" * 16, "x", "a" * 65):
        with pytest.raises(InvalidMember, match="store_id"):
            MemberInfo.from_proto(member.to_proto().__class__(
                node_id="node-4", address="127.0.0.1:1", store_id=bad, state=MemberState.ALIVE))


# -- the node: what it announces, what it refuses ----------------------------------------------------

def _config(tmp_path, node_id: str) -> NodeConfig:
    return NodeConfig.for_profile("local", data_dir=str(tmp_path / "data"), listen_address="127.0.0.1:0", peer_listen_address="127.0.0.1:0", insecure=True,
                                  node_id=node_id, cluster_secret=b"s" * 32)


def test_the_node_announces_its_store_in_its_membership_record(tmp_path):
    """A started noded's own membership record carries its store's id and creation time, so its
    peers can tell its next start on an empty data dir from a plain restart."""
    daemon = NodeDaemon(_config(tmp_path, "node-a"))
    daemon.start()
    try:
        me = daemon.membership.me()
        assert (me.store_id, me.store_created_at_unix_ms) == (daemon.store.identity.store_id,
                                                             daemon.store.identity.created_at_unix_ms)
        assert me.store_id and me.store_created_at_unix_ms > 0
    finally:
        daemon.stop(leave=False)


def test_a_data_dir_of_another_node_id_is_refused(tmp_path):
    """A data dir that belongs to node-a does not start as node-b (its records name node-a): a
    one-line ConfigError saying what to do."""
    NodeDaemon(_config(tmp_path, "node-a")).store.close()
    with pytest.raises(ConfigError, match="belongs to node 'node-a', not 'node-b'; use its own --node-id"):
        NodeDaemon(_config(tmp_path, "node-b"))
