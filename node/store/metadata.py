"""LMDB tables: one environment under meta/, five named dbs, protobuf values with a format version.

    chunks      ShareKey.db_key()            -> StoredShare      (local index of share files)
    placements  chunk_id                     -> PlacementRecord  (who holds the chunk's copies)
    manifests   tenant\\0bucket\\0key          -> Manifest         (newest version only)
    buckets     tenant\\0name                 -> BucketRecord     (newest version only)
    meta        b"format_version", b"node_id" -> ASCII / UTF-8     (the data dir's own identity)

One environment, so an index entry and its placement record commit in one transaction: either both
are durable or neither is. `sync=True, metasync=True`: a commit that returns is on disk (about
100 us per commit here), which is what lets the write path acknowledge right after it.

Every record is checked on the way in and on the way out: a format_version this code does not know
raises UnknownFormatVersion instead of being half-understood (protobuf would happily parse a newer
record and silently drop what it does not know). The data dir as a whole carries a layout version in
the meta db; migrations, when a version 2 exists, are code run at open.

Rejected alternatives: SQLite (a query planner and SQL text for what are four sorted key-value
maps, and slower synced commits), one LMDB environment per table (no atomic commit across the index
and the placement record), and JSON values (bigger, and no schema shared with the wire contract).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TypeVar

import lmdb
from google.protobuf.message import DecodeError, Message

from node.store.errors import StoreError, StoreFull, UnknownFormatVersion

LAYOUT_FORMAT_VERSION = 1
RECORD_FORMAT_VERSION = 1
MAX_DBS = 8
DB_CHUNKS = b"chunks"
DB_PLACEMENTS = b"placements"
DB_MANIFESTS = b"manifests"
DB_BUCKETS = b"buckets"
DB_META = b"meta"
META_FORMAT_VERSION = b"format_version"
META_NODE_ID = b"node_id"

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

    def __init__(self, path: str, *, map_size_bytes: int) -> None:
        self.path = path
        self.map_size_bytes = map_size_bytes
        self.env = lmdb.open(path, max_dbs=MAX_DBS, map_size=map_size_bytes, subdir=True,
                             sync=True, metasync=True)
        try:
            with self.env.begin(write=True) as txn:
                self.chunks = self.env.open_db(DB_CHUNKS, txn=txn)
                self.placements = self.env.open_db(DB_PLACEMENTS, txn=txn)
                self.manifests = self.env.open_db(DB_MANIFESTS, txn=txn)
                self.buckets = self.env.open_db(DB_BUCKETS, txn=txn)
                self.meta = self.env.open_db(DB_META, txn=txn)
                self._check_layout_version(txn)
        except BaseException:
            self.env.close()
            raise

    def _check_layout_version(self, txn: lmdb.Transaction) -> None:
        raw = txn.get(META_FORMAT_VERSION, db=self.meta)
        if raw is None:
            tables = (self.chunks, self.placements, self.manifests, self.buckets)
            entries = sum(txn.stat(db)["entries"] for db in tables)
            if entries:
                raise UnknownFormatVersion(
                    f"data dir metadata {self.path} holds {entries} records but no format_version; "
                    "it was not written by Ringstore")
            txn.put(META_FORMAT_VERSION, str(LAYOUT_FORMAT_VERSION).encode(), db=self.meta)
            return
        if raw != str(LAYOUT_FORMAT_VERSION).encode():
            raise UnknownFormatVersion(
                f"data dir metadata {self.path} has layout format_version "
                f"{raw.decode(errors='replace')!r}; this node reads only {LAYOUT_FORMAT_VERSION}")

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

    def close(self) -> None:
        self.env.close()
