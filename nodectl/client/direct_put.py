"""Direct puts on the client side: write each chunk's copies straight to its holders.

The protocol and its reasons are in node/objects/direct_put.py. Here: a put of a known size larger
than one chunk first asks `PlanPut`; when the node answers direct, the client opens the put's
`PutObject` stream with the token and, chunk by chunk in object order, cuts the object where the
cluster does, hashes the chunk, asks `PlanPut` where its copies go, writes every copy with
`WriteChunk` (one unary call per holder, all at once: the chunk's message is made once from the
source's frames and sent to every holder as it is, each call's header and grant in its metadata)
and names the chunk in the stream as a `WrittenChunk` with the receipts. A chunk whose plan or any
write fails (a holder down, full, slow, unreachable from here) goes as bytes in the same stream
instead: the node stores it the usual way, standing in for the failed holder, so a direct put
never fails where a streamed one would succeed.

Plans and writes are blocking calls on kept threads, as direct reads make them (a gRPC future
starts a thread per burst of calls); the holder channels are the direct reads' ones. A put writes
CHUNKS_IN_FLIGHT chunks at once. Memory: each chunk being written is held once as its message and
once per holder in gRPC's own copy of it while it is sent, about (1 + replicas) x chunk size, so a fresh client putting a 1 GiB file peaks at 111-116 MiB
resident where a streamed put peaks at 54: the price of sending three copies from here.
"""

from __future__ import annotations

import collections
import concurrent.futures as cf
import logging
from collections.abc import Callable, Iterable, Iterator

import blake3
import grpc
from ringstore import frames
from ringstore.v1 import object_pb2

from nodectl.client.deadlines import stream_deadline_s
from nodectl.client.direct import DirectChunks
from nodectl.client.limits import FRAME_SIZE_BYTES

# Objects larger than this are planned as direct puts (the node's chunk size decides in the end:
# an object of one chunk or less streams).
DIRECT_PUT_BYTES_MIN = 4 * 1024 * 1024
# Chunks one put writes at once; the next is read and its plan asked for while they are written.
# A fresh client putting a 1 GiB file to six nodes (replicas=3, TLS): two took 6.6-6.8 s at a peak
# of 111-116 MiB resident; one (the next planned meanwhile) 7.3-8.1 s at 92-95 MiB, and one with two
# planned ahead 7.1-8.1 s at 95-97; the same put streamed 7.8-8.1 s at 54 MiB. Each chunk being
# written is held once as its message and once per holder in gRPC's copy.
CHUNKS_IN_FLIGHT = 2
# Room in a WriteChunk message for everything but the chunk (as node/objects/direct_put.py reserves).
WRITE_HEADER_ROOM_BYTES = 64 * 1024
# Threads for the chunks' plans, and for their copies' writes (one pool each: a write waits for no
# other task, so puts from many threads of one client cannot starve each other).
PLAN_THREADS = 4
WRITE_THREADS = 8
_WRITE_CHUNK = "/ringstore.v1.ObjectService/WriteChunk"

log = logging.getLogger("ringstore.client")


def _as_is(wire: bytes) -> bytes:
    return wire


