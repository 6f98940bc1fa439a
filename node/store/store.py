"""`NodeStore`: the one object the rest of the node uses to touch its disk.

The write path of a share, in order, is the durability contract of the whole cluster:

    write temp file -> fsync it -> verify blake3 -> rename into chunks/ab/cd/ -> fsync the directory
    (and its parents when created) -> commit index entry + reference row + placement record in one
    LMDB transaction

Only after the last step does `ShareWriter.commit` return, and only then may the node acknowledge.
A crash before the LMDB commit leaves at worst an orphan file without an index entry (never served:
reads go through the index; a later write of the same share overwrites it). If the final file exists
and the index already has the same blake3, the write is a dedup: the temp file is dropped and only
the reference row and the placement record are written.

One chunk may be held under several layouts at once (a replica and shares of a 4+2 and of a 2+1
stripe): each share is its own file and index entry (`ShareKey` carries the geometry) and each
layout has its own placement record (`placement_key`), so writing or releasing one layout never
touches another's.

References: every copy keeps one row per object version it was stored for (`referenced_by`), so a
chunk shared by many objects (content addressing dedups them) is released only when the last
version using it lets go. `release_share` removes one reference and, when none is left, the copy:
the ref row, the index entry and (if no share of that layout is left here) the layout's placement
record in one transaction, then the file. It runs under the share's lock, the same lock the
install step takes, so a concurrent write of the same share either lands before the release (and
its new reference keeps the copy alive) or after it (and installs the copy afresh): never an index
entry whose file the release just removed, nor a reference left on a copy that is gone. A
quarantined copy keeps its references, since repair is to rebuild exactly that copy.

Rejected alternative for references: a counter in the index entry. Releases would not be idempotent
(a retried release would count twice) and nothing would say which versions still use the copy;
a row per version makes a release an idempotent delete and the holders listable.

Concurrency: gRPC handlers call in from many threads. LMDB serializes write transactions itself.
Everything that changes one share (install, delete, release, quarantine) runs under one of
`SHARE_LOCK_STRIPES` locks picked by the share, so "look at the index, then rename, then commit" is
atomic per share and two writers of the same share end as one write plus one dedup. The heavy part
(receiving, hashing and fsyncing the temp file) runs outside the lock. Reads take no lock: a rename
replaces a whole file, so a reader sees the old or the new bytes, and a reader that finds corruption
re-checks under the lock before quarantining, in case a writer replaced the file meanwhile.

A copy's state only moves toward home: a dedup or overwrite that says "handoff for X" never turns a
home copy into a handoff copy (handoff return would then delete a copy the node owns), while a home
write does turn a handoff copy into a home copy.

`stats()` is O(1): counts live in memory under a lock, computed from the index at open and adjusted
after each commit. Rejected alternative: keeping the totals in the meta db, which would add a write
to the same hot key on every put for a number that one scan at open recomputes.
"""

from __future__ import annotations

import dataclasses
import fcntl
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from types import TracebackType

import blake3
import lmdb

from ringstore.v1 import common_pb2

from node.store.chunks import ChunkFiles, raise_if_full
from node.store.errors import (ChecksumMismatch, CorruptShare, DataDirLocked, InvalidArgument,
                               ShareNotFound, StoreError)
from node.store.keys import (CHUNK_ID_BYTES, ShareKey, bucket_key, bucket_key_prefix,
                             describe_geometry, manifest_key, manifest_key_prefix, placement_key,
                             policy_geometry, ref_row_key, version_key)
from node.store.metadata import (META_NODE_ID, RECORD_FORMAT_VERSION, MetadataDb,
                                 check_record_version, decode_record, decode_ref, encode_record,
                                 encode_ref)

