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

Repair, fsck and scrub answer with canned data that tests set: `repair_nodes` and `scrub_nodes`
(one wire status per node; `this_node_only` keeps the answering node's, "node-a"), `unreachable`
(members that "did not answer" a fan-out), and for Fsck `fsck_progress`, `fsck_findings` (only
the asked bucket's are sent) and `fsck_summary`, sent in that order, with `fsck_message_gap_s`
(a slow audit), `fsck_stall_s` (silence before the summary) and `fsck_break_after_findings`.
SetRepairConfig writes the throttles into those canned statuses and StartScrub marks the
answering nodes running, so a test sees its change come back. Every admin request is kept in
`admin_requests`.

Node operations act on the membership records in `members` (so `status` shows their flags) and
on `node_holdings` (per node: copies, bytes, records and disk, as the node would report them).
Like a real node, GetNodeStatus of a member that is not ALIVE answers with its record alone and
no counts, and DrainNode and SetMaintenance refuse such a member (FAILED_PRECONDITION) or an
unknown one (NOT_FOUND). A drain is scripted: every GetNodeStatus of a draining node is one step
of `drain_polls_to_left`, its counts fall linearly from where they were when the drain started
(bytes with the copies), and at the last step the node holds nothing and turns LEFT (None: the
drain never progresses). Maintenance windows count from `now_unix_ms`, the fake's wall clock.
PlanRing answers the canned `ring_plan`, with `unreachable` unless `this_node_only`, after the
node's own checks of the change (a drain of a non-member or an add of a member is
FAILED_PRECONDITION).

It lives beside the unit tests that use it (`from nodectl_fakes import FakeServer`, the way
integration tests import `cluster_checks`), not in the shipped `nodectl` package: it is test code,
and an installed nodectl has no use for it.

Rejected alternative: mocking grpc's channel or stubs. That would test our calls against our own
idea of gRPC (deadlines, cancellation, status details, stream framing), which is exactly what
these tests exist to check.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable, Iterator
from concurrent import futures
from typing import Any

import blake3
import grpc
from click.testing import CliRunner
from ringstore.frames import INFO_DATA_BYTES_MAX
from ringstore.v1 import (
    admin_pb2,
    admin_pb2_grpc,
    common_pb2,
    membership_pb2,
    object_pb2,
    object_pb2_grpc,
)

from nodectl.cli import Clock, main

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
# Longest stall or gap honoured (convert_stall_s, fsck_*_s), so a forgotten knob cannot hang a
# test run.
STALL_S_MAX = 30.0
# Step of a stall's wait: how soon a cancelled stream is noticed.
STALL_STEP_S = 0.02
# The node the fake answers as; the one `this_node_only` keeps.
ANSWERING_NODE_ID = "node-a"
# Longest maintenance window, as nodes enforce it.
MAINTENANCE_S_MAX = 7 * 24 * 3600
# GetNodeStatus polls a scripted drain takes to reach LEFT, unless a test sets another number.
DRAIN_POLLS_TO_LEFT = 3


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


def _holdings(node_id: str, shares: int, *, metadata_records: int = 0,
              placement_records: int = 0, tombstones: int = 0, oldest_tombstone_age_s: float = 0.0,
              master_key_ids: tuple[str, ...] = ()) -> admin_pb2.NodeStatus:
    """What a node reports holding: `shares` chunk copies of CHUNK_SIZE_BYTES on a 100 MiB disk
    with half of it free, full at 90 % used or under 5 MiB free."""
    return admin_pb2.NodeStatus(
        node_id=node_id, shares_stored=shares, bytes_stored=shares * CHUNK_SIZE_BYTES,
        metadata_records=metadata_records, placement_records=placement_records,
        disk_size_bytes=100 * MIB, disk_free_bytes=50 * MIB, disk_full_ratio=0.9,
        disk_free_bytes_min=5 * MIB, tombstones_held=tombstones, oldest_tombstone_age_s=oldest_tombstone_age_s,
        master_key_ids=list(master_key_ids))


def _repair_node(node_id: str) -> admin_pb2.NodeRepairStatus:
    """A node at full redundancy that finished a scan, with the default throttles."""
    return admin_pb2.NodeRepairStatus(
        node_id=node_id, eta_s=0.0, last_scan_unix_ms=1_700_000_000_000, last_scan_s=0.5,
        chunks_responsible=100, repair_bandwidth_bytes_per_s=200 * MIB, repair_concurrency_max=4)


def _idle(context: grpc.ServicerContext, seconds: float) -> None:
    """Wait up to `seconds` (at most STALL_S_MAX), less if the client goes away."""
    waited_s = 0.0
    while waited_s < min(seconds, STALL_S_MAX) and context.is_active():
        time.sleep(STALL_STEP_S)
        waited_s += STALL_STEP_S


def _answering(nodes: list[Any], this_node_only: bool) -> list[Any]:
    """The canned per-node entries a fan-out answers with: all, or only the answering node's."""
    return [n for n in nodes if not this_node_only or n.node_id == ANSWERING_NODE_ID]


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
        # request_id of every CreateBucket and DeleteBucket call, failed ones included, in order.
        self.bucket_request_ids: list[str] = []
        self.put_headers: list[object_pb2.PutObjectHeader] = []
        self.get_requests: list[object_pb2.GetObjectRequest] = []
        self._faults: dict[str, collections.deque[tuple[grpc.StatusCode, str]]] = {}
        # Seconds a method (e.g. "ListBuckets") waits before answering, at most STALL_S_MAX and
        # less when the client goes away: to run a client into its deadline.
        self.stall_s: dict[str, float] = {}
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
        # Every AdminService request for repair, fsck and scrub, in arrival order.
        self.admin_requests: list[Any] = []
        # GetRepairStatus: one status per node that answers, sorted by node id.
        self.repair_nodes: list[admin_pb2.NodeRepairStatus] = [
            _repair_node("node-a"), _repair_node("node-b")]
        # GetScrubStatus: one status per node that answers, sorted by node id.
        self.scrub_nodes: list[admin_pb2.NodeScrubStatus] = [
            admin_pb2.NodeScrubStatus(node_id=node_id, scrub_bandwidth_bytes_per_s=20 * MIB)
            for node_id in ("node-a", "node-b")]
        # ALIVE members that did not answer a fan-out, each "node-id: reason".
        self.unreachable: list[str] = []
        # Fsck sends these progress messages, then the findings of the asked bucket, then this
        # summary (as set: the fake does not count).
        self.fsck_progress: list[admin_pb2.FsckProgress] = []
        # FsckFinding (a chunk) or FsckMetadataFinding (a metadata replica), sent in list order.
        self.fsck_findings: list[admin_pb2.FsckFinding | admin_pb2.FsckMetadataFinding | admin_pb2.FsckUsageFinding] = []
        self.fsck_summary = admin_pb2.FsckSummary()
        # Seconds Fsck waits before each message but the summary, and before the summary.
        self.fsck_message_gap_s = 0.0
        self.fsck_stall_s = 0.0
        # Break the next Fsck stream with UNAVAILABLE after this many findings.
        self.fsck_break_after_findings: int | None = None
        # The fake's wall clock (Unix ms) for maintenance windows; tests move it.
        self.now_unix_ms = 1_700_000_000_000
        # Per node id: what GetNodeStatus reports the node holds (its member record is added
        # from `members` when answering).
        self.node_holdings: dict[str, admin_pb2.NodeStatus] = {
            "node-a": _holdings("node-a", 7, metadata_records=2, placement_records=3),
            "node-b": _holdings("node-b", 120, metadata_records=12, placement_records=30, tombstones=4,
                                master_key_ids=("mk-00000000000000aa", "mk-00000000000000bb"),
                                oldest_tombstone_age_s=3 * 86400 + 7200),
            "node-c": _holdings("node-c", 40, metadata_records=4, placement_records=10),
        }
        # True: answer PutSmallObject UNIMPLEMENTED, as a node from before it existed does.
        self.small_put_unimplemented = False
        # True: put a small range in the info message when the client allows it, as a node does.
        self.info_carries_data = False
        # False: answer OpenObject UNIMPLEMENTED, as a node from before it existed does.
        self.open_object = True
        # Every OpenObject request, in arrival order.
        self.open_requests: list[object_pb2.GetObjectRequest] = []
        # GetNodeStatus polls from the start of a drain to LEFT; None: the drain never moves.
        self.drain_polls_to_left: int | None = DRAIN_POLLS_TO_LEFT
        # Per draining node: its holdings when the drain started and the polls since.
        self._drains: dict[str, tuple[admin_pb2.NodeStatus, int]] = {}
        # PlanRing's answer (before `unreachable` is added).
        self.ring_plan = admin_pb2.PlanRingResponse(node_ids=["node-a", "node-b"])

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
            stall_s = self.stall_s.get(method, 0.0)
        if fault is not None:
            context.abort(fault[0], fault[1])
        _idle(context, stall_s)

    def _next_stamp(self) -> common_pb2.VersionStamp:
        with self.lock:
            self._clock_ms += 1
            return common_pb2.VersionStamp(physical_ms=self._clock_ms, logical=0,
                                           node_id=ANSWERING_NODE_ID)

    # -- ObjectService -----------------------------------------------------------------------

    def CreateBucket(self, request: Any, context: grpc.ServicerContext) -> Any:
        with self.lock:
            self.bucket_request_ids.append(request.request_id)
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
        with self.lock:
            self.bucket_request_ids.append(request.request_id)
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
        # Like the real node: a stream without its end message was interrupted, however it closed.
        if end is None:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                          "the PutObject stream stopped without its end message; nothing was stored")
        return self._store(first.header, b"".join(parts), end, context)

    def PutSmallObject(self, request: Any, context: grpc.ServicerContext) -> Any:
        if self.small_put_unimplemented:  # a node from before the call existed
            with self.lock:
                self.calls.append("PutSmallObject")
            context.abort(grpc.StatusCode.UNIMPLEMENTED, "Method not found!")
        self._enter("PutSmallObject", context)
        return self._store(request.header, request.data, request.end, context)

    def _store(self, header: Any, data: bytes, end: Any, context: grpc.ServicerContext) -> Any:
        problem = policy_problem(header.policy)
        if problem is not None:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)
        with self.lock:
            self.put_headers.append(header)
            self._require_bucket(header.bucket, context)
            bucket_policy = self.buckets[header.bucket].default_policy
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

    def _range(self, request: Any, data: bytes, context: grpc.ServicerContext) -> tuple[int, int]:
        start = request.range_start_bytes if request.HasField("range_start_bytes") else 0
        if request.HasField("range_start_bytes") and start >= len(data):
            context.abort(grpc.StatusCode.OUT_OF_RANGE,
                          f"range start {start} is past the end of the object "
                          f"({len(data)} bytes)")
        end = len(data)
        if request.HasField("range_length_bytes"):
            end = min(end, start + request.range_length_bytes)
        return start, end

    def OpenObject(self, request: Any, context: grpc.ServicerContext) -> Any:
        if not self.open_object:
            context.abort(grpc.StatusCode.UNIMPLEMENTED, "Method not found!")
        self._enter("OpenObject", context)
        with self.lock:
            self.open_requests.append(request)
            info, data = self._require_object(request.bucket, request.key, context)
        start, end = self._range(request, data, context)
        head = object_pb2.GetObjectInfo(object=info, range_start_bytes=start, range_length_bytes=end - start)
        if end - start <= INFO_DATA_BYTES_MAX:
            head.data = data[start:end]
        return object_pb2.OpenObjectResponse(info=head, streamed=end - start > INFO_DATA_BYTES_MAX)

    def GetObject(self, request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        self._enter("GetObject", context)
        with self.lock:
            self.get_requests.append(request)
            info, data = self._require_object(request.bucket, request.key, context)
            break_after = self.get_break_after_bytes
            self.get_break_after_bytes = None
        start, end = self._range(request, data, context)
        head = object_pb2.GetObjectInfo(object=info, range_start_bytes=start, range_length_bytes=end - start)
        if self.info_carries_data and request.info_may_carry_data and end - start <= INFO_DATA_BYTES_MAX:
            head.data = data[start:end]  # as a node does for a small range: no data messages follow
            start = end
        yield object_pb2.GetObjectResponse(info=head)
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
            stall_s = self.convert_stall_s
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
        _idle(context, stall_s)
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
            node_id=ANSWERING_NODE_ID, members=members, health="healthy" if alive else "degraded",
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

    def GetRepairStatus(self, request: Any, context: grpc.ServicerContext) -> Any:
        self._enter("GetRepairStatus", context)
        with self.lock:
            self.admin_requests.append(request)
            return admin_pb2.GetRepairStatusResponse(
                nodes=_answering(self.repair_nodes, request.this_node_only),
                unreachable=[] if request.this_node_only else self.unreachable)

    def SetRepairConfig(self, request: Any, context: grpc.ServicerContext) -> Any:
        self._enter("SetRepairConfig", context)
        with self.lock:
            self.admin_requests.append(request)
            repair_nodes = _answering(self.repair_nodes, request.this_node_only)
            for node in repair_nodes:
                if request.HasField("repair_bandwidth_bytes_per_s"):
                    node.repair_bandwidth_bytes_per_s = request.repair_bandwidth_bytes_per_s
                if request.HasField("repair_concurrency_max"):
                    node.repair_concurrency_max = request.repair_concurrency_max
            for scrub_node in _answering(self.scrub_nodes, request.this_node_only):
                if request.HasField("scrub_bandwidth_bytes_per_s"):
                    scrub_node.scrub_bandwidth_bytes_per_s = request.scrub_bandwidth_bytes_per_s
            return admin_pb2.SetRepairConfigResponse(
                node_ids=[n.node_id for n in repair_nodes],
                unreachable=[] if request.this_node_only else self.unreachable)

    def Fsck(self, request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        self._enter("Fsck", context)
        with self.lock:
            self.admin_requests.append(request)
            if request.bucket:
                self._require_bucket(request.bucket, context)
            progress = [admin_pb2.FsckResponse(progress=p) for p in self.fsck_progress]
            findings = [admin_pb2.FsckResponse(metadata_finding=f)
                        if isinstance(f, admin_pb2.FsckMetadataFinding)
                        else admin_pb2.FsckResponse(usage_finding=f) if isinstance(f, admin_pb2.FsckUsageFinding)
                        else admin_pb2.FsckResponse(finding=f)
                        for f in self.fsck_findings if not request.bucket or f.bucket == request.bucket]
            summary = admin_pb2.FsckResponse(summary=self.fsck_summary)
            gap_s, stall_s = self.fsck_message_gap_s, self.fsck_stall_s
            break_after = self.fsck_break_after_findings
            self.fsck_break_after_findings = None
        for message in progress:
            _idle(context, gap_s)
            yield message
        for index, message in enumerate(findings):
            if break_after is not None and index >= break_after:
                context.abort(grpc.StatusCode.UNAVAILABLE, "node-b went away mid-fsck")
            _idle(context, gap_s)
            yield message
        _idle(context, stall_s)
        yield summary

    def StartScrub(self, request: Any, context: grpc.ServicerContext) -> Any:
        self._enter("StartScrub", context)
        with self.lock:
            self.admin_requests.append(request)
            nodes = _answering(self.scrub_nodes, request.this_node_only)
            for node in nodes:
                node.running = True
            return admin_pb2.StartScrubResponse(
                node_ids=[n.node_id for n in nodes],
                unreachable=[] if request.this_node_only else self.unreachable)

    def GetScrubStatus(self, request: Any, context: grpc.ServicerContext) -> Any:
        self._enter("GetScrubStatus", context)
        with self.lock:
            self.admin_requests.append(request)
            return admin_pb2.GetScrubStatusResponse(
                nodes=_answering(self.scrub_nodes, request.this_node_only),
                unreachable=[] if request.this_node_only else self.unreachable)

    def GetNodeStatus(self, request: Any, context: grpc.ServicerContext) -> Any:
        self._enter("GetNodeStatus", context)
        with self.lock:
            self.admin_requests.append(request)
            member = self._require_member(request.node_id or ANSWERING_NODE_ID, context)
            self._drain_step(member.member)
            return self._node_status(member.member)

    def DrainNode(self, request: Any, context: grpc.ServicerContext) -> Any:
        self._enter("DrainNode", context)
        with self.lock:
            self.admin_requests.append(request)
            record = self._require_alive(request.node_id, context, "draining moves its data "
                                         "away, so the node must be ALIVE").member
            if request.cancel:
                record.draining = False
                self._drains.pop(record.node_id, None)
            elif not record.draining:
                record.draining = True
                start = admin_pb2.NodeStatus()
                start.CopyFrom(self.node_holdings[record.node_id])
                self._drains[record.node_id] = (start, 0)
            return self._node_status(record)

    def SetMaintenance(self, request: Any, context: grpc.ServicerContext) -> Any:
        self._enter("SetMaintenance", context)
        with self.lock:
            self.admin_requests.append(request)
            if request.duration_s > MAINTENANCE_S_MAX:
                context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                              f"maintenance of {request.duration_s} s is longer than the "
                              f"{MAINTENANCE_S_MAX} s (7 days) limit; use a shorter window")
            record = self._require_alive(request.node_id, context, "the window rides on the "
                                         "node's own membership record").member
            record.maintenance_until_unix_ms = (
                self.now_unix_ms + 1000 * request.duration_s if request.duration_s else 0)
            return self._node_status(record)

    def PlanRing(self, request: Any, context: grpc.ServicerContext) -> Any:
        self._enter("PlanRing", context)
        with self.lock:
            self.admin_requests.append(request)
            change = admin_pb2.PlanRingRequest
            if request.change not in (change.CHANGE_ADD, change.CHANGE_DRAIN):
                context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                              f"ring plan: change {request.change} is not CHANGE_ADD or "
                              "CHANGE_DRAIN")
            ring = [m.member.node_id for m in self.members if not m.member.draining
                    and m.member.state in (membership_pb2.MEMBER_STATE_ALIVE,
                                           membership_pb2.MEMBER_STATE_DOWN)]
            if request.change == change.CHANGE_DRAIN and request.node_id not in ring:
                context.abort(grpc.StatusCode.FAILED_PRECONDITION,
                              f"ring plan: {request.node_id} is not one of the {len(ring)} ring "
                              "members (already draining, OUT or LEFT?); check `nodectl status`")
            if request.change == change.CHANGE_ADD and request.node_id in ring:
                context.abort(grpc.StatusCode.FAILED_PRECONDITION,
                              f"ring plan: {request.node_id} is already one of the {len(ring)} "
                              "ring members; plan a drain of it, or add a node with a new id")
            plan = admin_pb2.PlanRingResponse()
            plan.CopyFrom(self.ring_plan)
            if request.this_node_only:
                del plan.node_ids[:]
                plan.node_ids.append(ANSWERING_NODE_ID)
            else:
                plan.unreachable.extend(self.unreachable)
            return plan

    # -- helpers (call with the lock held) ---------------------------------------------------

    def _require_member(self, node_id: str,
                        context: grpc.ServicerContext) -> admin_pb2.MemberStatus:
        for member in self.members:
            if member.member.node_id == node_id:
                return member
        context.abort(grpc.StatusCode.NOT_FOUND, f"no member {node_id!r} in this cluster; "
                      "`nodectl status` lists the members")
        raise AssertionError("unreachable: abort raises")

    def _require_alive(self, node_id: str, context: grpc.ServicerContext,
                       why: str) -> admin_pb2.MemberStatus:
        if not node_id:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "name the node (node_id)")
        member = self._require_member(node_id, context)
        if member.member.state == membership_pb2.MEMBER_STATE_LEFT:
            context.abort(grpc.StatusCode.FAILED_PRECONDITION,
                          f"{node_id} has already LEFT the cluster")
        if member.member.state != membership_pb2.MEMBER_STATE_ALIVE:
            state = membership_pb2.MemberState.Name(member.member.state).removeprefix(
                "MEMBER_STATE_")
            context.abort(grpc.StatusCode.FAILED_PRECONDITION, f"{node_id} is {state}: {why}")
        return member

    def _drain_step(self, record: membership_pb2.Member) -> None:
        """One poll of a draining node: its holdings fall by a step; at the last it is LEFT."""
        drain = self._drains.get(record.node_id)
        if drain is None or self.drain_polls_to_left is None:
            return
        start, polls = drain[0], drain[1] + 1
        steps = max(1, self.drain_polls_to_left)
        held = self.node_holdings[record.node_id]
        for field in ("shares_stored", "metadata_records", "placement_records"):
            total = getattr(start, field)
            setattr(held, field, total - total * min(polls, steps) // steps)
        # Bytes leave with the copies that hold them.
        held.bytes_stored = (start.bytes_stored * held.shares_stored // start.shares_stored
                             if start.shares_stored else 0)
        self._drains[record.node_id] = (start, polls)
        if polls >= steps:
            record.state = membership_pb2.MEMBER_STATE_LEFT
            record.draining = False
            del self._drains[record.node_id]

    def _node_status(self, record: membership_pb2.Member) -> admin_pb2.NodeStatus:
        """The node's own answer while ALIVE; only the gossip record otherwise."""
        status = admin_pb2.NodeStatus(node_id=record.node_id, member=record)
        if record.state == membership_pb2.MEMBER_STATE_ALIVE:
            status.MergeFrom(self.node_holdings[record.node_id])
        return status


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


class ManualClock:
    """Virtual time for the CLI, handed to it as click's `obj` (`obj=manual.clock()`): sleep()
    moves it at once and records the wait; `on_sleep`, when set, runs after each sleep (to change
    the fake cluster between two polls). Wall time is `start_unix_ms` plus the time slept."""

    def __init__(self, start_unix_ms: int) -> None:
        self.start_unix_ms = start_unix_ms
        self.now_s = 0.0
        self.sleeps: list[float] = []
        self.on_sleep: Callable[[], None] | None = None

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now_s += seconds
        if self.on_sleep is not None:
            self.on_sleep()

    def clock(self) -> Clock:
        return Clock(monotonic_s=lambda: self.now_s, sleep=self.sleep,
                     unix_ms=lambda: self.start_unix_ms + round(1000 * self.now_s))


def assert_error_line(result: Any, exit_code: int, fragment: str) -> None:
    """A click CliRunner result ended in one `nodectl: error:` line containing `fragment` (after
    any progress lines on stderr), with `exit_code` and no traceback."""
    assert result.exit_code == exit_code, (result.stdout, result.stderr)
    error_lines = [line for line in result.stderr.splitlines() if line.startswith("nodectl: error: ")]
    assert len(error_lines) == 1 and result.stderr.endswith(error_lines[0] + "\n"), result.stderr
    assert fragment in error_lines[0], error_lines[0]
    assert "Traceback" not in result.output


def clocked_cli(server: FakeServer, manual: ManualClock) -> Callable[..., Any]:
    """`invoke(*args)`: run nodectl through click's CliRunner against `server`, on `manual`'s
    time, with no retries; returns the Result."""
    runner = CliRunner()

    def invoke(*args: str) -> Any:
        return runner.invoke(main, ["--retries-max", "0", *args], env={"RINGSTORE_ADDR": server.address},
                             obj=manual.clock())

    return invoke
