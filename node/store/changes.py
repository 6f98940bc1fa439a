"""The change log: what each metadata home applied to a bucket's objects, in the order it applied it.

Every manifest change a home applies (node/store/store.py `_put_version`: a put, an overwrite, a
delete's tombstone or marker, a version erased for good, a conversion's rewrite, a tag change)
appends one `ChangeRecord` to its log of that bucket, in the same LMDB transaction: the `changes` db,
keyed by the bucket's partition prefix and an 8-byte sequence number, one more than the partition's
last. So the log holds exactly what the home's manifests went through, survives restarts with them,
and a home that gets a manifest late (metadata sync, a refill, a handed-off write) logs it when it
arrives. What is not a change: a version that loses to one the home holds (nothing is applied), a
read mark (node/objects/lifecycle.py), which changes when a version was read, not the version, and
a version stamped before the retention that arrives with nothing of its id here (a refill after a
replaced disk brings every manifest: no cursor can still be waiting for the old ones, and logging
them would replay the bucket to every watcher).

Why arrival order and not the versions' stamps: a put is stamped when it starts and reaches the homes
when it ends, minutes later for a large one, so a log ordered by stamp gains entries behind a
reader's position and the reader misses them. In arrival order nothing is ever inserted behind a
position: a reader that remembers "up to sequence N of this home's log" has seen everything the home
had applied then. Each home's log is its own (sequences are not comparable across homes); the
watcher (node/objects/watch.py) reads every home's and merges them, and its cursor keeps one
position per home, with the home's store id: a new store (a replaced disk, a rebuilt env) is a new
log, and a position in the old one means nothing there.

Retention: entries older than `repair.change_retention_s` (7 days) are pruned by the tombstone
purger's pass, oldest first (`NodeStore.prune_changes`); a watcher asking for a position before the
oldest kept is told to resync.
"""

from __future__ import annotations

import struct

from ringstore.v1 import common_pb2

from node.store import digests, versions

CHANGE_RECORD_FORMAT_VERSION = 1
SEQ_BYTES = 8


def seq_key(partition: bytes, seq: int) -> bytes:
    return partition + struct.pack(">Q", seq)


def seq_of(db_key: bytes) -> int:
    return struct.unpack(">Q", db_key[-SEQ_BYTES:])[0]


def kind_of(existing: common_pb2.Manifest | None, applied: common_pb2.Manifest) -> int | None:
    """What applying `applied` over `existing` (the same version id's manifest before, or None) is,
    as a change; None when it is no change a watcher sees (a read mark)."""
    if applied.erased:
        return common_pb2.CHANGE_ERASE
    if existing is not None and versions.same_version(existing, applied):
        if applied.version.rewrite != existing.version.rewrite:
            return common_pb2.CHANGE_REWRITE
        if versions.order_key(applied)[1] != versions.order_key(existing)[1]:
            return common_pb2.CHANGE_TAGS
        return None
    return common_pb2.CHANGE_DELETE if applied.tombstone else common_pb2.CHANGE_PUT


def record_of(manifest: common_pb2.Manifest, kind: int, current: bool, now_ms: int) -> common_pb2.ChangeRecord:
    return common_pb2.ChangeRecord(
        format_version=CHANGE_RECORD_FORMAT_VERSION, key=manifest.key, version=manifest.version,
        version_id=manifest.version_id, kind=kind, current=current, size_bytes=manifest.size_bytes,
        md5=manifest.md5, part_count=manifest.part_count, blake3=manifest.blake3, arrived_at_unix_ms=now_ms,
        chunks_blake3=manifest.chunks_blake3,
        encrypted=digests.encrypted_version(manifest))
