"""An in-memory ObjectService and AdminService on a real gRPC server, for tests of nodectl and its users.

Tests of the client and the CLI need a node that speaks the wire contract, answers with real gRPC
statuses and can be made to fail on cue, long before (and much faster than) a real cluster. This
is that node: a `grpc.server` on 127.0.0.1:0 serving the generated servicers, with objects in a
dict and a queue of injected failures per method. It uses only the wire contract, so it also
checks that the client's hand-framed streams are ordinary protobuf to a generated server.

Redundancy: policies are checked for shape only (replicas >= 1; K >= 1, M >= 1, K+M <= 32), not
against live nodes. StatObject names one holder per copy (replication) or per share (erasure
coding), cycling through the members, and reports physical_bytes from them; share hashes are
placeholders (blake3 of the chunk and the share index), not real zfec shares. ConvertObject
streams a 0-of-N progress message, one per chunk, then the result, and bumps the version's
`rewrite`; converting to the current policy answers `unchanged` at once. Knobs:
`convert_break_after_chunks` (UNAVAILABLE mid-stream), `convert_stall_s` (a slow last step),
`convert_copies_not_reached` and `stat_handoffs` (share index -> the node it stands in for).

Rejected alternative: mocking grpc's channel or stubs. That would test our calls against our own
idea of gRPC (deadlines, cancellation, status details, stream framing), which is exactly what
these tests exist to check.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Iterator
from concurrent import futures
from typing import Any

import blake3
import grpc
from ringstore.v1 import (
    admin_pb2,
    admin_pb2_grpc,
    common_pb2,
    membership_pb2,
    object_pb2,
    object_pb2_grpc,
)

KIB = 1024
MIB = 1024 * KIB
# Handler threads of the fake server.
WORKERS_MAX = 8
# Largest message the fake server accepts or sends (the node's limit plus headroom).
GRPC_MESSAGE_BYTES_MAX = 8 * MIB + 64 * KIB
# Chunk size the fake reports in StatObject.
CHUNK_SIZE_BYTES = 4 * MIB
# Objects up to this size are reported as inline.
INLINE_MAX_BYTES = 4 * KIB
# Injected failures queued per method at most.
FAULTS_PER_METHOD_MAX = 100
# Most shares of one erasure-coded stripe, as the wire contract states it.
EC_SHARES_MAX = 32
# Longest convert_stall_s honoured, so a forgotten knob cannot hang a test run.
CONVERT_STALL_S_MAX = 30.0
# Step of the stall's wait: how soon a cancelled stream is noticed.
CONVERT_STALL_STEP_S = 0.02


def policy_problem(policy: common_pb2.RedundancyPolicy) -> str | None:
    """Why a set policy is malformed (the node's wording), or None when its shape is fine."""
    which = policy.WhichOneof("policy")
    if which == "replication" and policy.replication.replicas < 1:
        return f"replicas={policy.replication.replicas} is invalid: at least 1 copy is needed"
    if which == "erasure_coding":
        k, m = policy.erasure_coding.data_shares, policy.erasure_coding.parity_shares
        if k < 1 or m < 1:
            return f"ec={k}+{m} is invalid: K and M must be at least 1"
        if k + m > EC_SHARES_MAX:
            return f"ec={k}+{m} is invalid: K+M is {k + m}; the limit is {EC_SHARES_MAX}"
    return None


def holders_per_chunk(policy: common_pb2.RedundancyPolicy) -> int:
    """Copies (replication) or shares (erasure coding) stored per chunk; 1 when unset."""
    if policy.WhichOneof("policy") == "erasure_coding":
        return policy.erasure_coding.data_shares + policy.erasure_coding.parity_shares
    return policy.replication.replicas or 1


def share_size_bytes(policy: common_pb2.RedundancyPolicy, chunk_size_bytes: int) -> int:
    """Bytes one copy or share of a chunk takes: the chunk, or a K-th of it rounded up."""
    if policy.WhichOneof("policy") == "erasure_coding":
        return -(-chunk_size_bytes // policy.erasure_coding.data_shares)
    return chunk_size_bytes


def _member(node_id: str, port: int, state: int = membership_pb2.MEMBER_STATE_ALIVE,
            zone: str = "") -> admin_pb2.MemberStatus:
    return admin_pb2.MemberStatus(
        member=membership_pb2.Member(
            node_id=node_id, address=f"127.0.0.1:{port}", zone=zone, capacity_bytes=100 * MIB,
            generation=1_700_000_000_000, incarnation=0, state=state, free_bytes=50 * MIB,
            metrics_port=0),
        ring_share=0.0, state_age_s=12.5)


class FakeNode(object_pb2_grpc.ObjectServiceServicer, admin_pb2_grpc.AdminServiceServicer):
    """The fake's state and handlers. Use through FakeServer."""

    def __init__(self, *, frame_size_bytes: int = 64 * KIB, default_replicas: int = 3) -> None:
        self.lock = threading.Lock()
        self.frame_size_bytes = frame_size_bytes
        self.default_replicas = default_replicas
        self.buckets: dict[str, common_pb2.BucketRecord] = {}
        self.objects: dict[tuple[str, str], tuple[object_pb2.ObjectInfo, bytes]] = {}
        self.members: list[admin_pb2.MemberStatus] = [
            _member("node-a", 7401, zone="z1"),
            _member("node-b", 7402, zone="z2"),
            _member("node-c", 7403, state=membership_pb2.MEMBER_STATE_DOWN, zone="z3"),
        ]
        for m in self.members:
            m.ring_share = 1 / len(self.members)
        self.members[0].chunks_stored = 7
        self.members[0].bytes_stored = 7 * CHUNK_SIZE_BYTES
        self.calls: list[str] = []
        self.put_headers: list[object_pb2.PutObjectHeader] = []
        self.get_requests: list[object_pb2.GetObjectRequest] = []
        self._faults: dict[str, collections.deque[tuple[grpc.StatusCode, str]]] = {}
        # Break the next GetObject stream with UNAVAILABLE after this many payload bytes.
        self.get_break_after_bytes: int | None = None
        self.convert_requests: list[object_pb2.ConvertObjectRequest] = []
        # Break the next ConvertObject stream with UNAVAILABLE after this many chunks' progress.
        self.convert_break_after_chunks: int | None = None
        # Seconds every ConvertObject waits after its last chunk, before the result.
        self.convert_stall_s = 0.0
        # Old copies a conversion reports as not reached (the rest are released).
        self.convert_copies_not_reached = 0
        # StatObject: share index -> the node the holder of that index stands in for.
        self.stat_handoffs: dict[int, str] = {}
        self._clock_ms = 1_700_000_000_000

    # -- fault injection ---------------------------------------------------------------------

    def fail_next(self, method: str, code: grpc.StatusCode, message: str, times: int = 1) -> None:
        """Make the next `times` calls of `method` (e.g. "PutObject") fail with code and message."""
        with self.lock:
            queue = self._faults.setdefault(method, collections.deque())
            assert len(queue) + times <= FAULTS_PER_METHOD_MAX, "too many faults queued"
            queue.extend([(code, message)] * times)

    def _enter(self, method: str, context: grpc.ServicerContext) -> None:
        with self.lock:
            self.calls.append(method)
            queue = self._faults.get(method)
            fault = queue.popleft() if queue else None
        if fault is not None:
            context.abort(fault[0], fault[1])

    def _next_stamp(self) -> common_pb2.VersionStamp:
        with self.lock:
            self._clock_ms += 1
            return common_pb2.VersionStamp(physical_ms=self._clock_ms, logical=0, node_id="node-a")

    # -- ObjectService -----------------------------------------------------------------------

    def CreateBucket(self, request: Any, context: grpc.ServicerContext) -> Any:
        self._enter("CreateBucket", context)
        with self.lock:
            if request.bucket in self.buckets:
                context.abort(grpc.StatusCode.ALREADY_EXISTS,
                              f"bucket {request.bucket!r} already exists")
            problem = policy_problem(request.default_policy)
            if problem is not None:
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)
            policy = common_pb2.RedundancyPolicy()
            policy.CopyFrom(request.default_policy)
            if not policy.WhichOneof("policy"):
                policy.replication.replicas = self.default_replicas
            record = common_pb2.BucketRecord(
                format_version=1, tenant="default", name=request.bucket, default_policy=policy,
                created_at_unix_ms=self._clock_ms)
            self.buckets[request.bucket] = record
        return object_pb2.CreateBucketResponse(bucket=record)

    def DeleteBucket(self, request: Any, context: grpc.ServicerContext) -> Any:
        self._enter("DeleteBucket", context)
        with self.lock:
            self._require_bucket(request.bucket, context)
            count = sum(1 for (bucket, _) in self.objects if bucket == request.bucket)
            if count:
                context.abort(grpc.StatusCode.FAILED_PRECONDITION,
                              f"bucket {request.bucket!r} is not empty: {count} objects")
            del self.buckets[request.bucket]
        return object_pb2.DeleteBucketResponse()

    def ListBuckets(self, request: Any, context: grpc.ServicerContext) -> Any:
        self._enter("ListBuckets", context)
        with self.lock:
            records = [self.buckets[name] for name in sorted(self.buckets)]
        return object_pb2.ListBucketsResponse(buckets=records)

    def PutObject(self, request_iterator: Iterator[Any], context: grpc.ServicerContext) -> Any:
        self._enter("PutObject", context)
        first = next(request_iterator, None)
        if first is None or first.WhichOneof("msg") != "header":
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "the first message must be a header")
        header = first.header
        problem = policy_problem(header.policy)
        if problem is not None:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)
        with self.lock:
            self.put_headers.append(header)
            self._require_bucket(header.bucket, context)
            bucket_policy = self.buckets[header.bucket].default_policy
        parts = []
        end = None
        for message in request_iterator:
            kind = message.WhichOneof("msg")
            if kind == "data" and end is None:
                parts.append(message.data)
            elif kind == "end" and end is None:
                end = message.end
            else:
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, "header, data, then one end message")
        data = b"".join(parts)
        # Like the real node: a stream without its end message was interrupted, however it closed.
        if end is None:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                          "the PutObject stream stopped without its end message; nothing was stored")
        if end.size_bytes != len(data) or (end.blake3 and end.blake3 != blake3.blake3(data).digest()):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "the end message disagrees with the data")
        if header.HasField("size_bytes") and header.size_bytes != len(data):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                          f"stream carried {len(data)} bytes; header said {header.size_bytes}")
        policy = header.policy if header.policy.WhichOneof("policy") else bucket_policy
        inline = len(data) <= INLINE_MAX_BYTES
        info = object_pb2.ObjectInfo(
            bucket=header.bucket, key=header.key, size_bytes=len(data),
            blake3=blake3.blake3(data).digest(), version=self._next_stamp(),
            content_type=header.content_type, metadata=dict(header.metadata), policy=policy,
            chunk_count=0 if inline else -(-len(data) // CHUNK_SIZE_BYTES),
            created_at_unix_ms=self._clock_ms, inline=inline)
        with self.lock:
            self.objects[(header.bucket, header.key)] = (info, data)
        return object_pb2.PutObjectResponse(object=info)

    def GetObject(self, request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        self._enter("GetObject", context)
        with self.lock:
            self.get_requests.append(request)
            info, data = self._require_object(request.bucket, request.key, context)
            break_after = self.get_break_after_bytes
            self.get_break_after_bytes = None
        start = request.range_start_bytes if request.HasField("range_start_bytes") else 0
        if start and start >= len(data):
            context.abort(grpc.StatusCode.OUT_OF_RANGE,
                          f"range start {start} is past the end of the object "
                          f"({len(data)} bytes)")
        end = len(data)
        if request.HasField("range_length_bytes"):
            end = min(end, start + request.range_length_bytes)
        yield object_pb2.GetObjectResponse(info=object_pb2.GetObjectInfo(
            object=info, range_start_bytes=start, range_length_bytes=end - start))
        sent = 0
        for offset in range(start, end, self.frame_size_bytes):
            if break_after is not None and sent >= break_after:
                context.abort(grpc.StatusCode.UNAVAILABLE, "node-b went away mid-stream")
            frame = data[offset:min(end, offset + self.frame_size_bytes)]
            sent += len(frame)
            yield object_pb2.GetObjectResponse(data=frame)

    def StatObject(self, request: Any, context: grpc.ServicerContext) -> Any:
        self._enter("StatObject", context)
        with self.lock:
            info, data = self._require_object(request.bucket, request.key, context)
            members = list(self.members)
            handoffs = dict(self.stat_handoffs)
        chunks = []
        physical_bytes = 0
        count = holders_per_chunk(info.policy)
        erasure = info.policy.WhichOneof("policy") == "erasure_coding"
        for offset in range(0, 0 if info.inline else len(data), CHUNK_SIZE_BYTES):
            chunk = data[offset:offset + CHUNK_SIZE_BYTES]
            chunk_id = blake3.blake3(chunk).digest()
            holders = []
            for i in range(count):
                m = members[i % len(members)]
                holders.append(object_pb2.HolderStatus(
                    holder=common_pb2.ShareHolder(node_id=m.member.node_id, share_index=i,
                                                  handoff_for_node_id=handoffs.get(i, "")),
                    state=membership_pb2.MemberState.Name(m.member.state).removeprefix(
                        "MEMBER_STATE_")))
            shares = [blake3.blake3(chunk_id + bytes([i])).digest()
                      for i in range(count)] if erasure else []
            physical_bytes += share_size_bytes(info.policy, len(chunk)) * count
            chunks.append(object_pb2.ChunkPlacement(
                chunk=common_pb2.ChunkRef(chunk_id=chunk_id, size_bytes=len(chunk),
                                          offset_bytes=offset, share_blake3=shares),
                holders=holders))
        return object_pb2.StatObjectResponse(object=info, chunks=chunks,
                                             physical_bytes=physical_bytes)

    def ListObjects(self, request: Any, context: grpc.ServicerContext) -> Any:
        self._enter("ListObjects", context)
        page_size = request.page_size or 1000
        if page_size > 10_000:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"page_size {page_size} > 10000")
        with self.lock:
            self._require_bucket(request.bucket, context)
            keys = sorted(key for (bucket, key) in self.objects
                          if bucket == request.bucket and key.startswith(request.prefix)
                          and key > request.page_token)
            page = keys[:page_size]
            infos = [self.objects[(request.bucket, key)][0] for key in page]
        token = page[-1] if len(keys) > page_size else ""
        return object_pb2.ListObjectsResponse(objects=infos, next_page_token=token)

    def DeleteObject(self, request: Any, context: grpc.ServicerContext) -> Any:
        self._enter("DeleteObject", context)
        with self.lock:
            self._require_object(request.bucket, request.key, context)
            del self.objects[(request.bucket, request.key)]
        return object_pb2.DeleteObjectResponse(version=self._next_stamp())

    def ConvertObject(self, request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        self._enter("ConvertObject", context)
        if not request.policy.WhichOneof("policy"):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "convert needs a target policy")
        problem = policy_problem(request.policy)
        if problem is not None:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)
        with self.lock:
            self.convert_requests.append(request)
            info, data = self._require_object(request.bucket, request.key, context)
            break_after = self.convert_break_after_chunks
            self.convert_break_after_chunks = None
            stall_s = min(self.convert_stall_s, CONVERT_STALL_S_MAX)
            not_reached_max = self.convert_copies_not_reached
        if info.policy == request.policy:
            yield object_pb2.ConvertObjectResponse(
                result=object_pb2.ConvertResult(object=info, unchanged=True))
            return
        sizes = [] if info.inline else [
            min(CHUNK_SIZE_BYTES, len(data) - offset)
            for offset in range(0, len(data), CHUNK_SIZE_BYTES)]
        done_bytes = 0
        yield object_pb2.ConvertObjectResponse(progress=object_pb2.ConvertProgress(
            chunks_done=0, chunks_total=len(sizes), bytes_done=0, bytes_total=len(data)))
        for index, size in enumerate(sizes):
            if break_after is not None and index >= break_after:
                context.abort(grpc.StatusCode.UNAVAILABLE, "node-b went away mid-convert")
            done_bytes += size
            yield object_pb2.ConvertObjectResponse(progress=object_pb2.ConvertProgress(
                chunks_done=index + 1, chunks_total=len(sizes), bytes_done=done_bytes,
                bytes_total=len(data)))
        waited_s = 0.0
        while waited_s < stall_s and context.is_active():
            time.sleep(CONVERT_STALL_STEP_S)
            waited_s += CONVERT_STALL_STEP_S
        old_copies = len(sizes) * holders_per_chunk(info.policy)
        not_reached = min(not_reached_max, old_copies)
        converted = object_pb2.ObjectInfo()
        converted.CopyFrom(info)
        converted.policy.CopyFrom(request.policy)
        converted.version.rewrite += 1
        with self.lock:
            if self.objects.get((request.bucket, request.key), (None,))[0] is info:
                self.objects[(request.bucket, request.key)] = (converted, data)
        yield object_pb2.ConvertObjectResponse(result=object_pb2.ConvertResult(
            object=converted, copies_released=old_copies - not_reached,
            copies_still_referenced=0, copies_not_reached=not_reached))

    # -- AdminService ------------------------------------------------------------------------

    def GetClusterStatus(self, request: Any, context: grpc.ServicerContext) -> Any:
        self._enter("GetClusterStatus", context)
        with self.lock:
            members = list(self.members)
        alive = all(m.member.state == membership_pb2.MEMBER_STATE_ALIVE for m in members)
        return admin_pb2.GetClusterStatusResponse(
            node_id="node-a", members=members, health="healthy" if alive else "degraded",
            default_policy=common_pb2.RedundancyPolicy(
                replication=common_pb2.Replication(replicas=self.default_replicas)),
            metadata_replicas=3, repair_debt_chunks=5, software_version="0.1.0-fake")

    def GetRing(self, request: Any, context: grpc.ServicerContext) -> Any:
        self._enter("GetRing", context)
        with self.lock:
            ids = [m.member.node_id for m in self.members]
        tokens = [admin_pb2.RingToken(token=(i + 1) * 2**62, node_id=node_id)
                  for i, node_id in enumerate(ids)]
        return admin_pb2.GetRingResponse(
            tokens=tokens, ownership={node_id: 1 / len(ids) for node_id in ids})

    # -- helpers (call with the lock held) ---------------------------------------------------

    def _require_bucket(self, bucket: str, context: grpc.ServicerContext) -> None:
        if bucket not in self.buckets:
            context.abort(grpc.StatusCode.NOT_FOUND, f"bucket {bucket!r} not found")

    def _require_object(self, bucket: str, key: str,
                        context: grpc.ServicerContext) -> tuple[object_pb2.ObjectInfo, bytes]:
        self._require_bucket(bucket, context)
        found = self.objects.get((bucket, key))
        if found is None:
            context.abort(grpc.StatusCode.NOT_FOUND, f"object {bucket}/{key} not found")
        return found


class FakeServer:
    """A FakeNode served on 127.0.0.1 with a free port; a context manager that stops it on exit."""

    def __init__(self, node: FakeNode | None = None) -> None:
        self.node = node if node is not None else FakeNode()
        self._server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=WORKERS_MAX, thread_name_prefix="fake-node"),
            options=[
                ("grpc.max_send_message_length", GRPC_MESSAGE_BYTES_MAX),
                ("grpc.max_receive_message_length", GRPC_MESSAGE_BYTES_MAX),
            ],
        )
        object_pb2_grpc.add_ObjectServiceServicer_to_server(self.node, self._server)
        admin_pb2_grpc.add_AdminServiceServicer_to_server(self.node, self._server)
        self.port = self._server.add_insecure_port("127.0.0.1:0")
        self.address = f"127.0.0.1:{self.port}"

    def start(self) -> FakeServer:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop(grace=None).wait()

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
