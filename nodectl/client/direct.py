"""Direct reads on the client side: fetch a replicated chunk from a node that holds it.

A get may be answered with a plan instead of the data (GetObjectInfo.direct; the node side and the
reasons are in node/objects/direct.py): per chunk, the client addresses of its holders, best first,
and a read grant. `DirectChunks.read` asks them in order with `ReadChunk`, checks what comes back
against the chunk id (blake3) and returns the first intact copy. When none is, `DirectReadFailed`
says what each holder answered, and the reader goes back to the streamed get for the rest of the
range, which tries every copy, reports the damage and decodes.

Holders are dialled on channels of their own, one per address, kept for the client's life and
made with the client's TLS settings but without its signing interceptor: the grant is the proof,
and a signature would cost a HMAC per call for nothing. An address that could not be reached is
skipped for UNREACHABLE_SKIP_S, so a client that cannot see the holders (a node behind NAT that
announces an address only its peers can dial) pays one failed connection, not one per chunk.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import blake3
import grpc
from ringstore import frames
from ringstore.v1 import object_pb2

from nodectl.client.deadlines import stream_deadline_s

# Chunk reads one get keeps in flight (4 MiB each at most).
READ_AHEAD = 3
UNREACHABLE_SKIP_S = 30.0
_READ_CHUNK = "/ringstore.v1.ObjectService/ReadChunk"


class DirectReadFailed(Exception):
    """No holder of a planned chunk gave an intact copy; the message says what each answered."""


def chunk_id_of(data: bytes | memoryview) -> bytes:
    # One thread: a get keeps READ_AHEAD chunks in flight already, and blake3's own threads cost more
    # CPU in all than they save in time.
    return blake3.blake3(data).digest()


def _decode(raw: bytes) -> memoryview:
    """A view of the chunk's bytes in the received message, not a copy (ringstore/frames.py); a
    message framed by another encoder goes through protobuf."""
    payload = frames.data_payload(raw)
    return payload if payload is not None else memoryview(object_pb2.ReadChunkResponse.FromString(raw).data)


class DirectChunks:
    """The client's holder channels, and which holders could not be reached a moment ago."""

    def __init__(self, make_channel: Callable[[str], grpc.Channel], timeout_s: float,
                 monotonic_s: Callable[[], float] = time.monotonic) -> None:
        self._make_channel = make_channel
        self._timeout_s = timeout_s
        self._monotonic_s = monotonic_s
        self._lock = threading.Lock()
        self._calls: dict[str, Callable] = {}
        self._channels: list[grpc.Channel] = []
        self._unreachable_until: dict[str, float] = {}
        self._closed = False

    def start(self, chunk: object_pb2.DirectChunk) -> PendingRead:
        """Start reading `chunk` from its first holder; `.result()` is its bytes or DirectReadFailed."""
        return PendingRead(self, chunk)

    def read(self, chunk: object_pb2.DirectChunk) -> memoryview:
        """The chunk's bytes from the first holder with an intact copy, or DirectReadFailed."""
        return PendingRead(self, chunk).result()

    def _ask(self, address: str, chunk: object_pb2.DirectChunk) -> grpc.Future | str:
        """The ReadChunk call to one holder, started; or why it was not asked."""
        if self._skipped(address):
            return "unreachable a moment ago"
        with self._lock:
            if self._closed:
                return "the client is closed"
        request = object_pb2.ReadChunkRequest(chunk_id=chunk.chunk_id, expires_unix_ms=chunk.expires_unix_ms,
                                              grant=chunk.grant)
        return self._call(address).future(request, timeout=stream_deadline_s(self._timeout_s, chunk.size_bytes))

    def _answer(self, address: str, chunk: object_pb2.DirectChunk, call: grpc.Future | str) -> memoryview | str:
        """The intact bytes one holder answered, or what was wrong with its answer."""
        if isinstance(call, str):
            return call
        try:
            data = call.result()
        except grpc.RpcError as err:
            code = err.code()
            if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                with self._lock:
                    self._unreachable_until[address] = self._monotonic_s() + UNREACHABLE_SKIP_S
            return f"{code.name if code else 'error'} {err.details() or ''}".rstrip()
        if len(data) != chunk.size_bytes or chunk_id_of(data) != chunk.chunk_id:
            return "its copy does not match the chunk id"
        return data

    def _skipped(self, address: str) -> bool:
        with self._lock:
            until = self._unreachable_until.get(address)
            if until is None:
                return False
            if self._monotonic_s() < until:
                return True
            del self._unreachable_until[address]
            return False

    def _call(self, address: str) -> Callable:
        with self._lock:
            call = self._calls.get(address)
            if call is None:
                channel = self._make_channel(address)
                self._channels.append(channel)
                call = channel.unary_unary(_READ_CHUNK,
                                           request_serializer=object_pb2.ReadChunkRequest.SerializeToString,
                                           response_deserializer=_decode)
                self._calls[address] = call
            return call

    def close(self) -> None:
        with self._lock:
            self._closed = True
            channels, self._channels = self._channels, []
            self._calls.clear()
        for channel in channels:
            channel.close()


class PendingRead:
    """One planned chunk's read: its first holder asked at once (gRPC's own future, no thread of
    ours), the others one at a time in `result()` if that answer is not an intact copy."""

    def __init__(self, chunks: DirectChunks, chunk: object_pb2.DirectChunk) -> None:
        self._chunks = chunks
        self._chunk = chunk
        self._first = chunks._ask(chunk.addresses[0], chunk) if chunk.addresses else "no holder named"

    def result(self) -> memoryview:
        chunk, answers = self._chunk, []
        for i, address in enumerate(chunk.addresses):
            call = self._first if i == 0 else self._chunks._ask(address, chunk)
            answer = self._chunks._answer(address, chunk, call)
            if isinstance(answer, memoryview):
                return answer
            answers.append(f"{address}: {answer}")
        raise DirectReadFailed(f"chunk {chunk.chunk_id.hex()[:16]} at offset {chunk.offset_bytes}: "
                               + ("; ".join(answers) or "no holder named"))

    def cancel(self) -> None:
        if not isinstance(self._first, str):
            self._first.cancel()
