"""`NodeStore`: the one object the rest of the node uses to touch its disk.

The write path of a share, in order, is the durability contract of the whole cluster:

    write temp file -> fsync it -> verify blake3 -> rename into chunks/ab/cd/ -> fsync the directory
    (and its parents when created) -> commit index entry + reference rows + placement record in one
    LMDB transaction

Only after the last step does `ShareWriter.commit` return, and only then may the node acknowledge.
A crash before the LMDB commit leaves at worst an orphan file without an index entry (never served:
reads go through the index; a later write of the same share overwrites it). If the final file exists
and the index already has the same blake3, the write is a dedup: the temp file is dropped and only
the reference rows and the placement record are written.

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

A copy that repair writes elsewhere carries the references of the copy it replaces (`references=`
on the write, committed with the index entry like `referenced_by`): otherwise the first release
of any one version would drop a copy that other versions still use.

Three ways a copy leaves, for three callers: `release_share` when the last object version using it
lets go (garbage collection), `delete_share` when the node must shed it whoever uses it (handoff
return; the placement record stays), and `drop_copy` when repair has moved a surplus copy to its
proper holder (references go with the copy, and the placement record too once no share of that
layout is left here). Rejected alternative: one delete with flags; the three differ in what must
stay behind, and a caller that picks the wrong flag loses a placement record or a chunk's
references silently. `set_home` is the opposite move: the ring now puts a handoff copy here, so it
becomes a home copy and handoff return leaves it.

Scans that feed the network (`iter_shares`, `iter_placements`, `iter_manifests`) read in batches
with no read transaction held between them: a consumer that pushes each record to a slow peer would
otherwise pin every page LMDB frees meanwhile and grow the map. Re-replicating metadata when the
ring changes works per partition (a bucket's manifests, a tenant's bucket records), and
`manifest_partitions` / `bucket_tenants` list those with one cursor seek per partition (see `keys`)
rather than a walk over every record (rejected alternative: a db of partitions kept in step with
every put and delete, one more write on the hot path for what a seek per partition answers). A
record handed off is removed with `delete_manifest_if` / `delete_bucket_if`, which compare versions
in the same transaction, so a newer version that arrived since the push is never the one deleted.

Concurrency: gRPC handlers call in from many threads. LMDB serializes write transactions itself.
Everything that changes one share (install, delete, release, quarantine, drop, set home) runs
under one of `SHARE_LOCK_STRIPES` locks picked by the share, so "look at the index, then rename,
then commit" is atomic per share and two writers of the same share end as one write plus one
dedup. The heavy part (receiving, hashing and fsyncing the temp file) runs outside the lock. Reads
take no lock: a rename replaces a whole file, so a reader sees the old or the new bytes, and a
reader that finds corruption re-checks under the lock before quarantining, in case a writer
replaced the file meanwhile.

A copy's state only moves toward home: a dedup or overwrite that says "handoff for X" never turns a
home copy into a handoff copy (handoff return would then delete a copy the node owns), while a home
write does turn a handoff copy into a home copy.

`stats()` is O(1): counts live in memory under a lock, computed from the index at open and adjusted
after each commit. Rejected alternative: keeping the totals in the meta db, which would add a write
to the same hot key on every put for a number that one scan at open recomputes.

Damaged metadata (the envelope and the walk are in `metadata`): the env is verified at open. One
LMDB cannot walk is moved aside to meta.corrupt-<unix ms> and a fresh one re-indexes the share
files (`_reindex_files`); corrupt records alone are dropped. Either way the store is `refilling`
until the daemon's refill (node/repair/metadata_refill.py) calls `finish_refill`, and meanwhile
refuses to answer for manifests, bucket and placement records (MetadataUnavailable), since an
absent answer would look authoritative. A record failing its checksum at run time is quarantined
by `quarantining` (the outermost store call catches CorruptRecord after its transactions ended,
drops the record if it still holds the bad bytes, counts it and calls the hook), its key is
remembered until a put brings it back, and a share's index entry is indexed again from its file.
LMDB failing at run time marks the env damaged for the rest of the process (`MetadataDb.damage`).
Rejected alternative: repairing a damaged env in place while the node runs; every open
transaction and cursor would race it, and nothing read from a damaged b-tree is trusted anyway.

A full disk (see `disk`): every new chunk copy reserves its bytes with `disk` (a `DiskGuard`)
before its temp file is written, whichever caller it comes from, so a copy that would take the node
past a disk-full watermark is refused with StoreFull and nothing is written; a write of a share
already indexed here adds no bytes and is never refused. Metadata writes are never checked. When
the filesystem fills anyway, ENOSPC while writing the temp file, renaming it or committing its
index entry is a StoreFull as well, after the temp file (or a final file the failed commit left
unindexed) is removed. A copy stored earlier is never touched: a new copy writes only its own temp
file, and its rename replaces only a file without an index entry (or one the index says holds other
bytes, which the write is repairing).
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import functools
import heapq
import inspect
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from types import TracebackType

import blake3
import lmdb

from ringstore.v1 import common_pb2

from node.store import changes, index, savings, usage, versions
from node.store.chunks import PRIVATE_FILE_MODE, ChunkFiles, TempFile, fsync_dir, make_private_dir, raise_if_full
from node.store.disk import DiskGuard
from node.store.errors import (ChecksumMismatch, CorruptRecord, CorruptShare, DataDirLocked,
                               InvalidArgument, MetadataUnavailable, ShareNotFound, StoreError,
                               StoreFull)
from node.store.identity import StoreIdentity
from node.store.keys import (CHUNK_ID_BYTES, MANIFEST_DB_KEY_INLINE_BYTES_MAX, ShareKey, ballot_key,
                             bucket_key, bucket_key_prefix, bucket_order_key, describe_geometry, hashed_group,
                             is_hashed_db_key, key_partition, layout_db_prefix, manifest_key,
                             manifest_key_prefix, placement_key, policy_geometry, ref_row_key,
                             version_key)
from node.store.digests import DigestSealer
from node.store.metadata import (DB_NAMES, LMDB_DAMAGE_ERRORS, META_NODE_ID, probe_env,
                                 RECORD_FORMAT_VERSION, MetadataDb, check_record_version,
                                 count_savings, count_usage, decode_record, decode_ref, encode_record, encode_ref)

MIB = 1024 * 1024
META_DIR = "meta"
LOCK_FILE = "LOCK"
BLAKE3_BYTES = 32
# Locks that serialize changes to one share; more stripes mean fewer unrelated shares waiting on
# each other, at 64 bytes of memory each.
SHARE_LOCK_STRIPES = 64
# Largest share accepted: StorageConfig's largest chunk_size_bytes, plus the few bytes a chunk sealed
# at rest adds (node/objects/at_rest.py; an erasure share is smaller than its chunk). Bounds the
# memory read_share needs and a writer that never stops.
SHARE_SIZE_BYTES_MAX = 64 * MIB + 4096
# Most manifests one list_manifests call may return.
LIST_MANIFESTS_LIMIT_MAX = 10_000
# Most index entries one find_manifests call reads (a query whose other conditions reject most of
# what its walked condition matches stops there, truncated, and is continued by the next call).
FIND_SCAN_MAX = 20_000
# Most bucket records one tenant may have; list_buckets returns them all in one call.
BUCKETS_PER_TENANT_MAX = 10_000
# Index entries iter_shares reads per read transaction; it holds no transaction between batches,
# so a slow consumer (scrub reading every file) never pins old LMDB pages.
ITER_SHARES_BATCH_MAX = 1024
# Placement records or manifests iter_placements and iter_manifests read per read transaction,
# for the same reason: repair pushes each to other nodes between batches.
ITER_RECORDS_BATCH_MAX = 1024
# Most distinct (tenant, bucket) manifest partitions, or bucket tenants, one manifest_partitions or
# bucket_tenants call returns (a list of names, about 100 bytes each): ten tenants at
# BUCKETS_PER_TENANT_MAX buckets each.
METADATA_PARTITIONS_MAX = 100_000
# Most shares one mark_verified call updates (one write transaction).
MARK_VERIFIED_BATCH_MAX = 10_000
# Most references one `references` call returns, and one commit carries in `references` (repair
# copies a copy's references with one of each). The number of references a copy may have is not
# capped (a popular chunk is shared by as many object versions as use it; refusing its writes would
# be worse than a longer scan), only how many one call materializes.
REFERENCES_LIMIT_MAX = 10_000
# Quarantined manifest, bucket and placement keys remembered until they are put back (about 200
# bytes each); past this many the whole metadata waits for a refill from the peers instead.
QUARANTINED_KEYS_MAX = 10_000
# Dbs whose quarantined keys make reads answer MetadataUnavailable until refilled. A quarantined
# share index entry is re-indexed from its file at once; a quarantined ref row is lost (see the
# module docstring); the meta db is rewritten at start.
QUARANTINE_TRACKED_DBS = ("manifests", "buckets", "placements")
# Dbs whose quarantined records leave the savings records (node/store/savings.py) unknown: they are
# counted again from the reference rows.
SAVINGS_INPUT_DBS = ("chunks", "refs", "savings")


def quarantining(fn: Callable) -> Callable:
    """NodeStore method wrapper: a CorruptRecord raised inside is quarantined (dropped, counted,
    reported) once, by the outermost wrapped call, after every transaction of the call ended, and
    then re-raised for the caller to treat this replica as failed."""
    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def iterate(self: "NodeStore", *args, **kwargs):
            try:
                yield from fn(self, *args, **kwargs)
            except CorruptRecord as err:
                if not err.quarantined:
                    self._quarantine(err)
                raise
        return iterate

    @functools.wraps(fn)
    def call(self: "NodeStore", *args, **kwargs):
        depth = getattr(self._guard_depth, "value", 0)
        self._guard_depth.value = depth + 1
        try:
            return fn(self, *args, **kwargs)
        except CorruptRecord as err:
            if depth == 0 and not err.quarantined:
                self._quarantine(err)
            raise
        finally:
            self._guard_depth.value = depth
    return call


@dataclasses.dataclass(frozen=True)
class ReleaseOutcome:
    """What `NodeStore.release_share` did."""

    deleted: bool  # True only when the release removed the copy's index entry (and its file)
    references_left: int  # reference rows the copy still has; 0 when it was released


@dataclasses.dataclass(frozen=True)
class MetadataOpenReport:
    """What `NodeStore` found wrong with its metadata env at open, and what it did."""

    damage: str  # why the env was rebuilt ("" when only single records were corrupt)
    moved_to: str  # where the damaged env was kept ("" when it was not moved)
    records_checked: int
    corrupt: tuple[CorruptRecord, ...] = ()  # records quarantined at open
    shares_reindexed: int = 0  # share files indexed into the fresh env
    share_files_refused: int = 0  # files moved to quarantine/ instead (bad bytes or name)


def wall_clock_unix_ms() -> int:
    return time.time_ns() // 1_000_000


def _hex_or_short(raw: bytes) -> str:
    return raw.hex() if raw else "(empty)"


class ShareWriter:
    """Streaming write of one share into its own temp file. Get one from `NodeStore.begin_share`;
    end it with `commit` or `abort`. As a context manager it aborts unless committed.

    Holds a reservation of its bytes with the store's DiskGuard (`guard`; None for a share already
    indexed here, which adds no bytes): what `begin_share` was told to expect, grown by `write` when
    more arrives, given back when the writer ends."""

    def __init__(self, store: "NodeStore", share: ShareKey, temp_path: str, file: TempFile,
                 guard: DiskGuard | None, reserved_bytes: int) -> None:
        self.share = share
        self.size_bytes = 0
        self._store = store
        self._temp_path = temp_path
        self._file = file
        self._guard = guard
        self._reserved_bytes = reserved_bytes
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
        if self._guard is not None and size_bytes > self._reserved_bytes:
            try:
                self._guard.reserve(size_bytes - self._reserved_bytes, self._what())
            except StoreFull:
                self.abort()
                raise
            self._reserved_bytes = size_bytes
        self._hasher.update(view)
        try:
            self._file.write(view)
        except OSError as exc:
            self.abort()
            raise_if_full(exc, self._temp_path)
            raise
        self.size_bytes = size_bytes

    def commit(self, *, expected_blake3: bytes, placement: common_pb2.PlacementRecord | None,
               handoff_for_node_id: str = "",
               referenced_by: common_pb2.ObjectRef | None = None,
               references: Sequence[common_pb2.ObjectRef] = ()) -> bool:
        """Make the share durable and indexed; returns already_present (a dedup). `referenced_by`
        names the object version the copy is stored for; `references` are more of them, at most
        REFERENCES_LIMIT_MAX (repair passes the references of the copy it rebuilds, so the new copy
        is released exactly when the old one would have been). Their reference rows commit with
        the index entry, on a dedup too. `placement` must be the record of this share's layout.
        Raises ChecksumMismatch if the bytes do not hash to expected_blake3; the temp file is
        removed on any failure."""
        assert self._state == "open", f"commit of share {self.share} after {self._state}"
        try:
            if len(expected_blake3) != BLAKE3_BYTES:
                raise InvalidArgument(
                    f"expected blake3 must be {BLAKE3_BYTES} bytes, got {len(expected_blake3)}")
            self._store._check_placement(self.share, placement)
            if len(references) > REFERENCES_LIMIT_MAX:
                raise InvalidArgument(
                    f"share {self.share} carries {len(references)} references, more than "
                    f"{REFERENCES_LIMIT_MAX} per commit; pass the rest in further writes of the "
                    "same bytes (each is a dedup that adds its references)")
            refs = list(references) if referenced_by is None else [referenced_by, *references]
            ref_rows = [(ref_row_key(self.share, ref), encode_ref(ref)) for ref in refs]
            self._store._write_delay()
            try:
                self._file.sync()
            except OSError as exc:
                raise_if_full(exc, self._temp_path)
                raise
            finally:
                self._close_file()
            actual = self._hasher.digest()
            if actual != expected_blake3:
                raise ChecksumMismatch(
                    chunk_id=self.share.chunk_id, share_suffix=self.share.suffix(),
                    expected_blake3=expected_blake3, actual_blake3=actual,
                    size_bytes=self.size_bytes)
            already_present = self._store._install_share(
                self.share, self._temp_path, self.size_bytes, actual, placement,
                handoff_for_node_id, ref_rows)
        except BaseException:
            self.abort()
            raise
        self._state = "committed"
        self._release()  # the store's byte total counts the copy now
        return already_present

    def abort(self) -> None:
        """Drop the temp file; idempotent, and a no-op after commit."""
        if self._state == "committed":
            return
        self._state = "aborted"
        self._close_file()
        self._store._files.remove_temp(self._temp_path)
        self._release()

    def _release(self) -> None:
        if self._guard is not None and self._reserved_bytes:
            reserved, self._reserved_bytes = self._reserved_bytes, 0
            self._guard.release(reserved)

    def _what(self) -> str:
        return f"share {self.share.suffix()} of chunk {self.share.chunk_id.hex()}"

    def _close_file(self) -> None:
        self._file.close()

    def __enter__(self) -> "ShareWriter":
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.abort()


class NodeStore:
    """The node's disk: share files, their index, placements, manifests, buckets, identity."""

    def _encode(self, record, where: str) -> bytes:
        """A record's bytes on disk (metadata.encode_record), its digests sealed when it has any to seal."""
        return encode_record(self._sealer.sealed(record) if self._sealer is not None else record, where)

    def _decode(self, message_type, raw: bytes, where: str):
        """A record read from disk (metadata.decode_record), its sealed digests opened."""
        record = decode_record(message_type, raw, where)
        if self._sealer is not None:
            self._sealer.open(record)
        return record

    def __init__(self, data_dir: str, *, map_size_bytes: int = 2 * 1024**3,
                 share_size_bytes_max: int = SHARE_SIZE_BYTES_MAX,
                 now_unix_ms: Callable[[], int] = wall_clock_unix_ms,
                 rebuild_metadata: bool = False, digest_sealer: DigestSealer | None = None) -> None:
        self.data_dir = os.path.abspath(data_dir)
        # Seals the digests of versions encrypted at rest as records go to disk, and opens them as
        # they come back (node/store/digests.py); None keeps every record as it is.
        self._sealer = digest_sealer
        self.share_size_bytes_max = share_size_bytes_max
        self._now_unix_ms = now_unix_ms
        self._usage_day_ms = 86_400_000
        make_private_dir(self.data_dir)
        self._lock_fd = self._lock_data_dir()
        self._files = ChunkFiles(self.data_dir)
        self._share_locks = [threading.Lock() for _ in range(SHARE_LOCK_STRIPES)]
        self._stats_lock = threading.Lock()
        self._corrupt_lock = threading.Lock()
        # db name -> records found corrupt (at open and since), for ringstore_store_corrupt_records
        self.corrupt_records: dict[str, int] = {}
        # (db, key) of manifests, bucket and placement records quarantined and not yet put back:
        # reads that would answer for them raise MetadataUnavailable (an absent answer from here
        # would look authoritative). At most QUARANTINED_KEYS_MAX; beyond, the whole metadata
        # waits for a refill.
        self._quarantined: set[tuple[bytes, bytes]] = set()
        self._guard_depth = threading.local()
        self._on_corrupt_record: Callable[[CorruptRecord], None] = lambda err: None
        # What open found and did (see `open_report`); None when the env verified clean.
        self.open_report: MetadataOpenReport | None = None
        # True while manifests, bucket records and placement records are refilled from peers
        # (after a rebuild or a quarantine at open): reads of them raise MetadataUnavailable.
        self.refilling = False
        try:
            self._meta = self._open_metadata(map_size_bytes, rebuild_metadata)
        except BaseException:
            os.close(self._lock_fd)
            raise
        try:
            self.temp_files_removed_at_open = self._files.sweep_temp()
            if self.open_report is not None and self.open_report.moved_to:
                self._reindex_files()
            elif self.open_report is not None:
                for err in self.open_report.corrupt:
                    if err.db == "chunks":  # the file may be intact: index it again
                        self._reindex_one(ShareKey.from_db_key(err.key))
                if any(err.db in SAVINGS_INPUT_DBS for err in self.open_report.corrupt):
                    self.recount_savings()
            self._shares_stored, self._bytes_stored = self._count_shares()
            # No watermarks until `set_disk_limits`: a copy is refused only when it would not fit.
            self.disk = DiskGuard(self.data_dir, self._bytes_stored_now)
        except BaseException:
            self._meta.close()
            os.close(self._lock_fd)
            raise
        self._write_delay: Callable[[], None] = lambda: None
        self._register_horizon_ms = 0
        self._change_retention_ms = 7 * 24 * 3600 * 1000
        self._closed = False

    # -- metadata health ---------------------------------------------------------------------------

    def _open_metadata(self, map_size_bytes: int, rebuild: bool) -> MetadataDb:
        """Open the env and verify every record (see the module docstring, "Damaged metadata").
        LMDB failing to walk it, or `rebuild`, moves it aside and starts a fresh one; corrupt
        records alone are quarantined one by one."""
        path = os.path.join(self.data_dir, META_DIR)
        # A walk in a child process first: an env whose pages abort LMDB is damaged, not fatal.
        probed, node_id = probe_env(path)
        damage = "rebuild asked for (--rebuild-metadata)" if rebuild else probed
        meta: MetadataDb | None = None
        corrupt: list[CorruptRecord] = []
        checked = 0
        if not damage:
            try:
                meta = MetadataDb(path, map_size_bytes=map_size_bytes, now_unix_ms=self._now_unix_ms)
                checked, corrupt = meta.verify()
            except LMDB_DAMAGE_ERRORS as exc:
                damage = f"{type(exc).__name__}: {exc}"
        if damage:
            if meta is None and node_id is None and not probed and os.path.isdir(path):  # walkable: open it
                with contextlib.suppress(Exception):
                    meta = MetadataDb(path, map_size_bytes=map_size_bytes, now_unix_ms=self._now_unix_ms)
            if meta is not None:
                with contextlib.suppress(Exception), meta.read() as txn:
                    raw = meta.get(txn, meta.meta, META_NODE_ID)
                    node_id = None if raw is None else raw.decode("utf-8")
                meta.close()
            moved_to = self._move_aside(path) if os.path.isdir(path) else ""
            meta = MetadataDb(path, map_size_bytes=map_size_bytes, now_unix_ms=self._now_unix_ms)
            if node_id:
                with meta.write() as txn:
                    meta.put(txn, meta.meta, META_NODE_ID, node_id.encode("utf-8"))
            self.refilling = True
            self.open_report = MetadataOpenReport(damage=damage, moved_to=moved_to,
                                                  records_checked=checked)
            return meta
        assert meta is not None
        if corrupt:
            for err in corrupt:
                self._count_corrupt(err)
                meta.drop_if_same(self._db_named(meta, err.db), err.key, err.raw)
            if any(err.db in ("manifests", "usage") for err in corrupt):
                self._meta = meta
                self.recount_usage()
            self.refilling = True
            self.open_report = MetadataOpenReport(damage="", moved_to="", records_checked=checked,
                                                  corrupt=tuple(corrupt))
        return meta

    def _move_aside(self, path: str) -> str:
        """Rename the damaged env to meta.corrupt-<unix ms> (owner-only), kept for the operator."""
        target = f"{path}.corrupt-{self._now_unix_ms()}"
        os.rename(path, target)
        os.chmod(target, 0o700)
        for name in os.listdir(target):
            os.chmod(os.path.join(target, name), 0o600)
        fsync_dir(self.data_dir)
        return target

    def _reindex_files(self) -> None:
        """Index every share file on disk into the fresh env: a replica only if its bytes hash to
        the chunk id its name says; an erasure share as found (readers check each share against
        the manifest's share_blake3 before decoding, and the refilled placement record is checked
        against it, see `check_share_hashes`). Files that fail, or whose name is not ours, go to
        quarantine/. Handoff state and references are not in the files: copies are indexed as
        home copies without references (see the module docstring)."""
        assert self.open_report is not None
        now_ms = self._now_unix_ms()
        indexed = refused = 0
        for share, path in self._files.iter_final():
            try:
                size_bytes = os.path.getsize(path)
                digest = (blake3.blake3().update_mmap(path).digest() if size_bytes else
                          blake3.blake3(b"").digest())
            except OSError:
                continue
            if (share is None or size_bytes > self.share_size_bytes_max
                    or (share.share_index is None and digest != share.chunk_id)):
                self._files.quarantine_path(path, now_ms)
                refused += 1
                continue
            record = common_pb2.StoredShare(
                format_version=RECORD_FORMAT_VERSION, size_bytes=size_bytes, blake3=digest,
                stored_at_unix_ms=now_ms, last_verified_at_unix_ms=now_ms)
            with self._meta.write() as txn:
                self._meta.put(txn, self._meta.chunks, share.db_key(),
                               self._encode(record, f"share {share}"))
            indexed += 1
        self.open_report = dataclasses.replace(self.open_report, shares_reindexed=indexed,
                                               share_files_refused=refused)

    @staticmethod
    def _db_named(meta: MetadataDb, name: str) -> lmdb._Database:
        return dict(zip((n.decode() for n in DB_NAMES), meta.dbs()))[name]

    def set_corrupt_record_hook(self, hook: Callable[[CorruptRecord], None]) -> None:
        """Call `hook` once per record quarantined at run time (the daemon logs and counts it)."""
        self._on_corrupt_record = hook

    def _count_corrupt(self, err: CorruptRecord) -> None:
        with self._corrupt_lock:
            self.corrupt_records[err.db] = self.corrupt_records.get(err.db, 0) + 1
            if err.db in QUARANTINE_TRACKED_DBS:
                if len(self._quarantined) >= QUARANTINED_KEYS_MAX:
                    self.refilling = True
                else:
                    self._quarantined.add((err.db.encode(), err.key))

    def _quarantine(self, err: CorruptRecord) -> None:
        """Drop a record found corrupt at run time (if it still holds the bad bytes), count it,
        and for a share's index entry re-index the file if it is intact."""
        self._count_corrupt(err)
        db = self._db_named(self._meta, err.db)
        with contextlib.suppress(StoreError):
            self._meta.drop_if_same(db, err.key, err.raw)
        if db is self._meta.chunks:
            self._reindex_one(ShareKey.from_db_key(err.key))
        if err.db in SAVINGS_INPUT_DBS:
            with contextlib.suppress(StoreError):
                self.recount_savings()
        if db is self._meta.manifests or db is self._meta.usage or db is self._meta.versions:
            with contextlib.suppress(StoreError, AssertionError, UnicodeDecodeError):
                (tenant, bucket), _ = key_partition(err.key, 2)
                self.recount_usage(tenant, bucket)
        self._on_corrupt_record(err)

    def _reindex_one(self, share: ShareKey) -> None:
        """After a share's index entry was quarantined: index its file again if it is intact."""
        with self._share_lock(share):
            path = self._files.final_path(share)
            try:
                size_bytes = os.path.getsize(path)
                data = self._files.read(share, self.share_size_bytes_max)
            except OSError:
                return
            digest = blake3.blake3(data).digest()
            if share.share_index is None and digest != share.chunk_id:
                self._files.quarantine(share, self._now_unix_ms())
                return
            now_ms = self._now_unix_ms()
            record = common_pb2.StoredShare(
                format_version=RECORD_FORMAT_VERSION, size_bytes=size_bytes, blake3=digest,
                stored_at_unix_ms=now_ms, last_verified_at_unix_ms=now_ms)
            with self._meta.write() as txn:
                if txn.get(share.db_key(), db=self._meta.chunks) is None:
                    self._meta.put(txn, self._meta.chunks, share.db_key(),
                                   self._encode(record, f"share {share}"))

    def _check_answerable(self, db: lmdb._Database, prefix: bytes, *, exact: bool) -> None:
        """Raise if an answer about `prefix` (a key, or a range when not `exact`) in `db` could
        miss a record: MetadataUnavailable while the whole metadata is refilled, CorruptRecord
        (quarantined=True) when a record in range was quarantined and is not put back yet."""
        if not (self.refilling or self._quarantined):
            return
        name = self._meta.name_of(db)
        if self.refilling:
            raise MetadataUnavailable(
                f"metadata of {self.data_dir} is being refilled from the peers after damage "
                f"({self.describe_damage()}); ask another replica")
        with self._corrupt_lock:
            hit = next((q_key for q_db, q_key in self._quarantined
                        if q_db == name and (q_key == prefix if exact else q_key.startswith(prefix))),
                       None)
        if hit is not None:
            raise CorruptRecord(db=name.decode(), key=hit, quarantined=True,
                                detail="found corrupt earlier, quarantined and not put back yet")

    def _refilled_key(self, db: lmdb._Database, key: bytes) -> None:
        if self._quarantined:
            with self._corrupt_lock:
                self._quarantined.discard((self._meta.name_of(db), key))

    def quarantined_keys(self) -> list[tuple[str, bytes]]:
        """(db name, key) of records quarantined and not yet put back."""
        with self._corrupt_lock:
            return sorted((db.decode(), key) for db, key in self._quarantined)

    @property
    def created_now(self) -> bool:
        """True when this open created the metadata environment (a new or replaced disk, or a
        rebuild): the store holds nothing it may have held under this node id before."""
        return self._meta.created_now

    def begin_refill(self) -> None:
        """Answer UNAVAILABLE for manifests, bucket and placement records until `finish_refill`:
        the daemon calls it for a new store that may replace one the cluster counted on."""
        self.refilling = True

    def finish_refill(self, cleared: Sequence[tuple[str, bytes]] = ()) -> None:
        """The refill from peers is done: metadata answers again. `cleared` are quarantined keys
        the refill asked every other home about and none had (gone for good)."""
        with self._corrupt_lock:
            for db, key in cleared:
                self._quarantined.discard((db.encode(), key))
        self.refilling = False

    def node_id_lost(self) -> bool:
        """True when the damage found at open took the data dir's node id with it (the daemon
        then needs --node-id: a new random id would make the node a stranger to its own data)."""
        report = self.open_report
        if report is None:
            return False
        if report.moved_to:
            return self.load_node_id() is None
        return any(err.db == "meta" and err.key == META_NODE_ID for err in report.corrupt)

    def describe_damage(self) -> str:
        report = self.open_report
        if self._meta.damage:
            return f"LMDB failed at run time: {self._meta.damage}"
        if report is None:
            return f"{sum(self.corrupt_records.values())} corrupt records quarantined"
        if report.moved_to:
            return f"env rebuilt at open ({report.damage}), damaged one kept at {report.moved_to}"
        return f"{len(report.corrupt)} corrupt records quarantined at open"

    def metadata_health(self) -> str:
        """"ok", "refilling" (answers again once refilled from peers) or "damaged" (LMDB failed at
        run time: restart the node to rebuild)."""
        if self._meta.damage:
            return "damaged"
        if self.refilling or self._quarantined:
            return "refilling"
        return "ok"

    def _lock_data_dir(self) -> int:
        path = os.path.join(self.data_dir, LOCK_FILE)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, PRIVATE_FILE_MODE)
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
                info = self._decode(common_pb2.StoredShare,
                                     self._meta.value(self._meta.chunks, key, raw),
                                     f"share {key.hex()}")
                count += 1
                total_bytes += info.size_bytes
        return count, total_bytes

    def set_disk_limits(self, *, node_id: str, full_ratio: float, free_bytes_min: int,
                        bytes_max: int, headroom_bytes: int = 0) -> DiskGuard:
        """Refuse chunk copies past these watermarks from now on (StorageConfig's disk_full_ratio,
        disk_free_bytes_min, disk_bytes_max; `headroom_bytes` is the largest copy the cluster
        writes, see `DiskGuard.usage`); returns the new guard, also `self.disk`. Writers already
        under way keep the guard they reserved with."""
        self.disk = DiskGuard(self.data_dir, self._bytes_stored_now, node_id=node_id,
                              full_ratio=full_ratio, free_bytes_min=free_bytes_min,
                              bytes_max=bytes_max, headroom_bytes=headroom_bytes)
        return self.disk

    def set_usage_day(self, day_s: float) -> None:
        """The length of a day of the usage history (86400 s; shorter only in tests)."""
        self._usage_day_ms = max(1, round(day_s * 1000))

    def set_write_delay(self, wait: Callable[[], None]) -> None:
        """Call `wait` before every chunk copy's fsync from now on: a hook for fault injection
        (the daemon passes `Faults.delay_disk`, which sleeps while a slow disk is simulated)."""
        self._write_delay = wait

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

    @property
    def identity(self) -> StoreIdentity:
        """This store's identity (see `identity`): a new one for every new LMDB environment."""
        return self._meta.identity

    @quarantining
    def load_node_id(self) -> str | None:
        with self._meta.read() as txn:
            raw = self._meta.get(txn, self._meta.meta, META_NODE_ID)
        return None if raw is None else raw.decode("utf-8")

    @quarantining
    def save_node_id(self, node_id: str) -> None:
        """Record which node owns this data dir. A data dir never changes owner: saving a
        different id raises, since the cluster's placement records name the old one."""
        if not node_id:
            raise InvalidArgument("node id must not be empty")
        with self._meta.write() as txn:
            raw = self._meta.get(txn, self._meta.meta, META_NODE_ID)
            if raw is not None and raw.decode("utf-8") != node_id:
                raise StoreError(f"data dir {self.data_dir} belongs to node {raw.decode()!r}, "
                                 f"not {node_id!r}; use that node id or another --data-dir")
            if raw is None:
                self._meta.put(txn, self._meta.meta, META_NODE_ID, node_id.encode("utf-8"))

    @quarantining
    def drop_manifests(self) -> int:
        """Delete every manifest this node keeps, of every partition, in one transaction; returns
        how many. For a node out of touch for so long that tombstones it never saw may have been
        purged: its older versions must not come back (see node/repair/tombstones.py). The
        caller refills the partitions it homes from the other homes (`begin_refill`)."""
        with self._meta.write() as txn:
            count = txn.stat(self._meta.manifests)["entries"] + txn.stat(self._meta.versions)["entries"]
            txn.drop(self._meta.manifests, delete=False)
            txn.drop(self._meta.index, delete=False)
            txn.drop(self._meta.versions, delete=False)
            txn.drop(self._meta.usage, delete=False)
        return count

    # -- shares --------------------------------------------------------------------------------

    def begin_share(self, share: ShareKey, size_bytes: int = 0) -> ShareWriter:
        """A writer for one share. `size_bytes` (when the caller knows it) is reserved with `disk`
        at once, so a copy that would take this node past a disk-full watermark is refused
        (StoreFull) before a byte is received; more bytes than announced are reserved as they
        arrive. A share already indexed here adds no bytes and is never refused."""
        assert not self._closed, "begin_share on a closed NodeStore"
        guard = None if self.has_share(share) else self.disk
        reserved = size_bytes if guard is not None else 0
        if guard is not None and reserved:
            guard.reserve(reserved, f"share {share.suffix()} of chunk {share.chunk_id.hex()}")
        try:
            temp_path, file = self._files.create_temp(share)
        except BaseException:
            if guard is not None and reserved:
                guard.release(reserved)
            raise
        return ShareWriter(self, share, temp_path, file, guard, reserved)

    @quarantining
    def put_share(self, share: ShareKey, data: bytes, *, expected_blake3: bytes,
                  placement: common_pb2.PlacementRecord | None,
                  handoff_for_node_id: str = "",
                  referenced_by: common_pb2.ObjectRef | None = None,
                  references: Sequence[common_pb2.ObjectRef] = ()) -> bool:
        """Write a whole share at once; returns already_present (see `ShareWriter.commit`)."""
        with self.begin_share(share, len(data)) as writer:
            writer.write(data)
            return writer.commit(expected_blake3=expected_blake3, placement=placement,
                                 handoff_for_node_id=handoff_for_node_id,
                                 referenced_by=referenced_by, references=references)

    @quarantining
    def read_share(self, share: ShareKey) -> bytes:
        """The share's bytes, verified against the index's blake3 and size. A mismatch moves the
        file to quarantine/, drops the index entry and raises CorruptShare."""
        return self.read_share_hashed(share)[0]

    def read_share_hashed(self, share: ShareKey) -> tuple[bytes, bytes]:
        """(the share's bytes, the blake3 they were verified against), as read_share: a caller that
        knows what the share must hash to compares hashes instead of hashing the bytes again."""
        info = self.share_info(share)
        if info is None:
            raise ShareNotFound(share.chunk_id, share.suffix())
        try:
            data = self._files.read(share, info.size_bytes + 1)
        except FileNotFoundError:
            return self._recheck_under_lock(share)
        if len(data) == info.size_bytes and blake3.blake3(data).digest() == info.blake3:
            return data, info.blake3
        return self._recheck_under_lock(share)

    def read_share_referenced(self, share: ShareKey) -> tuple[bytes, list[common_pb2.ObjectRef]]:
        """(the share's bytes, verified as read_share, and its references), for repair to carry the
        references along. The references are read first: garbage collection releases a copy's last
        reference and deletes it in one step, so the bytes are then either read (and the references
        were the copy's a moment before, when it was still needed or superseded) or ShareNotFound.
        The other order could answer the bytes of a copy just collected with no references at all,
        which repair must take for a copy it cannot judge, and copy again (a test once saw three
        such copies made and collected in turn)."""
        references = self.references(share)
        return self.read_share(share), references

    def _recheck_under_lock(self, share: ShareKey) -> tuple[bytes, bytes]:
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
                return data, info.blake3  # a writer replaced the file between our two reads
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
        """True when the index has the share and its file is there at the indexed size: one index
        read and one stat, the bytes are not read (`verify_share` reads them). A copy whose file is
        gone is lost: its index entry is dropped (references kept, as a read that finds it gone
        does), so the probe says absent and repair rebuilds it. A file of the wrong size is read
        under the share's lock and quarantined if it really is bad (see `read_share`)."""
        info = self.share_info(share)
        if info is None:
            return False
        size_bytes = self._files.file_size(share)
        if size_bytes == info.size_bytes:
            return True
        if size_bytes is None:
            with self._share_lock(share):
                if self.share_info(share) is None:
                    return False
                if self._files.file_size(share) is not None:
                    return True  # a writer installed the copy between our two looks
                self._drop_index_entry(share)
            return False
        try:
            self._recheck_under_lock(share)
        except (ShareNotFound, CorruptShare):
            return False
        except OSError:
            return True  # unreadable, not judged bad: scrub reports it (the index still says here)
        return True

    def verify_shares(self, shares: Sequence[ShareKey], acquire: Callable[[int], None]) -> list[bool]:
        """`verify_share` of each, in order, calling `acquire(size_bytes)` before each read (a
        bandwidth throttle's: `fsck --deep` paces its reads like scrub)."""
        results = []
        for share in shares:
            info = self.share_info(share)
            if info is None:
                results.append(False)
                continue
            acquire(info.size_bytes)
            results.append(self.verify_share(share))
        return results

    def verify_share(self, share: ShareKey) -> bool:
        """True when the share's bytes are there and hash to the index's blake3 (reads them all).
        A bad copy is quarantined and a missing one dropped from the index, as `read_share` does."""
        try:
            self.read_share(share)
        except (ShareNotFound, CorruptShare, OSError):
            return False
        return True

    @quarantining
    def share_info(self, share: ShareKey) -> common_pb2.StoredShare | None:
        with self._meta.read() as txn:
            raw = self._meta.get(txn, self._meta.chunks, share.db_key())
        return None if raw is None else self._decode(common_pb2.StoredShare, raw, f"share {share}")

    @quarantining
    def delete_share(self, share: ShareKey) -> bool:
        """Drop the index entry and every reference row of the share (one transaction), then the
        file (a crash in between leaves an unserved orphan file, never an entry without bytes).
        Unconditional, unlike `release_share`: for copies the node must shed whoever uses them
        (handoff return, rebalancing). True when there was anything to delete."""
        with self._share_lock(share):
            had_entry, refs_dropped = self._drop_index_entry(share, drop_refs=True)
            had_file = self._files.remove(share)
        return had_entry or had_file or refs_dropped > 0

    @quarantining
    def drop_copy(self, share: ShareKey) -> bool:
        """Remove a surplus copy that repair has placed elsewhere, whoever references it: in one
        transaction its index entry, every reference row and, when no share of its layout stays
        indexed here, the layout's placement record (this node no longer holds the layout, so the
        record is no longer its to keep); then the file. Unlike `delete_share` it takes the
        placement record along, and unlike `release_share` it ignores references (the copies
        elsewhere carry them). True when an index entry or a file was removed. The placement record
        goes only when this call removed an entry or reference rows (a quarantined copy keeps its
        references), so dropping a share that was never here leaves alone a record that
        `put_placement` stored ahead of its shares."""
        with self._share_lock(share):
            with self._meta.write() as txn:
                old = self._pop_index_entry(txn, share)
                refs_dropped = self._delete_refs(txn, share)
                if (old is not None or refs_dropped) and not self._layout_indexed(txn, share):
                    txn.delete(share.layout_key(), db=self._meta.placements)
            had_file = self._files.remove(share)
            if old is not None:
                self._adjust_stats(old, None)
        return old is not None or had_file

    @quarantining
    def set_home(self, share: ShareKey) -> bool:
        """Make a handoff copy a home copy (the ring now places it here, so handoff return must
        not ship it away): clear its handoff_for_node_id. True if it changed; False when the share
        is not indexed or already home."""
        where = f"share {share}"
        with self._share_lock(share):
            with self._meta.write() as txn:
                raw = self._meta.get(txn, self._meta.chunks, share.db_key())
                if raw is None:
                    return False
                info = self._decode(common_pb2.StoredShare, raw, where)
                if not info.handoff_for_node_id:
                    return False
                info.handoff_for_node_id = ""
                self._meta.put(txn, self._meta.chunks, share.db_key(), self._encode(info, where))
        return True

    def layout_shares(self, chunk_id: bytes, data_shares: int = 0,
                      parity_shares: int = 0) -> list[ShareKey]:
        """The shares of one layout of the chunk indexed here, in index order: [ShareKey(chunk_id)]
        or [] for replication, every indexed share index for a K+M stripe (at most
        SHARES_PER_STRIPE_MAX). One prefix scan of the index; files are not read."""
        prefix = layout_db_prefix(chunk_id, data_shares, parity_shares)
        shares: list[ShareKey] = []
        with self._meta.read() as txn:
            cursor = txn.cursor(db=self._meta.chunks)
            if cursor.set_range(prefix):
                for key in cursor.iternext(keys=True, values=False):
                    if not key.startswith(prefix):
                        break
                    shares.append(ShareKey.from_db_key(key))
        return shares

    # -- references ----------------------------------------------------------------------------

    @quarantining
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
                found.append(decode_ref(self._meta.value(self._meta.refs, key, raw),
                                        f"{key[len(prefix):].hex()} of share {share}"))
                more = cursor.next()
        return found

    @quarantining
    @quarantining
    def add_references(self, share: ShareKey, refs: Sequence[common_pb2.ObjectRef], *,
                       only_if_referenced_by: savings.Owner | None = None) -> int:
        """Record `refs` (at most REFERENCES_LIMIT_MAX) on the copy if it is indexed here; returns
        how many rows were written. For copies re-indexed from their files, whose reference rows
        were lost with the metadata env: the refill copies them from another holder.
        `only_if_referenced_by` (tenant, bucket): write nothing (0) unless a version of that
        bucket already references the copy (a put naming a known chunk, see `referenced_by`)."""
        if len(refs) > REFERENCES_LIMIT_MAX:
            raise InvalidArgument(f"{len(refs)} references; at most {REFERENCES_LIMIT_MAX} per call")
        with self._share_lock(share):
            with self._meta.write() as txn:
                raw = self._meta.get(txn, self._meta.chunks, share.db_key())
                if raw is None:
                    return 0
                if only_if_referenced_by is not None and not self._referenced_by(txn, share, only_if_referenced_by):
                    return 0
                size = self._decode(common_pb2.StoredShare, raw, f"share {share}").size_bytes
                self._add_ref_rows(txn, share, [(ref_row_key(share, ref), encode_ref(ref)) for ref in refs],
                                   size, size)
        return len(refs)

    @quarantining
    def referenced_by(self, share: ShareKey, owner: savings.Owner) -> bool:
        """True when the copy is here (as `has_share` says) and one of its references names a
        version of `owner`'s (tenant, bucket). Walks the copy's rows until one of the bucket shows
        up: a chunk many other buckets use costs a walk of their rows."""
        if not self.has_share(share):
            return False
        with self._meta.read() as txn:
            return self._referenced_by(txn, share, owner)

    def _referenced_by(self, txn: lmdb.Transaction, share: ShareKey, owner: savings.Owner) -> bool:
        return any((ref.tenant, ref.bucket) == owner for _, ref in self._copy_refs(txn, share))

    def reference_count(self, share: ShareKey) -> int:
        """How many object versions the copy is stored for."""
        with self._meta.read() as txn:
            return self._count_refs(txn, share)

    @quarantining
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
                if removed_ref and left:
                    raw = self._meta.get(txn, self._meta.chunks, share.db_key())
                    if raw is not None:
                        size = self._decode(common_pb2.StoredShare, raw, f"share {share}").size_bytes
                        self._move_savings(txn, {}, self._ref_savings(txn, share, (ref.tenant, ref.bucket), size,
                                                                      sign=-1))
                if left:
                    return ReleaseOutcome(deleted=False, references_left=left)
                raw = self._meta.pop(txn, self._meta.chunks, share.db_key())
                if raw is None and not removed_ref:
                    return ReleaseOutcome(deleted=False, references_left=0)  # nothing was here
                old = (None if raw is None else
                       self._decode(common_pb2.StoredShare, raw, f"share {share}"))
                if not self._layout_indexed(txn, share):
                    txn.delete(share.layout_key(), db=self._meta.placements)
            if old is None:
                return ReleaseOutcome(deleted=False, references_left=0)  # e.g. quarantined
            self._files.remove(share)
            self._adjust_stats(old, None)
        return ReleaseOutcome(deleted=True, references_left=0)

    @quarantining
    def iter_shares(self) -> Iterator[tuple[ShareKey, common_pb2.StoredShare]]:
        """Every indexed share, in chunk id order, read in batches of ITER_SHARES_BATCH_MAX with no
        transaction held between batches (entries changed meanwhile may or may not appear)."""
        for key, raw in self._scan(self._meta.chunks, b"", ITER_SHARES_BATCH_MAX):
            share = ShareKey.from_db_key(key)
            yield share, self._decode(common_pb2.StoredShare,
                                       self._meta.value(self._meta.chunks, key, raw),
                                       f"share {share}")

    @quarantining
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
                raw = self._meta.get(txn, self._meta.chunks, share.db_key())
                if raw is None:
                    continue
                info = self._decode(common_pb2.StoredShare, raw, f"share {share}")
                info.last_verified_at_unix_ms = now_ms
                self._meta.put(txn, self._meta.chunks, share.db_key(),
                               self._encode(info, f"share {share}"))
                updated += 1
        return updated

    def record_counts(self) -> dict[str, int]:
        """db name -> records it holds (LMDB's own count: O(1), no value read)."""
        with self._meta.read() as txn:
            return {name.decode(): txn.stat(db)["entries"]
                    for db, name in zip(self._meta.dbs(), DB_NAMES)}

    def stats(self) -> tuple[int, int]:
        """(shares stored, bytes stored) per the index."""
        with self._stats_lock:
            return self._shares_stored, self._bytes_stored

    def _bytes_stored_now(self) -> int:
        with self._stats_lock:
            return self._bytes_stored

    # -- placements ----------------------------------------------------------------------------

    @quarantining
    def put_placement(self, record: common_pb2.PlacementRecord, *,
                      if_updated_at_unix_ms: int = 0) -> bool:
        """Store or replace the placement record of one layout of a chunk (the last put wins).
        The layout comes from `record.policy`: replication, or erasure coding K+M; each layout of
        a chunk has its own record. With `if_updated_at_unix_ms`, only if the stored record still
        has that updated_at or there is none (compare-and-set); returns whether it was stored."""
        if len(record.chunk_id) != CHUNK_ID_BYTES:
            raise InvalidArgument(f"placement chunk id must be {CHUNK_ID_BYTES} bytes, "
                                  f"got {len(record.chunk_id)}")
        where = f"placement of chunk {record.chunk_id.hex()}"
        raw = self._encode(record, where)
        key = placement_key(record.chunk_id, *self._placement_geometry(record, where))
        with self._meta.write() as txn:
            if if_updated_at_unix_ms:
                stored = self._meta.get(txn, self._meta.placements, key)
                if (stored is not None and self._decode(common_pb2.PlacementRecord, stored, where)
                        .updated_at_unix_ms != if_updated_at_unix_ms):
                    return False
            self._meta.put(txn, self._meta.placements, key, raw)
        self._refilled_key(self._meta.placements, key)
        return True

    @quarantining
    def get_placement(self, chunk_id: bytes, data_shares: int = 0,
                      parity_shares: int = 0) -> common_pb2.PlacementRecord | None:
        """The placement record of the chunk's replicated layout, or of its K+M erasure layout."""
        key = placement_key(chunk_id, data_shares, parity_shares)
        self._check_answerable(self._meta.placements, key, exact=True)
        with self._meta.read() as txn:
            raw = self._meta.get(txn, self._meta.placements, key)
        return None if raw is None else self._decode(
            common_pb2.PlacementRecord, raw, f"placement of chunk {chunk_id.hex()} "
            f"({describe_geometry(data_shares, parity_shares)})")

    def has_placement(self, chunk_id: bytes, data_shares: int = 0, parity_shares: int = 0) -> bool:
        """True when a placement record of the layout is stored here (its value is not read, so
        this answers while the metadata is being refilled)."""
        with self._meta.read() as txn:
            return txn.get(placement_key(chunk_id, data_shares, parity_shares),
                           db=self._meta.placements) is not None

    @quarantining
    def delete_placement(self, chunk_id: bytes, data_shares: int = 0,
                         parity_shares: int = 0) -> bool:
        """Drop one layout's placement record (garbage collection); True if there was one."""
        key = placement_key(chunk_id, data_shares, parity_shares)
        with self._meta.write() as txn:
            return txn.delete(key, db=self._meta.placements)

    @quarantining
    def iter_placements(self) -> Iterator[common_pb2.PlacementRecord]:
        """Every placement record here (all layouts of all chunks), in key order: a chunk's
        replicated layout, then its erasure layouts by K, M. Read ITER_RECORDS_BATCH_MAX per read
        transaction with none held between batches, like `iter_shares`."""
        for key, raw in self._scan(self._meta.placements, b"", ITER_RECORDS_BATCH_MAX):
            yield self._decode(common_pb2.PlacementRecord,
                                self._meta.value(self._meta.placements, key, raw),
                                f"placement {key.hex()}")

    # -- manifests -----------------------------------------------------------------------------

    @quarantining
    def put_manifest(self, manifest: common_pb2.Manifest) -> bool:
        """Keep the manifest if it is newer than the stored version of its key; returns superseded
        (True when the stored version is newer or equal, so nothing was written)."""
        return self._put_manifests_together([manifest])[0]

    def put_manifests(self, manifests: Sequence[common_pb2.Manifest]) -> list[bool | Exception]:
        """`put_manifest` of each, in one transaction: one commit and one fsync for all (group
        commit). Returns each one's superseded, or the exception its own put_manifest raises. When
        any fails in the shared transaction (a stored record that does not decode), that
        transaction is dropped and each is put on its own, so every manifest gets exactly the answer
        its own call would have had. Two versions of one key in one batch: the later sees the earlier."""
        try:
            return self._put_manifests_together(manifests)
        except Exception:  # noqa: BLE001 - retried one by one below, where each failure is its own
            outcomes: list[bool | Exception] = []
            for manifest in manifests:
                try:
                    outcomes.append(self.put_manifest(manifest))
                except Exception as err:  # noqa: BLE001 - this manifest's answer, as its own call's
                    outcomes.append(err)
            return outcomes

    def _put_manifests_together(self, manifests: Sequence[common_pb2.Manifest]) -> list[bool]:
        keys, outcomes = [], []
        with self._meta.write() as txn:
            for manifest in manifests:
                keys.append(manifest_key(manifest.tenant, manifest.bucket, manifest.key))
                outcomes.append(self._put_version(txn, manifest))
        for key in keys:
            self._refilled_key(self._meta.manifests, key)
        return outcomes

    def _stored_current(self, txn: lmdb.Transaction, key: bytes, where: str) -> common_pb2.Manifest | None:
        raw = self._meta.get(txn, self._meta.manifests, key)
        return None if raw is None else self._decode(common_pb2.Manifest, raw, where)

    def _put_version(self, txn: lmdb.Transaction, manifest: common_pb2.Manifest) -> bool:
        """Keep `manifest` as the manifest of its version id unless that id holds a newer or equal
        one here (then returns superseded=True and writes nothing), and keep the key's newest
        non-erased manifest current (node/store/versions.py). An unversioned bucket's write reads
        and writes the manifests db alone, as before versions existed."""
        tenant, bucket, name = manifest.tenant, manifest.bucket, manifest.key
        where = f"{tenant}/{bucket}/{name}"
        key = manifest_key(tenant, bucket, name)
        part = manifest_key_prefix(tenant, bucket)
        current = self._stored_current(txn, key, where)
        in_current = current is not None and current.version_id == manifest.version_id
        slot = versions.version_db_key(part, name, manifest.version_id)
        if in_current:
            existing = current
        else:
            raw = self._meta.get(txn, self._meta.versions, slot)
            existing = None if raw is None else self._decode(common_pb2.Manifest, raw, where)
        if existing is not None:
            combined = versions.merged(existing, manifest)
            if versions.order_key(combined) <= versions.order_key(existing):
                return True
            manifest = combined  # newer, or the same version with newer tags
        encoded = self._encode(manifest, where)
        if not manifest.erased and (in_current or current is None
                                    or version_key(manifest.version) > version_key(current.version)):
            if current is not None and not in_current:  # the current one steps back
                self._meta.put(txn, self._meta.versions,
                               versions.version_db_key(part, name, current.version_id),
                               self._encode(current, where))
                self._count(txn, tenant, bucket, current, current, new_current=False)
            if existing is not None and not in_current:
                txn.delete(slot, db=self._meta.versions)
                self._count(txn, tenant, bucket, existing, None, old_current=False)
            self._meta.put(txn, self._meta.manifests, key, encoded)
            self._meta.put_index(txn, current, add=False)
            self._meta.put_index(txn, manifest, add=True)
            self._count(txn, tenant, bucket, current if in_current else None, manifest)
            self._log_change(txn, part, existing, manifest, current=True)
            return False
        self._meta.put(txn, self._meta.versions, slot, encoded)
        self._count(txn, tenant, bucket, existing, manifest, old_current=in_current, new_current=False)
        if in_current:  # the current version was erased: the newest left takes its place
            txn.delete(key, db=self._meta.manifests)
            self._meta.put_index(txn, current, add=False)
            self._promote(txn, tenant, bucket, name)
        self._log_change(txn, part, existing, manifest, current=False)
        return False

    def _log_change(self, txn: lmdb.Transaction, part: bytes, existing: common_pb2.Manifest | None,
                    applied: common_pb2.Manifest, *, current: bool) -> None:
        """Append what applying `applied` over `existing` was to the partition's change log
        (node/store/changes.py), in the caller's transaction; nothing for a read mark."""
        kind = changes.kind_of(existing, applied)
        if kind is None:
            return
        now_ms = self._now_unix_ms()
        if (existing is None and kind in (common_pb2.CHANGE_PUT, common_pb2.CHANGE_DELETE)
                and applied.version.physical_ms < now_ms - self._change_retention_ms):
            return  # a version older than any cursor still waiting, arriving by sync or refill
        seq = self._last_change_seq(txn, part) + 1
        record = changes.record_of(applied, kind, current, now_ms)
        self._meta.put(txn, self._meta.changes, changes.seq_key(part, seq), self._encode(record, "change"))

    def _last_change_seq(self, txn: lmdb.Transaction, part: bytes) -> int:
        """The newest sequence number in the partition's change log; 0 when it is empty. One seek
        to where the next partition starts, one step back (each manifest write pays it)."""
        cursor = txn.cursor(db=self._meta.changes)
        _, end = key_partition(part, 2)
        found = cursor.prev() if cursor.set_range(end) else cursor.last()
        return changes.seq_of(cursor.key()) if found and cursor.key().startswith(part) else 0

    @quarantining
    def read_changes(self, tenant: str, bucket: str, *, after_seq: int = 0, since_ms: int = 0, limit: int = 1000
                     ) -> tuple[str, list[tuple[int, common_pb2.ChangeRecord]], int, int]:
        """(store id, up to `limit` (seq, record) of the bucket's change log after `after_seq` (or,
        with `since_ms`, from the first that arrived then or later), oldest kept seq, newest seq)."""
        part = manifest_key_prefix(tenant, bucket)
        found: list[tuple[int, common_pb2.ChangeRecord]] = []
        with self._meta.read() as txn:
            oldest = next(self._meta.items(txn, self._meta.changes, part), None)
            first, last = (0, 0) if oldest is None else (changes.seq_of(oldest[0]), self._last_change_seq(txn, part))
            start = after_seq + 1
            if since_ms and first:
                start = self._first_change_since(txn, part, first, last, since_ms)
            for key, raw in self._meta.items(txn, self._meta.changes, part, start=changes.seq_key(part, max(start, 1))):
                if len(found) == limit:
                    break
                found.append((changes.seq_of(key), self._decode(
                    common_pb2.ChangeRecord, self._meta.value(self._meta.changes, key, raw), "change")))
        return self.identity.store_id, found, first, last

    def _first_change_since(self, txn: lmdb.Transaction, part: bytes, first: int, last: int, since_ms: int) -> int:
        """The first seq in [first, last] whose entry arrived at or after `since_ms` (last + 1 if
        none): a binary search (arrival times only grow along the log, but for clock steps)."""
        low, high = first, last + 1
        while low < high:
            middle = (low + high) // 2
            raw = self._meta.get(txn, self._meta.changes, changes.seq_key(part, middle))
            arrived = 0 if raw is None else self._decode(common_pb2.ChangeRecord, raw, "change").arrived_at_unix_ms
            if arrived < since_ms:
                low = middle + 1
            else:
                high = middle
        return low

    def prune_changes(self, before_ms: int, *, batch: int = 1000) -> int:
        """Delete change-log entries that arrived before `before_ms`, oldest first in each
        partition, `batch` per transaction; returns how many."""
        pruned = 0
        for tenant, bucket in self._partitions(self._meta.changes, 2, "change-log partitions"):
            part = manifest_key_prefix(tenant, bucket)
            while True:
                with self._meta.write() as txn:
                    doomed = []
                    for key, raw in self._meta.items(txn, self._meta.changes, part):
                        record = self._decode(common_pb2.ChangeRecord, self._meta.value(self._meta.changes, key, raw),
                                               "change")
                        if record.arrived_at_unix_ms >= before_ms or len(doomed) >= batch:
                            break
                        doomed.append(key)
                    for key in doomed:
                        txn.delete(key, db=self._meta.changes)
                pruned += len(doomed)
                if len(doomed) < batch:
                    break
        return pruned

    def _key_versions(self, txn: lmdb.Transaction, tenant: str, bucket: str, name: str
                      ) -> list[tuple[bytes, common_pb2.Manifest]]:
        """(versions-db key, manifest) of every manifest of one key kept behind its current one."""
        prefix = versions.version_db_prefix(manifest_key_prefix(tenant, bucket), name)
        found = []
        for db_key, raw in self._meta.items(txn, self._meta.versions, prefix):
            manifest = self._decode(common_pb2.Manifest, self._meta.value(self._meta.versions, db_key, raw),
                                     f"{tenant}/{bucket}/{name}")
            if manifest.key == name:  # a 128-bit key hash collision is not this key's
                found.append((db_key, manifest))
        return found

    def _promote(self, txn: lmdb.Transaction, tenant: str, bucket: str, name: str) -> None:
        """Make the newest non-erased manifest kept behind (if any) the key's current one."""
        behind = self._key_versions(txn, tenant, bucket, name)
        best = versions.newest([m for _, m in behind])
        if best is None:
            return
        txn.delete(versions.version_db_key(manifest_key_prefix(tenant, bucket), name, best.version_id),
                   db=self._meta.versions)
        self._meta.put(txn, self._meta.manifests, manifest_key(tenant, bucket, name),
                       self._encode(best, f"{tenant}/{bucket}/{name}"))
        self._meta.put_index(txn, best, add=True)
        self._count(txn, tenant, bucket, best, best, old_current=False)

    def _count(self, txn: lmdb.Transaction, tenant: str, bucket: str, old: common_pb2.Manifest | None,
               new: common_pb2.Manifest | None, *, old_current: bool = True, new_current: bool = True) -> None:
        """In the transaction that replaces `old` by `new` (either None) in the manifests (or in the
        versions db: `old_current` / `new_current` False): move the bucket's usage record by the
        difference (see usage.py)."""
        part = manifest_key_prefix(tenant, bucket)
        taken, given = usage.contribution(old, current=old_current), usage.contribution(new, current=new_current)
        version = None if new is None else new.version
        record = self._move_usage(txn, part, taken, given, version, f"usage {tenant}/{bucket}")
        if record is not None:
            self._keep_history(txn, part, record)
        # The breakdowns by top-level prefix and content type, each record by its own difference.
        olds = dict(usage.breakdown_names(old)) if old is not None else {}
        news = dict(usage.breakdown_names(new)) if new is not None else {}
        for kind in (usage.BY_PREFIX, usage.BY_TYPE, usage.BY_POLICY):
            if kind in olds and olds[kind] == news.get(kind):
                self._move_usage(txn, usage.breakdown_key(part, kind, olds[kind]), taken, given, version, "usage")
                continue
            if kind in olds:
                self._move_usage(txn, usage.breakdown_key(part, kind, olds[kind]), taken, usage.NOTHING, None, "usage")
            if kind in news:
                self._move_usage(txn, usage.breakdown_key(part, kind, news[kind]), usage.NOTHING, given, version,
                                 "usage")

    def _move_usage(self, txn: lmdb.Transaction, key: bytes, taken: usage.Contribution, given: usage.Contribution,
                    version: common_pb2.VersionStamp | None, where: str) -> common_pb2.UsageRecord | None:
        """One usage record moved by `given` - `taken`, deleted when it comes to nothing; the record
        now (None when unchanged)."""
        if taken == given:
            return None
        raw = self._meta.get(txn, self._meta.usage, key)
        record = None if raw is None else self._decode(common_pb2.UsageRecord, raw, where)
        updated = usage.applied(record, taken, given, version)
        if usage.is_empty(updated):
            txn.delete(key, db=self._meta.usage)
        else:
            self._meta.put(txn, self._meta.usage, key, self._encode(updated, where))
        return updated

    def _keep_history(self, txn: lmdb.Transaction, part: bytes, record: common_pb2.UsageRecord) -> None:
        """Today's entry of the bucket's usage history is its record as it now is; on a day's first
        change the entries older than HISTORY_DAYS go."""
        day = self._now_unix_ms() // self._usage_day_ms
        key = usage.history_key(part, day)
        if txn.get(key, db=self._meta.usage) is None:
            oldest = usage.history_key(part, day - usage.HISTORY_DAYS + 1)
            self._meta.delete_prefix(txn, self._meta.usage, usage.breakdown_prefix(part, usage.HISTORY),
                                     keep=lambda entry: entry >= oldest)
        self._meta.put(txn, self._meta.usage, key, self._encode(record, "usage history"))

    @quarantining
    def bucket_usage(self, tenant: str, bucket: str) -> common_pb2.UsageRecord:
        """What the manifests of the bucket kept here add up to (an empty record when none).
        MetadataUnavailable while the bucket's manifests here are incomplete (refilling after
        damage, or one quarantined and not put back): a partial count must not be believed."""
        part = manifest_key_prefix(tenant, bucket)
        self._check_answerable(self._meta.manifests, part, exact=False)
        with self._meta.read() as txn:
            raw = self._meta.get(txn, self._meta.usage, part)
        if raw is None:
            return common_pb2.UsageRecord(format_version=usage.USAGE_RECORD_FORMAT_VERSION)
        return self._decode(common_pb2.UsageRecord, raw, f"usage {tenant}/{bucket}")

    @quarantining
    def usage_breakdown(self, tenant: str, bucket: str, kind: bytes) -> list[tuple[str, common_pb2.UsageRecord]]:
        """(name, record) of the bucket's breakdown by top-level prefix (usage.BY_PREFIX) or content
        type (usage.BY_TYPE) here, in name order; or (usage.HISTORY) its daily history, oldest day
        first, each named by when its day began (Unix ms, as text)."""
        part = manifest_key_prefix(tenant, bucket)
        self._check_answerable(self._meta.manifests, part, exact=False)
        start = usage.breakdown_prefix(part, kind)
        found = []
        with self._meta.read() as txn:
            for key, raw in self._meta.items(txn, self._meta.usage, start):
                record = self._decode(common_pb2.UsageRecord, self._meta.value(self._meta.usage, key, raw),
                                       f"usage {tenant}/{bucket}")
                name = key[len(start):]
                found.append((str(int.from_bytes(name, "big") * self._usage_day_ms) if kind == usage.HISTORY
                              else name.decode("utf-8"), record))
        return found

    def recount_usage(self, tenant: str = "", bucket: str = "") -> int:
        """Rebuild the usage records and the object indexes of one bucket (every bucket when
        `bucket` is empty) from the manifests here, in one transaction; returns the buckets counted.
        Only after a manifest or usage record was quarantined: what it had added up to, and which
        index entries it had, are unknown."""
        prefix = manifest_key_prefix(tenant, bucket) if bucket else b""
        with self._meta.write() as txn:
            self._meta.delete_prefix(txn, self._meta.index, prefix)
            self._meta.index_manifests(txn, prefix)
            counted = count_usage(self._meta, txn, prefix)
            # Every record counted again but the history (what the counters said on past days).
            self._meta.delete_prefix(txn, self._meta.usage, prefix, keep=lambda key: usage.HISTORY_MARK in key)
            for part, record in counted.items():
                self._meta.put(txn, self._meta.usage, part, self._encode(record, "usage"))
        return sum(1 for key in counted if key.endswith(b"\0"))

    @quarantining
    def dedup_savings(self, tenant: str | None = None) -> list[tuple[bytes, common_pb2.DedupRecord]]:
        """(savings key, record) of what deduplication saves among the copies here
        (node/store/savings.py): the storage tenant's bucket records and the node's record, or
        every record when `tenant` is None. Records with nothing saved are absent."""
        found = []
        with self._meta.read() as txn:
            prefix = b"" if tenant is None else savings.tenant_key(tenant)
            keys = list(self._meta.items(txn, self._meta.savings, prefix))
            if tenant is not None:
                raw = txn.get(savings.EVERYTHING_KEY, db=self._meta.savings)
                if raw is not None:
                    keys.append((savings.EVERYTHING_KEY, raw))
            for key, raw in keys:
                where = f"savings {key!r}"
                found.append((bytes(key), self._decode(common_pb2.DedupRecord,
                                                        self._meta.value(self._meta.savings, key, raw), where)))
        return found

    def dedup_saved_bytes(self) -> int:
        """What deduplication saves among the copies here, across everything (a gauge); 0 when
        the record cannot be read."""
        try:
            with self._meta.read() as txn:
                raw = self._meta.get(txn, self._meta.savings, savings.EVERYTHING_KEY)
            return 0 if raw is None else self._decode(common_pb2.DedupRecord, raw, "savings").saved_bytes
        except StoreError:
            return 0

    def recount_savings(self, *, write: bool = True) -> list[tuple[bytes, common_pb2.DedupRecord]]:
        """Count the savings records again from every reference row and index entry here (one walk,
        one transaction); with `write`, make the savings db exactly that. Returns what was counted,
        as `dedup_savings` lists it. After a chunks, refs or savings record was quarantined, and for
        fsck's audit (write=False)."""
        with (self._meta.write() if write else self._meta.read()) as txn:
            counted = count_savings(self._meta, txn)
            if write:
                self._meta.replace_savings(txn, counted)
        records = ((key, savings.applied(None, delta, f"savings {key!r}")) for key, delta in sorted(counted.items()))
        return [(key, record) for key, record in records if record is not None]

    @quarantining
    def find_manifests(self, tenant: str, bucket: str, query: common_pb2.ObjectQuery, *, after: bytes = b"",
                       limit: int = 1000, now_ms: int | None = None
                       ) -> tuple[list[tuple[bytes, common_pb2.Manifest]], bytes | None]:
        """(position, manifest) of the current objects here meeting `query`, in position order after
        `after`, at most `limit`; and the position to continue after, None when the walk reached its
        range's end. The walk covers one condition's index range (node/store/index.py `plan`) and
        checks the others on each manifest it names: its cost grows with that condition's matches,
        and one call reads at most FIND_SCAN_MAX entries."""
        if not 1 <= limit <= LIST_MANIFESTS_LIMIT_MAX:
            raise InvalidArgument(f"limit must be in 1..{LIST_MANIFESTS_LIMIT_MAX}, got {limit}")
        now_ms = self._now_unix_ms() if now_ms is None else now_ms
        part = manifest_key_prefix(tenant, bucket)
        self._check_answerable(self._meta.manifests, part, exact=False)
        walk = index.plan(query)
        found: list[tuple[bytes, common_pb2.Manifest]] = []
        if walk.by_key:
            prefix_after = after[1:].decode("utf-8") if after else ""
            page, more = self.list_manifests(tenant, bucket, prefix=query.prefix, start_after=prefix_after,
                                             limit=min(limit, LIST_MANIFESTS_LIMIT_MAX))
            found = [(index.BY_KEY + m.key.encode("utf-8"), m) for m in page if index.matches(query, m, now_ms)]
            return found, (index.BY_KEY + page[-1].key.encode("utf-8") if more and page else None)
        start = max(walk.low, after + b"\0") if after else walk.low
        scanned = 0
        last = after
        with self._meta.read() as txn:
            cursor = txn.cursor(db=self._meta.index)
            more = cursor.set_range(part + start)
            while more:
                position = bytes(cursor.key())[len(part):]
                if not bytes(cursor.key()).startswith(part) or position >= walk.high:
                    return found, None
                if len(found) == limit or scanned == FIND_SCAN_MAX:
                    return found, last
                scanned += 1
                last = position
                name = self._meta.value(self._meta.index, bytes(cursor.key()), bytes(cursor.value())).decode("utf-8")
                raw = self._meta.get(txn, self._meta.manifests, manifest_key(tenant, bucket, name))
                if raw is not None:
                    manifest = self._decode(common_pb2.Manifest, raw, f"{tenant}/{bucket}/{name}")
                    if index.matches(query, manifest, now_ms):
                        found.append((position, manifest))
                more = cursor.next()
        return found, None

    @quarantining
    def get_manifest(self, tenant: str, bucket: str, key: str) -> common_pb2.Manifest | None:
        self._check_answerable(self._meta.manifests, manifest_key(tenant, bucket, key), exact=True)
        with self._meta.read() as txn:
            raw = self._meta.get(txn, self._meta.manifests, manifest_key(tenant, bucket, key))
        return None if raw is None else self._decode(
            common_pb2.Manifest, raw, f"{tenant}/{bucket}/{key}")

    @quarantining
    def get_manifest_version(self, tenant: str, bucket: str, key: str, version_id: bytes
                             ) -> common_pb2.Manifest | None:
        """The manifest kept for version `version_id` of the key (b"": the null version), current
        or not; erased records too. None when there is none here."""
        self._check_answerable(self._meta.manifests, manifest_key(tenant, bucket, key), exact=True)
        where = f"{tenant}/{bucket}/{key}"
        with self._meta.read() as txn:
            current = self._stored_current(txn, manifest_key(tenant, bucket, key), where)
            if current is not None and current.version_id == version_id:
                return current
            raw = self._meta.get(txn, self._meta.versions,
                                 versions.version_db_key(manifest_key_prefix(tenant, bucket), key, version_id))
        return None if raw is None else self._decode(common_pb2.Manifest, raw, where)

    @quarantining
    def key_manifests(self, tenant: str, bucket: str, key: str) -> list[common_pb2.Manifest]:
        """Every manifest kept for the key: the current version first, then the rest in db order."""
        self._check_answerable(self._meta.manifests, manifest_key(tenant, bucket, key), exact=True)
        with self._meta.read() as txn:
            current = self._stored_current(txn, manifest_key(tenant, bucket, key), f"{tenant}/{bucket}/{key}")
            behind = [m for _, m in self._key_versions(txn, tenant, bucket, key)]
        return ([current] if current is not None else []) + behind

    @quarantining
    def list_manifests(self, tenant: str, bucket: str, *, prefix: str = "", start_after: str = "",
                       limit: int = 1000, all_versions: bool = False, include_start: bool = False
                       ) -> tuple[list[common_pb2.Manifest], bool]:
        """Newest version per key (tombstones included) with key > start_after (>= with
        `include_start`) and key starting with prefix, in key order (UTF-8 bytes), at most `limit`
        keys; the bool says more exist. `all_versions`: each key's current version is followed by
        every other manifest kept for it (versions.py), and the page also ends, at a key's end,
        once it holds `limit` manifests. One range scan; keys whose db key was shortened
        (`keys.hashed_db_key`) sit together under their shared head in hash order, so each such
        group is read whole and only its `limit + 1` smallest keys in range are kept, in key order."""
        if not 1 <= limit <= LIST_MANIFESTS_LIMIT_MAX:
            raise InvalidArgument(f"limit must be in 1..{LIST_MANIFESTS_LIMIT_MAX}, got {limit}")
        base = manifest_key_prefix(tenant, bucket)
        prefix_raw = base + prefix.encode("utf-8")
        after_raw = base + start_after.encode("utf-8") if start_after else None
        # Every key in range has a db key >= the heads of these two (see keys' module docstring).
        low = prefix_raw[:MANIFEST_DB_KEY_INLINE_BYTES_MAX]
        start = low if after_raw is None else max(low, after_raw[:MANIFEST_DB_KEY_INLINE_BYTES_MAX])

        def wanted(raw_key: bytes) -> bool:
            return raw_key.startswith(prefix_raw) and (
                after_raw is None or raw_key > after_raw or (include_start and raw_key == after_raw))

        self._check_answerable(self._meta.manifests, base, exact=False)

        def where(raw_key: bytes) -> str:
            return f"{tenant}/{bucket}/{raw_key[len(base):].decode('utf-8', 'replace')}"

        found: list[common_pb2.Manifest] = []
        with self._meta.read() as txn:
            cursor = txn.cursor(db=self._meta.manifests)
            more = cursor.set_range(start)
            while more and len(found) <= limit:
                key, raw = cursor.item()
                if not key.startswith(low):
                    break
                if not is_hashed_db_key(key):
                    if wanted(key):
                        found.append(self._decode(
                            common_pb2.Manifest, self._meta.value(self._meta.manifests, key, raw), where(key)))
                    more = cursor.next()
                    continue
                group = hashed_group(key)

                def group_members() -> Iterator[tuple[bytes, common_pb2.Manifest]]:
                    nonlocal more
                    while more and cursor.key().startswith(group):
                        manifest = self._decode(
                            common_pb2.Manifest,
                            self._meta.value(self._meta.manifests, cursor.key(), cursor.value()),
                            where(group[:-1]) + "...")
                        raw_key = base + manifest.key.encode("utf-8")
                        if wanted(raw_key):
                            yield raw_key, manifest
                        more = cursor.next()

                # Bounded memory however large the group: heapq keeps only the smallest.
                members = heapq.nsmallest(limit + 1 - len(found), group_members(),
                                          key=lambda member: member[0])
                found.extend(manifest for _, manifest in members)
            if not all_versions:
                return (found[:limit], True) if len(found) > limit else (found, False)
            out: list[common_pb2.Manifest] = []
            for count, manifest in enumerate(found):
                if count == limit or len(out) >= limit:
                    return out, True
                out.append(manifest)
                out.extend(m for _, m in self._key_versions(txn, tenant, bucket, manifest.key))
            return out, False

    def manifest_partitions(self) -> list[tuple[str, str]]:
        """Distinct (tenant, bucket) pairs with at least one manifest here (tombstones count), in
        key order. One cursor seek per pair, never a scan of a bucket's manifests (see `keys`).
        Raises StoreError beyond METADATA_PARTITIONS_MAX pairs."""
        partitions = set(self._partitions(self._meta.manifests, 2, "manifest partitions"))
        partitions |= set(self._partitions(self._meta.versions, 2, "version partitions"))
        return sorted((tenant, bucket) for tenant, bucket in partitions)

    @quarantining
    def iter_manifests(self, tenant: str, bucket: str) -> Iterator[common_pb2.Manifest]:
        """Every manifest of one bucket here (tombstones included): the current versions in key
        order, then the other versions and erased records (versions.py). Read ITER_RECORDS_BATCH_MAX
        per read transaction with none held between batches, so pushing a large bucket to its new
        metadata replicas never pins old LMDB pages."""
        base = manifest_key_prefix(tenant, bucket)
        for key, raw in self._scan(self._meta.manifests, base, ITER_RECORDS_BATCH_MAX):
            where = f"{tenant}/{bucket}/{key[len(base):].decode('utf-8', 'replace')}"
            yield self._decode(common_pb2.Manifest,
                                self._meta.value(self._meta.manifests, key, raw), where)
        for key, raw in self._scan(self._meta.versions, base, ITER_RECORDS_BATCH_MAX):
            yield self._decode(common_pb2.Manifest, self._meta.value(self._meta.versions, key, raw),
                                f"{tenant}/{bucket} version {key[len(base):].hex()}")

    @quarantining
    def delete_manifest_if(self, manifest: common_pb2.Manifest) -> bool:
        """Delete the stored manifest of `manifest`'s key and version id only if its version is
        exactly `manifest.version`: a node that handed a version to its new replicas drops that
        version, never a newer one written meanwhile. The key's newest remaining version becomes
        current when the current one goes. True if deleted."""
        tenant, bucket, name = manifest.tenant, manifest.bucket, manifest.key
        key = manifest_key(tenant, bucket, name)
        where = f"{tenant}/{bucket}/{name}"
        with self._meta.write() as txn:
            current = self._stored_current(txn, key, where)
            if current is not None and current.version_id == manifest.version_id:
                if version_key(current.version) != version_key(manifest.version):
                    return False
                txn.delete(key, db=self._meta.manifests)
                self._meta.put_index(txn, current, add=False)
                self._count(txn, tenant, bucket, current, None)
                self._promote(txn, tenant, bucket, name)
                return True
            slot = versions.version_db_key(manifest_key_prefix(tenant, bucket), name, manifest.version_id)
            raw = self._meta.get(txn, self._meta.versions, slot)
            stored = None if raw is None else self._decode(common_pb2.Manifest, raw, where)
            if stored is None or version_key(stored.version) != version_key(manifest.version):
                return False
            txn.delete(slot, db=self._meta.versions)
            self._count(txn, tenant, bucket, stored, None, old_current=False)
            return True

    @quarantining
    def purge_manifest_if(self, manifest: common_pb2.Manifest) -> bool:
        """Purge a tombstone (node/repair/tombstones.py) if it is still exactly what is kept here:
        an erased record under its version id, or a deleted key's tombstone that is its current
        version with nothing kept behind it (a delete marker hiding older versions is a version
        itself, and stays). True if purged."""
        if manifest.erased:
            return self.delete_manifest_if(manifest)
        tenant, bucket, name = manifest.tenant, manifest.bucket, manifest.key
        key = manifest_key(tenant, bucket, name)
        with self._meta.write() as txn:
            current = self._stored_current(txn, key, f"{tenant}/{bucket}/{name}")
            if (current is None or not current.tombstone or version_key(current.version) != version_key(manifest.version)
                    or self._key_versions(txn, tenant, bucket, name)):
                return False
            txn.delete(key, db=self._meta.manifests)
            self._meta.put_index(txn, current, add=False)
            self._count(txn, tenant, bucket, current, None)
            return True

    # -- key registers (conditional writes, node/objects/conditions.py) --------------------------

    def _key_register_state(self, txn: lmdb.Transaction, db_key: bytes, where: str) -> common_pb2.KeyRegisterState:
        raw = self._meta.get(txn, self._meta.key_registers, db_key)
        if raw is None:
            return common_pb2.KeyRegisterState(format_version=RECORD_FORMAT_VERSION)
        return self._decode(common_pb2.KeyRegisterState, raw, where)

    @staticmethod
    def _register_highest(state: common_pb2.KeyRegisterState) -> common_pb2.Ballot:
        if state.HasField("accepted") and ballot_key(state.accepted.ballot) > ballot_key(state.promised):
            return state.accepted.ballot
        return state.promised

    @staticmethod
    def _register_answer(state: common_pb2.KeyRegisterState
                         ) -> tuple[common_pb2.Ballot, common_pb2.KeyRegister | None]:
        return NodeStore._register_highest(state), (state.accepted if state.HasField("accepted") else None)

    def read_key_register(self, tenant: str, bucket: str, key: str
                          ) -> tuple[common_pb2.Ballot, common_pb2.KeyRegister | None]:
        """Key register acceptor, read only: (the highest ballot promised or accepted here, the value
        accepted or None). Writes nothing."""
        with self._meta.read() as txn:
            state = self._key_register_state(txn, manifest_key(tenant, bucket, key), f"register {tenant}/{bucket}/{key}")
        return self._register_answer(state)

    def prepare_key_register(self, tenant: str, bucket: str, key: str, ballot: common_pb2.Ballot
                             ) -> tuple[bool, common_pb2.Ballot, common_pb2.KeyRegister | None]:
        """Key register acceptor, phase 1: promise `ballot` unless a higher one was promised or
        accepted, durably before answering; (promised, highest ballot now, accepted value or None)."""
        db_key, where = manifest_key(tenant, bucket, key), f"register {tenant}/{bucket}/{key}"
        with self._meta.write() as txn:
            state = self._key_register_state(txn, db_key, where)
            highest, accepted = self._register_answer(state)
            if ballot_key(ballot) < ballot_key(highest):
                return False, highest, accepted
            state.promised.CopyFrom(ballot)
            state.touched_at_unix_ms = self._now_unix_ms()
            self._meta.put(txn, self._meta.key_registers, db_key, self._encode(state, where))
        return True, ballot, accepted

    def accept_key_register(self, value: common_pb2.KeyRegister) -> tuple[bool, common_pb2.Ballot]:
        """Key register acceptor, phase 2: keep `value` as accepted under its ballot unless a higher
        ballot was promised or accepted, or its manifest was stamped longer ago than the register
        horizon (`set_register_horizon`: a put that old is refused by its coordinator anyway, and a
        register idle longer than that may have been purged, forgetting promises such a put's round
        could rely on), durably before answering; (accepted, highest ballot now)."""
        db_key = manifest_key(value.tenant, value.bucket, value.key)
        where = f"register {value.tenant}/{value.bucket}/{value.key}"
        now_ms = self._now_unix_ms()
        with self._meta.write() as txn:
            state = self._key_register_state(txn, db_key, where)
            highest = self._register_highest(state)
            if ballot_key(value.ballot) < ballot_key(highest):
                return False, highest
            if (self._register_horizon_ms and value.HasField("manifest")
                    and value.manifest.version.physical_ms < now_ms - self._register_horizon_ms):
                return False, highest
            state.accepted.CopyFrom(value)
            state.promised.CopyFrom(value.ballot)
            state.touched_at_unix_ms = now_ms
            self._meta.put(txn, self._meta.key_registers, db_key, self._encode(state, where))
        return True, value.ballot

    def set_change_retention(self, retention_s: float) -> None:
        """How long the change log is kept (repair.change_retention_s): a version stamped longer ago
        that arrives with nothing of its id here (metadata sync, a refill after a replaced disk) is
        not logged, since no cursor can still be waiting for it."""
        self._change_retention_ms = round(retention_s * 1000)

    def set_register_horizon(self, horizon_s: float) -> None:
        """The oldest a conditional write's manifest may be when a key register accepts it (the
        longest a put may take: half of repair.gc_grace_s); 0: no limit."""
        self._register_horizon_ms = round(horizon_s * 1000)

    @quarantining
    def purge_key_registers(self, idle_before_ms: int) -> int:
        """Delete the key registers untouched since `idle_before_ms` (at least twice the register
        horizon ago: see node/objects/conditions.py for why that is safe); returns how many. A
        record written before registers were stamped is stamped now instead, and goes one idle
        period later. In batches, each deleted only if unchanged since it was read."""
        now_ms = self._now_unix_ms()
        purged = 0
        batch: list[tuple[bytes, bytes, bool]] = []

        def flush() -> None:
            nonlocal purged
            with self._meta.write() as txn:
                for key, raw, idle in batch:
                    if txn.get(key, db=self._meta.key_registers) != raw:
                        continue  # touched since it was read
                    if idle:
                        txn.delete(key, db=self._meta.key_registers)
                        purged += 1
                    else:
                        state = self._decode(common_pb2.KeyRegisterState,
                                              self._meta.value(self._meta.key_registers, key, raw), "register")
                        state.touched_at_unix_ms = now_ms
                        self._meta.put(txn, self._meta.key_registers, key, self._encode(state, "register"))
            batch.clear()

        for key, raw in self._scan(self._meta.key_registers, b"", ITER_SHARES_BATCH_MAX):
            state = self._decode(common_pb2.KeyRegisterState, self._meta.value(self._meta.key_registers, key, raw),
                                  "register")
            if state.touched_at_unix_ms == 0 or state.touched_at_unix_ms < idle_before_ms:
                batch.append((bytes(key), bytes(raw), state.touched_at_unix_ms != 0))
            if len(batch) >= ITER_SHARES_BATCH_MAX:
                flush()
        if batch:
            flush()
        return purged

    # -- buckets -------------------------------------------------------------------------------

    @quarantining
    def put_bucket(self, record: common_pb2.BucketRecord) -> bool:
        """Keep the record if it is newer (`bucket_order_key`: ballot, then version) than the stored
        one; returns superseded. Metadata sync moves accepted records between homes this way."""
        where = f"bucket {record.tenant}/{record.name}"
        raw_new = self._encode(record, where)
        key = bucket_key(record.tenant, record.name)
        with self._meta.write() as txn:
            old = self._stored_bucket(txn, record.tenant, record.name)
            if old is not None and bucket_order_key(record) <= bucket_order_key(old):
                return True
            self._meta.put(txn, self._meta.buckets, key, raw_new)
        self._refilled_key(self._meta.buckets, key)
        return False

    @quarantining
    def prepare_bucket(self, tenant: str, name: str, ballot: common_pb2.Ballot
                       ) -> tuple[bool, common_pb2.Ballot, common_pb2.BucketRecord | None]:
        """Bucket register acceptor, phase 1 (node/objects/register.py): promise `ballot` unless a
        higher ballot was promised or accepted for the name, durably before answering. Returns
        (promised, the highest ballot promised or accepted here now, the accepted record or None).
        A repeated prepare of the promised ballot promises again (a duplicate delivery)."""
        self._check_answerable(self._meta.buckets, bucket_key(tenant, name), exact=True)
        with self._meta.write() as txn:
            accepted = self._stored_bucket(txn, tenant, name)
            highest = self._highest_ballot(txn, tenant, name, accepted)
            if ballot_key(ballot) < ballot_key(highest):
                return False, highest, accepted
            self._put_promise(txn, tenant, name, ballot)
        return True, ballot, accepted

    @quarantining
    def read_bucket(self, tenant: str, name: str) -> tuple[common_pb2.Ballot, common_pb2.BucketRecord | None]:
        """Bucket register acceptor, read only: (the highest ballot promised or accepted here, the
        accepted record or None). Writes nothing, so a reader never disturbs a proposer's round."""
        self._check_answerable(self._meta.buckets, bucket_key(tenant, name), exact=True)
        with self._meta.read() as txn:
            accepted = self._stored_bucket(txn, tenant, name)
            return self._highest_ballot(txn, tenant, name, accepted), accepted

    @quarantining
    def accept_bucket(self, record: common_pb2.BucketRecord) -> tuple[bool, common_pb2.Ballot]:
        """Bucket register acceptor, phase 2: store `record` as the name's accepted record under its
        ballot unless a higher ballot was promised or accepted, durably before answering. Returns
        (accepted, the highest ballot promised or accepted here now). Accepting the same record
        again (a duplicate delivery) is accepted again and changes nothing."""
        where = f"bucket {record.tenant}/{record.name}"
        raw = self._encode(record, where)
        key = bucket_key(record.tenant, record.name)
        self._check_answerable(self._meta.buckets, key, exact=True)
        with self._meta.write() as txn:
            accepted = self._stored_bucket(txn, record.tenant, record.name)
            highest = self._highest_ballot(txn, record.tenant, record.name, accepted)
            if ballot_key(record.ballot) < ballot_key(highest):
                return False, highest
            self._meta.put(txn, self._meta.buckets, key, raw)
            self._put_promise(txn, record.tenant, record.name, record.ballot)
        self._refilled_key(self._meta.buckets, key)
        return True, record.ballot

    def _stored_bucket(self, txn: lmdb.Transaction, tenant: str, name: str) -> common_pb2.BucketRecord | None:
        raw = self._meta.get(txn, self._meta.buckets, bucket_key(tenant, name))
        return None if raw is None else self._decode(common_pb2.BucketRecord, raw, f"bucket {tenant}/{name}")

    def _highest_ballot(self, txn: lmdb.Transaction, tenant: str, name: str,
                        accepted: common_pb2.BucketRecord | None) -> common_pb2.Ballot:
        """The higher of the promise kept for the name and the ballot of its accepted record: a
        record that metadata sync brought here carries its ballot but no promise came with it."""
        highest = common_pb2.Ballot()
        raw = self._meta.get(txn, self._meta.bucket_promises, bucket_key(tenant, name))
        if raw is not None:
            highest = self._decode(common_pb2.BucketPromise, raw, f"bucket promise {tenant}/{name}").ballot
        if accepted is not None and ballot_key(accepted.ballot) > ballot_key(highest):
            highest = accepted.ballot
        return highest

    def _put_promise(self, txn: lmdb.Transaction, tenant: str, name: str, ballot: common_pb2.Ballot) -> None:
        promise = common_pb2.BucketPromise(format_version=RECORD_FORMAT_VERSION, ballot=ballot)
        self._meta.put(txn, self._meta.bucket_promises, bucket_key(tenant, name),
                       self._encode(promise, f"bucket promise {tenant}/{name}"))

    @quarantining
    def get_bucket(self, tenant: str, name: str) -> common_pb2.BucketRecord | None:
        self._check_answerable(self._meta.buckets, bucket_key(tenant, name), exact=True)
        with self._meta.read() as txn:
            raw = self._meta.get(txn, self._meta.buckets, bucket_key(tenant, name))
        return None if raw is None else self._decode(
            common_pb2.BucketRecord, raw, f"bucket {tenant}/{name}")

    @quarantining
    def list_buckets(self, tenant: str) -> list[common_pb2.BucketRecord]:
        """Every bucket record of the tenant (tombstones included), by name."""
        base = bucket_key_prefix(tenant)
        self._check_answerable(self._meta.buckets, base, exact=False)
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
                records.append(self._decode(common_pb2.BucketRecord,
                                             self._meta.value(self._meta.buckets, key, raw),
                                             f"bucket {key.decode('utf-8', 'replace')}"))
                more = cursor.next()
        return records

    def bucket_tenants(self) -> list[str]:
        """Distinct tenants with at least one bucket record here (tombstones count), in key order;
        one cursor seek per tenant. Raises StoreError beyond METADATA_PARTITIONS_MAX tenants."""
        return [tenant for (tenant,) in self._partitions(self._meta.buckets, 1, "bucket tenants")]

    @quarantining
    def delete_bucket_if(self, record: common_pb2.BucketRecord) -> bool:
        """Delete the stored bucket record of `record`'s tenant and name only if its ballot and
        version are exactly `record`'s (see `delete_manifest_if`); True if deleted. The name's
        promise goes with it: this node is no longer one of the name's acceptors."""
        with self._meta.write() as txn:
            stored = self._stored_bucket(txn, record.tenant, record.name)
            if stored is None or bucket_order_key(stored) != bucket_order_key(record):
                return False
            txn.delete(bucket_key(record.tenant, record.name), db=self._meta.bucket_promises)
            return txn.delete(bucket_key(record.tenant, record.name), db=self._meta.buckets)

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
                       handoff_for_node_id: str, ref_rows: Sequence[tuple[bytes, bytes]]) -> bool:
        """Rename the verified, fsynced temp file into place and commit its index entry (and the
        reference rows and the layout's placement record) in one transaction; a dedup if the same
        bytes are already there."""
        key = share.db_key()
        layout_key = share.layout_key()
        where = f"share {share}"
        placement_raw = (None if placement is None else
                         self._encode(placement, f"placement of chunk {share.chunk_id.hex()}"))
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
                if changed or placement_raw is not None or ref_rows:
                    with self._meta.write() as txn:
                        if changed:
                            existing.handoff_for_node_id = state
                            self._meta.put(txn, self._meta.chunks, key,
                                           self._encode(existing, where))
                        self._add_ref_rows(txn, share, ref_rows, existing.size_bytes, existing.size_bytes)
                        if placement_raw is not None:
                            self._meta.put(txn, self._meta.placements, layout_key, placement_raw)
                return True
            now_ms = self._now_unix_ms()
            record = common_pb2.StoredShare(
                format_version=RECORD_FORMAT_VERSION, size_bytes=size_bytes, blake3=digest,
                handoff_for_node_id=state, stored_at_unix_ms=now_ms,
                last_verified_at_unix_ms=now_ms)
            try:
                self._files.install(temp_path, share)
                with self._meta.write() as txn:
                    self._meta.put(txn, self._meta.chunks, key, self._encode(record, where))
                    self._add_ref_rows(txn, share, ref_rows, None if existing is None else existing.size_bytes,
                                       size_bytes)
                    if placement_raw is not None:
                        self._meta.put(txn, self._meta.placements, layout_key, placement_raw)
            except BaseException:
                if existing is None:  # unindexed, so never served: give its room back
                    self._files.remove(share)
                raise
            self._adjust_stats(existing, record)
            return False

    def _drop_index_entry(self, share: ShareKey, *, drop_refs: bool = False) -> tuple[bool, int]:
        """Delete the share's index entry (and, with drop_refs, its reference rows in the same
        transaction) and count it out of the stats; caller holds its lock. Returns (had an entry,
        reference rows dropped). Quarantine keeps the refs: the copy is to be rebuilt."""
        with self._meta.write() as txn:
            old = self._pop_index_entry(txn, share)
            refs_dropped = self._delete_refs(txn, share) if drop_refs else 0
        if old is None:
            return False, refs_dropped
        self._adjust_stats(old, None)
        return True, refs_dropped

    def _pop_index_entry(self, txn: lmdb.Transaction, share: ShareKey) -> common_pb2.StoredShare | None:
        """Delete the share's index entry in `txn` and take what the copy saved out of the savings
        records (a copy without an entry saves nothing); the entry deleted, or None."""
        owners = self._copy_owners(txn, share)
        raw = self._meta.pop(txn, self._meta.chunks, share.db_key())
        old = None if raw is None else self._decode(common_pb2.StoredShare, raw, f"share {share}")
        self._move_savings(txn, savings.contribution(owners.values(), old and old.size_bytes), {})
        return old

    def _delete_refs(self, txn: lmdb.Transaction, share: ShareKey) -> int:
        """Delete every reference row of the share in `txn`; returns how many there were."""
        prefix = share.db_key()
        deleted = 0
        cursor = txn.cursor(db=self._meta.refs)
        if cursor.set_range(prefix):
            while cursor.key().startswith(prefix):
                cursor.delete()
                deleted += 1
        return deleted

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

    def _copy_owners(self, txn: lmdb.Transaction, share: ShareKey) -> dict[bytes, savings.Owner]:
        """Reference rows of the share: row key -> (tenant, bucket) of the version it names. A
        prefix scan, O(references); a corrupt row raises CorruptRecord (quarantined, and the
        savings counted again, by the outermost call)."""
        return {key: (ref.tenant, ref.bucket) for key, ref in self._copy_refs(txn, share)}

    def _copy_refs(self, txn: lmdb.Transaction, share: ShareKey) -> Iterator[tuple[bytes, common_pb2.ObjectRef]]:
        """(row key, reference) of each of the copy's reference rows, in key order (stop early at will)."""
        prefix = share.db_key()
        for key, raw in self._meta.items(txn, self._meta.refs, prefix):
            yield key, decode_ref(self._meta.value(self._meta.refs, key, raw), f"{key[len(prefix):].hex()} of share {share}")

    def _add_ref_rows(self, txn: lmdb.Transaction, share: ShareKey, ref_rows: Sequence[tuple[bytes, bytes]],
                      size_before: int | None, size_after: int) -> None:
        """Write reference rows on a copy whose index entry said `size_before` (None: none) and now
        says `size_after`, moving the savings records by what the copy saves now against before.
        The common cases are cheap: a new copy (no rows yet) saves nothing, and a row added to a
        copy of unchanged size moves the records by what that one row adds (`_ref_savings`)."""
        if size_before == size_after:
            for row_key, value in ref_rows:
                if txn.get(row_key, db=self._meta.refs) is None:
                    ref = decode_ref(value, f"{row_key.hex()} being written")
                    self._move_savings(txn, {}, self._ref_savings(txn, share, (ref.tenant, ref.bucket), size_after,
                                                                  sign=1))
                self._meta.put(txn, self._meta.refs, row_key, value)
            return
        owners = self._copy_owners(txn, share)
        before = savings.contribution(owners.values(), size_before)
        for row_key, value in ref_rows:
            self._meta.put(txn, self._meta.refs, row_key, value)
            ref = decode_ref(value, f"{row_key.hex()} being written")
            owners[row_key] = (ref.tenant, ref.bucket)
        self._move_savings(txn, before, savings.contribution(owners.values(), size_after))

    def _ref_savings(self, txn: lmdb.Transaction, share: ShareKey, owner: savings.Owner, size: int, *,
                     sign: int) -> savings.Contribution:
        """What one reference row of `owner` adds to (sign=1, before it is written) or takes from
        (sign=-1, after it is deleted) the copy's savings, given the copy's other rows: its size
        across everything when any other row is there, and within its bucket when another row of
        that bucket is. Walks the rows only until one of the bucket shows up, so adding a version
        to a popular chunk costs a seek, not a read of every version using it."""
        found: savings.Contribution = {}
        for _, ref in self._copy_refs(txn, share):
            found[savings.EVERYTHING_KEY] = (sign * size, sign)
            if (ref.tenant, ref.bucket) == owner:
                found[savings.bucket_key(*owner)] = (sign * size, sign)
                break
        return found

    def _move_savings(self, txn: lmdb.Transaction, before: savings.Contribution, after: savings.Contribution) -> None:
        """Move the savings records (node/store/savings.py) by one copy's after - before (a delta
        is passed as after with before empty)."""
        for key, delta in savings.moved(before, after).items():
            where = f"savings {key!r}"
            raw = self._meta.get(txn, self._meta.savings, key)
            record = savings.applied(None if raw is None else self._decode(common_pb2.DedupRecord, raw, where),
                                     delta, where)
            if record is None:
                txn.delete(key, db=self._meta.savings)
            else:
                self._meta.put(txn, self._meta.savings, key, self._encode(record, where))

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

    def _scan(self, db: lmdb._Database, prefix: bytes,
              batch_max: int) -> Iterator[tuple[bytes, bytes]]:
        """(key, value) of every key of `db` starting with `prefix` (b"" for all), in key order,
        `batch_max` per read transaction and none held between batches, so a slow consumer never
        pins old LMDB pages; a key written or deleted between batches may or may not appear."""
        after: bytes | None = None
        while True:
            batch: list[tuple[bytes, bytes]] = []
            with self._meta.read() as txn:
                cursor = txn.cursor(db=db)
                found = cursor.set_range(prefix if after is None else after)
                while found and len(batch) < batch_max:
                    key, raw = cursor.item()
                    if not key.startswith(prefix):
                        break
                    if key != after:
                        batch.append((key, raw))
                    found = cursor.next()
            yield from batch
            if len(batch) < batch_max:
                return
            after = batch[-1][0]

    def _partitions(self, db: lmdb._Database, parts: int, what: str) -> list[tuple[str, ...]]:
        """Distinct partitions of `db`'s keys (their first `parts` names, see `key_partition`), in
        key order: after each one found the cursor seeks straight to where the next may start."""
        found: list[tuple[str, ...]] = []
        with self._meta.read() as txn:
            cursor = txn.cursor(db=db)
            more = cursor.first()
            while more:
                if len(found) == METADATA_PARTITIONS_MAX:
                    raise StoreError(f"data dir {self.data_dir} holds more than "
                                     f"{METADATA_PARTITIONS_MAX} {what}")
                names, end = key_partition(cursor.key(), parts)
                found.append(names)
                more = cursor.set_range(end)
        return found
