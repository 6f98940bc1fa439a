"""Direct reads on the client side: fetch a chunk, or the data shares of an erasure-coded one, from
the nodes that hold them.

A get may be answered with a plan instead of the data (GetObjectInfo.direct; the node side and the
reasons are in node/objects/direct.py): per chunk, a read grant and either the client addresses of
its holders, best first (replicated), or its data shares that hold the range, each with its blake3
and its holder (erasure-coded). `DirectChunks.start` asks for every piece at once with `ReadChunk`,
each from its first holder, checks what comes back against the chunk id or the share's blake3 and
tries the next holder of a piece that is not intact. When a piece has no intact copy,
`DirectReadFailed` says what each holder answered, and the reader goes back to the streamed get for
the rest of the range, which tries every copy, reports the damage and decodes from parity.

Holders are dialled on channels of their own, one per address, kept for the client's life and
made with the client's TLS settings but without its signing interceptor: the grant is the proof,
and a signature would cost a HMAC per call for nothing. Each ReadChunk is a blocking call made on
one of the client's reader threads (READ_THREADS, started once and kept): a gRPC future would do
without them, but gRPC Python starts a thread to drive a channel whenever a call finds none of that
channel's calls in flight, which for a get reading each holder once is one new thread per call
(0.5-0.8 ms of the client's CPU each here). A call cannot be cancelled once a reader thread runs it:
a get closed early lets at most READ_AHEAD chunks finish under their deadlines and drops them.

An address that could not be reached is skipped for UNREACHABLE_SKIP_S, so a client that cannot
see the holders (a node behind NAT that announces an address only its peers can dial) pays one
failed connection, not one per chunk.
"""

from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import threading
import time
from collections.abc import Callable

import blake3
import grpc
from ringstore import frames
from ringstore.v1 import object_pb2

from nodectl.client.deadlines import stream_deadline_s

# Chunks one get keeps in flight (4 MiB each at most: one call, or one per data share).
READ_AHEAD = 3
# Threads that make the ReadChunk calls, for every get of one client: a replicated chunk is one
# call, an erasure-coded one a call per data share, so READ_AHEAD chunks of ec 4+2 keep 12 busy.
READ_THREADS = 16
UNREACHABLE_SKIP_S = 30.0
_READ_CHUNK = "/ringstore.v1.ObjectService/ReadChunk"


class DirectReadFailed(Exception):
    """No holder of a planned chunk (or of one of its data shares) gave an intact copy; the message
    says what each answered."""


def blake3_of(data: bytes | memoryview) -> bytes:
    # One thread: a get keeps READ_AHEAD chunks in flight already, and blake3's own threads cost more
    # CPU in all than they save in time.
    return blake3.blake3(data).digest()


# A view of the chunk's bytes in the received message, not a copy (ringstore/frames.py); a message
# framed by another encoder goes through protobuf.
_decode = frames.data_decoder(object_pb2.ReadChunkResponse)


class DirectChunks:
    """The client's holder channels, and which holders could not be reached a moment ago."""

    def __init__(self, make_channel: Callable[[str], grpc.Channel], timeout_s: float,
                 monotonic_s: Callable[[], float] = time.monotonic) -> None:
        self._make_channel = make_channel
        self._timeout_s = timeout_s
        self._monotonic_s = monotonic_s
        self._lock = threading.Lock()
        self._calls: dict[tuple[str, str], Callable] = {}
        self._channels: dict[str, grpc.Channel] = {}
        self._unreachable_until: dict[str, float] = {}
        self._closed = False
        self._pool = cf.ThreadPoolExecutor(READ_THREADS, thread_name_prefix="nodectl-read")

    def start(self, chunk: object_pb2.DirectChunk) -> PendingChunk:
        """Start reading `chunk`'s planned pieces; `.result()` is [(offset in the chunk, bytes)] or
        DirectReadFailed."""
        return PendingChunk(self, chunk)

    def read(self, chunk: object_pb2.DirectChunk) -> bytes | memoryview:
        """The planned bytes of `chunk` (a replicated chunk whole; an erasure-coded one's planned data
        shares joined, cut at the chunk's end), or DirectReadFailed."""
        pieces = self.start(chunk).result()
        return pieces[0][1] if len(pieces) == 1 else b"".join(piece for _, piece in pieces)

    def _ask(self, address: str, piece: _Piece) -> cf.Future | str:
        """The ReadChunk call to one holder, started; or why it was not asked."""
        if self.skipped(address):
            return "unreachable a moment ago"
        with self._lock:
            if self._closed:
                return "the client is closed"
            return self._pool.submit(self._call(address), piece.request,
                                     timeout=stream_deadline_s(self._timeout_s, piece.size_bytes))

    def _answer(self, address: str, piece: _Piece, call: cf.Future | str) -> memoryview | str:
        """The intact bytes one holder answered, or what was wrong with its answer."""
        if isinstance(call, str):
            return call
        try:
            data = call.result()
        except (cf.CancelledError, ValueError):  # ValueError: gRPC's "closed channel", on a closed client
            return "the client was closed"
        except grpc.RpcError as err:
            code = err.code()
            if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                self.mark_unreachable(address)
            return f"{code.name if code else 'error'} {err.details() or ''}".rstrip()
        if len(data) != piece.size_bytes or blake3_of(data) != piece.blake3:
            return f"its copy does not match {piece.checked_against}"
        return data

    def skipped(self, address: str) -> bool:
        """Whether `address` could not be reached a moment ago (skip it for now)."""
        with self._lock:
            until = self._unreachable_until.get(address)
            if until is None:
                return False
            if self._monotonic_s() < until:
                return True
            del self._unreachable_until[address]
            return False

    def _call(self, address: str) -> Callable:
        """The ReadChunk multi-callable of `address`'s channel, made on first use (lock held)."""
        return self._method(address, _READ_CHUNK, object_pb2.ReadChunkRequest.SerializeToString, _decode)

    def _method(self, address: str, method: str, serializer: Callable, deserializer: Callable) -> Callable:
        """A unary multi-callable of `address`'s channel (one channel per address, made on first use;
        lock held)."""
        call = self._calls.get((address, method))
        if call is None:
            channel = self._channels.get(address)
            if channel is None:
                channel = self._channels[address] = self._make_channel(address)
            call = self._calls[(address, method)] = channel.unary_unary(
                method, request_serializer=serializer, response_deserializer=deserializer)
        return call

    def method(self, address: str, method: str, serializer: Callable, deserializer: Callable) -> Callable:
        """`_method` for other holder calls (direct puts' WriteChunk), on the same channels;
        ValueError once the client is closed."""
        with self._lock:
            if self._closed:
                raise ValueError("the client is closed")
            return self._method(address, method, serializer, deserializer)

    def mark_unreachable(self, address: str) -> None:
        with self._lock:
            self._unreachable_until[address] = self._monotonic_s() + UNREACHABLE_SKIP_S

    def close(self) -> None:
        with self._lock:
            self._closed = True
            channels, self._channels = list(self._channels.values()), {}
            self._calls.clear()
        self._pool.shutdown(wait=False, cancel_futures=True)
        for channel in channels:
            channel.close()


