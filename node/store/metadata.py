"""LMDB tables: one environment under meta/, six named dbs, values with a format version.

    chunks      ShareKey.db_key()             -> StoredShare      (local index of share files)
    refs        ShareKey.db_key() + ref_key   -> ref record       (object versions using a copy)
    placements  placement_key (per layout)    -> PlacementRecord  (who holds the layout's copies)
    manifests   tenant\\0bucket\\0key          -> Manifest         (newest version only)
    buckets     tenant\\0name                 -> BucketRecord     (newest version only)
    meta        b"format_version", b"node_id" -> ASCII / UTF-8     (the data dir's own identity)
                b"store"                     -> JSON StoreIdentity (this environment's identity)

One environment, so an index entry, its reference row and its placement record commit in one
transaction: either all are durable or none is. `sync=True, metasync=True`: a commit that returns is
on disk (about 100 us per commit here), which is what lets the write path acknowledge right after
it.

A ref record is one format-version byte followed by the deterministic serialization of the
`ObjectRef` (the message has no format_version field of its own, and the row must say which object
version it stands for so `references()` can list them). The row key already identifies the ref; the
value is there to be read back, not to be looked up by.

Every record is checked on the way in and on the way out: a format_version this code does not know
raises UnknownFormatVersion instead of being half-understood (protobuf would happily parse a newer
record and silently drop what it does not know). The data dir as a whole carries a layout version in
the meta db; migrations are code run at open, in the open transaction:

    1 -> 2  erasure share keys gain their geometry (34 -> 36 bytes), placement records of erasure
            layouts move from the bare chunk id to their layout key, and the refs db appears.
            Replica keys and replica placements are unchanged. A layout-1 erasure share cannot be
            migrated (its key does not say K+M), so a data dir holding one is refused; layout 1
            was written before erasure coding was implemented, so none should exist. Copies from
            layout 1 carry no references: the first release of any ref lets them go, as an
            unconditional delete did before.

The store identity (see `identity`) is created in the transaction that creates the tables: a fresh
environment gets a new one created now; an environment that already has a layout version but no
identity (written before identities existed) gets one created at 0, since it is not a new store.

Rejected alternatives: SQLite (a query planner and SQL text for what are five sorted key-value
maps, and slower synced commits), one LMDB environment per table (no atomic commit across the index,
its references and the placement record), and JSON values (bigger, and no schema shared with the
wire contract).
"""

from __future__ import annotations

import contextlib
import errno
import os
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

import lmdb
from google.protobuf.message import DecodeError, Message

from ringstore.v1 import common_pb2

from node.store.errors import InvalidArgument, StoreError, StoreFull, UnknownFormatVersion
from node.store.identity import (StoreIdentity, decode_identity, encode_identity, migrated_identity,
                                 new_identity)
from node.store.keys import CHUNK_ID_BYTES, SHARE_DB_KEY_BYTES, placement_key

LAYOUT_FORMAT_VERSION = 2
RECORD_FORMAT_VERSION = 1
# Format of a ref record's leading byte (see the module docstring).
REF_RECORD_FORMAT_VERSION = 1
# Named dbs the environment may hold; LMDB sizes a table of this many slots at open. Six are in use.
MAX_DBS = 8
DB_CHUNKS = b"chunks"
DB_REFS = b"refs"
DB_PLACEMENTS = b"placements"
DB_MANIFESTS = b"manifests"
DB_BUCKETS = b"buckets"
DB_META = b"meta"
META_FORMAT_VERSION = b"format_version"
META_NODE_ID = b"node_id"
META_STORE = b"store"

R = TypeVar("R", bound=Message)


def check_record_version(record: Message, where: str) -> None:
    """Raise UnknownFormatVersion unless the record's format_version is one this code reads."""
    version = record.format_version  # type: ignore[attr-defined]
    if version != RECORD_FORMAT_VERSION:
        hint = " (unset: set format_version=1 when building the record)" if version == 0 else ""
        raise UnknownFormatVersion(
            f"{type(record).__name__} {where} has format_version {version}{hint}; "
            f"this node reads only format_version {RECORD_FORMAT_VERSION}")


def encode_record(record: Message, where: str) -> bytes:
    check_record_version(record, where)
    return record.SerializeToString(deterministic=True)


def encode_ref(ref: common_pb2.ObjectRef) -> bytes:
    """Value of a reference row: format byte + deterministic ObjectRef bytes."""
    return bytes([REF_RECORD_FORMAT_VERSION]) + ref.SerializeToString(deterministic=True)


def decode_ref(raw: bytes, where: str) -> common_pb2.ObjectRef:
    if not raw or raw[0] != REF_RECORD_FORMAT_VERSION:
        version = raw[0] if raw else "(empty)"
        raise UnknownFormatVersion(
            f"reference {where} has format_version {version}; this node reads only "
            f"format_version {REF_RECORD_FORMAT_VERSION}")
    ref = common_pb2.ObjectRef()
    try:
        ref.ParseFromString(raw[1:])
    except DecodeError as exc:
        raise StoreError(f"reference {where} in LMDB does not parse: {exc}") from exc
    return ref


def decode_record(message_type: type[R], raw: bytes, where: str) -> R:
    record = message_type()
    try:
        record.ParseFromString(raw)
    except DecodeError as exc:
        raise StoreError(f"{message_type.__name__} {where} in LMDB does not parse: {exc}") from exc
    check_record_version(record, where)
    return record