MIB = 1024 * 1024
META_DIR = "meta"
LOCK_FILE = "LOCK"
BLAKE3_BYTES = 32
# Locks that serialize changes to one share; more stripes mean fewer unrelated shares waiting on
# each other, at 64 bytes of memory each.
SHARE_LOCK_STRIPES = 64
# Largest share accepted; matches StorageConfig's largest chunk_size_bytes (an erasure share is
# smaller than its chunk). Bounds the memory read_share needs and a writer that never stops.
SHARE_SIZE_BYTES_MAX = 64 * MIB
# Most manifests one list_manifests call may return.
LIST_MANIFESTS_LIMIT_MAX = 10_000
# Most bucket records one tenant may have; list_buckets returns them all in one call.
BUCKETS_PER_TENANT_MAX = 10_000
# Index entries iter_shares reads per read transaction; it holds no transaction between batches,
# so a slow consumer (scrub reading every file) never pins old LMDB pages.
ITER_SHARES_BATCH_MAX = 1024
# Most shares one mark_verified call updates (one write transaction).
MARK_VERIFIED_BATCH_MAX = 10_000
# Most references one `references` call returns. The number of references a copy may have is not
# capped (a popular chunk is shared by as many object versions as use it; refusing its writes would
# be worse than a longer scan), only how many one call materializes.
REFERENCES_LIMIT_MAX = 10_000


@dataclasses.dataclass(frozen=True)
class ReleaseOutcome:
    """What `NodeStore.release_share` did."""

    deleted: bool  # True only when the release removed the copy's index entry (and its file)
    references_left: int  # reference rows the copy still has; 0 when it was released


def wall_clock_unix_ms() -> int:
    return time.time_ns() // 1_000_000


def _hex_or_short(raw: bytes) -> str:
    return raw.hex() if raw else "(empty)"


class ShareWriter:
    """Streaming write of one share into its own temp file. Get one from `NodeStore.begin_share`;
    end it with `commit` or `abort`. As a context manager it aborts unless committed."""

    def __init__(self, store: "NodeStore", share: ShareKey, temp_path: str, fd: int) -> None:
        self.share = share
        self.size_bytes = 0
        self._store = store
        self._temp_path = temp_path
        self._fd = fd
        self._hasher = blake3.blake3()
        self._state = "open"  # open -> committed | aborted

    def write(self, data: bytes | bytearray | memoryview) -> None:
        """Append to the temp file and to the running blake3."""
        assert self._state == "open", f"write to share {self.share} after {self._state}"
        view = memoryview(data)
        if view.ndim != 1 or view.itemsize != 1:
            view = view.cast("B")
        size_bytes = self.size_bytes + view.nbytes
        if size_bytes > self._store.share_size_bytes_max:
            self.abort()
            raise InvalidArgument(
                f"share {self.share.suffix()} of chunk {self.share.chunk_id.hex()} exceeds "
                f"{self._store.share_size_bytes_max} bytes (got at least {size_bytes})")
        self._hasher.update(view)
        try:
            while view.nbytes:
                written = os.write(self._fd, view)
                view = view[written:]
        except OSError as exc:
            self.abort()
            raise_if_full(exc, self._temp_path)
            raise
        self.size_bytes = size_bytes

    def commit(self, *, expected_blake3: bytes, placement: common_pb2.PlacementRecord | None,
               handoff_for_node_id: str = "",
               referenced_by: common_pb2.ObjectRef | None = None) -> bool:
        """Make the share durable and indexed; returns already_present (a dedup). `referenced_by`
        names the object version the copy is stored for; its reference row commits with the index
        entry, on a dedup too. `placement` must be the record of this share's layout. Raises
        ChecksumMismatch if the bytes do not hash to expected_blake3; the temp file is removed on
        any failure."""
        assert self._state == "open", f"commit of share {self.share} after {self._state}"
        try:
            if len(expected_blake3) != BLAKE3_BYTES:
                raise InvalidArgument(
                    f"expected blake3 must be {BLAKE3_BYTES} bytes, got {len(expected_blake3)}")
            self._store._check_placement(self.share, placement)
            ref_row = (None if referenced_by is None else
                       (ref_row_key(self.share, referenced_by), encode_ref(referenced_by)))
            try:
                os.fsync(self._fd)
            except OSError as exc:
                raise_if_full(exc, self._temp_path)
                raise
            finally:
                self._close_fd()
            actual = self._hasher.digest()
            if actual != expected_blake3:
                raise ChecksumMismatch(
                    chunk_id=self.share.chunk_id, share_suffix=self.share.suffix(),
                    expected_blake3=expected_blake3, actual_blake3=actual,
                    size_bytes=self.size_bytes)
            already_present = self._store._install_share(
                self.share, self._temp_path, self.size_bytes, actual, placement,
                handoff_for_node_id, ref_row)
        except BaseException:
            self.abort()
            raise
        self._state = "committed"
        return already_present

    def abort(self) -> None:
        """Drop the temp file; idempotent, and a no-op after commit."""
        if self._state == "committed":
            return
        self._state = "aborted"
        self._close_fd()
        self._store._files.remove_temp(self._temp_path)

    def _close_fd(self) -> None:
        if self._fd >= 0:
            fd, self._fd = self._fd, -1
            os.close(fd)

    def __enter__(self) -> "ShareWriter":
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.abort()


