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
import logging
import threading
import time
from typing import Callable, Iterable, Iterator

import blake3

from node import errors
from node.config import StorageConfig
from node.erasure import chunk_id_of, rechunk, slices
from node.hlc import HybridLogicalClock, stamp_key
from node.objects import validate
from node.objects.placement import Assignment, choose_targets, read_order
from node.objects.quorum import write_quorum
from node.objects.replicas import ClusterView, HolderError, Replicas
from node.ring import bucket_directory_position, chunk_position, metadata_position
from node.store import ShareKey
from ringstore.v1 import common_pb2, object_pb2, peer_pb2

log = logging.getLogger("ringstore.objects")

DEFAULT_TENANT = "default"
FORMAT_VERSION = 1
# How long a bucket record read from the directory replicas is trusted before re-reading.
BUCKET_CACHE_TTL_S = 2.0
# Most read-repair writes queued at once; beyond this stale replicas wait for the next read.
READ_REPAIRS_PENDING_MAX = 256


def newer(candidate, current):
    """The newer of two versioned records (manifests or bucket records); None counts as oldest."""
    if candidate is None:
        return current
    if current is None or stamp_key(candidate.version) > stamp_key(current.version):
        return candidate
    return current


def policy_replicas(policy: common_pb2.RedundancyPolicy) -> int:
    return policy.replication.replicas


def replication(replicas: int) -> common_pb2.RedundancyPolicy:
    return common_pb2.RedundancyPolicy(replication=common_pb2.Replication(replicas=replicas))


