"""`ObjectReader`: the stream of one get, resumed after a break, checked against its manifest.

- Whole-object gets are checked against the manifest's blake3 as they stream; a mismatch raises
  DataLoss rather than handing back wrong bytes.
- A get that fails mid-stream with UNAVAILABLE resumes at the byte it reached (at most the
  client's retries_max times), and only if the object's version is unchanged.
- A node may answer with a plan of direct reads instead of the data (direct.py): each chunk, or
  each data share of an erasure-coded one, is then read from a holder and checked against its
  chunk id or its share's blake3, which replaces the whole-object check. A
  plan that ends before the range does is followed by a new get from where it ended; a chunk no
  holder gives intact sends the rest of the range back through the streamed get.
- A get starts with one OpenObject call (deadline timeout_s), answered with a small range whole or
  a plan, or told to stream; only then, or against a node from before OpenObject, is a GetObject
  stream opened (design.md, "A get starts with one unary call").
- Every stream has a watchdog: timeout_s until the first message (the object info, which carries
  the range's length), then the stream deadline of that length (deadlines.py). A get that names
  its length also has a gRPC deadline from it.
"""

from __future__ import annotations

import collections
import logging
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, BinaryIO

import blake3
import grpc
from ringstore.v1 import object_pb2

from nodectl.client.deadlines import _Watchdog, rpc_error, stream_deadline_s
from nodectl.client.direct import READ_AHEAD, DirectReadFailed, PendingChunk
from nodectl.client.from_pb import object_info_from_pb, version_text
from nodectl.client.results import ObjectInfo
from nodectl.client.retries import retry_backoff_s
from nodectl.errors import DataLoss, DeadlineExceeded, Internal, RingstoreError, Unavailable

if TYPE_CHECKING:
    from nodectl.client import Client

log = logging.getLogger("ringstore.client")


