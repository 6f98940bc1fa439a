"""ObjectService: the client-facing API, a thin shell over `node.objects.Coordinator`."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import time
from typing import Callable, Iterator

import grpc
from google.protobuf.message import DecodeError

from node import errors
from node.api.status import (check_parsed, download_method, streaming, tolerant, unary, unary_method, upload_method,
                             whole_share_method)
from node.auth import policy
from node.auth.principal import Anonymous, LinkHolder, caller
from node.auth.store import GRANT_LEVELS, Access
from ringstore.auth.keys import check_tenant_name
from node.metrics import Metrics
from node.objects import at_rest
from node.objects.conditions import Condition
from node.objects.coordinator import Coordinator
from node.objects.direct import DirectReads, ReadGrants
from node.objects.direct_put import CopyWriter
from node.objects.watch import WatchSlots
from node.store.versions import show_version_id
from node.quota.admission import HOLD_RENEW_S, Admission, quota_message
from ringstore import frames
from ringstore.v1 import common_pb2, object_pb2

SERVICE = "ringstore.v1.ObjectService"


def _with_md5(frames: Iterator[memoryview], annotate: Callable[[common_pb2.Manifest], None] | None
              ) -> tuple[Iterator[memoryview], Callable[[common_pb2.Manifest], None]]:
    """`frames` passed through an MD5, and an `annotate` that records it (then runs `annotate`)."""
    md5 = hashlib.md5(usedforsecurity=False)

    def hashed() -> Iterator[memoryview]:
        for frame in frames:
            md5.update(frame)
            yield frame

    def recorded(manifest: common_pb2.Manifest) -> None:
        manifest.md5 = md5.digest()
        if annotate is not None:
            annotate(manifest)

    return hashed(), recorded


def object_info(m: common_pb2.Manifest, *, is_latest: bool = True) -> object_pb2.ObjectInfo:
    info = object_pb2.ObjectInfo(bucket=m.bucket, key=m.key, size_bytes=m.size_bytes, blake3=m.blake3,
                                 chunks_blake3=m.chunks_blake3,
                                 version=m.version, content_type=m.content_type, policy=m.policy,
                                 chunk_count=len(m.chunks), created_at_unix_ms=m.created_at_unix_ms,
                                 inline=m.inline, md5=m.md5, part_count=m.part_count,
                                 version_id=show_version_id(m.version_id), is_latest=is_latest,
                                 delete_marker=m.tombstone, written_by=m.written_by,
                                 expires_at_unix_ms=m.expires_at_unix_ms, read_at_unix_ms=m.read_at_unix_ms)
    info.encryption = at_rest.object_encryption(m)
    info.tags.update(dict(m.tagging.tags))
    info.metadata.update(dict(m.metadata))
    info.headers.update(dict(m.headers))
    return info


@dataclasses.dataclass
class DedupSaved:
    """What deduplication saves, summed over the ring members that answered."""

    by_bucket: dict[str, int]  # within each bucket of this coordinator's tenant
    everything: int  # across the cluster
    nodes_missing: int


class ObjectServicer:
    def __init__(self, coordinator: Coordinator, metrics: Metrics, state_name, *, access=None,
                 change_access=None, admission: Admission | None = None, direct: DirectReads | None = None,
                 grants: ReadGrants | None = None, read_chunk: Callable[[bytes], bytes] | None = None,
                 copy_writer: CopyWriter | None = None) -> None:
        self._c = coordinator
        self._watch_slots = WatchSlots()
        # Plans of direct reads for gets that allow them, and ReadChunk's grant check and local read
        # (node/objects/direct.py); None: every get streams, and ReadChunk is FAILED_PRECONDITION.
        self._direct = direct
        self._grants = grants
        self._read_chunk = read_chunk
        # WriteChunk's grant check and store (node/objects/direct_put.py); None: FAILED_PRECONDITION.
        self._copy_writer = copy_writer
        # None: no quotas (an --insecure node keeps no records to hold them).
        self._admission = admission
        # access(bucket, created_at_unix_ms) -> node.auth.store.Access; change_access(bucket, created_at_unix_ms,
        # grant=(tenant, level) | public_read=bool) -> Access. None: no
        # credential store (an --insecure node), so no grants and no public buckets.
        self._access = access
        self._change_access = change_access
        self._metrics = metrics
        self._state_name = state_name

    def _bucket_access(self, record: common_pb2.BucketRecord, *, fresh: bool = False) -> Access | None:
        if self._access is None:
            return None
        return self._access(record.name, record.created_at_unix_ms, fresh=fresh)

    def allow(self, action: str, bucket: str, key: str = "", *, prefix: str | None = None) -> None:
        """Refuse unless the caller may do `action` (node/auth/policy.py); the operator's calls skip
        the bucket lookup, and a share link's calls outside its object are refused before it."""
        who = caller()
        if policy.is_operator(who):
            return
        link = isinstance(who, LinkHolder)
        try:
            if link:
                policy.check_link_scope(who, action, bucket, key, prefix)
            try:
                record = self._c.bucket(bucket)
            except errors.NotFound:
                if link:
                    raise policy.bucket_gone(who) from None
                raise
            # Owner actions read the grants fresh: a tenant whose owner grant was just taken away must
            # not act on the cached copy for another 2 s (and write its stale grants back over the change).
            access = self._bucket_access(record, fresh=action in policy.OWNER_ACTIONS)
            policy.check(action, bucket, record.owner, key, prefix=prefix, access=access,
                         bucket_created_at_unix_ms=record.created_at_unix_ms)
        except errors.PermissionDenied:
            self._metrics.auth_failures.labels("link_denied" if link else "denied").inc()
            raise
        except policy.LinkBucketGone as err:
            self._metrics.auth_failures.labels(err.reason).inc()
            raise

    @unary
    def CreateBucket(self, request: object_pb2.CreateBucketRequest, context) -> object_pb2.CreateBucketResponse:
        redundancy = request.default_policy if request.HasField("default_policy") else None
        try:
            owner = policy.owner_for_new_bucket(request.bucket)
        except errors.PermissionDenied:
            self._metrics.auth_failures.labels("denied").inc()
            raise
        return object_pb2.CreateBucketResponse(
            bucket=self._c.create_bucket(request.bucket, redundancy, request.request_id, owner=owner))

    @unary
    def DeleteBucket(self, request, context):
        self.allow("remove-bucket", request.bucket)
        self._c.delete_bucket(request.bucket, request.request_id)
        return object_pb2.DeleteBucketResponse()

    @unary
    def ListBuckets(self, request, context):
        if isinstance(caller(), Anonymous):
            raise errors.Unauthenticated(policy.NEEDS_A_KEY)
        return object_pb2.ListBucketsResponse(
            buckets=[b for b in self._c.list_buckets() if policy.may_see(b.name, b.owner, self._bucket_access(b))])

    def _access_reply(self, record: common_pb2.BucketRecord, access: Access | None) -> object_pb2.BucketAccess:
        reply = object_pb2.BucketAccess(bucket=record.name, owner=record.owner,
                                        public_read=bool(access and access.public_read))
        reply.grants.update(dict(access.grants) if access else {})
        return reply

    def _changed_access(self, bucket: str, action: str, **change) -> object_pb2.BucketAccess:
        """Write one grant or the public-read switch of the bucket (node/auth/store.py
        `change_access`), for its owner or the operator."""
        if self._access is None:
            raise errors.FailedPrecondition("this node runs --insecure: grants and public buckets need access keys")
        record = self._c.bucket(bucket)
        self.allow(action, bucket)
        return self._access_reply(record, self._change_access(bucket, record.created_at_unix_ms, **change))

    @unary
    def SetBucketGrant(self, request: object_pb2.SetBucketGrantRequest, context) -> object_pb2.BucketAccess:
        if request.level not in ("", *GRANT_LEVELS):
            raise errors.InvalidArgument(f"level {request.level!r} is not one of read, write, owner (or empty to "
                                         "take the grant away)")
        try:
            check_tenant_name(request.tenant)
        except ValueError as err:
            raise errors.InvalidArgument(str(err)) from None

        return self._changed_access(request.bucket, "grant", grant=(request.tenant, request.level))

    @unary
    def SetBucketPublicRead(self, request: object_pb2.SetBucketPublicReadRequest, context) -> object_pb2.BucketAccess:
        return self._changed_access(request.bucket, "set-public-read", public_read=request.public_read)

    @unary
    def GetBucketInfo(self, request: object_pb2.GetBucketInfoRequest, context) -> object_pb2.GetBucketInfoResponse:
        record = self._c.bucket(request.bucket)
        self.allow("info", request.bucket)
        return object_pb2.GetBucketInfoResponse(bucket=record,
                                                access=self._access_reply(record, self._bucket_access(record)),
                                                usage=self._usage_of(record, saved=self._dedup_saved()))

    def _dedup_saved(self) -> DedupSaved:
        """What deduplication saves, summed over the ring members that answered
        (node/store/savings.py)."""
        answers, missing = self._c.dedup_savings()
        saved = DedupSaved(by_bucket={}, everything=0, nodes_missing=len(missing))
        for _, reply in answers:
            for entry in reply.entries:
                if entry.everything:
                    saved.everything += entry.record.saved_bytes
                elif entry.tenant == self._c.tenant:
                    saved.by_bucket[entry.bucket] = saved.by_bucket.get(entry.bucket, 0) + entry.record.saved_bytes
        return saved

    def _usage_of(self, record: common_pb2.BucketRecord, breakdown: str = "", *,
                  saved: DedupSaved) -> object_pb2.BucketUsage:
        """A bucket's usage from its homes' counters (and its unfinished uploads', whose parts are
        manifests of the hidden uploads bucket), what deduplication saves in it, and its quota."""
        counted, _ = self._c.bucket_usage(record.name)
        parts = self._c.uploads.usage(record.name)
        reply = object_pb2.BucketUsage(
            bucket=record.name, owner=record.owner, objects=counted.objects, logical_bytes=counted.logical_bytes,
            physical_bytes=(counted.chunk_bytes + parts.chunk_bytes
                            + counted.inline_bytes * len(self._c.metadata_homes(record.name))),
            tombstones=counted.tombstones, upload_bytes=parts.logical_bytes,
            noncurrent_versions=counted.noncurrent_versions, noncurrent_bytes=counted.noncurrent_bytes,
            dedup_saved_bytes=saved.by_bucket.get(record.name, 0))
        if self._admission is not None:
            reply.quota.CopyFrom(quota_message(self._admission.bucket_quota(record)))
        if breakdown:
            homes = len(self._c.metadata_homes(record.name))
            shares = self._c.usage_breakdown(record.name, breakdown)
            if breakdown != "history":  # the history stays oldest day first
                shares.sort(key=lambda share: (-share[1].logical_bytes - share[1].noncurrent_bytes, share[0]))
            reply.breakdown.extend(object_pb2.UsagePart(
                name=name, objects=part.objects, logical_bytes=part.logical_bytes,
                physical_bytes=part.chunk_bytes + part.inline_bytes * homes,
                noncurrent_versions=part.noncurrent_versions, noncurrent_bytes=part.noncurrent_bytes)
                for name, part in shares)
        return reply

    @unary
    def GetUsage(self, request: object_pb2.GetUsageRequest, context) -> object_pb2.GetUsageResponse:
        key = caller()
        if isinstance(key, Anonymous):
            raise errors.Unauthenticated(policy.NEEDS_A_KEY)
        tenant = request.tenant
        if request.bucket:
            records = [self._c.bucket(request.bucket)]
            self.allow("info", request.bucket)
        else:
            if not policy.is_operator(key):
                if tenant and tenant != key.tenant:
                    self._metrics.auth_failures.labels("denied").inc()
                    raise errors.PermissionDenied(f"access key {key.key_id} (tenant {key.tenant}) may not see the usage "
                                                  f"of tenant {tenant!r}")
                tenant = key.tenant
            records = [b for b in self._c.list_buckets() if not tenant or b.owner == tenant]
            if not policy.is_operator(key) and key.bucket:
                records = [b for b in records if b.name == key.bucket]
        if request.breakdown not in ("", "prefix", "type", "policy", "history"):
            raise errors.InvalidArgument(f"a usage breakdown is by prefix, by type or history, not "
                                         f"{request.breakdown[:20]!r}")
        saved = self._dedup_saved()
        reply = object_pb2.GetUsageResponse(buckets=[self._usage_of(record, request.breakdown, saved=saved)
                                                     for record in records])
        reply.objects = sum(b.objects for b in reply.buckets)
        reply.logical_bytes = sum(b.logical_bytes for b in reply.buckets)
        reply.physical_bytes = sum(b.physical_bytes for b in reply.buckets)
        reply.dedup_saved_bytes = (sum(b.dedup_saved_bytes for b in reply.buckets) if request.bucket or tenant
                                   else saved.everything)
        reply.dedup_nodes_missing = saved.nodes_missing
        if tenant and not request.bucket:
            reply.tenant = tenant
            if self._admission is not None:
                reply.tenant_quota.CopyFrom(quota_message(self._admission.tenant_quota(tenant)))
        return reply

    @streaming
    def Watch(self, request: object_pb2.WatchRequest, context) -> Iterator[object_pb2.WatchEvent]:
        """The bucket's changes under a prefix, from a cursor (node/objects/watch.py); needs the
        right to list them."""
        self.allow("list", request.bucket, prefix=request.prefix)
        if request.cursor and request.from_now:
            raise errors.InvalidArgument("give a cursor or from_now, not both")
        watch = self._c.watch(request.bucket, request.prefix, request.cursor, request.from_now)
        with self._watch_slots.held():
            self._metrics.watches.inc()
            try:
                for event in watch.events(context.is_active):
                    if event.HasField("change"):
                        self._metrics.watch_events.inc()
                    yield event
            finally:
                self._metrics.watches.dec()

    @unary
    def PutObject(self, request_iterator: Iterator, context) -> object_pb2.PutObjectResponse:
        return self.put(request_iterator)

    @unary
    def PutSmallObject(self, request: object_pb2.PutSmallObjectRequest, context) -> object_pb2.PutObjectResponse:
        """A whole object in one message, put exactly as the PutObject stream it stands for."""
        if len(request.data) > frames.SMALL_PUT_BYTES_MAX:
            raise errors.InvalidArgument(
                f"PutSmallObject carries {len(request.data)} bytes; it takes at most {frames.SMALL_PUT_BYTES_MAX} "
                "(larger objects stream with PutObject)")
        if not request.HasField("header") or not request.HasField("end"):
            raise errors.InvalidArgument("PutSmallObject needs a header and an end; nothing was stored")
        data = [memoryview(request.data)] if request.data else []
        return self.put(iter([object_pb2.PutObjectRequest(header=request.header), *data,
                               object_pb2.PutObjectRequest(end=request.end)]))

    def put(self, request_iterator: Iterator, *, annotate: Callable[[common_pb2.Manifest], None] | None = None,
            record_at: tuple[str, str] | None = None, allow_inline: bool = True) -> object_pb2.PutObjectResponse:
        """A put's whole stream (header, data frames, end) as PutObject takes it; `annotate`,
        `record_at` and `allow_inline` as Coordinator.put_object takes them. Also the S3 gateway's
        put and part upload, which call it in-process with the caller set."""
        started = time.perf_counter()
        outcome = "error"
        try:
            first = next(request_iterator, None)
            check_parsed(first)
            if first is None or isinstance(first, memoryview) or first.WhichOneof("msg") != "header":
                raise errors.InvalidArgument("a PutObject stream must start with a header message")

            end: list[object_pb2.PutObjectEnd] = []
            holds: list = []
            renewed = [time.monotonic()]

            def data() -> Iterator[memoryview | object_pb2.KnownChunk]:
                for item in request_iterator:
                    check_parsed(item)
                    if holds and holds[0] is not None and time.monotonic() - renewed[0] > HOLD_RENEW_S:
                        renewed[0] = time.monotonic()
                        self._admission.renew(holds[0])  # a long put keeps its quota hold
                    if isinstance(item, memoryview) and not end:
                        yield item
                    elif not end and item.WhichOneof("msg") in ("known_chunk", "written_chunk"):
                        if first.header.upload_id or record_at is not None:
                            raise errors.InvalidArgument("a multipart upload's part cannot name known or written "
                                                         "chunks; send its bytes; nothing was stored")
                        yield getattr(item, item.WhichOneof("msg"))
                    elif not end and item.WhichOneof("msg") == "end":
                        end.append(item.end)
                    else:
                        raise errors.InvalidArgument(
                            "a PutObject stream carries one header, then data, then one end message")
                if not end:
                    # gRPC can show a client that died mid-upload as a clean half-close.
                    raise errors.InvalidArgument(
                        "the PutObject stream stopped without its end message (the upload was interrupted); "
                        "nothing was stored")

            def check_end(size_bytes: int, digest: bytes) -> None:
                sent = end[0]
                if sent.size_bytes != size_bytes:
                    raise errors.InvalidArgument(
                        f"the client says it sent {sent.size_bytes} bytes but {size_bytes} arrived; nothing was stored")
                if sent.blake3 and not digest:
                    raise errors.InvalidArgument(
                        "a put that names known chunks has no whole-object blake3 to check: send PutObjectEnd "
                        "with an empty blake3; nothing was stored")
                if sent.blake3 and sent.blake3 != digest:
                    raise errors.InvalidArgument(
                        f"the {size_bytes} bytes that arrived hash to {digest.hex()[:16]}, not the client's "
                        f"{bytes(sent.blake3).hex()[:16]}; nothing was stored")

            header = first.header
            self.allow("put", header.bucket, header.key)
            record = self._c.bucket(header.bucket)
            stream = data()
            if header.upload_id and record_at is None:
                # A part of a multipart upload (CreateUpload), put by a native client: stored never
                # inline, with its MD5 (the part's ETag) as S3's parts.
                record_at = self.part_location(header)
                allow_inline = False
                stream, annotate = _with_md5(stream, annotate)

            def admit(size_bytes: int) -> None:
                """Decide the put under its quotas, once: holds gets the hold (None: no quota applies)."""
                if self._admission is None:
                    holds.append(None)
                    return
                try:
                    # A part (put at its record's location, record_at) becomes no object of the bucket.
                    holds.append(self._admission.admit(record, record_at[1] if record_at else header.key,
                                                       size_bytes, new_object=record_at is None))
                except errors.ResourceExhausted:
                    self._metrics.quota_refused.inc()
                    raise

            if header.HasField("size_bytes"):
                admit(header.size_bytes)  # refused before a byte is read, when the client says how much it sends

            def check_end_and_quota(size_bytes: int, digest: bytes) -> None:
                check_end(size_bytes, digest)
                if not holds:
                    admit(size_bytes)

            def give_back() -> None:
                # The hold goes back once every metadata home's write of the manifest has ended, so
                # a usage read after it finds the put on any home it asks; a failed put gives it back
                # at once. Called from two threads at most: the pop hands the hold to one of them.
                try:
                    hold = holds.pop()
                except IndexError:
                    return
                if hold is not None:
                    self._admission.release(hold)

            try:
                manifest = self._c.put_object(header, stream, check_end_and_quota, manifest_settled=give_back,
                                               annotate=annotate, record_at=record_at, allow_inline=allow_inline)
            except BaseException:
                give_back()
                raise
            outcome = "ok"
            self._metrics.put_bytes.inc(manifest.size_bytes)
            return object_pb2.PutObjectResponse(object=object_info(manifest))
        finally:
            self._metrics.requests.labels("put", outcome).inc()
            self._metrics.put_latency.observe(time.perf_counter() - started)

    def part_location(self, header: object_pb2.PutObjectHeader) -> tuple[str, str]:
        """Where the part `header` names (upload_id, part_number) is recorded; NoSuchUpload when the
        upload is gone. The header takes the upload's policy: every part is stored as the object
        will be."""
        upload, location = self._c.uploads.part_location(header.bucket, header.key, header.upload_id,
                                                         header.part_number)
        header.policy.CopyFrom(upload.policy)
        if not header.encryption:
            header.encryption = upload.upload_encryption
        return location

    def copy(self, source_bucket: str, source_key: str, header: object_pb2.PutObjectHeader, *, replace: bool,
             check: Callable[[common_pb2.Manifest], None], source_version: str = "",
             replace_tags: bool | None = None) -> common_pb2.Manifest:
        """A server-side copy (the S3 gateway's CopyObject), in-process with the caller set: the
        caller must read the source and write the target; `check(source)` raises to refuse it
        (the copy's conditions); quotas apply to the target as to a put of the same size.
        `source_version`: copy that version of the source, not its current one."""
        self.allow("get", source_bucket, source_key)
        self.allow("put", header.bucket, header.key)
        source = self._c.version_with_data(source_bucket, source_key, source_version,
                                           instead="copy a version with data")
        check(source)
        with self._quota_hold(header.bucket, header.key, source.size_bytes):
            return self._c.copy_object(source, header, replace=replace, replace_tags=replace_tags)

    @contextlib.contextmanager
    def _quota_hold(self, bucket: str, key: str, size_bytes: int) -> Iterator[None]:
        """Room held under the bucket's and its tenant's quotas for the `with` block's write of a
        new version of `key` adding `size_bytes` (refused: QuotaExceeded); given back after it."""
        hold = None
        if self._admission is not None:
            try:
                hold = self._admission.admit(self._c.bucket(bucket), key, size_bytes)
            except errors.ResourceExhausted:
                self._metrics.quota_refused.inc()
                raise
        try:
            yield
        finally:
            if hold is not None:
                self._admission.release(hold)

    @streaming
    def GetObject(self, request: object_pb2.GetObjectRequest, context):
        started = time.perf_counter()
        outcome = "error"
        try:
            info, payload = self.start_get(request, carry_data=request.info_may_carry_data)
            yield object_pb2.GetObjectResponse(info=info)
            for frame in payload:
                self._metrics.get_bytes.inc(len(frame))
                yield frame
            outcome = "ok"
        finally:
            self._metrics.requests.labels("get", outcome).inc()
            self._metrics.get_latency.observe(time.perf_counter() - started)

    @unary
    def OpenObject(self, request: object_pb2.GetObjectRequest, context):
        started = time.perf_counter()
        outcome = "error"
        streamed = False
        try:
            info, payload = self.start_get(request, carry_data=True, opening=True)
            # A range longer than one info message carries is left to a GetObject stream: its payload
            # iterator, dropped unstarted here, has read nothing.
            del payload
            streamed = not info.direct and info.range_length_bytes > 0 and not info.data
            outcome = "ok"
            return object_pb2.OpenObjectResponse(info=info, streamed=streamed)
        finally:
            if not streamed:  # else the GetObject call that follows is the get, and counts it
                self._metrics.requests.labels("get", outcome).inc()
                self._metrics.get_latency.observe(time.perf_counter() - started)

    def start_get(self, request: object_pb2.GetObjectRequest, *, carry_data: bool, opening: bool = False,
                   ) -> tuple[object_pb2.GetObjectInfo, Iterator[memoryview]]:
        """A get's info message and the iterator of the data messages that follow it (empty when the
        info carries the range or a plan). `carry_data`: a range of at most INFO_DATA_BYTES_MAX comes
        in the info message. `opening` (OpenObject): a longer range is left to a GetObject call, so no
        chunk is read ahead for it here, and a range held here is planned rather than streamed."""
        start = request.range_start_bytes if request.HasField("range_start_bytes") else None
        length = request.range_length_bytes if request.HasField("range_length_bytes") else None
        self.allow("get", request.bucket, request.key)
        try:
            start, length = policy.link_range(start, length)
        except errors.PermissionDenied:
            self._metrics.auth_failures.labels("link_denied").inc()
            raise
        # A share link may be limited to part of a chunk, and a direct read hands out whole chunks.
        direct = None
        if self._direct is not None and request.direct_ok and not isinstance(caller(), LinkHolder):
            direct = self._direct.reading_shares(request.direct_shares_ok)
            if opening:
                direct = direct.planning_held_here()
        manifest, start, length, payload, plan = self._c.get_object(
            request.bucket, request.key, start, length, direct,
            early_read_max_bytes=frames.INFO_DATA_BYTES_MAX if opening else None, version=request.version_id)
        info = object_pb2.GetObjectInfo(object=object_info(manifest), range_start_bytes=start,
                                        range_length_bytes=length, direct=plan)
        if plan:
            self._metrics.direct_plans.inc()
        if carry_data and length <= frames.INFO_DATA_BYTES_MAX:
            info.data = b"".join(payload)  # the whole range, read before anything is sent
            self._metrics.get_bytes.inc(len(info.data))
            payload = iter(())
        return info, payload

    @unary
    def ReadChunk(self, request: object_pb2.ReadChunkRequest, context):
        if self._grants is None or self._read_chunk is None:
            raise errors.FailedPrecondition("this node serves no direct reads: read through GetObject")
        try:
            self._grants.check(request.chunk_id, request.expires_unix_ms, request.grant)
        except errors.Unauthenticated:
            self._metrics.direct_reads.labels("denied").inc()
            raise
        outcome = "error"
        try:
            data = self._read_chunk(request.chunk_id, request.data_shares, request.parity_shares, request.share_index)
            outcome = "ok"
        except errors.NotFound:
            outcome = "not_found"
            raise
        except errors.DataLoss:
            outcome = "corrupt"
            raise
        finally:
            self._metrics.direct_reads.labels(outcome).inc()
        self._metrics.get_bytes.inc(len(data))
        return data  # framed as ReadChunkResponse.data by frames.encode, without a protobuf copy

    @unary
    def StatObject(self, request, context):
        self.allow("stat", request.bucket, request.key)
        if request.version_id:
            manifest = self._c.version_manifest(request.bucket, request.key, request.version_id)
        else:
            manifest = self._c.current_manifest(request.bucket, request.key)
        reply = object_pb2.StatObjectResponse(object=object_info(manifest))
        placements = [self._c.chunk_placement(ref, manifest.policy) for ref in manifest.chunks]
        for ref, placement in zip(manifest.chunks, placements):
            entry = reply.chunks.add(chunk=ref)
            for holder in (placement.holders if placement is not None else ()):
                entry.holders.add(holder=holder, state=self._state_name(holder.node_id))
        reply.physical_bytes = self._c.physical_bytes(manifest, placements)
        reply.stored_bytes = len(manifest.inline_data) if manifest.inline else sum(c.size_bytes for c in manifest.chunks)
        reply.compressed_chunks = sum(c.compression == common_pb2.COMPRESSION_ZSTD for c in manifest.chunks)
        reply.encrypted_chunks = sum(at_rest.is_encrypted(c) for c in manifest.chunks)
        return reply

    @unary
    def SetBucketCompression(self, request: object_pb2.SetBucketCompressionRequest, context):
        self.allow("set-compression", request.bucket)
        return object_pb2.SetBucketCompressionResponse(
            bucket=self._c.set_compression(request.bucket, request.compression))

    @unary
    def SetBucketEncryption(self, request: object_pb2.SetBucketEncryptionRequest, context):
        self.allow("set-encryption", request.bucket)
        return object_pb2.SetBucketEncryptionResponse(
            bucket=self._c.set_encryption(request.bucket, request.encryption))

    @streaming
    def ConvertObject(self, request: object_pb2.ConvertObjectRequest, context):
        if request.policy.WhichOneof("policy") is None:
            raise errors.InvalidArgument("ConvertObject needs a policy: replicas=N or ec=K+M")
        self.allow("convert", request.bucket, request.key)
        outcome = "error"
        try:
            for event in self._c.convert_object(request.bucket, request.key, request.policy):
                if isinstance(event, object_pb2.ConvertProgress):
                    yield object_pb2.ConvertObjectResponse(progress=event)
                else:
                    yield object_pb2.ConvertObjectResponse(result=object_pb2.ConvertResult(
                        object=object_info(event.manifest), copies_released=event.copies_released,
                        copies_still_referenced=event.copies_still_referenced,
                        copies_not_reached=event.copies_not_reached, unchanged=event.unchanged))
            outcome = "ok"
        finally:
            self._metrics.requests.labels("convert", outcome).inc()

    @unary
    def ListObjects(self, request, context):
        self.allow("list", request.bucket, prefix=request.prefix)
        items, token = self._c.list_objects(request.bucket, request.prefix, request.page_size, request.page_token)
        return object_pb2.ListObjectsResponse(objects=[object_info(m) for m in items], next_page_token=token)

    @unary
    def CreateUpload(self, request: object_pb2.CreateUploadRequest, context) -> object_pb2.CreateUploadResponse:
        self.allow("put", request.bucket, request.key)
        upload_id = self._c.uploads.create(request.bucket, request.key, content_type=request.content_type,
                                           metadata=dict(request.metadata), headers=dict(request.headers),
                                           policy=request.policy if request.HasField("policy") else None,
                                           tags=dict(request.tags))
        return object_pb2.CreateUploadResponse(upload_id=upload_id)

    @unary
    def ListUploadParts(self, request: object_pb2.ListUploadPartsRequest, context):
        self.allow("put", request.bucket, request.key)
        self._c.uploads.record(request.bucket, request.key, request.upload_id)
        parts, _ = self._c.uploads.parts(request.bucket, request.key, request.upload_id)
        return object_pb2.ListUploadPartsResponse(parts=[
            object_pb2.UploadPart(part_number=number, size_bytes=m.size_bytes, md5=m.md5, blake3=m.blake3)
            for number, m in parts])

    @unary
    def CompleteUpload(self, request: object_pb2.CompleteUploadRequest, context) -> object_pb2.PutObjectResponse:
        condition = self._c.condition_of(request.if_match, request.if_version, request.if_absent)
        manifest = self.complete_upload(request.bucket, request.key, request.upload_id,
                                        [(part.part_number, part.md5.hex()) for part in request.parts], condition)
        return object_pb2.PutObjectResponse(object=object_info(manifest))

    def complete_upload(self, bucket: str, key: str, upload_id: str,
                        listed: list[tuple[int, str]], condition: Condition | None = None) -> common_pb2.Manifest:
        """Complete a multipart upload (native or S3), if `condition` holds. Under quotas the object
        is one more object of its bucket (unless it replaces one); its bytes add nothing: they were
        counted as its parts' from the moment each part was put."""
        self.allow("put", bucket, key)
        with self._quota_hold(bucket, key, 0):
            return self._c.uploads.complete(bucket, key, upload_id, listed, condition)

    @unary
    def AbortUpload(self, request: object_pb2.AbortUploadRequest, context) -> object_pb2.AbortUploadResponse:
        self.allow("put", request.bucket, request.key)
        self._c.uploads.abort(request.bucket, request.key, request.upload_id)
        return object_pb2.AbortUploadResponse()

    @unary
    def DeleteObject(self, request, context):
        self.allow("delete", request.bucket, request.key)
        written = self._c.delete_object(request.bucket, request.key, request.version_id)
        if written.erased:
            return object_pb2.DeleteObjectResponse(version=written.version, version_id=request.version_id)
        return object_pb2.DeleteObjectResponse(version=written.version, version_id=show_version_id(written.version_id),
                                               delete_marker=bool(written.version_id) or self._c.bucket(
                                                   request.bucket).versioning != common_pb2.VERSIONING_UNSPECIFIED)

    @unary
    def SetBucketVersioning(self, request: object_pb2.SetBucketVersioningRequest, context):
        self.allow("set-versioning", request.bucket)
        return object_pb2.SetBucketVersioningResponse(bucket=self._c.set_versioning(request.bucket, request.versioning))

    @unary
    def HasChunks(self, request: object_pb2.HasChunksRequest, context):
        # Put rights on the whole bucket: the answer covers every key of it (node/objects/known_chunks.py).
        self.allow("put", request.bucket)
        if request.key:
            self.allow("get", request.bucket, request.key)
        held = self._c.has_chunks(request.bucket, request.policy if request.HasField("policy") else None,
                                  list(request.chunk_ids), key=request.key)
        return object_pb2.HasChunksResponse(held=held, chunk_size_bytes=self._c.chunk_size_bytes)

    @unary
    def PlanPut(self, request: object_pb2.PlanPutRequest, context) -> object_pb2.PlanPutResponse:
        header = request.header
        self.allow("put", header.bucket, header.key)
        if not request.put_token and header.HasField("size_bytes"):
            # Refused before any copy is written, as a streamed put of a declared size is before a
            # byte is read; the put's PutObject stream holds the room while it runs.
            with self._quota_hold(header.bucket, header.key, header.size_bytes):
                pass
        return self._c.plan_put(header, request.put_token, request.chunks)

    @unary
    def WriteChunk(self, request: memoryview, context) -> object_pb2.WriteChunkResponse:
        if self._copy_writer is None:
            raise errors.FailedPrecondition("this node takes no direct writes: put through PutObject")
        outcome = "error"
        try:
            raw = dict(context.invocation_metadata()).get(frames.WRITE_COPY_METADATA, b"")
            try:
                header = object_pb2.WriteChunkHeader.FromString(raw)
            except (DecodeError, TypeError):
                header = object_pb2.WriteChunkHeader()  # refused below: no grant checks out
            answer = self._copy_writer.write(header, request)
            outcome = "ok"
        except errors.Unauthenticated:
            outcome = "denied"
            raise
        finally:
            self._metrics.direct_writes.labels(outcome).inc()
        return answer

    @unary
    def FindObjects(self, request: object_pb2.FindObjectsRequest, context):
        self.allow("list", request.bucket, prefix=request.query.prefix)
        found, token = self._c.find_objects(request.bucket, request.query, request.page_size, request.page_token)
        return object_pb2.FindObjectsResponse(objects=[object_info(m) for m in found], next_page_token=token)

    @unary
    def SetObjectTags(self, request: object_pb2.SetObjectTagsRequest, context):
        self.allow("put", request.bucket, request.key)
        manifest = self._c.set_object_tags(request.bucket, request.key, request.version_id, dict(request.tags))
        return object_pb2.PutObjectResponse(object=object_info(manifest))

    @unary
    def SetBucketTags(self, request: object_pb2.SetBucketTagsRequest, context):
        self.allow("set-bucket-tags", request.bucket)
        return object_pb2.SetBucketTagsResponse(bucket=self._c.set_bucket_tags(request.bucket, dict(request.tags)))

    @unary
    def SetBucketLifecycle(self, request: object_pb2.SetBucketLifecycleRequest, context):
        self.allow("set-lifecycle", request.bucket)
        return object_pb2.SetBucketLifecycleResponse(bucket=self._c.set_lifecycle(request.bucket, list(request.rules)))

    @unary
    def ListObjectVersions(self, request: object_pb2.ListObjectVersionsRequest, context):
        self.allow("list", request.bucket, prefix=request.prefix)
        items, token = self._c.list_versions(request.bucket, request.prefix, request.page_size, request.page_token)
        return object_pb2.ListObjectVersionsResponse(
            versions=[object_info(m, is_latest=latest) for m, latest in items], next_page_token=token)

    @unary
    def RollbackObject(self, request: object_pb2.RollbackObjectRequest, context):
        self.allow("put", request.bucket, request.key)
        source = self._c.version_manifest(request.bucket, request.key, request.version_id)
        with self._quota_hold(request.bucket, request.key, source.size_bytes):
            manifest = self._c.rollback_object(request.bucket, request.key, request.version_id)
        return object_pb2.PutObjectResponse(object=object_info(manifest))

    def handlers(self) -> grpc.GenericRpcHandler:
        o = object_pb2

        uu = unary_method
        return grpc.method_handlers_generic_handler(SERVICE, {
            "CreateBucket": uu(self.CreateBucket, o.CreateBucketRequest),
            "DeleteBucket": uu(self.DeleteBucket, o.DeleteBucketRequest),
            "ListBuckets": uu(self.ListBuckets, o.ListBucketsRequest),
            "PutObject": upload_method(self.PutObject, o.PutObjectRequest),
            "PutSmallObject": uu(self.PutSmallObject, o.PutSmallObjectRequest),
            "GetObject": download_method(self.GetObject, o.GetObjectRequest),
            "OpenObject": uu(self.OpenObject, o.GetObjectRequest),
            "ReadChunk": grpc.unary_unary_rpc_method_handler(
                self.ReadChunk, request_deserializer=tolerant(o.ReadChunkRequest.FromString),
                response_serializer=frames.encode),
            "StatObject": uu(self.StatObject, o.StatObjectRequest),
            "ListObjects": uu(self.ListObjects, o.ListObjectsRequest),
            "DeleteObject": uu(self.DeleteObject, o.DeleteObjectRequest),
            "SetBucketVersioning": uu(self.SetBucketVersioning, o.SetBucketVersioningRequest),
            "SetBucketCompression": uu(self.SetBucketCompression, o.SetBucketCompressionRequest),
            "SetBucketEncryption": uu(self.SetBucketEncryption, o.SetBucketEncryptionRequest),
            "ListObjectVersions": uu(self.ListObjectVersions, o.ListObjectVersionsRequest),
            "RollbackObject": uu(self.RollbackObject, o.RollbackObjectRequest),
            "SetBucketLifecycle": uu(self.SetBucketLifecycle, o.SetBucketLifecycleRequest),
            "SetObjectTags": uu(self.SetObjectTags, o.SetObjectTagsRequest),
            "FindObjects": uu(self.FindObjects, o.FindObjectsRequest),
            "HasChunks": uu(self.HasChunks, o.HasChunksRequest),
            "PlanPut": uu(self.PlanPut, o.PlanPutRequest),
            "WriteChunk": whole_share_method(self.WriteChunk, frames.data_decoder(o.WriteChunkRequest),
                                             lambda response: response.SerializeToString()),
            "SetBucketTags": uu(self.SetBucketTags, o.SetBucketTagsRequest),
            "CreateUpload": uu(self.CreateUpload, o.CreateUploadRequest),
            "ListUploadParts": uu(self.ListUploadParts, o.ListUploadPartsRequest),
            "CompleteUpload": uu(self.CompleteUpload, o.CompleteUploadRequest),
            "AbortUpload": uu(self.AbortUpload, o.AbortUploadRequest),
            "ConvertObject": download_method(self.ConvertObject, o.ConvertObjectRequest),
            "SetBucketGrant": uu(self.SetBucketGrant, o.SetBucketGrantRequest),
            "SetBucketPublicRead": uu(self.SetBucketPublicRead, o.SetBucketPublicReadRequest),
            "GetBucketInfo": uu(self.GetBucketInfo, o.GetBucketInfoRequest),
            "GetUsage": uu(self.GetUsage, o.GetUsageRequest),
            "Watch": download_method(self.Watch, o.WatchRequest),
        })

