"""Request bodies between the S3 port's loop and its worker threads, and what a put checks in them.

A worker takes the body a frame at a time (`BodyFrames`): a task on the loop reads frames of up to
FRAME_BYTES from aiohttp's stream into a queue of at most FRAMES_AHEAD, and the worker takes them
from it, so the socket is read while the worker stores what came before (as gRPC's flow-control
window does for a native put), and a frame crosses threads without a round trip. When the queue is
full the task stops reading, which is the backpressure: a put whose holders are slow stops reading
its socket and the client's TCP window closes. A put holds at most FRAMES_AHEAD + 1 frames here.

`PutChecks` is everything a put verifies on the bytes themselves, in one pass as they stream: the
aws-chunked framing and its chunk signatures, a signed payload's SHA-256, `Content-MD5`, an
`x-amz-checksum-*` header or trailer; and the MD5 that becomes the object's ETag. Each check runs
when the body ends and before the manifest is written, so a mismatch stores nothing.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import hashlib
import threading
from collections.abc import Iterator, Mapping

from aiohttp import web

from node.s3 import sigv4
from node.s3.errors import S3Error

# Bytes of the body per frame handed from the loop to the worker.
FRAME_BYTES = 1 << 20
# Frames the loop reads ahead of the worker.
FRAMES_AHEAD = 3
# Longest a worker waits for the client to send the next frame of a body.
BODY_READ_TIMEOUT_S = 300.0
CHECKSUM_HEADERS = {f"x-amz-checksum-{name}": name for name in ("crc32", "crc32c", "crc64nvme", "sha1", "sha256")}


class BodyFrames:
    """A request's body, as a worker thread reads it: an iterator of bytes frames, read ahead on
    the loop from the worker's first pull (a request still queued for a worker reads nothing, so
    the frames held are bounded by the worker pool, not by the requests waiting). `stop()` on the
    loop once the worker is done."""

    def __init__(self, request: web.Request, loop: asyncio.AbstractEventLoop) -> None:
        self._request = request
        self._loop = loop
        self._ready: collections.deque[bytes | BaseException] = collections.deque()
        self._arrived = threading.Condition()
        self._room = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._stopped = False

    def _start(self) -> None:
        """On the loop, asked by the worker's first pull: begin reading ahead, unless stopped since."""
        if self._task is None and not self._stopped:
            self._task = self._loop.create_task(self._read_ahead())

    async def stop(self) -> None:
        """Stop reading (the worker finished or gave up); the rest of the body stays unread."""
        self._stopped = True
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _frame(self) -> bytes:
        parts: list[bytes] = []
        size = 0
        content = self._request.content
        while size < FRAME_BYTES:
            data = await content.readany()
            if not data:
                break
            parts.append(data)
            size += len(data)
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def _hand(self, item: bytes | BaseException) -> bool:
        """Queue `item` for the worker; True when the queue is now full."""
        with self._arrived:
            self._ready.append(item)
            self._arrived.notify()
            full = len(self._ready) >= FRAMES_AHEAD
            if full:
                self._room.clear()
            return full

    async def _read_ahead(self) -> None:
        try:
            while True:
                data = await self._frame()
                if self._hand(data) and data:
                    await self._room.wait()
                if not data:
                    return
        except Exception as err:  # noqa: BLE001 - aiohttp's payload errors: the client went away
            self._hand(err)

    def __iter__(self) -> Iterator[bytes]:
        self._loop.call_soon_threadsafe(self._start)
        while True:
            with self._arrived:
                if not self._arrived.wait_for(lambda: self._ready, BODY_READ_TIMEOUT_S):
                    raise S3Error("RequestTimeout", f"no part of the body arrived for {BODY_READ_TIMEOUT_S:.0f} s; "
                                                    "nothing was stored: send the request again", status=400)
                item = self._ready.popleft()
                if len(self._ready) == FRAMES_AHEAD - 1:
                    self._loop.call_soon_threadsafe(self._room.set)
            if isinstance(item, BaseException):
                raise S3Error("IncompleteBody", f"the request body broke off ({type(item).__name__}: {item}); "
                                                "nothing was stored: send it again")
            if not item:
                return
            yield item