class NodeStore:
    """The node's disk: share files, their index, placements, manifests, buckets, identity."""

    def __init__(self, data_dir: str, *, map_size_bytes: int = 2 * 1024**3,
                 share_size_bytes_max: int = SHARE_SIZE_BYTES_MAX,
                 now_unix_ms: Callable[[], int] = wall_clock_unix_ms) -> None:
        self.data_dir = os.path.abspath(data_dir)
        self.share_size_bytes_max = share_size_bytes_max
        self._now_unix_ms = now_unix_ms
        os.makedirs(self.data_dir, exist_ok=True)
        self._lock_fd = self._lock_data_dir()
        try:
            self._meta = MetadataDb(os.path.join(self.data_dir, META_DIR),
                                    map_size_bytes=map_size_bytes)
        except BaseException:
            os.close(self._lock_fd)
            raise
        try:
            self._files = ChunkFiles(self.data_dir)
            self.temp_files_removed_at_open = self._files.sweep_temp()
            self._share_locks = [threading.Lock() for _ in range(SHARE_LOCK_STRIPES)]
            self._stats_lock = threading.Lock()
            self._shares_stored, self._bytes_stored = self._count_shares()
        except BaseException:
            self._meta.close()
            os.close(self._lock_fd)
            raise
        self._closed = False

    def _lock_data_dir(self) -> int:
        path = os.path.join(self.data_dir, LOCK_FILE)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise DataDirLocked(f"data dir {self.data_dir} is in use by another node "
                                f"(lock {path} is held); stop it or pick another --data-dir")
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        return fd

    def _count_shares(self) -> tuple[int, int]:
        count = total_bytes = 0
        with self._meta.read() as txn:
            for key, raw in txn.cursor(db=self._meta.chunks):
                info = decode_record(common_pb2.StoredShare, raw, f"share {key.hex()}")
                count += 1
                total_bytes += info.size_bytes
        return count, total_bytes

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._meta.close()
        os.close(self._lock_fd)

    def __enter__(self) -> "NodeStore":
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # -- identity ------------------------------------------------------------------------------

    def load_node_id(self) -> str | None:
        with self._meta.read() as txn:
            raw = txn.get(META_NODE_ID, db=self._meta.meta)
        return None if raw is None else raw.decode("utf-8")

    def save_node_id(self, node_id: str) -> None:
        """Record which node owns this data dir. A data dir never changes owner: saving a
        different id raises, since the cluster's placement records name the old one."""
        if not node_id:
            raise InvalidArgument("node id must not be empty")
        with self._meta.write() as txn:
            raw = txn.get(META_NODE_ID, db=self._meta.meta)
            if raw is not None and raw.decode("utf-8") != node_id:
                raise StoreError(f"data dir {self.data_dir} belongs to node {raw.decode()!r}, "
                                 f"not {node_id!r}; use that node id or another --data-dir")
            if raw is None:
                txn.put(META_NODE_ID, node_id.encode("utf-8"), db=self._meta.meta)

    # -- shares --------------------------------------------------------------------------------

    def begin_share(self, share: ShareKey) -> ShareWriter:
        assert not self._closed, "begin_share on a closed NodeStore"
        temp_path, fd = self._files.create_temp(share)
        return ShareWriter(self, share, temp_path, fd)

    def put_share(self, share: ShareKey, data: bytes, *, expected_blake3: bytes,
                  placement: common_pb2.PlacementRecord | None,
                  handoff_for_node_id: str = "",
                  referenced_by: common_pb2.ObjectRef | None = None) -> bool:
        """Write a whole share at once; returns already_present (see `ShareWriter.commit`)."""
        with self.begin_share(share) as writer:
            writer.write(data)
            return writer.commit(expected_blake3=expected_blake3, placement=placement,
                                 handoff_for_node_id=handoff_for_node_id,
                                 referenced_by=referenced_by)

    def read_share(self, share: ShareKey) -> bytes:
        """The share's bytes, verified against the index's blake3 and size. A mismatch moves the
        file to quarantine/, drops the index entry and raises CorruptShare."""
        info = self.share_info(share)
        if info is None:
            raise ShareNotFound(share.chunk_id, share.suffix())
        try:
            data = self._files.read(share, info.size_bytes + 1)
        except FileNotFoundError:
            return self._recheck_under_lock(share)
        if len(data) == info.size_bytes and blake3.blake3(data).digest() == info.blake3:
            return data
        return self._recheck_under_lock(share)

    def _recheck_under_lock(self, share: ShareKey) -> bytes:
        """Slow path of a read that failed: with writers of this share held off, read again; if the
        file is still bad, quarantine it (or drop the entry if the file is gone) and raise."""
        with self._share_lock(share):
            info = self.share_info(share)
            if info is None:
                raise ShareNotFound(share.chunk_id, share.suffix())
            try:
                data = self._files.read(share, info.size_bytes + 1)
            except FileNotFoundError:
                self._drop_index_entry(share)
                raise ShareNotFound(share.chunk_id, share.suffix(),
                                    "index entry had no file; entry dropped") from None
            actual = blake3.blake3(data).digest()
            if len(data) == info.size_bytes and actual == info.blake3:
                return data  # a writer replaced the file between our two reads
            path = self._files.final_path(share)
            actual_size_bytes = len(data)
            if actual_size_bytes > info.size_bytes:  # we read only a prefix: hash the whole file
                actual_size_bytes = os.path.getsize(path)
                actual = blake3.blake3().update_mmap(path).digest()
            quarantine_path = self._files.quarantine(share, self._now_unix_ms())
            self._drop_index_entry(share)
        raise CorruptShare(
            chunk_id=share.chunk_id, share_suffix=share.suffix(), path=path,
            quarantine_path=quarantine_path, expected_blake3=info.blake3, actual_blake3=actual,
            expected_size_bytes=info.size_bytes, actual_size_bytes=actual_size_bytes)

    def has_share(self, share: ShareKey) -> bool:
        """True when the index has the share (does not read the file)."""
        with self._meta.read() as txn:
            return txn.get(share.db_key(), db=self._meta.chunks) is not None

    def share_info(self, share: ShareKey) -> common_pb2.StoredShare | None:
        with self._meta.read() as txn:
            raw = txn.get(share.db_key(), db=self._meta.chunks)
        return None if raw is None else decode_record(common_pb2.StoredShare, raw, f"share {share}")

    def delete_share(self, share: ShareKey) -> bool:
        """Drop the index entry and every reference row of the share (one transaction), then the
        file (a crash in between leaves an unserved orphan file, never an entry without bytes).
        Unconditional, unlike `release_share`: for copies the node must shed whoever uses them
        (handoff return, rebalancing). True when there was anything to delete."""
        with self._share_lock(share):
            had_entry, refs_dropped = self._drop_index_entry(share, drop_refs=True)
            had_file = self._files.remove(share)
        return had_entry or had_file or refs_dropped > 0

    # -- references ----------------------------------------------------------------------------

    def references(self, share: ShareKey, *,
                   limit: int = REFERENCES_LIMIT_MAX) -> list[common_pb2.ObjectRef]:
        """Object versions the copy is stored for, at most `limit` of them in ref key order (use
        `reference_count` for the total). One prefix scan: no db key is a prefix of another."""
        if not 1 <= limit <= REFERENCES_LIMIT_MAX:
            raise InvalidArgument(f"limit must be in 1..{REFERENCES_LIMIT_MAX}, got {limit}")
        prefix = share.db_key()
        found: list[common_pb2.ObjectRef] = []
        with self._meta.read() as txn:
            cursor = txn.cursor(db=self._meta.refs)
            more = cursor.set_range(prefix)
            while more and len(found) < limit:
                key, raw = cursor.item()
                if not key.startswith(prefix):
                    break
                found.append(decode_ref(raw, f"{key[len(prefix):].hex()} of share {share}"))
                more = cursor.next()
        return found

    def reference_count(self, share: ShareKey) -> int:
        """How many object versions the copy is stored for."""
        with self._meta.read() as txn:
            return self._count_refs(txn, share)

    def release_share(self, share: ShareKey, ref: common_pb2.ObjectRef) -> ReleaseOutcome:
        """Remove `ref` from the copy's references (absent is fine: releases are idempotent) and,
        if none is left, the copy itself: its index entry and, when no share of its layout is
        indexed here any more, the layout's placement record (in the transaction that removes the
        ref), then its file, in delete_share's order. A copy stored without any reference is
        released by the first release. See the module docstring for why this is safe against a
        concurrent write of the same share."""
        row_key = ref_row_key(share, ref)
        with self._share_lock(share):
            with self._meta.write() as txn:
                removed_ref = txn.delete(row_key, db=self._meta.refs)
                left = self._count_refs(txn, share)
                if left:
                    return ReleaseOutcome(deleted=False, references_left=left)
                raw = txn.pop(share.db_key(), db=self._meta.chunks)
                if raw is None and not removed_ref:
                    return ReleaseOutcome(deleted=False, references_left=0)  # nothing was here
                old = (None if raw is None else
                       decode_record(common_pb2.StoredShare, raw, f"share {share}"))
                if not self._layout_indexed(txn, share):
                    txn.delete(share.layout_key(), db=self._meta.placements)
            if old is None:
                return ReleaseOutcome(deleted=False, references_left=0)  # e.g. quarantined
            self._files.remove(share)
            self._adjust_stats(old, None)
        return ReleaseOutcome(deleted=True, references_left=0)

    def iter_shares(self) -> Iterator[tuple[ShareKey, common_pb2.StoredShare]]:
        """Every indexed share, in chunk id order, read in batches of ITER_SHARES_BATCH_MAX with no
        transaction held between batches (entries changed meanwhile may or may not appear)."""
        after: bytes | None = None
        while True:
            batch: list[tuple[ShareKey, common_pb2.StoredShare]] = []
            with self._meta.read() as txn:
                cursor = txn.cursor(db=self._meta.chunks)
                found = cursor.set_range(after) if after is not None else cursor.first()
                while found and len(batch) < ITER_SHARES_BATCH_MAX:
                    key, raw = cursor.item()
                    if key != after:
                        share = ShareKey.from_db_key(key)
                        batch.append((share, decode_record(common_pb2.StoredShare, raw,
                                                           f"share {share}")))
                    found = cursor.next()
            if not batch:
                return
            yield from batch
            after = batch[-1][0].db_key()

    def mark_verified(self, shares: Sequence[ShareKey]) -> int:
        """Set last_verified_at_unix_ms to now on shares a scrub just read intact, in one write
        transaction; returns how many entries were updated (missing ones are skipped)."""
        if len(shares) > MARK_VERIFIED_BATCH_MAX:
            raise InvalidArgument(
                f"mark_verified takes at most {MARK_VERIFIED_BATCH_MAX} shares, got {len(shares)}")
        now_ms = self._now_unix_ms()
        updated = 0
        with self._meta.write() as txn:
            for share in shares:
                raw = txn.get(share.db_key(), db=self._meta.chunks)
                if raw is None:
                    continue
                info = decode_record(common_pb2.StoredShare, raw, f"share {share}")
                info.last_verified_at_unix_ms = now_ms
                txn.put(share.db_key(), encode_record(info, f"share {share}"), db=self._meta.chunks)
                updated += 1
        return updated

    def stats(self) -> tuple[int, int]:
        """(shares stored, bytes stored) per the index."""
        with self._stats_lock:
            return self._shares_stored, self._bytes_stored

    # -- placements ----------------------------------------------------------------------------

    def put_placement(self, record: common_pb2.PlacementRecord) -> None:
        """Store or replace the placement record of one layout of a chunk (the last put wins).
        The layout comes from `record.policy`: replication, or erasure coding K+M; each layout of
        a chunk has its own record."""
        if len(record.chunk_id) != CHUNK_ID_BYTES:
            raise InvalidArgument(f"placement chunk id must be {CHUNK_ID_BYTES} bytes, "
                                  f"got {len(record.chunk_id)}")
        where = f"placement of chunk {record.chunk_id.hex()}"
        raw = encode_record(record, where)
        key = placement_key(record.chunk_id, *self._placement_geometry(record, where))
        with self._meta.write() as txn:
            txn.put(key, raw, db=self._meta.placements)

    def get_placement(self, chunk_id: bytes, data_shares: int = 0,
                      parity_shares: int = 0) -> common_pb2.PlacementRecord | None:
        """The placement record of the chunk's replicated layout, or of its K+M erasure layout."""
        key = placement_key(chunk_id, data_shares, parity_shares)
        with self._meta.read() as txn:
            raw = txn.get(key, db=self._meta.placements)
        return None if raw is None else decode_record(
            common_pb2.PlacementRecord, raw, f"placement of chunk {chunk_id.hex()} "
            f"({describe_geometry(data_shares, parity_shares)})")

    def delete_placement(self, chunk_id: bytes, data_shares: int = 0,
                         parity_shares: int = 0) -> bool:
        """Drop one layout's placement record (garbage collection); True if there was one."""
        key = placement_key(chunk_id, data_shares, parity_shares)
        with self._meta.write() as txn:
            return txn.delete(key, db=self._meta.placements)

    # -- manifests -----------------------------------------------------------------------------

    def put_manifest(self, manifest: common_pb2.Manifest) -> bool:
        """Keep the manifest if it is newer than the stored version of its key; returns superseded
        (True when the stored version is newer or equal, so nothing was written)."""
        where = f"{manifest.tenant}/{manifest.bucket}/{manifest.key}"
        key = manifest_key(manifest.tenant, manifest.bucket, manifest.key)
        return self._put_newest(self._meta.manifests, key, manifest, common_pb2.Manifest, where)

    def get_manifest(self, tenant: str, bucket: str, key: str) -> common_pb2.Manifest | None:
        with self._meta.read() as txn:
            raw = txn.get(manifest_key(tenant, bucket, key), db=self._meta.manifests)
        return None if raw is None else decode_record(
            common_pb2.Manifest, raw, f"{tenant}/{bucket}/{key}")

    def list_manifests(self, tenant: str, bucket: str, *, prefix: str = "", start_after: str = "",
                       limit: int = 1000) -> tuple[list[common_pb2.Manifest], bool]:
        """Newest version per key (tombstones included) with key > start_after and key starting
        with prefix, in key order, at most `limit`; the bool says more exist. One range scan."""
        if not 1 <= limit <= LIST_MANIFESTS_LIMIT_MAX:
            raise InvalidArgument(f"limit must be in 1..{LIST_MANIFESTS_LIMIT_MAX}, got {limit}")
        base = manifest_key_prefix(tenant, bucket)
        low = base + prefix.encode("utf-8")
        after = base + start_after.encode("utf-8") if start_after else None
        start = max(low, after) if after is not None else low
        found: list[common_pb2.Manifest] = []
        with self._meta.read() as txn:
            cursor = txn.cursor(db=self._meta.manifests)
            more = cursor.set_range(start)
            while more:
                key, raw = cursor.item()
                if not key.startswith(low):
                    break
                if key != after:
                    if len(found) == limit:
                        return found, True
                    where = f"{tenant}/{bucket}/{key[len(base):].decode('utf-8', 'replace')}"
                    found.append(decode_record(common_pb2.Manifest, raw, where))
                more = cursor.next()
        return found, False

    # -- buckets -------------------------------------------------------------------------------

    def put_bucket(self, record: common_pb2.BucketRecord) -> bool:
        """Keep the record if it is newer than the stored one; returns superseded."""
        key = bucket_key(record.tenant, record.name)
        return self._put_newest(self._meta.buckets, key, record, common_pb2.BucketRecord,
                                f"bucket {record.tenant}/{record.name}")

    def get_bucket(self, tenant: str, name: str) -> common_pb2.BucketRecord | None:
        with self._meta.read() as txn:
            raw = txn.get(bucket_key(tenant, name), db=self._meta.buckets)
        return None if raw is None else decode_record(
            common_pb2.BucketRecord, raw, f"bucket {tenant}/{name}")

    def list_buckets(self, tenant: str) -> list[common_pb2.BucketRecord]:
        """Every bucket record of the tenant (tombstones included), by name."""
        base = bucket_key_prefix(tenant)
        records: list[common_pb2.BucketRecord] = []
        with self._meta.read() as txn:
            cursor = txn.cursor(db=self._meta.buckets)
            more = cursor.set_range(base)
            while more:
                key, raw = cursor.item()
                if not key.startswith(base):
                    break
                if len(records) == BUCKETS_PER_TENANT_MAX:
                    raise StoreError(f"tenant {tenant!r} has more than {BUCKETS_PER_TENANT_MAX} "
                                     "bucket records")
                records.append(decode_record(common_pb2.BucketRecord, raw,
                                             f"bucket {key.decode('utf-8', 'replace')}"))
                more = cursor.next()
        return records

    # -- disk ------------------------------------------------------------------------------------

    def data_filesystem_free_bytes(self) -> int:
        """Bytes an unprivileged writer can still use on the data dir's filesystem."""
        st = os.statvfs(self.data_dir)
        return st.f_bavail * st.f_frsize

    # -- internals -------------------------------------------------------------------------------

    def _share_lock(self, share: ShareKey) -> threading.Lock:
        return self._share_locks[hash(share) % SHARE_LOCK_STRIPES]

    def _check_placement(self, share: ShareKey,
                         placement: common_pb2.PlacementRecord | None) -> None:
        if placement is None:
            return
        if placement.chunk_id != share.chunk_id:
            raise InvalidArgument(
                f"placement record names chunk {_hex_or_short(placement.chunk_id)} but the share "
                f"is of chunk {share.chunk_id.hex()}")
        where = f"placement of chunk {share.chunk_id.hex()}"
        check_record_version(placement, where)
        geometry = self._placement_geometry(placement, where)
        if geometry != (share.data_shares, share.parity_shares):
            raise InvalidArgument(
                f"{where} is for {describe_geometry(*geometry)} but share {share.suffix()} is "
                f"stored under {describe_geometry(share.data_shares, share.parity_shares)}")

    @staticmethod
    def _placement_geometry(record: common_pb2.PlacementRecord, where: str) -> tuple[int, int]:
        try:
            return policy_geometry(record.policy)
        except InvalidArgument as exc:
            raise InvalidArgument(f"{where}: {exc}") from exc

    def _install_share(self, share: ShareKey, temp_path: str, size_bytes: int, digest: bytes,
                       placement: common_pb2.PlacementRecord | None,
                       handoff_for_node_id: str, ref_row: tuple[bytes, bytes] | None) -> bool:
        """Rename the verified, fsynced temp file into place and commit its index entry (and the
        reference row and the layout's placement record) in one transaction; a dedup if the same
        bytes are already there."""
        key = share.db_key()
        layout_key = share.layout_key()
        where = f"share {share}"
        placement_raw = (None if placement is None else
                         encode_record(placement, f"placement of chunk {share.chunk_id.hex()}"))
        with self._share_lock(share):
            existing = self.share_info(share)
            # The state of a share slot only moves toward home (see the module docstring).
            if existing is None:
                state = handoff_for_node_id
            elif existing.handoff_for_node_id == "" or handoff_for_node_id == "":
                state = ""
            else:
                state = existing.handoff_for_node_id
            if (existing is not None and existing.blake3 == digest
                    and existing.size_bytes == size_bytes
                    and self._files.file_size(share) == size_bytes):
                self._files.remove_temp(temp_path)
                changed = state != existing.handoff_for_node_id
                if changed or placement_raw is not None or ref_row is not None:
                    with self._meta.write() as txn:
                        if changed:
                            existing.handoff_for_node_id = state
                            txn.put(key, encode_record(existing, where), db=self._meta.chunks)
                        if ref_row is not None:
                            txn.put(*ref_row, db=self._meta.refs)
                        if placement_raw is not None:
                            txn.put(layout_key, placement_raw, db=self._meta.placements)
                return True
            self._files.install(temp_path, share)
            now_ms = self._now_unix_ms()
            record = common_pb2.StoredShare(
                format_version=RECORD_FORMAT_VERSION, size_bytes=size_bytes, blake3=digest,
                handoff_for_node_id=state, stored_at_unix_ms=now_ms,
                last_verified_at_unix_ms=now_ms)
            with self._meta.write() as txn:
                txn.put(key, encode_record(record, where), db=self._meta.chunks)
                if ref_row is not None:
                    txn.put(*ref_row, db=self._meta.refs)
                if placement_raw is not None:
                    txn.put(layout_key, placement_raw, db=self._meta.placements)
            self._adjust_stats(existing, record)
            return False

    def _drop_index_entry(self, share: ShareKey, *, drop_refs: bool = False) -> tuple[bool, int]:
        """Delete the share's index entry (and, with drop_refs, its reference rows in the same
        transaction) and count it out of the stats; caller holds its lock. Returns (had an entry,
        reference rows dropped). Quarantine keeps the refs: the copy is to be rebuilt."""
        refs_dropped = 0
        with self._meta.write() as txn:
            raw = txn.pop(share.db_key(), db=self._meta.chunks)
            if drop_refs:
                prefix = share.db_key()
                cursor = txn.cursor(db=self._meta.refs)
                if cursor.set_range(prefix):
                    while cursor.key().startswith(prefix):
                        cursor.delete()
                        refs_dropped += 1
        if raw is None:
            return False, refs_dropped
        self._adjust_stats(decode_record(common_pb2.StoredShare, raw, f"share {share}"), None)
        return True, refs_dropped

    def _count_refs(self, txn: lmdb.Transaction, share: ShareKey) -> int:
        """Reference rows of the share: a key-only prefix scan, O(references)."""
        prefix = share.db_key()
        count = 0
        cursor = txn.cursor(db=self._meta.refs)
        if cursor.set_range(prefix):
            for key in cursor.iternext(keys=True, values=False):
                if not key.startswith(prefix):
                    break
                count += 1
        return count

    def _layout_indexed(self, txn: lmdb.Transaction, share: ShareKey) -> bool:
        """True when any share of `share`'s layout has an index entry here."""
        prefix = share.layout_db_prefix()
        cursor = txn.cursor(db=self._meta.chunks)
        return cursor.set_range(prefix) and cursor.key().startswith(prefix)

    def _adjust_stats(self, old: common_pb2.StoredShare | None,
                      new: common_pb2.StoredShare | None) -> None:
        with self._stats_lock:
            self._shares_stored += (new is not None) - (old is not None)
            self._bytes_stored += (new.size_bytes if new else 0) - (old.size_bytes if old else 0)
            assert self._shares_stored >= 0 and self._bytes_stored >= 0, (
                f"stats went negative: {self._shares_stored} shares, {self._bytes_stored} bytes")

    def _put_newest(self, db: lmdb._Database, key: bytes, record: common_pb2.Manifest
                    | common_pb2.BucketRecord, message_type: type, where: str) -> bool:
        raw_new = encode_record(record, where)
        with self._meta.write() as txn:
            raw_old = txn.get(key, db=db)
            if raw_old is not None:
                old = decode_record(message_type, raw_old, where)
                if version_key(record.version) <= version_key(old.version):
                    return True
            txn.put(key, raw_new, db=db)
        return False