class ObjectReader:
    """A streamed read of an object or a byte range of it.

    `.info` is the version being read; `.range_start_bytes` / `.range_length_bytes` the range the
    node returns. Iterate for chunks (memoryviews), or `read()` everything, or
    `readinto_file(f)`. Use as a context manager: leaving it cancels the stream. Errors, at the
    start or mid-stream, are RingstoreError; a mid-stream UNAVAILABLE resumes from the byte
    reached (up to the client's retries_max) as long as the version has not changed.
    """

    def __init__(self, client: Client, bucket: str, key: str,
                 range_start_bytes: int | None, range_length_bytes: int | None,
                 metadata: tuple[tuple[str, str], ...] = (), version: str = "") -> None:
        self._client = client
        self._version = version  # "" for the current version
        self._metadata = metadata  # a share link, sent with every (re)opening
        self._bucket = bucket
        self._key = key
        self._requested_start_bytes = range_start_bytes
        self._requested_length_bytes = range_length_bytes
        self._call: Any = None
        self._info_data: memoryview | None = None  # a small range, come whole in the info message
        self._grpc_timeout_s: float | None = None
        self._watchdog: _Watchdog | None = None
        self._opened_at_s = 0.0
        self._received_bytes = 0
        self._resumes = 0
        self._closed = False
        self.info: ObjectInfo
        self.range_start_bytes = 0
        self.range_length_bytes = 0
        self._hasher: Any = None
        # Whether the next opening may be answered with a plan of direct reads, and the plan of the
        # current one (empty: the data streams).
        self._direct_ok = client._direct is not None and not metadata
        self._plan: list[object_pb2.DirectChunk] = []
        self._chunks: Iterator[memoryview] = self._iterate()

    # -- opening -----------------------------------------------------------------------------

    def _open_first(self) -> None:
        info_pb = self._client._retrying(
            lambda: self._open(self._requested_start_bytes, self._requested_length_bytes))
        self.info = object_info_from_pb(info_pb.object)
        self.range_start_bytes = info_pb.range_start_bytes
        self.range_length_bytes = info_pb.range_length_bytes
        whole = self.range_start_bytes == 0 and self.range_length_bytes == self.info.size_bytes
        if whole and self.info.blake3_hex:
            self._hasher = blake3.blake3()

    def _open(self, start_bytes: int | None, length_bytes: int | None) -> object_pb2.GetObjectInfo:
        """Start the read: one OpenObject call, which answers a small range whole or a plan of direct
        reads, or else (a longer range the node streams, or a node from before OpenObject) one
        GetObject call and its info message."""
        self._stop_call()
        request = object_pb2.GetObjectRequest(bucket=self._bucket, key=self._key, info_may_carry_data=True,
                                              direct_ok=self._direct_ok, direct_shares_ok=self._direct_ok,
                                              version_id=self._version)
        if start_bytes is not None:
            request.range_start_bytes = start_bytes
        if length_bytes is not None:
            request.range_length_bytes = length_bytes
        if self._client._open_objects:
            try:
                answer = self._client._open_rpc(request, timeout=self._client._timeout_s,
                                                metadata=self._metadata or None)
            except grpc.RpcError as err:
                if err.code() != grpc.StatusCode.UNIMPLEMENTED:
                    raise self._error(err, self._client._timeout_s) from err
                self._client._open_objects = False  # a node from before OpenObject: stream from now on
            else:
                if not answer.streamed:
                    return self._opened(answer.info)
        return self._opened(self._open_stream(request, length_bytes))

    def _open_stream(self, request: object_pb2.GetObjectRequest,
                     length_bytes: int | None) -> object_pb2.GetObjectInfo:
        """Start a GetObject call under its watchdog and read its info message."""
        timeout_s = self._client._timeout_s
        grpc_timeout_s = None
        if length_bytes is not None:
            grpc_timeout_s = stream_deadline_s(timeout_s, length_bytes)
        self._opened_at_s = time.monotonic()
        self._watchdog = _Watchdog(self._opened_at_s + timeout_s)
        self._grpc_timeout_s = grpc_timeout_s
        self._call = self._client._get_rpc(request, timeout=grpc_timeout_s, metadata=self._metadata or None)
        self._watchdog.start(self._call)
        try:
            first = next(self._call)
        except StopIteration:
            raise Internal(f"get {self._bucket}/{self._key}: the node ended the stream "
                           "before sending the object info") from None
        except grpc.RpcError as err:
            raise self._error(err) from err
        if isinstance(first, memoryview) or first.WhichOneof("msg") != "info":
            raise Internal(f"get {self._bucket}/{self._key}: the node sent data before the info")
        self._watchdog.move_to(
            self._opened_at_s + stream_deadline_s(timeout_s, first.info.range_length_bytes))
        return first.info

    def _opened(self, info: object_pb2.GetObjectInfo) -> object_pb2.GetObjectInfo:
        # A small range comes whole in the info message: the first frame, read before the stream's.
        self._info_data = memoryview(info.data) if info.data else None
        self._plan = list(info.direct)
        if self._plan:
            self._hasher = None  # each chunk is checked against its id instead
        return info

    def _frames(self) -> Iterator[object]:
        """The data in the info message (if any), then the stream's data messages; or the planned
        chunks' parts of the range, read from their holders."""
        if self._plan:
            yield from self._direct_frames()
            return
        if self._info_data is not None:
            data, self._info_data = self._info_data, None
            yield data
        if self._call is not None:
            yield from self._call

    def _direct_frames(self) -> Iterator[memoryview]:
        """The range's bytes from the plan's chunks, in order, up to READ_AHEAD in flight;
        DirectReadFailed when a chunk could not be read intact."""
        direct = self._client._direct
        start = self.range_start_bytes + self._received_bytes
        end = self.range_start_bytes + self.range_length_bytes
        planned = iter(self._plan)
        ahead: collections.deque[tuple[object_pb2.DirectChunk, PendingChunk]] = collections.deque()
        try:
            while True:
                while len(ahead) < READ_AHEAD:
                    chunk = next(planned, None)
                    if chunk is None:
                        break
                    ahead.append((chunk, direct.start(chunk)))
                if not ahead:
                    return
                chunk, pending = ahead.popleft()
                for at, piece in pending.result():  # the chunk whole, or its planned data shares
                    base = chunk.offset_bytes + at
                    lo, hi = max(start, base) - base, min(end, base + piece.nbytes) - base
                    if lo < hi:
                        yield piece[lo:hi]
        finally:
            for _, pending in ahead:
                pending.cancel()

    def _error(self, err: grpc.RpcError, timeout_s: float | None = None) -> RingstoreError:
        """`err` as the error to raise; `timeout_s`: the gRPC deadline of the call that failed, when it
        was not the stream's."""
        if self._watchdog is not None and self._watchdog.expired:
            elapsed_s = time.monotonic() - self._opened_at_s
            return DeadlineExceeded(
                f"get {self._bucket}/{self._key} timed out after {elapsed_s:.1f} s "
                f"({self._received_bytes} bytes received): retry, or raise --timeout-s")
        return self._client.diagnosed(rpc_error(err, f"get {self._bucket}/{self._key}",
                                                timeout_s if timeout_s is not None else self._grpc_timeout_s))

    def _stop_call(self) -> None:
        if self._watchdog is not None:
            self._watchdog.stop()
            self._watchdog = None
        if self._call is not None:
            self._call.cancel()
            self._call = None

    # -- reading -----------------------------------------------------------------------------

    def _iterate(self) -> Iterator[memoryview]:
        try:
            yield from self._iterate_checked()
        except BaseException:
            self._stop_call()  # an error, or the consumer closed us early: end the stream now
            raise

    def _iterate_checked(self) -> Iterator[memoryview]:
        # Bounded: every pass receives one frame, or resumes (at most retries_max times), or ends.
        # A plan that ends before the range does (node/objects/direct.py: PLAN_CHUNKS_MAX) is
        # followed by a new get from where it ended; each such opening reads at least one chunk.
        while True:
            try:
                for item in self._frames():
                    if not isinstance(item, memoryview):
                        raise Internal(f"get {self._bucket}/{self._key}: "
                                       "the node sent a second info message mid-stream")
                    self._received_bytes += item.nbytes
                    if self._received_bytes > self.range_length_bytes:
                        raise Internal(
                            f"get {self._bucket}/{self._key}: the node sent more than the "
                            f"{self.range_length_bytes} bytes it announced")
                    if self._hasher is not None:
                        self._hasher.update(item)
                    yield item
                if not self._plan or self._received_bytes >= self.range_length_bytes:
                    break
                self._reopen()
                continue
            except grpc.RpcError as err:
                error = self._error(err)
                if not isinstance(error, Unavailable) or self._resumes >= self._client._retries_max:
                    raise error from err
            except DirectReadFailed as err:
                # Back to the streamed get for the rest: it tries every copy and reports the damage.
                log.info("get %s/%s: direct read failed, streaming the rest: %s", self._bucket, self._key, err)
                self._direct_ok = False
                self._reopen()
                continue
            self._resume()
        if self._watchdog is not None:
            self._watchdog.stop()
        if self._received_bytes != self.range_length_bytes:
            raise Internal(f"get {self._bucket}/{self._key}: the stream ended after "
                           f"{self._received_bytes} of {self.range_length_bytes} bytes")
        if self._hasher is not None:
            digest_hex = self._hasher.hexdigest()
            if digest_hex != self.info.blake3_hex:
                raise DataLoss(f"get {self._bucket}/{self._key}: blake3 of the bytes read is "
                               f"{digest_hex}, the manifest says {self.info.blake3_hex}")

    def _resume(self) -> None:
        """Reopen the stream at the first byte not yet received, on the same version, after a
        break (counted against retries_max, after a backoff)."""
        self._client._sleep(
            retry_backoff_s(self._client._retry_backoff_s, self._resumes, self._client._rng))
        self._resumes += 1
        self._reopen()

    def _reopen(self) -> None:
        """Open the get again at the first byte not yet received; the version must not have changed."""
        start_bytes = self.range_start_bytes + self._received_bytes
        length_bytes = self.range_length_bytes - self._received_bytes
        info_pb = self._open(start_bytes, length_bytes)
        version = version_text(info_pb.object.version)
        if version != self.info.version:
            raise Unavailable(
                f"get {self._bucket}/{self._key}: the stream broke after "
                f"{self._received_bytes} bytes and the object changed (version {self.info.version} "
                f"is now {version}); retry the read")
        if info_pb.range_start_bytes != start_bytes or info_pb.range_length_bytes != length_bytes:
            raise Internal(f"get {self._bucket}/{self._key}: resumed at byte {start_bytes} but "
                           f"the node returned range {info_pb.range_start_bytes}"
                           f"+{info_pb.range_length_bytes}")

    def __iter__(self) -> Iterator[memoryview]:
        return self._chunks

    def read(self) -> bytes:
        """Every remaining byte of the range."""
        return b"".join(self._chunks)

    def readinto_file(self, fileobj: BinaryIO,
                      progress: Callable[[int], None] | None = None) -> int:
        """Write every remaining byte to `fileobj`; `progress(bytes_written_so_far)` per chunk."""
        written_bytes = 0
        for chunk in self._chunks:
            fileobj.write(chunk)
            written_bytes += chunk.nbytes
            if progress is not None:
                progress(written_bytes)
        return written_bytes

    def close(self) -> None:
        """Cancel the stream if it is still running."""
        if not self._closed:
            self._closed = True
            self._stop_call()
            self._chunks.close()

    def __enter__(self) -> ObjectReader:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