class PutChecks:
    """The checks and digests of one put's body, fed in stream order by the worker that stores it."""

    def __init__(self, headers: Mapping[str, str], signed: sigv4.Signed | None, *, insecure: bool = False) -> None:
        payload = signed.payload if signed is not None else headers.get("x-amz-content-sha256", sigv4.UNSIGNED_PAYLOAD)
        self._decoder: sigv4.ChunkedDecoder | None = None
        self._sha256: sigv4.PayloadSha256 | None = None
        if payload.startswith("STREAMING-"):
            if payload not in (sigv4.STREAMING_SIGNED, sigv4.STREAMING_SIGNED_TRAILER, sigv4.STREAMING_UNSIGNED_TRAILER):
                raise S3Error("NotImplemented", f"x-amz-content-sha256 {payload[:60]} is not a payload mode this "
                                                "endpoint reads; send UNSIGNED-PAYLOAD or STREAMING-UNSIGNED-PAYLOAD-TRAILER")
            if signed is None and payload == sigv4.STREAMING_UNSIGNED_TRAILER:
                # No chunk carries a signature in this mode: an anonymous request (or any request
                # on an --insecure node, which checks none) decodes it as a signed one does.
                signed = sigv4.Signed(key_id="", region="", date="", amz_date="", signature="", signing_key=b"",
                                      payload=payload, presigned=False)
            if signed is None:
                raise S3Error("InvalidRequest", f"x-amz-content-sha256 {payload} carries chunk signatures that "
                                                "this request gives no key to check: sign the request, or send "
                                                "UNSIGNED-PAYLOAD" + (" (this node runs --insecure and checks no "
                                                                       "signatures)" if insecure else ""))
            self._decoder = sigv4.ChunkedDecoder(signed)
        elif payload != sigv4.UNSIGNED_PAYLOAD:
            self._sha256 = sigv4.PayloadSha256(payload)  # checked signed or not: it is the body's digest
        self.chunked = self._decoder is not None
        self.md5 = hashlib.md5(usedforsecurity=False)
        self._content_md5 = sigv4.ContentMd5(headers["content-md5"]) if "content-md5" in headers else None
        self._checksums = {name: sigv4.checksum_checker(algorithm) for name, algorithm in CHECKSUM_HEADERS.items()
                           if name in headers}
        self._checksum_values = {name: headers[name] for name in self._checksums}
        trailer = headers.get("x-amz-trailer", "").strip().lower()
        if trailer:
            if trailer not in CHECKSUM_HEADERS:
                raise S3Error("InvalidRequest", f"x-amz-trailer {trailer!r} is not a checksum this endpoint "
                                                f"checks; use one of {', '.join(CHECKSUM_HEADERS)}")
            if not self.chunked:
                raise S3Error("InvalidRequest", "x-amz-trailer needs an aws-chunked body "
                                                "(x-amz-content-sha256 STREAMING-UNSIGNED-PAYLOAD-TRAILER)")
            self._checksums.setdefault(trailer, sigv4.checksum_checker(CHECKSUM_HEADERS[trailer]))
        self._trailer = trailer
        self.size = 0

    def frames(self, body: Iterator[bytes]) -> Iterator[memoryview]:
        """The object's bytes from the raw body, checked; raises S3Error at the end on a mismatch."""
        for raw in body:
            pieces = self._decoder.feed(raw) if self._decoder is not None else [memoryview(raw)]
            for piece in pieces:
                self._update(piece)
                yield piece
        trailers = self._decoder.finish() if self._decoder is not None else {}
        self._finish(trailers)

    def _update(self, piece: memoryview) -> None:
        self.size += len(piece)
        self.md5.update(piece)
        if self._sha256 is not None:
            self._sha256.update(piece)
        if self._content_md5 is not None:
            self._content_md5.update(piece)
        for checker in self._checksums.values():
            checker.update(piece)

    def _finish(self, trailers: Mapping[str, str]) -> None:
        if self._sha256 is not None:
            self._sha256.check()
        if self._content_md5 is not None:
            self._content_md5.check()
        values = dict(self._checksum_values)
        if self._trailer:
            if self._trailer not in trailers:
                raise S3Error("IncompleteBody", f"the body ended without its {self._trailer} trailer; nothing "
                                                "was stored: send the request again")
            values[self._trailer] = trailers[self._trailer]
        for name, checker in self._checksums.items():
            checker.check(values[name])
