"""The coordinator: any node serves any client request by fanning out to the right holders.

Put: the client's frames are hashed as they arrive and cut into chunks; each chunk goes to its
holders in parallel while the next chunk is read (at most `put_inflight_chunks_max` chunks in flight
per put, so a put's memory is bounded however large the object). Only when every chunk has all its
copies fsynced does the manifest go to the bucket's metadata replicas, and only when
`metadata_write_quorum` of them have it durably does the client get its answer. A put that dies
midway leaves chunks no manifest references: invisible, and reclaimable by garbage collection.

Get: the manifest is read from every live metadata replica (newest wins; stale replicas are
repaired in the background), then each chunk from the first holder that returns bytes whose blake3
matches the chunk id, reading ahead while the previous chunk streams out. A missing or corrupt copy
costs one extra fetch, never wrong bytes; no intact copy anywhere is DATA_LOSS naming the chunk and
every node asked.
"""

from __future__ import annotations

import base64
import collections
import concurrent.futures as cf
import dataclasses
import itertools
import json
import logging
import random
import threading
import time
import uuid
from typing import Callable, Iterable, Iterator

import blake3

from node import errors
from node.config import StorageConfig
from node.erasure import GeometryError, rechunk, slices
from node.hlc import HybridLogicalClock, stamp_key
from node.metrics import Metrics
from node.objects import validate
from node.objects.chunk_io import (ChunkIO, DamageSink, copies_per_chunk, copy_size_bytes, geometry_of, holder_key,
                                   slot_key)
from node.objects.conditions import Condition, ConditionalWrites
from node.objects import at_rest, compression, known_chunks
from node.objects.direct import DirectReads
from node.objects.direct_put import DIRECT_PUT_TOKEN_TTL_S, PLAN_CHUNKS_MAX, DirectPuts, not_direct_because
from node.objects.lifecycle import READ_MARKS_PER_DAY, check_rules, has_transition, ttl_expired
from node.objects.placement import Assignment, choose_targets
from node.objects.quorum import write_quorum
from node.objects.register import BucketRegister, majority
from node.objects.uploads import Uploads
from node.objects.watch import Watch
from node.objects.replicas import ClusterView, HolderError, Replicas
from node.objects.settle import RingSettlement
from node.ring import Ring, bucket_directory_position, chunk_position, metadata_position
from node.store import BUCKET_RECORD_FORMAT_VERSION, ShareKey, bucket_order_key
from node.store import index
from node.store.errors import InvalidArgument as StoreInvalidArgument
from node.store.versions import merged, newest_first, order_key, parse_version_id, show_version_id, version_id_of
from ringstore.etag import chunks_digest
from ringstore.v1 import common_pb2, object_pb2, peer_pb2

log = logging.getLogger("ringstore.objects")

DEFAULT_TENANT = "default"
FORMAT_VERSION = 1
# Most copies one AddReferences call names (node/api/peer_service.py takes up to 1024).
ADD_REFERENCES_BATCH = 1024
# How long a bucket record read from the directory replicas is trusted before re-reading.
BUCKET_CACHE_TTL_S = 2.0
# A manifest write refused by a home on another ring, or one that promised readers another ring
# (node/objects/ring_gate.py), is made again for this long at most: a promise's length plus the time
# a ring change takes to reach every node, with room for a busy one.
RING_AGREEMENT_WAIT_S = 8.0
# ... each time once this node's ring changes, or after this long if it does not (the refusing
# home may be the one behind), checking every RING_POLL_S.
RING_RECHECK_S = 0.5
RING_POLL_S = 0.02
# Most read-repair writes queued at once; beyond this stale replicas wait for the next read.
READ_REPAIRS_PENDING_MAX = 256
# Removals remembered for `bucket`'s cache guard; past this, entries older than the cache TTL (which
# no running lookup can still need) are dropped.
BUCKETS_FORGOTTEN_MAX = 1024
# Quorum reads a `find` page confirms its candidates with at once.
FIND_CONFIRM_THREADS = 8
# Read marks (mark_read) written at once, and queued beyond those; past that a get marks nothing
# (the next read of the version marks it). Versions marked recently are remembered, up to
# READ_MARKS_REMEMBERED_MAX, so concurrent gets of one version write one mark.
READ_MARK_THREADS = 2
READ_MARKS_PENDING_MAX = 64
READ_MARKS_REMEMBERED_MAX = 4096
# Longest ETag or version a put's condition may name.
CONDITION_TEXT_CHARS_MAX = 256
# Longest request id a client may name a create or remove with.
REQUEST_ID_BYTES_MAX = 64
# Request ids a bucket record remembers (its own last): how many later changes a change that lost
# its answer can be built on and still learn it took effect. 16 ids of at most 64 bytes: 1 KiB.
REQUEST_IDS_KEPT_MAX = 16


class _AlreadyDone(errors.RingstoreError):
    """This create is in the name's history already, under later changes: it took effect."""


def _recent(current: common_pb2.BucketRecord | None, request_id: str) -> list[str]:
    """The recent request ids of the record replacing `current`, written by `request_id`."""
    before = list(current.recent_request_ids) if current is not None else []
    return (before + [request_id])[-REQUEST_IDS_KEPT_MAX:]


def describe_policy(policy: common_pb2.RedundancyPolicy) -> str:
    """replicas=N or ec=K+M, as the CLI spells it."""
    if policy.WhichOneof("policy") == "erasure_coding":
        return f"ec={policy.erasure_coding.data_shares}+{policy.erasure_coding.parity_shares}"
    return f"replicas={policy.replication.replicas}"


def newer(candidate, current):
    """The newer of two manifests; None counts as oldest. Two of one version (a conversion's
    rewrite, a tag change) merge as a home would keep them (node/store/versions.py `merged`)."""
    return merged(candidate, current)


def _tag(manifest: common_pb2.Manifest, tags: dict[str, str], changed: common_pb2.VersionStamp) -> None:
    """Give a manifest `tags`, set at `changed` (nothing for no tags)."""
    if tags:
        manifest.tagging.tags.update(tags)
        manifest.tagging.changed.CopyFrom(changed)


def _known_up_to(pages: list[tuple[str, tuple[list[common_pb2.Manifest], bool]]]) -> str | None:
    """Of the homes' (manifests, truncated) listing pages, the last key every home has answered
    about: keys above the smallest last key of a truncated page are not known yet. None: all."""
    ends = [manifests[-1].key for _, (manifests, truncated) in pages if truncated and manifests]
    return min(ends) if ends else None


def _compresses(header: object_pb2.PutObjectHeader, bucket: common_pb2.BucketRecord) -> bool:
    """Whether a put stores its chunks compressed: as its header says, else as its bucket does."""
    return (header.compression or bucket.compression) == common_pb2.COMPRESSION_ZSTD


def _encrypts(header: object_pb2.PutObjectHeader, bucket: common_pb2.BucketRecord) -> bool:
    """Whether a put encrypts its chunks at rest: as its header says, else as its bucket does."""
    return (header.encryption or bucket.encryption) == common_pb2.ENCRYPTION_AES256_GCM


def replication(replicas: int) -> common_pb2.RedundancyPolicy:
    return common_pb2.RedundancyPolicy(replication=common_pb2.Replication(replicas=replicas))


def object_ref(manifest: common_pb2.Manifest) -> common_pb2.ObjectRef:
    """The reference a manifest's copies carry on their holders."""
    return common_pb2.ObjectRef(tenant=manifest.tenant, bucket=manifest.bucket, key=manifest.key,
                                version=manifest.version, version_id=manifest.version_id)


@dataclasses.dataclass(frozen=True)
class ConvertOutcome:
    manifest: common_pb2.Manifest
    copies_released: int = 0
    copies_still_referenced: int = 0
    copies_not_reached: int = 0
    unchanged: bool = False


class _EarlyRead:
    """The read of a get's first chunk, started from the first home's answer that names one
    (`start`), kept only if the quorum's manifest is that very version (`claim`). The bytes are
    verified against the chunk id like any read, and a read started from an older version is
    dropped, so starting early changes when the bytes are read, never which. Used only on the
    get's own thread (`_read_all` calls `on_answer` there)."""

    def __init__(self, coordinator: "Coordinator", range_start: int | None, range_length: int | None,
                 skip: Callable[[common_pb2.Manifest, int, int], bool] | None = None) -> None:
        self._c = coordinator
        self._range = (range_start, range_length)
        # Manifests whose first chunk the get will not read itself (the client reads it directly).
        self._skip = skip
        self._manifest: common_pb2.Manifest | None = None
        self._future: cf.Future | None = None

    def start(self, manifest: common_pb2.Manifest | None) -> None:
        if self._future is not None or manifest is None or manifest.tombstone or manifest.inline:
            return
        try:
            start, length = self._c._range(manifest, *self._range)
        except errors.RingstoreError:
            return
        if self._skip is not None and self._skip(manifest, start, length):
            return
        wanted = self._c._wanted(manifest, start, length) if length else []
        if wanted:
            self._manifest = manifest
            self._future = self._c._chunk_pool.submit(self._c._read_part, manifest, wanted[0], start, length)

    def claim(self, manifest: common_pb2.Manifest) -> cf.Future | None:
        """The read, if it was started from `manifest`'s version; otherwise it is dropped."""
        future, started_from = self._future, self._manifest
        self._future = self._manifest = None
        if future is None:
            return None
        if started_from is not None and started_from.version == manifest.version and started_from == manifest:
            return future
        future.cancel()
        return None

    def drop(self) -> None:
        if self._future is not None:
            self._future.cancel()
        self._future = self._manifest = None


class _KeyChunks:
    """A version's chunks found by the blake3 of their bytes, whatever their stored form: a chunk
    encrypted at rest records only the keyed form of that hash, so a lookup also tries the keyed form
    under each data key the version uses."""

    def __init__(self, chunks, keys: list[at_rest.DataKey] | tuple = ()) -> None:
        self._by_identity = {compression.identity(c): c for c in chunks}
        self._keys = keys

    def get(self, plain_blake3: bytes) -> common_pb2.ChunkRef | None:
        found = self._by_identity.get(plain_blake3)
        for key in self._keys:
            if found is not None:
                break
            found = self._by_identity.get(key.keyed(plain_blake3))
        return found


