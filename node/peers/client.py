"""Calls from this node to other nodes: one pooled channel per peer, mutual TLS under the cluster CA.

A copy that fits in one message (every copy a put or a read moves: chunks are 4 MiB, peer messages
up to 4 MiB) goes in one unary call, StoreShare or FetchShare, header and bytes together; larger
ones stream (StoreChunk, FetchChunk). Both use the hand-framed codec of `ringstore.frames`, so the
bytes cross without a protobuf copy on either side. Why unary: a stream of a header and one 1 MiB
message cost 4.8 ms of CPU over TLS (both ends, this 2-core AVX2 host), the same bytes in one unary
call 4.0, because gRPC Python spends a thread per request stream and a condition-variable hand-off
per message on both sides. A peer of an older release answers UNIMPLEMENTED and gets streams until
it comes back ALIVE (`forget`). Channels
reconnect quickly (`RECONNECT_BACKOFF_MS_MAX`): gRPC's default backoff grows to two minutes, which
would keep a restarted node looking dead to its peers long after it is back.

Every failure comes back as `PeerError`, which names the peer and the gRPC status, so the
coordinator can build messages like "node-c (127.0.0.1:7403): UNAVAILABLE: connection refused".

Fault injection (node/faults.py): every call takes its peer's stubs from `_stubs` first, so that
is where a call to an address the `Faults` drop fails at once with UNAVAILABLE, before any byte
is sent; unary, streaming, membership and admin calls alike, and any call added later too.
"""

from __future__ import annotations

import threading
from typing import Callable, Iterable, Iterator

import grpc

from node.faults import DROPPED_DETAILS, Faults
from node.peers.batch import CallBatcher, QueueTimeout
from ringstore import frames, tls
from ringstore.v1 import common_pb2, membership_pb2, peer_pb2

PEER_SERVICE = "/ringstore.v1.PeerService/"
MEMBERSHIP_SERVICE = "/ringstore.v1.MembershipService/"
ADMIN_SERVICE = "/ringstore.v1.AdminService/"
# Longest wait before a channel retries a peer that refused connections.
RECONNECT_BACKOFF_MS_MAX = 1000
# Most peers with an open channel; beyond this the least recently added is closed.
CHANNELS_MAX = 1024
# gRPC status codes by number, for the item errors of batch calls.
_STATUS_BY_NUMBER = {code.value[0]: code for code in grpc.StatusCode}


def _request_bytes(item: tuple[object, float]) -> int:
    return item[0].ByteSize()


class PeerError(Exception):
    """A call to another node failed; `code` is the gRPC status code."""

    def __init__(self, address: str, code: grpc.StatusCode, details: str, *, tls_refused: bool = False) -> None:
        self.address = address
        self.code = code
        self.details = details
        # The TLS handshake failed on a certificate (ours or theirs): retrying will not help.
        self.tls_refused = tls_refused
        super().__init__(f"{address}: {code.name}: {details}")


# gRPC's bandwidth-delay-product probe sends an HTTP/2 PING (and gets its ACK) with data on a
# connection, so every small membership call carried two more frames and TCP segments: 15 % of an
# idle node's loopback bytes from the client side, as much again from the server's. Off at both
# ends, an idle lan node moves 1.5 KB/s instead of 2.4 (bench.membership in its own netns), and
# 1-64 MiB puts and gets measured the same within noise: on a LAN the fixed window is not what
# limits a transfer.
BDP_PROBE_OPTION = ("grpc.http2.bdp_probe", 0)


# gRPC's C core shares one subchannel (connection and its reconnect backoff) between all channels
# with the same target and options. `PeerClient.forget` drops the channel of a node that came
# back so that the next call connects at once, but a new channel would pick up the old subchannel,
# still in backoff from the node's downtime, and fail "Connection refused" for up to
# RECONNECT_BACKOFF_MS_MAX after the node was serving again: in the rolling-restart scenario,
# reads failed with two metadata homes "unreachable" while one of them had been back for 0.3 s.
LOCAL_SUBCHANNEL_POOL_OPTION = ("grpc.use_local_subchannel_pool", 1)