class MetadataDb:
    """The LMDB environment and its named dbs. Thread-safe: LMDB serializes write transactions and
    read transactions never block."""

    def __init__(self, path: str, *, map_size_bytes: int,
                 now_unix_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000) -> None:
        """Open (or create) the environment; a new one gets a new store identity created at
        `now_unix_ms()` (see `identity`)."""
        self.path = path
        self.map_size_bytes = map_size_bytes
        self.env = lmdb.open(path, max_dbs=MAX_DBS, map_size=map_size_bytes, subdir=True,
                             sync=True, metasync=True)
        try:
            with self.env.begin(write=True) as txn:
                self.chunks = self.env.open_db(DB_CHUNKS, txn=txn)
                self.refs = self.env.open_db(DB_REFS, txn=txn)
                self.placements = self.env.open_db(DB_PLACEMENTS, txn=txn)
                self.manifests = self.env.open_db(DB_MANIFESTS, txn=txn)
                self.buckets = self.env.open_db(DB_BUCKETS, txn=txn)
                self.meta = self.env.open_db(DB_META, txn=txn)
                fresh = self._check_layout_version(txn)
                self.identity = self._load_identity(txn, fresh, now_unix_ms)
        except BaseException:
            self.env.close()
            raise

    def _check_layout_version(self, txn: lmdb.Transaction) -> bool:
        """Check (or set, or migrate to) the layout version; True when the environment is new."""
        raw = txn.get(META_FORMAT_VERSION, db=self.meta)
        if raw is None:
            tables = (self.chunks, self.refs, self.placements, self.manifests, self.buckets)
            entries = sum(txn.stat(db)["entries"] for db in tables)
            if entries:
                raise UnknownFormatVersion(
                    f"data dir metadata {self.path} holds {entries} records but no format_version; "
                    "it was not written by Ringstore")
            txn.put(META_FORMAT_VERSION, str(LAYOUT_FORMAT_VERSION).encode(), db=self.meta)
            return True
        if raw == b"1":
            self._migrate_1_to_2(txn)
            return False
        if raw != str(LAYOUT_FORMAT_VERSION).encode():
            raise UnknownFormatVersion(
                f"data dir metadata {self.path} has layout format_version "
                f"{raw.decode(errors='replace')!r}; this node reads only {LAYOUT_FORMAT_VERSION}")
        return False

    def _load_identity(self, txn: lmdb.Transaction, fresh: bool,
                       now_unix_ms: Callable[[], int]) -> StoreIdentity:
        """This environment's identity; created here, in the opening transaction, when missing."""
        raw = txn.get(META_STORE, db=self.meta)
        if raw is not None:
            return decode_identity(raw, self.path)
        identity = new_identity(now_unix_ms()) if fresh else migrated_identity()
        txn.put(META_STORE, encode_identity(identity), db=self.meta)
        return identity

    def _migrate_1_to_2(self, txn: lmdb.Transaction) -> None:
        """Layout 1 -> 2 (see the module docstring), inside the open transaction: a crash or a
        refusal leaves the data dir at layout 1, untouched."""
        old_share_keys = sum(1 for key in txn.cursor(db=self.chunks).iternext(values=False)
                             if len(key) != CHUNK_ID_BYTES + 1)
        if old_share_keys:
            raise UnknownFormatVersion(
                f"data dir metadata {self.path} is at layout format_version 1 and holds "
                f"{old_share_keys} erasure share entries without a geometry; layout "
                f"{LAYOUT_FORMAT_VERSION} keys shares by K+M ({SHARE_DB_KEY_BYTES}-byte keys) and "
                "they cannot be migrated: remove those shares with a layout-1 node first")
        moves: list[tuple[bytes, bytes, bytes]] = []
        for key, raw in txn.cursor(db=self.placements):
            record = decode_record(common_pb2.PlacementRecord, raw, f"placement {key.hex()}")
            if record.policy.WhichOneof("policy") != "erasure_coding":
                continue
            coding = record.policy.erasure_coding
            try:
                new_key = placement_key(key, coding.data_shares, coding.parity_shares)
            except InvalidArgument as exc:
                raise StoreError(f"data dir metadata {self.path}: placement {key.hex()} cannot be "
                                 f"migrated to layout {LAYOUT_FORMAT_VERSION}: {exc}") from exc
            moves.append((key, new_key, raw))
        for old_key, new_key, raw in moves:
            txn.delete(old_key, db=self.placements)
            txn.put(new_key, raw, db=self.placements)
        txn.put(META_FORMAT_VERSION, str(LAYOUT_FORMAT_VERSION).encode(), db=self.meta)

    @contextlib.contextmanager
    def read(self) -> Iterator[lmdb.Transaction]:
        with self.env.begin(write=False, buffers=False) as txn:
            yield txn

    @contextlib.contextmanager
    def write(self) -> Iterator[lmdb.Transaction]:
        """One synced write transaction; commits on normal exit, aborts on exception."""
        try:
            with self.env.begin(write=True) as txn:
                yield txn
        except lmdb.MapFullError as exc:
            raise StoreFull(
                f"metadata map {self.path} is full at map_size_bytes={self.map_size_bytes}; "
                "raise lmdb_map_size_bytes and restart") from exc
        except lmdb.Error as exc:
            # Out of disk while LMDB wrote its pages (ENOSPC is DiskError; EDQUOT shows only in the
            # message): nothing was committed.
            if not (isinstance(exc, lmdb.DiskError) or os.strerror(errno.EDQUOT) in str(exc)):
                raise
            raise StoreFull(f"metadata write to {self.path} failed, the disk is full ({exc}); "
                            "free disk space on this node") from exc

    def close(self) -> None:
        self.env.close()
