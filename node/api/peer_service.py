"""PeerService: what other nodes ask of this node's disk. Authenticated by the interceptor."""

from __future__ import annotations

from typing import Callable, Iterable, Iterator, Sequence

import grpc

from node import errors
from node.api.status import (check_parsed, download_method, item_error, streaming, unary, unary_method, upload_method,
                             whole_share_method)
from node.erasure import slices
from node.hlc import HybridLogicalClock
from node.metrics import Metrics
from node.objects import at_rest, validate
from node.objects.chunk_io import holder_key
from node.objects.ring_gate import Check, RingGate, put_manifests_checked
from node.objects.replicas import DEEP_PROBE_SHARES_MAX, DeepThrottle, changes_reply, dedup_savings_reply, share_key
from node.quota.desk import QuotaDesk
from node.store.usage import breakdown_kind
from node.store import LIST_MANIFESTS_LIMIT_MAX, ChecksumMismatch, CorruptShare, NodeStore, ShareNotFound
from ringstore import frames
from ringstore.v1 import common_pb2, peer_pb2

SERVICE = "ringstore.v1.PeerService"
# Most shares one HasChunk call may ask about.
HAS_CHUNK_SHARES_MAX = 4096
# Most copies one AddReferences call names.
ADD_REFERENCES_SHARES_MAX = 1024
# Most items one PutManifests or GetManifests call may carry (a coordinator sends at most
# node.peers.batch.BATCH_ITEMS_MAX; this bound is the node's own guard).
BATCH_ITEMS_MAX = 256


def _check_ring(request: peer_pb2.PutManifestRequest, check: Check) -> None:
    """A home refuses a write tagged with a ring it does not use (or has promised readers it would
    not acknowledge yet); a stand-in's copy is not checked."""
    if not request.handoff_for_node_id:
        check(request.ring_fingerprint, f"the manifest of {request.manifest.bucket}/{request.manifest.key}")


def _check_batch(items: Sequence, what: str) -> None:
    if len(items) > BATCH_ITEMS_MAX:
        raise errors.InvalidArgument(f"{len(items)} {what} in one call; the limit is {BATCH_ITEMS_MAX}")


def store_copy(store: NodeStore, header: peer_pb2.StoreChunkHeader, parts: Iterable[memoryview],
               share_bytes_max: int) -> bool:
    """Store one copy as `header` describes it, from `parts`, durably: its bytes checked against
    header.blake3 and fsynced before this returns; whether the copy was already there. For a peer's
    StoreChunk and StoreShare, and a client's WriteChunk (node/objects/direct_put.py)."""
    if header.size_bytes > share_bytes_max:
        raise errors.InvalidArgument(
            f"share is {header.size_bytes} bytes; the largest this node accepts is {share_bytes_max}")
    key = share_key(header.share)
    received = 0
    # Reserves the declared size: a copy that would take this node past a disk-full watermark
    # is refused (StoreFull -> RESOURCE_EXHAUSTED) before its data is read.
    with store.begin_share(key, header.size_bytes) as writer:
        for item in parts:
            received += len(item)
            if received > header.size_bytes:
                raise errors.InvalidArgument(f"share stream exceeds its declared {header.size_bytes} bytes")
            writer.write(item)
        if received != header.size_bytes:
            raise errors.InvalidArgument(f"share stream carried {received} of {header.size_bytes} bytes")
        try:
            return writer.commit(
                expected_blake3=header.blake3,
                placement=header.placement if header.HasField("placement") else None,
                handoff_for_node_id=header.handoff_for_node_id,
                referenced_by=header.referenced_by if header.HasField("referenced_by") else None,
                references=header.references)
        except ChecksumMismatch as err:
            raise errors.InvalidArgument(str(err)) from None