def channel_options(message_bytes_max: int) -> list[tuple[str, int]]:
    return [
        LOCAL_SUBCHANNEL_POOL_OPTION,
        ("grpc.max_send_message_length", message_bytes_max),
        ("grpc.max_receive_message_length", message_bytes_max),
        ("grpc.initial_reconnect_backoff_ms", 100),
        ("grpc.min_reconnect_backoff_ms", 100),
        ("grpc.max_reconnect_backoff_ms", RECONNECT_BACKOFF_MS_MAX),
        ("grpc.enable_retries", 0),
        BDP_PROBE_OPTION,
    ]


class _Stubs:
    """The multi-callables of one peer's channel."""

    def __init__(self, channel: grpc.Channel) -> None:
        def unary(service: str, name: str, request_cls, response_cls):
            return channel.unary_unary(service + name, request_serializer=request_cls.SerializeToString,
                                       response_deserializer=response_cls.FromString)

        p = peer_pb2
        self.store_chunk = channel.stream_unary(
            PEER_SERVICE + "StoreChunk", request_serializer=frames.encode,
            response_deserializer=p.StoreChunkResponse.FromString)
        self.store_share = channel.unary_unary(
            PEER_SERVICE + "StoreShare", request_serializer=frames.serialize_header_and_data,
            response_deserializer=p.StoreChunkResponse.FromString)
        self.fetch_share = channel.unary_unary(
            PEER_SERVICE + "FetchShare", request_serializer=p.FetchChunkRequest.SerializeToString,
            response_deserializer=frames.header_and_data_decoder(p.FetchShareResponse, p.FetchChunkHeader))
        self.fetch_chunk = channel.unary_stream(
            PEER_SERVICE + "FetchChunk", request_serializer=p.FetchChunkRequest.SerializeToString,
            response_deserializer=frames.decoder(p.FetchChunkResponse))
        self.has_chunk = unary(PEER_SERVICE, "HasChunk", p.HasChunkRequest, p.HasChunkResponse)
        self.put_manifest = unary(PEER_SERVICE, "PutManifest", p.PutManifestRequest, p.PutManifestResponse)
        self.get_manifest = unary(PEER_SERVICE, "GetManifest", p.GetManifestRequest, p.GetManifestResponse)
        self.put_manifests = unary(PEER_SERVICE, "PutManifests", p.PutManifestsRequest, p.PutManifestsResponse)
        self.get_manifests = unary(PEER_SERVICE, "GetManifests", p.GetManifestsRequest, p.GetManifestsResponse)
        self.list_manifests = unary(PEER_SERVICE, "ListManifests", p.ListManifestsRequest, p.ListManifestsResponse)
        self.put_bucket = unary(PEER_SERVICE, "PutBucketRecord", p.PutBucketRecordRequest, p.PutBucketRecordResponse)
        self.list_buckets = unary(PEER_SERVICE, "ListBucketRecords", p.ListBucketRecordsRequest,
                                  p.ListBucketRecordsResponse)
        self.get_placement = unary(PEER_SERVICE, "GetPlacement", p.GetPlacementRequest, p.GetPlacementResponse)
        self.put_placement = unary(PEER_SERVICE, "PutPlacement", p.PutPlacementRequest, p.PutPlacementResponse)
        self.release_share = unary(PEER_SERVICE, "ReleaseShare", p.ReleaseShareRequest, p.ReleaseShareResponse)
        self.add_references = unary(PEER_SERVICE, "AddReferences", p.AddReferencesRequest, p.AddReferencesResponse)
        self.prepare_bucket = unary(PEER_SERVICE, "PrepareBucket", p.PrepareBucketRequest, p.PrepareBucketResponse)
        self.accept_bucket = unary(PEER_SERVICE, "AcceptBucket", p.AcceptBucketRequest, p.AcceptBucketResponse)
        self.read_bucket = unary(PEER_SERVICE, "ReadBucket", p.ReadBucketRequest, p.ReadBucketResponse)
        self.read_key_register = unary(PEER_SERVICE, "ReadKeyRegister", p.KeyRegisterRequest, p.KeyRegisterResponse)
        self.find_manifests = unary(PEER_SERVICE, "FindManifests", p.FindManifestsRequest, p.FindManifestsResponse)
        self.get_usage_breakdown = unary(PEER_SERVICE, "GetUsageBreakdown", p.GetUsageBreakdownRequest,
                                         p.GetUsageBreakdownResponse)
        self.get_dedup_savings = unary(PEER_SERVICE, "GetDedupSavings", p.GetDedupSavingsRequest,
                                       p.GetDedupSavingsResponse)
        self.read_changes = unary(PEER_SERVICE, "ReadChanges", p.ReadChangesRequest, p.ReadChangesResponse)
        self.prepare_key_register = unary(PEER_SERVICE, "PrepareKeyRegister", p.KeyRegisterRequest,
                                          p.KeyRegisterResponse)
        self.accept_key_register = unary(PEER_SERVICE, "AcceptKeyRegister", p.AcceptKeyRegisterRequest,
                                         p.KeyRegisterResponse)
        self.forget_bucket = unary(PEER_SERVICE, "ForgetBucket", p.ForgetBucketRequest, p.ForgetBucketResponse)
        self.purge_tombstone = unary(PEER_SERVICE, "PurgeTombstone", p.PurgeTombstoneRequest,
                                     p.PurgeTombstoneResponse)
        self.get_usage = unary(PEER_SERVICE, "GetUsage", p.GetUsageRecordRequest, p.GetUsageRecordResponse)
        self.reserve_quota = unary(PEER_SERVICE, "ReserveQuota", p.ReserveQuotaRequest, p.ReserveQuotaResponse)
        self.release_quota = unary(PEER_SERVICE, "ReleaseQuota", p.ReleaseQuotaRequest, p.ReleaseQuotaResponse)
        m = membership_pb2
        self.heartbeat = unary(MEMBERSHIP_SERVICE, "Heartbeat", m.HeartbeatRequest, m.HeartbeatResponse)
        self.indirect_probe = unary(MEMBERSHIP_SERVICE, "IndirectProbe", m.IndirectProbeRequest,
                                    m.IndirectProbeResponse)
        self.ping = unary(MEMBERSHIP_SERVICE, "Ping", m.PingRequest, m.PingResponse)
        self.gossip = unary(MEMBERSHIP_SERVICE, "Gossip", m.GossipRequest, m.GossipResponse)
        self.sync_state = unary(MEMBERSHIP_SERVICE, "SyncState", m.SyncStateRequest, m.SyncStateResponse)
        self.sync_digest = unary(MEMBERSHIP_SERVICE, "SyncDigest", m.SyncDigestRequest, m.SyncDigestResponse)
        self.join = unary(MEMBERSHIP_SERVICE, "Join", m.JoinRequest, m.JoinResponse)
        self._channel = channel
        self._admin: dict[str, object] = {}

    def admin(self, path: str, request_cls, response_cls):
        """The multi-callable of one AdminService method (made on first use)."""
        stub = self._admin.get(path)
        if stub is None:
            stub = self._channel.unary_unary(path, request_serializer=request_cls.SerializeToString,
                                             response_deserializer=response_cls.FromString)
            self._admin[path] = stub
        return stub