class Coordinator:
    """Object and bucket operations for one node acting as coordinator."""

    def __init__(self, *, view: ClusterView, replicas: Replicas, config: StorageConfig,
                 hlc: HybridLogicalClock, chunk_pool: cf.Executor, send_pool: cf.Executor,
                 wall_ms: Callable[[], int], metrics: Metrics | None = None,
                 report_damage: DamageSink | None = None, put_duration_max_s: float = float("inf"),
                 tenant: str = DEFAULT_TENANT, settlement: RingSettlement | None = None,
                 writer: Callable[[], str] = lambda: "") -> None:
        self._put_duration_max_s = put_duration_max_s
        # Who is writing (the calling key's id), recorded on each version it makes.
        self._writer = writer
        # Whether this node's ring is settled, so a manifest read may ask R homes, not every live one.
        self._settlement = settlement
        self._metrics = metrics
        self._view = view
        self._replicas = replicas
        self._config = config
        self._hlc = hlc
        self._chunk_pool = chunk_pool
        self._send_pool = send_pool
        self._wall_ms = wall_ms
        self.chunks = ChunkIO(view=view, replicas=replicas, send_pool=send_pool, wall_ms=wall_ms, metrics=metrics,
                              report_damage=report_damage or (lambda *report: None),
                              read_hedge_after_s=config.read_hedge_after_s)
        self._bucket_cache: dict[tuple[str, str], tuple[float, common_pb2.BucketRecord | None]] = {}
        # (tenant, name) -> when a removal last told this node to forget the bucket; a lookup that
        # started before then must not cache what it read (it may predate the tombstone).
        self._bucket_forgotten: dict[tuple[str, str], float] = {}
        self._bucket_cache_lock = threading.Lock()
        self._read_repair_slots = threading.BoundedSemaphore(READ_REPAIRS_PENDING_MAX)
        self._register = BucketRegister(node_id=view.node_id, acceptors=replicas, homes=self._bucket_homes,
                                        is_live=view.is_live, pool=send_pool, wall_ms=wall_ms, rng=random.Random())
        # The namespace of every bucket and manifest this coordinator touches: users' buckets live
        # in DEFAULT_TENANT, the cluster's credential records in node.auth.store.SYSTEM_TENANT.
        self.tenant = tenant
        # The tenants' data keys for encryption at rest (node/objects/at_rest.py); the daemon sets it.
        self.data_keys: at_rest.DataKeys | None = None
        # Direct puts' planning and checks (node/objects/direct_put.py); the daemon sets it. None: every put streams.
        self.direct_puts: DirectPuts | None = None
        # Multipart uploads into this tenant's buckets (node/objects/uploads.py).
        self.uploads = Uploads(self, wall_ms=wall_ms)
        # Confirms `find` candidates by quorum reads, a few at a time (find_page).
        self._find_pool = cf.ThreadPoolExecutor(FIND_CONFIRM_THREADS, thread_name_prefix="find")
        # Read marks (mark_read), off the gets' path.
        self._mark_pool = cf.ThreadPoolExecutor(READ_MARK_THREADS, thread_name_prefix="read-mark")
        self._mark_slots = threading.BoundedSemaphore(READ_MARKS_PENDING_MAX)
        self._marked: dict[tuple[str, str, bytes], int] = {}
        self._marked_lock = threading.Lock()
        self._read_mark_every_ms = 24 * 3600 * 1000 // READ_MARKS_PER_DAY
        self._change_retention_s = 7 * 24 * 3600.0
        # Conditional puts' per-key registers (node/objects/conditions.py).
        self.conditions = ConditionalWrites(
            replicas=replicas, homes=lambda t, b: self._metadata_homes(metadata_position(t, b)), node_id=view.node_id,
            is_live=view.is_live, pool=send_pool, wall_ms=wall_ms, read_current=self.read_manifest,
            write=self._write_manifest, put_duration_max_s=put_duration_max_s)

    # -- buckets --------------------------------------------------------------------------------

    def _metadata_count(self) -> int:
        return min(self._config.metadata_replicas, max(1, len(self._view.ring())))

    def _metadata_quorum(self, count: int) -> int:
        return min(self._config.metadata_write_quorum, count)

    def _metadata_homes(self, position: int) -> list[str]:
        """The metadata home replicas of `position`: the first metadata_replicas ring members in
        its order, live or not (see "Metadata quorums" in docs/design.md)."""
        return self._view.ring().ordered_nodes(position)[:self._metadata_count()]

    def _read_all(self, position: int, fn: Callable[[str], object], *, what: str,
                  need: Callable[[int], int] | None = None,
                  on_answer: Callable[[object], None] | None = None) -> list[object]:
        """Ask every live metadata home replica of `position`; need a read quorum of *home*
        answers (`need(homes)`, by default homes - metadata_write_quorum + 1). A handoff copy (a
        stand-in's) never counts: only homes are sure to overlap every acknowledged write, because
        only home acks count toward a write quorum. `on_answer` sees each answer as it comes, before
        the quorum is known: a hint for work that can start early, never a result."""
        homes = self._metadata_homes(position)
        count = len(homes)
        quorum = need(count) if need is not None else count - self._metadata_quorum(count) + 1
        live = [n for n in homes if self._view.is_live(n)]
        if len(live) < quorum:
            raise errors.Unavailable(
                f"{what}: {len(live)} of {count} metadata home replicas are live "
                f"({self._describe_homes(homes)}); a read needs {quorum}; retry when nodes are back")
        # This node's own answer is a local read: made here while the others are on the wire, not
        # handed to a pool thread and back (a get's CPU was a quarter thread switches).
        me = self._view.node_id
        futures = {self._send_pool.submit(fn, n): n for n in live if n != me}
        answers: list[tuple[str, object]] = []
        failures: list[str] = []
        if me in live:
            try:
                answers.append((me, fn(me)))
            except HolderError as err:
                failures.append(str(err))
            else:
                if on_answer is not None:
                    on_answer(answers[-1][1])
        for future in cf.as_completed(futures):
            try:
                answers.append((futures[future], future.result()))
            except HolderError as err:
                failures.append(str(err))
            else:
                if on_answer is not None:
                    on_answer(answers[-1][1])
        if len(answers) < quorum:
            raise errors.Unavailable(
                f"{what}: read quorum not met: {len(answers)} of {quorum} home replicas answered "
                f"({'; '.join(failures)}); retry shortly")
        return answers

    def _read_quorum_only(self, position: int, fn: Callable[[str], object],
                          on_answer: Callable[[object], None] | None) -> list[tuple[str, object]] | None:
        """On a settled ring (node/objects/settle.py), ask only R live homes, this node first when it
        is one: their answers, or None when the ring is not settled, asking R is asking every live
        home anyway, or one of them failed (the caller then asks every live home)."""
        ring = self._view.ring()
        if self._settlement is None or not self._settlement.settled(ring.fingerprint):
            return None
        count = min(self._config.metadata_replicas, max(1, len(ring)))
        quorum = count - self._metadata_quorum(count) + 1
        live = [n for n in ring.ordered_nodes(position)[:count] if self._view.is_live(n)]
        if len(live) <= quorum:
            return None
        me = self._view.node_id
        chosen = ([me] if me in live else []) + [n for n in live if n != me]
        del chosen[quorum:]
        futures = [self._send_pool.submit(fn, n) for n in chosen if n != me]
        answers: list[tuple[str, object]] = []
        try:
            if me in chosen:
                answers.append((me, fn(me)))
                if on_answer is not None:
                    on_answer(answers[-1][1])
            for node_id, future in zip((n for n in chosen if n != me), futures):
                answers.append((node_id, future.result()))
                if on_answer is not None:
                    on_answer(answers[-1][1])
        except HolderError as err:
            log.info("reading from %d homes failed (%s); asking every live home", quorum, err)
            return None
        self._count_read("quorum")
        return answers

    def _count_read(self, homes: str) -> None:
        if self._metrics is not None:
            self._metrics.manifest_reads.labels(homes).inc()

    def _describe_homes(self, homes: list[str]) -> str:
        return ", ".join(f"{n} {self._view.state_name(n)}" for n in homes)

    def _write_metadata(self, position: int, send: Callable[[Assignment, int], None], *, what: str,
                        settled: Callable[[], None] | None = None) -> None:
        """Write to every home (a stand-in for each DOWN one, as a handoff copy) and return once
        metadata_write_quorum *homes* have it durably; stand-in acks add durability, not quorum.
        `send(assignment, ring fingerprint)` tags the write with the ring its homes were chosen on;
        a home on another ring refuses it (node/objects/ring_gate.py), and when that costs the
        quorum the write is made again on this node's ring once it changes, or after a short wait
        for the home's to, for up to RING_AGREEMENT_WAIT_S."""
        deadline_s = time.monotonic() + RING_AGREEMENT_WAIT_S
        attempts = _Attempts(settled)
        try:
            while True:
                ring = self._view.ring()
                refused: list[str] = []

                def tagged(assignment: Assignment, fingerprint: int = ring.fingerprint) -> None:
                    try:
                        send(assignment, fingerprint)
                    except HolderError as err:
                        if err.kind == "ring":
                            refused.append(assignment.node_id)
                        raise

                try:
                    self._write_metadata_on(ring, position, tagged, what=what, settled=attempts.one())
                    return
                except errors.Unavailable:
                    if not refused or time.monotonic() >= deadline_s:
                        raise
                log.info("%s: %s refused it as placed on ring %016x; writing again", what, ", ".join(refused),
                         ring.fingerprint)
                self._await_ring_change(ring.fingerprint, deadline_s)
        finally:
            attempts.close()

    def _await_ring_change(self, fingerprint: int, deadline_s: float) -> None:
        """Until this node's ring is not `fingerprint` or RING_RECHECK_S has passed (the refusing
        home may be the one behind), within `deadline_s`."""
        until_s = min(deadline_s, time.monotonic() + RING_RECHECK_S)
        while self._view.ring().fingerprint == fingerprint and time.monotonic() < until_s:
            time.sleep(RING_POLL_S)

    def _write_metadata_on(self, ring: Ring, position: int, send: Callable[[Assignment], None], *, what: str,
                           settled: Callable[[], None]) -> None:
        count = min(self._config.metadata_replicas, max(1, len(ring)))
        homes = ring.ordered_nodes(position)[:count]
        quorum = self._metadata_quorum(count)
        live = [n for n in homes if self._view.is_live(n)]
        if len(live) < quorum:
            settled()
            raise errors.Unavailable(
                f"{what}: {len(live)} of {count} metadata home replicas are live "
                f"({self._describe_homes(homes)}); a write needs {quorum}; retry when nodes are back")
        try:
            targets = choose_targets(ring, position, count, self._view.is_live, what=what)
        except BaseException:
            settled()
            raise
        write_quorum(self._send_pool, targets, quorum, send, what=what, homes_only=True, settled=settled)

    def _bucket_homes(self, tenant: str) -> list[str]:
        """The bucket directory homes of a tenant: the acceptors of its bucket register."""
        return self._metadata_homes(bucket_directory_position(tenant))

    def _bucket_records(self) -> dict[str, common_pb2.BucketRecord]:
        """The chosen record of every bucket name of the tenant (tombstones included).

        Asks every live directory home (stand-ins do not count, as in the register) and needs a
        majority of the homes to answer. A name whose newest record is not on a majority of the
        answers (a change that reached only some homes, or a record from before ballots) is settled
        through the register first, so a read never shows a record a later change could overturn."""
        homes = self._bucket_homes(self.tenant)
        need = majority(len(homes))
        answers = self._read_all(bucket_directory_position(self.tenant),
                                 lambda n: self._replicas.list_buckets(n, self.tenant),
                                 what="reading the bucket directory", need=majority)
        newest: dict[str, common_pb2.BucketRecord] = {}
        agreeing: collections.Counter[tuple[str, object]] = collections.Counter()
        for _, records in answers:
            for record in records:
                agreeing[(record.name, bucket_order_key(record))] += 1
                current = newest.get(record.name)
                if current is None or bucket_order_key(record) > bucket_order_key(current):
                    newest[record.name] = record
        settled: dict[str, common_pb2.BucketRecord] = {}
        for name, record in newest.items():
            if agreeing[(name, bucket_order_key(record))] < need:
                confirmed = self._register.confirm(self.tenant, name)
                if confirmed is None:
                    continue
                record = confirmed
            self._hlc.observe(record.version)
            settled[name] = record
        return settled

    def cached_bucket(self, name: str) -> common_pb2.BucketRecord | None:
        """The bucket's record if `bucket` read it less than BUCKET_CACHE_TTL_S ago, else None;
        never a network call (for callers on an event loop)."""
        cached = self._bucket_cache.get((self.tenant, name))
        if cached is not None and time.monotonic() - cached[0] < BUCKET_CACHE_TTL_S:
            return cached[1]
        return None

    def bucket(self, name: str) -> common_pb2.BucketRecord:
        """The live bucket record, or NotFound. Cached for BUCKET_CACHE_TTL_S."""
        validate.bucket_name(name)
        cached = self.cached_bucket(name)
        if cached is not None:
            return cached
        started = time.monotonic()
        record = self._bucket_records().get(name)
        live = record if record is not None and not record.tombstone else None
        with self._bucket_cache_lock:
            if started > self._bucket_forgotten.get((self.tenant, name), -1.0):
                self._bucket_cache[(self.tenant, name)] = (started, live)
        if live is None:
            raise errors.NoSuchBucket(f"bucket {name!r} does not exist; create it with `nodectl mb {name}`")
        return live

    def create_bucket(self, name: str, policy: common_pb2.RedundancyPolicy | None,
                      request_id: str = "", owner: str = "") -> common_pb2.BucketRecord:
        """Create the bucket through the register: exactly one of many concurrent creators of a name
        succeeds, every other one is ALREADY_EXISTS naming the stored policy (even when it asked for
        the same policy: it is another request). A retry of the winning request (same request_id,
        after a lost answer) is answered with the record it created."""
        validate.bucket_name(name)
        request_id = self._request_id(request_id)
        policy = self._checked_policy(policy, default=replication(self._config.default_replicas), check_live=False)
        built: list[common_pb2.BucketRecord] = []

        def create(current: common_pb2.BucketRecord | None) -> common_pb2.BucketRecord | None:
            if current is not None and request_id in current.recent_request_ids:
                if current.request_id == request_id:
                    return current  # this very request created it (a retry, or a round that lost its answer)
                raise _AlreadyDone()  # it did, and later changes were built on it
            if current is not None and not current.tombstone:
                raise errors.AlreadyExists(
                    f"bucket {name!r} already exists ({describe_policy(current.default_policy)}); "
                    "use it as it is, or choose another name")
            if current is not None:
                self._hlc.observe(current.version)
            record = common_pb2.BucketRecord(format_version=BUCKET_RECORD_FORMAT_VERSION, tenant=self.tenant,
                                             name=name, default_policy=policy, version=self._hlc.now(),
                                             created_at_unix_ms=self._wall_ms(), request_id=request_id,
                                             owner=owner)
            record.recent_request_ids.extend(_recent(current, request_id))
            built.append(record)
            return record

        try:
            record = self._register.change(self.tenant, name, create)
        except _AlreadyDone:
            assert built, "a create is found in a name's history only after building its record"
            return built[-1]
        assert record is not None and not record.tombstone, "a create that did not raise leaves a live record"
        self._bucket_cache[(self.tenant, name)] = (time.monotonic(), record)
        return record

    def delete_bucket(self, name: str, request_id: str = "") -> None:
        """Remove an empty bucket through the register: the tombstone replaces exactly the live
        record that was checked empty. If that record was replaced meanwhile, this removal did not
        happen (NOT_FOUND: the name was free at some moment while it ran) unless its request id is
        in the name's recent history (a round that lost its answer after a concurrent change built
        on its tombstone), in which case it did and the answer is OK; it never removes a bucket it
        did not check. A retry of the same request (request_id) after a lost answer is OK too."""
        validate.bucket_name(name)
        request_id = self._request_id(request_id)
        self._bucket_cache.pop((self.tenant, name), None)
        checked = self._bucket_records().get(name)
        if checked is not None and request_id in checked.recent_request_ids:
            return
        if checked is None or checked.tombstone:
            raise errors.NoSuchBucket(f"bucket {name!r} does not exist; `nodectl ls` lists the buckets")
        page, _ = self.list_page(name, prefix="", start_after="", page_size=1)
        if page:
            raise errors.BucketNotEmpty(
                f"bucket {name!r} is not empty (it holds {page[0].key!r}); delete its objects first")

        def remove(current: common_pb2.BucketRecord | None) -> common_pb2.BucketRecord | None:
            if current is not None and request_id in current.recent_request_ids:
                return current  # this very request removed it
            if current is None or current.tombstone or stamp_key(current.version) != stamp_key(checked.version):
                raise errors.NotFound(
                    f"bucket {name!r} was removed by another request while this one checked it"
                    + ("" if current is None or current.tombstone else
                       " (a new bucket of that name exists now; remove it again if that is meant)"))
            self._hlc.observe(current.version)
            tombstone = common_pb2.BucketRecord()
            tombstone.CopyFrom(current)
            tombstone.version.CopyFrom(self._hlc.now())
            tombstone.tombstone = True
            tombstone.request_id = request_id
            del tombstone.recent_request_ids[:]
            tombstone.recent_request_ids.extend(_recent(current, request_id))
            return tombstone

        try:
            self._register.change(self.tenant, name, remove)
        finally:
            self.forget_bucket(self.tenant, name)
        self._tell_others_to_forget(name)
        try:
            self.uploads.drop_all(name)
        except errors.RingstoreError as err:  # the bucket is gone; the uploads' records age out instead
            log.warning("bucket %s removed; its unfinished uploads stay until repair.upload_max_age_s: %s", name, err)

    def forget_bucket(self, tenant: str, name: str) -> None:
        """Drop the cached record of a bucket, and keep a lookup already running from caching what it
        read before now (see `bucket`)."""
        with self._bucket_cache_lock:
            self._bucket_cache.pop((tenant, name), None)
            self._bucket_forgotten[(tenant, name)] = time.monotonic()
            if len(self._bucket_forgotten) > BUCKETS_FORGOTTEN_MAX:
                cutoff = time.monotonic() - BUCKET_CACHE_TTL_S
                self._bucket_forgotten = {k: t for k, t in self._bucket_forgotten.items() if t > cutoff}

    def _tell_others_to_forget(self, name: str) -> None:
        """After a removal: every other ALIVE node drops its cached record of the bucket before the
        client hears OK, so a put through any node that answered is refused from then on. A node
        that does not answer keeps its entry for at most BUCKET_CACHE_TTL_S (logged)."""
        others = sorted(n for n in self._view.ring().node_ids if n != self._view.node_id and self._view.is_live(n))
        futures = {self._send_pool.submit(self._replicas.forget_bucket, n, self.tenant, name): n for n in others}
        for future in cf.as_completed(futures):
            try:
                future.result()
            except HolderError as err:
                log.info("telling %s to forget removed bucket %s failed: %s", futures[future], name, err)

    def list_buckets(self) -> list[common_pb2.BucketRecord]:
        records = self._bucket_records()
        return [records[name] for name in sorted(records) if not records[name].tombstone]

    @staticmethod
    def _request_id(request_id: str) -> str:
        """The client's request id, checked, or a fresh one when it gave none."""
        if len(request_id.encode("utf-8")) > REQUEST_ID_BYTES_MAX:
            raise errors.InvalidArgument(f"request_id is {len(request_id.encode('utf-8'))} bytes; "
                                         f"give at most {REQUEST_ID_BYTES_MAX}")
        return request_id or uuid.uuid4().hex

    # -- policies -------------------------------------------------------------------------------

    def _checked_policy(self, policy: common_pb2.RedundancyPolicy | None, *,
                        default: common_pb2.RedundancyPolicy, check_live: bool) -> common_pb2.RedundancyPolicy:
        """The policy to use (the default when unset), checked against the cluster: more copies or
        shares than ring members is INVALID_ARGUMENT; with check_live, more than live nodes is
        UNAVAILABLE (a put never doubles copies up on one node)."""
        if policy is None or policy.WhichOneof("policy") is None:
            policy = default
        if policy.WhichOneof("policy") == "erasure_coding":
            try:
                geometry = geometry_of(policy)
            except GeometryError as err:
                raise errors.InvalidArgument(str(err)) from None
            needed = geometry.total_shares
            what = f"ec={geometry} puts its {needed} shares on {needed} distinct nodes"
        else:
            needed = policy.replication.replicas
            if needed < 1:
                raise errors.InvalidArgument(f"replicas={needed} is invalid: give at least 1")
            what = f"replicas={needed} puts {needed} copies on {needed} distinct nodes"
        ring_size = len(self._view.ring())
        if needed > max(ring_size, 1) and not check_live:
            raise errors.InvalidArgument(f"{what}, but the cluster has {ring_size} nodes; "
                                         "lower the redundancy or add nodes")
        if check_live and needed > self._view.live_count():
            raise errors.Unavailable(f"{what}, but only {self._view.live_count()} nodes are ALIVE; "
                                     "wait for nodes to return, add nodes or lower the redundancy")
        return policy

    # -- put ------------------------------------------------------------------------------------

    def put_object(self, header: object_pb2.PutObjectHeader, frames: Iterable[memoryview],
                   check_end: Callable[[int, bytes], None] = lambda size_bytes, blake3: None,
                   manifest_settled: Callable[[], None] | None = None,
                   annotate: Callable[[common_pb2.Manifest], None] | None = None,
                   record_at: tuple[str, str] | None = None, allow_inline: bool = True) -> common_pb2.Manifest:
        """Store an object and make it the key's current version. `check_end(size, blake3)` runs once
        the stream is consumed and before the manifest is written: it raises to refuse the object
        (the client's end message disagrees with what arrived). `manifest_settled()` is called once
        every write of the manifest has ended, after this returns (or raises) at the write quorum;
        never when the put fails before its manifest is sent. `annotate(manifest)` runs after
        `check_end`, before the write: it records what the caller computed from the stream (the
        S3 gateway's MD5), or raises to refuse the object as `check_end` does. `record_at` (bucket,
        key): where the manifest is written instead of the header's bucket and key, whose policy and
        checks still apply (a multipart upload's part, node/objects/uploads.py); `allow_inline`
        False keeps even a small object in chunks (a part's chunks become the object's)."""
        bucket, policy = self._checked_put(header)
        direct = self._direct_token(header, policy, record_at) if header.direct_put else None
        declared = header.size_bytes if header.HasField("size_bytes") else None
        if declared is not None:
            self.check_size(declared)
        condition = (self.condition_of(header.if_match, header.if_version, header.if_absent)
                     if record_at is None else None)
        compress = _compresses(header, bucket)
        # The data key is at hand (made and durable first, for a tenant's first chunk) before a byte is read.
        seal = self._sealing(header, bucket)

        hasher = blake3.blake3()
        received = 0
        known: list[common_pb2.ChunkRef] = []
        written = 0  # chunks of a direct put written to their holders by the client
        plain_ids: dict[int, bytes] = {}  # offset -> blake3 of a stored chunk's bytes, when chunks are named

        def counted() -> Iterator[memoryview | object_pb2.KnownChunk | object_pb2.WrittenChunk]:
            nonlocal received, written
            for frame in frames:
                if isinstance(frame, object_pb2.WrittenChunk):
                    if direct is None or self.direct_puts is None:
                        raise errors.InvalidArgument("only a direct put (PutObjectHeader.direct_put) names written "
                                                     "chunks; nothing was stored")
                    self.direct_puts.check_written(frame, direct, self._config.chunk_size_bytes)
                    written += 1
                    received += frame.size_bytes
                elif isinstance(frame, object_pb2.KnownChunk):
                    if record_at is not None:
                        raise errors.InvalidArgument("a multipart upload's part cannot name known chunks; send its "
                                                     "bytes; nothing was stored")
                    known_chunks.check_known(frame, self._config.chunk_size_bytes)
                    known.append(common_pb2.ChunkRef(chunk_id=frame.chunk_id, size_bytes=frame.size_bytes))
                    received += frame.size_bytes
                else:
                    received += len(frame)
                if received > self._config.object_size_bytes_max:
                    raise errors.ResourceExhausted(
                        f"object exceeds the limit of {self._config.object_size_bytes_max} bytes")
                if declared is not None and received > declared:
                    raise errors.InvalidArgument(f"stream carried more than the declared {declared} bytes")
                if not known and direct is None:
                    hasher.update(frame)
                yield frame

        chunks_iter = known_chunks.pieces(counted(), self._config.chunk_size_bytes)
        # The version is stamped when the put starts: every copy records it as its reference, so
        # garbage collection and conversion can tell which object versions still need a copy.
        manifest = common_pb2.Manifest(
            format_version=FORMAT_VERSION, tenant=self.tenant, bucket=header.bucket, key=header.key,
            content_type=header.content_type, policy=policy,
            version=direct.ref.version if direct is not None else self._hlc.now())
        manifest.metadata.update(dict(header.metadata))
        manifest.headers.update(dict(header.headers))
        if record_at is not None:
            manifest.bucket, manifest.key = record_at
        else:
            self.assign_version(bucket, manifest)
            if direct is not None:
                manifest.version_id = direct.ref.version_id  # as the written copies' references name it
            _tag(manifest, dict(header.tags), manifest.version)
        first = next(chunks_iter, b"")
        if (allow_inline and seal is None and not known and direct is None
                and len(first) <= self._config.inline_max_bytes
                and received == len(first)):
            rest = next(chunks_iter, None)
            assert rest is None, "an object no larger than one chunk yields one chunk"
            if header.compression == common_pb2.COMPRESSION_ZSTD:
                raise errors.InvalidArgument(
                    f"an object of at most {self._config.inline_max_bytes} bytes is kept inline in its manifest and "
                    f"never compressed; put {header.key} without compression; nothing was stored")
            manifest.inline = True
            manifest.inline_data = bytes(first)
        else:
            refs = self._store_chunks(itertools.chain([first], chunks_iter), policy,
                                      f"{header.bucket}/{header.key}", object_ref(manifest), compress=compress,
                                      seal=seal, plain_ids=plain_ids)
            manifest.chunks.extend(refs)
        if declared is not None and received != declared:
            raise errors.InvalidArgument(f"stream carried {received} bytes but the header declared {declared}")
        manifest.size_bytes = received
        manifest.blake3 = b"" if known or direct is not None else hasher.digest()
        if direct is not None and self._metrics is not None:
            self._metrics.direct_put_chunks.labels("written").inc(written)
            self._metrics.direct_put_chunks.labels("streamed").inc(len(manifest.chunks) - written)
        if direct is not None and not known:
            manifest.chunks_blake3 = chunks_digest(bytes(c.chunk_id) for c in manifest.chunks)
        if known:
            manifest.chunks_blake3 = chunks_digest(plain_ids.get(c.offset_bytes) or bytes(c.chunk_id)
                                                   for c in manifest.chunks)
            self._reference_known(manifest, {bytes(c.chunk_id) for c in known}, sealed=seal is not None)
        check_end(received, manifest.blake3)
        if annotate is not None:
            annotate(manifest)
        manifest.created_at_unix_ms = self._wall_ms()
        if header.expires_in_ms and record_at is None:
            manifest.expires_at_unix_ms = manifest.created_at_unix_ms + header.expires_in_ms
        self._check_duration(f"put of {header.bucket}/{header.key}", manifest.version.physical_ms)
        if condition:
            try:
                self.conditions.commit(manifest, condition)
            finally:
                if manifest_settled is not None:
                    manifest_settled()
            return manifest
        self._write_manifest(manifest, manifest_settled)
        return manifest

    def plan_put(self, header: object_pb2.PutObjectHeader, put_token: bytes,
                 chunks: Iterable[object_pb2.KnownChunk]) -> object_pb2.PlanPutResponse:
        """A direct put's plan (node/objects/direct_put.py): on the first call (no `put_token`) the
        header checked as `put_object` checks it and the version stamped, or direct=False with the
        reason; then where each of `chunks` goes, with its grants."""
        chunks = list(chunks)
        if len(chunks) > PLAN_CHUNKS_MAX:
            raise errors.InvalidArgument(f"PlanPut places at most {PLAN_CHUNKS_MAX} chunks per call, not {len(chunks)}")
        answer = object_pb2.PlanPutResponse(chunk_size_bytes=self._config.chunk_size_bytes)
        if self.direct_puts is None:
            answer.reason = "this node plans no direct puts"
            return answer
        if put_token:
            token = self._opened_token(put_token, header)
        else:
            bucket, policy = self._checked_put(header)
            if header.HasField("size_bytes"):
                self.check_size(header.size_bytes)
            self.condition_of(header.if_match, header.if_version, header.if_absent)  # checked now, applied at the end
            answer.reason = not_direct_because(
                policy, header, chunk_size_bytes=self._config.chunk_size_bytes,
                message_bytes_max=self._config.grpc_message_bytes_max,
                compress=_compresses(header, bucket), encrypt=_encrypts(header, bucket))
            if answer.reason:
                return answer
            manifest = common_pb2.Manifest(tenant=self.tenant, bucket=header.bucket, key=header.key, policy=policy,
                                           version=self._hlc.now())
            self.assign_version(bucket, manifest)
            lasts_ms = round(min(self._put_duration_max_s, DIRECT_PUT_TOKEN_TTL_S) * 1000)
            token = object_pb2.DirectPutToken(ref=object_ref(manifest), policy=policy, size_bytes=header.size_bytes,
                                              expires_unix_ms=manifest.version.physical_ms + lasts_ms)
            put_token = self.direct_puts.keys.token(token)
        answer.direct = True
        answer.put_token = put_token
        answer.chunks.extend(self.direct_puts.plan(token, chunk, self._config.chunk_size_bytes) for chunk in chunks)
        return answer

    def _direct_token(self, header: object_pb2.PutObjectHeader, policy: common_pb2.RedundancyPolicy,
                      record_at: tuple[str, str] | None) -> object_pb2.DirectPutToken:
        """The token of the direct put `header` commits, checked against the header."""
        if self.direct_puts is None:
            raise errors.FailedPrecondition("this node takes no direct puts; stream the object; nothing was stored")
        if record_at is not None or header.upload_id:
            raise errors.InvalidArgument("the direct put token was made for another object; nothing was stored")
        token = self._opened_token(header.direct_put, header)
        if token.policy != policy:
            raise errors.FailedPrecondition(
                f"the redundancy of {header.bucket} changed during the put ({describe_policy(token.policy)} -> "
                f"{describe_policy(policy)}); nothing was stored: put it again")
        if not header.HasField("size_bytes") or header.size_bytes != token.size_bytes:
            raise errors.InvalidArgument(f"a direct put's header must declare the {token.size_bytes} bytes its plan "
                                         "was made for; nothing was stored")
        return token

    def _opened_token(self, raw: bytes, header: object_pb2.PutObjectHeader) -> object_pb2.DirectPutToken:
        """A direct put's token, checked as this cluster's, unexpired and made for `header`'s object."""
        assert self.direct_puts is not None
        token = self.direct_puts.keys.open_token(raw)
        if token.ref.tenant != self.tenant or (token.ref.bucket, token.ref.key) != (header.bucket, header.key):
            raise errors.InvalidArgument("the direct put token was made for another object; nothing was stored")
        return token

    def _checked_put(self, header: object_pb2.PutObjectHeader
                     ) -> tuple[common_pb2.BucketRecord, common_pb2.RedundancyPolicy]:
        """The bucket a put writes into and the policy it stores under, once its key, content type,
        metadata, headers and tags are checked (a streamed put's and a direct put's first plan)."""
        bucket = self.bucket(header.bucket)
        self.validate_put(header.key, header.content_type, dict(header.metadata), dict(header.headers))
        validate.tags(dict(header.tags))
        policy = self._checked_policy(header.policy if header.HasField("policy") else None,
                                      default=bucket.default_policy, check_live=True)
        return bucket, policy

    def _store_chunks(self, chunks: Iterator[bytes], policy: common_pb2.RedundancyPolicy, name: str,
                      ref: common_pb2.ObjectRef, *, compress: bool = False, seal: at_rest.DataKey | None = None,
                      plain_ids: dict[int, bytes] | None = None) -> list[common_pb2.ChunkRef]:
        """Store every chunk on its holders, up to put_inflight_chunks_max at a time, in order. Each
        chunk's encoding (zfec releases the GIL) runs in the chunk pool while earlier chunks' shares
        are still on the wire, so encoding, sending and fsyncing overlap. `plain_ids` (offset ->
        blake3 of the chunk's bytes) is filled for chunks stored in another form."""
        refs: list[common_pb2.ChunkRef] = []
        inflight: collections.deque[cf.Future] = collections.deque()
        offset = 0
        try:
            for data in chunks:
                while len(inflight) >= self._config.put_inflight_chunks_max:
                    refs.append(inflight.popleft().result())
                # A known chunk is referenced once the stream ends (_reference_known); a written one is
                # referenced already (its holders did, checking the grant).
                if isinstance(data, (object_pb2.KnownChunk, object_pb2.WrittenChunk)):
                    stored: cf.Future = cf.Future()
                    stored.set_result(common_pb2.ChunkRef(chunk_id=data.chunk_id, size_bytes=data.size_bytes,
                                                          offset_bytes=offset))
                    inflight.append(stored)
                    offset += data.size_bytes
                    continue
                inflight.append(self._chunk_pool.submit(self._store_chunk, data, offset, policy, name, ref, compress,
                                                        seal, plain_ids))
                offset += len(data)
            while inflight:
                refs.append(inflight.popleft().result())
        finally:
            for future in inflight:
                future.cancel()
        return refs

    def _store_chunk(self, data, offset: int, policy: common_pb2.RedundancyPolicy, name: str,
                     ref: common_pb2.ObjectRef, compress: bool, seal: at_rest.DataKey | None = None,
                     plain_ids: dict[int, bytes] | None = None) -> common_pb2.ChunkRef:
        """One chunk on its holders: compressed when asked and worth it (node/objects/compression.py),
        then sealed under `seal` when encrypting at rest (node/objects/at_rest.py)."""
        packed = None
        if compress:
            packed = compression.compressed(data, level=self._config.compression_level,
                                            saving_min=self._config.compression_saving_min)
            if self._metrics is not None:
                self._metrics.compression_bytes.labels("in").inc(len(data))
                self._metrics.compression_bytes.labels("out").inc(len(packed) if packed is not None else len(data))
        if packed is None and seal is None:
            return self.chunks.store(data, offset, policy, name, ref)
        plain_id = blake3.blake3(data).digest()
        if plain_ids is not None:
            plain_ids[offset] = plain_id
        payload = packed if packed is not None else data
        if seal is not None:
            sealed = seal.seal(payload, plain_id if packed is None else None)
            if self._metrics is not None:
                self._metrics.at_rest_bytes.labels("sealed").inc(len(payload))
            stored = self.chunks.store(sealed, offset, policy, name, ref)
            if packed is not None:
                stored.compression = common_pb2.COMPRESSION_ZSTD
            at_rest.mark(stored, seal, data, plain_id)
            return stored
        stored = self.chunks.store(packed, offset, policy, name, ref)
        compression.mark(stored, data, plain_id)
        return stored

    def _sealing(self, header: object_pb2.PutObjectHeader, bucket: common_pb2.BucketRecord) -> at_rest.DataKey | None:
        """The data key that seals the chunks a put (or copy) into `bucket` writes (its owner's),
        when the header or else the bucket says to encrypt at rest; None otherwise."""
        if not _encrypts(header, bucket):
            return None
        return self._keys().current(at_rest.tenant_of(bucket.owner))

    def _keys(self) -> at_rest.DataKeys:
        """The tenants' data keys: FailedPrecondition when this node has none to use."""
        if self.data_keys is None:
            raise errors.FailedPrecondition(at_rest.NO_KEYRING)
        return self.data_keys

    def _reference_known(self, manifest: common_pb2.Manifest, known_ids: set[bytes], *, sealed: bool = False) -> None:
        """Make the known chunks a put named part of its version (node/objects/known_chunks.py):
        check each against its placement record and reference its copies, only those a version of
        the same bucket already references. A put that encrypts at rest (`sealed`) takes only chunks
        the key's current version stores encrypted."""
        refs = [c for c in manifest.chunks if bytes(c.chunk_id) in known_ids and not c.share_blake3]
        # A chunk the key's current version has (compressed or encrypted, say) is referenced as that
        # version stores it: its stored form with the offset it has here.
        in_key = self._key_chunks(manifest.bucket, manifest.key, manifest.policy) if refs else _KeyChunks(())
        for ref in refs:
            stored = in_key.get(bytes(ref.chunk_id))
            if stored is not None and compression.plain_size(stored) == ref.size_bytes:
                offset = ref.offset_bytes
                ref.CopyFrom(stored)
                ref.offset_bytes = offset
            elif sealed:
                raise errors.FailedPrecondition(
                    f"chunk {bytes(ref.chunk_id).hex()[:16]} at offset {ref.offset_bytes} is not stored encrypted "
                    f"in {manifest.bucket}/{manifest.key}, and this put encrypts at rest: send its bytes; nothing "
                    "was stored")
        unique = {bytes(c.chunk_id): c for c in refs}
        placements = dict(zip(unique, self._send_pool.map(
            lambda c: self.chunk_placement(c, manifest.policy), unique.values())))
        known_chunks.completed(refs, manifest.policy, placements, manifest.bucket)
        self.reference_chunks(manifest, unique.values(), reuse=True, placements=placements)
        if self._metrics is not None:
            self._metrics.put_known_chunk_bytes.inc(sum(compression.plain_size(c) for c in refs))

    @property
    def chunk_size_bytes(self) -> int:
        return self._config.chunk_size_bytes

    def has_chunks(self, bucket: str, policy: common_pb2.RedundancyPolicy | None,
                   chunk_ids: list[bytes], *, key: str = "") -> list[bool]:
        """Which chunks a put to `bucket` under `policy` (None: the bucket's default) may name as
        known: node/objects/known_chunks.py. With `key`, also the chunks of its current version."""
        record = self.bucket(bucket)
        checked = self._checked_policy(policy, default=record.default_policy, check_live=False)
        known_chunks.check_ids(chunk_ids)
        in_key = self._key_chunks(bucket, key, checked) if key else _KeyChunks(())
        found = {chunk_id: in_key.get(chunk_id) for chunk_id in chunk_ids}
        if record.encryption == common_pb2.ENCRYPTION_AES256_GCM:
            # Its puts take only chunks the key stores encrypted (_reference_known).
            return [found[chunk_id] is not None and at_rest.is_encrypted(found[chunk_id]) for chunk_id in chunk_ids]
        asked = [chunk_id for chunk_id in chunk_ids if found[chunk_id] is None]
        held = dict(zip(asked, known_chunks.held(self._view, self._replicas, self._send_pool, (self.tenant, bucket),
                                                 checked, asked)))
        return [found[chunk_id] is not None or held[chunk_id] for chunk_id in chunk_ids]

    def _key_chunks(self, bucket: str, key: str, policy: common_pb2.RedundancyPolicy) -> _KeyChunks:
        """The chunks of the key's current version, found by the blake3 of their bytes, as it
        stores them; none when it has none, or keeps them under another policy than `policy` (its
        copies would not be where a version under `policy` looks)."""
        try:
            current = self.current_manifest(bucket, key)
        except errors.NotFound:
            return _KeyChunks(())
        if current.policy != policy:
            return _KeyChunks(())
        key_ids = {c.data_key_id for c in current.chunks if at_rest.is_encrypted(c)}
        if key_ids and self.data_keys is None:
            return _KeyChunks(())
        return _KeyChunks(current.chunks, [self.data_keys.get(key_id) for key_id in sorted(key_ids)])

    def _check_duration(self, what: str, started_ms: int) -> None:
        """Refuse to write a manifest for a write slower than half the GC grace: its copies'
        references name a version no manifest holds yet, which garbage collection takes for an
        abandoned write once the grace has passed."""
        took_s = (self._wall_ms() - started_ms) / 1000
        if took_s > self._put_duration_max_s:
            raise errors.Unavailable(
                f"{what} took {took_s:.0f} s, longer than the {self._put_duration_max_s:.0f} s a write may take "
                "(half of repair.gc_grace_s); run it again, or raise gc_grace_s on every node")

    def _write_manifest(self, manifest: common_pb2.Manifest, settled: Callable[[], None] | None = None) -> None:
        position = metadata_position(manifest.tenant, manifest.bucket)
        self._write_metadata(
            position, lambda a, ring: self._replicas.put_manifest(a.node_id, manifest, a.handoff_for, ring),
            what=f"writing the manifest of {manifest.bucket}/{manifest.key}", settled=settled)

    # -- building blocks of multipart uploads (node/objects/uploads.py) ---------------------------

    def validate_put(self, key: str, content_type: str, metadata: dict[str, str], headers: dict[str, str]) -> None:
        """The checks a put makes of its key and attributes before any byte is read."""
        validate.object_key(key, self._config.key_length_bytes_max)
        validate.content_type(content_type)
        validate.metadata(metadata)
        validate.http_headers(headers)

    def checked_policy(self, policy: common_pb2.RedundancyPolicy | None,
                       default: common_pb2.RedundancyPolicy) -> common_pb2.RedundancyPolicy:
        return self._checked_policy(policy, default=default, check_live=True)

    def check_size(self, size_bytes: int) -> None:
        if size_bytes > self._config.object_size_bytes_max:
            raise errors.ResourceExhausted(
                f"object is {size_bytes} bytes; the limit is {self._config.object_size_bytes_max} bytes")

    def new_manifest(self, bucket: str, key: str, *, content_type: str,
                     policy: common_pb2.RedundancyPolicy) -> common_pb2.Manifest:
        """A manifest of this tenant stamped with a new version now."""
        return common_pb2.Manifest(format_version=FORMAT_VERSION, tenant=self.tenant, bucket=bucket, key=key,
                                   content_type=content_type, policy=policy, version=self._hlc.now(),
                                   created_at_unix_ms=self._wall_ms())

    def write_manifest(self, manifest: common_pb2.Manifest) -> None:
        """Write a manifest to a write quorum of its homes, refusing one whose write took too long."""
        self._check_duration(f"writing {manifest.bucket}/{manifest.key}", manifest.version.physical_ms)
        self._write_manifest(manifest)

    def write_manifest_if(self, manifest: common_pb2.Manifest, condition: Condition) -> None:
        """Write a manifest as a conditional put does (node/objects/conditions.py): only if the
        key's current version meets `condition`, else FAILED_PRECONDITION and nothing visible."""
        self._check_duration(f"writing {manifest.bucket}/{manifest.key}", manifest.version.physical_ms)
        self.conditions.commit(manifest, condition)

    def condition_of(self, if_match: str, if_version: str, if_absent: bool) -> Condition:
        """The condition a put or a completed upload names, checked: at most one, each of bounded
        length."""
        given = [name for name, value in (("if_match", if_match), ("if_version", if_version),
                                          ("if_absent", if_absent)) if value]
        if len(given) > 1:
            raise errors.InvalidArgument(f"a put takes one condition, got {' and '.join(given)}")
        if len(if_match) > CONDITION_TEXT_CHARS_MAX or len(if_version) > CONDITION_TEXT_CHARS_MAX:
            raise errors.InvalidArgument(f"a put's condition is at most {CONDITION_TEXT_CHARS_MAX} characters")
        return Condition(if_match=if_match, if_version=if_version, if_absent=if_absent)

    def write_tombstone(self, current: common_pb2.Manifest | None,
                        record: common_pb2.BucketRecord | None = None) -> common_pb2.Manifest | None:
        """Delete the key of `current` (nothing when it is None or already a tombstone); the
        tombstone written. With the bucket's `record` (a user's bucket), the tombstone is a version
        as `assign_version` gives it: a delete marker of its own id while versioning is enabled."""
        if current is None or current.tombstone:
            return None
        return self._write_marker(current.bucket, current.key, current.policy, record)

    def _write_marker(self, bucket: str, key: str, policy: common_pb2.RedundancyPolicy,
                      record: common_pb2.BucketRecord | None) -> common_pb2.Manifest:
        tombstone = common_pb2.Manifest(format_version=FORMAT_VERSION, tenant=self.tenant, bucket=bucket,
                                        key=key, tombstone=True, created_at_unix_ms=self._wall_ms(),
                                        policy=policy, version=self._hlc.now())
        if record is not None:
            self.assign_version(record, tombstone)
        self._write_manifest(tombstone)
        return tombstone

    # -- versions (node/store/versions.py) -------------------------------------------------------

    def assign_version(self, record: common_pb2.BucketRecord, manifest: common_pb2.Manifest) -> None:
        """Give a new version of a user's object, stamped already, its version id (a new one while
        the bucket's versioning is enabled, else the null version's) and its writer."""
        enabled = record.versioning == common_pb2.VERSIONING_ENABLED
        manifest.version_id = version_id_of(manifest.version) if enabled else b""
        manifest.written_by = self._writer()

    @staticmethod
    def parse_version(text: str) -> bytes:
        try:
            return parse_version_id(text)
        except StoreInvalidArgument as err:
            raise errors.InvalidArgument(str(err)) from None

    def read_version(self, bucket: str, key: str, version_id: bytes,
                     on_answer: Callable[[common_pb2.Manifest | None], None] | None = None
                     ) -> common_pb2.Manifest | None:
        """The manifest of one version of a key by a read quorum (newest of that id wins, erased
        records too), read-repaired; None when no home has one."""
        read = lambda n: self._replicas.get_manifest(n, self.tenant, bucket, key, version_id)  # noqa: E731
        return self._read_newest(bucket, key, read, on_answer)

    def version_manifest(self, bucket: str, key: str, version: str,
                         on_answer: Callable[[common_pb2.Manifest | None], None] | None = None
                         ) -> common_pb2.Manifest:
        """Version `version` (ObjectInfo.version_id) of the key, a delete marker too; NoSuchVersion
        when there is none or it was deleted for good."""
        self.bucket(bucket)
        validate.object_key(key, self._config.key_length_bytes_max)
        manifest = self.read_version(bucket, key, self.parse_version(version), on_answer)
        if manifest is None or manifest.erased:
            raise errors.NoSuchVersion(f"object {bucket}/{key} has no version {version}; "
                                       f"`nodectl versions {bucket}/{key}` lists its versions")
        return manifest

    def version_with_data(self, bucket: str, key: str, version: str, *, instead: str,
                          on_answer: Callable[[common_pb2.Manifest | None], None] | None = None
                          ) -> common_pb2.Manifest:
        """Version `version` of the key (its current one for ""), refused when it is a delete marker
        (VersionIsDeleteMarker, `instead` saying what to do) since it has no bytes."""
        if not version:
            return self.current_manifest(bucket, key, on_answer=on_answer)
        manifest = self.version_manifest(bucket, key, version, on_answer)
        if manifest.tombstone:
            raise errors.VersionIsDeleteMarker(f"version {version} of {bucket}/{key} is a delete marker; {instead}")
        return manifest

    def set_versioning(self, name: str, state: int) -> common_pb2.BucketRecord:
        """Enable or suspend the bucket's versioning through the bucket register; every other
        live node drops its cached record before this returns, so puts through them follow it."""
        if state not in (common_pb2.VERSIONING_ENABLED, common_pb2.VERSIONING_SUSPENDED):
            raise errors.InvalidArgument("versioning can be set to enabled or suspended; a bucket never goes back "
                                         "to unversioned")
        validate.bucket_name(name)

        def change(current: common_pb2.BucketRecord) -> common_pb2.BucketRecord:
            current.versioning = state
            return current

        return self._change_bucket(name, change, lambda current: current.versioning == state)

    def set_compression(self, name: str, setting: int) -> common_pb2.BucketRecord:
        """How the bucket's puts that do not say compress their chunks from now on."""
        if setting not in (common_pb2.COMPRESSION_NONE, common_pb2.COMPRESSION_ZSTD):
            raise errors.InvalidArgument("SetBucketCompression takes COMPRESSION_ZSTD or COMPRESSION_NONE")
        validate.bucket_name(name)

        def change(current: common_pb2.BucketRecord) -> common_pb2.BucketRecord:
            current.compression = setting
            return current

        return self._change_bucket(name, change, lambda current: current.compression == setting)

    def set_encryption(self, name: str, setting: int) -> common_pb2.BucketRecord:
        """Whether the bucket's puts that do not say encrypt their chunks at rest from now on."""
        if setting not in (common_pb2.ENCRYPTION_NONE, common_pb2.ENCRYPTION_AES256_GCM):
            raise errors.InvalidArgument("SetBucketEncryption takes ENCRYPTION_AES256_GCM or ENCRYPTION_NONE")
        validate.bucket_name(name)
        if setting == common_pb2.ENCRYPTION_AES256_GCM:
            self._keys().check_ready()

        def change(current: common_pb2.BucketRecord) -> common_pb2.BucketRecord:
            current.encryption = setting
            return current

        return self._change_bucket(name, change, lambda current: current.encryption == setting)

    def set_change_retention(self, retention_s: float) -> None:
        """How much change log the homes keep (repair.change_retention_s), for watches' cursors."""
        self._change_retention_s = retention_s

    def watch(self, bucket: str, prefix: str, cursor: str, from_now: bool) -> Watch:
        """A watch of the bucket's changes under `prefix` (node/objects/watch.py)."""
        self.bucket(bucket)
        validate.prefix(prefix, self._config.key_length_bytes_max)
        position = metadata_position(self.tenant, bucket)

        def read(node: str, after_seq: int, since_ms: int, limit: int) -> peer_pb2.ReadChangesResponse:
            return self._replicas.read_changes(node, peer_pb2.ReadChangesRequest(
                tenant=self.tenant, bucket=bucket, after_seq=after_seq, since_unix_ms=since_ms, limit=limit))

        return Watch(tenant=self.tenant, bucket=bucket, prefix=prefix, cursor=cursor, from_now=from_now, read=read,
                     homes=lambda: self._metadata_homes(position), is_live=self._view.is_live, wall_ms=self._wall_ms,
                     retention_s=self._change_retention_s)

    def set_lifecycle_day(self, day_s: float) -> None:
        """How long a lifecycle day is (repair.lifecycle_day_s): a version is marked read at most
        READ_MARKS_PER_DAY times a day."""
        self._read_mark_every_ms = max(1, int(day_s * 1000) // READ_MARKS_PER_DAY)

    def mark_read(self, manifest: common_pb2.Manifest) -> None:
        """Note that `manifest`'s bytes are being read, for lifecycle transitions "after N days
        without a read" (node/objects/lifecycle.py): when its bucket has a transition rule and its
        read mark is older than a lifecycle day / READ_MARKS_PER_DAY, its manifest is written again
        with the mark set to now. Off the caller's path: the write runs on the read-mark threads,
        and a failed or skipped mark only means the next read marks it."""
        now_ms = self._wall_ms()
        if manifest.inline or manifest.tombstone or now_ms - manifest.read_at_unix_ms < self._read_mark_every_ms:
            return
        try:
            if not has_transition(self.bucket(manifest.bucket)):
                return
        except errors.RingstoreError:
            return
        slot = (manifest.bucket, manifest.key, manifest.version_id)
        with self._marked_lock:
            if now_ms - self._marked.get(slot, 0) < self._read_mark_every_ms:
                return
            if len(self._marked) >= READ_MARKS_REMEMBERED_MAX:
                self._marked.clear()
            self._marked[slot] = now_ms
        if not self._mark_slots.acquire(blocking=False):
            return
        marked = common_pb2.Manifest()
        marked.CopyFrom(manifest)
        marked.read_at_unix_ms = now_ms
        try:
            self._mark_pool.submit(self._write_read_mark, marked)
        except RuntimeError:  # shutting down
            self._mark_slots.release()

    def _write_read_mark(self, marked: common_pb2.Manifest) -> None:
        try:
            self._write_manifest(marked)
        except Exception as err:  # noqa: BLE001 - a mark is a hint; the next read marks again
            log.debug("read mark of %s/%s not written: %s", marked.bucket, marked.key, err)
        finally:
            self._mark_slots.release()

    def set_object_tags(self, bucket: str, key: str, version: str, tags: dict[str, str]) -> common_pb2.Manifest:
        """Replace the tags of the key's current version (or of `version`): its manifest is written
        again with the same stamp and the tags stamped now, so the homes keep the newer tags of the
        version and nothing else about it changes (node/store/versions.py `merged`); a put made
        meanwhile stays newer. No tags removes them."""
        validate.tags(tags)
        manifest = self.version_with_data(bucket, key, version, instead="it has no tags")
        tagged = common_pb2.Manifest()
        tagged.CopyFrom(manifest)
        tagged.tagging.Clear()
        tagged.tagging.tags.update(tags)
        tagged.tagging.changed.CopyFrom(self._hlc.now())  # also for no tags: a removal is newer too
        self._write_manifest(tagged)
        return tagged

    def set_bucket_tags(self, name: str, tags: dict[str, str]) -> common_pb2.BucketRecord:
        """Replace the bucket's own tags through the bucket register."""
        validate.bucket_name(name)
        validate.tags(tags, most=validate.BUCKET_TAGS_MAX, what="a bucket")

        def change(current: common_pb2.BucketRecord) -> common_pb2.BucketRecord:
            current.tags.clear()
            current.tags.update(tags)
            return current

        return self._change_bucket(name, change, lambda current: dict(current.tags) == tags)

    def _change_bucket(self, name: str, edit: Callable[[common_pb2.BucketRecord], common_pb2.BucketRecord],
                       unchanged: Callable[[common_pb2.BucketRecord], bool]) -> common_pb2.BucketRecord:
        """A change of a live bucket's record through the register (`edit` gets a copy to change);
        every other live node drops its cached record before this returns."""
        def change(current: common_pb2.BucketRecord | None) -> common_pb2.BucketRecord | None:
            if current is None or current.tombstone:
                raise errors.NoSuchBucket(f"bucket {name!r} does not exist; `nodectl ls` lists the buckets")
            if unchanged(current):
                return current
            self._hlc.observe(current.version)
            record = common_pb2.BucketRecord()
            record.CopyFrom(current)
            record = edit(record)
            record.version.CopyFrom(self._hlc.now())
            record.request_id = uuid.uuid4().hex
            del record.recent_request_ids[:]
            record.recent_request_ids.extend(_recent(current, record.request_id))
            return record

        try:
            record = self._register.change(self.tenant, name, change)
        finally:
            self.forget_bucket(self.tenant, name)
        self._tell_others_to_forget(name)
        assert record is not None
        return record

    def set_lifecycle(self, name: str, rules: list[common_pb2.LifecycleRule]) -> common_pb2.BucketRecord:
        """Replace the bucket's lifecycle rules (node/objects/lifecycle.py) through the bucket
        register, after checking them; every other live node drops its cached record before this
        returns."""
        validate.bucket_name(name)
        check_rules(rules, lambda policy: self._checked_policy(policy, default=policy, check_live=False),
                    self._config.key_length_bytes_max)
        for rule in rules:
            validate.tags(dict(rule.tags))

        def change(current: common_pb2.BucketRecord) -> common_pb2.BucketRecord:
            del current.lifecycle[:]
            current.lifecycle.extend(rules)
            return current

        return self._change_bucket(name, change, lambda current: list(current.lifecycle) == list(rules))

    def expire_object(self, record: common_pb2.BucketRecord, judged: common_pb2.Manifest) -> bool:
        """Delete the key's current version if it is still `judged` (the lifecycle worker's expiry);
        False when it changed meanwhile. In an unversioned bucket the tombstone takes `judged`'s stamp
        with `rewrite` + 1: it replaces that version on every home and loses to any write made since.
        In a versioned one it is a delete marker, as a user's delete would write."""
        current = self.read_manifest(record.name, judged.key)
        if current is None or current.tombstone or current.version != judged.version:
            return False
        tombstone = common_pb2.Manifest(format_version=FORMAT_VERSION, tenant=self.tenant, bucket=record.name,
                                        key=judged.key, tombstone=True, created_at_unix_ms=self._wall_ms(),
                                        policy=current.policy)
        if record.versioning != common_pb2.VERSIONING_UNSPECIFIED:
            tombstone.version.CopyFrom(self._hlc.now())
            self.assign_version(record, tombstone)
        else:
            tombstone.version.CopyFrom(current.version)
            tombstone.version.rewrite = current.version.rewrite + 1
            tombstone.version_id = current.version_id
        tombstone.written_by = "lifecycle"
        self._write_manifest(tombstone)
        return True

    def delete_version(self, bucket: str, key: str, version: str) -> common_pb2.Manifest:
        """Delete one version (or delete marker) for good: an erased record of its id, newer than it,
        goes to a write quorum of the key's homes; the key's newest remaining version is current
        from then on. Its chunks go once no version, upload or conversion references them."""
        record = self.bucket(bucket)
        if record.versioning == common_pb2.VERSIONING_UNSPECIFIED and self.parse_version(version) == b"":
            # An unversioned bucket's only version: its tombstone is as final, and purged in time.
            written = self.write_tombstone(self.current_manifest(bucket, key), record)
            assert written is not None, "current_manifest returns a live version"
            return written
        doomed = self.version_manifest(bucket, key, version)
        erased = common_pb2.Manifest(format_version=FORMAT_VERSION, tenant=self.tenant, bucket=bucket, key=key,
                                     version_id=doomed.version_id, erased=True, tombstone=True,
                                     policy=doomed.policy, version=self._hlc.now(), created_at_unix_ms=self._wall_ms(),
                                     written_by=self._writer())
        self._write_manifest(erased)
        return erased

    def list_versions(self, bucket: str, prefix: str, page_size: int, page_token: str
                      ) -> tuple[list[tuple[common_pb2.Manifest, bool]], str]:
        """One page of (version, is it the key's current one): every version and delete marker of
        the keys under `prefix`, in key order, each key's newest first; and the next page's token."""
        self.bucket(bucket)
        page_size = validate.page_size(page_size)
        validate.prefix(prefix, self._config.key_length_bytes_max)
        validate.page_token(page_token)
        after_key, after_stamp = "", None
        if page_token:
            try:
                fields = json.loads(base64.urlsafe_b64decode(page_token.encode()).decode("utf-8"))
                after_key, after_stamp = str(fields[0]), tuple(fields[1]) if fields[1] is not None else None
            except (ValueError, UnicodeDecodeError, TypeError, IndexError):
                raise errors.InvalidArgument("page_token is not one this cluster issued; "
                                             "start again without it") from None
        out, after = self.versions_page(bucket, prefix=prefix, after_key=after_key, after_stamp=after_stamp,
                                        page_size=page_size)
        token = base64.urlsafe_b64encode(json.dumps(list(after)).encode()).decode() if after else ""
        return out, token

    def versions_page(self, bucket: str, *, prefix: str, after_key: str, after_stamp: tuple | None,
                      page_size: int) -> tuple[list[tuple[common_pb2.Manifest, bool]], tuple | None]:
        """One page of versions after (`after_key`, `after_stamp`: the last one of the previous page;
        None: from the start of after_key's successor) and where the next page starts (None: done).
        Each home sends whole keys; per key and version id the newest manifest of the homes wins."""
        position = metadata_position(self.tenant, bucket)
        out: list[tuple[common_pb2.Manifest, bool]] = []
        cursor_key, cursor_stamp = after_key, tuple(after_stamp) if after_stamp is not None else None
        while True:
            request = peer_pb2.ListManifestsRequest(
                tenant=self.tenant, bucket=bucket, prefix=prefix, start_after=cursor_key,
                include_start=cursor_stamp is not None, limit=page_size - len(out) + 1, all_versions=True)
            answers = self._read_all(position, lambda n: self._replicas.list_manifests(n, request),
                                     what=f"listing the versions in {bucket}")
            by_key: dict[str, dict[bytes, common_pb2.Manifest]] = {}
            for _, (manifests, _) in answers:
                for m in manifests:
                    slots = by_key.setdefault(m.key, {})
                    slots[m.version_id] = newer(m, slots.get(m.version_id))
            boundary = _known_up_to(answers)
            for key in sorted(k for k in by_key if boundary is None or k <= boundary):
                listed = newest_first([m for m in by_key[key].values() if not m.erased])
                for m in listed:
                    position_stamp = stamp_key(m.version)
                    if key == cursor_key and cursor_stamp is not None and position_stamp >= cursor_stamp:
                        continue
                    if len(out) == page_size:
                        last = out[-1][0]
                        return out, (last.key, list(stamp_key(last.version)))
                    out.append((m, m is listed[0]))
                cursor_key, cursor_stamp = key, None
            if boundary is None:
                return out, None

    def reference_chunks(self, manifest: common_pb2.Manifest, chunks: Iterable[common_pb2.ChunkRef] | None = None, *,
                         reuse: bool = False,
                         placements: dict[bytes, common_pb2.PlacementRecord | None] | None = None) -> None:
        """Record `manifest`'s version on every copy of its chunks (or of `chunks`), which another
        version already references (a multipart upload's parts, a copied object): the new manifest
        shares them and no byte moves. A copy that cannot take it (holder down, copy gone) is
        stored again under the new version from a verified read. Every copy named by the chunk's
        placement record takes it; the records are read again afterwards, and holders repair or
        rebalancing added meanwhile take it too (a copy made from a source before the source took
        the reference lacks it). `placements`: the records already read, for the first round.

        `reuse` (a put naming known chunks, node/objects/known_chunks.py): a copy takes the
        reference only if a version of the manifest's own bucket already references it, and a
        chunk no copy took it on is not restored but refused (FailedPrecondition), so a client
        can reuse only what its bucket stores, never another bucket's data by its hash."""
        ref = object_ref(manifest)
        unique = {bytes(c.chunk_id): c for c in (manifest.chunks if chunks is None else chunks)}
        done: set[tuple[str, bytes]] = set()
        failed: set[bytes] = set()
        for round_ in range(2):
            if round_ or placements is None:
                placements = dict(zip(unique, self._send_pool.map(
                    lambda c: self.chunk_placement(c, manifest.policy), unique.values())))
            per_holder: dict[str, list[tuple[bytes, ShareKey]]] = collections.defaultdict(list)
            for chunk_id in unique:
                placement = placements.get(chunk_id)
                if placement is None or not placement.holders:
                    failed.add(chunk_id)
                    continue
                for holder in placement.holders:
                    if (holder.node_id, chunk_id) not in done:
                        per_holder[holder.node_id].append((chunk_id, holder_key(placement, holder.share_index)))
            outcomes = self._send_pool.map(
                lambda node_id: self._add_references(node_id, per_holder[node_id], ref, reuse=reuse), list(per_holder))
            for node_id, took in zip(list(per_holder), outcomes):
                for (chunk_id, _), ok in zip(per_holder[node_id], took):
                    if ok:
                        done.add((node_id, chunk_id))
                    else:
                        failed.add(chunk_id)
        if reuse:
            taken = {chunk_id for _, chunk_id in done}
            refused = [chunk_id for chunk_id in unique if chunk_id not in taken]
            if refused:
                raise errors.FailedPrecondition(
                    f"chunk {refused[0].hex()[:16]} (and {len(refused) - 1} more) is not stored for bucket "
                    f"{manifest.bucket} under {describe_policy(manifest.policy)} any more; ask HasChunks again and "
                    "send those chunks' bytes; nothing was stored")
        for chunk_id in failed:
            self.restore_chunk(manifest, unique[chunk_id], ref)

    def _add_references(self, node_id: str, items: list[tuple[bytes, ShareKey]], ref: common_pb2.ObjectRef, *,
                        reuse: bool = False) -> list[bool]:
        """Per item, whether `node_id` recorded `ref` on its copy (False for all when it did not answer)."""
        took: list[bool] = []
        try:
            for start in range(0, len(items), ADD_REFERENCES_BATCH):
                batch = items[start:start + ADD_REFERENCES_BATCH]
                took += self._replicas.add_references(node_id, [key for _, key in batch], ref,
                                                      only_if_bucket_refers=reuse)
        except HolderError as err:
            log.info("%s/%s: %s did not take references (%s); storing those chunks again", ref.bucket, ref.key,
                     node_id, err)
            return [False] * len(items)
        return took

    def copy_object(self, source: common_pb2.Manifest, header: object_pb2.PutObjectHeader, *,
                    replace: bool, replace_tags: bool | None = None) -> common_pb2.Manifest:
        """A new version of header's bucket/key with `source`'s bytes (S3 CopyObject). Under the same
        policy the copy shares the source's chunks (`reference_chunks`: no byte moves); under
        another, each chunk is read (verified) and stored under the new one. `replace`: the
        header's content type, metadata and headers instead of the source's."""
        record = self.bucket(header.bucket)
        attributes = header if replace else source
        self.validate_put(header.key, attributes.content_type, dict(attributes.metadata), dict(attributes.headers))
        policy = self.checked_policy(header.policy if header.HasField("policy") else None,
                                     default=record.default_policy)
        manifest = self.new_manifest(header.bucket, header.key, content_type=attributes.content_type, policy=policy)
        self.assign_version(record, manifest)
        tags = dict(header.tags) if (replace if replace_tags is None else replace_tags) else dict(source.tagging.tags)
        validate.tags(tags)
        _tag(manifest, tags, manifest.version)
        manifest.metadata.update(dict(attributes.metadata))
        manifest.headers.update(dict(attributes.headers))
        manifest.size_bytes, manifest.blake3, manifest.md5 = source.size_bytes, source.blake3, source.md5
        manifest.chunks_blake3 = source.chunks_blake3
        manifest.part_count = source.part_count
        manifest.part_sizes_bytes.extend(source.part_sizes_bytes)
        seal = self._sealing(header, record)
        if seal is not None and (source.inline or not all(at_rest.is_encrypted(c) for c in source.chunks)):
            # The copy is encrypted at rest: what the source keeps in the clear is sealed on the way.
            name, ref = f"{header.bucket}/{header.key}", object_ref(manifest)
            if source.inline:
                manifest.chunks.append(self._store_chunk(bytes(source.inline_data), 0, policy, name, ref, False, seal))
            for chunk in source.chunks:
                if at_rest.is_encrypted(chunk):
                    manifest.chunks.append(self.store_again(chunk, source.policy, policy, name, ref))
                    continue
                plain = bytes(self._read_part(source, chunk, chunk.offset_bytes, compression.plain_size(chunk)))
                manifest.chunks.append(self._store_chunk(plain, chunk.offset_bytes, policy, name, ref,
                                                         compression.is_compressed(chunk), seal))
        elif source.inline:
            manifest.inline, manifest.inline_data = True, source.inline_data
        elif source.policy == policy:
            manifest.chunks.extend(source.chunks)
            self.reference_chunks(manifest)
        else:
            name, ref = f"{header.bucket}/{header.key}", object_ref(manifest)
            for chunk in source.chunks:
                manifest.chunks.append(self.store_again(chunk, source.policy, policy, name, ref))
        manifest.created_at_unix_ms = self._wall_ms()
        self.write_manifest(manifest)
        return manifest

    def restore_chunk(self, manifest: common_pb2.Manifest, chunk: common_pb2.ChunkRef,
                      ref: common_pb2.ObjectRef) -> None:
        """Store a chunk of `manifest` again, from a verified read, with `ref` on every copy."""
        self.store_again(chunk, manifest.policy, manifest.policy, f"{manifest.bucket}/{manifest.key}", ref)

    def store_again(self, chunk: common_pb2.ChunkRef, source: common_pb2.RedundancyPolicy,
                    target: common_pb2.RedundancyPolicy, name: str, ref: common_pb2.ObjectRef
                    ) -> common_pb2.ChunkRef:
        """The chunk read (verified) under `source` and stored under `target` with `ref` on every
        copy; its stored form moves as it is, compressed, encrypted or not."""
        stored = self.chunks.store(self.chunks.read(chunk, source, name), chunk.offset_bytes, target, name, ref)
        if compression.is_transformed(chunk):
            compression.mark_as(stored, chunk)
        return stored

    @property
    def replicas(self) -> Replicas:
        return self._replicas

    def metadata_homes(self, bucket: str) -> list[str]:
        """The metadata home replicas of a bucket's manifests (first metadata_replicas of its ring
        position, whatever their state), for fsck."""
        return self._metadata_homes(metadata_position(self.tenant, bucket))

    def bucket_usage(self, bucket: str) -> tuple[common_pb2.UsageRecord, list[tuple[str, common_pb2.UsageRecord]]]:
        """What the bucket holds, from its homes' usage records (node/store/usage.py) by read quorum:
        the record of the home that has seen the latest change (a home that missed writes while it
        was away has seen an older one), and every answer, for fsck to compare."""
        answers = self._read_all(metadata_position(self.tenant, bucket),
                                 lambda n: self._replicas.get_usage(n, self.tenant, bucket),
                                 what=f"reading the usage of bucket {bucket}")
        newest = max((record for _, record in answers), key=lambda record: stamp_key(record.changed))
        return newest, answers

    def dedup_savings(self, *, audit: bool = False
                      ) -> tuple[list[tuple[str, peer_pb2.GetDedupSavingsResponse]], list[str]]:
        """Every live ring member's deduplication savings records of this tenant's buckets and its
        own (node/store/savings.py; with `audit`, also counted again from its reference rows), and
        the members that did not answer: each node counts only the copies it holds, so the figures
        are sums over the answers."""
        members = sorted(self._view.ring().node_ids)
        live = [node for node in members if self._view.is_live(node)]
        futures = {node: self._send_pool.submit(self._replicas.get_dedup_savings, node, self.tenant, audit=audit)
                   for node in live}
        answers, missing = [], [node for node in members if node not in futures]
        for node, future in futures.items():
            try:
                answers.append((node, future.result()))
            except HolderError:
                missing.append(node)
        return answers, sorted(missing)

    def usage_breakdown(self, bucket: str, kind: str) -> list[tuple[str, common_pb2.UsageRecord]]:
        """The bucket's usage by top-level prefix or content type, from the home whose bucket record
        has seen the latest change (as `bucket_usage` chooses)."""
        answers = self._read_all(metadata_position(self.tenant, bucket),
                                 lambda n: self._replicas.get_usage_breakdown(n, self.tenant, bucket, kind),
                                 what=f"reading the usage of bucket {bucket}")
        _, (_, shares) = max(answers, key=lambda answer: stamp_key(answer[1][0].changed))
        return shares

    def key_versions(self, tenant: str, bucket: str, key: str, version_id: bytes
                     ) -> tuple[common_pb2.Manifest | None, ...] | None:
        """The manifest of one version id of a key on every metadata home replica (None where a
        replica has none), for garbage collection; None unless every home is ALIVE and answered, so
        collection never decides on partial knowledge."""
        homes = self._metadata_homes(metadata_position(tenant, bucket))
        if not all(self._view.is_live(h) for h in homes):
            return None
        futures = [self._send_pool.submit(self._replicas.get_manifest, h, tenant, bucket, key, version_id)
                   for h in homes]
        try:
            return tuple(f.result() for f in futures)
        except HolderError:
            return None

    # -- read metadata --------------------------------------------------------------------------

    def current_manifest(self, bucket: str, key: str,
                         on_answer: Callable[[common_pb2.Manifest | None], None] | None = None
                         ) -> common_pb2.Manifest:
        """The newest non-tombstone version, or NotFound. `on_answer` sees each home's answer as
        it arrives (see `_read_all`)."""
        self.bucket(bucket)
        validate.object_key(key, self._config.key_length_bytes_max)
        newest = self.read_manifest(bucket, key, on_answer)
        if newest is None or newest.tombstone:
            raise errors.NoSuchKey(f"object {bucket}/{key} does not exist")
        if ttl_expired(newest, self._wall_ms()):
            raise errors.NoSuchKey(f"object {bucket}/{key} does not exist (it expired at "
                                   f"{newest.expires_at_unix_ms} ms; the lifecycle worker deletes it)")
        return newest

    def read_manifest(self, bucket: str, key: str,
                      on_answer: Callable[[common_pb2.Manifest | None], None] | None = None
                      ) -> common_pb2.Manifest | None:
        """The newest version of a key (a tombstone too) by a read quorum, read-repaired; None when
        no home has one. No bucket check: also the records of multipart uploads (uploads.py)."""
        read = lambda n: self._replicas.get_manifest(n, self.tenant, bucket, key)  # noqa: E731
        answers = self._manifest_answers(bucket, key, read, on_answer)
        stamps = {None if m is None else order_key(m) for _, m in answers}
        if len(stamps) == 1:
            newest = answers[0][1]
            if newest is not None:
                self._hlc.observe(newest.version)
            return newest
        return self._settle_current(bucket, key, answers)

    def _manifest_answers(self, bucket: str, key: str, read: Callable[[str], common_pb2.Manifest | None],
                          on_answer: Callable[[common_pb2.Manifest | None], None] | None
                          ) -> list[tuple[str, common_pb2.Manifest | None]]:
        """(home, answer) of a read quorum of the bucket's homes: R of them on a settled ring, else
        every live one (counted as such)."""
        position = metadata_position(self.tenant, bucket)
        answers = self._read_quorum_only(position, read, on_answer)
        if answers is None:
            answers = self._read_all(position, read, what=f"reading the manifest of {bucket}/{key}",
                                     on_answer=on_answer)
            self._count_read("all")
        return answers

    def _settle_current(self, bucket: str, key: str, answers: list[tuple[str, common_pb2.Manifest | None]]
                        ) -> common_pb2.Manifest | None:
        """The key's current version when the homes asked disagree on it: the newest of their
        answers that no home has erased or replaced under its version id (a home that missed a
        permanent delete of the current version still shows it; the ones that did not show the
        version before it). Each version id looked at is read-repaired on the homes behind on it."""
        nodes = [node for node, _ in answers]
        candidates = {stamp_key(m.version): m for _, m in answers if m is not None}
        seen: set[bytes] = set()
        while candidates:
            candidate = candidates.pop(max(candidates))
            if candidate.version_id in seen:
                continue
            seen.add(candidate.version_id)
            # A home whose current version has this id answered with its manifest of the id already.
            held: dict[str, common_pb2.Manifest | None] = {
                node: m for node, m in answers if m is not None and m.version_id == candidate.version_id}
            futures = {node: self._send_pool.submit(self._replicas.get_manifest, node, self.tenant, bucket, key,
                                                    candidate.version_id) for node in nodes if node not in held}
            for node, future in futures.items():
                try:
                    held[node] = future.result()
                except HolderError as err:
                    log.info("reading version %s of %s/%s from %s failed: %s", show_version_id(candidate.version_id),
                             bucket, key, node, err)
            best = candidate
            for manifest in held.values():
                best = newer(manifest, best)
            self._hlc.observe(best.version)
            self._read_repair([n for n, m in held.items() if m is None or order_key(m) < order_key(best)],
                              best)
            if not best.erased:
                return best
        return None

    def _read_newest(self, bucket: str, key: str, read: Callable[[str], common_pb2.Manifest | None],
                     on_answer: Callable[[common_pb2.Manifest | None], None] | None
                     ) -> common_pb2.Manifest | None:
        """The newest of the homes' answers to `read` (newest by `newer`), read-repaired."""
        answers = self._manifest_answers(bucket, key, read, on_answer)
        newest: common_pb2.Manifest | None = None
        for _, manifest in answers:
            newest = newer(manifest, newest)
        if newest is not None:
            self._hlc.observe(newest.version)
            stale = [node for node, m in answers if m is None or order_key(m) < order_key(newest)]
            self._read_repair(stale, newest)
        return newest

    def _read_repair(self, nodes: list[str], manifest: common_pb2.Manifest) -> None:
        for node_id in nodes:
            if not self._read_repair_slots.acquire(blocking=False):
                return

            def repair(node_id: str = node_id) -> None:
                try:
                    self._replicas.put_manifest(node_id, manifest, "")
                except HolderError as err:
                    log.info("read repair of %s/%s on %s failed: %s", manifest.bucket, manifest.key, node_id, err)
                finally:
                    self._read_repair_slots.release()

            self._send_pool.submit(repair)

    # -- get ------------------------------------------------------------------------------------

    def get_object(self, bucket: str, key: str, range_start: int | None, range_length: int | None,
                   direct: DirectReads | None = None, *, early_read_max_bytes: int | None = None,
                   chunk_reads: bool = False, version: str = "") -> tuple[common_pb2.Manifest, int, int, Iterator, list]:
        """(manifest, range start, range length, iterator of payload frames, direct plan).

        The first chunk's read starts as soon as one home's manifest names it, while the other
        homes are still answering; it is used only if the quorum's newest version is that same
        manifest, and dropped otherwise. At one client, a 1 MiB get waited for its manifest quorum
        and then for its chunk; now for the longer of the two.

        `direct`, when given, is asked for a plan of direct reads (node/objects/direct.py) once the
        version is chosen; a non-empty plan replaces the payload, which is then empty, and no early
        read starts from an answer the plan would cover (the client reads those chunks itself).
        `early_read_max_bytes`: nor for a longer range (OpenObject, which does not read one).
        `chunk_reads`: the payload is `chunk_reads(...)`'s futures, one per chunk, not frames.
        `version`: read that version (ObjectInfo.version_id), not the current one."""
        planned = direct.applies if direct is not None else None

        def skip(manifest: common_pb2.Manifest, start: int, length: int) -> bool:
            if early_read_max_bytes is not None and length > early_read_max_bytes:
                return True
            return planned is not None and planned(manifest, start, length)

        early = _EarlyRead(self, range_start, range_length, skip)
        try:
            manifest = self.version_with_data(bucket, key, version, instead="it has no bytes to read",
                                              on_answer=early.start)
            start, length = self._range(manifest, range_start, range_length)
            plan = direct.plan(manifest, start, length) if direct is not None else []
        except BaseException:
            early.drop()
            raise
        self.mark_read(manifest)
        if plan:
            early.drop()
            return manifest, start, length, iter(()), plan
        if chunk_reads:
            return manifest, start, length, self.chunk_reads(manifest, start, length, early.claim(manifest)), []
        return manifest, start, length, self._frames(manifest, start, length, early.claim(manifest)), []

    @staticmethod
    def _range(manifest: common_pb2.Manifest, range_start: int | None, range_length: int | None
               ) -> tuple[int, int]:
        """(start, length) of the requested range of `manifest`'s object, or OutOfRange. A negative
        `range_start` asks for the object's last -range_start bytes (HTTP's `bytes=-N`, from the S3
        gateway; the gRPC field is unsigned): all of it when it is shorter."""
        size = manifest.size_bytes
        if range_start is not None and range_start < 0:
            range_start, range_length = max(0, size + range_start), None
        start = range_start or 0
        # A range must start inside the object, so no range of an empty object is satisfiable
        # (HTTP's 416 for `bytes=0-0` of an empty body); a get without a range reads it.
        if range_start is not None and start >= size:
            name = f"{manifest.bucket}/{manifest.key}"
            if size == 0:
                raise errors.OutOfRange(f"range starts at byte {start} but {name} is empty "
                                        "(0 bytes); read it without a range")
            raise errors.OutOfRange(
                f"range starts at byte {start} but {name} is {size} bytes; start below {size}")
        return start, size - start if range_length is None else min(range_length, size - start)

    @staticmethod
    def _wanted(manifest: common_pb2.Manifest, start: int, length: int) -> list[common_pb2.ChunkRef]:
        """The chunks of `manifest` that hold part of [start, start + length)."""
        end = start + length
        return [c for c in manifest.chunks
                if c.offset_bytes < end and c.offset_bytes + compression.plain_size(c) > start]

    def _read_part(self, manifest: common_pb2.Manifest, ref: common_pb2.ChunkRef, start: int,
                   length: int) -> memoryview:
        """The part of [start, start + length) that lies in the chunk `ref`, verified."""
        lo = max(start, ref.offset_bytes) - ref.offset_bytes
        hi = min(start + length, ref.offset_bytes + compression.plain_size(ref)) - ref.offset_bytes
        name = f"{manifest.bucket}/{manifest.key}"
        if at_rest.is_encrypted(ref):  # the whole stored form, opened (and decompressed) and checked, then sliced
            return memoryview(self._opened(ref, self.chunks.read(ref, manifest.policy, name), name))[lo:hi]
        if compression.is_compressed(ref):  # the whole stored form, decompressed and checked, then sliced
            return memoryview(compression.decompressed(ref, self.chunks.read(ref, manifest.policy, name), name))[lo:hi]
        return self.chunks.read(ref, manifest.policy, name, lo, hi)

    def _opened(self, ref: common_pb2.ChunkRef, stored: bytes | bytearray | memoryview, name: str) -> bytes:
        """The chunk from its verified stored form encrypted at rest (node/objects/at_rest.py):
        opened under its data key, decompressed when it was compressed, checked against its keyed
        identity and length."""
        key = self._keys().get(ref.data_key_id)
        where = f"chunk at offset {ref.offset_bytes} of {name}"
        payload = key.open(stored, where)
        if self._metrics is not None:
            self._metrics.at_rest_bytes.labels("opened").inc(len(payload))
        plain = compression.inflated(ref, payload, where) if compression.is_compressed(ref) else payload
        at_rest.check_identity(ref, key, plain, where)
        return plain

    def _frames(self, manifest: common_pb2.Manifest, start: int, length: int,
                first: cf.Future | None = None) -> Iterator[memoryview]:
        """The range's bytes in frames; `first`, when given, is the read of its first chunk,
        already started."""
        frame = self._config.frame_size_bytes
        if length == 0:
            return
        if manifest.inline:
            yield from slices(memoryview(manifest.inline_data)[start:start + length], frame)
            return
        wanted = self._wanted(manifest, start, length)
        if len(wanted) == 1 and first is None:  # nothing to read ahead of: read it here, without a hand-off
            yield from slices(self._read_part(manifest, wanted[0], start, length), frame)
            return
        reads = self.chunk_reads(manifest, start, length, first)
        try:
            for read in reads:
                yield from slices(read.result(), frame)
        finally:
            reads.close()

    def chunk_reads(self, manifest: common_pb2.Manifest, start: int, length: int,
                    first: cf.Future | None = None) -> Iterator[cf.Future]:
        """The range's bytes as reads of its chunks, in order: one future per chunk (its part of the
        range, verified), up to get_readahead_chunks_max started ahead of the one handed out.
        Advancing it never waits for a read, so an event loop can drive it (the S3 gateway awaits
        each future); closing it cancels the reads not handed out yet."""
        if length == 0:
            return
        if manifest.inline:
            done: cf.Future = cf.Future()
            done.set_result(memoryview(manifest.inline_data)[start:start + length])
            yield done
            return

        def read(ref: common_pb2.ChunkRef) -> memoryview:
            return self._read_part(manifest, ref, start, length)

        ahead: collections.deque[cf.Future] = collections.deque()
        pending = iter(self._wanted(manifest, start, length))
        if first is not None:
            next(pending)
            ahead.append(first)
        try:
            while True:
                while len(ahead) <= self._config.get_readahead_chunks_max:
                    ref = next(pending, None)
                    if ref is None:
                        break
                    ahead.append(self._chunk_pool.submit(read, ref))
                if not ahead:
                    return
                yield ahead.popleft()
        finally:
            for future in ahead:
                future.cancel()

    def chunk_placement(self, ref: common_pb2.ChunkRef,
                        policy: common_pb2.RedundancyPolicy) -> common_pb2.PlacementRecord | None:
        """The placement record of a chunk under a policy, from the first live node in its preference
        order that has one."""
        return self.chunks.placement(ref, policy)

    def physical_bytes(self, manifest: common_pb2.Manifest,
                       placements: list[common_pb2.PlacementRecord | None]) -> int:
        """Bytes the object's chunks take across the cluster: per chunk, one copy's or share's size
        times the holders its placement names (the policy's count when no record was found)."""
        total = 0
        for ref, record in zip(manifest.chunks, placements):
            holders = len(record.holders) if record is not None else copies_per_chunk(manifest.policy)
            total += holders * copy_size_bytes(manifest.policy, ref.size_bytes)
        return total

    # -- list and delete ------------------------------------------------------------------------

    def list_page(self, bucket: str, *, prefix: str, start_after: str, page_size: int
                   ) -> tuple[list[common_pb2.Manifest], str]:
        """One page of current objects and the key to continue after ("" when done)."""
        position = metadata_position(self.tenant, bucket)
        now_ms = self._wall_ms()
        out: list[common_pb2.Manifest] = []
        cursor = start_after
        while len(out) < page_size:
            want = page_size - len(out)
            request = peer_pb2.ListManifestsRequest(tenant=self.tenant, bucket=bucket, prefix=prefix,
                                                    start_after=cursor, limit=want + 1)
            answers = self._read_all(position, lambda n: self._replicas.list_manifests(n, request),
                                     what=f"listing {bucket}")
            newest: dict[str, common_pb2.Manifest] = {}
            held: dict[str, dict[str, common_pb2.Manifest]] = collections.defaultdict(dict)
            for node, (manifests, _) in answers:
                for m in manifests:
                    newest[m.key] = newer(m, newest.get(m.key))
                    held[m.key][node] = m
            boundary = _known_up_to(answers)
            keys = sorted(k for k in newest if boundary is None or k <= boundary)
            for k in keys:
                if len(out) == page_size:
                    return out, out[-1].key
                current: common_pb2.Manifest | None = newest[k]
                if len({order_key(m) for m in held[k].values()}) > 1 or len(held[k]) < len(answers):
                    # The homes disagree (one is behind, or missed a permanent delete): settle it.
                    current = self._settle_current(bucket, k, [(node, held[k].get(node)) for node, _ in answers])
                if current is not None and not current.tombstone and not ttl_expired(current, now_ms):
                    out.append(current)
                cursor = k
            if boundary is None:
                return out, ""
        return out, (out[-1].key if out else "")

    def list_objects(self, bucket: str, prefix: str, page_size: int, page_token: str
                     ) -> tuple[list[common_pb2.Manifest], str]:
        self.bucket(bucket)
        page_size = validate.page_size(page_size)
        validate.prefix(prefix, self._config.key_length_bytes_max)
        validate.page_token(page_token)
        start_after = ""
        if page_token:
            try:
                start_after = base64.urlsafe_b64decode(page_token.encode()).decode("utf-8")
            except (ValueError, UnicodeDecodeError):
                raise errors.InvalidArgument("page_token is not one this cluster issued; "
                                             "start again without it") from None
        items, after = self.list_page(bucket, prefix=prefix, start_after=start_after, page_size=page_size)
        token = base64.urlsafe_b64encode(after.encode()).decode() if after else ""
        return items, token

    def find_objects(self, bucket: str, query: common_pb2.ObjectQuery, page_size: int, page_token: str
                     ) -> tuple[list[common_pb2.Manifest], str]:
        """One page of the bucket's current objects meeting `query`, and the next page's token."""
        self.bucket(bucket)
        page_size = validate.page_size(page_size)
        validate.page_token(page_token)
        validate.prefix(query.prefix, self._config.key_length_bytes_max)
        validate.tags(dict(query.tags))
        validate.metadata(dict(query.metadata))
        validate.content_type(query.content_type)
        try:
            after = base64.urlsafe_b64decode(page_token.encode()) if page_token else b""
        except ValueError:
            raise errors.InvalidArgument("page_token is not one this cluster issued; start again without it") from None
        out, after = self.find_page(bucket, query, after, page_size)
        return out, base64.urlsafe_b64encode(after).decode() if after else ""

    def find_page(self, bucket: str, query: common_pb2.ObjectQuery, after: bytes, page_size: int
                  ) -> tuple[list[common_pb2.Manifest], bytes]:
        """Up to page_size matching current objects after position `after`, and the position the
        next page starts after (b"" when done). Every live home walks its indexes (node/store/index.py);
        a candidate any of them names is read again by quorum and kept only if its current version
        still matches, at the position that version has: a home behind (or ahead) on a key can
        neither add a stale match nor hide a fresh one that another home indexes."""
        position = metadata_position(self.tenant, bucket)
        out: list[common_pb2.Manifest] = []
        cursor = after
        while True:
            request = peer_pb2.FindManifestsRequest(tenant=self.tenant, bucket=bucket, query=query, after=cursor,
                                                    limit=page_size - len(out) + 1)
            answers = self._read_all(position, lambda n: self._replicas.find_manifests(n, request),
                                     what=f"finding objects in {bucket}")
            boundary: bytes | None = None  # positions past a home's early stop are not known yet
            candidates: dict[str, bytes] = {}
            for _, (found, stopped_at) in answers:
                for where, manifest in found:
                    candidates[manifest.key] = min(where, candidates.get(manifest.key, where))
                if stopped_at is not None:
                    boundary = stopped_at if boundary is None else min(boundary, stopped_at)
            keys = [k for k, where in candidates.items() if boundary is None or where <= boundary]
            now_ms = self._wall_ms()
            # Not on the send pool: each read fans out on it, and waiting there for it could starve it.
            confirmed = dict(zip(keys, self._find_pool.map(lambda k: self.read_manifest(bucket, k), keys)))
            at = {k: index.position(query, m) for k, m in confirmed.items()
                  if m is not None and index.matches(query, m, now_ms)}
            hits = sorted((where, k) for k, where in at.items()
                          if cursor < where and (boundary is None or where <= boundary))
            for where, key in hits:
                if len(out) == page_size:
                    return out, cursor
                out.append(confirmed[key])
                cursor = where
            if boundary is None:
                return out, b""
            cursor = max(cursor, boundary)

    def delete_object(self, bucket: str, key: str, version: str = "", *, mark_absent: bool = False
                      ) -> common_pb2.Manifest:
        """Delete the object (a tombstone, or a delete marker in a versioned bucket), or with
        `version` that one version for good (`delete_version`); the record written. NoSuchKey when
        there is no current object, unless `mark_absent` and the bucket has versioning (enabled or
        suspended): then a delete marker is written anyway, as S3 does (an S3 client's delete of a
        key another client is putting then still leaves a marker above what it deleted)."""
        if version:
            return self.delete_version(bucket, key, version)
        record = self.bucket(bucket)
        try:
            current = self.current_manifest(bucket, key)
        except errors.NoSuchKey:
            if not mark_absent or record.versioning == common_pb2.VERSIONING_UNSPECIFIED:
                raise
            return self._write_marker(bucket, key, record.default_policy, record)
        written = self.write_tombstone(current, record)
        assert written is not None, "current_manifest returns a live version"
        return written

    def rollback_object(self, bucket: str, key: str, version: str) -> common_pb2.Manifest:
        """Make `version` current again as a new version with its bytes and attributes, sharing its
        chunks (nothing is copied); a delete marker cannot be rolled back to."""
        self.parse_version(version)  # "" is no version to go back to
        source = self.version_with_data(bucket, key, version, instead="roll back to a version with data "
                                                                      f"(`nodectl versions {bucket}/{key}`)")
        header = object_pb2.PutObjectHeader(bucket=bucket, key=key, policy=source.policy)
        return self.copy_object(source, header, replace=False)

    # -- convert --------------------------------------------------------------------------------

    def convert_object(self, bucket: str, key: str, policy: common_pb2.RedundancyPolicy,
                       expected: common_pb2.VersionStamp | None = None
                       ) -> Iterator[object_pb2.ConvertProgress | ConvertOutcome]:
        """Rewrite the current version's chunks under `policy`: progress after each chunk, then the
        outcome. The order is the crash-safety argument:

        1. every chunk is read (verified) and stored under the new policy, all copies fsynced and
           checked against their blake3 by each holder, as for a put;
        2. the manifest is rewritten with the same version stamp, `rewrite` + 1, so it replaces the
           original on every replica but loses to any write made since (a concurrent overwrite wins);
        3. only once that manifest is on a write quorum are the old copies released, each holder
           deleting its copy only when no other object version still references it.

        Killed before 2 completes, the old manifest (and its copies) still rule; killed after, the
        new copies are already durable. Either way the object reads back. Copies a crash leaves
        behind (new ones never switched to, old ones never released) carry references to versions
        no manifest keeps, which garbage collection reclaims after its grace delay."""
        current = self.current_manifest(bucket, key)
        if expected is not None and current.version != expected:
            raise errors.FailedPrecondition(f"{bucket}/{key} was written again since it was judged for conversion")
        target = self._checked_policy(policy, default=current.policy, check_live=True)
        name = f"{bucket}/{key}"
        if target == current.policy:
            yield ConvertOutcome(manifest=current, unchanged=True)
            return
        converted = common_pb2.Manifest()
        converted.CopyFrom(current)
        converted.policy.CopyFrom(target)
        converted.version.rewrite = current.version.rewrite + 1
        converted.ClearField("chunks")
        new_ref = object_ref(converted)
        total = len(current.chunks)
        # Old holders are read before any new copy is stored: under the same layout (replicas=3 ->
        # replicas=2) the new placement records replace the old ones.
        old_holders: list[list[tuple[str, object]]] = []
        inflight: collections.deque[cf.Future] = collections.deque()
        pending = iter(current.chunks)
        done_bytes = 0

        def rewrite(ref: common_pb2.ChunkRef) -> tuple[common_pb2.ChunkRef, list[tuple[str, object]]]:
            holders = self._old_copies(ref, current.policy)
            return self.store_again(ref, current.policy, target, name, new_ref), holders

        started_ms = self._wall_ms()
        try:
            while True:
                while len(inflight) < self._config.put_inflight_chunks_max:
                    ref = next(pending, None)
                    if ref is None:
                        break
                    inflight.append(self._chunk_pool.submit(rewrite, ref))
                if not inflight:
                    break
                new_chunk, holders = inflight.popleft().result()
                converted.chunks.append(new_chunk)
                old_holders.append(holders)
                done_bytes += compression.plain_size(new_chunk)
                yield object_pb2.ConvertProgress(chunks_done=len(converted.chunks), chunks_total=total,
                                                 bytes_done=done_bytes, bytes_total=current.size_bytes)
        finally:
            for future in inflight:
                future.cancel()
        self._check_duration(f"converting {name}", started_ms)
        self._write_manifest(converted)
        released = still_referenced = not_reached = 0
        old_ref = object_ref(current)
        for holders in old_holders:
            for node_id, share in holders:
                if not self._view.is_live(node_id):
                    not_reached += 1
                    continue
                try:
                    deleted, left = self._replicas.release_share(node_id, share, old_ref)
                except HolderError as err:
                    log.info("releasing %s on %s after converting %s failed: %s", share, node_id, name, err)
                    not_reached += 1
                    continue
                if deleted:
                    released += 1
                elif left:
                    still_referenced += 1
        yield ConvertOutcome(manifest=converted, copies_released=released,
                             copies_still_referenced=still_referenced, copies_not_reached=not_reached)

    def _old_copies(self, ref: common_pb2.ChunkRef, policy: common_pb2.RedundancyPolicy) -> list[tuple[str, object]]:
        """(node, share key) of every copy of a chunk under `policy`: the holders its placement record
        names, plus the home nodes the ring gives (a record replaced by a later put may miss some)."""
        chunk_id = bytes(ref.chunk_id)
        found: dict[tuple[str, object], None] = {}
        record = self.chunks.placement(ref, policy)
        for holder in (record.holders if record is not None else ()):
            found[(holder.node_id, slot_key(chunk_id, policy, holder.share_index))] = None
        homes = self._view.ring().ordered_nodes(chunk_position(chunk_id))[:copies_per_chunk(policy)]
        for slot, node_id in enumerate(homes):
            found[(node_id, slot_key(chunk_id, policy, slot))] = None
        return list(found)


class _Attempts:
    """`settled()` once every attempt of a metadata write has ended its sends and no attempt is
    left to start: each attempt takes `one()` and calls it when its sends end; `close()` says no
    more attempts will start."""

    def __init__(self, settled: Callable[[], None] | None) -> None:
        self._settled = settled
        self._open = 1
        self._lock = threading.Lock()

    def one(self) -> Callable[[], None]:
        with self._lock:
            self._open += 1
        called = threading.Event()

        def done() -> None:
            if not called.is_set():
                called.set()
                self._end()

        return done

    def close(self) -> None:
        self._end()

    def _end(self) -> None:
        with self._lock:
            self._open -= 1
            last = self._open == 0
        if last and self._settled is not None:
            self._settled()