class PeerServicer:
    def __init__(self, store: NodeStore, hlc: HybridLogicalClock, metrics: Metrics, frame_size_bytes: int,
                 chunk_size_bytes: int, node_id: str,
                 deep_throttle: Callable[[int], DeepThrottle] | None = None,
                 forget_bucket: Callable[[str, str], None] = lambda tenant, name: None,
                 quota_desk: QuotaDesk | None = None, ring_gate: RingGate | None = None) -> None:
        self._forget_bucket = forget_bucket
        # Tagged manifest writes are checked against this node's ring (node/objects/ring_gate.py).
        self._ring_gate = ring_gate if ring_gate is not None else RingGate(lambda: 0)
        self._quota_desk = quota_desk
        self._node_id = node_id
        # bandwidth_bytes_per_s (0: the scrub throttle) -> the throttle a deep HasChunk reads through.
        self._deep_throttle = deep_throttle
        self._store = store
        self._hlc = hlc
        self._metrics = metrics
        self._frame_size_bytes = frame_size_bytes
        # A chunk sealed at rest is its plaintext plus a header and tag (node/objects/at_rest.py).
        self._share_bytes_max = chunk_size_bytes + at_rest.OVERHEAD_BYTES

    @unary
    def StoreChunk(self, request_iterator: Iterator, context) -> peer_pb2.StoreChunkResponse:
        first = next(request_iterator, None)
        check_parsed(first)
        if first is None or isinstance(first, memoryview) or first.WhichOneof("msg") != "header":
            raise errors.InvalidArgument("a StoreChunk stream must start with a header message")

        def data() -> Iterator[memoryview]:
            for item in request_iterator:
                check_parsed(item)
                if not isinstance(item, memoryview):
                    raise errors.InvalidArgument("a StoreChunk stream carries one header, then only data")
                yield item

        return self._store_share(first.header, data())

    @unary
    def StoreShare(self, request: frames.HeaderAndData, context) -> peer_pb2.StoreChunkResponse:
        return self._store_share(request.header, [memoryview(request.data)])

    def _store_share(self, header: peer_pb2.StoreChunkHeader, parts: Iterable[memoryview]
                     ) -> peer_pb2.StoreChunkResponse:
        present = store_copy(self._store, header, parts, self._share_bytes_max)
        self._metrics.shares_received.inc()
        return peer_pb2.StoreChunkResponse(already_present=present)

    @streaming
    def FetchChunk(self, request: peer_pb2.FetchChunkRequest, context):
        header, data = self._read_share(request)
        yield peer_pb2.FetchChunkResponse(header=header)
        if not request.header_only:
            yield from slices(data, self._frame_size_bytes)

    @unary
    def FetchShare(self, request: peer_pb2.FetchChunkRequest, context) -> frames.HeaderAndData:
        info = self._store.share_info(share_key(request.share))
        if info is not None and info.size_bytes > self._frame_size_bytes:
            # The caller streams it instead (FetchChunk) on this status.
            raise errors.ResourceExhausted(
                f"share is {info.size_bytes} bytes, more than one message carries ({self._frame_size_bytes}); "
                "fetch it with FetchChunk")
        return frames.HeaderAndData(*self._read_share(request, info))

    def _read_share(self, request: peer_pb2.FetchChunkRequest, info: common_pb2.StoredShare | None = None
                    ) -> tuple[peer_pb2.FetchChunkHeader, bytes]:
        """The copy's header and its verified bytes (none for a header_only request); `info` is the
        copy's index entry when the caller has already looked it up."""
        key = share_key(request.share)
        if request.header_only:
            info = self._store.share_info(key)
            if info is None:
                raise errors.NotFound(f"share {key.suffix()} of chunk {key.chunk_id.hex()} not found on this node")
            return peer_pb2.FetchChunkHeader(size_bytes=info.size_bytes, blake3=info.blake3,
                                             references=self._store.references(key)), b""
        try:
            data, references = self._store.read_share_referenced(key)
        except ShareNotFound as err:
            raise errors.NotFound(str(err)) from None
        except CorruptShare as err:
            self._metrics.corrupt_shares.inc()
            raise errors.DataLoss(str(err)) from None
        if info is None:
            info = self._store.share_info(key)
        return peer_pb2.FetchChunkHeader(size_bytes=len(data), blake3=info.blake3 if info is not None else b"",
                                         references=references), data

    @unary
    def HasChunk(self, request, context):
        if len(request.shares) > HAS_CHUNK_SHARES_MAX:
            raise errors.InvalidArgument(f"{len(request.shares)} shares asked; the limit is {HAS_CHUNK_SHARES_MAX}")
        keys = [share_key(s) for s in request.shares]
        if request.deep:
            if len(keys) > DEEP_PROBE_SHARES_MAX:
                raise errors.InvalidArgument(f"{len(keys)} shares asked to read back; the limit is "
                                             f"{DEEP_PROBE_SHARES_MAX} per deep call")
            if self._deep_throttle is None:
                raise errors.FailedPrecondition("this node was started without a throttle for deep "
                                                "probes; run fsck without --deep")
            throttle = self._deep_throttle(request.bandwidth_bytes_per_s)
            return peer_pb2.HasChunkResponse(present=self._store.verify_shares(keys, throttle.acquire))
        if request.referenced_by_tenant and request.referenced_by_bucket:
            owner = (request.referenced_by_tenant, request.referenced_by_bucket)
            return peer_pb2.HasChunkResponse(present=[self._store.referenced_by(key, owner) for key in keys])
        return peer_pb2.HasChunkResponse(present=[self._store.has_share(key) for key in keys])

    @unary
    def PutManifest(self, request, context):
        self._hlc.observe(request.manifest.version)
        with self._ring_gate.held() as check:
            _check_ring(request, check)
            return peer_pb2.PutManifestResponse(superseded=self._store.put_manifest(request.manifest))

    @unary
    def GetManifest(self, request, context):
        return self._get_manifest(request)

    def _get_manifest(self, request: peer_pb2.GetManifestRequest) -> peer_pb2.GetManifestResponse:
        if request.by_version:
            manifest = self._store.get_manifest_version(request.tenant, request.bucket, request.key,
                                                        request.version_id)
        else:
            manifest = self._store.get_manifest(request.tenant, request.bucket, request.key)
        if manifest is None:
            return peer_pb2.GetManifestResponse(found=False)
        return peer_pb2.GetManifestResponse(found=True, manifest=manifest)

    @unary
    def PutManifests(self, request, context):
        _check_batch(request.items, "manifests")
        for item in request.items:
            self._hlc.observe(item.manifest.version)
        outcomes = put_manifests_checked(
            self._ring_gate, self._store.put_manifests,
            [(item.manifest, item.handoff_for_node_id, item.ring_fingerprint) for item in request.items])
        return peer_pb2.PutManifestsResponse(results=[
            peer_pb2.PutManifestResult(error=item_error(outcome, "PutManifests")) if isinstance(outcome, Exception)
            else peer_pb2.PutManifestResult(superseded=outcome) for outcome in outcomes])

    @unary
    def GetManifests(self, request, context):
        _check_batch(request.items, "keys")
        results = []
        for item in request.items:
            try:
                results.append(peer_pb2.GetManifestResult(answer=self._get_manifest(item)))
            except Exception as err:  # noqa: BLE001 - this item's answer, as its own call's
                results.append(peer_pb2.GetManifestResult(error=item_error(err, "GetManifests")))
        return peer_pb2.GetManifestsResponse(results=results)

    @unary
    def ListManifests(self, request, context):
        limit = min(request.limit or 1000, LIST_MANIFESTS_LIMIT_MAX)
        manifests, truncated = self._store.list_manifests(
            request.tenant, request.bucket, prefix=request.prefix, start_after=request.start_after, limit=limit,
            all_versions=request.all_versions, include_start=request.include_start)
        return peer_pb2.ListManifestsResponse(manifests=manifests, truncated=truncated)

    @unary
    def PutBucketRecord(self, request, context):
        self._hlc.observe(request.bucket.version)
        return peer_pb2.PutBucketRecordResponse(superseded=self._store.put_bucket(request.bucket))

    @unary
    def ListBucketRecords(self, request, context):
        return peer_pb2.ListBucketRecordsResponse(buckets=self._store.list_buckets(request.tenant))

    @unary
    def PrepareBucket(self, request, context):
        validate.bucket_name(request.name)
        promised, highest, accepted = self._store.prepare_bucket(request.tenant, request.name, request.ballot)
        if accepted is None:
            return peer_pb2.PrepareBucketResponse(promised=promised, promised_ballot=highest, found=False)
        return peer_pb2.PrepareBucketResponse(promised=promised, promised_ballot=highest, found=True,
                                              accepted=accepted)

    @unary
    def GetUsageBreakdown(self, request, context):
        kind = breakdown_kind(request.kind)
        return peer_pb2.GetUsageBreakdownResponse(
            usage=self._store.bucket_usage(request.tenant, request.bucket),
            shares=[common_pb2.UsageShare(name=name, usage=record)
                    for name, record in self._store.usage_breakdown(request.tenant, request.bucket, kind)])

    @unary
    def FindManifests(self, request, context):
        limit = min(request.limit or 1000, LIST_MANIFESTS_LIMIT_MAX)
        found, after = self._store.find_manifests(request.tenant, request.bucket, request.query,
                                                  after=request.after, limit=limit)
        return peer_pb2.FindManifestsResponse(manifests=[m for _, m in found], positions=[p for p, _ in found],
                                              next_after=after or b"")

    @unary
    def ReadKeyRegister(self, request, context):
        highest, accepted = self._store.read_key_register(request.tenant, request.bucket, request.key)
        return self._key_register_answer(True, highest, accepted)

    @unary
    def PrepareKeyRegister(self, request, context):
        ok, highest, accepted = self._store.prepare_key_register(request.tenant, request.bucket, request.key,
                                                                 request.ballot)
        return self._key_register_answer(ok, highest, accepted)

    @unary
    def AcceptKeyRegister(self, request, context):
        if request.register.HasField("manifest"):
            self._hlc.observe(request.register.manifest.version)
        ok, highest = self._store.accept_key_register(request.register)
        return self._key_register_answer(ok, highest, None)

    @staticmethod
    def _key_register_answer(ok: bool, highest: common_pb2.Ballot, accepted: common_pb2.KeyRegister | None
                             ) -> peer_pb2.KeyRegisterResponse:
        if accepted is None:
            return peer_pb2.KeyRegisterResponse(ok=ok, promised_ballot=highest, found=False)
        return peer_pb2.KeyRegisterResponse(ok=ok, promised_ballot=highest, found=True, accepted=accepted)

    @unary
    def ReadBucket(self, request, context):
        validate.bucket_name(request.name)
        highest, accepted = self._store.read_bucket(request.tenant, request.name)
        if accepted is None:
            return peer_pb2.ReadBucketResponse(promised_ballot=highest, found=False)
        return peer_pb2.ReadBucketResponse(promised_ballot=highest, found=True, accepted=accepted)

    @unary
    def PurgeTombstone(self, request, context):
        if not request.tombstone.tombstone:
            raise errors.InvalidArgument(
                f"PurgeTombstone of {request.tombstone.bucket}/{request.tombstone.key}: the version named is not "
                "a tombstone; only tombstones are purged")
        return peer_pb2.PurgeTombstoneResponse(purged=self._store.purge_manifest_if(request.tombstone))

    @unary
    def ForgetBucket(self, request, context):
        validate.bucket_name(request.name)
        self._forget_bucket(request.tenant, request.name)
        return peer_pb2.ForgetBucketResponse()

    @unary
    def AcceptBucket(self, request, context):
        validate.bucket_name(request.bucket.name)
        self._hlc.observe(request.bucket.version)
        accepted, highest = self._store.accept_bucket(request.bucket)
        return peer_pb2.AcceptBucketResponse(accepted=accepted, promised_ballot=highest)

    @unary
    def GetPlacement(self, request, context):
        record = self._store.get_placement(bytes(request.chunk_id), request.data_shares, request.parity_shares)
        if record is None:
            return peer_pb2.GetPlacementResponse(found=False)
        return peer_pb2.GetPlacementResponse(found=True, placement=record)

    @unary
    def PutPlacement(self, request, context):
        """Keep the record (conditionally, see the request); a copy it now names as this node's own
        (no handoff) becomes a home copy."""
        record = request.placement
        if not self._store.put_placement(record, if_updated_at_unix_ms=request.if_updated_at_unix_ms):
            return peer_pb2.PutPlacementResponse(applied=False)
        for holder in record.holders:
            if holder.node_id == self._node_id and not holder.handoff_for_node_id:
                self._store.set_home(holder_key(record, holder.share_index))
        return peer_pb2.PutPlacementResponse(applied=True)

    @unary
    def ReleaseShare(self, request, context):
        outcome = self._store.release_share(share_key(request.share), request.ref)
        return peer_pb2.ReleaseShareResponse(deleted=outcome.deleted, references_left=outcome.references_left)

    @unary
    def AddReferences(self, request, context):
        if len(request.shares) > ADD_REFERENCES_SHARES_MAX:
            raise errors.InvalidArgument(f"AddReferences names {len(request.shares)} copies; at most "
                                         f"{ADD_REFERENCES_SHARES_MAX} per call")
        owner = (request.ref.tenant, request.ref.bucket) if request.only_if_bucket_refers else None
        held = [self._store.add_references(share_key(share), [request.ref], only_if_referenced_by=owner) > 0
                for share in request.shares]
        return peer_pb2.AddReferencesResponse(held=held)

    @unary
    def GetUsage(self, request, context):
        return peer_pb2.GetUsageRecordResponse(usage=self._store.bucket_usage(request.tenant, request.bucket))

    @unary
    def ReadChanges(self, request, context):
        return changes_reply(self._store, request)

    @unary
    def GetDedupSavings(self, request, context):
        return dedup_savings_reply(self._store, request.tenant, audit=request.audit)

    def _desk(self) -> QuotaDesk:
        if self._quota_desk is None:
            raise errors.FailedPrecondition(f"node {self._node_id} keeps no quota desk")
        return self._quota_desk

    @unary
    def ReserveQuota(self, request, context):
        return self._desk().reserve(request)

    @unary
    def ReleaseQuota(self, request, context):
        return peer_pb2.ReleaseQuotaResponse(released=self._desk().release(request.hold_id))

    def handlers(self) -> grpc.GenericRpcHandler:
        p = peer_pb2

        uu = unary_method
        return grpc.method_handlers_generic_handler(SERVICE, {
            "StoreChunk": upload_method(self.StoreChunk, p.StoreChunkRequest),
            "FetchChunk": download_method(self.FetchChunk, p.FetchChunkRequest),
            "StoreShare": whole_share_method(
                self.StoreShare, frames.header_and_data_decoder(p.StoreShareRequest, p.StoreChunkHeader),
                lambda response: response.SerializeToString()),
            "FetchShare": whole_share_method(
                self.FetchShare, p.FetchChunkRequest.FromString, frames.serialize_header_and_data),
            "HasChunk": uu(self.HasChunk, p.HasChunkRequest),
            "PutManifest": uu(self.PutManifest, p.PutManifestRequest),
            "GetManifest": uu(self.GetManifest, p.GetManifestRequest),
            "PutManifests": uu(self.PutManifests, p.PutManifestsRequest),
            "GetManifests": uu(self.GetManifests, p.GetManifestsRequest),
            "ListManifests": uu(self.ListManifests, p.ListManifestsRequest),
            "PutBucketRecord": uu(self.PutBucketRecord, p.PutBucketRecordRequest),
            "ListBucketRecords": uu(self.ListBucketRecords, p.ListBucketRecordsRequest),
            "GetPlacement": uu(self.GetPlacement, p.GetPlacementRequest),
            "PutPlacement": uu(self.PutPlacement, p.PutPlacementRequest),
            "ReleaseShare": uu(self.ReleaseShare, p.ReleaseShareRequest),
            "AddReferences": uu(self.AddReferences, p.AddReferencesRequest),
            "PrepareBucket": uu(self.PrepareBucket, p.PrepareBucketRequest),
            "AcceptBucket": uu(self.AcceptBucket, p.AcceptBucketRequest),
            "ReadBucket": uu(self.ReadBucket, p.ReadBucketRequest),
            "ReadKeyRegister": uu(self.ReadKeyRegister, p.KeyRegisterRequest),
            "FindManifests": uu(self.FindManifests, p.FindManifestsRequest),
            "GetUsageBreakdown": uu(self.GetUsageBreakdown, p.GetUsageBreakdownRequest),
            "PrepareKeyRegister": uu(self.PrepareKeyRegister, p.KeyRegisterRequest),
            "AcceptKeyRegister": uu(self.AcceptKeyRegister, p.AcceptKeyRegisterRequest),
            "ForgetBucket": uu(self.ForgetBucket, p.ForgetBucketRequest),
            "PurgeTombstone": uu(self.PurgeTombstone, p.PurgeTombstoneRequest),
            "GetUsage": uu(self.GetUsage, p.GetUsageRecordRequest),
            "GetDedupSavings": uu(self.GetDedupSavings, p.GetDedupSavingsRequest),
            "ReadChanges": uu(self.ReadChanges, p.ReadChangesRequest),
            "ReserveQuota": uu(self.ReserveQuota, p.ReserveQuotaRequest),
            "ReleaseQuota": uu(self.ReleaseQuota, p.ReleaseQuotaRequest),
        })