@dataclasses.dataclass(frozen=True)
class _Piece:
    """What one ReadChunk call fetches: a whole replicated chunk, or one data share."""

    request: object_pb2.ReadChunkRequest
    addresses: tuple[str, ...]
    offset_bytes: int  # where it starts in the chunk
    size_bytes: int  # as stored (a last data share is zero-padded)
    blake3: bytes  # what its bytes must hash to
    checked_against: str  # "the chunk id" or "the share's blake3", for DirectReadFailed
    what: str


def pieces_of(chunk: object_pb2.DirectChunk) -> list[_Piece]:
    """The calls that read `chunk`'s planned bytes."""
    name = f"chunk {chunk.chunk_id.hex()[:16]} at offset {chunk.offset_bytes}"
    if not chunk.data_shares:
        request = object_pb2.ReadChunkRequest(chunk_id=chunk.chunk_id, expires_unix_ms=chunk.expires_unix_ms,
                                              grant=chunk.grant)
        return [_Piece(request, tuple(chunk.addresses), 0, chunk.size_bytes, chunk.chunk_id, "the chunk id", name)]
    share_bytes = max(1, -(-chunk.size_bytes // chunk.data_shares))  # ceil(size / K), as the encoder cuts
    return [_Piece(object_pb2.ReadChunkRequest(chunk_id=chunk.chunk_id, expires_unix_ms=chunk.expires_unix_ms,
                                               grant=chunk.grant, data_shares=chunk.data_shares,
                                               parity_shares=chunk.parity_shares, share_index=share.share_index),
                   tuple(share.addresses), share.share_index * share_bytes, share_bytes, share.blake3,
                   "the share's blake3", f"share {share.share_index} of {name}")
            for share in chunk.shares]


class PendingChunk:
    """One planned chunk's read: every piece asked of its first holder at once (on the reader
    threads), a piece's other holders one at a time in `result()` if that answer is not an intact
    copy."""

    def __init__(self, chunks: DirectChunks, chunk: object_pb2.DirectChunk) -> None:
        self._chunks = chunks
        self._size_bytes = chunk.size_bytes
        self._pieces = pieces_of(chunk)
        self._first = [chunks._ask(p.addresses[0], p) if p.addresses else "no holder named" for p in self._pieces]

    def result(self) -> list[tuple[int, memoryview]]:
        """[(offset in the chunk, verified bytes up to the chunk's end)], in offset order."""
        return [(piece.offset_bytes, self._read(piece, first)[:max(0, self._size_bytes - piece.offset_bytes)])
                for piece, first in zip(self._pieces, self._first)]

    def _read(self, piece: _Piece, first: cf.Future | str) -> memoryview:
        answers = []
        for i, address in enumerate(piece.addresses):
            call = first if i == 0 else self._chunks._ask(address, piece)
            answer = self._chunks._answer(address, piece, call)
            if isinstance(answer, memoryview):
                return answer
            answers.append(f"{address}: {answer}")
        self.cancel()
        raise DirectReadFailed(f"{piece.what}: " + ("; ".join(answers) or "no holder named"))

    def cancel(self) -> None:
        for first in self._first:
            if not isinstance(first, str):
                first.cancel()