class DirectWriter:
    """Writes planned chunks' copies to their holders, on the client's holder channels."""

    def __init__(self, holders: DirectChunks, plan: Callable[[object_pb2.PlanPutRequest], object_pb2.PlanPutResponse],
                 timeout_s: float) -> None:
        self._holders = holders
        self._plan = plan
        self._timeout_s = timeout_s
        self._plans = cf.ThreadPoolExecutor(PLAN_THREADS, thread_name_prefix="nodectl-plan")
        self._copies = cf.ThreadPoolExecutor(WRITE_THREADS, thread_name_prefix="nodectl-write")

    def close(self) -> None:
        self._plans.shutdown(wait=False, cancel_futures=True)
        self._copies.shutdown(wait=False, cancel_futures=True)

    def body(self, header: object_pb2.PutObjectHeader, put_token: bytes, chunk_size_bytes: int,
             source_frames: Iterable[bytes | memoryview]) -> Iterator[object_pb2.WrittenChunk | bytes | memoryview]:
        """The put's stream after its header: per chunk in order, a WrittenChunk or its bytes in frames.
        The next chunk is read, hashed and planned while the copies of the ones before are written."""
        asked = object_pb2.PutObjectHeader(bucket=header.bucket, key=header.key)
        writing: collections.deque[_Chunk] = collections.deque()
        try:
            for parts in _chunks(source_frames, chunk_size_bytes):
                wire = frames.encode_data_parts(parts)  # the WriteChunk message every holder is sent
                chunk = _Chunk(wire, memoryview(wire)[len(wire) - sum(len(p) for p in parts):])
                chunk.plan = self._plans.submit(self._planned, asked, put_token, chunk.data)
                writing.append(chunk)
                if len(writing) > CHUNKS_IN_FLIGHT:
                    yield from self._named(header, writing.popleft())
                self._start(chunk)
            while writing:
                yield from self._named(header, writing.popleft())
        finally:
            for chunk in writing:
                for future in (chunk.plan, *chunk.writes):
                    if future is not None:
                        future.cancel()

    def _planned(self, header: object_pb2.PutObjectHeader, put_token: bytes, data: memoryview
                 ) -> tuple[bytes, list[object_pb2.CopyWrite]] | str:
        """(chunk id, its copies' writes), or why the chunk must go as bytes."""
        chunk_id = blake3.blake3(data).digest()
        try:
            answer = self._plan(object_pb2.PlanPutRequest(
                header=header, put_token=put_token,
                chunks=[object_pb2.KnownChunk(chunk_id=chunk_id, size_bytes=len(data))]))
        except Exception as err:  # noqa: BLE001 - the node stores the chunk itself, and reports what is wrong
            return f"PlanPut: {err}"
        if not answer.direct or len(answer.chunks) != 1 or not answer.chunks[0].copies:
            return answer.reason or "the plan named no holders"
        copies = list(answer.chunks[0].copies)
        skipped = [c for c in copies if self._holders.skipped(c.address)]
        if skipped:
            return f"{skipped[0].node_id} ({skipped[0].address}) was unreachable a moment ago"
        return chunk_id, copies

    def _start(self, chunk: _Chunk) -> None:
        """Start writing every copy of a chunk once its plan is in (nothing when it goes as bytes)."""
        planned = chunk.plan.result()
        if isinstance(planned, str):
            chunk.fallback = planned
            return
        chunk.chunk_id, chunk.copies = planned
        timeout_s = stream_deadline_s(self._timeout_s, len(chunk.data))
        chunk.writes = [self._copies.submit(self._write_copy, copy, chunk.wire, timeout_s) for copy in chunk.copies]

    @staticmethod
    def _named(header: object_pb2.PutObjectHeader, chunk: _Chunk) -> Iterator[object_pb2.WrittenChunk | memoryview]:
        """The chunk as the stream names it: a WrittenChunk, or its bytes if any write failed."""
        receipts = [future.result() for future in chunk.writes]
        failed = [r for r in receipts if isinstance(r, str)]
        why = chunk.fallback or "; ".join(failed)
        if not why:
            yield object_pb2.WrittenChunk(
                chunk_id=chunk.chunk_id, size_bytes=len(chunk.data),
                copies=[object_pb2.WrittenCopy(node_id=c.node_id, header=c.header, receipt=r)
                        for c, r in zip(chunk.copies, receipts)])
            return
        log.info("put %s/%s: chunk %s goes through the node: %s", header.bucket, header.key,
                 chunk.chunk_id.hex()[:16] or "(not planned)", why)
        for start in range(0, len(chunk.data), FRAME_SIZE_BYTES):
            yield chunk.data[start:start + FRAME_SIZE_BYTES]

    def _write_copy(self, copy: object_pb2.CopyWrite, wire: bytes, timeout_s: float) -> bytes | str:
        """The holder's receipt, or what went wrong."""
        try:
            call = self._holders.method(copy.address, _WRITE_CHUNK, _as_is, object_pb2.WriteChunkResponse.FromString)
            proof = object_pb2.WriteChunkHeader(header=copy.header, expires_unix_ms=copy.expires_unix_ms,
                                                grant=copy.grant).SerializeToString()
            return bytes(call(wire, timeout=timeout_s, metadata=((frames.WRITE_COPY_METADATA, proof),)).receipt)
        except grpc.RpcError as err:
            code = err.code()
            if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                self._holders.mark_unreachable(copy.address)
            return f"{copy.node_id} ({copy.address}): {code.name if code else 'error'} {err.details() or ''}".rstrip()
        except ValueError as err:  # a closed client
            return str(err)


class _Chunk:
    """One chunk of a direct put on its way: its message, its plan, its copies' writes."""

    __slots__ = ("wire", "data", "plan", "fallback", "chunk_id", "copies", "writes")

    def __init__(self, wire: bytes, data: memoryview) -> None:
        self.wire = wire
        self.data = data  # the chunk's bytes: a view of `wire`
        self.plan: cf.Future | None = None
        self.fallback = ""
        self.chunk_id = b""
        self.copies: list[object_pb2.CopyWrite] = []
        self.writes: list[cf.Future] = []


def _chunks(source_frames: Iterable[bytes | memoryview], chunk_size_bytes: int) -> Iterator[list[memoryview]]:
    """The object cut into chunk_size_bytes pieces (the last may be shorter), each as views of the
    source's frames (never copied here)."""
    parts: list[memoryview] = []
    size = 0
    for frame in source_frames:
        view = memoryview(frame).cast("B")
        while len(view):
            take = min(len(view), chunk_size_bytes - size)
            parts.append(view[:take])
            size += take
            view = view[take:]
            if size == chunk_size_bytes:
                yield parts
                parts, size = [], 0
    if size:
        yield parts