class Coordinator:
    """Object and bucket operations for one node acting as coordinator."""

    def __init__(self, *, view: ClusterView, replicas: Replicas, config: StorageConfig,
                 hlc: HybridLogicalClock, chunk_pool: cf.Executor, send_pool: cf.Executor,
                 wall_ms: Callable[[], int], on_corrupt: Callable[[str, bytes], None] | None = None) -> None:
        self._view = view
        self._replicas = replicas
        self._config = config
        self._hlc = hlc
        self._chunk_pool = chunk_pool
        self._send_pool = send_pool
        self._wall_ms = wall_ms
        self._on_corrupt = on_corrupt or (lambda node_id, chunk_id: None)
        self._bucket_cache: dict[tuple[str, str], tuple[float, common_pb2.BucketRecord | None]] = {}
        self._read_repair_slots = threading.BoundedSemaphore(READ_REPAIRS_PENDING_MAX)
        self.tenant = DEFAULT_TENANT

    # -- buckets --------------------------------------------------------------------------------

    def _metadata_count(self) -> int:
        return min(self._config.metadata_replicas, max(1, len(self._view.ring())))

    def _metadata_quorum(self, count: int) -> int:
        return min(self._config.metadata_write_quorum, count)

    def _read_all(self, position: int, fn: Callable[[str], object], *, what: str) -> list[object]:
        """Ask the first metadata_replicas live nodes of `position`; need a read quorum of answers."""
        count = self._metadata_count()
        nodes = read_order(self._view.ring(), position, self._view.is_live)[:count]
        quorum = count - self._metadata_quorum(count) + 1
        if len(nodes) < quorum:
            raise errors.Unavailable(f"{what}: {len(nodes)} metadata replicas are live; a read needs {quorum}")
        futures = {self._send_pool.submit(fn, n): n for n in nodes}
        answers: list[tuple[str, object]] = []
        failures: list[str] = []
        for future in cf.as_completed(futures):
            try:
                answers.append((futures[future], future.result()))
            except HolderError as err:
                failures.append(str(err))
        if len(answers) < quorum:
            raise errors.Unavailable(
                f"{what}: read quorum not met: {len(answers)} of {quorum} replicas answered ({'; '.join(failures)})")
        return answers

    def _write_metadata(self, position: int, send: Callable[[Assignment], None], *, what: str) -> None:
        count = self._metadata_count()
        targets = choose_targets(self._view.ring(), position, count, self._view.is_live, what=what)
        write_quorum(self._send_pool, targets, self._metadata_quorum(count), send, what=what)

    def _bucket_records(self) -> dict[str, common_pb2.BucketRecord]:
        position = bucket_directory_position(self.tenant)
        answers = self._read_all(position, lambda n: self._replicas.list_buckets(n, self.tenant),
                                 what="reading the bucket directory")
        newest: dict[str, common_pb2.BucketRecord] = {}
        for _, records in answers:
            for record in records:
                newest[record.name] = newer(record, newest.get(record.name))
        return newest

    def _put_bucket_record(self, record: common_pb2.BucketRecord) -> None:
        position = bucket_directory_position(self.tenant)
        self._write_metadata(position, lambda a: self._replicas.put_bucket(a.node_id, record),
                             what=f"writing bucket {record.name}")
        self._bucket_cache[(self.tenant, record.name)] = (time.monotonic(), None if record.tombstone else record)

    def bucket(self, name: str) -> common_pb2.BucketRecord:
        """The live bucket record, or NotFound. Cached for BUCKET_CACHE_TTL_S."""
        validate.bucket_name(name)
        cached = self._bucket_cache.get((self.tenant, name))
        if cached is not None and time.monotonic() - cached[0] < BUCKET_CACHE_TTL_S and cached[1] is not None:
            return cached[1]
        record = self._bucket_records().get(name)
        live = record if record is not None and not record.tombstone else None
        self._bucket_cache[(self.tenant, name)] = (time.monotonic(), live)
        if live is None:
            raise errors.NotFound(f"bucket {name!r} does not exist; create it with `nodectl mb {name}`")
        return live

    def create_bucket(self, name: str, policy: common_pb2.RedundancyPolicy | None) -> common_pb2.BucketRecord:
        validate.bucket_name(name)
        policy = self._checked_policy(policy, default=replication(self._config.default_replicas), check_live=False)
        existing = self._bucket_records().get(name)
        if existing is not None and not existing.tombstone:
            raise errors.AlreadyExists(f"bucket {name!r} already exists")
        record = common_pb2.BucketRecord(format_version=FORMAT_VERSION, tenant=self.tenant, name=name,
                                         default_policy=policy, version=self._hlc.now(),
                                         created_at_unix_ms=self._wall_ms())
        self._put_bucket_record(record)
        return record

    def delete_bucket(self, name: str) -> None:
        record = self.bucket(name)
        page, _ = self._list_page(name, prefix="", start_after="", page_size=1)
        if page:
            raise errors.FailedPrecondition(
                f"bucket {name!r} is not empty (it holds {page[0].key!r}); delete its objects first")
        tombstone = common_pb2.BucketRecord()
        tombstone.CopyFrom(record)
        tombstone.version.CopyFrom(self._hlc.now())
        tombstone.tombstone = True
        self._put_bucket_record(tombstone)

    def list_buckets(self) -> list[common_pb2.BucketRecord]:
        records = self._bucket_records()
        return [records[name] for name in sorted(records) if not records[name].tombstone]

    # -- policies -------------------------------------------------------------------------------

    def _checked_policy(self, policy: common_pb2.RedundancyPolicy | None, *,
                        default: common_pb2.RedundancyPolicy, check_live: bool) -> common_pb2.RedundancyPolicy:
        if policy is None or policy.WhichOneof("policy") is None:
            policy = default
        kind = policy.WhichOneof("policy")
        if kind == "erasure_coding":
            raise errors.InvalidArgument("erasure-coded policies (ec=K+M) are not supported by this "
                                         "version yet; use replicas=N")
        replicas = policy.replication.replicas
        if replicas < 1:
            raise errors.InvalidArgument(f"replicas={replicas} is invalid: give at least 1")
        ring_size = len(self._view.ring())
        if replicas > max(ring_size, 1) and not check_live:
            raise errors.InvalidArgument(
                f"replicas={replicas} is more than the {ring_size} nodes in the cluster")
        if check_live and replicas > self._view.live_count():
            raise errors.Unavailable(
                f"replicas={replicas} needs {replicas} live nodes but only {self._view.live_count()} are "
                "ALIVE; add nodes or lower --replicas")
        return policy

    # -- put ------------------------------------------------------------------------------------

    def put_object(self, header: object_pb2.PutObjectHeader, frames: Iterable[memoryview]) -> common_pb2.Manifest:
        bucket = self.bucket(header.bucket)
        validate.object_key(header.key, self._config.key_length_bytes_max)
        validate.metadata(dict(header.metadata))
        policy = self._checked_policy(header.policy if header.HasField("policy") else None,
                                      default=bucket.default_policy, check_live=True)
        declared = header.size_bytes if header.HasField("size_bytes") else None
        if declared is not None and declared > self._config.object_size_bytes_max:
            raise errors.ResourceExhausted(
                f"object is {declared} bytes; the limit is {self._config.object_size_bytes_max} bytes")

        hasher = blake3.blake3()
        received = 0

        def counted() -> Iterator[memoryview]:
            nonlocal received
            for frame in frames:
                received += len(frame)
                if received > self._config.object_size_bytes_max:
                    raise errors.ResourceExhausted(
                        f"object exceeds the limit of {self._config.object_size_bytes_max} bytes")
                if declared is not None and received > declared:
                    raise errors.InvalidArgument(f"stream carried more than the declared {declared} bytes")
                hasher.update(frame)
                yield frame

        chunks_iter = rechunk(counted(), self._config.chunk_size_bytes)
        first = next(chunks_iter, b"")
        manifest = common_pb2.Manifest(
            format_version=FORMAT_VERSION, tenant=self.tenant, bucket=header.bucket, key=header.key,
            content_type=header.content_type, policy=policy)
        manifest.metadata.update(dict(header.metadata))
        if len(first) <= self._config.inline_max_bytes and received == len(first):
            rest = next(chunks_iter, None)
            assert rest is None, "an object no larger than one chunk yields one chunk"
            manifest.inline = True
            manifest.inline_data = first
        else:
            refs = self._store_chunks(itertools.chain([first], chunks_iter), policy, header)
            manifest.chunks.extend(refs)
        if declared is not None and received != declared:
            raise errors.InvalidArgument(f"stream carried {received} bytes but the header declared {declared}")
        manifest.size_bytes = received
        manifest.blake3 = hasher.digest()
        manifest.created_at_unix_ms = self._wall_ms()
        manifest.version.CopyFrom(self._hlc.now())
        self._write_manifest(manifest)
        return manifest

    def _store_chunks(self, chunks: Iterator[bytes], policy: common_pb2.RedundancyPolicy,
                      header: object_pb2.PutObjectHeader) -> list[common_pb2.ChunkRef]:
        """Store every chunk on its holders, up to put_inflight_chunks_max at a time, in order."""
        refs: list[common_pb2.ChunkRef] = []
        inflight: collections.deque[cf.Future] = collections.deque()
        offset = 0
        try:
            for data in chunks:
                while len(inflight) >= self._config.put_inflight_chunks_max:
                    refs.append(inflight.popleft().result())
                inflight.append(self._chunk_pool.submit(self._store_chunk, data, offset, policy,
                                                        f"{header.bucket}/{header.key}"))
                offset += len(data)
            while inflight:
                refs.append(inflight.popleft().result())
        finally:
            for future in inflight:
                future.cancel()
        return refs

    def _store_chunk(self, data: bytes, offset: int, policy: common_pb2.RedundancyPolicy,
                     name: str) -> common_pb2.ChunkRef:
        chunk_id = chunk_id_of(data)
        replicas = policy_replicas(policy)
        what = f"storing chunk {chunk_id.hex()[:16]} of {name} (replicas={replicas})"
        targets = choose_targets(self._view.ring(), chunk_position(chunk_id), replicas, self._view.is_live,
                                 what=what)
        placement = common_pb2.PlacementRecord(format_version=FORMAT_VERSION, chunk_id=chunk_id, policy=policy,
                                               size_bytes=len(data), updated_at_unix_ms=self._wall_ms())

        def holders(assignments: Iterable[Assignment]) -> list[common_pb2.ShareHolder]:
            return [common_pb2.ShareHolder(node_id=a.node_id, share_index=i, handoff_for_node_id=a.handoff_for,
                                           blake3=chunk_id) for i, a in enumerate(assignments)]

        placement.holders.extend(holders(targets.assignments))
        key = ShareKey(chunk_id)
        acked = write_quorum(
            self._send_pool, targets, replicas,
            lambda a: self._replicas.store_share(a.node_id, key, data, placement, chunk_id, a.handoff_for),
            what=what)
        if set(acked) != set(targets.assignments):
            # A holder failed and a spare stood in: every holder must name the actual holders.
            placement.ClearField("holders")
            placement.holders.extend(holders(acked))
            write_quorum(self._send_pool, dataclasses.replace(targets, assignments=tuple(acked), spares=()),
                         len(acked), lambda a: self._replicas.put_placement(a.node_id, placement),
                         what=f"updating the placement of chunk {chunk_id.hex()[:16]}")
        return common_pb2.ChunkRef(chunk_id=chunk_id, size_bytes=len(data), offset_bytes=offset)

    def _write_manifest(self, manifest: common_pb2.Manifest) -> None:
        position = metadata_position(manifest.tenant, manifest.bucket)
        self._write_metadata(
            position, lambda a: self._replicas.put_manifest(a.node_id, manifest, a.handoff_for),
            what=f"writing the manifest of {manifest.bucket}/{manifest.key}")

    # -- read metadata --------------------------------------------------------------------------

    def current_manifest(self, bucket: str, key: str) -> common_pb2.Manifest:
        """The newest non-tombstone version, or NotFound."""
        self.bucket(bucket)
        validate.object_key(key, self._config.key_length_bytes_max)
        position = metadata_position(self.tenant, bucket)
        answers = self._read_all(position, lambda n: self._replicas.get_manifest(n, self.tenant, bucket, key),
                                 what=f"reading the manifest of {bucket}/{key}")
        newest: common_pb2.Manifest | None = None
        for _, manifest in answers:
            newest = newer(manifest, newest)
        if newest is not None:
            self._hlc.observe(newest.version)
            stale = [node for node, m in answers if m is None or stamp_key(m.version) < stamp_key(newest.version)]
            self._read_repair(stale, newest)
        if newest is None or newest.tombstone:
            raise errors.NotFound(f"object {bucket}/{key} does not exist")
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

    def get_object(self, bucket: str, key: str, range_start: int | None, range_length: int | None
                   ) -> tuple[common_pb2.Manifest, int, int, Iterator[memoryview]]:
        """(manifest, range start, range length, iterator of payload frames)."""
        manifest = self.current_manifest(bucket, key)
        size = manifest.size_bytes
        start = range_start or 0
        if range_start is not None and (start >= size and not (size == 0 and start == 0)):
            raise errors.OutOfRange(
                f"range starts at byte {start} but {bucket}/{key} is {size} bytes; start below {size}")
        length = size - start if range_length is None else min(range_length, size - start)
        return manifest, start, length, self._frames(manifest, start, length)

    def _frames(self, manifest: common_pb2.Manifest, start: int, length: int) -> Iterator[memoryview]:
        frame = self._config.frame_size_bytes
        end = start + length
        if length == 0:
            return
        if manifest.inline:
            yield from slices(memoryview(manifest.inline_data)[start:end], frame)
            return
        wanted = [c for c in manifest.chunks if c.offset_bytes < end and c.offset_bytes + c.size_bytes > start]
        replicas = policy_replicas(manifest.policy)
        name = f"{manifest.bucket}/{manifest.key}"
        ahead: collections.deque[tuple[common_pb2.ChunkRef, cf.Future]] = collections.deque()
        pending = iter(wanted)
        try:
            while True:
                while len(ahead) <= self._config.get_readahead_chunks_max:
                    ref = next(pending, None)
                    if ref is None:
                        break
                    ahead.append((ref, self._chunk_pool.submit(self.read_chunk, ref, replicas, name)))
                if not ahead:
                    return
                ref, future = ahead.popleft()
                data = future.result()
                lo = max(start, ref.offset_bytes) - ref.offset_bytes
                hi = min(end, ref.offset_bytes + ref.size_bytes) - ref.offset_bytes
                yield from slices(memoryview(data)[lo:hi], frame)
        finally:
            for _, future in ahead:
                future.cancel()

    def read_chunk(self, ref: common_pb2.ChunkRef, replicas: int, name: str) -> bytes:
        """Intact bytes of one chunk from the first holder that has them; DataLoss if none does."""
        chunk_id = bytes(ref.chunk_id)
        key = ShareKey(chunk_id)
        candidates = read_order(self._view.ring(), chunk_position(chunk_id), self._view.is_live)
        if self._view.node_id in candidates[:replicas + 2]:
            candidates.remove(self._view.node_id)
            candidates.insert(0, self._view.node_id)
        asked: list[str] = []
        tried: set[str] = set()
        unreachable: set[str] = set()

        def attempt(node_id: str) -> bytes | None:
            tried.add(node_id)
            try:
                data = self._replicas.fetch_share(node_id, key)
            except HolderError as err:
                asked.append(f"{node_id}: {err.kind.replace('_', ' ')}")
                if err.kind == "unavailable":
                    unreachable.add(node_id)
                if err.kind == "corrupt":
                    self._on_corrupt(node_id, chunk_id)
                return None
            if len(data) != ref.size_bytes or chunk_id_of(data) != chunk_id:
                asked.append(f"{node_id}: corrupt (blake3 mismatch)")
                self._on_corrupt(node_id, chunk_id)
                return None
            return data

        for node_id in candidates[:replicas + 2]:
            data = attempt(node_id)
            if data is not None:
                return data
        # Not where the ring says (the ring changed, or a spare stood in): the placement record
        # names the actual holders.
        record = self._placement_from((n for n in candidates if n not in unreachable), chunk_id)
        for holder in (record.holders if record is not None else ()):
            if holder.node_id not in tried and self._view.is_live(holder.node_id):
                data = attempt(holder.node_id)
                if data is not None:
                    return data
        raise errors.DataLoss(
            f"chunk {chunk_id.hex()[:16]} of {name} (offset {ref.offset_bytes}): no intact copy found; "
            f"asked {', '.join(asked) or 'no live node'}")

    def _placement_from(self, nodes: Iterable[str], chunk_id: bytes) -> common_pb2.PlacementRecord | None:
        for node_id in nodes:
            try:
                record = self._replicas.get_placement(node_id, chunk_id)
            except HolderError:
                continue
            if record is not None:
                return record
        return None

    def chunk_placement(self, ref: common_pb2.ChunkRef) -> common_pb2.PlacementRecord | None:
        """The placement record of a chunk, from the first live node in its preference order that has one."""
        chunk_id = bytes(ref.chunk_id)
        return self._placement_from(read_order(self._view.ring(), chunk_position(chunk_id), self._view.is_live),
                                    chunk_id)

    # -- list and delete ------------------------------------------------------------------------

    def _list_page(self, bucket: str, *, prefix: str, start_after: str, page_size: int
                   ) -> tuple[list[common_pb2.Manifest], str]:
        """One page of current objects and the key to continue after ("" when done)."""
        position = metadata_position(self.tenant, bucket)
        out: list[common_pb2.Manifest] = []
        cursor = start_after
        while len(out) < page_size:
            want = page_size - len(out)
            request = peer_pb2.ListManifestsRequest(tenant=self.tenant, bucket=bucket, prefix=prefix,
                                                    start_after=cursor, limit=want + 1)
            answers = self._read_all(position, lambda n: self._replicas.list_manifests(n, request),
                                     what=f"listing {bucket}")
            newest: dict[str, common_pb2.Manifest] = {}
            boundary: str | None = None  # keys above the smallest truncated replica's last key are unknown
            for _, (manifests, truncated) in answers:
                for m in manifests:
                    newest[m.key] = newer(m, newest.get(m.key))
                if truncated and manifests:
                    last = manifests[-1].key
                    boundary = last if boundary is None else min(boundary, last)
            keys = sorted(k for k in newest if boundary is None or k <= boundary)
            for k in keys:
                if len(out) == page_size:
                    return out, out[-1].key
                if not newest[k].tombstone:
                    out.append(newest[k])
                cursor = k
            if boundary is None:
                return out, ""
        return out, (out[-1].key if out else "")

    def list_objects(self, bucket: str, prefix: str, page_size: int, page_token: str
                     ) -> tuple[list[common_pb2.Manifest], str]:
        self.bucket(bucket)
        page_size = validate.page_size(page_size)
        start_after = ""
        if page_token:
            try:
                start_after = base64.urlsafe_b64decode(page_token.encode()).decode("utf-8")
            except (ValueError, UnicodeDecodeError):
                raise errors.InvalidArgument("page_token is not one this cluster issued; "
                                             "start again without it") from None
        items, after = self._list_page(bucket, prefix=prefix, start_after=start_after, page_size=page_size)
        token = base64.urlsafe_b64encode(after.encode()).decode() if after else ""
        return items, token

    def delete_object(self, bucket: str, key: str) -> common_pb2.VersionStamp:
        current = self.current_manifest(bucket, key)
        tombstone = common_pb2.Manifest(format_version=FORMAT_VERSION, tenant=self.tenant, bucket=bucket,
                                        key=key, tombstone=True, created_at_unix_ms=self._wall_ms(),
                                        policy=current.policy)
        tombstone.version.CopyFrom(self._hlc.now())
        self._write_manifest(tombstone)
        return tombstone.version