class PeerClient:
    """Calls to other nodes' peer ports, by address. Thread-safe.

    `credentials` makes the channel credentials (this node's certificate, the cluster CA, in
    `ca_file`) for each new channel; None calls peers in plaintext (`noded --insecure`)."""

    def __init__(self, *, node_id: str, message_bytes_max: int,
                 credentials: Callable[[], grpc.ChannelCredentials] | None = None, ca_file: str | None = None,
                 faults: Faults | None = None, on_batch: Callable[[str, int], None] = lambda call, items: None
                 ) -> None:
        self._node_id = node_id
        self._credentials = credentials
        self._ca_file = ca_file
        self._faults = faults if faults is not None else Faults()
        self._options = channel_options(message_bytes_max)
        self._lock = threading.Lock()
        self._channels: dict[str, tuple[grpc.Channel, _Stubs]] = {}
        # Manifest writes and reads to one peer, coalesced while it is busy (node/peers/batch.py).
        self._manifest_puts: CallBatcher = CallBatcher(self._send_manifest_puts, size_of=_request_bytes,
                                                       on_batch=lambda items: on_batch("put_manifest", items))
        self._manifest_gets: CallBatcher = CallBatcher(self._send_manifest_gets, size_of=_request_bytes,
                                                       on_batch=lambda items: on_batch("get_manifest", items))
        # Peers that answered a batch call UNIMPLEMENTED (an older release): single calls only, until
        # the peer comes back ALIVE (`forget`), perhaps upgraded.
        self._unbatched: set[str] = set()
        # Peers that answered StoreShare or FetchShare UNIMPLEMENTED: streams only, until `forget`.
        self._streamed: set[str] = set()

    def set_node_id(self, node_id: str) -> None:
        self._node_id = node_id

    def _stubs(self, address: str) -> _Stubs:
        if self._faults.drops(address):
            raise PeerError(address, grpc.StatusCode.UNAVAILABLE, DROPPED_DETAILS)
        with self._lock:
            entry = self._channels.get(address)
            if entry is None:
                if len(self._channels) >= CHANNELS_MAX:
                    oldest = next(iter(self._channels))
                    self._channels.pop(oldest)[0].close()
                if self._credentials is None:
                    channel = grpc.insecure_channel(address, options=self._options)
                else:
                    channel = grpc.secure_channel(address, self._credentials(), options=self._options)
                entry = (channel, _Stubs(channel))
                self._channels[address] = entry
            return entry[1]

    def forget(self, address: str) -> None:
        """Drop the channel to `address`. Called when a member comes back ALIVE: a channel that
        failed while the node was dead sits in reconnect backoff and fails calls at once until the
        backoff ends; a fresh channel connects on its first call. The old channel is not closed
        here (calls still running on it would fail); it closes when its last user lets go of it."""
        with self._lock:
            self._channels.pop(address, None)
            self._unbatched.discard(address)
            self._streamed.discard(address)

    def reset(self) -> None:
        """Drop every channel (after a certificate reload: new channels present the new one). Calls
        running on old channels finish on them."""
        with self._lock:
            self._channels.clear()

    def _call(self, address: str, fn, request, timeout_s: float):
        try:
            return fn(request, timeout=timeout_s)
        except grpc.RpcError as err:
            raise self._error(address, err) from None

    def _send_manifest_puts(self, address: str, items: list[tuple[object, float]]) -> list[object]:
        return self._batched(address, items, lambda s: s.put_manifest, lambda s: s.put_manifests,
                             peer_pb2.PutManifestsRequest,
                             lambda result: peer_pb2.PutManifestResponse(superseded=result.superseded))

    def _send_manifest_gets(self, address: str, items: list[tuple[object, float]]) -> list[object]:
        return self._batched(address, items, lambda s: s.get_manifest, lambda s: s.get_manifests,
                             peer_pb2.GetManifestsRequest, lambda result: result.answer)

    def _batched(self, address: str, items: list[tuple[object, float]], single, batch, batch_request,
                 answer) -> list[object]:
        """Send (request, timeout_s) items to one peer: one `batch` call carrying them all, or, for a
        lone item, a peer without the batch call, or answers too large for one message, each as its
        `single` call. One outcome per item: its answer, or the PeerError its own call would raise."""
        try:
            stubs = self._stubs(address)
        except PeerError as err:
            return [PeerError(address, err.code, err.details) for _ in items]
        if len(items) > 1 and address not in self._unbatched:
            timeout_s = max(timeout for _, timeout in items)
            try:
                reply = batch(stubs)(batch_request(items=[request for request, _ in items]), timeout=timeout_s)
            except grpc.RpcError as err:
                if err.code() == grpc.StatusCode.UNIMPLEMENTED:
                    self._unbatched.add(address)
                elif err.code() != grpc.StatusCode.RESOURCE_EXHAUSTED:
                    failed = self._error(address, err)
                    return [PeerError(address, failed.code, failed.details, tls_refused=failed.tls_refused)
                            for _ in items]
            else:
                if len(reply.results) != len(items):
                    return [PeerError(address, grpc.StatusCode.INTERNAL,
                                      f"{len(reply.results)} answers to a batch of {len(items)}") for _ in items]
                return [PeerError(address, _STATUS_BY_NUMBER.get(r.error.code, grpc.StatusCode.UNKNOWN), r.error.message)
                        if r.HasField("error") else answer(r) for r in reply.results]
        outcomes: list[object] = []
        for request, timeout_s in items:
            try:
                outcomes.append(single(stubs)(request, timeout=timeout_s))
            except grpc.RpcError as err:
                outcomes.append(self._error(address, err))
        return outcomes

    def _error(self, address: str, err: grpc.RpcError) -> PeerError:
        """PeerError for a failed call; a failed TLS handshake in one line that says what is wrong."""
        details = err.details() or ""
        explained = tls.explain(details, address, ca_file=self._ca_file) if self._credentials else None
        return PeerError(address, err.code(), explained or details, tls_refused=explained is not None)

    def close(self) -> None:
        with self._lock:
            for channel, _ in self._channels.values():
                channel.close()
            self._channels.clear()

    # -- chunks ---------------------------------------------------------------------------------

    def store_share(self, address: str, header: peer_pb2.StoreChunkHeader, frames_iter: Iterable,
                    timeout_s: float) -> peer_pb2.StoreChunkResponse:
        """Store one copy: `frames_iter` holds its bytes as payload frames (`Framed` or buffers).
        A copy in one frame goes as one StoreShare call, unless the peer lacks it."""
        if isinstance(frames_iter, (list, tuple)) and len(frames_iter) == 1 and address not in self._streamed:
            only = frames_iter[0]
            request = (only.with_header(header) if isinstance(only, frames.Framed)
                       else frames.HeaderAndData(header, only))
            try:
                return self._stubs(address).store_share(request, timeout=timeout_s)
            except grpc.RpcError as err:
                if err.code() != grpc.StatusCode.UNIMPLEMENTED:
                    raise self._error(address, err) from None
                self._streamed.add(address)  # an older peer: nothing was stored, stream it

        def requests() -> Iterator:
            yield peer_pb2.StoreChunkRequest(header=header)
            yield from frames_iter

        return self._call(address, self._stubs(address).store_chunk, requests(), timeout_s)

    def fetch_share(self, address: str, share: peer_pb2.ShareRef,
                    timeout_s: float) -> tuple[bytes, peer_pb2.FetchChunkHeader]:
        """Returns (stored bytes, the holder's header: the blake3 it indexed and the copy's
        references). The caller verifies. One FetchShare call, unless the peer lacks it."""
        if address not in self._streamed:
            try:
                answer = self._stubs(address).fetch_share(peer_pb2.FetchChunkRequest(share=share), timeout=timeout_s)
            except grpc.RpcError as err:
                if err.code() == grpc.StatusCode.UNIMPLEMENTED:
                    self._streamed.add(address)
                elif err.code() != grpc.StatusCode.RESOURCE_EXHAUSTED:  # too large for one message: stream
                    raise self._error(address, err) from None
            else:
                if answer.header.size_bytes != len(answer.data):
                    raise PeerError(address, grpc.StatusCode.DATA_LOSS,
                                    f"answer carried {len(answer.data)} of {answer.header.size_bytes} bytes")
                # Let go of the received message at once: gRPC's call state can outlive this call
                # until a garbage collection, and with it 4 MiB per fetch (a 1 GiB get's coordinator
                # peaked at 155-157 MiB instead of 145).
                data, answer.data = bytes(answer.data), b""
                return data, answer.header
        try:
            stream = self._stubs(address).fetch_chunk(
                peer_pb2.FetchChunkRequest(share=share), timeout=timeout_s)
            parts: list[memoryview] = []
            header = peer_pb2.FetchChunkHeader()
            size = -1
            for item in stream:
                if isinstance(item, memoryview):
                    parts.append(item)
                else:
                    header = item.header
                    size = header.size_bytes
        except grpc.RpcError as err:
            raise self._error(address, err) from None
        data = b"".join(parts)
        if size != len(data):
            raise PeerError(address, grpc.StatusCode.DATA_LOSS,
                            f"stream ended after {len(data)} of {size} bytes")
        return data, header

    def share_header(self, address: str, share: peer_pb2.ShareRef, timeout_s: float) -> peer_pb2.FetchChunkHeader:
        """The holder's header of a copy (size, blake3 it indexed, references) without its bytes."""
        try:
            stream = self._stubs(address).fetch_chunk(
                peer_pb2.FetchChunkRequest(share=share, header_only=True), timeout=timeout_s,
                )
            header = peer_pb2.FetchChunkHeader()
            for item in stream:
                if not isinstance(item, memoryview):
                    header = item.header
        except grpc.RpcError as err:
            raise self._error(address, err) from None
        return header

    def has_shares(self, address: str, shares: list[peer_pb2.ShareRef], timeout_s: float, *,
                   deep: bool = False, bandwidth_bytes_per_s: int = 0,
                   referenced_by: tuple[str, str] = ("", "")) -> list[bool]:
        request = peer_pb2.HasChunkRequest(shares=shares, deep=deep, bandwidth_bytes_per_s=bandwidth_bytes_per_s,
                                           referenced_by_tenant=referenced_by[0],
                                           referenced_by_bucket=referenced_by[1])
        reply = self._call(address, self._stubs(address).has_chunk,
                           request, timeout_s)
        return list(reply.present)

    def get_placement(self, address: str, chunk_id: bytes, data_shares: int, parity_shares: int,
                      timeout_s: float) -> common_pb2.PlacementRecord | None:
        request = peer_pb2.GetPlacementRequest(chunk_id=chunk_id, data_shares=data_shares,
                                               parity_shares=parity_shares)
        reply = self._call(address, self._stubs(address).get_placement,
                           request, timeout_s)
        return reply.placement if reply.found else None

    def release_share(self, address: str, share: peer_pb2.ShareRef, ref: common_pb2.ObjectRef,
                      timeout_s: float) -> tuple[bool, int]:
        reply = self._call(address, self._stubs(address).release_share,
                           peer_pb2.ReleaseShareRequest(share=share, ref=ref), timeout_s)
        return reply.deleted, reply.references_left

    def add_references(self, address: str, shares: list[peer_pb2.ShareRef], ref: common_pb2.ObjectRef,
                       timeout_s: float, only_if_bucket_refers: bool = False) -> list[bool]:
        request = peer_pb2.AddReferencesRequest(shares=shares, ref=ref, only_if_bucket_refers=only_if_bucket_refers)
        reply = self._call(address, self._stubs(address).add_references, request, timeout_s)
        return list(reply.held)

    def put_placement(self, address: str, record: common_pb2.PlacementRecord, timeout_s: float,
                      if_updated_at_unix_ms: int = 0) -> bool:
        reply = self._call(address, self._stubs(address).put_placement,
                           peer_pb2.PutPlacementRequest(placement=record,
                                                        if_updated_at_unix_ms=if_updated_at_unix_ms), timeout_s)
        return reply.applied

    # -- metadata -------------------------------------------------------------------------------

    def put_manifest(self, address: str, manifest: common_pb2.Manifest, handoff_for: str,
                     timeout_s: float, ring_fingerprint: int = 0) -> bool:
        """Store a manifest version on the peer (in one PutManifests call with others when it is busy);
        a home refuses it (ABORTED) when `ring_fingerprint` is set and is not its own ring's."""
        request = peer_pb2.PutManifestRequest(manifest=manifest, handoff_for_node_id=handoff_for,
                                              ring_fingerprint=ring_fingerprint)
        return self._queued(self._manifest_puts, address, (request, timeout_s)).superseded

    def get_manifest(self, address: str, tenant: str, bucket: str, key: str,
                     timeout_s: float, version_id: bytes | None = None) -> common_pb2.Manifest | None:
        """The peer's current version of a key, or (`version_id` given) its manifest of that version
        (in one GetManifests call with others when it is busy)."""
        request = peer_pb2.GetManifestRequest(tenant=tenant, bucket=bucket, key=key,
                                              by_version=version_id is not None, version_id=version_id or b"")
        reply = self._queued(self._manifest_gets, address, (request, timeout_s))
        return reply.manifest if reply.found else None

    @staticmethod
    def _queued(batcher: CallBatcher, address: str, item: tuple[object, float]):
        try:
            return batcher.call(address, item, timeout_s=item[1])
        except QueueTimeout as err:
            raise PeerError(address, grpc.StatusCode.DEADLINE_EXCEEDED, str(err)) from None

    def list_manifests(self, address: str, request: peer_pb2.ListManifestsRequest,
                       timeout_s: float) -> tuple[list[common_pb2.Manifest], bool]:
        reply = self._call(address, self._stubs(address).list_manifests,
                           request, timeout_s)
        return list(reply.manifests), reply.truncated

    def put_bucket(self, address: str, record: common_pb2.BucketRecord, timeout_s: float) -> bool:
        reply = self._call(address, self._stubs(address).put_bucket,
                           peer_pb2.PutBucketRecordRequest(bucket=record), timeout_s)
        return reply.superseded

    def list_buckets(self, address: str, tenant: str, timeout_s: float) -> list[common_pb2.BucketRecord]:
        reply = self._call(address, self._stubs(address).list_buckets,
                           peer_pb2.ListBucketRecordsRequest(tenant=tenant), timeout_s)
        return list(reply.buckets)

    def prepare_bucket(self, address: str, tenant: str, name: str, ballot: common_pb2.Ballot, timeout_s: float
                       ) -> tuple[bool, common_pb2.Ballot, common_pb2.BucketRecord | None]:
        reply = self._call(address, self._stubs(address).prepare_bucket,
                           peer_pb2.PrepareBucketRequest(tenant=tenant, name=name, ballot=ballot), timeout_s)
        return reply.promised, reply.promised_ballot, (reply.accepted if reply.found else None)

    def get_usage_breakdown(self, address: str, tenant: str, bucket: str, kind: str, timeout_s: float
                            ) -> tuple[common_pb2.UsageRecord, list[tuple[str, common_pb2.UsageRecord]]]:
        reply = self._call(address, self._stubs(address).get_usage_breakdown,
                           peer_pb2.GetUsageBreakdownRequest(tenant=tenant, bucket=bucket, kind=kind), timeout_s)
        return reply.usage, [(share.name, share.usage) for share in reply.shares]

    def read_changes(self, address: str, request: peer_pb2.ReadChangesRequest, timeout_s: float
                     ) -> peer_pb2.ReadChangesResponse:
        return self._call(address, self._stubs(address).read_changes, request, timeout_s)

    def get_dedup_savings(self, address: str, tenant: str, audit: bool, timeout_s: float
                          ) -> peer_pb2.GetDedupSavingsResponse:
        return self._call(address, self._stubs(address).get_dedup_savings,
                          peer_pb2.GetDedupSavingsRequest(tenant=tenant, audit=audit), timeout_s)

    def find_manifests(self, address: str, request: peer_pb2.FindManifestsRequest, timeout_s: float
                       ) -> tuple[list[tuple[bytes, common_pb2.Manifest]], bytes | None]:
        reply = self._call(address, self._stubs(address).find_manifests, request, timeout_s)
        return list(zip(reply.positions, reply.manifests)), (reply.next_after or None)

    def read_key_register(self, address: str, tenant: str, bucket: str, key: str, timeout_s: float
                          ) -> tuple[common_pb2.Ballot, common_pb2.KeyRegister | None]:
        reply = self._call(address, self._stubs(address).read_key_register,
                           peer_pb2.KeyRegisterRequest(tenant=tenant, bucket=bucket, key=key), timeout_s)
        return reply.promised_ballot, (reply.accepted if reply.found else None)

    def prepare_key_register(self, address: str, tenant: str, bucket: str, key: str, ballot: common_pb2.Ballot,
                             timeout_s: float) -> tuple[bool, common_pb2.Ballot, common_pb2.KeyRegister | None]:
        reply = self._call(address, self._stubs(address).prepare_key_register,
                           peer_pb2.KeyRegisterRequest(tenant=tenant, bucket=bucket, key=key, ballot=ballot), timeout_s)
        return reply.ok, reply.promised_ballot, (reply.accepted if reply.found else None)

    def accept_key_register(self, address: str, value: common_pb2.KeyRegister, timeout_s: float
                            ) -> tuple[bool, common_pb2.Ballot]:
        reply = self._call(address, self._stubs(address).accept_key_register,
                           peer_pb2.AcceptKeyRegisterRequest(register=value), timeout_s)
        return reply.ok, reply.promised_ballot

    def purge_tombstone(self, address: str, tombstone: common_pb2.Manifest, timeout_s: float) -> bool:
        reply = self._call(address, self._stubs(address).purge_tombstone,
                           peer_pb2.PurgeTombstoneRequest(tombstone=tombstone), timeout_s)
        return reply.purged

    def get_usage(self, address: str, tenant: str, bucket: str, timeout_s: float) -> common_pb2.UsageRecord:
        reply = self._call(address, self._stubs(address).get_usage,
                           peer_pb2.GetUsageRecordRequest(tenant=tenant, bucket=bucket), timeout_s)
        return reply.usage

    def reserve_quota(self, address: str, request: peer_pb2.ReserveQuotaRequest,
                      timeout_s: float) -> peer_pb2.ReserveQuotaResponse:
        return self._call(address, self._stubs(address).reserve_quota, request, timeout_s)

    def release_quota(self, address: str, hold_id: str, timeout_s: float) -> bool:
        reply = self._call(address, self._stubs(address).release_quota,
                           peer_pb2.ReleaseQuotaRequest(hold_id=hold_id), timeout_s)
        return reply.released

    def forget_bucket(self, address: str, tenant: str, name: str, timeout_s: float) -> None:
        self._call(address, self._stubs(address).forget_bucket,
                   peer_pb2.ForgetBucketRequest(tenant=tenant, name=name), timeout_s)

    def read_bucket(self, address: str, tenant: str, name: str, timeout_s: float
                    ) -> tuple[common_pb2.Ballot, common_pb2.BucketRecord | None]:
        reply = self._call(address, self._stubs(address).read_bucket,
                           peer_pb2.ReadBucketRequest(tenant=tenant, name=name), timeout_s)
        return reply.promised_ballot, (reply.accepted if reply.found else None)

    def accept_bucket(self, address: str, record: common_pb2.BucketRecord, timeout_s: float
                      ) -> tuple[bool, common_pb2.Ballot]:
        reply = self._call(address, self._stubs(address).accept_bucket,
                           peer_pb2.AcceptBucketRequest(bucket=record), timeout_s)
        return reply.accepted, reply.promised_ballot

    # -- admin ----------------------------------------------------------------------------------

    def admin_call(self, address: str, name: str, request, response_cls, timeout_s: float):
        """One unary AdminService call on another node (a cluster-wide status asks every member)."""
        path = ADMIN_SERVICE + name
        stub = self._stubs(address).admin(path, type(request), response_cls)
        return self._call(address, stub, request, timeout_s)

    # -- membership -----------------------------------------------------------------------------

    def membership_call(self, address: str, name: str, request, timeout_s: float):
        """One MembershipService call by method name (Heartbeat, Gossip, SyncState, ...)."""
        stub = {
            "Heartbeat": "heartbeat", "IndirectProbe": "indirect_probe", "Ping": "ping",
            "Gossip": "gossip", "SyncState": "sync_state", "SyncDigest": "sync_digest", "Join": "join",
        }[name]
        return self._call(address, getattr(self._stubs(address), stub),
                          request, timeout_s)
